/**
 * Items 4 and 6 of the pseudonym work, on a real node with a real relayer over HTTP: a patient with three
 * pseudonyms (two providers and a study) lives a scripted flow; the patient's one view puts it back
 * together; then an observer with the whole chain tries to link the pseudonyms to each other or to the
 * wallet, and must fail (the observer is scripts/lib/chain-observer.ts, which the demo's last chapter
 * runs too). A control funds a pseudonym from the wallet and checks the observer notices.
 */
import { expect } from "chai";
import { parseEther, Wallet } from "ethers";

import {
  MemoryBlobStore,
  PatientIdentity,
  ProviderClient,
  RelayerClient,
  ResearcherClient,
  createPairingLink,
  derivePseudonymRoot,
  pseudonymSigner,
  type Pseudonym,
} from "../../sdk/index";
import { startRelayer, type RunningRelayer } from "../../gateway/relayer";
import { observeChain as observe } from "../../scripts/lib/chain-observer";
import { chainNow, DAY, labObservation, setupLedger, type LedgerSetup } from "../helpers/gateway-harness";
import { sharedLocalNode } from "../helpers/local-node";

describe("pseudonyms: one view for the patient, nothing linkable on chain", function () {
  this.timeout(180_000);
  let setup: LedgerSetup;
  let relayer: RunningRelayer;
  let pseudonyms: Pseudonym[];
  let wallet: string;
  let identity: PatientIdentity;
  let startBlock: number;

  before(async function () {
    setup = await setupLedger(await sharedLocalNode());
    startBlock = setup.deployment.deployedAtBlock!;
    const relayerKey = Wallet.createRandom();
    await (await setup.signers.admin.sendTransaction({ to: relayerKey.address, value: parseEther("10") })).wait();
    relayer = await startRelayer({
      rpcUrl: setup.node.url,
      privateKey: relayerKey.privateKey,
      deployment: setup.deployment,
    });

    // The patient's everyday wallet: funded, known to an exchange. It only signs, off chain.
    const patientWallet = setup.signers.patient;
    wallet = patientWallet.address;
    const { hospital, lab, researcher } = setup.signers;
    const root = await derivePseudonymRoot(patientWallet, {
      domain: "localhost",
      chainId: 31337,
      ledger: setup.deployment.ledger,
    });
    pseudonyms = [root.forProvider(hospital.address), root.forProvider(lab.address), root.forStudy("diabetes-2026")];
    root.destroy();
    const [atHospital, atLab, forStudy] = pseudonyms;
    identity = new PatientIdentity(setup.contracts, pseudonyms, { relayer: new RelayerClient(relayer.url) });

    // Pairing: each provider gets its own pseudonym, signed by it, and files records under it.
    const now = await chainNow(setup.provider);
    for (const [pseudonym, signer] of [
      [atHospital, hospital],
      [atLab, lab],
    ] as const) {
      const provider = new ProviderClient(await setup.as(signer), signer, new MemoryBlobStore());
      const { payload } = await createPairingLink(pseudonymSigner(pseudonym), {
        provider: signer.address,
        encryptionPublicKey: pseudonym.encryptionKeyPair.publicKey,
        chainId: 31337,
        ledger: setup.deployment.ledger,
      });
      const paired = await provider.pairPatient(payload);
      await (
        await provider.publish({
          patient: paired.pseudonym,
          dataClass: "LAB_RESULT",
          payload: labObservation(`obs-${signer.address}`, 98),
        })
      ).wait();
    }

    // Consents through the relayer: treatment at the hospital and the lab; the lab's revoked again.
    await (
      await identity.client(atHospital.address).grant({
        grantee: hospital.address,
        dataClasses: ["LAB_RESULT"],
        purposes: ["TREAT"],
        validUntil: now + 365 * DAY,
      })
    ).wait();
    await (
      await identity
        .client(atLab.id)
        .grant({ grantee: lab.address, dataClasses: ["LAB_RESULT"], purposes: ["TREAT"], validUntil: now + 30 * DAY })
    ).wait();
    await (await identity.client(atLab.id).revoke(lab.address)).wait();

    // The study: the researcher asks the study pseudonym the patient gave it, and it approves via the relayer.
    const study = new ResearcherClient(await setup.as(researcher), researcher);
    const opened = await (
      await study.requestAccess({
        patient: forStudy.address,
        dataClasses: ["LAB_RESULT"],
        purpose: "HRESCH",
        researchCategory: "DS",
        diseaseId: 5148,
        duration: 180 * DAY,
        studyId: "diabetes-2026",
      })
    ).wait();
    await (await identity.client(forStudy.address).approve(opened.request)).wait();
  });

  after(async function () {
    await relayer?.close();
    setup?.cleanup();
  });

  it("the patient sees records, consents, requests and audit of all three pseudonyms as one, each item tagged", async function () {
    const [atHospital, atLab, forStudy] = pseudonyms;
    const view = await identity.view();
    expect(view.records.map((r) => r.pseudonym).sort()).to.deep.equal([atHospital.address, atLab.address].sort());
    expect(view.records.every((r) => r.patient === r.pseudonym)).to.equal(true);
    expect(view.consents.map((c) => [c.relationship, c.grantee]).sort()).to.deep.equal(
      [
        [atHospital.id, setup.signers.hospital.address],
        [forStudy.id, setup.signers.researcher.address],
      ].sort(),
    );
    const all = await identity.requests({ all: true });
    expect(all.map((r) => [r.pseudonym, r.status])).to.deep.equal([[forStudy.address, "Approved"]]);
    const auditOwners = new Set(view.audit.map((entry) => entry.pseudonym));
    expect([...auditOwners].sort()).to.deep.equal(pseudonyms.map((p) => p.address).sort());
    const blocks = view.audit.map((entry) => entry.blockNumber);
    expect(blocks).to.deep.equal([...blocks].sort((a, b) => a - b));
  });

  it("an observer with the whole chain finds no field and no funding that links two pseudonyms or a pseudonym to the wallet", async function () {
    const watched = [wallet, ...pseudonyms.map((p) => p.address)];
    const seen = await observe(setup.provider, startBlock, watched, watched.slice(1));
    expect(seen.links, JSON.stringify(seen.links, null, 2)).to.deep.equal([]);
    expect(seen.funded).to.deep.equal([]);
    // The wallet never appears; every pseudonym does (the flow really ran), and never as a sender.
    expect(seen.sightings.filter((s) => s.accounts.includes(wallet))).to.deep.equal([]);
    for (const pseudonym of pseudonyms) {
      expect(
        seen.sightings.some((s) => s.accounts.includes(pseudonym.address)),
        pseudonym.id,
      ).to.equal(true);
      expect(await setup.provider.getTransactionCount(pseudonym.address)).to.equal(0);
    }
    // What does link them is off chain: the relayer sent every patient action (see docs/pseudonyms.md).
    const relayed = seen.sightings.filter(
      (s) => s.where.some((w) => w.endsWith("calldata")) && !s.where.some((w) => w.endsWith(" from")),
    );
    expect(relayed.length).to.be.greaterThan(0);
  });

  it("control: the observer does catch a pseudonym the wallet funded", async function () {
    const fresh = (
      await derivePseudonymRoot(setup.signers.patient, {
        domain: "localhost",
        chainId: 31337,
        ledger: setup.deployment.ledger,
      })
    ).fresh(7);
    const from = await setup.provider.getBlockNumber();
    await (await setup.signers.patient.sendTransaction({ to: fresh.address, value: 1n })).wait();
    const seen = await observe(setup.provider, from + 1, [wallet, fresh.address], [fresh.address]);
    expect(seen.links.map((l) => l.accounts.sort())).to.deep.equal([[wallet, fresh.address].sort()]);
    expect(seen.funded.length).to.be.greaterThan(0);
  });
});
