/**
 * Anchored records for viem contracts: the registry's and ledger's reads behind the rules of
 * sdk/clients/record-rules.ts, with the same results as sdk/clients/records.ts (the ethers entry's).
 */
import { requireAddress, requireBytes32 } from "../args";
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
} from "../clients/record-rules";
import type { RecordContext } from "../crypto/envelope";
import type { ViemLedgerContracts } from "./connect";

const at = (value: string) => value as `0x${string}`;
const fromBlockOf = (contracts: ViemLedgerContracts) => ({
  fromBlock: BigInt(contracts.deployment.deployedAtBlock ?? 0),
});
const asAnchored = (events: readonly unknown[]) => events as RecordAnchoredEvent[];

/** The individually anchored records of `patient`, oldest first, with their version links. */
export async function recordsOf(contracts: ViemLedgerContracts, patient: string): Promise<AnchoredRecord[]> {
  const events = await contracts.records.getEvents.RecordAnchored(
    { patient: at(requireAddress(patient, "patient")) },
    fromBlockOf(contracts),
  );
  return anchoredRecordsOf(asAnchored(events));
}

/** The RecordAnchored event of one record, or undefined when it was never anchored on its own. */
export async function anchorEventOf(
  contracts: ViemLedgerContracts,
  recordId: string,
): Promise<AnchoredRecord | undefined> {
  const id = at(requireBytes32(recordId, "recordId"));
  const events = await contracts.records.getEvents.RecordAnchored({ recordId: id }, fromBlockOf(contracts));
  if (events.length === 0) return undefined;
  const stored = await contracts.records.read.recordOf([id]);
  return anchoredRecordOf(asAnchored(events)[0], stored.superseded);
}

function stored(record: {
  patient: string;
  providerIndex: number;
  version: number;
  dataClass: number;
  superseded: boolean;
}): StoredRecord {
  const { patient, providerIndex, version, dataClass, superseded } = record;
  return { patient, providerIndex, version, dataClass, superseded };
}

/** The chain reads that verifying a record needs, through the viem contracts. */
export function recordChainOf(contracts: ViemLedgerContracts): RecordChain {
  const { records, ledger } = contracts;
  return {
    chainId: contracts.chainId,
    registry: records.address,
    recordOf: async (recordId) => stored(await records.read.recordOf([at(recordId)])),
    batchedRecordOf: async (providerIndex, contentHash) =>
      stored(await records.read.batchedRecordOf([providerIndex, at(contentHash)])),
    batchProviderIndex: async (root) => (await records.read.batchOf([at(root)])).providerIndex,
    verifyBatchedRecord: (root, leaf, proof) =>
      records.read.verifyBatchedRecord([
        at(root),
        { contentHash: at(leaf.contentHash), patient: at(leaf.patient), dataClass: leaf.dataClass },
        proof.map(at),
      ]),
    partyAt: (index) => ledger.read.partyAt([index]),
    amendedFromBatch: async (recordId) =>
      (await records.getEvents.BatchedRecordAmended({ recordId: at(recordId) }, fromBlockOf(contracts))).length > 0,
    anchorOf: (recordId) => anchorEventOf(contracts, recordId),
  };
}

/**
 * Checks an envelope against the chain before anyone decrypts it (the rules: verifyEnvelope in
 * sdk/clients/record-rules.ts). Throws IntegrityError naming the record and the field that differs.
 */
export async function verifyEnvelopeOnChain(
  contracts: ViemLedgerContracts,
  envelope: Uint8Array,
  options: { expectedRecordId?: string; batch?: BatchMembership } = {},
): Promise<VerifiedRecord> {
  return verifyEnvelope(recordChainOf(contracts), envelope, options);
}

/**
 * verifyEnvelopeOnChain for an envelope not held whole (a stream): the header's `context` against the
 * chain for `recordId`. The caller must still check that the envelope's bytes hash to `recordId`.
 */
export async function verifyContextOnChain(
  contracts: ViemLedgerContracts,
  recordId: string,
  context: RecordContext,
  options: { batch?: BatchMembership } = {},
): Promise<VerifiedRecord> {
  return verifyContext(recordChainOf(contracts), recordId, context, options);
}
