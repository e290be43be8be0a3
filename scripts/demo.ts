/**
 * The main job: the whole story on the in-process Hardhat network, in under a minute.
 *
 *   npm run demo                      # writes demo-output/ (audit trails as JSON and FHIR)
 *   DEMO_OUT=/tmp/out npm run demo    # elsewhere
 *
 * Every patient acts under pseudonyms derived from their wallet (one signature, nothing stored): each
 * hands the hospital a signed pairing link for its own pseudonym there, and the hospital publishes
 * encrypted FHIR records under it through its custodian gateway; patients decide by standing policy and
 * by hand, every signed decision going through the consent relayer (gateway/relayer.ts, over HTTP) so no
 * pseudonym needs ether; researchers ask the pseudonym they were given, are approved or denied, and open
 * what they may; a revocation, an emergency window and a tampered copy show the refusals; each patient's
 * audit trail is printed and exported; and an observer reading the whole chain reports what it can and
 * cannot link.
 */
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";

import { TASK_NODE_CREATE_SERVER } from "hardhat/builtin-tasks/task-names";
import hre from "hardhat";
import { HDNodeWallet, parseEther, randomBytes, Wallet, type Signer } from "ethers";

import { DataClass, EmergencyReason } from "../sdk/codes";
import { connect, type Deployment, type LedgerContracts } from "../sdk/chain/connect";
import { AdminClient } from "../sdk/clients/admin";
import { AuditClient, type AuditEntry } from "../sdk/clients/audit";
import { GatewayClient } from "../sdk/clients/gateway";
import { PatientClient } from "../sdk/clients/patient";
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
  hasSignedForm,
  MemoryBlobStore,
  PatientIdentity,
  pseudonymSigner,
  RelayerClient,
  type Pseudonym,
} from "../sdk/index";
import { startRelayer, type RunningRelayer } from "../gateway/relayer";
import { observeChain } from "./lib/chain-observer";
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
  // Patient D's wallet: an account nothing else in the demo uses (8 and 9 become custodians).
  const walletD = signers[10];
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
  let consentRelayer: RunningRelayer | undefined;
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
    // The consent relayer every patient acts through: its own account pays the gas of signed actions.
    consentRelayer = await startRelayer({ rpcUrl: network.url, privateKey: devKey(7), deployment });
    say(`consent relayer at ${consentRelayer.url}, sending from ${consentRelayer.relayer}`);
    const wallets = { A: patientA, B: patientB, C: patientC, D: walletD };
    const pseudonyms = await story(
      gateway,
      as,
      { admin, hospital, university, pharma, patientA, patientB, patientC, relayer },
      names,
      outDir,
      baseConfig,
      new RelayerClient(consentRelayer.url),
    );
    const ofD = await pseudonymChapter(deployment, as, { hospital, university, wallet: walletD }, names, {
      relayer: new RelayerClient(consentRelayer.url),
      relayerAccount: consentRelayer.relayer,
    });
    await observerChapter(
      deployment,
      (["A", "B", "C", "D"] as const).map((label) => ({
        label,
        wallet: wallets[label].address,
        pseudonyms: label === "D" ? ofD : [pseudonyms[label]],
      })),
      names,
    );
  } finally {
    await consentRelayer?.close();
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
  consentRelayer: RelayerClient,
): Promise<Record<"A" | "B" | "C", Pseudonym>> {
  const { admin, hospital, university, pharma, patientA, patientB, patientC, relayer } = cast;
  const hospitalStore = new FsBlobStore(path.join(outDir, "hospital-store"));
  const hospitalGateway = new GatewayClient(gateway.url, hospital, await as(hospital), { store: hospitalStore });
  const provider = new ProviderClient(await as(hospital), hospital, hospitalStore, hospitalGateway);
  const samples = fhirSamples();
  const { deployment } = await as(hospital);

  step("Each patient pairs with the hospital under a pseudonym");
  // One wallet signature gives the patient's pseudonym for the hospital; the pairing link is signed by
  // that pseudonym, so the hospital files records under an address the patient chose, not one it made up.
  const pseudo = {} as Record<"A" | "B" | "C", Pseudonym>;
  for (const [label, wallet] of [
    ["A", patientA],
    ["B", patientB],
    ["C", patientC],
  ] as const) {
    const root = await derivePseudonymRoot(wallet, {
      domain: "localhost",
      chainId: deployment.chainId,
      ledger: deployment.ledger,
    });
    pseudo[label] = root.forProvider(hospital.address);
    root.destroy();
    const { payload } = await createPairingLink(pseudonymSigner(pseudo[label]), {
      provider: hospital.address,
      encryptionPublicKey: pseudo[label].encryptionKeyPair.publicKey,
      chainId: deployment.chainId,
      ledger: deployment.ledger,
    });
    const paired = await provider.pairPatient(payload);
    names.set(paired.pseudonym.toLowerCase(), `patient ${label}@hospital`);
    say(
      `  patient ${label}: wallet ${wallet.address} → pseudonym at the hospital ${paired.pseudonym} (pairing link checked)`,
    );
  }

  step("The hospital publishes encrypted FHIR records through its gateway");
  const records: Record<string, PublishedRecord> = {};
  const publish = async (label: string, patient: string, dataClass: keyof typeof DataClass, payload: object) => {
    records[label] = await (await provider.publish({ patient, dataClass, payload })).wait();
    say(
      `  ${label.padEnd(14)} ${dataClass.padEnd(12)} for ${names.get(patient.toLowerCase())}  ${records[label].recordId.slice(0, 18)}…`,
    );
  };
  await publish("A-hba1c", pseudo.A.address, "LAB_RESULT", samples.hba1c("patient-a", 6.1));
  await publish("A-condition", pseudo.A.address, "CONDITION", samples.diabetes("patient-a"));
  await publish("B-hba1c", pseudo.B.address, "LAB_RESULT", samples.hba1c("patient-b", 7.4));
  await publish("B-vitals", pseudo.B.address, "VITAL_SIGNS", samples.bloodPressure("patient-b", 142, 91));
  await publish("C-imaging", pseudo.C.address, "IMAGING", samples.chestXray("patient-c"));
  await publish("C-meds", pseudo.C.address, "MEDICATION", samples.metformin("patient-c"));
  records["B-hba1c-v2"] = await (
    await provider.amend(records["B-hba1c"].recordId, samples.hba1c("patient-b", 7.2))
  ).wait();
  say(
    `  B-hba1c amended: version ${records["B-hba1c-v2"].version} supersedes ${records["B-hba1c"].recordId.slice(0, 18)}…`,
  );

  step("Patients decide how they decide, each as its pseudonym, through the relayer");
  // Signed actions (grant, revoke, approve, deny) go to the relayer; an action the ledger has no signed
  // form of yet is sent by the pseudonym itself (allowDirect), which then needs ether.
  const patientAs = async (pseudonym: Pseudonym) => {
    const signer = pseudonymSigner(pseudonym, hre.ethers.provider);
    return new PatientClient(await as(signer), signer, { relayer: consentRelayer, allowDirect: true });
  };
  const patient = { A: await patientAs(pseudo.A), B: await patientAs(pseudo.B), C: await patientAs(pseudo.C) };
  if (!hasSignedForm("setPolicy")) {
    await (await admin.sendTransaction({ to: pseudo.A.address, value: parseEther("0.01") })).wait();
    say(
      "  the ledger has no signed form of a standing policy yet: A's pseudonym sends it itself, with 0.01 ETH from a faucet (not from A's wallet)",
    );
  }
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
  await (
    await patient.C.grant({
      grantee: university.address,
      dataClasses: ["IMAGING"],
      purposes: ["CLINTRCH"],
      validUntil: now + 180 * DAY,
    })
  ).wait();
  say("  patient C: signed a consent for the university's imaging trial (no gas); the relayer submitted it");

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
  // Each researcher asks the pseudonym the patient gave the study: the hospital one, which holds the records.
  await ask(uni, "university", pseudo.A.address, ["LAB_RESULT", "CONDITION"]);
  await ask(ph, "pharma", pseudo.A.address, ["LAB_RESULT"]);
  const uniToB = await ask(uni, "university", pseudo.B.address, ["LAB_RESULT"]);
  const pharmaToB = await ask(ph, "pharma", pseudo.B.address, ["VITAL_SIGNS"]);
  await (await patient.B.approve(uniToB.requestId)).wait();
  say("  patient B approves the university's request by hand (signed; the relayer sends it)");
  await (await patient.B.deny(pharmaToB.requestId)).wait();
  say("  patient B denies pharma's request (signed; the relayer sends it)");

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

  await custodianSetChapter(gateway, baseConfig, as, cast, names, hospitalStore, samples, uniKeys, pseudo.A.address);

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
      .openEmergencyAccess(pseudo.C.address, EmergencyReason.PATIENT_UNRESPONSIVE, 3600)
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
      patient: pseudo.C.address,
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
  for (const label of ["A", "B", "C"] as const) {
    const history: AuditEntry[] = await new AuditClient(await as(relayer), manifests).history(pseudo[label].address);
    console.log(`\nPatient ${label} (pseudonym at the hospital ${pseudo[label].address})`);
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
  return pseudo;
}

/**
 * Patient D uses a pseudonym per relationship: derived from one wallet signature, handed to the hospital
 * in a signed pairing link, acting only through the relayer (no ether), seen as one by the patient,
 * with a separate pseudonym for a diabetes study; an observer then reads every transaction and log of
 * the chapter and reports what it can and cannot link. Returns D's pseudonyms for the closing chapter.
 */
async function pseudonymChapter(
  deployment: Deployment,
  as: (signer: Signer) => Promise<LedgerContracts>,
  cast: Record<"hospital" | "university" | "wallet", Signer & { address: string }>,
  names: Map<string, string>,
  relaying: { relayer: RelayerClient; relayerAccount: string },
): Promise<Pseudonym[]> {
  step("Patient D: a pseudonym per relationship, no ether, one view");
  const { hospital, university, wallet } = cast;
  const chain = hre.ethers.provider;
  const firstBlock = (await chain.getBlockNumber()) + 1;
  {
    const root = await derivePseudonymRoot(wallet, {
      domain: "localhost",
      chainId: deployment.chainId,
      ledger: deployment.ledger,
    });
    const atHospital = root.forProvider(hospital.address);
    const forStudy = root.forStudy("diabetes-2026");
    root.destroy();
    names.set(atHospital.address.toLowerCase(), "patient D@hospital");
    names.set(forStudy.address.toLowerCase(), "patient D@diabetes-2026");
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

    const identity = new PatientIdentity(await as(hospital), [atHospital, forStudy], { relayer: relaying.relayer });
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
    const seen = await observeChain(chain, firstBlock, watched, watched.slice(1));
    const naming = watched.map((address) => seen.sightings.filter((s) => s.accounts.includes(address)).length);
    const sentByPseudonym = seen.sightings.filter((s) => watched.slice(1).includes(s.from)).length;
    let held = 0n;
    for (const address of watched.slice(1)) held += await chain.getBalance(address);
    const senders = [...new Set(seen.sightings.filter((s) => s.accounts.length > 0).map((s) => s.from))];
    say(
      `  an observer of the chain: ${seen.links.length} transactions name two of patient D's accounts; the wallet appears in ${naming[0]};`,
    );
    say(
      `    the hospital pseudonym in ${naming[1]}, the study pseudonym in ${naming[2]}; pseudonyms sent ${sentByPseudonym} and hold ${held} wei;`,
    );
    say(
      `    their transactions were sent by ${senders.map((a) => (a === relaying.relayerAccount ? "the relayer" : a === hospital.address ? "the hospital" : a === university.address ? "the university" : a)).join(", ")}`,
    );
    say(
      "  it cannot link the two pseudonyms to each other or to the wallet. It can see each one's own relationship (a lab record at the",
    );
    say(
      "  hospital; a diabetes study), and when. The relayer saw both, and timing can correlate them (docs/pseudonyms.md).",
    );
    return [atHospital, forStudy];
  }
}

/** One patient as the closing observer sees it: the wallet and the pseudonyms it derived. */
interface ObservedPatient {
  label: string;
  wallet: string;
  pseudonyms: Pseudonym[];
}

/**
 * The closing chapter: an observer reads the whole chain since the deployment (scripts/lib/chain-observer.ts,
 * the same one test/gateway/pseudonym-privacy.test.ts plays) and says, per patient, what it can and
 * cannot link: no transaction or log names two of one patient's accounts, no wallet appears at all, no
 * pseudonym sent a transaction; what remains is each pseudonym's own relationship, its timing, and any
 * ether an action without a signed form still needs.
 */
async function observerChapter(deployment: Deployment, patients: ObservedPatient[], names: Map<string, string>) {
  step("What an observer of the whole chain can and cannot link");
  const chain = hre.ethers.provider;
  const wallets = patients.map((p) => p.wallet);
  const pseudonyms = patients.flatMap((p) => p.pseudonyms.map((q) => q.address));
  const seen = await observeChain(chain, deployment.deployedAtBlock ?? 0, [...wallets, ...pseudonyms], pseudonyms);
  const nameOf = (address: string) => names.get(address.toLowerCase()) ?? address;
  say(
    `  read ${seen.blocks} blocks and ${seen.transactions} transactions (senders, recipients, calldata, every log), looking for ${wallets.length} wallets and ${pseudonyms.length} pseudonyms`,
  );
  let linked = 0;
  for (const patient of patients) {
    const mine = [patient.wallet, ...patient.pseudonyms.map((p) => p.address)];
    const links = seen.links.filter((s) => s.accounts.filter((a) => mine.includes(a)).length > 1).length;
    const walletSeen = seen.sightings.filter((s) => s.accounts.includes(patient.wallet)).length;
    const sent = seen.sightings.filter((s) => mine.slice(1).includes(s.from)).length;
    linked += links + walletSeen;
    say(
      `  patient ${patient.label}: ${links} transactions name two of its accounts; its wallet appears in ${walletSeen}; ` +
        `its ${patient.pseudonyms.length} pseudonym${patient.pseudonyms.length > 1 ? "s" : ""} appear in ` +
        `${seen.sightings.filter((s) => s.accounts.some((a) => mine.slice(1).includes(a))).length} and sent ${sent} themselves`,
    );
  }
  const together = seen.links.filter(
    (s) =>
      !patients.some((p) => s.accounts.every((a) => [p.wallet, ...p.pseudonyms.map((q) => q.address)].includes(a))),
  );
  say(`  transactions naming accounts of two different patients: ${together.length}`);
  const received = seen.funded.filter((line) => line.includes(" received "));
  for (const line of received) {
    const [address, , amount, , , from] = line.split(" ");
    say(
      `  funding trail: ${nameOf(address)} received ${amount} wei from ${nameOf(from)}: an action with no signed form yet (see above) that it had to send itself`,
    );
  }
  if (received.length === 0) say("  funding trail: none; no pseudonym ever received or held ether");
  say(
    linked === 0
      ? "  It cannot link any patient's pseudonyms to each other or to the wallet they come from."
      : "  It CAN link some of them: see the lines above.",
  );
  say(
    "  It can see each pseudonym's own relationship (records at the hospital, a study's request, an emergency window), when each",
  );
  say(
    '  action happened, and that the relayer sent them; the relayer itself saw every signed action (docs/pseudonyms.md, "What remains").',
  );
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
  patientA: string,
) {
  const { admin, hospital, university, pharma } = cast;
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
        patient: patientA,
        dataClass: "LAB_RESULT",
        payload: samples.hba1c("patient-a", 5.9),
      })
    ).wait();
    say(
      `  A-hba1c-2      LAB_RESULT   for patient A@hospital  ${lipids.recordId.slice(0, 18)}…  key split 2 of 3, one wrapped share per custodian`,
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
