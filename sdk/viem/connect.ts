/**
 * The viem entry's `connect`: the suite's contracts as viem contract instances (typed from the ABIs'
 * `as const` data), read through a public view of the client given. No ethers anywhere on this path.
 */
import {
  getContract,
  publicActions,
  type Client,
  type GetContractReturnType,
  type PublicClient,
  type WalletClient,
} from "viem";

import { accessLogAbi, consentLedgerAbi, custodianSetsAbi, keyDirectoryAbi, recordRegistryAbi } from "../chain/abis";
import { parseDeployment, type Deployment } from "../core/deployment";
import { DeploymentNotFoundError, NetworkMismatchError } from "../errors";

/** The suite's contracts for viem: `contracts.ledger.read.hasAccess([...])`, `contracts.client.getBlock()`. */
export interface ViemLedgerContracts {
  readonly deployment: Deployment;
  readonly chainId: bigint;
  /** Reads and receipts go through this client (the one given, with viem's public actions). */
  readonly client: PublicClient;
  readonly ledger: GetContractReturnType<typeof consentLedgerAbi, PublicClient>;
  readonly records: GetContractReturnType<typeof recordRegistryAbi, PublicClient>;
  readonly accessLog: GetContractReturnType<typeof accessLogAbi, PublicClient>;
  readonly keys: GetContractReturnType<typeof keyDirectoryAbi, PublicClient>;
  /** Present when the deployment names a CustodianSets contract. */
  readonly custodianSets?: GetContractReturnType<typeof custodianSetsAbi, PublicClient>;
}

/**
 * Binds the suite to a viem PublicClient or WalletClient. Checks that the client's chain is the
 * deployment's and that the ledger has code there, so a wrong network or a missing deployment fails with
 * a clear error at once (the same errors as the ethers entry's connect).
 */
export async function connect(
  client: PublicClient | WalletClient,
  deployment: Deployment,
): Promise<ViemLedgerContracts> {
  const checked = parseDeployment(deployment);
  const reader = (client as Client).extend(publicActions) as unknown as PublicClient;
  const chainId = BigInt(await reader.getChainId());
  if (chainId !== BigInt(checked.chainId)) throw new NetworkMismatchError(BigInt(checked.chainId), chainId);
  const code = await reader.getCode({ address: checked.ledger as `0x${string}` });
  if (code === undefined || code === "0x") throw new DeploymentNotFoundError(chainId);
  const at = (address: string) => address as `0x${string}`;
  return {
    deployment: checked,
    chainId,
    client: reader,
    ledger: getContract({ address: at(checked.ledger), abi: consentLedgerAbi, client: reader }),
    records: getContract({ address: at(checked.records), abi: recordRegistryAbi, client: reader }),
    accessLog: getContract({ address: at(checked.accessLog), abi: accessLogAbi, client: reader }),
    keys: getContract({ address: at(checked.keys), abi: keyDirectoryAbi, client: reader }),
    custodianSets: checked.custodianSets
      ? getContract({ address: at(checked.custodianSets), abi: custodianSetsAbi, client: reader })
      : undefined,
  };
}
