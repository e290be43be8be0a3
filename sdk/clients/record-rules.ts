/**
 * Anchored records' rules, once for the ethers and the viem entry (no import of either): a record from
 * its RecordAnchored event, which records a later version supersedes, what an envelope must match on
 * chain before anyone decrypts it, and a verified record opened (and, for FHIR JSON, parsed). Each entry
 * supplies only its I/O: a RecordChain that reads the registry and the ledger through its library
 * (sdk/clients/records.ts for ethers, sdk/viem/records.ts for viem).
 */
import { requireBytes32 } from "../args";
import { ZERO_HASH } from "../core/hex";
import { hexToBytes, utf8Decode } from "../crypto/bytes";
import {
  ContentType,
  openRecord as openEnvelope,
  parseEnvelope,
  recordIdOf,
  type RecordContext,
} from "../crypto/envelope";
import { unwrapDataKey } from "../crypto/key-wrap";
import type { EncryptionKeyPair } from "../crypto/keys";
import { IntegrityError } from "../errors";
import { parseFhirJson, type FhirResource } from "../fhir/resource";

/** A record as the chain knows it. */
export interface AnchoredRecord {
  recordId: string;
  patient: string;
  provider: string;
  dataClass: number;
  version: number;
  superseded: boolean;
  /** The version this one replaces; the zero hash for an original. */
  supersedes: string;
  /** Where the ciphertext is: a CID or URI. */
  pointer: string;
  blockNumber: number;
  transactionHash: string;
  /** Set for a record anchored in a batch: its Merkle root and proof. */
  batch?: { root: string; proof: string[] };
}

/** Proof that a record is in an anchored batch. */
export interface BatchMembership {
  root: string;
  proof: string[];
}

/** A record opened by its reader: verified against the chain, then decrypted. */
export interface OpenedRecord {
  recordId: string;
  patient: string;
  provider: string;
  dataClass: number;
  version: number;
  previousRecordId: string;
  /** Whether a newer version has been anchored. */
  superseded: boolean;
  plaintext: Uint8Array;
  /** The FHIR resource, for FHIR JSON records. */
  resource?: FhirResource;
}

/** A RecordAnchored event as either library decodes it (numbers as number or bigint, `pointer` as hex). */
export interface RecordAnchoredEvent {
  args: {
    recordId: string;
    patient: string;
    provider: string;
    dataClass: number | bigint;
    version: number | bigint;
    supersedes: string;
    pointer: string;
  };
  blockNumber: number | bigint;
  transactionHash: string;
}

/** A record from its RecordAnchored event; the pointer as text (a CID or URI), or as hex when it is not UTF-8. */
export function anchoredRecordOf(event: RecordAnchoredEvent, superseded: boolean): AnchoredRecord {
  const { args } = event;
  let pointer: string;
  try {
    pointer = utf8Decode(hexToBytes(args.pointer));
  } catch {
    pointer = args.pointer;
  }
  return {
    recordId: args.recordId,
    patient: args.patient,
    provider: args.provider,
    dataClass: Number(args.dataClass),
    version: Number(args.version),
    superseded,
    supersedes: args.supersedes,
    pointer,
    blockNumber: Number(event.blockNumber),
    transactionHash: event.transactionHash,
  };
}

/** Records from their RecordAnchored events (oldest first), each marked superseded when a later one amends it. */
export function anchoredRecordsOf(events: readonly RecordAnchoredEvent[]): AnchoredRecord[] {
  const superseded = new Set(events.map((event) => event.args.supersedes).filter((id) => id !== ZERO_HASH));
  return events.map((event) => anchoredRecordOf(event, superseded.has(event.args.recordId)));
}

/** A record as RecordRegistry stores it (recordOf, batchedRecordOf). */
export interface StoredRecord {
  patient: string;
  providerIndex: number;
  version: number;
  dataClass: number;
  superseded: boolean;
}

