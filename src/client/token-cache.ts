/**
 * @module
 * One access token kept fresh for many callers (portable: no `node:` imports). A client that
 * signs in for every request, or whose many parts each sign in when the token is near its
 * end, runs into the server's sign-in limits (docs/auth.md §7); this keeps it to about one
 * sign-in per token lifetime.
 *
 * - **Reuse until shortly before expiry.** The lifetime is the token's own (`exp` − `iat`,
 *   docs/auth.md §6), less 1 s because `iat` is whole seconds (a token lives between
 *   lifetime − 1 s and lifetime), counted on this device's clock from when the sign-in was
 *   sent: a device clock that is off by minutes changes nothing. The token is renewed once
 *   less than a fifth of its lifetime is left of that, and at most 60 s before: a 900 s
 *   token is used for 839 s, a 30 s one for 23 s. Only when the token is not a readable JWT
 *   does the server's `expiresAt` count, against this device's clock.
 * - **Single flight.** While a sign-in runs, every caller waits for that one.
 * - **A failed renewal.** No new sign-in is tried for a while: `retryAfterSeconds` when the
 *   server said RATE_LIMITED, else `RETRY_AFTER_FAILURE_MS`, so a failing sign-in is never
 *   hammered by every call; meanwhile callers get its error, or, when it may pass by itself
 *   (RATE_LIMITED, no answer, a server error), the current token while it has not expired.
 *   A refusal that will not pass (DEVICE_REVOKED, LOGIN_FAILED, …) is never hidden that way.
 */
import { base64urlDecode } from '../crypto/base64url.js';
import type { LoginResult } from './session.js';

/** The share of a token's lifetime left when it is renewed. */
export const REFRESH_FRACTION = 1 / 5;
/** Renewal never starts earlier than this before expiry. */
export const MAX_REFRESH_MARGIN_MS = 60_000;
/** `iat` is whole seconds: a token may have been issued up to this long after it. */
const IAT_GRANULARITY_MS = 1000;
/** After a failed sign-in (other than RATE_LIMITED with its own wait), no new one for this long. */
export const RETRY_AFTER_FAILURE_MS = 5_000;
/** A token is not handed out in its last moments: the request it goes with takes time too. */
const EXPIRY_SAFETY_MS = 2_000;

/** Whether a sign-in that failed with `error` may succeed later by itself (the current token may then stand in). */
function isTransient(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const status = (error as { status?: unknown } | null)?.status;
  if (code === 'RATE_LIMITED' || code === 'NETWORK_ERROR' || code === 'SERVER_ERROR' || code === 'INTERNAL_SERVER_ERROR' || code === 'DATABASE_UNAVAILABLE') return true;
  if (typeof status === 'number' && status >= 500) return true;
  // Not a coded refusal at all (a fetch that threw, say): nothing says it is final.
  return typeof code !== 'string';
}

/** How long to wait after `error` before signing in again. */
function retryDelayMs(error: unknown): number {
  const seconds = (error as { retryAfterSeconds?: unknown } | null)?.retryAfterSeconds;
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : RETRY_AFTER_FAILURE_MS;
}

/** When (on the local clock) a session signed in at `sentAt` stops being valid; Infinity when it never expires. */
export function expiresAt(session: LoginResult, sentAt: number): number {
  const lifetime = tokenLifetimeMs(session.token);
  if (lifetime !== null) return sentAt + lifetime - IAT_GRANULARITY_MS;
  if (session.expiresAt === '') return Infinity;
  const at = Date.parse(session.expiresAt);
  return Number.isFinite(at) ? at : sentAt;
}

export interface TokenCacheOptions {
  /** Clock in Unix milliseconds (default Date.now). */
  readonly now?: () => number;
  /** A session obtained just now (it counts from when it is handed over). */
  readonly initial?: LoginResult;
}

