/**
 * The ethers entry's AuditClient: the audit trail of sdk/clients/audit-core.ts over the ethers
 * contracts (its PatientEventReader, block times, senders and readBatch).
 */
import type { LedgerContracts } from "../chain/connect";
import type { BlobStore } from "../storage/blob-store";
import { AuditClientBase, type AuditChain } from "./audit-core";
import { PatientEventReader, readBatch } from "./patient-events";

export { MAX_MANIFEST_BYTES, RELEASE_LEAF_TYPES } from "./audit-core";
export type { AuditAction, AuditBasis, AuditEntry, AuditLine, ReleaseManifest } from "./audit-core";

/**
 * Rebuilds a patient's whole history from the chain's events: records and amendments, consents,
 * requests and decisions, revocations, key releases, emergency openings, delegates and policies.
 * Batched key releases are read from their manifests in `store` (each entry checked against the root
 * logged on chain); without a store, only individually logged releases appear.
 */
export class AuditClient extends AuditClientBase {
  /** Where the patient's events come from: pass a reader a page shares, so each log is read once. */
  readonly events: PatientEventReader;

  constructor(
    readonly contracts: LedgerContracts,
    store?: BlobStore,
    events?: PatientEventReader,
  ) {
    const reader = events ?? new PatientEventReader(contracts);
    super(ethersAuditChain(contracts, reader), store);
    this.events = reader;
  }
}

function ethersAuditChain(contracts: LedgerContracts, reader: PatientEventReader): AuditChain {
  const { ledger, custodianSets, deployment } = contracts;
  return {
    readEvents: (patient, toBlock) => reader.read(patient, toBlock),
    blockTimestamp: async (block) => Number((await contracts.provider.getBlock(block))?.timestamp ?? 0),
    senderOf: async (hash) => (await contracts.provider.getTransaction(hash))?.from ?? "",
    ledgerAddress: deployment.ledger,
    custodianSetsAddress: custodianSets ? deployment.custodianSets : undefined,
    encodeCustodianPositionOf: (recordId, custodian) =>
      custodianSets!.interface.encodeFunctionData("custodianPositionOf", [recordId, custodian]),
    decodeCustodianPositionOf: (data) => {
      const [setId, , position] = custodianSets!.interface.decodeFunctionResult("custodianPositionOf", data);
      return { setId: Number(setId), position: Number(position) };
    },
    encodeAccessBasis: (patient, grantee, dataClass, purpose) =>
      ledger.interface.encodeFunctionData("accessBasis", [patient, grantee, dataClass, purpose]),
    decodeAccessBasis: (data) => Number(ledger.interface.decodeFunctionResult("accessBasis", data)[0]),
    readBatch: (calls, account, block) => readBatch(contracts, calls, account, block),
  };
}
