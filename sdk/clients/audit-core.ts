/**
 * The audit trail once for both entries: the patient's events turned into entries, the custodians'
 * release batches read from their manifests and proven against the roots on chain, and each release
 * checked against the chain at its block. It imports neither ethers nor viem: each entry supplies an
 * AuditChain (its event reader, block times, transaction senders, the encoding of two view calls and
 * readBatch's one eth_call).
 */
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";

import { requireAddress } from "../args";
import { ConsentLedgerError, StorageError, StoreUnavailableError } from "../errors";
import { maskOf } from "../codes";
import { ZERO_ADDRESS as ZeroAddress } from "../core/hex";
import { hexToBytes, utf8Decode } from "../crypto/bytes";
import type { BlobStore, StreamingBlobStore } from "../storage/blob-store";
import {
  MAX_CALLS_PER_BATCH,
  type BatchCall,
  type BatchResult,
  type ChainEvent,
  type PatientEventLogs,
} from "./patient-events-core";

type EventLog = ChainEvent;
const getBytes = (hex: string) => hexToBytes(hex, { argument: "manifest" });
const toUtf8String = (bytes: Uint8Array) => utf8Decode(bytes, "the manifest");

/** What the audit trail reads of the chain, through one library. */
export interface AuditChain {
  /** The patient's events up to `toBlock` (the latest when omitted), each family in chain order. */
  readEvents(patient: string, toBlock?: number): Promise<PatientEventLogs>;
  /** The time (unix seconds) of the block with this hash or number. */
  blockTimestamp(block: string | number): Promise<number>;
  /** The sender of a transaction ("" when the node does not know it). */
  senderOf(transactionHash: string): Promise<string>;
  /** The addresses the release checks call: the ledger, and the custodian sets when deployed. */
  ledgerAddress: string;
  custodianSetsAddress?: string;
  encodeCustodianPositionOf(recordId: string, custodian: string): string;
  /** CustodianSets.custodianPositionOf's result: the set id and the position (0 for none). */
  decodeCustodianPositionOf(returnData: string): { setId: number; position: number };
  encodeAccessBasis(patient: string, grantee: string, dataClass: number, purpose: number): string;
  decodeAccessBasis(returnData: string): number;
  /** readBatch of the entry: the calls in one eth_call at `block`. */
  readBatch(calls: readonly BatchCall[], account: string, block: number): Promise<BatchResult>;
}

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
  | "release-batch-unverifiable"
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
  | "researcher"
  | "custodian";

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
  /**
   * For key releases: true only when the chain backs the custodian's entry at its block (the custodian
   * is in the record's custodian set, and the ledger's `accessBasis` for the grantee is the basis
   * logged); false when it does not, or could not be checked: the entry is then only the custodian's
   * claim. Undefined where it was not checked (entries older than `details`). Always false for
   * release-batch-unverifiable.
   */
  verified?: boolean;
  /** In words, why a release is verified or not, or why a batch could not be read. */
  verification?: string;
}

/** The manifest a custodian stores for a batch of logged releases. */
export interface ReleaseManifest {
  format: "consent-ledger/release-batch/v1";
  root: string;
  releases: {
    recordId: string;
    grantee: string;
    purpose: number;
    basis: number;
    releasedAt: number;
    proof: string[];
  }[];
}

/**
 * An entry of `AuditClient.trail`: an AuditEntry whose time (and, where it depends on the transaction's
 * sender, basis) may not be read yet.
 */
export type AuditLine = Omit<AuditEntry, "time" | "basis"> & { time?: number; basis?: AuditBasis };

/** An entry while the trail is built. */
type PendingEntry = AuditLine;

/** The largest release manifest read, in bytes: a bigger one makes its batch unverifiable. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** The longest manifest id read from a batch event, in bytes. */
const MAX_MANIFEST_ID_BYTES = 256;

export const RELEASE_LEAF_TYPES = ["bytes32", "address", "uint8", "uint8", "uint64"] as const;

