/**
 * @module
 * Typed errors of the authentication core. Every failure a client can act on has a stable
 * `code`; the GraphQL layer copies `extensions()` into the error's `extensions`. Messages
 * are fixed strings: they never contain tokens, signatures, keys, challenges or (for login
 * failures) anything that tells whether a username exists.
 */


import type { AuthErrorCode } from '../../crypto/auth-messages.js';
export type { AuthErrorCode };
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
