#!/usr/bin/env node
/**
 * How long `consent-ledger --help` takes from process start to exit: the built CLI (dist/cli/main.js,
 * what the package's bin runs), against the same CLI started through ts-node, as the repository ran it
 * before it shipped built. Wall time of whole processes, as a person or a script waits for them.
 *
 *   npm run bench:cli [-- --runs 20]      writes bench/cli.json
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const runsIndex = process.argv.indexOf("--runs");
const runs = runsIndex > 0 ? Number(process.argv[runsIndex + 1]) : 20;
if (!Number.isInteger(runs) || runs < 3 || runs > 1000) {
  process.stderr.write("error: --runs must be a whole number from 3 to 1000\n");
  process.exit(2);
}

function time(command, args) {
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, { cwd: root, encoding: "utf8" });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0 || !result.stdout.includes("Usage: consent-ledger")) {
    throw new Error(`${command} ${args.join(" ")} failed (exit ${result.status}): ${result.stderr}`);
  }
  return ms;
}

function summary(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const round = (ms) => Math.round(ms * 10) / 10;
  return { runs: sorted.length, medianMs: round(at(0.5)), p90Ms: round(at(0.9)), minMs: round(sorted[0]) };
}

const bundled = [];
time(process.execPath, ["dist/cli/main.js", "--help"]); // warm the file cache once
for (let i = 0; i < runs; i++) bundled.push(time(process.execPath, ["dist/cli/main.js", "--help"]));
// ts-node is slow enough that a few runs tell its figure.
const tsNode = [];
for (let i = 0; i < 3; i++) {
  tsNode.push(time(process.execPath, ["-r", "ts-node/register/transpile-only", "cli/main.ts", "--help"]));
}
const result = {
  command: "consent-ledger --help",
  node: process.version,
  built: summary(bundled),
  tsNode: summary(tsNode),
};
result.speedup = Math.round((result.tsNode.medianMs / result.built.medianMs) * 10) / 10;
writeFileSync(path.join(root, "bench", "cli.json"), `${JSON.stringify(result, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
