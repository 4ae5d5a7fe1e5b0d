/**
 * @module
 * Named rate-limit rules over a shared or local store (docs/auth.md §7).
 *
 * A rule allows `points` requests per `durationSeconds` for each key (a client address, a
 * username, a device id): a fixed window that opens at a key's first request. A request
 * over the limit is refused with the whole seconds until the window closes; refused
 * requests do not move the window, so a client that waits `retryAfterSeconds` gets
 * through (unless others used the key meanwhile).
 *
 * The counting is rate-limiter-flexible's (maintained, atomic per store):
 * - **memory** (`RateLimiterMemory`), the embedded default: one process, one set of counts;
 *   memory is one small record per key seen in its window (records expire with it);
 * - **PostgreSQL** (`RateLimiterPostgres` over a `pg` pool): every instance on the database
 *   counts in one table, so limits hold across instances. A key that reached its limit is
 *   also refused from this instance's memory for the rest of its window, so an attacker's
 *   refused requests cost no database round trip. Should the table be unreachable, each
 *   instance falls back to counting in its own memory (limits per instance rather than
 *   none).
 *
 * Adding a rule is one line in the rule table (`DEFAULT_AUTH_LIMITS` in ./service.ts) and a
 * `limit(name, key)` call where it applies.
 */
import type pg from 'pg';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

export interface RateLimitRule {
  /** Requests allowed per window (≥ 1). */
  readonly points: number;
  /** Window length in seconds (≥ 1). */
  readonly durationSeconds: number;
}

export interface RateLimitDecision {
  readonly allowed: boolean;
  /** Requests left in the current window after this one. */
  readonly remaining: number;
  /** 0 when allowed; otherwise whole seconds until the window closes (≥ 1). */
  readonly retryAfterSeconds: number;
}

/** Where the counts live: this process, or a table every instance on the database shares. */
export type RateLimitStore = { readonly kind: 'memory' } | { readonly kind: 'postgres'; readonly pool: pg.Pool; readonly tableName?: string };

/** The table the PostgreSQL store creates (if absent) and counts in: `key`, `points`, `expire` (rate-limiter-flexible's layout). */
export const RATE_LIMIT_TABLE = 'veil_rate_limits';

function assertRule(name: string, rule: RateLimitRule): void {
  if (!Number.isSafeInteger(rule?.points) || rule.points < 1) throw new RangeError(`rate limit ${name}: points must be a positive integer`);
  if (!Number.isSafeInteger(rule.durationSeconds) || rule.durationSeconds < 1) throw new RangeError(`rate limit ${name}: durationSeconds must be a positive integer`);
}

/** Rows whose window closed more than this long ago are deleted (an instance whose clock lags still finds its own). */
const PURGE_AFTER_MS = 3_600_000;

/** One limiter per named rule; `take(name, key)` counts one request of `key` against rule `name`. */
export class RateLimits<Name extends string> {
  private constructor(
    private readonly limiters: ReadonlyMap<Name, RateLimiterAbstract>,
    private readonly table?: { readonly pool: pg.Pool; readonly name: string },
  ) {}

  /** Checks every rule and builds its limiter in `store` (creating the PostgreSQL table when it is missing). */
  static async create<Name extends string>(rules: Readonly<Record<Name, RateLimitRule>>, store: RateLimitStore = { kind: 'memory' }): Promise<RateLimits<Name>> {
    const entries = Object.entries(rules) as [Name, RateLimitRule][];
    for (const [name, rule] of entries) assertRule(name, rule);
    if (store.kind === 'memory') return RateLimits.memory(rules);
    const tableName = store.tableName ?? RATE_LIMIT_TABLE;
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(tableName)) throw new TypeError('the rate limit table name must be a plain lowercase identifier');
    const limiters = new Map<Name, RateLimiterAbstract>();
    let first = true;
    for (const [name, rule] of entries) {
      const options = {
        storeClient: store.pool,
        storeType: 'pool',
        tableName,
        keyPrefix: name,
        points: rule.points,
        duration: rule.durationSeconds,
        // Once a key is at its limit, refuse it locally until its window closes.
        inMemoryBlockOnConsumed: rule.points,
        insuranceLimiter: new RateLimiterMemory({ keyPrefix: name, points: rule.points, duration: rule.durationSeconds }),
        // All rules share one table: the first creates it; `purgeExpired` sweeps it (the
        // library's own sweep timer would outlive a closed pool).
        tableCreated: !first,
        clearExpiredByTimeout: false,
      };
      if (first) {
        await new Promise<void>((resolve, reject) => {
          limiters.set(name, new RateLimiterPostgres(options, (err?: Error) => (err ? reject(err) : resolve())));
        });
      } else {
        limiters.set(name, new RateLimiterPostgres(options));
      }
      first = false;
    }
    return new RateLimits(limiters, { pool: store.pool, name: tableName });
  }

  /** In this process only (no I/O, so it needs no `await` to build). */
  static memory<Name extends string>(rules: Readonly<Record<Name, RateLimitRule>>): RateLimits<Name> {
    const limiters = new Map<Name, RateLimiterAbstract>();
    for (const [name, rule] of Object.entries(rules) as [Name, RateLimitRule][]) {
      assertRule(name, rule);
      limiters.set(name, new RateLimiterMemory({ keyPrefix: name, points: rule.points, duration: rule.durationSeconds }));
    }
    return new RateLimits(limiters);
  }

  /**
   * Deletes the shared table's rows whose window closed over an hour ago; returns how many
   * (memory records expire by themselves: 0). Run periodically.
   */
  async purgeExpired(now = Date.now()): Promise<number> {
    if (!this.table) return 0;
    const r = await this.table.pool.query(`DELETE FROM "${this.table.name}" WHERE expire < $1`, [now - PURGE_AFTER_MS]);
    return r.rowCount ?? 0;
  }

  /** Counts one request of `key` against rule `name`. Rejects only when the store and its in-memory fallback both fail. */
  async take(name: Name, key: string): Promise<RateLimitDecision> {
    const limiter = this.limiters.get(name);
    if (!limiter) throw new RangeError(`no rate limit rule named ${name}`);
    try {
      const res = await limiter.consume(key);
      return { allowed: true, remaining: res.remainingPoints, retryAfterSeconds: 0 };
    } catch (e) {
      if (!(e instanceof RateLimiterRes)) throw e;
      return { allowed: false, remaining: 0, retryAfterSeconds: Math.max(1, Math.ceil(e.msBeforeNext / 1000)) };
    }
  }
}
