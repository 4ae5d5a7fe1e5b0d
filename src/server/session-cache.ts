/**
 * @module
 * The per-instance cache behind a device session's check (docs/devices.md, "How long a
 * revoked device's session lasts"): a token naming a device (`did`) is accepted only while
 * that device is ACTIVE, and looking that up in the database on every request cost more
 * than the rest of the session check (docs/performance.md, issue 17 goal 3). This cache
 * remembers ACTIVE devices, and only those, for a short stated time.
 *
 * The staleness bound: an entry answers for at most `ttlMs` after the lookup that filled it
 * BEGAN. A revocation that commits at time T is therefore seen by every instance
 * - on the next request after the revocation event (`deviceTopic`, published after the
 *   commit; across instances by PostgreSQL NOTIFY) reaches the instance: the event drops
 *   the entry at once (on the publishing instance already as it is published:
 *   withLocalRevocations below);
 * - at the latest at T + `ttlMs` even if that event is lost: any entry still saying ACTIVE
 *   was read before T, so its lookup began before T;
 * - and every entry is dropped when the PostgreSQL listener reconnected (`RESYNC_TOPIC`:
 *   events may have been missed).
 *
 * What makes that hold:
 * - Only ACTIVE rows are cached; an unknown, PENDING or REVOKED device, or a failed lookup,
 *   leaves nothing behind, so the next request asks the database again.
 * - Ordering: each lookup subscribes to its device's revocation topic BEFORE it reads, and
 *   its answer is kept only when no revocation event for that device and no RESYNC arrived
 *   while it read (the event flag and a generation counter). A lookup that read the row
 *   before a revocation committed cannot put it back after the event was handled. The same
 *   subscription then watches the entry until it is dropped.
 * - Size: at most `maxEntries`. A full cache first drops expired entries; if it is still
 *   full a new device is simply not cached (answered from the database) — nothing is
 *   evicted early, so many devices (which only verified tokens of ACTIVE devices can bring
 *   here: a forged or random id fails the token's signature or is not ACTIVE) cannot push
 *   out the entries of others; they wait at most `ttlMs` for room like everyone else.
 * - Hits never extend an entry's life: the bound counts from the read, not from the use.
 */
import { RESYNC_TOPIC, type LocalPubSub, type PubSub } from './pubsub.js';
import { deviceTopic } from './services/sign-in/devices.js';
import type { DeviceRow } from './storage/store.js';

/** Default staleness bound: how long an ACTIVE answer may be used without asking the database. */
export const DEFAULT_DEVICE_CACHE_TTL_MS = 5_000;
/** Longest bound `deviceCacheTtlMs` takes (0 turns the cache off). */
export const MAX_DEVICE_CACHE_TTL_MS = 60_000;
/** Most devices one instance keeps (each a few hundred bytes and one in-process subscription). */
export const DEFAULT_DEVICE_CACHE_ENTRIES = 10_000;

/** What the session check needs of a device: whose it is. Present only while ACTIVE. */
export interface ActiveDevice {
  readonly id: string;
  readonly userId: string;
}

export interface DeviceCacheOptions {
  /** The database read (the store's `findDevice`). */
  readonly load: (deviceId: string) => Promise<DeviceRow | null>;
  /** Where revocation events (`deviceTopic`) and RESYNC_TOPIC arrive on this instance. */
  readonly pubsub: PubSub;
  /** The staleness bound in milliseconds, 0–MAX_DEVICE_CACHE_TTL_MS; 0 = every check reads the database. */
  readonly ttlMs?: number;
  readonly maxEntries?: number;
  /** Clock in Unix milliseconds (tests inject one). */
  readonly now?: () => number;
}

interface Entry {
  readonly device: ActiveDevice;
  readonly expiresAt: number;
  /** The revocation subscription that watches this entry; ended when the entry goes. */
  readonly watch: AsyncIterator<unknown>;
}

/** Throws a RangeError naming the setting when `ttlMs` is not an integer in 0–MAX_DEVICE_CACHE_TTL_MS. */
export function checkDeviceCacheTtl(ttlMs: number | undefined): number {
  const ttl = ttlMs ?? DEFAULT_DEVICE_CACHE_TTL_MS;
  if (!Number.isSafeInteger(ttl) || ttl < 0 || ttl > MAX_DEVICE_CACHE_TTL_MS) {
    throw new RangeError(`deviceCacheTtlMs must be an integer in 0..${MAX_DEVICE_CACHE_TTL_MS} (milliseconds), got ${String(ttlMs)}`);
  }
  return ttl;
}

export class ActiveDeviceCache {
  readonly #entries = new Map<string, Entry>();
  readonly #load: DeviceCacheOptions['load'];
  readonly #pubsub: PubSub;
  readonly #ttl: number;
  readonly #max: number;
  readonly #now: () => number;
  /** Absent when the cache is off (ttl 0): nothing to clear, no subscription held. */
  readonly #resync: AsyncIterableIterator<unknown> | undefined;
  /** Bumped by every clear: a lookup that began before one does not fill the cache. */
  #generation = 0;
  #closed = false;

