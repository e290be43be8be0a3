/**
 * The main job: the whole story on the in-process Hardhat network, in under a minute.
 *
 *   npm run demo                      # writes demo-output/ (audit trails as JSON and FHIR)
 *   DEMO_OUT=/tmp/out npm run demo    # elsewhere
 *
 * A hospital publishes encrypted FHIR records through its custodian gateway; patients decide by
 * standing policy, by hand, and by a signature a relayer submits; researchers ask, are approved or
 * denied, and open what they may; a revocation, an emergency window and a tampered copy show the
 * refusals; each patient's audit trail is printed and exported.
 */
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";

import { TASK_NODE_CREATE_SERVER } from "hardhat/builtin-tasks/task-names";
import hre from "hardhat";
import { HDNodeWallet, randomBytes, Wallet, type Signer } from "ethers";

import { DataClass, EmergencyReason } from "../sdk/codes";
import { connect, type Deployment, type LedgerContracts } from "../sdk/chain/connect";
import { AdminClient } from "../sdk/clients/admin";
import { AuditClient, type AuditEntry } from "../sdk/clients/audit";
import { GatewayClient } from "../sdk/clients/gateway";
import { PatientClient, relaySignedConsent } from "../sdk/clients/patient";
import { ProviderClient, type PublishedRecord } from "../sdk/clients/provider";
import { ResearcherClient } from "../sdk/clients/researcher";
import { AccessDeniedError, AccessNotConfirmedError, ConsentLedgerError, IntegrityError } from "../sdk/errors";
import { auditTrailToFhirBundle, consentToFhir, fhirCollection } from "../sdk/fhir/export";
import { FsBlobStore } from "../sdk/storage/fs-blob-store";
import { nodeSegmentCrypto } from "../sdk/node";
import { saveDeployment } from "../sdk/deployments";
import { startGateway, type RunningGateway } from "../gateway/start";
import type { GatewayConfig } from "../gateway/config";
import { KeyVault } from "../gateway/key-vault";
import { openHeldShare } from "../gateway/share-routes";
import { CustodianSetClient, NotEnoughSharesError } from "../sdk/clients/custodian-set";
import { combineKeyShares } from "../sdk/crypto/key-shares";
import { deriveEncryptionKeyPair, publicKeyToBytes32, type EncryptionKeyPair } from "../sdk/crypto/keys";
import {
  createPairingLink,
  derivePseudonymRoot,
  MemoryBlobStore,
  PatientIdentity,
  pseudonymSigner,
  RelayerClient,
} from "../sdk/index";
import { startRelayer } from "../gateway/relayer";
import { renderAuditTable } from "./lib/audit-table";
import { deploySuite } from "./lib/deploy-suite";
import { fhirSamples } from "./lib/fhir-samples";

const DAY = 86_400;
const say = (line: string) => console.log(line);
const step = (title: string) => console.log(`\n== ${title}`);

/** The private key of Hardhat's development account `index` (public test keys, never for real funds). */
function devKey(index: number): string {
  const accounts = hre.config.networks.hardhat.accounts as { mnemonic: string; path: string };
  return HDNodeWallet.fromPhrase(accounts.mnemonic, undefined, `${accounts.path}/${index}`).privateKey;
}

/** Serves the in-process Hardhat network over JSON-RPC on loopback, for the gateway (a separate client). */
async function serveInProcessNetwork(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = await hre.run(TASK_NODE_CREATE_SERVER, {
    hostname: "127.0.0.1",
    port: 0,
    provider: hre.network.provider,
  });
  const { port } = await server.listen();
  return { url: `http://127.0.0.1:${port}`, close: () => server.close() };
}

