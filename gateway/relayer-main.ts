/**
 * The consent relayer's command line (gateway/relayer.ts):
 *
 *   CONSENT_RELAYER_PRIVATE_KEY=0x... npm run relayer -- --rpc http://127.0.0.1:8545 --deployment deployments/31337.json
 *
 * Flags: --rpc URL, --deployment FILE, --host (127.0.0.1), --port (8790), --per-signer N, --per-ip N,
 * --max-gas N, --daily-gas N, --min-seconds-ahead N, --trust-proxy HOPS|ADDR,ADDR (default: trust no
 * proxy; a hop count or the proxies' addresses, never "every hop"), --max-pending N (64),
 * --check-timeout-ms N (15000), --send-timeout-ms N (30000), --max-reverts N (3), --revert-window
 * SECONDS (3600); fee bumping: --bump-after SECONDS (60), --fee-bump-percent P (12.5, at least 10),
 * --max-fee-gwei G (500, the ceiling on maxFeePerGas); --store FILE (or CONSENT_RELAYER_STORE; default
 * .relayer/relayer-<chainId>.sqlite: in-flight sends, revert records and the day's budget survive a
 * restart). The key is read from the environment only, never a flag (flags show in `ps`). Fund that
 * account, and only it: it pays for every relayed message. One process per account and store (it counts
 * the account's nonces itself). A bad flag prints one line and exits 2.
 */
import { readFileSync } from "node:fs";
import path from "node:path";

import { parseUnits } from "ethers";

import {
  DEFAULT_FEE_OPTIONS,
  DEFAULT_RELAYER_LIMITS,
  startRelayer,
  type FeeOptions,
  type RelayerLimits,
} from "./relayer";

const NAME = "consent-relayer";

function parse(argv: string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (!flag.startsWith("--")) throw new Error(`unexpected argument ${flag}`);
    if (i + 1 < argv.length) flags.set(flag.slice(2), argv[++i]);
    else throw new Error(`${flag} needs a value`);
  }
  const known = [
    "rpc",
    "deployment",
    "host",
    "port",
    "per-signer",
    "per-ip",
    "max-gas",
    "daily-gas",
    "min-seconds-ahead",
    "trust-proxy",
    "max-pending",
    "check-timeout-ms",
    "send-timeout-ms",
    "max-reverts",
    "revert-window",
    "bump-after",
    "fee-bump-percent",
    "max-fee-gwei",
    "store",
  ];
  for (const name of flags.keys()) if (!known.includes(name)) throw new Error(`unknown flag --${name}`);
  return flags;
}

function whole(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new Error(`--${name} must be a whole number, got ${value}`);
  return Number(value);
}

function decimal(value: string | undefined, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(value)) throw new Error(`--${name} must be a number, got ${value}`);
  return value;
}

async function main(): Promise<number> {
  let config;
  try {
    const flags = parse(process.argv.slice(2));
    const privateKey = process.env.CONSENT_RELAYER_PRIVATE_KEY;
    if (!privateKey || !/^0x[0-9a-fA-F]{64}$/.test(privateKey))
      throw new Error("set CONSENT_RELAYER_PRIVATE_KEY to the relayer account's 0x-hex private key");
    const rpcUrl = flags.get("rpc") ?? "http://127.0.0.1:8545";
    const file = flags.get("deployment");
    if (!file) throw new Error("--deployment FILE is required (as scripts/deploy.ts writes it)");
    const limits: Partial<RelayerLimits> = {
      perSignerPerMinute: whole(flags.get("per-signer"), "per-signer") ?? DEFAULT_RELAYER_LIMITS.perSignerPerMinute,
      perIpPerMinute: whole(flags.get("per-ip"), "per-ip") ?? DEFAULT_RELAYER_LIMITS.perIpPerMinute,
      maxGasPerMessage: BigInt(whole(flags.get("max-gas"), "max-gas") ?? DEFAULT_RELAYER_LIMITS.maxGasPerMessage),
      dailyGasBudget: BigInt(whole(flags.get("daily-gas"), "daily-gas") ?? DEFAULT_RELAYER_LIMITS.dailyGasBudget),
      minSecondsAhead:
        whole(flags.get("min-seconds-ahead"), "min-seconds-ahead") ?? DEFAULT_RELAYER_LIMITS.minSecondsAhead,
      maxPending: whole(flags.get("max-pending"), "max-pending") ?? DEFAULT_RELAYER_LIMITS.maxPending,
      checkTimeoutMs: whole(flags.get("check-timeout-ms"), "check-timeout-ms") ?? DEFAULT_RELAYER_LIMITS.checkTimeoutMs,
      sendTimeoutMs: whole(flags.get("send-timeout-ms"), "send-timeout-ms") ?? DEFAULT_RELAYER_LIMITS.sendTimeoutMs,
      maxRevertsPerWindow: whole(flags.get("max-reverts"), "max-reverts") ?? DEFAULT_RELAYER_LIMITS.maxRevertsPerWindow,
      revertWindowSeconds:
        whole(flags.get("revert-window"), "revert-window") ?? DEFAULT_RELAYER_LIMITS.revertWindowSeconds,
    };
    const bumpAfter = whole(flags.get("bump-after"), "bump-after");
    const percent = decimal(flags.get("fee-bump-percent"), "fee-bump-percent");
    if (percent !== undefined && Number(percent) < 10)
      throw new Error(`--fee-bump-percent must be at least 10 (nodes refuse smaller replacements), got ${percent}`);
    const ceiling = decimal(flags.get("max-fee-gwei"), "max-fee-gwei");
    const fees: Partial<FeeOptions> = {
      bumpAfterMs: bumpAfter === undefined ? DEFAULT_FEE_OPTIONS.bumpAfterMs : bumpAfter * 1000,
      feeBumpPercent: percent === undefined ? DEFAULT_FEE_OPTIONS.feeBumpPercent : Number(percent),
      maxFeePerGasCeiling:
        ceiling === undefined ? DEFAULT_FEE_OPTIONS.maxFeePerGasCeiling : parseUnits(ceiling, "gwei"),
    };
    if (fees.maxFeePerGasCeiling === 0n) throw new Error("--max-fee-gwei must be more than 0");
    const trust = flags.get("trust-proxy");
    const deployment = JSON.parse(readFileSync(file, "utf8")) as { chainId?: unknown };
    const storePath =
      flags.get("store") ??
      process.env.CONSENT_RELAYER_STORE ??
      path.join(".relayer", `relayer-${String(deployment.chainId ?? "unknown")}.sqlite`);
    config = {
      rpcUrl,
      privateKey,
      deployment: deployment as unknown,
      storePath,
      fees,
      host: flags.get("host") ?? "127.0.0.1",
      port: whole(flags.get("port"), "port") ?? 8790,
      limits,
      trustProxy:
        trust === undefined
          ? undefined
          : /^\d+$/.test(trust)
            ? Number(trust)
            : trust.split(",").map((entry) => entry.trim()),
      logger: true,
    };
  } catch (error) {
    process.stderr.write(`${NAME}: ${(error as Error).message}\n`);
    return 2;
  }
  const relayer = await startRelayer(config).catch((error: unknown) => {
    process.stderr.write(`${NAME}: cannot start: ${(error as Error).message.split("\n")[0]}\n`);
    return undefined;
  });
  if (!relayer) return 1;
  process.stdout.write(`${NAME}: relaying as ${relayer.relayer} at ${relayer.url}\n`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await relayer.close();
  return 0;
}

main().then((code) => process.exit(code));
