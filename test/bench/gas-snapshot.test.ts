/**
 * The committed gas snapshot: runs the benchmark of bench/measure.ts (the same code as `npm run bench`)
 * and fails on any difference from bench/gas.json, up or down, in an operation's gas or a contract's
 * bytecode size, so that every change of cost is a reviewed diff. Refresh it deliberately: `npm run bench`,
 * or `UPDATE_SNAPSHOT=1 npm test`, and say why in the commit.
 * It also holds the gas targets. Measurements only: nothing here times anything.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

import { reset } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";

import {
  EAS_MIN_RATIO,
  type GasReport,
  KNOWN_MISSES,
  OPERATIONS,
  type OperationName,
  TARGETS,
  UNITS,
  type Unit,
  measureGas,
} from "../../bench/measure";
import {
  DOCS_PATH,
  SNAPSHOT_PATH,
  TABLE_END,
  TABLE_START,
  markdownTable,
  readSnapshot,
  writeSnapshot,
} from "../../bench/report";

const UNIT: Record<Unit, string> = {
  tx: "gas",
  item: "gas per item",
  execution: "execution gas",
};

const REFRESH = "npm run bench, or UPDATE_SNAPSHOT=1 npm test";
const signed = (n: number) => (n > 0 ? `+${n}` : String(n));

describe("gas snapshot (bench/gas.json) and targets", function () {
  this.timeout(120_000);
  let report: GasReport;

  before(async function () {
    report = await measureGas();
    if (process.env.UPDATE_SNAPSHOT === "1") {
      writeSnapshot(report);
      console.log(`      UPDATE_SNAPSHOT=1: rewrote ${SNAPSHOT_PATH}`);
    }
  });

  // The benchmark resets the shared Hardhat network; leave a fresh one (and no stale fixtures) behind.
  after(async function () {
    await reset();
  });

  it("costs exactly the gas the committed snapshot records, for every operation", function () {
    const snapshot = readSnapshot();
    if (snapshot === null) expect.fail(`${SNAPSHOT_PATH} is missing: run npm run bench`);
    const changed: string[] = [];
    for (const name of OPERATIONS) {
      const committed = snapshot.operations[name];
      const now = report.operations[name];
      if (committed === undefined) {
        changed.push(`${name}: not in the snapshot`);
        continue;
      }
      if (now.gas !== committed.gas)
        changed.push(`${name}: ${now.gas} (snapshot ${committed.gas}, ${signed(now.gas - committed.gas)})`);
      if (now.eas !== committed.eas) changed.push(`${name}: EAS ${now.eas} (snapshot ${committed.eas})`);
    }
    expect(
      changed,
      `gas differs from ${SNAPSHOT_PATH}; if intended, refresh it (${REFRESH}) and say why in the commit`,
    ).to.deep.equal([]);
  });

  it("has exactly the bytecode sizes the committed snapshot records, each under EIP-170's 24,576 bytes", function () {
    const snapshot = readSnapshot();
    if (snapshot === null) expect.fail(`${SNAPSHOT_PATH} is missing: run npm run bench`);
    expect(
      report.bytecodeSizes,
      `bytecode sizes differ from ${SNAPSHOT_PATH}; if intended, refresh it (${REFRESH})`,
    ).to.deep.equal(snapshot.bytecodeSizes);
    for (const [name, size] of Object.entries(report.bytecodeSizes)) expect(size, name).to.be.at.most(24_576);
  });

  describe("the gas table of docs/gas.md", function () {
    const GAS_DOCS = path.join(__dirname, "..", "..", "docs", "gas.md");
    let dir: string;
    beforeEach(async function () {
      dir = await mkdtemp(path.join(os.tmpdir(), "gas-docs-"));
    });
    afterEach(async function () {
      await rm(dir, { recursive: true, force: true });
    });

    it("is where npm run bench writes its table, not README.md", function () {
      expect(DOCS_PATH).to.equal(GAS_DOCS);
    });

    it("is rewritten between its markers, with the text around it kept", async function () {
      const docs = await readFile(GAS_DOCS, "utf8");
      const copy = path.join(dir, "gas.md");
      await writeFile(copy, docs);
      writeSnapshot(report, { snapshotPath: path.join(dir, "gas.json"), docsPath: copy });
      const written = await readFile(copy, "utf8");
      const start = docs.indexOf(TABLE_START);
      const end = docs.indexOf(TABLE_END);
      expect(start, `${GAS_DOCS} has no ${TABLE_START}`).to.be.greaterThan(-1);
      expect(written).to.equal(
        `${docs.slice(0, start + TABLE_START.length)}\n${markdownTable(report)}\n${docs.slice(end)}`,
      );
      expect(JSON.parse(await readFile(path.join(dir, "gas.json"), "utf8")).operations.grant.gas).to.equal(
        report.operations.grant.gas,
      );
    });

    it("refuses a docs file without the markers, naming the file, instead of skipping the table", async function () {
      const copy = path.join(dir, "gas.md");
      await writeFile(copy, "## Gas\n\nno table here\n");
      expect(() => writeSnapshot(report, { snapshotPath: path.join(dir, "gas.json"), docsPath: copy })).to.throw(
        `${copy} has no gas table markers`,
      );
      expect(await readFile(copy, "utf8")).to.equal("## Gas\n\nno table here\n");
    });

    it("shows what the measurements give (refresh it with npm run bench)", async function () {
      const docs = await readFile(GAS_DOCS, "utf8");
      const table = docs.slice(docs.indexOf(TABLE_START) + TABLE_START.length, docs.indexOf(TABLE_END)).trim();
      expect(table).to.equal(markdownTable(report));
    });
  });

  describe("the issue's targets", function () {
    for (const name of OPERATIONS) {
      const target = TARGETS[name];
      if (target === null || KNOWN_MISSES[name] !== undefined) continue;
      it(`${name}: at most ${target.toLocaleString("en-US")} ${UNIT[UNITS[name]]}`, function () {
        expect(report.operations[name].gas).to.be.at.most(target);
      });
    }

    for (const [name, ratio] of Object.entries(EAS_MIN_RATIO) as [OperationName, number][]) {
      it(`${name}: EAS costs at least ${ratio}× ours`, function () {
        const { gas, eas } = report.operations[name];
        expect(eas, `no EAS figure for ${name}`).to.not.equal(null);
        expect(eas!).to.be.at.least(ratio * gas);
      });
    }

    // Known misses are asserted as expected failures: the test fails the day the target is met, so the
    // miss cannot outlive its cause unnoticed (then make it a plain assertion and drop it from KNOWN_MISSES).
    for (const [name, miss] of Object.entries(KNOWN_MISSES) as [OperationName, { summary: string }][]) {
      const target = TARGETS[name]!;
      const title = `${name}: at most ${target.toLocaleString("en-US")} ${UNIT[UNITS[name]]}`;
      it(`KNOWN MISS (expected failure) ${title}: ${miss.summary}; see KNOWN_MISSES in bench/measure.ts`, function () {
        expect(report.operations[name].gas).to.be.above(
          target,
          `${name} now meets its target of ${target}: turn this into a plain target assertion and remove it from KNOWN_MISSES`,
        );
      });
    }
  });
});
