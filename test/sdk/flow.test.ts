import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";

import {
  AccessDeniedError,
  ContractRevertError,
  IntegrityError,
  InvalidArgumentError,
  WrongRecipientKeyError,
} from "../../sdk/errors";
import {
  AuditClient,
  CARE_DELEGATE_SCOPE,
  PatientClient,
  ProviderClient,
  ResearcherClient,
  auditTrailToFhirBundle,
  consentToFhir,
  generateEncryptionKeyPair,
  relaySignedConsent,
} from "../../sdk/index";
import { FsBlobStore } from "../../sdk/node";
import { DAY, deployLedgerFixture } from "../helpers/fixtures";
import { labObservation, sdkContracts, tempDirectory } from "../helpers/sdk";

// One store folder for the file: fixtures are snapshots of the chain, and reuse the same folder.
let storeDirectory: { dir: string; cleanup: () => Promise<void> };
before(async () => (storeDirectory = await tempDirectory("sdk-flow")));
after(async () => storeDirectory.cleanup());

async function flowFixture() {
  const suite = await deployLedgerFixture();
  const store = new FsBlobStore(storeDirectory.dir);
  const hospital = new ProviderClient(await sdkContracts(suite, suite.hospital), suite.hospital, store);
  const patient = new PatientClient(await sdkContracts(suite, suite.patient), suite.patient);
  const researcher = new ResearcherClient(await sdkContracts(suite, suite.university), suite.university);
  const researcherKeys = await researcher.deriveEncryptionKey();
  await (await researcher.registerEncryptionKey(researcherKeys)).wait();
  return { ...suite, store, hospital, patientClient: patient, researcher, researcherKeys };
}

