/**
 * Everything the dashboard shows about one patient, read through the SDK: records (recordsOf), pending
 * requests (PatientClient.requests) with each researcher's accreditation, consents in force
 * (PatientClient.consents), the standing policy, delegates, the emergency opt-out, and the audit trail
 * (AuditClient.history, with the custodian's manifests for batched key releases).
 *
 * The policy and a party's accreditation are the SDK's reads (policyOf, accreditationOf); delegates and
 * emergency windows are the ones the audit trail names, checked against the ledger now.
 */
import {
  accreditationOf,
  AuditClient,
  policyOf,
  recordsOf,
  type Accreditation,
  type DataUsePolicy,
  type AnchoredRecord,
  type AuditEntry,
  type BlobStore,
  type Consent,
  type LedgerContracts,
  type PatientClient,
  type RequestView,
} from "consent-ledger";

/** A party's accreditation, as the SDK reads it. */
export type Party = Accreditation;

export interface PendingRequest extends RequestView {
  party: Party;
}

export interface RecordVersion extends AnchoredRecord {
  /** Unix seconds of the block that anchored it. */
  time: number;
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
  /** The purposes it may grant or approve (a bitmask), and whether it may give sensitive classes. */
  purposes: number;
  sensitiveClasses: boolean;
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
  audit: AuditEntry[];
  /** Set when batched key releases could not be read (the gateway is unreachable). */
  auditWarning?: string;
}

export async function partyOf(contracts: LedgerContracts, address: string): Promise<Party> {
  return accreditationOf(contracts, address);
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
    .sort((a, b) => b.latest.time - a.latest.time);
}

/**
 * The AuditClients a page keeps between loads: they remember block times and senders, which never
 * change, so a reload asks the node only about what is new.
 */
export interface AuditReaders {
  /** With the custodian's manifests (batched key releases), when there is a gateway. */
  withManifests?: AuditClient;
  /** Without them: the fallback when the gateway is unreachable. */
  plain: AuditClient;
}

export function auditReaders(contracts: LedgerContracts, manifests?: BlobStore): AuditReaders {
  return {
    withManifests: manifests ? new AuditClient(contracts, manifests) : undefined,
    plain: new AuditClient(contracts),
  };
}

/**
 * Everything, in a fixed number of rounds whatever the length of the chain or of the patient's history:
 * every independent read is started together (a batching provider sends each round as one request), the
 * logs are one filtered query per event family (inside the SDK's readers), and block times come from the
 * audit trail rather than one request per record.
 */
export async function loadDashboard(
  contracts: LedgerContracts,
  me: PatientClient,
  patient: string,
  audits: AuditReaders,
): Promise<DashboardData> {
  const provider = contracts.provider;

  const auditTrail = async (): Promise<{ audit: AuditEntry[]; auditWarning?: string }> => {
    if (!audits.withManifests) return { audit: await audits.plain.history(patient) };
    try {
      return { audit: await audits.withManifests.history(patient) };
    } catch (error) {
      const audit = await audits.plain.history(patient);
      return {
        audit,
        auditWarning: `The custodian's gateway did not answer, so key releases it logged in batches are not shown: ${(error as Error).message.split("\n")[0]}`,
      };
    }
  };

  const [latest, balance, anchored, pending, consents, policy, optedOut, trail] = await Promise.all([
    provider.getBlock("latest"),
    provider.getBalance(patient),
    recordsOf(contracts, patient),
    me.requests({ patient }),
    me.consents({ patient }),
    policyOf(contracts, patient),
    contracts.ledger.emergencyOptedOut(patient),
    auditTrail(),
  ]);
  const now = latest?.timestamp ?? Math.floor(Date.now() / 1000);

  // A record's time is its anchoring's, which the trail already has.
  const anchoredAt = new Map(
    trail.audit
      .filter((entry) => entry.recordId && (entry.action === "record-anchored" || entry.action === "record-amended"))
      .map((entry) => [entry.recordId as string, entry.time]),
  );
  const blockTime = async (record: AnchoredRecord) =>
    anchoredAt.get(record.recordId) ?? (await provider.getBlock(record.blockNumber))?.timestamp ?? 0;

  // Delegates: everyone the trail shows appointed, still appointed now according to the ledger.
  const candidates = [
    ...new Set(
      trail.audit.filter((entry) => entry.action === "delegate-appointed").map((entry) => entry.counterparty as string),
    ),
  ];
  // Emergency windows: every provider the trail shows breaking the glass, still open now per the ledger.
  const openers = [
    ...new Set(trail.audit.filter((entry) => entry.action === "emergency-opened").map((entry) => entry.actor)),
  ];
  const researchers = [...new Set(pending.map((view) => view.request.researcher))];

  // The second and last round: every state read that depends on the first, together.
  const [recordTimes, parties, appointments, windowUntil] = await Promise.all([
    Promise.all(anchored.map(blockTime)),
    Promise.all(researchers.map((address) => partyOf(contracts, address))),
    Promise.all(candidates.map((address) => contracts.ledger.delegateOf(patient, address))),
    Promise.all(openers.map((address) => contracts.ledger.emergencyAccessUntil(patient, address))),
  ]);
  const records = versionChains(anchored.map((record, index) => ({ ...record, time: recordTimes[index] })));
  const partyBy = new Map(researchers.map((address, index) => [address, parties[index]]));
  const requests = pending.map((view) => ({ ...view, party: partyBy.get(view.request.researcher) as Party }));
  const delegates = candidates
    .map((address, index) => ({
      address,
      validUntil: Number(appointments[index].validUntil),
      purposes: Number(appointments[index].purposes),
      sensitiveClasses: appointments[index].sensitiveClasses,
    }))
    .filter((delegate) => delegate.validUntil > now);
  const emergencyWindows = openers
    .map((provider, index) => ({ provider, until: Number(windowUntil[index]) }))
    .filter((window) => window.until > now);

  return {
    now,
    balance,
    emergencyWindows,
    records,
    requests: requests.sort((a, b) => b.request.openedAt - a.request.openedAt),
    consents: consents.sort((a, b) => a.validUntil - b.validUntil),
    policy,
    delegates,
    optedOut,
    audit: trail.audit,
    auditWarning: trail.auditWarning,
  };
}
