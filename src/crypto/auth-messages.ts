/**
 * @module
 * The exact byte strings a user signs to register and to log in (docs/auth.md §2).
 *
 * Pure and portable: no `node:` imports and nothing from the server, so clients can import
 * this file (and it can later move under src/crypto) to build the very bytes the server
 * verifies. Every message starts with its own ASCII label and a 0x00 byte (domain
 * separation: a registration signature can never pass as a login signature or as any
 * other veilgraph signature), then the deployment's realm, so a signature made for one
 * deployment is useless at another.
 *
 *   lp(s)    = u16be(len(utf8(s))) ‖ utf8(s)
 *   register = "veilgraph/v1/register" ‖ 0x00 ‖ lp(realm) ‖ lp(username) ‖ signingKey(32) ‖ encryptionKey(32)
 *   login    = "veilgraph/v1/login"    ‖ 0x00 ‖ lp(realm) ‖ lp(username) ‖ lp(purpose) ‖ challenge(57)
 */
import { concatBytes } from './bytes.js';
import { exactly, labelBytes, lengthPrefixed } from './signed-message.js';

export { lengthPrefixed };

/** Realm used when a deployment does not configure its own. */
export const DEFAULT_REALM = 'veilgraph';

export const REGISTER_LABEL = 'veilgraph/v1/register';
export const LOGIN_LABEL = 'veilgraph/v1/login';

/**
 * What a challenge may be used for. Only LOGIN exists in v1; new purposes (ADD_DEVICE, …)
 * are new members, and a challenge issued for one purpose never verifies for another.
 */
export const AuthPurpose = { LOGIN: 'LOGIN', RECOVER: 'RECOVER' } as const;
export type AuthPurpose = (typeof AuthPurpose)[keyof typeof AuthPurpose];

const PURPOSES: ReadonlySet<string> = new Set(Object.values(AuthPurpose));

export function isAuthPurpose(s: unknown): s is AuthPurpose {
  return typeof s === 'string' && PURPOSES.has(s);
}

/** Size of a v1 challenge in bytes: version(1) ‖ random(16) ‖ expiresAt(8) ‖ mac(32). */
export const CHALLENGE_BYTES = 57;
export const PUBLIC_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;

export interface RegistrationMessageInput {
  readonly realm: string;
  readonly username: string;
  /** Ed25519 public key, 32 bytes. */
  readonly signingKey: Uint8Array;
  /** X25519 public key, 32 bytes. */
  readonly encryptionKey: Uint8Array;
}

/** The bytes the new user signs with the signing key being registered (proof of possession). */
export function registrationMessage(m: RegistrationMessageInput): Uint8Array {
  return concatBytes(
    labelBytes(REGISTER_LABEL),
    lengthPrefixed(m.realm),
    lengthPrefixed(m.username),
    exactly(m.signingKey, PUBLIC_KEY_BYTES, 'signing key'),
    exactly(m.encryptionKey, PUBLIC_KEY_BYTES, 'encryption key'),
  );
}

export interface LoginMessageInput {
  readonly realm: string;
  readonly username: string;
  readonly purpose: AuthPurpose;
  /** The challenge as raw bytes (base64url-decoded from what the server sent), 57 bytes. */
  readonly challenge: Uint8Array;
}

/** The bytes the user signs with the registered signing key to answer a challenge. */
export function loginMessage(m: LoginMessageInput): Uint8Array {
  return concatBytes(
    labelBytes(LOGIN_LABEL),
    lengthPrefixed(m.realm),
    lengthPrefixed(m.username),
    lengthPrefixed(m.purpose),
    exactly(m.challenge, CHALLENGE_BYTES, 'challenge'),
  );
}

/** The error codes of the auth protocol (docs/auth.md §8), as the gateway sends them in `extensions.code`. */
export type AuthErrorCode =
  /** A username, key, signature or challenge text is malformed (charset, length, encoding). */
  | 'BAD_USER_INPUT'
  /** Registration: the username is already registered. */
  | 'USERNAME_TAKEN'
  /** Registration: the signature over the registration message does not verify. */
  | 'BAD_REGISTRATION_SIGNATURE'
  /** Login: the challenge was not issued by this server for this realm, user and purpose. */
  | 'CHALLENGE_INVALID'
  /** Login: the challenge is authentic but past its lifetime. */
  | 'CHALLENGE_EXPIRED'
  /** Login: the challenge was already used for a successful login. */
  | 'CHALLENGE_REPLAYED'
  /** Login: the signature does not verify, or the user does not exist (indistinguishable). */
  | 'LOGIN_FAILED'
  /** Access token missing, malformed, forged, for another realm, or expired. */
  | 'UNAUTHENTICATED'
  /** Too many requests from this client; see `retryAfterSeconds`. */
  | 'RATE_LIMITED';
