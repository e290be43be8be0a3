/**
 * Fuzzing the blob stores and CID conversions (sdk/storage): a CID arrives from the chain's event
 * pointer, a manifest or a URL; a stored blob may be damaged at rest. Every case must end in a
 * ConsentLedgerError (FormatError for a bad CID, BlobNotFoundError, CorruptBlobError / StorageError for a
 * damaged or unreadable blob), never a crash, and a store must NEVER return bytes other than the ones that
 * hash to the CID asked for.
 */
import { mkdir, rm, symlink, writeFile } from "node:fs/promises";
import path from "node:path";

import { expect } from "chai";
import fc from "fast-check";

import { bytesToHex } from "../../sdk/crypto/bytes";
import { sha256Hex } from "../../sdk/crypto/sha256";
import { BlobNotFoundError, FormatError, InvalidArgumentError, StorageError } from "../../sdk/errors";
import {
  CorruptBlobError,
  MemoryBlobStore,
  cidFromRecordId,
  cidOf,
  recordIdFromCid,
} from "../../sdk/storage/blob-store";
import { FsBlobStore } from "../../sdk/storage/fs-blob-store";
import { tempDirectory } from "../helpers/sdk";
import { anyValue, damaged, fuzz, refused, settle } from "./fuzz";

const FILE = "test/fuzz/blob-store.test.ts";

const BLOB = new TextEncoder().encode("CLR\x01 not really an envelope, but bytes all the same: ".repeat(4));
const OTHER_BLOB = new TextEncoder().encode("another blob");
const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

/**
 * Strings near a valid CID: one character changed, inserted or removed, prefixed or suffixed, other
 * bases, codecs and versions. Upper-case letters inside a lower-case CID have their own test below.
 */
function nearCid(cid: string): fc.Arbitrary<string> {
  return fc.oneof(
    fc
      .tuple(fc.nat(cid.length - 1), fc.constantFrom(...BASE32, "0", "1", "8", "/", ".", "\0"))
      .map(([i, ch]) => cid.slice(0, i) + ch + cid.slice(i + 1)),
    fc.tuple(fc.nat(cid.length), fc.constantFrom(...BASE32, "=")).map(([i, ch]) => cid.slice(0, i) + ch + cid.slice(i)),
    fc.nat(cid.length - 1).map((i) => cid.slice(0, i) + cid.slice(i + 1)),
    fc.constant(cid.toUpperCase()),
    fc.constantFrom(
      `../${cid}`,
      `${cid}/../../etc/passwd`,
      `/${cid}`,
      `${cid}\n`,
      ` ${cid}`,
      `ipfs://${cid}`,
      `z${cid.slice(1)}`,
      `f${cid.slice(1)}`,
    ),
    // A CIDv0 and CIDs of other codecs and hashes: valid CIDs, but not of raw sha2-256 blobs.
    fc.constantFrom(
      "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG",
      "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
      "bafkr4ihkr4ld3m4gqkjf4reryxsy2s5tkbxprqkow6fin2iiyvreuzzab4",
    ),
  );
}

