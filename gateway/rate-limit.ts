/**
 * Requests per account per minute on the record routes (metadata, ciphertext, key release): a token
 * bucket per authenticated account, holding up to `perMinute` tokens and refilled at `perMinute` a
 * minute (so at most 2n - 1 in any 60 seconds: a full bucket, then the refill). It bounds what one
 * stolen or runaway session can pull and how hard one account can drive the gateway's chain reads.
 * It is per account, and anyone can make accounts: a limit per client address belongs in the reverse
 * proxy in front of the gateway.
 * In memory: a restart forgets the buckets, which only errs towards letting requests through.
 */
export interface RateDecision {
  allowed: boolean;
  /** When refused: whole seconds until one more request is allowed. */
  retryAfterSeconds: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/**
 * Buckets kept at most. Past this, idle (full) buckets are forgotten first (forgetting a full bucket
 * changes nothing: a new one starts full), then the fullest of the SCAN least recently used; an account
 * held back loses its bucket (and gets a fresh allowance) only when those are all as empty as its own,
 * which takes 10,000 accounts drained within a minute. Each take is O(1) amortised: the map is kept in
 * order of last use and eviction works from its front.
 */
const MAX_BUCKETS = 10_000;
const SCAN = 64;

export class AccountRateLimiter {
  // In order of last use: the front is the longest idle.
  private readonly buckets = new Map<string, Bucket>();

  /** `perMinute` 0 turns the limit off. */
  constructor(
    readonly perMinute: number,
    // Monotonic: a wall-clock jump must not refill every bucket.
    private readonly now: () => number = () => performance.now(),
    private readonly maxBuckets: number = MAX_BUCKETS,
  ) {
    if (!Number.isSafeInteger(perMinute) || perMinute < 0) {
      throw new RangeError(`perMinute must be a whole number >= 0, got ${perMinute}`);
    }
  }

  /** Buckets held (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  /** Takes one request's token for `account`, or says how long to wait. */
  take(account: string): RateDecision {
    if (this.perMinute === 0) return { allowed: true, retryAfterSeconds: 0 };
    const now = this.now();
    const held = this.buckets.get(account);
    const bucket = held ?? { tokens: this.perMinute, updatedAt: now };
    bucket.tokens = this.level(bucket, now);
    bucket.updatedAt = now;
    // Move to the back: the map stays in order of last use.
    if (held) this.buckets.delete(account);
    else this.makeRoom(now);
    this.buckets.set(account, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true, retryAfterSeconds: 0 };
    }
    // Less a hair, so that float error on an exact second (0.05 tokens missing at 3 a minute) does not
    // round it up to the next.
    const seconds = ((1 - bucket.tokens) * 60) / this.perMinute;
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(seconds - 1e-9)) };
  }

  /** The tokens `bucket` holds at `now`: what it had, plus the refill since, up to the allowance. */
  private level(bucket: Bucket, now: number): number {
    return Math.min(this.perMinute, bucket.tokens + (Math.max(0, now - bucket.updatedAt) * this.perMinute) / 60_000);
  }

  private makeRoom(now: number) {
    // Idle ones from the front: each bucket is removed at most once, so this is O(1) amortised.
    for (const [key, held] of this.buckets) {
      if (this.buckets.size < this.maxBuckets || this.level(held, now) < this.perMinute) break;
      this.buckets.delete(key);
    }
    if (this.buckets.size < this.maxBuckets) return;
    // Every account at the front is mid-minute: forget the fullest of the first SCAN.
    let fullest: string | undefined;
    let most = -1;
    let seen = 0;
    for (const [key, held] of this.buckets) {
      const level = this.level(held, now);
      if (level > most) [fullest, most] = [key, level];
      if (++seen >= SCAN) break;
    }
    this.buckets.delete(fullest as string);
  }
}
