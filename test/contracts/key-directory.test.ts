import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ZeroHash, id } from "ethers";
import { ethers } from "hardhat";

import { deployLedgerFixture } from "../helpers/fixtures";

// Stand-ins for X25519 public keys: any non-zero 32 bytes.
const KEY_1 = id("x25519 public key 1");
const KEY_2 = id("x25519 public key 2");
const KEY_MAX = "0x" + "ff".repeat(32);
const KEY_LOW_BIT = "0x" + "00".repeat(31) + "01";

describe("KeyDirectory", function () {
  describe("registerKey", function () {
    it("stores the caller's key and emits EncryptionKeyRegistered", async function () {
      const { keys, patient } = await loadFixture(deployLedgerFixture);
      expect(await keys.keyOf(patient.address)).to.equal(ZeroHash);

      await expect(keys.connect(patient).registerKey(KEY_1))
        .to.emit(keys, "EncryptionKeyRegistered")
        .withArgs(patient.address, KEY_1);
      expect(await keys.keyOf(patient.address)).to.equal(KEY_1);
    });

    it("stores every byte of the key, down to a single set bit", async function () {
      const { keys, patient, hospital } = await loadFixture(deployLedgerFixture);
      await keys.connect(patient).registerKey(KEY_MAX);
      await keys.connect(hospital).registerKey(KEY_LOW_BIT);

      expect(await keys.keyOf(patient.address)).to.equal(KEY_MAX);
      expect(await keys.keyOf(hospital.address)).to.equal(KEY_LOW_BIT);
    });

    it("rotates to a new key, replacing the old one", async function () {
      const { keys, hospital } = await loadFixture(deployLedgerFixture);
      await keys.connect(hospital).registerKey(KEY_1);

      await expect(keys.connect(hospital).registerKey(KEY_2))
        .to.emit(keys, "EncryptionKeyRegistered")
        .withArgs(hospital.address, KEY_2);
      expect(await keys.keyOf(hospital.address)).to.equal(KEY_2);
    });

    it("accepts the same key again", async function () {
      const { keys, hospital } = await loadFixture(deployLedgerFixture);
      await keys.connect(hospital).registerKey(KEY_1);

      await expect(keys.connect(hospital).registerKey(KEY_1))
        .to.emit(keys, "EncryptionKeyRegistered")
        .withArgs(hospital.address, KEY_1);
      expect(await keys.keyOf(hospital.address)).to.equal(KEY_1);
    });

    it("lets any account register, with no accreditation, and keeps accounts apart", async function () {
      const { keys, patient, stranger } = await loadFixture(deployLedgerFixture);
      await keys.connect(patient).registerKey(KEY_1);
      await keys.connect(stranger).registerKey(KEY_2);

      expect(await keys.keyOf(patient.address)).to.equal(KEY_1);
      expect(await keys.keyOf(stranger.address)).to.equal(KEY_2);
    });

    it("reverts with InvalidEncryptionKey for the zero key, keeping any earlier one", async function () {
      const { keys, patient } = await loadFixture(deployLedgerFixture);
      await keys.connect(patient).registerKey(KEY_1);

      await expect(keys.connect(patient).registerKey(ZeroHash))
        .to.be.revertedWithCustomError(keys, "InvalidEncryptionKey")
        .withArgs(ZeroHash);
      expect(await keys.keyOf(patient.address)).to.equal(KEY_1);
    });
  });

  describe("withdrawKey", function () {
    it("deletes the caller's key and emits EncryptionKeyWithdrawn", async function () {
      const { keys, patient } = await loadFixture(deployLedgerFixture);
      await keys.connect(patient).registerKey(KEY_1);

      await expect(keys.connect(patient).withdrawKey())
        .to.emit(keys, "EncryptionKeyWithdrawn")
        .withArgs(patient.address);
      expect(await keys.keyOf(patient.address)).to.equal(ZeroHash);
    });

    it("reverts with EncryptionKeyNotFound when no key was ever registered", async function () {
      const { keys, stranger } = await loadFixture(deployLedgerFixture);
      await expect(keys.connect(stranger).withdrawKey())
        .to.be.revertedWithCustomError(keys, "EncryptionKeyNotFound")
        .withArgs(stranger.address);
    });

    it("reverts with EncryptionKeyNotFound when the key was already withdrawn", async function () {
      const { keys, patient } = await loadFixture(deployLedgerFixture);
      await keys.connect(patient).registerKey(KEY_1);
      await keys.connect(patient).withdrawKey();

      await expect(keys.connect(patient).withdrawKey())
        .to.be.revertedWithCustomError(keys, "EncryptionKeyNotFound")
        .withArgs(patient.address);
    });

    it("withdraws only the caller's key", async function () {
      const { keys, patient, stranger } = await loadFixture(deployLedgerFixture);
      await keys.connect(patient).registerKey(KEY_1);

      await expect(keys.connect(stranger).withdrawKey())
        .to.be.revertedWithCustomError(keys, "EncryptionKeyNotFound")
        .withArgs(stranger.address);
      expect(await keys.keyOf(patient.address)).to.equal(KEY_1);
    });

    it("lets the account register a key again afterwards", async function () {
      const { keys, patient } = await loadFixture(deployLedgerFixture);
      await keys.connect(patient).registerKey(KEY_1);
      await keys.connect(patient).withdrawKey();

      await keys.connect(patient).registerKey(KEY_2);
      expect(await keys.keyOf(patient.address)).to.equal(KEY_2);
    });
  });

  describe("history", function () {
    it("is told by the events alone, in order, for each account", async function () {
      const { keys, patient, stranger } = await loadFixture(deployLedgerFixture);
      await keys.connect(patient).registerKey(KEY_1);
      await keys.connect(stranger).registerKey(KEY_MAX);
      await keys.connect(patient).registerKey(KEY_2);
      await keys.connect(patient).withdrawKey();

      const registered = await keys.queryFilter(keys.filters.EncryptionKeyRegistered(patient.address));
      const withdrawn = await keys.queryFilter(keys.filters.EncryptionKeyWithdrawn(patient.address));
      expect(registered.map((e) => e.args.publicKey)).to.deep.equal([KEY_1, KEY_2]);
      expect(withdrawn).to.have.length(1);
      expect(withdrawn[0].blockNumber).to.be.greaterThan(registered[1].blockNumber);
    });
  });

  describe("version", function () {
    it("is 1.0.0", async function () {
      const keys = await ethers.deployContract("KeyDirectory");
      expect(await keys.version()).to.equal("1.0.0");
    });
  });
});
