/**
 * The gateway's configuration from its command line and environment. Secrets come only from the
 * environment (or a file): a command line is visible to every user of the machine in `ps`.
 *
 *   --rpc <url>               CONSENT_GATEWAY_RPC        JSON-RPC endpoint of the chain (required)
 *   --port <n>                CONSENT_GATEWAY_PORT       default 8787 (0: any free port)
 *   --host <address>          CONSENT_GATEWAY_HOST       default 127.0.0.1
 *   --data-dir <dir>          CONSENT_GATEWAY_DATA_DIR   default .gateway/
 *   --deployment <file>                                  default deployments/<chainId>.json
 *   --public-url <url>        CONSENT_GATEWAY_PUBLIC_URL the origin clients reach (signed into logins)
 *   --master-key-file <file>  or CONSENT_GATEWAY_MASTER_KEY (64 hex digits): exactly one of the two
 *   --log-batch-size <n>      default 20: flush the access log once this many releases are pending
 *   --log-interval-ms <ms>    default 5000: ... or once the oldest pending release is this old
 *   --challenge-ttl <s>       default 300: how long a login challenge may be signed
 *   --session-ttl <s>         default 900 (at most 900): how long a session token lasts
 *   --provider <address>      repeatable: providers besides the custodian that may deposit records
 *   --rate-limit <n>          CONSENT_GATEWAY_RATE_LIMIT default 1200: requests per account per minute to
 *                             the record routes (metadata, ciphertext, key); 0: no limit
 *   --challenge-rate-limit <n> CONSENT_GATEWAY_CHALLENGE_RATE_LIMIT default 600: login challenges per client
 *                             address per minute; 0: no limit (behind a proxy every client has its address)
 *   --confirmations <n>       CONSENT_GATEWAY_CONFIRMATIONS default 0: blocks that must follow whatever allows
 *                             a release (and each access-log transaction) before it counts; revocations count at once
 *   --resync-from <url>       repeatable: after start, fetch the ciphertext of every record of this custodian's
 *                             sets that is missing here from these peers (other custodians), verified against
 *                             the record id and its anchor (gateway/resync.ts); shares come only from providers
 *   --max-record-bytes <n>    CONSENT_GATEWAY_MAX_RECORD_BYTES default 4294967296 (4 GiB): the largest envelope
 *                             a provider may stream to PUT /records/:recordId
 *   --log-level <level>       CONSENT_GATEWAY_LOG_LEVEL  default info
 *   CONSENT_GATEWAY_PRIVATE_KEY  the custodian's private key (required; never a flag)
 *
 * Every problem is one ConfigError whose message is a single line naming the flag or variable.
 */
import { readFileSync, statSync } from "node:fs";
import path from "node:path";

import { Command, CommanderError, InvalidArgumentError as CommanderArgumentError, Option } from "commander";
import { getAddress, isHexString, SigningKey } from "ethers";

