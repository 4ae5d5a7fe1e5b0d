/**
 * @module
 * Key types and key ids.
 *
 * - Identity keys: an Ed25519 signing key and an X25519 encryption key per user (later
 *   per device). Their key id is a fingerprint of the public key, so anyone can compute
 *   it and no directory can lie about which key an id names.
 * - Symmetric keys (vault, data, epoch keys): 32 random bytes, a 16-byte id naming the
 *   key's lineage (random, chosen when the lineage starts), and a version that rotation
 *   increments. Envelopes carry id and version in clear so the opener can find the key.
 */
import type { CryptoBackend } from './backend.js';
import { assertBytes, assertObject, concatBytes } from './bytes.js';
import { base64urlEncode } from './base64url.js';
import { CryptoError } from './errors.js';
import { LABEL } from './labels.js';

export const KEY_ID_BYTES = 16;
export const SYMMETRIC_KEY_BYTES = 32;
export const MAX_KEY_VERSION = 0xffffffff;

export type PublicKeyKind = 'ed25519' | 'x25519';
const KIND_BYTE: Record<PublicKeyKind, number> = { ed25519: 0x01, x25519: 0x02 };

export interface SigningKeyPair {
  readonly keyId: Uint8Array;
  readonly publicKey: Uint8Array;
  /** The 32-byte Ed25519 seed (RFC 8032 private key). Secret. */
  readonly seed: Uint8Array;
}

export interface EncryptionKeyPair {
  readonly keyId: Uint8Array;
  readonly publicKey: Uint8Array;
  /** The 32-byte X25519 private scalar. Secret. */
  readonly privateKey: Uint8Array;
}

export interface SymmetricKey {
  readonly id: Uint8Array;
  readonly version: number;
  /** 32 secret bytes. */
  readonly bytes: Uint8Array;
}

/** key id = SHA-256("veilgraph/v1/key-id" ‖ 0x00 ‖ kind ‖ publicKey)[0..16]. */
export function keyIdOf(backend: CryptoBackend, kind: PublicKeyKind, publicKey: Uint8Array): Uint8Array {
  if (kind !== 'ed25519' && kind !== 'x25519') throw new CryptoError('INVALID_ARGUMENT', 'key kind must be ed25519 or x25519');
  assertBytes(publicKey, 32, 'public key');
  return backend.sha256(concatBytes(LABEL.keyId, Uint8Array.of(KIND_BYTE[kind]), publicKey)).slice(0, KEY_ID_BYTES);
}

/** Text form of a key id (base64url, 22 characters), for maps, logs and the API. */
export function keyIdText(id: Uint8Array): string {
  assertBytes(id, KEY_ID_BYTES, 'key id');
  return base64urlEncode(id);
}

export async function signingKeyPairFromSeed(backend: CryptoBackend, seed: Uint8Array): Promise<SigningKeyPair> {
  assertBytes(seed, 32, 'Ed25519 seed');
  const publicKey = await backend.ed25519PublicKey(seed);
  return { keyId: keyIdOf(backend, 'ed25519', publicKey), publicKey, seed };
}

export async function encryptionKeyPairFromPrivate(backend: CryptoBackend, privateKey: Uint8Array): Promise<EncryptionKeyPair> {
  assertBytes(privateKey, 32, 'X25519 private key');
  const publicKey = await backend.x25519PublicKey(privateKey);
  return { keyId: keyIdOf(backend, 'x25519', publicKey), publicKey, privateKey };
}

export function generateSigningKeyPair(backend: CryptoBackend): Promise<SigningKeyPair> {
  return signingKeyPairFromSeed(backend, backend.randomBytes(32));
}

export function generateEncryptionKeyPair(backend: CryptoBackend): Promise<EncryptionKeyPair> {
  return encryptionKeyPairFromPrivate(backend, backend.randomBytes(32));
}

/** Throws INVALID_ARGUMENT unless `signer` has a 16-byte key id and a 32-byte seed. */
export function assertSigner(signer: SigningKeyPair): void {
  assertObject(signer, 'signer');
  assertBytes(signer.keyId, KEY_ID_BYTES, 'signer key id');
  assertBytes(signer.seed, 32, 'signer seed');
}

export function assertSymmetricKey(key: SymmetricKey): void {
  assertObject(key, 'symmetric key');
  assertBytes(key.id, KEY_ID_BYTES, 'key id');
  assertBytes(key.bytes, SYMMETRIC_KEY_BYTES, 'symmetric key');
  assertKeyVersion(key.version);
}

