/**
 * @module
 * Which keys the client core seals and opens with. The core never decides this itself:
 * it asks a `ClientKeys` for the key of each location, so that key management (a static
 * vault and shared key today, per-object data keys wrapped for each grantee next) can
 * change without touching the walking and sealing code.
 *
 * Protocol, once per operation (sealVariables) or per result (openResult):
 * 1. `prepare(requests)` (optional, may be async) receives every location the core is
 *    about to need, one request per sealed value (not deduplicated: an implementation
 *    groups them by whatever its keys are keyed by). This is where an implementation
 *    fetches and unwraps each distinct key once and caches it.
 * 2. `sealingKey` / `openingKeys` are then called synchronously, once per value. They
 *    must not do asymmetric work; they look up what `prepare` made ready. They throw a
 *    `CryptoError` (`KEY_NOT_FOUND`, …) when no key is held: while opening, that becomes
 *    a per-field error and the rest of the result is still delivered; while sealing, the
 *    whole operation fails (nothing is ever sent unsealed).
 */
import { CryptoError } from '../crypto/errors.js';
import { SymmetricKeyRing, type KeySource, type SigningKeyPair, type SymmetricKey } from '../crypto/keys.js';
import type { Location } from '../crypto/location.js';

/** The levels the client seals (PUBLIC and SERVER values travel as plaintext over TLS). */
export type SealedLevel = 'SHARED' | 'PRIVATE';

/** One value the core is about to seal or open. */
export interface KeyRequest {
  readonly purpose: 'seal' | 'open';
  readonly level: SealedLevel;
  /** Where the value belongs: `(Type.field, ownerId, objectId)`. */
  readonly location: Location;
  /** Opening only: the key lineage and version named in the envelope's header. */
  readonly keyId?: Uint8Array;
  readonly keyVersion?: number;
}

export interface ClientKeys {
  /**
   * Called once per operation or result, before any per-value work, with every value's
   * request. Optional. A rejection fails the whole call (use it for "cannot reach the key
   * service", not for "no key for this one field": throw that from `openingKeys`).
   */
  prepare?(requests: readonly KeyRequest[]): Promise<void> | void;
  /** The key new values at `location` are sealed with. Synchronous. */
  sealingKey(level: SealedLevel, location: Location): SymmetricKey;
  /** The key (or ring of keys) values at `location` may have been sealed with. Synchronous. */
  openingKeys(level: SealedLevel, location: Location): KeySource;
  /**
   * Optional: the writer's signing key for values sealed at `location` (undefined: seal
   * unsigned). Signed values name their writer (docs/crypto.md §6); the gateway requires
   * them for SHARED values written by a grantee. Synchronous.
   */
  signer?(level: SealedLevel, location: Location): SigningKeyPair | undefined;
}

export interface StaticClientKeysOptions {
  /** The user's vault key: seals and opens PRIVATE values. */
  readonly vault: SymmetricKey;
  /** Opens SHARED values: one key, or a ring holding several lineages or versions. */
  readonly shared: SymmetricKey | SymmetricKeyRing;
  /**
   * Seals new SHARED values. Default: `shared` when it is a single key. With a ring and no
   * `sealShared`, sealing a SHARED value fails with KEY_NOT_FOUND (a read-only client).
   */
  readonly sealShared?: SymmetricKey;
}

/**
 * The interim key policy until per-object data keys arrive: every PRIVATE value under the
 * vault key, every SHARED value under one shared key, whatever the location. Needs no
 * `prepare`.
 */
export function staticClientKeys(options: StaticClientKeysOptions): ClientKeys {
  const { vault, shared } = options;
  const sealShared = options.sealShared ?? (shared instanceof SymmetricKeyRing ? undefined : shared);
  return {
    sealingKey(level) {
      if (level === 'PRIVATE') return vault;
      if (!sealShared) throw new CryptoError('KEY_NOT_FOUND', 'no key to seal SHARED values with (staticClientKeys: pass sealShared)');
      return sealShared;
    },
    openingKeys(level) {
      return level === 'PRIVATE' ? vault : shared;
    },
  };
}