/** The token's lifetime in ms from its `iat` and `exp` claims, or null when it is not a JWT with both. */
export function tokenLifetimeMs(token: string): number | null {
  const payload = token.split('.')[1];
  if (payload === undefined) return null;
  try {
    const claims = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(base64urlDecode(payload))) as { iat?: unknown; exp?: unknown };
    const { iat, exp } = claims;
    if (typeof iat !== 'number' || typeof exp !== 'number' || !Number.isFinite(iat) || !Number.isFinite(exp) || exp <= iat) return null;
    return (exp - iat) * 1000;
  } catch {
    return null;
  }
}

/** When (on the local clock) a session signed in at `sentAt` should be renewed; Infinity when it never expires. */
export function renewAt(session: LoginResult, sentAt: number, now: number): number {
  const lifetime = tokenLifetimeMs(session.token);
  if (lifetime !== null) return sentAt + lifetime - IAT_GRANULARITY_MS - Math.min(lifetime * REFRESH_FRACTION, MAX_REFRESH_MARGIN_MS);
  if (session.expiresAt === '') return Infinity;
  const expiresAt = Date.parse(session.expiresAt);
  if (!Number.isFinite(expiresAt)) return now; // unreadable: renew on next use
  // No lifetime to scale by: the margin is a fifth of what is left now, at most 60 s.
  const left = expiresAt - now;
  return expiresAt - Math.min(Math.max(left, 0) * REFRESH_FRACTION, MAX_REFRESH_MARGIN_MS);
}

export class TokenCache {
  readonly #signIn: () => Promise<LoginResult>;
  readonly #now: () => number;
  #session: LoginResult | undefined;
  #renewAt = 0;
  #expiresAt = 0;
  #inFlight: Promise<LoginResult> | undefined;
  /** After a failed sign-in: no new one before this, and its error. */
  #retryAt = 0;
  #failure: unknown;

  /** `signIn` obtains a new session; it is called at most once at a time. */
  constructor(signIn: () => Promise<LoginResult>, options: TokenCacheOptions = {}) {
    this.#signIn = signIn;
    this.#now = options.now ?? Date.now;
    if (options.initial) this.set(options.initial);
  }

  /** The current token, or a new one when it is due for renewal (shared by concurrent callers). */
  async token(): Promise<string> {
    if (this.#session && this.#now() < this.#renewAt) return this.#session.token;
    if (this.#now() < this.#retryAt) return this.#stillValid(this.#failure);
    try {
      return (await this.renew()).token;
    } catch (e) {
      // Set once per failed flight (every waiting caller lands here with the same error).
      if (this.#failure !== e) {
        this.#failure = e;
        this.#retryAt = this.#now() + retryDelayMs(e);
      }
      return this.#stillValid(e);
    }
  }

  /** The current token while it has not expired and `error` may pass, else `error`. */
  #stillValid(error: unknown): string {
    if (this.#session && isTransient(error) && this.#now() < this.#expiresAt - EXPIRY_SAFETY_MS) return this.#session.token;
    throw error;
  }

  /** Signs in now (or joins the sign-in under way), whatever the current token's age. */
  renew(): Promise<LoginResult> {
    if (this.#inFlight) return this.#inFlight;
    const sentAt = this.#now();
    const flight = this.#signIn().then((session) => {
      this.#accept(session, sentAt);
      return session;
    });
    this.#inFlight = flight;
    // Cleared however it ends, so that a failed sign-in is retried by the next call.
    const clear = (): void => {
      if (this.#inFlight === flight) this.#inFlight = undefined;
    };
    flight.then(clear, clear);
    return flight;
  }

  /** Uses `session` (obtained elsewhere, just now) from here on. */
  set(session: LoginResult): void {
    this.#accept(session, this.#now());
  }

  /** Forgets the token: the next call signs in. */
  clear(): void {
    this.#session = undefined;
    this.#renewAt = 0;
    this.#expiresAt = 0;
    this.#retryAt = 0;
  }

  #accept(session: LoginResult, sentAt: number): void {
    this.#session = session;
    this.#renewAt = renewAt(session, sentAt, this.#now());
    this.#expiresAt = expiresAt(session, sentAt);
    this.#retryAt = 0;
    this.#failure = undefined;
  }
}
