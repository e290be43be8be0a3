/**
 * Node-only: deployments written by `npm run deploy`, one file per chain in deployments/<chainId>.json,
 * so the SDK, the CLI and the gateway find the suite by chain id alone.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";

import { parseDeployment, type Deployment } from "./chain/connect";
import { ConsentLedgerError, DeploymentNotFoundError } from "./errors";

/** The folder deployments are read from: CONSENT_LEDGER_DEPLOYMENTS, else ./deployments. */
export function deploymentsDirectory(): string {
  return path.resolve(process.env.CONSENT_LEDGER_DEPLOYMENTS ?? "deployments");
}

export async function loadDeployment(
  chainId: bigint | number,
  directory = deploymentsDirectory(),
): Promise<Deployment> {
  const file = path.join(directory, `${chainId}.json`);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") throw new DeploymentNotFoundError(BigInt(chainId));
    throw new ConsentLedgerError(`Cannot read ${file}`, { cause });
  }
  try {
    return parseDeployment(JSON.parse(text));
  } catch (cause) {
    throw new ConsentLedgerError(`${file} is not a valid deployment`, {
      hint: "Redeploy, or fix the file: it needs chainId, ledger, records, accessLog and keys (custodianSets is optional).",
      cause,
    });
  }
}

/** Writes deployments/<chainId>.json atomically (temp file, then rename). */
export async function saveDeployment(deployment: Deployment, directory = deploymentsDirectory()): Promise<string> {
  const checked = parseDeployment(deployment);
  await mkdir(directory, { recursive: true });
  const file = path.join(directory, `${checked.chainId}.json`);
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, JSON.stringify(checked, null, 2) + "\n");
  await rename(temp, file);
  return file;
}
