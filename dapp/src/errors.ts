/**
 * Every failure, in words a person can act on. The SDK has already classified it (ContractRevertError
 * with the custom error decoded and a hint, NetworkMismatchError, DeploymentNotFoundError, ...); this
 * only chooses the sentence and what the page offers next.
 */
import { ConsentLedgerError, ContractRevertError, DeploymentNotFoundError, NetworkMismatchError } from "consent-ledger";

import { chainText } from "./format";

export type Doing = "transaction" | "signature" | "connection" | "read";

export interface Explanation {
  kind: "rejected" | "network" | "deployment" | "revert" | "funds" | "other";
  title: string;
  hint?: string;
  /** Technical detail, shown small. */
  detail?: string;
  /** Offer to switch the wallet to this chain. */
  switchTo?: number;
  /** Offer the gasless path. */
  suggestGasless?: boolean;
}

/** The error and everything it wraps (cause, error, info.error), outermost first. */
function chain(error: unknown): unknown[] {
  const seen: unknown[] = [];
  const queue: unknown[] = [error];
  while (queue.length && seen.length < 16) {
    const current = queue.shift();
    if (!current || typeof current !== "object" || seen.includes(current)) continue;
    seen.push(current);
    const record = current as { cause?: unknown; error?: unknown; info?: { error?: unknown } };
    queue.push(record.cause, record.error, record.info?.error);
  }
  return seen;
}

function rejectedByPerson(error: unknown): boolean {
  return chain(error).some((item) => {
    const { code, message } = item as { code?: unknown; message?: unknown };
    return code === "ACTION_REJECTED" || code === 4001 || /ethers-user-denied|user (denied|rejected)/i.test(String(message ?? ""));
  });
}

function firstLine(error: unknown): string {
  const message = (error as { shortMessage?: string; message?: string })?.shortMessage ?? (error as Error)?.message ?? String(error);
  return message.split("\n")[0];
}

export function explain(error: unknown, doing: Doing): Explanation {
  if (rejectedByPerson(error)) {
    const what = { transaction: "transaction", signature: "signature", connection: "connection request", read: "request" }[doing];
    return { kind: "rejected", title: `You rejected the ${what} in your wallet`, hint: "Nothing was sent. Try again when you are ready, and approve it in your wallet." };
  }
  if (error instanceof NetworkMismatchError) {
    return {
      kind: "network",
      title: `Your wallet is on ${chainText(error.actualChainId)}; switch to ${chainText(error.expectedChainId)}`,
      hint: "This page's Consent Ledger is deployed there. Switch the network in your wallet; the page reloads by itself.",
      switchTo: Number(error.expectedChainId),
    };
  }
  if (error instanceof DeploymentNotFoundError) {
    return {
      kind: "deployment",
      title: `No Consent Ledger deployment on ${chainText(error.chainId)}`,
      hint: "Switch your wallet to a chain where the ledger is deployed. On a local node that was restarted, run `npm run dapp` again.",
    };
  }
  if (error instanceof ContractRevertError) {
    const hint = error.hint;
    return {
      kind: "revert",
      title: hint ?? `The ledger refused: ${error.errorName}`,
      hint: hint ? "Nothing changed on the ledger." : "Nothing changed on the ledger. Check what you entered and try again.",
      detail: `The contract answered ${error.errorName}(${error.args.map(String).join(", ")})`,
    };
  }
  if (error instanceof ConsentLedgerError && /not enough funds/i.test(error.shortMessage)) {
    return {
      kind: "funds",
      title: "Your account has no ETH to pay for this transaction",
      hint: "Tick \"Sign instead of sending\": you sign, and a relayer submits it and pays the gas.",
      suggestGasless: true,
    };
  }
  if (error instanceof ConsentLedgerError) {
    return { kind: "other", title: error.shortMessage, hint: error.hint, detail: error.details };
  }
  return { kind: "other", title: "Something went wrong", detail: firstLine(error) };
}
