import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { type Signer, type TypedDataDomain, TypedDataEncoder, ZeroHash, id } from "ethers";
import { ethers } from "hardhat";

import type { KeyDirectory } from "../../typechain-types";

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

  describe("registerKeyBySig", function () {
    it("hashes RegisterKey with exactly the fields IKeyDirectory documents, in its own domain", async function () {
      const { keys } = await loadFixture(deployLedgerFixture);
      expect(TypedDataEncoder.from(REGISTER_KEY_TYPES).encodeType("RegisterKey")).to.equal(
        "RegisterKey(address signer,bytes32 publicKey,bytes32 seenKey,uint256 nonce,uint256 deadline)",
      );
      const d = await keys.eip712Domain();
      expect([d.fields, d.name, d.version, d.verifyingContract]).to.deep.equal([
        "0x0f",
        "KeyDirectory",
        "1",
        await keys.getAddress(),
      ]);
    });

    it("registers the signer's key when an account with no role relays it, as registerKey would", async function () {
      const { keys, patient, otherPatient, stranger } = await loadFixture(deployLedgerFixture);
      const direct = await (await keys.connect(patient).registerKey(KEY_1)).wait();
      const args = await signRegisterKey(keys, otherPatient, { publicKey: KEY_1, nonce: 1n });

      const relayed = await (await keys.connect(stranger).registerKeyBySig(...args)).wait();
      const event = (r: typeof direct) => r!.logs.map((l) => keys.interface.parseLog(l)!.args.toArray());
      expect(event(relayed)).to.deep.equal([[otherPatient.address, KEY_1]]);
      expect(event(direct)).to.deep.equal([[patient.address, KEY_1]]);
      expect(await keys.keyOf(otherPatient.address)).to.equal(KEY_1);
      expect(await keys.keyOf(stranger.address)).to.equal(ZeroHash);
      expect(await keys.nonceBitmap(otherPatient.address, 0n)).to.equal(1n << 1n);
    });

    it("rotates a key when the signer names the one it replaces", async function () {
      const { keys, patient, relayer } = await loadFixture(deployLedgerFixture);
      await keys
        .connect(relayer)
        .registerKeyBySig(...(await signRegisterKey(keys, patient, { publicKey: KEY_1, nonce: 1n })));
      await keys
        .connect(relayer)
        .registerKeyBySig(...(await signRegisterKey(keys, patient, { publicKey: KEY_2, seenKey: KEY_1, nonce: 2n })));
      expect(await keys.keyOf(patient.address)).to.equal(KEY_2);
    });

    it("reverts with EncryptionKeyChanged when a held registration would bring back a replaced key", async function () {
      const { keys, patient, relayer } = await loadFixture(deployLedgerFixture);
      const held = await signRegisterKey(keys, patient, { publicKey: KEY_1, nonce: 1n });
      await keys.connect(patient).registerKey(KEY_2);

      await expect(keys.connect(relayer).registerKeyBySig(...held))
        .to.be.revertedWithCustomError(keys, "EncryptionKeyChanged")
        .withArgs(patient.address, ZeroHash, KEY_2);
      expect(await keys.nonceBitmap(patient.address, 0n)).to.equal(0n);
    });

    it("reverts with NonceAlreadyUsed when replayed", async function () {
      const { keys, patient, relayer } = await loadFixture(deployLedgerFixture);
      const args = await signRegisterKey(keys, patient, { publicKey: KEY_1, seenKey: KEY_1, nonce: 5n });
      await keys.connect(patient).registerKey(KEY_1);
      await keys.connect(relayer).registerKeyBySig(...args);
      await expect(keys.connect(relayer).registerKeyBySig(...args))
        .to.be.revertedWithCustomError(keys, "NonceAlreadyUsed")
        .withArgs(patient.address, 5n);
    });

    it("reverts with SignatureExpired one second after the deadline", async function () {
      const { keys, patient, relayer } = await loadFixture(deployLedgerFixture);
      const deadline = (await time.latest()) + 100;
      const args = await signRegisterKey(keys, patient, { publicKey: KEY_1, nonce: 1n, deadline });
      await time.setNextBlockTimestamp(deadline + 1);
      await expect(keys.connect(relayer).registerKeyBySig(...args))
        .to.be.revertedWithCustomError(keys, "SignatureExpired")
        .withArgs(deadline);
    });

    it("reverts with InvalidSignature for another signer, a changed value, another chain or contract", async function () {
      const { keys, ledger, patient, stranger, relayer } = await loadFixture(deployLedgerFixture);
      const [publicKey, seenKey, signer, nonce, deadline, signature] = await signRegisterKey(keys, patient, {
        publicKey: KEY_1,
        nonce: 1n,
      });
      const refused: Parameters<typeof keys.registerKeyBySig>[] = [
        [KEY_2, seenKey, signer, nonce, deadline, signature],
        [publicKey, KEY_2, signer, nonce, deadline, signature],
        [publicKey, seenKey, signer, nonce + 1n, deadline, signature],
        [publicKey, seenKey, signer, nonce, deadline + 1n, signature],
        await signRegisterKey(keys, stranger, { publicKey: KEY_1, nonce: 1n, signer: patient.address }),
        await signRegisterKey(keys, patient, { publicKey: KEY_1, nonce: 1n, domain: { chainId: 1n } }),
        await signRegisterKey(keys, patient, {
          publicKey: KEY_1,
          nonce: 1n,
          domain: { verifyingContract: await ledger.getAddress() },
        }),
      ];
      for (const args of refused) {
        await expect(keys.connect(relayer).registerKeyBySig(...args))
          .to.be.revertedWithCustomError(keys, "InvalidSignature")
          .withArgs(patient.address);
      }
    });

    it("reverts with InvalidEncryptionKey for the zero key, as registerKey does", async function () {
      const { keys, patient, relayer } = await loadFixture(deployLedgerFixture);
      const args = await signRegisterKey(keys, patient, { publicKey: ZeroHash, nonce: 1n });
      await expect(keys.connect(relayer).registerKeyBySig(...args))
        .to.be.revertedWithCustomError(keys, "InvalidEncryptionKey")
        .withArgs(ZeroHash);
    });

    it("registers for an ERC-1271 wallet on its owner's signature", async function () {
      const { keys, relayer, stranger } = await loadFixture(deployLedgerFixture);
      const [walletOwner] = (await ethers.getSigners()).slice(11);
      const wallet = await ethers.deployContract("SmartWalletMock", [walletOwner.address]);
      const signer = await wallet.getAddress();
      await expect(
        keys
          .connect(relayer)
          .registerKeyBySig(...(await signRegisterKey(keys, stranger, { publicKey: KEY_1, nonce: 1n, signer }))),
      )
        .to.be.revertedWithCustomError(keys, "InvalidSignature")
        .withArgs(signer);
      await keys
        .connect(relayer)
        .registerKeyBySig(...(await signRegisterKey(keys, walletOwner, { publicKey: KEY_1, nonce: 1n, signer })));
      expect(await keys.keyOf(signer)).to.equal(KEY_1);
    });
  });

  describe("withdrawKeyBySig", function () {
    it("hashes WithdrawKey and InvalidateNonces with exactly the fields IKeyDirectory documents", function () {
      expect(TypedDataEncoder.from(WITHDRAW_KEY_TYPES).encodeType("WithdrawKey")).to.equal(
        "WithdrawKey(address signer,bytes32 seenKey,uint256 nonce,uint256 deadline)",
      );
      expect(TypedDataEncoder.from(INVALIDATE_NONCES_TYPES).encodeType("InvalidateNonces")).to.equal(
        "InvalidateNonces(address signer,uint256 word,uint256 mask,uint256 nonce,uint256 deadline)",
      );
    });

    it("withdraws the signer's key when a third party with no role relays it, as withdrawKey would", async function () {
      const { keys, patient, stranger } = await loadFixture(deployLedgerFixture);
      await keys.connect(patient).registerKey(KEY_1);
      const args = await signWithdrawKey(keys, patient, { seenKey: KEY_1, nonce: 3n });

      await expect(keys.connect(stranger).withdrawKeyBySig(...args))
        .to.emit(keys, "EncryptionKeyWithdrawn")
        .withArgs(patient.address);
      expect(await keys.keyOf(patient.address)).to.equal(ZeroHash);
      expect(await keys.nonceBitmap(patient.address, 0n)).to.equal(1n << 3n);
    });

    it("reverts with NonceAlreadyUsed when replayed after the same key is registered again", async function () {
      const { keys, patient, relayer } = await loadFixture(deployLedgerFixture);
      await keys.connect(patient).registerKey(KEY_1);
      const args = await signWithdrawKey(keys, patient, { seenKey: KEY_1, nonce: 1n });
      await keys.connect(relayer).withdrawKeyBySig(...args);
      await keys.connect(patient).registerKey(KEY_1);

      await expect(keys.connect(relayer).withdrawKeyBySig(...args))
        .to.be.revertedWithCustomError(keys, "NonceAlreadyUsed")
        .withArgs(patient.address, 1n);
      expect(await keys.keyOf(patient.address)).to.equal(KEY_1);
    });

    it("reverts with EncryptionKeyChanged when the key was rotated after signing, keeping the new key", async function () {
      const { keys, patient, relayer } = await loadFixture(deployLedgerFixture);
      await keys.connect(patient).registerKey(KEY_1);
      const held = await signWithdrawKey(keys, patient, { seenKey: KEY_1, nonce: 1n });
      await keys.connect(patient).registerKey(KEY_2);

      await expect(keys.connect(relayer).withdrawKeyBySig(...held))
        .to.be.revertedWithCustomError(keys, "EncryptionKeyChanged")
        .withArgs(patient.address, KEY_1, KEY_2);
      expect(await keys.keyOf(patient.address)).to.equal(KEY_2);
    });

    it("reverts with EncryptionKeyNotFound when no key is registered", async function () {
      const { keys, patient, relayer } = await loadFixture(deployLedgerFixture);
      const args = await signWithdrawKey(keys, patient, { seenKey: ZeroHash, nonce: 1n });
      await expect(keys.connect(relayer).withdrawKeyBySig(...args))
        .to.be.revertedWithCustomError(keys, "EncryptionKeyNotFound")
        .withArgs(patient.address);
    });

    it("reverts with SignatureExpired one second after the deadline", async function () {
      const { keys, patient, relayer } = await loadFixture(deployLedgerFixture);
      await keys.connect(patient).registerKey(KEY_1);
      const deadline = (await time.latest()) + 100;
      const args = await signWithdrawKey(keys, patient, { seenKey: KEY_1, nonce: 1n, deadline });
      await time.setNextBlockTimestamp(deadline + 1);
      await expect(keys.connect(relayer).withdrawKeyBySig(...args))
        .to.be.revertedWithCustomError(keys, "SignatureExpired")
        .withArgs(deadline);
    });

    it("reverts with InvalidSignature for another signer, a changed value or a RegisterKey signature", async function () {
      const { keys, patient, stranger, relayer } = await loadFixture(deployLedgerFixture);
      await keys.connect(patient).registerKey(KEY_1);
      const [seenKey, signer, nonce, deadline, signature] = await signWithdrawKey(keys, patient, {
        seenKey: KEY_1,
        nonce: 1n,
      });
      const register = await signRegisterKey(keys, patient, { publicKey: KEY_2, seenKey: KEY_1, nonce: 1n });
      const refused: Parameters<typeof keys.withdrawKeyBySig>[] = [
        [seenKey, signer, nonce + 1n, deadline, signature],
        [seenKey, signer, nonce, deadline + 1n, signature],
        [seenKey, signer, register[3], register[4], register[5]],
        await signWithdrawKey(keys, stranger, { seenKey: KEY_1, nonce: 1n, signer: patient.address }),
      ];
      for (const args of refused) {
        await expect(keys.connect(relayer).withdrawKeyBySig(...args))
          .to.be.revertedWithCustomError(keys, "InvalidSignature")
          .withArgs(patient.address);
      }
      expect(await keys.keyOf(patient.address)).to.equal(KEY_1);
    });
  });

  describe("invalidateNonces", function () {
    it("cancels the caller's nonces and emits NoncesInvalidated; a cancelled registration never applies", async function () {
      const { keys, patient, relayer } = await loadFixture(deployLedgerFixture);
      const held = await signRegisterKey(keys, patient, { publicKey: KEY_1, nonce: 258n });

      await expect(keys.connect(patient).invalidateNonces(1n, (1n << 2n) | (1n << 7n)))
        .to.emit(keys, "NoncesInvalidated")
        .withArgs(patient.address, 1n, (1n << 2n) | (1n << 7n));
      expect(await keys.nonceBitmap(patient.address, 1n)).to.equal((1n << 2n) | (1n << 7n));
      await expect(keys.connect(relayer).registerKeyBySig(...held))
        .to.be.revertedWithCustomError(keys, "NonceAlreadyUsed")
        .withArgs(patient.address, 258n);
      expect(await keys.keyOf(patient.address)).to.equal(ZeroHash);
    });

    it("cancels only the caller's nonces", async function () {
      const { keys, patient, stranger, relayer } = await loadFixture(deployLedgerFixture);
      await keys.connect(stranger).invalidateNonces(0n, 1n << 1n);
      await keys
        .connect(relayer)
        .registerKeyBySig(...(await signRegisterKey(keys, patient, { publicKey: KEY_1, nonce: 1n })));
      expect(await keys.keyOf(patient.address)).to.equal(KEY_1);
    });

    it("stops an A-to-B-to-A rotation from reviving a held registration once its nonce is cancelled", async function () {
      const { keys, patient, relayer } = await loadFixture(deployLedgerFixture);
      await keys.connect(patient).registerKey(KEY_1);
      const held = await signRegisterKey(keys, patient, { publicKey: KEY_MAX, seenKey: KEY_1, nonce: 9n });
      await keys.connect(patient).registerKey(KEY_2);
      await keys.connect(patient).registerKey(KEY_1);
      await keys.connect(patient).invalidateNonces(0n, 1n << 9n);

      await expect(keys.connect(relayer).registerKeyBySig(...held))
        .to.be.revertedWithCustomError(keys, "NonceAlreadyUsed")
        .withArgs(patient.address, 9n);
      expect(await keys.keyOf(patient.address)).to.equal(KEY_1);
    });
  });

  describe("invalidateNoncesBySig", function () {
    it("cancels a held registration and a held withdrawal when a third party relays it", async function () {
      const { keys, patient, stranger, relayer } = await loadFixture(deployLedgerFixture);
      await keys.connect(patient).registerKey(KEY_1);
      const heldRegister = await signRegisterKey(keys, patient, { publicKey: KEY_2, seenKey: KEY_1, nonce: 1n });
      const heldWithdraw = await signWithdrawKey(keys, patient, { seenKey: KEY_1, nonce: 2n });
      const cancel = await signInvalidateNonces(keys, patient, { word: 0n, mask: 0b110n, nonce: 3n });

      await expect(keys.connect(stranger).invalidateNoncesBySig(...cancel))
        .to.emit(keys, "NoncesInvalidated")
        .withArgs(patient.address, 0n, 0b110n);
      expect(await keys.nonceBitmap(patient.address, 0n)).to.equal(0b1110n);
      await expect(keys.connect(relayer).registerKeyBySig(...heldRegister))
        .to.be.revertedWithCustomError(keys, "NonceAlreadyUsed")
        .withArgs(patient.address, 1n);
      await expect(keys.connect(relayer).withdrawKeyBySig(...heldWithdraw))
        .to.be.revertedWithCustomError(keys, "NonceAlreadyUsed")
        .withArgs(patient.address, 2n);
      expect(await keys.keyOf(patient.address)).to.equal(KEY_1);
    });

    it("refuses a replay, an expired message and another signer with the right error", async function () {
      const { keys, patient, stranger, relayer } = await loadFixture(deployLedgerFixture);
      const cancel = await signInvalidateNonces(keys, patient, { word: 0n, mask: 1n, nonce: 3n });
      await keys.connect(relayer).invalidateNoncesBySig(...cancel);
      await expect(keys.connect(relayer).invalidateNoncesBySig(...cancel))
        .to.be.revertedWithCustomError(keys, "NonceAlreadyUsed")
        .withArgs(patient.address, 3n);

      const forged = await signInvalidateNonces(keys, stranger, {
        word: 0n,
        mask: 1n,
        nonce: 4n,
        signer: patient.address,
      });
      await expect(keys.connect(relayer).invalidateNoncesBySig(...forged))
        .to.be.revertedWithCustomError(keys, "InvalidSignature")
        .withArgs(patient.address);

      const deadline = (await time.latest()) + 100;
      const late = await signInvalidateNonces(keys, patient, { word: 0n, mask: 1n, nonce: 5n, deadline });
      await time.setNextBlockTimestamp(deadline + 1);
      await expect(keys.connect(relayer).invalidateNoncesBySig(...late))
        .to.be.revertedWithCustomError(keys, "SignatureExpired")
        .withArgs(deadline);
    });
  });

  describe("version", function () {
    it("is 1.2.0", async function () {
      const keys = await ethers.deployContract("KeyDirectory");
      expect(await keys.version()).to.equal("1.2.0");
    });
  });
});

