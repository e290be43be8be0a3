/**
 * Record envelope format v2: a header and fixed-size segments, each its own AES-256-GCM message, so a
 * record of any size is sealed, stored, hashed and opened as a stream, with memory bounded by a few
 * segments, and a byte range is verified and decrypted without the rest. It commits to its data key.
 * The format, its reasons and test vectors are in docs/envelope.md ("Format v2"); in short:
 *
 *   header (162 bytes) = "CLR" 0x02 || bytes 4..109 as in v1 (chainId .. contentType)
 *                        || segmentSize (uint32, plaintext bytes per segment) || salt (16 random bytes)
 *                        || commitment (32 bytes)
 *   encKey     = HKDF-SHA256(ikm = dataKey, salt, info = "consent-ledger/envelope/v2/encryption-key", 32)
 *   commitment = HKDF-SHA256(ikm = dataKey, salt, info = "consent-ledger/envelope/v2/key-commitment", 32)
 *   segment i  = AES-256-GCM(encKey, nonce_i, plaintext_i, aad = header), tag appended
 *   nonce_i    = uint88 big-endian i || 0x01 for the last segment, 0x00 otherwise   (STREAM, as age)
 *   envelope   = header || segment 0 || ... || segment n-1
 *   recordId   = SHA-256(header || SHA-256(segment 0) || ... || SHA-256(segment n-1))
 *
 * Every segment but the last carries exactly segmentSize plaintext bytes; the last carries 1..segmentSize,
 * or 0 when it is the only one (an empty record). A reader checks the commitment before decrypting
 * anything, so one record id fixes one plaintext for every holder of any key.
 */
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";

import { DecryptionError, FormatError, IntegrityError, InvalidArgumentError } from "../errors";
import { AES_KEY_BYTES, GCM_TAG_BYTES } from "./aes-gcm";
import { bytesEqual, bytesToHex, hexToBytes, randomBytes, utf8Encode } from "./bytes";
import {
  checkDataKey,
  checkEnvelopeBytes,
  checkExpectedContext,
  checkMagic,
  checkMax,
  normalizeContext,
  parseContextFields,
  writeContextFields,
  type EnvelopeOptions,
  type ExpectedRecord,
  type OpenedRecord,
  type ParsedRecordContext,
  type RecordContext,
  type SealedRecord,
} from "./envelope";
import { openAndHash, sealAndHash, webSegmentCrypto, type SegmentCrypto } from "./segment-crypto";
import { workerSegmentCrypto } from "./segment-workers";

export const ENVELOPE_V2_FORMAT_VERSION = 2;
/** Where each v2-only field sits: [offset, length]; bytes 0..109 are laid out as in v1. */
export const ENVELOPE_V2_LAYOUT = {
  magic: [0, 4],
  segmentSize: [110, 4],
  salt: [114, 16],
  commitment: [130, 32],
} as const satisfies Record<string, readonly [number, number]>;
export const ENVELOPE_V2_HEADER_BYTES = 162;
/** 1 MiB of plaintext per segment unless the writer chooses otherwise. */
export const DEFAULT_SEGMENT_BYTES = 1 << 20;
/** Segment sizes a reader accepts: 16 bytes (test vectors) to 16 MiB. */
export const MIN_SEGMENT_BYTES = 16;
export const MAX_SEGMENT_BYTES = 1 << 24;
/** Segment counters stay below 2^48, far inside the 88-bit nonce counter and a JS safe integer. */
export const MAX_SEGMENTS = 2 ** 48;
export const ENCRYPTION_KEY_INFO = "consent-ledger/envelope/v2/encryption-key";
export const KEY_COMMITMENT_INFO = "consent-ledger/envelope/v2/key-commitment";

const SALT_BYTES = 16;
const NONCE_BYTES = 12;
const ENC_INFO = utf8Encode(ENCRYPTION_KEY_INFO);
const COMMIT_INFO = utf8Encode(KEY_COMMITMENT_INFO);
const WHAT = "record envelope (v2)";

/** The ways a segment can fail. */
export type SegmentProblem =
  /** Its tag does not verify at its position: flipped bits, reordered, dropped, duplicated or spliced in. */
  | "authentication"
  /** It is a valid non-final segment, but the record ends after it: segments were cut off. */
  | "truncated"
  /** It is the record's final segment, but bytes follow it. */
  | "trailing"
  /** Its length is impossible (shorter than a tag, or a non-final segment of the wrong size). */
  | "length"
  /** Its SHA-256 is not the one the record id commits to (ranged reads). */
  | "hash";

