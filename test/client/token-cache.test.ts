// TokenCache's own rules, with a sign-in function that counts and can fail (the real
// client against a real gateway: token-refresh.test.ts): failures are shared and retried,
// the lifetime comes from the token's claims, and without readable claims from expiresAt.
import { describe, expect, it } from 'vitest';
import { base64urlEncode } from '../../src/crypto/base64url.js';
import { utf8Encode } from '../../src/crypto/bytes.js';
import { RETRY_AFTER_FAILURE_MS, TokenCache, renewAt, tokenLifetimeMs } from '../../src/client/token-cache.js';
import { SessionError, type LoginResult } from '../../src/client/session.js';

const jwt = (claims: Record<string, unknown>): string => `${base64urlEncode(utf8Encode('{"alg":"HS256"}'))}.${base64urlEncode(utf8Encode(JSON.stringify(claims)))}.c2ln`;
const session = (token: string, expiresAt = ''): LoginResult => ({ token, userId: 'u', expiresAt });

describe('TokenCache', () => {
  it('a failed sign-in fails every waiting caller once; calls within RETRY_AFTER_FAILURE_MS get its error without a new sign-in, later ones sign in again', async () => {
    let now = 1_000_000;
    let calls = 0;
    let fail = true;
    const cache = new TokenCache(
      async () => {
        calls++;
        await new Promise((r) => setTimeout(r, 10));
        if (fail) throw new Error('offline');
        return session(jwt({ iat: 1000, exp: 1900 }));
      },
      { now: () => now },
    );
    const results = await Promise.allSettled([cache.token(), cache.token(), cache.token()]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(calls).toBe(1);
    fail = false;
    now += RETRY_AFTER_FAILURE_MS - 1;
    await expect(cache.token()).rejects.toThrow('offline');
    expect(calls).toBe(1);
    now += 1;
    const [x, y] = await Promise.all([cache.token(), cache.token()]);
    expect(x).toBe(y);
    expect(calls).toBe(2);
  });

  it('RATE_LIMITED: no new sign-in before retryAfterSeconds', async () => {
    let now = 0;
    let calls = 0;
    const cache = new TokenCache(
      async () => {
        calls++;
        if (calls === 1) throw new SessionError('RATE_LIMITED', 'slow down', { retryAfterSeconds: 30 });
        return session(jwt({ iat: 0, exp: 900 }));
      },
      { now: () => now },
    );
    await expect(cache.token()).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    now = 29_999;
    await expect(cache.token()).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    expect(calls).toBe(1);
    now = 30_000;
    await cache.token();
    expect(calls).toBe(2);
  });

  it('a renewal that fails keeps the current token while it is valid (no storm of sign-ins), then fails', async () => {
    let now = 0;
    let calls = 0;
    const first = session(jwt({ iat: 0, exp: 100 })); // lifetime 100 s: renewed after 79 s, valid 99 s
    const cache = new TokenCache(
      async () => {
        calls++;
        if (calls === 1) return first;
        throw new SessionError('NETWORK_ERROR', 'offline');
      },
      { now: () => now },
    );
    expect(await cache.token()).toBe(first.token);
    now = 80_000; // due for renewal; the renewal fails
    expect(await cache.token()).toBe(first.token);
    expect(await cache.token()).toBe(first.token);
    expect(calls).toBe(2);
    now = 80_000 + RETRY_AFTER_FAILURE_MS; // one more try, failing again: still the valid token
    expect(await cache.token()).toBe(first.token);
    expect(calls).toBe(3);
    now = 97_001; // within 2 s of expiry: not handed out any more
    await expect(cache.token()).rejects.toMatchObject({ code: 'NETWORK_ERROR' });
  });

  it('a renewal refused for good (DEVICE_REVOKED) is reported at once, not hidden behind the still-valid token', async () => {
    let now = 0;
    let calls = 0;
    const first = session(jwt({ iat: 0, exp: 100 }));
    const cache = new TokenCache(
      async () => {
        calls++;
        if (calls === 1) return first;
        throw new SessionError('DEVICE_REVOKED', 'this device was revoked');
      },
      { now: () => now },
    );
    expect(await cache.token()).toBe(first.token);
    now = 80_000;
    await expect(cache.token()).rejects.toMatchObject({ code: 'DEVICE_REVOKED' });
    await expect(cache.token()).rejects.toMatchObject({ code: 'DEVICE_REVOKED' });
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
