/**
 * The record envelope: one self-describing, authenticated blob per record version. Its record id is
 * anchored in RecordRegistry and is the digest of its CIDv1 (raw, sha2-256) in the blob store. This file
 * writes format v1 and reads both; format v2 (segmented, streamed, key-committing, what providers
 * publish) is in ./envelope-v2.ts. v1 is not key-committing: one v1 envelope can be built to open under
 * two data keys to two plaintexts.
 *
 * Format v1 (record id = SHA-256 of the envelope) (all integers big-endian; offsets in bytes):
 *
 *   offset  size  field
 *        0     4  magic "CLR" (0x43 0x4c 0x52) followed by the format version 0x01
 *        4     8  chainId, uint64 (not 0)
 *       12    20  registry: the RecordRegistry contract address (not zero)
 *       32    20  patient address (not zero)
 *       52    20  provider address (not zero)
 *       72     1  dataClass, uint8: a DataClass code (sdk/codes.ts)
 *       73     4  version, uint32: 1 for an original, n + 1 for an amendment of version n
 *       77    32  previousRecordId: the record id this version amends; 32 zero bytes for version 1, and
 *                 never zero for version >= 2
 *      109     1  contentType, uint8: 1 = application/fhir+json, 2 = application/octet-stream
 *      110    12  iv: the AES-256-GCM nonce, random per envelope
 *      122   n+16 ciphertext: AES-256-GCM(dataKey, iv, plaintext, aad) with its 16-byte tag appended
 *
 *   aad = bytes 0..121 (magic through iv), so the whole header is authenticated: moving a ciphertext to
 *   another patient, provider, record chain, version, class, content type, registry or chain makes
 *   decryption fail. The smallest envelope (empty plaintext) is 138 bytes.
 *
 *   recordId = 0x || hex(SHA-256(envelope)).
 *
 * The data key is a fresh random 256-bit key per record unless the caller passes one; it is then
 * wrapped to each reader with sdk/crypto/key-wrap.ts. The format is documented in docs/envelope.md.
 */
import { getAddress } from "../core/hex";

import { DataClass } from "../codes";
import { DecryptionError, FormatError, IntegrityError, InvalidArgumentError, describeValue } from "../errors";

/** A header value in a message: strings (addresses, ids) as they are, anything else described safely. */
const shown = (value: unknown): string =>
  typeof value === "string" ? (value.length > 80 ? `${value.slice(0, 77)}...` : value) : describeValue(value);
import { aesGcmDecrypt, aesGcmEncrypt, AES_KEY_BYTES, GCM_IV_BYTES, GCM_TAG_BYTES } from "./aes-gcm";
import { bytesEqual, bytesToHex, hexToBytes, isAllZero, randomBytes } from "./bytes";
import {
  ENVELOPE_V2_FORMAT_VERSION,
  isEnvelopeV2,
  openRecordV2,
  parseEnvelopeV2,
  recordIdOfV2,
  type ParsedEnvelopeV2,
} from "./envelope-v2";
import { sha256Hex } from "./sha256";

/** "CLR" + format version 1. */
export const ENVELOPE_MAGIC: Uint8Array = Uint8Array.of(0x43, 0x4c, 0x52, 0x01);
export const ENVELOPE_FORMAT_VERSION = 1;

/** Where each field sits in a v1 envelope: [offset, length]. */
export const ENVELOPE_LAYOUT = {
  magic: [0, 4],
  chainId: [4, 8],
  registry: [12, 20],
  patient: [32, 20],
  provider: [52, 20],
  dataClass: [72, 1],
  version: [73, 4],
  previousRecordId: [77, 32],
  contentType: [109, 1],
  iv: [110, 12],
} as const satisfies Record<string, readonly [number, number]>;

/** Bytes before the ciphertext: the additional authenticated data. */
export const ENVELOPE_HEADER_BYTES = 122;
/** An envelope of an empty plaintext. */
export const MIN_ENVELOPE_BYTES = ENVELOPE_HEADER_BYTES + GCM_TAG_BYTES;
/** Envelopes larger than this are refused unless a caller raises the limit: 64 MiB. */
export const DEFAULT_MAX_ENVELOPE_BYTES = 64 * 1024 * 1024;