/** What verifying a record reads from the chain: each entry implements it with its own library. */
export interface RecordChain {
  readonly chainId: bigint;
  /** The RecordRegistry's address. */
  readonly registry: string;
  recordOf(recordId: string): Promise<StoredRecord>;
  batchedRecordOf(providerIndex: number, contentHash: string): Promise<StoredRecord>;
  /** The index of the provider that anchored the batch `root`. */
  batchProviderIndex(root: string): Promise<number>;
  verifyBatchedRecord(
    root: string,
    leaf: { contentHash: string; patient: string; dataClass: number },
    proof: readonly string[],
  ): Promise<boolean>;
  partyAt(index: number): Promise<string>;
  /** Whether `recordId` was anchored by amending a batched record (RecordRegistry's BatchedRecordAmended). */
  amendedFromBatch(recordId: string): Promise<boolean>;
  /** The RecordAnchored event of one record, or undefined when it was never anchored on its own. */
  anchorOf(recordId: string): Promise<AnchoredRecord | undefined>;
}

/** An envelope checked against the chain. */
export interface VerifiedRecord {
  recordId: string;
  context: RecordContext;
  superseded: boolean;
}

/**
 * Checks an envelope against the chain before anyone decrypts it: its SHA-256 is an anchored record
 * or, given `batch`, is proven in that anchored batch (then the batch's claim decides, whatever was
 * anchored on its own with the same bytes; `batchedRecordOf` says whether it was amended), and the
 * patient, provider, data class, version, registry, chain and version link in its authenticated header
 * are the ones anchored. Throws IntegrityError naming the record and the field that differs.
 */
export async function verifyEnvelope(
  chain: RecordChain,
  envelope: Uint8Array,
  options: { expectedRecordId?: string; batch?: BatchMembership } = {},
): Promise<VerifiedRecord> {
  const recordId = await recordIdOf(envelope);
  if (options.expectedRecordId && options.expectedRecordId.toLowerCase() !== recordId) {
    throw new IntegrityError(options.expectedRecordId, `the ciphertext hashes to ${recordId}`);
  }
  return verifyContext(chain, recordId, parseEnvelope(envelope).context, options);
}

/**
 * verifyEnvelope for an envelope not held whole (a stream): the header's `context` against the chain for
 * `recordId`. The caller must still check that the envelope's bytes hash to `recordId` (as
 * verifyRecordStream does once it has read them all): this alone proves nothing about the bytes.
 */
