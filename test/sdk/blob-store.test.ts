import { chmod, mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

import { expect } from "chai";
import { CID } from "multiformats/cid";
import { base58btc } from "multiformats/bases/base58";
import * as raw from "multiformats/codecs/raw";
import { create as createDigest } from "multiformats/hashes/digest";

import { DataClass } from "../../sdk/codes";
import { bytesEqual, bytesToHex, randomBytes, utf8Encode } from "../../sdk/crypto/bytes";
import { openRecord, recordIdOf, sealRecord, ZERO_RECORD_ID } from "../../sdk/crypto/envelope";
import { sha256 } from "../../sdk/crypto/sha256";
import {
  cidFromRecordId,
  cidOf,
  CorruptBlobError,
  MemoryBlobStore,
  recordIdFromCid,
  type BlobStore,
} from "../../sdk/storage/blob-store";
import { FsBlobStore, shardOf } from "../../sdk/storage/fs-blob-store";
import { BlobNotFoundError, FormatError, InvalidArgumentError, StorageError } from "../../sdk/errors";
import { expectRejects, expectThrows } from "../helpers/expect-error";
import { runAsNonRoot } from "../helpers/non-root";
import type { ReadOnlyPutOutcome } from "../helpers/read-only-store";

/** The CID of the empty raw block, as every IPFS implementation computes it. */
const EMPTY_CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

describe("sdk/storage/blob-store", function () {
  describe("CIDs", function () {
    it("computes the standard CIDv1 (raw, sha2-256, base32), carrying the record id's digest", async function () {
      expect(await cidOf(new Uint8Array(0))).to.equal(EMPTY_CID);
      expect(recordIdFromCid(EMPTY_CID)).to.equal("0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

      const sealed = await sealRecord(utf8Encode('{"resourceType":"Patient"}'), {
        chainId: 1n,
        registry: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
        patient: "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
        provider: "0x90f79bf6eb2c4f870365e785982e1f101e93b906",
        dataClass: DataClass.CONDITION,
        version: 1,
        previousRecordId: ZERO_RECORD_ID,
      });
      const cid = await cidOf(sealed.envelope);
      expect(cid).to.match(/^bafkrei[a-z2-7]{52}$/);
      expect(cidFromRecordId(sealed.recordId)).to.equal(cid);
      expect(recordIdFromCid(cid)).to.equal(sealed.recordId);
      expect(cidFromRecordId(sealed.recordId.toUpperCase().replace("0X", "0x"))).to.equal(cid);
    });

    it("refuses every CID that is not a canonical CIDv1 raw sha2-256: FormatError", async function () {
      const digest = await sha256(utf8Encode("x"));
      const notRaw = CID.createV1(0x70, createDigest(0x12, digest)).toString(); // dag-pb
      const notSha256 = CID.createV1(raw.code, createDigest(0x13, new Uint8Array(64))).toString(); // sha2-512
      const identity = CID.createV1(raw.code, createDigest(0x00, utf8Encode("hello"))).toString();
      const v0 = CID.createV0(createDigest(0x12, digest)).toString(); // "Qm..."
      const base58 = CID.createV1(raw.code, createDigest(0x12, digest)).toString(base58btc); // "z..."
      const bad = [
        notRaw,
        notSha256,
        identity,
        v0,
        base58,
        EMPTY_CID.toUpperCase(),
        `B${EMPTY_CID.slice(1).toUpperCase()}`,
        "",
        "bafk",
        "hello",
        EMPTY_CID.slice(0, -1),
        `${EMPTY_CID}a`,
        ` ${EMPTY_CID}`,
      ];
      for (const cid of bad) expectThrows(() => recordIdFromCid(cid), FormatError, JSON.stringify(cid));
      expectThrows(() => recordIdFromCid(42 as unknown as string), FormatError);
      expectThrows(() => cidFromRecordId("0x1234"), InvalidArgumentError);
      expectThrows(() => cidFromRecordId(`0x${"00".repeat(33)}`), InvalidArgumentError);
    });

    it("every truncation and every one-character change: FormatError, or another valid CID", function () {
      const id = recordIdFromCid(EMPTY_CID);
      for (let length = 0; length < EMPTY_CID.length; length++)
        expectThrows(() => recordIdFromCid(EMPTY_CID.slice(0, length)), FormatError);
      let changedDigests = 0;
      for (let index = 0; index < EMPTY_CID.length; index++) {
        for (const char of [BASE32[(BASE32.indexOf(EMPTY_CID[index]) + 1) % 32], "0", "-"]) {
          const mutated = EMPTY_CID.slice(0, index) + char + EMPTY_CID.slice(index + 1);
          let result: string | undefined;
          try {
            result = recordIdFromCid(mutated);
          } catch (error) {
            expect(error, mutated).to.be.instanceOf(FormatError);
            continue;
          }
          // A change inside the digest is a valid address of other bytes, never the same record.
          expect(result).to.not.equal(id);
          expect(index).to.be.at.least(7);
          changedDigests++;
        }
      }
      expect(changedDigests).to.be.above(40);
    });
  });

  /** The same behaviour from every BlobStore. */
  function behavesLikeABlobStore(make: () => Promise<BlobStore>) {
    it("puts and gets bytes by CID, idempotently, and says what it has", async function () {
      const store = await make();
      const bytes = randomBytes(3000);
      const cid = await store.put(bytes);
      expect(cid).to.equal(await cidOf(bytes));
      expect(await store.has(cid)).to.equal(true);
      expect(await store.put(bytes)).to.equal(cid);
      const read = await store.get(cid);
      expect(bytesEqual(read, bytes)).to.equal(true);
      expect(Object.getPrototypeOf(read)).to.equal(Uint8Array.prototype); // never a Node Buffer
      expect(await store.get(await store.put(new Uint8Array(0)))).to.have.length(0);
    });

    it("a missing blob: BlobNotFoundError naming it; has() false", async function () {
      const store = await make();
      const cid = await cidOf(utf8Encode("never stored"));
      const error = await expectRejects(store.get(cid), BlobNotFoundError);
      expect(error.cid).to.equal(cid);
      expect(error.message).to.contain(cid);
      expect(await store.has(cid)).to.equal(false);
    });

    it("an invalid CID: FormatError from get and has", async function () {
      const store = await make();
      for (const cid of [
        "",
        "../../etc/passwd",
        "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG",
        EMPTY_CID.toUpperCase(),
      ]) {
        await expectRejects(store.get(cid), FormatError, cid);
        await expectRejects(store.has(cid), FormatError, cid);
      }
      await expectRejects(store.put("text" as unknown as Uint8Array), InvalidArgumentError);
    });

    it("keeps envelopes intact end to end: seal, put, get by the anchored id, open", async function () {
      const store = await make();
      const fhir = utf8Encode(JSON.stringify({ resourceType: "AllergyIntolerance", code: { text: "Penicillin" } }));
      const sealed = await sealRecord(fhir, {
        chainId: 31337n,
        registry: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
        patient: "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
        provider: "0x90f79bf6eb2c4f870365e785982e1f101e93b906",
        dataClass: DataClass.ALLERGY,
        version: 1,
        previousRecordId: ZERO_RECORD_ID,
      });
      const cid = await store.put(sealed.envelope);
      const envelope = await store.get(cidFromRecordId(sealed.recordId));
      expect(await recordIdOf(envelope)).to.equal(sealed.recordId);
      const opened = await openRecord(envelope, sealed.dataKey, {
        recordId: recordIdFromCid(cid),
        dataClass: DataClass.ALLERGY,
      });
      expect(bytesEqual(opened.plaintext, fhir)).to.equal(true);
    });
  }

  describe("MemoryBlobStore", function () {
    behavesLikeABlobStore(async () => new MemoryBlobStore());

    it("copies in and out, and refuses a corrupted entry with a StorageError, never bad bytes", async function () {
      const backing = new Map<string, Uint8Array>();
      const store = new MemoryBlobStore(backing);
      const bytes = randomBytes(64);
      const cid = await store.put(bytes);
      bytes[0] ^= 1; // the caller's array is not the stored one
      const read = await store.get(cid);
      expect(read[0]).to.equal(bytes[0] ^ 1);
      read[1] ^= 1; // nor is the returned one
      expect((await store.get(cid))[1]).to.equal(read[1] ^ 1);
      expect(store.size).to.equal(1);

      (backing.get(cid) as Uint8Array)[5] ^= 0x10;
      const error = await expectRejects(store.get(cid), CorruptBlobError);
      expect(error).to.be.instanceOf(StorageError);
      expect(error.message).to.contain(cid);
      await store.put(Uint8Array.from(read.map((b, i) => (i === 1 ? b ^ 1 : b)))); // re-putting the original repairs
      expect(bytesEqual(await store.get(cid), await new MemoryBlobStore(backing).get(cid))).to.equal(true);
    });
  });

  describe("FsBlobStore", function () {
    let root: string;
    before(async function () {
      root = await mkdtemp(path.join(os.tmpdir(), "consent-ledger-blobs-"));
    });
    after(async function () {
      await chmod(root, 0o700).catch(() => undefined);
      await rm(root, { recursive: true, force: true });
    });
    let counter = 0;
    const freshDirectory = (): string => path.join(root, `store-${++counter}`, "nested");

    behavesLikeABlobStore(async () => FsBlobStore.open(freshDirectory()));

    it("creates its directory and shards files by the CID's next-to-last two characters", async function () {
      const directory = freshDirectory();
      const store = new FsBlobStore(directory);
      const bytes = randomBytes(100);
      const cid = await store.put(bytes);
      const file = path.join(directory, shardOf(cid), cid);
      expect(shardOf(cid)).to.equal(cid.slice(-3, -1));
      expect(store.pathOf(cid)).to.equal(file);
      expect(bytesEqual(new Uint8Array(await readFile(file)), bytes)).to.equal(true);
      expect(await readdir(path.join(directory, shardOf(cid)))).to.deep.equal([cid]); // no temp file left behind
      // Another instance (a restart) reads it.
      expect(bytesEqual(await new FsBlobStore(directory).get(cid), bytes)).to.equal(true);
    });

    it("concurrent puts of the same bytes: one file, no temp files", async function () {
      const directory = freshDirectory();
      const store = await FsBlobStore.open(directory);
      const bytes = randomBytes(200_000);
      const cids = await Promise.all(Array.from({ length: 8 }, () => store.put(bytes)));
      expect(new Set(cids).size).to.equal(1);
      expect(await readdir(path.join(directory, shardOf(cids[0])))).to.deep.equal([cids[0]]);
    });

    it("a corrupted or truncated file: CorruptBlobError naming the CID and path; re-putting repairs it", async function () {
      const directory = freshDirectory();
      const store = await FsBlobStore.open(directory);
      const bytes = randomBytes(1000);
      const cid = await store.put(bytes);
      const file = store.pathOf(cid);

      const flipped = Uint8Array.from(bytes);
      flipped[500] ^= 0x04;
      await writeFile(file, flipped);
      const error = await expectRejects(store.get(cid), CorruptBlobError);
      expect(error).to.be.instanceOf(StorageError);
      expect(error.message).to.contain(cid).and.contain(file);
      expect(error.location).to.equal(file);
      expect(await store.has(cid)).to.equal(true); // has() checks existence only

      await writeFile(file, bytes.subarray(0, 999));
      await expectRejects(store.get(cid), CorruptBlobError);

      expect(await store.put(bytes)).to.equal(cid);
      expect(bytesEqual(await store.get(cid), bytes)).to.equal(true);
    });

    it("a crash's leftover temp file is never visible, and is cleaned on open once stale", async function () {
      const directory = freshDirectory();
      const bytes = randomBytes(5000);
      const cid = await cidOf(bytes);
      const shard = path.join(directory, shardOf(cid));
      await mkdir(shard, { recursive: true });
      // What a crash between open and rename leaves: a partial temp file, nothing under the final name.
      const stale = path.join(shard, `.${cid}.0123456789abcdef.tmp`);
      const fresh = path.join(shard, `.${cid}.fedcba9876543210.tmp`);
      await writeFile(stale, bytes.subarray(0, 1234));
      await writeFile(fresh, bytes.subarray(0, 99));
      const hourAgo = new Date(Date.now() - 60 * 60 * 1000);
      await utimes(stale, hourAgo, hourAgo);

      const store = await FsBlobStore.open(directory);
      expect(await readdir(shard)).to.deep.equal([path.basename(fresh)]); // the stale one is gone; a recent one may be in flight
      expect(await store.has(cid)).to.equal(false);
      await expectRejects(store.get(cid), BlobNotFoundError);

      await FsBlobStore.open(directory, { tempFileMaxAgeMs: 0 });
      expect(await readdir(shard)).to.deep.equal([]);

      expect(await store.put(bytes)).to.equal(cid);
      expect(await readdir(shard)).to.deep.equal([cid]);
    });

    it("a directory path that is a file: StorageError saying so", async function () {
      const file = path.join(root, `not-a-directory-${++counter}`);
      await writeFile(file, "x");
      const error = await expectRejects(FsBlobStore.open(file), StorageError);
      expect(error.message).to.contain("is not a directory");
      const below = await expectRejects(FsBlobStore.open(path.join(file, "below")), StorageError);
      expect(below.message).to.contain(path.join(file, "below"));
      expect(below.hint).to.contain("is a file, not a directory");
      expectThrows(() => new FsBlobStore(""), InvalidArgumentError);
    });

    // Root ignores file permissions, and CI runs as root: then the check runs in a child process as nobody.
    it("a directory without write permission: StorageError with a hint", async function () {
      const { uid, result } = await runAsNonRoot<ReadOnlyPutOutcome>(
        path.resolve(__dirname, "../helpers/read-only-store.ts"),
        "putIntoReadOnlyDirectory",
      );
      expect(uid, "the check ran without root privileges").to.not.equal(0);
      expect(result.accepted, "the put into a read-only directory was refused").to.equal(false);
      expect(result.isStorageError, `${result.name}: ${result.message}`).to.equal(true);
      expect(result.message).to.contain("EACCES").and.contain(result.directory);
      expect(result.hint).to.contain("Permission denied");
    });

    it("a read of a path that is a directory: StorageError, not a crash", async function () {
      const directory = freshDirectory();
      const store = await FsBlobStore.open(directory);
      const cid = await cidOf(utf8Encode("directory"));
      await mkdir(store.pathOf(cid), { recursive: true });
      const error = await expectRejects(store.get(cid), StorageError);
      expect(error).to.not.be.instanceOf(BlobNotFoundError);
      expect(error.message).to.contain(cid);
      expect(await store.has(cid)).to.equal(false);
      expect(bytesToHex(await sha256(new Uint8Array(0)))).to.equal(recordIdFromCid(EMPTY_CID));
    });
  });
});
