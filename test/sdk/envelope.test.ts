import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { expect } from "chai";
import { getAddress } from "ethers";

import { DataClass } from "../../sdk/codes";
import { aesGcmDecrypt, aesGcmEncrypt } from "../../sdk/crypto/aes-gcm";
import { bytesEqual, bytesToHex, hexToBytes, randomBytes, utf8Decode, utf8Encode } from "../../sdk/crypto/bytes";
import {
  ContentType,
  DEFAULT_MAX_ENVELOPE_BYTES,
  ENVELOPE_HEADER_BYTES,
  ENVELOPE_LAYOUT,
  MIN_ENVELOPE_BYTES,
  openRecord,
  parseEnvelope,
  recordIdOf,
  sealRecord,
  ZERO_RECORD_ID,
  type ParsedEnvelope,
  type RecordContext,
} from "../../sdk/crypto/envelope";
import { DecryptionError, FormatError, IntegrityError, InvalidArgumentError } from "../../sdk/errors";
import { expectRejects, expectThrows } from "../helpers/expect-error";

const REGISTRY = "0x5fbdb2315678afecb367f032d93f642f64180aa3";
const PATIENT = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";
const OTHER_PATIENT = "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc";
const PROVIDER = "0x90f79bf6eb2c4f870365e785982e1f101e93b906";

const observation = {
  resourceType: "Observation",
  id: "glucose-1",
  status: "final",
  category: [
    { coding: [{ system: "http://terminology.hl7.org/CodeSystem/observation-category", code: "laboratory" }] },
  ],
  code: { coding: [{ system: "http://loinc.org", code: "2339-0", display: "Glucose [Mass/volume] in Blood" }] },
  subject: { reference: "Patient/example" },
  valueQuantity: { value: 95, unit: "mg/dL", system: "http://unitsofmeasure.org", code: "mg/dL" },
};
const PLAINTEXT = utf8Encode(JSON.stringify(observation));

function context(overrides: Partial<RecordContext> = {}): RecordContext {
  return {
    chainId: 31337n,
    registry: REGISTRY,
    patient: PATIENT,
    provider: PROVIDER,
    dataClass: DataClass.LAB_RESULT,
    version: 1,
    previousRecordId: ZERO_RECORD_ID,
    ...overrides,
  };
}

const PREVIOUS = `0x${"ab".repeat(32)}`;
const V2 = context({ version: 2, previousRecordId: PREVIOUS, dataClass: DataClass.MEDICATION });

function flip(bytes: Uint8Array, index: number, mask = 0x01): Uint8Array {
  const copy = Uint8Array.from(bytes);
  copy[index] ^= mask;
  return copy;
}

