/**
 * Envelope throughput against the bare primitives on the same bytes in the same run.
 *
 *   npm run bench:crypto              # every case, writes bench/crypto.json
 *   npm run bench:crypto -- --quick   # fewer iterations, 256 MiB instead of 1 GiB, no file written
 *   npm run bench:crypto -- --browser-only [--quick]   # only the Chromium case, printed, no file written
 *
 * Each case runs in a child process of its own, so its memory is measured alone: "peak memory above
 * baseline" is the process's peak resident set (getrusage maxRSS) at the end of the case minus its
 * resident set just before the case started (modules loaded, inputs ready). In the same child, right
 * after the case, the bare primitives process the same bytes: node:crypto AES-256-GCM, then SHA-256 of
 * the ciphertext, one thread, no envelope ("primitives MB/s"); "ratio" is case MB/s / primitives MB/s.
 *
 * Large cases stream: the plaintext is one random 1 MiB buffer yielded again and again (never the
 * record in memory); the envelope of an open case is sealed into a temp file first (not timed) and read
 * back as a file stream, as the primitives read it too. Large cases alternate envelope and primitives
 * three times and give the medians; in-memory cases (16 MiB) give the median of several iterations
 * after warm-up.
 *
 * MB/s are 10^6 bytes of plaintext per second. Run with ts-node --transpile-only (npm run bench:crypto
 * does): a type-checking ts-node keeps the compiler in the heap and measures garbage collection instead.
 * Benchmarks are not tests: nothing here runs in `npm test`.
 */
import { spawnSync } from "node:child_process";
import { createCipheriv, createHash, randomBytes as nodeRandomBytes } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";

import { DataClass } from "../sdk/codes";
import { openRecord, sealRecord, ZERO_RECORD_ID, type RecordContext } from "../sdk/crypto/envelope";
import { collectBytes, openRecordStream, sealRecordStream, sealRecordV2 } from "../sdk/crypto/envelope-v2";
import { nodeSegmentCrypto } from "../sdk/crypto/node/segment-crypto";
import { webSegmentCrypto } from "../sdk/crypto/segment-crypto";

const QUICK = process.argv.includes("--quick");
const MiB = 1 << 20;
const GiB = 1 << 30;
const LARGE = QUICK ? 256 * MiB : GiB;
const REPEATS = QUICK ? 1 : 3;

const CONTEXT: RecordContext = {
  chainId: 31337n,
  registry: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
  patient: "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
  provider: "0x90f79bf6eb2c4f870365e785982e1f101e93b906",
  dataClass: DataClass.IMAGING,
  version: 1,
  previousRecordId: ZERO_RECORD_ID,
  contentType: 2,
};

interface CaseResult {
  case: string;
  bytes: number;
  iterations: number;
  mbPerSecond: number;
  primitivesMBps: number;
  ratio: number;
  peakMemoryAboveBaselineMiB: number;
  target?: string;
  met?: boolean;
}

/** `total` bytes as 1 MiB chunks of one random buffer. */
function* plaintextChunks(total: number, chunk: Uint8Array): Generator<Uint8Array> {
  for (let sent = 0; sent < total; sent += chunk.length)
    yield sent + chunk.length <= total ? chunk : chunk.subarray(0, total - sent);
}

const mbps = (bytes: number, ms: number): number => bytes / 1e6 / (ms / 1000);
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1];
const rssNow = (): number => process.memoryUsage().rss;
const peakRss = (): number => process.resourceUsage().maxRSS * 1024;

/** The bare primitives over a stream of chunks: AES-256-GCM, then SHA-256 of its output. */
async function primitivesOver(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  bytes: number,
): Promise<number> {
  const started = performance.now();
  const cipher = createCipheriv("aes-256-gcm", nodeRandomBytes(32), nodeRandomBytes(12));
  const hash = createHash("sha256");
  for await (const chunk of chunks) hash.update(cipher.update(chunk));
  cipher.final();
  hash.update(cipher.getAuthTag());
  hash.digest();
  return mbps(bytes, performance.now() - started);
}

/** The bare primitives on one buffer in memory: median MB/s over `iterations`. */
function primitivesInMemory(plaintext: Uint8Array, iterations: number): number {
  const times: number[] = [];
  for (let i = -2; i < iterations; i++) {
    const started = performance.now();
    const cipher = createCipheriv("aes-256-gcm", nodeRandomBytes(32), nodeRandomBytes(12));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    createHash("sha256").update(ciphertext).digest();
    if (i >= 0) times.push(performance.now() - started);
  }
  return mbps(plaintext.length, median(times));
}

