/**
 * @module
 * A bounded, content-addressed cache of opened SERVER values in the gateway process, so that
 * reading a row whose sealed blob has not changed costs a lookup instead of an AEAD open and a
 * JSON parse (docs/crypto.md §13, "Opened SERVER values in memory").
 *
 * A hit needs everything the open depends on to be equal: the type, the owner id and the
 * object id (the location, which the AEAD authenticates; the object id is the LRU key, the
 * type and owner are compared) and the exact sealed
 * bytes (which carry the key id and version in their header; compared in full on every
 * lookup). Equal bytes at another location miss, and are opened, and refused, as without the
 * cache. The ring's generation is kept with each entry: an entry opened under keys that have
 * since been reloaded is not used (./keyring.ts). Only successful opens are stored: refused
 * bytes are opened, and refused, every time. One entry per object id: a row written anew
 * replaces its entry when it is next read.
 *
 * Bounds: at most `maxBytes` (estimated per entry: twice the location's length, the sealed
 * bytes, twice the plaintext's length, plus ENTRY_OVERHEAD_BYTES) and at most
 * `maxBytes / ENTRY_OVERHEAD_BYTES` entries, least recently used first out (the `lru-cache`
 * package). There is no staleness to bound: an entry answers only for the exact bytes it was
 * opened from, so a changed row misses. Nothing of it is logged.
 *
 * The bytes are compared with memcmp, not in constant time: they are ciphertext, which anyone
 * who can make the gateway read a row can already see in the database.
 */
import { LRUCache } from 'lru-cache';

/** Default bound of the cache (`serverFieldCacheBytes`, VEIL_SERVER_CACHE_BYTES): 32 MiB. */
export const DEFAULT_SERVER_FIELD_CACHE_BYTES = 32 * 1024 * 1024;
/** Largest bound the setting takes: 1 GiB. */
export const MAX_SERVER_FIELD_CACHE_BYTES = 1024 * 1024 * 1024;
/** What an entry is counted at beyond its key and values (the objects, the LRU's slots). */
export const ENTRY_OVERHEAD_BYTES = 256;

export type OpenedValues = Readonly<Record<string, unknown>>;

interface Entry {
  readonly typeName: string;
  readonly ownerId: string;
  /** A copy of the bytes the values were opened from. */
  readonly sealed: Uint8Array;
  readonly values: OpenedValues;
  readonly generation: number;
}

export interface ServerFieldCacheStats {
  readonly entries: number;
  readonly bytes: number;
  readonly maxEntries: number;
  readonly maxBytes: number;
}

/** RangeError unless `bytes` is a whole number in 0..MAX_SERVER_FIELD_CACHE_BYTES. */
export function checkServerFieldCacheBytes(bytes: unknown): void {
  if (bytes === undefined) return;
  if (!Number.isSafeInteger(bytes) || (bytes as number) < 0 || (bytes as number) > MAX_SERVER_FIELD_CACHE_BYTES) {
    throw new RangeError(`serverFieldCacheBytes must be an integer in 0..${MAX_SERVER_FIELD_CACHE_BYTES} (bytes; 0 = no cache), got ${String(bytes)}`);
  }
}

// Opened values are shared by every request that reads the same bytes: nothing may change them.
function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

export class ServerFieldCache {
  private readonly lru: LRUCache<string, Entry>;
  readonly maxBytes: number;
  readonly maxEntries: number;

  /** `maxBytes` > 0 (0 means no cache: the codec then makes none). */
  constructor(maxBytes: number) {
    checkServerFieldCacheBytes(maxBytes);
    if (maxBytes <= 0) throw new RangeError('a ServerFieldCache needs maxBytes > 0');
    this.maxBytes = maxBytes;
    this.maxEntries = Math.max(1, Math.floor(maxBytes / ENTRY_OVERHEAD_BYTES));
    this.lru = new LRUCache<string, Entry>({ max: this.maxEntries, maxSize: maxBytes });
  }

  /**
   * The values opened at location (`typeName`, `ownerId`, `objectId`) from exactly `sealed`
   * under ring `generation`, or undefined. The LRU is keyed by the object id alone: the row's
   * own string, whose hash V8 keeps, so a lookup builds and hashes no key; the type and owner
   * are compared with the bytes. (Two types with the same object id take turns in one slot:
   * slower, never wrong.)
   */
  get(typeName: string, ownerId: string, objectId: string, sealed: Uint8Array, generation: number): OpenedValues | undefined {
    const e = this.lru.get(objectId);
    if (e === undefined || e.generation !== generation || e.typeName !== typeName || e.ownerId !== ownerId || Buffer.compare(e.sealed, sealed) !== 0) return undefined;
    return e.values;
  }

  /**
   * Stores what a successful open of `sealed` at the location gave (`plaintextBytes`: the
   * opened JSON's length), in place of what the object id held. Returns the values, frozen.
   */
  set(typeName: string, ownerId: string, objectId: string, sealed: Uint8Array, generation: number, values: Record<string, unknown>, plaintextBytes: number): OpenedValues {
    const frozen = deepFreeze(values);
    const size = 2 * (typeName.length + ownerId.length + objectId.length) + sealed.length + 2 * plaintextBytes + ENTRY_OVERHEAD_BYTES;
    this.lru.set(objectId, { typeName, ownerId, sealed: sealed.slice(), values: frozen, generation }, { size });
    return frozen;
  }

  stats(): ServerFieldCacheStats {
    return { entries: this.lru.size, bytes: this.lru.calculatedSize, maxEntries: this.maxEntries, maxBytes: this.maxBytes };
  }

  clear(): void {
    this.lru.clear();
  }
}
