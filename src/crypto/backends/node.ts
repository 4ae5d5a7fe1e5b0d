/**
 * @module
 * Native backend for Node: X25519, Ed25519, ChaCha20-Poly1305, SHA-256, HMAC and HKDF
 * from node:crypto (OpenSSL), 10–30× faster than pure JS for the curve operations.
 * XChaCha20-Poly1305 = pure-JS HChaCha20 + native ChaCha20-Poly1305 (see ../xchacha.ts).
 *
 * This file is the one place in src/crypto that imports `node:`; the portable entry
 * (`../index.ts`) never imports it. Import it from `veilgraph/crypto/node`.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hash as nodeHash,
  hkdfSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import type { CryptoBackend } from '../backend.js';
import { CryptoError } from '../errors.js';
import { isAcceptableEd25519PublicKey } from '../ed25519-key-check.js';
import { NoncePool } from '../nonce-pool.js';
import { randomBytes } from '../random.js';
import { xchachaSubkey } from '../xchacha.js';
import { x25519Checked } from './noble.js';
import { pkcs8, rawFromDer, type Curve } from './der.js';

const TAG = 16;
const AEAD_OPTIONS = { authTagLength: TAG } as const;
// One-shot hashing (Node ≥ 20.12) skips the Hash object; fall back where it is missing.
const hash = typeof nodeHash === 'function' ? nodeHash : undefined;

function u8(b: Buffer | ArrayBuffer): Uint8Array {
  return b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

// OpenSSL 3 imports a DER (PKCS#8) private key in ~0.5 ms, ten times the cost of the
// operation it serves, and exports SPKI DER in ~75 µs; the JWK paths take ~35 µs and ~1 µs
// (bench/keyimport-breakdown.ts). A fresh key (wrapKey's ephemeral, a new key pair) pays
// the import once, so private keys import as JWK where the runtime is known to derive the
// public half from `d` alone (see jwkPrivateImportDerives), DER otherwise.
//
// Key objects are also cached per key buffer (WeakMap: dropped with the buffer), next to a
// copy of the bytes so that a buffer refilled with another key is never served the old key
// object.
interface CachedKey {
  readonly bytes: Uint8Array;
  readonly key: KeyObject;
}
const privateCache: Record<Curve, WeakMap<Uint8Array, CachedKey>> = { x25519: new WeakMap(), ed25519: new WeakMap() };

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

const JWK_CRV: Record<Curve, 'X25519' | 'Ed25519'> = { x25519: 'X25519', ed25519: 'Ed25519' };

// A Buffer over the same memory: `Buffer.from(bytes)` would copy a private key into Node's
// shared Buffer pool (8 KiB slabs later handed to any `Buffer.allocUnsafe`), where nothing
// ever wipes it.
function view(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

function importPrivateDer(curve: Curve, raw: Uint8Array): KeyObject {
  const der = pkcs8(curve, raw);
  try {
    return createPrivateKey({ key: view(der), format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0);
  }
}

// A JWK private key must carry `x` (the public key), which a caller deriving the public key
// does not have yet. Node (≤ 24 at least) validates `x` as a string and builds the key from
// `d` alone (EVP_PKEY_new_raw_private_key, which computes the public half), so an empty `x`
// is harmless there. A runtime that used or checked `x` instead would give wrong public keys
// or throw: the self-check below runs the JWK path once per curve on the RFC 7748 / RFC 8032
// test keys and keeps DER for good unless it derives exactly the published public keys.
//
// Node decodes `d` with `Buffer.from(d, 'base64')`, which for short strings copies into the
// shared Buffer pool: every fresh private key would stay in an 8 KiB slab that later
// `allocUnsafe` calls hand out unwiped. Setting `Buffer.poolSize` to 0 for this one
// synchronous call makes that decode allocate a buffer of its own (garbage-collected like
// the `d` string, which is unavoidable on this path); test/crypto/backends.test.ts checks
// that no private key reaches the pool.
function importPrivateJwk(curve: Curve, raw: Uint8Array): KeyObject {
  const poolSize = Buffer.poolSize;
  Buffer.poolSize = 0;
  try {
    return createPrivateKey({ key: { kty: 'OKP', crv: JWK_CRV[curve], d: view(raw).toString('base64url'), x: '' }, format: 'jwk' });
  } finally {
    Buffer.poolSize = poolSize;
  }
}

const SELF_CHECK: Record<Curve, { readonly priv: string; readonly pub: string }> = {
  // RFC 7748 §6.1, Alice.
  x25519: { priv: '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', pub: '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a' },
  // RFC 8032 §7.1, TEST 1.
  ed25519: { priv: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', pub: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a' },
};
const jwkImportOk: Partial<Record<Curve, boolean>> = {};

/** @internal Whether this runtime's JWK private import derives the public key from `d` (checked once per curve). */
export function jwkPrivateImportDerives(curve: Curve): boolean {
  let ok = jwkImportOk[curve];
  if (ok === undefined) {
    const { priv, pub } = SELF_CHECK[curve];
    try {
      ok = view(rawPublic(importPrivateJwk(curve, Buffer.from(priv, 'hex')))).toString('hex') === pub;
    } catch {
      ok = false;
    }
    jwkImportOk[curve] = ok;
  }
  return ok;
}

