/**
 * @module
 * Validation of the untrusted strings the auth API receives. Nothing is normalised
 * silently (no lower-casing, trimming or Unicode folding): a value is accepted exactly as
 * sent or refused with BAD_USER_INPUT, so one account has exactly one name and one key
 * has exactly one text.
 */
import type { CryptoBackend } from '../../../../crypto/backend.js';
import { base64urlDecode } from '../../../../crypto/base64url.js';
import { wipe } from '../../../../crypto/bytes.js';
import { isAcceptableEd25519PublicKey } from '../../../../crypto/ed25519-key-check.js';
import { isCryptoError } from '../../../../crypto/errors.js';
import { AuthError } from './errors.js';

/** 3–32 characters: lowercase ASCII letters, digits, `_`, `.`, `-`; starts with a letter. */
export const USERNAME_PATTERN = /^[a-z][a-z0-9_.-]{2,31}$/;

/** Returns `username` unchanged when it matches USERNAME_PATTERN; throws BAD_USER_INPUT otherwise. */
export function parseUsername(username: unknown): string {
  if (typeof username !== 'string' || !USERNAME_PATTERN.test(username)) {
    throw new AuthError(
      'BAD_USER_INPUT',
      'username must be 3–32 characters of lowercase letters, digits, "_", "." or "-", starting with a letter',
    );
  }
  return username;
}

/** Length of the unpadded base64url text of `n` bytes. */
export function base64urlLength(n: number): number {
  return Math.ceil((n * 4) / 3);
}

/**
 * Decodes strict, unpadded base64url of exactly `bytes` bytes. The text length is checked
 * before decoding, so an oversized input costs nothing.
 */
export function decodeFixedBase64url(text: unknown, bytes: number, what: string): Uint8Array {
  const bad = (): AuthError => new AuthError('BAD_USER_INPUT', `${what} must be ${bytes} bytes of unpadded base64url`);
  if (typeof text !== 'string' || text.length !== base64urlLength(bytes)) throw bad();
  let out: Uint8Array;
  try {
    out = base64urlDecode(text);
  } catch {
    throw bad();
  }
  if (out.length !== bytes) throw bad();
  return out;
}

/**
 * True when a 32-byte X25519 public key is canonically encoded: high bit clear and
 * u < p = 2^255 − 19 (RFC 7748 decoders would silently reduce anything else, giving one
 * key several texts). Low-order points are checked separately, by an exchange.
 */
export function isCanonicalX25519PublicKey(k: Uint8Array): boolean {
  if (k.length !== 32 || (k[31]! & 0x80) !== 0) return false;
  if (k[31] !== 0x7f) return true;
  for (let i = 30; i > 0; i--) if (k[i] !== 0xff) return true;
  return k[0]! < 0xed;
}

/**
 * True when an X25519 public key is one of the low-order points: an exchange with a random
 * scalar yields the all-zero secret exactly for those (backends throw INVALID_PUBLIC_KEY).
 */
export async function isLowOrderX25519(backend: CryptoBackend, pub: Uint8Array): Promise<boolean> {
  const scalar = backend.randomBytes(32);
  try {
    await backend.x25519(scalar, pub);
    return false;
  } catch (e) {
    if (isCryptoError(e, 'INVALID_PUBLIC_KEY')) return true;
    throw e;
  } finally {
    wipe(scalar);
  }
}

/**
 * Refuses, with BAD_USER_INPUT, identity keys no honest client generates: an Ed25519 key
 * of small order or non-canonical, an X25519 key non-canonical or of low order. The same
 * rule for registration and for every later key version (key directory).
 */
export async function assertAcceptableIdentityKeys(backend: CryptoBackend, signingKey: Uint8Array, encryptionKey: Uint8Array): Promise<void> {
  if (!isAcceptableEd25519PublicKey(signingKey)) {
    throw new AuthError('BAD_USER_INPUT', 'signingKey is not an acceptable Ed25519 public key (small order or non-canonical)');
  }
  if (!isCanonicalX25519PublicKey(encryptionKey) || (await isLowOrderX25519(backend, encryptionKey))) {
    throw new AuthError('BAD_USER_INPUT', 'encryptionKey is not an acceptable X25519 public key (low order or non-canonical)');
  }
}
