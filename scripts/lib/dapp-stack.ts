/**
 * Everything the patient dashboard needs on one machine, on loopback: a real `hardhat node` (or one at
 * `rpcUrl`), the suite deployed on it, the demo's data (scripts/lib/seed-demo.ts), the hospital's
 * custodian gateway (gateway/start.ts, so key releases reach the audit trail) and the dashboard's server
 * (scripts/lib/dapp-server.ts). Used by `npm run dapp` (scripts/dapp.ts) and test/dapp/dashboard.test.ts.
 * close() stops what it started, in reverse order, also after a failed start.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

import { HDNodeWallet, JsonRpcProvider, randomBytes } from "ethers";

import type { Deployment } from "../../sdk/chain/connect";
import { startGateway, type RunningGateway } from "../../gateway/start";
import { startRelayer } from "../../gateway/relayer";
import { startDappServer } from "./dapp-server";
import { startLocalNode, type LocalNode } from "./local-node";
import { studyIdOf } from "../../sdk/clients/requests";
import {
  accreditDemoCast,
  DEMO_CAST_INDEX,
  DEMO_STUDIES,
  deploySuiteOnNode,
  seedDemo,
  type DemoCast,
  type SeededDemo,
} from "./seed-demo";

/** The labels the demo's researchers publish for their studies (their own words). */
const DEMO_STUDY_TITLES: Record<(typeof DEMO_STUDIES)[number], string> = {
  "HbA1c-outcomes-2026": "Blood sugar (HbA1c) and long-term outcomes in diabetes",
  "GLP1-cardio-trial-2027": "GLP-1 medicines and heart health: a clinical trial",
};

/** Hardhat's (and anvil's) default development mnemonic: public test keys, never for real funds. */
const DEV_MNEMONIC = "test test test test test test test test test test test junk";
const devKey = (index: number) =>
  HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, `m/44'/60'/0'/0/${index}`).privateKey;

/** The development account the consent relayer sends from (the demo's cast uses 0-7). */
const CONSENT_RELAYER_INDEX = 8;

export interface DappStackOptions {
  /** Use the node at this URL instead of starting one (it must have the default development accounts). */
  rpcUrl?: string;
  /** Port for the node this starts (default: a free one). */
  nodePort?: number;
  /** The built page's folder, or "vite" for Vite's dev server. */
  page: { dir: string } | "vite";
  /** Port of the page (default: a free one; 5173 for the dev server). */
  port?: number;
  /** Where the deployment file and the gateway's data go (default: a new temporary folder, removed on close). */
  dataDir?: string;
  /** Progress lines; default silent. */
  say?: (line: string) => void;
}

export interface DappStack {
  /** The page, opening as the default patient. */
  pageUrl: string;
  /** The page's server, without a query. */
  url: string;
  rpcUrl: string;
  gatewayUrl: string;
  /** The consent relayer the pseudonyms act through (gateway/relayer.ts, development account #8). */
  relayerUrl: string;
  relayerAccount: string;
  deployment: Deployment;
  deploymentsDir: string;
  /** Where researchers' study labels are published (<studyId>.json, served at /studies/). */
  studiesDir: string;
  /** The dashboard's default patient (patient A) and its development account index. */
  patient: { address: string; index: number; name: string };
  cast: DemoCast;
  seeded: SeededDemo;
  /** Read-only provider on the node (cache off). */
  provider: JsonRpcProvider;
  close(): Promise<void>;
}

