/**
 * A suite's deployment description and its check, shared by the ethers and the viem entry's `connect`.
 */
import { requireAddress } from "../args";
import { ConsentLedgerError, describeValue } from "../errors";

/** Where a suite is deployed. Written by `npm run deploy` to deployments/<chainId>.json. */
export interface Deployment {
  chainId: number;
  ledger: string;
  records: string;
  accessLog: string;
  keys: string;
  /**
   * The CustodianSets contract (k-of-n custody of data keys). Absent in deployments made before it
   * existed: those files still load, and only custodian-set features refuse to run.
   */
  custodianSets?: string;
  /** The block of the deployment: where history queries start. */
  deployedAtBlock?: number;
  /**
   * The consent relayer (gateway/relayer.ts, RelayerClient's base URL) that serves this deployment, if
   * any: the CLI sends a patient's signed actions through it by default (`--no-relayer` sends directly).
   */
  relayer?: string;
}

/** An http(s) URL without credentials, or an error naming the field. */
function relayerUrl(value: unknown): string {
  let url: URL | undefined;
  try {
    url = typeof value === "string" ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || url.username || url.password)
    throw new ConsentLedgerError(`Invalid deployment relayer ${describeValue(value)}`, {
      hint: "relayer must be the relayer's http(s) base URL (e.g. https://relayer.example), or absent.",
    });
  return url.toString().replace(/\/$/, "");
}

/** A non-negative safe integer from a number, a bigint or a decimal string; undefined otherwise. */
function wholeNumber(value: unknown): number | undefined {
  let number: number;
  if (typeof value === "number") number = value;
  else if (typeof value === "bigint") number = Number(value);
  else if (typeof value === "string" && /^\d{1,15}$/.test(value)) number = Number(value);
  else return undefined;
  return Number.isSafeInteger(number) && number >= 0 ? number : undefined;
}

/** Checks a deployment description, so a typo fails here and not at the first call. */
export function parseDeployment(value: unknown): Deployment {
  const input = value as Partial<Deployment> | null;
  if (!input || typeof input !== "object") {
    throw new ConsentLedgerError("A deployment must be an object with chainId, ledger, records, accessLog and keys");
  }
  const chainId = wholeNumber(input.chainId);
  if (chainId === undefined || chainId <= 0) {
    throw new ConsentLedgerError(`Invalid deployment chainId ${describeValue(input.chainId)}`, {
      hint: "chainId must be a positive whole number, e.g. 31337.",
    });
  }
  const deployedAtBlock = input.deployedAtBlock === undefined ? undefined : wholeNumber(input.deployedAtBlock);
  if (input.deployedAtBlock !== undefined && deployedAtBlock === undefined) {
    throw new ConsentLedgerError(`Invalid deployment deployedAtBlock ${describeValue(input.deployedAtBlock)}`, {
      hint: "deployedAtBlock must be a whole block number, or absent.",
    });
  }
  return {
    chainId,
    ledger: requireAddress(input.ledger, "deployment.ledger"),
    records: requireAddress(input.records, "deployment.records"),
    accessLog: requireAddress(input.accessLog, "deployment.accessLog"),
    keys: requireAddress(input.keys, "deployment.keys"),
    ...(input.custodianSets === undefined
      ? {}
      : { custodianSets: requireAddress(input.custodianSets, "deployment.custodianSets") }),
    deployedAtBlock,
    ...(input.relayer === undefined ? {} : { relayer: relayerUrl(input.relayer) }),
  };
}
