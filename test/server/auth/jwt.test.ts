/**
 * Access tokens: HS256 only, claims checked, every change to the text refused, expiry by
 * an injected clock, and errors that say "expired" or "invalid" and nothing else.
 */
import { createHmac } from 'node:crypto';
import { SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { AuthError } from '../../../src/server/services/sign-in/auth/errors.js';
import { DEFAULT_TOKEN_TTL_SECONDS, MAX_TOKEN_LENGTH, createTokenService } from '../../../src/server/services/sign-in/auth/jwt.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const secret = new Uint8Array(32).fill(0x5a);
const realm = 'veilgraph';

function clock(start = T0): { now: () => number; set(t: number): void } {
  let t = start;
  return { now: () => t, set: (v) => (t = v) };
}

async function rejection(p: Promise<unknown>): Promise<AuthError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(AuthError);
    return e as AuthError;
  }
  throw new Error('expected a rejection');
}

async function expectInvalid(p: Promise<unknown>, token?: string): Promise<void> {
  const e = await rejection(p);
  expect(e.code).toBe('UNAUTHENTICATED');
  expect(e.message).toBe('invalid token');
  expect(e.cause).toBeUndefined();
  if (token) expect(String(e)).not.toContain(token.split('.')[2]);
}

/** A token signed with our secret by hand: valid claims unless overridden. */
function forge(alg: string, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}, key = secret): Promise<string> {
  const iat = Math.floor(T0 / 1000);
  return new SignJWT({ sub: 'user-1', iss: 'veilgraph', aud: realm, iat, exp: iat + 900, jti: 'abcdefghijklmnopqrstuv', ...claims })
    .setProtectedHeader({ alg, typ: 'at+jwt', ...header })
    .sign(key);
}

describe('issue and verify', () => {
  it('issues an HS256 at+jwt with sub, iat, exp, iss, aud and a random jti', async () => {
    const c = clock();
    const tokens = createTokenService({ secret, audience: realm, now: c.now });
    const { token, expiresAt } = await tokens.issue('user-1');
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'at+jwt' });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ sub: 'user-1', iss: 'veilgraph', aud: realm, iat: T0 / 1000, exp: T0 / 1000 + 900 });
    expect(Object.keys(claims).sort()).toEqual(['aud', 'exp', 'iat', 'iss', 'jti', 'sub']);
    expect(claims.jti).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(expiresAt.getTime()).toBe(T0 + DEFAULT_TOKEN_TTL_SECONDS * 1000);
    expect((await tokens.issue('user-1')).token).not.toBe(token); // fresh jti

    const v = await tokens.verify(token);
    expect(v).toEqual({ sub: 'user-1', userId: 'user-1', jti: claims.jti, issuedAt: new Date(T0), expiresAt });
  });

  it('honours a configured lifetime and refuses silly ones', async () => {
    const tokens = createTokenService({ secret, audience: realm, ttlSeconds: 60, now: () => T0 });
    expect((await tokens.issue('u')).expiresAt.getTime()).toBe(T0 + 60_000);
    for (const ttlSeconds of [0, -1, 1.5, 86_401, Number.NaN]) {
      expect(() => createTokenService({ secret, audience: realm, ttlSeconds })).toThrow(RangeError);
    }
  });

  it('refuses a secret shorter than 32 bytes and an empty audience', () => {
    expect(() => createTokenService({ secret: new Uint8Array(31), audience: realm })).toThrow(TypeError);
    expect(() => createTokenService({ secret, audience: '' })).toThrow(TypeError);
  });
});

