/**
 * @module
 * SERVER-level fields at rest. All SERVER fields of one row are sealed together as one
 * envelope (JSON of { field: value }) under the gateway key ring, bound to the location
 * (`Type`, owner, object id): one AEAD per row instead of one per field, which is what keeps
 * SERVER reads within a small factor of the raw AEAD cost (docs/performance.md). Opened
 * blobs are memoised per row object, so resolving four SERVER fields of a row decrypts once,
 * and, when the codec has a cache (`cacheBytes`, ./server-field-cache.ts), by location and exact
 * bytes across requests, so reading an unchanged row again costs a lookup instead of an AEAD.
 *
 * Searchable fields also get a blind index: base64url(HMAC-SHA256(indexKey(coordinate),
 * UTF-8 of the value)), which supports equality lookups without decrypting. The index key
 * is derived per coordinate, so equal values in different fields do not collide.
 */
import type { CryptoBackend } from '../crypto/backend.js';
import { base64urlEncode } from '../crypto/base64url.js';
import { utf8Decode, utf8Encode } from '../crypto/bytes.js';
import { openEnvelope, openWith, parseEnvelope, sealEnvelope } from '../crypto/envelope.js';
import type { PrivacyManifest } from '../privacy/manifest.js';
import type { GatewayKeyRing } from './keyring.js';
import { ServerFieldCache, type OpenedValues, type ServerFieldCacheStats } from './server-field-cache.js';

export interface SealedServerFields {
  readonly sealed: Uint8Array;
  readonly keyVersion: number;
}

export interface ServerRow {
  readonly serverSealed: Uint8Array | null;
}

export interface ServerFieldCodecOptions {
  /** Bound in bytes of the cache of opened values (./server-field-cache.ts); 0 or absent: no cache. */
  readonly cacheBytes?: number;
}

const NO_VALUES: OpenedValues = Object.freeze({});

export class ServerFieldCodec {
  private readonly opened = new WeakMap<object, OpenedValues>();
  private readonly cache: ServerFieldCache | null;
  // With a cache, the last row opened stands in for the per-row memo: graphql-js resolves the
  // fields of one row one after the other, and a WeakMap entry per row costs more under GC
  // than the cache lookup that a miss here falls back on.
  private lastRow: object | null = null;
  private lastValues: OpenedValues = NO_VALUES;

  constructor(
    private readonly backend: CryptoBackend,
    private readonly keyring: GatewayKeyRing,
    private readonly manifest: PrivacyManifest,
    options: ServerFieldCodecOptions = {},
  ) {
    this.cache = options.cacheBytes ? new ServerFieldCache(options.cacheBytes) : null;
  }

  /** The cache's size and bounds, or null without one (tests and operators; never logged with contents). */
  cacheStats(): ServerFieldCacheStats | null {
    return this.cache ? this.cache.stats() : null;
  }

  /** Names of the SERVER fields of `typeName`, and which of them are searchable. */
  serverFields(typeName: string): { name: string; searchable: boolean }[] {
    const o = this.manifest.objects[typeName];
    if (!o) return [];
    return Object.entries(o.fields)
      .filter(([, f]) => f.level === 'SERVER')
      .map(([name, f]) => ({ name, searchable: f.searchable === true }));
  }

  /** Seals the SERVER values of one row; null values are omitted, an empty set seals to null. */
  seal(typeName: string, ownerId: string, objectId: string, values: Readonly<Record<string, unknown>>): SealedServerFields | null {
    const present: Record<string, unknown> = {};
    for (const { name } of this.serverFields(typeName)) {
      const v = values[name];
      if (v !== undefined && v !== null) present[name] = v;
    }
    if (Object.keys(present).length === 0) return null;
    const key = this.keyring.current();
    const sealed = sealEnvelope(this.backend, key, { coordinate: typeName, ownerId, objectId }, JSON.stringify(present));
    return { sealed, keyVersion: key.version };
  }

  /**
   * The SERVER values of a row, decrypted once per row object (and, with a cache, once per
   * location and exact bytes while they stay cached). The caller has already authorised the
   * viewer; this only decrypts. Errors are the open's (docs/crypto.md §6), with or without a
   * cache: a blob is only ever answered from the cache for the location and bytes it opened at.
   * The values are shared: callers must not change them (with a cache they are frozen).
   */
  open(typeName: string, row: ServerRow & Record<string, unknown>, ownerId: string, objectId: string): OpenedValues {
    const cache = this.cache;
    if (cache === null) {
      const hit = this.opened.get(row);
      if (hit) return hit;
      const values = row.serverSealed ? this.decrypt(typeName, row.serverSealed, ownerId, objectId).values : NO_VALUES;
      this.opened.set(row, values);
      return values;
    }
    if (row === this.lastRow) return this.lastValues;
    const sealed = row.serverSealed;
    let values = NO_VALUES;
    if (sealed) {
      const generation = this.keyring.generation();
      const hit = cache.get(typeName, ownerId, objectId, sealed, generation);
      if (hit) values = hit;
      else {
        const opened = this.decrypt(typeName, sealed, ownerId, objectId);
        values = cache.set(typeName, ownerId, objectId, sealed, generation, opened.values, opened.bytes);
      }
    }
    this.lastRow = row;
    this.lastValues = values;
    return values;
  }

  // One AEAD open of a row's blob into reused memory (wiped once decoded), then its JSON.
  private decrypt(typeName: string, sealed: Uint8Array, ownerId: string, objectId: string): { values: Record<string, unknown>; bytes: number } {
    const env = parseEnvelope(sealed);
    const ring = this.keyring.ringFor(env.keyVersion);
    let bytes = 0;
    const text = openWith(this.backend, env, ring, { coordinate: typeName, ownerId, objectId }, undefined, true, (pt) => {
      bytes = pt.length;
      return utf8Decode(pt);
    });
    return { values: JSON.parse(text) as Record<string, unknown>, bytes };
  }

  /** Re-seals a row's blob under the current key (rotation). */
  reseal(typeName: string, sealed: Uint8Array, ownerId: string, objectId: string): SealedServerFields {
    const env = parseEnvelope(sealed);
    const location = { coordinate: typeName, ownerId, objectId };
    const pt = openEnvelope(this.backend, env, this.keyring.ringFor(env.keyVersion), location).plaintext;
    const key = this.keyring.current();
    return { sealed: sealEnvelope(this.backend, key, location, pt), keyVersion: key.version };
  }

  blindIndex(coordinate: string, value: string): string {
    return base64urlEncode(this.backend.hmacSha256(this.keyring.indexKey(coordinate), utf8Encode(value)));
  }
}