/** A segment of a v2 envelope failed: `segment` is its index (0-based), `problem` what failed. */
export class SegmentError extends DecryptionError {
  override name = "SegmentError";
  constructor(
    readonly segment: number,
    readonly problem: SegmentProblem,
    message: string,
    readonly recordId?: string,
  ) {
    super(`Segment ${segment}${recordId ? ` of record ${recordId}` : ""} ${message}`, {
      hint:
        problem === "truncated"
          ? "The download was cut short: fetch the record again (or resume from this segment)."
          : "The stored ciphertext was altered, reordered or mixed with another record's: fetch it again from a trusted copy.",
      details: `segment ${segment}: ${problem}`,
    });
  }
}

/** The data key is not the one this envelope commits to: refused before any decryption. */
export class KeyCommitmentError extends DecryptionError {
  override name = "KeyCommitmentError";
  constructor(
    readonly expectedCommitment: string,
    readonly actualCommitment: string,
  ) {
    super("This data key is not the key the record was sealed with (its key commitment differs)", {
      hint: "Unwrap the data key wrapped for this very record id. A record opens under exactly one key; nothing was decrypted.",
      details: `header commitment ${expectedCommitment}, the key's ${actualCommitment}`,
    });
  }
}

export interface EnvelopeV2Options extends EnvelopeOptions {
  /** Plaintext bytes per segment (DEFAULT_SEGMENT_BYTES when omitted). */
  segmentSize?: number;
  /**
   * AES-GCM and SHA-256 implementation. When omitted: WebCrypto, with large segments on Web Workers where
   * the platform has them (workerSegmentCrypto; "consent-ledger/node" passes node:crypto).
   */
  crypto?: SegmentCrypto;
}

export interface ParsedHeaderV2 {
  format: 2;
  context: ParsedRecordContext;
  segmentSize: number;
  salt: Uint8Array;
  commitment: Uint8Array;
  /** The 162 header bytes: every segment's additional data. */
  header: Uint8Array;
}

export interface ParsedEnvelopeV2 extends ParsedHeaderV2 {
  /** Each segment's bytes (ciphertext and tag), views into the envelope. */
  segments: Uint8Array[];
}

// ---------------------------------------------------------------------------------------------------
// Keys, nonces and the header.

interface RecordKeys {
  encryptionKey: Uint8Array;
  commitment: Uint8Array;
}

/** The segment key and the key commitment of `dataKey` under `salt` (HKDF-SHA256, two infos). */
export function deriveRecordKeys(dataKey: Uint8Array, salt: Uint8Array): RecordKeys {
  return {
    encryptionKey: hkdf(nobleSha256, dataKey, salt, ENC_INFO, AES_KEY_BYTES),
    commitment: hkdf(nobleSha256, dataKey, salt, COMMIT_INFO, 32),
  };
}

/** nonce_i: the segment counter as an 88-bit big-endian integer, then 1 for the last segment, else 0. */
export function segmentNonce(index: number, final: boolean): Uint8Array {
  const nonce = new Uint8Array(NONCE_BYTES);
  const view = new DataView(nonce.buffer);
  view.setUint32(3, Math.floor(index / 2 ** 32));
  view.setUint32(7, index >>> 0);
  nonce[11] = final ? 1 : 0;
  return nonce;
}

function checkSegmentSize(size: unknown, where: "argument" | "header"): number {
  if (typeof size !== "number" || !Number.isInteger(size) || size < MIN_SEGMENT_BYTES || size > MAX_SEGMENT_BYTES) {
    const problem = `${String(size)} is outside ${MIN_SEGMENT_BYTES}..${MAX_SEGMENT_BYTES}`;
    if (where === "argument") throw new InvalidArgumentError("segmentSize", problem);
    throw new FormatError(WHAT, `header field segmentSize ${problem}`, {
      hint: "No SDK writes such a header: the envelope was altered or is not a record.",
    });
  }
  return size;
}

function buildHeader(
  context: RecordContext,
  segmentSize: number,
  salt: Uint8Array,
  commitment: Uint8Array,
): Uint8Array {
  const header = new Uint8Array(ENVELOPE_V2_HEADER_BYTES);
  header.set([0x43, 0x4c, 0x52, ENVELOPE_V2_FORMAT_VERSION], 0);
  writeContextFields(normalizeContext(context), header);
  new DataView(header.buffer).setUint32(ENVELOPE_V2_LAYOUT.segmentSize[0], segmentSize);
  header.set(salt, ENVELOPE_V2_LAYOUT.salt[0]);
  header.set(commitment, ENVELOPE_V2_LAYOUT.commitment[0]);
  return header;
}

/** Whether `bytes` start with the v2 magic "CLR" 0x02 (and so are addressed by their v2 record id). */
export function isEnvelopeV2(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 4 &&
    bytes[0] === 0x43 &&
    bytes[1] === 0x4c &&
    bytes[2] === 0x52 &&
    bytes[3] === ENVELOPE_V2_FORMAT_VERSION
  );
}

