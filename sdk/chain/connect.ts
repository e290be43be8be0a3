import { Contract, type ContractRunner, type InterfaceAbi, type Provider } from "ethers";

import type { AccessLog, ConsentLedger, CustodianSets, KeyDirectory, RecordRegistry } from "../../typechain-types";
import { parseDeployment, type Deployment } from "../core/deployment";
import { ConsentLedgerError, DeploymentNotFoundError, NetworkMismatchError } from "../errors";
import { accessLogAbi, consentLedgerAbi, custodianSetsAbi, keyDirectoryAbi, recordRegistryAbi } from "./abis";
import { toRunner, type RunnerInput } from "./runner";

export { parseDeployment } from "../core/deployment";
export type { Deployment } from "../core/deployment";

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
    ledger: bind<ConsentLedger>(checked.ledger, consentLedgerAbi, runner),
    records: bind<RecordRegistry>(checked.records, recordRegistryAbi, runner),
    accessLog: bind<AccessLog>(checked.accessLog, accessLogAbi, runner),
    keys: bind<KeyDirectory>(checked.keys, keyDirectoryAbi, runner),
    custodianSets: checked.custodianSets
      ? bind<CustodianSets>(checked.custodianSets, custodianSetsAbi, runner)
      : undefined,
  };
}

/**
 * What typechain's `Factory.connect` does, from the ABI alone: the factories also carry each contract's
 * bytecode (about 120 kB), which a dApp that only calls the contracts should not bundle.
 */
function bind<T>(address: string, abi: InterfaceAbi, runner: ContractRunner): T {
  return new Contract(address, abi, runner) as unknown as T;
}
