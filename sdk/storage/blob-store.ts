/**
 * Content-addressed storage of envelopes (and manifests): a blob's address is its CIDv1 with the raw
 * codec (0x55) and a sha2-256 multihash, in base32 ("bafkrei..."). The digest in that CID is the SHA-256
 * the chain anchors, so cidFromRecordId / recordIdFromCid convert between the two without any I/O.
 *
 * A v2 record envelope (bytes starting "CLR" 0x02) is addressed by its record id, SHA-256 over its
 * header and its segments' SHA-256 (sdk/crypto/envelope-v2.ts), so that a store can hash it as a stream
 * and a reader can verify a range; every other blob by the plain SHA-256 of its bytes. The CID keeps the
 * sha2-256 multihash code either way, so cidFromRecordId / recordIdFromCid stay pure conversions: a
 * generic IPFS node would not verify a v2 envelope's CID (it hashes the raw bytes), these stores do.
 *
 * Browser-safe: hashing is WebCrypto; only multiformats' CID and digest encoders are used (not
 * multiformats/hashes/sha2, whose Node build imports node:crypto).
 */
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { create as createDigest } from "multiformats/hashes/digest";

import { BlobNotFoundError, FormatError, InvalidArgumentError, StorageError } from "../errors";
import { bytesEqual, bytesToHex, hexToBytes } from "../crypto/bytes";
import {
  ByteReader,
  checkSegmentLayout,
  ENVELOPE_V2_HEADER_BYTES,
  isEnvelopeV2,
  parseHeaderV2,
  recordIdOfV2,
  segmentIndexOf,
  type ByteSource,
} from "../crypto/envelope-v2";
import { GCM_TAG_BYTES } from "../crypto/aes-gcm";
import { webSegmentCrypto, type SegmentCrypto } from "../crypto/segment-crypto";
import { sha256 } from "../crypto/sha256";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";

/** Where envelopes live: put returns the blob's CID; get returns exactly the bytes that hash to it. */
export interface BlobStore {
  put(bytes: Uint8Array): Promise<string>;
  /** BlobNotFoundError when absent; a StorageError, never wrong bytes, when the stored copy is damaged. */
  get(cid: string): Promise<Uint8Array>;
  has(cid: string): Promise<boolean>;
}

/** A byte range of a blob: [start, end), end exclusive (the blob's end when omitted). */
export interface ByteRange {
  start: number;
  end?: number;
}

/** A store that takes and gives blobs as streams, in memory bounded by a few segments. */
export interface StreamingBlobStore extends BlobStore {
  /** Stores the bytes read from `source`, hashed as they pass; returns the CID. */
  putStream(source: ByteSource): Promise<string>;
  /**
   * The blob's bytes as a stream. Whole: re-hashed as it is read, and the stream fails with
   * CorruptBlobError at its end if the stored copy no longer matches (a reader of an envelope also checks
   * each segment as it goes). A range is not hashed here: verify it with the record's segment index.
   */
  getStream(cid: string, range?: ByteRange): AsyncIterable<Uint8Array>;
  /** The blob's size in bytes. BlobNotFoundError when absent. */
  sizeOf(cid: string): Promise<number>;
  /** The segment index of a v2 envelope (header and segment hashes; see segmentIndexOf). */
  segmentIndex(cid: string): Promise<Uint8Array>;
}

/** multicodec raw. */
export const RAW_CODEC = raw.code;
/** multihash sha2-256. */
export const SHA2_256_CODE = 0x12;

/** A stored blob no longer hashes to its CID: it was corrupted at rest. The store never returns it. */
export class CorruptBlobError extends StorageError {
  override name = "CorruptBlobError";
  constructor(
    readonly cid: string,
    readonly actualCid: string,
    readonly location?: string,
  ) {
    super(`Blob ${cid}${location ? ` at ${location}` : ""} is corrupted: its bytes hash to ${actualCid}`, {
      hint: "The stored copy was damaged; restore it from another copy (re-putting the original bytes repairs it).",
    });
  }
}

function cidString(digest: Uint8Array): string {
  return CID.createV1(RAW_CODEC, createDigest(SHA2_256_CODE, digest)).toString();
}

/** The digest a blob is addressed by: the v2 record id of a v2 envelope, the SHA-256 of anything else. */
async function blobDigest(bytes: Uint8Array): Promise<Uint8Array> {
  if (isEnvelopeV2(bytes)) return hexToBytes(await recordIdOfV2(bytes));
  return sha256(bytes);
}

/** The CIDv1 (raw, sha2-256, base32) of `bytes`; for a v2 envelope, of its record id. */
export async function cidOf(bytes: Uint8Array): Promise<string> {
  if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError("bytes", "expected a Uint8Array");
  return cidString(await blobDigest(bytes));
}

/**
 * Computes a blob's address digest as its bytes pass (see cidOf): a v2 envelope's record id, segment by
 * segment, or the plain SHA-256. Memory: one segment.
 */
