import { createDecipheriv, randomBytes as nodeRandomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";

import { expect } from "chai";

import { DataClass } from "../../sdk/codes";
import { bytesToHex, utf8Encode } from "../../sdk/crypto/bytes";
import {
  ContentType,
  openRecord,
  parseEnvelope,
  recordIdOf,
  sealRecord,
  ZERO_RECORD_ID,
  type RecordContext,
} from "../../sdk/crypto/envelope";
import {
  deriveRecordKeys,
  ENVELOPE_V2_HEADER_BYTES,
  KeyCommitmentError,
  openRecordRange,
  openRecordStream,
  SegmentError,
  sealRecordStream,
  sealRecordV2,
  segmentIndexOf,
  segmentNonce,
  toReadableStream,
  collectBytes,
  type SegmentProblem,
} from "../../sdk/crypto/envelope-v2";
import { webSegmentCrypto, type SegmentCrypto } from "../../sdk/crypto/segment-crypto";
import { DecryptionError, FormatError, IntegrityError, InvalidArgumentError } from "../../sdk/errors";
import { nodeSegmentCrypto } from "../../sdk/crypto/node/segment-crypto";
import * as nodeEntry from "../../sdk/node";
import { specKeys, specOpen, specSeal, type SpecContext } from "../helpers/envelope-v2-spec";
import { expectRejects } from "../helpers/expect-error";
import { salamander } from "../helpers/salamander";

const CONTEXT: Required<RecordContext> = {
  chainId: 31337n,
  registry: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
  patient: "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
  provider: "0x90f79bf6eb2c4f870365e785982e1f101e93b906",
  dataClass: DataClass.IMAGING,
  version: 1,
  previousRecordId: ZERO_RECORD_ID,
  contentType: ContentType.OCTET_STREAM,
};
const SPEC_CONTEXT: SpecContext = CONTEXT;
const SEGMENT = 16;
const FULL = SEGMENT + 16;

const bytes = (n: number): Uint8Array => new Uint8Array(nodeRandomBytes(n));
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

/** The envelope's segments (copies), for tampering. */
function segmentsOf(envelope: Uint8Array): { header: Uint8Array; segments: Uint8Array[] } {
  const segments: Uint8Array[] = [];
  for (let at = ENVELOPE_V2_HEADER_BYTES; at < envelope.length; at += FULL)
    segments.push(envelope.slice(at, at + FULL));
  return { header: envelope.slice(0, ENVELOPE_V2_HEADER_BYTES), segments };
}
const join = (...parts: Uint8Array[]): Uint8Array => Buffer.concat(parts);

/** The test vectors of docs/envelope.md, as written there. */
function docVectors(): { plaintext: string; envelope: string; recordId: string }[] {
  const doc = readFileSync(path.resolve(__dirname, "../../docs/envelope.md"), "utf8");
  const section = doc.slice(doc.indexOf("### Test vectors"), doc.indexOf("### Implementations"));
  const blocks = [...section.matchAll(/```\n([\s\S]*?)```/g)].map((match) => match[1]);
  return blocks.map((block) => {
    const field = (name: string) => (block.match(new RegExp(`^${name} *=(?: (.*))?$`, "m")) ?? [])[1] ?? "";
    return { plaintext: field("plaintext"), envelope: field("envelope"), recordId: field("recordId") };
  });
}

const BACKENDS: [string, SegmentCrypto][] = [
  ["WebCrypto", webSegmentCrypto],
  ["node:crypto", nodeSegmentCrypto],
];

describe("sdk/crypto/envelope-v2", function () {
  describe("the specification (docs/envelope.md)", function () {
    const KEY = Uint8Array.from({ length: 32 }, (_, i) => i);
    const SALT = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);

    it("the documented test vectors are what node:crypto computes from the spec, and the SDK opens them", async function () {
      const vectors = docVectors();
      expect(vectors.map((v) => v.plaintext)).to.deep.equal(["Consent Ledger envelope v2, three segments.", ""]);
      for (const vector of vectors) {
        const recomputed = specSeal(utf8Encode(vector.plaintext), SPEC_CONTEXT, KEY, SALT, SEGMENT);
        expect(recomputed.envelope.toString("hex"), vector.plaintext).to.equal(vector.envelope);
        expect(recomputed.recordId).to.equal(vector.recordId);

        const envelope = Uint8Array.from(Buffer.from(vector.envelope, "hex"));
        expect(await recordIdOf(envelope)).to.equal(vector.recordId);
        const opened = await openRecord(envelope, KEY, { recordId: vector.recordId, ...CONTEXT });
        expect(Buffer.from(opened.plaintext).toString("utf8")).to.equal(vector.plaintext);
        expect(opened.context).to.deep.equal({
          ...CONTEXT,
          registry: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
          patient: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
          provider: "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
        });
        const parsed = parseEnvelope(envelope);
        expect(parsed.format).to.equal(2);
      }
    });

    it("the SDK's nonces and keys are the spec's", function () {
      expect(bytesToHex(segmentNonce(0, false))).to.equal("0x000000000000000000000000");
      expect(bytesToHex(segmentNonce(1, true))).to.equal("0x000000000000000000000101");
      expect(bytesToHex(segmentNonce(2 ** 40 + 7, false))).to.equal("0x000000000001000000000700");
      const ours = deriveRecordKeys(KEY, SALT);
      const spec = specKeys(KEY, SALT);
      expect(same(ours.encryptionKey, spec.encryptionKey)).to.equal(true);
      expect(same(ours.commitment, spec.commitment)).to.equal(true);
    });

    for (const [name, crypto] of BACKENDS) {
      it(`${name}: envelopes the SDK seals open by the spec, and the spec's open with the SDK, at every segment boundary`, async function () {
        for (const size of [0, 1, 15, 16, 17, 31, 32, 33, 48, 1000]) {
          const plaintext = bytes(size);
          const sealed = await sealRecordV2(plaintext, CONTEXT, undefined, { segmentSize: SEGMENT, crypto });
          const bySpec = specOpen(sealed.envelope, sealed.dataKey);
          expect(same(bySpec.plaintext, plaintext), `size ${size}`).to.equal(true);
          expect(bySpec.recordId, `size ${size}`).to.equal(sealed.recordId);
          expect(sealed.envelope.length).to.equal(
            ENVELOPE_V2_HEADER_BYTES + size + 16 * Math.max(1, Math.ceil(size / SEGMENT)),
          );

          const spec = specSeal(plaintext, SPEC_CONTEXT, sealed.dataKey, bytes(16), SEGMENT);
          const opened = await collectBytes(
            openRecordStream([spec.envelope], sealed.dataKey, { recordId: spec.recordId }, { crypto }),
          );
          expect(same(opened, plaintext), `size ${size}`).to.equal(true);
        }
      });
    }

    it("1 MiB segments by default, and a segment size outside 16 B..16 MiB is refused", async function () {
      const sealed = await sealRecordV2(bytes((1 << 20) + 1), CONTEXT);
      expect((parseEnvelope(sealed.envelope) as { segmentSize: number }).segmentSize).to.equal(1 << 20);
      expect(sealed.envelope.length).to.equal(ENVELOPE_V2_HEADER_BYTES + (1 << 20) + 1 + 32);
      for (const segmentSize of [15, (1 << 24) + 1, 1.5])
        await expectRejects(
          sealRecordV2(bytes(1), CONTEXT, undefined, { segmentSize }),
          InvalidArgumentError,
          `segmentSize ${segmentSize}`,
        );
    });
  });

  describe("key commitment", function () {
    it("v1 is not key-committing: one envelope (one record id) opens under two data keys to two plaintexts", async function () {
      const key1 = bytes(32);
      const key2 = bytes(32);
      const sealed = await sealRecord(utf8Encode("x"), CONTEXT, key1);
      const header = sealed.envelope.slice(0, 122);
      const body = salamander(key1, key2, header.subarray(110, 122), header);
      const envelope = join(header, body);
      const recordId = await recordIdOf(envelope);
      const one = await openRecord(envelope, key1, { recordId });
      const two = await openRecord(envelope, key2, { recordId });
      expect(same(one.plaintext, two.plaintext)).to.equal(false);
    });

    it("v2 refuses the second key of a salamander with KeyCommitmentError, before decrypting, though its segment authenticates", async function () {
      const key1 = bytes(32);
      const key2 = bytes(32);
      const sealed = await sealRecordV2(bytes(8), CONTEXT, key1, { segmentSize: 32 });
      const header = sealed.envelope.slice(0, ENVELOPE_V2_HEADER_BYTES);
      const salt = header.subarray(114, 130);
      const enc1 = specKeys(key1, salt).encryptionKey;
      const enc2 = specKeys(key2, salt).encryptionKey;
      // One final segment of 32 plaintext bytes that authenticates under both segment keys.
      const segment = salamander(enc1, enc2, segmentNonce(0, true), header);
      const envelope = join(header, segment);
      const recordId = await recordIdOf(envelope);

      // The attack itself works at the AES-GCM level: without the commitment, key2 would open it.
      const decipher = createDecipheriv("aes-256-gcm", enc2, segmentNonce(0, true));
      decipher.setAAD(header);
      decipher.setAuthTag(segment.subarray(32));
      decipher.update(segment.subarray(0, 32));
      expect(() => decipher.final()).to.not.throw();

      const opened = await openRecord(envelope, key1, { recordId });
      expect(opened.plaintext.length).to.equal(32);
      for (const [name, crypto] of BACKENDS) {
        const refused = await expectRejects(openRecord(envelope, key2, { recordId }), KeyCommitmentError, name);
        expect(refused).to.be.instanceOf(DecryptionError);
        expect(refused.message).to.contain("key commitment");
        expect(refused.actualCommitment).to.equal(bytesToHex(specKeys(key2, salt).commitment));
        const stream = openRecordStream([envelope], key2, { recordId }, { crypto });
        await expectRejects(stream.next(), KeyCommitmentError, `${name} stream`);
      }
    });

    it("a wrong data key is refused by its commitment, whatever the format's other checks", async function () {
      const sealed = await sealRecordV2(bytes(100), CONTEXT, undefined, { segmentSize: SEGMENT });
      await expectRejects(openRecord(sealed.envelope, bytes(32)), KeyCommitmentError);
    });
  });

  describe("tampering: a typed error naming the segment", function () {
    for (const [name, crypto] of BACKENDS) {
      context(name, function () {
        const plaintext = bytes(5 * SEGMENT + 7); // six segments, the last partial
        let sealed: Awaited<ReturnType<typeof sealRecordV2>>;
        let header: Uint8Array;
        let segments: Uint8Array[];
        before(async function () {
          sealed = await sealRecordV2(plaintext, CONTEXT, undefined, { segmentSize: SEGMENT, crypto });
          ({ header, segments } = segmentsOf(sealed.envelope));
          expect(segments.length).to.equal(6);
        });

        async function expectSegmentError(
          envelope: Uint8Array,
          segment: number,
          problem: SegmentProblem,
          label: string,
        ): Promise<void> {
          // The stream, without and with the anchored id (the segment fails before the id is compared).
          for (const expected of [{}, { recordId: sealed.recordId }]) {
            const error = await expectRejects(
              collectBytes(openRecordStream([envelope], sealed.dataKey, expected, { crypto })),
              SegmentError,
              label,
            );
            expect({ segment: error.segment, problem: error.problem }, label).to.deep.equal({ segment, problem });
            expect(error.message, label).to.contain(`Segment ${segment}`);
          }
          // In memory with the anchor, the record id is checked first (once the bytes split into segments).
          if (problem === "length") {
            const split = await expectRejects(
              openRecord(envelope, sealed.dataKey, { recordId: sealed.recordId }),
              SegmentError,
              label,
            );
            expect(split.segment).to.equal(segment);
          } else {
            const anchored = await expectRejects(
              openRecord(envelope, sealed.dataKey, { recordId: sealed.recordId }),
              IntegrityError,
              label,
            );
            expect(anchored.message).to.contain(sealed.recordId);
          }
        }

        it("reordered segments", async function () {
          await expectSegmentError(
            join(header, segments[0], segments[2], segments[1], ...segments.slice(3)),
            1,
            "authentication",
            "swap 1 and 2",
          );
        });
        it("a dropped segment", async function () {
          await expectSegmentError(join(header, segments[0], ...segments.slice(2)), 1, "authentication", "drop 1");
        });
        it("a duplicated segment", async function () {
          await expectSegmentError(
            join(header, ...segments.slice(0, 3), segments[2], ...segments.slice(3)),
            3,
            "authentication",
            "duplicate 2",
          );
        });
        it("truncated at a segment boundary, and within a segment", async function () {
          await expectSegmentError(join(header, ...segments.slice(0, 4)), 3, "truncated", "cut after 3");
          await expectSegmentError(
            join(header, ...segments.slice(0, 4), segments[4].subarray(0, 20)),
            4,
            "authentication",
            "cut within 4",
          );
          await expectSegmentError(
            join(header, ...segments.slice(0, 4), segments[4].subarray(0, 5)),
            4,
            "length",
            "cut to 5 bytes",
          );
          const headerOnly = await expectRejects(
            collectBytes(openRecordStream([header], sealed.dataKey, {}, { crypto })),
            SegmentError,
          );
          expect(headerOnly.problem).to.equal("truncated");
        });
        it("bytes after the final segment", async function () {
          // A full final segment followed by more bytes: it verifies only as final.
          const full = await sealRecordV2(bytes(3 * SEGMENT), CONTEXT, undefined, { segmentSize: SEGMENT, crypto });
          const error = await expectRejects(
            collectBytes(
              openRecordStream(
                [join(full.envelope, segmentsOf(full.envelope).segments[0])],
                full.dataKey,
                {},
                { crypto },
              ),
            ),
            SegmentError,
          );
          expect({ segment: error.segment, problem: error.problem }).to.deep.equal({ segment: 2, problem: "trailing" });
          await expectSegmentError(join(sealed.envelope, Uint8Array.of(1, 2, 3)), 5, "authentication", "3 extra bytes");
        });
        it("a flipped bit in any segment, its tag included", async function () {
          for (const [segment, offset] of [
            [0, 0],
            [2, 9],
            [4, 31],
            [5, 22],
          ]) {
            const copy = segments.map((s) => s.slice());
            copy[segment][offset] ^= 0x01;
            await expectSegmentError(
              join(header, ...copy),
              segment,
              "authentication",
              `flip segment ${segment} byte ${offset}`,
            );
          }
        });
        it("a segment spliced from another record sealed under the same data key", async function () {
          const other = await sealRecordV2(bytes(5 * SEGMENT + 7), CONTEXT, sealed.dataKey, {
            segmentSize: SEGMENT,
            crypto,
          });
          const theirs = segmentsOf(other.envelope).segments;
          await expectSegmentError(
            join(header, segments[0], theirs[1], ...segments.slice(2)),
            1,
            "authentication",
            "splice 1",
          );
        });
        it("a header moved to another context, or with its salt or commitment changed", async function () {
          const patientFlip = join(header, ...segments);
          patientFlip[40] ^= 0x01;
          const moved = await expectRejects(
            collectBytes(openRecordStream([patientFlip], sealed.dataKey, {}, { crypto })),
            SegmentError,
          );
          expect(moved.segment).to.equal(0);
          const expectedPatient = await expectRejects(
            collectBytes(openRecordStream([patientFlip], sealed.dataKey, { patient: CONTEXT.patient }, { crypto })),
            IntegrityError,
          );
          expect(expectedPatient.message).to.contain("patient");
          for (const at of [114, 161]) {
            const copy = join(header, ...segments);
            copy[at] ^= 0x01;
            await expectRejects(
              collectBytes(openRecordStream([copy], sealed.dataKey, {}, { crypto })),
              KeyCommitmentError,
              `byte ${at}`,
            );
          }
        });
        it("a stream that reads a record other than the anchored one fails at its end with IntegrityError", async function () {
          const other = await sealRecordV2(plaintext, CONTEXT, sealed.dataKey, { segmentSize: SEGMENT, crypto });
          const error = await expectRejects(
            collectBytes(openRecordStream([other.envelope], sealed.dataKey, { recordId: sealed.recordId }, { crypto })),
            IntegrityError,
          );
          expect(error.message).to.contain(other.recordId);
        });
      });
    }
  });

  describe("ranged reads", function () {
    for (const [name, crypto] of BACKENDS) {
      it(`${name}: verifies and decrypts any range from the index and the segments holding it`, async function () {
        const plaintext = bytes(10 * SEGMENT + 5);
        const sealed = await sealRecordV2(plaintext, CONTEXT, undefined, { segmentSize: SEGMENT, crypto });
        const { index, envelopeBytes } = await segmentIndexOf([sealed.envelope], crypto);
        expect(envelopeBytes).to.equal(sealed.envelope.length);
        expect(index.length).to.equal(ENVELOPE_V2_HEADER_BYTES + 11 * 32);
        const fetched: [number, number][] = [];
        const fetch = async (start: number, end: number) => {
          fetched.push([start, end]);
          return sealed.envelope.slice(start, end);
        };
        for (const [offset, length] of [
          [0, 1],
          [15, 2],
          [16, 16],
          [33, 100],
          [150, 50],
          [165, 0],
          [0, 165],
          [200, 10],
        ]) {
          fetched.length = 0;
          const range = await openRecordRange({
            index,
            fetch,
            dataKey: sealed.dataKey,
            expected: { recordId: sealed.recordId },
            offset,
            length,
            crypto,
          });
          expect(same(range.plaintext, plaintext.slice(offset, offset + length)), `[${offset}, +${length})`).to.equal(
            true,
          );
          const segmentsFetched = fetched.reduce(
            (n, [start, end]) => n + Math.ceil((Math.min(end, sealed.envelope.length) - start) / FULL),
            0,
          );
          expect(segmentsFetched, `[${offset}, +${length})`).to.be.at.most(Math.ceil(length / SEGMENT) + 1);
        }

        // A forged index, a forged segment, a wrong key.
        const badIndex = index.slice();
        badIndex[ENVELOPE_V2_HEADER_BYTES + 40] ^= 1;
        await expectRejects(
          openRecordRange({
            index: badIndex,
            fetch,
            dataKey: sealed.dataKey,
            expected: { recordId: sealed.recordId },
            offset: 0,
            length: 1,
            crypto,
          }),
          IntegrityError,
        );
        const badFetch = async (start: number, end: number) => {
          const out = sealed.envelope.slice(start, end);
          out[FULL + 3] ^= 1;
          return out;
        };
        const hash = await expectRejects(
          openRecordRange({
            index,
            fetch: badFetch,
            dataKey: sealed.dataKey,
            expected: { recordId: sealed.recordId },
            offset: 32,
            length: 40,
            crypto,
          }),
          SegmentError,
        );
        expect({ segment: hash.segment, problem: hash.problem }).to.deep.equal({ segment: 3, problem: "hash" });
        await expectRejects(
          openRecordRange({
            index,
            fetch,
            dataKey: bytes(32),
            expected: { recordId: sealed.recordId },
            offset: 0,
            length: 1,
            crypto,
          }),
          KeyCommitmentError,
        );
      });
    }
  });

  describe("streams", function () {
    it("web ReadableStream in, web ReadableStream out, chunks of any size", async function () {
      const plaintext = bytes(3 * 1024 * 1024 + 123);
      let at = 0;
      const source = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (at >= plaintext.length) return controller.close();
          const size = 1 + ((at * 7919) % 70_000);
          controller.enqueue(plaintext.slice(at, at + size));
          at += size;
        },
      });
      const sealing = sealRecordStream(source, CONTEXT);
      const envelope = await collectBytes(toReadableStream(sealing.envelope));
      const recordId = await sealing.recordId;
      expect(recordId).to.equal(specOpen(envelope, sealing.dataKey).recordId);
      const out = await collectBytes(
        toReadableStream(
          openRecordStream(
            toReadableStream(
              (async function* () {
                yield envelope;
              })(),
            ),
            sealing.dataKey,
            { recordId },
          ),
        ),
      );
      expect(same(out, plaintext)).to.equal(true);
    });

    it("Node Readable in, Node Readable out, through consent-ledger/node (node:crypto)", async function () {
      const plaintext = bytes(2 * 1024 * 1024 + 5);
      const sealing = nodeEntry.sealRecordStream(
        Readable.from([plaintext.subarray(0, 1000), plaintext.subarray(1000)]),
        CONTEXT,
      );
      const envelope = await collectBytes(nodeEntry.toNodeReadable(sealing.envelope));
      const recordId = await sealing.recordId;
      expect(recordId).to.equal(await nodeEntry.recordIdOfV2(envelope));
      expect(recordId).to.equal(await recordIdOf(envelope));
      const out = await collectBytes(
        nodeEntry.toNodeReadable(nodeEntry.openRecordStream(Readable.from([envelope]), sealing.dataKey, { recordId })),
      );
      expect(same(out, plaintext)).to.equal(true);
    });

    it("a failing source fails the envelope and the record id alike", async function () {
      const source = (async function* () {
        yield bytes(100);
        throw new Error("disk gone");
      })();
      const sealing = sealRecordStream(source, CONTEXT, undefined, { segmentSize: SEGMENT });
      let error: unknown;
      try {
        await collectBytes(sealing.envelope);
      } catch (caught) {
        error = caught;
      }
      expect(String(error)).to.contain("disk gone");
      let idError: unknown;
      await sealing.recordId.catch((caught) => (idError = caught));
      expect(idError).to.equal(error);
    });

    it("a consumer that stops reading an envelope early stops its source", async function () {
      let pulled = 0;
      let stopped = false;
      const source = (async function* () {
        try {
          for (;;) {
            pulled += 1;
            yield bytes(SEGMENT);
          }
        } finally {
          stopped = true;
        }
      })();
      const sealing = sealRecordStream(source, CONTEXT, undefined, { segmentSize: SEGMENT });
      let parts = 0;
      for await (const part of sealing.envelope) {
        void part;
        if (++parts === 4) break;
      }
      expect(stopped).to.equal(true);
      expect(pulled).to.be.below(10);
    });

    it("refuses a v2 header it cannot read, as FormatError naming the field", async function () {
      const sealed = await sealRecordV2(bytes(40), CONTEXT, undefined, { segmentSize: SEGMENT });
      const copy = sealed.envelope.slice();
      new DataView(copy.buffer).setUint32(110, 8);
      const error = await expectRejects(collectBytes(openRecordStream([copy], sealed.dataKey)), FormatError);
      expect(error.message).to.contain("segmentSize 8");
      await expectRejects(
        collectBytes(openRecordStream([sealed.envelope.subarray(0, 100)], sealed.dataKey)),
        FormatError,
      );
    });
  });
});
