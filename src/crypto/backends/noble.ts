/**
 * @module
 * The portable reference backend: every primitive in audited pure JS (@noble). Runs in
 * any JS runtime; other backends are tested against it.
 */
import { chacha20poly1305, xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import type { CryptoBackend } from '../backend.js';
import { CryptoError } from '../errors.js';
import { isAcceptableEd25519PublicKey } from '../ed25519-key-check.js';
import { randomBytes } from '../random.js';

function aeadOpen(f: () => Uint8Array): Uint8Array | null {
  try {
    return f();
  } catch {
    return null;
  }
}

export function x25519Checked(shared: Uint8Array): Uint8Array {
  let acc = 0;
  for (const b of shared) acc |= b;
  if (acc === 0) throw new CryptoError('INVALID_PUBLIC_KEY', 'X25519 produced the all-zero secret (low-order public key)');
  return shared;
}

export const nobleBackend: CryptoBackend = {
  name: 'noble',
  randomBytes,
  chacha20poly1305Seal: (key, nonce, pt, aad) => chacha20poly1305(key, nonce, aad).encrypt(pt),
  chacha20poly1305Open: (key, nonce, ct, aad) => aeadOpen(() => chacha20poly1305(key, nonce, aad).decrypt(ct)),
  xchacha20poly1305Seal: (key, nonce, pt, aad) => xchacha20poly1305(key, nonce, aad).encrypt(pt),
  xchacha20poly1305Open: (key, nonce, ct, aad) => aeadOpen(() => xchacha20poly1305(key, nonce, aad).decrypt(ct)),
  sha256: (data) => sha256(data),
  hmacSha256: (key, data) => hmac(sha256, key, data),
  hkdfSha256: (ikm, salt, info, length) => hkdf(sha256, ikm, salt, info, length),
  x25519PublicKey: async (priv) => x25519.getPublicKey(priv),
  x25519: async (priv, pub) => {
    let shared: Uint8Array;
    try {
      shared = x25519.getSharedSecret(priv, pub);
    } catch (cause) {
      // noble rejects the all-zero result itself; report it the same way as other backends.
      throw new CryptoError('INVALID_PUBLIC_KEY', 'X25519 exchange failed (invalid or low-order public key)', { cause });
    }
    return x25519Checked(shared);
  },
  ed25519PublicKey: async (seed) => ed25519.getPublicKey(seed),
  ed25519Sign: async (seed, msg) => ed25519.sign(msg, seed),
  ed25519Verify: async (pub, msg, sig) => {
    if (!isAcceptableEd25519PublicKey(pub)) return false;
    try {
      // zip215: false = strict RFC 8032 verification (canonical S and R), as OpenSSL and
      // WebCrypto apply it; small-order keys are refused above for every backend.
      return ed25519.verify(sig, msg, pub, { zip215: false });
    } catch {
      return false;
    }
  },
};
