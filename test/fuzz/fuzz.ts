/**
 * Shared machinery of the SDK fuzzers (test/fuzz/*.test.ts): how many cases, how to replay one, and the
 * one rule every parser of untrusted input is held to: it returns a value, or throws a ConsentLedgerError
 * subclass, promptly. Never a TypeError, RangeError or any other raw error, never a hang.
 *
 *   FUZZ_RUNS=20000 npx hardhat test test/fuzz/envelope.test.ts          (default: DEFAULT_RUNS per property)
 *   FUZZ_SEED=<seed> FUZZ_PATH=<path> npx hardhat test test/fuzz/envelope.test.ts --grep "<test title>"
 *
 * The seed is FUZZ_SEED (CI derives it from the commit) or a random one, printed at the start of the run
 * (test/helpers/seed.ts).
 */
import fc from "fast-check";

import { ConsentLedgerError } from "../../sdk/errors";
import { fuzzSeed } from "../helpers/seed";

export const DEFAULT_RUNS = 300;
/** A parser that takes longer than this on inputs of a few kilobytes is as good as hung. */
export const SLOW_MS = Number(process.env.FUZZ_SLOW_MS ?? 5_000);

const runs = (fallback: number): number => {
  const value = process.env.FUZZ_RUNS;
  return value ? Number(value) : fallback;
};

/**
 * Checks `property` for FUZZ_RUNS cases (`fallback` by default), honouring FUZZ_SEED / FUZZ_PATH, and on
 * failure throws fast-check's report (seed, shrunk counterexample, error) with the command that replays it.
 */
export async function fuzz<Ts>(
  test: Mocha.Context,
  file: string,
  property: fc.IRawProperty<Ts>,
  fallback = DEFAULT_RUNS,
): Promise<void> {
  const details = await fc.check(property, {
    numRuns: runs(fallback),
    seed: fuzzSeed(),
    path: process.env.FUZZ_PATH || undefined,
  });
  if (!details.failed) return;
  const cause = details.errorInstance;
  const title = test.test?.title ?? "";
  const message =
    `${fc.defaultReportMessage(details)}\n\nFailure: ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}` +
    `\n\nReplay this case with:\n  FUZZ_SEED=${details.seed} FUZZ_PATH=${details.counterexamplePath} ` +
    `npx hardhat test ${file} --grep ${JSON.stringify(title)}`;
  throw Object.assign(new Error(message), { stack: message });
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: ConsentLedgerError };

function describeThrown(error: unknown): string {
  if (error instanceof Error) return `${error.constructor.name}: ${error.message}`;
  try {
    return `a thrown ${typeof error}: ${String(error)}`;
  } catch {
    return `a thrown ${typeof error}`;
  }
}

/**
 * Runs `fn` (sync or async): its value, or the ConsentLedgerError it threw. Anything else thrown, or a
 * call slower than SLOW_MS, fails the property with what happened.
 */
export async function settle<T>(label: string, fn: () => T | Promise<T>): Promise<Outcome<Awaited<T>>> {
  const started = performance.now();
  let outcome: Outcome<Awaited<T>>;
  try {
    outcome = { ok: true, value: await fn() };
  } catch (error) {
    if (!(error instanceof ConsentLedgerError)) {
      throw new Error(`${label}: threw ${describeThrown(error)}, not a ConsentLedgerError`, { cause: error });
    }
    if (error.message.length < 10) {
      throw new Error(`${label}: ${error.name} says too little: ${JSON.stringify(error.message)}`, { cause: error });
    }
    outcome = { ok: false, error };
  }
  const elapsed = performance.now() - started;
  if (elapsed > SLOW_MS)
    throw new Error(`${label}: took ${Math.round(elapsed)} ms (a parser of untrusted input must not hang)`);
  return outcome;
}

type ErrorClass = abstract new (...args: any[]) => ConsentLedgerError; // eslint-disable-line @typescript-eslint/no-explicit-any

const names = (types: readonly ErrorClass[]): string => types.map((t) => t.name).join(" or ");

/**
 * Like settle, but a refusal must be one of `types` (the class a test's title promises), not just any
 * ConsentLedgerError: a parser that starts refusing bad input with the wrong error fails here.
 */
