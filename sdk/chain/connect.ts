import type { ContractRunner, Provider } from "ethers";

import type { AccessLog, ConsentLedger, CustodianSets, KeyDirectory, RecordRegistry } from "../../typechain-types";
import { ConsentLedgerError, DeploymentNotFoundError, NetworkMismatchError, describeValue } from "../errors";
import { requireAddress } from "../args";
import {
  AccessLog__factory,
  ConsentLedger__factory,
  CustodianSets__factory,
  KeyDirectory__factory,
  RecordRegistry__factory,
} from "./abis";
import { toRunner, type RunnerInput } from "./runner";

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
}

/** The suite's contracts, bound to one runner (a signer to write, a provider to read). */
export interface LedgerContracts {
  readonly deployment: Deployment;
  readonly chainId: bigint;
  readonly ledger: ConsentLedger;
  readonly records: RecordRegistry;
  readonly accessLog: AccessLog;
  readonly keys: KeyDirectory;
  /** Present when the deployment names a CustodianSets contract. */
  readonly custodianSets?: CustodianSets;
  readonly provider: Provider;
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
  };
}

/**
 * Binds the suite to `runner`: an ethers Signer or Provider, or a viem WalletClient or PublicClient. Checks that the runner's network is the deployment's chain and that the
 * ledger has code there, so a wrong network or a missing deployment fails with a clear error at once.
 */
export async function connect(input: RunnerInput, deployment: Deployment): Promise<LedgerContracts> {
  const checked = parseDeployment(deployment);
  const runner: ContractRunner = toRunner(input);
  const provider = runner.provider ?? (runner as Provider);
  if (!provider || typeof (provider as Provider).getNetwork !== "function") {
    throw new ConsentLedgerError("The runner has no provider", { hint: "Connect the signer to a JSON-RPC provider." });
  }
  const { chainId } = await provider.getNetwork();
  if (chainId !== BigInt(checked.chainId)) throw new NetworkMismatchError(BigInt(checked.chainId), chainId);
  if ((await provider.getCode(checked.ledger)) === "0x") throw new DeploymentNotFoundError(chainId);
  return {
    deployment: checked,
    chainId,
    provider: provider as Provider,
    ledger: ConsentLedger__factory.connect(checked.ledger, runner),
    records: RecordRegistry__factory.connect(checked.records, runner),
    accessLog: AccessLog__factory.connect(checked.accessLog, runner),
    keys: KeyDirectory__factory.connect(checked.keys, runner),
    custodianSets: checked.custodianSets ? CustodianSets__factory.connect(checked.custodianSets, runner) : undefined,
  };
}
