/**
 * The release-batch leaf, pinned: a known-answer vector computed from the documented encoding alone
 * (docs/gateway.md, "GET /manifests/:cid": OpenZeppelin StandardMerkleTree leaves of types
 * ["bytes32","address","uint8","uint8","uint64"] = (recordId, grantee, purpose, basis, releasedAt), i.e.
 * keccak256(keccak256(abi.encode(values))), inner nodes keccak256 of the sorted pair), so that the gateway
 * that writes manifests and the audit client that reads them cannot drift together unnoticed. And the
 * audit client refusing a manifest entry that the root logged on chain does not prove (it flags the batch).
 */
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { expect } from "chai";
import { hexlify, toUtf8Bytes } from "ethers";

import { AuditClient, RELEASE_LEAF_TYPES, type ReleaseManifest } from "../../sdk/clients/audit";
import { MemoryBlobStore } from "../../sdk/storage/blob-store";
import { buildReleaseBatch } from "../../gateway/release-batch";
import type { ReleaseRow } from "../../gateway/store";
import { deployLedgerFixture } from "../helpers/fixtures";
import { sdkContracts } from "../helpers/sdk";

const RELEASE_A = {
  recordId: `0x${"11".repeat(32)}`,
  grantee: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
  purpose: 3,
  basis: 1,
  releasedAt: 1767000123,
};
const RELEASE_B = {
  recordId: `0x${"22".repeat(32)}`,
  grantee: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
  purpose: 5,
  basis: 2,
  releasedAt: 1767000456,
};
// Computed once with @noble/hashes from the encoding below (and cross-checked with ethers' AbiCoder):
// never by the gateway's or the SDK's code.
const LEAF_A = "0xe147db86bd26fe93a8ef2ae270bcd3496738dce52e7c033655e3356153d60ef4";
const LEAF_B = "0x7748bab002b4cb7ad12821763df8997421068f3b09947f50130853a977a9ab35";
const ROOT_AB = "0x26c153d4147f285663c4f4cb99383ae6a4290737bcf4be44137bc937ea74953a";

type Release = typeof RELEASE_A;

/** abi.encode of the five static values: each a 32-byte word (bytes32 as is, the rest left-padded). */
function documentedLeaf(release: Release): string {
  const word = (hex: string) => hex.slice(2).toLowerCase().padStart(64, "0");
  const uint = (n: number) => n.toString(16).padStart(64, "0");
  const encoded = Buffer.from(
    word(release.recordId) +
      word(release.grantee) +
      uint(release.purpose) +
      uint(release.basis) +
      uint(release.releasedAt),
    "hex",
  );
  return hexlify(keccak_256(keccak_256(encoded)));
}

function documentedNode(a: string, b: string): string {
  const [low, high] = [a, b].sort();
  return hexlify(keccak_256(Buffer.from(low.slice(2) + high.slice(2), "hex")));
}

const rows = (...releases: Release[]) =>
  releases.map((release, i) => ({ id: i + 1, ...release }) as unknown as ReleaseRow);

describe("release-batch manifests", function () {
  describe("the leaf encoding", function () {
    it("is the documented one: the known-answer vector follows from the encoding alone", function () {
      expect(RELEASE_LEAF_TYPES).to.deep.equal(["bytes32", "address", "uint8", "uint8", "uint64"]);
      expect(documentedLeaf(RELEASE_A)).to.equal(LEAF_A);
      expect(documentedLeaf(RELEASE_B)).to.equal(LEAF_B);
      expect(documentedNode(LEAF_A, LEAF_B)).to.equal(ROOT_AB);
    });

    it("is what the gateway writes: its root and proofs equal the known answers", function () {
      const context = { chainId: 31337, accessLog: RELEASE_A.grantee, custodian: RELEASE_B.grantee };
      const one = buildReleaseBatch(rows(RELEASE_A), context);
      expect(one.root).to.equal(LEAF_A);
      const two = buildReleaseBatch(rows(RELEASE_A, RELEASE_B), context);
      expect(two.root).to.equal(ROOT_AB);
      expect(two.manifest.releases.map((release) => release.proof)).to.deep.equal([[LEAF_B], [LEAF_A]]);
      expect(JSON.parse(two.text)).to.deep.equal(two.manifest);
    });
  });

  describe("the audit client", function () {
    /** A patient with records A and B anchored, and the hospital (a custodian) logging `root` with `manifest`. */
    async function logged(root: string, manifest: ReleaseManifest) {
      const f = await loadFixture(deployLedgerFixture);
      for (const release of [RELEASE_A, RELEASE_B]) {
        await (
          await f.records
            .connect(f.hospital)
            .anchorRecord(f.patient.address, release.recordId, 0, toUtf8Bytes("ipfs://x"))
        ).wait();
      }
      const store = new MemoryBlobStore();
      const cid = await store.put(toUtf8Bytes(JSON.stringify(manifest)));
      await (
        await f.accessLog.connect(f.hospital).logReleaseBatch(root, manifest.releases.length, toUtf8Bytes(cid))
      ).wait();
      return new AuditClient(await sdkContracts(f, f.stranger), store).history(f.patient.address);
    }

    const genuine = (): ReleaseManifest => ({
      format: "consent-ledger/release-batch/v1",
      root: ROOT_AB,
      releases: [
        { ...RELEASE_A, proof: [LEAF_B] },
        { ...RELEASE_B, proof: [LEAF_A] },
      ],
    });

    it("shows each release of a manifest the logged root proves", async function () {
      const history = await logged(ROOT_AB, genuine());
      const releases = history.filter((entry) => entry.action === "key-released");
      expect(
        releases.map((entry) => [entry.recordId, entry.counterparty, entry.time, entry.releaseBatchRoot]),
      ).to.deep.equal([
        [RELEASE_A.recordId, RELEASE_A.grantee, RELEASE_A.releasedAt, ROOT_AB],
        [RELEASE_B.recordId, RELEASE_B.grantee, RELEASE_B.releasedAt, ROOT_AB],
      ]);
    });

    for (const [what, forge] of [
      ["another grantee", (r: Release) => ({ ...r, grantee: RELEASE_B.grantee })],
      ["another purpose", (r: Release) => ({ ...r, purpose: 1 })],
      ["another basis", (r: Release) => ({ ...r, basis: 2 })],
      ["another time", (r: Release) => ({ ...r, releasedAt: r.releasedAt - 3600 })],
    ] as const) {
      it(`refuses a manifest entry forged to name ${what}, keeping its proof`, async function () {
        const manifest = genuine();
        const { proof, ...entry } = manifest.releases[0];
        manifest.releases[0] = { ...forge(entry), proof };
        const history = await logged(ROOT_AB, manifest);
        // The forged entry is not shown as a release; the batch is flagged, its proven entry still shown.
        const releases = history.filter((line) => line.action === "key-released");
        expect(releases.map((line) => line.recordId)).to.deep.equal([RELEASE_B.recordId]);
        const flagged = history.filter((line) => line.action === "release-batch-unverifiable");
        expect(flagged).to.have.length(1);
        expect(flagged[0].releaseBatchRoot).to.equal(ROOT_AB);
        expect(flagged[0].verified).to.equal(false);
        expect(flagged[0].verification).to.match(/it lists 1 entry of your records that its root does not prove/);
      });
    }
  });
});
