/**
 * Who signs: an injected wallet (EIP-1193 `window.ethereum`, through ethers' BrowserProvider), or on a
 * local development chain one of the node's development accounts (the node holds their keys unlocked and
 * signs for them: `JsonRpcProvider(url).getSigner(index)`).
 */
import {
  BrowserProvider,
  JsonRpcProvider,
  Network,
  toQuantity,
  type Eip1193Provider,
  type JsonRpcSigner,
} from "ethers";

declare global {
  interface Window {
    ethereum?: Eip1193Provider & {
      on?: (event: string, listener: (...args: unknown[]) => void) => void;
      removeListener?: (event: string, listener: (...args: unknown[]) => void) => void;
    };
  }
}

export interface ConnectedWallet {
  kind: "dev" | "injected";
  provider: JsonRpcProvider | BrowserProvider;
  signer: JsonRpcSigner;
  address: string;
  chainId: bigint;
  /** For a development account, its index on the node. */
  index?: number;
}

// Every read goes to the node (no 250 ms cache), and receipts are polled often: a local chain mines at once.
const PROVIDER_OPTIONS = { cacheTimeout: -1, pollingInterval: 250 } as const;

/**
 * The node's chain id, asked once. A failure is an error the page can retry: ethers' own detection would
 * retry in the background forever instead, leaving the page waiting with nothing to say.
 */
async function nodeChainId(rpcUrl: string): Promise<bigint> {
  try {
    const response = await fetch(rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(20_000),
    });
    const body = (await response.json()) as { result?: string };
    if (!response.ok || typeof body.result !== "string") throw new Error(`HTTP ${response.status}`);
    return BigInt(body.result);
  } catch (cause) {
    throw Object.assign(new Error(`The node at ${rpcUrl} did not answer: ${(cause as Error).message}`), {
      code: "NETWORK_ERROR",
      cause,
    });
  }
}

export async function connectDevAccount(rpcUrl: string, index: number): Promise<ConnectedWallet> {
  const chainId = await nodeChainId(rpcUrl);
  // The network is known: no detection call before every request batch.
  const provider = new JsonRpcProvider(rpcUrl, Network.from(chainId), { ...PROVIDER_OPTIONS, staticNetwork: true });
  const signer = await provider.getSigner(index);
  return { kind: "dev", provider, signer, address: signer.address, chainId, index };
}

export async function connectInjected(): Promise<ConnectedWallet> {
  if (!window.ethereum) throw new Error("No browser wallet found (window.ethereum is missing)");
  const provider = new BrowserProvider(window.ethereum, undefined, PROVIDER_OPTIONS);
  const signer = await provider.getSigner(); // eth_requestAccounts: the wallet asks the person
  const { chainId } = await provider.getNetwork();
  return { kind: "injected", provider, signer, address: signer.address, chainId };
}

/** Asks the wallet to switch to `chainId`, adding the local network first if the wallet does not know it. */
export async function switchChain(chainId: number, rpcUrl?: string): Promise<void> {
  const ethereum = window.ethereum;
  if (!ethereum) return;
  try {
    await ethereum.request({ method: "wallet_switchEthereumChain", params: [{ chainId: toQuantity(chainId) }] });
  } catch (error) {
    if ((error as { code?: number }).code !== 4902 || !rpcUrl) throw error;
    await ethereum.request({
      method: "wallet_addEthereumChain",
      params: [
        {
          chainId: toQuantity(chainId),
          chainName: `Consent Ledger local (${chainId})`,
          rpcUrls: [rpcUrl],
          nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
        },
      ],
    });
  }
}
