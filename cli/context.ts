/**
 * What every command shares: the global options, the node (--rpc), the deployment (--deployment, else
 * deployments/<chainId>.json), the signing key (cli/keys.ts), the blob store (--store) and the output.
 * Everything is opened on first use, so a command that fails its own checks never touches the network.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";

import { JsonRpcProvider, Network, type Wallet } from "ethers";

import { DeploymentNotFoundError } from "../sdk/tables";
import type { Deployment, LedgerContracts } from "../sdk/index";
import type { FsBlobStore } from "../sdk/node";
import { CliError } from "./errors";
import { loadWallet, type KeySource } from "./keys";
import { Output } from "./output";
import { load } from "./sdk";

export const DEFAULT_RPC = "http://127.0.0.1:8545";
export const DEFAULT_STORE = path.join(".consent-ledger", "store");

/** The folders `npm run dapp` wrote a deployment for this chain into (.dapp/<port>/deployments), newest first. */
async function dashboardDeploymentDirs(fileName: string): Promise<string[]> {
  let ports: string[];
  try {
    ports = await readdir(path.resolve(".dapp"));
  } catch {
    return [];
  }
  const found: { dir: string; mtime: number }[] = [];
  for (const port of ports) {
    const dir = path.resolve(".dapp", port, "deployments");
    try {
      found.push({ dir, mtime: (await stat(path.join(dir, fileName))).mtimeMs });
    } catch {
      // No deployment for this chain there.
    }
  }
  return found.sort((a, b) => b.mtime - a.mtime).map((entry) => entry.dir);
}

/** The options every command takes (defined on the program, so they go before or after the command). */
export interface GlobalOptions {
  rpc: string;
  deployment?: string;
  json: boolean;
  store: string;
  keySource?: KeySource;
  keystore?: string;
  account?: string;
  debug: boolean;
  quiet: boolean;
}

async function chainIdAt(url: string): Promise<bigint> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    const reason = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
    throw new CliError(
      `no node answers at ${url} (${reason}): start one (npx hardhat node) or pass --rpc <url> (or set CONSENT_LEDGER_RPC)`,
      1,
      { cause: error, code: "NODE_UNREACHABLE" },
    );
  }
  let body: { result?: unknown };
  try {
    body = (await response.json()) as { result?: unknown };
  } catch (error) {
    throw new CliError(`${url} is not a JSON-RPC node (HTTP ${response.status}): check --rpc`, 1, {
      cause: error,
      code: "NOT_A_NODE",
    });
  }
  if (typeof body.result !== "string")
    throw new CliError(`${url} did not say its chain id (HTTP ${response.status}): check --rpc`, 1, {
      code: "NOT_A_NODE",
    });
  return BigInt(body.result);
}

export class Context {
  readonly out: Output;
  private providerPromise?: Promise<{ provider: JsonRpcProvider; chainId: bigint }>;
  private deploymentPromise?: Promise<Deployment>;
  private walletPromise?: Promise<Wallet>;
  private openedProvider?: JsonRpcProvider;

