/**
 * The audit trail against a rogue custodian, on a real Hardhat chain: every accredited custodian may log
 * releases and batches naming any record, so the trail reads each batch on its own (one it cannot read or
 * verify is one flagged entry, never a thrown error) and marks each release verified only when the chain
 * ties the custodian to the record (its custodian set) and the ledger's basis at that block agrees.
 */
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { expect } from "chai";
import { sha256, toUtf8Bytes } from "ethers";
import { ethers } from "hardhat";

import {
  AuditClient,
  MAX_MANIFEST_BYTES,
  MemoryBlobStore,
  RELEASE_LEAF_TYPES,
  StoreUnavailableError,
  type BlobStore,
} from "../../sdk/index";
import { connect } from "../../sdk/chain/connect";
import { AccessBasis, DataClass, Purpose, Role } from "../../sdk/codes";
import { DAY, deployLedgerFixture } from "../helpers/fixtures";

async function rogueFixture() {
  const suite = await deployLedgerFixture();
  const { ledger, records, accessLog, admin, hospital, relayer, stranger, patient, university } = suite;
  const sets = await ethers.deployContract("CustodianSets", [await ledger.getAddress(), await records.getAddress()]);
  // relayer: the hospital's fellow custodian in the record's set; stranger: a custodian with no tie to it.
  await ledger.connect(admin).accredit(relayer.address, Role.CUSTODIAN, false, 0);
  await ledger.connect(admin).accredit(stranger.address, Role.CUSTODIAN, false, 0);
  const recordId = sha256(toUtf8Bytes("ciphertext: substance use assessment"));
  await records.connect(hospital).anchorRecord(patient.address, recordId, DataClass.SUBSTANCE_USE, toUtf8Bytes("cid"));
  await sets.connect(hospital).defineSet([hospital.address, relayer.address], 2);
  await sets.connect(hospital).assignRecord(recordId, 1);
  await ledger
    .connect(patient)
    .grant(
      patient.address,
      university.address,
      1 << DataClass.SUBSTANCE_USE,
      1 << Purpose.HRESCH,
      0,
      (await time.latest()) + 30 * DAY,
    );
  const { chainId } = await ethers.provider.getNetwork();
  const contracts = await connect(ethers.provider as never, {
    chainId: Number(chainId),
    ledger: await ledger.getAddress(),
    records: await records.getAddress(),
    accessLog: await accessLog.getAddress(),
    keys: await suite.keys.getAddress(),
    custodianSets: await sets.getAddress(),
  });
  return { ...suite, sets, recordId, contracts, store: new MemoryBlobStore() };
}