async function main() {
  const started = Date.now();
  const outDir = path.resolve(process.env.DEMO_OUT ?? "demo-output");
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const signers = await hre.ethers.getSigners();
  const [admin, hospital, university, pharma, patientA, patientB, patientC, relayer] = signers;
  const names = new Map<string, string>(
    Object.entries({ admin, hospital, university, pharma, patientA, patientB, patientC, relayer }).map(
      ([name, signer]) => [signer.address.toLowerCase(), name],
    ),
  );

  step("Deploying the suite and accrediting the parties");
  const deployment: Deployment = await deploySuite(hre);
  await saveDeployment(deployment, path.join(outDir, "deployments"));
  const as = (signer: Signer): Promise<LedgerContracts> => connect(signer, deployment);
  say(`ledger ${deployment.ledger} on chain ${deployment.chainId}`);
  const administration = new AdminClient(await as(admin), admin);
  await (await administration.accredit({ party: hospital.address, roles: ["PROVIDER", "CUSTODIAN"] })).wait();
  await (await administration.accredit({ party: university.address, roles: ["RESEARCHER"], nonProfit: true })).wait();
  await (await administration.accredit({ party: pharma.address, roles: ["RESEARCHER"], nonProfit: false })).wait();
  say("hospital: provider + custodian; university: non-profit researcher; pharma: commercial researcher");

  step("Starting the hospital's custodian gateway");
  const network = await serveInProcessNetwork();
  let gateway: RunningGateway | undefined;
  let baseConfig: GatewayConfig;
  try {
    baseConfig = {
      rpcUrl: network.url,
      host: "127.0.0.1",
      port: 0,
      dataDir: path.join(outDir, "gateway"),
      deploymentFile: path.join(outDir, "deployments", `${deployment.chainId}.json`),
      privateKey: devKey(1),
      masterKey: randomBytes(32),
      logBatchSize: 5,
      logIntervalMs: 1_000,
      challengeTtlSeconds: 300,
      sessionTtlSeconds: 900,
      providers: [],
      logLevel: "silent",
    };
    gateway = await startGateway(baseConfig, { logger: false });
    say(`gateway at ${gateway.url}, custodian ${gateway.custodian}`);
    await story(
      gateway,
      as,
      { admin, hospital, university, pharma, patientA, patientB, patientC, relayer },
      names,
      outDir,
      baseConfig,
    );
    await pseudonymChapter(network.url, deployment, as, { admin, hospital, university, wallet: signers[9] });
  } finally {
    await gateway?.close({ flush: true, flushTimeoutMs: 20_000 });
    await network.close();
  }
  say(`\nDone in ${((Date.now() - started) / 1000).toFixed(1)} s. Audit trails: ${outDir}`);
}

type Cast = Record<
  "admin" | "hospital" | "university" | "pharma" | "patientA" | "patientB" | "patientC" | "relayer",
  Signer & { address: string }
>;