export class BlobDigester {
  private head = new Uint8Array(ENVELOPE_V2_HEADER_BYTES);
  private headBytes = 0;
  private plain?: { update(bytes: Uint8Array): void; digest(): Uint8Array };
  private v2?: { outer: ReturnType<typeof nobleSha256.create>; segment: Uint8Array; filled: number };
  /** Bytes seen so far. */
  size = 0;

  constructor(private readonly crypto: SegmentCrypto = webSegmentCrypto) {}

  async update(chunk: Uint8Array): Promise<void> {
    this.size += chunk.length;
    let rest = chunk;
    if (this.plain === undefined && this.v2 === undefined) {
      const take = Math.min(rest.length, ENVELOPE_V2_HEADER_BYTES - this.headBytes);
      this.head.set(rest.subarray(0, take), this.headBytes);
      this.headBytes += take;
      rest = rest.subarray(take);
      if (this.headBytes >= 4 && !isEnvelopeV2(this.head.subarray(0, this.headBytes))) this.startPlain();
      else if (this.headBytes === ENVELOPE_V2_HEADER_BYTES) {
        const header = parseHeaderV2(this.head);
        this.v2 = {
          outer: nobleSha256.create().update(this.head),
          segment: new Uint8Array(header.segmentSize + GCM_TAG_BYTES),
          filled: 0,
        };
      } else return;
    }
    if (this.plain !== undefined) {
      if (rest.length > 0) this.plain.update(rest);
      return;
    }
    const v2 = this.v2 as NonNullable<BlobDigester["v2"]>;
    while (rest.length > 0) {
      const take = Math.min(rest.length, v2.segment.length - v2.filled);
      v2.segment.set(rest.subarray(0, take), v2.filled);
      v2.filled += take;
      rest = rest.subarray(take);
      if (v2.filled === v2.segment.length) {
        v2.outer.update(await this.crypto.sha256(v2.segment));
        v2.filled = 0;
      }
    }
  }

  /**
   * The address digest of everything seen: FormatError for a v2 header cut short or malformed,
   * SegmentError for a v2 body that does not split into segments.
   */
  async digest(): Promise<Uint8Array> {
    if (this.plain === undefined && this.v2 === undefined) {
      if (this.headBytes >= 4) parseHeaderV2(this.head.subarray(0, this.headBytes)); // a v2 header cut short
      this.startPlain();
    }
    if (this.plain !== undefined) return this.plain.digest();
    const v2 = this.v2 as NonNullable<BlobDigester["v2"]>;
    // The readers' rule (SegmentError naming the segment), so a store never accepts what no reader opens.
    checkSegmentLayout(this.size - ENVELOPE_V2_HEADER_BYTES, v2.segment.length - GCM_TAG_BYTES);
    if (v2.filled > 0) v2.outer.update(await this.crypto.sha256(v2.segment.subarray(0, v2.filled)));
    return v2.outer.digest();
  }

  private startPlain(): void {
    this.plain = this.crypto.createSha256();
    if (this.headBytes > 0) this.plain.update(this.head.subarray(0, this.headBytes));
  }
}

/** The CID of a blob read from `source`, and its size (memory: one segment). */
export async function cidOfStream(
  source: ByteSource,
  crypto: SegmentCrypto = webSegmentCrypto,
): Promise<{ cid: string; size: number }> {
  const digester = new BlobDigester(crypto);
  const reader = new ByteReader(source);
  for (;;) {
    const chunk = await reader.read(1 << 20);
    if (chunk.length === 0) break;
    await digester.update(chunk);
  }
  return { cid: cidString(await digester.digest()), size: digester.size };
}

/** The CID addressing a 32-byte digest. */
export { cidString as cidOfDigest };

/** The CID of the envelope whose record id (a bytes32) is `recordId`. */
export function cidFromRecordId(recordId: string): string {
  return cidString(hexToBytes(recordId, { argument: "record id", length: 32 }));
}

/**
 * The 32-byte SHA-256 digest a CID addresses. FormatError unless `cid` is a canonical CIDv1 string:
 * base32 lowercase, raw codec, sha2-256 with a 32-byte digest.
 */
