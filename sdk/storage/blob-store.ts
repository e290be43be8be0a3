/**
 * Content-addressed storage of envelopes (and manifests): a blob's address is its CIDv1 with the raw
 * codec (0x55) and a sha2-256 multihash, in base32 ("bafkrei..."). The digest in that CID is the SHA-256
 * the chain anchors, so cidFromRecordId / recordIdFromCid convert between the two without any I/O.
 *
 * Browser-safe: hashing is WebCrypto; only multiformats' CID and digest encoders are used (not
 * multiformats/hashes/sha2, whose Node build imports node:crypto).
 */
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { create as createDigest } from "multiformats/hashes/digest";

import { BlobNotFoundError, FormatError, InvalidArgumentError, StorageError } from "../errors";
import { bytesEqual, bytesToHex, hexToBytes } from "../crypto/bytes";
import { sha256 } from "../crypto/sha256";

/** Where envelopes live: put returns the blob's CID; get returns exactly the bytes that hash to it. */
export interface BlobStore {
  put(bytes: Uint8Array): Promise<string>;
  /** BlobNotFoundError when absent; a StorageError, never wrong bytes, when the stored copy is damaged. */
  get(cid: string): Promise<Uint8Array>;
  has(cid: string): Promise<boolean>;
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

/** The CIDv1 (raw, sha2-256, base32) of `bytes`. */
export async function cidOf(bytes: Uint8Array): Promise<string> {
  if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError("bytes", "expected a Uint8Array");
  return cidString(await sha256(bytes));
}

/** The CID of the envelope whose record id (its SHA-256, a bytes32) is `recordId`. */
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
  if (parsed.code !== RAW_CODEC) throw new FormatError(what, `${cid} has codec 0x${parsed.code.toString(16)}, not raw (0x55)`, { hint });
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
export async function verifyBlob(cid: string, bytes: Uint8Array): Promise<{ ok: true } | { ok: false; actualCid: string }> {
  const expected = digestOfCid(cid);
  const actual = await sha256(bytes);
  return bytesEqual(actual, expected) ? { ok: true } : { ok: false, actualCid: cidString(actual) };
}

/**
 * A blob store in memory: for tests and dApps. Puts and gets copy the bytes, and every get re-hashes
 * what it returns. `backing` lets several stores share one map (or a test reach into it).
 */
export class MemoryBlobStore implements BlobStore {
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
}
