/**
 * Load and fault test of the custodian gateway, on loopback only: one `hardhat node`, one gateway (the
 * real CLI, as a child process), many concurrent authenticated researchers, consents revoked (and mined)
 * while they read.
 *
 *   npm run bench:gateway                   # = npx ts-node --transpile-only bench/gateway-load.ts
 *   npm run bench:gateway -- --fault        # SIGKILL the gateway mid-run, restart it on the same data
 *   options: --researchers 20 --requests 25 --records 10 --patients 5 --revocations 6
 *            --batch-size 20 --interval-ms 1000 --time-limit-s 300 --no-write
 *
 * Bounded: researchers x requests requests at most, and --time-limit-s overall. Every child process (node
 * and gateway) is killed by its id at the end, on failure too.
 *
 * What it checks, for every key a researcher received:
 *   - wrongly released: ConsentLedger.accessBasis(patient, researcher, class, purpose) by eth_call AT THE
 *     BLOCK THE GATEWAY SAYS IT CHECKED is None (must be 0);
 *   - stale: the request started after a revocation of that consent was mined, yet the gateway checked a
 *     block before it (must be 0);
 *   - bad key: the wrapped key does not unwrap, with the researcher's key, to the record's data key (must be 0);
 *   - the journal, the on-chain access log (KeyReleased events and every batch manifest's proven leaves)
 *     and what clients received agree: nothing missing, nothing extra, no root twice.
 * It reports releases per second (over the run's wall-clock time), latency percentiles of answered
 * requests, and gas spent logging. Results go to bench/gateway-load.json (one entry per variant) and to
 * the "Load test" section of README.md.
 */
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";

import { Wallet, parseEther, toBeHex } from "ethers";

import type { ReleaseManifest } from "../sdk/clients/audit";
import { GatewayClient, GatewayError, type KeyRelease } from "../sdk/clients/gateway";
import { PatientClient } from "../sdk/clients/patient";
import type { PublishedRecord } from "../sdk/clients/provider";
import { AccessBasis, Purpose } from "../sdk/codes";
import { bytesEqual, utf8Decode } from "../sdk/crypto/bytes";
import { unwrapDataKey } from "../sdk/crypto/key-wrap";
import { generateEncryptionKeyPair, publicKeyToBytes32, type EncryptionKeyPair } from "../sdk/crypto/keys";
import { AccessDeniedError } from "../sdk/errors";
import { FsBlobStore } from "../sdk/storage/fs-blob-store";
import { GatewayStore } from "../gateway/store";
import { compareJournalWithChain } from "../test/helpers/access-log-audit";
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
import { freePort, rpc, startLocalNode, type LocalNode } from "../scripts/lib/local-node";

