/**
 * A content-addressed blob store on the local file system. Node only (it imports node:fs and node:path):
 * keep it out of browser bundles; the browser-safe interface and helpers are in ./blob-store.
 *
 * Layout: `<directory>/<shard>/<cid>`, where `<shard>` is the next-to-last two characters of the base32
 * CID (the "next-to-last/2" sharding of IPFS's flatfs). Every CIDv1 raw sha2-256 starts with the same
 * "bafkrei", so a prefix would put every blob in one directory; characters -3 and -2 are pure digest bits
 * (the last one carries 3 digest bits and 2 padding bits), giving 32 x 32 = 1024 evenly filled shards.
 *
 * Writes are atomic: the bytes go to `<shard>/.<cid>.<random>.tmp` (a streamed put, whose CID is known only
 * at the end: `<directory>/.stream.<random>.tmp`), created exclusively, are fsync'ed,
 * then renamed to `<shard>/<cid>`, and the shard directory is fsync'ed. A reader therefore sees the
 * whole blob or nothing; a crash can leave only temp files, which opening the store deletes once they
 * are older than `tempFileMaxAgeMs` (default 10 minutes, so a concurrent writer's in-flight file is
 * spared). Puts are idempotent; re-putting the right bytes over a damaged copy repairs it.
 *
 * Reads are verified: get re-hashes the file and throws CorruptBlobError (a StorageError naming the CID
 * and the path) rather than return bytes that do not match their CID. getStream re-hashes a whole blob as
 * it streams and fails at the end if it does not match; a ranged getStream is not hashed (its reader
 * verifies the range against the record's segment index). `has` only checks existence. Streams use
 * node:crypto for hashing.
 */
import { createReadStream } from "node:fs";
import { mkdir, open, readdir, readFile, rename, stat, unlink } from "node:fs/promises";
import path from "node:path";

import { BlobNotFoundError, InvalidArgumentError, StorageError } from "../errors";
import { bytesEqual, bytesToHex, randomBytes } from "../crypto/bytes";
import { ByteReader, segmentIndexOf, type ByteSource } from "../crypto/envelope-v2";
import { nodeSegmentCrypto } from "../crypto/node/segment-crypto";
import {
  BlobDigester,
  checkRange,
  cidOf,
  cidOfDigest,
  CorruptBlobError,
  digestOfCid,
  verifyBlob,
  type ByteRange,
  type StreamingBlobStore,
} from "./blob-store";

/** Bytes per read and write of a streamed blob: one default segment. */
const STREAM_CHUNK = 1 << 20;

export interface FsBlobStoreOptions {
  /** Leftover temp files older than this are deleted when the store opens; default 10 minutes. */
  tempFileMaxAgeMs?: number;
}

export const DEFAULT_TEMP_FILE_MAX_AGE_MS = 10 * 60 * 1000;
const TEMP_FILE = /^\..+\.tmp$/;
const SHARD_DIR = /^[a-z2-7]{2}$/;

/** The shard directory name of a CID: its next-to-last two characters. */
export function shardOf(cid: string): string {
  return cid.slice(-3, -1);
}

const HINTS: Record<string, (target: string) => string> = {
  EACCES: (target) =>
    `Permission denied: give this process read and write access to ${target} and its parent directories.`,
  EPERM: (target) => `Operation not permitted on ${target}: check its owner, permissions and any immutable flag.`,
  EROFS: (target) => `${target} is on a read-only file system: point the store at a writable directory.`,
  ENOSPC: () => "The disk is full: free space or move the store to a larger volume.",
  EDQUOT: () => "The disk quota is exhausted: free space or raise the quota.",
  ENOTDIR: (target) => `A component of ${target} is a file, not a directory: choose another store directory.`,
  EEXIST: (target) => `${target} exists and is not a directory: choose another store directory.`,
  EISDIR: (target) => `${target} is a directory where a blob file was expected: remove it.`,
  EMFILE: () => "Too many open files: raise the file descriptor limit (ulimit -n) or lower concurrency.",
};

function errnoOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

function storageError(action: string, target: string, cause: unknown): StorageError {
  const code = errnoOf(cause);
  return new StorageError(`Could not ${action} ${target}${code ? ` (${code})` : ""}`, {
    hint: (code && HINTS[code]?.(target)) ?? "Check the store directory exists, is writable and has free space.",
    details: cause instanceof Error ? cause.message : String(cause),
    cause,
  });
}

/** A BlobStore of files under one directory (created if missing). See the module comment for the layout. */
export class FsBlobStore implements StreamingBlobStore {
  readonly directory: string;
  private readonly tempFileMaxAgeMs: number;
  private ready?: Promise<void>;

