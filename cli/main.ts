#!/usr/bin/env node
/**
 * consent-ledger: the Consent Ledger from the command line, on any deployment.
 *
 *   npx ts-node --transpile-only cli/main.ts --help          (from the repository: npm run cli -- --help)
 *   consent-ledger --help                                    (installed: the package's bin)
 *
 * Exit codes: 0 done; 1 the request could not be carried out (a bad value, a file, the network, the
 * ledger refused), with one line on stderr saying what to do; 2 the command line does not parse (unknown
 * command or option, missing argument), as commander reports it. Stack traces only with --debug.
 */
import { Command, CommanderError, Option } from "commander";

import { registerAdmin } from "./commands/admin";
import { openContexts } from "./commands/common";
import { registerCustodians } from "./commands/custodians";
import { registerKeys } from "./commands/keys";
import { registerFhir } from "./commands/fhir";
import { registerPatient } from "./commands/patient";
import { registerProvider } from "./commands/provider";
import { registerRelay } from "./commands/relay";
import { registerResearcher } from "./commands/researcher";
import { DEFAULT_RPC, DEFAULT_STORE } from "./context";
import { CliError, debugDetails, describeError, errorReport, USAGE_EXIT_CODE } from "./errors";
import { KEY_SOURCES } from "./keys";

const NAME = "consent-ledger";

/** Flags that would put a secret on the command line: refused with the way to do it instead. */
const FORBIDDEN_FLAGS: Record<string, string> = {
  "--private-key":
    "keys are never taken on the command line (anyone on the machine can read it): set CONSENT_LEDGER_PRIVATE_KEY, or use --keystore <file> or --account <name>",
  "--key":
    "keys are never taken on the command line (anyone on the machine can read it): set CONSENT_LEDGER_PRIVATE_KEY, or use --keystore <file> or --account <name>",
  "--password":
    "passwords are never taken on the command line: set CONSENT_LEDGER_KEYSTORE_PASSWORD, or type it when asked",
  "--mnemonic":
    "keys are never taken on the command line: set CONSENT_LEDGER_PRIVATE_KEY, or use --keystore <file> or --account <name>",
};

/** Whether the command line asks for JSON (the global --json, anywhere before a lone "--"). */
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).includes("--json");
}

/** One failure, as a person reads it or (with --json) as one JSON object a script parses. */
function reportFailure(json: boolean, error: unknown, exitCode: number): void {
  process.stderr.write(
    json ? `${JSON.stringify({ error: errorReport(error, exitCode) })}\n` : `error: ${describeError(error)}\n`,
  );
}

export function buildProgram(options: { json?: boolean } = {}): Command {
  const program = new Command(NAME)
    .description("Consent Ledger: health-data consent on Ethereum, from the command line")
    .version("0.1.0", "-V, --version")
    .addOption(
      new Option("--rpc <url>", "JSON-RPC endpoint of the chain").env("CONSENT_LEDGER_RPC").default(DEFAULT_RPC),
    )
    .addOption(
      new Option(
        "--deployment <file>",
        "deployment file (default: the one for the node's chain in $CONSENT_LEDGER_DEPLOYMENTS, else deployments/ or the dashboard's .dapp/*/deployments/)",
      ).env("CONSENT_LEDGER_DEPLOYMENT"),
    )
    .addOption(
      new Option("--store <dir>", "blob store folder for ciphertext")
        .env("CONSENT_LEDGER_STORE")
        .default(DEFAULT_STORE),
    )
    .addOption(
      new Option(
        "--key-source <source>",
        "where the signing key comes from (default: keystore with --keystore, hardhat-var with --account, else env)",
      ).choices(KEY_SOURCES),
    )
    .addOption(
      new Option(
        "--keystore <file>",
        "encrypted JSON keystore (password: CONSENT_LEDGER_KEYSTORE_PASSWORD or asked)",
      ).env("CONSENT_LEDGER_KEYSTORE"),
    )
    .addOption(
      new Option("--account <name>", "Hardhat variable CONSENT_LEDGER_KEY_<NAME> holding the key").env(
        "CONSENT_LEDGER_ACCOUNT",
      ),
    )
    .option("--json", "print results as JSON", false)
    .option("-q, --quiet", "no progress lines on stderr", false)
    .option("--debug", "print stack traces of errors", false)
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => process.stdout.write(text),
      writeErr: (text) => process.stderr.write(text),
      // One line per mistake: commander puts its "Did you mean" suggestion on a second line. With
      // --json, the same line as the one JSON object a script reads.
      outputError: (text, write) => {
        const line = text.replace(/\n\(Did you mean (.+)\?\)\n?$/, " (did you mean $1?)\n");
        if (!options.json) return write(line);
        const message = line.replace(/^error: /, "").trim();
        const report = { code: "USAGE", message, hint: "see --help", exitCode: USAGE_EXIT_CODE };
        write(`${JSON.stringify({ error: report })}\n`);
      },
    })
    .addHelpText(
      "after",
      `
Keys are never taken on the command line. Set CONSENT_LEDGER_PRIVATE_KEY, or use --keystore <file>
(make one with \`${NAME} keys create-keystore --out <file>\`), or --account <name> for a Hardhat
variable set with \`npx hardhat vars set CONSENT_LEDGER_KEY_<NAME>\`.

Examples:
  ${NAME} researcher request --patient 0xPATIENT --classes LAB_RESULT --purpose HRESCH --category HMB --duration 90d --study s1
  ${NAME} patient requests
  ${NAME} patient approve 0xREQUEST_ID
  ${NAME} --json researcher requests
`,
    );
  registerResearcher(program);
  registerPatient(program);
  registerProvider(program);
  registerAdmin(program);
  registerCustodians(program);
  registerRelay(program);
  registerKeys(program);
  registerFhir(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const debug = argv.includes("--debug");
  const json = wantsJson(argv);
  for (const arg of argv) {
    if (arg === "--") break;
    const flag = arg.split("=")[0];
    const reason = FORBIDDEN_FLAGS[flag];
    if (reason) {
      reportFailure(
        json,
        new CliError(`${flag} is not an option: ${reason}`, USAGE_EXIT_CODE, { code: "USAGE" }),
        USAGE_EXIT_CODE,
      );
      return USAGE_EXIT_CODE;
    }
  }
  try {
    await buildProgram({ json }).parseAsync([...argv], { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander has printed its message (or the help) already.
      return error.code === "commander.helpDisplayed" || error.code === "commander.version" ? 0 : USAGE_EXIT_CODE;
    }
    reportFailure(json, error, 1);
    if (debug) process.stderr.write(`${debugDetails(error)}\n`);
    return 1;
  } finally {
    for (const ctx of openContexts.splice(0)) ctx.close();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      // Nothing may keep a finished command alive (a keep-alive socket, a poll timer).
      setTimeout(() => process.exit(code), 500).unref();
    },
    (error: unknown) => {
      reportFailure(wantsJson(process.argv.slice(2)), error, 1);
      process.exitCode = 1;
    },
  );
}
