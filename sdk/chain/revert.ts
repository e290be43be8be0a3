import { ErrorFragment, Interface, isError } from "ethers";

import { ConsentLedgerError, ContractRevertError } from "../errors";
import { accessLogAbi, consentLedgerAbi, keyDirectoryAbi, recordRegistryAbi } from "./abis";
import { REVERT_HINTS as HINTS, failureError, saysInsufficientFunds } from "./hints";

/** Every custom error of the suite, once: the record registry and access log bubble up the ledger's. */
const suiteErrors = (() => {
  const seen = new Map<string, ErrorFragment>();
  for (const abi of [consentLedgerAbi, recordRegistryAbi, accessLogAbi, keyDirectoryAbi]) {
    for (const fragment of new Interface(abi as never).fragments) {
      if (fragment.type === "error") seen.set((fragment as ErrorFragment).format("sighash"), fragment as ErrorFragment);
    }
  }
  return new Interface([...seen.values()]);
})();

/** The custom error inside a failed call or transaction, decoded, or undefined when there is none. */
export function decodeRevert(error: unknown): { name: string; args: unknown[] } | undefined {
  let current: unknown = error;
  for (let depth = 0; current && depth < 8; depth++) {
    const data = (current as { data?: unknown }).data;
    if (typeof data === "string" && data.length >= 10) {
      try {
        const parsed = suiteErrors.parseError(data);
        if (parsed) return { name: parsed.name, args: [...parsed.args] };
      } catch {
        // Not one of ours (e.g. a panic): keep looking down the chain.
      }
    }
    current = (current as { error?: unknown; cause?: unknown }).error ?? (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Whether the node said the sender cannot pay. ethers maps geth's "insufficient funds" to
 * INSUFFICIENT_FUNDS, but not Hardhat's "Sender doesn't have enough funds to send tx", which arrives as
 * UNKNOWN_ERROR ("could not coalesce error") with the node's message inside.
 */
function isInsufficientFunds(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current && depth < 8; depth++) {
    if (isError(current, "INSUFFICIENT_FUNDS")) return true;
    current = (current as { error?: unknown; cause?: unknown }).error ?? (current as { cause?: unknown }).cause;
  }
  return saysInsufficientFunds(error);
}

/**
 * Turns anything a contract call threw into a ConsentLedgerError: the custom error decoded into its
 * name and arguments with a hint, or a plain error saying what the node or wallet reported.
 */
export function toLedgerError(error: unknown, action: string): ConsentLedgerError {
  if (error instanceof ConsentLedgerError) return error;
  const revert = decodeRevert(error);
  if (revert) return new ContractRevertError(revert.name, revert.args, { hint: HINTS[revert.name], cause: error });
  if (isInsufficientFunds(error)) return failureError("funds", action, error, "");
  if (isError(error, "ACTION_REJECTED")) return failureError("rejected", action, error, "");
  if (isError(error, "NETWORK_ERROR") || isError(error, "SERVER_ERROR") || isError(error, "TIMEOUT")) {
    return failureError("network", action, error, "");
  }
  const message = (error as { shortMessage?: string; message?: string })?.shortMessage ?? String(error);
  return failureError("other", action, error, message);
}