  constructor(directory: string, options: FsBlobStoreOptions = {}) {
    if (typeof directory !== "string" || directory.length === 0)
      throw new InvalidArgumentError("directory", "expected a non-empty path", {
        hint: "Pass the directory the blobs live in.",
      });
    const maxAge = options.tempFileMaxAgeMs ?? DEFAULT_TEMP_FILE_MAX_AGE_MS;
    if (!(maxAge >= 0))
      throw new InvalidArgumentError("tempFileMaxAgeMs", `expected a non-negative number, got ${maxAge}`);
    this.directory = path.resolve(directory);
    this.tempFileMaxAgeMs = maxAge;
  }

  /** A store on `directory`, created if missing, with stale temp files cleaned up. */
  static async open(directory: string, options: FsBlobStoreOptions = {}): Promise<FsBlobStore> {
    const store = new FsBlobStore(directory, options);
    await store.init();
    return store;
  }

  /** Creates the directory and removes stale temp files; runs once (every operation awaits it). */
  init(): Promise<void> {
    this.ready ??= this.initialize().catch((error: unknown) => {
      this.ready = undefined; // let a later call retry, e.g. once permissions are fixed
      throw error;
    });
    return this.ready;
  }

  /** The path a blob with this CID lives at (FormatError for an invalid CID). */
  pathOf(cid: string): string {
    digestOfCid(cid);
    return path.join(this.directory, shardOf(cid), cid);
  }

