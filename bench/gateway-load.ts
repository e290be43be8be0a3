/**
 * Load test of the custodian gateway, on loopback only: a node (`hardhat node`, `anvil`, or one at
 * --rpc), the gateway (the real CLI, as a child process), many authenticated researchers, and consents
 * revoked (and mined) while they read.
 *
 *   npm run bench:gateway                          # hardhat, then anvil
 *   npm run bench:gateway -- --node anvil          # one node
 *   npm run bench:gateway -- --rpc http://127.0.0.1:8545 [--node-pid <pid>]   # a node already running
 *   npm run bench:gateway -- --node anvil --fault  # SIGKILL the gateway mid-run, restart it on the same data
 *   npm run bench:gateway -- --node anvil --set    # a 2-of-3 custodian set: three gateways, readers gather shares
 *   options: --researchers 20 --records 10 --patients 5 --concurrency 40 --closed-s 10 --open-s 10
 *            --offered-rate 300 --revocations 3 --batch-size 20 --interval-ms 1000 --no-write
 *
 * Per node, after a 2 s warm-up:
 *   - closed loop: --concurrency requests always in flight for --closed-s seconds: the maximum releases
 *     per second, their p50/p99 latency, and the CPU the gateway and the node spent per release, read
 *     from the processes' own counters (/proc/<pid>/stat utime + stime, all threads);
 *   - open loop: requests started at a fixed --offered-rate for --open-s seconds, whatever the answers;
 *     latency counted from each request's scheduled start (no coordinated omission).
 * In each phase --revocations consents are revoked (and mined) while requests run.
 *
 * What it checks, for every key a researcher received (all must be 0, else the run fails):
 *   - wrong: ConsentLedger.accessBasis(patient, researcher, class, purpose) by eth_call AT THE BLOCK THE
 *     GATEWAY SAYS IT CHECKED is None;
 *   - stale: the request started after a revocation of that consent was mined, yet the gateway checked
 *     a block before it;
 *   - bad key: the wrapped key does not unwrap to the record's data key;
 *   - the journal, the on-chain access log and what clients received disagree.
 * Writes bench/gateway.json ({"<node>": {releasesPerSecond, p50Ms, p99Ms, offeredRate, p99AtOfferedMs,
 * gatewayCpuMsPerRelease, nodeCpuMsPerRelease, wrongReleases}}), the details to bench/gateway-load.json,
 * and the table of docs/gateway.md's load-test section. A benchmark, not a test: `npm test` does not run it.
 *
 * With --set: the records are guarded by a 2-of-3 custodian set (docs/custodian-sets.md), three gateway
 * processes (node accounts 10, 11, 12), and each request is CustodianSetClient.gatherShares (the record's
 * set read from the chain, all three asked at once, the first two shares kept) and the key rebuilt. The
 * checks hold for every share the reader kept (its custodian's checked block), the rebuilt key must be the
 * record's, and each custodian's journal must match its own on-chain log. CPU is the three gateways'
 * together. Writes bench/custodian-set-load.json only (docs/custodian-sets.md quotes it).
 */
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";

import { Wallet, getAddress, parseEther, toBeHex } from "ethers";

import type { ReleaseManifest } from "../sdk/clients/audit";
import { connect } from "../sdk/chain/connect";
import { CustodianSetClient, NotEnoughSharesError } from "../sdk/clients/custodian-set";
import { GatewayClient, GatewayError, type KeyRelease, type ShareRelease } from "../sdk/clients/gateway";
import { PatientClient } from "../sdk/clients/patient";
import { ProviderClient, type PublishedRecord } from "../sdk/clients/provider";
import { AccessBasis, Purpose } from "../sdk/codes";
import { bytesEqual, utf8Decode } from "../sdk/crypto/bytes";
import { combineKeyShares } from "../sdk/crypto/key-shares";
import { unwrapDataKey } from "../sdk/crypto/key-wrap";
import { generateEncryptionKeyPair, publicKeyToBytes32, type EncryptionKeyPair } from "../sdk/crypto/keys";
import { AccessDeniedError } from "../sdk/errors";
import { MemoryBlobStore } from "../sdk/storage/blob-store";
import { FsBlobStore } from "../sdk/storage/fs-blob-store";
import { GatewayStore } from "../gateway/store";
import { compareJournalWithChain } from "../test/helpers/access-log-audit";
import { prepareCustodians } from "../test/helpers/custodian-set-harness";
import {
  chainNow,
  DAY,
  labObservation,
  providerWithGateway,
  publish,
  randomMasterKeyHex,
  setupLedger,
  spawnGateway,
  waitFor,
  type GatewayProcess,
  type LedgerSetup,
} from "../test/helpers/gateway-harness";
import { startAnvilNode } from "../scripts/lib/anvil-node";
import { freePort, rpc, startLocalNode, type LocalNode } from "../scripts/lib/local-node";