/**
 * Rebuilds a patient's whole history from the chain's events: records and amendments, consents,
 * requests and decisions, revocations, key releases, emergency openings, delegates and policies.
 * Batched key releases are read from their manifests in `store` (each entry checked against the root
 * logged on chain); without a store, only individually logged releases appear.
 */
export class AuditClientBase {
  constructor(
    private readonly chain: AuditChain,
    readonly store?: BlobStore,
  ) {}

  /**
   * Block times and transaction senders already read, by block hash and transaction hash: neither ever
   * changes, so a client that reads a history again (a page reloading) asks the node only for new ones.
   * Keyed by hash, not number, so a reorganised block is read anew.
   */
  private readonly blockTimes = new Map<string, Promise<number>>();
  private readonly senders = new Map<string, Promise<string>>();
  /** Release manifests already read, by batch root and manifest id. */
  private readonly manifests = new Map<string, Promise<ReleaseManifest>>();

  /** The patient's whole history, every entry with its time and basis, oldest first. */
  async history(patientAddress: string): Promise<AuditEntry[]> {
    return (await this.trail(patientAddress)) as AuditEntry[];
  }

  /**
   * The patient's history, oldest first. The entries come from the patient's events (PatientEventReader:
   * a fixed number of log queries). An entry's time needs its block, and whether the patient acted
   * directly, through a delegate or by a relayed signature needs the sender of its transaction: with
   * `details`, only the newest `details` entries get them (at most that many block and transaction reads,
   * each remembered), and the older ones have `time` and, where it depends on the sender, `basis`
   * undefined until a later call with a larger `details` (or `history`) reads them.
   */
  async trail(patientAddress: string, options: { details?: number; toBlock?: number } = {}): Promise<AuditLine[]> {
    const patient = requireAddress(patientAddress, "patient");
    const events = await this.chain.readEvents(patient, options.toBlock);
    const { granted, revoked, opened, approved, denied, cancelled, anchored, released } = events;

    const recordIds = anchored.map((event) => event.args.recordId as string);
    const recordClass = new Map(anchored.map((event) => [event.args.recordId as string, Number(event.args.dataClass)]));
    const requestTerms = new Map(opened.map((event) => [event.args.requestId as string, event.args.terms]));
    const requestResearcher = new Map(
      opened.map((event) => [event.args.requestId as string, event.args.researcher as string]),
    );
    const approvalTxs = new Set(approved.map((event) => event.transactionHash));

    // Entries whose basis depends on who sent the transaction: the patient (or its delegate) directly, or
    // someone relaying their signature.
    const bySender = new Map<PendingEntry, string>();
    const entries: PendingEntry[] = [];
    const base = (event: EventLog) => ({
      blockNumber: event.blockNumber,
      transactionHash: event.transactionHash,
      logIndex: event.index,
      patient,
    });
    const push = (entry: PendingEntry, actorOfSender?: string) => {
      entries.push(entry);
      if (actorOfSender !== undefined) bySender.set(entry, actorOfSender);
    };

    for (const e of anchored) {
      const amended = e.args.supersedes !== "0x" + "0".repeat(64);
      push({
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
      const byPolicy = actor === ZeroAddress;
      const fromRequest = approvalTxs.has(e.transactionHash);
      push(
        {
          ...base(e),
          action: "consent-granted",
          actor: byPolicy ? patient : actor,
          counterparty: e.args.grantee,
          basis: byPolicy ? "policy" : fromRequest ? "request" : undefined,
          dataClasses: Number(e.args.dataClasses),
          purposes: Number(e.args.purposes),
          validUntil: Number(e.args.validUntil),
        },
        byPolicy || fromRequest ? undefined : actor,
      );
    }
    for (const e of revoked) {
      push({ ...base(e), action: "consent-revoked", actor: e.args.actor, counterparty: e.args.grantee }, e.args.actor);
    }
    for (const e of opened) {
      push({
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
    const decision = (e: EventLog, action: AuditAction) => {
      const terms = requestTerms.get(e.args.requestId);
      const actor: string = e.args.actor;
      const byPolicy = actor === ZeroAddress;
      push(
        {
          ...base(e),
          action,
          actor: byPolicy ? patient : actor,
          basis: byPolicy ? "policy" : undefined,
          requestId: e.args.requestId,
          dataClasses: terms ? Number(terms.dataClasses) : undefined,
          purposes: terms ? maskOf([Number(terms.purpose)]) : undefined,
        },
        byPolicy ? undefined : actor,
      );
    };
    for (const e of approved) decision(e, "request-approved");
    for (const e of denied) decision(e, "request-denied");
    for (const e of cancelled) {
      // Only the researcher who opened a request can cancel it (the ledger checks the sender).
      const terms = requestTerms.get(e.args.requestId);
      push({
        ...base(e),
        action: "request-cancelled",
        actor: requestResearcher.get(e.args.requestId) ?? ZeroAddress,
        basis: "researcher",
        requestId: e.args.requestId,
        dataClasses: terms ? Number(terms.dataClasses) : undefined,
      });
    }
    for (const e of released) {
      const entry: PendingEntry = {
        ...base(e),
        action: "key-released",
        actor: e.args.custodian,
        counterparty: e.args.grantee,
        basis: Number(e.args.basis) === 2 ? "emergency" : "consent",
        recordId: e.args.recordId,
        dataClasses: recordClass.has(e.args.recordId)
          ? maskOf([recordClass.get(e.args.recordId) as number])
          : undefined,
        purposes: maskOf([Number(e.args.purpose)]),
      };
      this.releasePurpose.set(entry, Number(e.args.purpose));
      push(entry);
    }
    for (const e of events.emergencyOpened) {
      push({
        ...base(e),
        action: "emergency-opened",
        actor: e.args.provider,
        counterparty: e.args.provider,
        basis: "emergency",
        validUntil: Number(e.args.until),
      });
    }
    for (const e of events.emergencyClosed) {
      push({
        ...base(e),
        action: "emergency-closed",
        actor: e.args.provider,
        counterparty: e.args.provider,
        basis: "emergency",
      });
    }
    for (const e of events.optOut)
      push({
        ...base(e),
        action: "emergency-opt-out-set",
        actor: patient,
        basis: "patient",
        optedOut: Boolean(e.args.optedOut),
      });
    for (const e of events.appointed) {
      push({
        ...base(e),
        action: "delegate-appointed",
        actor: patient,
        counterparty: e.args.delegate,
        basis: "patient",
        validUntil: Number(e.args.validUntil),
      });
    }
    for (const e of events.removed)
      push({ ...base(e), action: "delegate-removed", actor: patient, counterparty: e.args.delegate, basis: "patient" });
    for (const e of events.policySet) {
      push({
        ...base(e),
        action: "policy-set",
        actor: patient,
        basis: "patient",
        dataClasses: Number(e.args.policy.dataClasses),
        purposes: Number(e.args.policy.purposes),
      });
    }
    for (const e of events.policyCleared)
      push({ ...base(e), action: "policy-cleared", actor: patient, basis: "patient" });

    if (this.store)
      entries.push(...(await this.batchedReleases(events.batches, new Set(recordIds), recordClass, patient)));

    // Chain order; the newest `details` entries get their block's time and their sender.
    entries.sort((a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex);
    const detailed = new Set(entries.slice(Math.max(0, entries.length - (options.details ?? entries.length))));
    const blockHash = new Map<number, string>();
    for (const family of Object.values(events)) {
      if (Array.isArray(family))
        for (const event of family as EventLog[]) blockHash.set(event.blockNumber, event.blockHash);
    }
    const timeOf = (blockNumber: number) => this.blockTime(blockNumber, blockHash.get(blockNumber));
    const senderOf = (hash: string): Promise<string> => {
      if (!this.senders.has(hash)) {
        const sender = this.chain.senderOf(hash);
        sender.catch(() => this.senders.delete(hash));
        this.senders.set(hash, sender);
      }
      return this.senders.get(hash) as Promise<string>;
    };
    // Every block time and sender needed, and the checks of the newest releases, requested together.
    const releases = [...detailed].filter((entry) => entry.action === "key-released");
    await Promise.all([
      this.verifyReleases(releases, patient, recordClass),
      ...[...detailed].map(async (entry) => {
        const [time, sender] = await Promise.all([
          entry.time === undefined ? timeOf(entry.blockNumber) : entry.time,
          bySender.has(entry) ? senderOf(entry.transactionHash) : undefined,
        ]);
        entry.time = time;
        if (sender !== undefined) {
          const actor = bySender.get(entry) as string;
          entry.basis = sender !== actor ? "signature" : actor === patient ? "patient" : "delegate";
        }
      }),
    ]);
    // A batched release happened before the batch that logs it and carries its own time: among the
    // entries with a time, time orders them; those without keep the chain's order, before the others.
    const undated = entries.filter((entry) => entry.time === undefined || !detailed.has(entry));
    const dated = entries
      .filter((entry) => entry.time !== undefined && detailed.has(entry))
      .sort(
        (a, b) => (a.time as number) - (b.time as number) || a.blockNumber - b.blockNumber || a.logIndex - b.logIndex,
      );
    return [...undated, ...dated];
  }

  /** The time of a block (unix seconds), read once per block hash (by number when no hash is given). */
  blockTime(blockNumber: number, blockHash?: string): Promise<number> {
    const key = blockHash ?? String(blockNumber);
    if (!this.blockTimes.has(key)) {
      const time = this.chain.blockTimestamp(blockHash ?? blockNumber);
      time.catch(() => this.blockTimes.delete(key));
      this.blockTimes.set(key, time);
    }
    return this.blockTimes.get(key) as Promise<number>;
  }

  /** The trail as JSON-safe objects (addresses checksummed, times as ISO strings added). */
  static toJson(entries: readonly AuditEntry[]): object[] {
    return entries.map((entry) => ({ ...entry, timeIso: new Date(entry.time * 1000).toISOString() }));
  }

  /**
   * The patient's releases in the custodians' batches. Each batch is read on its own: one whose manifest
   * cannot be read (missing, too large, not a manifest) or that lists an entry of the patient's records
   * its root does not prove becomes one release-batch-unverifiable entry naming the custodian; the others
   * are unaffected.
   */
  private async batchedReleases(
    batches: readonly EventLog[],
    recordIds: Set<string>,
    recordClass: Map<string, number>,
    patient: string,
  ): Promise<PendingEntry[]> {
    const store = this.store as BlobStore;
    // Each manifest once per client: every entry used is still proven against the root on chain below,
    // whatever the store returned.
    const manifestOf = (batch: EventLog): Promise<ReleaseManifest> => {
      const key = `${batch.args.root}:${batch.args.manifest}`;
      if (!this.manifests.has(key)) {
        const reading = (async () => {
          const raw = getBytes(batch.args.manifest);
          if (raw.length > MAX_MANIFEST_ID_BYTES)
            throw new Error(`its manifest id is ${raw.length} bytes, more than ${MAX_MANIFEST_ID_BYTES}`);
          const manifestCid = toUtf8String(raw);
          // A store that can tell the size first is not asked for more than the cap.
          const sized = store as Partial<StreamingBlobStore>;
          let bytes: Uint8Array;
          try {
            const size = typeof sized.sizeOf === "function" ? await sized.sizeOf(manifestCid) : 0;
            if (size > MAX_MANIFEST_BYTES)
              throw new StorageError(`it is ${size} bytes, more than ${MAX_MANIFEST_BYTES}`);
            bytes = await store.get(manifestCid);
          } catch (cause) {
            const why = (cause as Error).message.split("\n")[0];
            // A store that answered (not found, a wrong hash, an HTTP error) says something about this
            // batch; one that could not be reached says nothing about it, and the trail must not pretend.
            if (!(cause instanceof ConsentLedgerError)) {
              throw new StoreUnavailableError(`The release manifests' store could not be reached: ${why}`, { cause });
            }
            throw new Error(`its manifest ${manifestCid} cannot be read: ${why}`, { cause });
          }
          if (bytes.length > MAX_MANIFEST_BYTES)
            throw new Error(`its manifest ${manifestCid} is ${bytes.length} bytes, more than ${MAX_MANIFEST_BYTES}`);
          const manifest = JSON.parse(toUtf8String(bytes)) as ReleaseManifest;
          if (!manifest || !Array.isArray(manifest.releases))
            throw new Error(`its manifest ${manifestCid} lists no releases`);
          return manifest;
        })();
        reading.catch(() => this.manifests.delete(key));
        this.manifests.set(key, reading);
      }
      return this.manifests.get(key) as Promise<ReleaseManifest>;
    };
    const perBatch = await Promise.all(
      batches.map(async (batch): Promise<PendingEntry[]> => {
        const unverifiable = (why: string): PendingEntry => ({
          blockNumber: batch.blockNumber,
          transactionHash: batch.transactionHash,
          logIndex: batch.index,
          patient,
          action: "release-batch-unverifiable",
          actor: batch.args.custodian,
          basis: "custodian",
          releaseBatchRoot: batch.args.root,
          verified: false,
          verification: `Unverifiable release batch by custodian ${batch.args.custodian as string}: ${why}. It may or may not list releases of your records.`,
        });
        let manifest: ReleaseManifest;
        try {
          manifest = await manifestOf(batch);
        } catch (error) {
          if (error instanceof StoreUnavailableError) throw error;
          return [unverifiable((error as Error).message.split("\n")[0])];
        }
        const entries: PendingEntry[] = [];
        let unproven = 0;
        for (const release of manifest.releases) {
          if (!release || !recordIds.has(release.recordId)) continue;
          let proven: boolean;
          try {
            const leaf = [release.recordId, release.grantee, release.purpose, release.basis, release.releasedAt];
            proven = StandardMerkleTree.verify(batch.args.root, [...RELEASE_LEAF_TYPES], leaf, release.proof);
          } catch {
            // A malformed entry (wrong types, no proof) proves nothing.
            proven = false;
          }
          if (!proven || !Number.isSafeInteger(release.releasedAt)) {
            unproven++;
            continue;
          }
          const entry: PendingEntry = {
            blockNumber: batch.blockNumber,
            transactionHash: batch.transactionHash,
            logIndex: batch.index,
            patient,
            action: "key-released",
            actor: batch.args.custodian,
            counterparty: release.grantee,
            basis: release.basis === 2 ? "emergency" : "consent",
            recordId: release.recordId,
            dataClasses: recordClass.has(release.recordId)
              ? maskOf([recordClass.get(release.recordId) as number])
              : undefined,
            purposes: maskOf([release.purpose]),
            releaseBatchRoot: batch.args.root,
            time: Number(release.releasedAt),
          };
          this.releasePurpose.set(entry, Number(release.purpose));
          entries.push(entry);
        }
        if (unproven)
          entries.push(
            unverifiable(
              `it lists ${unproven} entr${unproven === 1 ? "y" : "ies"} of your records that its root does not prove`,
            ),
          );
        return entries;
      }),
    );
    return perBatch.flat();
  }

  /** The purpose code of each release entry, for checking its basis. */
  private readonly releasePurpose = new WeakMap<PendingEntry, number>();

  /**
   * Marks each release entry `verified` or not: at the block of the entry (the batch's block for a
   * batched release), whether the custodian that logged it is in the record's custodian set
   * (CustodianSets.custodianPositionOf) and whether the ledger's accessBasis for the grantee, class and
   * purpose is the basis logged. The checks of one block go in readBatch eth_calls of at most
   * MAX_CALLS_PER_BATCH calls; a block the node cannot answer for leaves its entries unverified, saying why.
   */
  private async verifyReleases(
    releases: PendingEntry[],
    patient: string,
    recordClass: Map<string, number>,
  ): Promise<void> {
    if (!releases.length) return;
    const chain = this.chain;
    const ledgerAddress = chain.ledgerAddress;
    const setsAddress = chain.custodianSetsAddress;
    type Check = { entry: PendingEntry; calls: BatchCall[] };
    const byBlock = new Map<number, Check[]>();
    for (const entry of releases) {
      const dataClass = recordClass.get(entry.recordId as string);
      const purpose = this.releasePurpose.get(entry);
      const calls: BatchCall[] = [];
      if (setsAddress)
        calls.push({
          target: setsAddress,
          data: chain.encodeCustodianPositionOf(entry.recordId as string, entry.actor),
        });
      if (dataClass !== undefined && purpose !== undefined && entry.counterparty)
        calls.push({
          target: ledgerAddress,
          data: chain.encodeAccessBasis(patient, entry.counterparty, dataClass, purpose),
        });
      const list = byBlock.get(entry.blockNumber) ?? [];
      list.push({ entry, calls });
      byBlock.set(entry.blockNumber, list);
    }
    const chunks: { block: number; checks: Check[] }[] = [];
    for (const [block, checks] of byBlock) {
      let chunk: Check[] = [];
      let size = 0;
      for (const check of checks) {
        if (size + check.calls.length > MAX_CALLS_PER_BATCH && chunk.length) {
          chunks.push({ block, checks: chunk });
          chunk = [];
          size = 0;
        }
        chunk.push(check);
        size += check.calls.length;
      }
      if (chunk.length) chunks.push({ block, checks: chunk });
    }
    await Promise.all(
      chunks.map(async ({ block, checks }) => {
        let results: BatchResult["results"];
        try {
          results = (
            await chain.readBatch(
              checks.flatMap((check) => check.calls),
              patient,
              block,
            )
          ).results;
        } catch (error) {
          for (const { entry } of checks) {
            entry.verified = false;
            entry.verification = `Claimed by custodian ${entry.actor}; not checked: the node did not answer for block ${block} (${(error as Error).message.split("\n")[0]}).`;
          }
          return;
        }
        let next = 0;
        for (const { entry, calls } of checks) {
          const mine = results.slice(next, next + calls.length);
          next += calls.length;
          const logged = entry.basis === "emergency" ? 2 : 1;
          let member = false;
          let basisKnown = false;
          let basis = 0;
          for (const [index, call] of calls.entries()) {
            if (!mine[index]?.success) continue;
            if (call.target === setsAddress) {
              const { setId, position } = chain.decodeCustodianPositionOf(mine[index].returnData);
              member = setId !== 0 && position !== 0;
            } else {
              basis = chain.decodeAccessBasis(mine[index].returnData);
              basisKnown = true;
            }
          }
          const basisWords = ["none", "consent", "emergency"][basis] ?? String(basis);
          entry.verified = member && basisKnown && basis === logged;
          if (entry.verified) {
            entry.verification = `Verified: custodian ${entry.actor} guards this record (its custodian set) and the ledger gave ${entry.counterparty} access by ${basisWords} at block ${block}.`;
          } else {
            const reasons = [
              member ? undefined : "nothing on chain ties it to this record",
              !basisKnown
                ? "the ledger's basis could not be read"
                : basis !== logged
                  ? `the ledger's basis at block ${block} was ${basisWords}, not ${entry.basis}`
                  : undefined,
            ].filter(Boolean);
            entry.verification = `Claimed by custodian ${entry.actor}, not verified: ${reasons.join("; ")}.`;
          }
        }
      }),
    );
  }
}
