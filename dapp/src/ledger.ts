/** Finds the suite for the wallet's chain and binds it to the wallet (the SDK's connect checks both). */
import { connect, DeploymentNotFoundError, type LedgerContracts } from "consent-ledger";

import { fetchDeployment, type DappConfig } from "./config";
import type { ConnectedWallet } from "./wallet";

/**
 * The wallet's chain's deployment when the server has one. Otherwise the deployment of a chain it does
 * have: connect() then throws the SDK's NetworkMismatchError (wallet on chain X, deployment on Y), which
 * the page turns into "switch to Y". With no deployment at all: DeploymentNotFoundError.
 */
export async function openLedger(wallet: ConnectedWallet, config: DappConfig): Promise<LedgerContracts> {
  const own = await fetchDeployment(wallet.chainId);
  if (own) return connect(wallet.signer, own);
  for (const chainId of config.chains) {
    const other = await fetchDeployment(chainId);
    if (other) return connect(wallet.signer, other);
  }
  throw new DeploymentNotFoundError(wallet.chainId);
}
