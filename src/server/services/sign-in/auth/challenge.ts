/**
 * @module
 * Stateless login challenges (docs/auth.md §3).
 *
 *   challenge = version(1) = 0x01 ‖ random(16) ‖ expiresAt(u64be, Unix ms) ‖ mac(32)
 *   mac       = HMAC-SHA256(challengeKey, "veilgraph/v1/challenge" ‖ 0x00 ‖ lp(realm) ‖ lp(username)
 *                           ‖ lp(purpose) ‖ version ‖ random ‖ expiresAt)
 *
 * Issuing writes nothing and reads nothing: a challenge for an unknown username is built
 * exactly like one for a real user (same length, same format, same work), so the
 * challenge endpoint cannot be used to enumerate users, and cannot be used to fill the
 * database either. The MAC binds the challenge to the realm, username and purpose it was
 * issued for; the key never leaves the server (all gateway instances share it).
 *
 * Single use is the caller's job: after the login signature verifies, it records
 * `challengeId` (base64url of the 16 random bytes) with `store.consumeChallenge`, which
 * persists it, so a replay is refused across restarts and across instances that share the
 * database.
 */
import type { CryptoBackend } from '../../../../crypto/backend.js';
import { base64urlDecode, base64urlEncode } from '../../../../crypto/base64url.js';
import { concatBytes, equalBytes, utf8Encode } from '../../../../crypto/bytes.js';
import { AuthError } from './errors.js';
import { CHALLENGE_BYTES, lengthPrefixed, type AuthPurpose } from '../../../../crypto/auth-messages.js';

export const CHALLENGE_VERSION = 0x01;
export const CHALLENGE_RANDOM_BYTES = 16;
export const CHALLENGE_MAC_BYTES = 32;
/** Length of the base64url text of a challenge (57 bytes). */
export const CHALLENGE_TEXT_LENGTH = 76;
/** Lifetime of a challenge: 5 minutes. */
export const CHALLENGE_TTL_MS = 5 * 60_000;
export const CHALLENGE_MAC_LABEL = 'veilgraph/v1/challenge';
/** Smallest accepted challenge MAC key. */
export const MIN_CHALLENGE_KEY_BYTES = 32;

const MAC_LABEL_BYTES = concatBytes(utf8Encode(CHALLENGE_MAC_LABEL), new Uint8Array([0]));
const OFF_RANDOM = 1;
const OFF_EXPIRES = OFF_RANDOM + CHALLENGE_RANDOM_BYTES; // 17
const OFF_MAC = OFF_EXPIRES + 8; // 25

/** Who and what a challenge is for; the MAC binds all of it. */
export interface ChallengeBinding {
  readonly realm: string;
  readonly username: string;
  readonly purpose: AuthPurpose;
}

export interface ChallengeKeying {
  readonly backend: CryptoBackend;
  /** HMAC key, at least 32 bytes, shared by every gateway instance of the deployment. */
  readonly key: Uint8Array;
}

export interface IssuedChallenge {
  /** base64url text to send to the client (76 characters). */
  readonly text: string;
  readonly expiresAt: Date;
}

export interface VerifiedChallenge {
  /** Raw challenge bytes: the last field of the login message. */
  readonly bytes: Uint8Array;
  /** Single-use id for `store.consumeChallenge`: base64url of the random part (22 characters). */
  readonly id: string;
  readonly expiresAt: Date;
}

function assertKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length < MIN_CHALLENGE_KEY_BYTES) {
    throw new TypeError(`challenge key must be a Uint8Array of at least ${MIN_CHALLENGE_KEY_BYTES} bytes`);
  }
}

function computeMac(k: ChallengeKeying, b: ChallengeBinding, unsigned: Uint8Array): Uint8Array {
  const data = concatBytes(MAC_LABEL_BYTES, lengthPrefixed(b.realm), lengthPrefixed(b.username), lengthPrefixed(b.purpose), unsigned);
  return k.backend.hmacSha256(k.key, data);
}

/** Builds a fresh challenge for `binding`, valid `ttlMs` from `nowMs`. */
export function issueChallenge(k: ChallengeKeying, binding: ChallengeBinding, nowMs: number, ttlMs: number = CHALLENGE_TTL_MS): IssuedChallenge {
  assertKey(k.key);
  const expiresAt = nowMs + ttlMs;
  if (!Number.isSafeInteger(expiresAt) || expiresAt < 0) throw new RangeError('challenge expiry out of range');
  const out = new Uint8Array(CHALLENGE_BYTES);
  out[0] = CHALLENGE_VERSION;
  out.set(k.backend.randomBytes(CHALLENGE_RANDOM_BYTES), OFF_RANDOM);
  new DataView(out.buffer).setBigUint64(OFF_EXPIRES, BigInt(expiresAt), false);
  out.set(computeMac(k, binding, out.subarray(0, OFF_MAC)), OFF_MAC);
  return { text: base64urlEncode(out), expiresAt: new Date(expiresAt) };
}

/** Strictly decodes challenge text: canonical base64url of exactly 57 bytes, else BAD_USER_INPUT. */
export function decodeChallenge(text: unknown): Uint8Array {
  if (typeof text !== 'string' || text.length !== CHALLENGE_TEXT_LENGTH) throw new AuthError('BAD_USER_INPUT', 'malformed challenge');
  let bytes: Uint8Array;
  try {
    bytes = base64urlDecode(text);
  } catch {
    throw new AuthError('BAD_USER_INPUT', 'malformed challenge');
  }
  if (bytes.length !== CHALLENGE_BYTES) throw new AuthError('BAD_USER_INPUT', 'malformed challenge');
  return bytes;
}

/**
 * Checks that `text` is a challenge this server issued for exactly `binding` and that it
 * has not expired at `nowMs`. Order: strict parse (BAD_USER_INPUT), version and MAC in
 * constant time (CHALLENGE_INVALID: tampered, forged, or issued for another realm, user
 * or purpose), then expiry (CHALLENGE_EXPIRED). Does not check single use.
 */
export function verifyChallenge(k: ChallengeKeying, binding: ChallengeBinding, text: unknown, nowMs: number): VerifiedChallenge {
  assertKey(k.key);
  const bytes = decodeChallenge(text);
  const expected = computeMac(k, binding, bytes.subarray(0, OFF_MAC));
  const macOk = equalBytes(expected, bytes.subarray(OFF_MAC));
  if (!macOk || bytes[0] !== CHALLENGE_VERSION) throw new AuthError('CHALLENGE_INVALID', 'invalid challenge');
  const expires = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(OFF_EXPIRES, false);
  // Only this server writes the field (the MAC verified), but never trust a conversion blindly.
  if (expires > BigInt(Number.MAX_SAFE_INTEGER)) throw new AuthError('CHALLENGE_INVALID', 'invalid challenge');
  const expiresAt = Number(expires);
  if (nowMs >= expiresAt) throw new AuthError('CHALLENGE_EXPIRED', 'challenge expired');
  return { bytes, id: base64urlEncode(bytes.subarray(OFF_RANDOM, OFF_EXPIRES)), expiresAt: new Date(expiresAt) };
}
