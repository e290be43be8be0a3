/**
 * The custodian gateway's command line:
 *
 *   CONSENT_GATEWAY_PRIVATE_KEY=0x... CONSENT_GATEWAY_MASTER_KEY=$(openssl rand -hex 32) \
 *     npm run gateway -- --rpc http://127.0.0.1:8545
 *
 * (flags in gateway/config.ts, or `npm run gateway -- --help`). A bad flag or variable, or a gateway that
 * cannot start (node unreachable, no deployment, custodian not accredited, data directory of another
 * chain or master key), prints one line to stderr and exits 2 (configuration) or 1 (start-up). SIGINT and
 * SIGTERM stop it gracefully: it stops taking requests, tries for up to 10 s to log pending releases on
 * chain, and closes its database. Whatever it could not log is logged at the next start.
 */
import { ConfigError, HelpRequested, parseConfig } from "./config";
import { FAULT_POINTS, type FaultPoint } from "./access-log-writer";
import { startGateway, StartupError } from "./start";

const NAME = "consent-gateway";

async function main(): Promise<number> {
  let config;
  try {
    config = parseConfig(process.argv.slice(2), process.env);
  } catch (error) {
    if (error instanceof HelpRequested) {
      process.stdout.write(error.text);
      return 0;
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`${NAME}: ${error.message}\n`);
      return 2;
    }
    throw error;
  }

  const fault = process.env.CONSENT_GATEWAY_FAULT;
  if (fault !== undefined && !FAULT_POINTS.includes(fault as FaultPoint)) {
    process.stderr.write(
      `${NAME}: CONSENT_GATEWAY_FAULT must be one of ${FAULT_POINTS.join(", ")} (crash testing only)\n`,
    );
    return 2;
  }

  let gateway;
  try {
    gateway = await startGateway(config, { faultPoint: fault as FaultPoint | undefined });
  } catch (error) {
    if (error instanceof StartupError) {
      process.stderr.write(`${NAME}: ${error.message}\n`);
      return 1;
    }
    process.stderr.write(`${NAME}: could not start: ${(error as Error)?.message?.split("\n")[0] ?? String(error)}\n`);
    return 1;
  }

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      gateway.app.log.info({ signal }, "stopping: finishing requests and logging pending releases");
      process.removeAllListeners("SIGINT");
      process.removeAllListeners("SIGTERM");
      gateway
        .close({ flush: true, flushTimeoutMs: 10_000 })
        .catch((error: unknown) => process.stderr.write(`${NAME}: error while stopping: ${(error as Error).message}\n`))
        .finally(resolve);
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
    // Whatever still holds the event loop (a keep-alive socket, a slow RPC) must not keep a stopped gateway alive.
    setTimeout(() => process.exit(code), 1000).unref();
  },
  (error: unknown) => {
    process.stderr.write(`${NAME}: ${(error as Error)?.message?.split("\n")[0] ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
