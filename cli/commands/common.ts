/**
 * Glue shared by the command files: running an action with its Context, sending a transaction with
 * progress lines, and checking before anything is written that a transaction would go through.
 */
import type { Command } from "commander";
import { formatEther, type ContractTransaction, type Wallet } from "ethers";

import type { PendingTransaction } from "../../sdk/index";
import { Context, type GlobalOptions } from "../context";
import { CliError } from "../errors";
import { shortAddress } from "../output";
import { parseAddress } from "../parse";
import { load } from "../sdk";

type Handler<O> = (ctx: Context, options: O, args: string[]) => Promise<void>;

/** The contexts opened by actions, closed by main when the command ends (successfully or not). */
export const openContexts: Context[] = [];

/** A commander action running `handler` with a Context built from the global options. */
export function action<O = Record<string, unknown>>(handler: Handler<O>) {
  return async (...received: unknown[]): Promise<void> => {
    const command = received[received.length - 1] as Command;
    const args = received.slice(0, -2).map(String);
    const options = command.optsWithGlobals() as GlobalOptions & O;
    const ctx = new Context(options);
    openContexts.push(ctx);
    await handler(ctx, options, args);
  };
}

/**
 * Sends a transaction through the SDK and waits for it: a progress line once it is sent (so a refusal
 * found before sending prints nothing but the error), then the decoded result.
 */
export async function sendAndWait<T>(
  ctx: Context,
  what: string,
  pending: Promise<PendingTransaction<T>>,
  change?: string,
): Promise<{ result: T; hash: string }> {
  let sent: PendingTransaction<T>;
  try {
    sent = await pending;
  } catch (error) {
    throw (await fundsError(ctx, error)) ?? error;
  }
  // What the transaction changes, once the node has accepted it: a send that fails says only why.
  if (change !== undefined) ctx.out.progress(change);
  ctx.out.progress(`${what}: transaction ${sent.hash} sent, waiting for it to be mined…`);
  const result = await sent.wait();
  return { result, hash: sent.hash };
}

/** Node wordings of "the sender cannot pay": geth's, which ethers maps, and Hardhat's and others', which it does not. */
const NO_FUNDS = /insufficient funds|doesn't have enough funds|not enough funds|balance too low/i;

/**
 * The SDK maps ethers' INSUFFICIENT_FUNDS, but a Hardhat node words it "Sender doesn't have enough
 * funds", which ethers leaves as UNKNOWN_ERROR: recognise it anywhere in the cause chain.
 */
async function fundsError(ctx: Context, error: unknown): Promise<CliError | undefined> {
  let current: unknown = error;
  for (let depth = 0; current && depth < 10; depth++) {
    const e = current as {
      message?: unknown;
      shortMessage?: unknown;
      code?: unknown;
      error?: unknown;
      cause?: unknown;
      info?: { error?: unknown };
    };
    const text = [e.message, e.shortMessage].filter((item) => typeof item === "string").join(" ");
    if (e.code === "INSUFFICIENT_FUNDS" || NO_FUNDS.test(text)) {
      const address = (await ctx.loadKey()).address;
      return new CliError(
        `not enough ETH in ${address} to pay for gas: fund the account; a patient can instead sign with \`consent-ledger patient sign ...\` and have anyone submit it with \`consent-ledger relay\``,
        1,
        { cause: error },
      );
    }
    current = e.cause ?? e.error ?? e.info?.error;
  }
  return undefined;
}

/**
 * Before a command writes anything (ciphertext to the store), checks that `transaction` would succeed
 * now and that the signer can pay for it: a revert is decoded into the ledger's error, a shortfall is
 * the SDK's insufficient-funds error. Uses a stand-in transaction with the same sender, target and
 * checks (e.g. a random record id in place of the one sealing will give).
 */
export async function preflight(signer: Wallet, action: string, transaction: ContractTransaction): Promise<void> {
  const { toLedgerError } = load.revert();
  const provider = signer.provider;
  if (!provider) throw new CliError("the signer has no node");
  let gas: bigint;
  try {
    gas = await provider.estimateGas({ ...transaction, from: await signer.getAddress() });
  } catch (error) {
    throw toLedgerError(error, action);
  }
  const [balance, fees] = await Promise.all([provider.getBalance(signer.address), provider.getFeeData()]);
  const price = fees.maxFeePerGas ?? fees.gasPrice ?? 0n;
  if (balance < gas * price) {
    throw new CliError(
      `not enough funds in ${signer.address} to pay for gas to ${action} (needs about ${formatEther(gas * price)} ETH, has ${formatEther(balance)}): fund the account first`,
    );
  }
}

/**
 * The account a read is about: `explicit` (the value of `flag`; a read needs no key, the chain is
 * public), else the signing key's address. Without either, says which flag reads without a key.
 */
export async function readAddress(
  ctx: Context,
  explicit: string | undefined,
  flag: string,
): Promise<{ address: string; wallet?: Wallet }> {
  if (explicit !== undefined) return { address: parseAddress(explicit, flag) };
  let wallet: Wallet;
  try {
    wallet = await ctx.loadKey();
  } catch (error) {
    if (error instanceof CliError && error.code === "NO_KEY") {
      throw new CliError(
        `no account to read for: pass ${flag} <address> (reading needs no key), or set a signing key to read your own`,
        1,
        { cause: error, code: "NO_KEY" },
      );
    }
    throw error;
  }
  return { address: wallet.address, wallet };
}

/** "0x1234…abcd (you)" when it is the signer. */
export function who(address: string, me?: string): string {
  return me && address.toLowerCase() === me.toLowerCase() ? `${shortAddress(address)} (you)` : shortAddress(address);
}
