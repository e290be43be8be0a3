/**
 * Compares a gateway's release journal with what the chain's AccessLog says the custodian logged: every
 * KeyReleased event, and every leaf of every KeyReleaseBatchLogged manifest (each proof checked against
 * the logged root). Used by the gateway tests and the load test: they must agree as multisets, with no
 * root logged twice.
 */
import { toUtf8String } from "ethers";

import type { LedgerContracts } from "../../sdk/chain/connect";
import type { ReleaseManifest } from "../../sdk/clients/audit";
import { verifyReleaseManifest } from "../../gateway/release-batch";
import type { ReleaseRow } from "../../gateway/store";

export interface OnChainRelease {
  recordId: string;
  grantee: string;
  purpose: number;
  basis: number;
  /** Only batched entries carry it. */
  releasedAt?: number;
  txHash: string;
  root?: string;
}

export interface AccessLogComparison {
  journal: number;
  onChain: number;
  singles: number;
  batches: number;
  /** Journal entries the chain does not show. */
  missing: string[];
  /** Chain entries the journal does not have (a duplicate log shows here). */
  extra: string[];
  /** Roots logged more than once. */
  duplicateRoots: string[];
  /** Manifests whose proofs do not verify against their root, or whose count differs. */
  badManifests: string[];
  releases: OnChainRelease[];
}

const keyOf = (release: { recordId: string; grantee: string; purpose: number; basis: number }) =>
  `${release.recordId.toLowerCase()}|${release.grantee.toLowerCase()}|${release.purpose}|${release.basis}`;

/** Everything `custodian` logged since `fromBlock`, manifests read through `manifestOf(cid)`. */
export async function onChainReleases(
  contracts: LedgerContracts,
  custodian: string,
  manifestOf: (cid: string) => Promise<ReleaseManifest>,
  fromBlock = contracts.deployment.deployedAtBlock ?? 0,
): Promise<{
  releases: OnChainRelease[];
  singles: number;
  batches: number;
  duplicateRoots: string[];
  badManifests: string[];
}> {
  const { accessLog } = contracts;
  const [singles, batches] = await Promise.all([
    accessLog.queryFilter(accessLog.filters.KeyReleased(undefined, undefined, custodian), fromBlock),
    accessLog.queryFilter(accessLog.filters.KeyReleaseBatchLogged(undefined, custodian), fromBlock),
  ]);
  const releases: OnChainRelease[] = singles.map((event) => ({
    recordId: event.args.recordId,
    grantee: event.args.grantee,
    purpose: Number(event.args.purpose),
    basis: Number(event.args.basis),
    txHash: event.transactionHash,
  }));
  const seenRoots = new Map<string, number>();
  const badManifests: string[] = [];
  for (const event of batches) {
    const root = event.args.root;
    seenRoots.set(root, (seenRoots.get(root) ?? 0) + 1);
    const cid = toUtf8String(event.args.manifest);
    const manifest = await manifestOf(cid);
    if (
      manifest.root !== root ||
      !verifyReleaseManifest(manifest) ||
      manifest.releases.length !== Number(event.args.releaseCount)
    ) {
      badManifests.push(cid);
    }
    for (const release of manifest.releases) releases.push({ ...release, txHash: event.transactionHash, root });
  }
  const duplicateRoots = [...seenRoots].filter(([, count]) => count > 1).map(([root]) => root);
  return { releases, singles: singles.length, batches: batches.length, duplicateRoots, badManifests };
}

/** The journal against the chain; see the module comment. */
export async function compareJournalWithChain(
  contracts: LedgerContracts,
  custodian: string,
  journal: readonly ReleaseRow[],
  manifestOf: (cid: string) => Promise<ReleaseManifest>,
): Promise<AccessLogComparison> {
  const chain = await onChainReleases(contracts, custodian, manifestOf);
  const remaining = new Map<string, number>();
  for (const release of chain.releases) remaining.set(keyOf(release), (remaining.get(keyOf(release)) ?? 0) + 1);
  const missing: string[] = [];
  for (const entry of journal) {
    const key = keyOf(entry);
    const count = remaining.get(key) ?? 0;
    if (count === 0) missing.push(`${entry.id}:${key}`);
    else remaining.set(key, count - 1);
  }
  const extra = [...remaining].filter(([, count]) => count > 0).map(([key, count]) => `${key} x${count}`);
  return {
    journal: journal.length,
    onChain: chain.releases.length,
    singles: chain.singles,
    batches: chain.batches,
    missing,
    extra,
    duplicateRoots: chain.duplicateRoots,
    badManifests: chain.badManifests,
    releases: chain.releases,
  };
}

/** Manifests fetched from a gateway's public endpoint. */
export function manifestsFrom(gatewayUrl: string): (cid: string) => Promise<ReleaseManifest> {
  return async (cid) => {
    const response = await fetch(`${gatewayUrl}/manifests/${cid}`);
    if (!response.ok) throw new Error(`GET /manifests/${cid}: HTTP ${response.status}`);
    return (await response.json()) as ReleaseManifest;
  };
}
