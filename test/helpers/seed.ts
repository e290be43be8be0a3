/**
 * The one seed every property test of a run draws from (test/fuzz, test/model): FUZZ_SEED when set (CI
 * sets it from the commit, see .ci/fuzz-seed, so a failure recurs on the same commit), otherwise a fresh
 * random one. It is printed once per run, so any run can be replayed:
 *
 *   FUZZ_SEED=<seed> npx hardhat test test/fuzz/*.test.ts test/model/*.test.ts
 */
import { randomInt } from "node:crypto";

export interface FuzzSeed {
  seed: number;
  source: "FUZZ_SEED" | "random";
}

/** Reads FUZZ_SEED from `env` (an integer of at most 32 bits), or draws a random seed. */
export function resolveFuzzSeed(env: NodeJS.ProcessEnv = process.env): FuzzSeed {
  const text = env.FUZZ_SEED;
  if (text === undefined || text === "") return { seed: randomInt(2 ** 31), source: "random" };
  const seed = Number(text);
  if (!Number.isSafeInteger(seed) || Math.abs(seed) >= 2 ** 32) {
    throw new Error(`FUZZ_SEED must be an integer of at most 32 bits, got ${JSON.stringify(text)}`);
  }
  return { seed, source: "FUZZ_SEED" };
}

let resolved: FuzzSeed | undefined;

/** This run's seed, resolved and printed on first use. */
export function fuzzSeed(): number {
  if (!resolved) {
    resolved = resolveFuzzSeed();
    console.log(
      `    property tests: seed ${resolved.seed} (${resolved.source}); replay the run with FUZZ_SEED=${resolved.seed}`,
    );
  }
  return resolved.seed;
}
