/**
 * Driving the `consent-ledger` CLI as a user does: child processes against a real `hardhat node` on
 * loopback, with keys in the environment and a deployment file in a temporary folder
 * (CONSENT_LEDGER_DEPLOYMENTS).
 *
 * Speed and fidelity: the tests bundle the CLI once with the build script the package uses
 * (scripts/build-cli.mjs) and run that file, so what they exercise is what `consent-ledger` runs.
 * CLI_TEST_RUNNER=ts-node runs every child through ts-node on the sources instead.
 *
 * Every child runs in its own process group; each is killed when its run times out, and any still alive
 * when the test process exits is killed then.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { HDNodeWallet, JsonRpcProvider, Network, type JsonRpcSigner } from "ethers";

import type { Deployment } from "../../sdk/chain/connect";
import { Role } from "../../sdk/codes";
import {
  AccessLog__factory,
  ConsentLedger__factory,
  KeyDirectory__factory,
  RecordRegistry__factory,
} from "../../typechain-types";
import { killGroup, type LocalNode } from "./local-node";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");
const HARDHAT_MNEMONIC = "test test test test test test test test test test test junk";
const DAY = 86_400;

// -------------------------------------------------------------------------------------------------
// The CLI, transpiled once

let built: string | undefined;
const tempRoots: string[] = [];
const children = new Set<ChildProcess>();

process.on("exit", () => {
  for (const child of children) killGroup(child);
  for (const dir of tempRoots) rmSync(dir, { recursive: true, force: true });
});

/**
 * The CLI as the package ships it: bundled into one file by scripts/build-cli.mjs (once per test
 * process, into a temporary folder), so the tests run the very artifact `consent-ledger` is.
 */
export function buildCli(): string {
  if (built) return built;
  const out = mkdtempSync(path.join(os.tmpdir(), "consent-ledger-cli-build-"));
  tempRoots.push(out);
  const target = path.join(out, "main.js");
  const result = spawnSync(process.execPath, [path.join(REPO_ROOT, "scripts", "build-cli.mjs"), "--out", target], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    timeout: 120_000,
  });
  if (result.status !== 0) throw new Error(`building the CLI failed (exit ${result.status}): ${result.stderr}`);
  built = target;
  return built;
}

/** How a child is started: the bundled build, or ts-node on the sources (CLI_TEST_RUNNER=ts-node). */
export function cliCommand(runner = process.env.CLI_TEST_RUNNER): string[] {
  if (runner === "ts-node") {
    return [
      process.execPath,
      "-r",
      require.resolve("ts-node/register/transpile-only", { paths: [REPO_ROOT] }),
      path.join(REPO_ROOT, "cli", "main.ts"),
    ];
  }
  return [process.execPath, buildCli()];
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stderr without progress lines: what a failure printed. */
  errorLines: string[];
}

export interface RunOptions {
  cwd: string;
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
  command?: string[];
}

/**
 * The environment a child gets: PATH and HOME only (plus the repository's tsconfig for ts-node, which
 * otherwise looks for one from the child's working directory), then `env` (undefined values removed).
 */
export function childEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const result: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: "C.UTF-8",
    TS_NODE_PROJECT: path.join(REPO_ROOT, "tsconfig.json"),
  };
  for (const [name, value] of Object.entries(env)) if (value !== undefined) result[name] = value;
  return result;
}

