import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { hexlify, sha256, toUtf8Bytes } from "ethers";
import { ethers } from "hardhat";

import { DataClass, Role } from "../../sdk/codes";
import { deployLedgerFixture } from "../helpers/fixtures";

const idOf = (ciphertext: string) => sha256(toUtf8Bytes(ciphertext));
const pointer = (cid: string) => hexlify(toUtf8Bytes(`ipfs://${cid}`));

/**
 * The suite with CustodianSets, three custodians (the hospital and two others, accredited CUSTODIAN)
 * and one record of the patient anchored by the hospital.
 */
async function custodianSetsFixture() {
  const fixture = await deployLedgerFixture();
  const { ledger, records, admin, hospital, patient, delegate, relayer } = fixture;
  const sets = await ethers.deployContract("CustodianSets", [await ledger.getAddress(), await records.getAddress()]);
  // The delegate and relayer accounts stand in for a foundation's and a university's custodian.
  await ledger.connect(admin).accredit(delegate.address, Role.CUSTODIAN, false, 0);
  await ledger.connect(admin).accredit(relayer.address, Role.CUSTODIAN, false, 0);
  const custodians = [hospital.address, delegate.address, relayer.address];
  const recordId = idOf("ciphertext: lab panel");
  await records.connect(hospital).anchorRecord(patient.address, recordId, DataClass.LAB_RESULT, pointer("bafy1"));
  return { ...fixture, sets, custodians, recordId, foundation: delegate, university: relayer };
}