/** Content type codes of the envelope header. */
export const ContentType = { FHIR_JSON: 1, OCTET_STREAM: 2 } as const;
export type ContentTypeCode = (typeof ContentType)[keyof typeof ContentType];
/** The media type of each content type code. */
export const CONTENT_MEDIA_TYPES: Readonly<Record<ContentTypeCode, string>> = {
  1: "application/fhir+json",
  2: "application/octet-stream",
};

/** 32 zero bytes: the previousRecordId of a version 1 record. */
export const ZERO_RECORD_ID = `0x${"00".repeat(32)}`;

const UINT64_MAX = (1n << 64n) - 1n;
const UINT32_MAX = 0xffff_ffff;
const DATA_CLASS_CODES: ReadonlySet<number> = new Set(Object.values(DataClass));

/** What an envelope says about its record: everything its header binds to the ciphertext. */
export interface RecordContext {
  chainId: bigint;
  /** RecordRegistry address. */
  registry: string;
  patient: string;
  provider: string;
  /** A DataClass code (sdk/codes.ts). */
  dataClass: number;
  /** 1 for an original, n + 1 for an amendment of version n. */
  version: number;
  /** The record id amended; ZERO_RECORD_ID for version 1. */
  previousRecordId: string;
  /** A ContentType code; 1 (application/fhir+json) when omitted. */
  contentType?: number;
}

/** A header as read: addresses checksummed, previousRecordId lowercase hex, contentType present. */
export type ParsedRecordContext = Required<RecordContext>;

/** What the reader expects of an envelope: any header fields, and its record id (the on-chain anchor). */
export type ExpectedRecord = Partial<RecordContext> & { recordId?: string };

export interface EnvelopeOptions {
  /** Largest envelope accepted or produced, in bytes; DEFAULT_MAX_ENVELOPE_BYTES (64 MiB) when omitted. */
  maxEnvelopeBytes?: number;
}

export interface SealedRecord {
  envelope: Uint8Array;
  /** The 32-byte data key: wrap it to each reader, never store it in the clear. */
  dataKey: Uint8Array;
  /** 0x-prefixed SHA-256 of the envelope: the id to anchor on chain. */
  recordId: string;
}

export interface ParsedEnvelope {
  format: 1;
  context: ParsedRecordContext;
  /** Views into the envelope bytes (not copies). */
  iv: Uint8Array;
  ciphertext: Uint8Array;
  aad: Uint8Array;
}

export interface OpenedRecord {
  plaintext: Uint8Array;
  context: ParsedRecordContext;
}

/** A record context validated and in header form (addresses as 20 bytes). */
export interface NormalizedContext {
  chainId: bigint;
  registry: Uint8Array;
  patient: Uint8Array;
  provider: Uint8Array;
  dataClass: number;
  version: number;
  previousRecordId: Uint8Array;
  contentType: number;
}

// ---------------------------------------------------------------------------------------------------
// Field validation, shared by sealing (InvalidArgumentError) and by comparing expectations.

function argument(field: string): string {
  return `record context ${field}`;
}

function normalizeChainId(value: unknown): bigint {
  let chainId: bigint;
  if (typeof value === "bigint") chainId = value;
  else if (typeof value === "number" && Number.isSafeInteger(value)) chainId = BigInt(value);
  else throw new InvalidArgumentError(argument("chainId"), `expected a bigint, got ${describeValue(value)}`);
  if (chainId <= 0n || chainId > UINT64_MAX)
    throw new InvalidArgumentError(argument("chainId"), `${chainId} is outside 1..2^64-1`, {
      hint: "Pass the chain id of the network the RecordRegistry is deployed on.",
    });
  return chainId;
}

function normalizeAddress(field: string, value: unknown): Uint8Array {
  let checksummed: string;
  try {
    checksummed = getAddress(value as string);
  } catch (cause) {
    throw new InvalidArgumentError(argument(field), `${describeValue(value)} is not an Ethereum address`, {
      hint: "Pass a 0x-prefixed 20-byte address (all lowercase, or with a correct EIP-55 checksum).",
      cause,
    });
  }
  const bytes = hexToBytes(checksummed, { argument: argument(field), length: 20 });
  if (isAllZero(bytes)) throw new InvalidArgumentError(argument(field), "is the zero address");
  return bytes;
}