function privateKey(curve: Curve, raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new CryptoError('INVALID_ARGUMENT', `${curve} private key must be 32 bytes`);
  const hit = privateCache[curve].get(raw);
  if (hit && sameBytes(hit.bytes, raw)) return hit.key;
  const key = jwkPrivateImportDerives(curve) ? importPrivateJwk(curve, raw) : importPrivateDer(curve, raw);
  privateCache[curve].set(raw, { bytes: raw.slice(), key });
  return key;
}

// Public keys import as JWK in ~10 µs (DER: ~0.1 ms); no cache needed.
function publicKey(curve: Curve, raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new CryptoError('INVALID_PUBLIC_KEY', `${curve} public key must be 32 bytes`);
  const crv = curve === 'x25519' ? 'X25519' : 'Ed25519';
  return createPublicKey({ key: { kty: 'OKP', crv, x: view(raw).toString('base64url') }, format: 'jwk' });
}

// The public half of a key object (private or public) as raw bytes. The JWK export takes
// ~1 µs where the SPKI DER export takes ~75 µs. A private key object is first reduced to its
// public half (~1 µs): its own JWK export would carry `d`, a second unwipeable string copy of
// the private key.
function rawPublic(k: KeyObject): Uint8Array {
  const pub = k.type === 'private' ? createPublicKey(k) : k;
  const x = pub.export({ format: 'jwk' }).x;
  if (typeof x !== 'string') return rawFromDer(u8(pub.export({ format: 'der', type: 'spki' })));
  const raw = u8(Buffer.from(x, 'base64url'));
  if (raw.length !== 32) throw new CryptoError('INVALID_ARGUMENT', 'public key export: unexpected length');
  return raw;
}

// HKDF-SHA256 (RFC 5869) from two or more HMAC calls: ~6 µs for 32 bytes where hkdfSync,
// which wraps every input in a KeyObject, takes ~10–13 µs; wrapKey runs it once per
// recipient plus once for the MAC key. An empty salt is HMAC's empty key, which equals the
// RFC's HashLen zeros (HMAC pads keys with zeros). Lengths outside 1..8160 go to hkdfSync,
// so bad arguments fail exactly as before.
const HASH_LEN = 32;
function hkdf(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 1 || length > 255 * HASH_LEN) return u8(hkdfSync('sha256', ikm, salt, info, length));
  const prk = createHmac('sha256', salt).update(ikm).digest();
  const out = new Uint8Array(length);
  let prev: Buffer | null = null;
  for (let i = 1, o = 0; o < length; i++, o += HASH_LEN) {
    const h = createHmac('sha256', prk);
    if (prev) h.update(prev);
    const block: Buffer = h.update(info).update(COUNTER[i]!).digest();
    // T(i-1) is key material like the output; wipe each block once it has been chained.
    prev?.fill(0);
    prev = block;
    out.set(length - o >= HASH_LEN ? prev : prev.subarray(0, length - o), o);
  }
  prk.fill(0);
  prev?.fill(0);
  return out;
}
const COUNTER: readonly Uint8Array[] = Array.from({ length: 256 }, (_, i) => Uint8Array.of(i));