describe("AuditClient against a rogue custodian", function () {
  it("shows a batch with a garbage manifest as one unverifiable entry, and the rest of the trail", async function () {
    const f = await loadFixture(rogueFixture);
    await f.accessLog
      .connect(f.hospital)
      .logRelease(f.recordId, f.university.address, Purpose.HRESCH, AccessBasis.Consent);
    await f.accessLog
      .connect(f.stranger)
      .logReleaseBatch(sha256(toUtf8Bytes("root")), 1, toUtf8Bytes("not a manifest cid"));
    // A manifest that exists but lists an entry of the patient's record its root does not prove.
    const tree = StandardMerkleTree.of(
      [[f.recordId, f.pharma.address, Purpose.HRESCH, AccessBasis.Consent, 1n]],
      [...RELEASE_LEAF_TYPES],
    );
    const forged = {
      format: "consent-ledger/release-batch/v1",
      root: tree.root,
      releases: [
        {
          recordId: f.recordId,
          grantee: f.pharma.address,
          purpose: Purpose.HRESCH,
          basis: AccessBasis.Emergency,
          releasedAt: 1,
          proof: tree.getProof(0),
        },
      ],
    };
    const cid = await f.store.put(toUtf8Bytes(JSON.stringify(forged)));
    await f.accessLog.connect(f.stranger).logReleaseBatch(tree.root, 1, toUtf8Bytes(cid));

    // A manifest larger than the SDK reads.
    const huge = await f.store.put(new Uint8Array(MAX_MANIFEST_BYTES + 1).fill(0x20));
    await f.accessLog.connect(f.stranger).logReleaseBatch(sha256(toUtf8Bytes("huge")), 1, toUtf8Bytes(huge));

    const history = await new AuditClient(f.contracts, f.store).history(f.patient.address);
    const unverifiable = history.filter((entry) => entry.action === "release-batch-unverifiable");
    expect(unverifiable).to.have.length(3);
    for (const entry of unverifiable) {
      expect(entry.actor).to.equal(f.stranger.address);
      expect(entry.verified).to.equal(false);
      expect(entry.verification).to.match(new RegExp(`^Unverifiable release batch by custodian ${f.stranger.address}`));
    }
    expect(unverifiable.map((entry) => entry.verification).join("\n"))
      .to.match(/cannot be read/)
      .and.match(/does not prove/)
      .and.match(new RegExp(`${MAX_MANIFEST_BYTES + 1} bytes, more than ${MAX_MANIFEST_BYTES}`));
    // The forged entry is not shown as a release; the real one is, verified.
    const releases = history.filter((entry) => entry.action === "key-released");
    expect(releases).to.have.length(1);
    expect(releases[0].counterparty).to.equal(f.university.address);
    expect(releases[0].verified, releases[0].verification).to.equal(true);
    expect(history.map((entry) => entry.action)).to.include.members(["record-anchored", "consent-granted"]);
  });

  it("says the manifests' store could not be reached, rather than calling an honest batch unverifiable", async function () {
    const f = await loadFixture(rogueFixture);
    await f.accessLog.connect(f.stranger).logReleaseBatch(sha256(toUtf8Bytes("root")), 1, toUtf8Bytes("some cid"));
    // A store behind a network that is down: fetch's own TypeError, not an answer about the blob.
    const unreachable: BlobStore = {
      get: () => Promise.reject(new TypeError("fetch failed")),
      has: () => Promise.reject(new TypeError("fetch failed")),
      put: () => Promise.reject(new TypeError("fetch failed")),
    };
    const trail = new AuditClient(f.contracts, unreachable).history(f.patient.address);
    await expect(trail).to.be.rejectedWith(StoreUnavailableError, /could not be reached: fetch failed/);
    // The same batch against a store that answers "not found" is one flagged entry, as above.
    const history = await new AuditClient(f.contracts, f.store).history(f.patient.address);
    expect(history.filter((entry) => entry.action === "release-batch-unverifiable")).to.have.length(1);
  });

  it("flags a release logged by a custodian the chain does not tie to the record as a claim", async function () {
    const f = await loadFixture(rogueFixture);
    // "Researcher pharma read your SUBSTANCE_USE record in an emergency", logged by an unrelated custodian.
    await f.accessLog
      .connect(f.stranger)
      .logRelease(f.recordId, f.pharma.address, Purpose.ETREAT, AccessBasis.Emergency);
    // The record's own custodian logging a release the ledger does not back (no consent for pharma).
    await f.accessLog.connect(f.hospital).logRelease(f.recordId, f.pharma.address, Purpose.HRESCH, AccessBasis.Consent);

    const releases = (await new AuditClient(f.contracts, f.store).history(f.patient.address)).filter(
      (entry) => entry.action === "key-released",
    );
    expect(releases).to.have.length(2);
    const [rogue, unbacked] = releases;
    expect(rogue.actor).to.equal(f.stranger.address);
    expect(rogue.verified).to.equal(false);
    expect(rogue.verification).to.equal(
      `Claimed by custodian ${f.stranger.address}, not verified: nothing on chain ties it to this record; the ledger's basis at block ${rogue.blockNumber} was none, not emergency.`,
    );
    expect(unbacked.verified).to.equal(false);
    expect(unbacked.verification).to.match(/basis at block \d+ was none, not consent/);
  });

  it("says a release is a claim when the deployment names no custodian sets", async function () {
    const f = await loadFixture(rogueFixture);
    await f.accessLog
      .connect(f.hospital)
      .logRelease(f.recordId, f.university.address, Purpose.HRESCH, AccessBasis.Consent);
    const { custodianSets: _, ...deployment } = f.contracts.deployment;
    const contracts = await connect(ethers.provider as never, deployment);
    const [release] = (await new AuditClient(contracts).history(f.patient.address)).filter(
      (entry) => entry.action === "key-released",
    );
    expect(release.verified).to.equal(false);
    expect(release.verification).to.match(/^Claimed by custodian .*nothing on chain ties it to this record\.$/);
  });
});