export interface GatewayConfig {
  rpcUrl: string;
  host: string;
  port: number;
  dataDir: string;
  /** A deployment file; when absent, deployments/<chainId>.json (CONSENT_LEDGER_DEPLOYMENTS) is used. */
  deploymentFile?: string;
  /** The origin clients reach the gateway at; defaults to http://<host>:<port>. */
  publicUrl?: string;
  privateKey: string;
  masterKey: Uint8Array;
  logBatchSize: number;
  logIntervalMs: number;
  challengeTtlSeconds: number;
  sessionTtlSeconds: number;
  /** Providers, besides the custodian itself, whose records this gateway accepts. */
  providers: string[];
  /** Requests per account per minute to the record routes; 0: no limit. Default DEFAULTS.rateLimitPerMinute. */
  rateLimitPerMinute?: number;
  /** Blocks that must follow what allows a release, and each log transaction; default 0 (instant finality). */
  confirmations?: number;
  /** Largest envelope streamed to PUT /records/:recordId, in bytes; default DEFAULTS.maxRecordBytes. */
  maxRecordBytes?: number;
  /** Connection timeouts (ms); defaults DEFAULTS.timeouts. Not flags: set by code embedding the gateway. */
  timeouts?: Partial<{ requestMs: number; headersMs: number; idleMs: number }>;
  /** Unused login challenges held overall; default DEFAULTS.maxOpenChallenges. */
  maxOpenChallenges?: number;
  /** Login challenges per client address per minute; 0: no limit. Default DEFAULTS.challengesPerMinute. */
  challengesPerMinute?: number;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** Peers (other custodians' gateway URLs) to re-sync missing ciphertext from after start (gateway/resync.ts). */
  resyncFrom?: string[];
}

export const DEFAULTS = {
  port: 8787,
  host: "127.0.0.1",
  dataDir: ".gateway",
  logBatchSize: 20,
  logIntervalMs: 5000,
  challengeTtlSeconds: 300,
  sessionTtlSeconds: 900,
  rateLimitPerMinute: 1200,
  confirmations: 0,
  logLevel: "info",
  /** Unused login challenges held overall; past it the oldest are dropped (gateway/auth.ts). */
  maxOpenChallenges: 100_000,
  /** Login challenges per client address per minute. */
  challengesPerMinute: 600,
  /**
   * A 22 MB deposit at 500 kB/s fits the request timeout; headers come in one packet; an idle
   * keep-alive connection is closed after a minute.
   */
  timeouts: { requestMs: 60_000, headersMs: 10_000, idleMs: 60_000 },
  /**
   * Largest envelope a provider may stream in (PUT /records/:recordId): 4 GiB. The request timeout
   * applies to it too: within the default minute that takes 72 MB/s, so a gateway taking large records
   * over slow links raises timeouts.requestMs.
   */
  maxRecordBytes: 4 * 1024 ** 3,
} as const;

/** Longest session the gateway will issue: 15 minutes. */
export const MAX_SESSION_TTL_SECONDS = 900;

/** A bad flag or variable: one line, for the operator. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** `--help` was asked for: print `text` and exit 0. */
export class HelpRequested extends Error {
  override name = "HelpRequested";
  constructor(readonly text: string) {
    super("help");
  }
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
const FORBIDDEN_FLAGS: Record<string, string> = {
  "--private-key":
    "the custodian key is never a command-line argument (anyone on the machine can read those): set CONSENT_GATEWAY_PRIVATE_KEY",
  "--key":
    "the custodian key is never a command-line argument (anyone on the machine can read those): set CONSENT_GATEWAY_PRIVATE_KEY",
  "--master-key":
    "the master key is never a command-line argument: set CONSENT_GATEWAY_MASTER_KEY or pass --master-key-file",
};

function integer(name: string, min: number, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value.trim()))
      throw new CommanderArgumentError(
        `${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`,
      );
    const number = Number(value);
    if (number < min || number > max)
      throw new CommanderArgumentError(`${name} must be from ${min} to ${max}, got ${value}`);
    return number;
  };
}

function url(name: string, protocols: readonly string[]) {
  return (value: string): string => {
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw new CommanderArgumentError(
        `${name} must be a URL such as http://127.0.0.1:8545, got ${JSON.stringify(value)}`,
      );
    }
    if (!protocols.includes(parsed.protocol)) {
      throw new CommanderArgumentError(
        `${name} must use ${protocols.map((p) => p.replace(":", "")).join(" or ")}, got ${parsed.protocol.replace(":", "")}`,
      );
    }
    return value;
  };
}

function urls(name: string) {
  const one = url(name, ["http:", "https:"]);
  return (value: string, previous: string[] = []): string[] => [...previous, new URL(one(value)).origin];
}

function address(name: string) {
  return (value: string, previous: string[] = []): string[] => {
    try {
      return [...previous, getAddress(value)];
    } catch {
      throw new CommanderArgumentError(
        `${name} must be a 0x-prefixed 40-hex-digit address, got ${JSON.stringify(value)}`,
      );
    }
  };
}