export function digestOfCid(cid: string): Uint8Array {
  const what = "CID";
  const hint = 'Expected a CIDv1 of raw bytes hashed with sha2-256, in base32 ("bafkrei..."), as put() returns.';
  if (typeof cid !== "string") throw new FormatError(what, `expected a string, got ${typeof cid}`, { hint });
  let parsed: CID;
  try {
    parsed = CID.parse(cid);
  } catch (cause) {
    throw new FormatError(what, `${JSON.stringify(cid.slice(0, 80))} is not a CID`, { hint, cause });
  }
  if (parsed.version !== 1) throw new FormatError(what, `${cid} is a CIDv${parsed.version}, not a CIDv1`, { hint });
  if (parsed.code !== RAW_CODEC)
    throw new FormatError(what, `${cid} has codec 0x${parsed.code.toString(16)}, not raw (0x55)`, { hint });
  if (parsed.multihash.code !== SHA2_256_CODE || parsed.multihash.digest.length !== 32)
    throw new FormatError(what, `${cid} is not hashed with sha2-256`, { hint });
  // Re-encode from the bytes: multiformats keeps the parsed text as toString(), so comparing with it
  // would accept upper case, and one blob would have two names.
  if (CID.decode(parsed.bytes).toString() !== cid) {
    throw new FormatError(what, `${cid} is not in canonical form (lowercase base32)`, { hint });
  }
  return parsed.multihash.digest;
}

/** The record id (bytes32, 0x-prefixed) a CID addresses. FormatError unless it is CIDv1 raw sha2-256. */
export function recordIdFromCid(cid: string): string {
  return bytesToHex(digestOfCid(cid));
}

/** Whether `bytes` hash to the digest of `cid` (a valid CID); the CID they hash to otherwise. */
export async function verifyBlob(
  cid: string,
  bytes: Uint8Array,
): Promise<{ ok: true } | { ok: false; actualCid: string }> {
  const expected = digestOfCid(cid);
  let actual: Uint8Array;
  try {
    actual = await blobDigest(bytes);
  } catch {
    actual = await sha256(bytes); // a damaged v2 envelope that no longer splits: report its plain hash
  }
  return bytesEqual(actual, expected) ? { ok: true } : { ok: false, actualCid: cidString(actual) };
}

/**
 * A blob store in memory: for tests and dApps. Puts and gets copy the bytes, and every get re-hashes
 * what it returns. `backing` lets several stores share one map (or a test reach into it).
 */
export class MemoryBlobStore implements StreamingBlobStore {
  constructor(private readonly backing: Map<string, Uint8Array> = new Map()) {}

  /** Number of blobs held. */
  get size(): number {
    return this.backing.size;
  }

  async put(bytes: Uint8Array): Promise<string> {
    const cid = await cidOf(bytes);
    this.backing.set(cid, Uint8Array.from(bytes));
    return cid;
  }

  async get(cid: string): Promise<Uint8Array> {
    digestOfCid(cid);
    const stored = this.backing.get(cid);
    if (stored === undefined) throw new BlobNotFoundError(cid);
    const copy = Uint8Array.from(stored);
    const check = await verifyBlob(cid, copy);
    if (!check.ok) throw new CorruptBlobError(cid, check.actualCid, "memory");
    return copy;
  }

  async has(cid: string): Promise<boolean> {
    digestOfCid(cid);
    return this.backing.has(cid);
  }

  async putStream(source: ByteSource): Promise<string> {
    const reader = new ByteReader(source);
    const parts: Uint8Array[] = [];
    for (;;) {
      const chunk = await reader.read(1 << 20);
      if (chunk.length === 0) break;
      parts.push(Uint8Array.from(chunk));
    }
    const bytes = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
    parts.reduce((offset, part) => (bytes.set(part, offset), offset + part.length), 0);
    return this.put(bytes);
  }

  async *getStream(cid: string, range: ByteRange = { start: 0 }): AsyncGenerator<Uint8Array> {
    const stored = this.stored(cid);
    const { start, end } = checkRange(range, stored.length);
    const whole = start === 0 && end === stored.length;
    const digester = new BlobDigester();
    for (let offset = start; offset < end; offset += 1 << 20) {
      const chunk = stored.slice(offset, Math.min(offset + (1 << 20), end));
      if (whole) await digester.update(chunk);
      yield chunk;
    }
    if (whole) {
      const actual = await digester.digest().catch(() => sha256(stored));
      if (!bytesEqual(actual, digestOfCid(cid))) throw new CorruptBlobError(cid, cidString(actual), "memory");
    }
  }

  async sizeOf(cid: string): Promise<number> {
    return this.stored(cid).length;
  }

  async segmentIndex(cid: string): Promise<Uint8Array> {
    return (await segmentIndexOf(this.getStream(cid))).index;
  }

  private stored(cid: string): Uint8Array {
    digestOfCid(cid);
    const stored = this.backing.get(cid);
    if (stored === undefined) throw new BlobNotFoundError(cid);
    return stored;
  }
}

/** A range checked against a blob of `size` bytes: InvalidArgumentError unless 0 <= start <= end <= size. */
export function checkRange(range: ByteRange, size: number): { start: number; end: number } {
  const start = range.start;
  const end = range.end ?? size;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > size)
    throw new InvalidArgumentError(
      "byte range",
      `[${String(start)}, ${String(end)}) is not within a blob of ${size} bytes`,
      {
        hint: "Ask for 0 <= start <= end <= size (end exclusive).",
      },
    );
  return { start, end };
}