function normalizeDataClass(value: unknown): number {
  if (typeof value !== "number" || !DATA_CLASS_CODES.has(value))
    throw new InvalidArgumentError(argument("dataClass"), `${describeValue(value)} is not a DataClass code`, {
      hint: `Use a DataClass value from sdk/codes.ts (0..${DATA_CLASS_CODES.size - 1}).`,
    });
  return value;
}

function normalizeVersion(value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > UINT32_MAX)
    throw new InvalidArgumentError(argument("version"), `${describeValue(value)} is not an integer in 1..2^32-1`);
  return value;
}

function normalizeRecordId(field: string, value: unknown): Uint8Array {
  return hexToBytes(value as string, { argument: argument(field), length: 32 });
}

function normalizeContentType(value: unknown): number {
  if (value === undefined) return ContentType.FHIR_JSON;
  if (typeof value !== "number" || !(value in CONTENT_MEDIA_TYPES))
    throw new InvalidArgumentError(argument("contentType"), `${describeValue(value)} is not a ContentType code`, {
      hint: "Use ContentType.FHIR_JSON (1) or ContentType.OCTET_STREAM (2).",
    });
  return value;
}

/** `context` validated (InvalidArgumentError naming the field) and in header form. */
export function normalizeContext(context: RecordContext): NormalizedContext {
  if (typeof context !== "object" || context === null)
    throw new InvalidArgumentError("record context", "expected an object");
  const normalized: NormalizedContext = {
    chainId: normalizeChainId(context.chainId),
    registry: normalizeAddress("registry", context.registry),
    patient: normalizeAddress("patient", context.patient),
    provider: normalizeAddress("provider", context.provider),
    dataClass: normalizeDataClass(context.dataClass),
    version: normalizeVersion(context.version),
    previousRecordId: normalizeRecordId("previousRecordId", context.previousRecordId),
    contentType: normalizeContentType(context.contentType),
  };
  const previousIsZero = isAllZero(normalized.previousRecordId);
  if (normalized.version === 1 && !previousIsZero)
    throw new InvalidArgumentError(argument("previousRecordId"), "must be zero for version 1", {
      hint: "An original record amends nothing: pass ZERO_RECORD_ID, or a version above 1 for an amendment.",
    });
  if (normalized.version > 1 && previousIsZero)
    throw new InvalidArgumentError(
      argument("previousRecordId"),
      `must name the amended record for version ${normalized.version}`,
      {
        hint: "Pass the record id of the version this one amends.",
      },
    );
  return normalized;
}

export function checkMax(options: EnvelopeOptions): number {
  const max = options.maxEnvelopeBytes ?? DEFAULT_MAX_ENVELOPE_BYTES;
  if (!Number.isSafeInteger(max) || max < MIN_ENVELOPE_BYTES)
    throw new InvalidArgumentError(
      "maxEnvelopeBytes",
      `expected an integer of at least ${MIN_ENVELOPE_BYTES}, got ${max}`,
    );
  return max;
}

export function checkDataKey(dataKey: Uint8Array): void {
  if (!(dataKey instanceof Uint8Array) || dataKey.length !== AES_KEY_BYTES)
    throw new InvalidArgumentError(
      "data key",
      `expected ${AES_KEY_BYTES} bytes, got ${dataKey instanceof Uint8Array ? dataKey.length : typeof dataKey}`,
      {
        hint: "Pass the 32-byte data key returned by sealRecord or unwrapDataKey.",
      },
    );
}

export function checkEnvelopeBytes(envelope: Uint8Array, max: number): void {
  if (!(envelope instanceof Uint8Array)) throw new InvalidArgumentError("envelope", "expected a Uint8Array");
  if (envelope.length > max)
    throw new FormatError("record envelope", `${envelope.length} bytes exceeds the limit of ${max} bytes`, {
      hint: "Refused before any work. If you trust the source, raise maxEnvelopeBytes.",
    });
}

// ---------------------------------------------------------------------------------------------------

