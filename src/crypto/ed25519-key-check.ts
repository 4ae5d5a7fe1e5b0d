/**
 * @module
 * Rejects Ed25519 public keys that no honest key generation produces: small-order points
 * and non-canonical encodings. With a small-order public key, the signature (R = identity,
 * S = 0) verifies for *every* message under OpenSSL's (and WebCrypto's) cofactorless check,
 * while noble rejects it; checking here makes every backend refuse the same keys and keeps
 * signatures non-repudiable. Same rule as libsodium's `ge25519_has_small_order` plus a
 * canonical-y check (RFC 8032 §5.1.3 requires y < p).
 */
import { ED25519_TORSION_SUBGROUP } from '@noble/curves/ed25519.js';
import { fromHex } from './bytes.js';

// The eight points of order dividing 8, compared with the sign bit cleared so both sign
// variants (including the non-canonical "negative zero" x) are refused.
const SMALL_ORDER = ED25519_TORSION_SUBGROUP.map((h) => {
  const b = fromHex(h);
  b[31]! &= 0x7f;
  return b;
});

function sameIgnoringSign(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 31; i++) if (a[i] !== b[i]) return false;
  return (a[31]! & 0x7f) === b[31];
}

/** y ≥ p = 2^255 − 19 (little-endian, sign bit ignored) is a non-canonical encoding. */
function nonCanonicalY(k: Uint8Array): boolean {
  if ((k[31]! & 0x7f) !== 0x7f) return false;
  for (let i = 30; i > 0; i--) if (k[i] !== 0xff) return false;
  return k[0]! >= 0xed;
}

/** True when `publicKey` is 32 bytes, canonically encoded, and not of small order. */
export function isAcceptableEd25519PublicKey(publicKey: Uint8Array): boolean {
  if (publicKey.length !== 32 || nonCanonicalY(publicKey)) return false;
  for (const s of SMALL_ORDER) if (sameIgnoringSign(publicKey, s)) return false;
  return true;
}