const { values: flags } = parseArgs({
  options: {
    node: { type: "string" },
    rpc: { type: "string" },
    "node-pid": { type: "string" },
    researchers: { type: "string", default: "20" },
    records: { type: "string", default: "10" },
    patients: { type: "string", default: "5" },
    concurrency: { type: "string", default: "40" },
    "closed-s": { type: "string", default: "10" },
    "open-s": { type: "string", default: "10" },
    "offered-rate": { type: "string", default: "300" },
    revocations: { type: "string", default: "3" },
    "batch-size": { type: "string", default: "20" },
    "interval-ms": { type: "string", default: "1000" },
    fault: { type: "boolean", default: false },
    set: { type: "boolean", default: false },
    "no-write": { type: "boolean", default: false },
  },
});
const positive = (name: keyof typeof flags): number => {
  const value = Number(flags[name]);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive whole number`);
  return value;
};
const RESEARCHERS = positive("researchers");
const RECORDS = positive("records");
const PATIENTS = positive("patients");
const CONCURRENCY = positive("concurrency");
const CLOSED_MS = positive("closed-s") * 1000;
const OPEN_MS = positive("open-s") * 1000;
const OFFERED_RATE = positive("offered-rate");
const REVOCATIONS = Number(flags.revocations);
const BATCH_SIZE = positive("batch-size");
const INTERVAL_MS = positive("interval-ms");
const WARM_UP_MS = 2000;
const FAULT = flags.fault ?? false;
const SET = flags.set ?? false;
if (SET && FAULT) throw new Error("--set and --fault do not go together");
const SET_N = 3;
const SET_K = 2;
const PURPOSE = "HRESCH" as const;

type NodeKind = "hardhat" | "anvil" | "rpc";
const NODES: NodeKind[] = flags.rpc ? ["rpc"] : flags.node ? [flags.node as NodeKind] : ["hardhat", "anvil"];
for (const kind of NODES) {
  if (!["hardhat", "anvil", "rpc"].includes(kind)) throw new Error(`--node must be anvil or hardhat, got ${kind}`);
}

const SUMMARY = path.join(__dirname, "gateway.json");
const SET_RESULTS = path.join(__dirname, "custodian-set-load.json");
const DETAILS = path.join(__dirname, "gateway-load.json");
const DOCS = path.join(__dirname, "..", "docs", "gateway.md");
const DOCS_BEGIN = "<!-- gateway-load:begin -->";
const DOCS_END = "<!-- gateway-load:end -->";
const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ: what /proc/<pid>/stat counts in on Linux

type Phase = "warm-up" | "closed" | "open";
interface Outcome {
  phase: Phase;
  researcher: number;
  recordIndex: number;
  /** When the request was due (open loop: its scheduled start; closed loop: its start). */
  startedAt: number;
  latencyMs: number;
  kind: "released" | "denied" | "unavailable" | "error";
  release?: KeyRelease;
  /** --set: the shares the reader kept (one release per custodian) and the key they rebuilt. */
  shares?: ShareRelease[];
  key?: Uint8Array;
  error?: string;
}

interface Revocation {
  patient: string;
  researcher: string;
  block: number;
  /** performance.now() when the receipt was in hand. */
  minedAt: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

/** CPU milliseconds (user + system, every thread) a process has used, from /proc/<pid>/stat. */
function cpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // After "pid (comm) ": state is field 3, so utime (14) and stime (15) are at 11 and 12.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  console.log(
    `gateway load test on ${NODES.join(", ")}: ${RESEARCHERS} researchers, ${RECORDS} records of ${PATIENTS} patients, ` +
      `closed loop ${CONCURRENCY} in flight for ${CLOSED_MS / 1000} s, open loop ${OFFERED_RATE}/s for ${OPEN_MS / 1000} s, ` +
      `${REVOCATIONS} revocations a phase, log batch ${BATCH_SIZE} / ${INTERVAL_MS} ms${FAULT ? ", SIGKILL mid-run" : ""}` +
      (SET ? `, records guarded by a ${SET_K}-of-${SET_N} custodian set` : ""),
  );
  const results: Record<string, Result> = {};
  let failed = false;
  for (const kind of NODES) {
    let node: LocalNode | undefined;
    let setup: LedgerSetup | undefined;
    const gateways = new Set<GatewayProcess>();
    try {
      node =
        kind === "hardhat"
          ? await startLocalNode()
          : kind === "anvil"
            ? await startAnvilNode()
            : externalNode(flags.rpc as string);
      setup = await setupLedger(node);
      const nodePid = kind === "rpc" ? (flags["node-pid"] ? Number(flags["node-pid"]) : undefined) : node.child.pid;
      const result = await run(kind, setup, gateways, nodePid);
      results[kind] = result;
      failed = report(result) || failed;
    } finally {
      for (const gateway of gateways) await gateway.kill().catch(() => undefined);
      setup?.cleanup();
      if (kind !== "rpc") await node?.stop();
    }
  }
  if (!flags["no-write"] && !FAULT) (SET ? writeSet : write)(results);
  if (failed) process.exitCode = 1;
}

/** A node someone else runs: never stopped here. */
function externalNode(url: string): LocalNode {
  return {
    url,
    port: Number(new URL(url).port),
    child: { pid: undefined } as unknown as LocalNode["child"],
    output: () => "",
    stop: async () => undefined,
  };
}

async function setBalance(url: string, address: string): Promise<void> {
  const balance = toBeHex(parseEther("100"));
  try {
    await rpc(url, "hardhat_setBalance", [address, balance]);
  } catch {
    await rpc(url, "anvil_setBalance", [address, balance]);
  }
}

async function run(kind: NodeKind, setup: LedgerSetup, gateways: Set<GatewayProcess>, nodePid: number | undefined) {
  const { provider } = setup;
  const dataDir = path.join(setup.tempDir, "gateway-data");
  const masterKeyHex = randomMasterKeyHex();
  const port = await freePort();
  // No per-account rate limit: the load test's researchers ask far more often than a person would.
  const args = ["--log-batch-size", String(BATCH_SIZE), "--log-interval-ms", String(INTERVAL_MS), "--rate-limit", "0"];
  // --set: custodians (node accounts 10, 11, 12) accredited, their keys registered, one gateway each.
  const custodianSet = SET ? await prepareCustodians(setup, SET_N) : undefined;
  const dataDirs = custodianSet
    ? custodianSet.custodians.map((_, index) => path.join(setup.tempDir, `custodian-${index + 1}-data`))
    : [dataDir];
  const ports = [port, ...(await Promise.all(dataDirs.slice(1).map(() => freePort())))];
  const startGatewayProcess = async (index = 0) => {
    const gateway = await spawnGateway(setup, {
      dataDir: dataDirs[index],
      masterKeyHex,
      port: ports[index],
      args: custodianSet ? [...args, "--provider", setup.signers.hospital.address] : args,
      env: custodianSet ? { CONSENT_GATEWAY_PRIVATE_KEY: custodianSet.privateKeys[index] } : undefined,
    });
    gateways.add(gateway);
    void gateway.exit.then(() => gateways.delete(gateway));
    return gateway;
  };

  // --- the cast ----------------------------------------------------------------------------------
  const setupStarted = performance.now();
  const researchers = Array.from({ length: RESEARCHERS }, () => Wallet.createRandom().connect(provider));
  const patients = Array.from({ length: PATIENTS }, () => Wallet.createRandom().connect(provider));
  for (const wallet of [...researchers, ...patients]) await setBalance(setup.node.url, wallet.address);
  // One after another: anvil may give one account's concurrent transactions the same nonce, and an
  // automining hardhat node refuses them out of order.
  const ledgerAsAdmin = (await setup.as(setup.signers.admin)).ledger;
  for (const wallet of researchers) await (await ledgerAsAdmin.accredit(wallet.address, 2, true, 0)).wait();
  const keyPairs: EncryptionKeyPair[] = researchers.map(() => generateEncryptionKeyPair());
  await Promise.all(
    researchers.map(async (wallet, index) => {
      const keys = (await setup.as(wallet)).keys;
      await (await keys.registerKey(publicKeyToBytes32(keyPairs[index].publicKey))).wait();
    }),
  );

  let gateway = await startGatewayProcess();
  const others = custodianSet
    ? await Promise.all(dataDirs.slice(1).map((_, index) => startGatewayProcess(index + 1)))
    : [];
  const everyGateway = () => [gateway, ...others];
  const journalOwners = custodianSet ? custodianSet.custodians : [setup.signers.hospital.address];
  let hospital: { provider: ProviderClient };
  if (custodianSet) {
    const signer = setup.signers.hospital;
    const contracts = await connect(signer, setup.deployment);
    const store = new MemoryBlobStore();
    const { setId } = await (
      await new CustodianSetClient(contracts, signer, {}).defineSet(custodianSet.custodians, SET_K)
    ).wait();
    const gatewayClients = Object.fromEntries(
      custodianSet.custodians.map((custodian, index) => [
        custodian,
        new GatewayClient(everyGateway()[index].url, signer, contracts, { store }),
      ]),
    );
    hospital = {
      provider: new ProviderClient(
        contracts,
        signer,
        store,
        new CustodianSetClient(contracts, signer, gatewayClients, setId, { store }),
      ),
    };
  } else {
    hospital = await providerWithGateway(setup, setup.signers.hospital, gateway.url);
  }
  const records: PublishedRecord[] = [];
  for (let index = 0; index < RECORDS; index++) {
    records.push(
      await publish(
        hospital.provider,
        patients[index % PATIENTS].address,
        "LAB_RESULT",
        labObservation(`load-${index}`, 70 + index),
      ),
    );
  }
  // Patient p consents to researcher r unless (r + p) % 10 == 0: about a tenth of the requests are refused.
  const consents = new Set<string>();
  const validUntil = (await chainNow(provider)) + 30 * DAY;
  for (const [p, patient] of patients.entries()) {
    const grantees = researchers.filter((_, r) => (r + p) % 10 !== 0);
    const client = new PatientClient(await setup.as(patient), patient);
    await (
      await client.grantBatch(
        grantees.map((grantee) => ({
          grantee: grantee.address,
          dataClasses: ["LAB_RESULT"],
          purposes: [PURPOSE],
          validUntil,
        })),
      )
    ).wait();
    for (const grantee of grantees) consents.add(`${patient.address}|${grantee.address}`);
  }
  const clients = await Promise.all(
    researchers.map(async (wallet) => new GatewayClient(gateway.url, wallet, await setup.as(wallet))),
  );
  await Promise.all(clients.map((client) => client.authenticate()));
  // --set: each researcher's client of the whole set, logged in to every custodian.
  const setClients = custodianSet
    ? await Promise.all(
        researchers.map(async (wallet) => {
          const contracts = await setup.as(wallet);
          const gatewayClients = custodianSet.custodians.map(
            (_, index) => new GatewayClient(everyGateway()[index].url, wallet, contracts),
          );
          await Promise.all(gatewayClients.map((client) => client.authenticate()));
          return new CustodianSetClient(
            contracts,
            wallet,
            Object.fromEntries(custodianSet.custodians.map((custodian, index) => [custodian, gatewayClients[index]])),
          );
        }),
      )
    : [];
  const setupMs = performance.now() - setupStarted;
  console.log(`[${kind}] set up in ${round(setupMs / 1000)} s; running...`);

  // --- the run -------------------------------------------------------------------------------------
  const outcomes: Outcome[] = [];
  const revocations: Revocation[] = [];
  const granted = [...consents];
  let random = 0x2545f491;
  const nextRandom = () => {
    random ^= random << 13;
    random ^= random >>> 17;
    random ^= random << 5;
    return (random >>> 0) / 2 ** 32;
  };
  let fault: { downtimeMs: number } | undefined;

  /** One request by researcher `r`, due at `dueAt` (performance.now()). */
  const request = async (phase: Phase, r: number, dueAt: number): Promise<void> => {
    const recordIndex = Math.floor(nextRandom() * records.length);
    try {
      if (SET) {
        const { shares } = await setClients[r].gatherShares({
          recordId: records[recordIndex].recordId,
          purpose: PURPOSE,
          keyPair: keyPairs[r],
        });
        const key = await combineKeyShares(shares.map((entry) => entry.share));
        const latencyMs = performance.now() - dueAt;
        outcomes.push({
          phase,
          researcher: r,
          recordIndex,
          startedAt: dueAt,
          latencyMs,
          kind: "released",
          shares: shares.map((entry) => entry.release),
          key,
        });
        return;
      }
      const release = await clients[r].requestKey(records[recordIndex].recordId, PURPOSE);
      outcomes.push({
        phase,
        researcher: r,
        recordIndex,
        startedAt: dueAt,
        latencyMs: performance.now() - dueAt,
        kind: "released",
        release,
      });
    } catch (error) {
      const latencyMs = performance.now() - dueAt;
      const base = { phase, researcher: r, recordIndex, startedAt: dueAt, latencyMs };
      if (error instanceof NotEnoughSharesError) {
        const codes = error.refusals.map((refusal) => refusal.code);
        if (codes.length > 0 && codes.every((code) => code === "AccessDenied"))
          outcomes.push({ ...base, kind: "denied" });
        else if (codes.some((code) => code === "GatewayUnreachable" || code === "ChainUnavailable"))
          outcomes.push({ ...base, kind: "unavailable", error: codes.join(",") });
        else outcomes.push({ ...base, kind: "error", error: error.message.split("\n")[0] });
      } else if (error instanceof AccessDeniedError) outcomes.push({ ...base, kind: "denied" });
      else if (error instanceof GatewayError && (error.status === 0 || error.status === 503)) {
        outcomes.push({ ...base, kind: "unavailable", error: error.code });
        await sleep(50);
      } else outcomes.push({ ...base, kind: "error", error: (error as Error).message.split("\n")[0] });
    }
  };

  /** Revokes `count` random consents, spread over `durationMs`; each is mined before the next. */
  const revoker = async (count: number, durationMs: number) => {
    for (let i = 0; i < count && granted.length > 0; i++) {
      await sleep(durationMs / (count + 1));
      const [patientAddress, researcherAddress] = granted
        .splice(Math.floor(nextRandom() * granted.length), 1)[0]
        .split("|");
      const patient = patients.find((wallet) => wallet.address === patientAddress) as (typeof patients)[number];
      const receipt = await (await (await setup.as(patient)).ledger.revoke(patientAddress, researcherAddress)).wait();
      revocations.push({
        patient: patientAddress,
        researcher: researcherAddress,
        block: receipt!.blockNumber,
        minedAt: performance.now(),
      });
    }
  };

  const closedLoop = async (phase: Phase, durationMs: number) => {
    const until = performance.now() + durationMs;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async (_, loop) => {
        while (performance.now() < until) await request(phase, loop % RESEARCHERS, performance.now());
      }),
    );
  };

  const openLoop = async (phase: Phase, durationMs: number, rate: number) => {
    const total = Math.round((durationMs / 1000) * rate);
    const started = performance.now();
    const inFlight: Promise<void>[] = [];
    for (let i = 0; i < total;) {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate) + 1);
      for (; i < due; i++) inFlight.push(request(phase, i % RESEARCHERS, started + (i * 1000) / rate));
      await sleep(1);
    }
    await Promise.all(inFlight);
  };

  await closedLoop("warm-up", WARM_UP_MS);

  /** The gateways' CPU together (one gateway, or the set's three). */
  const gatewaysCpuMs = () => {
    const each = everyGateway().map((running) => cpuMs(running.child.pid));
    return each.some((value) => value === undefined)
      ? undefined
      : each.reduce((sum, value) => (sum as number) + (value as number), 0);
  };
  const cpuBefore = { gateway: gatewaysCpuMs(), node: cpuMs(nodePid), client: process.cpuUsage() };
  const closedStarted = performance.now();
  const faulter = FAULT
    ? (async () => {
        await sleep(CLOSED_MS * 0.4);
        const killedAt = performance.now();
        await gateway.kill("SIGKILL");
        gateway = await startGatewayProcess();
        fault = { downtimeMs: performance.now() - killedAt };
        console.log(
          `[${kind}] killed the gateway (SIGKILL); it answered again ${round(fault.downtimeMs / 1000)} s later`,
        );
      })()
    : Promise.resolve();
  await Promise.all([closedLoop("closed", CLOSED_MS), revoker(REVOCATIONS, CLOSED_MS), faulter]);
  const closedMs = performance.now() - closedStarted;
  const cpuAfter = { gateway: gatewaysCpuMs(), node: cpuMs(nodePid), client: process.cpuUsage(cpuBefore.client) };

  await Promise.all([openLoop("open", OPEN_MS, OFFERED_RATE), revoker(REVOCATIONS, OPEN_MS)]);

  // Every pending log entry goes out, then the gateway stops gracefully.
  const pending = async (url: string) =>
    ((await (await fetch(`${url}/health`)).json()) as { pendingLogEntries: number }).pendingLogEntries;
  const drainStarted = performance.now();
  for (const running of everyGateway())
    await waitFor(async () => (await pending(running.url)) === 0, "every release to be logged on chain", 120_000, 100);
  const drainMs = performance.now() - drainStarted;
  for (const running of everyGateway()) await running.kill("SIGTERM");

  // --- verification --------------------------------------------------------------------------------
  const releases = outcomes.filter((o) => o.kind === "released");
  let wrong = 0;
  let basisMismatch = 0;
  let stale = 0;
  let badKeys = 0;
  const { ledger } = setup.contracts;
  for (let offset = 0; offset < releases.length; offset += 50) {
    await Promise.all(
      releases.slice(offset, offset + 50).map(async (outcome) => {
        const record = records[outcome.recordIndex];
        const grantee = researchers[outcome.researcher].address;
        // Each release the reader used: the key's, or each kept share's (its own custodian's checked block).
        for (const release of outcome.shares ?? [outcome.release as KeyRelease]) {
          const basis = Number(
            await ledger.accessBasis(record.patient, grantee, record.dataClass, Purpose[PURPOSE], {
              blockTag: release.checkedBlock,
            }),
          );
          if (basis === AccessBasis.None) wrong++;
          else if (basis !== AccessBasis[release.basis]) basisMismatch++;
          for (const revocation of revocations) {
            if (
              revocation.patient === record.patient &&
              revocation.researcher === grantee &&
              revocation.minedAt < outcome.startedAt &&
              release.checkedBlock < revocation.block
            )
              stale++;
          }
        }
        const key =
          outcome.key ??
          (await unwrapDataKey(
            (outcome.release as KeyRelease).wrappedKey,
            keyPairs[outcome.researcher],
            record.recordId,
          ).catch(() => undefined));
        if (!key || !bytesEqual(key, record.dataKey)) badKeys++;
      }),
    );
  }
  const deniedAfterRevocation = outcomes.filter(
    (o) =>
      o.kind === "denied" &&
      revocations.some(
        (r) =>
          r.patient === records[o.recordIndex].patient &&
          r.researcher === researchers[o.researcher].address &&
          r.minedAt < o.startedAt,
      ),
  ).length;

  // Each gateway's journal against its own account's on-chain log (one gateway, or each custodian).
  const journal: ReturnType<GatewayStore["allReleases"]> = [];
  const journalIds = new Map<string, Set<number>>();
  const comparison = { onChain: 0, missing: 0, extra: 0, duplicateRoots: 0, badManifests: 0, batches: 0, singles: 0 };
  let transactions = 0;
  let logGas = 0n;
  for (const [index, directory] of dataDirs.entries()) {
    const store = GatewayStore.open(path.join(directory, "gateway.sqlite"), { readonly: true });
    let own;
    let batches;
    try {
      own = store.allReleases();
      batches = store.allBatches();
    } finally {
      store.close();
    }
    const blobs = new FsBlobStore(path.join(directory, "blobs"));
    const compared = await compareJournalWithChain(
      setup.contracts,
      journalOwners[index],
      own,
      async (cid) => JSON.parse(utf8Decode(await blobs.get(cid))) as ReleaseManifest,
    );
    journal.push(...own);
    journalIds.set(getAddress(journalOwners[index]), new Set(own.map((row) => row.id)));
    comparison.onChain += compared.onChain;
    comparison.missing += compared.missing.length;
    comparison.extra += compared.extra.length;
    comparison.duplicateRoots += compared.duplicateRoots.length;
    comparison.badManifests += compared.badManifests.length;
    comparison.batches += compared.batches;
    comparison.singles += compared.singles;
    transactions += batches.length;
    for (const batch of batches) {
      const receipt = await setup.provider.getTransactionReceipt(batch.loggedTxHash as string);
      logGas += receipt?.gasUsed ?? 0n;
    }
  }
  const receivedNotJournaled = releases
    .flatMap((o) =>
      o.shares
        ? o.shares.map((share) => ({ owner: getAddress(share.custodian), id: share.releaseId }))
        : [{ owner: getAddress(journalOwners[0]), id: (o.release as KeyRelease).releaseId }],
    )
    .filter(({ owner, id }) => !journalIds.get(owner)?.has(id)).length;

  const of = (phase: Phase, kind?: Outcome["kind"]) =>
    outcomes.filter((o) => o.phase === phase && (kind === undefined || o.kind === kind));
  const sortedLatencies = (list: Outcome[]) => list.map((o) => o.latencyMs).sort((a, b) => a - b);
  const closedReleases = of("closed", "released");
  const closedAnswered = closedReleases.length + of("closed", "denied").length;
  const closedLatencies = sortedLatencies(closedReleases);
  const openAnswered = sortedLatencies([...of("open", "released"), ...of("open", "denied")]);
  const cpuPer = (before?: number, after?: number, count = closedReleases.length) =>
    before === undefined || after === undefined || count === 0 ? null : round((after - before) / count, 2);
  return {
    node: kind,
    parameters: {
      researchers: RESEARCHERS,
      records: RECORDS,
      patients: PATIENTS,
      concurrency: CONCURRENCY,
      closedSeconds: CLOSED_MS / 1000,
      openSeconds: OPEN_MS / 1000,
      offeredRate: OFFERED_RATE,
      revocations: revocations.length,
      logBatchSize: BATCH_SIZE,
      logIntervalMs: INTERVAL_MS,
      custodianSet: SET ? `${SET_K} of ${SET_N}` : null,
    },
    setupSeconds: round(setupMs / 1000),
    closed: {
      seconds: round(closedMs / 1000, 2),
      released: closedReleases.length,
      denied: of("closed", "denied").length,
      releasesPerSecond: round(closedReleases.length / (closedMs / 1000)),
      answeredPerSecond: round(closedAnswered / (closedMs / 1000)),
      p50Ms: round(percentile(closedLatencies, 50)),
      p99Ms: round(percentile(closedLatencies, 99)),
      gatewayCpuMsPerRelease: cpuPer(cpuBefore.gateway, cpuAfter.gateway),
      nodeCpuMsPerRelease: cpuPer(cpuBefore.node, cpuAfter.node),
      gatewayCpuMsPerAnswer: cpuPer(cpuBefore.gateway, cpuAfter.gateway, closedAnswered),
      nodeCpuMsPerAnswer: cpuPer(cpuBefore.node, cpuAfter.node, closedAnswered),
      /** This process: the 20 clients' HTTP, JSON and bookkeeping, which compete for the same cores. */
      loadGeneratorCpuMsPerAnswer: cpuPer(0, (cpuAfter.client.user + cpuAfter.client.system) / 1000, closedAnswered),
      loadAverage: os.loadavg().map((v) => round(v, 2)),
    },
    open: {
      offeredRate: OFFERED_RATE,
      requests: of("open").length,
      released: of("open", "released").length,
      denied: of("open", "denied").length,
      p50Ms: round(percentile(openAnswered, 50)),
      p99Ms: round(percentile(openAnswered, 99)),
      maxMs: round(openAnswered.at(-1) ?? NaN),
    },
    requests: {
      released: releases.length,
      denied: outcomes.filter((o) => o.kind === "denied").length,
      deniedAfterRevocation,
      unavailable: outcomes.filter((o) => o.kind === "unavailable").length,
      errors: outcomes.filter((o) => o.kind === "error").length,
      errorSamples: [...new Set(outcomes.filter((o) => o.kind === "error").map((o) => o.error))].slice(0, 5),
    },
    correctness: {
      wronglyReleased: wrong,
      basisMismatch,
      staleDecisions: stale,
      badWrappedKeys: badKeys,
      receivedButNotJournaled: receivedNotJournaled,
      journaled: journal.length,
      onChain: comparison.onChain,
      missingOnChain: comparison.missing,
      extraOnChain: comparison.extra,
      duplicateRoots: comparison.duplicateRoots,
      badManifests: comparison.badManifests,
    },
    accessLog: {
      transactions,
      batches: comparison.batches,
      singles: comparison.singles,
      gasPerRelease: journal.length ? Math.round(Number(logGas) / journal.length) : 0,
      drainSeconds: round(drainMs / 1000, 2),
    },
    fault: fault && { downtimeMs: Math.round((fault as { downtimeMs: number }).downtimeMs) },
  };
}

type Result = Awaited<ReturnType<typeof run>>;

/** Prints a node's result; true when it failed a check. */
function report(result: Result): boolean {
  const c = result.correctness;
  console.log(JSON.stringify(result, null, 2));
  const failures = [
    c.wronglyReleased && `${c.wronglyReleased} keys released although the chain said None at the checked block`,
    c.basisMismatch && `${c.basisMismatch} releases on another basis than the chain's at the checked block`,
    c.staleDecisions && `${c.staleDecisions} releases checked at a block before a revocation mined before the request`,
    c.badWrappedKeys && `${c.badWrappedKeys} wrapped keys that do not open to the record's data key`,
    c.receivedButNotJournaled && `${c.receivedButNotJournaled} keys received that the journal does not hold`,
    c.missingOnChain && `${c.missingOnChain} journal entries missing on chain`,
    c.extraOnChain && `${c.extraOnChain} on-chain entries not in the journal (duplicates?)`,
    c.duplicateRoots && `${c.duplicateRoots} roots logged twice`,
    c.badManifests && `${c.badManifests} manifests that do not prove their entries`,
    result.requests.errors &&
      `${result.requests.errors} requests failed unexpectedly: ${result.requests.errorSamples.join("; ")}`,
  ].filter(Boolean);
  if (failures.length) {
    console.error(`[${result.node}] FAILED:\n- ${failures.join("\n- ")}`);
    return true;
  }
  console.log(`[${result.node}] OK: no key released wrongly or stale; journal, chain and clients agree.`);
  return false;
}

