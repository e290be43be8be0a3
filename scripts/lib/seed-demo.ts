/**
 * The demo's story (scripts/demo.ts), as state on a real node rather than as a narration: the same cast
 * (the node's development accounts 0–7), the same accreditations, records, policy, signed consent,
 * requests, decisions, key releases, revocation and emergency opening. `npm run dapp` and the dashboard's
 * browser test seed a chain with it, so the patient's dashboard opens on the demo's data.
 *
 * What differs from the demo, and why:
 * - no time travel (the demo moves the clock an hour to close the emergency window): on a node a wallet
 *   signs against, the chain's clock must stay with the wall clock, or a signature's deadline (an hour
 *   from the browser's now) would already have passed on chain. The emergency window simply stays open.
 * - no tampered ciphertext (it leaves no state behind).
 * - two extras for the dashboard's default patient, A, so every part of the page has something to show:
 *   the hospital re-runs A's HbA1c (a version chain: v2 supersedes v1), and pharma opens a second
 *   request to A (a clinical trial) that A's non-profit-only policy leaves pending too.
 *   `extras: false` leaves them out.
 *
 * scripts/demo.ts is unchanged (it narrates each step, on the in-process network); this module follows
 * its steps in the same order, so a change of story should be made in both.
 */
import { ContractFactory, type Signer } from "ethers";

import { DataClass, EmergencyReason, type DataClassName } from "../../sdk/codes";
import { connect, type Deployment, type LedgerContracts } from "../../sdk/chain/connect";
import { AdminClient } from "../../sdk/clients/admin";
import { GatewayClient } from "../../sdk/clients/gateway";
import { PatientClient, relaySignedConsent } from "../../sdk/clients/patient";
import { ProviderClient, type PublishedRecord } from "../../sdk/clients/provider";
import { ResearcherClient } from "../../sdk/clients/researcher";
import { MemoryBlobStore } from "../../sdk/storage/blob-store";
import {
  AccessLog__factory,
  ConsentLedger__factory,
  KeyDirectory__factory,
  RecordRegistry__factory,
} from "../../typechain-types";
import { fhirSamples } from "./fhir-samples";

const HOUR = 3600;
const DAY = 24 * HOUR;

/** The demo's cast, by the index of the node's development account each one uses. */
export const DEMO_CAST_INDEX = {
  admin: 0,
  hospital: 1,
  university: 2,
  pharma: 3,
  patientA: 4,
  patientB: 5,
  patientC: 6,
  relayer: 7,
} as const;
export type DemoRole = keyof typeof DEMO_CAST_INDEX;
export type DemoCast = Record<DemoRole, Signer & { address: string }>;

/** The studies the researchers name (their keccak256 goes on chain, never the text). */
export const DEMO_STUDIES = ["HbA1c-outcomes-2026", "GLP1-cardio-trial-2027"] as const;

/**
 * The Ignition module's defaults (ignition/modules/ConsentLedgerSuite.ts): requests wait 30 days, may
 * ask for up to 5 years, emergency windows last at most 72 hours.
 */
export const SUITE_DEFAULTS = {
  requestTtl: 30 * DAY,
  maxRequestDuration: 5 * 365 * DAY,
  maxEmergencyDuration: 72 * HOUR,
};

/**
 * Deploys the suite on whatever node `admin` is connected to, with the typechain factories and the
 * Ignition module's defaults (Ignition deploys only to networks named in hardhat.config.ts, and a test
 * node listens on a free port). `admin` becomes the administrator.
 */
