/**
 * Crypto throughput: seal (AES-256-GCM encrypt + envelope + SHA-256 record id) and open (SHA-256 check
 * against the record id + AES-256-GCM decrypt) of 1 KiB, 1 MiB and 16 MiB records, against OpenSSL's own
 * AES-256-GCM (and SHA-256) on this machine.
 *
 *   npx ts-node --transpile-only bench/crypto.ts            # prints a table, writes bench/crypto.json
 *   npx ts-node --transpile-only bench/crypto.ts --quick    # fewer iterations, no OpenSSL run, no file
 *
 * Use --transpile-only: type-checking ts-node keeps the whole TypeScript compiler in the heap (~120 MB),
 * and every 16 MiB buffer WebCrypto allocates then triggers costly full garbage collections, which
 * measures ts-node rather than the SDK (16 MiB seals measured 3-5x slower that way). `npx hardhat run`
 * carries Hardhat's heap for the same reason. Compiled JavaScript behaves like --transpile-only.
 *
 * MB/s are 10^6 bytes of plaintext per second (OpenSSL's "k" is 1000 bytes, so the units agree);
 * ms/op and MB/s are the median over the iterations, after warm-up; "best MB/s" is the fastest
 * iteration; "CPU ms/op" is the process CPU time (all threads) per operation; "GC ms/op" the garbage
 * collection pauses per operation.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PerformanceObserver } from "node:perf_hooks";

import { DataClass } from "../sdk/codes";
import { aesGcmEncrypt } from "../sdk/crypto/aes-gcm";
import { randomBytes } from "../sdk/crypto/bytes";
import { openRecord, sealRecord, ZERO_RECORD_ID, type RecordContext } from "../sdk/crypto/envelope";
import { unwrapDataKey, wrapDataKey } from "../sdk/crypto/key-wrap";
import { generateEncryptionKeyPair } from "../sdk/crypto/keys";
import { sha256 } from "../sdk/crypto/sha256";

const QUICK = process.argv.includes("--quick");
const TARGET_SEAL_16MIB_MBPS = 500;
const KiB = 1024;
const MiB = 1024 * KiB;

const CONTEXT: RecordContext = {
  chainId: 31337n,
  registry: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
  patient: "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
  provider: "0x90f79bf6eb2c4f870365e785982e1f101e93b906",
  dataClass: DataClass.IMAGING,
  version: 1,
  previousRecordId: ZERO_RECORD_ID,
};

interface Row {
  operation: string;
  size: string;
  bytes: number;
  iterations: number;
  msPerOp: number;
  mbPerSecond: number;
  /** The fastest iteration: closest to the uncontended cost on a busy machine. */
  bestMBPerSecond: number;
  /** Mean process CPU time (all threads) per operation: what the work costs whatever else the machine runs. */
  cpuMsPerOp: number;
  /** Mean garbage-collection pause per operation (V8 collects when large external buffers pile up). */
  gcMsPerOp: number;
}

/** Garbage-collection time observed so far, in ms. */
let gcMs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcMs += entry.duration;
}).observe({ entryTypes: ["gc"] });

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function measure(operation: string, size: string, bytes: number, iterations: number, run: () => Promise<unknown>): Promise<Row> {
  for (let i = 0; i < Math.max(2, iterations >> 3); i++) await run(); // warm-up
  const times: number[] = [];
  const gcBefore = gcMs;
  const cpuBefore = process.cpuUsage();
  for (let i = 0; i < iterations; i++) {
    const started = performance.now();
    await run();
    times.push(performance.now() - started);
  }
  const cpu = process.cpuUsage(cpuBefore);
  await new Promise((resolve) => setImmediate(resolve)); // let the GC observer report
  const gcMsPerOp = (gcMs - gcBefore) / iterations;
  const msPerOp = median(times);
  const cpuMsPerOp = (cpu.user + cpu.system) / 1000 / iterations;
  const mbps = (ms: number): number => bytes / 1e6 / (ms / 1000);
  return { operation, size, bytes, iterations, msPerOp, mbPerSecond: mbps(msPerOp), bestMBPerSecond: mbps(Math.min(...times)), cpuMsPerOp, gcMsPerOp };
}

interface OpenSslFigures {
  available: boolean;
  version?: string;
  command?: string;
  /** MB/s (10^6 bytes/s) at 16384-byte blocks. */
  aes256GcmMBps?: number;
  sha256MBps?: number;
  note?: string;
}

/** The 16384-byte column of an `openssl speed` result line, in MB/s. */
function parseSpeed(output: string, algorithm: RegExp): number | undefined {
  for (const line of output.split("\n")) {
    if (!algorithm.test(line.trim())) continue;
    const values = [...line.matchAll(/([\d.]+)k\b/g)].map((match) => Number(match[1]));
    if (values.length >= 6) return values[5] / 1000; // columns: 16, 64, 256, 1024, 8192, 16384 bytes
  }
  return undefined;
}

function openSsl(): OpenSslFigures {
  const version = spawnSync("openssl", ["version"], { encoding: "utf8" });
  if (version.error || version.status !== 0) return { available: false, note: "not available (no openssl binary on PATH)" };
  const run = (args: string[]): string => {
    const result = spawnSync("openssl", args, { encoding: "utf8", maxBuffer: 16 * MiB });
    return `${result.stdout ?? ""}\n${result.stderr ?? ""}`;
  };
  const aesArgs = ["speed", "-evp", "aes-256-gcm", "-seconds", "1"];
  const shaArgs = ["speed", "-evp", "sha256", "-seconds", "1"];
  return {
    available: true,
    version: version.stdout.trim(),
    command: `openssl ${aesArgs.join(" ")}; openssl ${shaArgs.join(" ")}`,
    aes256GcmMBps: parseSpeed(run(aesArgs), /^aes-256-gcm\s/i),
    sha256MBps: parseSpeed(run(shaArgs), /^sha256\s/i),
  };
}

