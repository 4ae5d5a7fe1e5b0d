/**
 * @module
 * Validation of the untrusted strings the auth API receives. Nothing is normalised
 * silently (no lower-casing, trimming or Unicode folding): a value is accepted exactly as
 * sent or refused with BAD_USER_INPUT, so one account has exactly one name and one key
 * has exactly one text.
 */
import { base64urlDecode } from '../../crypto/base64url.js';
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