describe("the SDK, from provider to patient to researcher", function () {
  it("publishes, amends, asks, approves, shares and opens a record that matches the original", async function () {
    const f = await loadFixture(flowFixture);
    const original = labObservation("p1", 6.1);
    const published = await (
      await f.hospital.publish({ patient: f.patient.address, dataClass: "LAB_RESULT", payload: original })
    ).wait();
    expect(published.version).to.equal(1);
    expect(await f.store.has(published.cid)).to.equal(true);

    const corrected = labObservation("p1", 6.3);
    const amended = await (await f.hospital.amend(published.recordId, corrected)).wait();
    expect(amended).to.include({ version: 2, previousRecordId: published.recordId, patient: f.patient.address });

    const { requestId, approved } = await (
      await f.researcher.requestAccess({
        patient: f.patient.address,
        dataClasses: ["LAB_RESULT"],
        purpose: "HRESCH",
        researchCategory: "HMB",
        duration: 90 * DAY,
        studyId: "diabetes-cohort-2026",
      })
    ).wait();
    expect(approved).to.equal(false);
    const pending = await f.patientClient.requests();
    expect(pending.map((view) => view.requestId)).to.deep.equal([requestId]);
    const { consent } = await (await f.patientClient.approve(requestId)).wait();
    expect(consent.grantee).to.equal(f.university.address);
    expect(await f.researcher.waitForDecision(requestId, { timeoutMs: 1000 })).to.equal("Approved");

    const { wrappedKey, basis } = await f.hospital.shareKey(amended, f.university.address, "HRESCH");
    expect(basis).to.equal("Consent");
    const opened = await f.researcher.openRecord({
      envelope: await f.store.get(amended.cid),
      wrappedKey,
      keyPair: f.researcherKeys,
      expectedRecordId: amended.recordId,
    });
    expect(opened.resource).to.deep.equal(corrected);
    expect(opened).to.include({ version: 2, previousRecordId: published.recordId, superseded: false });
  });

  context("when something is wrong", function () {
    async function sharedRecordFixture() {
      const f = await flowFixture();
      await (
        await f.patientClient.grant({
          grantee: f.university.address,
          dataClasses: ["LAB_RESULT", "IMAGING"],
          purposes: ["HRESCH"],
          validUntil: (await time.latest()) + 30 * DAY,
        })
      ).wait();
      const first = await (
        await f.hospital.publish({
          patient: f.patient.address,
          dataClass: "LAB_RESULT",
          payload: labObservation("p1", 5.2),
        })
      ).wait();
      const second = await (
        await f.hospital.publish({
          patient: f.patient.address,
          dataClass: "LAB_RESULT",
          payload: labObservation("p1", 5.9),
        })
      ).wait();
      const { wrappedKey } = await f.hospital.shareKey(first, f.university.address, "HRESCH");
      return { ...f, first, second, wrappedKey };
    }

    it("refuses a tampered ciphertext with an IntegrityError naming the record", async function () {
      const f = await loadFixture(sharedRecordFixture);
      const envelope = await f.store.get(f.first.cid);
      envelope[envelope.length - 5] ^= 0x01;
      const attempt = f.researcher.openRecord({
        envelope,
        wrappedKey: f.wrappedKey,
        keyPair: f.researcherKeys,
        expectedRecordId: f.first.recordId,
      });
      await expect(attempt).to.be.rejectedWith(IntegrityError, f.first.recordId);
    });

    it("refuses a swapped envelope: another anchored record served in place of the one asked for", async function () {
      const f = await loadFixture(sharedRecordFixture);
      const swapped = await f.store.get(f.second.cid);
      await expect(
        f.researcher.openRecord({
          envelope: swapped,
          wrappedKey: f.wrappedKey,
          keyPair: f.researcherKeys,
          expectedRecordId: f.first.recordId,
        }),
      ).to.be.rejectedWith(IntegrityError);
      // Even without saying which record it wanted, the key wrapped for the first opens nothing else.
      await expect(
        f.researcher.openRecord({ envelope: swapped, wrappedKey: f.wrappedKey, keyPair: f.researcherKeys }),
      ).to.be.rejectedWith(WrongRecipientKeyError);
    });

    it("refuses a key wrapped to someone else with WrongRecipientKeyError", async function () {
      const f = await loadFixture(sharedRecordFixture);
      const envelope = await f.store.get(f.first.cid);
      await expect(
        f.researcher.openRecord({ envelope, wrappedKey: f.wrappedKey, keyPair: generateEncryptionKeyPair() }),
      ).to.be.rejectedWith(WrongRecipientKeyError);
    });

    it("refuses to share a key once the patient has revoked, with AccessDeniedError", async function () {
      const f = await loadFixture(sharedRecordFixture);
      await (await f.patientClient.revoke(f.university.address)).wait();
      await expect(f.hospital.shareKey(f.first, f.university.address, "HRESCH")).to.be.rejectedWith(AccessDeniedError);
    });

    it("refuses an expired signature with the ledger's SignatureExpired, decoded", async function () {
      const f = await loadFixture(sharedRecordFixture);
      const now = await time.latest();
      const signed = await f.patientClient.signGrant(
        { grantee: f.pharma.address, dataClasses: ["IMAGING"], purposes: ["TREAT"], validUntil: now + DAY },
        { deadline: now + 60 },
      );
      await time.increase(120);
      const relay = await sdkContracts(f, f.relayer);
      const error = await relaySignedConsent(relay, f.relayer, signed).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(ContractRevertError);
      expect((error as ContractRevertError).errorName).to.equal("SignatureExpired");
    });
  });

  it("refuses a request for a purpose that is not research before sending it, naming the research purposes", async function () {
    const f = await loadFixture(flowFixture);
    const error = await f.researcher
      .requestAccess({
        patient: f.patient.address,
        dataClasses: ["LAB_RESULT"],
        purpose: "PATRQT",
        duration: DAY,
        studyId: "s",
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).to.be.instanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).argument).to.equal("purpose");
    expect((error as InvalidArgumentError).message)
      .to.include("HRESCH, BIORCH, CLINTRCH")
      .and.include("PATRQT");
    expect(await f.ledger.consentOf(f.patient.address, f.university.address)).to.deep.equal([0n, 0n, 0n, 0n]);
  });

  it("relays a consent the patient signed off-chain, so the patient pays no gas", async function () {
    const f = await loadFixture(flowFixture);
    const now = await time.latest();
    const signed = await f.patientClient.signGrant({
      grantee: f.pharma.address,
      dataClasses: ["MEDICATION"],
      purposes: ["CLINTRCH"],
      validUntil: now + 10 * DAY,
    });
    const parsed = JSON.parse(JSON.stringify(signed));
    const before = await f.patient.provider!.getBalance(f.patient.address);
    await (await relaySignedConsent(await sdkContracts(f, f.relayer), f.relayer, parsed)).wait();
    expect(await f.patient.provider!.getBalance(f.patient.address)).to.equal(before);
    expect(await f.ledger.hasAccess(f.patient.address, f.pharma.address, 3, 5)).to.equal(true);
  });

  it("finds the signer's lowest free nonce from the ledger's bitmap words, past whole words used", async function () {
    const f = await loadFixture(flowFixture);
    expect(await f.patientClient.nextNonce()).to.equal(0n);
    // 17 words cancelled whole, then the first three nonces of word 17: 17 * 256 + 3 is the first free one.
    for (let word = 0n; word < 17n; word++) await f.ledger.connect(f.patient).invalidateNonces(word, 2n ** 256n - 1n);
    await f.ledger.connect(f.patient).invalidateNonces(17n, 0b111n);

    expect(await f.patientClient.nextNonce()).to.equal(17n * 256n + 3n);
    expect(await f.patientClient.nextNonce(f.delegate.address)).to.equal(0n);
    const signed = await f.patientClient.signRevoke(f.university.address);
    expect(signed.nonce).to.equal((17n * 256n + 3n).toString());
  });

  it("publishes a batch under one root and opens a batched record by its proof", async function () {
    const f = await loadFixture(flowFixture);
    const batch = await (
      await f.hospital.publishBatch([
        { patient: f.patient.address, dataClass: "LAB_RESULT", payload: labObservation("p1", 5.0) },
        { patient: f.otherPatient.address, dataClass: "LAB_RESULT", payload: labObservation("p2", 7.4) },
        {
          patient: f.patient.address,
          dataClass: "VITAL_SIGNS",
          payload: { resourceType: "Observation", status: "final" },
        },
      ])
    ).wait();
    expect(batch.records).to.have.length(3);
    await (
      await f.patientClient.grant({
        grantee: f.university.address,
        dataClasses: ["LAB_RESULT"],
        purposes: ["HRESCH"],
        validUntil: (await time.latest()) + DAY,
      })
    ).wait();
    const record = batch.records[0];
    const { wrappedKey } = await f.hospital.shareKey(record, f.university.address, "HRESCH");
    const opened = await f.researcher.openRecord({
      envelope: await f.store.get(record.cid),
      wrappedKey,
      keyPair: f.researcherKeys,
      batch: record.batch,
    });
    expect(opened.resource).to.deep.equal(labObservation("p1", 5.0));
    await expect(
      f.researcher.openRecord({ envelope: await f.store.get(record.cid), wrappedKey, keyPair: f.researcherKeys }),
    ).to.be.rejectedWith(IntegrityError, "no record with this hash is anchored");
  });

  it("rebuilds the patient's history from events and exports it as FHIR", async function () {
    const f = await loadFixture(flowFixture);
    const record = await (
      await f.hospital.publish({
        patient: f.patient.address,
        dataClass: "LAB_RESULT",
        payload: labObservation("p1", 6.0),
      })
    ).wait();
    await (await f.hospital.amend(record.recordId, labObservation("p1", 6.2))).wait();
    const { requestId } = await (
      await f.researcher.requestAccess({
        patient: f.patient.address,
        dataClasses: ["LAB_RESULT"],
        purpose: "HRESCH",
        researchCategory: "GRU",
        duration: DAY,
        studyId: "s",
      })
    ).wait();
    await (await f.patientClient.approve(requestId)).wait();
    await (await f.patientClient.revoke(f.university.address)).wait();
    await (
      await f.patientClient.appointDelegate(f.delegate.address, (await time.latest()) + DAY, CARE_DELEGATE_SCOPE)
    ).wait();

    const history = await new AuditClient(await sdkContracts(f, f.stranger)).history(f.patient.address);
    expect(history.map((entry) => entry.action)).to.deep.equal([
      "record-anchored",
      "record-amended",
      "request-opened",
      "request-approved",
      "consent-granted",
      "consent-revoked",
      "delegate-appointed",
    ]);
    const grant = history.find((entry) => entry.action === "consent-granted")!;
    expect(grant).to.include({ basis: "request", counterparty: f.university.address, actor: f.patient.address });
    expect(history.every((entry, i) => i === 0 || entry.time >= history[i - 1].time)).to.equal(true);

    const bundle = auditTrailToFhirBundle(history, { chainId: 31337, ledger: await f.ledger.getAddress() });
    expect(bundle.entry).to.have.length(history.length);
    const fhirConsent = consentToFhir(
      {
        patient: f.patient.address,
        grantee: f.university.address,
        dataClasses: 1,
        purposes: 8,
        validFrom: 100,
        validUntil: 200,
      },
      { chainId: 31337, ledger: await f.ledger.getAddress(), now: 150 },
    );
    expect(fhirConsent).to.deep.include({ resourceType: "Consent", status: "active" });
    expect((fhirConsent.provision as { purpose: { code: string }[] }).purpose[0].code).to.equal("HRESCH");
  });
});
