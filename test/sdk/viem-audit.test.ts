/**
 * The audit trail through each SDK entry on a real Hardhat node: the same custodians' batches (honest,
 * forged, garbage, too large, tampered after the fact), the same individually logged releases, read by
 * the ethers entry's AuditClient and by the viem entry's, must give the same entries, value for value, and
 * the same errors; the viem PatientEventReader and readBatch answer as the ethers ones do.
 */
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { expect } from "chai";
import { sha256, toUtf8Bytes } from "ethers";
import { ethers } from "hardhat";

import * as ethersEntry from "../../sdk/index";
import * as viemEntry from "../../sdk/viem";
import { connect } from "../../sdk/chain/connect";
import { AccessBasis, DataClass, Purpose, Role } from "../../sdk/codes";
import { DAY, deployLedgerFixture } from "../helpers/fixtures";
import { viemReader } from "../helpers/viem";

async function auditFixture() {
  const suite = await deployLedgerFixture();
  const { ledger, records, accessLog, admin, hospital, relayer, stranger, patient, university, pharma } = suite;
  const sets = await ethers.deployContract("CustodianSets", [await ledger.getAddress(), await records.getAddress()]);
  await ledger.connect(admin).accredit(relayer.address, Role.CUSTODIAN, false, 0);
  await ledger.connect(admin).accredit(stranger.address, Role.CUSTODIAN, false, 0);
  const recordId = sha256(toUtf8Bytes("ciphertext: substance use assessment"));
  await records.connect(hospital).anchorRecord(patient.address, recordId, DataClass.SUBSTANCE_USE, toUtf8Bytes("cid"));
  await sets.connect(hospital).defineSet([hospital.address, relayer.address], 2);
  await sets.connect(hospital).assignRecord(recordId, 1);
  const until = (await time.latest()) + 30 * DAY;
  await ledger
    .connect(patient)
    .grant(patient.address, university.address, 1 << DataClass.SUBSTANCE_USE, 1 << Purpose.HRESCH, 0, until);
  await ledger
    .connect(patient)
    .grant(patient.address, pharma.address, 1 << DataClass.SUBSTANCE_USE, 1 << Purpose.HRESCH, 0, until);
  await ledger.connect(patient).revoke(patient.address, pharma.address);
  await accessLog.connect(hospital).logRelease(recordId, university.address, Purpose.HRESCH, AccessBasis.Consent);
  const store = new ethersEntry.MemoryBlobStore();
  // An honest batch by a custodian of the record's set, a forged one, a garbage one and one too large.
  const batch = async (custodian: typeof relayer, grantee: string, basisLogged: number, basisProven: number) => {
    const releasedAt = await time.latest();
    const tree = StandardMerkleTree.of(
      [[recordId, grantee, Purpose.HRESCH, basisProven, releasedAt]],
      [...ethersEntry.RELEASE_LEAF_TYPES],
    );
    const manifest = {
      format: "consent-ledger/release-batch/v1",
      root: tree.root,
      releases: [
        { recordId, grantee, purpose: Purpose.HRESCH, basis: basisLogged, releasedAt, proof: tree.getProof(0) },
      ],
    };
    const cid = await store.put(toUtf8Bytes(JSON.stringify(manifest)));
    await accessLog.connect(custodian).logReleaseBatch(tree.root, 1, toUtf8Bytes(cid));
  };
  await batch(relayer, university.address, AccessBasis.Consent, AccessBasis.Consent);
  await batch(stranger, pharma.address, AccessBasis.Emergency, AccessBasis.Consent);
  await accessLog.connect(stranger).logReleaseBatch(sha256(toUtf8Bytes("root")), 1, toUtf8Bytes("not a manifest cid"));
  const huge = await store.put(new Uint8Array(ethersEntry.MAX_MANIFEST_BYTES + 1).fill(0x20));
  await accessLog.connect(stranger).logReleaseBatch(sha256(toUtf8Bytes("huge")), 1, toUtf8Bytes(huge));
  const { chainId } = await ethers.provider.getNetwork();
  const deployment = {
    chainId: Number(chainId),
    ledger: await ledger.getAddress(),
    records: await records.getAddress(),
    accessLog: await accessLog.getAddress(),
    keys: await suite.keys.getAddress(),
    custodianSets: await sets.getAddress(),
  };
  const contracts = await connect(ethers.provider as never, deployment);
  const viemContracts = await viemEntry.connect(viemReader(), deployment);
  return { ...suite, recordId, store, contracts, viemContracts };
}

