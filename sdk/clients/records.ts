/**
 * Anchored records for ethers contracts: the ledger's and registry's reads behind the rules of
 * sdk/clients/record-rules.ts (shared with the viem entry's sdk/viem/records.ts).
 */
import type { EventLog } from "ethers";

import { requireAddress, requireBytes32 } from "../args";
import type { LedgerContracts } from "../chain/connect";
import type { RecordContext } from "../crypto/envelope";
import {
  anchoredRecordOf,
  anchoredRecordsOf,
  verifyContext,
  verifyEnvelope,
  type AnchoredRecord,
  type BatchMembership,
  type RecordAnchoredEvent,
  type RecordChain,
  type StoredRecord,
  type VerifiedRecord,
} from "./record-rules";

export type { AnchoredRecord, BatchMembership } from "./record-rules";

const asAnchored = (events: readonly EventLog[]) => events as unknown as RecordAnchoredEvent[];

/** The individually anchored records of `patient`, oldest first, with their version links. */
export async function recordsOf(contracts: LedgerContracts, patient: string): Promise<AnchoredRecord[]> {
  const events = (await contracts.records.queryFilter(
    contracts.records.filters.RecordAnchored(undefined, requireAddress(patient, "patient")),
    contracts.deployment.deployedAtBlock ?? 0,
  )) as unknown as EventLog[];
  return recordsFromEvents(events);
}

/** Records from their RecordAnchored events (oldest first), each marked superseded when a later one amends it. */
export function recordsFromEvents(events: readonly EventLog[]): AnchoredRecord[] {
  return anchoredRecordsOf(asAnchored(events));
}

/** The RecordAnchored event of one record, or undefined when it was never anchored on its own. */
export async function anchorEventOf(contracts: LedgerContracts, recordId: string): Promise<AnchoredRecord | undefined> {
  const events = (await contracts.records.queryFilter(
    contracts.records.filters.RecordAnchored(requireBytes32(recordId, "recordId")),
    contracts.deployment.deployedAtBlock ?? 0,
  )) as unknown as EventLog[];
  if (events.length === 0) return undefined;
  const stored = await contracts.records.recordOf(recordId);
  return anchoredRecordOf(asAnchored(events)[0], stored.superseded);
}

function stored(record: {
  patient: string;
  providerIndex: bigint;
  version: bigint;
  dataClass: bigint;
  superseded: boolean;
}): StoredRecord {
  return {
    patient: record.patient,
    providerIndex: Number(record.providerIndex),
    version: Number(record.version),
    dataClass: Number(record.dataClass),
    superseded: record.superseded,
  };
}

/** The chain reads that verifying a record needs, through the ethers contracts. */
export async function recordChainOf(contracts: LedgerContracts): Promise<RecordChain> {
  const { records, ledger } = contracts;
  const from = contracts.deployment.deployedAtBlock ?? 0;
  return {
    chainId: contracts.chainId,
    registry: await records.getAddress(),
    recordOf: async (recordId) => stored(await records.recordOf(recordId)),
    batchedRecordOf: async (providerIndex, contentHash) =>
      stored(await records.batchedRecordOf(providerIndex, contentHash)),
    batchProviderIndex: async (root) => Number((await records.batchOf(root)).providerIndex),
    verifyBatchedRecord: (root, leaf, proof) => records.verifyBatchedRecord(root, leaf, [...proof]),
    partyAt: (index) => ledger.partyAt(index),
    amendedFromBatch: async (recordId) =>
      (await records.queryFilter(records.filters.BatchedRecordAmended(undefined, undefined, recordId), from)).length >
      0,
    anchorOf: (recordId) => anchorEventOf(contracts, recordId),
  };
}

/**
 * Checks an envelope against the chain before anyone decrypts it (the rules: verifyEnvelope in
 * sdk/clients/record-rules.ts). Throws IntegrityError naming the record and the field that differs.
 */
export async function verifyEnvelopeOnChain(
  contracts: LedgerContracts,
  envelope: Uint8Array,
  options: { expectedRecordId?: string; batch?: BatchMembership } = {},
): Promise<VerifiedRecord> {
  return verifyEnvelope(await recordChainOf(contracts), envelope, options);
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
): Promise<VerifiedRecord> {
  return verifyContext(await recordChainOf(contracts), recordId, context, options);
}