describe("fuzzing sdk/storage", function () {
  let cid: string;
  let recordId: string;

  before(async function () {
    cid = await cidOf(BLOB);
    recordId = await sha256Hex(BLOB);
  });

  describe("CIDs and record ids", function () {
    it("reads any string as the record id of a canonical raw sha2-256 CIDv1, or refuses it with a FormatError", async function () {
      await fuzz(
        this,
        FILE,
        fc.asyncProperty(
          fc
            .oneof(fc.string(), fc.string({ unit: "binary" }), fc.stringMatching(/^b[a-z2-7]{20,70}$/), nearCid(cid))
            .filter(
              (text) => !/^b[a-zA-Z2-7]+$/.test(text) || text === text.toLowerCase() || text === text.toUpperCase(),
            ),
          async (text) => {
            const outcome = await settle("recordIdFromCid", () => recordIdFromCid(text));
            if (outcome.ok) {
              expect(outcome.value).to.match(/^0x[0-9a-f]{64}$/);
              // Only the canonical form parses: the CID of that record id is the very string given.
              expect(cidFromRecordId(outcome.value)).to.equal(text);
            } else {
              expect(outcome.error).to.be.instanceOf(FormatError);
            }
          },
        ),
        1000,
      );
    });

    // Found by fuzzing, fixed in 83c65d3: digestOfCid promises "FormatError unless cid is a canonical CIDv1 string: base32
    // lowercase", and checks `CID.parse(cid).toString() !== cid`; but multiformats decodes base32 in either
    // case AND caches the parsed source string as the CID's toString(), so the check always passes and a
    // CID with upper-case letters is accepted. Counterexample found by the property above:
    //   recordIdFromCid("bafkreiAdefyu657chfbpdcjdkmoa5anmym3bpjbkk7p53j3ioyc3vjv3qm") returns a record id.
    // Effect: two strings for one blob (store keys, file names, gateway caches disagree); bytes are still
    // verified against the digest, so no wrong plaintext. Fix: compare with the re-encoded form,
    // `CID.decode(parsed.bytes).toString() !== cid`, or test /^b[a-z2-7]+$/ first.
    it("refuses a CID with upper-case letters in it: not canonical", async function () {
      await fuzz(
        this,
        FILE,
        fc.asyncProperty(
          fc
            .tuple(fc.integer({ min: 1, max: cid.length - 1 }), fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
            .map(([i, ch]) => cid.slice(0, i) + ch + cid.slice(i + 1)),
          async (text) => {
            await refused("recordIdFromCid", () => recordIdFromCid(text), [FormatError]);
          },
        ),
        50,
      );
    });

    it("turns any bytes32 (any case) into a CID and back, and refuses anything else with an InvalidArgumentError", async function () {
      await fuzz(
        this,
        FILE,
        fc.asyncProperty(
          fc.oneof(
            fc
              .uint8Array({ minLength: 32, maxLength: 32 })
              .chain((b) => fc.mixedCase(fc.constant(bytesToHex(b).slice(2))).map((hex) => `0x${hex}`)),
            fc.string(),
            fc.stringMatching(/^0x[0-9a-fA-F]{0,70}$/),
          ),
          async (hex) => {
            const outcome = await settle("cidFromRecordId", () => cidFromRecordId(hex));
            if (outcome.ok) expect(recordIdFromCid(outcome.value)).to.equal(hex.toLowerCase());
            else expect(outcome.error).to.be.instanceOf(InvalidArgumentError);
          },
        ),
        1000,
      );
    });

    it("refuses non-strings with a ConsentLedgerError", async function () {
      await fuzz(
        this,
        FILE,
        fc.asyncProperty(
          anyValue.filter((v) => typeof v !== "string"),
          async (value) => {
            await refused("recordIdFromCid", () => recordIdFromCid(value as string), [FormatError]);
            await refused("cidFromRecordId", () => cidFromRecordId(value as string), [InvalidArgumentError]);
          },
        ),
      );
    });
  });

  describe("MemoryBlobStore", function () {
    it("answers get/has of any string with the blob, BlobNotFoundError or FormatError", async function () {
      const store = new MemoryBlobStore();
      await store.put(BLOB);
      await fuzz(
        this,
        FILE,
        fc.asyncProperty(fc.oneof(fc.string(), nearCid(cid), fc.constant(cid)), async (key) => {
          const got = await settle("get", () => store.get(key));
          if (got.ok) {
            expect(key).to.equal(cid);
            expect(bytesToHex(got.value)).to.equal(bytesToHex(BLOB));
          } else {
            expect(got.error).to.satisfy((e: unknown) => e instanceof FormatError || e instanceof BlobNotFoundError);
          }
          const has = await settle("has", () => store.has(key));
          if (has.ok) expect(has.value).to.equal(key === cid);
          else expect(has.error).to.be.instanceOf(FormatError);
        }),
      );
    });

    it("never returns a blob damaged in memory: CorruptBlobError", async function () {
      await fuzz(
        this,
        FILE,
        fc.asyncProperty(damaged(BLOB), async ({ how, bytes }) => {
          const backing = new Map<string, Uint8Array>();
          const store = new MemoryBlobStore(backing);
          await store.put(BLOB);
          backing.set(cid, bytes);
          await refused(`get after "${how}"`, () => store.get(cid), [CorruptBlobError]);
          // Putting the right bytes again repairs it.
          await store.put(BLOB);
          expect(bytesToHex(await store.get(cid))).to.equal(bytesToHex(BLOB));
        }),
      );
    });
  });

  describe("FsBlobStore", function () {
    let dir: string;
    let cleanup: () => Promise<void>;
    let store: FsBlobStore;

    before(async function () {
      ({ dir, cleanup } = await tempDirectory("fuzz-fs-blob-store"));
      store = await FsBlobStore.open(dir);
      await store.put(OTHER_BLOB);
    });

    after(async function () {
      await cleanup();
    });

    it("answers get/has of any string with the blob, BlobNotFoundError or FormatError, and never leaves its directory", async function () {
      await store.put(BLOB);
      await fuzz(
        this,
        FILE,
        fc.asyncProperty(fc.oneof(fc.string(), nearCid(cid), fc.constant(cid)), async (key) => {
          const got = await settle("get", () => store.get(key));
          if (got.ok) {
            expect(key).to.equal(cid);
            expect(bytesToHex(got.value)).to.equal(bytesToHex(BLOB));
          } else {
            expect(got.error).to.satisfy((e: unknown) => e instanceof FormatError || e instanceof BlobNotFoundError);
          }
          const located = await settle("pathOf", () => store.pathOf(key));
          if (located.ok) expect(path.dirname(path.dirname(located.value))).to.equal(store.directory);
        }),
      );
    });

    it("never returns a blob damaged on disk: CorruptBlobError or StorageError, and a re-put repairs it", async function () {
      const target = store.pathOf(cid);
      const otherTarget = store.pathOf(await cidOf(OTHER_BLOB));
      const damage = fc.oneof(
        damaged(BLOB).map((d) => ({ how: d.how, apply: () => writeFile(target, d.bytes) })),
        fc.constant({ how: "empty file", apply: () => writeFile(target, new Uint8Array()) }),
        fc.constant({
          how: "replaced by a directory",
          apply: async () => {
            await rm(target, { force: true });
            await mkdir(target);
          },
        }),
        fc.constant({
          how: "replaced by a symlink to another blob",
          apply: async () => {
            await rm(target, { force: true });
            await symlink(otherTarget, target);
          },
        }),
      );
      await fuzz(
        this,
        FILE,
        fc.asyncProperty(damage, async ({ how, apply }) => {
          await rm(target, { recursive: true, force: true });
          await store.put(BLOB);
          await apply();
          await refused(`get after "${how}"`, () => store.get(cid), [CorruptBlobError, StorageError]);
          if (how !== "replaced by a directory") {
            await store.put(BLOB);
            expect(bytesToHex(await store.get(cid))).to.equal(bytesToHex(BLOB));
          }
          await rm(target, { recursive: true, force: true });
        }),
        100,
      );
      expect(recordIdFromCid(cid)).to.equal(recordId);
    });
  });
});
