/**
 * @module
 * SERVER-level fields at rest. All SERVER fields of one row are sealed together as one
 * envelope (JSON of { field: value }) under the gateway key ring, bound to the location
 * (`Type`, owner, object id): one AEAD per row instead of one per field, which is what keeps
 * SERVER reads within a small factor of the raw AEAD cost (docs/performance.md). Opened
 * blobs are memoised per row object, so resolving four SERVER fields of a row decrypts once.
 *
 * Searchable fields also get a blind index: base64url(HMAC-SHA256(indexKey(coordinate),
 * UTF-8 of the value)), which supports equality lookups without decrypting. The index key
 * is derived per coordinate, so equal values in different fields do not collide.
 */
import type { CryptoBackend } from '../crypto/backend.js';
import { base64urlEncode } from '../crypto/base64url.js';
import { utf8Decode, utf8Encode } from '../crypto/bytes.js';
import { openEnvelope, parseEnvelope, sealEnvelope } from '../crypto/envelope.js';
import type { PrivacyManifest } from '../privacy/manifest.js';
import type { GatewayKeyRing } from './keyring.js';

export interface SealedServerFields {
  readonly sealed: Uint8Array;
  readonly keyVersion: number;
}

export interface ServerRow {
  readonly serverSealed: Uint8Array | null;
}

export class ServerFieldCodec {
  private readonly opened = new WeakMap<object, Record<string, unknown>>();

  constructor(
    private readonly backend: CryptoBackend,
    private readonly keyring: GatewayKeyRing,
    private readonly manifest: PrivacyManifest,
  ) {}

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
   * The SERVER values of a row, decrypted once per row object. The caller has already
   * authorised the viewer; this only decrypts.
   */
  open(typeName: string, row: ServerRow & Record<string, unknown>, ownerId: string, objectId: string): Record<string, unknown> {
    const hit = this.opened.get(row);
    if (hit) return hit;
    let values: Record<string, unknown> = {};
    if (row.serverSealed) {
      const env = parseEnvelope(row.serverSealed);
      const ring = this.keyring.ringFor(env.keyVersion);
      const pt = openEnvelope(this.backend, env, ring, { coordinate: typeName, ownerId, objectId }).plaintext;
      values = JSON.parse(utf8Decode(pt)) as Record<string, unknown>;
    }
    this.opened.set(row, values);
    return values;
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
