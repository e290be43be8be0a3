import { secp256k1 } from "@noble/curves/secp256k1.js";
import { x25519 } from "@noble/curves/ed25519.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { expect } from "chai";
import { getBytes, hashMessage, Signature, verifyMessage, Wallet } from "ethers";

import { bytesEqual, bytesToHex, hexToBytes, utf8Encode } from "../../sdk/crypto/bytes";
import { unwrapDataKey, wrapDataKey } from "../../sdk/crypto/key-wrap";
import {
  deriveEncryptionKeyPair,
  encryptionKeyMessage,
  keyPairFromSignature,
  migrateEncryptionKey,
  NonDeterministicSignerError,
  type KeyScope,
  type MessageSigner,
} from "../../sdk/crypto/keys";
import { InvalidArgumentError } from "../../sdk/errors";
import { expectRejects, expectThrows } from "../helpers/expect-error";

// Hardhat's well-known development account #0: a fixed vector, never a real key.
const ALICE_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ALICE = new Wallet(ALICE_KEY);
const SCOPE: KeyScope = {
  domain: "app.consent-ledger.example",
  chainId: 31337n,
  keyDirectory: "0xe7f1725e7734ce288f8367e1bb143e90bb3f0512",
};

/**
 * A real hedged-ECDSA wallet (RFC 6979 nonces mixed with fresh randomness, as some wallets and MPC
 * signers do): every signature is valid for the account, and no two are alike.
 */
function hedgedSigner(privateKey: string, address: string): MessageSigner & { calls: number } {
  const signer = {
    calls: 0,
    getAddress: async () => address,
    signMessage: async (message: string) => {
      signer.calls += 1;
      const compact = secp256k1.sign(getBytes(hashMessage(message)), getBytes(privateKey), {
        prehash: false,
        extraEntropy: true,
      });
      const r = bytesToHex(compact.subarray(0, 32));
      const s = bytesToHex(compact.subarray(32, 64));
      for (const v of [27, 28]) {
        const signature = Signature.from({ r, s, v }).serialized;
        if (verifyMessage(message, signature) === address) return signature;
      }
      throw new Error("no recovery id recovers the account");
    },
  };
  return signer;
}

function counting(wallet: Wallet): MessageSigner & { calls: number } {
  const signer = {
    calls: 0,
    getAddress: async () => wallet.address,
    signMessage: (message: string) => {
      signer.calls += 1;
      return wallet.signMessage(message);
    },
  };
  return signer;
}

