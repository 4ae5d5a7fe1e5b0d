/**
 * @module
 * Typed errors of the authentication core. Every failure a client can act on has a stable
 * `code`; the GraphQL layer copies `extensions()` into the error's `extensions`. Messages
 * are fixed strings: they never contain tokens, signatures, keys, challenges or (for login
 * failures) anything that tells whether a username exists.
 */

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