export async function settleAs<T>(
  label: string,
  fn: () => T | Promise<T>,
  types: readonly ErrorClass[],
): Promise<Outcome<Awaited<T>>> {
  const outcome = await settle(label, fn);
  if (!outcome.ok && !types.some((type) => outcome.error instanceof type)) {
    throw new Error(
      `${label}: refused with ${outcome.error.name} (${outcome.error.shortMessage}), expected ${names(types)}`,
    );
  }
  return outcome;
}

/** Like settle, but the call must fail, with one of `types`; returns the error. */
export async function refused(
  label: string,
  fn: () => unknown,
  types: readonly ErrorClass[],
): Promise<ConsentLedgerError> {
  const outcome = await settleAs(label, fn, types);
  if (outcome.ok) throw new Error(`${label}: accepted, but must be refused with ${names(types)}`);
  return outcome.error;
}

/** Bytes with bit `bit` flipped (a copy). */
export function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[bit >> 3] ^= 1 << (bit & 7);
  return out;
}

/**
 * Ways to damage a valid blob: flip some bits, truncate, extend, overwrite a run of bytes, or replace it
 * with random bytes of the same length. Every variant differs from the original.
 */
export function damaged(original: Uint8Array): fc.Arbitrary<{ how: string; bytes: Uint8Array }> {
  const n = original.length;
  return fc.oneof(
    fc.uniqueArray(fc.nat(n * 8 - 1), { minLength: 1, maxLength: 8 }).map((bits) => ({
      how: `flip bits ${bits.join(",")}`,
      bytes: bits.reduce((b, bit) => flipBit(b, bit), original),
    })),
    fc.nat(n - 1).map((length) => ({ how: `truncate to ${length}`, bytes: original.slice(0, length) })),
    fc
      .uint8Array({ minLength: 1, maxLength: 64 })
      .map((extra) => ({ how: `append ${extra.length} bytes`, bytes: Uint8Array.from([...original, ...extra]) })),
    fc
      .tuple(fc.nat(n - 1), fc.uint8Array({ minLength: 1, maxLength: 40 }))
      .filter(([at, run]) => run.some((byte, i) => at + i < n && original[at + i] !== byte))
      .map(([at, run]) => {
        const bytes = Uint8Array.from(original);
        bytes.set(run.slice(0, n - at), at);
        return { how: `overwrite ${Math.min(run.length, n - at)} bytes at ${at}`, bytes };
      }),
    fc
      .uint8Array({ minLength: n, maxLength: n })
      .filter((bytes) => bytes.some((byte, i) => byte !== original[i]))
      .map((bytes) => ({ how: "replace with random bytes", bytes })),
  );
}

/**
 * JSON objects whose keys shadow Object.prototype ("toString", "valueOf", "toJSON", "__proto__"): valid
 * JSON that JSON.parse turns into own properties, and that makes String(), Number(), template literals
 * and JSON.stringify throw or misbehave.
 */
export const prototypeShadowingJson: fc.Arbitrary<unknown> = fc
  .tuple(fc.constantFrom("toString", "valueOf", "toJSON", "__proto__", "constructor"), fc.jsonValue({ maxDepth: 1 }))
  .map(([key, value]) => JSON.parse(`{${JSON.stringify(key)}: ${JSON.stringify(value)}}`) as unknown);

const SHADOWING_KEYS = new Set(["toString", "valueOf", "toJSON", "__proto__", "constructor"]);
function hasShadowingKey(value: unknown): boolean {
  if (value === null || typeof value !== "object") return false;
  return Object.entries(value).some(([key, inner]) => SHADOWING_KEYS.has(key) || hasShadowingKey(inner));
}

/** JSON without keys that shadow Object.prototype: what a well-meaning but wrong file or network holds. */
export const plainJsonValue: fc.Arbitrary<unknown> = fc.jsonValue({ maxDepth: 3 }).filter((v) => !hasShadowingKey(v));

/** Arbitrary values as they come out of JSON.parse: what a file or a network hands a parser. */
export const jsonValue: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.jsonValue({ maxDepth: 4 }), weight: 4 },
  { arbitrary: prototypeShadowingJson, weight: 1 },
);

/**
 * Any JavaScript value, including the ones JSON never produces (bigint, symbols, null-prototype objects,
 * typed arrays, functions' absence aside): what a programmatic caller could pass by mistake.
 */
export const anyValue: fc.Arbitrary<unknown> = fc.anything({
  maxDepth: 3,
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withTypedArray: true,
  withSparseArray: true,
});