  constructor(options: DeviceCacheOptions) {
    this.#load = options.load;
    this.#pubsub = options.pubsub;
    this.#ttl = checkDeviceCacheTtl(options.ttlMs);
    const max = options.maxEntries ?? DEFAULT_DEVICE_CACHE_ENTRIES;
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError('maxEntries must be a positive integer');
    this.#max = max;
    this.#now = options.now ?? Date.now;
    this.#resync = this.#ttl === 0 ? undefined : this.#pubsub.subscribe(RESYNC_TOPIC);
    if (this.#resync) void this.#clearOnResync(this.#resync);
  }

  /** Devices held now (tests, metrics). */
  get size(): number {
    return this.#entries.size;
  }

  /** The staleness bound in milliseconds (0: off). */
  get ttlMs(): number {
    return this.#ttl;
  }

  /**
   * The device when it is ACTIVE, else null (unknown, PENDING or REVOKED). Rejects when the
   * database read fails (the caller refuses the session: fail closed).
   */
  async active(deviceId: string): Promise<ActiveDevice | null> {
    const now = this.#now();
    const hit = this.#entries.get(deviceId);
    if (hit !== undefined) {
      if (now < hit.expiresAt) return hit.device;
      this.#drop(deviceId, hit);
    }
    if (this.#ttl === 0 || this.#closed) return activeOf(await this.#load(deviceId));

    // Listen before reading: an event that arrives while the read is under way voids its answer.
    const generation = this.#generation;
    const watch = this.#pubsub.subscribe(deviceTopic(deviceId));
    let revoked = false;
    void watch.next().then(
      (r) => {
        if (r.done) return;
        revoked = true;
        const entry = this.#entries.get(deviceId);
        if (entry !== undefined) this.#drop(deviceId, entry);
      },
      () => undefined,
    );
    let device: ActiveDevice | null;
    try {
      device = activeOf(await this.#load(deviceId));
    } catch (e) {
      void watch.return?.();
      throw e;
    }
    if (device !== null && !revoked && generation === this.#generation && !this.#closed && this.#makeRoom(deviceId)) {
      this.#entries.set(deviceId, { device, expiresAt: now + this.#ttl, watch });
    } else {
      void watch.return?.();
    }
    return device;
  }

  /**
   * Drops `deviceId` at once and voids every lookup under way (they re-read next time): for
   * a revocation published on this instance, whose event comes back from PostgreSQL only
   * after a round trip (withLocalRevocations).
   */
  forget(deviceId: string): void {
    this.#generation++;
    const entry = this.#entries.get(deviceId);
    if (entry !== undefined) this.#drop(deviceId, entry);
  }

  /** Drops every entry, and voids the lookups under way (RESYNC: events may have been missed). */
  clear(): void {
    this.#generation++;
    for (const [id, entry] of [...this.#entries]) this.#drop(id, entry);
  }

  close(): void {
    this.#closed = true;
    void this.#resync?.return?.();
    this.clear();
  }

  async #clearOnResync(resync: AsyncIterableIterator<unknown>): Promise<void> {
    while (!(await resync.next()).done) this.clear();
  }

  #drop(deviceId: string, entry: Entry): void {
    if (this.#entries.get(deviceId) === entry) this.#entries.delete(deviceId);
    void entry.watch.return?.();
  }

  /**
   * Whether `deviceId` may be stored: an older entry for it is replaced; expired entries go
   * first (oldest first, as the map keeps insertion order and every entry lives as long);
   * a cache still full admits nothing new rather than evicting a live entry.
   */
  #makeRoom(deviceId: string): boolean {
    const old = this.#entries.get(deviceId);
    if (old !== undefined) this.#drop(deviceId, old);
    const now = this.#now();
    for (const [id, entry] of this.#entries) {
      if (entry.expiresAt > now) break;
      this.#drop(id, entry);
    }
    return this.#entries.size < this.#max;
  }
}

function activeOf(row: DeviceRow | null): ActiveDevice | null {
  return row !== null && row.status === 'ACTIVE' ? Object.freeze({ id: row.id, userId: row.userId }) : null;
}

/**
 * `pubsub`, except that publishing a device's revocation (`deviceTopic(id)`, payload
 * `{ deviceId: id }`) first drops it from `cache`. On PostgreSQL an instance hears its own
 * events back only after a NOTIFY round trip; without this, the instance that revoked a
 * device could accept it for those milliseconds after answering the revocation.
 */
export function withLocalRevocations(pubsub: LocalPubSub, cache: ActiveDeviceCache): LocalPubSub {
  return {
    publish(topic, payload) {
      const deviceId = (payload as { deviceId?: unknown } | null)?.deviceId;
      if (typeof deviceId === 'string' && topic === deviceTopic(deviceId)) cache.forget(deviceId);
      pubsub.publish(topic, payload);
    },
    subscribe: (topic) => pubsub.subscribe(topic),
    subscriberCount: (topic) => pubsub.subscriberCount(topic),
    close: () => pubsub.close(),
  };
}
