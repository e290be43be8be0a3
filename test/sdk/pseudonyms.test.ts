import { createPrivateKey, createPublicKey, hkdfSync } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";

import { secp256k1 } from "@noble/curves/secp256k1.js";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { HDNodeWallet, Signature, SigningKey, computeAddress, getAddress, hashMessage, Wallet } from "ethers";
import { network } from "hardhat";
import { createWalletClient, custom, type Chain } from "viem";
import { privateKeyToAccount } from "viem/accounts";

import {
  InvalidArgumentError,
  NonDeterministicSignerError,
  PatientClient,
  derivePseudonymRoot,
  pseudonymRootFromSignature,
  pseudonymRootMessage,
  pseudonymSigner,
  relaySignedConsent,
  relationshipId,
  type Relationship,
} from "../../sdk/index";
import { bytesToHex } from "../../sdk/crypto/bytes";
import { deployLedgerFixture } from "../helpers/fixtures";
import { sdkContracts } from "../helpers/sdk";

// Hardhat's public development mnemonic: a test key, never used on a real chain.
const MNEMONIC = "test test test test test test test test test test test junk";
const walletAt = (index: number) => HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${index}`);
const SCOPE = {
  domain: "app.consent-ledger.example",
  chainId: 1,
  ledger: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
};
const HOSPITAL = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const LAB = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/**
 * docs/pseudonyms.md, "Test vectors": wallet m/44'/60'/0'/0/9 of the Hardhat mnemonic, SCOPE above.
 * Recomputed below with node:crypto HKDF, bigint arithmetic and ethers' own key code, not the SDK's path.
 */
const VECTORS: { relationship: Relationship; id: string; address: string; x25519PublicKey: string }[] = [
  {
    relationship: { kind: "provider", provider: HOSPITAL },
    id: `provider:${HOSPITAL.toLowerCase()}`,
    address: "0xb40CAA478B2c351d2db7768A1393cE01c9b48Ed6",
    x25519PublicKey: "0x4e896d0ab9dbccb7642045460d16ac416836c0dda5ffe1c5cdaa79ecf3c2a121",
  },
  {
    relationship: { kind: "provider", provider: LAB },
    id: `provider:${LAB.toLowerCase()}`,
    address: "0xCa7672CcdA961BF41eF0f19255aC6F2D7fc70c70",
    x25519PublicKey: "0xa72fe39a3d738cf2d604477f5ca0dade43d180a68df84fc235223777ccaeee33",
  },
  {
    relationship: { kind: "study", label: "diabetes-2026" },
    id: "study:diabetes-2026",
    address: "0x55219eec0B0B3266E4D2302Be3115f39caee3104",
    x25519PublicKey: "0x5485fdabab390f1b60d2cd4556c5fad1e90e2288c59899d5f45e58af9c304618",
  },
  {
    relationship: { kind: "index", index: 0 },
    id: "index:0",
    address: "0xAEA2BD4E16D25f40c8f96E659bD4523B7aDC4433",
    x25519PublicKey: "0x43defa96bbf23866b74a50073fb64f7ad981ead93e3d5e6f35e3ec19f62a1571",
  },
  {
    // A delegate's own account for acting for the first row's pseudonym (this wallet as the delegate).
    relationship: { kind: "delegate", patient: "0xb40CAA478B2c351d2db7768A1393cE01c9b48Ed6" },
    id: "delegate:0xb40caa478b2c351d2db7768a1393ce01c9b48ed6",
    address: "0xb8D3Fcb34E7EDb0968b4DbFFa1C989CCBf7a7b04",
    x25519PublicKey: "0x5d5891a2a197cd4ed01677c4452dafcfd3af4f1e27a68c9f4d5911138cf82914",
  },
];

/** The derivation written out from the spec with other code: node:crypto HKDF, bigint reduction, ethers keys. */
function independently(
  wallet: Wallet | HDNodeWallet,
  id: string,
): { address: string; x25519PublicKey: string; privateKey: string } {
  const message = pseudonymRootMessage(wallet.address, SCOPE);
  const sig = Signature.from(wallet.signingKey.sign(hashMessage(message)));
  let s = BigInt(sig.s);
  if (s > N / 2n) s = N - s;
  const ikm = Buffer.concat([Buffer.from(sig.r.slice(2), "hex"), Buffer.from(s.toString(16).padStart(64, "0"), "hex")]);
  const hk = (key: Buffer, salt: string, info: Buffer, length: number) =>
    Buffer.from(hkdfSync("sha256", key, Buffer.from(salt), info, length));
  const root = hk(ikm, "consent-ledger/pseudonym-root/v1", Buffer.from(wallet.address.slice(2), "hex"), 32);
  const okm = hk(root, "consent-ledger/pseudonym-account/v1", Buffer.from(id, "utf8"), 48);
  const scalar = (BigInt("0x" + okm.toString("hex")) % (N - 1n)) + 1n;
  const privateKey = "0x" + scalar.toString(16).padStart(64, "0");
  const xSecret = hk(root, "consent-ledger/pseudonym-x25519/v1", Buffer.from(id, "utf8"), 32);
  const pkcs8 = Buffer.concat([Buffer.from("302e020100300506032b656e04220420", "hex"), xSecret]);
  const spki = createPublicKey(createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" })).export({
    format: "der",
    type: "spki",
  });
  return {
    address: computeAddress(new SigningKey(privateKey).publicKey),
    x25519PublicKey: "0x" + spki.subarray(-32).toString("hex"),
    privateKey,
  };
}

describe("pseudonyms: derived, not stored", function () {
  const wallet = walletAt(9);

  it("derives the documented test vectors, and the spec recomputed independently agrees", async function () {
    const root = await derivePseudonymRoot(wallet, SCOPE);
    const doc = readFileSync(path.join(__dirname, "../../docs/pseudonyms.md"), "utf8");
    for (const vector of VECTORS) {
      const pseudonym = root.derive(vector.relationship);
      const other = independently(wallet, vector.id);
      expect(pseudonym.id).to.equal(vector.id);
      expect(pseudonym.address, vector.id).to.equal(other.address);
      expect(pseudonym.privateKey, vector.id).to.equal(other.privateKey);
      expect(bytesToHex(pseudonym.encryptionKeyPair.publicKey), vector.id).to.equal(other.x25519PublicKey);
      expect(pseudonym.address, vector.id).to.equal(vector.address);
      expect(bytesToHex(pseudonym.encryptionKeyPair.publicKey)).to.equal(vector.x25519PublicKey);
      expect(doc, `docs/pseudonyms.md lists ${vector.id}`)
        .to.include(vector.address)
        .and.include(vector.x25519PublicKey);
    }
  });
});

describe("pseudonyms: recovery, separation and refusals", function () {
  const wallet = walletAt(9);

  it("a restored wallet (same phrase, new object) recovers every pseudonym, from any encoding of its signature", async function () {
    const before = await derivePseudonymRoot(wallet, SCOPE);
    const restored = await derivePseudonymRoot(
      HDNodeWallet.fromPhrase(MNEMONIC, undefined, "m/44'/60'/0'/0/9"),
      SCOPE,
      {
        known: { relationship: { kind: "provider", provider: HOSPITAL }, address: VECTORS[0].address },
      },
    );
    for (const vector of VECTORS)
      expect(restored.derive(vector.relationship).address).to.equal(before.derive(vector.relationship).address);
    // 64-byte EIP-2098 and the high-s twin of the same signature derive the same root.
    const signature = Signature.from(await wallet.signMessage(pseudonymRootMessage(wallet.address, SCOPE)));
    const highS =
      "0x" +
      signature.r.slice(2) +
      (N - BigInt(signature.s)).toString(16).padStart(64, "0") +
      (signature.v === 27 ? "1c" : "1b");
    for (const encoded of [signature.compactSerialized, highS]) {
      expect(pseudonymRootFromSignature(encoded, wallet.address).forProvider(HOSPITAL).address).to.equal(
        VECTORS[0].address,
      );
    }
  });

  it("separates by relationship, wallet, domain, chain and ledger", async function () {
    const root = await derivePseudonymRoot(wallet, SCOPE);
    const addresses = VECTORS.map((vector) => root.derive(vector.relationship).address);
    expect(new Set(addresses).size).to.equal(VECTORS.length);
    expect(root.forProvider(HOSPITAL.toLowerCase()).address).to.equal(addresses[0]);
    expect(root.fresh(1).address).to.not.equal(root.fresh(0).address);
    const elsewhere = [
      await derivePseudonymRoot(walletAt(8), SCOPE),
      await derivePseudonymRoot(wallet, { ...SCOPE, domain: "evil.example" }),
      await derivePseudonymRoot(wallet, { ...SCOPE, chainId: 11155111 }),
      await derivePseudonymRoot(wallet, { ...SCOPE, ledger: LAB }),
    ];
    for (const other of elsewhere) expect(addresses).to.not.include(other.forProvider(HOSPITAL).address);
    // A pseudonym is not the wallet, and its key does not sign as the wallet.
    expect(addresses).to.not.include(wallet.address);
  });

  it("refuses a wallet that does not sign deterministically (hedged ECDSA), and a known pseudonym it cannot re-derive", async function () {
    const hedged = {
      getAddress: async () => wallet.address,
      signMessage: async (message: string) => {
        const digest = Buffer.from(hashMessage(message).slice(2), "hex");
        const raw = secp256k1.sign(digest, Buffer.from(wallet.privateKey.slice(2), "hex"), {
          prehash: false,
          extraEntropy: true,
          format: "recovered",
        });
        // noble's "recovered" form is recovery || r || s; a wallet returns r || s || v.
        return "0x" + Buffer.from(raw.subarray(1)).toString("hex") + (27 + raw[0]).toString(16);
      },
    };
    await expectRejected(derivePseudonymRoot(hedged, SCOPE), NonDeterministicSignerError);
    await expectRejected(
      derivePseudonymRoot(
        wallet,
        { ...SCOPE, domain: "other.example" },
        { known: { relationship: VECTORS[0].relationship, address: VECTORS[0].address } },
      ),
      NonDeterministicSignerError,
    );
  });

  it("refuses a signature that is not the wallet's (a contract or MPC wallet), and malformed relationships and scopes", async function () {
    const impostor = {
      getAddress: async () => wallet.address,
      signMessage: (message: string) => walletAt(8).signMessage(message),
    };
    await expectRejected(derivePseudonymRoot(impostor, SCOPE), InvalidArgumentError);
    await expectRejected(derivePseudonymRoot(wallet, { ...SCOPE, domain: "https://x.example/" }), InvalidArgumentError);
    await expectRejected(derivePseudonymRoot(wallet, { ...SCOPE, chainId: 0 }), InvalidArgumentError);
    const root = await derivePseudonymRoot(wallet, SCOPE);
    for (const bad of [
      { kind: "study", label: "Diabetes 2026" },
      { kind: "study", label: "" },
      { kind: "index", index: -1 },
      { kind: "index", index: 2 ** 32 },
      { kind: "provider", provider: "0x1234" },
      { kind: "wallet" },
    ]) {
      expect(() => root.derive(bad as Relationship), JSON.stringify(bad)).to.throw(InvalidArgumentError);
    }
    expect(relationshipId({ kind: "study", label: "diabetes-2026" })).to.equal("study:diabetes-2026");
    root.destroy();
    expect(() => root.forProvider(HOSPITAL)).to.throw(/destroyed/);
  });

  it("a pseudonym is an ethers signer and a viem account the clients accept, and signs consents with no ether", async function () {
    const suite = await loadFixture(deployLedgerFixture);
    // The SDK counts a signature's default deadline from the latest block's time. After loadFixture's
    // revert that block is the snapshot's, while the next block carries the time other test files moved
    // the chain forward by: mine one so the latest block tells the chain's time.
    await mine();
    const ledger = await suite.ledger.getAddress();
    const root = await derivePseudonymRoot(wallet, { domain: "localhost", chainId: 31337, ledger });
    const forHospital = root.forProvider(suite.hospital.address);
    const forStudy = root.forStudy("diabetes-2026");

    // ethers: a Wallet signs a grant; the fixture's relayer pays for it.
    const asEthers = pseudonymSigner(forHospital, suite.ledger.runner!.provider);
    const patient = new PatientClient(await sdkContracts(suite, asEthers), asEthers);
    const until = Math.floor(Date.now() / 1000) + 86_400 * 400;
    const signed = await patient.signGrant({
      grantee: suite.hospital.address,
      dataClasses: ["LAB_RESULT"],
      purposes: ["TREAT"],
      validUntil: until,
    });
    await (await relaySignedConsent(await sdkContracts(suite, suite.relayer), suite.relayer, signed)).wait();
    expect((await suite.ledger.consentOf(forHospital.address, suite.hospital.address)).validUntil).to.equal(
      BigInt(until),
    );

    // viem: a local account from the pseudonym's private key.
    const chain = {
      id: 31337,
      name: "hardhat",
      nativeCurrency: { name: "ETH", symbol: "ETH", decimals: 18 },
      rpcUrls: { default: { http: [] } },
    } as unknown as Chain;
    const account = privateKeyToAccount(forStudy.privateKey as `0x${string}`);
    expect(account.address).to.equal(forStudy.address);
    const viemWallet = createWalletClient({ account, chain, transport: custom(network.provider) });
    const viemPatient = new PatientClient(await sdkContracts(suite, asEthers), viemWallet);
    const revoke = await viemPatient.signRevoke(suite.lab.address);
    expect(getAddress(revoke.signer)).to.equal(forStudy.address);

    for (const pseudonym of [forHospital, forStudy])
      expect(await suite.ledger.runner!.provider!.getBalance(pseudonym.address)).to.equal(0n);
  });
});

async function expectRejected(promise: Promise<unknown>, type: new (...args: never[]) => Error): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    expect(error, String(error)).to.be.instanceOf(type);
    return error as Error;
  }
  expect.fail(`expected a ${type.name}`);
}
