/**
 * What the gateway tests and the load test share: the suite deployed on a real `hardhat node` with
 * typechain factories, a cast of accounts (the node's unlocked accounts, so the node assigns nonces and
 * the tests' transactions never race the gateway's), a gateway started in-process or as a child process,
 * and FHIR records published with the real ProviderClient.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { HDNodeWallet, JsonRpcProvider, Network, type JsonRpcSigner, type Signer } from "ethers";

import { AdminClient } from "../../sdk/clients/admin";
import { GatewayClient } from "../../sdk/clients/gateway";
import { PatientClient } from "../../sdk/clients/patient";
import { ProviderClient, type PublishedRecord } from "../../sdk/clients/provider";
import { ResearcherClient } from "../../sdk/clients/researcher";
import { connect, type Deployment, type LedgerContracts } from "../../sdk/chain/connect";
import type { DataClassName, RoleName } from "../../sdk/codes";
import { bytesToHex, randomBytes } from "../../sdk/crypto/bytes";
import type { EncryptionKeyPair } from "../../sdk/crypto/keys";
import { MemoryBlobStore } from "../../sdk/storage/blob-store";
import {
  AccessLog__factory,
  ConsentLedger__factory,
  KeyDirectory__factory,
  RecordRegistry__factory,
} from "../../typechain-types";
import { DEFAULTS, type GatewayConfig } from "../../gateway/config";
import { startGateway, type RunningGateway, type StartOptions } from "../../gateway/start";
import { exited, freePort, killGroup, killOnExit, type LocalNode } from "./local-node";

export const HARDHAT_MNEMONIC = "test test test test test test test test test test test junk";
const REPO_ROOT = path.resolve(__dirname, "..", "..");

/** The private key of the hardhat node's account `index`. */
export function hardhatPrivateKey(index: number): string {
  return HDNodeWallet.fromPhrase(HARDHAT_MNEMONIC, undefined, `m/44'/60'/0'/0/${index}`).privateKey;
}

export const HOUR = 3600;
export const DAY = 24 * HOUR;
export const LEDGER_PARAMS = {
  requestTtl: 30 * DAY,
  maxRequestDuration: 5 * 365 * DAY,
  maxEmergencyDuration: 72 * HOUR,
};

/** Account indices on the node. */
const CAST = {
  admin: 0,
  hospital: 1,
  lab: 2,
  researcher: 3,
  otherResearcher: 4,
  patient: 5,
  otherPatient: 6,
  clinician: 7,
  stranger: 8,
} as const;
type CastName = keyof typeof CAST;

export interface LedgerSetup {
  node: LocalNode;
  provider: JsonRpcProvider;
  deployment: Deployment;
  /** The deployment written to a file, for --deployment. */
  deploymentFile: string;
  /** Read-only contracts (bound to the provider). */
  contracts: LedgerContracts;
  signers: Record<CastName, JsonRpcSigner>;
  /** The hospital's private key: the gateway's CONSENT_GATEWAY_PRIVATE_KEY. */
  hospitalKey: string;
  /** A temporary directory removed by cleanup(). */
  tempDir: string;
  /** Contracts bound to one signer. */
  as(signer: Signer): Promise<LedgerContracts>;
  cleanup(): void;
}

/**
 * Deploys the suite on `node` and accredits the cast: hospital PROVIDER|CUSTODIAN, lab PROVIDER,
 * clinician PROVIDER, researcher (non-profit) and otherResearcher RESEARCHER.
 */
export async function setupLedger(node: LocalNode): Promise<LedgerSetup> {
  const provider = new JsonRpcProvider(node.url, Network.from(31337), {
    staticNetwork: Network.from(31337),
    pollingInterval: 100,
    cacheTimeout: -1,
  });
  const signers = Object.fromEntries(
    await Promise.all(Object.entries(CAST).map(async ([name, index]) => [name, await provider.getSigner(index)])),
  ) as Record<CastName, JsonRpcSigner>;
  const { admin } = signers;
  const startBlock = await provider.getBlockNumber();
  const ledger = await new ConsentLedger__factory(admin).deploy(
    admin.address,
    LEDGER_PARAMS.requestTtl,
    LEDGER_PARAMS.maxRequestDuration,
    LEDGER_PARAMS.maxEmergencyDuration,
  );
  await ledger.waitForDeployment();
  const ledgerAddress = await ledger.getAddress();
  // One after another: anvil, unlike hardhat node, may give concurrent eth_sendTransaction calls of one
  // account the same nonce.
  const records = await (await new RecordRegistry__factory(admin).deploy(ledgerAddress)).waitForDeployment();
  const accessLog = await (await new AccessLog__factory(admin).deploy(ledgerAddress)).waitForDeployment();
  const keys = await (await new KeyDirectory__factory(admin).deploy()).waitForDeployment();
  const deployment: Deployment = {
    chainId: 31337,
    ledger: ledgerAddress,
    records: await records.getAddress(),
    accessLog: await accessLog.getAddress(),
    keys: await keys.getAddress(),
    deployedAtBlock: startBlock + 1,
  };
  const tempDir = mkdtempSync(path.join(os.tmpdir(), "consent-gateway-test-"));
  const deploymentFile = path.join(tempDir, "deployment.json");
  writeFileSync(deploymentFile, JSON.stringify(deployment, null, 2));
  const contracts = await connect(provider, deployment);

  const adminClient = new AdminClient(await connect(admin, deployment), admin);
  const accredit = async (signer: JsonRpcSigner, roles: RoleName[], nonProfit = false) =>
    (await adminClient.accredit({ party: signer.address, roles, nonProfit })).wait();
  await accredit(signers.hospital, ["PROVIDER", "CUSTODIAN"]);
  await accredit(signers.lab, ["PROVIDER"]);
  await accredit(signers.clinician, ["PROVIDER"]);
  await accredit(signers.researcher, ["RESEARCHER"], true);
  await accredit(signers.otherResearcher, ["RESEARCHER"]);

  return {
    node,
    provider,
    deployment,
    deploymentFile,
    contracts,
    signers,
    hospitalKey: hardhatPrivateKey(CAST.hospital),
    tempDir,
    as: (signer) => connect(signer, deployment),
    cleanup() {
      provider.destroy();
      rmSync(tempDir, { recursive: true, force: true });
    },
  };
}