/** Reads a v2 header (the first 162 bytes of `bytes`): FormatError naming the field that is wrong. */
export function parseHeaderV2(bytes: Uint8Array): ParsedHeaderV2 {
  checkMagic(bytes, WHAT);
  if (bytes[3] !== ENVELOPE_V2_FORMAT_VERSION)
    throw new FormatError(WHAT, `format version ${bytes[3]}, expected ${ENVELOPE_V2_FORMAT_VERSION}`);
  if (bytes.length < ENVELOPE_V2_HEADER_BYTES)
    throw new FormatError(WHAT, `truncated: ${bytes.length} bytes, a header alone is ${ENVELOPE_V2_HEADER_BYTES}`, {
      hint: "The download was cut short or the blob was damaged: fetch it again.",
    });
  const header = bytes.subarray(0, ENVELOPE_V2_HEADER_BYTES);
  const segmentSize = checkSegmentSize(
    new DataView(header.buffer, header.byteOffset).getUint32(ENVELOPE_V2_LAYOUT.segmentSize[0]),
    "header",
  );
  return {
    format: 2,
    context: parseContextFields(header, WHAT),
    segmentSize,
    salt: header.subarray(ENVELOPE_V2_LAYOUT.salt[0], ENVELOPE_V2_LAYOUT.salt[0] + SALT_BYTES),
    commitment: header.subarray(ENVELOPE_V2_LAYOUT.commitment[0], ENVELOPE_V2_LAYOUT.commitment[0] + 32),
    header,
  };
}

/**
 * The segment lengths of a v2 body of `bodyBytes` bytes: n-1 full segments (segmentSize + 16) and a last
 * one of 16..segmentSize+16 bytes (16 only when it is the only one). SegmentError otherwise.
 */
function splitBody(bodyBytes: number, segmentSize: number): { count: number; lastBytes: number } {
  const full = segmentSize + GCM_TAG_BYTES;
  if (bodyBytes === 0) throw new SegmentError(0, "truncated", "is missing: the record ends after its header");
  const count = Math.ceil(bodyBytes / full);
  const lastBytes = bodyBytes - (count - 1) * full;
  if (lastBytes < GCM_TAG_BYTES || (lastBytes === GCM_TAG_BYTES && count > 1))
    throw new SegmentError(
      count - 1,
      "length",
      `is ${lastBytes} bytes: a last segment holds its tag and, after other segments, at least one byte`,
    );
  return { count, lastBytes };
}

/**
 * Checks that a v2 body of `bodyBytes` bytes splits into segments of `segmentSize` plaintext bytes (the
 * rule readers apply): SegmentError naming the segment that cannot be, otherwise nothing.
 */
export function checkSegmentLayout(bodyBytes: number, segmentSize: number): void {
  splitBody(bodyBytes, segmentSize);
}

/** Reads a whole v2 envelope held in memory: its header and its segments (views). */
export function parseEnvelopeV2(bytes: Uint8Array, options: EnvelopeOptions = {}): ParsedEnvelopeV2 {
  checkEnvelopeBytes(bytes, checkMax(options));
  const parsed = parseHeaderV2(bytes);
  const full = parsed.segmentSize + GCM_TAG_BYTES;
  const { count } = splitBody(bytes.length - ENVELOPE_V2_HEADER_BYTES, parsed.segmentSize);
  const segments: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const start = ENVELOPE_V2_HEADER_BYTES + i * full;
    segments.push(bytes.subarray(start, Math.min(start + full, bytes.length)));
  }
  return { ...parsed, segments };
}

/** The v2 record id of a whole envelope in memory: SHA-256(header || SHA-256 of each segment). */
export async function recordIdOfV2(envelope: Uint8Array, crypto: SegmentCrypto = webSegmentCrypto): Promise<string> {
  const parsed = parseEnvelopeV2(envelope, { maxEnvelopeBytes: Number.MAX_SAFE_INTEGER });
  const outer = nobleSha256.create().update(parsed.header);
  for (const segment of parsed.segments) outer.update(await crypto.sha256(segment));
  return bytesToHex(outer.digest());
}

// ---------------------------------------------------------------------------------------------------
// Byte streams: whatever the caller has (Node streams, web ReadableStreams, any async iterable, bytes).

/**
 * Bytes to read: a Node Readable, a web ReadableStream, or any (async) iterable of Uint8Array chunks. A
 * chunk is read in place (no copy where a segment fits in it), so a source must not change a chunk
 * once it has handed it out, as Node and web streams never do.
 */
export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array> | ReadableStream<Uint8Array>;

async function* chunksOf(source: ByteSource): AsyncGenerator<Uint8Array> {
  if (typeof (source as ReadableStream<Uint8Array>).getReader === "function") {
    const reader = (source as ReadableStream<Uint8Array>).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield value;
      }
    } finally {
      reader.releaseLock();
    }
  }
  for await (const chunk of source as AsyncIterable<Uint8Array>) {
    if (!(chunk instanceof Uint8Array))
      throw new InvalidArgumentError("stream chunk", "expected a Uint8Array (or Buffer)");
    yield chunk;
  }
}

