/**
 * A batch of journaled releases as one Merkle root (OpenZeppelin StandardMerkleTree, leaf types
 * ["bytes32","address","uint8","uint8","uint64"] = (recordId, grantee, purpose, basis, releasedAt)) and
 * its manifest, which lists every release with its proof so anyone holding it can check each entry
 * against the root logged on chain (sdk/clients/audit.ts reads it).
 */
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { getProof } from "@openzeppelin/merkle-tree/dist/core";
import { getAddress } from "ethers";

import { RELEASE_LEAF_TYPES, type ReleaseManifest } from "../sdk/index";
import type { ReleaseRow } from "./store";

export const RELEASE_MANIFEST_FORMAT = "consent-ledger/release-batch/v1";

/** The manifest as the gateway stores it: the format the audit client reads, plus where it was logged. */
export interface GatewayReleaseManifest extends ReleaseManifest {
  chainId: number;
  accessLog: string;
  custodian: string;
}

/** The leaf values of one release, in RELEASE_LEAF_TYPES order. */
export function releaseLeaf(release: Pick<ReleaseRow, "recordId" | "grantee" | "purpose" | "basis" | "releasedAt">) {
  return [release.recordId, getAddress(release.grantee), release.purpose, release.basis, release.releasedAt] as const;
}

/** The root and manifest of `releases` (in this order), and the manifest's bytes as stored. */
export function buildReleaseBatch(
  releases: readonly ReleaseRow[],
  context: { chainId: number; accessLog: string; custodian: string },
): { root: string; manifest: GatewayReleaseManifest; text: string } {
  if (releases.length === 0) throw new Error("an empty release batch");
  const tree = StandardMerkleTree.of(
    releases.map((release) => [...releaseLeaf(release)]),
    [...RELEASE_LEAF_TYPES],
  );
  // The proofs straight from the tree the library built: its getProof(i) would hash the leaf again and
  // check the proof it just made, which doubles the batch's cost (test/gateway/release-batch.test.ts
  // shows both give the same proofs).
  const { tree: nodes, values } = tree.dump();
  const manifest: GatewayReleaseManifest = {
    format: RELEASE_MANIFEST_FORMAT,
    chainId: context.chainId,
    accessLog: context.accessLog,
    custodian: context.custodian,
    root: tree.root,
    releases: releases.map((release, index) => ({
      recordId: release.recordId,
      grantee: getAddress(release.grantee),
      purpose: release.purpose,
      basis: release.basis,
      releasedAt: release.releasedAt,
      proof: getProof(nodes, values[index].treeIndex),
    })),
  };
  return { root: tree.root, manifest, text: JSON.stringify(manifest) };
}

/** Whether every entry of `manifest` is proven by its root (what an auditor checks). */
export function verifyReleaseManifest(manifest: ReleaseManifest): boolean {
  if (manifest.format !== RELEASE_MANIFEST_FORMAT) return false;
  return manifest.releases.every((release) =>
    StandardMerkleTree.verify(manifest.root, [...RELEASE_LEAF_TYPES], [...releaseLeaf(release)], release.proof),
  );
}
