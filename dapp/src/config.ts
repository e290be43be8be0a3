/**
 * What the page's server tells it (GET /api/config, scripts/lib/dapp-server.ts), and the suite's
 * deployment per chain (GET /deployments/<chainId>.json, as `npm run deploy` writes them).
 */
import { parseDeployment, type Deployment } from "consent-ledger";

import type { DappConfig } from "./config-types";

export type { DappConfig };

export async function loadConfig(): Promise<DappConfig> {
  let response: Response;
  try {
    response = await fetch("./api/config", { cache: "no-store" });
  } catch {
    return { chains: [], devAccounts: [], labels: {}, studies: [] };
  }
  if (!response.ok) return { chains: [], devAccounts: [], labels: {}, studies: [] };
  const config = (await response.json()) as Partial<DappConfig>;
  return {
    rpcUrl: config.rpcUrl,
    chains: config.chains ?? [],
    devAccounts: config.devAccounts ?? [],
    defaultAccount: config.defaultAccount,
    labels: config.labels ?? {},
    studies: config.studies ?? [],
    gateway: config.gateway,
    relay: config.relay,
    relayer: config.relayer,
  };
}

/** The deployment on `chainId`, or undefined when the server has none for it. */
export async function fetchDeployment(chainId: bigint | number): Promise<Deployment | undefined> {
  const response = await fetch(`./deployments/${chainId}.json`, { cache: "no-store" });
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`Could not read the deployment of chain ${chainId}: HTTP ${response.status}`);
  return parseDeployment(await response.json());
}
