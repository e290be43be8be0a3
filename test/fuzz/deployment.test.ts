/**
 * Fuzzing deployment JSON (sdk/chain/connect.ts parseDeployment): deployments/<chainId>.json, a dApp's
 * config, or a user's --deployment file. Any input must give a Deployment holding valid values, or a
 * ConsentLedgerError; never a crash.
 */
import { expect } from "chai";
import fc from "fast-check";
import { ZeroAddress, getAddress } from "ethers";

import { type Deployment, parseDeployment } from "../../sdk/chain/connect";
import { ConsentLedgerError } from "../../sdk/errors";
import { fuzz, jsonValue, plainJsonValue, prototypeShadowingJson, refused, settle, settleAs } from "./fuzz";

const FILE = "test/fuzz/deployment.test.ts";

const VALID: Deployment = {
  chainId: 31337,
  ledger: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  records: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
  accessLog: "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
  keys: "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9",
  deployedAtBlock: 1,
};

const mutated = (values: fc.Arbitrary<unknown>) =>
  fc
    .record({
      replace: fc.dictionary(fc.constantFrom(...Object.keys(VALID), "extra"), values, { maxKeys: 3 }),
      remove: fc.subarray(Object.keys(VALID), { maxLength: 2 }),
    })
    .map(({ replace, remove }) => {
      const copy: Record<string, unknown> = { ...VALID, ...replace };
      for (const key of remove) delete copy[key];
      return copy;
    });

const fieldValues = fc.oneof(
  plainJsonValue,
  fc.constantFrom(
    "0x",
    ZeroAddress,
    VALID.ledger.toLowerCase(),
    VALID.ledger.toUpperCase().replace("0X", "0x"),
    "1",
    "0x10",
    "1e3",
    " 5 ",
    -1,
    0,
    1.5,
    2 ** 53,
    true,
  ),
);