async function story(
  gateway: RunningGateway,
  as: (signer: Signer) => Promise<LedgerContracts>,
  cast: Cast,
  names: Map<string, string>,
  outDir: string,
  baseConfig: GatewayConfig,
) {
  const { hospital, university, pharma, patientA, patientB, patientC, relayer } = cast;
  const hospitalStore = new FsBlobStore(path.join(outDir, "hospital-store"));
  const hospitalGateway = new GatewayClient(gateway.url, hospital, await as(hospital), { store: hospitalStore });
  const provider = new ProviderClient(await as(hospital), hospital, hospitalStore, hospitalGateway);
  const samples = fhirSamples();

  step("The hospital publishes encrypted FHIR records through its gateway");
  const records: Record<string, PublishedRecord> = {};
  const publish = async (label: string, patient: string, dataClass: keyof typeof DataClass, payload: object) => {
    records[label] = await (await provider.publish({ patient, dataClass, payload })).wait();
    say(
      `  ${label.padEnd(14)} ${dataClass.padEnd(12)} for ${names.get(patient.toLowerCase())}  ${records[label].recordId.slice(0, 18)}…`,
    );
  };
  await publish("A-hba1c", patientA.address, "LAB_RESULT", samples.hba1c("patient-a", 6.1));
  await publish("A-condition", patientA.address, "CONDITION", samples.diabetes("patient-a"));
  await publish("B-hba1c", patientB.address, "LAB_RESULT", samples.hba1c("patient-b", 7.4));
  await publish("B-vitals", patientB.address, "VITAL_SIGNS", samples.bloodPressure("patient-b", 142, 91));
  await publish("C-imaging", patientC.address, "IMAGING", samples.chestXray("patient-c"));
  await publish("C-meds", patientC.address, "MEDICATION", samples.metformin("patient-c"));
  records["B-hba1c-v2"] = await (
    await provider.amend(records["B-hba1c"].recordId, samples.hba1c("patient-b", 7.2))
  ).wait();
  say(
    `  B-hba1c amended: version ${records["B-hba1c-v2"].version} supersedes ${records["B-hba1c"].recordId.slice(0, 18)}…`,
  );

  step("Patients decide how they decide");
  const patient = {
    A: new PatientClient(await as(patientA), patientA),
    B: new PatientClient(await as(patientB), patientB),
    C: new PatientClient(await as(patientC), patientC),
  };
  await (
    await patient.A.setPolicy({
      permission: "HMB",
      modifiers: ["NPU"],
      dataClasses: ["LAB_RESULT", "CONDITION", "VITAL_SIGNS"],
    })
  ).wait();
  say("  patient A: standing policy — health/medical research (HMB), not-for-profit only (NPU)");
  say("  patient B: decides each request by hand");
  const now = (await hre.ethers.provider.getBlock("latest"))!.timestamp;
  const signed = await patient.C.signGrant({
    grantee: university.address,
    dataClasses: ["IMAGING"],
    purposes: ["CLINTRCH"],
    validUntil: now + 180 * DAY,
  });
  await writeFile(path.join(outDir, "patient-c-signed-consent.json"), JSON.stringify(signed, null, 2));
  await (await relaySignedConsent(await as(relayer), relayer, signed)).wait();
  say("  patient C: signed a consent off-chain (no gas); the relayer submitted it");

  step("Researchers ask");
  const uni = new ResearcherClient(await as(university), university);
  const ph = new ResearcherClient(await as(pharma), pharma);
  const ask = async (
    who: ResearcherClient,
    whoName: string,
    patientAddress: string,
    dataClasses: (keyof typeof DataClass)[],
  ) => {
    const result = await (
      await who.requestAccess({
        patient: patientAddress,
        dataClasses,
        purpose: "HRESCH",
        researchCategory: "HMB",
        duration: 90 * DAY,
        studyId: "HbA1c-outcomes-2026",
      })
    ).wait();
    say(
      `  ${whoName} → ${names.get(patientAddress.toLowerCase())} ${dataClasses.join(",")}: ${result.approved ? "approved by policy" : "pending"}`,
    );
    return result;
  };
  await ask(uni, "university", patientA.address, ["LAB_RESULT", "CONDITION"]);
  await ask(ph, "pharma", patientA.address, ["LAB_RESULT"]);
  const uniToB = await ask(uni, "university", patientB.address, ["LAB_RESULT"]);
  const pharmaToB = await ask(ph, "pharma", patientB.address, ["VITAL_SIGNS"]);
  await (await patient.B.approve(uniToB.requestId)).wait();
  say("  patient B approves the university's request by hand");
  await (await patient.B.deny(pharmaToB.requestId)).wait();
  say("  patient B denies pharma's request");

  step("An approved researcher fetches and decrypts a record");
  const uniKeys = await uni.deriveEncryptionKey();
  await (await uni.registerEncryptionKey(uniKeys)).wait();
  const uniGateway = new GatewayClient(gateway.url, university, await as(university));
  const opened = await uniGateway.fetchRecord({
    recordId: records["B-hba1c-v2"].recordId,
    purpose: "HRESCH",
    keyPair: uniKeys,
  });
  const matches = JSON.stringify(opened.resource) === JSON.stringify(samples.hba1c("patient-b", 7.2));
  say(
    `  university opened patient B's HbA1c v${opened.version}: ${matches ? "matches the original" : "DOES NOT MATCH"}`,
  );
  if (!matches) throw new ConsentLedgerError("The decrypted record does not match what the hospital published");
  const policyRecord = await uniGateway.fetchRecord({
    recordId: records["A-hba1c"].recordId,
    purpose: "HRESCH",
    keyPair: uniKeys,
  });
  say(`  university opened patient A's HbA1c under the standing policy (${policyRecord.release.basis})`);

  await custodianSetChapter(gateway, baseConfig, as, cast, names, hospitalStore, samples, uniKeys);

  step("Patient B revokes; the next fetch is refused");
  await (await patient.B.revoke(university.address)).wait();
  const uniAskingB = { requester: university.address, dataClass: "LAB_RESULT", purpose: "HRESCH" };
  await expectRefusal("university fetching patient B's HbA1c", uniAskingB, () =>
    uniGateway.fetchRecord({ recordId: records["B-hba1c-v2"].recordId, purpose: "HRESCH", keyPair: uniKeys }),
  );

  step("Break the glass: emergency access opens, then ends by itself");
  const hospitalReader = new ResearcherClient(await as(hospital), hospital);
  const hospitalKeys = await hospitalReader.deriveEncryptionKey();
  await (await hospitalReader.registerEncryptionKey(hospitalKeys)).wait();
  await (
    await (
      await as(hospital)
    ).ledger
      .connect(hospital)
      .openEmergencyAccess(patientC.address, EmergencyReason.PATIENT_UNRESPONSIVE, 3600)
  ).wait();
  say("  the hospital opens a 1-hour emergency window on patient C (reason: patient unresponsive)");
  const emergency = await hospitalGateway.fetchRecord({
    recordId: records["C-meds"].recordId,
    purpose: "ETREAT",
    keyPair: hospitalKeys,
  });
  say(`  inside the window: medication list released (${emergency.release.basis})`);
  await hre.network.provider.send("evm_increaseTime", [3601]);
  await hre.network.provider.send("evm_mine", []);
  const hospitalAskingC = { requester: hospital.address, dataClass: "MEDICATION", purpose: "ETREAT" };
  await expectRefusal("an hour later, the same fetch", hospitalAskingC, () =>
    hospitalGateway.fetchRecord({ recordId: records["C-meds"].recordId, purpose: "ETREAT", keyPair: hospitalKeys }),
  );

  step("A tampered ciphertext is detected");
  const imagingId = records["C-imaging"].recordId;
  const envelope = await uniGateway.fetchCiphertext(imagingId);
  const release = await uniGateway.requestKey(imagingId, "CLINTRCH");
  envelope[envelope.length - 20] ^= 0x01;
  try {
    await uni.openRecord({ envelope, wrappedKey: release.wrappedKey, keyPair: uniKeys, expectedRecordId: imagingId });
    throw new ConsentLedgerError("A tampered ciphertext was accepted");
  } catch (error) {
    if (!(error instanceof IntegrityError)) throw error;
    say(`  one flipped bit in patient C's imaging study: ${error.shortMessage}`);
  }

  step("A CT study of 256 MiB, streamed in and read by byte range");
  // Generated as it is sealed (never whole in memory), stored by stream, anchored, then streamed to the
  // gateway (PUT /records/:recordId checks every segment and the record id as the bytes pass).
  const studyBytes = 256 * MiB;
  const studyStarted = Date.now();
  const ct = await (
    await provider.publishStream({
      patient: patientC.address,
      dataClass: "IMAGING",
      source: ctStudy(studyBytes),
      crypto: nodeSegmentCrypto,
    })
  ).wait();
  say(
    `  C-ct-study     IMAGING      for patient C  ${ct.recordId.slice(0, 18)}…  ${studyBytes / MiB} MiB in 1 MiB segments, ` +
      `sealed, stored and deposited by stream in ${((Date.now() - studyStarted) / 1000).toFixed(1)} s`,
  );
  const sliceAt = 200 * MiB - 4096;
  const slice = await uniGateway.fetchRecordRange({
    recordId: ct.recordId,
    purpose: "CLINTRCH",
    keyPair: uniKeys,
    offset: sliceAt,
    length: 65_536,
  });
  const sliceMatches = Buffer.from(slice.plaintext).equals(ctStudySlice(sliceAt, 65_536));
  say(
    `  university read 64 KiB at offset ${sliceAt} (2 of ${studyBytes / MiB} segments fetched, verified against the anchor): ` +
      `${sliceMatches ? "matches the original" : "DOES NOT MATCH"}`,
  );

  step("Writing the key releases to the on-chain access log");
  await gateway.writer.flushNow();
  say(`  releases not yet on chain: ${gateway.store.pendingReleaseStats().count}`);

  step("Audit trails");
  // Batched releases are proven against roots on chain; their manifests live in the gateway's store.
  const manifests = new FsBlobStore(path.join(outDir, "gateway", "blobs"));
  const chainId = Number((await hre.ethers.provider.getNetwork()).chainId);
  const ledgerAddress = (await as(relayer)).deployment.ledger;
  for (const [label, signer] of [
    ["A", patientA],
    ["B", patientB],
    ["C", patientC],
  ] as const) {
    const history: AuditEntry[] = await new AuditClient(await as(relayer), manifests).history(signer.address);
    console.log(`\nPatient ${label} (${signer.address})`);
    console.log(renderAuditTable(history, names));
    const consents = await patient[label].consents();
    const nowSeconds = (await hre.ethers.provider.getBlock("latest"))!.timestamp;
    await writeFile(
      path.join(outDir, `patient-${label}-audit.json`),
      JSON.stringify(AuditClient.toJson(history), null, 2),
    );
    await writeFile(
      path.join(outDir, `patient-${label}-audit.fhir.json`),
      JSON.stringify(auditTrailToFhirBundle(history, { chainId, ledger: ledgerAddress }), null, 2),
    );
    await writeFile(
      path.join(outDir, `patient-${label}-consents.fhir.json`),
      JSON.stringify(
        fhirCollection(consents.map((c) => consentToFhir(c, { chainId, ledger: ledgerAddress, now: nowSeconds }))),
        null,
        2,
      ),
    );
  }
}

