/**
 * Deploys the suite to the network Hardhat is given and writes deployments/<chainId>.json.
 *
 *   npx hardhat node                                  # a local chain, in another terminal
 *   npm run deploy -- --network localhost
 *   npm run deploy -- --network sepolia               # after `npx hardhat vars set` (see README)
 *
 * Parameters come from ignition/parameters/<network>.json when it exists, or from the file named by
 * CONSENT_LEDGER_PARAMETERS. Ignition keeps its journal in ignition/deployments/<id>, the id being
 * CONSENT_LEDGER_DEPLOYMENT_ID or chain-<chainId>: a second id deploys a second suite on one chain
 * (staging beside production), and a rerun with the same id resumes rather than redeploys.
 * CONSENT_LEDGER_RELAYER_URL, when set, is written into the file as the deployment's consent relayer
 * (`npm run relayer`): the CLI then sends patients' signed actions through it by default.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";

import { isAddress } from "ethers";
import hre from "hardhat";

import { saveDeployment } from "../sdk/deployments";
import { deploySuite, type SuiteParameters } from "./lib/deploy-suite";

/** Stops the script with one line saying what is wrong and what to do, and exit code 1. */
class DeployInputError extends Error {}

async function main() {
  const parameters = readParameters();
  const relayer = readRelayer();
  const deploymentId = readDeploymentId();
  const { chainId } = await hre.ethers.provider.getNetwork();
  const journal = path.join(hre.config.paths.ignition, "deployments", deploymentId ?? `chain-${chainId}`);
  await forgetStaleLocalJournal(chainId, journal);
  console.log(
    `Deploying Consent Ledger to ${hre.network.name} (chain ${chainId})` +
      (parameters.file ? ` with ${parameters.file}` : " with the module's defaults") +
      `; Ignition journal ${path.relative(process.cwd(), journal)}`,
  );
  const deployment = await deploySuite(hre, parameters.values, { deploymentId });
  const file = await saveDeployment(relayer ? { ...deployment, relayer } : deployment);
  console.log(`ConsentLedger   ${deployment.ledger}`);
  console.log(`RecordRegistry  ${deployment.records}`);
  console.log(`AccessLog       ${deployment.accessLog}`);
  console.log(`KeyDirectory    ${deployment.keys}`);
  console.log(`CustodianSets   ${deployment.custodianSets}`);
  if (relayer) console.log(`Relayer         ${relayer}`);
  console.log(`Chain ${deployment.chainId}, from block ${deployment.deployedAtBlock}: written to ${file}`);
}

/** CONSENT_LEDGER_RELAYER_URL, checked as the deployment file checks it, before anything is sent. */
function readRelayer(): string | undefined {
  const url = process.env.CONSENT_LEDGER_RELAYER_URL;
  if (!url) return undefined;
  try {
    const parsed = new URL(url);
    if (parsed.protocol === "http:" || parsed.protocol === "https:") return parsed.toString().replace(/\/$/, "");
  } catch {
    // Reported below.
  }
  throw new DeployInputError(`CONSENT_LEDGER_RELAYER_URL ${JSON.stringify(url)} is not an http(s) URL`);
}

/** The module's parameters, checked here so a typo fails before any transaction is sent. */
function readParameters(): { file?: string; values: SuiteParameters } {
  const named = process.env.CONSENT_LEDGER_PARAMETERS;
  const file = named || path.join("ignition", "parameters", `${hre.network.name}.json`);
  if (!existsSync(file)) {
    if (named) throw new DeployInputError(`CONSENT_LEDGER_PARAMETERS names ${file}, which does not exist`);
    return { values: {} };
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (cause) {
    throw new DeployInputError(
      `${file} is not valid JSON (${(cause as Error).message}): fix it, or remove it to deploy with the defaults`,
    );
  }
  const values = (json as { ConsentLedgerSuite?: unknown } | null)?.ConsentLedgerSuite;
  if (typeof values !== "object" || values === null || Array.isArray(values)) {
    throw new DeployInputError(
      `${file} must hold an object under "ConsentLedgerSuite" (see ignition/parameters/example-production.json)`,
    );
  }
  const known = ["administrator", "requestTtl", "maxRequestDuration", "maxEmergencyDuration"];
  for (const [key, value] of Object.entries(values)) {
    if (!known.includes(key))
      throw new DeployInputError(`${file}: unknown parameter "${key}" (known: ${known.join(", ")})`);
    if (key === "administrator") {
      if (typeof value !== "string" || !isAddress(value) || /^0x0{40}$/i.test(value)) {
        throw new DeployInputError(
          `${file}: administrator must be a non-zero address (a multisig in production), got ${JSON.stringify(value)}`,
        );
      }
    } else if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
      throw new DeployInputError(
        `${file}: ${key} must be a whole number of seconds above 0, got ${JSON.stringify(value)}`,
      );
    }
  }
  return { file, values: values as SuiteParameters };
}

function readDeploymentId(): string | undefined {
  const id = process.env.CONSENT_LEDGER_DEPLOYMENT_ID;
  if (id === undefined || id === "") return undefined;
  if (!/^[a-zA-Z][a-zA-Z0-9_-]*$/.test(id)) {
    throw new DeployInputError(
      `CONSENT_LEDGER_DEPLOYMENT_ID must start with a letter and hold only letters, digits, _ and -, got ${JSON.stringify(id)}`,
    );
  }
  return id;
}

/**
 * A restarted `hardhat node` is a new chain with the same id: Ignition's journal of the old one would
 * make it refuse to deploy. When the journal's ledger has no code, the journal is stale: drop it.
 */
async function forgetStaleLocalJournal(chainId: bigint, journal: string) {
  if (chainId !== 31337n && chainId !== 1337n) return;
  const addressesFile = path.join(journal, "deployed_addresses.json");
  if (!existsSync(addressesFile)) return;
  const addresses: Record<string, string> = JSON.parse(readFileSync(addressesFile, "utf8"));
  const ledger = addresses["ConsentLedgerSuite#ConsentLedger"];
  if (ledger && (await hre.ethers.provider.getCode(ledger)) === "0x") {
    console.log("This local chain is new: deploying afresh.");
    rmSync(journal, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(`Deployment failed: ${error?.shortMessage ?? error?.message ?? error}`);
  process.exitCode = 1;
});
