/**
 * A reference model of RecordRegistry (contracts/interfaces/IRecordRegistry.sol): anchors, amendments,
 * batch anchors and amendments of batched records, in plain TypeScript. Accreditation is the ledger's
 * (the model is handed a function that answers it, or the custom error to revert with).
 *
 * What it states:
 * - a record id is anchored once; its patient, anchoring provider, version and class never change;
 *   the only change a stored record ever sees is `superseded` going from false to true, once;
 * - an amendment is made by the provider that anchored the version it amends, of a version not yet
 *   superseded, and is version n + 1 of the same patient and class;
 * - a batched record is stored (as superseded version 1) only when it is amended, after its Merkle proof
 *   places it in a batch of the amending provider; a separate anchor of the same bytes is never
 *   overwritten by it (RecordAlreadyAnchored), and a batched record is amended once (RecordAlreadySuperseded).
 *
 * Operations throw `Revert` (from ./consent-model) with the custom error the contract must raise.
 */
import { ZeroAddress, ZeroHash } from "ethers";

import { Revert } from "./consent-model";

export interface RecordState {
  patient: string;
  providerIndex: number;
  version: number;
  dataClass: number;
  superseded: boolean;
}

export interface BatchState {
  providerIndex: number;
  recordCount: number;
  anchoredAt: number;
}

export interface BatchedRecord {
  contentHash: string;
  patient: string;
  dataClass: number;
}

export interface ModelEvent {
  name: string;
  args: unknown[];
}

/** Accreditation as the ledger answers it: the provider's index, or the error requireAccredited raises. */
export type RequireProvider = (caller: string) => number;

function revert(errorName: string, ...args: unknown[]): never {
  throw new Revert(errorName, args);
}

const UINT32_MAX = 2 ** 32 - 1;

export class RecordRegistryModel {
  records = new Map<string, RecordState>();
  /** Batched versions stored by their amendment, keyed `${batch provider index}:${content hash}`. */
  batched = new Map<string, RecordState>();
  batches = new Map<string, BatchState>();
  events: ModelEvent[] = [];

  constructor(private readonly requireProvider: RequireProvider) {}

  clone(requireProvider: RequireProvider = this.requireProvider): RecordRegistryModel {
    const copy = new RecordRegistryModel(requireProvider);
    copy.records = new Map([...this.records].map(([k, v]) => [k, { ...v }]));
    copy.batched = new Map([...this.batched].map(([k, v]) => [k, { ...v }]));
    copy.batches = new Map([...this.batches].map(([k, v]) => [k, { ...v }]));
    return copy;
  }

  recordOf(id: string): RecordState {
    return (
      this.records.get(id.toLowerCase()) ?? {
        patient: ZeroAddress,
        providerIndex: 0,
        version: 0,
        dataClass: 0,
        superseded: false,
      }
    );
  }

  batchedRecordOf(providerIndex: number, contentHash: string): RecordState {
    return this.batched.get(`${providerIndex}:${contentHash.toLowerCase()}`) ?? this.recordOf(ZeroHash);
  }

  batchOf(root: string): BatchState {
    return this.batches.get(root.toLowerCase()) ?? { providerIndex: 0, recordCount: 0, anchoredAt: 0 };
  }

  private store(contentHash: string, record: RecordState): void {
    if (contentHash === ZeroHash) revert("InvalidContentHash", contentHash);
    if (this.records.has(contentHash.toLowerCase())) revert("RecordAlreadyAnchored", contentHash);
    this.records.set(contentHash.toLowerCase(), record);
  }

  anchorRecord(caller: string, patient: string, contentHash: string, dataClass: number): void {
    const providerIndex = this.requireProvider(caller);
    if (patient === ZeroAddress) revert("InvalidPatient", patient);
    if (!(dataClass >= 0 && dataClass < 15)) revert("UnknownRecordDataClass", dataClass);
    this.store(contentHash, { patient, providerIndex, version: 1, dataClass, superseded: false });
    this.events.push({ name: "RecordAnchored", args: [contentHash, patient, caller, dataClass, 1, ZeroHash] });
  }

  private amend(
    caller: string,
    previousId: string,
    previous: RecordState,
    providerIndex: number,
    contentHash: string,
  ): void {
    if (previous.providerIndex !== providerIndex) revert("NotRecordProvider", previousId, caller);
    if (previous.superseded) revert("RecordAlreadySuperseded", previousId);
    if (previous.version === UINT32_MAX) revert("VersionOverflow", previousId);
    this.records.set(previousId.toLowerCase(), { ...previous, superseded: true });
    const version = previous.version + 1;
    this.store(contentHash, {
      patient: previous.patient,
      providerIndex,
      version,
      dataClass: previous.dataClass,
      superseded: false,
    });
    this.events.push({
      name: "RecordAnchored",
      args: [contentHash, previous.patient, caller, previous.dataClass, version, previousId],
    });
  }

  amendRecord(caller: string, previousId: string, contentHash: string): void {
    const providerIndex = this.requireProvider(caller);
    const previous = this.records.get(previousId.toLowerCase());
    if (previous === undefined) revert("RecordNotFound", previousId);
    this.amend(caller, previousId, previous, providerIndex, contentHash);
  }

  anchorBatch(caller: string, root: string, recordCount: number, now: number): void {
    const providerIndex = this.requireProvider(caller);
    if (root === ZeroHash) revert("InvalidContentHash", root);
    if (recordCount === 0) revert("EmptyRecordBatch");
    if (this.batches.has(root.toLowerCase())) revert("BatchAlreadyAnchored", root);
    this.batches.set(root.toLowerCase(), { providerIndex, recordCount, anchoredAt: now });
    this.events.push({ name: "RecordBatchAnchored", args: [root, caller, recordCount] });
  }

  /** `proofValid`: whether the proof places `previous` in the tree of `root` (decided by the test). */
  amendBatchedRecord(
    caller: string,
    root: string,
    previous: BatchedRecord,
    proofValid: boolean,
    contentHash: string,
  ): void {
    const providerIndex = this.requireProvider(caller);
    const batch = this.batches.get(root.toLowerCase());
    if (batch === undefined) revert("BatchNotFound", root);
    if (batch.providerIndex !== providerIndex) revert("NotRecordProvider", previous.contentHash, caller);
    if (previous.contentHash === ZeroHash) revert("InvalidContentHash", previous.contentHash);
    if (!proofValid) revert("InvalidBatchProof", root, previous.contentHash);
    // A provider's batched records are its own namespace: a separate anchor of the same bytes is another
    // record and does not stand in the way; the same bytes in two of its batches are one record.
    const key = `${batch.providerIndex}:${previous.contentHash.toLowerCase()}`;
    if (this.batched.has(key)) revert("RecordAlreadySuperseded", previous.contentHash);
    if (contentHash.toLowerCase() === previous.contentHash.toLowerCase()) revert("RecordAlreadyAnchored", contentHash);
    const batched: RecordState = {
      patient: previous.patient,
      providerIndex: batch.providerIndex,
      version: 1,
      dataClass: previous.dataClass,
      superseded: true,
    };
    this.batched.set(key, batched);
    this.events.push({ name: "BatchedRecordAmended", args: [root, previous.contentHash, contentHash] });
    this.store(contentHash, { ...batched, version: 2, superseded: false });
    this.events.push({
      name: "RecordAnchored",
      args: [contentHash, previous.patient, caller, previous.dataClass, 2, previous.contentHash],
    });
  }
}
