/**
 * @module
 * In-memory token-bucket rate limiter keyed by string (`challenge:<ip>`,
 * `login:<ip>:<username>`, …).
 *
 * Each key has a bucket of `capacity` tokens refilled continuously at `refillPerSecond`;
 * an attempt takes one token or is refused with the time until one is available. A
 * refused attempt takes nothing, so a client that waits `retryAfterSeconds` succeeds.
 *
 * Memory is bounded: a bucket that has refilled to capacity carries no information (it is
 * the same as no bucket), so such idle buckets are dropped by a sweep that runs at most
 * once per `sweepIntervalMs` and whenever the map is full. If `maxKeys` buckets are still
 * in use after a sweep, the least recently used one is evicted (that key starts afresh).
 * An attacker with more than `maxKeys` addresses can therefore reset limits of others; size
 * `maxKeys` well above the expected number of active clients.
 *
 * State is per process: with several gateway instances each one has its own buckets, so
 * the effective limit is (limit × instances) unless the load balancer keeps a client on
 * one instance. A shared limiter (e.g. in PostgreSQL or Redis) would go behind the same
 * `take` call.
 */

export interface RateLimitRule {
  /** Largest burst: tokens in a full bucket (≥ 1). */
  readonly capacity: number;
  /** Tokens added per second (> 0). */
  readonly refillPerSecond: number;
}

export interface RateLimiterOptions extends RateLimitRule {
  /** Most buckets held at once (default 10,000). */
  readonly maxKeys?: number;
  /** Clock in Unix milliseconds (tests inject one). */
  readonly now?: () => number;
  /** Least time between two idle sweeps (default 60 s). */
  readonly sweepIntervalMs?: number;
}

export interface RateLimitDecision {
  readonly allowed: boolean;
  /** Whole tokens left after this attempt. */
  readonly remaining: number;
  /** 0 when allowed; otherwise whole seconds until the attempt would succeed (≥ 1). */
  readonly retryAfterSeconds: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export const DEFAULT_MAX_KEYS = 10_000;
export const DEFAULT_SWEEP_INTERVAL_MS = 60_000;

export class TokenBucketLimiter {
  readonly capacity: number;
  readonly refillPerSecond: number;
  readonly maxKeys: number;
  private readonly now: () => number;
  private readonly sweepIntervalMs: number;
  // Map iteration order is insertion order; re-inserting on every use makes it LRU order.
  private readonly buckets = new Map<string, Bucket>();
  private lastSweep: number;

  constructor(options: RateLimiterOptions) {
    const { capacity, refillPerSecond } = options;
    if (!Number.isFinite(capacity) || capacity < 1) throw new RangeError('rate limit capacity must be ≥ 1');
    if (!Number.isFinite(refillPerSecond) || refillPerSecond <= 0) throw new RangeError('rate limit refill must be > 0 per second');
    const maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
    if (!Number.isSafeInteger(maxKeys) || maxKeys < 1) throw new RangeError('rate limit maxKeys must be a positive integer');
    this.capacity = capacity;
    this.refillPerSecond = refillPerSecond;
    this.maxKeys = maxKeys;
    this.now = options.now ?? Date.now;
    this.sweepIntervalMs = options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    this.lastSweep = this.now();
  }

  /** Number of buckets currently held. */
  get size(): number {
    return this.buckets.size;
  }

  /** Takes one token from `key`'s bucket if it has one. */
  take(key: string): RateLimitDecision {
    const t = this.now();
    if (t - this.lastSweep >= this.sweepIntervalMs) this.sweep();
    let bucket = this.buckets.get(key);
    if (bucket) {
      this.refill(bucket, t);
      this.buckets.delete(key);
    } else {
      if (this.buckets.size >= this.maxKeys) this.makeRoom();
      bucket = { tokens: this.capacity, updatedAt: t };
    }
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true, remaining: Math.floor(bucket.tokens), retryAfterSeconds: 0 };
    }
    const wait = (1 - bucket.tokens) / this.refillPerSecond;
    return { allowed: false, remaining: 0, retryAfterSeconds: Math.max(1, Math.ceil(wait)) };
  }

  /** Drops every bucket that has refilled to capacity; returns how many. */
  sweep(): number {
    const t = this.now();
    this.lastSweep = t;
    let removed = 0;
    for (const [key, bucket] of this.buckets) {
      this.refill(bucket, t);
      if (bucket.tokens >= this.capacity) {
        this.buckets.delete(key);
        removed++;
      }
    }
    return removed;
  }

  /** Forgets every bucket. */
  clear(): void {
    this.buckets.clear();
  }

  private refill(bucket: Bucket, t: number): void {
    // A clock that steps backwards adds nothing (and never takes tokens away).
    const elapsed = Math.max(0, t - bucket.updatedAt);
    bucket.tokens = Math.min(this.capacity, bucket.tokens + (elapsed / 1000) * this.refillPerSecond);
    bucket.updatedAt = Math.max(bucket.updatedAt, t);
  }

  private makeRoom(): void {
    this.sweep();
    while (this.buckets.size >= this.maxKeys) {
      const oldest = this.buckets.keys().next();
      if (oldest.done) break;
      this.buckets.delete(oldest.value);
    }
  }
}
