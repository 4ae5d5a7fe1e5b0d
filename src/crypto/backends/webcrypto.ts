/**
 * @module
 * Backend for browsers (and any runtime with WebCrypto's X25519/Ed25519, Node ≥ 20
 * included): curve operations run natively through `crypto.subtle`; ChaCha20-Poly1305,
 * which WebCrypto does not offer, and the synchronous hashes come from the noble
 * reference. No `node:` imports.
 */
import type { CryptoBackend } from '../backend.js';
import { CryptoError } from '../errors.js';
import { isAcceptableEd25519PublicKey } from '../ed25519-key-check.js';
import { nobleBackend, x25519Checked } from './noble.js';
import { pkcs8 } from './der.js';

type Subtle = SubtleCrypto;

function subtle(): Subtle {
  const s = (globalThis as { crypto?: { subtle?: Subtle } }).crypto?.subtle;
  if (!s) throw new CryptoError('BACKEND_UNAVAILABLE', 'WebCrypto is not available (needs a secure context)');
  return s;
}

// WebCrypto's types want ArrayBuffer-backed views; copying keeps that true for any input.
function buf(b: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(b);
}

async function publicFromPrivate(alg: 'X25519' | 'Ed25519', raw: Uint8Array): Promise<Uint8Array> {
  const usages: KeyUsage[] = alg === 'X25519' ? ['deriveBits'] : ['sign'];
  const curve = alg === 'X25519' ? 'x25519' : 'ed25519';
  const key = await subtle().importKey('pkcs8', buf(pkcs8(curve, raw)), { name: alg }, true, usages);
  // A private JWK carries the public key as `x`; that is the portable way to derive it.
  const jwk = await subtle().exportKey('jwk', key);
  if (!jwk.x) throw new CryptoError('BACKEND_UNAVAILABLE', `${alg} public key export failed`);
  const s = jwk.x.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(s + '='.repeat((4 - (s.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** True when this runtime's WebCrypto implements X25519 and Ed25519. */
export async function webCryptoSupportsCurves(): Promise<boolean> {
  try {
    const s = subtle();
    await s.generateKey({ name: 'X25519' }, false, ['deriveBits']);
    await s.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
    return true;
  } catch {
    return false;
  }
}

export const webCryptoBackend: CryptoBackend = {
  ...nobleBackend,
  name: 'webcrypto',
  x25519PublicKey: (priv) => publicFromPrivate('X25519', priv),
  x25519: async (priv, pub) => {
    let bits: ArrayBuffer;
    try {
      const s = subtle();
      const privKey = await s.importKey('pkcs8', buf(pkcs8('x25519', priv)), { name: 'X25519' }, false, ['deriveBits']);
      const pubKey = await s.importKey('raw', buf(pub), { name: 'X25519' }, false, []);
      bits = await s.deriveBits({ name: 'X25519', public: pubKey }, privKey, 256);
    } catch (cause) {
      throw new CryptoError('INVALID_PUBLIC_KEY', 'X25519 exchange failed (invalid or low-order public key)', { cause });
    }
    return x25519Checked(new Uint8Array(bits));
  },
  ed25519PublicKey: (seed) => publicFromPrivate('Ed25519', seed),
  ed25519Sign: async (seed, msg) => {
    const s = subtle();
    const key = await s.importKey('pkcs8', buf(pkcs8('ed25519', seed)), { name: 'Ed25519' }, false, ['sign']);
    return new Uint8Array(await s.sign({ name: 'Ed25519' }, key, buf(msg)));
  },
  ed25519Verify: async (pub, msg, sig) => {
    if (!isAcceptableEd25519PublicKey(pub)) return false;
    try {
      const s = subtle();
      const key = await s.importKey('raw', buf(pub), { name: 'Ed25519' }, false, ['verify']);
      return await s.verify({ name: 'Ed25519' }, key, buf(sig), buf(msg));
    } catch {
      return false;
    }
  },
};