/**
 * Writes the fields every format shares (bytes 4..109: chainId through contentType) into `out`; the
 * magic and what follows contentType are the format's own.
 */
export function writeContextFields(context: NormalizedContext, out: Uint8Array): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setBigUint64(ENVELOPE_LAYOUT.chainId[0], context.chainId);
  out.set(context.registry, ENVELOPE_LAYOUT.registry[0]);
  out.set(context.patient, ENVELOPE_LAYOUT.patient[0]);
  out.set(context.provider, ENVELOPE_LAYOUT.provider[0]);
  view.setUint8(ENVELOPE_LAYOUT.dataClass[0], context.dataClass);
  view.setUint32(ENVELOPE_LAYOUT.version[0], context.version);
  out.set(context.previousRecordId, ENVELOPE_LAYOUT.previousRecordId[0]);
  view.setUint8(ENVELOPE_LAYOUT.contentType[0], context.contentType);
}

function writeHeader(context: NormalizedContext, iv: Uint8Array, out: Uint8Array): void {
  out.set(ENVELOPE_MAGIC, ENVELOPE_LAYOUT.magic[0]);
  writeContextFields(context, out);
  out.set(iv, ENVELOPE_LAYOUT.iv[0]);
}

/**
 * Encrypts `plaintext` into a v1 envelope bound to `context`. Uses `dataKey` (32 bytes) or a fresh random
 * one, and always a fresh random IV. Returns the envelope, the data key and the record id to anchor.
 * Throws InvalidArgumentError for a bad context or key, or a plaintext whose envelope would exceed
 * `options.maxEnvelopeBytes`.
 */
export async function sealRecord(
  plaintext: Uint8Array,
  context: RecordContext,
  dataKey?: Uint8Array,
  options: EnvelopeOptions = {},
): Promise<SealedRecord> {
  if (!(plaintext instanceof Uint8Array)) throw new InvalidArgumentError("plaintext", "expected a Uint8Array");
  const max = checkMax(options);
  const size = ENVELOPE_HEADER_BYTES + plaintext.length + GCM_TAG_BYTES;
  if (size > max)
    throw new InvalidArgumentError("plaintext", `its envelope would be ${size} bytes, over the limit of ${max} bytes`, {
      hint: "Split the record, or raise maxEnvelopeBytes for writers and readers alike.",
    });
  const normalized = normalizeContext(context);
  const key = dataKey ?? randomBytes(AES_KEY_BYTES);
  checkDataKey(key);

  const iv = randomBytes(GCM_IV_BYTES);
  const header = new Uint8Array(ENVELOPE_HEADER_BYTES);
  writeHeader(normalized, iv, header);
  const ciphertext = await aesGcmEncrypt(key, iv, plaintext, header);

  const envelope = new Uint8Array(ENVELOPE_HEADER_BYTES + ciphertext.length);
  envelope.set(header, 0);
  envelope.set(ciphertext, ENVELOPE_HEADER_BYTES);
  return { envelope, dataKey: key, recordId: await sha256Hex(envelope) };
}

/**
 * Reads an envelope's header without decrypting: a v1 envelope (`format: 1`, with its iv and ciphertext)
 * or a v2 one (`format: 2`, with its segment size, salt and key commitment; see envelope-v2.ts). Throws
 * FormatError on a bad magic, an unknown format version, a truncated or oversized input, or a field value
 * no writer produces.
 */
export function parseEnvelope(bytes: Uint8Array, options: EnvelopeOptions = {}): ParsedEnvelope | ParsedEnvelopeV2 {
  checkEnvelopeBytes(bytes, checkMax(options));
  const what = "record envelope";
  checkMagic(bytes, what);
  if (bytes[3] === ENVELOPE_V2_FORMAT_VERSION) return parseEnvelopeV2(bytes, options);
  if (bytes.length < MIN_ENVELOPE_BYTES)
    throw new FormatError(what, `truncated: ${bytes.length} bytes, at least ${MIN_ENVELOPE_BYTES} expected`, {
      hint: "The download was cut short or the blob was damaged: fetch it again.",
    });
  return {
    format: 1,
    context: parseContextFields(bytes, what),
    iv: bytes.subarray(ENVELOPE_LAYOUT.iv[0], ENVELOPE_LAYOUT.iv[0] + ENVELOPE_LAYOUT.iv[1]),
    ciphertext: bytes.subarray(ENVELOPE_HEADER_BYTES),
    aad: bytes.subarray(0, ENVELOPE_HEADER_BYTES),
  };
}

