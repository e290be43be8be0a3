import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { expect } from "chai";
import { AbiCoder, ZeroAddress, ZeroHash, hexlify, keccak256, sha256, toUtf8Bytes } from "ethers";

import { AccessBasis, Purpose, Role } from "../../sdk/codes";
import { DAY, deployLedgerFixture } from "../helpers/fixtures";

const idOf = (ciphertext: string) => sha256(toUtf8Bytes(ciphertext));
const RECORD = idOf("ciphertext: discharge summary");
const RELEASE_LEAF = ["bytes32", "address", "uint8", "uint8", "uint64"];
type ReleaseLeaf = [string, string, number, number, bigint];

describe("AccessLog", function () {
  it("names its ledger and its version", async function () {
    const { ledger, accessLog } = await loadFixture(deployLedgerFixture);
    expect(await accessLog.ledger()).to.equal(await ledger.getAddress());
    expect(await accessLog.version()).to.equal("1.0.0");
  });

  describe("logRelease", function () {
    it("logs a release under a consent and one under an emergency window with KeyReleased", async function () {
      const { accessLog, hospital, university } = await loadFixture(deployLedgerFixture);
      await expect(
        accessLog.connect(hospital).logRelease(RECORD, university.address, Purpose.BIORCH, AccessBasis.Consent),
      )
        .to.emit(accessLog, "KeyReleased")
        .withArgs(RECORD, university.address, hospital.address, Purpose.BIORCH, AccessBasis.Consent);
      await expect(
        accessLog.connect(hospital).logRelease(RECORD, hospital.address, Purpose.ETREAT, AccessBasis.Emergency),
      )
        .to.emit(accessLog, "KeyReleased")
        .withArgs(RECORD, hospital.address, hospital.address, Purpose.ETREAT, AccessBasis.Emergency);
    });

    it("indexes record, grantee and custodian so releases can be filtered", async function () {
      const { accessLog, hospital, university, pharma } = await loadFixture(deployLedgerFixture);
      await accessLog.connect(hospital).logRelease(RECORD, university.address, Purpose.HRESCH, AccessBasis.Consent);
      await accessLog.connect(hospital).logRelease(RECORD, pharma.address, Purpose.HRESCH, AccessBasis.Consent);
      await accessLog.connect(hospital).logRelease(idOf("other"), pharma.address, Purpose.HRESCH, AccessBasis.Consent);
      expect(await accessLog.queryFilter(accessLog.filters.KeyReleased(RECORD))).to.have.length(2);
      expect(await accessLog.queryFilter(accessLog.filters.KeyReleased(undefined, pharma.address))).to.have.length(2);
      expect(
        await accessLog.queryFilter(accessLog.filters.KeyReleased(RECORD, pharma.address, hospital.address)),
      ).to.have.length(1);
    });

    it("accepts every known purpose", async function () {
      const { accessLog, hospital, university } = await loadFixture(deployLedgerFixture);
      for (const purpose of Object.values(Purpose)) {
        await expect(accessLog.connect(hospital).logRelease(RECORD, university.address, purpose, AccessBasis.Consent))
          .to.emit(accessLog, "KeyReleased")
          .withArgs(RECORD, university.address, hospital.address, purpose, AccessBasis.Consent);
      }
    });

    context("when the caller is not a live custodian, with the ledger's own error", function () {
      it("reverts for a provider that is not a custodian", async function () {
        const { ledger, accessLog, lab, university } = await loadFixture(deployLedgerFixture);
        await expect(accessLog.connect(lab).logRelease(RECORD, university.address, Purpose.HRESCH, AccessBasis.Consent))
          .to.be.revertedWithCustomError(ledger, "PartyNotAccredited")
          .withArgs(lab.address, Role.CUSTODIAN);
      });

      it("reverts for a researcher and for a stranger", async function () {
        const { ledger, accessLog, university, stranger } = await loadFixture(deployLedgerFixture);
        for (const caller of [university, stranger]) {
          await expect(
            accessLog.connect(caller).logRelease(RECORD, university.address, Purpose.HRESCH, AccessBasis.Consent),
          )
            .to.be.revertedWithCustomError(ledger, "PartyNotAccredited")
            .withArgs(caller.address, Role.CUSTODIAN);
        }
      });

      it("reverts for a suspended custodian", async function () {
        const { ledger, accessLog, admin, hospital, university } = await loadFixture(deployLedgerFixture);
        await ledger.connect(admin).suspend(hospital.address, 5);
        await expect(
          accessLog.connect(hospital).logRelease(RECORD, university.address, Purpose.HRESCH, AccessBasis.Consent),
        )
          .to.be.revertedWithCustomError(ledger, "AccreditationSuspended")
          .withArgs(hospital.address);
      });

      it("reverts for a custodian whose accreditation has lapsed", async function () {
        const { ledger, accessLog, admin, stranger, university } = await loadFixture(deployLedgerFixture);
        const until = (await time.latest()) + DAY;
        await ledger.connect(admin).accredit(stranger.address, Role.CUSTODIAN, false, until);
        await expect(
          accessLog.connect(stranger).logRelease(RECORD, university.address, Purpose.HRESCH, AccessBasis.Consent),
        )
          .to.emit(accessLog, "KeyReleased")
          .withArgs(RECORD, university.address, stranger.address, Purpose.HRESCH, AccessBasis.Consent);
        await time.increaseTo(until);
        await expect(
          accessLog.connect(stranger).logRelease(RECORD, university.address, Purpose.HRESCH, AccessBasis.Consent),
        )
          .to.be.revertedWithCustomError(ledger, "AccreditationExpired")
          .withArgs(stranger.address, until);
      });
    });

    it("reverts with InvalidRelease for a zero record or a zero grantee", async function () {
      const { accessLog, hospital, university } = await loadFixture(deployLedgerFixture);
      await expect(
        accessLog.connect(hospital).logRelease(ZeroHash, university.address, Purpose.HRESCH, AccessBasis.Consent),
      )
        .to.be.revertedWithCustomError(accessLog, "InvalidRelease")
        .withArgs(ZeroHash, university.address);
      await expect(accessLog.connect(hospital).logRelease(RECORD, ZeroAddress, Purpose.HRESCH, AccessBasis.Consent))
        .to.be.revertedWithCustomError(accessLog, "InvalidRelease")
        .withArgs(RECORD, ZeroAddress);
    });

    it("reverts with UnknownReleasePurpose for an unknown purpose", async function () {
      const { accessLog, hospital, university } = await loadFixture(deployLedgerFixture);
      for (const purpose of [10, 255]) {
        await expect(accessLog.connect(hospital).logRelease(RECORD, university.address, purpose, AccessBasis.Consent))
          .to.be.revertedWithCustomError(accessLog, "UnknownReleasePurpose")
          .withArgs(purpose);
      }
    });

    it("reverts with InvalidReleaseBasis for None (0) and for 3", async function () {
      const { accessLog, hospital, university } = await loadFixture(deployLedgerFixture);
      for (const basis of [AccessBasis.None, 3]) {
        await expect(accessLog.connect(hospital).logRelease(RECORD, university.address, Purpose.HRESCH, basis))
          .to.be.revertedWithCustomError(accessLog, "InvalidReleaseBasis")
          .withArgs(basis);
      }
    });
  });

  describe("logReleaseBatch", function () {
    it("logs a batch with KeyReleaseBatchLogged", async function () {
      const { accessLog, hospital } = await loadFixture(deployLedgerFixture);
      const root = keccak256(toUtf8Bytes("release root"));
      const manifest = hexlify(toUtf8Bytes("ipfs://bafyreleases"));
      await expect(accessLog.connect(hospital).logReleaseBatch(root, 3, manifest))
        .to.emit(accessLog, "KeyReleaseBatchLogged")
        .withArgs(root, hospital.address, 3, manifest);
    });

    it("reverts with InvalidReleaseBatch for a zero root or a zero count", async function () {
      const { accessLog, hospital } = await loadFixture(deployLedgerFixture);
      const root = keccak256(toUtf8Bytes("release root"));
      await expect(accessLog.connect(hospital).logReleaseBatch(ZeroHash, 3, "0x"))
        .to.be.revertedWithCustomError(accessLog, "InvalidReleaseBatch")
        .withArgs(ZeroHash, 3);
      await expect(accessLog.connect(hospital).logReleaseBatch(root, 0, "0x"))
        .to.be.revertedWithCustomError(accessLog, "InvalidReleaseBatch")
        .withArgs(root, 0);
    });

    it("reverts with the ledger's PartyNotAccredited for a provider that is not a custodian", async function () {
      const { ledger, accessLog, lab } = await loadFixture(deployLedgerFixture);
      await expect(accessLog.connect(lab).logReleaseBatch(keccak256("0x01"), 1, "0x"))
        .to.be.revertedWithCustomError(ledger, "PartyNotAccredited")
        .withArgs(lab.address, Role.CUSTODIAN);
    });

    it("commits to 100 releases: each entry is provable against the root read back from the log", async function () {
      const { accessLog, hospital, university, pharma, lab } = await loadFixture(deployLedgerFixture);
      const start = BigInt(await time.latest());
      const grantees = [university.address, pharma.address, lab.address];
      const entries: ReleaseLeaf[] = Array.from({ length: 100 }, (_, i) => [
        idOf(`released ciphertext #${i}`),
        grantees[i % grantees.length],
        i % 3 === 2 ? Purpose.ETREAT : Purpose.BIORCH,
        i % 3 === 2 ? AccessBasis.Emergency : AccessBasis.Consent,
        start - BigInt(100 - i) * 60n,
      ]);
      const tree = StandardMerkleTree.of(entries, RELEASE_LEAF);
      const manifest = hexlify(toUtf8Bytes("ipfs://bafyreleasemanifest"));
      await accessLog.connect(hospital).logReleaseBatch(tree.root, entries.length, manifest);

      // An auditor knows only the chain and the manifest: the root comes from the event.
      const [logged] = await accessLog.queryFilter(
        accessLog.filters.KeyReleaseBatchLogged(undefined, hospital.address),
      );
      const { root, custodian, releaseCount } = logged.args;
      expect(root).to.equal(tree.root);
      expect(custodian).to.equal(hospital.address);
      expect(releaseCount).to.equal(BigInt(entries.length));
      expect(logged.args.manifest).to.equal(manifest);

      const coder = AbiCoder.defaultAbiCoder();
      for (const [i, entry] of tree.entries()) {
        const proof = tree.getProof(i);
        expect(StandardMerkleTree.verify(root, RELEASE_LEAF, entry, proof), `entry ${i}`).to.equal(true);
        // The documented leaf: keccak256(bytes.concat(keccak256(abi.encode(values)))).
        expect(tree.leafHash(entry)).to.equal(keccak256(keccak256(coder.encode(RELEASE_LEAF, entry))));
      }
      const entry = entries[17];
      const proof = tree.getProof(17);
      const forged: ReleaseLeaf[] = [
        [idOf("another ciphertext"), entry[1], entry[2], entry[3], entry[4]],
        [entry[0], hospital.address, entry[2], entry[3], entry[4]],
        [entry[0], entry[1], entry[2] === Purpose.TREAT ? Purpose.ETREAT : Purpose.TREAT, entry[3], entry[4]],
        [
          entry[0],
          entry[1],
          entry[2],
          entry[3] === AccessBasis.Consent ? AccessBasis.Emergency : AccessBasis.Consent,
          entry[4],
        ],
        [entry[0], entry[1], entry[2], entry[3], entry[4] + 1n],
      ];
      expect(StandardMerkleTree.verify(root, RELEASE_LEAF, entry, proof)).to.equal(true);
      for (const f of forged) expect(StandardMerkleTree.verify(root, RELEASE_LEAF, f, proof), `${f}`).to.equal(false);
    });
  });
});
