/**
 * Writes through a viem WalletClient: the call sent with the caller's overrides, the receipt awaited on
 * the suite's client and decoded into what the call achieved, every failure a ConsentLedgerError.
 */
import type { Abi, Account, TransactionReceipt, WalletClient } from "viem";

import type { PendingTransaction } from "../chain/transactions";
import { checkedOverrides, type TransactionOverrides } from "../core/overrides";
import { ConsentLedgerError, InvalidArgumentError } from "../errors";
import type { ViemLedgerContracts } from "./connect";
import { toLedgerError } from "./errors";

/** A contract write: which contract, which function, which arguments. */
export interface ContractCall {
  address: string;
  abi: Abi;
  functionName: string;
  args: readonly unknown[];
}

/** The account a wallet client sends and signs with: its own, or the first its provider offers. */
export async function accountOf(wallet: WalletClient): Promise<Account | `0x${string}`> {
  if (wallet.account) return wallet.account;
  const [first] = await wallet.getAddresses();
  if (!first)
    throw new InvalidArgumentError("wallet", "the WalletClient has no account", {
      hint: "Create it with an account, or connect the wallet first.",
    });
  return first;
}

/** The address of a wallet client's account. */
export async function addressOf(wallet: WalletClient): Promise<string> {
  const account = await accountOf(wallet);
  return typeof account === "string" ? account : account.address;
}

/** Checks that a client can sign: a PublicClient cannot. */
export function requireWallet(wallet: WalletClient): WalletClient {
  if (
    typeof (wallet as Partial<WalletClient>)?.writeContract !== "function" ||
    typeof wallet.signTypedData !== "function"
  ) {
    throw new InvalidArgumentError("signer", "a viem PublicClient cannot sign or send", {
      hint: "Pass a WalletClient with an account.",
    });
  }
  return wallet;
}

function viemOverrides(overrides: TransactionOverrides | undefined) {
  if (overrides === undefined) return {};
  const { gasLimit, gasPrice, maxFeePerGas, maxPriorityFeePerGas, nonce } = checkedOverrides(overrides);
  const big = (value: bigint | number | undefined) => (value === undefined ? undefined : BigInt(value));
  return Object.fromEntries(
    Object.entries({
      gas: big(gasLimit),
      gasPrice: big(gasPrice),
      maxFeePerGas: big(maxFeePerGas),
      maxPriorityFeePerGas: big(maxPriorityFeePerGas),
      nonce,
    }).filter(([, value]) => value !== undefined),
  );
}

/** Sends `call` from `wallet` and decodes its receipt with `decode`. */
export async function send<T>(
  contracts: ViemLedgerContracts,
  wallet: WalletClient,
  action: string,
  call: ContractCall,
  overrides: TransactionOverrides | undefined,
  decode: (receipt: TransactionReceipt) => T | Promise<T>,
): Promise<PendingTransaction<T>> {
  let hash: `0x${string}`;
  try {
    const request = {
      ...call,
      address: call.address as `0x${string}`,
      account: await accountOf(wallet),
      chain: wallet.chain ?? null,
      ...viemOverrides(overrides),
    };
    hash = await wallet.writeContract(request as never);
  } catch (error) {
    throw toLedgerError(error, action);
  }
  return {
    hash,
    async wait(confirmations = 1) {
      let receipt: TransactionReceipt;
      try {
        receipt = await contracts.client.waitForTransactionReceipt({ hash, confirmations });
      } catch (error) {
        throw toLedgerError(error, action);
      }
      if (receipt.status !== "success")
        throw new ConsentLedgerError(`The transaction to ${action} reverted`, { details: hash });
      return decode(receipt);
    },
  };
}
