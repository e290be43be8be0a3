/**
 * Records through the viem entry ("consent-ledger/viem") against the ethers entry ("consent-ledger") as
 * the oracle: a provider publishes, amends, batches and streams records, pairs a patient's pseudonym and
 * wraps a data key; a researcher derives and registers its key, asks, lists its requests and grants, and
 * opens the records verified against the chain. Run once through each entry on a fresh copy of the same
 * suite, the results and errors must be the same (random values - record ids, keys, CIDs - compared by
 * where they recur, not by value).
 */
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { Wallet } from "ethers";
import { ethers } from "hardhat";

import * as ethersEntry from "../../sdk/index";
import * as viemEntry from "../../sdk/viem";
import { DAY, deployLedgerFixture } from "../helpers/fixtures";
import { labObservation } from "../helpers/sdk";
import { deploymentOf, failure, viemReader, viemWallet } from "../helpers/viem";

type Suite = Awaited<ReturnType<typeof deployLedgerFixture>>;
type Who = "hospital" | "patient" | "researcher" | "stranger" | "reader";
const UNTIL = 2_000_000_000;
// A pseudonym of the patient for the hospital (a fixed test key: the link must be the same in both runs).
const PSEUDONYM = new Wallet(`0x${"11".repeat(32)}`);

interface Entry {
  connect(who: Who): Promise<unknown>;
  provider(contracts: unknown, store: ethersEntry.BlobStore): ethersEntry.ProviderClient | viemEntry.ProviderClient;
  researcher(contracts: unknown): ethersEntry.ResearcherClient | viemEntry.ResearcherClient;
  patient(contracts: unknown): ethersEntry.PatientClient | viemEntry.PatientClient;
  reads: Pick<typeof ethersEntry, "recordsOf" | "anchorEventOf" | "verifyEnvelopeOnChain">;
}