/** The command-line definition (also prints --help). */
export function gatewayCommand(): Command {
  return new Command("consent-gateway")
    .description("Custodian gateway: releases data keys only when the chain says the requester may read the record.")
    .addOption(
      new Option("--rpc <url>", "JSON-RPC endpoint of the chain")
        .env("CONSENT_GATEWAY_RPC")
        .argParser(url("--rpc", ["http:", "https:"])),
    )
    .addOption(
      new Option("--port <n>", "port to listen on (0: any free port)")
        .env("CONSENT_GATEWAY_PORT")
        .argParser(integer("--port", 0, 65535))
        .default(DEFAULTS.port),
    )
    .addOption(
      new Option("--host <address>", "address to listen on").env("CONSENT_GATEWAY_HOST").default(DEFAULTS.host),
    )
    .addOption(
      new Option("--data-dir <dir>", "where the database and blobs live")
        .env("CONSENT_GATEWAY_DATA_DIR")
        .default(DEFAULTS.dataDir),
    )
    .addOption(new Option("--deployment <file>", "deployment file (default deployments/<chainId>.json)"))
    .addOption(
      new Option("--public-url <url>", "the origin clients reach this gateway at (default http://<host>:<port>)")
        .env("CONSENT_GATEWAY_PUBLIC_URL")
        .argParser(url("--public-url", ["http:", "https:"])),
    )
    .addOption(
      new Option("--master-key-file <file>", "file holding the 32-byte master key (64 hex digits or raw bytes)"),
    )
    .addOption(
      new Option("--log-batch-size <n>", "flush the access log once this many releases are pending")
        .argParser(integer("--log-batch-size", 1, 1000))
        .default(DEFAULTS.logBatchSize),
    )
    .addOption(
      new Option("--log-interval-ms <ms>", "flush the access log at least this often")
        .argParser(integer("--log-interval-ms", 50, 3_600_000))
        .default(DEFAULTS.logIntervalMs),
    )
    .addOption(
      new Option("--challenge-ttl <seconds>", "how long a login challenge may be signed")
        .argParser(integer("--challenge-ttl", 1, 3600))
        .default(DEFAULTS.challengeTtlSeconds),
    )
    .addOption(
      new Option("--session-ttl <seconds>", `how long a session lasts (at most ${MAX_SESSION_TTL_SECONDS})`)
        .argParser(integer("--session-ttl", 1, MAX_SESSION_TTL_SECONDS))
        .default(DEFAULTS.sessionTtlSeconds),
    )
    .addOption(
      new Option("--provider <address>", "another provider whose records this gateway accepts (repeatable)")
        .argParser(address("--provider"))
        .default([]),
    )
    .addOption(
      new Option("--rate-limit <n>", "requests per account per minute to the record routes (0: no limit)")
        .env("CONSENT_GATEWAY_RATE_LIMIT")
        .argParser(integer("--rate-limit", 0, 1_000_000))
        .default(DEFAULTS.rateLimitPerMinute),
    )
    .addOption(
      new Option("--max-record-bytes <n>", "the largest envelope a provider may stream to PUT /records/:recordId")
        .env("CONSENT_GATEWAY_MAX_RECORD_BYTES")
        .argParser(integer("--max-record-bytes", 1024, Number.MAX_SAFE_INTEGER))
        .default(DEFAULTS.maxRecordBytes),
    )
    .addOption(
      new Option(
        "--challenge-rate-limit <n>",
        "login challenges per client address per minute (0: no limit, e.g. behind a proxy that limits them)",
      )
        .env("CONSENT_GATEWAY_CHALLENGE_RATE_LIMIT")
        .argParser(integer("--challenge-rate-limit", 0, 1_000_000))
        .default(DEFAULTS.challengesPerMinute),
    )
    .addOption(
      new Option(
        "--confirmations <n>",
        "blocks that must follow what allows a release before a key goes out (0 for a chain with instant finality)",
      )
        .env("CONSENT_GATEWAY_CONFIRMATIONS")
        .argParser(integer("--confirmations", 0, 10_000))
        .default(DEFAULTS.confirmations),
    )
    .addOption(
      new Option(
        "--resync-from <url>",
        "after start, fetch the missing ciphertext of this custodian's sets from this peer custodian's gateway (repeatable)",
      )
        .argParser(urls("--resync-from"))
        .default([]),
    )
    .addOption(
      new Option("--log-level <level>", "log level")
        .env("CONSENT_GATEWAY_LOG_LEVEL")
        .choices(LOG_LEVELS)
        .default(DEFAULTS.logLevel),
    )
    .helpOption("-h, --help", "show this help")
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
}

/**
 * Runs a Commander `command` (built with exitOverride) on `argv` and exactly `env`: HelpRequested for
 * --help, a one-line ConfigError for anything Commander refuses. Shared by the gateway's commands.
 */