/** What either call threw. */
async function thrown(action: () => Promise<unknown>): Promise<Error> {
  try {
    await action();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a refusal");
}

describe("the audit trail through the viem entry (real Hardhat node)", function () {
  it("gives the same history, entry for entry, as the ethers entry: releases verified or flagged alike", async function () {
    const f = await loadFixture(auditFixture);
    const [a, b] = [
      await new ethersEntry.AuditClient(f.contracts, f.store).history(f.patient.address),
      await new viemEntry.AuditClient(f.viemContracts, f.store).history(f.patient.address),
    ];
    expect(b).to.deep.equal(a);
    const actions = a.map((entry) => entry.action);
    expect(actions).to.include.members(["record-anchored", "consent-granted", "consent-revoked", "key-released"]);
    expect(a.filter((entry) => entry.action === "release-batch-unverifiable")).to.have.length(3);
    expect(a.filter((entry) => entry.action === "key-released" && entry.verified)).to.have.length(2);
    // The trail with only the newest entries detailed, and its JSON, alike too.
    expect(
      await new viemEntry.AuditClient(f.viemContracts, f.store).trail(f.patient.address, { details: 2 }),
    ).to.deep.equal(await new ethersEntry.AuditClient(f.contracts, f.store).trail(f.patient.address, { details: 2 }));
    expect(viemEntry.AuditClient.toJson(b)).to.deep.equal(ethersEntry.AuditClient.toJson(a));
  });

  it("reads the same events and the same batch of calls as the ethers reader and readBatch", async function () {
    const f = await loadFixture(auditFixture);
    const block = await ethers.provider.getBlockNumber();
    const [a, b] = [
      await new ethersEntry.PatientEventReader(f.contracts, { maxBlockRange: 3 }).read(f.patient.address, block),
      await new viemEntry.PatientEventReader(f.viemContracts, { maxBlockRange: 3 }).read(f.patient.address, block),
    ];
    const where = (events: Record<string, unknown>) =>
      Object.fromEntries(
        Object.entries(events).map(([family, list]) => [
          family,
          Array.isArray(list)
            ? list.map((event: viemEntry.ChainEvent) => [
                event.eventName,
                event.blockNumber,
                event.index,
                event.transactionHash,
                event.blockHash,
              ])
            : list,
        ]),
      );
    expect(where(b as never)).to.deep.equal(where(a as never));
    expect(b.batches).to.have.length(4);
    const calls = [
      {
        target: f.viemContracts.deployment.ledger,
        data: f.contracts.ledger.interface.encodeFunctionData("emergencyOptedOut", [f.patient.address]),
      },
      // A call that reverts: reported, not thrown.
      { target: f.viemContracts.deployment.ledger, data: "0xdeadbeef" },
    ];
    expect(await viemEntry.readBatch(f.viemContracts, calls, f.patient.address, block)).to.deep.equal(
      await ethersEntry.readBatch(f.contracts, calls, f.patient.address, block),
    );
  });

  it("refuses alike: a manifests' store that cannot be reached is StoreUnavailableError on both", async function () {
    const f = await loadFixture(auditFixture);
    // A store behind a port nothing listens on: a real fetch that fails.
    const unreachable: ethersEntry.BlobStore = {
      get: async (cid) => new Uint8Array(await (await fetch(`http://127.0.0.1:1/${cid}`)).arrayBuffer()),
      has: async () => false,
      put: () => Promise.reject(new Error("read-only")),
    };
    const [a, b] = [
      await thrown(() => new ethersEntry.AuditClient(f.contracts, unreachable).history(f.patient.address)),
      await thrown(() => new viemEntry.AuditClient(f.viemContracts, unreachable).history(f.patient.address)),
    ];
    expect(a).to.be.instanceOf(ethersEntry.StoreUnavailableError);
    expect(b).to.be.instanceOf(viemEntry.StoreUnavailableError);
    expect([b.constructor, b.message]).to.deep.equal([a.constructor, a.message]);
  });

  it("flags a manifest tampered with in the store the same way on both", async function () {
    const f = await loadFixture(auditFixture);
    // The honest manifest, its grantee changed after the batch was logged: its root no longer proves it.
    const backing = new Map<string, Uint8Array>();
    const tampered = new ethersEntry.MemoryBlobStore(backing);
    const honest = (await f.accessLog.queryFilter(f.accessLog.filters.KeyReleaseBatchLogged()))[0];
    const cid = ethers.toUtf8String(honest.args.manifest);
    const manifest = JSON.parse(ethers.toUtf8String(await f.store.get(cid)));
    manifest.releases[0].grantee = f.pharma.address;
    backing.set(cid, toUtf8Bytes(JSON.stringify(manifest)));
    const [a, b] = [
      await new ethersEntry.AuditClient(f.contracts, tampered).history(f.patient.address),
      await new viemEntry.AuditClient(f.viemContracts, tampered).history(f.patient.address),
    ];
    expect(b).to.deep.equal(a);
    const flagged = a.filter(
      (entry) => entry.action === "release-batch-unverifiable" && entry.actor === f.relayer.address,
    );
    expect(flagged, JSON.stringify(a.map((entry) => entry.verification))).to.have.length(1);
  });

  it("gives the viem PatientIdentity the audit trail and view of the ethers one", async function () {
    const f = await loadFixture(auditFixture);
    const root = await ethersEntry.derivePseudonymRoot(ethers.Wallet.createRandom(), {
      domain: "localhost",
      chainId: 31337,
      ledger: f.viemContracts.deployment.ledger,
    });
    const pseudonyms = [root.forProvider(f.hospital.address), root.forProvider(f.lab.address)];
    root.destroy();
    const ethersIdentity = new ethersEntry.PatientIdentity(f.contracts, pseudonyms, { store: f.store });
    const viemIdentity = new viemEntry.PatientIdentity(f.viemContracts, pseudonyms, { store: f.store });
    const trail = await viemIdentity.auditTrail();
    // The custodians' unreadable batches may list anyone's releases: each pseudonym's trail shows them.
    expect(new Set(trail.map((entry) => entry.pseudonym))).to.deep.equal(
      new Set(pseudonyms.map((pseudonym) => pseudonym.address)),
    );
    expect(trail).to.deep.equal(await ethersIdentity.auditTrail());
    expect(await viemIdentity.view()).to.deep.equal(await ethersIdentity.view());
  });
});
