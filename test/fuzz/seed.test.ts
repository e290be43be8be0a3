/**
 * The property tests' seed: CI derives it from the commit (.ci/fuzz-seed, exported by .ci/run), every
 * fuzzer and model test draws from it, and a failure found with it recurs when replayed with it.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

import { expect } from "chai";

import { resolveFuzzSeed } from "../helpers/seed";

const ROOT = path.resolve(__dirname, "../..");

/** Runs a failing property through test/fuzz/fuzz.ts in a fresh process with `env`; returns its report. */
function failingRunReport(env: NodeJS.ProcessEnv): string {
  const script = `
    const fc = require("fast-check");
    const { fuzz } = require("./test/fuzz/fuzz");
    fuzz({ test: { title: "t" } }, "f", fc.property(fc.integer(), (n) => n % 97 !== 13), 10000)
      .then(() => console.log("PASSED"), (error) => console.log(error.message));`;
  return execFileSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: "utf8",
  });
}

describe("the property tests' seed", function () {
  it("is, in CI, the commit's first 7 hex digits read as a number", function () {
    const commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
    const expected = parseInt(commit.slice(0, 7), 16);
    expect(execFileSync(path.join(ROOT, ".ci/fuzz-seed"), { encoding: "utf8" }).trim()).to.equal(String(expected));
    // .ci/run exports it before the tests (unless the caller set FUZZ_SEED to replay another run).
    const run = readFileSync(path.join(ROOT, ".ci/run"), "utf8");
    expect(run).to.include('FUZZ_SEED="${FUZZ_SEED:-$(.ci/fuzz-seed)}"');
    // The command line itself (the comment at the top of .ci/run names `npm test` too).
    expect(run.indexOf("export FUZZ_SEED")).to.be.within(0, run.search(/^npm test$/m));
  });

  it("is FUZZ_SEED when set, and a 31-bit random seed otherwise; nonsense is refused", function () {
    expect(resolveFuzzSeed({ FUZZ_SEED: "56700820" })).to.deep.equal({ seed: 56700820, source: "FUZZ_SEED" });
    expect(resolveFuzzSeed({ FUZZ_SEED: "-3" })).to.deep.equal({ seed: -3, source: "FUZZ_SEED" });
    const random = resolveFuzzSeed({});
    expect(random.source).to.equal("random");
    expect(Number.isSafeInteger(random.seed) && random.seed >= 0 && random.seed < 2 ** 31).to.equal(true);
    for (const bad of ["x", "1.5", String(2 ** 40)])
      expect(() => resolveFuzzSeed({ FUZZ_SEED: bad })).to.throw(/FUZZ_SEED must be an integer/);
  });

  it("is what every fast-check run of the property tests draws from (test/fuzz through fuzz(), test/model directly)", function () {
    const files = ["test/fuzz", "test/model"].flatMap((dir) =>
      readdirSync(path.join(ROOT, dir))
        .filter((name) => name.endsWith(".ts"))
        .map((name) => path.join(dir, name)),
    );
    const runs = files.flatMap((file) =>
      [...readFileSync(path.join(ROOT, file), "utf8").matchAll(/fc\.(?:check|assert)\(([\s\S]*?)\);/g)].map((m) => ({
        file,
        call: m[1],
      })),
    );
    expect(runs.map((run) => run.file).sort()).to.include.members([
      "test/fuzz/fuzz.ts",
      "test/model/consent-model.test.ts",
      "test/model/record-registry-model.test.ts",
    ]);
    for (const run of runs)
      expect(run.call, `${run.file}: fc.check without the run's seed`).to.match(/seed: fuzzSeed\(\)/);
  });

  it("drives fast-check: a failure prints the seed it ran with, and the same seed finds the same counterexample", function () {
    this.timeout(60_000);
    const first = failingRunReport({ FUZZ_SEED: "424242" });
    expect(first).to.include("property tests: seed 424242 (FUZZ_SEED)");
    expect(first).to.include("FUZZ_SEED=424242 FUZZ_PATH=");
    const counterexample = /Counterexample: (.*)/.exec(first)?.[1];
    expect(counterexample, first).to.be.a("string");
    const again = failingRunReport({ FUZZ_SEED: "424242" });
    expect(/Counterexample: (.*)/.exec(again)?.[1]).to.equal(counterexample);
    expect(/FUZZ_PATH=(\S+)/.exec(again)?.[1]).to.equal(/FUZZ_PATH=(\S+)/.exec(first)?.[1]);
  });
});