describe("sdk/crypto/keys: scoped (v2) derivation and non-deterministic signers", function () {
  it("the v2 message names the domain, chain and key directory, and says what the signature gives away", function () {
    expect(encryptionKeyMessage(ALICE.address.toLowerCase(), SCOPE)).to.equal(
      "Consent Ledger encryption key\n\n" +
        "Sign this only on app.consent-ledger.example. This signature IS your decryption key: whoever gets it can read " +
        "every health record shared with this account. It costs nothing and sends no transaction.\n\n" +
        "Domain: app.consent-ledger.example\n" +
        "Chain ID: 31337\n" +
        "Key directory: 0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512\n" +
        "Account: 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266\n" +
        "Version: 2",
    );
    for (const domain of ["https://app.example", "App.Example", "a.example\nDomain: evil.example", "", "a..b"])
      expectThrows(
        () => encryptionKeyMessage(ALICE.address, { ...SCOPE, domain }),
        InvalidArgumentError,
        JSON.stringify(domain),
      );
    expectThrows(() => encryptionKeyMessage(ALICE.address, { ...SCOPE, chainId: 0n }), InvalidArgumentError);
    expectThrows(() => encryptionKeyMessage(ALICE.address, { ...SCOPE, keyDirectory: "0x12" }), InvalidArgumentError);
  });

  it("derives the v2 key as documented (salt consent-ledger/x25519/v2), another one per domain, and leaves v1 keys as they were", async function () {
    const v2 = await deriveEncryptionKeyPair(ALICE, { scope: SCOPE });
    const signature = await ALICE.signMessage(encryptionKeyMessage(ALICE.address, SCOPE));
    const secretKey = hkdf(
      sha256,
      hexToBytes(signature).subarray(0, 64),
      utf8Encode("consent-ledger/x25519/v2"),
      hexToBytes(ALICE.address.toLowerCase()),
      32,
    );
    expect(bytesToHex(v2.secretKey)).to.equal(bytesToHex(secretKey));
    expect(bytesToHex(v2.publicKey)).to.equal(bytesToHex(x25519.getPublicKey(secretKey)));
    expect(bytesToHex(keyPairFromSignature(signature, ALICE.address, 2).publicKey)).to.equal(bytesToHex(v2.publicKey));

    const elsewhere = await deriveEncryptionKeyPair(ALICE, { scope: { ...SCOPE, domain: "evil.example" } });
    expect(bytesEqual(elsewhere.publicKey, v2.publicKey)).to.equal(false);
    const otherChain = await deriveEncryptionKeyPair(ALICE, { scope: { ...SCOPE, chainId: 1 } });
    expect(bytesEqual(otherChain.publicKey, v2.publicKey)).to.equal(false);

    // v1 (no scope): the key registered before v2, unchanged (the regression vector of test/sdk/keys.test.ts).
    const v1 = await deriveEncryptionKeyPair(ALICE);
    expect(bytesToHex(v1.publicKey)).to.equal("0x0ddef5bcbf1f511fc8b032b450bbfda2c71ed22c93e481c8406aaadadfd69011");
  });

  it("refuses a hedged-ECDSA signer, by a second signature or against the registered key, with a hint to generate and store a key", async function () {
    const hedged = hedgedSigner(ALICE_KEY, ALICE.address);
    for (const options of [{}, { scope: SCOPE }]) {
      const error = await expectRejects(deriveEncryptionKeyPair(hedged, options), NonDeterministicSignerError);
      expect(error.account).to.equal(ALICE.address);
      expect(error.hint).to.contain("generateEncryptionKeyPair");
      expect(error.details).to.contain("two signatures");
    }
    const registered = (await deriveEncryptionKeyPair(ALICE)).publicKey;
    hedged.calls = 0;
    const mismatch = await expectRejects(
      deriveEncryptionKeyPair(hedged, { registeredPublicKey: registered }),
      NonDeterministicSignerError,
    );
    expect(mismatch.details).to.contain(bytesToHex(registered));
    expect(hedged.calls).to.equal(1);
  });

  it("a deterministic wallet signs twice without a registered key, once with it", async function () {
    const wallet = counting(ALICE);
    const first = await deriveEncryptionKeyPair(wallet);
    expect(wallet.calls).to.equal(2);
    wallet.calls = 0;
    const second = await deriveEncryptionKeyPair(wallet, { registeredPublicKey: first.publicKey });
    expect(wallet.calls).to.equal(1);
    expect(bytesEqual(first.publicKey, second.publicKey)).to.equal(true);
  });

  it("migration: the v1 pair keeps opening old wraps, the v2 pair is the one to register", async function () {
    const legacyKey = (await deriveEncryptionKeyPair(ALICE)).publicKey;
    const recordId = `0x${"22".repeat(32)}`;
    const dataKey = new Uint8Array(32).fill(7);
    const oldWrap = await wrapDataKey(dataKey, legacyKey, recordId);

    const { legacy, current } = await migrateEncryptionKey(ALICE, SCOPE, legacyKey);
    expect(bytesEqual(legacy.publicKey, legacyKey)).to.equal(true);
    expect(bytesEqual(current.publicKey, (await deriveEncryptionKeyPair(ALICE, { scope: SCOPE })).publicKey)).to.equal(
      true,
    );
    expect(bytesEqual(await unwrapDataKey(oldWrap, legacy, recordId), dataKey)).to.equal(true);
    const newWrap = await wrapDataKey(dataKey, current.publicKey, recordId);
    expect(bytesEqual(await unwrapDataKey(newWrap, current, recordId), dataKey)).to.equal(true);
    // A registered key that is neither: refused, naming both.
    await expectRejects(migrateEncryptionKey(ALICE, SCOPE, current.publicKey), NonDeterministicSignerError);
  });
});
