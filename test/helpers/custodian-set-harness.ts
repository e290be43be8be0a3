/**
 * A custodian set on a real node: CustodianSets deployed beside the suite of `setupLedger`, n
 * custodians accredited CUSTODIAN with their encryption keys registered, one real gateway each on
 * loopback (all serving the hospital's records), and the set defined by the hospital.
 */
import { writeFileSync } from "node:fs";

import { parseEther, toBeHex, Wallet } from "ethers";

import { AdminClient } from "../../sdk/clients/admin";
import { CustodianSetClient } from "../../sdk/clients/custodian-set";
import { GatewayClient } from "../../sdk/clients/gateway";
import { ProviderClient } from "../../sdk/clients/provider";
import { ResearcherClient } from "../../sdk/clients/researcher";
import { connect, type LedgerContracts } from "../../sdk/chain/connect";
import { deriveEncryptionKeyPair, publicKeyToBytes32, type EncryptionKeyPair } from "../../sdk/crypto/keys";
import { MemoryBlobStore } from "../../sdk/storage/blob-store";
import { CustodianSets__factory, KeyDirectory__factory } from "../../typechain-types";
import type { GatewayConfig } from "../../gateway/config";
import type { RunningGateway } from "../../gateway/start";
import { hardhatPrivateKey, startTestGateway, type LedgerSetup } from "./gateway-harness";

/** Node accounts 10, 11, 12, ...: the set's custodians (a hospital's IT, a foundation, a university). */
export const FIRST_CUSTODIAN_ACCOUNT = 10;

export interface CustodianSetup {
  /** Each custodian's account, in set order. */
  custodians: string[];
  privateKeys: string[];
  gateways: RunningGateway[];
  configs: GatewayConfig[];
  setId: number;
  /** Starts custodian `index`'s gateway again (same data directory unless given another). */
  restart(index: number, overrides?: Partial<GatewayConfig>): Promise<RunningGateway>;
  close(): Promise<void>;
}

/** Deploys CustodianSets and rewrites the setup's deployment (object and file) to name it. */
export async function deployCustodianSets(setup: LedgerSetup): Promise<void> {
  if (setup.deployment.custodianSets) return;
  const sets = await (
    await new CustodianSets__factory(setup.signers.admin).deploy(setup.deployment.ledger, setup.deployment.records)
  ).waitForDeployment();
  setup.deployment.custodianSets = await sets.getAddress();
  writeFileSync(setup.deploymentFile, JSON.stringify(setup.deployment, null, 2));
}

/**
 * Deploys CustodianSets if needed, and accredits node accounts 10, 11, ... (n of them) as CUSTODIAN with
 * the encryption key their gateways derive registered in KeyDirectory.
 */
export async function prepareCustodians(
  setup: LedgerSetup,
  n: number,
): Promise<{ privateKeys: string[]; custodians: string[] }> {
  await deployCustodianSets(setup);
  const admin = new AdminClient(await setup.as(setup.signers.admin), setup.signers.admin);
  const privateKeys = Array.from({ length: n }, (_, i) => hardhatPrivateKey(FIRST_CUSTODIAN_ACCOUNT + i));
  const custodians = privateKeys.map((key) => new Wallet(key).address);
  for (const [index, custodian] of custodians.entries()) {
    if (!(await setup.contracts.ledger.isAccredited(custodian, 4)))
      await (await admin.accredit({ party: custodian, roles: ["CUSTODIAN"] })).wait();
    // The gateway derives the same key from the same account key at start.
    const keyPair = await deriveEncryptionKeyPair(new Wallet(privateKeys[index]));
    // A Wallet, not the node's account: anvil unlocks only accounts 0-9 (and funds them only).
    const signer = new Wallet(privateKeys[index], setup.provider);
    if ((await setup.provider.getBalance(custodian)) === 0n) {
      const balance = toBeHex(parseEther("100"));
      await setup.provider
        .send("hardhat_setBalance", [custodian, balance])
        .catch(() => setup.provider.send("anvil_setBalance", [custodian, balance]));
    }
    await (
      await KeyDirectory__factory.connect(setup.deployment.keys, signer).registerKey(
        publicKeyToBytes32(keyPair.publicKey),
      )
    ).wait();
  }
  return { privateKeys, custodians };
}

/** n custodians with gateways, and a k-of-n set of them defined by the hospital. */
export async function startCustodianSet(
  setup: LedgerSetup,
  n: number,
  k: number,
  overrides: Partial<GatewayConfig> = {},
): Promise<CustodianSetup> {
  const { privateKeys, custodians } = await prepareCustodians(setup, n);
  const configs: GatewayConfig[] = [];
  const gateways: RunningGateway[] = [];
  for (const key of privateKeys) {
    const { gateway, config } = await startTestGateway(setup, {
      privateKey: key,
      providers: [setup.signers.hospital.address],
      logBatchSize: 50,
      logIntervalMs: 200,
      ...overrides,
    });
    configs.push(config);
    gateways.push(gateway);
  }
  const hospital = new CustodianSetClient(await setup.as(setup.signers.hospital), setup.signers.hospital, {});
  const set = await (await hospital.defineSet(custodians, k)).wait();
  const running = {
    custodians,
    privateKeys,
    gateways,
    configs,
    setId: set.setId,
    async restart(index: number, more: Partial<GatewayConfig> = {}) {
      await gateways[index].close().catch(() => undefined);
      // The same port, so the clients that know this custodian's URL reach it again.
      const port = Number(new URL(gateways[index].url).port);
      const { gateway, config } = await startTestGateway(setup, { ...configs[index], port, ...more });
      gateways[index] = gateway;
      configs[index] = config;
      return gateway;
    },
    async close() {
      await Promise.all(gateways.map((gateway) => gateway.close().catch(() => undefined)));
    },
  };
  return running;
}

/** Gateway clients for `signer`, one per custodian, by account. */
function gatewaysFor(
  set: CustodianSetup,
  signer: ConstructorParameters<typeof GatewayClient>[1],
  contracts: LedgerContracts,
  store?: MemoryBlobStore,
): Record<string, GatewayClient> {
  return Object.fromEntries(
    set.custodians.map((custodian, index) => [
      custodian,
      new GatewayClient(set.gateways[index].url, signer, contracts, { store }),
    ]),
  );
}

/** The hospital publishing through the real ProviderClient, its keys split across the set. */
export async function providerWithSet(setup: LedgerSetup, set: CustodianSetup) {
  const signer = setup.signers.hospital;
  const contracts = await connect(signer, setup.deployment);
  const store = new MemoryBlobStore();
  const custodian = new CustodianSetClient(contracts, signer, gatewaysFor(set, signer, contracts, store), set.setId, {
    store,
  });
  const provider = new ProviderClient(contracts, signer, store, custodian);
  return { provider, store, custodian, contracts };
}

/** A reader with a registered encryption key and a client of the whole set. */
export async function readerOfSet(
  setup: LedgerSetup,
  set: CustodianSetup,
  signer: LedgerSetup["signers"]["researcher"],
): Promise<{
  keyPair: EncryptionKeyPair;
  client: CustodianSetClient;
  contracts: LedgerContracts;
  gateways: Record<string, GatewayClient>;
}> {
  const contracts = await connect(signer, setup.deployment);
  const researcher = new ResearcherClient(contracts, signer);
  const keyPair = await researcher.deriveEncryptionKey();
  await (await researcher.registerEncryptionKey(keyPair)).wait();
  const gateways = gatewaysFor(set, signer, contracts);
  return { keyPair, client: new CustodianSetClient(contracts, signer, gateways), contracts, gateways };
}
