/**
 * The committed gas snapshot: runs the benchmark of bench/measure.ts (the same code as `npm run bench`)
 * and fails when any of our operations costs more gas than bench/gas.json records. Cheaper passes, with
 * a note to refresh the snapshot: `npm run bench`, or `UPDATE_SNAPSHOT=1 npm test`.
 * It also holds the gas targets. Measurements only: nothing here times anything.
 */
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
import { SNAPSHOT_PATH, readSnapshot, writeSnapshot } from "../../bench/report";

const UNIT: Record<Unit, string> = {
  tx: "gas",
  item: "gas per item",
  execution: "execution gas",
};

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

  it("costs no more gas for any operation than the committed snapshot", function () {
    const snapshot = readSnapshot();
    if (snapshot === null) expect.fail(`${SNAPSHOT_PATH} is missing: run npm run bench`);
    const higher: string[] = [];
    const lower: string[] = [];
    const easChanged: string[] = [];
    for (const name of OPERATIONS) {
      const committed = snapshot.operations[name];
      const now = report.operations[name];
      if (committed === undefined) {
        higher.push(`${name}: not in the snapshot (refresh it: npm run bench)`);
        continue;
      }
      if (now.gas > committed.gas) higher.push(`${name}: ${now.gas} > ${committed.gas} (+${now.gas - committed.gas})`);
      else if (now.gas < committed.gas) lower.push(`${name}: ${now.gas} < ${committed.gas}`);
      if (now.eas !== committed.eas) easChanged.push(`${name}: EAS ${now.eas} (snapshot ${committed.eas})`);
    }
    if (lower.length > 0 || easChanged.length > 0) {
      console.log(
        `      note: ${[...lower, ...easChanged].join("; ")}. ` +
          "Refresh the snapshot so it holds the gain: npm run bench (or UPDATE_SNAPSHOT=1 npm test).",
      );
    }
    expect(higher, `gas regressions against ${SNAPSHOT_PATH}`).to.deep.equal([]);
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
