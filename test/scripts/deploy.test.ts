/**
 * `npm run deploy` (scripts/deploy.ts) as a user runs it: `hardhat run` in a child process, against a
 * real `hardhat node` reached the way any other network is, by configuration alone (the `sepolia`
 * network's two Hardhat variables, given as HARDHAT_VAR_* environment variables). The deployment file
 * goes to a temporary folder (CONSENT_LEDGER_DEPLOYMENTS) and Ignition's journal to a deployment id of
 * its own (CONSENT_LEDGER_DEPLOYMENT_ID), removed afterwards, so a developer's own files are untouched.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

import { expect } from "chai";
import { Contract, JsonRpcProvider } from "ethers";

import { consentLedgerAbi, recordRegistryAbi, accessLogAbi } from "../../sdk/chain/abis";
import { freePort, startLocalNode, type LocalNode } from "../helpers/local-node";
import { tempDirectory } from "../helpers/sdk";

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, "..", "..");
const DAY = 24 * 60 * 60;

// Hardhat's first two default accounts: the deployer, and the administrator the parameters name.
const DEPLOYER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const DEPLOYER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const ADMINISTRATOR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

/** The environment without HARDHAT_NETWORK, which `hardhat test` sets and which would override --network. */
function withoutHardhatNetwork(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  delete copy.HARDHAT_NETWORK;
  return copy;
}

/** The node's latest block number, through a provider that is closed at once. */
async function blockNumberAt(url: string): Promise<number> {
  const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true });
  try {
    return await provider.getBlockNumber();
  } finally {
    provider.destroy();
  }
}

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