const REGISTER_KEY_TYPES = {
  RegisterKey: [
    { name: "signer", type: "address" },
    { name: "publicKey", type: "bytes32" },
    { name: "seenKey", type: "bytes32" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
};

/** Signs a RegisterKey (written out here, not from the SDK); returns the arguments of registerKeyBySig. */
async function signRegisterKey(
  keys: KeyDirectory,
  key: Signer,
  o: {
    publicKey: string;
    seenKey?: string;
    nonce: bigint;
    deadline?: number;
    signer?: string;
    domain?: Partial<TypedDataDomain>;
  },
): Promise<[string, string, string, bigint, bigint, string]> {
  const d = await keys.eip712Domain();
  const domain = {
    name: d.name,
    version: d.version,
    chainId: d.chainId,
    verifyingContract: d.verifyingContract,
    ...o.domain,
  };
  const signer = o.signer ?? (await key.getAddress());
  const seenKey = o.seenKey ?? ZeroHash;
  const deadline = BigInt(o.deadline ?? (await time.latest()) + 3600);
  const signature = await key.signTypedData(domain, REGISTER_KEY_TYPES, {
    signer,
    publicKey: o.publicKey,
    seenKey,
    nonce: o.nonce,
    deadline,
  });
  return [o.publicKey, seenKey, signer, o.nonce, deadline, signature];
}

const WITHDRAW_KEY_TYPES = {
  WithdrawKey: [
    { name: "signer", type: "address" },
    { name: "seenKey", type: "bytes32" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
};

const INVALIDATE_NONCES_TYPES = {
  InvalidateNonces: [
    { name: "signer", type: "address" },
    { name: "word", type: "uint256" },
    { name: "mask", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
};

/** The KeyDirectory's own EIP-712 domain, read from the contract. */
async function domainOf(keys: KeyDirectory): Promise<TypedDataDomain> {
  const d = await keys.eip712Domain();
  return { name: d.name, version: d.version, chainId: d.chainId, verifyingContract: d.verifyingContract };
}

/** Signs a WithdrawKey (written out here); returns the arguments of withdrawKeyBySig. */
async function signWithdrawKey(
  keys: KeyDirectory,
  key: Signer,
  o: { seenKey: string; nonce: bigint; deadline?: number; signer?: string },
): Promise<[string, string, bigint, bigint, string]> {
  const signer = o.signer ?? (await key.getAddress());
  const deadline = BigInt(o.deadline ?? (await time.latest()) + 3600);
  const signature = await key.signTypedData(await domainOf(keys), WITHDRAW_KEY_TYPES, {
    signer,
    seenKey: o.seenKey,
    nonce: o.nonce,
    deadline,
  });
  return [o.seenKey, signer, o.nonce, deadline, signature];
}

/** Signs an InvalidateNonces (written out here); returns the arguments of invalidateNoncesBySig. */
async function signInvalidateNonces(
  keys: KeyDirectory,
  key: Signer,
  o: { word: bigint; mask: bigint; nonce: bigint; deadline?: number; signer?: string },
): Promise<[string, bigint, bigint, bigint, bigint, string]> {
  const signer = o.signer ?? (await key.getAddress());
  const deadline = BigInt(o.deadline ?? (await time.latest()) + 3600);
  const signature = await key.signTypedData(await domainOf(keys), INVALIDATE_NONCES_TYPES, {
    signer,
    word: o.word,
    mask: o.mask,
    nonce: o.nonce,
    deadline,
  });
  return [signer, o.word, o.mask, o.nonce, deadline, signature];
}
