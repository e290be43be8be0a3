/**
 * Everything the dashboard shows about one patient, read through the SDK: records, pending requests with
 * each researcher's accreditation, consents in force, the standing policy, delegates, the emergency
 * opt-out, and the audit trail (with the custodian's manifests for batched key releases).
 *
 * The state is the SDK's patientState (one eth_call at one block); the history its AuditClient.trail; both
 * from one PatientEventReader, so each log is read once.
 */
import {
  AuditClient,
  PatientEventReader,
  patientState,
  recordsFromEvents,
  type Accreditation,
  type DataUsePolicy,
  type AnchoredRecord,
  type AuditLine,
  type BlobStore,
  type Consent,
  type LedgerContracts,
  type RequestView,
} from "consent-ledger";

/** A party's accreditation, as the SDK reads it. */
export type Party = Accreditation;

export interface PendingRequest extends RequestView {
  party: Party;
}

export interface RecordVersion extends AnchoredRecord {
  /** Unix seconds of the block that anchored it; undefined beyond the newest RECORD_TIMES records. */
  time?: number;
}

/** A record and the versions it replaced, newest first. */
export interface RecordChain {
  latest: RecordVersion;
  older: RecordVersion[];
}

/** The standing research policy, as the SDK reads it. */
export type Policy = DataUsePolicy;

export interface Delegate {
  address: string;
  validUntil: number;
}

export interface DashboardData {
  /** The chain's time (latest block), which every expiry is measured against. */
  now: number;
  balance: bigint;
  records: RecordChain[];
  requests: PendingRequest[];
  consents: Consent[];
  policy?: Policy;
  delegates: Delegate[];
  optedOut: boolean;
  /** Emergency windows open now: the provider and until when. */
  emergencyWindows: { provider: string; until: number }[];
  /** Oldest first; the newest AUDIT_DETAILS entries (or all, once asked) have their time and basis. */
  audit: AuditLine[];
  /** Set when batched key releases could not be read (the gateway is unreachable). */
  auditWarning?: string;
  /** The block everything was read at. */
  blockNumber: number;
}

function versionChains(records: RecordVersion[]): RecordChain[] {
  const byId = new Map(records.map((record) => [record.recordId, record]));
  return records
    .filter((record) => !record.superseded)
    .map((latest) => {
      const older: RecordVersion[] = [];
      for (let previous = byId.get(latest.supersedes); previous; previous = byId.get(previous.supersedes))
        older.push(previous);
      return { latest, older };
    })
    .sort((a, b) => b.latest.blockNumber - a.latest.blockNumber);
}

/** Audit entries whose block time and sender a load reads: the newest ones, a fixed number. */
export const AUDIT_DETAILS = 10;
/** Records whose anchoring time a load reads: the newest ones, a fixed number. */
export const RECORD_TIMES = 6;

/**
 * What a page keeps between loads: one reader of the patient's events (each log is read once, then
 * only new blocks), the AuditClients (they remember block times and senders), and the last load with
 * the block it was read at (a reload at the same block asks the node only for the block number).
 */
export interface AuditReaders {
  events: PatientEventReader;
  /** With the custodian's manifests (batched key releases), when there is a gateway. */
  withManifests?: AuditClient;
  /** Without them: the fallback when the gateway is unreachable. */
  plain: AuditClient;
  /** How many audit entries get their time and basis: AUDIT_DETAILS, or all once the person asks. */
  details: number;
  last?: { patient: string; blockNumber: number; details: number; data: DashboardData };
}

export function auditReaders(contracts: LedgerContracts, manifests?: BlobStore): AuditReaders {
  const events = new PatientEventReader(contracts);
  return {
    events,
    withManifests: manifests ? new AuditClient(contracts, manifests, events) : undefined,
    plain: new AuditClient(contracts, undefined, events),
    details: AUDIT_DETAILS,
  };
}

/**
 * Everything, for a fixed number of JSON-RPC calls whatever the length of the chain or of the patient's
 * history (the SDK's PatientEventReader, patientState and AuditClient.trail): the block number; the
 * patient's events in five log queries (none at a block already read, only the new blocks otherwise);
 * every state read in one eth_call; the block times and senders of the newest AUDIT_DETAILS entries and
 * the times of the newest RECORD_TIMES records, each read once per page.
 */
export async function loadDashboard(
  contracts: LedgerContracts,
  patient: string,
  audits: AuditReaders,
): Promise<DashboardData> {
  const blockNumber = await contracts.provider.getBlockNumber();
  const last = audits.last;
  if (last && last.patient === patient && last.blockNumber === blockNumber && last.details === audits.details)
    return last.data;
  const events = await audits.events.read(patient, blockNumber);
  const options = { details: audits.details, toBlock: blockNumber };

  const auditTrail = async (): Promise<{ audit: AuditLine[]; auditWarning?: string }> => {
    if (!audits.withManifests) return { audit: await audits.plain.trail(patient, options) };
    try {
      return { audit: await audits.withManifests.trail(patient, options) };
    } catch (error) {
      const audit = await audits.plain.trail(patient, options);
      return {
        audit,
        auditWarning: `The custodian's gateway did not answer, so key releases it logged in batches are not shown: ${(error as Error).message.split("\n")[0]}`,
      };
    }
  };
  const anchoredHash = new Map(events.anchored.map((event) => [event.args.recordId as string, event.blockHash]));
  const recordTimes = async (records: AnchoredRecord[]): Promise<RecordVersion[]> => {
    const newest = new Set([...records].sort((a, b) => b.blockNumber - a.blockNumber).slice(0, RECORD_TIMES));
    return Promise.all(
      records.map(async (record) => ({
        ...record,
        time: newest.has(record)
          ? await audits.plain.blockTime(record.blockNumber, anchoredHash.get(record.recordId))
          : undefined,
      })),
    );
  };

  // The state, the trail and the records' times each need only the events: all in one round.
  const [state, trail, records] = await Promise.all([
    patientState(contracts, patient, events),
    auditTrail(),
    recordTimes(recordsFromEvents(events.anchored)),
  ]);
  const data: DashboardData = {
    now: state.now,
    balance: state.balance,
    emergencyWindows: state.emergencyWindows,
    records: versionChains(records),
    requests: [...state.requests].sort((a, b) => b.request.openedAt - a.request.openedAt),
    consents: [...state.consents].sort((a, b) => a.validUntil - b.validUntil),
    policy: state.policy,
    delegates: state.delegates.map((entry) => ({ address: entry.delegate, validUntil: entry.validUntil })),
    optedOut: state.optedOut,
    audit: trail.audit,
    auditWarning: trail.auditWarning,
    blockNumber,
  };
  // A load whose gateway failed is not kept: Retry must ask again.
  audits.last = trail.auditWarning ? undefined : { patient, blockNumber, details: audits.details, data };
  return data;
}