const { values: flags } = parseArgs({
  options: {
    researchers: { type: "string", default: "20" },
    requests: { type: "string", default: "25" },
    records: { type: "string", default: "10" },
    patients: { type: "string", default: "5" },
    revocations: { type: "string", default: "6" },
    "batch-size": { type: "string", default: "20" },
    "interval-ms": { type: "string", default: "1000" },
    "time-limit-s": { type: "string", default: "300" },
    fault: { type: "boolean", default: false },
    "no-write": { type: "boolean", default: false },
  },
});
const positive = (name: keyof typeof flags): number => {
  const value = Number(flags[name]);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive whole number`);
  return value;
};
const RESEARCHERS = positive("researchers");
const REQUESTS = positive("requests");
const RECORDS = positive("records");
const PATIENTS = positive("patients");
const REVOCATIONS = Number(flags.revocations);
const BATCH_SIZE = positive("batch-size");
const INTERVAL_MS = positive("interval-ms");
const TIME_LIMIT_MS = positive("time-limit-s") * 1000;
const FAULT = flags.fault ?? false;
const VARIANT = FAULT ? "fault" : "normal";
const PURPOSE = "HRESCH" as const;

const OUTPUT = path.join(__dirname, "gateway-load.json");
const DOCS = path.join(__dirname, "..", "README.md");
const DOCS_BEGIN = "<!-- gateway-load:begin -->";
const DOCS_END = "<!-- gateway-load:end -->";

interface Outcome {
  researcher: number;
  recordIndex: number;
  startedAt: number;
  latencyMs: number;
  kind: "released" | "denied" | "unavailable" | "error";
  release?: KeyRelease;
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

async function main(): Promise<void> {
  const deadline = Date.now() + TIME_LIMIT_MS;
  console.log(
    `gateway load test (${VARIANT}): ${RESEARCHERS} researchers x ${REQUESTS} requests, ${RECORDS} records of ${PATIENTS} patients, ` +
      `${REVOCATIONS} revocations, log batch ${BATCH_SIZE} / ${INTERVAL_MS} ms`,
  );
  let node: LocalNode | undefined;
  let setup: LedgerSetup | undefined;
  const gateways = new Set<GatewayProcess>();
  try {
    node = await startLocalNode();
    setup = await setupLedger(node);
    const result = await run(setup, gateways, deadline);
    report(result);
  } finally {
    for (const gateway of gateways) await gateway.kill().catch(() => undefined);
    setup?.cleanup();
    await node?.stop();
  }
}

async function run(setup: LedgerSetup, gateways: Set<GatewayProcess>, deadline: number) {
  const { provider } = setup;
  const dataDir = path.join(setup.tempDir, "gateway-data");
  const masterKeyHex = randomMasterKeyHex();
  const port = await freePort();
  const args = ["--log-batch-size", String(BATCH_SIZE), "--log-interval-ms", String(INTERVAL_MS)];
  const startGatewayProcess = async () => {
    const gateway = await spawnGateway(setup, { dataDir, masterKeyHex, port, args });
    gateways.add(gateway);
    void gateway.exit.then(() => gateways.delete(gateway));
    return gateway;
  };

  // --- the cast ----------------------------------------------------------------------------------
  const setupStarted = performance.now();
  const researchers = Array.from({ length: RESEARCHERS }, () => Wallet.createRandom().connect(provider));
  const patients = Array.from({ length: PATIENTS }, () => Wallet.createRandom().connect(provider));
  for (const wallet of [...researchers, ...patients]) {
    await rpc(setup.node.url, "hardhat_setBalance", [wallet.address, toBeHex(parseEther("100"))]);
  }
  const ledgerAsAdmin = (await setup.as(setup.signers.admin)).ledger;
  await Promise.all(
    (await Promise.all(researchers.map((wallet) => ledgerAsAdmin.accredit(wallet.address, 2, true, 0)))).map((tx) =>
      tx.wait(),
    ),
  );
  const keyPairs: EncryptionKeyPair[] = researchers.map(() => generateEncryptionKeyPair());
  await Promise.all(
    researchers.map(async (wallet, index) => {
      const keys = (await setup.as(wallet)).keys;
      await (await keys.registerKey(publicKeyToBytes32(keyPairs[index].publicKey))).wait();
    }),
  );

  let gateway = await startGatewayProcess();
  const hospital = await providerWithGateway(setup, setup.signers.hospital, gateway.url);
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
  // Patient p consents to researcher r unless (r + p) % 4 == 0: a quarter of the requests are refused.
  const consents = new Set<string>();
  const validUntil = (await chainNow(provider)) + 30 * DAY;
  for (const [p, patient] of patients.entries()) {
    const grantees = researchers.filter((_, r) => (r + p) % 4 !== 0);
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
  const setupMs = performance.now() - setupStarted;
  console.log(`set up in ${round(setupMs / 1000)} s; running...`);

  // --- the run -------------------------------------------------------------------------------------
  const outcomes: Outcome[] = [];
  const revocations: Revocation[] = [];
  const total = RESEARCHERS * REQUESTS;
  let answered = 0;
  let fault: { killedAt: number; restartedAt: number; downtimeMs: number; failedWhileDown: number } | undefined;
  const runStarted = performance.now();
  let random = 0x2545f491;
  const nextRandom = () => {
    random ^= random << 13;
    random ^= random >>> 17;
    random ^= random << 5;
    return (random >>> 0) / 2 ** 32;
  };

  const loops = clients.map(async (client, r) => {
    for (let done = 0; done < REQUESTS && Date.now() < deadline;) {
      const recordIndex = Math.floor(nextRandom() * records.length);
      const startedAt = performance.now();
      try {
        const release = await client.requestKey(records[recordIndex].recordId, PURPOSE);
        outcomes.push({
          researcher: r,
          recordIndex,
          startedAt,
          latencyMs: performance.now() - startedAt,
          kind: "released",
          release,
        });
      } catch (error) {
        const latencyMs = performance.now() - startedAt;
        if (error instanceof AccessDeniedError) {
          outcomes.push({ researcher: r, recordIndex, startedAt, latencyMs, kind: "denied" });
        } else if (error instanceof GatewayError && (error.status === 0 || error.status === 503)) {
          outcomes.push({ researcher: r, recordIndex, startedAt, latencyMs, kind: "unavailable", error: error.code });
          await sleep(50);
          continue; // the gateway is down (fault variant): ask again, this does not count as done
        } else {
          outcomes.push({
            researcher: r,
            recordIndex,
            startedAt,
            latencyMs,
            kind: "error",
            error: (error as Error).message.split("\n")[0],
          });
        }
      }
      done++;
      answered++;
    }
  });

  const revoker = (async () => {
    const granted = [...consents];
    for (let i = 0; i < REVOCATIONS && Date.now() < deadline; i++) {
      await waitFor(
        () => answered >= ((i + 1) * total) / (REVOCATIONS + 1) || Date.now() >= deadline,
        "progress",
        TIME_LIMIT_MS,
        10,
      );
      if (answered >= total) break;
      const [patientAddress, researcherAddress] = granted[Math.floor(nextRandom() * granted.length)].split("|");
      granted.splice(granted.indexOf(`${patientAddress}|${researcherAddress}`), 1);
      const patient = patients.find((wallet) => wallet.address === patientAddress) as (typeof patients)[number];
      const receipt = await (await (await setup.as(patient)).ledger.revoke(patientAddress, researcherAddress)).wait();
      revocations.push({
        patient: patientAddress,
        researcher: researcherAddress,
        block: receipt!.blockNumber,
        minedAt: performance.now(),
      });
    }
  })();

  const faulter = FAULT
    ? (async () => {
        await waitFor(() => answered >= total * 0.4 || Date.now() >= deadline, "40% progress", TIME_LIMIT_MS, 10);
        const killedAt = performance.now();
        await gateway.kill("SIGKILL");
        const before = outcomes.length;
        gateway = await startGatewayProcess();
        const restartedAt = performance.now();
        fault = {
          killedAt: killedAt - runStarted,
          restartedAt: restartedAt - runStarted,
          downtimeMs: restartedAt - killedAt,
          failedWhileDown: outcomes.slice(before).filter((o) => o.kind === "unavailable").length,
        };
        console.log(
          `killed the gateway (SIGKILL) after ${round(fault.killedAt / 1000)} s; it answered again ${round(fault.downtimeMs / 1000)} s later`,
        );
      })()
    : Promise.resolve();

  await Promise.all(loops);
  const runMs = performance.now() - runStarted;
  await revoker;
  await faulter;

  // Every pending log entry goes out, then the gateway stops gracefully.
  const health = async () => (await (await fetch(`${gateway.url}/health`)).json()) as { pendingLogEntries: number };
  const drainStarted = performance.now();
  await waitFor(
    async () => (await health()).pendingLogEntries === 0,
    "every release to be logged on chain",
    Math.max(10_000, deadline - Date.now()),
    100,
  );
  const drainMs = performance.now() - drainStarted;
  await gateway.kill("SIGTERM");

  // --- verification --------------------------------------------------------------------------------
  const releases = outcomes.filter((o) => o.kind === "released");
  let wrong = 0;
  let basisMismatch = 0;
  let stale = 0;
  let badKeys = 0;
  const { ledger } = setup.contracts;
  for (let offset = 0; offset < releases.length; offset += 25) {
    await Promise.all(
      releases.slice(offset, offset + 25).map(async (outcome) => {
        const release = outcome.release as KeyRelease;
        const record = records[outcome.recordIndex];
        const grantee = researchers[outcome.researcher].address;
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
        const key = await unwrapDataKey(release.wrappedKey, keyPairs[outcome.researcher], record.recordId).catch(
          () => undefined,
        );
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

  const store = GatewayStore.open(path.join(dataDir, "gateway.sqlite"), { readonly: true });
  let journal;
  let batches;
  try {
    journal = store.allReleases();
    batches = store.allBatches();
  } finally {
    store.close();
  }
  const blobs = new FsBlobStore(path.join(dataDir, "blobs"));
  const comparison = await compareJournalWithChain(
    setup.contracts,
    setup.signers.hospital.address,
    journal,
    async (cid) => JSON.parse(utf8Decode(await blobs.get(cid))) as ReleaseManifest,
  );
  const journalIds = new Set(journal.map((row) => row.id));
  const receivedNotJournaled = releases.filter((o) => !journalIds.has((o.release as KeyRelease).releaseId)).length;
  let logGas = 0n;
  for (const batch of batches) {
    const receipt = await setup.provider.getTransactionReceipt(batch.loggedTxHash as string);
    logGas += receipt?.gasUsed ?? 0n;
  }

  const answeredLatencies = outcomes
    .filter((o) => o.kind === "released" || o.kind === "denied")
    .map((o) => o.latencyMs)
    .sort((a, b) => a - b);
  const releaseLatencies = releases.map((o) => o.latencyMs).sort((a, b) => a - b);
  return {
    variant: VARIANT,
    parameters: {
      researchers: RESEARCHERS,
      requestsPerResearcher: REQUESTS,
      records: RECORDS,
      patients: PATIENTS,
      revocations: revocations.length,
      logBatchSize: BATCH_SIZE,
      logIntervalMs: INTERVAL_MS,
      purpose: PURPOSE,
    },
    setupSeconds: round(setupMs / 1000),
    runSeconds: round(runMs / 1000, 2),
    requests: {
      answered: releases.length + outcomes.filter((o) => o.kind === "denied" || o.kind === "error").length,
      released: releases.length,
      denied: outcomes.filter((o) => o.kind === "denied").length,
      deniedAfterRevocation,
      unavailable: outcomes.filter((o) => o.kind === "unavailable").length,
      errors: outcomes.filter((o) => o.kind === "error").length,
      errorSamples: [...new Set(outcomes.filter((o) => o.kind === "error").map((o) => o.error))].slice(0, 5),
    },
    releasesPerSecond: round(releases.length / (runMs / 1000)),
    answeredPerSecond: round(answeredLatencies.length / (runMs / 1000)),
    latencyMs: {
      answered: {
        p50: round(percentile(answeredLatencies, 50)),
        p99: round(percentile(answeredLatencies, 99)),
        max: round(answeredLatencies.at(-1) ?? NaN),
      },
      released: { p50: round(percentile(releaseLatencies, 50)), p99: round(percentile(releaseLatencies, 99)) },
    },
    correctness: {
      wronglyReleased: wrong,
      basisMismatch,
      staleDecisions: stale,
      badWrappedKeys: badKeys,
      receivedButNotJournaled: receivedNotJournaled,
      journaled: journal.length,
      journaledButNotReceived: journal.length - releases.length,
      onChain: comparison.onChain,
      missingOnChain: comparison.missing.length,
      extraOnChain: comparison.extra.length,
      duplicateRoots: comparison.duplicateRoots.length,
      badManifests: comparison.badManifests.length,
    },
    accessLog: {
      transactions: batches.length,
      singles: comparison.singles,
      batches: comparison.batches,
      gasTotal: Number(logGas),
      gasPerRelease: journal.length ? Math.round(Number(logGas) / journal.length) : 0,
      drainSeconds: round(drainMs / 1000, 2),
    },
    fault: fault && {
      ...fault,
      killedAt: round(fault.killedAt / 1000, 2),
      restartedAt: round(fault.restartedAt / 1000, 2),
      downtimeMs: Math.round(fault.downtimeMs),
    },
  };
}

type Result = Awaited<ReturnType<typeof run>>;

function report(result: Result): void {
  const c = result.correctness;
  console.log(JSON.stringify(result, null, 2));
  const failures = [
    c.wronglyReleased && `${c.wronglyReleased} keys released although the chain said None at the checked block`,
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
  if (!flags["no-write"]) {
    const previous = existsSync(OUTPUT) ? (JSON.parse(readFileSync(OUTPUT, "utf8")) as Record<string, unknown>) : {};
    const output = {
      command: "npm run bench:gateway [-- --fault]",
      environment: {
        node: process.version,
        cpu: os.cpus()[0]?.model ?? "unknown",
        cores: os.cpus().length,
        platform: `${os.platform()} ${os.release()}`,
      },
      ...previous,
      [result.variant]: {
        date: new Date().toISOString(),
        loadAverage: os.loadavg().map((v) => round(v, 2)),
        ...result,
      },
    };
    writeFileSync(OUTPUT, JSON.stringify(output, null, 2) + "\n");
    writeDocsSection(output as Record<string, unknown>);
    console.log(`written to ${path.relative(process.cwd(), OUTPUT)} and ${path.relative(process.cwd(), DOCS)}`);
  }
  if (failures.length) {
    console.error(`FAILED:\n- ${failures.join("\n- ")}`);
    process.exitCode = 1;
  } else {
    console.log("OK: no key released wrongly; journal, chain and clients agree.");
  }
}

/** Rewrites the load-test section of README.md (between its markers) from the JSON. */
function writeDocsSection(output: Record<string, unknown>): void {
  if (!existsSync(DOCS)) return;
  const text = readFileSync(DOCS, "utf8");
  const begin = text.indexOf(DOCS_BEGIN);
  const end = text.indexOf(DOCS_END);
  if (begin < 0 || end < begin) return;
  const rows: string[] = [];
  for (const variant of ["normal", "fault"]) {
    const r = output[variant] as (Result & { date: string; loadAverage: number[] }) | undefined;
    if (!r) continue;
    const c = r.correctness;
    rows.push(
      `| ${variant} | ${r.parameters.researchers} x ${r.parameters.requestsPerResearcher} | ${r.requests.released} / ${r.requests.denied} (${r.requests.deniedAfterRevocation} after a revocation) | ` +
        `${r.releasesPerSecond} | ${r.latencyMs.answered.p50} / ${r.latencyMs.answered.p99} | ${r.parameters.revocations} | ` +
        `${c.wronglyReleased} | ${c.staleDecisions} | ${c.journaled} / ${c.onChain} (${c.missingOnChain} missing, ${c.extraOnChain} extra) | ` +
        `${r.accessLog.transactions} (${r.accessLog.batches} batches, ${r.accessLog.singles} single) | ${r.accessLog.gasPerRelease} | ` +
        `${r.fault ? `killed at ${r.fault.killedAt} s, down ${r.fault.downtimeMs} ms, ${r.requests.unavailable} refused meanwhile` : "-"} | ${r.date.slice(0, 10)}, load ${r.loadAverage[0]} |`,
    );
  }
  const environment = output.environment as { node: string; cpu: string; cores: number };
  const section = [
    DOCS_BEGIN,
    `Measured with \`npm run bench:gateway\` and \`npm run bench:gateway -- --fault\` on ${environment.cores} cores (${environment.cpu}), Node ${environment.node}; ` +
      "the node, the gateway and the 20 clients share those cores. Raw figures: bench/gateway-load.json.",
    "",
    "| run | researchers x requests | released / refused | releases/s | p50 / p99 ms | revocations | wrongly released | stale decisions | journal / on chain | log transactions | gas per release | fault | when |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...rows,
    DOCS_END,
  ].join("\n");
  writeFileSync(DOCS, text.slice(0, begin) + section + text.slice(end + DOCS_END.length));
}

main().catch((error: unknown) => {
  console.error(`gateway load test failed: ${(error as Error)?.stack ?? String(error)}`);
  process.exitCode = 1;
});