function table(rows: Row[]): string {
  const header = ["operation", "size", "iterations", "ms/op", "MB/s", "best MB/s", "CPU ms/op", "GC ms/op"];
  const lines = rows.map((row) => [
    row.operation,
    row.size,
    String(row.iterations),
    row.msPerOp.toFixed(3),
    row.bytes < 1000 ? "-" : row.mbPerSecond.toFixed(1),
    row.bytes < 1000 ? "-" : row.bestMBPerSecond.toFixed(1),
    row.cpuMsPerOp.toFixed(3),
    row.gcMsPerOp.toFixed(3),
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...lines.map((line) => line[i].length)));
  const format = (cells: string[]): string => `| ${cells.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join(" | ")} |`;
  return [format(header), `|${widths.map((w, i) => (i < 2 ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|`, ...lines.map(format)].join("\n");
}

async function main(): Promise<void> {
  const sizes: [string, number, number][] = [
    ["1 KiB", KiB, QUICK ? 200 : 3000],
    ["1 MiB", MiB, QUICK ? 10 : 100],
    ["16 MiB", 16 * MiB, QUICK ? 3 : 21],
  ];
  const rows: Row[] = [];
  for (const [size, bytes, iterations] of sizes) {
    const plaintext = randomBytes(bytes);
    const sealed = await sealRecord(plaintext, CONTEXT);
    const key = randomBytes(32);
    const iv = randomBytes(12);
    rows.push(await measure("seal (encrypt + SHA-256)", size, bytes, iterations, () => sealRecord(plaintext, CONTEXT)));
    rows.push(
      await measure("open (SHA-256 check + decrypt)", size, bytes, iterations, () =>
        openRecord(sealed.envelope, sealed.dataKey, { recordId: sealed.recordId }),
      ),
    );
    rows.push(await measure("AES-256-GCM encrypt only", size, bytes, iterations, () => aesGcmEncrypt(key, iv, plaintext)));
    rows.push(await measure("SHA-256 only", size, bytes, iterations, () => sha256(plaintext)));
  }
  const recipient = generateEncryptionKeyPair();
  const dataKey = randomBytes(32);
  const recordId = `0x${"11".repeat(32)}`;
  const wrapped = await wrapDataKey(dataKey, recipient.publicKey, recordId);
  rows.push(await measure("wrap data key (X25519)", "32 B", 32, QUICK ? 5 : 50, () => wrapDataKey(dataKey, recipient.publicKey, recordId)));
  rows.push(await measure("unwrap data key (X25519)", "32 B", 32, QUICK ? 5 : 50, () => unwrapDataKey(wrapped, recipient, recordId)));

  const ssl: OpenSslFigures = QUICK ? { available: false, note: "skipped (--quick)" } : openSsl();
  const seal16 = rows.find((row) => row.operation.startsWith("seal") && row.size === "16 MiB") as Row;

  const tsNode = (process as unknown as Record<symbol, { options?: { transpileOnly?: boolean } } | undefined>)[
    Symbol.for("ts-node.register.instance")
  ];
  const transpileOnly = tsNode === undefined || tsNode.options?.transpileOnly === true;
  const command = `npx ts-node${transpileOnly ? " --transpile-only" : ""} bench/crypto.ts${QUICK ? " --quick" : ""}`;
  if (!transpileOnly) console.warn("Warning: type-checking ts-node inflates garbage collection; run with --transpile-only.");
  console.log(`\n${command}\n`);
  console.log(table(rows));
  console.log("");
  if (ssl.available) {
    console.log(`OpenSSL (${ssl.version}), 16384-byte blocks: AES-256-GCM ${ssl.aes256GcmMBps?.toFixed(1) ?? "?"} MB/s, SHA-256 ${ssl.sha256MBps?.toFixed(1) ?? "?"} MB/s`);
    console.log(`  (${ssl.command})`);
  } else {
    console.log(`OpenSSL: ${ssl.note}`);
  }
  const met = seal16.mbPerSecond >= TARGET_SEAL_16MIB_MBPS;
  console.log(`Load average (1, 5, 15 min): ${os.loadavg().map((load) => load.toFixed(2)).join(", ")} on ${os.cpus().length} cores`);
  console.log(`Target: seal 16 MiB >= ${TARGET_SEAL_16MIB_MBPS} MB/s: ${seal16.mbPerSecond.toFixed(1)} MB/s, ${met ? "met" : "NOT met"}`);

  const cpus = os.cpus();
  const result = {
    command,
    date: new Date().toISOString(),
    environment: {
      node: process.version,
      platform: `${os.platform()} ${os.release()} ${os.arch()}`,
      cpu: cpus[0]?.model ?? "unknown",
      cores: cpus.length,
      nodeOpenSsl: process.versions.openssl,
      heapUsedMB: Math.round(process.memoryUsage().heapUsed / 1e6),
    },
    loadAverage: os.loadavg(),
    units: {
      mbPerSecond: "10^6 bytes of plaintext per second",
      msPerOp: "median wall-clock milliseconds per operation",
      cpuMsPerOp: "mean process CPU milliseconds (all threads) per operation",
      gcMsPerOp: "mean garbage-collection milliseconds per operation",
    },
    results: rows,
    openssl: ssl,
    target: { seal16MiBMBps: TARGET_SEAL_16MIB_MBPS, measured: seal16.mbPerSecond, met },
  };
  if (!QUICK) {
    const out = path.join(__dirname, "crypto.json");
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`Wrote ${path.relative(process.cwd(), out)}`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