export async function deploySuiteOnNode(admin: Signer, parameters = SUITE_DEFAULTS): Promise<Deployment> {
  const provider = admin.provider;
  if (!provider) throw new Error("deploySuiteOnNode: the admin signer has no provider");
  const startBlock = await provider.getBlockNumber();
  const adminAddress = await admin.getAddress();
  const deployed = async <T extends ContractFactory>(factory: T, ...args: Parameters<T["deploy"]>) => {
    const contract = await factory.deploy(...args);
    await contract.waitForDeployment();
    return contract.getAddress();
  };
  const ledger = await deployed(
    new ConsentLedger__factory(admin),
    adminAddress,
    parameters.requestTtl,
    parameters.maxRequestDuration,
    parameters.maxEmergencyDuration,
  );
  const records = await deployed(new RecordRegistry__factory(admin), ledger);
  const accessLog = await deployed(new AccessLog__factory(admin), ledger);
  const keys = await deployed(new KeyDirectory__factory(admin));
  const { chainId } = await provider.getNetwork();
  return { chainId: Number(chainId), ledger, records, accessLog, keys, deployedAtBlock: startBlock + 1 };
}

/** What seeding left on chain, for whoever shows or tests it. */
export interface SeededDemo {
  records: Record<string, PublishedRecord>;
  /** Request ids by label: "university→A" (approved by policy), "pharma→A" and "pharma→A trial" (pending), ... */
  requests: Record<string, string>;
  /** Lower-case address → the demo's name of the account. */
  names: Map<string, string>;
}

export interface SeedOptions {
  deployment: Deployment;
  cast: DemoCast;
  /** The hospital's custodian gateway (started after accreditDemoCast, with the hospital as custodian). */
  gatewayUrl: string;
  /** Include the dashboard's extras (see the module comment); default true. */
  extras?: boolean;
  /** Progress lines; default silent. */
  say?: (line: string) => void;
}

/**
 * Step 1 of the demo: the administrator accredits the hospital (provider + custodian), the university
 * (non-profit researcher) and pharma (commercial researcher). The hospital's gateway can start after it.
 */
export async function accreditDemoCast(deployment: Deployment, cast: DemoCast): Promise<void> {
  const { admin, hospital, university, pharma } = cast;
  const administration = new AdminClient(await connect(admin, deployment), admin);
  await (await administration.accredit({ party: hospital.address, roles: ["PROVIDER", "CUSTODIAN"] })).wait();
  await (await administration.accredit({ party: university.address, roles: ["RESEARCHER"], nonProfit: true })).wait();
  await (await administration.accredit({ party: pharma.address, roles: ["RESEARCHER"], nonProfit: false })).wait();
}

/**
 * The rest of the demo's story, onto `deployment` (see the module comment): after accreditDemoCast, with
 * the hospital's gateway running at `gatewayUrl`.
 */
