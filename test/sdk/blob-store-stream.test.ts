import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";

import { expect } from "chai";

import { DataClass } from "../../sdk/codes";
import { utf8Encode } from "../../sdk/crypto/bytes";
import { ZERO_RECORD_ID, type RecordContext } from "../../sdk/crypto/envelope";
import { SegmentError, sealRecordV2, segmentIndexOf } from "../../sdk/crypto/envelope-v2";
import {
  cidFromRecordId,
  cidOf,
  CorruptBlobError,
  MemoryBlobStore,
  type StreamingBlobStore,
} from "../../sdk/storage/blob-store";
import { FsBlobStore } from "../../sdk/storage/fs-blob-store";
import { BlobNotFoundError, FormatError, InvalidArgumentError } from "../../sdk/errors";
import { expectRejects } from "../helpers/expect-error";

const CONTEXT: RecordContext = {
  chainId: 31337n,
  registry: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
  patient: "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
  provider: "0x90f79bf6eb2c4f870365e785982e1f101e93b906",
  dataClass: DataClass.IMAGING,
  version: 1,
  previousRecordId: ZERO_RECORD_ID,
  contentType: 2,
};

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const part of stream) parts.push(part);
  return Buffer.concat(parts);
}

/** Chunks of sizes that never line up with the 1 KiB segments. */
function oddChunks(bytes: Uint8Array): Readable {
  const parts: Uint8Array[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = 1 + ((i * 977) % 3001);
    parts.push(bytes.slice(at, at + size));
    at += size;
  }
  return Readable.from(parts);
}

describe("streaming blob stores", function () {
  let dir: string;
  before(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), "blob-stream-"));
  });
  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  const stores: [string, () => Promise<StreamingBlobStore>][] = [
    ["MemoryBlobStore", async () => new MemoryBlobStore()],
    ["FsBlobStore", async () => FsBlobStore.open(dir)],
  ];
  for (const [name, open] of stores) {
    context(name, function () {
      it("puts a v2 envelope from a stream under its record id's CID, and serves it whole and by range", async function () {
        const store = await open();
        const sealed = await sealRecordV2(
          new Uint8Array(10_000).map((_, i) => i & 0xff),
          CONTEXT,
          undefined,
          { segmentSize: 1024 },
        );
        const cid = await store.putStream(oddChunks(sealed.envelope));
        expect(cid).to.equal(cidFromRecordId(sealed.recordId));
        expect(cid).to.equal(await cidOf(sealed.envelope));
        expect(await store.sizeOf(cid)).to.equal(sealed.envelope.length);
        expect((await collect(store.getStream(cid))).equals(Buffer.from(sealed.envelope))).to.equal(true);
        expect(
          (await collect(store.getStream(cid, { start: 100, end: 2000 }))).equals(
            Buffer.from(sealed.envelope.subarray(100, 2000)),
          ),
        ).to.equal(true);
        expect((await collect(store.getStream(cid, { start: 5, end: 5 }))).length).to.equal(0);
        const index = await store.segmentIndex(cid);
        expect(Buffer.from(index).equals(Buffer.from((await segmentIndexOf([sealed.envelope])).index))).to.equal(true);
        await expectRejects(
          collect(store.getStream(cid, { start: 0, end: sealed.envelope.length + 1 })),
          InvalidArgumentError,
        );
        await expectRejects(store.sizeOf(cidFromRecordId(`0x${"12".repeat(32)}`)), BlobNotFoundError);
      });

      it("puts any other blob from a stream under the SHA-256 of its bytes, as put does", async function () {
        const store = await open();
        const json = utf8Encode(JSON.stringify({ manifest: "x".repeat(5000) }));
        expect(await store.putStream(oddChunks(json))).to.equal(await store.put(json));
        expect(await store.putStream(Readable.from([]))).to.equal(
          "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
        );
      });

      it("refuses a stream that starts as a v2 envelope but does not split into segments", async function () {
        const store = await open();
        const sealed = await sealRecordV2(new Uint8Array(3000), CONTEXT, undefined, { segmentSize: 1024 });
        const cut = await expectRejects(
          store.putStream(Readable.from([sealed.envelope.subarray(0, 162 + 1040 + 5)])),
          SegmentError,
        );
        expect({ segment: cut.segment, problem: cut.problem }).to.deep.equal({ segment: 1, problem: "length" });
        const headerOnly = await expectRejects(
          store.putStream(Readable.from([sealed.envelope.subarray(0, 162)])),
          SegmentError,
        );
        expect({ segment: headerOnly.segment, problem: headerOnly.problem }).to.deep.equal({
          segment: 0,
          problem: "truncated",
        });
        await expectRejects(store.putStream(Readable.from([sealed.envelope.subarray(0, 100)])), FormatError);
      });
    });
  }

  it("FsBlobStore: a whole stream of a blob damaged on disk fails with CorruptBlobError at its end", async function () {
    const store = await FsBlobStore.open(dir);
    const sealed = await sealRecordV2(new Uint8Array(5000), CONTEXT, undefined, { segmentSize: 1024 });
    const cid = await store.putStream(Readable.from([sealed.envelope]));
    const file = store.pathOf(cid);
    const bytes = await readFile(file);
    bytes[3000] ^= 1;
    await writeFile(file, bytes);
    const error = await expectRejects(collect(store.getStream(cid)), CorruptBlobError);
    expect(error.message).to.contain(cid);
    // A range is served as stored: its reader checks it against the segment index.
    expect((await collect(store.getStream(cid, { start: 2990, end: 3010 }))).length).to.equal(20);
    // Putting the right bytes again repairs it.
    expect(await store.putStream(Readable.from([sealed.envelope]))).to.equal(cid);
    expect((await collect(store.getStream(cid))).equals(Buffer.from(sealed.envelope))).to.equal(true);
  });
});