export function parseCommand(command: Command, argv: readonly string[], env: NodeJS.ProcessEnv): void {
  // Commander reads .env() variables from process.env: give it exactly `env`.
  const saved = process.env;
  process.env = { ...env };
  try {
    command.parse([...argv], { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.help")
        throw new HelpRequested(command.helpInformation());
      throw new ConfigError(error.message.replace(/^error: /, "").split("\n")[0] + " (see --help)");
    }
    throw error;
  } finally {
    process.env = saved;
  }
}

/** Parses `argv` (without node and script) and `env` into a checked configuration; throws ConfigError. */
export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv): GatewayConfig {
  for (const arg of argv) {
    const flag = arg.split("=")[0];
    if (flag in FORBIDDEN_FLAGS) throw new ConfigError(FORBIDDEN_FLAGS[flag]);
  }
  const command = gatewayCommand();
  parseCommand(command, argv, env);
  const options = command.opts<{
    rpc?: string;
    port: number;
    host: string;
    dataDir: string;
    deployment?: string;
    publicUrl?: string;
    masterKeyFile?: string;
    logBatchSize: number;
    logIntervalMs: number;
    challengeTtl: number;
    sessionTtl: number;
    provider: string[];
    rateLimit: number;
    challengeRateLimit: number;
    maxRecordBytes: number;
    confirmations: number;
    resyncFrom: string[];
    logLevel: GatewayConfig["logLevel"];
  }>();

  if (!options.rpc)
    throw new ConfigError(
      "no chain to talk to: pass --rpc <url> or set CONSENT_GATEWAY_RPC (e.g. http://127.0.0.1:8545)",
    );
  if (options.host.trim() === "") throw new ConfigError("--host must not be empty");
  if (options.deployment !== undefined) requireReadableFile(options.deployment, "--deployment");

  return {
    rpcUrl: options.rpc,
    host: options.host,
    port: options.port,
    dataDir: path.resolve(options.dataDir),
    deploymentFile: options.deployment === undefined ? undefined : path.resolve(options.deployment),
    publicUrl: options.publicUrl === undefined ? undefined : new URL(options.publicUrl).origin,
    privateKey: privateKeyFrom(env),
    masterKey: masterKeyFrom(env, options.masterKeyFile),
    logBatchSize: options.logBatchSize,
    logIntervalMs: options.logIntervalMs,
    challengeTtlSeconds: options.challengeTtl,
    sessionTtlSeconds: options.sessionTtl,
    providers: options.provider,
    rateLimitPerMinute: options.rateLimit,
    challengesPerMinute: options.challengeRateLimit,
    maxRecordBytes: options.maxRecordBytes,
    confirmations: options.confirmations,
    resyncFrom: options.resyncFrom,
    logLevel: options.logLevel,
  };
}

function requireReadableFile(file: string, flag: string): void {
  let isFile: boolean;
  try {
    isFile = statSync(file).isFile();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(`${flag} ${file}: ${code === "ENOENT" ? "no such file" : `cannot be read (${code})`}`);
  }
  if (!isFile) throw new ConfigError(`${flag} ${file} is not a file`);
}

function privateKeyFrom(env: NodeJS.ProcessEnv): string {
  const raw = env.CONSENT_GATEWAY_PRIVATE_KEY?.trim();
  if (!raw)
    throw new ConfigError(
      "no custodian key: set CONSENT_GATEWAY_PRIVATE_KEY to the custodian account's private key (0x + 64 hex digits)",
    );
  const key = raw.startsWith("0x") ? raw : `0x${raw}`;
  if (!isHexString(key, 32)) throw new ConfigError("CONSENT_GATEWAY_PRIVATE_KEY must be 0x followed by 64 hex digits");
  try {
    new SigningKey(key);
  } catch {
    throw new ConfigError("CONSENT_GATEWAY_PRIVATE_KEY is not a valid secp256k1 private key");
  }
  return key;
}

/**
 * A master key from its environment variable or its file flag (exactly one): 64 hex digits, or a file of
 * them or of the 32 raw bytes. `what` names it in messages ("master key", "new master key").
 */
export function masterKeyFrom(
  env: NodeJS.ProcessEnv,
  file: string | undefined,
  names: { variable: string; flag: string; what: string } = {
    variable: "CONSENT_GATEWAY_MASTER_KEY",
    flag: "--master-key-file",
    what: "master key",
  },
): Uint8Array {
  const fromEnv = env[names.variable]?.trim();
  if (fromEnv && file)
    throw new ConfigError(`the ${names.what} is given twice: set ${names.variable} or pass ${names.flag}, not both`);
  if (fromEnv) return parseMasterKeyHex(fromEnv, names.variable);
  if (file) {
    requireReadableFile(file, names.flag);
    const bytes = readFileSync(file);
    if (bytes.length === 32) return new Uint8Array(bytes);
    return parseMasterKeyHex(bytes.toString("utf8").trim(), `${names.flag} ${file}`);
  }
  throw new ConfigError(
    `no ${names.what}: set ${names.variable} to 64 hex digits or pass ${names.flag} (generate one with: openssl rand -hex 32)`,
  );
}

function parseMasterKeyHex(value: string, source: string): Uint8Array {
  const hex = value.startsWith("0x") || value.startsWith("0X") ? value.slice(2) : value;
  if (!/^[0-9a-fA-F]{64}$/.test(hex))
    throw new ConfigError(`${source} must hold 64 hex digits (32 bytes), got ${hex.length} characters`);
  if (/^0+$/.test(hex))
    throw new ConfigError(`${source} is all zero: generate a random master key (openssl rand -hex 32)`);
  return Uint8Array.from(Buffer.from(hex, "hex"));
}
