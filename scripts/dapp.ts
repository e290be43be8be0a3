/**
 * The patient's consent dashboard (dapp/) against a local chain holding the demo's data:
 *
 *   npm run dapp                                  # starts a hardhat node on 127.0.0.1:8545, builds and serves the page
 *   npm run dapp -- --dev                         # Vite's dev server instead (hot reload), on 5173
 *   npm run dapp -- --rpc http://127.0.0.1:8545   # use a node you started (`npx hardhat node`)
 *   npm run dapp -- --port 8080 --node-port 9545
 *
 * It deploys the suite, seeds the demo's story (scripts/lib/seed-demo.ts), starts the hospital's custodian
 * gateway and the page's server, prints the URL and which development account is the patient, and runs
 * until Ctrl-C, when it stops all of it. Everything listens on 127.0.0.1 only.
 */
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";

import { Command, InvalidArgumentError, Option } from "commander";

import { buildDapp, DAPP_DIR } from "./lib/dapp-server";
import { startDappStack } from "./lib/dapp-stack";

const port = (name: string) => (value: string) => {
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < 1 || number > 65535)
    throw new InvalidArgumentError(`${name} must be a port from 1 to 65535`);
  return number;
};

async function main() {
  const options = new Command("npm run dapp --")
    .description("The patient's consent dashboard on a local chain with the demo's data.")
    .addOption(new Option("--rpc <url>", "use this node (with Hardhat's default accounts) instead of starting one"))
    .addOption(
      new Option("--node-port <port>", "port of the hardhat node this starts")
        .default(8545)
        .argParser(port("--node-port")),
    )
    .addOption(
      new Option("--port <port>", "port of the page (default 5173 with --dev, else 4173)").argParser(port("--port")),
    )
    .addOption(new Option("--dev", "serve with Vite's dev server (hot reload) instead of a build"))
    .parse(process.argv)
    .opts<{ rpc?: string; nodePort: number; port?: number; dev?: boolean }>();

  const started = Date.now();
  const say = (line: string) => console.log(line);
  const pagePort = options.port ?? (options.dev ? 5173 : 4173);
  // One folder per page port, so two dashboards (say, one on another node with --rpc) never share one.
  const dataDir = path.resolve(".dapp", String(pagePort));
  await rm(dataDir, { recursive: true, force: true });
  await mkdir(dataDir, { recursive: true });

  let page: { dir: string } | "vite" = "vite";
  if (!options.dev) {
    const outDir = path.join(DAPP_DIR, "dist");
    say("Building the page (vite build)...");
    await buildDapp(outDir);
    page = { dir: outDir };
  }
  const stack = await startDappStack({
    rpcUrl: options.rpc,
    nodePort: options.nodePort,
    page,
    port: pagePort,
    dataDir,
    say,
  });

  const { patient, cast } = stack;
  console.log(`
Consent dashboard ready in ${((Date.now() - started) / 1000).toFixed(1)} s:

  ${stack.pageUrl}

  You are patient A: development account #${patient.index}, ${patient.address}
  (the node's accounts are unlocked; the page signs with it through the node). Other accounts are in
  the page's account menu: patient B #5, patient C #6, and the demo's researchers and hospital.

  Browser wallet: add the network http://${new URL(stack.rpcUrl).host} (chain ${stack.deployment.chainId}) to your wallet and
  import patient A's development key (Hardhat's public test account #${patient.index}: never for real funds),
  then choose "Browser wallet" in the page's account menu.

  Node     ${stack.rpcUrl}
  Gateway  ${stack.gatewayUrl} (custodian ${cast.hospital.address})
  Ledger   ${stack.deployment.ledger}, deployment file ${path.relative(process.cwd(), stack.deploymentsDir)}/${stack.deployment.chainId}.json
  Relayer  ${stack.relayerUrl} (development account #8 ${stack.relayerAccount}) sends grants, revocations and
           decisions gasless, by default from the page and from the CLI (it is the deployment file's "relayer")
  Signed   development account #7 ${cast.relayer.address} submits what "Sign instead of sending" signs

Ctrl-C stops everything.`);

  await new Promise<void>((resolve) => {
    const stop = () => {
      process.removeAllListeners("SIGINT");
      process.removeAllListeners("SIGTERM");
      console.log("\nStopping...");
      stack.close().finally(resolve);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`npm run dapp failed: ${(error as Error)?.message ?? String(error)}`);
    process.exit(1);
  },
);
