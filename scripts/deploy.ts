/**
 * Deploys the suite to the network Hardhat is given and writes deployments/<chainId>.json.
 *
 *   npx hardhat node                                  # a local chain, in another terminal
 *   npm run deploy -- --network localhost
 *   npm run deploy -- --network sepolia               # after `npx hardhat vars set` (see README)
 *
 * Parameters come from ignition/parameters/<network>.json when it exists.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";

import hre from "hardhat";

import { saveDeployment } from "../sdk/deployments";
import { deploySuite, type SuiteParameters } from "./lib/deploy-suite";

async function main() {
  const parametersFile = path.join("ignition", "parameters", `${hre.network.name}.json`);
  const parameters: SuiteParameters = existsSync(parametersFile)
    ? (JSON.parse(readFileSync(parametersFile, "utf8")).ConsentLedgerSuite ?? {})
    : {};
  await forgetStaleLocalDeployment();
  console.log(`Deploying Consent Ledger to ${hre.network.name}${existsSync(parametersFile) ? ` with ${parametersFile}` : ""}...`);
  const deployment = await deploySuite(hre, parameters);
  const file = await saveDeployment(deployment);
  console.log(`ConsentLedger   ${deployment.ledger}`);
  console.log(`RecordRegistry  ${deployment.records}`);
  console.log(`AccessLog       ${deployment.accessLog}`);
  console.log(`KeyDirectory    ${deployment.keys}`);
  console.log(`Chain ${deployment.chainId}, from block ${deployment.deployedAtBlock}: written to ${file}`);
}

/**
 * A restarted `hardhat node` is a new chain with the same id: Ignition's journal of the old one would
 * make it refuse to deploy. When the journal's ledger has no code, the journal is stale: drop it.
 */
async function forgetStaleLocalDeployment() {
  const { chainId } = await hre.ethers.provider.getNetwork();
  if (chainId !== 31337n && chainId !== 1337n) return;
  const folder = path.join("ignition", "deployments", `chain-${chainId}`);
  const addressesFile = path.join(folder, "deployed_addresses.json");
  if (!existsSync(addressesFile)) return;
  const addresses: Record<string, string> = JSON.parse(readFileSync(addressesFile, "utf8"));
  const ledger = addresses["ConsentLedgerSuite#ConsentLedger"];
  if (ledger && (await hre.ethers.provider.getCode(ledger)) === "0x") {
    console.log("This local chain is new: deploying afresh.");
    rmSync(folder, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(`Deployment failed: ${error?.shortMessage ?? error?.message ?? error}`);
  process.exitCode = 1;
});
