/**
 * How the CLI reports failure: one line on stderr that says what went wrong and what to do, and an exit
 * code (1 for a mistake in what was asked, 2 for a command line commander cannot parse). Stack traces
 * only with --debug.
 */
import { ConsentLedgerError, ContractRevertError, UnknownCodeError } from "../sdk/tables";

/**
 * A mistake the user can fix: `message` is the whole line, "what went wrong: what to do". `code` names
 * the kind of mistake for scripts (`--json` prints it); it defaults to INVALID_INPUT.
 */
export class CliError extends Error {
  override name = "CliError";
  readonly code: string;
  constructor(
    message: string,
    readonly exitCode = 1,
    options: { cause?: unknown; code?: string } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code ?? "INVALID_INPUT";
  }
}

/** What `--json` prints on stderr for a failure: one object, one line. */
export interface ErrorReport {
  /** For scripts to branch on: a CLI code (NODE_UNREACHABLE, DEPLOYMENT_NOT_FOUND, NO_KEY, ...), the
   * ledger's custom error name (ConsentNotFound, ...), the SDK error's class, or USAGE. */
  code: string;
  /** The same line the command prints without --json. */
  message: string;
  /** What to do, when the message says it (the part after "what went wrong: "). */
  hint: string | null;
  exitCode: number;
}

/** Exit code for a command line that does not parse (unknown command or option, missing argument). */
export const USAGE_EXIT_CODE = 2;

function flatten(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").trim();
}

function sentence(text: string): string {
  const flat = flatten(text);
  return /[.!?)]$/.test(flat) ? flat : `${flat}.`;
}

function withoutFinalPeriod(text: string): string {
  return flatten(text).replace(/\.$/, "");
}

/** An error the contract bindings are missing for: the contracts were never compiled in this clone. */
function isMissingBindings(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  return e?.code === "MODULE_NOT_FOUND" && typeof e.message === "string" && e.message.includes("typechain-types");
}

/**
 * The SDK's hints speak to programmers ("ResearcherClient.registerEncryptionKey"); a person at the
 * command line is told the command that does the same.
 */
const SDK_TO_CLI: [RegExp, string][] = [
  [/\(?ResearcherClient\.registerEncryptionKey\)?/g, "(`consent-ledger researcher register-key`)"],
  [/\s*\(or PatientClient\.sign\*\)/g, ""],
  [/`patient sign`/g, "`consent-ledger patient sign`"],
];

function forTheCommandLine(text: string): string {
  return SDK_TO_CLI.reduce((line, [pattern, replacement]) => line.replace(pattern, replacement), text);
}

/** The one line printed for `error` (without the "error: " prefix). */
export function describeError(error: unknown): string {
  return forTheCommandLine(describeErrorRaw(error));
}

function describeErrorRaw(error: unknown): string {
  if (error instanceof CliError) return flatten(error.message);
  if (error instanceof UnknownCodeError) {
    const known = (error.hint ?? "").replace(/^Use one of:\s*/, "").replace(/\.$/, "");
    return `unknown ${error.table} ${JSON.stringify(String(error.value))}: use one of ${known}`;
  }
  if (error instanceof ConsentLedgerError) {
    const short = withoutFinalPeriod(error.shortMessage);
    return error.hint ? `${short}. ${sentence(error.hint)}` : sentence(short);
  }
  if (isMissingBindings(error)) {
    return "the contract bindings (typechain-types/) are missing: run `npx hardhat compile` once in this clone, then try again.";
  }
  const message =
    (error as { shortMessage?: unknown; message?: unknown } | null)?.shortMessage ?? (error as Error)?.message;
  return `${flatten(typeof message === "string" ? message : String(error))} (run again with --debug for details)`;
}

/** The code a script branches on (see {@link ErrorReport}). */
export function errorCode(error: unknown): string {
  if (error instanceof CliError) return error.code;
  if (error instanceof ContractRevertError) return error.errorName;
  if (error instanceof ConsentLedgerError) return error.name;
  if (isMissingBindings(error)) return "BINDINGS_MISSING";
  return "UNEXPECTED";
}

/** `error` as the one JSON object `--json` prints on stderr. */
export function errorReport(error: unknown, exitCode: number): ErrorReport {
  const message = describeError(error);
  let hint: string | null = null;
  if (error instanceof ConsentLedgerError && !(error instanceof CliError) && error.hint) {
    hint = forTheCommandLine(sentence(error.hint));
  } else {
    // CLI messages read "what went wrong: what to do"; the first ": " outside parentheses splits them.
    const split = firstTopLevelColon(message);
    if (split > 0) hint = message.slice(split + 2);
  }
  return { code: errorCode(error), message, hint, exitCode };
}

function firstTopLevelColon(text: string): number {
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < text.length - 1; i++) {
    const c = text[i];
    if (c === "`") quoted = !quoted;
    else if (!quoted && (c === "(" || c === "[")) depth++;
    else if (!quoted && (c === ")" || c === "]")) depth = Math.max(0, depth - 1);
    else if (!quoted && depth === 0 && c === ":" && text[i + 1] === " ") return i;
  }
  return -1;
}

/** The whole cause chain with stacks, for --debug. */
export function debugDetails(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    parts.push(
      depth === 0
        ? String((current as Error).stack ?? current)
        : `caused by: ${String((current as Error).stack ?? current)}`,
    );
    current = (current as { cause?: unknown }).cause;
  }
  return parts.join("\n");
}