export function assertKeyVersion(v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > MAX_KEY_VERSION) {
    throw new CryptoError('INVALID_ARGUMENT', 'key version must be an integer in 0..2^32-1');
  }
}

/** A new key lineage: random id, version 1. */
export function generateSymmetricKey(backend: CryptoBackend): SymmetricKey {
  return { id: backend.randomBytes(KEY_ID_BYTES), version: 1, bytes: backend.randomBytes(SYMMETRIC_KEY_BYTES) };
}

/** The next version of a lineage: same id, version + 1, fresh random bytes (no derivation from the old key). */
export function rotateSymmetricKey(backend: CryptoBackend, key: SymmetricKey): SymmetricKey {
  assertSymmetricKey(key);
  if (key.version >= MAX_KEY_VERSION) throw new CryptoError('INVALID_ARGUMENT', 'key version exhausted');
  return { id: key.id, version: key.version + 1, bytes: backend.randomBytes(SYMMETRIC_KEY_BYTES) };
}

/**
 * The symmetric keys a reader holds, by id and version. Opening looks keys up here, which
 * is what lets "unknown key" and "known key, missing version" be different errors.
 */
export class SymmetricKeyRing {
  private readonly byId = new Map<string, Map<number, SymmetricKey>>();

  constructor(keys: Iterable<SymmetricKey> = []) {
    if (keys === null || typeof (keys as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== 'function') throw new CryptoError('INVALID_ARGUMENT', 'SymmetricKeyRing takes a list of keys');
    for (const k of keys) this.add(k);
  }

  add(key: SymmetricKey): this {
    assertSymmetricKey(key);
    const id = keyIdText(key.id);
    let versions = this.byId.get(id);
    if (!versions) this.byId.set(id, (versions = new Map()));
    versions.set(key.version, key);
    return this;
  }

  /** Throws KEY_NOT_FOUND or KEY_VERSION_MISMATCH; never returns undefined. */
  get(id: Uint8Array, version: number): SymmetricKey {
    assertBytes(id, KEY_ID_BYTES, 'key id');
    const versions = this.byId.get(keyIdText(id));
    if (!versions) throw new CryptoError('KEY_NOT_FOUND', `no key with id ${keyIdText(id)}`);
    const key = versions.get(version);
    if (!key) {
      const have = [...versions.keys()].sort((a, b) => a - b).join(', ');
      throw new CryptoError('KEY_VERSION_MISMATCH', `key ${keyIdText(id)} is not held at version ${version} (held: ${have})`);
    }
    return key;
  }

  /** The highest held version of a lineage, for sealing new values. */
  latest(id: Uint8Array): SymmetricKey | undefined {
    assertBytes(id, KEY_ID_BYTES, 'key id');
    const versions = this.byId.get(keyIdText(id));
    if (!versions) return undefined;
    let best: SymmetricKey | undefined;
    for (const k of versions.values()) if (!best || k.version > best.version) best = k;
    return best;
  }
}

/** Throws INVALID_ARGUMENT unless `pair` has a 16-byte key id, a 32-byte public key and a 32-byte private key. */
export function assertEncryptionKeyPair(pair: EncryptionKeyPair): void {
  assertObject(pair, 'encryption key pair');
  assertBytes(pair.keyId, KEY_ID_BYTES, 'encryption key id');
  assertBytes(pair.publicKey, 32, 'X25519 public key');
  assertBytes(pair.privateKey, 32, 'X25519 private key');
}

/** Accepts one key or a ring; the same lookup errors either way. */
export type KeySource = SymmetricKey | SymmetricKeyRing;

export function lookupKey(source: KeySource, id: Uint8Array, version: number): SymmetricKey {
  if (source instanceof SymmetricKeyRing) return source.get(id, version);
  assertSymmetricKey(source);
  if (!sameId(source.id, id)) throw new CryptoError('KEY_NOT_FOUND', `envelope is for key ${keyIdText(id)}, not ${keyIdText(source.id)}`);
  if (source.version !== version) {
    throw new CryptoError('KEY_VERSION_MISMATCH', `envelope is for key version ${version}, the key given is version ${source.version}`);
  }
  return source;
}

// Key ids are public; a plain comparison is fine.
function sameId(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