/** Refuses bytes that are not "CLR" followed by a format version this SDK reads (1 or 2). */
export function checkMagic(bytes: Uint8Array, what: string): void {
  if (bytes.length < ENVELOPE_MAGIC.length || !bytesEqual(bytes.subarray(0, 3), ENVELOPE_MAGIC.subarray(0, 3)))
    throw new FormatError(what, 'it does not start with the magic "CLR"', {
      hint: "These bytes are not a Consent Ledger record envelope: check the CID or pointer you fetched.",
    });
  if (bytes[3] !== ENVELOPE_FORMAT_VERSION && bytes[3] !== ENVELOPE_V2_FORMAT_VERSION)
    throw new FormatError(what, `unsupported format version ${bytes[3]}`, {
      hint: `This SDK reads envelope formats ${ENVELOPE_FORMAT_VERSION} and ${ENVELOPE_V2_FORMAT_VERSION}; upgrade the SDK to read newer records.`,
    });
}

/**
 * The record context in bytes 4..109 of a header (the fields every format shares), each field checked:
 * FormatError naming the field for a value no writer produces. `bytes` holds at least 110 bytes.
 */
export function parseContextFields(bytes: Uint8Array, what: string): ParsedRecordContext {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const field = (name: keyof typeof ENVELOPE_LAYOUT): Uint8Array => {
    const [offset, length] = ENVELOPE_LAYOUT[name];
    return bytes.subarray(offset, offset + length);
  };
  const invalid = (name: string, problem: string): FormatError =>
    new FormatError(what, `header field ${name} ${problem}`, {
      hint: "No SDK writes such a header: the envelope was altered or is not a record.",
    });

  const chainId = view.getBigUint64(ENVELOPE_LAYOUT.chainId[0]);
  if (chainId === 0n) throw invalid("chainId", "is 0");
  const address = (name: "registry" | "patient" | "provider"): string => {
    const raw = field(name);
    if (isAllZero(raw)) throw invalid(name, "is the zero address");
    return getAddress(bytesToHex(raw));
  };
  const registry = address("registry");
  const patient = address("patient");
  const provider = address("provider");
  const dataClass = view.getUint8(ENVELOPE_LAYOUT.dataClass[0]);
  if (!DATA_CLASS_CODES.has(dataClass)) throw invalid("dataClass", `is ${dataClass}, not a DataClass code`);
  const version = view.getUint32(ENVELOPE_LAYOUT.version[0]);
  if (version === 0) throw invalid("version", "is 0");
  const previous = field("previousRecordId");
  if (version === 1 && !isAllZero(previous)) throw invalid("previousRecordId", "is not zero in a version 1 record");
  if (version > 1 && isAllZero(previous)) throw invalid("previousRecordId", `is zero in a version ${version} record`);
  const contentType = view.getUint8(ENVELOPE_LAYOUT.contentType[0]);
  if (!(contentType in CONTENT_MEDIA_TYPES)) throw invalid("contentType", `is ${contentType}, not a ContentType code`);
  return {
    chainId,
    registry,
    patient,
    provider,
    dataClass,
    version,
    previousRecordId: bytesToHex(previous),
    contentType,
  };
}

/**
 * The record id of `envelope`: for v1, the 0x-prefixed lowercase hex of its SHA-256; for v2 (bytes that
 * start with "CLR" 0x02), SHA-256 over its header and its segments' SHA-256 (recordIdOfV2; FormatError
 * when such bytes do not split into a header and segments). WebCrypto.
 */
export async function recordIdOf(envelope: Uint8Array): Promise<string> {
  if (!(envelope instanceof Uint8Array)) throw new InvalidArgumentError("envelope", "expected a Uint8Array");
  if (isEnvelopeV2(envelope)) return recordIdOfV2(envelope);
  return sha256Hex(envelope);
}

