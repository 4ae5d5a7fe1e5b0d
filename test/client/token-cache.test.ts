// TokenCache's own rules, with a sign-in function that counts and can fail (the real
// client against a real gateway: token-refresh.test.ts): failures are shared and retried,
// the lifetime comes from the token's claims, and without readable claims from expiresAt.
import { describe, expect, it } from 'vitest';
import { base64urlEncode } from '../../src/crypto/base64url.js';
import { utf8Encode } from '../../src/crypto/bytes.js';
import { TokenCache, renewAt, tokenLifetimeMs } from '../../src/client/token-cache.js';
import type { LoginResult } from '../../src/client/session.js';

const jwt = (claims: Record<string, unknown>): string => `${base64urlEncode(utf8Encode('{"alg":"HS256"}'))}.${base64urlEncode(utf8Encode(JSON.stringify(claims)))}.c2ln`;
const session = (token: string, expiresAt = ''): LoginResult => ({ token, userId: 'u', expiresAt });

describe('TokenCache', () => {
  it('a failed sign-in fails every waiting caller once; the next call signs in again', async () => {
    let calls = 0;
    let fail = true;
    const cache = new TokenCache(async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 10));
      if (fail) throw new Error('offline');
      return session(jwt({ iat: 1000, exp: 1900 }));
    });
    const results = await Promise.allSettled([cache.token(), cache.token(), cache.token()]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(calls).toBe(1);
    fail = false;
    const [x, y] = await Promise.all([cache.token(), cache.token()]);
    expect(x).toBe(y);
    expect(calls).toBe(2);
  });

  it('reads the lifetime from iat and exp, and from nothing else', () => {
    expect(tokenLifetimeMs(jwt({ iat: 100, exp: 130 }))).toBe(30_000);
    for (const bad of ['', 'a.b.c', jwt({ iat: 100 }), jwt({ iat: 130, exp: 100 }), jwt({ iat: '100', exp: 130 }), 'x.%%%.y']) expect(tokenLifetimeMs(bad)).toBeNull();
  });

  it('renews a 900 s token after 839 s and a 30 s one after 23 s of use, counted from when it was asked for', () => {
    expect(renewAt(session(jwt({ iat: 0, exp: 900 })), 5_000, 0)).toBe(5_000 + 839_000);
    expect(renewAt(session(jwt({ iat: 0, exp: 30 })), 5_000, 0)).toBe(5_000 + 23_000);
  });

  it('without readable claims: expiresAt on this clock, less a fifth of what is left (at most 60 s); none = never', () => {
    const now = Date.UTC(2026, 0, 1);
    expect(renewAt(session('opaque', new Date(now + 30_000).toISOString()), now, now)).toBe(now + 24_000);
    expect(renewAt(session('opaque', new Date(now + 900_000).toISOString()), now, now)).toBe(now + 840_000);
    expect(renewAt(session('opaque'), now, now)).toBe(Infinity);
    expect(renewAt(session('opaque', 'not a date'), now, now)).toBe(now);
  });
});