/** Reads exactly `n` bytes at a time from a stream of arbitrary chunks (fewer only at its end). */
export class ByteReader {
  private readonly chunks: AsyncIterator<Uint8Array>;
  private current: Uint8Array = new Uint8Array(0);
  private offset = 0;
  private ended = false;
  /** Bytes handed out so far. */
  position = 0;

  constructor(source: ByteSource) {
    this.chunks = chunksOf(source)[Symbol.asyncIterator]();
  }

  /** The next `n` bytes, fewer at the end of the stream (an empty array once it is over). */
  async read(n: number): Promise<Uint8Array> {
    // Move to the next chunk first when this one is used up, so a read that starts a chunk (a source
    // whose chunks are whole segments, an envelope yielded segment by segment) is a view, not a copy.
    while (this.offset === this.current.length && !this.ended && n > 0) {
      const next = await this.chunks.next();
      if (next.done) this.ended = true;
      else {
        this.current = next.value;
        this.offset = 0;
      }
    }
    if (this.offset + n <= this.current.length) {
      // Inside the current chunk: a view, no copy.
      const view = this.current.subarray(this.offset, this.offset + n);
      this.offset += n;
      this.position += n;
      return view;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (this.offset === this.current.length) {
        if (this.ended) break;
        const next = await this.chunks.next();
        if (next.done) {
          this.ended = true;
          break;
        }
        this.current = next.value;
        this.offset = 0;
        continue;
      }
      const take = Math.min(n - filled, this.current.length - this.offset);
      out.set(this.current.subarray(this.offset, this.offset + take), filled);
      this.offset += take;
      filled += take;
    }
    this.position += filled;
    return filled === n ? out : out.subarray(0, filled);
  }

  /** Stops the underlying stream (a reader that gives up early). */
  async cancel(): Promise<void> {
    await this.chunks.return?.(undefined);
  }
}

/** A web ReadableStream of an async iterable's chunks, pulled on demand (backpressure kept). */
export function toReadableStream(iterable: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const iterator = iterable[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await iterator.next();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      } catch (error) {
        controller.error(error);
      }
    },
    async cancel(reason) {
      await iterator.return?.(reason);
    },
  });
}

/** Runs async jobs with up to `depth` in flight, yielding their results in order. */
async function* inOrder<T>(jobs: AsyncIterable<() => Promise<T> | T>, depth: number): AsyncGenerator<T> {
  const queue: Promise<T>[] = [];
  for await (const job of jobs) {
    const running = Promise.resolve().then(job);
    running.catch(() => undefined); // handled when its turn comes; never an unhandled rejection meanwhile
    queue.push(running);
    if (queue.length >= depth) yield await (queue.shift() as Promise<T>);
  }
  while (queue.length > 0) yield await (queue.shift() as Promise<T>);
}

// ---------------------------------------------------------------------------------------------------
// Sealing.

export interface SealingRecord {
  /** The 32-byte data key: wrap it to each reader, never store it in the clear. */
  dataKey: Uint8Array;
  /** The header and then each sealed segment, in order: the envelope, as it is produced. */
  envelope: AsyncIterable<Uint8Array>;
  /** The record id, once `envelope` has been read to its end (rejects if sealing failed). */
  recordId: Promise<string>;
}

function sealOptions(options: EnvelopeV2Options): { segmentSize: number; crypto: SegmentCrypto } {
  return {
    segmentSize: checkSegmentSize(options.segmentSize ?? DEFAULT_SEGMENT_BYTES, "argument"),
    crypto: options.crypto ?? workerSegmentCrypto,
  };
}

/**
 * Seals the plaintext read from `source` (a Node stream, a web ReadableStream, any async iterable of
 * bytes) into a v2 envelope, as a stream: memory stays within a few segments whatever the size. The
 * record id is known once the envelope has been read to its end. Uses `dataKey` or a fresh random one.
 */
