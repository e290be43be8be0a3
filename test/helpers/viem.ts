/**
 * For the tests that run one flow through both SDK entries (ethers and viem) and compare: viem clients on
 * the Hardhat network, the fixture's deployment, and results and errors in a form to compare.
 */
import { HDNodeWallet } from "ethers";
import { network } from "hardhat";
import { createPublicClient, createWalletClient, custom, type Chain, type PublicClient, type WalletClient } from "viem";
import { privateKeyToAccount } from "viem/accounts";

import type { ConsentLedgerError, ContractRevertError, Deployment } from "../../sdk/index";
import type { deployLedgerFixture } from "./fixtures";

// Hardhat's well-known development mnemonic (public test keys, never used on a real chain).
const MNEMONIC = "test test test test test test test test test test test junk";

export const hardhatChain = {
  id: 31337,
  name: "hardhat",
  nativeCurrency: { name: "ETH", symbol: "ETH", decimals: 18 },
  rpcUrls: { default: { http: [] } },
} as unknown as Chain;

/**
 * A viem WalletClient for Hardhat account `index` (address `address`): with a local account (signing in
 * the process, like an embedded wallet) or a JSON-RPC one (the node signs, like a browser wallet).
 */
export function viemWallet(address: string, index: number, local: boolean): WalletClient {
  const transport = custom(network.provider);
  if (!local) return createWalletClient({ account: address as `0x${string}`, chain: hardhatChain, transport });
  const key = HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${index}`).privateKey as `0x${string}`;
  const account = privateKeyToAccount(key);
  if (account.address.toLowerCase() !== address.toLowerCase())
    throw new Error(`account ${index} is ${account.address}, not ${address}`);
  return createWalletClient({ account, chain: hardhatChain, transport });
}

/** A viem PublicClient on the Hardhat network. */
export function viemReader(): PublicClient {
  return createPublicClient({ chain: hardhatChain, transport: custom(network.provider) });
}

/** The fixture's suite as a deployment. */
export async function deploymentOf(
  suite: Pick<Awaited<ReturnType<typeof deployLedgerFixture>>, "ledger" | "records" | "accessLog" | "keys">,
): Promise<Deployment> {
  return {
    chainId: 31337,
    ledger: await suite.ledger.getAddress(),
    records: await suite.records.getAddress(),
    accessLog: await suite.accessLog.getAddress(),
    keys: await suite.keys.getAddress(),
  };
}

/** An error as a dApp sees it: its class, and for a refusal its decoded name and arguments, as they are. */
export async function failure(action: () => Promise<unknown>) {
  try {
    await action();
  } catch (error) {
    const e = error as ContractRevertError & ConsentLedgerError;
    return { name: e.name, message: e.message, hint: e.hint, errorName: e.errorName, args: e.args };
  }
  throw new Error("expected a failure");
}

/** `value` with every bigint marked as one, so a comparison tells 5n from 5. */
export function typed(value: unknown): unknown {
  if (typeof value === "bigint") return { bigint: value.toString() };
  if (Array.isArray(value)) return value.map(typed);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) =>
        // The two libraries send the same call as different transactions (type, gas fields): their hashes differ.
        key === "transactionHash"
          ? [key, typeof item === "string" && /^0x[0-9a-f]{64}$/.test(item)]
          : [key, typed(item)],
      ),
    );
  }
  return value;
}