export async function verifyContext(
  chain: RecordChain,
  recordId: string,
  context: RecordContext,
  options: { batch?: BatchMembership } = {},
): Promise<VerifiedRecord> {
  recordId = requireBytes32(recordId, "recordId");
  const mismatch = (field: string, expected: unknown, actual: unknown) =>
    new IntegrityError(recordId, `${field} is ${String(actual)} in the envelope but ${String(expected)} on chain`);
  if (BigInt(context.chainId) !== chain.chainId) throw mismatch("chain id", chain.chainId, context.chainId);
  if (context.registry !== chain.registry) throw mismatch("registry", chain.registry, context.registry);

  // With a batch proof, the envelope is the batch's record, whatever anyone anchored on its own with the
  // same bytes (that is another record: RecordRegistry keeps the two apart).
  if (options.batch) {
    const inBatch = await chain.verifyBatchedRecord(
      options.batch.root,
      { contentHash: recordId, patient: context.patient, dataClass: context.dataClass },
      options.batch.proof,
    );
    if (!inBatch)
      throw new IntegrityError(recordId, `it is not in batch ${options.batch.root} with that patient and class`);
    const providerIndex = await chain.batchProviderIndex(options.batch.root);
    const [provider, batched] = await Promise.all([
      chain.partyAt(providerIndex),
      chain.batchedRecordOf(providerIndex, recordId),
    ]);
    if (provider !== context.provider) throw mismatch("provider", provider, context.provider);
    if (context.version !== 1 || context.previousRecordId !== ZERO_HASH) throw mismatch("version", 1, context.version);
    return { recordId, context, superseded: batched.superseded };
  }
  const stored = await chain.recordOf(recordId);
  if (stored.version === 0) throw new IntegrityError(recordId, "no record with this hash is anchored");
  if (stored.patient !== context.patient) throw mismatch("patient", stored.patient, context.patient);
  if (stored.dataClass !== context.dataClass) throw mismatch("data class", stored.dataClass, context.dataClass);
  if (stored.version !== context.version) throw mismatch("version", stored.version, context.version);
  const provider = await chain.partyAt(stored.providerIndex);
  if (provider !== context.provider) throw mismatch("provider", provider, context.provider);
  if (context.version > 1) {
    // Version 2 of a batched record continues the batch provider's claim, not any separate anchor.
    const previous =
      context.version === 2 && (await chain.amendedFromBatch(recordId))
        ? await chain.batchedRecordOf(stored.providerIndex, context.previousRecordId)
        : await chain.recordOf(context.previousRecordId);
    if (
      previous.version !== context.version - 1 ||
      !previous.superseded ||
      previous.patient !== context.patient ||
      previous.providerIndex !== stored.providerIndex
    ) {
      throw new IntegrityError(
        recordId,
        `its previous version ${context.previousRecordId} is not the anchored predecessor`,
      );
    }
    const anchor = await chain.anchorOf(recordId);
    if (anchor && anchor.supersedes !== context.previousRecordId) {
      throw mismatch("previous version", anchor.supersedes, context.previousRecordId);
    }
  } else if (context.previousRecordId !== ZERO_HASH) {
    throw mismatch("previous version", ZERO_HASH, context.previousRecordId);
  }
  return { recordId, context, superseded: stored.superseded };
}

/** Where a record to open is: its envelope, optionally the id it must have and its batch proof. */
interface EnvelopeInput {
  envelope: Uint8Array;
  expectedRecordId?: string;
  batch?: BatchMembership;
}
/** ResearcherClient.openRecord's input: the envelope and the data key wrapped to the reader's key pair. */
export type OpenWrappedInput = EnvelopeInput & { wrappedKey: Uint8Array; keyPair: EncryptionKeyPair };
/** ResearcherClient.openRecordWithKey's input: the envelope and the data key itself. */
export type OpenWithKeyInput = EnvelopeInput & { dataKey: Uint8Array };

/**
 * Opens a record: checks the envelope against the chain first (verifyEnvelope), then unwraps the data key
 * (when wrapped) and decrypts; a FHIR JSON record is parsed into `resource`. Tampering fails with
 * IntegrityError or DecryptionError; a key wrapped to someone else with WrongRecipientKeyError; a v2
 * record refuses any key but the one it commits to.
 */
export async function openAnchoredRecord(
  chain: RecordChain,
  input: OpenWrappedInput | OpenWithKeyInput,
): Promise<OpenedRecord> {
  const verified = await verifyEnvelope(chain, input.envelope, {
    expectedRecordId: input.expectedRecordId,
    batch: input.batch,
  });
  const dataKey =
    "dataKey" in input ? input.dataKey : await unwrapDataKey(input.wrappedKey, input.keyPair, verified.recordId);
  const { plaintext, context } = await openEnvelope(input.envelope, dataKey, { recordId: verified.recordId });
  const resource =
    context.contentType === ContentType.FHIR_JSON
      ? parseFhirJson(utf8Decode(plaintext, "FHIR record"), `record ${verified.recordId}`)
      : undefined;
  return {
    recordId: verified.recordId,
    patient: context.patient,
    provider: context.provider,
    dataClass: context.dataClass,
    version: context.version,
    previousRecordId: context.previousRecordId,
    superseded: verified.superseded,
    plaintext,
    resource,
  };
}