export function sealRecordStream(
  source: ByteSource,
  context: RecordContext,
  dataKey?: Uint8Array,
  options: EnvelopeV2Options = {},
): SealingRecord {
  const { segmentSize, crypto } = sealOptions(options);
  const key = dataKey ?? randomBytes(AES_KEY_BYTES);
  checkDataKey(key);
  const salt = randomBytes(SALT_BYTES);
  const { encryptionKey, commitment } = deriveRecordKeys(key, salt);
  const header = buildHeader(context, segmentSize, salt, commitment);

  let settle!: { resolve: (id: string) => void; reject: (error: unknown) => void };
  const recordId = new Promise<string>((resolve, reject) => (settle = { resolve, reject }));
  recordId.catch(() => undefined); // the envelope's reader sees the same error

  async function* segments(reader: ByteReader): AsyncGenerator<Uint8Array> {
    const cryptoKey = await crypto.importKey(encryptionKey);
    encryptionKey.fill(0);
    async function* jobs(): AsyncGenerator<() => Promise<[Uint8Array, Uint8Array]>> {
      let index = 0;
      let pending = await reader.read(segmentSize);
      for (;;) {
        const next = pending.length === segmentSize ? await reader.read(segmentSize) : new Uint8Array(0);
        const final = next.length === 0;
        if (index >= MAX_SEGMENTS) throw new InvalidArgumentError("plaintext", `more than ${MAX_SEGMENTS} segments`);
        const plaintext = pending;
        const nonce = segmentNonce(index, final);
        yield () => sealAndHash(crypto, cryptoKey, nonce, plaintext, header);
        if (final) return;
        pending = next;
        index += 1;
      }
    }
    const outer = nobleSha256.create().update(header);
    yield header;
    for await (const [sealed, hash] of inOrder(jobs(), crypto.parallelism)) {
      outer.update(hash);
      yield sealed;
    }
    settle.resolve(bytesToHex(outer.digest()));
  }

  async function* envelope(): AsyncGenerator<Uint8Array> {
    const reader = new ByteReader(source);
    try {
      yield* segments(reader);
    } catch (error) {
      settle.reject(error);
      throw error;
    } finally {
      await reader.cancel(); // a consumer that stops early stops the source too
    }
  }
  return { dataKey: key, envelope: envelope(), recordId };
}