/**
 * Patient D uses a pseudonym per relationship: derived from one wallet signature, handed to the hospital
 * in a signed pairing link, acting only through a relayer (no ether), seen as one by the patient; then an
 * observer reads every transaction and log of the chapter and reports what it can and cannot link.
 */
async function pseudonymChapter(
  rpcUrl: string,
  deployment: Deployment,
  as: (signer: Signer) => Promise<LedgerContracts>,
  cast: Record<"admin" | "hospital" | "university" | "wallet", Signer & { address: string }>,
) {
  step("Patient D: a pseudonym per relationship, no ether, one view");
  const { admin, hospital, university, wallet } = cast;
  const chain = hre.ethers.provider;
  const firstBlock = (await chain.getBlockNumber()) + 1;
  const relayerAccount = Wallet.createRandom();
  await (await admin.sendTransaction({ to: relayerAccount.address, value: 10n ** 18n })).wait();
  const relayer = await startRelayer({ rpcUrl, privateKey: relayerAccount.privateKey, deployment });
  try {
    const root = await derivePseudonymRoot(wallet, {
      domain: "localhost",
      chainId: deployment.chainId,
      ledger: deployment.ledger,
    });
    const atHospital = root.forProvider(hospital.address);
    const forStudy = root.forStudy("diabetes-2026");
    root.destroy();
    say(
      `  D's wallet ${wallet.address} signs once and derives: at the hospital ${atHospital.address}, for the diabetes study ${forStudy.address}`,
    );

    const hospitalDesk = new ProviderClient(await as(hospital), hospital, new MemoryBlobStore());
    const { payload } = await createPairingLink(pseudonymSigner(atHospital), {
      provider: hospital.address,
      encryptionPublicKey: atHospital.encryptionKeyPair.publicKey,
      chainId: deployment.chainId,
      ledger: deployment.ledger,
    });
    const paired = await hospitalDesk.pairPatient(payload);
    await (
      await hospitalDesk.publish({
        patient: paired.pseudonym,
        dataClass: DataClass.LAB_RESULT,
        payload: fhirSamples().hba1c("d", 6.4),
      })
    ).wait();
    say(
      `  the hospital checked D's pairing link (${payload.length} characters, one QR code) and filed a record under ${paired.pseudonym}`,
    );

    const identity = new PatientIdentity(await as(admin), [atHospital, forStudy], {
      relayer: new RelayerClient(relayer.url),
    });
    const now = (await chain.getBlock("latest"))!.timestamp;
    await (
      await identity.client(atHospital.address).grant({
        grantee: hospital.address,
        dataClasses: ["LAB_RESULT"],
        purposes: ["TREAT"],
        validUntil: now + 365 * DAY,
      })
    ).wait();
    const asked = await (
      await new ResearcherClient(await as(university), university).requestAccess({
        patient: forStudy.address,
        dataClasses: ["LAB_RESULT"],
        purpose: "HRESCH",
        researchCategory: "DS",
        diseaseId: 5148,
        duration: 180 * DAY,
        studyId: "diabetes-2026",
      })
    ).wait();
    await (await identity.client(forStudy.address).approve(asked.request)).wait();
    const view = await identity.view();
    say(
      `  D's one view: ${view.records.length} record, ${view.consents.length} consents, ${view.audit.length} audit entries, across ${identity.pseudonyms.length} pseudonyms (each item tagged)`,
    );

    // The observer: every transaction's from, to and calldata and every log, from the chapter's first block.
    const watched = [wallet.address, atHospital.address, forStudy.address];
    let together = 0;
    let naming = [0, 0, 0];
    let sentByPseudonym = 0;
    let etherToPseudonym = 0n;
    const senders = new Set<string>();
    for (let number = firstBlock; number <= (await chain.getBlockNumber()); number++) {
      const block = await chain.getBlock(number, true);
      for (const tx of block!.prefetchedTransactions) {
        const receipt = await chain.getTransactionReceipt(tx.hash);
        const text = [tx.from, tx.to ?? "", tx.data, ...receipt!.logs.flatMap((log) => [...log.topics, log.data])]
          .join(" ")
          .toLowerCase();
        const seen = watched.map((address) => text.includes(address.toLowerCase().slice(2)));
        naming = naming.map((count, i) => count + (seen[i] ? 1 : 0));
        if (seen.filter(Boolean).length > 1) together++;
        if (seen.slice(1).some(Boolean)) senders.add(tx.from);
        if (watched.slice(1).includes(tx.from)) sentByPseudonym++;
        if (tx.to && watched.slice(1).includes(tx.to)) etherToPseudonym += tx.value;
      }
    }
    for (const address of watched.slice(1)) etherToPseudonym += await chain.getBalance(address);
    say(
      `  an observer of the chain: ${together} transactions name two of patient D's accounts; the wallet appears in ${naming[0]};`,
    );
    say(
      `    the hospital pseudonym in ${naming[1]}, the study pseudonym in ${naming[2]}; pseudonyms sent ${sentByPseudonym} and hold ${etherToPseudonym} wei;`,
    );
    say(
      `    their transactions were sent by ${[...senders].map((a) => (a === relayerAccount.address ? "the relayer" : a === hospital.address ? "the hospital" : a === university.address ? "the university" : a)).join(", ")}`,
    );
    say(
      "  it cannot link the two pseudonyms to each other or to the wallet. It can see each one's own relationship (a lab record at the",
    );
    say(
      "  hospital; a diabetes study), and when. The relayer saw both, and timing can correlate them (docs/pseudonyms.md).",
    );
  } finally {
    await relayer.close();
  }
}

