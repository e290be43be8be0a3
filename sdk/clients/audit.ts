import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { toUtf8String, type EventLog } from "ethers";

import { requireAddress } from "../args";
import { maskOf } from "../codes";
import type { LedgerContracts } from "../chain/connect";
import type { BlobStore } from "../storage/blob-store";
import { ConsentLedgerError } from "../errors";

/** Every kind of change in a patient's history. */
export type AuditAction =
  | "record-anchored"
  | "record-amended"
  | "consent-granted"
  | "consent-revoked"
  | "request-opened"
  | "request-approved"
  | "request-denied"
  | "request-cancelled"
  | "key-released"
  | "emergency-opened"
  | "emergency-closed"
  | "emergency-opt-out-set"
  | "delegate-appointed"
  | "delegate-removed"
  | "policy-set"
  | "policy-cleared";

/** On what footing an action happened, for a reader of the trail. */
export type AuditBasis =
  | "patient"
  | "delegate"
  | "signature"
  | "policy"
  | "request"
  | "consent"
  | "emergency"
  | "provider"
  | "researcher";

/** One line of a patient's audit trail, rebuilt from one event. */
export interface AuditEntry {
  action: AuditAction;
  /** Unix seconds of the block. */
  time: number;
  blockNumber: number;
  transactionHash: string;
  logIndex: number;
  patient: string;
  /** Who did it: the patient, a delegate, a signer, a provider, a researcher, a custodian. */
  actor: string;
  /** Whom it concerns: the grantee, researcher, provider or delegate. */
  counterparty?: string;
  basis: AuditBasis;
  recordId?: string;
  requestId?: string;
  /** Bitmask of data classes concerned. */
  dataClasses?: number;
  /** Bitmask of purposes concerned. */
  purposes?: number;
  validUntil?: number;
  /** Set for key releases logged in a batch: the root the entry is proven against. */
  releaseBatchRoot?: string;
  /** For emergency-opt-out-set: whether the patient opted out (true) or back in (false). */
  optedOut?: boolean;
}

/** The manifest a custodian stores for a batch of logged releases. */
export interface ReleaseManifest {
  format: "consent-ledger/release-batch/v1";
  root: string;
  releases: { recordId: string; grantee: string; purpose: number; basis: number; releasedAt: number; proof: string[] }[];
}

/** An entry before block times are known; batched releases already carry theirs. */
type PendingEntry = Omit<AuditEntry, "time"> & { time?: number };

export const RELEASE_LEAF_TYPES = ["bytes32", "address", "uint8", "uint8", "uint64"] as const;

/**
 * Rebuilds a patient's whole history from the chain's events: records and amendments, consents,
 * requests and decisions, revocations, key releases, emergency openings, delegates and policies.
 * Batched key releases are read from their manifests in `store` (each entry checked against the root
 * logged on chain); without a store, only individually logged releases appear.
 */
export class AuditClient {
  constructor(
    readonly contracts: LedgerContracts,
    readonly store?: BlobStore,
  ) {}

  /**
   * Block times and transaction senders already read, by block hash and transaction hash: neither ever
   * changes, so a client that reads a history again (a page reloading) asks the node only for new ones.
   * Keyed by hash, not number, so a reorganised block is read anew.
   */
  private readonly blockTimes = new Map<string, Promise<number>>();
  private readonly senders = new Map<string, Promise<string>>();

