/**
 * @module
 * Short-lived access tokens (docs/auth.md §5): JWS compact, HS256 under a server secret of
 * at least 32 bytes, header `typ: at+jwt` (RFC 9068), claims `sub` (user id), `iat`, `exp`,
 * `iss` = "veilgraph", `aud` = realm, `jti` (16 random bytes, base64url).
 *
 * Verification pins the algorithm list to HS256 (so `alg: none`, HS384/HS512 and any
 * asymmetric algorithm are refused before the signature is even looked at), requires the
 * type, issuer, audience and every claim above, and turns every failure into AuthError
 * UNAUTHENTICATED whose message is only "token expired" or "invalid token".
 *
 * Tokens are bearer secrets: nothing here logs them, and no error message or cause carries
 * one. Verification is stateless (no database read); revocation is by expiry. A token
 * verified once is recognised by its SHA-256 until it expires (./verified-tokens.ts), so the
 * requests of one session pay the full verification once.
 */
import { createSecretKey } from 'node:crypto';
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import { base64urlDecode, base64urlEncode } from '../../../../crypto/base64url.js';
import { randomBytes } from '../../../../crypto/random.js';
import { AuthError } from './errors.js';
import { VerifiedTokens } from './verified-tokens.js';

export const TOKEN_ISSUER = 'veilgraph';
export const TOKEN_ALGORITHM = 'HS256';
export const TOKEN_TYPE = 'at+jwt';
/** Default access token lifetime: 15 minutes. */
export const DEFAULT_TOKEN_TTL_SECONDS = 15 * 60;
/** Longest configurable lifetime: 24 hours. */
export const MAX_TOKEN_TTL_SECONDS = 24 * 60 * 60;
export const MIN_JWT_SECRET_BYTES = 32;
/** Longer inputs are refused without parsing; our tokens are ~300 characters. */
export const MAX_TOKEN_LENGTH = 4096;

export interface TokenConfig {
  /** HMAC secret, at least 32 bytes from a CSPRNG; independent of every other key. */
  readonly secret: Uint8Array;
  /** Deployment realm, used as `aud`. */
  readonly audience: string;
  readonly ttlSeconds?: number;
  /** Clock in Unix milliseconds (tests inject one). */
  readonly now?: () => number;
  /** Most verified tokens remembered (./verified-tokens.ts); 0 = verify every time in full. */
  readonly verifiedTokens?: number;
}

export interface IssuedToken {
  readonly token: string;
  readonly expiresAt: Date;
}

export interface TokenClaims {
  /** The user id (`sub` claim). */
  readonly sub: string;
  /** Same as `sub`, by its meaning. */
  readonly userId: string;
  /** The token id (`jti` claim). */
  readonly jti: string;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  /** The `did` claim: the device the session signed in with (absent: the identity key). */
  readonly deviceId?: string;
}

export interface TokenService {
  /** With `deviceId`, the token carries it as the `did` claim (a device session). */
  issue(userId: string, deviceId?: string): Promise<IssuedToken>;
  /** Resolves to the claims of a valid token; rejects with AuthError UNAUTHENTICATED otherwise. */
  verify(token: unknown): Promise<TokenClaims>;
}

function invalid(): AuthError {
  return new AuthError('UNAUTHENTICATED', 'invalid token');
}

/**
 * Three non-empty segments of strict base64url. jose decodes leniently (unused low bits
 * of a segment's last character are ignored), so without this check one token would have
 * several accepted texts; with it, a changed character always invalidates the token.
 */
function isCanonicalCompactJws(token: string): boolean {
  const parts = token.split('.');
  if (parts.length !== 3) return false;
  for (const p of parts) {
    if (p.length === 0) return false;
    try {
      base64urlDecode(p);
    } catch {
      return false;
    }
  }
  return true;
}

export function createTokenService(config: TokenConfig): TokenService {
  const { secret, audience } = config;
  if (!(secret instanceof Uint8Array) || secret.length < MIN_JWT_SECRET_BYTES) {
    throw new TypeError(`JWT secret must be a Uint8Array of at least ${MIN_JWT_SECRET_BYTES} bytes`);
  }
  if (typeof audience !== 'string' || audience.length === 0) throw new TypeError('token audience (realm) must be a non-empty string');
  const ttl = config.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
  if (!Number.isSafeInteger(ttl) || ttl < 1 || ttl > MAX_TOKEN_TTL_SECONDS) {
    throw new RangeError(`token lifetime must be an integer between 1 and ${MAX_TOKEN_TTL_SECONDS} seconds`);
  }
  // Imported once: jose would otherwise import a raw Uint8Array key on every sign and
  // verify, which was half the cost of checking a token (docs/performance.md).
  const key = createSecretKey(secret.slice());
  const now = config.now ?? Date.now;
  const verified = new VerifiedTokens<TokenClaims>(config.verifiedTokens);

  return {
    async issue(userId, deviceId) {
      if (typeof userId !== 'string' || userId.length === 0) throw new TypeError('user id must be a non-empty string');
      if (deviceId !== undefined && (typeof deviceId !== 'string' || deviceId.length === 0)) throw new TypeError('device id must be a non-empty string');
      const iat = Math.floor(now() / 1000);
      const exp = iat + ttl;
      const token = await new SignJWT(deviceId === undefined ? {} : { did: deviceId })
        .setProtectedHeader({ alg: TOKEN_ALGORITHM, typ: TOKEN_TYPE })
        .setSubject(userId)
        .setIssuer(TOKEN_ISSUER)
        .setAudience(audience)
        .setIssuedAt(iat)
        .setExpirationTime(exp)
        .setJti(base64urlEncode(randomBytes(16)))
        .sign(key);
      return { token, expiresAt: new Date(exp * 1000) };
    },

    async verify(token) {
      if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw invalid();
      // This exact text verified before and not expired: the same claims (an expired one goes
      // on to jose, which says "token expired").
      const known = verified.get(token, now());
      if (known !== undefined) return known;
      if (!isCanonicalCompactJws(token)) throw invalid();
      let payload;
      try {
        ({ payload } = await jwtVerify(token, key, {
          algorithms: [TOKEN_ALGORITHM],
          typ: TOKEN_TYPE,
          issuer: TOKEN_ISSUER,
          audience,
          requiredClaims: ['sub', 'iat', 'exp', 'jti'],
          currentDate: new Date(now()),
        }));
      } catch (e) {
        // No `cause`: keep jose's details (claim values, reasons) out of client-visible errors.
        if (e instanceof joseErrors.JWTExpired) throw new AuthError('UNAUTHENTICATED', 'token expired');
        throw invalid();
      }
      const { sub, jti, iat, exp, did } = payload;
      if (typeof sub !== 'string' || sub.length === 0 || typeof jti !== 'string' || typeof iat !== 'number' || typeof exp !== 'number') {
        throw invalid();
      }
      if (did !== undefined && (typeof did !== 'string' || did.length === 0)) throw invalid();
      const base = { sub, userId: sub, jti, issuedAt: new Date(iat * 1000), expiresAt: new Date(exp * 1000) };
      const claims: TokenClaims = Object.freeze(did === undefined ? base : { ...base, deviceId: did });
      verified.remember(token, claims, now());
      return claims;
    },
  };
}
