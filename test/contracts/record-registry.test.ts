import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { expect } from "chai";
import { AbiCoder, ZeroAddress, ZeroHash, hexlify, keccak256, sha256, toUtf8Bytes } from "ethers";

import { DataClass, Role } from "../../sdk/codes";
import { DAY, deployLedgerFixture } from "../helpers/fixtures";
import { minedAt } from "../helpers/requests";

/** The record id of a ciphertext: its SHA-256. */
const idOf = (ciphertext: string) => sha256(toUtf8Bytes(ciphertext));
const pointer = (cid: string) => hexlify(toUtf8Bytes(`ipfs://${cid}`));

const RECORD_LEAF = ["bytes32", "address", "uint8"];
type RecordLeaf = [string, string, number];
const BATCH_SIZE = 100;

/** The ledger with one record of the patient anchored by the hospital. */
async function anchoredRecordFixture() {
  const fixture = await deployLedgerFixture();
  const { ledger, records, hospital, lab, patient } = fixture;
  const v1 = idOf("ciphertext: lab panel, version 1");
  await records.connect(hospital).anchorRecord(patient.address, v1, DataClass.LAB_RESULT, pointer("bafyv1"));
  const hospitalIndex = (await ledger.partyOf(hospital.address)).index;
  const labIndex = (await ledger.partyOf(lab.address)).index;
  return { ...fixture, v1, hospitalIndex, labIndex };
}

/** The ledger with a batch of 100 records of two patients anchored by the hospital, and its tree. */
async function anchoredBatchFixture() {
  const fixture = await deployLedgerFixture();
  const { records, hospital, patient, otherPatient } = fixture;
  const leaves: RecordLeaf[] = Array.from({ length: BATCH_SIZE }, (_, i) => [
    idOf(`batched ciphertext #${i}`),
    i % 2 === 0 ? patient.address : otherPatient.address,
    i % Object.keys(DataClass).length,
  ]);
  const tree = StandardMerkleTree.of(leaves, RECORD_LEAF);
  const manifest = pointer("bafymanifest");
  const anchoredAt = await minedAt(await records.connect(hospital).anchorBatch(tree.root, BATCH_SIZE, manifest));
  return { ...fixture, leaves, tree, manifest, anchoredAt };
}

function batched(leaf: RecordLeaf) {
  return { contentHash: leaf[0], patient: leaf[1], dataClass: leaf[2] };
}