describe("sdk/crypto/envelope", function () {
  describe("sealRecord / openRecord", function () {
    it("round-trips a FHIR record and binds it to its full context", async function () {
      const sealed = await sealRecord(PLAINTEXT, context());
      expect(sealed.dataKey).to.have.length(32);
      expect(sealed.envelope).to.have.length(ENVELOPE_HEADER_BYTES + PLAINTEXT.length + 16);
      expect(sealed.recordId).to.equal(bytesToHex(nobleSha256(sealed.envelope)));
      expect(await recordIdOf(sealed.envelope)).to.equal(sealed.recordId);

      const opened = await openRecord(sealed.envelope, sealed.dataKey, { ...context(), recordId: sealed.recordId });
      expect(JSON.parse(utf8Decode(opened.plaintext))).to.deep.equal(observation);
      expect(opened.context).to.deep.equal({
        chainId: 31337n,
        registry: getAddress(REGISTRY),
        patient: getAddress(PATIENT),
        provider: getAddress(PROVIDER),
        dataClass: DataClass.LAB_RESULT,
        version: 1,
        previousRecordId: ZERO_RECORD_ID,
        contentType: ContentType.FHIR_JSON,
      });
    });

    it("writes exactly the documented v1 layout, and AES-GCM with the header as AAD", async function () {
      const sealed = await sealRecord(PLAINTEXT, { ...V2, chainId: 11155111n, contentType: ContentType.OCTET_STREAM });
      const e = sealed.envelope;
      const view = new DataView(e.buffer, e.byteOffset, e.byteLength);
      expect(bytesToHex(e.subarray(0, 4))).to.equal("0x434c5201"); // "CLR" 0x01
      expect(view.getBigUint64(4)).to.equal(11155111n);
      expect(bytesToHex(e.subarray(12, 32))).to.equal(REGISTRY);
      expect(bytesToHex(e.subarray(32, 52))).to.equal(PATIENT);
      expect(bytesToHex(e.subarray(52, 72))).to.equal(PROVIDER);
      expect(e[72]).to.equal(DataClass.MEDICATION);
      expect(view.getUint32(73)).to.equal(2);
      expect(bytesToHex(e.subarray(77, 109))).to.equal(PREVIOUS);
      expect(e[109]).to.equal(2);
      expect(ENVELOPE_LAYOUT.iv).to.deep.equal([110, 12]);
      // Decrypting by hand, per the documented format, gives the plaintext back.
      const plaintext = await aesGcmDecrypt(sealed.dataKey, e.subarray(110, 122), e.subarray(122), e.subarray(0, 122));
      expect(bytesEqual(plaintext, PLAINTEXT)).to.equal(true);
    });

    it("uses a fresh data key and a fresh IV for every record", async function () {
      const ivOf = (envelope: Uint8Array): Uint8Array => (parseEnvelope(envelope) as ParsedEnvelope).iv;
      const a = await sealRecord(PLAINTEXT, context());
      const b = await sealRecord(PLAINTEXT, context());
      expect(bytesEqual(a.dataKey, b.dataKey)).to.equal(false);
      expect(bytesEqual(ivOf(a.envelope), ivOf(b.envelope))).to.equal(false);
      expect(a.recordId).to.not.equal(b.recordId);

      const key = randomBytes(32);
      const c = await sealRecord(PLAINTEXT, context(), key);
      const d = await sealRecord(PLAINTEXT, context(), key);
      expect(bytesEqual(c.dataKey, key)).to.equal(true);
      expect(bytesEqual(ivOf(c.envelope), ivOf(d.envelope))).to.equal(false);
      expect(utf8Decode((await openRecord(d.envelope, key)).plaintext)).to.equal(utf8Decode(PLAINTEXT));
    });

    it("seals an empty plaintext into the smallest envelope, and amendments (version 2)", async function () {
      const empty = await sealRecord(new Uint8Array(0), context({ contentType: ContentType.OCTET_STREAM }));
      expect(empty.envelope).to.have.length(MIN_ENVELOPE_BYTES);
      expect((await openRecord(empty.envelope, empty.dataKey)).plaintext).to.have.length(0);

      const amended = await sealRecord(PLAINTEXT, V2);
      const opened = await openRecord(amended.envelope, amended.dataKey, {
        version: 2,
        previousRecordId: PREVIOUS.toUpperCase().replace("0X", "0x"),
      });
      expect(opened.context.previousRecordId).to.equal(PREVIOUS);
      expect(opened.context.dataClass).to.equal(DataClass.MEDICATION);
    });

    it("refuses a bad context, data key or size with InvalidArgumentError", async function () {
      const bad: [string, Partial<RecordContext>][] = [
        ["chainId", { chainId: 0n }],
        ["chainId", { chainId: 1n << 64n }],
        ["chainId", { chainId: "1" as unknown as bigint }],
        ["registry", { registry: "0x1234" }],
        ["registry", { registry: "0x5FBDB2315678afecb367f032d93F642f64180aA3" }], // bad checksum
        ["patient", { patient: "0x0000000000000000000000000000000000000000" }],
        ["provider", { provider: "not an address" }],
        ["dataClass", { dataClass: 15 }],
        ["dataClass", { dataClass: -1 }],
        ["version", { version: 0 }],
        ["version", { version: 1.5 }],
        ["version", { version: 2 ** 32 }],
        ["previousRecordId", { previousRecordId: PREVIOUS }], // version 1 amends nothing
        ["previousRecordId", { version: 2 }], // version 2 must name its predecessor
        ["previousRecordId", { previousRecordId: "0x1234" }],
        ["contentType", { contentType: 3 }],
      ];
      for (const [field, overrides] of bad) {
        const error = await expectRejects(sealRecord(PLAINTEXT, context(overrides)), InvalidArgumentError);
        expect(error.message, field).to.contain(field);
      }
      await expectRejects(sealRecord(PLAINTEXT, context(), new Uint8Array(16)), InvalidArgumentError);
      await expectRejects(sealRecord("text" as unknown as Uint8Array, context()), InvalidArgumentError);
      const tooBig = await expectRejects(
        sealRecord(new Uint8Array(1000), context(), undefined, { maxEnvelopeBytes: 1000 }),
        InvalidArgumentError,
      );
      expect(tooBig.message).to.contain("over the limit");
    });
  });

  describe("failures end in the right typed error", function () {
    let sealed: Awaited<ReturnType<typeof sealRecord>>;
    let amended: Awaited<ReturnType<typeof sealRecord>>;
    before(async function () {
      sealed = await sealRecord(PLAINTEXT, context());
      amended = await sealRecord(PLAINTEXT, V2);
    });

    it("a tampered ciphertext or tag byte: DecryptionError", async function () {
      for (const index of [
        ENVELOPE_HEADER_BYTES,
        ENVELOPE_HEADER_BYTES + 7,
        sealed.envelope.length - 17,
        sealed.envelope.length - 1,
      ]) {
        const error = await expectRejects(openRecord(flip(sealed.envelope, index), sealed.dataKey), DecryptionError);
        expect(error.message).to.match(/Could not decrypt record 0x[0-9a-f]{64}/);
        expect(error.hint).to.be.a("string");
      }
    });

    it("a tampered header byte, field by field: DecryptionError, IntegrityError against expectations, FormatError when invalid", async function () {
      // Flips that leave a valid header: only the AEAD tag can catch them.
      const validFlips: [keyof typeof ENVELOPE_LAYOUT, number][] = [
        ["chainId", 4 + 7], // 31337 -> 31336
        ["registry", 12 + 19],
        ["patient", 32],
        ["provider", 52 + 10],
        ["dataClass", 72], // LAB_RESULT -> VITAL_SIGNS
        ["previousRecordId", 77 + 31],
        ["version", 73 + 3], // 2 -> 3
        ["iv", 110],
        ["iv", 121],
      ];
      const expected = { ...V2, recordId: amended.recordId };
      for (const [field, index] of validFlips) {
        const tampered = flip(amended.envelope, index);
        parseEnvelope(tampered); // still parses
        await expectRejects(openRecord(tampered, amended.dataKey), DecryptionError);
        if (field === "iv") continue;
        // Against the chain's anchor, the record id no longer matches ...
        const byId = await expectRejects(openRecord(tampered, amended.dataKey, expected), IntegrityError);
        expect(byId.message).to.contain(amended.recordId);
        // ... and against the expected context alone, the error names the field.
        const byField = await expectRejects(openRecord(tampered, amended.dataKey, V2), IntegrityError);
        expect(byField.message).to.contain(field);
        expect(byField.details).to.match(new RegExp(`^${field}: expected .+, actual .+$`));
      }
      // contentType 1 <-> 2 is valid too.
      await expectRejects(openRecord(flip(sealed.envelope, 109, 0x03), sealed.dataKey), DecryptionError);
      const ct = await expectRejects(
        openRecord(flip(sealed.envelope, 109, 0x03), sealed.dataKey, { contentType: 1 }),
        IntegrityError,
      );
      expect(ct.message).to.contain("contentType");

      // Flips that make a header no writer produces.
      const invalidFlips: [string, Uint8Array, RegExp][] = [
        ["magic", flip(sealed.envelope, 0), /magic/],
        ["format version", flip(sealed.envelope, 3, 0x02), /unsupported format version 3/],
        // Version byte 2 makes it read as v2; where v1 has its iv, v2 has segmentSize (here 2^32-1, refused).
        [
          "format version 2",
          (() => {
            const e = flip(sealed.envelope, 3, 0x03);
            e.fill(0xff, 110, 114);
            return e;
          })(),
          /\(v2\): header field segmentSize 4294967295/,
        ],
        [
          "chainId 0",
          (() => {
            const e = Uint8Array.from(sealed.envelope);
            e.fill(0, 4, 12);
            return e;
          })(),
          /chainId is 0/,
        ],
        [
          "zero patient",
          (() => {
            const e = Uint8Array.from(sealed.envelope);
            e.fill(0, 32, 52);
            return e;
          })(),
          /patient is the zero address/,
        ],
        ["dataClass", flip(sealed.envelope, 72, 0x80), /dataClass is 128/],
        ["version 0", flip(sealed.envelope, 76), /version is 0/],
        ["version 3 without predecessor", flip(sealed.envelope, 76, 0x02), /previousRecordId is zero in a version 3/],
        ["version 1 with predecessor", flip(amended.envelope, 76, 0x03), /previousRecordId is not zero in a version 1/],
        ["contentType", flip(sealed.envelope, 109, 0x02), /contentType is 3/],
      ];
      for (const [label, bytes, message] of invalidFlips) {
        const parsed = expectThrows(() => parseEnvelope(bytes), FormatError);
        expect(parsed.message, label).to.match(message);
        await expectRejects(openRecord(bytes, sealed.dataKey), FormatError);
      }
    });

    it("a swapped envelope (right key, other record id): IntegrityError naming the record", async function () {
      const other = await sealRecord(PLAINTEXT, context({ patient: OTHER_PATIENT }));
      const error = await expectRejects(
        openRecord(other.envelope, other.dataKey, { recordId: sealed.recordId }),
        IntegrityError,
      );
      expect(error.message).to.contain(sealed.recordId);
      expect(error.message).to.contain(other.recordId);
      expect(error.recordId).to.equal(sealed.recordId);
      // Without the id but with the patient expected, the patient field gives it away.
      const byPatient = await expectRejects(
        openRecord(other.envelope, other.dataKey, { patient: PATIENT }),
        IntegrityError,
      );
      expect(byPatient.message).to.contain(`patient ${getAddress(OTHER_PATIENT)}, expected ${getAddress(PATIENT)}`);
    });

    it("a ciphertext moved under another record's header: DecryptionError", async function () {
      const other = await sealRecord(PLAINTEXT, context({ patient: OTHER_PATIENT }));
      const moved = Uint8Array.from(other.envelope);
      moved.set(sealed.envelope.subarray(ENVELOPE_HEADER_BYTES), ENVELOPE_HEADER_BYTES);
      moved.set(sealed.envelope.subarray(110, 122), 110); // even with the original IV
      await expectRejects(openRecord(moved, sealed.dataKey), DecryptionError);
    });

    it("a wrong data key: DecryptionError", async function () {
      await expectRejects(openRecord(sealed.envelope, randomBytes(32)), DecryptionError);
      await expectRejects(openRecord(sealed.envelope, amended.dataKey, { recordId: sealed.recordId }), DecryptionError);
      await expectRejects(openRecord(sealed.envelope, new Uint8Array(31)), InvalidArgumentError);
    });

    it("malformed expectations: InvalidArgumentError", async function () {
      await expectRejects(openRecord(sealed.envelope, sealed.dataKey, { recordId: "0x1234" }), InvalidArgumentError);
      await expectRejects(openRecord(sealed.envelope, sealed.dataKey, { patient: "0xnope" }), InvalidArgumentError);
      await expectRejects(openRecord(sealed.envelope, sealed.dataKey, { dataClass: 99 }), InvalidArgumentError);
    });

    it("every truncation: FormatError below the minimum, DecryptionError above it", async function () {
      for (let length = 0; length < MIN_ENVELOPE_BYTES; length++) {
        const truncated = sealed.envelope.subarray(0, length);
        expectThrows(() => parseEnvelope(truncated), FormatError);
        await expectRejects(openRecord(truncated, sealed.dataKey), FormatError);
      }
      for (const length of [MIN_ENVELOPE_BYTES, sealed.envelope.length - 1]) {
        await expectRejects(openRecord(sealed.envelope.subarray(0, length), sealed.dataKey), DecryptionError);
      }
      const extended = new Uint8Array(sealed.envelope.length + 1);
      extended.set(sealed.envelope);
      await expectRejects(openRecord(extended, sealed.dataKey), DecryptionError);
    });

    it("an oversized envelope: FormatError before any work", async function () {
      const small = await expectRejects(
        openRecord(sealed.envelope, sealed.dataKey, {}, { maxEnvelopeBytes: 200 }),
        FormatError,
      );
      expect(small.message).to.contain("exceeds the limit of 200 bytes");
      expectThrows(() => parseEnvelope(sealed.envelope, { maxEnvelopeBytes: 200 }), FormatError);
      const huge = new Uint8Array(DEFAULT_MAX_ENVELOPE_BYTES + 1);
      // Refused before hashing 64 MiB: hashing would end in an IntegrityError (these bytes are not the record).
      await expectRejects(openRecord(huge, sealed.dataKey, { recordId: sealed.recordId }), FormatError);
      expectThrows(() => parseEnvelope(sealed.envelope, { maxEnvelopeBytes: 10 }), InvalidArgumentError);
    });

    it("every single-bit flip of an envelope is caught: never a crash, never a plaintext", async function () {
      const small = await sealRecord(utf8Encode('{"resourceType":"Basic"}'), context());
      const bits = Array.from({ length: small.envelope.length * 8 }, (_, bit) => bit);
      const settle = (promise: Promise<unknown>): Promise<unknown> =>
        promise.then(
          () => undefined,
          (error: unknown) => error,
        );
      // Concurrently: each open is a WebCrypto round trip to the thread pool.
      const outcomes = await Promise.all(
        bits.map(async (bit) => {
          const tampered = flip(small.envelope, bit >> 3, 1 << (bit & 7));
          const bare = await settle(openRecord(tampered, small.dataKey));
          // With the anchored record id, a flip is an integrity failure before any decryption (one bit per byte).
          const anchored =
            (bit & 7) === (bit >> 3) % 8
              ? await settle(openRecord(tampered, small.dataKey, { recordId: small.recordId }))
              : null;
          return { bit, bare, anchored };
        }),
      );
      const counts = { FormatError: 0, DecryptionError: 0, IntegrityError: 0 };
      for (const { bit, bare, anchored } of outcomes) {
        expect(bare instanceof FormatError || bare instanceof DecryptionError, `bit ${bit}: ${String(bare)}`).to.equal(
          true,
        );
        counts[bare instanceof FormatError ? "FormatError" : "DecryptionError"]++;
        if (anchored === null) continue;
        expect(anchored, `bit ${bit}`).to.be.instanceOf(IntegrityError);
        counts.IntegrityError++;
      }
      expect(counts.FormatError).to.be.above(0);
      expect(counts.DecryptionError).to.be.above(counts.FormatError);
      expect(counts.IntegrityError).to.equal(small.envelope.length);
    });

    it("random bytes and non-envelopes: FormatError", async function () {
      expectThrows(() => parseEnvelope(randomBytes(500)), FormatError);
      expectThrows(() => parseEnvelope(utf8Encode(JSON.stringify(observation))), FormatError);
      expectThrows(() => parseEnvelope("CLR" as unknown as Uint8Array), InvalidArgumentError);
    });
  });

  describe("aes-gcm", function () {
    it("authenticates the additional data and refuses bad sizes", async function () {
      const key = randomBytes(32);
      const iv = randomBytes(12);
      const ct = await aesGcmEncrypt(key, iv, PLAINTEXT, utf8Encode("header"));
      expect(ct).to.have.length(PLAINTEXT.length + 16);
      await expectRejects(aesGcmDecrypt(key, iv, ct, utf8Encode("headex")), DecryptionError);
      await expectRejects(aesGcmDecrypt(key, iv, ct.subarray(0, 15)), FormatError);
      await expectRejects(aesGcmEncrypt(randomBytes(16), iv, PLAINTEXT), InvalidArgumentError);
      await expectRejects(aesGcmEncrypt(key, randomBytes(16), PLAINTEXT), InvalidArgumentError);
      // A known-answer test: NIST GCM test case 14 (AES-256, zero key, zero IV, one zero block).
      const zero = await aesGcmEncrypt(new Uint8Array(32), new Uint8Array(12), new Uint8Array(16));
      expect(bytesToHex(zero)).to.equal("0xcea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919");
    });
  });

  describe("bytes", function () {
    it("converts hex strictly", function () {
      expect(bytesToHex(Uint8Array.of(0, 1, 0xab, 0xff))).to.equal("0x0001abff");
      expect(bytesToHex(hexToBytes("0xDEADbeef"))).to.equal("0xdeadbeef");
      expect(hexToBytes("0x")).to.have.length(0);
      for (const bad of ["deadbeef", "0xabc", "0xzz", "0x12 3", "0x-1"])
        expectThrows(() => hexToBytes(bad), InvalidArgumentError);
      expectThrows(() => hexToBytes("0x1234", { length: 3 }), InvalidArgumentError);
      expectThrows(() => utf8Decode(Uint8Array.of(0xff, 0xfe)), FormatError);
      expect(randomBytes(100_000)).to.have.length(100_000);
    });
  });
});