  async history(patientAddress: string): Promise<AuditEntry[]> {
    const patient = requireAddress(patientAddress, "patient");
    const { ledger, records, accessLog } = this.contracts;
    const from = this.contracts.deployment.deployedAtBlock ?? 0;
    const q = (contract: typeof ledger | typeof records | typeof accessLog, filter: unknown) =>
      contract.queryFilter(filter as never, from) as unknown as Promise<EventLog[]>;

    const [
      granted,
      revoked,
      opened,
      approved,
      denied,
      cancelled,
      emergencyOpened,
      emergencyClosed,
      optOut,
      appointed,
      removed,
      policySet,
      policyCleared,
      anchored,
    ] = await Promise.all([
      q(ledger, ledger.filters.ConsentGranted(patient)),
      q(ledger, ledger.filters.ConsentRevoked(patient)),
      q(ledger, ledger.filters.RequestOpened(undefined, patient)),
      q(ledger, ledger.filters.RequestApproved(undefined, patient)),
      q(ledger, ledger.filters.RequestDenied(undefined, patient)),
      q(ledger, ledger.filters.RequestCancelled(undefined, patient)),
      q(ledger, ledger.filters.EmergencyAccessOpened(patient)),
      q(ledger, ledger.filters.EmergencyAccessClosed(patient)),
      q(ledger, ledger.filters.EmergencyOptOutSet(patient)),
      q(ledger, ledger.filters.DelegateAppointed(patient)),
      q(ledger, ledger.filters.DelegateRemoved(patient)),
      q(ledger, ledger.filters.PolicySet(patient)),
      q(ledger, ledger.filters.PolicyCleared(patient)),
      q(records, records.filters.RecordAnchored(undefined, patient)),
    ]);

    const recordIds = anchored.map((event) => event.args.recordId as string);
    const recordClass = new Map(anchored.map((event) => [event.args.recordId as string, Number(event.args.dataClass)]));
    const requestTerms = new Map(opened.map((event) => [event.args.requestId as string, event.args.terms]));
    const approvalTxs = new Set(approved.map((event) => event.transactionHash));
    const senderOf = (hash: string): Promise<string> => {
      if (!this.senders.has(hash)) {
        const sender = this.contracts.provider.getTransaction(hash).then((tx) => tx?.from ?? "");
        sender.catch(() => this.senders.delete(hash));
        this.senders.set(hash, sender);
      }
      return this.senders.get(hash) as Promise<string>;
    };
    // Every sender the entries below may ask for, requested together: one round trip for a batching
    // provider, however long the history, instead of one per decision.
    await Promise.all([...granted, ...revoked, ...approved, ...denied, ...cancelled].map((event) => senderOf(event.transactionHash)));

    const released = recordIds.length
      ? await q(accessLog, accessLog.filters.KeyReleased(recordIds as never))
      : ([] as EventLog[]);

    const entries: PendingEntry[] = [];
    const base = (event: EventLog) => ({
      blockNumber: event.blockNumber,
      transactionHash: event.transactionHash,
      logIndex: event.index,
      patient,
    });
    const actorBasis = async (event: EventLog, actor: string): Promise<AuditBasis> => {
      if (actor === patient) return (await senderOf(event.transactionHash)) === patient ? "patient" : "signature";
      return (await senderOf(event.transactionHash)) === actor ? "delegate" : "signature";
    };

    for (const e of anchored) {
      const amended = e.args.supersedes !== "0x" + "0".repeat(64);
      entries.push({
        ...base(e),
        action: amended ? "record-amended" : "record-anchored",
        actor: e.args.provider,
        basis: "provider",
        recordId: e.args.recordId,
        dataClasses: maskOf([Number(e.args.dataClass)]),
      });
    }
    for (const e of granted) {
      const actor: string = e.args.actor;
      const fromRequest = approvalTxs.has(e.transactionHash);
      entries.push({
        ...base(e),
        action: "consent-granted",
        actor: actor === "0x0000000000000000000000000000000000000000" ? patient : actor,
        counterparty: e.args.grantee,
        basis: actor === "0x0000000000000000000000000000000000000000" ? "policy" : fromRequest ? "request" : await actorBasis(e, actor),
        dataClasses: Number(e.args.dataClasses),
        purposes: Number(e.args.purposes),
        validUntil: Number(e.args.validUntil),
      });
    }
    for (const e of revoked) {
      entries.push({ ...base(e), action: "consent-revoked", actor: e.args.actor, counterparty: e.args.grantee, basis: await actorBasis(e, e.args.actor) });
    }
    for (const e of opened) {
      entries.push({
        ...base(e),
        action: "request-opened",
        actor: e.args.researcher,
        counterparty: e.args.researcher,
        basis: "researcher",
        requestId: e.args.requestId,
        dataClasses: Number(e.args.terms.dataClasses),
        purposes: maskOf([Number(e.args.terms.purpose)]),
      });
    }
    const decision = async (e: EventLog, action: AuditAction) => {
      const terms = requestTerms.get(e.args.requestId);
      const actor: string = e.args.actor;
      const byPolicy = actor === "0x0000000000000000000000000000000000000000";
      entries.push({
        ...base(e),
        action,
        actor: byPolicy ? patient : actor,
        basis: byPolicy ? "policy" : await actorBasis(e, actor),
        requestId: e.args.requestId,
        dataClasses: terms ? Number(terms.dataClasses) : undefined,
        purposes: terms ? maskOf([Number(terms.purpose)]) : undefined,
      });
    };
    for (const e of approved) await decision(e, "request-approved");
    for (const e of denied) await decision(e, "request-denied");
    for (const e of cancelled) {
      const terms = requestTerms.get(e.args.requestId);
      entries.push({ ...base(e), action: "request-cancelled", actor: await senderOf(e.transactionHash), basis: "researcher", requestId: e.args.requestId, dataClasses: terms ? Number(terms.dataClasses) : undefined });
    }
    for (const e of released) {
      entries.push({
        ...base(e),
        action: "key-released",
        actor: e.args.custodian,
        counterparty: e.args.grantee,
        basis: Number(e.args.basis) === 2 ? "emergency" : "consent",
        recordId: e.args.recordId,
        dataClasses: recordClass.has(e.args.recordId) ? maskOf([recordClass.get(e.args.recordId) as number]) : undefined,
        purposes: maskOf([Number(e.args.purpose)]),
      });
    }
    for (const e of emergencyOpened) {
      entries.push({ ...base(e), action: "emergency-opened", actor: e.args.provider, counterparty: e.args.provider, basis: "emergency", validUntil: Number(e.args.until) });
    }
    for (const e of emergencyClosed) {
      entries.push({ ...base(e), action: "emergency-closed", actor: e.args.provider, counterparty: e.args.provider, basis: "emergency" });
    }
    for (const e of optOut) entries.push({ ...base(e), action: "emergency-opt-out-set", actor: patient, basis: "patient", optedOut: Boolean(e.args.optedOut) });
    for (const e of appointed) {
      entries.push({ ...base(e), action: "delegate-appointed", actor: patient, counterparty: e.args.delegate, basis: "patient", validUntil: Number(e.args.validUntil) });
    }
    for (const e of removed) entries.push({ ...base(e), action: "delegate-removed", actor: patient, counterparty: e.args.delegate, basis: "patient" });
    for (const e of policySet) {
      entries.push({ ...base(e), action: "policy-set", actor: patient, basis: "patient", dataClasses: Number(e.args.policy.dataClasses), purposes: Number(e.args.policy.purposes) });
    }
    for (const e of policyCleared) entries.push({ ...base(e), action: "policy-cleared", actor: patient, basis: "patient" });

    if (this.store) entries.push(...(await this.batchedReleases(new Set(recordIds), recordClass, patient)));

    // Block times requested together (one round trip for a batching provider), each block once ever.
    const blockOf = new Map<number, string>();
    for (const event of [...granted, ...revoked, ...opened, ...approved, ...denied, ...cancelled, ...emergencyOpened, ...emergencyClosed, ...optOut, ...appointed, ...removed, ...policySet, ...policyCleared, ...anchored, ...released]) {
      blockOf.set(event.blockNumber, event.blockHash);
    }
    const times = new Map<number, number>();
    await Promise.all(
      [...new Set(entries.filter((entry) => entry.time === undefined).map((entry) => entry.blockNumber))].map(async (blockNumber) => {
        const hash = blockOf.get(blockNumber) ?? String(blockNumber);
        if (!this.blockTimes.has(hash)) {
          const time = this.contracts.provider.getBlock(blockOf.get(blockNumber) ?? blockNumber).then((block) => Number(block?.timestamp ?? 0));
          time.catch(() => this.blockTimes.delete(hash));
          this.blockTimes.set(hash, time);
        }
        times.set(blockNumber, await (this.blockTimes.get(hash) as Promise<number>));
      }),
    );
    // A batched release happened before the batch that logs it: it takes its own time from the manifest.
    return entries
      .map((entry) => ({ ...entry, time: entry.time ?? (times.get(entry.blockNumber) as number) }))
      .sort((a, b) => a.time - b.time || a.blockNumber - b.blockNumber || a.logIndex - b.logIndex);
  }

