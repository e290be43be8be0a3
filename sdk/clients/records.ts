import { toUtf8String, ZeroHash, type EventLog } from "ethers";

import { requireBytes32 } from "../args";
import type { LedgerContracts } from "../chain/connect";
import { parseEnvelope, recordIdOf, type RecordContext } from "../crypto/envelope";
import { IntegrityError } from "../errors";

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

function fromEvent(event: EventLog, superseded: boolean): AnchoredRecord {
  const args = event.args;
  let pointer: string;
  try {
    pointer = toUtf8String(args.pointer);
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
    blockNumber: event.blockNumber,
    transactionHash: event.transactionHash,
  };
}

/** The individually anchored records of `patient`, oldest first, with their version links. */
export async function recordsOf(contracts: LedgerContracts, patient: string): Promise<AnchoredRecord[]> {
  const events = (await contracts.records.queryFilter(
    contracts.records.filters.RecordAnchored(undefined, patient),
    contracts.deployment.deployedAtBlock ?? 0,
  )) as unknown as EventLog[];
  return recordsFromEvents(events);
}

/** Records from their RecordAnchored events (oldest first), each marked superseded when a later one amends it. */
export function recordsFromEvents(events: readonly EventLog[]): AnchoredRecord[] {
  const superseded = new Set(events.map((event) => event.args.supersedes as string).filter((id) => id !== ZeroHash));
  return events.map((event) => fromEvent(event, superseded.has(event.args.recordId)));
}

/** The RecordAnchored event of one record, or undefined when it was never anchored on its own. */
export async function anchorEventOf(contracts: LedgerContracts, recordId: string): Promise<AnchoredRecord | undefined> {
  const events = (await contracts.records.queryFilter(
    contracts.records.filters.RecordAnchored(requireBytes32(recordId, "recordId")),
    contracts.deployment.deployedAtBlock ?? 0,
  )) as unknown as EventLog[];
  if (events.length === 0) return undefined;
  const stored = await contracts.records.recordOf(recordId);
  return fromEvent(events[0], stored.superseded);
}

/** Whether `recordId` was anchored by amending a batched record (RecordRegistry's BatchedRecordAmended). */
async function amendedFromBatch(contracts: LedgerContracts, recordId: string): Promise<boolean> {
  const events = await contracts.records.queryFilter(
    contracts.records.filters.BatchedRecordAmended(undefined, undefined, recordId),
    contracts.deployment.deployedAtBlock ?? 0,
  );
  return events.length > 0;
}

/**
 * Checks an envelope against the chain before anyone decrypts it: its SHA-256 is an anchored record
 * or, given `batch`, is proven in that anchored batch (then the batch's claim decides, whatever was
 * anchored on its own with the same bytes; `batchedRecordOf` says whether it was amended), and the
 * patient, provider, data class, version, registry, chain and version link in its authenticated header
 * are the ones anchored. Throws IntegrityError naming the
 * record and the field that differs.
 */
export async function verifyEnvelopeOnChain(
  contracts: LedgerContracts,
  envelope: Uint8Array,
  options: { expectedRecordId?: string; batch?: BatchMembership } = {},
): Promise<{ recordId: string; context: RecordContext; superseded: boolean }> {
  const recordId = await recordIdOf(envelope);
  if (options.expectedRecordId && options.expectedRecordId.toLowerCase() !== recordId) {
    throw new IntegrityError(options.expectedRecordId, `the ciphertext hashes to ${recordId}`);
  }
  return verifyContextOnChain(contracts, recordId, parseEnvelope(envelope).context, options);
}

/**
 * verifyEnvelopeOnChain for an envelope not held whole (a stream): the header's `context` against the
 * chain for `recordId`. The caller must still check that the envelope's bytes hash to `recordId` (as
 * verifyRecordStream does once it has read them all): this alone proves nothing about the bytes.
 */
export async function verifyContextOnChain(
  contracts: LedgerContracts,
  recordId: string,
  context: RecordContext,
  options: { batch?: BatchMembership } = {},
): Promise<{ recordId: string; context: RecordContext; superseded: boolean }> {
  recordId = requireBytes32(recordId, "recordId");
  const registry = await contracts.records.getAddress();
  const mismatch = (field: string, expected: unknown, actual: unknown) =>
    new IntegrityError(recordId, `${field} is ${String(actual)} in the envelope but ${String(expected)} on chain`);
  if (BigInt(context.chainId) !== contracts.chainId) throw mismatch("chain id", contracts.chainId, context.chainId);
  if (context.registry !== registry) throw mismatch("registry", registry, context.registry);

  // With a batch proof, the envelope is the batch's record, whatever anyone anchored on its own with the
  // same bytes (that is another record: RecordRegistry keeps the two apart).
  if (options.batch) {
    const inBatch = await contracts.records.verifyBatchedRecord(
      options.batch.root,
      { contentHash: recordId, patient: context.patient, dataClass: context.dataClass },
      options.batch.proof,
    );
    if (!inBatch)
      throw new IntegrityError(recordId, `it is not in batch ${options.batch.root} with that patient and class`);
    const batch = await contracts.records.batchOf(options.batch.root);
    const [provider, batched] = await Promise.all([
      contracts.ledger.partyAt(batch.providerIndex),
      contracts.records.batchedRecordOf(batch.providerIndex, recordId),
    ]);
    if (provider !== context.provider) throw mismatch("provider", provider, context.provider);
    if (context.version !== 1 || context.previousRecordId !== ZeroHash) throw mismatch("version", 1, context.version);
    return { recordId, context, superseded: batched.superseded };
  }
  const stored = await contracts.records.recordOf(recordId);
  const superseded = stored.superseded;
  if (stored.version === 0n) throw new IntegrityError(recordId, "no record with this hash is anchored");
  if (stored.patient !== context.patient) throw mismatch("patient", stored.patient, context.patient);
  if (Number(stored.dataClass) !== context.dataClass) throw mismatch("data class", stored.dataClass, context.dataClass);
  if (Number(stored.version) !== context.version) throw mismatch("version", stored.version, context.version);
  const provider = await contracts.ledger.partyAt(stored.providerIndex);
  if (provider !== context.provider) throw mismatch("provider", provider, context.provider);
  if (context.version > 1) {
    // Version 2 of a batched record continues the batch provider's claim, not any separate anchor.
    const previous =
      context.version === 2 && (await amendedFromBatch(contracts, recordId))
        ? await contracts.records.batchedRecordOf(stored.providerIndex, context.previousRecordId)
        : await contracts.records.recordOf(context.previousRecordId);
    if (
      Number(previous.version) !== context.version - 1 ||
      !previous.superseded ||
      previous.patient !== context.patient ||
      previous.providerIndex !== stored.providerIndex
    ) {
      throw new IntegrityError(
        recordId,
        `its previous version ${context.previousRecordId} is not the anchored predecessor`,
      );
    }
    const anchor = await anchorEventOf(contracts, recordId);
    if (anchor && anchor.supersedes !== context.previousRecordId) {
      throw mismatch("previous version", anchor.supersedes, context.previousRecordId);
    }
  } else if (context.previousRecordId !== ZeroHash) {
    throw mismatch("previous version", ZeroHash, context.previousRecordId);
  }
  return { recordId, context, superseded };
}