function seal(key: Uint8Array, nonce: Uint8Array, pt: Uint8Array, aad: Uint8Array): Uint8Array {
  const c = createCipheriv('chacha20-poly1305', key, nonce, AEAD_OPTIONS);
  if (aad.length > 0) c.setAAD(aad, { plaintextLength: pt.length });
  const head = c.update(pt);
  c.final();
  const out = new Uint8Array(pt.length + TAG);
  out.set(head, 0);
  out.set(c.getAuthTag(), pt.length);
  return out;
}

function open(key: Uint8Array, nonce: Uint8Array, ct: Uint8Array, aad: Uint8Array): Uint8Array | null {
  if (ct.length < TAG) return null;
  const n = ct.length - TAG;
  const d = createDecipheriv('chacha20-poly1305', key, nonce, AEAD_OPTIONS);
  if (aad.length > 0) d.setAAD(aad, { plaintextLength: n });
  d.setAuthTag(ct.subarray(n));
  const pt = d.update(ct.subarray(0, n));
  try {
    d.final();
  } catch {
    pt.fill(0);
    return null;
  }
  return u8(pt);
}

function assertKey(key: Uint8Array, nonce: Uint8Array, nonceLength: number): void {
  if (key.length !== 32) throw new CryptoError('INVALID_ARGUMENT', 'AEAD key must be 32 bytes');
  if (nonce.length !== nonceLength) throw new CryptoError('INVALID_ARGUMENT', `AEAD nonce must be ${nonceLength} bytes`);
}

// Envelope nonces in 4 KiB batches from the same CSPRNG (see ../nonce-pool.ts).
const nonces = new NoncePool(randomBytes);

export const nodeBackend: CryptoBackend = {
  name: 'node',
  randomBytes,
  fillNonce: (out) => nonces.take(out),
  chacha20poly1305Seal: (key, nonce, pt, aad) => {
    assertKey(key, nonce, 12);
    return seal(key, nonce, pt, aad);
  },
  chacha20poly1305Open: (key, nonce, ct, aad) => {
    assertKey(key, nonce, 12);
    return open(key, nonce, ct, aad);
  },
  xchacha20poly1305Seal: (key, nonce, pt, aad) => {
    assertKey(key, nonce, 24);
    const { subkey, nonce12 } = xchachaSubkey(key, nonce);
    try {
      return seal(subkey, nonce12, pt, aad);
    } finally {
      subkey.fill(0);
    }
  },
  xchacha20poly1305Open: (key, nonce, ct, aad) => {
    assertKey(key, nonce, 24);
    const { subkey, nonce12 } = xchachaSubkey(key, nonce);
    try {
      return open(subkey, nonce12, ct, aad);
    } finally {
      subkey.fill(0);
    }
  },
  sha256: (data) => u8(hash ? hash('sha256', data, 'buffer') : createHash('sha256').update(data).digest()),
  hmacSha256: (key, data) => u8(createHmac('sha256', key).update(data).digest()),
  hkdfSha256: hkdf,
  x25519PublicKey: async (priv) => rawPublic(privateKey('x25519', priv)),
  x25519: async (priv, pub) => {
    let shared: Uint8Array;
    try {
      shared = u8(diffieHellman({ privateKey: privateKey('x25519', priv), publicKey: publicKey('x25519', pub) }));
    } catch (cause) {
      // OpenSSL refuses the all-zero result itself.
      throw new CryptoError('INVALID_PUBLIC_KEY', 'X25519 exchange failed (invalid or low-order public key)', { cause });
    }
    return x25519Checked(shared);
  },
  ed25519PublicKey: async (seed) => rawPublic(privateKey('ed25519', seed)),
  ed25519Sign: async (seed, msg) => u8(sign(null, msg, privateKey('ed25519', seed))),
  ed25519Verify: async (pub, msg, sig) => {
    if (!isAcceptableEd25519PublicKey(pub)) return false;
    try {
      return verify(null, msg, publicKey('ed25519', pub), sig);
    } catch {
      return false;
    }
  },
};
