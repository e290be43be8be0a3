import { x25519 } from "@noble/curves/ed25519.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { expect } from "chai";
import { Signature, Wallet, ZeroHash } from "ethers";
import { ethers } from "hardhat";

import { bytesEqual, bytesToHex, concatBytes, hexToBytes, randomBytes, utf8Encode } from "../../sdk/crypto/bytes";
import { unwrapDataKey, wrapDataKey } from "../../sdk/crypto/key-wrap";
import {
  bytes32ToPublicKey,
  deriveEncryptionKeyPair,
  encryptionKeyMessage,
  generateEncryptionKeyPair,
  isConsistentKeyPair,
  keyPairFromSecretKey,
  keyPairFromSignature,
  publicKeyToBytes32,
} from "../../sdk/crypto/keys";
import { ConsentLedgerError, InvalidArgumentError } from "../../sdk/errors";
import { expectRejects, expectThrows } from "../helpers/expect-error";

// Hardhat's well-known development account #0: a fixed vector, never a real key.
const ALICE = new Wallet("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
const BOB = new Wallet("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const RECORD_ID = `0x${"11".repeat(32)}`;

/** The documented derivation, re-implemented from the spec for a low-s 65-byte signature. */
function specDerivation(signature: string, address: string): { secretKey: Uint8Array; publicKey: Uint8Array } {
  const rs = hexToBytes(signature).subarray(0, 64);
  const secretKey = hkdf(sha256, rs, utf8Encode("consent-ledger/x25519/v1"), hexToBytes(address.toLowerCase()), 32);
  return { secretKey, publicKey: x25519.getPublicKey(secretKey) };
}

describe("sdk/crypto/keys", function () {
  it("asks to sign a fixed, human-readable message naming the checksummed account", function () {
    expect(encryptionKeyMessage(ALICE.address.toLowerCase())).to.equal(
      "Consent Ledger encryption key\n\n" +
        "Signing this message derives your encryption key. It costs nothing and does not send a transaction.\n\n" +
        "Account: 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266\n" +
        "Version: 1",
    );
    expectThrows(() => encryptionKeyMessage("0x1234"), InvalidArgumentError);
  });

  it("derives the same key pair from the same wallet every time, as documented", async function () {
    const first = await deriveEncryptionKeyPair(ALICE);
    const second = await deriveEncryptionKeyPair(ALICE);
    expect(bytesEqual(first.secretKey, second.secretKey)).to.equal(true);
    expect(bytesEqual(first.publicKey, second.publicKey)).to.equal(true);
    expect(isConsistentKeyPair(first)).to.equal(true);

    const signature = await ALICE.signMessage(encryptionKeyMessage(ALICE.address));
    const spec = specDerivation(signature, ALICE.address);
    expect(bytesToHex(first.secretKey)).to.equal(bytesToHex(spec.secretKey));
    expect(bytesToHex(first.publicKey)).to.equal(bytesToHex(spec.publicKey));
    // A regression vector for other implementations (also in docs/crypto.md).
    expect(publicKeyToBytes32(first.publicKey)).to.equal(
      "0x0ddef5bcbf1f511fc8b032b450bbfda2c71ed22c93e481c8406aaadadfd69011",
    );

    const bob = await deriveEncryptionKeyPair(BOB);
    expect(bytesEqual(bob.publicKey, first.publicKey)).to.equal(false);
    // The address is bound in: the same signature under another account gives another key.
    expect(bytesEqual(keyPairFromSignature(signature, BOB.address).publicKey, first.publicKey)).to.equal(false);
  });

  it("gives one key whatever encoding the wallet returns (v 27/28 or 0/1, EIP-2098, high-s twin)", async function () {
    const signature = await ALICE.signMessage(encryptionKeyMessage(ALICE.address));
    const reference = keyPairFromSignature(signature, ALICE.address);
    const parsed = Signature.from(signature);
    const bytes = hexToBytes(signature);
    const vZeroOne = Uint8Array.from(bytes);
    vZeroOne[64] = parsed.yParity;
    const highS = SECP256K1_N - BigInt(parsed.s);
    const twin = concatBytes(
      hexToBytes(parsed.r),
      hexToBytes(`0x${highS.toString(16).padStart(64, "0")}`),
      Uint8Array.of(parsed.v === 27 ? 28 : 27),
    );
    for (const variant of [
      bytesToHex(vZeroOne),
      parsed.compactSerialized,
      bytesToHex(twin),
      signature.toUpperCase().replace("0X", "0x"),
    ]) {
      expect(bytesToHex(keyPairFromSignature(variant, ALICE.address).publicKey), variant).to.equal(
        bytesToHex(reference.publicKey),
      );
    }
  });

  it("refuses signatures that are not ECDSA secp256k1, and signers that are not the account", async function () {
    const signature = await ALICE.signMessage(encryptionKeyMessage(ALICE.address));
    const r0 = `0x${"00".repeat(32)}${signature.slice(66)}`;
    const sTooBig = `${signature.slice(0, 66)}${"ff".repeat(32)}1b`;
    // (Dropping v leaves r || s, a valid EIP-2098 compact form of the same signature: not an error.)
    for (const bad of [
      signature.slice(0, -4),
      `${signature}00`,
      "0x",
      "0x1234",
      signature.slice(2),
      `${signature.slice(0, -1)}z`,
      r0,
      sTooBig,
    ]) {
      expectThrows(() => keyPairFromSignature(bad, ALICE.address), InvalidArgumentError, bad);
    }
    expectThrows(() => keyPairFromSignature(signature, "alice"), InvalidArgumentError);

    const impostor = {
      getAddress: async () => ALICE.address,
      signMessage: (message: string) => BOB.signMessage(message),
    };
    const error = await expectRejects(deriveEncryptionKeyPair(impostor), InvalidArgumentError);
    expect(error.hint).to.contain("generateEncryptionKeyPair");
    const contractWallet = {
      getAddress: async () => ALICE.address,
      signMessage: async () => bytesToHex(randomBytes(200)),
    };
    await expectRejects(deriveEncryptionKeyPair(contractWallet), InvalidArgumentError);
    const refusing = {
      getAddress: async () => ALICE.address,
      signMessage: async (): Promise<string> => {
        throw new Error("user rejected action");
      },
    };
    const rejected = await expectRejects(deriveEncryptionKeyPair(refusing), ConsentLedgerError);
    expect(rejected.hint).to.contain("Approve the signature request");
    expect((rejected.cause as Error).message).to.equal("user rejected action");
  });

  it("generates random key pairs, and rebuilds a stored one", function () {
    const a = generateEncryptionKeyPair();
    const b = generateEncryptionKeyPair();
    expect(bytesEqual(a.secretKey, b.secretKey)).to.equal(false);
    expect(isConsistentKeyPair(a)).to.equal(true);
    expect(bytesEqual(keyPairFromSecretKey(a.secretKey).publicKey, a.publicKey)).to.equal(true);
    expectThrows(() => keyPairFromSecretKey(new Uint8Array(31)), InvalidArgumentError);
  });

  it("converts public keys to and from KeyDirectory's bytes32, refusing the zero key", function () {
    const pair = generateEncryptionKeyPair();
    const word = publicKeyToBytes32(pair.publicKey);
    expect(word).to.match(/^0x[0-9a-f]{64}$/);
    expect(bytesEqual(bytes32ToPublicKey(word), pair.publicKey)).to.equal(true);
    expectThrows(() => publicKeyToBytes32(new Uint8Array(32)), InvalidArgumentError);
    expectThrows(() => publicKeyToBytes32(new Uint8Array(31)), InvalidArgumentError);
    const zero = expectThrows(() => bytes32ToPublicKey(ZeroHash), InvalidArgumentError);
    expect(zero.message).to.contain("no key registered in KeyDirectory");
    expectThrows(() => bytes32ToPublicKey("0x1234"), InvalidArgumentError);
  });

  it("works end to end with KeyDirectory and a Hardhat signer: register, look up, wrap, unwrap", async function () {
    const [, researcher, stranger] = await ethers.getSigners();
    const directory = await ethers.deployContract("KeyDirectory");
    const pair = await deriveEncryptionKeyPair(researcher);
    await (await directory.connect(researcher).registerKey(publicKeyToBytes32(pair.publicKey))).wait();

    const published = bytes32ToPublicKey(await directory.keyOf(researcher.address));
    const dataKey = randomBytes(32);
    const wrapped = await wrapDataKey(dataKey, published, RECORD_ID);
    expect(
      bytesEqual(await unwrapDataKey(wrapped, await deriveEncryptionKeyPair(researcher), RECORD_ID), dataKey),
    ).to.equal(true);
    expectThrows(() => bytes32ToPublicKey(ZeroHash), InvalidArgumentError);
    expect(await directory.keyOf(stranger.address)).to.equal(ZeroHash);
  });
});