/** A gateway configuration for `setup`: the hospital as custodian, a fresh data dir and master key. */
export function gatewayConfig(setup: LedgerSetup, overrides: Partial<GatewayConfig> = {}): GatewayConfig {
  return {
    rpcUrl: setup.node.url,
    host: "127.0.0.1",
    port: 0,
    dataDir: mkdtempSync(path.join(setup.tempDir, "gateway-")),
    deploymentFile: setup.deploymentFile,
    privateKey: setup.hospitalKey,
    masterKey: randomBytes(32),
    logBatchSize: DEFAULTS.logBatchSize,
    logIntervalMs: DEFAULTS.logIntervalMs,
    challengeTtlSeconds: DEFAULTS.challengeTtlSeconds,
    sessionTtlSeconds: DEFAULTS.sessionTtlSeconds,
    providers: [],
    logLevel: "silent",
    ...overrides,
  };
}

/** Starts the real gateway in this process on a random loopback port. */
export async function startTestGateway(
  setup: LedgerSetup,
  overrides: Partial<GatewayConfig> = {},
  options: StartOptions = {},
) {
  const config = gatewayConfig(setup, overrides);
  const gateway: RunningGateway = await startGateway(config, { logger: false, receiptTimeoutMs: 10_000, ...options });
  return { gateway, config };
}

/** The chain's current time (latest block timestamp). */
export async function chainNow(provider: JsonRpcProvider): Promise<number> {
  return (await provider.getBlock("latest"))!.timestamp;
}

/** The patient's consent for the researcher to read lab results for HRESCH, for a day of chain time; mined. */
export async function grantResearcherLabResults(setup: LedgerSetup): Promise<void> {
  const patient = new PatientClient(await setup.as(setup.signers.patient), setup.signers.patient);
  await (
    await patient.grant({
      grantee: setup.signers.researcher.address,
      dataClasses: ["LAB_RESULT"],
      purposes: ["HRESCH"],
      validUntil: (await chainNow(setup.provider)) + DAY,
    })
  ).wait();
}

/** A FHIR R4 lab Observation. */
export function labObservation(label: string, value: number): Record<string, unknown> {
  return {
    resourceType: "Observation",
    id: label,
    status: "final",
    category: [
      { coding: [{ system: "http://terminology.hl7.org/CodeSystem/observation-category", code: "laboratory" }] },
    ],
    code: {
      coding: [{ system: "http://loinc.org", code: "2345-7", display: "Glucose [Mass/volume] in Serum or Plasma" }],
    },
    valueQuantity: { value, unit: "mg/dL", system: "http://unitsofmeasure.org", code: "mg/dL" },
  };
}

/** A provider publishing through the real ProviderClient, depositing each key at `gatewayUrl`. */
export async function providerWithGateway(setup: LedgerSetup, signer: JsonRpcSigner, gatewayUrl: string) {
  const contracts = await setup.as(signer);
  const store = new MemoryBlobStore();
  const custodian = new GatewayClient(gatewayUrl, signer, contracts, { store });
  const provider = new ProviderClient(contracts, signer, store, custodian);
  return { provider, store, custodian, contracts };
}

/** Publishes one FHIR record for `patient` of `dataClass` and waits for the anchor (and the deposit). */
export async function publish(
  provider: ProviderClient,
  patient: string,
  dataClass: DataClassName,
  resource: Record<string, unknown>,
): Promise<PublishedRecord> {
  return (await provider.publish({ patient, dataClass, payload: resource })).wait();
}