describe('refusals (all UNAUTHENTICATED)', () => {
  it('a changed character anywhere, in every segment, invalidates the token', async () => {
    const tokens = createTokenService({ secret, audience: realm, now: () => T0 });
    const { token } = await tokens.issue('user-1');
    const parts = token.split('.');
    expect(parts).toHaveLength(3);
    let checked = 0;
    for (let seg = 0; seg < 3; seg++) {
      const s = parts[seg]!;
      for (let i = 0; i < s.length; i++) {
        const c = s[i]!;
        const flipped = c === 'A' ? 'B' : 'A';
        const copy = [...parts];
        copy[seg] = s.slice(0, i) + flipped + s.slice(i + 1);
        await expectInvalid(tokens.verify(copy.join('.')));
        checked++;
      }
    }
    expect(checked).toBe(token.length - 2);
  });

  it('structural damage: extra or missing segments, padding, whitespace, wrong types', async () => {
    const tokens = createTokenService({ secret, audience: realm, now: () => T0 });
    const { token } = await tokens.issue('user-1');
    const [h, p, s] = token.split('.') as [string, string, string];
    for (const bad of [
      '',
      'garbage',
      `${h}.${p}`,
      `${h}.${p}.${s}.x`,
      `${h}.${p}.${s}=`,
      ` ${token}`,
      `${token}\n`,
      `${h}.${p}.`,
      `Bearer ${token}`,
      'a'.repeat(MAX_TOKEN_LENGTH + 1),
      undefined,
      null,
      42,
    ]) {
      await expectInvalid(tokens.verify(bad));
    }
  });

  it('expired by the clock: message says expired, nothing more', async () => {
    const c = clock();
    const tokens = createTokenService({ secret, audience: realm, now: c.now });
    const { token, expiresAt } = await tokens.issue('user-1');
    c.set(expiresAt.getTime() - 1000);
    await expect(tokens.verify(token)).resolves.toMatchObject({ sub: 'user-1' });
    c.set(expiresAt.getTime());
    const e = await rejection(tokens.verify(token));
    expect(e.code).toBe('UNAUTHENTICATED');
    expect(e.message).toBe('token expired');
    c.set(expiresAt.getTime() + 86_400_000);
    expect((await rejection(tokens.verify(token))).message).toBe('token expired');
  });

  it('signed with another secret', async () => {
    const ours = createTokenService({ secret, audience: realm, now: () => T0 });
    const theirs = createTokenService({ secret: new Uint8Array(32).fill(0x5b), audience: realm, now: () => T0 });
    const { token } = await theirs.issue('user-1');
    await expectInvalid(ours.verify(token), token);
  });

  it('issued for another realm (audience)', async () => {
    const ours = createTokenService({ secret, audience: realm, now: () => T0 });
    const staging = createTokenService({ secret, audience: 'staging', now: () => T0 });
    await expectInvalid(ours.verify((await staging.issue('user-1')).token));
  });

  it('alg "none", HS384, HS512 (same secret, valid claims)', async () => {
    const tokens = createTokenService({ secret, audience: realm, now: () => T0 });
    expect((await tokens.verify(await forge('HS256'))).sub).toBe('user-1'); // the control
    const enc = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
    const payload = decodeJwt(await forge('HS256'));
    await expectInvalid(tokens.verify(`${enc({ alg: 'none', typ: 'at+jwt' })}.${enc(payload)}.`));
    await expectInvalid(tokens.verify(`${enc({ alg: 'none', typ: 'at+jwt' })}.${enc(payload)}.AAAA`));
    await expectInvalid(tokens.verify(`${enc({ alg: 'none' })}.${enc(payload)}.`));
    await expectInvalid(tokens.verify(await forge('HS384')));
    await expectInvalid(tokens.verify(await forge('HS512')));
  });

  it('wrong or missing claims and type', async () => {
    const tokens = createTokenService({ secret, audience: realm, now: () => T0 });
    const cases: [Record<string, unknown>, Record<string, unknown>][] = [
      [{ iss: 'someone-else' }, {}],
      [{ iss: undefined }, {}],
      [{ aud: undefined }, {}],
      [{ aud: ['other'] }, {}],
      [{ sub: undefined }, {}],
      [{ sub: '' }, {}],
      [{ sub: 42 }, {}],
      [{ jti: undefined }, {}],
      [{ iat: undefined }, {}],
      [{ exp: undefined }, {}],
      [{ nbf: Math.floor(T0 / 1000) + 60 }, {}],
      [{}, { typ: 'JWT' }],
      [{}, { typ: undefined }],
    ];
    for (const [claims, header] of cases) await expectInvalid(tokens.verify(await forge('HS256', claims, header)));
    // An unknown critical header parameter, built by hand (jose will not sign one).
    const enc = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
    const byHand = (header: object, payload: object): string => {
      const input = `${enc(header)}.${enc(payload)}`;
      return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
    };
    const payload = decodeJwt(await forge('HS256'));
    expect((await tokens.verify(byHand({ alg: 'HS256', typ: 'at+jwt' }, payload))).sub).toBe('user-1'); // control
    await expectInvalid(tokens.verify(byHand({ alg: 'HS256', typ: 'at+jwt', crit: ['x-veil'], 'x-veil': 1 }, payload)));
  });
});

describe('verified tokens (./verified-tokens.ts): a token verified once is recognised until it expires', () => {
  it('the same text gets the same claims without a second verification; one changed character does not', async () => {
    const c = clock();
    const tokens = createTokenService({ secret, audience: realm, now: c.now });
    const { token, expiresAt } = await tokens.issue('user-1', 'device-1');
    const first = await tokens.verify(token);
    expect(first).toMatchObject({ sub: 'user-1', deviceId: 'device-1', expiresAt });
    // The very object the first verification made: the second one did not run jose.
    expect(await tokens.verify(token)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    const [h, p, s] = token.split('.') as [string, string, string];
    const flipped = `${h}.${p}.${s.slice(0, -2)}${s.at(-2) === 'A' ? 'B' : 'A'}${s.at(-1)}`;
    await expectInvalid(tokens.verify(flipped), token);
    // Up to the last millisecond before `exp`, then "token expired" as without the cache.
    c.set(expiresAt.getTime() - 1);
    expect(await tokens.verify(token)).toBe(first);
    c.set(expiresAt.getTime());
    expect((await rejection(tokens.verify(token))).message).toBe('token expired');
  });

  it('holds at most its bound and evicts nothing live; 0 turns it off', async () => {
    const tokens = createTokenService({ secret, audience: realm, now: () => T0, verifiedTokens: 1 });
    const a = (await tokens.issue('user-a')).token;
    const b = (await tokens.issue('user-b')).token;
    const claimsA = await tokens.verify(a);
    expect(await tokens.verify(b)).not.toBe(await tokens.verify(b)); // no room: verified in full each time
    expect(await tokens.verify(a)).toBe(claimsA);
    const off = createTokenService({ secret, audience: realm, now: () => T0, verifiedTokens: 0 });
    const t = (await off.issue('user-c')).token;
    expect(await off.verify(t)).not.toBe(await off.verify(t));
    expect(await off.verify(t)).toEqual(await off.verify(t));
  });
});
