/**
 * @module
 * The tokens this instance has verified, so that the next request with the same token skips
 * the JWS verification (jose HS256 with every claim check: ~120 µs, against ~2 µs for the
 * hash here; docs/performance.md, issue 17 goal 3). ./jwt.ts consults it first.
 *
 * Why it is safe:
 * - A verified token's answer cannot change before it expires: the secret, the audience and
 *   every check are fixed for the life of the service, tokens are never revoked (docs/auth.md
 *   §5; a device session's device is checked on every request after this, by
 *   ../../../session-cache.ts), and only the expiry depends on the time. An entry is
 *   therefore used only before the token's `exp`; at or after it the token goes through
 *   jose again, which answers "token expired".
 * - Only successful verifications are kept: a wrong, forged or expired token never enters.
 * - No token text is kept: entries are keyed by SHA-256 of the text, so a hit means the
 *   exact same text was verified before (a changed character is another digest), and the
 *   full digest is compared in constant time. What is kept (user id, device id, token id,
 *   times) is not secret.
 * - Size: at most `maxEntries`; a full cache first drops expired entries, and if still full
 *   admits nothing new (the token is verified in full, as without the cache) rather than
 *   evicting a live entry. Only tokens this server signed can take room.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** Most verified tokens one instance remembers (~250 bytes each). */
export const DEFAULT_VERIFIED_TOKENS = 10_000;

/** What a verification established, kept per token; `expiresAt` is the token's `exp`. */
export interface VerifiedClaims {
  readonly expiresAt: Date;
}

interface Entry<C> {
  readonly digest: Buffer;
  readonly claims: C;
}

export class VerifiedTokens<C extends VerifiedClaims> {
  readonly #entries = new Map<string, Entry<C>>();
  readonly #max: number;

  constructor(maxEntries: number = DEFAULT_VERIFIED_TOKENS) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 0) throw new RangeError('maxEntries must be a non-negative integer (0: off)');
    this.#max = maxEntries;
  }

  /** Tokens held now (tests, metrics). */
  get size(): number {
    return this.#entries.size;
  }

  /** The claims of `token` if this exact text was verified before and has not expired at `now`; else undefined. */
  get(token: string, now: number): C | undefined {
    if (this.#max === 0) return undefined;
    const digest = digestOf(token);
    const key = keyOf(digest);
    const entry = this.#entries.get(key);
    if (entry === undefined || !timingSafeEqual(entry.digest, digest)) return undefined;
    if (now >= entry.claims.expiresAt.getTime()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.claims;
  }

  /** Remembers the claims of a token that was just verified in full. */
  remember(token: string, claims: C, now: number): void {
    if (this.#max === 0 || now >= claims.expiresAt.getTime()) return;
    for (const [key, entry] of this.#entries) {
      if (entry.claims.expiresAt.getTime() > now) break;
      this.#entries.delete(key);
    }
    if (this.#entries.size >= this.#max) return;
    const digest = digestOf(token);
    this.#entries.set(keyOf(digest), { digest, claims });
  }
}

function digestOf(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** The map key: half the digest (collisions there only cost a miss: the full digest decides). */
function keyOf(digest: Buffer): string {
  return digest.toString('base64', 0, 16);
}
