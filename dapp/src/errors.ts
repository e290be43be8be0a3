/**
 * Every failure, in words a person can act on. The SDK has already classified it (ContractRevertError
 * with the custom error decoded and a hint, NetworkMismatchError, DeploymentNotFoundError, ...); this
 * only chooses the sentence and what the page offers next.
 */
import {
  ConsentLedgerError,
  ContractRevertError,
  DeploymentNotFoundError,
  NetworkMismatchError,
  RelayerError,
  REVERT_HINTS,
} from "consent-ledger";

import { chainText } from "./format";

export type Doing = "transaction" | "signature" | "connection" | "read";

export interface Explanation {
  kind: "rejected" | "network" | "deployment" | "revert" | "funds" | "node" | "wallet" | "gateway" | "other";
  title: string;
  hint?: string;
  /** Technical detail, shown small. */
  detail?: string;
  /** Offer to switch the wallet to this chain. */
  switchTo?: number;
  /** Offer the gasless path. */
  suggestGasless?: boolean;
  /** Offer to try again: the failure was on the way (node, wallet, gateway), not a refusal. */
  retry?: boolean;
}

/** The form field a ledger refusal is about, by the custom error's name (the forms' field names). */
const FIELD_OF_ERROR: Readonly<Record<string, string>> = {
  InvalidGrantee: "grantee",
  InvalidDataClasses: "dataClass",
  InvalidPurposes: "purpose",
  InvalidValidity: "until",
  InvalidDelegate: "delegate",
  DelegateNotFound: "delegate",
  InvalidPolicyTimeLimit: "maxDays",
  InvalidPolicyPermission: "permission",
  InvalidPolicyPurposes: "purpose",
  InvalidDiseaseId: "diseaseId",
  UnsupportedPolicyModifiers: "modifier",
};

export function fieldOf(errorName: string): string | undefined {
  return FIELD_OF_ERROR[errorName];
}

/** The node did not answer (down, unreachable, timed out), as ethers and fetch report it. */
function nodeUnreachable(error: unknown): boolean {
  return chain(error).some((item) => {
    const { code, message, name } = item as { code?: unknown; message?: unknown; name?: unknown };
    return (
      code === "NETWORK_ERROR" ||
      code === "SERVER_ERROR" ||
      code === "TIMEOUT" ||
      (name === "TypeError" && /fetch|network/i.test(String(message ?? ""))) ||
      /failed to fetch|network error|ECONNREFUSED|failed to detect network/i.test(String(message ?? ""))
    );
  });
}

/** The wallet could not do it (locked, disconnected, busy with another request, unsupported method). */
function walletTrouble(error: unknown): { code: number; message: string } | undefined {
  for (const item of chain(error)) {
    const { code, message } = item as { code?: unknown; message?: unknown };
    if (code === 4100 || code === 4200 || code === 4900 || code === 4901 || code === -32002)
      return { code, message: String(message ?? "") };
  }
  return undefined;
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
    return (
      code === "ACTION_REJECTED" ||
      code === 4001 ||
      /ethers-user-denied|user (denied|rejected)/i.test(String(message ?? ""))
    );
  });
}

function firstLine(error: unknown): string {
  const message =
    (error as { shortMessage?: string; message?: string })?.shortMessage ?? (error as Error)?.message ?? String(error);
  return message.split("\n")[0];
}

/**
 * A relayer that refuses a message the ledger would revert (WouldRevert) names the ledger's custom error
 * in its reason, as "…: Name(arg, arg)." Read back as the ContractRevertError it is, it is explained, and
 * placed under the form field it concerns, exactly as the same refusal of a direct transaction would be.
 */
export function relayedRefusal(error: unknown): unknown {
  if (!(error instanceof RelayerError) || error.code !== "WouldRevert") return error;
  const match = /would refuse it: (\w+)\((.*)\)\.?$/.exec(error.details ?? "");
  if (!match) return error;
  const args = match[2] === "" ? [] : match[2].split(", ");
  return new ContractRevertError(match[1], args, {
    hint: REVERT_HINTS[match[1]],
    details: `The relayer checked it first and sent nothing: ${error.details}`,
    cause: error,
  });
}

/**
 * The relayer's own checks that concern a value the patient entered: the form field it is about, and
 * what to do, in the words the ledger's own refusal of that value would use.
 */
const RELAYER_FIELD: Readonly<Record<string, { field: string; title: string }>> = {
  ValidityTooShort: {
    field: "until",
    title: "Choose an end time in the future and after the start, far enough ahead for the relayer to send it.",
  },
};

/** The form field a relayer's refusal concerns, if any. */
export function relayerFieldOf(error: unknown): string | undefined {
  return error instanceof RelayerError ? RELAYER_FIELD[error.code]?.field : undefined;
}

export function explain(failure: unknown, doing: Doing): Explanation {
  const error = relayedRefusal(failure);
  if (error instanceof RelayerError && RELAYER_FIELD[error.code]) {
    return {
      kind: "revert",
      title: RELAYER_FIELD[error.code].title,
      hint: "The relayer checked it first and sent nothing.",
      detail: `The relayer answered ${error.code}: ${error.details ?? ""}`,
    };
  }
  if (rejectedByPerson(error)) {
    const what = {
      transaction: "transaction",
      signature: "signature",
      connection: "connection request",
      read: "request",
    }[doing];
    return {
      kind: "rejected",
      title: `You rejected the ${what} in your wallet`,
      hint: "Nothing was sent. Try again when you are ready, and approve it in your wallet.",
    };
  }
  const wallet = walletTrouble(error);
  if (wallet) {
    const why: Record<number, string> = {
      4100: "Your wallet did not let the page use this account: unlock it, or allow this site in its connected sites.",
      4200: "Your wallet does not support this kind of request.",
      4900: "Your wallet is disconnected from every network.",
      4901: "Your wallet is not connected to this network.",
      [-32002]: "Your wallet is already showing a request from this page: open it and answer that one first.",
    };
    return {
      kind: "wallet",
      title: "Your wallet could not do this",
      hint: `${why[wallet.code]} Nothing was sent.`,
      detail: `Wallet error ${wallet.code}: ${wallet.message}`,
      retry: true,
    };
  }
  if (nodeUnreachable(error) && !(error instanceof ContractRevertError)) {
    return {
      kind: "node",
      title: "The ledger's node did not answer",
      hint:
        doing === "transaction"
          ? "Your connection or the node is down. Check whether the action went through (the page reloads after Retry) before sending it again."
          : "Your connection or the node is down; nothing changed. Retry when it is back.",
      detail: firstLine(error),
      retry: true,
    };
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
      title: hint ?? "The ledger refused this",
      hint: hint
        ? "Nothing changed on the ledger."
        : "Nothing changed on the ledger. Check what you entered and try again.",
      detail: `The contract answered ${error.errorName}(${error.args.map(String).join(", ")})`,
    };
  }
  if (error instanceof ConsentLedgerError && /not enough funds/i.test(error.shortMessage)) {
    return {
      kind: "funds",
      title: "Your account has no ETH to pay for this transaction",
      hint: 'Tick "Sign instead of sending": you sign, and a relayer submits it and pays the gas.',
      suggestGasless: true,
    };
  }
  if (error instanceof ConsentLedgerError) {
    return { kind: "other", title: error.shortMessage, hint: error.hint, detail: error.details };
  }
  return {
    kind: "other",
    title: "Something went wrong",
    detail: firstLine(error),
    retry: doing === "read" || doing === "connection",
  };
}