export async function seedDemo(options: SeedOptions): Promise<SeededDemo> {
  const { deployment, cast, gatewayUrl } = options;
  const extras = options.extras ?? true;
  const say = options.say ?? (() => undefined);
  const { admin, hospital, university, pharma, patientA, patientB, patientC, relayer } = cast;
  const as = (signer: Signer): Promise<LedgerContracts> => connect(signer, deployment);
  const names = new Map(Object.entries(cast).map(([name, signer]) => [signer.address.toLowerCase(), name]));
  const nameOf = (address: string) => names.get(address.toLowerCase()) ?? address;
  const chainNow = async () => (await (await as(admin)).provider.getBlock("latest"))!.timestamp;

  // 2. The hospital publishes encrypted FHIR records through its gateway, and amends one.
  const hospitalStore = new MemoryBlobStore();
  const hospitalGateway = new GatewayClient(gatewayUrl, hospital, await as(hospital), { store: hospitalStore });
  const provider = new ProviderClient(await as(hospital), hospital, hospitalStore, hospitalGateway);
  const samples = fhirSamples();
  const records: Record<string, PublishedRecord> = {};
  const publish = async (label: string, patient: string, dataClass: DataClassName, payload: object) => {
    records[label] = await (await provider.publish({ patient, dataClass, payload })).wait();
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
  if (extras)
    records["A-hba1c-v2"] = await (
      await provider.amend(records["A-hba1c"].recordId, samples.hba1c("patient-a", 5.9))
    ).wait();
  say(
    `published ${Object.keys(records).length} records (B's HbA1c${extras ? " and A's HbA1c" : ""} amended to version 2)`,
  );

  // The hospital's own transactions come before any key release, so they never race the gateway's
  // access-log writer (which signs with the same account) for a nonce: it registers its encryption key
  // and breaks the glass on patient C here, where the demo does it later.
  const hospitalReader = new ResearcherClient(await as(hospital), hospital);
  const hospitalKeys = await hospitalReader.deriveEncryptionKey();
  await (await hospitalReader.registerEncryptionKey(hospitalKeys)).wait();
  await (
    await (
      await as(hospital)
    ).ledger
      .connect(hospital)
      .openEmergencyAccess(patientC.address, EmergencyReason.PATIENT_UNRESPONSIVE, HOUR)
  ).wait();
  say("the hospital opened a 1-hour emergency window on patient C (patient unresponsive)");

  // 3. Patients decide how they decide.
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
  const signed = await patient.C.signGrant({
    grantee: university.address,
    dataClasses: ["IMAGING"],
    purposes: ["CLINTRCH"],
    validUntil: (await chainNow()) + 180 * DAY,
  });
  await (await relaySignedConsent(await as(relayer), relayer, signed)).wait();
  say("patient A set a standing policy (HMB, non-profit only); patient C signed a consent the relayer submitted");

  // 4. Researchers ask; B decides by hand.
  const uni = new ResearcherClient(await as(university), university);
  const ph = new ResearcherClient(await as(pharma), pharma);
  const requests: Record<string, string> = {};
  const ask = async (
    label: string,
    who: ResearcherClient,
    patientAddress: string,
    dataClasses: (keyof typeof DataClass)[],
    terms: { purpose?: "HRESCH" | "CLINTRCH"; duration?: number; studyId?: string } = {},
  ) => {
    const result = await (
      await who.requestAccess({
        patient: patientAddress,
        dataClasses,
        purpose: terms.purpose ?? "HRESCH",
        researchCategory: "HMB",
        duration: terms.duration ?? 90 * DAY,
        studyId: terms.studyId ?? DEMO_STUDIES[0],
      })
    ).wait();
    requests[label] = result.requestId;
    return result;
  };
  await ask("university→A", uni, patientA.address, ["LAB_RESULT", "CONDITION"]);
  await ask("pharma→A", ph, patientA.address, ["LAB_RESULT"]);
  if (extras) {
    await ask("pharma→A trial", ph, patientA.address, ["CONDITION", "VITAL_SIGNS"], {
      purpose: "CLINTRCH",
      duration: 365 * DAY,
      studyId: DEMO_STUDIES[1],
    });
  }
  await ask("university→B", uni, patientB.address, ["LAB_RESULT"]);
  await ask("pharma→B", ph, patientB.address, ["VITAL_SIGNS"]);
  await (await patient.B.approve(requests["university→B"])).wait();
  await (await patient.B.deny(requests["pharma→B"])).wait();
  say(
    `requests: university→A approved by A's policy, pharma→A pending${extras ? " (twice)" : ""}; B approved university, denied pharma`,
  );

  // 5. Key releases: the university reads B's and A's HbA1c; the hospital reads C's medication in the window.
  const uniKeys = await uni.deriveEncryptionKey();
  await (await uni.registerEncryptionKey(uniKeys)).wait();
  const uniGateway = new GatewayClient(gatewayUrl, university, await as(university));
  await uniGateway.fetchRecord({ recordId: records["B-hba1c-v2"].recordId, purpose: "HRESCH", keyPair: uniKeys });
  await uniGateway.fetchRecord({
    recordId: (records["A-hba1c-v2"] ?? records["A-hba1c"]).recordId,
    purpose: "HRESCH",
    keyPair: uniKeys,
  });
  await hospitalGateway.fetchRecord({ recordId: records["C-meds"].recordId, purpose: "ETREAT", keyPair: hospitalKeys });
  say("key releases: university opened B's HbA1c v2 and A's HbA1c; the hospital opened C's medication (emergency)");

  // 6. B revokes.
  await (await patient.B.revoke(university.address)).wait();
  say(`patient B revoked the university's consent (${nameOf(university.address)})`);

  return { records, requests, names };
}