  /** The trail as JSON-safe objects (addresses checksummed, times as ISO strings added). */
  static toJson(entries: readonly AuditEntry[]): object[] {
    return entries.map((entry) => ({ ...entry, timeIso: new Date(entry.time * 1000).toISOString() }));
  }

  private async batchedReleases(
    recordIds: Set<string>,
    recordClass: Map<string, number>,
    patient: string,
  ): Promise<PendingEntry[]> {
    const store = this.store as BlobStore;
    const batches = (await this.contracts.accessLog.queryFilter(
      this.contracts.accessLog.filters.KeyReleaseBatchLogged(),
      this.contracts.deployment.deployedAtBlock ?? 0,
    )) as unknown as EventLog[];
    const entries: PendingEntry[] = [];
    for (const batch of batches) {
      const manifestCid = toUtf8String(batch.args.manifest);
      let manifest: ReleaseManifest;
      try {
        manifest = JSON.parse(toUtf8String(await store.get(manifestCid))) as ReleaseManifest;
      } catch (cause) {
        throw new ConsentLedgerError(`Cannot read the manifest ${manifestCid} of release batch ${batch.args.root}`, {
          hint: "Read the history with the store the custodian publishes its manifests to.",
          cause,
        });
      }
      for (const release of manifest.releases ?? []) {
        if (!recordIds.has(release.recordId)) continue;
        const leaf = [release.recordId, release.grantee, release.purpose, release.basis, release.releasedAt];
        if (!StandardMerkleTree.verify(batch.args.root, [...RELEASE_LEAF_TYPES], leaf, release.proof)) {
          throw new ConsentLedgerError(`Release batch ${batch.args.root} lists an entry its root does not prove`, {
            details: JSON.stringify(release),
          });
        }
        entries.push({
          blockNumber: batch.blockNumber,
          transactionHash: batch.transactionHash,
          logIndex: batch.index,
          patient,
          action: "key-released",
          actor: batch.args.custodian,
          counterparty: release.grantee,
          basis: release.basis === 2 ? "emergency" : "consent",
          recordId: release.recordId,
          dataClasses: recordClass.has(release.recordId) ? maskOf([recordClass.get(release.recordId) as number]) : undefined,
          purposes: maskOf([release.purpose]),
          releaseBatchRoot: batch.args.root,
          time: Number(release.releasedAt),
        });
      }
    }
    return entries;
  }
}