/** Collects a stream into one array (for records known to be small). */
export async function collectBytes(source: ByteSource): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of chunksOf(source)) {
    parts.push(chunk);
    total += chunk.length;
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Encrypts `plaintext` into a v2 envelope in memory (at most `maxEnvelopeBytes`, 64 MiB by default). */
export async function sealRecordV2(
  plaintext: Uint8Array,
  context: RecordContext,
  dataKey?: Uint8Array,
  options: EnvelopeV2Options = {},
): Promise<SealedRecord> {
  if (!(plaintext instanceof Uint8Array)) throw new InvalidArgumentError("plaintext", "expected a Uint8Array");
  const max = checkMax(options);
  const { segmentSize } = sealOptions(options);
  const segments = Math.max(1, Math.ceil(plaintext.length / segmentSize));
  const size = ENVELOPE_V2_HEADER_BYTES + plaintext.length + segments * GCM_TAG_BYTES;
  if (size > max)
    throw new InvalidArgumentError("plaintext", `its envelope would be ${size} bytes, over the limit of ${max} bytes`, {
      hint: "Seal it as a stream (sealRecordStream), or raise maxEnvelopeBytes for writers and readers alike.",
    });
  const sealing = sealRecordStream([plaintext], context, dataKey, options);
  const envelope = new Uint8Array(size);
  let at = 0;
  for await (const part of sealing.envelope) {
    envelope.set(part, at);
    at += part.length;
  }
  return { envelope, dataKey: sealing.dataKey, recordId: await sealing.recordId };
}

// ---------------------------------------------------------------------------------------------------
// Opening.

function checkCommitment(parsed: ParsedHeaderV2, dataKey: Uint8Array): Uint8Array {
  const { encryptionKey, commitment } = deriveRecordKeys(dataKey, parsed.salt);
  if (!bytesEqual(commitment, parsed.commitment)) {
    encryptionKey.fill(0);
    throw new KeyCommitmentError(bytesToHex(parsed.commitment), bytesToHex(commitment));
  }
  return encryptionKey;
}

/**
 * Decrypts segment `index` (`final`: the record's last), with the SHA-256 of `sealed` when `hash` is true
 * (else an empty array). On failure it tells why: a tag that verifies under the other final flag means the
 * record was cut (or extended).
 */
async function openSegment(
  crypto: SegmentCrypto,
  key: unknown,
  header: Uint8Array,
  sealed: Uint8Array,
  index: number,
  final: boolean,
  segmentSize: number,
  recordId?: string,
  hash = false,
): Promise<[Uint8Array, Uint8Array]> {
  if (
    sealed.length < GCM_TAG_BYTES ||
    sealed.length > segmentSize + GCM_TAG_BYTES ||
    (!final && sealed.length !== segmentSize + GCM_TAG_BYTES)
  )
    throw new SegmentError(
      index,
      "length",
      `is ${sealed.length} bytes, ${final ? `at most ${segmentSize + GCM_TAG_BYTES}` : `expected ${segmentSize + GCM_TAG_BYTES}`}`,
      recordId,
    );
  const [plaintext, digest] = await openAndHash(crypto, key, segmentNonce(index, final), sealed, header, hash);
  if (plaintext !== null) {
    if (final && index > 0 && plaintext.length === 0)
      throw new SegmentError(
        index,
        "length",
        "is an empty last segment after others: no writer produces one",
        recordId,
      );
    return [plaintext, digest];
  }
  const other = await crypto.open(key, segmentNonce(index, !final), sealed, header);
  if (other !== null) {
    other.fill(0);
    if (final)
      throw new SegmentError(
        index,
        "truncated",
        "is not the last segment, yet the record ends after it: segments were cut off",
        recordId,
      );
    throw new SegmentError(index, "trailing", "is the record's last segment, yet more bytes follow it", recordId);
  }
  throw new SegmentError(
    index,
    "authentication",
    "does not authenticate at this position (altered, reordered, dropped, duplicated or from another record)",
    recordId,
  );
}

export interface OpenRecordStreamOptions extends EnvelopeV2Options {
  /** Called (and awaited) with the header once it has been read and checked, before any plaintext. */
  onHeader?: (header: ParsedHeaderV2) => Promise<void> | void;
}

/**
 * Verifies and decrypts a v2 envelope read from `source`, yielding the plaintext segment by segment with
 * memory bounded by a few segments. Before any plaintext: the header parses (FormatError), matches every
 * field of `expected` (IntegrityError) and commits to `dataKey` (KeyCommitmentError). Each segment is
 * released only once its tag verifies at its position (SegmentError naming it otherwise). At the end, if
 * `expected.recordId` is given, the record id computed over what was read must equal it (IntegrityError):
 * a consumer that must not act on plaintext of another record than the anchored one waits for the end.
 */
export async function* openRecordStream(
  source: ByteSource,
  dataKey: Uint8Array,
  expected: ExpectedRecord = {},
  options: OpenRecordStreamOptions = {},
): AsyncGenerator<Uint8Array> {
  checkDataKey(dataKey);
  const crypto = options.crypto ?? workerSegmentCrypto;
  const wanted =
    expected.recordId === undefined
      ? undefined
      : bytesToHex(hexToBytes(expected.recordId, { argument: "expected recordId", length: 32 }));
  const reader = new ByteReader(source);
  try {
    const headerBytes = await reader.read(ENVELOPE_V2_HEADER_BYTES);
    const parsed = parseHeaderV2(Uint8Array.from(headerBytes));
    await checkExpectedContext(parsed.context, expected, async () => wanted ?? "(not anchored)");
    const encryptionKey = checkCommitment(parsed, dataKey);
    const key = await crypto.importKey(encryptionKey);
    encryptionKey.fill(0);
    await options.onHeader?.(parsed);

    const full = parsed.segmentSize + GCM_TAG_BYTES;
    const outer = nobleSha256.create().update(parsed.header);
    async function* jobs(): AsyncGenerator<() => Promise<[Uint8Array, Uint8Array]>> {
      let index = 0;
      let pending = await reader.read(full);
      if (pending.length === 0)
        throw new SegmentError(0, "truncated", "is missing: the record ends after its header", wanted);
      for (;;) {
        const next = pending.length === full ? await reader.read(full) : new Uint8Array(0);
        const final = next.length === 0;
        const sealed = pending;
        const at = index;
        // The record id is computed only when there is one to compare with (openRecord checks it first).
        yield () =>
          openSegment(crypto, key, parsed.header, sealed, at, final, parsed.segmentSize, wanted, wanted !== undefined);
        if (final) return;
        if (at + 1 >= MAX_SEGMENTS)
          throw new SegmentError(at + 1, "length", `is beyond the limit of ${MAX_SEGMENTS} segments`);
        pending = next;
        index += 1;
      }
    }
    for await (const [plaintext, hash] of inOrder(jobs(), crypto.parallelism)) {
      if (wanted !== undefined) outer.update(hash);
      yield plaintext;
    }
    const actual = wanted === undefined ? undefined : bytesToHex(outer.digest());
    if (wanted !== undefined && actual !== wanted)
      throw new IntegrityError(wanted, `the envelope read has record id ${actual}`, {
        hint: "These bytes are not the anchored record (wrong blob, or altered): discard what was read and fetch it again.",
        details: `expected ${wanted}, got ${actual}`,
      });
  } finally {
    await reader.cancel();
  }
}

export interface VerifyRecordStreamOptions extends EnvelopeV2Options {
  /**
   * Awaited once the header has been read, matched against `expected` and the key commitment checked,
   * before any segment is read: a custodian asks the chain here, so a refused deposit costs one header.
   */
  onHeader?: (header: ParsedHeaderV2) => Promise<void> | void;
}

/**
 * Passes the bytes of a v2 envelope read from `source` through unchanged, each part only once it is
 * verified: the header (it parses, matches `expected`, commits to `dataKey`: FormatError, IntegrityError,
 * KeyCommitmentError), then each segment (it authenticates at its position under the data key:
 * SegmentError naming it), and after the last segment the record id over all it read must be
 * `expected.recordId` (IntegrityError, thrown before the iterator completes). For a custodian's ingest
 * (gateway/record-stream-routes.ts): a store that keeps a blob only once its source completes never
 * keeps bytes that fail. Plaintext is decrypted only to check each tag, and zeroed at once.
 */
export async function* verifyRecordStream(
  source: ByteSource,
  dataKey: Uint8Array,
  expected: ExpectedRecord & { recordId: string },
  options: VerifyRecordStreamOptions = {},
): AsyncGenerator<Uint8Array> {
  checkDataKey(dataKey);
  const crypto = options.crypto ?? workerSegmentCrypto;
  const wanted = bytesToHex(hexToBytes(expected.recordId, { argument: "expected recordId", length: 32 }));
  const reader = new ByteReader(source);
  try {
    const headerBytes = Uint8Array.from(await reader.read(ENVELOPE_V2_HEADER_BYTES));
    const parsed = parseHeaderV2(headerBytes);
    await checkExpectedContext(parsed.context, expected, async () => wanted);
    const encryptionKey = checkCommitment(parsed, dataKey);
    const key = await crypto.importKey(encryptionKey);
    encryptionKey.fill(0);
    await options.onHeader?.(parsed);

    const full = parsed.segmentSize + GCM_TAG_BYTES;
    const outer = nobleSha256.create().update(parsed.header);
    yield headerBytes;
    async function* jobs(): AsyncGenerator<() => Promise<[Uint8Array, Uint8Array]>> {
      let index = 0;
      let pending = await reader.read(full);
      if (pending.length === 0)
        throw new SegmentError(0, "truncated", "is missing: the record ends after its header", wanted);
      for (;;) {
        const next = pending.length === full ? await reader.read(full) : new Uint8Array(0);
        const final = next.length === 0;
        const sealed = pending;
        const at = index;
        yield async () => {
          const [plaintext, hash] = await openSegment(
            crypto,
            key,
            parsed.header,
            sealed,
            at,
            final,
            parsed.segmentSize,
            wanted,
            true,
          );
          plaintext.fill(0);
          return [sealed, hash];
        };
        if (final) return;
        if (at + 1 >= MAX_SEGMENTS)
          throw new SegmentError(at + 1, "length", `is beyond the limit of ${MAX_SEGMENTS} segments`, wanted);
        pending = next;
        index += 1;
      }
    }
    for await (const [sealed, hash] of inOrder(jobs(), crypto.parallelism)) {
      outer.update(hash);
      yield sealed;
    }
    const actual = bytesToHex(outer.digest());
    if (actual !== wanted)
      throw new IntegrityError(wanted, `the envelope read has record id ${actual}`, {
        hint: "These bytes are not the anchored record (another record's, or altered): nothing of them may be kept.",
        details: `expected ${wanted}, got ${actual}`,
      });
  } finally {
    await reader.cancel();
  }
}

/** openRecord for a v2 envelope held in memory: the same checks, the record id first when expected. */
export async function openRecordV2(
  envelope: Uint8Array,
  dataKey: Uint8Array,
  expected: ExpectedRecord = {},
  options: EnvelopeV2Options = {},
): Promise<OpenedRecord> {
  checkEnvelopeBytes(envelope, checkMax(options));
  const crypto = options.crypto ?? workerSegmentCrypto;
  if (expected.recordId !== undefined) {
    const wanted = bytesToHex(hexToBytes(expected.recordId, { argument: "expected recordId", length: 32 }));
    const actual = await recordIdOfV2(envelope, crypto);
    if (actual !== wanted)
      throw new IntegrityError(wanted, `the envelope's record id is ${actual}`, {
        hint: "These bytes are not the anchored record (wrong blob, or altered): fetch the record again from a trusted copy.",
        details: `expected ${wanted}, got ${actual}`,
      });
  }
  let context: ParsedRecordContext | undefined;
  const plaintext = await collectBytes(
    openRecordStream(
      [envelope],
      dataKey,
      { ...expected, recordId: undefined },
      { ...options, onHeader: (header) => void (context = header.context) },
    ),
  );
  return { plaintext, context: context as ParsedRecordContext };
}

// ---------------------------------------------------------------------------------------------------
// Ranged reads: the segment index, and a verified byte range.

/**
 * The segment index of a v2 envelope read from `source`: its header followed by each segment's SHA-256
 * (162 + 32 n bytes), from which the record id is SHA-256(index). A store or gateway serves it next to the
 * ciphertext so a reader can verify any range of segments against the anchored record id. Also returns
 * the envelope's total size in bytes.
 */
export async function segmentIndexOf(
  source: ByteSource,
  crypto: SegmentCrypto = webSegmentCrypto,
): Promise<{ index: Uint8Array; envelopeBytes: number }> {
  const reader = new ByteReader(source);
  const header = parseHeaderV2(Uint8Array.from(await reader.read(ENVELOPE_V2_HEADER_BYTES)));
  const full = header.segmentSize + GCM_TAG_BYTES;
  const hashes: Uint8Array[] = [];
  for (;;) {
    const segment = await reader.read(full);
    if (segment.length === 0) break;
    hashes.push(await crypto.sha256(segment));
    if (segment.length < full) break;
  }
  splitBody(reader.position - ENVELOPE_V2_HEADER_BYTES, header.segmentSize);
  const index = new Uint8Array(ENVELOPE_V2_HEADER_BYTES + 32 * hashes.length);
  index.set(header.header, 0);
  hashes.forEach((hash, i) => index.set(hash, ENVELOPE_V2_HEADER_BYTES + 32 * i));
  return { index, envelopeBytes: reader.position };
}

export interface RangeRequest {
  /** The segment index (segmentIndexOf), from any untrusted source: it is checked against `expected.recordId`. */
  index: Uint8Array;
  /** Fetches envelope bytes [start, end) (fewer at the envelope's end), e.g. with an HTTP Range request. */
  fetch: (start: number, end: number) => Promise<Uint8Array>;
  dataKey: Uint8Array;
  /** The anchored record id (required: a range is only as good as the id it is verified against) and any header fields. */
  expected: ExpectedRecord & { recordId: string };
  /** First plaintext byte wanted. */
  offset: number;
  /** Number of plaintext bytes wanted (fewer when the record ends first). */
  length: number;
  crypto?: SegmentCrypto;
}

/**
 * Verifies and decrypts plaintext bytes [offset, offset + length) of a v2 record, fetching only the
 * segments that hold them: the index must hash to the anchored record id (IntegrityError), the header must
 * match `expected` and commit to the data key (KeyCommitmentError), each fetched segment must hash to its
 * index entry (SegmentError "hash") and authenticate at its position (SegmentError).
 */
export async function openRecordRange(
  request: RangeRequest,
): Promise<{ plaintext: Uint8Array; context: ParsedRecordContext }> {
  const { index, dataKey, expected } = request;
  const crypto = request.crypto ?? workerSegmentCrypto;
  checkDataKey(dataKey);
  if (!(index instanceof Uint8Array)) throw new InvalidArgumentError("index", "expected a Uint8Array");
  if (!Number.isSafeInteger(request.offset) || request.offset < 0)
    throw new InvalidArgumentError("offset", `expected a non-negative integer, got ${request.offset}`);
  if (!Number.isSafeInteger(request.length) || request.length < 0)
    throw new InvalidArgumentError("length", `expected a non-negative integer, got ${request.length}`);
  const wanted = bytesToHex(hexToBytes(expected.recordId, { argument: "expected recordId", length: 32 }));
  const actual = bytesToHex(nobleSha256(index));
  if (actual !== wanted)
    throw new IntegrityError(wanted, `the segment index hashes to ${actual}`, {
      hint: "The index served is not the anchored record's: ask for it again from a trusted copy.",
    });
  const parsed = parseHeaderV2(index);
  if ((index.length - ENVELOPE_V2_HEADER_BYTES) % 32 !== 0 || index.length === ENVELOPE_V2_HEADER_BYTES)
    throw new FormatError("segment index", `${index.length} bytes is not a header followed by whole 32-byte hashes`);
  const count = (index.length - ENVELOPE_V2_HEADER_BYTES) / 32;
  await checkExpectedContext(parsed.context, expected, async () => wanted);
  const encryptionKey = checkCommitment(parsed, dataKey);
  const key = await crypto.importKey(encryptionKey);
  encryptionKey.fill(0);

  const size = parsed.segmentSize;
  const full = size + GCM_TAG_BYTES;
  const first = Math.min(Math.floor(request.offset / size), count - 1);
  const endByte = request.offset + request.length;
  const last = request.length === 0 ? first : Math.min(Math.floor((endByte - 1) / size), count - 1);
  const start = ENVELOPE_V2_HEADER_BYTES + first * full;
  const bytes = await request.fetch(start, ENVELOPE_V2_HEADER_BYTES + (last + 1) * full);
  const parts: Uint8Array[] = [];
  for (let i = first; i <= last; i++) {
    const sealed = bytes.subarray((i - first) * full, (i - first + 1) * full);
    const hash = await crypto.sha256(sealed);
    if (!bytesEqual(hash, index.subarray(ENVELOPE_V2_HEADER_BYTES + 32 * i, ENVELOPE_V2_HEADER_BYTES + 32 * (i + 1))))
      throw new SegmentError(
        i,
        "hash",
        `hashes to ${bytesToHex(hash)}, not to the value the record id commits to`,
        wanted,
      );
    parts.push((await openSegment(crypto, key, parsed.header, sealed, i, i === count - 1, size, wanted))[0]);
  }
  const plain = await collectBytes(parts);
  const from = request.offset - first * size;
  return {
    plaintext: plain.slice(Math.min(from, plain.length), Math.min(from + request.length, plain.length)),
    context: parsed.context,
  };
}
