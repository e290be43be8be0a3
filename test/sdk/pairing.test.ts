import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { HDNodeWallet, Wallet } from "ethers";

import {
  PairingError,
  ProviderClient,
  MemoryBlobStore,
  createPairingLink,
  derivePseudonymRoot,
  encodePairingLink,
  pairingUrl,
  parsePairingLink,
  pseudonymSigner,
  recordsOf,
  verifyPairingLink,
  type PairingProblem,
} from "../../sdk/index";
import { bytesToHex } from "../../sdk/crypto/bytes";
import { deployLedgerFixture } from "../helpers/fixtures";
import { labObservation, sdkContracts } from "../helpers/sdk";

const MNEMONIC = "test test test test test test test test test test test junk";

async function pairingFixture() {
  const suite = await deployLedgerFixture();
  const ledger = await suite.ledger.getAddress();
  const wallet = HDNodeWallet.fromPhrase(MNEMONIC, undefined, "m/44'/60'/0'/0/9");
  const root = await derivePseudonymRoot(wallet, { domain: "localhost", chainId: 31337, ledger });
  const atHospital = root.forProvider(suite.hospital.address);
  const hospital = new ProviderClient(await sdkContracts(suite, suite.hospital), suite.hospital, new MemoryBlobStore());
  const lab = new ProviderClient(await sdkContracts(suite, suite.lab), suite.lab, new MemoryBlobStore());
  const { payload, link } = await createPairingLink(pseudonymSigner(atHospital), {
    provider: suite.hospital.address,
    encryptionPublicKey: atHospital.encryptionKeyPair.publicKey,
    chainId: 31337,
    ledger,
  });
  return { suite, ledger, root, atHospital, hospital, lab, payload, link };
}

async function refused(promise: Promise<unknown> | (() => unknown), problem: PairingProblem): Promise<void> {
  try {
    await (typeof promise === "function" ? promise() : promise);
  } catch (error) {
    expect(error, String(error)).to.be.instanceOf(PairingError);
    expect((error as PairingError).problem, (error as Error).message).to.equal(problem);
    return;
  }
  expect.fail(`expected a PairingError ${problem}`);
}

describe("pairing links", function () {
  it("a provider accepts the link its patient's pseudonym signed, and anchors the patient's records under it", async function () {
    const { suite, atHospital, hospital, payload } = await loadFixture(pairingFixture);
    expect(payload).to.match(/^clpair1\.[A-Za-z0-9_-]+$/);
    expect(payload.length).to.be.below(758); // fits one QR code in byte mode (version 22, ECC level M: 758 bytes)
    const paired = await hospital.pairPatient(pairingUrl("https://app.consent-ledger.example/pair", payload));
    expect(paired.pseudonym).to.equal(atHospital.address);
    expect(bytesToHex(paired.encryptionPublicKey)).to.equal(bytesToHex(atHospital.encryptionKeyPair.publicKey));
    expect(hospital.pairedPatient(atHospital.address)).to.equal(paired);

    const record = await (
      await hospital.publish({ patient: paired.pseudonym, dataClass: "LAB_RESULT", payload: labObservation("p", 6.1) })
    ).wait();
    const anchored = await recordsOf(await sdkContracts(suite, suite.stranger), atHospital.address);
    expect(anchored.map((r) => r.recordId)).to.deep.equal([record.recordId]);
  });

  it("another provider refuses a link made for the hospital (replayed to another provider)", async function () {
    const { lab, hospital, payload } = await loadFixture(pairingFixture);
    await refused(lab.pairPatient(payload), "WrongProvider");
    expect(lab.pairedPatient((await hospital.pairPatient(payload)).pseudonym)).to.equal(undefined);
  });

  it("refuses a forged link: altered fields, or signed by a key that is not the pseudonym's", async function () {
    const { suite, hospital, link, ledger } = await loadFixture(pairingFixture);
    // The hospital swaps in its own encryption key, or another patient address.
    await refused(
      hospital.pairPatient(encodePairingLink({ ...link, encryptionKey: bytesToHex(new Uint8Array(32).fill(7)) })),
      "BadSignature",
    );
    await refused(
      hospital.pairPatient(encodePairingLink({ ...link, pseudonym: suite.patient.address })),
      "BadSignature",
    );
    await refused(hospital.pairPatient(encodePairingLink({ ...link, expiresAt: link.expiresAt + 60 })), "BadSignature");
    // A provider inventing a patient: a link for the patient's address, signed by someone else.
    const forger = Wallet.createRandom();
    const { link: forged } = await createPairingLink(forger, {
      provider: suite.hospital.address,
      encryptionPublicKey: new Uint8Array(32).fill(1),
      chainId: 31337,
      ledger,
    });
    await refused(
      hospital.pairPatient(encodePairingLink({ ...forged, pseudonym: suite.patient.address })),
      "BadSignature",
    );
  });

  it("refuses an expired link, one from the future, and one for another chain or ledger", async function () {
    const { suite, hospital, payload, link, ledger } = await loadFixture(pairingFixture);
    await refused(hospital.pairPatient(payload, { now: link.expiresAt }), "Expired");
    await refused(hospital.pairPatient(payload, { now: link.issuedAt - 3600 }), "NotYetValid");
    const options = { provider: suite.hospital.address, chainId: 31337, ledger };
    await refused(() => verifyPairingLink(payload, { ...options, chainId: 1 }), "WrongChain");
    await refused(() => verifyPairingLink(payload, { ...options, ledger: suite.hospital.address }), "WrongLedger");
    expect(verifyPairingLink(payload, options).pseudonym).to.equal(link.pseudonym);
  });

  it("refuses malformed payloads with a clear message", async function () {
    const { hospital, payload } = await loadFixture(pairingFixture);
    for (const bad of [
      "",
      "hello",
      "clpair1.",
      "clpair1.!!!!",
      "clpair1.e30",
      payload.slice(0, -10),
      "clpair1." + "A".repeat(3000),
    ]) {
      await refused(hospital.pairPatient(bad), "Malformed");
    }
    expect(() => parsePairingLink(42 as unknown as string)).to.throw(PairingError, /Not a pairing link/);
  });
});
