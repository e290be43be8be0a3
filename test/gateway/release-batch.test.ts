import { expect } from "chai";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { Wallet, hexlify, randomBytes } from "ethers";

import { RELEASE_LEAF_TYPES } from "../../sdk/clients/audit";
import { buildReleaseBatch, releaseLeaf, verifyReleaseManifest } from "../../gateway/release-batch";
import type { ReleaseRow } from "../../gateway/store";

const CONTEXT = { chainId: 31337, accessLog: Wallet.createRandom().address, custodian: Wallet.createRandom().address };

function releases(count: number): ReleaseRow[] {
  return Array.from({ length: count }, (_, id) => ({
    id,
    recordId: hexlify(randomBytes(32)),
    grantee: Wallet.createRandom().address.toLowerCase(),
    purpose: 1 + (id % 5),
    basis: 1 + (id % 2),
    releasedAt: 1_700_000_000 + id,
    checkedBlock: id,
    checkedBlockHash: hexlify(randomBytes(32)),
    requestedAt: id,
  }));
}

describe("the custodian gateway: release batches", function () {
  it("gives the root and, for every release, the proof of OpenZeppelin's StandardMerkleTree", function () {
    for (const size of [2, 3, 7, 20, 33]) {
      const rows = releases(size);
      const { root, manifest } = buildReleaseBatch(rows, CONTEXT);
      const reference = StandardMerkleTree.of(
        rows.map((row) => [...releaseLeaf(row)]),
        [...RELEASE_LEAF_TYPES],
      );
      expect(root, `size ${size}`).to.equal(reference.root);
      manifest.releases.forEach((release, index) =>
        expect(release.proof, `size ${size}, leaf ${index}`).to.deep.equal(reference.getProof(index)),
      );
      expect(verifyReleaseManifest(manifest)).to.equal(true);
    }
  });
});