/** A reader with a derived encryption key registered in KeyDirectory, and its gateway client. */
export async function readerWithKey(setup: LedgerSetup, signer: JsonRpcSigner, gatewayUrl: string, register = true) {
  const contracts = await setup.as(signer);
  const researcher = new ResearcherClient(contracts, signer);
  const keyPair: EncryptionKeyPair = await researcher.deriveEncryptionKey();
  if (register) await (await researcher.registerEncryptionKey(keyPair)).wait();
  const gateway = new GatewayClient(gatewayUrl, signer, contracts);
  return { researcher, keyPair, gateway, contracts };
}

// -------------------------------------------------------------------------------------------------
// The gateway as a child process (the restart test and the load test's fault variant)

export interface GatewayProcess {
  child: ChildProcess;
  url: string;
  output(): string;
  /** Resolves with the exit code (or signal). */
  exit: Promise<number | string>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const GATEWAY_MAIN = path.join(REPO_ROOT, "gateway", "main.ts");
/** The master-key rotation command (`npm run gateway:rotate-master-key`). */
export const ROTATE_MASTER_KEY_MAIN = path.join(REPO_ROOT, "gateway", "rotate-master-key.ts");

/**
 * Spawns `gateway/main.ts` (via ts-node, as `npm run gateway` does), or another gateway command's `main`,
 * with `args` and `env`.
 */
export function spawnGatewayCli(
  args: readonly string[],
  env: Record<string, string | undefined>,
  main = GATEWAY_MAIN,
): GatewayProcess & { port?: number } {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv.HARDHAT_NETWORK;
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete childEnv[name];
  const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", main, ...args], {
    cwd: REPO_ROOT,
    env: childEnv,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const chunks: string[] = [];
  child.stdout?.on("data", (chunk: Buffer) => chunks.push(chunk.toString("utf8")));
  child.stderr?.on("data", (chunk: Buffer) => chunks.push(chunk.toString("utf8")));
  killOnExit(child);
  const exit = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );
  return {
    child,
    url: "",
    output: () => chunks.join(""),
    exit,
    async kill(signal: NodeJS.Signals = "SIGKILL") {
      killGroup(child, signal);
      await exited(child);
    },
  };
}

/** Runs the gateway CLI to its exit (bounded by `timeoutMs`): for flag and start-up errors. */
export async function runGatewayCli(
  args: readonly string[],
  env: Record<string, string | undefined>,
  timeoutMs = 90_000, // ts-node loads the whole gateway before it parses a flag: slow on a busy machine
  main = GATEWAY_MAIN,
) {
  const process_ = spawnGatewayCli(args, env, main);
  const timer = setTimeout(() => void process_.kill(), timeoutMs);
  const code = await process_.exit;
  clearTimeout(timer);
  return { code, output: process_.output() };
}

/** Starts the gateway CLI on a free port for `setup` and waits until /health answers. */
export async function spawnGateway(
  setup: LedgerSetup,
  options: {
    dataDir: string;
    masterKeyHex: string;
    port?: number;
    args?: string[];
    env?: Record<string, string | undefined>;
    timeoutMs?: number;
  },
): Promise<GatewayProcess & { port: number }> {
  const port = options.port ?? (await freePort());
  const args = [
    "--rpc",
    setup.node.url,
    "--port",
    String(port),
    "--host",
    "127.0.0.1",
    "--data-dir",
    options.dataDir,
    "--deployment",
    setup.deploymentFile,
    "--log-level",
    "warn",
    ...(options.args ?? []),
  ];
  const gateway = spawnGatewayCli(args, {
    CONSENT_GATEWAY_PRIVATE_KEY: setup.hospitalKey,
    CONSENT_GATEWAY_MASTER_KEY: options.masterKeyHex,
    ...options.env,
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (gateway.child.exitCode !== null || gateway.child.signalCode !== null) {
      throw new Error(`the gateway exited before answering:\n${gateway.output()}`);
    }
    try {
      const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await gateway.kill();
      throw new Error(`the gateway did not answer on ${url}:\n${gateway.output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  return { ...gateway, url, port };
}

/** A fresh random master key as 64 hex digits. */
export function randomMasterKeyHex(): string {
  return bytesToHex(randomBytes(32)).slice(2);
}

/** Polls `condition` every `intervalMs` until it holds or `timeoutMs` passes (then throws `what`). */
export async function waitFor(
  condition: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** The bearer token of a client's session, logging in first (for raw HTTP requests in tests). */
export async function sessionToken(client: GatewayClient): Promise<string> {
  await client.authenticate();
  return (client as unknown as { session: { token: string } }).session.token;
}

/** A raw JSON request to the gateway: status and parsed body. */
export async function gatewayFetch(
  url: string,
  options: { method?: "GET" | "POST"; body?: unknown; token?: string } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: options.method ?? (options.body === undefined ? "GET" : "POST"),
    headers: {
      ...(options.body === undefined ? {} : { "content-type": "application/json" }),
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: response.status, body };
}