  async put(bytes: Uint8Array): Promise<string> {
    if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError("bytes", "expected a Uint8Array");
    await this.init();
    const cid = await cidOf(bytes);
    const target = this.pathOf(cid);
    if (await this.holdsIntact(cid, target)) return cid;

    const shard = path.dirname(target);
    try {
      await mkdir(shard, { recursive: true });
    } catch (cause) {
      throw storageError("create the shard directory", shard, cause);
    }
    const temp = path.join(shard, `.${cid}.${bytesToHex(randomBytes(8)).slice(2)}.tmp`);
    try {
      const handle = await open(temp, "wx");
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, target);
    } catch (cause) {
      await unlink(temp).catch(() => undefined);
      // A rename onto an existing file fails on some platforms (Windows): a concurrent put won the race.
      if (await this.holdsIntact(cid, target).catch(() => false)) return cid;
      throw storageError(`write blob ${cid} to`, target, cause);
    }
    await syncDirectory(shard);
    return cid;
  }

  async get(cid: string): Promise<Uint8Array> {
    const target = this.pathOf(cid);
    await this.init();
    let buffer: Uint8Array;
    try {
      buffer = await readFile(target);
    } catch (cause) {
      if (errnoOf(cause) === "ENOENT") throw new BlobNotFoundError(cid);
      throw storageError(`read blob ${cid} from`, target, cause);
    }
    const bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength); // a plain Uint8Array, not a Buffer
    const check = await verifyBlob(cid, bytes);
    if (!check.ok) throw new CorruptBlobError(cid, check.actualCid, target);
    return bytes;
  }

  async has(cid: string): Promise<boolean> {
    const target = this.pathOf(cid);
    await this.init();
    try {
      return (await stat(target)).isFile();
    } catch (cause) {
      const code = errnoOf(cause);
      if (code === "ENOENT" || code === "ENOTDIR") return false;
      throw storageError(`look up blob ${cid} at`, target, cause);
    }
  }

  /**
   * Stores the bytes read from `source` (a Node stream, a web ReadableStream, any async iterable),
   * hashing them as they are written to a temp file: memory stays at one segment whatever the size.
   */
  async putStream(source: ByteSource): Promise<string> {
    await this.init();
    const temp = path.join(this.directory, `.stream.${bytesToHex(randomBytes(8)).slice(2)}.tmp`);
    const digester = new BlobDigester(nodeSegmentCrypto);
    try {
      const handle = await open(temp, "wx");
      try {
        const reader = new ByteReader(source);
        for (;;) {
          const chunk = await reader.read(STREAM_CHUNK);
          if (chunk.length === 0) break;
          await digester.update(chunk);
          await handle.write(chunk);
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (cause) {
      await unlink(temp).catch(() => undefined);
      if (cause instanceof StorageError || !errnoOf(cause)) throw cause;
      throw storageError("write a streamed blob to", temp, cause);
    }
    let cid: string;
    try {
      cid = cidOfDigest(await digester.digest());
    } catch (cause) {
      await unlink(temp).catch(() => undefined);
      throw cause;
    }
    const target = this.pathOf(cid);
    try {
      if (await this.holdsIntact(cid, target)) {
        await unlink(temp);
        return cid;
      }
      await mkdir(path.dirname(target), { recursive: true });
      await rename(temp, target);
    } catch (cause) {
      await unlink(temp).catch(() => undefined);
      if (await this.holdsIntact(cid, target).catch(() => false)) return cid;
      throw storageError(`write blob ${cid} to`, target, cause);
    }
    await syncDirectory(path.dirname(target));
    return cid;
  }

  /** See StreamingBlobStore.getStream: a whole blob is re-hashed as it is read; a range is not. */
  async *getStream(cid: string, range: ByteRange = { start: 0 }): AsyncGenerator<Uint8Array> {
    const target = this.pathOf(cid);
    const size = await this.sizeOf(cid);
    const { start, end } = checkRange(range, size);
    if (start === end) return;
    const whole = start === 0 && end === size;
    const digester = new BlobDigester(nodeSegmentCrypto);
    const stream = createReadStream(target, { start, end: end - 1, highWaterMark: STREAM_CHUNK });
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        if (whole) await digester.update(bytes);
        yield bytes;
      }
    } catch (cause) {
      throw storageError(`read blob ${cid} from`, target, cause);
    } finally {
      stream.destroy();
    }
    if (whole) {
      const actual = await digester.digest().catch(() => undefined);
      if (actual === undefined || !bytesEqual(actual, digestOfCid(cid)))
        throw new CorruptBlobError(
          cid,
          actual ? cidOfDigest(actual) : "(not a well-formed v2 envelope any more)",
          target,
        );
    }
  }

  async sizeOf(cid: string): Promise<number> {
    const target = this.pathOf(cid);
    await this.init();
    try {
      return (await stat(target)).size;
    } catch (cause) {
      if (errnoOf(cause) === "ENOENT") throw new BlobNotFoundError(cid);
      throw storageError(`look up blob ${cid} at`, target, cause);
    }
  }

  /** The segment index of a stored v2 envelope (one pass over the file). */
  async segmentIndex(cid: string): Promise<Uint8Array> {
    const target = this.pathOf(cid);
    await this.sizeOf(cid);
    return (await segmentIndexOf(createReadStream(target, { highWaterMark: STREAM_CHUNK }), nodeSegmentCrypto)).index;
  }

  /** Whether `target` exists and hashes to `cid` (false when missing or damaged), read as a stream. */
  private async holdsIntact(cid: string, target: string): Promise<boolean> {
    const digester = new BlobDigester(nodeSegmentCrypto);
    try {
      for await (const chunk of createReadStream(target, { highWaterMark: STREAM_CHUNK }) as AsyncIterable<Buffer>)
        await digester.update(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    } catch (cause) {
      if (errnoOf(cause) === "ENOENT") return false;
      throw storageError(`read blob ${cid} from`, target, cause);
    }
    const actual = await digester.digest().catch(() => undefined);
    return actual !== undefined && bytesEqual(actual, digestOfCid(cid));
  }

  private async initialize(): Promise<void> {
    try {
      await mkdir(this.directory, { recursive: true });
    } catch (cause) {
      throw storageError("create the blob store directory", this.directory, cause);
    }
    let info;
    try {
      info = await stat(this.directory);
    } catch (cause) {
      throw storageError("open the blob store directory", this.directory, cause);
    }
    if (!info.isDirectory())
      throw new StorageError(`The blob store path ${this.directory} is not a directory`, {
        hint: "Point the store at a directory (it is created when missing), not at a file.",
      });
    await this.removeStaleTempFiles();
  }

  private async removeStaleTempFiles(): Promise<void> {
    const cutoff = Date.now() - this.tempFileMaxAgeMs;
    let shards;
    try {
      shards = await readdir(this.directory, { withFileTypes: true });
    } catch (cause) {
      throw storageError("list the blob store directory", this.directory, cause);
    }
    // Streamed puts write at the top level (their CID is known only at the end), the others in a shard.
    const folders = [
      this.directory,
      ...shards
        .filter((shard) => shard.isDirectory() && SHARD_DIR.test(shard.name))
        .map((shard) => path.join(this.directory, shard.name)),
    ];
    for (const shardPath of folders) {
      let entries: string[];
      try {
        entries = await readdir(shardPath);
      } catch (cause) {
        throw storageError("list the shard directory", shardPath, cause);
      }
      for (const name of entries) {
        if (!TEMP_FILE.test(name)) continue;
        const file = path.join(shardPath, name);
        try {
          if ((await stat(file)).mtimeMs <= cutoff) await unlink(file);
        } catch (cause) {
          // Gone already (another process cleaned it), or a read-only store: neither stops reads.
          const code = errnoOf(cause);
          if (code !== "ENOENT" && code !== "EACCES" && code !== "EPERM" && code !== "EROFS")
            throw storageError("remove the leftover temp file", file, cause);
        }
      }
    }
  }
}

/** fsync a directory so a rename in it survives a crash; a no-op where directories cannot be opened. */
async function syncDirectory(directory: string): Promise<void> {
  let handle;
  try {
    handle = await open(directory, "r");
    await handle.sync();
  } catch {
    // Windows cannot open directories, and some file systems refuse fsync on them: nothing more to do.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