/** The expected value of one field, normalized to how parseEnvelope reports it (for comparison). */
function expectedValue(field: keyof RecordContext, value: unknown): string | number | bigint {
  switch (field) {
    case "chainId":
      return normalizeChainId(value);
    case "registry":
    case "patient":
    case "provider":
      return getAddress(bytesToHex(normalizeAddress(field, value)));
    case "dataClass":
      return normalizeDataClass(value);
    case "version":
      return normalizeVersion(value);
    case "previousRecordId":
      return bytesToHex(normalizeRecordId(field, value));
    case "contentType":
      return normalizeContentType(value);
  }
}

const CONTEXT_FIELDS: readonly (keyof RecordContext)[] = [
  "chainId",
  "registry",
  "patient",
  "provider",
  "dataClass",
  "version",
  "previousRecordId",
  "contentType",
];

/**
 * Compares every field given in `expected` with the header's: IntegrityError naming the field, the
 * expected and the actual value. `recordId` names the record in the error.
 */
export async function checkExpectedContext(
  context: ParsedRecordContext,
  expected: ExpectedRecord,
  recordId: () => Promise<string>,
): Promise<void> {
  for (const field of CONTEXT_FIELDS) {
    const value = expected[field];
    if (value === undefined) continue;
    const wanted = expectedValue(field, value);
    const actual = context[field];
    if (wanted !== actual) {
      throw new IntegrityError(
        await recordId(),
        `its header says ${field} ${shown(actual)}, expected ${shown(wanted)}`,
        {
          hint: "The envelope belongs to another record than the one asked for: do not use it; check the pointer you fetched.",
          details: `${field}: expected ${shown(wanted)}, actual ${shown(actual)}`,
        },
      );
    }
  }
}

/**
 * Verifies and decrypts an envelope; a v2 envelope goes to openRecordV2 (envelope-v2.ts), which checks its
 * key commitment before any decryption and each segment. For v1, in order:
 * 1. refuses an envelope over `options.maxEnvelopeBytes` (FormatError) before any work;
 * 2. if `expected.recordId` is given (the on-chain anchor), checks SHA-256(envelope) equals it
 *    (IntegrityError naming the record);
 * 3. parses the header (FormatError) and compares every field given in `expected` (IntegrityError naming
 *    the field, the expected and the actual value);
 * 4. decrypts with `dataKey` (DecryptionError: wrong key, or altered bytes).
 */
export async function openRecord(
  envelope: Uint8Array,
  dataKey: Uint8Array,
  expected: ExpectedRecord = {},
  options: EnvelopeOptions = {},
): Promise<OpenedRecord> {
  checkEnvelopeBytes(envelope, checkMax(options));
  checkDataKey(dataKey);
  if (isEnvelopeV2(envelope)) return openRecordV2(envelope, dataKey, expected, options);

  let recordId: string | undefined;
  if (expected.recordId !== undefined) {
    const wanted = bytesToHex(hexToBytes(expected.recordId, { argument: "expected recordId", length: 32 }));
    const actual = await sha256Hex(envelope);
    if (actual !== wanted)
      throw new IntegrityError(wanted, `the envelope's SHA-256 is ${actual}`, {
        hint: "These bytes are not the anchored record (wrong blob, or altered): fetch the record again from a trusted copy.",
        details: `expected ${wanted}, got ${actual}`,
      });
    recordId = actual;
  }

  const parsed = parseEnvelope(envelope, options) as ParsedEnvelope;
  await checkExpectedContext(parsed.context, expected, async () => (recordId ??= await sha256Hex(envelope)));

  try {
    const plaintext = await aesGcmDecrypt(dataKey, parsed.iv, parsed.ciphertext, parsed.aad);
    return { plaintext, context: parsed.context };
  } catch (cause) {
    if (!(cause instanceof DecryptionError)) throw cause;
    recordId ??= await sha256Hex(envelope);
    throw new DecryptionError(`Could not decrypt record ${recordId}: wrong data key, or the envelope was altered`, {
      hint: "Unwrap the data key wrapped for this very record id; if it is the right key, the stored envelope was changed: fetch it again.",
      cause,
    });
  }
}