/** Runs the CLI with `args` to its exit (killed, with its group, after `timeoutMs`). */
export function runCli(args: readonly string[], options: RunOptions): Promise<CliResult> {
  const [executable, ...prefix] = options.command ?? cliCommand();
  const child = spawn(executable, [...prefix, ...args], {
    cwd: options.cwd,
    env: childEnv(options.env ?? {}),
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const timer = setTimeout(() => killGroup(child), options.timeoutMs ?? 90_000);
  return new Promise((resolve, reject) => {
    child.once("error", (error) => {
      clearTimeout(timer);
      children.delete(child);
      reject(error);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      killGroup(child);
      const errorLines = stderr.split("\n").filter((line) => line.startsWith("error:"));
      resolve({ code: code ?? (signal ? 128 : null), stdout, stderr, errorLines });
    });
  });
}

// -------------------------------------------------------------------------------------------------
// A deployment and a cast on a node

export const CAST = {
  admin: 0,
  hospital: 1,
  lab: 2,
  researcher: 3,
  otherResearcher: 4,
  patient: 5,
  otherPatient: 6,
  delegate: 7,
  relayer: 8,
  stranger: 9,
} as const;
export type CastName = keyof typeof CAST;

/** A Hardhat node dev account: public test keys, never used anywhere real. */
export function devKey(index: number): string {
  return HDNodeWallet.fromPhrase(HARDHAT_MNEMONIC, undefined, `m/44'/60'/0'/0/${index}`).privateKey;
}

export interface CliSuite {
  node: LocalNode;
  provider: JsonRpcProvider;
  deployment: Deployment;
  /** The folder holding <chainId>.json, passed as CONSENT_LEDGER_DEPLOYMENTS. */
  deploymentsDir: string;
  /** A temporary folder for the suite: working directories, files. */
  root: string;
  address: Record<CastName, string>;
  key: Record<CastName, string>;
  signer: Record<CastName, JsonRpcSigner>;
  /** A fresh empty working directory under root. */
  workDir(name: string): string;
  /** Runs the CLI as `who` (its key in CONSENT_LEDGER_PRIVATE_KEY) in `cwd`. */
  run(who: CastName | null, args: readonly string[], options?: Partial<RunOptions>): Promise<CliResult>;
  cleanup(): void;
}

/**
 * Deploys the suite on `node` with the typechain factories and accredits: hospital PROVIDER|CUSTODIAN,
 * lab PROVIDER, researcher RESEARCHER (non-profit), otherResearcher RESEARCHER.
 */
export async function deployCliSuite(node: LocalNode): Promise<CliSuite> {
  const provider = new JsonRpcProvider(node.url, Network.from(31337), {
    staticNetwork: Network.from(31337),
    pollingInterval: 100,
    cacheTimeout: -1,
  });
  const names = Object.keys(CAST) as CastName[];
  const signer = Object.fromEntries(
    await Promise.all(names.map(async (name) => [name, await provider.getSigner(CAST[name])])),
  ) as Record<CastName, JsonRpcSigner>;
  const key = Object.fromEntries(names.map((name) => [name, devKey(CAST[name])])) as Record<CastName, string>;
  const address = Object.fromEntries(names.map((name) => [name, signer[name].address])) as Record<CastName, string>;
  const admin = signer.admin;
  const startBlock = await provider.getBlockNumber();
  const ledger = await new ConsentLedger__factory(admin).deploy(admin.address, 30 * DAY, 5 * 365 * DAY, 72 * 3600);
  await ledger.waitForDeployment();
  const ledgerAddress = await ledger.getAddress();
  const records = await (await new RecordRegistry__factory(admin).deploy(ledgerAddress)).waitForDeployment();
  const accessLog = await (await new AccessLog__factory(admin).deploy(ledgerAddress)).waitForDeployment();
  const keys = await (await new KeyDirectory__factory(admin).deploy()).waitForDeployment();
  const accredit = async (who: CastName, roles: number, nonProfit = false) =>
    (await ledger.connect(admin).accredit(address[who], roles, nonProfit, 0)).wait();
  await accredit("hospital", Role.PROVIDER | Role.CUSTODIAN);
  await accredit("lab", Role.PROVIDER);
  await accredit("researcher", Role.RESEARCHER, true);
  await accredit("otherResearcher", Role.RESEARCHER);

  const deployment: Deployment = {
    chainId: 31337,
    ledger: ledgerAddress,
    records: await records.getAddress(),
    accessLog: await accessLog.getAddress(),
    keys: await keys.getAddress(),
    deployedAtBlock: startBlock + 1,
  };
  const root = mkdtempSync(path.join(os.tmpdir(), "consent-ledger-cli-test-"));
  tempRoots.push(root);
  const deploymentsDir = path.join(root, "deployments");
  mkdirSync(deploymentsDir);
  writeFileSync(path.join(deploymentsDir, "31337.json"), JSON.stringify(deployment, null, 2));
  const configHome = path.join(root, "xdg-config");
  mkdirSync(configHome);

  return {
    node,
    provider,
    deployment,
    deploymentsDir,
    root,
    address,
    key,
    signer,
    workDir(name) {
      const dir = path.join(root, "work", name);
      mkdirSync(dir, { recursive: true });
      return dir;
    },
    run(who, args, options = {}) {
      return runCli(args, {
        cwd: options.cwd ?? root,
        timeoutMs: options.timeoutMs,
        command: options.command,
        env: {
          CONSENT_LEDGER_RPC: node.url,
          CONSENT_LEDGER_DEPLOYMENTS: deploymentsDir,
          CONSENT_LEDGER_PRIVATE_KEY: who ? key[who] : undefined,
          XDG_CONFIG_HOME: configHome,
          ...options.env,
        },
      });
    },
    cleanup() {
      provider.destroy();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Every file under `dir` with its size and modification time: to prove a command wrote nothing. */
export function snapshotTree(dir: string): string[] {
  const lines: string[] = [];
  const walk = (folder: string) => {
    let entries;
    try {
      entries = readdirSync(folder, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) {
        lines.push(`${path.relative(dir, full)}/`);
        walk(full);
      } else {
        const info = statSync(full);
        lines.push(`${path.relative(dir, full)} ${info.size} ${info.mtimeMs}`);
      }
    }
  };
  walk(dir);
  return lines.sort();
}

/** A FHIR R4 lab Observation. */
export function labObservation(id: string, value: number): Record<string, unknown> {
  return {
    resourceType: "Observation",
    id,
    status: "final",
    category: [
      { coding: [{ system: "http://terminology.hl7.org/CodeSystem/observation-category", code: "laboratory" }] },
    ],
    code: {
      coding: [{ system: "http://loinc.org", code: "4548-4", display: "Hemoglobin A1c/Hemoglobin.total in Blood" }],
    },
    effectiveDateTime: "2026-11-02T09:30:00Z",
    valueQuantity: { value, unit: "%", system: "http://unitsofmeasure.org", code: "%" },
  };
}