describe("RecordRegistry", function () {
  it("names its ledger and its version", async function () {
    const { ledger, records } = await loadFixture(deployLedgerFixture);
    expect(await records.ledger()).to.equal(await ledger.getAddress());
    expect(await records.version()).to.equal("1.0.0");
  });

  describe("anchorRecord", function () {
    it("anchors version 1, emits RecordAnchored with the pointer and stores the record", async function () {
      const { ledger, records, hospital, patient } = await loadFixture(deployLedgerFixture);
      const id = idOf("ciphertext: chest x-ray");
      await expect(records.connect(hospital).anchorRecord(patient.address, id, DataClass.IMAGING, pointer("bafyxray")))
        .to.emit(records, "RecordAnchored")
        .withArgs(id, patient.address, hospital.address, DataClass.IMAGING, 1, ZeroHash, pointer("bafyxray"));
      const { index } = await ledger.partyOf(hospital.address);
      expect(index).to.be.greaterThan(0);
      const record = await records.recordOf(id);
      expect(record.patient).to.equal(patient.address);
      expect(record.providerIndex).to.equal(index);
      expect(record.version).to.equal(1);
      expect(record.dataClass).to.equal(DataClass.IMAGING);
      expect(record.superseded).to.equal(false);
      expect(await ledger.partyAt(record.providerIndex)).to.equal(hospital.address);
    });

    it("accepts every known data class and an empty pointer", async function () {
      const { records, lab, patient } = await loadFixture(deployLedgerFixture);
      for (const dataClass of Object.values(DataClass)) {
        const id = idOf(`ciphertext of class ${dataClass}`);
        await expect(records.connect(lab).anchorRecord(patient.address, id, dataClass, "0x"))
          .to.emit(records, "RecordAnchored")
          .withArgs(id, patient.address, lab.address, dataClass, 1, ZeroHash, "0x");
        expect((await records.recordOf(id)).dataClass).to.equal(dataClass);
      }
    });

    it("answers an all-zero record for an unknown id", async function () {
      const { records } = await loadFixture(deployLedgerFixture);
      expect(await records.recordOf(idOf("never anchored"))).to.deep.equal([ZeroAddress, 0n, 0n, 0n, false]);
    });

    context("when the caller is not a live provider, with the ledger's own error", function () {
      it("reverts for a researcher", async function () {
        const { ledger, records, university, patient } = await loadFixture(deployLedgerFixture);
        await expect(records.connect(university).anchorRecord(patient.address, idOf("x"), DataClass.LAB_RESULT, "0x"))
          .to.be.revertedWithCustomError(ledger, "PartyNotAccredited")
          .withArgs(university.address, Role.PROVIDER);
      });

      it("reverts for a custodian that is not a provider", async function () {
        const { ledger, records, admin, stranger, patient } = await loadFixture(deployLedgerFixture);
        await ledger.connect(admin).accredit(stranger.address, Role.CUSTODIAN, false, 0);
        await expect(records.connect(stranger).anchorRecord(patient.address, idOf("x"), DataClass.LAB_RESULT, "0x"))
          .to.be.revertedWithCustomError(ledger, "PartyNotAccredited")
          .withArgs(stranger.address, Role.PROVIDER);
      });

      it("reverts for a suspended provider", async function () {
        const { ledger, records, admin, lab, patient } = await loadFixture(deployLedgerFixture);
        await ledger.connect(admin).suspend(lab.address, 2);
        await expect(records.connect(lab).anchorRecord(patient.address, idOf("x"), DataClass.LAB_RESULT, "0x"))
          .to.be.revertedWithCustomError(ledger, "AccreditationSuspended")
          .withArgs(lab.address);
      });

      it("reverts for a provider whose accreditation has lapsed", async function () {
        const { ledger, records, admin, lab, patient } = await loadFixture(deployLedgerFixture);
        const until = (await time.latest()) + DAY;
        await ledger.connect(admin).accredit(lab.address, Role.PROVIDER, false, until);
        await time.increaseTo(until);
        await expect(records.connect(lab).anchorRecord(patient.address, idOf("x"), DataClass.LAB_RESULT, "0x"))
          .to.be.revertedWithCustomError(ledger, "AccreditationExpired")
          .withArgs(lab.address, until);
      });
    });

    it("reverts with InvalidPatient for the zero address", async function () {
      const { records, hospital } = await loadFixture(deployLedgerFixture);
      await expect(records.connect(hospital).anchorRecord(ZeroAddress, idOf("x"), DataClass.LAB_RESULT, "0x"))
        .to.be.revertedWithCustomError(records, "InvalidPatient")
        .withArgs(ZeroAddress);
    });

    it("reverts with UnknownRecordDataClass for class 15 and above", async function () {
      const { records, hospital, patient } = await loadFixture(deployLedgerFixture);
      for (const dataClass of [15, 255]) {
        await expect(records.connect(hospital).anchorRecord(patient.address, idOf("x"), dataClass, "0x"))
          .to.be.revertedWithCustomError(records, "UnknownRecordDataClass")
          .withArgs(dataClass);
      }
    });

    it("reverts with InvalidContentHash for a zero hash", async function () {
      const { records, hospital, patient } = await loadFixture(deployLedgerFixture);
      await expect(records.connect(hospital).anchorRecord(patient.address, ZeroHash, DataClass.LAB_RESULT, "0x"))
        .to.be.revertedWithCustomError(records, "InvalidContentHash")
        .withArgs(ZeroHash);
    });

    it("reverts with RecordAlreadyAnchored for a hash anchored before, by any provider", async function () {
      const { records, hospital, lab, patient, otherPatient, v1 } = await loadFixture(anchoredRecordFixture);
      await expect(records.connect(hospital).anchorRecord(patient.address, v1, DataClass.LAB_RESULT, "0x"))
        .to.be.revertedWithCustomError(records, "RecordAlreadyAnchored")
        .withArgs(v1);
      await expect(records.connect(lab).anchorRecord(otherPatient.address, v1, DataClass.IMAGING, "0x"))
        .to.be.revertedWithCustomError(records, "RecordAlreadyAnchored")
        .withArgs(v1);
    });
  });

  describe("amendRecord", function () {
    it("builds a version chain 1 -> 2 -> 3, each amendment superseding the one it names", async function () {
      const { records, hospital, patient, v1, hospitalIndex } = await loadFixture(anchoredRecordFixture);
      const v2 = idOf("ciphertext: lab panel, version 2");
      const v3 = idOf("ciphertext: lab panel, version 3");

      await expect(records.connect(hospital).amendRecord(v1, v2, pointer("bafyv2")))
        .to.emit(records, "RecordAnchored")
        .withArgs(v2, patient.address, hospital.address, DataClass.LAB_RESULT, 2, v1, pointer("bafyv2"));
      expect(await records.recordOf(v1)).to.deep.equal([
        patient.address,
        hospitalIndex,
        1n,
        BigInt(DataClass.LAB_RESULT),
        true,
      ]);
      expect(await records.recordOf(v2)).to.deep.equal([
        patient.address,
        hospitalIndex,
        2n,
        BigInt(DataClass.LAB_RESULT),
        false,
      ]);

      await expect(records.connect(hospital).amendRecord(v2, v3, pointer("bafyv3")))
        .to.emit(records, "RecordAnchored")
        .withArgs(v3, patient.address, hospital.address, DataClass.LAB_RESULT, 3, v2, pointer("bafyv3"));
      expect(await records.recordOf(v2)).to.deep.equal([
        patient.address,
        hospitalIndex,
        2n,
        BigInt(DataClass.LAB_RESULT),
        true,
      ]);
      expect(await records.recordOf(v3)).to.deep.equal([
        patient.address,
        hospitalIndex,
        3n,
        BigInt(DataClass.LAB_RESULT),
        false,
      ]);
      expect((await records.recordOf(v1)).superseded).to.equal(true);
    });

    it("reverts with RecordAlreadySuperseded when a version is amended twice, so chains never fork", async function () {
      const { records, hospital, v1 } = await loadFixture(anchoredRecordFixture);
      await records.connect(hospital).amendRecord(v1, idOf("v2"), "0x");
      await expect(records.connect(hospital).amendRecord(v1, idOf("fork"), "0x"))
        .to.be.revertedWithCustomError(records, "RecordAlreadySuperseded")
        .withArgs(v1);
      expect((await records.recordOf(idOf("fork"))).version).to.equal(0);
    });

    it("reverts with NotRecordProvider when another provider amends", async function () {
      const { records, lab, v1 } = await loadFixture(anchoredRecordFixture);
      await expect(records.connect(lab).amendRecord(v1, idOf("v2"), "0x"))
        .to.be.revertedWithCustomError(records, "NotRecordProvider")
        .withArgs(v1, lab.address);
    });

    it("reverts with the ledger's error for a caller that is not a live provider, the original one included", async function () {
      const { ledger, records, admin, hospital, university, v1 } = await loadFixture(anchoredRecordFixture);
      await expect(records.connect(university).amendRecord(v1, idOf("v2"), "0x"))
        .to.be.revertedWithCustomError(ledger, "PartyNotAccredited")
        .withArgs(university.address, Role.PROVIDER);
      await ledger.connect(admin).suspend(hospital.address, 1);
      await expect(records.connect(hospital).amendRecord(v1, idOf("v2"), "0x"))
        .to.be.revertedWithCustomError(ledger, "AccreditationSuspended")
        .withArgs(hospital.address);
    });

    it("reverts with RecordNotFound for an unknown previous id", async function () {
      const { records, hospital } = await loadFixture(anchoredRecordFixture);
      const unknown = idOf("never anchored");
      await expect(records.connect(hospital).amendRecord(unknown, idOf("v2"), "0x"))
        .to.be.revertedWithCustomError(records, "RecordNotFound")
        .withArgs(unknown);
    });

    it("reverts with InvalidContentHash or RecordAlreadyAnchored when the new hash is zero or not new", async function () {
      const { records, hospital, patient, v1 } = await loadFixture(anchoredRecordFixture);
      await expect(records.connect(hospital).amendRecord(v1, ZeroHash, "0x"))
        .to.be.revertedWithCustomError(records, "InvalidContentHash")
        .withArgs(ZeroHash);
      await expect(records.connect(hospital).amendRecord(v1, v1, "0x"))
        .to.be.revertedWithCustomError(records, "RecordAlreadyAnchored")
        .withArgs(v1);
      const other = idOf("another record");
      await records.connect(hospital).anchorRecord(patient.address, other, DataClass.IMAGING, "0x");
      await expect(records.connect(hospital).amendRecord(v1, other, "0x"))
        .to.be.revertedWithCustomError(records, "RecordAlreadyAnchored")
        .withArgs(other);
      expect((await records.recordOf(v1)).superseded).to.equal(false);
    });

    // VersionOverflow is not tested: it needs a version of 2^32 - 1, i.e. 4,294,967,294 successive
    // amendments (versions only grow by one, and batched records enter at version 1), which is out of
    // reach of a test and of any real chain.
  });

  describe("anchorBatch", function () {
    it("anchors the root of 100 records, emits RecordBatchAnchored and stores the batch", async function () {
      const { ledger, records, hospital, tree, manifest, anchoredAt } = await loadFixture(anchoredBatchFixture);
      const { index } = await ledger.partyOf(hospital.address);
      expect(await records.batchOf(tree.root)).to.deep.equal([index, BigInt(BATCH_SIZE), BigInt(anchoredAt)]);
      const [event] = await records.queryFilter(records.filters.RecordBatchAnchored(tree.root));
      expect([...event.args]).to.deep.equal([tree.root, hospital.address, BigInt(BATCH_SIZE), manifest]);
    });

    it("emits RecordBatchAnchored with the count and manifest", async function () {
      const { records, lab } = await loadFixture(deployLedgerFixture);
      const root = keccak256(toUtf8Bytes("some root"));
      await expect(records.connect(lab).anchorBatch(root, 7, pointer("bafylist")))
        .to.emit(records, "RecordBatchAnchored")
        .withArgs(root, lab.address, 7, pointer("bafylist"));
    });

    it("answers an all-zero batch for an unknown root", async function () {
      const { records } = await loadFixture(deployLedgerFixture);
      expect(await records.batchOf(keccak256("0x01"))).to.deep.equal([0n, 0n, 0n]);
    });

    it("reverts with EmptyRecordBatch for a count of zero", async function () {
      const { records, hospital } = await loadFixture(deployLedgerFixture);
      await expect(records.connect(hospital).anchorBatch(keccak256("0x01"), 0, "0x")).to.be.revertedWithCustomError(
        records,
        "EmptyRecordBatch",
      );
    });

    it("reverts with InvalidContentHash for a zero root", async function () {
      const { records, hospital } = await loadFixture(deployLedgerFixture);
      await expect(records.connect(hospital).anchorBatch(ZeroHash, 1, "0x"))
        .to.be.revertedWithCustomError(records, "InvalidContentHash")
        .withArgs(ZeroHash);
    });

    it("reverts with BatchAlreadyAnchored for a root anchored before, by any provider", async function () {
      const { records, hospital, lab, tree } = await loadFixture(anchoredBatchFixture);
      for (const provider of [hospital, lab]) {
        await expect(records.connect(provider).anchorBatch(tree.root, 1, "0x"))
          .to.be.revertedWithCustomError(records, "BatchAlreadyAnchored")
          .withArgs(tree.root);
      }
    });

    it("reverts with the ledger's error for a caller that is not a live provider", async function () {
      const { ledger, records, pharma } = await loadFixture(deployLedgerFixture);
      await expect(records.connect(pharma).anchorBatch(keccak256("0x01"), 1, "0x"))
        .to.be.revertedWithCustomError(ledger, "PartyNotAccredited")
        .withArgs(pharma.address, Role.PROVIDER);
    });
  });

  describe("verifyBatchedRecord", function () {
    it("uses the documented leaf: keccak256(bytes.concat(keccak256(abi.encode(contentHash, patient, dataClass))))", async function () {
      const { tree, leaves } = await loadFixture(anchoredBatchFixture);
      const leaf = leaves[3];
      const inner = keccak256(AbiCoder.defaultAbiCoder().encode(RECORD_LEAF, leaf));
      expect(tree.leafHash(leaf)).to.equal(keccak256(inner));
    });

    it("proves every one of the 100 records in the batch", async function () {
      const { records, tree } = await loadFixture(anchoredBatchFixture);
      let proven = 0;
      for (const [i, leaf] of tree.entries()) {
        expect(await records.verifyBatchedRecord(tree.root, batched(leaf), tree.getProof(i)), `leaf ${i}`).to.equal(
          true,
        );
        proven++;
      }
      expect(proven).to.equal(BATCH_SIZE);
    });

    it("refuses a tampered leaf, another leaf's proof, and a root that was never anchored", async function () {
      const { records, tree, leaves, otherPatient, patient } = await loadFixture(anchoredBatchFixture);
      const leaf = leaves[10];
      expect(leaf[1]).to.equal(patient.address);
      const proof = tree.getProof(10);
      expect(await records.verifyBatchedRecord(tree.root, batched(leaf), proof)).to.equal(true);

      const tampered: RecordLeaf[] = [
        [idOf("swapped ciphertext"), leaf[1], leaf[2]],
        [leaf[0], otherPatient.address, leaf[2]],
        [leaf[0], leaf[1], (leaf[2] + 1) % 15],
      ];
      for (const t of tampered) expect(await records.verifyBatchedRecord(tree.root, batched(t), proof)).to.equal(false);
      expect(await records.verifyBatchedRecord(tree.root, batched(leaf), tree.getProof(11))).to.equal(false);

      // A valid tree that nobody anchored proves nothing.
      const unanchored = StandardMerkleTree.of(leaves.slice(0, 50), RECORD_LEAF);
      const i = [...unanchored.entries()].find(([, v]) => v[0] === leaves[0][0])![0];
      expect(StandardMerkleTree.verify(unanchored.root, RECORD_LEAF, leaves[0], unanchored.getProof(i))).to.equal(true);
      expect(await records.verifyBatchedRecord(unanchored.root, batched(leaves[0]), unanchored.getProof(i))).to.equal(
        false,
      );
    });
  });

  describe("amendBatchedRecord", function () {
    it("stores the batched version as superseded and the amendment as version 2", async function () {
      const { ledger, records, hospital, tree, leaves } = await loadFixture(anchoredBatchFixture);
      const i = 42;
      const leaf = leaves[i];
      const amended = idOf("amended batched ciphertext #42");
      expect((await records.recordOf(leaf[0])).version).to.equal(0);

      await expect(
        records
          .connect(hospital)
          .amendBatchedRecord(tree.root, batched(leaf), tree.getProof(i), amended, pointer("bafyamend")),
      )
        .to.emit(records, "RecordAnchored")
        .withArgs(amended, leaf[1], hospital.address, leaf[2], 2, leaf[0], pointer("bafyamend"));

      const { index } = await ledger.partyOf(hospital.address);
      expect(await records.batchedRecordOf(index, leaf[0])).to.deep.equal([leaf[1], index, 1n, BigInt(leaf[2]), true]);
      // The batched version is the batch provider's, not a separate anchor of these bytes.
      expect((await records.recordOf(leaf[0])).version).to.equal(0);
      expect(await records.recordOf(amended)).to.deep.equal([leaf[1], index, 2n, BigInt(leaf[2]), false]);

      // The chain goes on with amendRecord.
      const v3 = idOf("amended batched ciphertext #42, again");
      await expect(records.connect(hospital).amendRecord(amended, v3, "0x"))
        .to.emit(records, "RecordAnchored")
        .withArgs(v3, leaf[1], hospital.address, leaf[2], 3, amended, "0x");
    });

    it("reverts with RecordAlreadySuperseded on a second amendment of the batched version", async function () {
      const { records, hospital, tree, leaves } = await loadFixture(anchoredBatchFixture);
      const proof = tree.getProof(7);
      await records.connect(hospital).amendBatchedRecord(tree.root, batched(leaves[7]), proof, idOf("first"), "0x");
      await expect(
        records.connect(hospital).amendBatchedRecord(tree.root, batched(leaves[7]), proof, idOf("second"), "0x"),
      )
        .to.be.revertedWithCustomError(records, "RecordAlreadySuperseded")
        .withArgs(leaves[7][0]);
      // A batched record is amended through its batch only: on its own, its hash names no record.
      await expect(records.connect(hospital).amendRecord(leaves[7][0], idOf("second"), "0x"))
        .to.be.revertedWithCustomError(records, "RecordNotFound")
        .withArgs(leaves[7][0]);
    });

    it("reverts with InvalidBatchProof for a tampered leaf or a wrong proof", async function () {
      const { records, hospital, tree, leaves, otherPatient } = await loadFixture(anchoredBatchFixture);
      const leaf = leaves[0];
      const tampered = { ...batched(leaf), patient: otherPatient.address };
      await expect(
        records.connect(hospital).amendBatchedRecord(tree.root, tampered, tree.getProof(0), idOf("new"), "0x"),
      )
        .to.be.revertedWithCustomError(records, "InvalidBatchProof")
        .withArgs(tree.root, leaf[0]);
      await expect(
        records.connect(hospital).amendBatchedRecord(tree.root, batched(leaf), tree.getProof(1), idOf("new"), "0x"),
      )
        .to.be.revertedWithCustomError(records, "InvalidBatchProof")
        .withArgs(tree.root, leaf[0]);
    });

    it("reverts with BatchNotFound for a root that was never anchored", async function () {
      const { records, hospital, leaves } = await loadFixture(anchoredBatchFixture);
      const other = StandardMerkleTree.of(leaves.slice(0, 2), RECORD_LEAF);
      await expect(
        records
          .connect(hospital)
          .amendBatchedRecord(other.root, batched(leaves[0]), other.getProof(0), idOf("new"), "0x"),
      )
        .to.be.revertedWithCustomError(records, "BatchNotFound")
        .withArgs(other.root);
    });

    it("reverts with NotRecordProvider for a provider other than the batch's", async function () {
      const { records, lab, tree, leaves } = await loadFixture(anchoredBatchFixture);
      await expect(
        records.connect(lab).amendBatchedRecord(tree.root, batched(leaves[5]), tree.getProof(5), idOf("new"), "0x"),
      )
        .to.be.revertedWithCustomError(records, "NotRecordProvider")
        .withArgs(leaves[5][0], lab.address);
    });

    it("reverts with the ledger's error for a caller that is not a live provider", async function () {
      const { ledger, records, admin, hospital, tree, leaves } = await loadFixture(anchoredBatchFixture);
      await ledger.connect(admin).suspend(hospital.address, 4);
      await expect(
        records
          .connect(hospital)
          .amendBatchedRecord(tree.root, batched(leaves[5]), tree.getProof(5), idOf("new"), "0x"),
      )
        .to.be.revertedWithCustomError(ledger, "AccreditationSuspended")
        .withArgs(hospital.address);
    });

    it("reverts with InvalidContentHash or RecordAlreadyAnchored when the new hash is zero or not new", async function () {
      const { records, hospital, tree, leaves } = await loadFixture(anchoredBatchFixture);
      await expect(
        records.connect(hospital).amendBatchedRecord(tree.root, batched(leaves[5]), tree.getProof(5), ZeroHash, "0x"),
      )
        .to.be.revertedWithCustomError(records, "InvalidContentHash")
        .withArgs(ZeroHash);
      await expect(
        records
          .connect(hospital)
          .amendBatchedRecord(tree.root, batched(leaves[5]), tree.getProof(5), leaves[5][0], "0x"),
      )
        .to.be.revertedWithCustomError(records, "RecordAlreadyAnchored")
        .withArgs(leaves[5][0]);
      expect((await records.recordOf(leaves[5][0])).version).to.equal(0);
    });

    // A batch's records are the batch provider's claim (batchedRecordOf), apart from records anchored on
    // their own (recordOf): a separate anchor of a leaf's bytes, before or after the batch, is another
    // record. See docs/threat-model.md, "Anchor squatting", and the squatting context below.
    it("refuses to store a batched record with no patient or an unknown class, as anchorRecord would", async function () {
      const { records, hospital, patient } = await loadFixture(anchoredBatchFixture);
      const bad: RecordLeaf[] = [
        [idOf("no-patient"), ZeroAddress, DataClass.LAB_RESULT],
        [idOf("bad-class"), patient.address, 15],
      ];
      const tree = StandardMerkleTree.of(bad, ["bytes32", "address", "uint8"]);
      await records.connect(hospital).anchorBatch(tree.root, 2, "0x");
      await expect(
        records.connect(hospital).amendBatchedRecord(tree.root, batched(bad[0]), tree.getProof(0), idOf("x"), "0x"),
      )
        .to.be.revertedWithCustomError(records, "InvalidPatient")
        .withArgs(ZeroAddress);
      await expect(
        records.connect(hospital).amendBatchedRecord(tree.root, batched(bad[1]), tree.getProof(1), idOf("y"), "0x"),
      )
        .to.be.revertedWithCustomError(records, "UnknownRecordDataClass")
        .withArgs(15);
    });

    it("reverts with InvalidContentHash when the batched record named has a zero hash", async function () {
      const { records, hospital, tree, leaves } = await loadFixture(anchoredBatchFixture);
      const zeroLeaf = batched([ZeroHash, leaves[0][1], leaves[0][2]] as RecordLeaf);
      await expect(
        records.connect(hospital).amendBatchedRecord(tree.root, zeroLeaf, tree.getProof(0), idOf("fix"), "0x"),
      )
        .to.be.revertedWithCustomError(records, "InvalidContentHash")
        .withArgs(ZeroHash);
    });

    context("when another provider anchors a batched record's bytes on its own (squatting)", function () {
      async function squattedFixture() {
        const fixture = await anchoredBatchFixture();
        const { records, ledger, hospital, lab, leaves, otherPatient } = fixture;
        const leaf = leaves[9];
        // The squatter copies the leaf's hash, with another patient for good measure.
        await records.connect(lab).anchorRecord(otherPatient.address, leaf[0], DataClass.IMAGING, "0x");
        const hospitalIndex = (await ledger.partyOf(hospital.address)).index;
        const labIndex = (await ledger.partyOf(lab.address)).index;
        return { ...fixture, leaf, hospitalIndex, labIndex };
      }

      it("lets the batch's provider amend the batched record all the same", async function () {
        const { records, hospital, tree, leaf, hospitalIndex } = await loadFixture(squattedFixture);
        const v2 = idOf("batched ciphertext #9, version 2");
        await expect(records.connect(hospital).amendBatchedRecord(tree.root, batched(leaf), tree.getProof(9), v2, "0x"))
          .to.emit(records, "BatchedRecordAmended")
          .withArgs(tree.root, leaf[0], v2)
          .and.to.emit(records, "RecordAnchored")
          .withArgs(v2, leaf[1], hospital.address, leaf[2], 2, leaf[0], "0x");
        expect(await records.batchedRecordOf(hospitalIndex, leaf[0])).to.deep.equal([
          leaf[1],
          hospitalIndex,
          1n,
          BigInt(leaf[2]),
          true,
        ]);
        expect(await records.recordOf(v2)).to.deep.equal([leaf[1], hospitalIndex, 2n, BigInt(leaf[2]), false]);
      });

      it("leaves the squatter's anchor a record of its own, which cannot touch the batched record", async function () {
        const { records, hospital, lab, otherPatient, tree, leaf, hospitalIndex, labIndex } =
          await loadFixture(squattedFixture);
        await records
          .connect(hospital)
          .amendBatchedRecord(tree.root, batched(leaf), tree.getProof(9), idOf("v2"), "0x");
        // Its own record, unchanged by the batch's amendment; amending it makes no version of the batch's.
        expect(await records.recordOf(leaf[0])).to.deep.equal([
          otherPatient.address,
          labIndex,
          1n,
          BigInt(DataClass.IMAGING),
          false,
        ]);
        await records.connect(lab).amendRecord(leaf[0], idOf("squatter v2"), "0x");
        expect(await records.batchedRecordOf(hospitalIndex, leaf[0])).to.deep.equal([
          leaf[1],
          hospitalIndex,
          1n,
          BigInt(leaf[2]),
          true,
        ]);
        expect((await records.batchedRecordOf(labIndex, leaf[0])).version).to.equal(0);
        // And it cannot amend the batched record: the batch is not its own.
        await expect(
          records.connect(lab).amendBatchedRecord(tree.root, batched(leaf), tree.getProof(9), idOf("x"), "0x"),
        )
          .to.be.revertedWithCustomError(records, "NotRecordProvider")
          .withArgs(leaf[0], lab.address);
      });

      it("lets a squatter's own batch of the same bytes make only a record of its own", async function () {
        const { records, hospital, lab, tree, leaf, hospitalIndex, labIndex } = await loadFixture(squattedFixture);
        const copy = StandardMerkleTree.of([leaf, [idOf("filler"), leaf[1], 0] as RecordLeaf], RECORD_LEAF);
        await records.connect(lab).anchorBatch(copy.root, 2, "0x");
        await records.connect(lab).amendBatchedRecord(copy.root, batched(leaf), copy.getProof(0), idOf("lab v2"), "0x");
        expect((await records.batchedRecordOf(labIndex, leaf[0])).providerIndex).to.equal(labIndex);
        // The hospital's claim is untouched and still amendable by the hospital alone.
        await records
          .connect(hospital)
          .amendBatchedRecord(tree.root, batched(leaf), tree.getProof(9), idOf("v2"), "0x");
        expect((await records.batchedRecordOf(hospitalIndex, leaf[0])).superseded).to.equal(true);
      });
    });

    it("refuses a second chain from the same bytes in another batch of the same provider", async function () {
      const { records, hospital, tree, leaves } = await loadFixture(anchoredBatchFixture);
      const leaf = leaves[3];
      const again = StandardMerkleTree.of([leaf, [idOf("filler"), leaf[1], 0] as RecordLeaf], RECORD_LEAF);
      await records.connect(hospital).anchorBatch(again.root, 2, "0x");
      await records.connect(hospital).amendBatchedRecord(tree.root, batched(leaf), tree.getProof(3), idOf("v2"), "0x");
      await expect(
        records.connect(hospital).amendBatchedRecord(again.root, batched(leaf), again.getProof(0), idOf("fork"), "0x"),
      )
        .to.be.revertedWithCustomError(records, "RecordAlreadySuperseded")
        .withArgs(leaf[0]);
    });

    it("says RecordAlreadySuperseded when the batched record itself was amended before", async function () {
      const { records, hospital, tree, leaves } = await loadFixture(anchoredBatchFixture);
      const leaf = leaves[9];
      await records.connect(hospital).amendBatchedRecord(tree.root, batched(leaf), tree.getProof(9), idOf("v2"), "0x");
      await expect(
        records.connect(hospital).amendBatchedRecord(tree.root, batched(leaf), tree.getProof(9), idOf("v2b"), "0x"),
      )
        .to.be.revertedWithCustomError(records, "RecordAlreadySuperseded")
        .withArgs(leaf[0]);
    });
  });
});