async function flow(suite: Suite, entry: Entry) {
  const base = (await ethers.provider.getBlock("latest"))!.timestamp + 100_000;
  const store = new ethersEntry.MemoryBlobStore();
  const hospital = entry.provider(await entry.connect("hospital"), store);
  const researcher = entry.researcher(await entry.connect("researcher"));
  const patient = entry.patient(await entry.connect("patient"));
  const reader = (await entry.connect("reader")) as never;
  const me = suite.university.address;

  // The researcher's key: derived (twice: the second time checked against the registered key), registered.
  const keyScope = await researcher.keyScope("app.consent-ledger.example");
  const keys = await researcher.deriveEncryptionKey();
  const legacyKeys = await researcher.deriveEncryptionKey({ legacy: true });
  const registered = await (await researcher.registerEncryptionKey(keys)).wait();
  const derivedAgain = await researcher.deriveEncryptionKey();

  // The provider's records: one amended, raw bytes, a batch, a stream.
  const published = await (
    await hospital.publish({
      patient: suite.patient.address,
      dataClass: "LAB_RESULT",
      payload: labObservation("p", 6.1),
    })
  ).wait();
  const amended = await (await hospital.amend(published.recordId, labObservation("p", 6.3))).wait();
  const raw = await (
    await hospital.publish({ patient: suite.patient.address, dataClass: "IMAGING", payload: Uint8Array.of(1, 2, 3) })
  ).wait();
  const batch = await (
    await hospital.publishBatch([
      { patient: suite.patient.address, dataClass: "LAB_RESULT", payload: labObservation("p", 7.0) },
      { patient: suite.otherPatient.address, dataClass: "VITAL_SIGNS", payload: labObservation("q", 1) },
    ])
  ).wait();
  const streamed = await (
    await hospital.publishStream({
      patient: suite.patient.address,
      dataClass: "IMAGING",
      source: [new Uint8Array(70_000).fill(7), new Uint8Array(10).fill(9)],
    })
  ).wait();

  // The patient consents; the researcher asks too (at fixed times, so the request ids match).
  const granted = await (
    await patient.grant({
      grantee: me,
      dataClasses: ["LAB_RESULT", "IMAGING"],
      purposes: ["HRESCH"],
      validFrom: 0,
      validUntil: UNTIL,
    })
  ).wait();
  await time.setNextBlockTimestamp(base + 100);
  const asked = await (
    await researcher.requestAccess({
      patient: suite.otherPatient.address,
      dataClasses: ["VITAL_SIGNS"],
      purpose: "HRESCH",
      researchCategory: "HMB",
      duration: 30 * DAY,
      studyId: "viem records",
    })
  ).wait();
  const requests = await researcher.requests();
  const grants = await researcher.grants();

  // The key handed over, the records opened and checked against the chain.
  const shared = await hospital.shareKey(amended, me, "HRESCH");
  const opened = await researcher.openRecord({
    envelope: await store.get(amended.cid),
    wrappedKey: shared.wrappedKey,
    keyPair: keys,
    expectedRecordId: amended.recordId,
  });
  const openedFirst = await researcher.openRecordWithKey({
    envelope: await store.get(published.cid),
    dataKey: published.dataKey,
  });
  const openedRaw = await researcher.openRecordWithKey({ envelope: await store.get(raw.cid), dataKey: raw.dataKey });
  const openedBatched = await researcher.openRecordWithKey({
    envelope: await store.get(batch.records[0].cid),
    dataKey: batch.records[0].dataKey,
    batch: batch.records[0].batch,
  });
  const listed = await entry.reads.recordsOf(reader, suite.patient.address);
  const anchor = await entry.reads.anchorEventOf(reader, amended.recordId);
  const batchedAnchor = await entry.reads.anchorEventOf(reader, batch.records[0].recordId);
  const verified = await entry.reads.verifyEnvelopeOnChain(reader, await store.get(streamed.cid));

  // A patient's pseudonym, from the link it signed for this hospital.
  const { chainId } = await ethers.provider.getNetwork();
  const link = await ethersEntry.createPairingLink(PSEUDONYM, {
    provider: suite.hospital.address,
    encryptionPublicKey: new Uint8Array(32).fill(5),
    chainId,
    ledger: await suite.ledger.getAddress(),
    now: 1_900_000_000,
  });
  const paired = await hospital.pairPatient(link.payload, { now: 1_900_000_100 });
  const pairedAgain = hospital.pairedPatient(PSEUDONYM.address);

  const tampered = Uint8Array.from(await store.get(amended.cid));
  tampered[tampered.length - 1] ^= 1;
  const refusals = {
    tampered: await failure(() => researcher.openRecordWithKey({ envelope: tampered, dataKey: amended.dataKey })),
    otherId: await failure(() =>
      researcher.openRecordWithKey({
        envelope: tampered,
        dataKey: amended.dataKey,
        expectedRecordId: amended.recordId,
      }),
    ),
    notInBatch: await failure(async () =>
      researcher.openRecordWithKey({
        envelope: await store.get(batch.records[0].cid),
        dataKey: batch.records[0].dataKey,
        batch: batch.records[1].batch!,
      }),
    ),
    wrongRecipient: await failure(async () =>
      researcher.openRecord({
        envelope: await store.get(amended.cid),
        wrappedKey: shared.wrappedKey,
        keyPair: legacyKeys,
      }),
    ),
    wrongKey: await failure(async () =>
      researcher.openRecordWithKey({ envelope: await store.get(amended.cid), dataKey: published.dataKey }),
    ),
    noConsent: await failure(() => hospital.shareKey(amended, suite.stranger.address, "HRESCH")),
    noKey: await failure(() => hospital.shareKey(amended, suite.patient.address, "TREAT")),
    amendSuperseded: await failure(() => hospital.amend(published.recordId, labObservation("p", 1))),
    amendMissing: await failure(() => hospital.amend(`0x${"ab".repeat(32)}`, labObservation("p", 1))),
    emptyBatch: await failure(() => hospital.publishBatch([])),
    badPatient: await failure(() => hospital.publish({ patient: "0x12", dataClass: 0, payload: Uint8Array.of(1) })),
    notFhir: await failure(() => hospital.publish({ patient: suite.patient.address, dataClass: 0, payload: { a: 1 } })),
    notProvider: await failure(async () =>
      (
        await entry
          .provider(await entry.connect("stranger"), store)
          .publish({ patient: suite.patient.address, dataClass: 0, payload: Uint8Array.of(1) })
      ).wait(),
    ),
    otherProvider: await failure(async () =>
      entry.provider(await entry.connect("stranger"), store).pairPatient(link.payload, { now: 1_900_000_100 }),
    ),
    zeroKey: await failure(() => researcher.registerEncryptionKey({ publicKey: new Uint8Array(32) })),
    noRequest: await failure(() => researcher.waitForDecision(`0x${"cd".repeat(32)}`)),
  };
  return {
    keyScope,
    keys,
    legacyKeys,
    registered,
    derivedAgain,
    published,
    amended,
    raw,
    batch,
    streamed,
    granted,
    asked,
    requests,
    grants,
    shared,
    opened,
    openedFirst,
    openedRaw,
    openedBatched,
    listed,
    anchor,
    batchedAnchor,
    verified,
    paired,
    pairedAgain,
    refusals,
  };
}

