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
 * Buckets kept at most. Past this, idle (full) buckets are forgotten first, then the fullest; only when
 * every one is empty does an account held back lose its bucket (and get a fresh allowance), which takes
 * 10,000 accounts drained within a minute.
 */
const MAX_BUCKETS = 10_000;

export class AccountRateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  /** `perMinute` 0 turns the limit off. */
  constructor(
    readonly perMinute: number,
    // Monotonic: a wall-clock jump must not refill every bucket.
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!Number.isSafeInteger(perMinute) || perMinute < 0) {
      throw new RangeError(`perMinute must be a whole number >= 0, got ${perMinute}`);
    }
  }

  /** Takes one request's token for `account`, or says how long to wait. */
  take(account: string): RateDecision {
    if (this.perMinute === 0) return { allowed: true, retryAfterSeconds: 0 };
    const now = this.now();
    const bucket = this.buckets.get(account) ?? { tokens: this.perMinute, updatedAt: now };
    bucket.tokens = this.level(bucket, now);
    bucket.updatedAt = now;
    if (!this.buckets.has(account)) this.remember(account, bucket, now);
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

  private remember(account: string, bucket: Bucket, now: number) {
    if (this.buckets.size >= MAX_BUCKETS) {
      const level = (held: Bucket) => this.level(held, now);
      for (const [key, held] of this.buckets) if (level(held) >= this.perMinute) this.buckets.delete(key);
      // Every account is mid-minute: forget the one with the most left.
      if (this.buckets.size >= MAX_BUCKETS) {
        let fullest: string | undefined;
        let most = -1;
        for (const [key, held] of this.buckets) {
          if (level(held) > most) [fullest, most] = [key, level(held)];
        }
        this.buckets.delete(fullest as string);
      }
    }
    this.buckets.set(account, bucket);
  }
}
