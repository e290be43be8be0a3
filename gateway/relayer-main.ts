/**
 * The consent relayer's command line (gateway/relayer.ts):
 *
 *   CONSENT_RELAYER_PRIVATE_KEY=0x... npm run relayer -- --rpc http://127.0.0.1:8545 --deployment deployments/31337.json
 *
 * Flags: --rpc URL, --deployment FILE, --host (127.0.0.1), --port (8790), --per-signer N, --per-ip N,
 * --max-gas N, --daily-gas N, --min-seconds-ahead N, --trust-proxy HOPS|ADDR,ADDR (default: trust no
 * proxy; a hop count or the proxies' addresses, never "every hop"). The key is read from the environment only, never a flag
 * (flags show in `ps`). Fund that account, and only it: it pays for every relayed message. One process
 * per account (it counts the account's nonces itself). A bad flag prints one line and exits 2.
 */
import { readFileSync } from "node:fs";

import { DEFAULT_RELAYER_LIMITS, startRelayer, type RelayerLimits } from "./relayer";

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
  ];
  for (const name of flags.keys()) if (!known.includes(name)) throw new Error(`unknown flag --${name}`);
  return flags;
}

function whole(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new Error(`--${name} must be a whole number, got ${value}`);
  return Number(value);
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
    };
    const trust = flags.get("trust-proxy");
    config = {
      rpcUrl,
      privateKey,
      deployment: JSON.parse(readFileSync(file, "utf8")) as unknown,
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
