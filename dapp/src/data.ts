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
      for (let previous = byId.get(latest.supersedes); previous; previous = byId.get(previous.supersedes)) older.push(previous);
      return { latest, older };
    })
    .sort((a, b) => b.latest.time - a.latest.time);
}

export async function loadDashboard(
  contracts: LedgerContracts,
  me: PatientClient,
  patient: string,
  manifests?: BlobStore,
): Promise<DashboardData> {
  const provider = contracts.provider;
  const latest = await provider.getBlock("latest");
  const now = latest?.timestamp ?? Math.floor(Date.now() / 1000);

  const parties = new Map<string, Promise<Party>>();
  const party = (address: string) => {
    if (!parties.has(address)) parties.set(address, partyOf(contracts, address));
    return parties.get(address) as Promise<Party>;
  };
  const blockTimes = new Map<number, Promise<number>>();
  const blockTime = (blockNumber: number) => {
    if (!blockTimes.has(blockNumber)) blockTimes.set(blockNumber, provider.getBlock(blockNumber).then((block) => block?.timestamp ?? 0));
    return blockTimes.get(blockNumber) as Promise<number>;
  };

  const auditTrail = async (): Promise<{ audit: AuditEntry[]; auditWarning?: string }> => {
    if (!manifests) return { audit: await new AuditClient(contracts).history(patient) };
    try {
      return { audit: await new AuditClient(contracts, manifests).history(patient) };
    } catch (error) {
      const audit = await new AuditClient(contracts).history(patient);
      return { audit, auditWarning: `Key releases the custodian logged in batches are not shown: ${(error as Error).message.split("\n")[0]}` };
    }
  };

  const [balance, anchored, pending, consents, policy, optedOut, trail] = await Promise.all([
    provider.getBalance(patient),
    recordsOf(contracts, patient),
    me.requests({ patient }),
    me.consents({ patient }),
    policyOf(contracts, patient),
    contracts.ledger.emergencyOptedOut(patient),
    auditTrail(),
  ]);
  const records = versionChains(await Promise.all(anchored.map(async (record) => ({ ...record, time: await blockTime(record.blockNumber) }))));
  const requests = await Promise.all(
    pending.map(async (view) => ({ ...view, party: await party(view.request.researcher) })),
  );

  // Delegates: everyone the trail shows appointed, still appointed now according to the ledger.
  const candidates = [...new Set(trail.audit.filter((entry) => entry.action === "delegate-appointed").map((entry) => entry.counterparty as string))];
  const delegates = (
    await Promise.all(candidates.map(async (address) => ({ address, validUntil: Number(await contracts.ledger.delegateUntil(patient, address)) })))
  ).filter((delegate) => delegate.validUntil > now);

  // Emergency windows: every provider the trail shows breaking the glass, still open now per the ledger.
  const openers = [...new Set(trail.audit.filter((entry) => entry.action === "emergency-opened").map((entry) => entry.actor))];
  const emergencyWindows = (
    await Promise.all(openers.map(async (provider) => ({ provider, until: Number(await contracts.ledger.emergencyAccessUntil(patient, provider)) })))
  ).filter((window) => window.until > now);

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
