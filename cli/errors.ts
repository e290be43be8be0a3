/**
 * How the CLI reports failure: one line on stderr that says what went wrong and what to do, and an exit
 * code (1 for a mistake in what was asked, 2 for a command line commander cannot parse). Stack traces
 * only with --debug.
 */
import { ConsentLedgerError, UnknownCodeError } from "../sdk/errors";

/** A mistake the user can fix: `message` is the whole line, including what to do. */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly exitCode = 1,
    options: { cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
  }
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

/** The one line printed for `error` (without the "error: " prefix). */
export function describeError(error: unknown): string {
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
