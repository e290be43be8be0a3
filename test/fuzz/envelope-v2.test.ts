/**
 * Fuzzing envelope v2 (sdk/crypto/envelope-v2.ts): segment-level edits (reorder, drop, duplicate,
 * truncate, extend, splice from another record, bit flips), random chunking of the stream, and random
 * bytes behind a v2 magic. Whatever the edit, the stream and the in-memory reader end in a typed
 * ConsentLedgerError, never a raw error and NEVER a plaintext other than the one sealed; a SegmentError
 * names a segment that exists in the input.
 */
import { expect } from "chai";
import fc from "fast-check";

import { DataClass } from "../../sdk/codes";
import { ZERO_RECORD_ID, openRecord, type RecordContext } from "../../sdk/crypto/envelope";
import {
  collectBytes,
  ENVELOPE_V2_HEADER_BYTES,
  openRecordStream,
  SegmentError,
  sealRecordV2,
} from "../../sdk/crypto/envelope-v2";
import { nodeSegmentCrypto } from "../../sdk/crypto/node/segment-crypto";
import { fuzz, settle } from "./fuzz";

const FILE = "test/fuzz/envelope-v2.test.ts";
const SEGMENT = 16;
const FULL = SEGMENT + 16;
const CONTEXT: RecordContext = {
  chainId: 31337n,
  registry: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  patient: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
  provider: "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
  dataClass: DataClass.IMAGING,
  version: 1,
  previousRecordId: ZERO_RECORD_ID,
  contentType: 2,
};

type Edit =
  | { kind: "swap"; a: number; b: number }
  | { kind: "drop"; at: number }
  | { kind: "duplicate"; at: number }
  | { kind: "truncate"; bytes: number }
  | { kind: "extend"; extra: Uint8Array }
  | { kind: "splice"; at: number }
  | { kind: "flip"; at: number; mask: number };

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant("swap" as const), a: fc.nat(20), b: fc.nat(20) }),
  fc.record({ kind: fc.constant("drop" as const), at: fc.nat(20) }),
  fc.record({ kind: fc.constant("duplicate" as const), at: fc.nat(20) }),
  fc.record({ kind: fc.constant("truncate" as const), bytes: fc.integer({ min: 1, max: 400 }) }),
  fc.record({ kind: fc.constant("extend" as const), extra: fc.uint8Array({ minLength: 1, maxLength: 40 }) }),
  fc.record({ kind: fc.constant("splice" as const), at: fc.nat(20) }),
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(10_000), mask: fc.integer({ min: 1, max: 255 }) }),
);

function apply(envelope: Uint8Array, other: Uint8Array, change: Edit): Uint8Array {
  const header = envelope.subarray(0, ENVELOPE_V2_HEADER_BYTES);
  const segments: Uint8Array[] = [];
  for (let at = ENVELOPE_V2_HEADER_BYTES; at < envelope.length; at += FULL)
    segments.push(envelope.subarray(at, at + FULL));
  const n = segments.length;
  if (
    n === 0 &&
    (change.kind === "swap" || change.kind === "drop" || change.kind === "duplicate" || change.kind === "splice")
  )
    return envelope;
  switch (change.kind) {
    case "swap": {
      const [a, b] = [change.a % n, change.b % n];
      [segments[a], segments[b]] = [segments[b], segments[a]];
      break;
    }
    case "drop":
      segments.splice(change.at % n, 1);
      break;
    case "duplicate":
      segments.splice(change.at % n, 0, segments[change.at % n]);
      break;
    case "truncate":
      return envelope.slice(0, Math.max(0, envelope.length - change.bytes));
    case "extend":
      return Buffer.concat([envelope, change.extra]);
    case "splice": {
      const theirs = other.subarray(
        ENVELOPE_V2_HEADER_BYTES + (change.at % n) * FULL,
        ENVELOPE_V2_HEADER_BYTES + ((change.at % n) + 1) * FULL,
      );
      segments[change.at % n] = theirs;
      break;
    }
    case "flip": {
      const copy = Uint8Array.from(envelope);
      copy[change.at % copy.length] ^= change.mask;
      return copy;
    }
  }
  return Buffer.concat([header, ...segments]);
}

function chunked(bytes: Uint8Array, sizes: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const size = sizes.length ? 1 + (sizes[i % sizes.length] % 97) : bytes.length;
    out.push(bytes.subarray(at, at + size));
    at += size;
  }
  return out;
}

describe("fuzzing sdk/crypto/envelope-v2", function () {
  this.timeout(120_000);

  it("every edit of a sealed envelope is refused with a typed error, by the stream and in memory, whatever the chunking", async function () {
    await fuzz(
      this,
      FILE,
      fc.asyncProperty(
        fc.integer({ min: 0, max: 8 * SEGMENT }),
        fc.array(edit, { minLength: 1, maxLength: 3 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.boolean(),
        async (size, edits, sizes, withId) => {
          const plaintext = Uint8Array.from({ length: size }, (_, i) => (i * 7) & 0xff);
          const crypto = nodeSegmentCrypto;
          const sealed = await sealRecordV2(plaintext, CONTEXT, undefined, { segmentSize: SEGMENT, crypto });
          const other = await sealRecordV2(plaintext, CONTEXT, sealed.dataKey, { segmentSize: SEGMENT, crypto });
          let tampered: Uint8Array = sealed.envelope;
          for (const change of edits) tampered = apply(tampered, other.envelope, change);
          const unchanged = Buffer.from(tampered).equals(Buffer.from(sealed.envelope));
          const expected = withId ? { recordId: sealed.recordId } : {};

          const streamed = await settle("openRecordStream", () =>
            collectBytes(openRecordStream(chunked(tampered, sizes), sealed.dataKey, expected, { crypto })),
          );
          const inMemory = await settle("openRecord", () => openRecord(tampered, sealed.dataKey, expected));
          if (unchanged) {
            expect(streamed.ok && Buffer.from(streamed.value).equals(Buffer.from(plaintext))).to.equal(true);
            return;
          }
          for (const outcome of [streamed, inMemory]) {
            if (outcome.ok) {
              // Only an edit that leaves the bytes as sealed may open (e.g. swapping a segment with itself).
              expect.fail(`an edited envelope opened (${JSON.stringify(edits.map((e) => e.kind))})`);
            }
            const error = outcome.error;
            if (error instanceof SegmentError) {
              const segments = Math.ceil((tampered.length - ENVELOPE_V2_HEADER_BYTES) / FULL);
              expect(error.segment).to.be.within(0, Math.max(0, segments));
            }
          }
        },
      ),
      200,
    );
  });

  it("random bytes behind a v2 magic: a typed error, never a plaintext", async function () {
    const key = new Uint8Array(32).fill(9);
    await fuzz(
      this,
      FILE,
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), async (rest) => {
        const bytes = Uint8Array.from([0x43, 0x4c, 0x52, 0x02, ...rest]);
        const streamed = await settle("openRecordStream", () => collectBytes(openRecordStream([bytes], key)));
        const inMemory = await settle("openRecord", () => openRecord(bytes, key));
        expect(streamed.ok || inMemory.ok).to.equal(false);
      }),
    );
  });
});