  constructor(readonly options: GlobalOptions) {
    let url: URL;
    try {
      url = new URL(options.rpc);
    } catch {
      throw new CliError(`--rpc ${JSON.stringify(options.rpc)} is not a URL: pass e.g. ${DEFAULT_RPC}`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:")
      throw new CliError(`--rpc must be an http(s) URL, got ${options.rpc}`);
    this.out = new Output(options.json, options.quiet);
  }

  /** The node, after checking it answers; its chain id is fixed from then on. */
  async provider(): Promise<JsonRpcProvider> {
    return (await this.network()).provider;
  }

  async chainId(): Promise<bigint> {
    return (await this.network()).chainId;
  }

  private network() {
    this.providerPromise ??= (async () => {
      const chainId = await chainIdAt(this.options.rpc);
      const network = Network.from(chainId);
      const provider = new JsonRpcProvider(this.options.rpc, network, {
        staticNetwork: network,
        pollingInterval: 1000,
      });
      this.openedProvider = provider;
      return { provider, chainId };
    })();
    return this.providerPromise;
  }

  /** The deployment: --deployment <file> (CONSENT_LEDGER_DEPLOYMENT), else the one found on this chain. */
  async deployment(): Promise<Deployment> {
    this.deploymentPromise ??= (async () => {
      const file = this.options.deployment;
      if (file) {
        let text: string;
        try {
          text = await readFile(file, "utf8");
        } catch (error) {
          throw new CliError(
            `deployment file ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"}): check --deployment`,
            1,
            { cause: error, code: "DEPLOYMENT_UNREADABLE" },
          );
        }
        try {
          return load.connect().parseDeployment(JSON.parse(text));
        } catch (error) {
          throw new CliError(
            `${file} is not a deployment: it needs chainId, ledger, records, accessLog and keys (as npm run deploy writes)`,
            1,
            { cause: error, code: "DEPLOYMENT_INVALID" },
          );
        }
      }
      return this.discoverDeployment();
    })();
    return this.deploymentPromise;
  }

  /**
   * Finds the deployment on this chain without --deployment: CONSENT_LEDGER_DEPLOYMENTS/<chainId>.json
   * when that variable is set; else the first of deployments/<chainId>.json (`npm run deploy`) and
   * .dapp/<port>/deployments/<chainId>.json (`npm run dapp`, newest first) whose ledger has code on the
   * node, since a restarted local node keeps its chain id but loses every contract.
   */
  private async discoverDeployment(): Promise<Deployment> {
    const chainId = await this.chainId();
    const { loadDeployment, deploymentsDirectory } = load.deployments();
    const fileName = `${chainId}.json`;
    if (process.env.CONSENT_LEDGER_DEPLOYMENTS) {
      try {
        return await loadDeployment(chainId);
      } catch (error) {
        if (!(error instanceof DeploymentNotFoundError)) throw error;
        throw new CliError(
          `no Consent Ledger deployment for chain ${chainId} (${path.join(deploymentsDirectory(), fileName)} does not exist, in CONSENT_LEDGER_DEPLOYMENTS): deploy with \`npm run deploy -- --network <name>\`, or pass --deployment <file>, or unset CONSENT_LEDGER_DEPLOYMENTS to look in deployments/ and the dashboard's .dapp/`,
          1,
          { cause: error, code: "DEPLOYMENT_NOT_FOUND" },
        );
      }
    }
    const candidates = [path.resolve("deployments"), ...(await dashboardDeploymentDirs(fileName))];
    const provider = await this.provider();
    const stale: string[] = [];
    for (const directory of candidates) {
      let deployment: Deployment;
      try {
        deployment = await loadDeployment(chainId, directory);
      } catch (error) {
        if (error instanceof DeploymentNotFoundError) continue;
        throw error;
      }
      if ((await provider.getCode(deployment.ledger)) === "0x") {
        stale.push(path.join(directory, fileName));
        continue;
      }
      const file = path.relative(process.cwd(), path.join(directory, fileName)) || fileName;
      this.out.progress(`Using the deployment in ${file} (--deployment <file> chooses another).`);
      return deployment;
    }
    if (stale.length > 0) {
      throw new CliError(
        `no deployment on chain ${chainId} has contracts on this node (${stale.join(", ")} name a ledger with no code: a restarted local node?): redeploy with \`npm run deploy -- --network <name>\`, or pass --deployment <file>`,
        1,
        { code: "DEPLOYMENT_NOT_FOUND" },
      );
    }
    throw new CliError(
      `no Consent Ledger deployment for chain ${chainId} (looked for ${path.join("deployments", fileName)} and .dapp/*/deployments/${fileName}): deploy with \`npm run deploy -- --network <name>\`, or pass --deployment <file> (or set CONSENT_LEDGER_DEPLOYMENT to the file, or CONSENT_LEDGER_DEPLOYMENTS to its folder)`,
      1,
      { code: "DEPLOYMENT_NOT_FOUND" },
    );
  }

  /** The suite bound to `runner` (default: read-only, bound to the node). Checks network and code. */
  async contracts(runner?: Wallet): Promise<LedgerContracts> {
    const provider = await this.provider();
    const deployment = await this.deployment();
    const { connect } = load.connect();
    try {
      return await connect(runner ?? provider, deployment);
    } catch (error) {
      if (error instanceof DeploymentNotFoundError) {
        throw new CliError(
          `the deployment names ledger ${deployment.ledger}, but there is no contract there on chain ${deployment.chainId} (a restarted local node?): redeploy with \`npm run deploy -- --network <name>\``,
          1,
          { cause: error, code: "DEPLOYMENT_NOT_FOUND" },
        );
      }
      throw error;
    }
  }

  /** The signing key, before any network access: a missing or bad key fails first. */
  async loadKey(): Promise<Wallet> {
    this.walletPromise ??= loadWallet(
      { keySource: this.options.keySource, keystore: this.options.keystore, account: this.options.account },
      (line) => this.out.progress(line),
    );
    return this.walletPromise;
  }

  /** The signing wallet, connected to the node. */
  async signer(): Promise<Wallet> {
    const wallet = await this.loadKey();
    return wallet.connect(await this.provider());
  }

  /** The suite and the signer bound together, for a command that sends transactions. */
  async signerContracts(): Promise<{ signer: Wallet; contracts: LedgerContracts }> {
    const signer = await this.signer();
    return { signer, contracts: await this.contracts(signer) };
  }

  /** The blob store for ciphertext (--store). */
  store(): FsBlobStore {
    const { FsBlobStore } = load.fsStore();
    return new FsBlobStore(this.options.store);
  }

  /** The chain's time: the latest block's timestamp. */
  async now(): Promise<number> {
    const block = await (await this.provider()).getBlock("latest");
    return block?.timestamp ?? Math.floor(Date.now() / 1000);
  }

  close(): void {
    this.openedProvider?.destroy();
  }
}