/**
 * Three independent custodians guard one record's key, 2 of 3: the hospital's gateway, a patients'
 * foundation and a university's IT, each deciding alone from the chain. A release works with one of them
 * stopped; one custodian patched to hand its share to anyone gives no key; each share release is journaled
 * by the custodian that made it and logged on chain under its own account.
 */
async function custodianSetChapter(
  hospitalGateway: RunningGateway,
  baseConfig: GatewayConfig,
  as: (signer: Signer) => Promise<LedgerContracts>,
  cast: Cast,
  names: Map<string, string>,
  hospitalStore: FsBlobStore,
  samples: ReturnType<typeof fhirSamples>,
  uniKeys: EncryptionKeyPair,
) {
  const { admin, hospital, university, pharma, patientA } = cast;
  step("No single custodian: a record's key split 2 of 3 across independent custodians");
  const signers = await hre.ethers.getSigners();
  const members = [
    { name: "hospital", index: 1, signer: hospital as Signer & { address: string } },
    { name: "foundation", index: 8, signer: signers[8] },
    { name: "university IT", index: 9, signer: signers[9] },
  ];
  const nameOf = (custodian: string) =>
    `${members.find((member) => member.signer.address.toLowerCase() === custodian.toLowerCase())?.name ?? custodian} custodian`;
  const administration = new AdminClient(await as(admin), admin);
  const masterKeys = new Map<string, Uint8Array>();
  const gateways: RunningGateway[] = [hospitalGateway];
  try {
    for (const member of members) {
      if (member.index !== 1) names.set(member.signer.address.toLowerCase(), `${member.name} custodian`);
      if (member.index !== 1)
        await (await administration.accredit({ party: member.signer.address, roles: ["CUSTODIAN"] })).wait();
      // Shares are wrapped to each custodian's key, which its gateway derives from its account key.
      const keyPair = await deriveEncryptionKeyPair(new Wallet(devKey(member.index)));
      await (
        await (await as(member.signer)).keys.connect(member.signer).registerKey(publicKeyToBytes32(keyPair.publicKey))
      ).wait();
    }
    for (const member of members.slice(1)) {
      const masterKey = randomBytes(32);
      masterKeys.set(member.signer.address, Uint8Array.from(masterKey)); // the gateway may zero its own copy
      gateways.push(
        await startGateway(
          {
            ...baseConfig,
            port: 0,
            dataDir: path.join(path.dirname(baseConfig.dataDir), `custodian-${member.index}`),
            privateKey: devKey(member.index),
            masterKey,
            providers: [hospital.address],
            logBatchSize: 1,
          },
          { logger: false },
        ),
      );
    }
    say(`  custodians: ${members.map((member, i) => `${member.name} ${gateways[i].url}`).join(", ")}`);
    const hospitalContracts = await as(hospital);
    const clientsFor = async (signer: Signer, store?: FsBlobStore) => {
      const contracts = await as(signer);
      return Object.fromEntries(
        members.map((member, i) => [
          member.signer.address,
          new GatewayClient(gateways[i].url, signer, contracts, { store }),
        ]),
      );
    };
    const hospitalSet = new CustodianSetClient(
      hospitalContracts,
      hospital,
      await clientsFor(hospital, hospitalStore),
      undefined,
      {
        store: hospitalStore,
      },
    );
    const set = await (
      await hospitalSet.defineSet(
        members.map((member) => member.signer.address),
        2,
      )
    ).wait();
    say(`  custodian set ${set.setId}: ${set.threshold} of ${set.custodians.length}, defined on chain by the hospital`);
    const splitting = new ProviderClient(
      hospitalContracts,
      hospital,
      hospitalStore,
      new CustodianSetClient(hospitalContracts, hospital, await clientsFor(hospital, hospitalStore), set.setId, {
        store: hospitalStore,
      }),
    );
    const lipids = await (
      await splitting.publish({
        patient: patientA.address,
        dataClass: "LAB_RESULT",
        payload: samples.hba1c("patient-a", 5.9),
      })
    ).wait();
    say(
      `  A-hba1c-2      LAB_RESULT   for patientA  ${lipids.recordId.slice(0, 18)}…  key split 2 of 3, one wrapped share per custodian`,
    );

    const uniSet = new CustodianSetClient(await as(university), university, await clientsFor(university));
    const read = async (label: string) => {
      const opened = await uniSet.fetchRecord({ recordId: lipids.recordId, purpose: "HRESCH", keyPair: uniKeys });
      const same = JSON.stringify(opened.resource) === JSON.stringify(samples.hba1c("patient-a", 5.9));
      if (!same)
        throw new ConsentLedgerError("The record rebuilt from shares does not match what the hospital published");
      say(
        `  ${label}: shares from ${opened.shares.map((share) => nameOf(share.custodian)).join(" and ")}; ` +
          `key rebuilt and checked against the record's commitment: matches the original` +
          (opened.refusals.length
            ? `; not answering: ${opened.refusals.map((r) => `${nameOf(r.custodian)} (${r.code})`).join(", ")}`
            : ""),
      );
    };
    await read("university reads with all three custodians up");
    // The reader stops at the first two shares; the third custodian answers too, and logs it. Let its
    // answer land in its journal before it is stopped, and put it on chain as it stops.
    for (
      let waited = 0;
      waited < 5_000 && !gateways[1].store.allReleases().some((row) => row.recordId === lipids.recordId);
      waited += 50
    )
      await new Promise((resolve) => setTimeout(resolve, 50));
    await gateways[1].close({ flush: true, flushTimeoutMs: 10_000 });
    await read("the foundation's custodian is stopped; university reads again");

    // University IT's custodian is patched to hand its share to anyone: its operator opens the share in
    // its own vault, with no chain check, and gives it to pharma, whom patient A's policy refuses.
    const patched = gateways[2];
    const vault = new KeyVault(masterKeys.get(members[2].signer.address)!);
    const leaked = await openHeldShare(vault, patched.store.getRecord(lipids.recordId)!);
    vault.destroy();
    const pharmaSet = new CustodianSetClient(await as(pharma), pharma, await clientsFor(pharma));
    const pharmaKeys = await new ResearcherClient(await as(pharma), pharma).deriveEncryptionKey();
    await (await new ResearcherClient(await as(pharma), pharma).registerEncryptionKey(pharmaKeys)).wait();
    const others = await pharmaSet
      .gatherShares({ recordId: lipids.recordId, purpose: "HRESCH", keyPair: pharmaKeys })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    const refusals = others instanceof NotEnoughSharesError ? others.refusals : [];
    const guess = randomBytes(33);
    guess[32] = leaked.share[32] === 1 ? 2 : 1;
    const forged = await combineKeyShares([leaked.share, guess]);
    const envelope = await hospitalStore.get(lipids.cid);
    const outcome = await new ResearcherClient(await as(pharma), pharma)
      .openRecordWithKey({ envelope, dataKey: forged, expectedRecordId: lipids.recordId })
      .then(
        () => "OPENED",
        (error: unknown) => (error as Error).name,
      );
    if (outcome === "OPENED") throw new ConsentLedgerError("One custodian's share opened a record on its own");
    say(
      `  university IT's custodian, patched to release to anyone, gives pharma its share; the honest custodians refuse pharma ` +
        `(${refusals.map((r) => `${nameOf(r.custodian)} ${r.code}`).join(", ") || "none asked"}); ` +
        `1 share and a guess rebuild no key the record accepts (${outcome})`,
    );

    for (const gateway of [gateways[0], gateways[2]]) await gateway.writer.flushNow();
    for (const [i, gateway] of gateways.entries()) {
      if (i === 1) continue;
      for (const release of gateway.store.allReleases().filter((row) => row.recordId === lipids.recordId)) {
        say(
          `  audit: ${members[i].name} custodian released its share of ${lipids.recordId.slice(0, 18)}… to ` +
            `${names.get(release.grantee.toLowerCase())} (block ${release.checkedBlock}); logged on chain by ${gateway.custodian}`,
        );
      }
    }
  } finally {
    for (const gateway of gateways.slice(1))
      await gateway.close({ flush: true, flushTimeoutMs: 10_000 }).catch(() => undefined);
  }
}

