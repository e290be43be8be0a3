/**
 * Re-sync of a custodian's ciphertext copies from the other custodians of its sets, after its data
 * directory was lost (or a blob was deleted or damaged).
 *
 * What this custodian should hold is read from the chain, never from a peer: every
 * RecordCustodiansAssigned event to a set naming this custodian (CustodianSetDefined), kept only while
 * the record's current set still names it (custodianPositionOf at the latest block), and only for the
 * providers this gateway serves (as a deposit would be). For each record whose ciphertext is missing
 * here, the peers are asked in turn (`GET /records/:id/ciphertext`, logged in as this custodian); bytes
 * are kept only if they hash to the record id (the blob store is content-addressed by it) and pass
 * verifyEnvelopeOnChain against the record's anchor. A peer that serves anything else is named in the
 * report and the next peer is asked.
 *
 * Shares are not re-synced, and cannot be: each custodian's share differs, and a peer never holds or
 * sees another custodian's share. A re-synced record is held with no share (0 bytes of key material)
 * until its provider deposits this custodian's share again (CustodianSetClient.depositKey, which
 * re-splits the key for the whole set); until then the share route answers 409 ShareNotDeposited.
 */
import { getAddress, type Signer } from "ethers";

import {
  GatewayClient,
  recordIdFromCid,
  recordIdOf,
  verifyEnvelopeOnChain,
  type BlobStore,
  type LedgerContracts,
} from "../sdk/index";
import type { GatewayStore } from "./store";

export interface ResyncLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

export interface ResyncOptions {
  contracts: LedgerContracts;
  /** This custodian's account. */
  custodian: string;
  /** Signs this custodian's logins to its peers. */
  signer: Signer;
  store: GatewayStore;
  blobs: BlobStore;
  /** Providers whose records this gateway keeps (the custodian itself and --provider). */
  providers: readonly string[];
  /** The peers' gateway URLs (other custodians of the same sets), asked in this order. */
  peers: readonly string[];
  /** From this block on (default: the deployment's deployedAtBlock, or 0). */
  fromBlock?: number;
  log?: ResyncLogger;
  /** Checked between records: resync stops early once it returns true (the gateway is closing). */
  stopped?: () => boolean;
}

export interface ResyncFailure {
  recordId: string;
  /** What each peer answered, in the order asked. */
  attempts: { peer: string; reason: string }[];
}

export interface ResyncReport {
  /** Records whose current set names this custodian (of the providers it serves). */
  assigned: number;
  /** Already held here intact. */
  held: number;
  /** Fetched from a peer and verified: record id and the peer's URL. */
  fetched: { recordId: string; peer: string }[];
  /** No peer served verified bytes. */
  failed: ResyncFailure[];
  /** Assigned records of providers this gateway does not serve (skipped, as a deposit would be refused). */
  notServed: string[];
  /** Records held with no share: their provider must deposit this custodian's share again. */
  awaitingShare: string[];
}

/** The record ids whose current custodian set names `custodian`, from the chain's events. */
export async function recordsAssignedTo(
  contracts: LedgerContracts,
  custodian: string,
  fromBlock = contracts.deployment.deployedAtBlock ?? 0,
): Promise<string[]> {
  const sets = contracts.custodianSets;
  if (!sets) return [];
  const me = getAddress(custodian);
  const definitions = await sets.queryFilter(sets.filters.CustodianSetDefined(), fromBlock);
  const mine = definitions
    .filter((event) => (event.args.custodians as string[]).some((member) => getAddress(member) === me))
    .map((event) => event.args.setId as bigint);
  if (mine.length === 0) return [];
  const assignments = (
    await Promise.all(
      mine.map((setId) => sets.queryFilter(sets.filters.RecordCustodiansAssigned(undefined, setId), fromBlock)),
    )
  ).flat();
  const candidates = [...new Set(assignments.map((event) => (event.args.recordId as string).toLowerCase()))];
  // Only the current assignment counts: a record re-shared away from this custodian is not its to hold.
  const positions = await Promise.all(candidates.map((recordId) => sets.custodianPositionOf(recordId, me)));
  return candidates.filter((_, index) => positions[index][2] !== 0n);
}

async function holdsIntact(blobs: BlobStore, cid: string): Promise<boolean> {
  try {
    await blobs.get(cid);
    return true;
  } catch {
    return false;
  }
}

function reasonOf(error: unknown): string {
  const { name, message } = (error as Error) ?? {};
  const details = (error as { details?: string })?.details;
  return `${name ?? "Error"}: ${String(message ?? error).split("\n")[0]}${details ? ` (${details})` : ""}`;
}

/** Fetches every missing ciphertext copy from the peers; see the module comment. */
export async function resyncFromPeers(options: ResyncOptions): Promise<ResyncReport> {
  const { contracts, custodian, store, blobs, log } = options;
  const served = new Set(options.providers.map((provider) => getAddress(provider)));
  const peers = options.peers.map((url) => ({ url, client: new GatewayClient(url, options.signer, contracts) }));
  const report: ResyncReport = { assigned: 0, held: 0, fetched: [], failed: [], notServed: [], awaitingShare: [] };
  const recordIds = await recordsAssignedTo(contracts, custodian, options.fromBlock);
  for (const recordId of recordIds) {
    if (options.stopped?.()) break;
    const existing = store.getRecord(recordId);
    if (existing && existing.keyCiphertext.length === 0) report.awaitingShare.push(recordId);
    if (existing && (await holdsIntact(blobs, existing.cid))) {
      report.assigned++;
      report.held++;
      continue;
    }
    report.assigned++;
    const attempts: ResyncFailure["attempts"] = [];
    let done = false;
    for (const peer of peers) {
      if (options.stopped?.()) break;
      try {
        const envelope = await peer.client.fetchCiphertext(recordId);
        const actual = await recordIdOf(envelope);
        if (actual !== recordId)
          throw new Error(`IntegrityError: it served bytes hashing to ${actual}, not to record ${recordId}`);
        const { context } = await verifyEnvelopeOnChain(contracts, envelope, { expectedRecordId: recordId });
        if (!served.has(getAddress(context.provider))) {
          report.notServed.push(recordId);
          report.assigned--;
          done = true;
          break;
        }
        const cid = await blobs.put(envelope);
        if (recordIdFromCid(cid) !== recordId)
          throw new Error(`the blob store returned CID ${cid} for record ${recordId}`);
        if (!existing) {
          // No share: only the provider can give this custodian its share again.
          store.insertRecord({
            recordId,
            cid,
            provider: context.provider,
            patient: context.patient,
            dataClass: context.dataClass,
            version: context.version,
            keyIv: new Uint8Array(0),
            keyCiphertext: new Uint8Array(0),
            depositedBy: getAddress(custodian),
            depositedAt: Date.now(),
          });
          report.awaitingShare.push(recordId);
        }
        report.fetched.push({ recordId, peer: peer.url });
        log?.info({ recordId, peer: peer.url, cid }, "ciphertext re-synced from a peer");
        done = true;
        break;
      } catch (error) {
        attempts.push({ peer: peer.url, reason: reasonOf(error) });
        log?.warn(
          { recordId, peer: peer.url, reason: reasonOf(error) },
          "a peer did not serve the record's verified ciphertext",
        );
      }
    }
    if (!done) report.failed.push({ recordId, attempts });
  }
  log?.info(
    {
      assigned: report.assigned,
      held: report.held,
      fetched: report.fetched.length,
      failed: report.failed.length,
      awaitingShare: report.awaitingShare.length,
    },
    "re-sync from peers finished",
  );
  return report;
}