const environment = () => ({
  node: process.version,
  cpu: os.cpus()[0]?.model ?? "unknown",
  cores: os.cpus().length,
  platform: `${os.platform()} ${os.release()}`,
});

/** --set: the results (per node) in bench/custodian-set-load.json, beside whatever other nodes it holds. */
function writeSet(results: Record<string, Result>): void {
  const existing = existsSync(SET_RESULTS)
    ? (JSON.parse(readFileSync(SET_RESULTS, "utf8")) as Record<string, unknown>)
    : {};
  const kept = Object.fromEntries(
    Object.entries(existing).filter(([key]) => ["hardhat", "anvil", "rpc"].includes(key)),
  );
  for (const [kind, r] of Object.entries(results))
    kept[kind] = { date: new Date().toISOString(), loadAverage: os.loadavg().map((v) => round(v, 2)), ...r };
  writeFileSync(
    SET_RESULTS,
    JSON.stringify(
      { command: "npm run bench:gateway -- --node <anvil|hardhat> --set", environment: environment(), ...kept },
      null,
      2,
    ) + "\n",
  );
  console.log(`written to ${path.relative(process.cwd(), SET_RESULTS)}`);
}

function write(results: Record<string, Result>): void {
  const read = (file: string) =>
    existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>) : {};
  const summary: Record<string, unknown> = read(SUMMARY);
  const details: Record<string, unknown> = read(DETAILS);
  for (const [kind, r] of Object.entries(results)) {
    summary[kind] = {
      releasesPerSecond: r.closed.releasesPerSecond,
      p50Ms: r.closed.p50Ms,
      p99Ms: r.closed.p99Ms,
      offeredRate: r.open.offeredRate,
      p99AtOfferedMs: r.open.p99Ms,
      gatewayCpuMsPerRelease: r.closed.gatewayCpuMsPerRelease,
      nodeCpuMsPerRelease: r.closed.nodeCpuMsPerRelease,
      wrongReleases: r.correctness.wronglyReleased + r.correctness.staleDecisions + r.correctness.basisMismatch,
    };
    details[kind] = { date: new Date().toISOString(), loadAverage: os.loadavg().map((v) => round(v, 2)), ...r };
  }
  // Older entries (variants of the previous load test) are not comparable: only nodes are kept.
  const kept = Object.fromEntries(Object.entries(details).filter(([key]) => ["hardhat", "anvil", "rpc"].includes(key)));
  writeFileSync(SUMMARY, JSON.stringify(summary, null, 2) + "\n");
  writeFileSync(
    DETAILS,
    JSON.stringify(
      { command: "npm run bench:gateway -- --node <anvil|hardhat>", environment: environment(), ...kept },
      null,
      2,
    ) + "\n",
  );
  writeDocsSection(kept as Record<string, Result & { date: string; loadAverage: number[] }>);
  console.log(
    `written to ${path.relative(process.cwd(), SUMMARY)}, ${path.relative(process.cwd(), DETAILS)} and docs/gateway.md`,
  );
}

