/**
 * A local custodian set for development: n custodian gateways on one development chain, in one process.
 *
 *   npx hardhat node                                   # in another terminal
 *   npm run deploy -- --network localhost              # writes deployments/31337.json (with CustodianSets)
 *   npm run custodians -- --n 3 --k 2                  # custodians on ports 8801.., a 2-of-3 set
 *
 * Development chains only (31337, 1337): custodians are the node's public test accounts 10, 11, ...
 * (their keys are published with Hardhat), accredited CUSTODIAN by account 0 (the administrator `npm
 * run deploy` leaves) with their encryption keys registered; the set is defined by --provider-account
 * (default 1, accredited PROVIDER here if it is not). Data directories are .custodians/<n>/ (kept across
 * runs, with a master key file each). Every gateway is the real one (gateway/start.ts): in production,
 * each custodian runs its own `npm run gateway` on its own machine. Ctrl-C stops them all.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";

import { HDNodeWallet, JsonRpcProvider, Wallet } from "ethers";

import { AdminClient } from "../sdk/clients/admin";
import { CustodianSetClient } from "../sdk/clients/custodian-set";
import { connect } from "../sdk/chain/connect";
import { Role } from "../sdk/codes";
import { deriveEncryptionKeyPair, publicKeyToBytes32 } from "../sdk/crypto/keys";
import { loadDeployment } from "../sdk/deployments";
import { DEFAULTS } from "../gateway/config";
import { startGateway, type RunningGateway } from "../gateway/start";

const MNEMONIC = "test test test test test test test test test test test junk";
const FIRST_CUSTODIAN_ACCOUNT = 10;

class UsageError extends Error {}

function devWallet(index: number, provider: JsonRpcProvider): Wallet {
  const { privateKey } = HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${index}`);
  return new Wallet(privateKey, provider);
}

function wholeNumber(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number < min || number > max)
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      n: { type: "string" },
      k: { type: "string" },
      rpc: { type: "string" },
      "base-port": { type: "string" },
      "data-dir": { type: "string" },
      "provider-account": { type: "string" },
    },
  });
  const n = wholeNumber("n", values.n, 3, 2, 10);
  const k = wholeNumber("k", values.k, 2, 2, n);
  const basePort = wholeNumber("base-port", values["base-port"], 8801, 1, 65_535 - n);
  const providerAccount = wholeNumber("provider-account", values["provider-account"], 1, 1, 9);
  const rpcUrl = values.rpc ?? "http://127.0.0.1:8545";
  const root = path.resolve(values["data-dir"] ?? ".custodians");

  // No response cache: one account sends several transactions in a row, each needing the next nonce.
  const provider = new JsonRpcProvider(rpcUrl, undefined, { cacheTimeout: -1 });
  const { chainId } = await provider.getNetwork().catch((cause: Error) => {
    throw new UsageError(`cannot reach the node at ${rpcUrl} (${cause.message}): start one with npx hardhat node`);
  });
  if (chainId !== 31337n && chainId !== 1337n)
    throw new UsageError(
      `chain ${chainId} is not a development chain: this helper uses public test keys; run npm run gateway per custodian instead`,
    );
  const deployment = await loadDeployment(chainId);
  if (!deployment.custodianSets)
    throw new UsageError(
      `deployments/${chainId}.json names no custodianSets: redeploy (npm run deploy -- --network localhost)`,
    );

  const admin = devWallet(0, provider);
  const providerWallet = devWallet(providerAccount, provider);
  const adminClient = new AdminClient(await connect(admin, deployment), admin);
  const contracts = await connect(admin, deployment);
  if (!(await contracts.ledger.isAccredited(providerWallet.address, Role.PROVIDER)))
    await (await adminClient.accredit({ party: providerWallet.address, roles: ["PROVIDER"] })).wait();

  const gateways: RunningGateway[] = [];
  const custodians: string[] = [];
  const stopAll = () => Promise.all(gateways.map((gateway) => gateway.close({ flush: true, flushTimeoutMs: 10_000 })));
  try {
    for (let i = 0; i < n; i++) {
      const wallet = devWallet(FIRST_CUSTODIAN_ACCOUNT + i, provider);
      custodians.push(wallet.address);
      if (!(await contracts.ledger.isAccredited(wallet.address, Role.CUSTODIAN)))
        await (await adminClient.accredit({ party: wallet.address, roles: ["CUSTODIAN"] })).wait();
      const keyPair = await deriveEncryptionKeyPair(wallet);
      const registered = publicKeyToBytes32(keyPair.publicKey);
      if ((await contracts.keys.keyOf(wallet.address)) !== registered)
        await (await contracts.keys.connect(wallet).registerKey(registered)).wait();
      const dataDir = path.join(root, String(i + 1));
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      const keyFile = path.join(dataDir, "master-key.hex");
      if (!existsSync(keyFile)) {
        writeFileSync(keyFile, Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex") + "\n", {
          mode: 0o600,
        });
        chmodSync(keyFile, 0o600);
      }
      gateways.push(
        await startGateway({
          rpcUrl,
          host: "127.0.0.1",
          port: basePort + i,
          dataDir: path.join(dataDir, "gateway"),
          privateKey: wallet.privateKey,
          masterKey: Uint8Array.from(Buffer.from(readFileSync(keyFile, "utf8").trim(), "hex")),
          logBatchSize: DEFAULTS.logBatchSize,
          logIntervalMs: DEFAULTS.logIntervalMs,
          challengeTtlSeconds: DEFAULTS.challengeTtlSeconds,
          sessionTtlSeconds: DEFAULTS.sessionTtlSeconds,
          providers: [providerWallet.address],
          logLevel: "warn",
        }),
      );
    }
    const sets = new CustodianSetClient(await connect(providerWallet, deployment), providerWallet, {});
    const set = await (await sets.defineSet(custodians, k)).wait();
    console.log(
      JSON.stringify(
        {
          setId: set.setId,
          threshold: set.threshold,
          provider: providerWallet.address,
          custodians: custodians.map((custodian, i) => ({
            custodian,
            url: gateways[i].url,
            dataDir: path.join(root, String(i + 1)),
          })),
        },
        null,
        2,
      ),
    );
    console.log(
      `custodian set ${set.setId}: ${k} of ${n}, serving ${providerWallet.address}'s records; Ctrl-C stops it`,
    );
  } catch (error) {
    await stopAll();
    provider.destroy();
    throw error;
  }
  await new Promise<void>((resolve) => {
    const stop = () => void stopAll().finally(resolve);
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  provider.destroy();
}

main().then(
  () => setTimeout(() => process.exit(0), 500).unref(),
  (error: unknown) => {
    process.stderr.write(
      `custodians: ${error instanceof UsageError ? error.message : ((error as Error)?.message ?? String(error)).split("\n")[0]}\n`,
    );
    process.exitCode = error instanceof UsageError ? 2 : 1;
  },
);
