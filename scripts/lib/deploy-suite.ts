import type { HardhatRuntimeEnvironment } from "hardhat/types";

import ConsentLedgerSuite from "../../ignition/modules/ConsentLedgerSuite";
import type { Deployment } from "../../sdk/chain/connect";

export interface SuiteParameters {
  administrator?: string;
  requestTtl?: number;
  maxRequestDuration?: number;
  maxEmergencyDuration?: number;
}

/**
 * Deploys (or, on a network where Ignition has deployed it before, resumes) the suite through its
 * Ignition module, and returns where it lives. `deploymentId` names Ignition's journal (default
 * chain-<chainId>); on the in-process network there is none.
 */
export async function deploySuite(
  hre: HardhatRuntimeEnvironment,
  parameters: SuiteParameters = {},
  options: { deploymentId?: string } = {},
): Promise<Deployment> {
  const startBlock = await hre.ethers.provider.getBlockNumber();
  const { ledger, records, accessLog, keys, custodianSets } = await hre.ignition.deploy(ConsentLedgerSuite, {
    parameters: { ConsentLedgerSuite: { ...parameters } },
    deploymentId: options.deploymentId,
  });
  const { chainId } = await hre.ethers.provider.getNetwork();
  const ledgerAddress = await ledger.getAddress();
  return {
    chainId: Number(chainId),
    ledger: ledgerAddress,
    records: await records.getAddress(),
    accessLog: await accessLog.getAddress(),
    keys: await keys.getAddress(),
    custodianSets: await custodianSets.getAddress(),
    deployedAtBlock: await firstBlockWithCode(hre, ledgerAddress, startBlock),
  };
}

/**
 * The block the ledger was deployed in, so history queries start there. On a resumed deployment the
 * code predates this run: find its first block by bisection (needs a node that serves old state; if it
 * does not, start at 0, which is only slower).
 */
async function firstBlockWithCode(
  hre: HardhatRuntimeEnvironment,
  address: string,
  startBlock: number,
): Promise<number> {
  const provider = hre.ethers.provider;
  try {
    if ((await provider.getCode(address, startBlock)) === "0x") {
      let low = startBlock;
      let high = await provider.getBlockNumber();
      while (low < high) {
        const mid = Math.floor((low + high) / 2);
        if ((await provider.getCode(address, mid)) === "0x") low = mid + 1;
        else high = mid;
      }
      return low;
    }
    let low = 0;
    let high = startBlock;
    while (low < high) {
      const mid = Math.floor((low + high) / 2);
      if ((await provider.getCode(address, mid)) === "0x") low = mid + 1;
      else high = mid;
    }
    return low;
  } catch {
    return 0;
  }
}