/** A whole number as a deployment file may hold it (a safe integer ≥ 0, or up to 15 decimal digits). */
function whole(value: unknown): number | undefined {
  const n =
    typeof value === "number" ? value : typeof value === "string" && /^[0-9]{1,15}$/.test(value) ? Number(value) : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** An address as a deployment may hold it: 0x and 40 hex digits, checksummed if mixed-case, not zero. */
function address(value: unknown): string | undefined {
  if (typeof value !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(value) || /^0x0{40}$/.test(value)) return undefined;
  const lower = value.toLowerCase() === value || value.slice(2).toUpperCase() === value.slice(2);
  const checksummed = getAddress(value.toLowerCase());
  return lower || checksummed === value ? checksummed : undefined;
}

/**
 * The oracle, written from parseDeployment's documentation and not from its code: what it must return for
 * JSON `input`, or undefined where it must refuse.
 */
function expectedDeployment(input: unknown): Deployment | undefined {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return undefined;
  const d = input as Record<string, unknown>;
  const chainId = Object.hasOwn(d, "chainId") ? whole(d.chainId) : undefined;
  if (!chainId) return undefined;
  let deployedAtBlock: number | undefined;
  if (Object.hasOwn(d, "deployedAtBlock") && d.deployedAtBlock !== undefined) {
    deployedAtBlock = whole(d.deployedAtBlock);
    if (deployedAtBlock === undefined) return undefined;
  }
  const addresses = (["ledger", "records", "accessLog", "keys"] as const).map((k) =>
    Object.hasOwn(d, k) ? address(d[k]) : undefined,
  );
  if (addresses.some((a) => a === undefined)) return undefined;
  const [ledger, records, accessLog, keys] = addresses as string[];
  return { chainId, ledger, records, accessLog, keys, deployedAtBlock };
}

/** A valid deployment whose chainId or deployedAtBlock is some number, numeric text or near miss. */
const numericField = fc
  .tuple(
    fc.constantFrom("chainId", "deployedAtBlock"),
    fc.oneof(fc.integer(), fc.double(), fc.nat().map(String), fc.stringMatching(/^[-+ 0-9.eE]{0,17}$/), fieldValues),
  )
  .map(([field, value]) => ({ ...VALID, [field]: value }) as Record<string, unknown>);

describe("fuzzing sdk/chain/connect parseDeployment", function () {
  it("accepts the deployment files npm run deploy writes", function () {
    expect(parseDeployment(JSON.parse(JSON.stringify(VALID)))).to.deep.equal(VALID);
  });

  it("keeps a deployment's relayer as its http(s) base URL, and refuses one that is not", function () {
    expect(parseDeployment({ ...VALID, relayer: "https://relayer.example/" }).relayer).to.equal(
      "https://relayer.example",
    );
    expect(parseDeployment({ ...VALID, relayer: "http://127.0.0.1:8788" }).relayer).to.equal("http://127.0.0.1:8788");
    expect(parseDeployment(VALID)).to.not.have.property("relayer");
    for (const relayer of ["", "relayer.example", "ftp://relayer.example", "https://user:pw@relayer.example", 5, null])
      expect(() => parseDeployment({ ...VALID, relayer }), String(relayer))
        .to.throw(ConsentLedgerError)
        .with.property("shortMessage")
        .that.match(/^Invalid deployment relayer/);
  });

  it("reads any plain JSON as a deployment with a chain id and five checksummed non-zero addresses, or a ConsentLedgerError", async function () {
    await fuzz(
      this,
      FILE,
      fc.asyncProperty(fc.oneof(plainJsonValue, mutated(fieldValues), numericField), async (input) => {
        const outcome = await settle("parseDeployment", () => parseDeployment(input));
        if (!outcome.ok) return;
        const d = outcome.value;
        expect(Number.isSafeInteger(d.chainId) && d.chainId > 0).to.equal(true);
        for (const address of [d.ledger, d.records, d.accessLog, d.keys]) {
          expect(address).to.equal(getAddress(address));
          expect(address).to.not.equal(ZeroAddress);
        }
        // deployedAtBlock (where a client starts reading logs): absent, or a whole block number.
        if (d.deployedAtBlock !== undefined)
          expect(
            Number.isSafeInteger(d.deployedAtBlock) && d.deployedAtBlock >= 0,
            `deployedAtBlock ${d.deployedAtBlock}`,
          ).to.equal(true);
        expect(d).to.deep.equal(expectedDeployment(input));
      }),
      1000,
    );
  });

  // Found by fuzzing, fixed in 83c65d3: deployedAtBlock is converted with Number() and never checked, so "x" gives NaN, -5 and
  // 1.5 pass, and the client later asks the node for logs from block NaN. chainId is as lenient: true
  // reads as chain 1 (mainnet), [5] as 5, "0x10" as 16, " 5 " as 5. Counterexample:
  //   parseDeployment({ ...valid, deployedAtBlock: "x" }).deployedAtBlock  →  NaN
  // Fix: accept only a non-negative safe integer (or a decimal string of one) for both fields.
  it("refuses a deployment whose chainId or deployedAtBlock is not a whole number", async function () {
    for (const [field, value] of [
      ["deployedAtBlock", "x"],
      ["deployedAtBlock", -5],
      ["deployedAtBlock", 1.5],
      ["chainId", true],
      ["chainId", [5]],
    ] as const) {
      await refused(
        `parseDeployment with ${field} ${JSON.stringify(value)}`,
        () => parseDeployment({ ...VALID, [field]: value }),
        [ConsentLedgerError],
      );
    }
  });

  // Found by fuzzing, fixed in 83c65d3: Number() of a JSON object whose "toString" key is not a function throws a TypeError:
  //   parseDeployment({ ...valid, chainId: { toString: "" } })  →  TypeError: Cannot convert object to primitive value
  // Same fix as above: check the type before converting.
  it("refuses any JSON with a ConsentLedgerError, including objects whose keys shadow toString", async function () {
    await refused(
      "chainId {toString: ''}",
      () => parseDeployment({ ...VALID, chainId: JSON.parse('{"toString": ""}') }),
      [ConsentLedgerError],
    );
    await fuzz(
      this,
      FILE,
      fc.asyncProperty(fc.oneof(jsonValue, mutated(jsonValue), mutated(prototypeShadowingJson)), async (input) => {
        const outcome = await settleAs("parseDeployment", () => parseDeployment(input), [ConsentLedgerError]);
        // Refused exactly when the documented rules refuse it, accepted as the rules read it.
        expect(outcome.ok ? outcome.value : "refused").to.deep.equal(expectedDeployment(input) ?? "refused");
      }),
    );
  });
});