export async function startDappStack(options: DappStackOptions): Promise<DappStack> {
  const say = options.say ?? (() => undefined);
  const closers: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const closer of closers.reverse()) await closer().catch(() => undefined);
    closers.length = 0;
  };
  try {
    let node: LocalNode | undefined;
    if (!options.rpcUrl) {
      node = await startLocalNode({ port: options.nodePort });
      closers.push(() => (node as LocalNode).stop());
      say(`hardhat node at ${node.url}`);
    }
    const rpcUrl = options.rpcUrl ?? (node as LocalNode).url;
    const dataDir = options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), "consent-dapp-")));
    if (!options.dataDir) closers.push(() => rm(dataDir, { recursive: true, force: true }));
    const provider = new JsonRpcProvider(rpcUrl, undefined, { pollingInterval: 200, cacheTimeout: -1 });
    closers.push(async () => provider.destroy());

    const cast = Object.fromEntries(
      await Promise.all(
        Object.entries(DEMO_CAST_INDEX).map(async ([name, index]) => [name, await provider.getSigner(index)]),
      ),
    ) as DemoCast;
    if (
      HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, `m/44'/60'/0'/0/${DEMO_CAST_INDEX.hospital}`).address !==
      cast.hospital.address
    ) {
      throw new Error(
        `the node at ${rpcUrl} does not have Hardhat's default development accounts (its account 1 is ${cast.hospital.address})`,
      );
    }

    const deployment = await deploySuiteOnNode(cast.admin);
    const deploymentsDir = path.join(dataDir, "deployments");
    await mkdir(deploymentsDir, { recursive: true });
    const deploymentFile = path.join(deploymentsDir, `${deployment.chainId}.json`);
    await writeFile(deploymentFile, JSON.stringify(deployment, null, 2) + "\n");
    say(`suite deployed: ledger ${deployment.ledger} on chain ${deployment.chainId}`);

    // The gateway refuses to start for a custodian the ledger does not accredit: accredit first, as the demo does.
    await accreditDemoCast(deployment, cast);
    say(
      "accredited: hospital (provider + custodian), university (non-profit researcher), pharma (commercial researcher)",
    );

    const gateway: RunningGateway = await startGateway(
      {
        rpcUrl,
        host: "127.0.0.1",
        port: 0,
        dataDir: path.join(dataDir, "gateway"),
        deploymentFile,
        privateKey: devKey(DEMO_CAST_INDEX.hospital),
        masterKey: randomBytes(32),
        logBatchSize: 5,
        logIntervalMs: 1_000,
        challengeTtlSeconds: 300,
        sessionTtlSeconds: 900,
        providers: [],
        logLevel: "silent",
      },
      { logger: false },
    );
    closers.push(() => gateway.close({ flush: true, flushTimeoutMs: 5_000 }));
    say(`custodian gateway at ${gateway.url}`);

    const seeded = await seedDemo({ deployment, cast, gatewayUrl: gateway.url, say: (line) => say(`  ${line}`) });
    await gateway.writer.flushNow();
    say("the gateway logged its key releases on chain");

    // The researchers publish a label for each study they name; the chain holds only its keccak256.
    const studiesDir = path.join(dataDir, "studies");
    await mkdir(studiesDir, { recursive: true });
    for (const study of DEMO_STUDIES) {
      await writeFile(
        path.join(studiesDir, `${studyIdOf(study)}.json`),
        JSON.stringify({ study, title: DEMO_STUDY_TITLES[study] }) + "\n",
      );
    }

    // The pseudonyms' relayer, on its own account: it counts that account's nonces itself, so it must not
    // share one with /api/relay (cast.relayer).
    const relayer = await startRelayer({ rpcUrl, privateKey: devKey(CONSENT_RELAYER_INDEX), deployment });
    closers.push(() => relayer.close());
    say(`consent relayer at ${relayer.url} (account ${relayer.relayer})`);
    // The deployment names its relayer, so the CLI (which finds .dapp/<port>/deployments) uses it by default.
    await writeFile(deploymentFile, JSON.stringify({ ...deployment, relayer: relayer.url }, null, 2) + "\n");

    const labels = Object.fromEntries(seeded.names);
    const server = await startDappServer({
      page: options.page,
      port: options.port,
      deploymentsDir,
      studiesDir,
      gatewayUrl: gateway.url,
      relayer: cast.relayer,
      consentRelayerUrl: relayer.url,
      config: {
        rpcUrl,
        devAccounts: Object.entries(DEMO_CAST_INDEX).map(([name, index]) => ({
          index,
          name,
          address: cast[name as keyof DemoCast].address,
        })),
        defaultAccount: DEMO_CAST_INDEX.patientA,
        labels,
        studies: [...DEMO_STUDIES],
      },
    });
    closers.push(() => server.close());

    return {
      pageUrl: `${server.url}/?account=${DEMO_CAST_INDEX.patientA}`,
      url: server.url,
      rpcUrl,
      gatewayUrl: gateway.url,
      relayerUrl: relayer.url,
      relayerAccount: relayer.relayer,
      deployment,
      deploymentsDir,
      studiesDir,
      patient: { address: cast.patientA.address, index: DEMO_CAST_INDEX.patientA, name: "patientA" },
      cast,
      seeded,
      provider,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