/**
 * `value` in a form to compare across the two runs: bigints marked, bytes as hex, and every random value
 * (32-byte hex - record ids, roots, proofs - CIDs, data keys, wrapped keys, signatures) replaced by the order in
 * which it first appears, so that the comparison checks where each recurs; transaction hashes (which the
 * two libraries' transactions give differently) only checked for their form.
 */
function comparable(value: unknown): unknown {
  const labels = new Map<string, string>();
  const label = (text: string) => {
    if (!labels.has(text)) labels.set(text, `#${labels.size}`);
    return labels.get(text)!;
  };
  const hex = (bytes: Uint8Array) => `0x${Buffer.from(bytes).toString("hex")}`;
  const randomText = (text: string) =>
    text
      .replace(/0x[0-9a-fA-F]{64}(?![0-9a-fA-F])/g, (id) => label(id.toLowerCase()))
      .replace(/\bbafk[a-z2-7]{50,}/g, label);
  const walk = (item: unknown, key?: string): unknown => {
    if (key === "transactionHash") return typeof item === "string" && /^0x[0-9a-f]{64}$/.test(item);
    if (typeof item === "bigint") return { bigint: item.toString() };
    if (item instanceof Uint8Array)
      return key === "dataKey" || key === "wrappedKey" || key === "secretKey"
        ? label(hex(item))
        : randomText(hex(item));
    // The pairing link's signature covers its random nonce.
    if (typeof item === "string") return key === "signature" ? label(item) : randomText(item);
    if (Array.isArray(item)) return item.map((entry) => walk(entry));
    if (item && typeof item === "object")
      return Object.fromEntries(Object.entries(item).map(([name, entry]) => [name, walk(entry, name)]));
    return item;
  };
  return walk(value);
}