/** Rewrites the table of docs/gateway.md's load-test section (between its markers). */
function writeDocsSection(details: Record<string, Result & { date: string; loadAverage: number[] }>): void {
  if (!existsSync(DOCS)) return;
  const text = readFileSync(DOCS, "utf8");
  const begin = text.indexOf(DOCS_BEGIN);
  const end = text.indexOf(DOCS_END);
  if (begin < 0 || end < begin) return;
  const rows = Object.values(details).map((r) => {
    const c = r.correctness;
    return (
      `| ${r.node} | ${r.closed.releasesPerSecond} | ${r.closed.p50Ms} / ${r.closed.p99Ms} | ` +
      `${r.open.offeredRate}/s: ${r.open.p50Ms} / ${r.open.p99Ms} | ${r.closed.gatewayCpuMsPerRelease ?? "-"} | ` +
      `${r.closed.nodeCpuMsPerRelease ?? "-"} | ${r.parameters.revocations} | ${c.wronglyReleased} / ${c.staleDecisions} | ` +
      `${c.journaled} / ${c.onChain} | ${r.date.slice(0, 10)}, load ${r.loadAverage[0]} |`
    );
  });
  const env = environment();
  const section = [
    DOCS_BEGIN,
    `Measured with \`npm run bench:gateway\` (both nodes, one after the other; \`-- --node hardhat|anvil\` for one) on ${env.cores} cores ` +
      `(${env.cpu}), Node ${env.node}; the node, the gateway and the load generator share those cores. ` +
      "Summary: bench/gateway.json; details: bench/gateway-load.json.",
    "",
    "| node | closed loop: releases/s | p50 / p99 ms | open loop: offered, p50 / p99 ms | gateway CPU ms / release | node CPU ms / release | revocations mined during the run | wrong / stale releases | journal / on chain | when |",
    "|---|---|---|---|---|---|---|---|---|---|",
    ...rows,
    DOCS_END,
  ].join("\n");
  writeFileSync(DOCS, text.slice(0, begin) + section + text.slice(end + DOCS_END.length));
}

main().catch((error: unknown) => {
  console.error(`gateway load test failed: ${(error as Error)?.stack ?? String(error)}`);
  process.exitCode = 1;
});