describe("CustodianSets", function () {
  describe("defining a set", function () {
    it("stores k of n custodians under a new id and emits CustodianSetDefined", async function () {
      const { sets, hospital, custodians } = await loadFixture(custodianSetsFixture);
      await expect(sets.connect(hospital).defineSet(custodians, 2))
        .to.emit(sets, "CustodianSetDefined")
        .withArgs(1, hospital.address, 2, custodians);
      const set = await sets.setOf(1);
      expect(set.threshold).to.equal(2);
      expect(set.custodians).to.deep.equal(custodians);
      expect(await sets.setCount()).to.equal(1);
    });

    it("gives each new set the next id and leaves earlier sets as they were", async function () {
      const { sets, hospital, custodians } = await loadFixture(custodianSetsFixture);
      await sets.connect(hospital).defineSet(custodians, 2);
      await sets.connect(hospital).defineSet(custodians.slice(0, 2), 2);
      expect((await sets.setOf(1)).custodians).to.deep.equal(custodians);
      expect((await sets.setOf(2)).custodians).to.deep.equal(custodians.slice(0, 2));
    });

    it("reverts when the caller is not an accredited provider", async function () {
      const { sets, ledger, stranger, custodians } = await loadFixture(custodianSetsFixture);
      await expect(sets.connect(stranger).defineSet(custodians, 2))
        .to.be.revertedWithCustomError(ledger, "PartyNotAccredited")
        .withArgs(stranger.address, Role.PROVIDER);
    });

    it("reverts when a member is not an accredited custodian", async function () {
      const { sets, ledger, hospital, lab, custodians } = await loadFixture(custodianSetsFixture);
      await expect(sets.connect(hospital).defineSet([custodians[0], lab.address], 2))
        .to.be.revertedWithCustomError(ledger, "PartyNotAccredited")
        .withArgs(lab.address, Role.CUSTODIAN);
    });

    it("reverts when a member is suspended", async function () {
      const { sets, ledger, admin, hospital, custodians, foundation } = await loadFixture(custodianSetsFixture);
      await ledger.connect(admin).suspend(foundation.address, 1);
      await expect(sets.connect(hospital).defineSet(custodians, 2))
        .to.be.revertedWithCustomError(ledger, "AccreditationSuspended")
        .withArgs(foundation.address);
    });

    it("reverts when a custodian appears twice", async function () {
      const { sets, hospital, custodians } = await loadFixture(custodianSetsFixture);
      await expect(sets.connect(hospital).defineSet([custodians[0], custodians[1], custodians[0]], 2))
        .to.be.revertedWithCustomError(sets, "DuplicateCustodian")
        .withArgs(custodians[0]);
    });

    for (const [threshold, count] of [
      [1, 3],
      [0, 3],
      [4, 3],
      [2, 1],
    ]) {
      it(`reverts for a threshold of ${threshold} out of ${count}`, async function () {
        const { sets, hospital, custodians } = await loadFixture(custodianSetsFixture);
        await expect(sets.connect(hospital).defineSet(custodians.slice(0, count), threshold))
          .to.be.revertedWithCustomError(sets, "InvalidCustodianThreshold")
          .withArgs(threshold, count);
      });
    }

    it("reverts for more than MAX_CUSTODIANS custodians", async function () {
      const { sets, hospital, custodians } = await loadFixture(custodianSetsFixture);
      const many = Array.from({ length: 17 }, (_, i) => custodians[i % 3]);
      await expect(sets.connect(hospital).defineSet(many, 2))
        .to.be.revertedWithCustomError(sets, "TooManyCustodians")
        .withArgs(17, 16);
    });

    it("reverts when reading a set that does not exist", async function () {
      const { sets } = await loadFixture(custodianSetsFixture);
      await expect(sets.setOf(7)).to.be.revertedWithCustomError(sets, "CustodianSetNotFound").withArgs(7);
    });
  });

  describe("assigning a record", function () {
    async function definedFixture() {
      const fixture = await custodianSetsFixture();
      await fixture.sets.connect(fixture.hospital).defineSet(fixture.custodians, 2);
      await fixture.sets.connect(fixture.hospital).defineSet(fixture.custodians.slice(1), 2);
      return fixture;
    }

    it("lets the record's provider assign it, emits the assignment and answers who guards it", async function () {
      const { sets, hospital, recordId, custodians } = await loadFixture(definedFixture);
      await expect(sets.connect(hospital).assignRecord(recordId, 1))
        .to.emit(sets, "RecordCustodiansAssigned")
        .withArgs(recordId, 1, hospital.address, 0);
      expect(await sets.custodianSetOf(recordId)).to.equal(1);
      expect(await sets.custodianPositionOf(recordId, custodians[1])).to.deep.equal([1n, 2n, 2n]);
      const [setId, set] = await sets.recordCustodians(recordId);
      expect([setId, set.threshold, set.custodians]).to.deep.equal([1n, 2n, custodians]);
    });

    it("re-assigns for re-sharing: the event names the previous set, which is left unchanged", async function () {
      const { sets, hospital, recordId, custodians } = await loadFixture(definedFixture);
      await sets.connect(hospital).assignRecord(recordId, 1);
      await expect(sets.connect(hospital).assignRecord(recordId, 2))
        .to.emit(sets, "RecordCustodiansAssigned")
        .withArgs(recordId, 2, hospital.address, 1);
      expect(await sets.custodianSetOf(recordId)).to.equal(2);
      const [setId, set] = await sets.recordCustodians(recordId);
      expect([setId, set.threshold, set.custodians]).to.deep.equal([2n, 2n, custodians.slice(1)]);
      // The hospital has left the record's set: it is no member now, though set 1 still lists it.
      expect(await sets.custodianPositionOf(recordId, custodians[0])).to.deep.equal([2n, 2n, 0n]);
      expect((await sets.setOf(1)).custodians).to.deep.equal(custodians);
    });

    it("answers position 0 for a record without a set", async function () {
      const { sets, recordId, custodians } = await loadFixture(definedFixture);
      expect(await sets.custodianPositionOf(recordId, custodians[0])).to.deep.equal([0n, 0n, 0n]);
      const [setId, set] = await sets.recordCustodians(recordId);
      expect([setId, set.threshold, set.custodians]).to.deep.equal([0n, 0n, []]);
    });

    it("reverts when another provider assigns the record", async function () {
      const { sets, lab, recordId } = await loadFixture(definedFixture);
      await expect(sets.connect(lab).assignRecord(recordId, 1))
        .to.be.revertedWithCustomError(sets, "NotRecordProvider")
        .withArgs(recordId, lab.address);
    });

    it("reverts when the record's provider has been suspended", async function () {
      const { sets, ledger, admin, hospital, recordId } = await loadFixture(definedFixture);
      await ledger.connect(admin).suspend(hospital.address, 1);
      await expect(sets.connect(hospital).assignRecord(recordId, 1))
        .to.be.revertedWithCustomError(ledger, "AccreditationSuspended")
        .withArgs(hospital.address);
    });

    it("reverts for a record that is not anchored", async function () {
      const { sets, hospital } = await loadFixture(definedFixture);
      const unknown = idOf("never anchored");
      await expect(sets.connect(hospital).assignRecord(unknown, 1))
        .to.be.revertedWithCustomError(sets, "CustodianRecordNotFound")
        .withArgs(unknown);
    });

    it("reverts for a set that does not exist", async function () {
      const { sets, hospital, recordId } = await loadFixture(definedFixture);
      await expect(sets.connect(hospital).assignRecord(recordId, 9))
        .to.be.revertedWithCustomError(sets, "CustodianSetNotFound")
        .withArgs(9);
    });

    it("reverts when the record is in that set already", async function () {
      const { sets, hospital, recordId } = await loadFixture(definedFixture);
      await sets.connect(hospital).assignRecord(recordId, 1);
      await expect(sets.connect(hospital).assignRecord(recordId, 1))
        .to.be.revertedWithCustomError(sets, "RecordAlreadyInSet")
        .withArgs(recordId, 1);
    });
  });

  it("names its ledger, registry and version", async function () {
    const { sets, ledger, records } = await loadFixture(custodianSetsFixture);
    expect(await sets.ledger()).to.equal(await ledger.getAddress());
    expect(await sets.records()).to.equal(await records.getAddress());
    expect(await sets.version()).to.equal("1.0.0");
  });
});