/** Whom the chain must refuse, for what: the refusal must name exactly this. */
interface ExpectedRefusal {
  requester: string;
  dataClass: string;
  purpose: string;
}

/**
 * Runs `attempt`, which the chain must refuse: only the gateway's 403 AccessDenied for this requester,
 * data class and purpose counts. Any other failure (a gateway answering 404, 409, 429, 500 or 503, a
 * refusal for another reason, "not confirmed yet") is rethrown, so the demo fails rather than print it
 * as the refusal it shows.
 */
async function expectRefusal(what: string, expected: ExpectedRefusal, attempt: () => Promise<unknown>) {
  try {
    await attempt();
  } catch (error) {
    const code = error instanceof ConsentLedgerError ? /^HTTP 403 (\w+)$/.exec(error.details ?? "")?.[1] : undefined;
    const { requester, dataClass, purpose } = expected;
    const reason = `no consent or emergency window lets ${requester} read ${dataClass} for ${purpose} (checked at block `;
    const isTheRefusal =
      error instanceof AccessDeniedError &&
      !(error instanceof AccessNotConfirmedError) &&
      code === "AccessDenied" &&
      error.shortMessage.startsWith(reason);
    if (isTheRefusal) {
      say(`  ${what}: refused (${code}) — ${error.shortMessage}`);
      return;
    }
    const got =
      error instanceof ConsentLedgerError
        ? `${error.name} (${error.details ?? "no code"}): ${error.shortMessage}`
        : String(error);
    throw new ConsentLedgerError(`${what} failed, but not with the refusal the chain's rules call for`, {
      details: `expected 403 AccessDenied "${reason}…", got ${got}`,
      cause: error,
    });
  }
  throw new ConsentLedgerError(`${what} was allowed, but the chain says it must be refused`);
}

main().catch((error) => {
  console.error(`\nThe demo failed: ${error instanceof ConsentLedgerError ? error.message : (error?.stack ?? error)}`);
  process.exitCode = 1;
});

const MiB = 1 << 20;

/** A synthetic CT study: 1 MiB slices of one pattern, each stamped with its index, generated on demand. */
async function* ctStudy(size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < size; at += MiB) yield ctSlice(at / MiB).subarray(0, Math.min(MiB, size - at));
}

const CT_PATTERN = new Uint8Array(MiB).map((_, i) => (i * 2654435761) >>> 24);
function ctSlice(index: number): Uint8Array {
  const slice = Uint8Array.from(CT_PATTERN);
  new DataView(slice.buffer).setFloat64(0, index);
  return slice;
}

/** Bytes [offset, offset + length) of the study, computed again. */
function ctStudySlice(offset: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let at = 0; at < length;) {
    const from = (offset + at) % MiB;
    const take = Math.min(MiB - from, length - at);
    out.set(ctSlice(Math.floor((offset + at) / MiB)).subarray(from, from + take), at);
    at += take;
  }
  return out;
}
