/**
 * sdk/core/hex.ts (what the rules shared by the ethers and the viem entry use instead of ethers) against
 * ethers itself as the oracle, on random and edge-case inputs.
 */
import { expect } from "chai";
import {
  AbiCoder,
  getAddress as ethersGetAddress,
  id,
  isHexString as ethersIsHexString,
  keccak256 as ethersKeccak,
} from "ethers";
import fc from "fast-check";

import { bytesToHex } from "../../sdk/crypto/bytes";
import { requestIdOf } from "../../sdk/clients/request-rules";
import { getAddress, isAddress, isHexString, keccak256, keccak256Utf8 } from "../../sdk/core/hex";

/** What a function returns or that it throws. */
function outcome(run: () => unknown): unknown {
  try {
    return { value: run() };
  } catch {
    return "throws";
  }
}

const hex40 = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((bytes) => bytesToHex(bytes).slice(2));
/** An address in every casing a caller may pass: lower, upper, checksummed, one letter flipped, no prefix. */
const addressInput = fc.tuple(hex40, fc.nat(4), fc.nat(39)).map(([body, variant, at]) => {
  const checksummed = ethersGetAddress(`0x${body}`);
  switch (variant) {
    case 0:
      return `0x${body}`;
    case 1:
      return `0x${body.toUpperCase()}`;
    case 2:
      return checksummed;
    case 3: {
      const chars = [...checksummed.slice(2)];
      chars[at] = chars[at] === chars[at].toUpperCase() ? chars[at].toLowerCase() : chars[at].toUpperCase();
      return `0x${chars.join("")}`;
    }
    default:
      return body;
  }
});

describe("sdk/core/hex against ethers", function () {
  it("getAddress checksums, accepts and refuses exactly what ethers' getAddress does", function () {
    fc.assert(
      fc.property(addressInput, (input) => {
        expect(
          outcome(() => getAddress(input)),
          input,
        ).to.deep.equal(outcome(() => ethersGetAddress(input)));
        expect(isAddress(input)).to.equal(outcome(() => ethersGetAddress(input)) !== "throws");
      }),
      { numRuns: 2000 },
    );
    for (const bad of ["", "0x", "0x123", `0x${"g".repeat(40)}`, `0x${"a".repeat(41)}`, `0X${"a".repeat(40)}`]) {
      expect(
        outcome(() => getAddress(bad)),
        bad,
      ).to.equal("throws");
      expect(
        outcome(() => ethersGetAddress(bad)),
        bad,
      ).to.equal("throws");
    }
  });

  it("keccak256 and isHexString agree with ethers", function () {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.string(), (bytes, text) => {
        expect(keccak256(bytes)).to.equal(ethersKeccak(bytes));
        expect(keccak256Utf8(text)).to.equal(id(text));
      }),
    );
    for (const value of [
      "0x",
      "0x00",
      "0xabc",
      "0xABCD",
      "abcd",
      "0xzz",
      `0x${"ab".repeat(32)}`,
      5 as unknown as string,
    ]) {
      expect(isHexString(value), String(value)).to.equal(ethersIsHexString(value));
      expect(isHexString(value, 32), String(value)).to.equal(ethersIsHexString(value, 32));
    }
  });

  it("requestIdOf is keccak256 of the request's ABI encoding, as ethers' AbiCoder encodes it", function () {
    const REQUEST_TUPLE =
      "tuple(address researcher, uint40 openedAt, tuple(address patient, uint32 dataClasses, uint8 purpose, uint8 researchCategory, uint32 diseaseId, uint64 acceptedObligations, uint40 duration, bytes32 studyId, bytes32 protocolHash) terms)";
    const address = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((bytes) => ethersGetAddress(bytesToHex(bytes)));
    const word = fc.uint8Array({ minLength: 32, maxLength: 32 }).map(bytesToHex);
    const uint = (bits: number) => fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n });
    fc.assert(
      fc.property(
        fc.record({
          researcher: address,
          openedAt: uint(40).map(Number),
          terms: fc.record({
            patient: address,
            dataClasses: uint(32).map(Number),
            purpose: uint(8).map(Number),
            researchCategory: uint(8).map(Number),
            diseaseId: uint(32).map(Number),
            acceptedObligations: uint(64),
            duration: uint(40).map(Number),
            studyId: word,
            protocolHash: word,
          }),
        }),
        (request) => {
          expect(requestIdOf(request)).to.equal(
            ethersKeccak(AbiCoder.defaultAbiCoder().encode([REQUEST_TUPLE], [request])),
          );
        },
      ),
      { numRuns: 500 },
    );
  });
});
