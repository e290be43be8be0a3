/**
 * Fuzzing SignedConsent JSON (sdk/clients/patient.ts parseSignedConsent): a relayer reads a patient's
 * signed action from a file, a QR code or a network. Whatever it reads must give a SignedConsent holding
 * what the parser promises, or an InvalidArgumentError; never a crash.
 */
import { expect } from "chai";
import fc from "fast-check";
import { getAddress } from "ethers";

import { parseSignedConsent } from "../../sdk/clients/patient";
import type { SignedConsent } from "../../sdk/clients/types";
import { InvalidArgumentError } from "../../sdk/errors";
import { fuzz, jsonValue, plainJsonValue, prototypeShadowingJson, refused, settle, settleAs } from "./fuzz";

const FILE = "test/fuzz/signed-consent.test.ts";
const A = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const B = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";

/** A signed grant as PatientClient.signGrant produces it (values made up, shape exact). */
const VALID: SignedConsent = {
  kind: "grant",
  chainId: 31337,
  ledger: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  signer: A,
  nonce: "0",
  deadline: 1_800_000_000,
  signature: `0x${"1b".repeat(65)}`,
  patient: A,
  grant: { grantee: B, dataClasses: 3, purposes: 1, validFrom: 0, validUntil: 1_900_000_000 },
  seenConsent: "0",
};

const plainJson = plainJsonValue;

/** A real signed consent with some fields replaced, removed or added. */
const mutated = (values: fc.Arbitrary<unknown>) =>
  fc
    .record({
      replace: fc.dictionary(fc.constantFrom(...Object.keys(VALID), "request", "grantee", "extra"), values, {
        maxKeys: 3,
      }),
      remove: fc.subarray(Object.keys(VALID), { maxLength: 2 }),
    })
    .map(({ replace, remove }) => {
      const copy: Record<string, unknown> = { ...VALID, ...replace };
      for (const key of remove) delete copy[key];
      return copy;
    });

function expectWhatTheParserPromises(value: SignedConsent): void {
  expect(["grant", "revoke", "approve", "deny"]).to.include(value.kind);
  expect(value.signature).to.match(/^0x[0-9a-fA-F]*$/);
  expect(getAddress(value.signer)).to.be.a("string");
  expect(getAddress(value.ledger)).to.be.a("string");
  expect(String(value.nonce)).to.match(/^\d+$/);
  expect(Number.isSafeInteger(value.deadline) && Number.isSafeInteger(value.chainId)).to.equal(true);
  // A grant or an approval names the consent its signer saw, a decimal uint256.
  if (value.kind === "grant" || value.kind === "approve") {
    expect(value.seenConsent).to.match(/^\d+$/);
    expect(BigInt(value.seenConsent!) < 2n ** 256n).to.equal(true);
  }
}

describe("fuzzing sdk/clients/patient parseSignedConsent", function () {
  it("accepts the signed consent a patient client makes", function () {
    expect(parseSignedConsent(JSON.parse(JSON.stringify(VALID)))).to.deep.equal(VALID);
  });

  it("reads any plain JSON as a signed consent holding what the parser promises, or an InvalidArgumentError", async function () {
    await fuzz(
      this,
      FILE,
      fc.asyncProperty(
        fc.oneof(
          plainJson,
          mutated(plainJson),
          mutated(fc.oneof(fc.string(), fc.integer(), fc.double(), fc.constant(null))),
        ),
        async (input) => {
          const outcome = await settle("parseSignedConsent", () =>
            parseSignedConsent(JSON.parse(JSON.stringify(input))),
          );
          if (outcome.ok) expectWhatTheParserPromises(outcome.value);
          else expect(outcome.error).to.be.instanceOf(InvalidArgumentError);
        },
      ),
      1000,
    );
  });

  // Found by fuzzing, fixed in 83c65d3 (the one a network can trigger): the parser turns fields into text with String() before
  // checking their type, and String() throws a TypeError for a JSON object whose "toString" key is not a
  // function. A relayer reading {"kind": {"toString": ""}, ...} from the network crashes with a TypeError
  // instead of refusing the input with an InvalidArgumentError. Counterexample (found by fuzzing):
  //   parseSignedConsent({ ...valid, kind: { toString: "" } })  →  TypeError: Cannot convert object to primitive value
  // The same for `nonce`. Fix: check `typeof` first (kind a string in the list; nonce a decimal string or
  // a safe integer) and never call String() on an unchecked value.
  it("refuses any JSON with an InvalidArgumentError, including objects whose keys shadow toString", async function () {
    await refused("kind {toString: ''}", () => parseSignedConsent({ ...VALID, kind: JSON.parse('{"toString": ""}') }), [
      InvalidArgumentError,
    ]);
    await fuzz(
      this,
      FILE,
      fc.asyncProperty(fc.oneof(jsonValue, mutated(jsonValue), mutated(prototypeShadowingJson)), async (input) => {
        const outcome = await settleAs("parseSignedConsent", () => parseSignedConsent(input), [InvalidArgumentError]);
        if (outcome.ok) expectWhatTheParserPromises(outcome.value);
      }),
    );
  });

  // Found by fuzzing, fixed in 83c65d3 (minor): the parser checks the common fields only. It accepts what no signer can have
  // produced: a nonce above 2^256 - 1, a negative deadline or chain id, a signature of any length, a
  // "grant" without its patient and terms, a "revoke" without its grantee, an "approve" without its
  // request. relaySignedConsent stops each of these later (a wrapped encoding error or an
  // InvalidArgumentError), so nothing reaches the chain, but the parser's promise ("a relayer never
  // submits garbage") is stronger than what it checks. Fix: validate each kind's payload and the ranges.
  it("refuses a signed consent no signer can have produced", async function () {
    const impossible: Record<string, unknown>[] = [
      { ...VALID, nonce: (2n ** 256n).toString() },
      { ...VALID, deadline: -1 },
      { ...VALID, chainId: 0 },
      { ...VALID, signature: "0x1234" },
      { ...VALID, grant: undefined },
      { ...VALID, patient: undefined },
      { ...VALID, kind: "revoke", grant: undefined },
      { ...VALID, kind: "approve" },
    ];
    for (const input of impossible) {
      await refused(
        `parseSignedConsent(${JSON.stringify(input)})`,
        () => parseSignedConsent(JSON.parse(JSON.stringify(input))),
        [InvalidArgumentError],
      );
    }
  });
});
