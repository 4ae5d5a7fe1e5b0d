/**
 * @module
 * Typed errors of the authentication core. Every failure a client can act on has a stable
 * `code`; the GraphQL layer copies `extensions()` into the error's `extensions`. Messages
 * are fixed strings: they never contain tokens, signatures, keys, challenges or (for login
 * failures) anything that tells whether a username exists.
 */


import type { AuthErrorCode as ProtocolErrorCode } from '../../../../crypto/auth-messages.js';

/**
 * The codes of devices, key bundles, backups and account resets (docs/auth.md §12). Stable
 * strings: clients switch on them.
 */
export type AccountErrorCode =
  /** Login with a device that asked to join and is not approved yet. */
  | 'DEVICE_PENDING'
  /** Login with a revoked device. */
  | 'DEVICE_REVOKED'
  /** The signature of a new device over the device message does not verify. */
  | 'BAD_DEVICE_SIGNATURE'
  /** The signature of a backup's auth key over the backup message does not verify. */
  | 'BAD_BACKUP_SIGNATURE'
  /** A new key version's (or reset's) signature does not verify. */
  | 'BAD_KEY_SIGNATURE'
  /** The bundle's revision is not the stored revision + 1. */
  | 'STALE_KEY_BUNDLE'
  /** The bundle or its wrapped key is malformed or bound to the wrong place or version. */
  | 'BAD_KEY_BUNDLE'
  /** The bundle key is not wrapped for exactly the account's ACTIVE devices and backups. */
  | 'BUNDLE_RECIPIENTS_MISMATCH'
  /** The account has a key bundle: the mutation must carry the new one. */
  | 'KEY_BUNDLE_REQUIRED'
  /** The PENDING device's link request expired. */
  | 'DEVICE_LINK_EXPIRED'
  /** A session cannot revoke its own device. */
  | 'CANNOT_REVOKE_CURRENT_DEVICE'
  /** Backup KDF parameters outside what the kind allows. */
  | 'BAD_KDF_PARAMETERS'
  /** Unknown user, no reset code, expired or wrong code (indistinguishable). */
  | 'RESET_CODE_INVALID'
  /** A re-wrapped key does not match the stored one or is not for the viewer's current key. */
  | 'BAD_WRAPPED_KEY'
  | 'NOT_FOUND'
  | 'CONFLICT';

export type AuthErrorCode = ProtocolErrorCode | AccountErrorCode;

export class AuthError extends Error {
  override readonly name = 'AuthError';
  readonly code: AuthErrorCode;
  /** Set only for RATE_LIMITED: whole seconds until the next attempt can succeed (≥ 1). */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: AuthErrorCode, message: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }

  /** The fields to expose to clients (GraphQL `extensions`). */
  extensions(): { code: AuthErrorCode; retryAfterSeconds?: number } {
    return this.retryAfterSeconds === undefined ? { code: this.code } : { code: this.code, retryAfterSeconds: this.retryAfterSeconds };
  }
}

/** True when `e` is an AuthError, optionally with the given code. */
export function isAuthError(e: unknown, code?: AuthErrorCode): e is AuthError {
  return e instanceof AuthError && (code === undefined || e.code === code);
}

/** The one login failure: same code and message whether the user is unknown or the signature is wrong. */
export function loginFailed(): AuthError {
  return new AuthError('LOGIN_FAILED', 'login failed');
}

export function rateLimited(retryAfterSeconds: number): AuthError {
  return new AuthError('RATE_LIMITED', 'too many requests; retry later', { retryAfterSeconds });
}
