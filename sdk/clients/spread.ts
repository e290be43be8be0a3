/**
 * Spreading one decision's messages over time, so that N pseudonyms' messages do not arrive at the
 * relayer, nor land on chain, together (which would link the pseudonyms by timing). Each message gets a
 * delay drawn uniformly from [0, spreadMs] with the platform's cryptographic random generator (Web Crypto:
 * browsers and Node), and the messages go in the order of their delays, so the order is random too.
 * No ethers or viem.
 */
import { InvalidArgumentError, describeValue } from "../errors";

/**
 * Default spread of one decision over N pseudonyms: 15 minutes. Long enough that on a chain with 12 s
 * blocks the messages fall in blocks among many other transactions; short enough to finish while the
 * patient's app is open. Pass `spreadMs: 0` in tests, or a longer one for more cover.
 */
export const DEFAULT_SPREAD_MS = 15 * 60_000;
/** The longest spread accepted: a day (each message is signed when it is sent, so none expires waiting). */
export const MAX_SPREAD_MS = 24 * 3600_000;

/** A uniformly random integer in [0, bound] from the platform's CSPRNG. */
export function randomDelay(bound: number): number {
  if (bound <= 0) return 0;
  const words = new Uint32Array(2);
  globalThis.crypto.getRandomValues(words);
  // 53 random bits: uniform in [0, 1) to well below a millisecond for any bound up to a day.
  const unit = (words[0] * 2 ** 21 + (words[1] >>> 11)) / 2 ** 53;
  return Math.floor(unit * (bound + 1));
}

/** Checks a spread: a whole number of milliseconds from 0 to MAX_SPREAD_MS; the default if undefined. */
export function spreadOf(spreadMs: number | undefined): number {
  const spread = spreadMs ?? DEFAULT_SPREAD_MS;
  if (!Number.isSafeInteger(spread) || spread < 0 || spread > MAX_SPREAD_MS)
    throw new InvalidArgumentError(
      "spreadMs",
      `${describeValue(spreadMs)} is not a whole number of milliseconds from 0 to ${MAX_SPREAD_MS}`,
    );
  return spread;
}

/** `items` with a random delay each, in the order they are to be sent (random order; by delay when spread). */
export function spreadSchedule<T>(items: readonly T[], spreadMs: number): { item: T; delayMs: number }[] {
  const scheduled = items.map((item) => ({ item, delayMs: randomDelay(spreadMs), tie: randomDelay(2 ** 30) }));
  scheduled.sort((a, b) => a.delayMs - b.delayMs || a.tie - b.tie);
  return scheduled.map(({ item, delayMs }) => ({ item, delayMs }));
}
