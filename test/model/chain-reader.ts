/**
 * Reads many view functions of the real contracts at ONE block, fast, for the model-based tests: a step
 * compares hundreds of answers (stored state, hasAccess, accessBasis), and a full access matrix thousands.
 *
 * Each read is a raw `eth_call` pinned to the same block number, sent in parallel batches straight to the
 * Hardhat provider (no ethers Contract round trip). Measured on the in-process network: ~0.3-0.5 ms per
 * call this way, against ~1.5 ms through an ethers contract method and ~3 ms as a nested call from a
 * helper contract (EDR traces every message into the 19 KB ledger, which makes nested calls the dearest).
 *
 * Nothing is mocked: every answer is the deployed contract's, at the block the step ended on, whose
 * number and timestamp are returned with the answers.
 */
import type { Interface } from "ethers";
import { network } from "hardhat";

/** One view call: the contract, its interface, the function and its arguments. */
export interface ViewCall {
  target: string;
  iface: Interface;
  fn: string;
  args: readonly unknown[];
}

/** A call's outcome: its decoded values, or the revert data it returned. */
export type ViewResult = { ok: true; values: unknown[] } | { ok: false; data: string };

export interface Reading {
  blockNumber: number;
  /** block.timestamp of that block: what every call saw. */
  timestamp: number;
  results: ViewResult[];
}

/** Calls in flight at once: enough to keep the provider busy without queueing thousands of promises. */
const BATCH = 256;

/** The EVM bytecode `TIMESTAMP PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN`, run as a deployless call. */
const READ_TIMESTAMP = "0x4260005260206000f3";

function revertDataOf(error: unknown): string | undefined {
  const e = error as { data?: unknown; error?: { data?: unknown } };
  for (const candidate of [e?.data, e?.error?.data, (e?.data as { data?: unknown } | undefined)?.data]) {
    if (typeof candidate === "string" && candidate.startsWith("0x")) return candidate;
  }
  return undefined;
}

/** Runs every call at the latest block (the same block for all, checked), in parallel batches. */
export async function readAll(calls: readonly ViewCall[]): Promise<Reading> {
  const block = (await network.provider.request({ method: "eth_getBlockByNumber", params: ["latest", false] })) as {
    number: string;
    timestamp: string;
  };
  const tag = block.number;
  const seen = BigInt(
    (await network.provider.request({ method: "eth_call", params: [{ data: READ_TIMESTAMP }, tag] })) as string,
  );
  if (seen !== BigInt(block.timestamp))
    throw new Error(`calls at block ${tag} see timestamp ${seen}, the block says ${block.timestamp}`);

  const results: ViewResult[] = new Array(calls.length);
  for (let start = 0; start < calls.length; start += BATCH) {
    await Promise.all(
      calls.slice(start, start + BATCH).map(async (call, offset) => {
        const data = call.iface.encodeFunctionData(call.fn, call.args as unknown[]);
        let raw: string;
        try {
          raw = (await network.provider.request({
            method: "eth_call",
            params: [{ to: call.target, data }, tag],
          })) as string;
        } catch (error) {
          const revert = revertDataOf(error);
          if (revert === undefined) throw error;
          results[start + offset] = { ok: false, data: revert };
          return;
        }
        results[start + offset] = { ok: true, values: [...call.iface.decodeFunctionResult(call.fn, raw)] };
      }),
    );
  }
  const latest = (await network.provider.request({ method: "eth_blockNumber", params: [] })) as string;
  if (BigInt(latest) !== BigInt(tag)) throw new Error("a block was mined while the step was being read");
  return { blockNumber: Number(BigInt(tag)), timestamp: Number(BigInt(block.timestamp)), results };
}