describe("npm run deploy (scripts/deploy.ts) against a real hardhat node", function () {
  this.timeout(300_000);
  const deploymentId = `test-deploy-${process.pid}`;
  const journal = path.join(ROOT, "ignition", "deployments", deploymentId);
  let node: LocalNode;
  let out: { dir: string; cleanup: () => Promise<void> };
  let parametersFile: string;

  async function deploy(env: Record<string, string> = {}, rpcUrl = node.url): Promise<Outcome> {
    try {
      const { stdout, stderr } = await run("npx", ["hardhat", "run", "scripts/deploy.ts", "--network", "sepolia"], {
        cwd: ROOT,
        env: {
          ...withoutHardhatNetwork(process.env),
          HARDHAT_VAR_CONSENT_LEDGER_RPC_URL_SEPOLIA: rpcUrl,
          HARDHAT_VAR_CONSENT_LEDGER_DEPLOYER_KEY_SEPOLIA: DEPLOYER_KEY,
          CONSENT_LEDGER_DEPLOYMENTS: out.dir,
          CONSENT_LEDGER_DEPLOYMENT_ID: deploymentId,
          CONSENT_LEDGER_PARAMETERS: parametersFile,
          ...env,
        },
        maxBuffer: 16 * 1024 * 1024,
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string };
      return { code: failed.code ?? -1, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" };
    }
  }

  async function writeParameters(values: unknown, file = parametersFile) {
    await writeFile(file, JSON.stringify({ ConsentLedgerSuite: values }));
  }

  const deploymentFile = async () => JSON.parse(await readFile(path.join(out.dir, "31337.json"), "utf8"));

  before(async function () {
    out = await tempDirectory("deploy");
    parametersFile = path.join(out.dir, "parameters.json");
    await writeParameters({
      administrator: ADMINISTRATOR,
      requestTtl: 7 * DAY,
      maxRequestDuration: 365 * DAY,
      maxEmergencyDuration: DAY,
    });
    node = await startLocalNode();
  });

  after(async function () {
    await node?.stop();
    await rm(journal, { recursive: true, force: true });
    await out?.cleanup();
  });

  it("deploys the suite with the parameters file's values and writes where it lives", async function () {
    const outcome = await deploy();
    expect(outcome.code, outcome.stderr).to.equal(0);
    expect(outcome.stdout).to.include(`with ${parametersFile}`);

    const deployment = await deploymentFile();
    expect(deployment.chainId).to.equal(31337);
    for (const name of ["ConsentLedger", "RecordRegistry", "AccessLog", "KeyDirectory"]) {
      expect(outcome.stdout).to.match(new RegExp(`${name}\\s+0x[0-9a-fA-F]{40}`));
    }
    const provider = new JsonRpcProvider(node.url, undefined, { staticNetwork: true });
    try {
      for (const address of [deployment.ledger, deployment.records, deployment.accessLog, deployment.keys]) {
        expect(await provider.getCode(address), address).to.not.equal("0x");
      }
      const ledger = new Contract(deployment.ledger, consentLedgerAbi, provider);
      expect(await ledger.owner()).to.equal(ADMINISTRATOR);
      expect(await ledger.requestTtl()).to.equal(BigInt(7 * DAY));
      expect(await ledger.maxRequestDuration()).to.equal(BigInt(365 * DAY));
      expect(await ledger.maxEmergencyDuration()).to.equal(BigInt(DAY));
      expect(await new Contract(deployment.records, recordRegistryAbi, provider).ledger()).to.equal(deployment.ledger);
      expect(await new Contract(deployment.accessLog, accessLogAbi, provider).ledger()).to.equal(deployment.ledger);
      // History queries start at deployedAtBlock: the ledger's code appears in exactly that block.
      expect(await provider.getCode(deployment.ledger, deployment.deployedAtBlock)).to.not.equal("0x");
      expect(await provider.getCode(deployment.ledger, deployment.deployedAtBlock - 1)).to.equal("0x");
      expect(existsSync(path.join(journal, "deployed_addresses.json"))).to.equal(true);
    } finally {
      provider.destroy();
    }
  });

  it("resumes on a rerun: no transaction is sent and the same addresses are written", async function () {
    const before = await deploymentFile();
    const blockBefore = await blockNumberAt(node.url);
    const outcome = await deploy();
    expect(outcome.code, outcome.stderr).to.equal(0);
    expect(await deploymentFile()).to.deep.equal(before);
    expect(await blockNumberAt(node.url)).to.equal(blockBefore);
  });

  it("writes the deployment's relayer from CONSENT_LEDGER_RELAYER_URL, and refuses one that is not a URL before sending", async function () {
    const before = await deploymentFile();
    const blockBefore = await blockNumberAt(node.url);
    const outcome = await deploy({ CONSENT_LEDGER_RELAYER_URL: "https://relayer.example/" });
    expect(outcome.code, outcome.stderr).to.equal(0);
    expect(outcome.stdout).to.include("Relayer         https://relayer.example");
    expect(await deploymentFile()).to.deep.equal({ ...before, relayer: "https://relayer.example" });
    const bad = await deploy({ CONSENT_LEDGER_RELAYER_URL: "relayer.example" });
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.include('CONSENT_LEDGER_RELAYER_URL "relayer.example" is not an http(s) URL');
    expect(await blockNumberAt(node.url)).to.equal(blockBefore);
    // A rerun without it writes the file as before.
    expect((await deploy()).code).to.equal(0);
    expect(await deploymentFile()).to.deep.equal(before);
  });

  it("refuses bad parameters before sending anything, saying which and why", async function () {
    const blockBefore = await blockNumberAt(node.url);
    const bad = path.join(out.dir, "bad.json");
    const cases: [unknown, RegExp][] = [
      [{ requestTtl: -5 }, /requestTtl must be a whole number of seconds above 0, got -5/],
      [{ maxEmergencyDuration: "72h" }, /maxEmergencyDuration must be a whole number of seconds above 0, got "72h"/],
      [{ administrator: "0x1234" }, /administrator must be a non-zero address .* got "0x1234"/],
      [{ administrator: "0x0000000000000000000000000000000000000000" }, /administrator must be a non-zero address/],
      [{ requestTTL: 60 }, /unknown parameter "requestTTL" \(known: administrator, requestTtl/],
    ];
    for (const [values, message] of cases) {
      await writeParameters(values, bad);
      const outcome = await deploy({ CONSENT_LEDGER_PARAMETERS: bad });
      expect(outcome.code, JSON.stringify(values)).to.equal(1);
      expect(outcome.stderr.trim()).to.match(
        new RegExp(`^Deployment failed: ${bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: `),
      );
      expect(outcome.stderr).to.match(message);
    }
    await writeFile(bad, "{ not json");
    let outcome = await deploy({ CONSENT_LEDGER_PARAMETERS: bad });
    expect(outcome.code).to.equal(1);
    expect(outcome.stderr).to.match(/is not valid JSON .*: fix it, or remove it to deploy with the defaults/);

    outcome = await deploy({ CONSENT_LEDGER_PARAMETERS: path.join(out.dir, "missing.json") });
    expect(outcome.code).to.equal(1);
    expect(outcome.stderr).to.match(/CONSENT_LEDGER_PARAMETERS names .*missing\.json, which does not exist/);

    outcome = await deploy({ CONSENT_LEDGER_DEPLOYMENT_ID: "../elsewhere" });
    expect(outcome.code).to.equal(1);
    expect(outcome.stderr).to.match(/CONSENT_LEDGER_DEPLOYMENT_ID must start with a letter .* got "\.\.\/elsewhere"/);

    expect(await blockNumberAt(node.url)).to.equal(blockBefore);
  });

  it("says so, with exit code 1, when the network cannot be reached", async function () {
    const outcome = await deploy({}, `http://127.0.0.1:${await freePort()}`);
    expect(outcome.code).to.equal(1);
    expect(outcome.stderr).to.match(/^Deployment failed: .*(connect|ECONNREFUSED)/im);
  });

  it("deploys afresh on a restarted node, a new chain with the same chain id", async function () {
    const old = await deploymentFile();
    await node.stop();
    node = await startLocalNode();
    const outcome = await deploy();
    expect(outcome.code, outcome.stderr).to.equal(0);
    expect(outcome.stdout).to.include("This local chain is new: deploying afresh.");
    const deployment = await deploymentFile();
    const provider = new JsonRpcProvider(node.url, undefined, { staticNetwork: true });
    try {
      expect(await provider.getCode(deployment.ledger)).to.not.equal("0x");
      expect(await new Contract(deployment.ledger, consentLedgerAbi, provider).owner()).to.equal(ADMINISTRATOR);
    } finally {
      provider.destroy();
    }
    // Same deployer, same nonces on a fresh chain: the same addresses, now with code again.
    expect(deployment.ledger).to.equal(old.ledger);
  });

  it("uses the module's defaults when there is no parameters file, the deployer administering", async function () {
    await node.stop();
    node = await startLocalNode();
    const outcome = await deploy({ CONSENT_LEDGER_PARAMETERS: "" });
    expect(outcome.code, outcome.stderr).to.equal(0);
    expect(outcome.stdout).to.include("with the module's defaults");
    const deployment = await deploymentFile();
    const provider = new JsonRpcProvider(node.url, undefined, { staticNetwork: true });
    try {
      const ledger = new Contract(deployment.ledger, consentLedgerAbi, provider);
      expect(await ledger.owner()).to.equal(DEPLOYER);
      expect(await ledger.requestTtl()).to.equal(BigInt(30 * DAY));
      expect(await ledger.maxEmergencyDuration()).to.equal(BigInt(3 * DAY));
    } finally {
      provider.destroy();
    }
  });
});