describe("records through the viem entry (consent-ledger/viem)", function () {
  it("publish, pair, share, derive keys, ask and open: the ethers entry's results and errors, value for value", async function () {
    const withEthers = await (async () => {
      const suite = await loadFixture(deployLedgerFixture);
      const deployment = await deploymentOf(suite);
      const signers = {
        hospital: suite.hospital,
        patient: suite.patient,
        researcher: suite.university,
        stranger: suite.stranger,
      };
      return flow(suite, {
        connect: (who) => ethersEntry.connect(who === "reader" ? ethers.provider : signers[who], deployment),
        provider: (contracts, store) => {
          const c = contracts as ethersEntry.LedgerContracts;
          return new ethersEntry.ProviderClient(c, c.ledger.runner as ethersEntry.SignerInput, store);
        },
        researcher: (contracts) =>
          new ethersEntry.ResearcherClient(contracts as ethersEntry.LedgerContracts, suite.university),
        patient: (contracts) => new ethersEntry.PatientClient(contracts as ethersEntry.LedgerContracts, suite.patient),
        reads: ethersEntry,
      });
    })();
    const withViem = await (async () => {
      const suite = await loadFixture(deployLedgerFixture);
      const deployment = await deploymentOf(suite);
      const wallets = {
        hospital: viemWallet(suite.hospital.address, 1, false),
        patient: viemWallet(suite.patient.address, 5, true),
        researcher: viemWallet(suite.university.address, 3, true),
        stranger: viemWallet(suite.stranger.address, 9, false),
      };
      const walletOf = new Map<unknown, (typeof wallets)[keyof typeof wallets]>();
      return flow(suite, {
        connect: async (who) => {
          const contracts = await viemEntry.connect(who === "reader" ? viemReader() : wallets[who], deployment);
          if (who !== "reader") walletOf.set(contracts, wallets[who]);
          return contracts;
        },
        provider: (contracts, store) =>
          new viemEntry.ProviderClient(contracts as viemEntry.ViemLedgerContracts, walletOf.get(contracts)!, store),
        researcher: (contracts) =>
          new viemEntry.ResearcherClient(contracts as viemEntry.ViemLedgerContracts, wallets.researcher),
        patient: (contracts) =>
          new viemEntry.PatientClient(contracts as viemEntry.ViemLedgerContracts, wallets.patient),
        reads: viemEntry as unknown as Entry["reads"],
      });
    })();

    // What the flow must show, checked on the ethers run (the viem run must then equal it).
    const e = withEthers;
    expect(e.derivedAgain.publicKey).to.deep.equal(e.keys.publicKey);
    expect(e.keyScope).to.include({ domain: "app.consent-ledger.example" });
    expect(e.opened).to.include({ recordId: e.amended.recordId, version: 2, superseded: false });
    expect(e.opened.resource).to.deep.equal(labObservation("p", 6.3));
    expect(e.openedFirst).to.include({ superseded: true, version: 1 });
    expect(e.openedRaw.plaintext).to.deep.equal(Uint8Array.of(1, 2, 3));
    expect(e.openedRaw.resource).to.equal(undefined);
    expect(e.openedBatched.resource).to.deep.equal(labObservation("p", 7.0));
    expect(e.listed.map((record) => [record.recordId, record.superseded])).to.deep.equal([
      [e.published.recordId, true],
      [e.amended.recordId, false],
      [e.raw.recordId, false],
      [e.streamed.recordId, false],
    ]);
    expect(e.anchor).to.include({ supersedes: e.published.recordId, pointer: e.amended.cid });
    expect(e.batchedAnchor).to.equal(undefined);
    expect(e.verified.recordId).to.equal(e.streamed.recordId);
    expect(e.grants.map((consent) => consent.patient)).to.deep.equal([e.granted.patient]);
    expect(e.requests.map((view) => [view.requestId, view.status])).to.deep.equal([[e.asked.requestId, "Pending"]]);
    expect(e.shared.basis).to.equal("Consent");
    expect(e.paired.pseudonym).to.equal(PSEUDONYM.address);
    expect(e.pairedAgain).to.deep.equal(e.paired);
    expect(e.refusals.tampered.name).to.equal("IntegrityError");
    expect(e.refusals.otherId.name).to.equal("IntegrityError");
    expect(e.refusals.notInBatch.name).to.equal("IntegrityError");
    expect(e.refusals.wrongRecipient.name).to.equal("WrongRecipientKeyError");
    expect(e.refusals.wrongKey.name).to.not.equal(undefined);
    expect(e.refusals.noConsent.name).to.equal("AccessDeniedError");
    expect(e.refusals.amendSuperseded).to.include({ errorName: "RecordAlreadySuperseded" });
    expect(e.refusals.amendMissing).to.include({ errorName: "RecordNotFound" });
    expect(e.refusals.emptyBatch.name).to.equal("InvalidArgumentError");
    expect(e.refusals.badPatient.name).to.equal("InvalidArgumentError");
    expect(e.refusals.notProvider.name).to.equal("ContractRevertError");
    expect(e.refusals.otherProvider.name).to.equal("PairingError");
    expect(e.refusals.zeroKey.name).to.equal("InvalidArgumentError");
    expect(comparable(withViem)).to.deep.equal(comparable(withEthers));
  });
});
