/**
 * What a viem call threw, as the same ConsentLedgerError the ethers entry throws: a contract's custom
 * error decoded (name, arguments as ethers gives them, the same hint), or the same plain failure.
 */
import { decodeErrorResult, type Abi } from "viem";

type AbiError = Extract<Abi[number], { type: "error" }>;

import { accessLogAbi, consentLedgerAbi, custodianSetsAbi, keyDirectoryAbi, recordRegistryAbi } from "../chain/abis";
import { REVERT_HINTS, failureError, saysInsufficientFunds } from "../chain/hints";
import { ConsentLedgerError, ContractRevertError } from "../errors";

/** Every custom error of the suite, once (the registry and access log bubble up the ledger's). */
const SUITE_ERRORS: readonly AbiError[] = (() => {
  const seen = new Map<string, AbiError>();
  for (const abi of [
    consentLedgerAbi,
    recordRegistryAbi,
    accessLogAbi,
    keyDirectoryAbi,
    custodianSetsAbi,
  ] as readonly Abi[]) {
    for (const item of abi) {
      if (item.type === "error") seen.set(`${item.name}(${item.inputs.map((input) => input.type).join(",")})`, item);
    }
  }
  return [...seen.values()];
})();

/** The errors down `error`'s causes, outermost first. */
function chainOf(error: unknown): Record<string, unknown>[] {
  const chain: Record<string, unknown>[] = [];
  let current: unknown = error;
  for (let depth = 0; current && typeof current === "object" && depth < 10; depth++) {
    chain.push(current as Record<string, unknown>);
    current = (current as { cause?: unknown; error?: unknown }).cause ?? (current as { error?: unknown }).error;
  }
  return chain;
}

/**
 * Arguments as ethers decodes them: viem gives integers of up to 48 bits as numbers, ethers always as
 * bigints; the same refusal must carry the same values whichever library sent the call.
 */
function asEthersArgs(name: string, args: readonly unknown[]): unknown[] {
  const item = SUITE_ERRORS.find((error) => error.name === name && error.inputs.length === args.length);
  return args.map((value, i) =>
    typeof value === "number" && /^u?int\d*$/.test(item?.inputs[i]?.type ?? "") ? BigInt(value) : value,
  );
}

/** The suite's custom error inside a failed viem call, decoded, or undefined when there is none. */
export function decodeRevert(error: unknown): { name: string; args: unknown[] } | undefined {
  for (const link of chainOf(error)) {
    const data = link.data as { errorName?: string; args?: readonly unknown[] } | string | undefined;
    if (link.name === "ContractFunctionRevertedError" && typeof data === "object" && data?.errorName) {
      if (SUITE_ERRORS.some((item) => item.name === data.errorName))
        return { name: data.errorName, args: asEthersArgs(data.errorName, data.args ?? []) };
    }
    const raw = typeof data === "string" ? data : typeof link.raw === "string" ? link.raw : undefined;
    if (raw && raw.length >= 10) {
      try {
        const decoded = decodeErrorResult({ abi: SUITE_ERRORS as Abi, data: raw as `0x${string}` });
        return { name: decoded.errorName, args: asEthersArgs(decoded.errorName, decoded.args ?? []) };
      } catch {
        // Not one of ours (a panic, a string): keep looking down the chain.
      }
    }
  }
  return undefined;
}

/** Turns anything a viem contract call threw into a ConsentLedgerError, as toLedgerError does for ethers. */
export function toLedgerError(error: unknown, action: string): ConsentLedgerError {
  if (error instanceof ConsentLedgerError) return error;
  const revert = decodeRevert(error);
  if (revert)
    return new ContractRevertError(revert.name, revert.args, { hint: REVERT_HINTS[revert.name], cause: error });
  const chain = chainOf(error);
  const named = (...names: string[]) => chain.some((link) => names.includes(String(link.name)));
  if (named("InsufficientFundsError") || saysInsufficientFunds(error)) return failureError("funds", action, error, "");
  if (named("UserRejectedRequestError") || chain.some((link) => link.code === 4001))
    return failureError("rejected", action, error, "");
  if (named("HttpRequestError", "TimeoutError", "WebSocketRequestError", "SocketClosedError"))
    return failureError("network", action, error, "");
  const message = (error as { shortMessage?: string })?.shortMessage ?? String(error);
  return failureError("other", action, error, message);
}