async function timedMedian(iterations: number, run: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 2; i++) await run();
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const started = performance.now();
    await run();
    times.push(performance.now() - started);
  }
  return median(times);
}

async function sealLargeToFile(
  file: string,
  chunk: Uint8Array,
): Promise<{ dataKey: Uint8Array; recordId: string; envelopeBytes: number }> {
  const sealing = sealRecordStream(plaintextChunks(LARGE, chunk), CONTEXT, undefined, { crypto: nodeSegmentCrypto });
  let envelopeBytes = 0;
  const counted = (async function* () {
    for await (const part of sealing.envelope) {
      envelopeBytes += part.length;
      yield part;
    }
  })();
  await pipeline(Readable.from(counted), createWriteStream(file));
  return { dataKey: sealing.dataKey, recordId: await sealing.recordId, envelopeBytes };
}

/** One case, in this (child) process. */
async function runCase(name: string): Promise<CaseResult> {
  const chunk = new Uint8Array(nodeRandomBytes(MiB));
  const size16 = 16 * MiB;
  const plaintext16 = new Uint8Array(nodeRandomBytes(size16));
  const iterations16 = QUICK ? 5 : 15;
  const label = (bytes: number) => (bytes >= GiB ? `${bytes / GiB} GiB` : `${bytes / MiB} MiB`);

  // Large cases alternate the envelope and the primitives `REPEATS` times and report medians, so a burst
  // of load on a shared machine does not fall on one side only.
  if (name === "node-seal-large") {
    // Warm-up (JIT, first allocations): 64 MiB through both, not timed.
    for await (const part of sealRecordStream(plaintextChunks(64 * MiB, chunk), CONTEXT, undefined, {
      crypto: nodeSegmentCrypto,
    }).envelope)
      void part;
    await primitivesOver(plaintextChunks(64 * MiB, chunk), 64 * MiB);
    const baseline = rssNow();
    const ours: number[] = [];
    const bare: number[] = [];
    let peak = 0;
    for (let i = 0; i < REPEATS; i++) {
      const started = performance.now();
      const sealing = sealRecordStream(plaintextChunks(LARGE, chunk), CONTEXT, undefined, {
        crypto: nodeSegmentCrypto,
      });
      for await (const part of sealing.envelope) void part;
      await sealing.recordId;
      ours.push(mbps(LARGE, performance.now() - started));
      peak = Math.max(peak, peakRss() - baseline);
      bare.push(await primitivesOver(plaintextChunks(LARGE, chunk), LARGE));
    }
    return result(
      `node seal ${label(LARGE)} (stream, node:crypto)`,
      LARGE,
      REPEATS,
      median(ours),
      median(bare),
      peak,
      0.6,
    );
  }
  if (name === "node-open-large") {
    const dir = mkdtempSync(path.join(os.tmpdir(), "bench-crypto-"));
    try {
      const file = path.join(dir, "envelope");
      const sealed = await sealLargeToFile(file, chunk);
      let warmed = 0;
      for await (const part of openRecordStream(
        createReadStream(file, { highWaterMark: MiB }),
        sealed.dataKey,
        {},
        { crypto: nodeSegmentCrypto },
      )) {
        warmed += part.length; // warm-up: the first 64 MiB, not timed
        if (warmed >= 64 * MiB) break;
      }
      const baseline = rssNow();
      const ours: number[] = [];
      const bare: number[] = [];
      let peak = 0;
      for (let i = 0; i < REPEATS; i++) {
        const started = performance.now();
        for await (const part of openRecordStream(
          createReadStream(file, { highWaterMark: MiB }),
          sealed.dataKey,
          { recordId: sealed.recordId },
          { crypto: nodeSegmentCrypto },
        ))
          void part;
        ours.push(mbps(LARGE, performance.now() - started));
        peak = Math.max(peak, peakRss() - baseline);
        bare.push(await primitivesOver(createReadStream(file, { highWaterMark: MiB }), sealed.envelopeBytes));
      }
      return result(
        `node open ${label(LARGE)} (stream from file, node:crypto)`,
        LARGE,
        REPEATS,
        median(ours),
        median(bare),
        peak,
        0.6,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const inMemory = async (caseName: string, run: () => Promise<unknown>, target?: number): Promise<CaseResult> => {
    const baseline = rssNow();
    const ms = await timedMedian(iterations16, run);
    const peak = peakRss() - baseline;
    return result(
      caseName,
      size16,
      iterations16,
      mbps(size16, ms),
      primitivesInMemory(plaintext16, iterations16),
      peak,
      undefined,
      target,
    );
  };
  if (name === "node-seal-16")
    return inMemory(
      "node seal 16 MiB (v2 in memory, node:crypto)",
      () => sealRecordV2(plaintext16, CONTEXT, undefined, { crypto: nodeSegmentCrypto }),
      500,
    );
  if (name === "node-open-16") {
    const sealed = await sealRecordV2(plaintext16, CONTEXT, undefined, { crypto: nodeSegmentCrypto });
    return inMemory(
      "node open 16 MiB (v2 in memory, node:crypto)",
      () =>
        collectBytes(
          openRecordStream(
            [sealed.envelope],
            sealed.dataKey,
            { recordId: sealed.recordId },
            { crypto: nodeSegmentCrypto },
          ),
        ),
      500,
    );
  }
  if (name === "web-seal-16")
    return inMemory("WebCrypto seal 16 MiB (v2 in memory, in Node)", () =>
      sealRecordV2(plaintext16, CONTEXT, undefined, { crypto: webSegmentCrypto }),
    );
  if (name === "web-open-16") {
    const sealed = await sealRecordV2(plaintext16, CONTEXT);
    return inMemory("WebCrypto open 16 MiB (v2 in memory, in Node)", () =>
      openRecord(sealed.envelope, sealed.dataKey, { recordId: sealed.recordId }),
    );
  }
  if (name === "v1-seal-16")
    return inMemory("v1 seal 16 MiB (WebCrypto, for comparison)", () => sealRecord(plaintext16, CONTEXT));
  if (name === "v1-open-16") {
    const sealed = await sealRecord(plaintext16, CONTEXT);
    return inMemory("v1 open 16 MiB (WebCrypto, for comparison)", () =>
      openRecord(sealed.envelope, sealed.dataKey, { recordId: sealed.recordId }),
    );
  }
  throw new Error(`unknown case ${name}`);
}

function result(
  name: string,
  bytes: number,
  iterations: number,
  mb: number,
  primitives: number,
  peakBytes: number,
  minRatio?: number,
  minMBps?: number,
): CaseResult {
  const row: CaseResult = {
    case: name,
    bytes,
    iterations,
    mbPerSecond: Math.round(mb * 10) / 10,
    primitivesMBps: Math.round(primitives * 10) / 10,
    ratio: Math.round((mb / primitives) * 1000) / 1000,
    peakMemoryAboveBaselineMiB: Math.round((peakBytes / MiB) * 10) / 10,
  };
  if (minRatio !== undefined) {
    row.target = `>= ${minRatio * 100}% of the primitives, < 64 MiB above baseline`;
    row.met = row.ratio >= minRatio && row.peakMemoryAboveBaselineMiB < 64;
  } else if (minMBps !== undefined) {
    row.target = `>= ${minMBps} MB/s`;
    row.met = row.mbPerSecond >= minMBps;
  }
  return row;
}

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const BROWSER_MIB = QUICK ? 64 : 256;

interface BrowserResult {
  case: string;
  bytes: number;
  sealMBps: number;
  openMBps: number;
  /** WebCrypto AES-256-GCM alone in the same page, one 1 MiB call at a time. */
  browserAesMBps: number;
  /** node:crypto AES-256-GCM then SHA-256 on as many bytes, in this (parent) process, right after. */
  primitivesMBps: number;
  sealRatio: number;
  openRatio: number;
  target: string;
  met: boolean;
  peakMemoryAboveBaselineMiB: null;
  note: string;
}

/** The 256 MiB case in Chromium: the SDK's core bundled by Vite, served on loopback (a secure context). */
async function browserCase(): Promise<BrowserResult | { case: string; skipped: string }> {
  const name = `browser seal/open ${BROWSER_MIB} MiB (Chromium, WebCrypto, stream)`;
  if (!existsSync(CHROMIUM)) return { case: name, skipped: `${CHROMIUM} is missing` };
  const { build } = await import("vite");
  const { chromium } = await import("playwright-core");
  const out = (await build({
    configFile: false,
    logLevel: "silent",
    root: __dirname,
    build: {
      write: false,
      minify: false,
      lib: { entry: path.join(__dirname, "browser/envelope-bench.ts"), formats: ["iife"], name: "EnvelopeBench" },
    },
  })) as unknown as { output: { code?: string }[] }[] | { output: { code?: string }[] };
  const bundle = (Array.isArray(out) ? out[0] : out).output[0].code as string;
  const server = createServer((request, response) => {
    if (request.url === "/bench.js") response.writeHead(200, { "content-type": "text/javascript" }).end(bundle);
    else
      response.writeHead(200, { "content-type": "text/html" }).end('<!doctype html><script src="/bench.js"></script>');
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    const measured = (await page.evaluate(
      (mib) => (globalThis as unknown as { envelopeBench: (m: number) => Promise<unknown> }).envelopeBench(mib),
      BROWSER_MIB,
    )) as {
      sealMBps: number;
      openMBps: number;
      aesMBps: number;
      ok: boolean;
    };
    if (!measured.ok) throw new Error("the browser's open did not give back every byte");
    const chunk = new Uint8Array(nodeRandomBytes(MiB));
    const primitives = await primitivesOver(plaintextChunks(BROWSER_MIB * MiB, chunk), BROWSER_MIB * MiB);
    const round = (value: number) => Math.round(value * 10) / 10;
    return {
      case: name,
      bytes: BROWSER_MIB * MiB,
      sealMBps: round(measured.sealMBps),
      openMBps: round(measured.openMBps),
      browserAesMBps: round(measured.aesMBps),
      primitivesMBps: round(primitives),
      sealRatio: Math.round((measured.sealMBps / primitives) * 1000) / 1000,
      openRatio: Math.round((measured.openMBps / primitives) * 1000) / 1000,
      target: ">= 300 MB/s",
      met: measured.sealMBps >= 300 && measured.openMBps >= 300,
      peakMemoryAboveBaselineMiB: null,
      note: "peak memory is not measured in the browser; the open case holds the sealed envelope in memory (it is the input)",
    };
  } finally {
    await browser.close();
    server.close();
  }
}

const CASES = [
  "node-seal-large",
  "node-open-large",
  "node-seal-16",
  "node-open-16",
  "web-seal-16",
  "web-open-16",
  "v1-seal-16",
  "v1-open-16",
];

async function main(): Promise<void> {
  const caseArg = process.argv.indexOf("--case");
  if (caseArg >= 0) {
    const row = await runCase(process.argv[caseArg + 1]);
    process.stdout.write(`${JSON.stringify(row)}\n`);
    return;
  }
  if (process.argv.includes("--browser-only")) {
    console.log(JSON.stringify(await browserCase(), null, 2));
    return;
  }
  const rows: CaseResult[] = [];
  for (const name of CASES) {
    const child = spawnSync(
      process.execPath,
      [...process.execArgv, __filename, "--case", name, ...(QUICK ? ["--quick"] : [])],
      {
        encoding: "utf8",
        maxBuffer: 16 * MiB,
      },
    );
    if (child.status !== 0) throw new Error(`case ${name} failed:\n${child.stderr}`);
    const row = JSON.parse(child.stdout.trim().split("\n").pop() as string) as CaseResult;
    rows.push(row);
    console.log(
      `${row.case.padEnd(52)} ${row.mbPerSecond.toFixed(1).padStart(8)} MB/s   primitives ${row.primitivesMBps.toFixed(1).padStart(8)} MB/s   ratio ${row.ratio.toFixed(3)}   peak +${row.peakMemoryAboveBaselineMiB} MiB${row.target ? `   target ${row.target}: ${row.met ? "met" : "NOT met"}` : ""}`,
    );
  }
  const browser = await browserCase();
  console.log(JSON.stringify(browser));
  const cpus = os.cpus();
  const out = {
    command: `npm run bench:crypto${QUICK ? " -- --quick" : ""}`,
    date: new Date().toISOString(),
    environment: {
      node: process.version,
      openssl: process.versions.openssl,
      platform: `${os.platform()} ${os.release()} ${os.arch()}`,
      cpu: cpus[0]?.model ?? "unknown",
      cores: cpus.length,
    },
    loadAverage: os.loadavg().map((load) => Math.round(load * 100) / 100),
    units: {
      mbPerSecond: "10^6 bytes of plaintext per second (median of `iterations` for in-memory cases)",
      primitivesMBps:
        "node:crypto AES-256-GCM then SHA-256 of the ciphertext, one thread, no envelope, on the same bytes, in the same child process",
      ratio: "mbPerSecond / primitivesMBps",
      peakMemoryAboveBaselineMiB:
        "peak resident set (maxRSS) during the case minus the resident set just before it, MiB",
    },
    results: rows,
    browser,
  };
  if (!QUICK) {
    writeFileSync(path.join(__dirname, "crypto.json"), `${JSON.stringify(out, null, 2)}\n`);
    console.log("Wrote bench/crypto.json");
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
