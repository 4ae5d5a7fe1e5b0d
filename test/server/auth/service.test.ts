/**
 * The auth service end to end against the real SQLite store (src/server/storage/open.ts)
 * and real crypto (nodeBackend): registration, challenge-response login, replay, expiry,
 * user binding, no username enumeration, rate limits.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { base64urlDecode, base64urlEncode } from '../../../src/crypto/base64url.js';
import type { CryptoBackend } from '../../../src/crypto/backend.js';
import { nodeBackend } from '../../../src/crypto/backends/node.js';
import { fromHex } from '../../../src/crypto/bytes.js';
import { generateEncryptionKeyPair, generateSigningKeyPair, type SigningKeyPair } from '../../../src/crypto/keys.js';
import { AuthError, type AuthErrorCode } from '../../../src/server/services/sign-in/auth/errors.js';
import { AuthPurpose, loginMessage, registrationMessage } from '../../../src/crypto/auth-messages.js';
import { DEFAULT_AUTH_LIMITS, createAuthService, type AuthLimitName, type AuthLimits, type AuthService, type RegisterInput } from '../../../src/server/services/sign-in/auth/service.js';
import { openStore } from '../../../src/server/storage/open.js';
import type { Store } from '../../../src/server/storage/store.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const challengeKey = nodeBackend.randomBytes(32);
const jwtSecret = nodeBackend.randomBytes(32);

let dir: string;
let store: Store;
let counter = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'veilgraph-auth-'));
  store = await openStore({ dataDir: join(dir, 'main') });
});

afterAll(async () => {
  await store?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Clock {
  now: () => number;
  advance(ms: number): void;
}
function clock(start = T0): Clock {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

interface Harness {
  auth: AuthService;
  clock: Clock;
}
function service(
  opts: { limits?: Partial<AuthLimits>; realm?: string; backend?: CryptoBackend; store?: Store; clock?: Clock } = {},
): Harness {
  const c = opts.clock ?? clock();
  const auth = createAuthService({
    store: opts.store ?? store,
    backend: opts.backend ?? nodeBackend,
    realm: opts.realm,
    challengeKey,
    jwtSecret,
    tokenTtlSeconds: 900,
    now: c.now,
    // Generous by default so only the rate-limit tests ever hit a limit.
    limits: opts.limits ?? Object.fromEntries((Object.keys(DEFAULT_AUTH_LIMITS) as AuthLimitName[]).map((n) => [n, { points: 10_000, durationSeconds: 1 }])),
  });
  return { auth, clock: c };
}

function freshName(): string {
  return `user-${++counter}-${base64urlEncode(nodeBackend.randomBytes(3)).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`;
}

interface Person {
  username: string;
  signing: SigningKeyPair;
  encryptionKey: Uint8Array;
}

async function person(username = freshName()): Promise<Person> {
  return { username, signing: await generateSigningKeyPair(nodeBackend), encryptionKey: (await generateEncryptionKeyPair(nodeBackend)).publicKey };
}

async function registration(p: Person, realm = 'veilgraph', signer: SigningKeyPair = p.signing): Promise<RegisterInput> {
  const msg = registrationMessage({ realm, username: p.username, signingKey: p.signing.publicKey, encryptionKey: p.encryptionKey });
  return {
    username: p.username,
    signingKey: base64urlEncode(p.signing.publicKey),
    encryptionKey: base64urlEncode(p.encryptionKey),
    signature: base64urlEncode(await nodeBackend.ed25519Sign(signer.seed, msg)),
  };
}

async function signLogin(seed: Uint8Array, username: string, challenge: string, realm = 'veilgraph'): Promise<string> {
  const msg = loginMessage({ realm, username, purpose: AuthPurpose.LOGIN, challenge: base64urlDecode(challenge) });
  return base64urlEncode(await nodeBackend.ed25519Sign(seed, msg));
}

async function registered(h: Harness): Promise<Person> {
  const p = await person();
  await h.auth.register(await registration(p), 'ip-reg');
  return p;
}

async function failure(p: Promise<unknown>): Promise<AuthError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AuthError) return e;
    throw e;
  }
  throw new Error('expected an AuthError');
}

async function codeOf(p: Promise<unknown>): Promise<AuthErrorCode> {
  return (await failure(p)).code;
}

describe('register', () => {
  it('creates the user with a random 16-byte id and the given keys', async () => {
    const h = service();
    const p = await person();
    const user = await h.auth.register(await registration(p), 'ip-1');
    expect(user.username).toBe(p.username);
    expect(user.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(base64urlDecode(user.id)).toHaveLength(16);
    expect(user.signingKey).toEqual(p.signing.publicKey);
    expect(user.encryptionKey).toEqual(p.encryptionKey);
    const row = await store.findUserByUsername(p.username);
    expect(row?.id).toBe(user.id);
    expect(row?.signingKey).toEqual(p.signing.publicKey);
  });

  it('USERNAME_TAKEN for a registered name, whatever the keys', async () => {
    const h = service();
    const p = await registered(h);
    const other = await person(p.username);
    const e = await failure(h.auth.register(await registration(other)));
    expect(e.code).toBe('USERNAME_TAKEN');
    expect(e.message).toBe('username is taken');
  });

  it('USERNAME_TAKEN for the loser of two concurrent registrations (unique index, CONFLICT)', async () => {
    const h = service();
    const a = await person();
    const b = await person(a.username);
    const results = await Promise.allSettled([h.auth.register(await registration(a)), h.auth.register(await registration(b))]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const lost = results.find((r) => r.status === 'rejected');
    expect(lost?.status === 'rejected' && lost.reason instanceof AuthError && lost.reason.code).toBe('USERNAME_TAKEN');
  });

  it('maps the store\'s CONFLICT to USERNAME_TAKEN when the pre-check misses (the race window, made deterministic)', async () => {
    // The real store, with only the pre-check blinded, as if another request inserted the
    // name between our check and our insert.
    const blind = new Proxy(store, {
      get(target, prop) {
        if (prop === 'findUserByUsername') return async () => null;
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const h = service({ store: blind });
    const a = await person();
    await h.auth.register(await registration(a));
    const e = await failure(h.auth.register(await registration(await person(a.username))));
    expect([e.code, e.message]).toEqual(['USERNAME_TAKEN', 'username is taken']);
    expect(e.cause).toBeUndefined(); // the storage error (column names, SQL) is not passed on
  });

  it('BAD_REGISTRATION_SIGNATURE: another key, another realm, another name, other keys, garbage', async () => {
    const h = service();
    const p = await person();
    const stranger = await generateSigningKeyPair(nodeBackend);
    expect(await codeOf(h.auth.register(await registration(p, 'veilgraph', stranger)))).toBe('BAD_REGISTRATION_SIGNATURE');
    expect(await codeOf(h.auth.register(await registration(p, 'staging')))).toBe('BAD_REGISTRATION_SIGNATURE');
    const good = await registration(p);
    const renamed = await person();
    expect(await codeOf(h.auth.register({ ...good, username: renamed.username }))).toBe('BAD_REGISTRATION_SIGNATURE');
    const otherEnc = base64urlEncode((await generateEncryptionKeyPair(nodeBackend)).publicKey);
    expect(await codeOf(h.auth.register({ ...good, encryptionKey: otherEnc }))).toBe('BAD_REGISTRATION_SIGNATURE');
    expect(await codeOf(h.auth.register({ ...good, signature: base64urlEncode(new Uint8Array(64)) }))).toBe('BAD_REGISTRATION_SIGNATURE');
    expect(await store.findUserByUsername(p.username)).toBeNull();
    await expect(h.auth.register(good)).resolves.toMatchObject({ username: p.username }); // the control
  });

  it('refuses small-order and non-canonical Ed25519 keys, even with a signature they "verify"', async () => {
    const h = service();
    const p = await person();
    const identity = fromHex('0100000000000000000000000000000000000000000000000000000000000000');
    // R = identity, S = 0 verifies for every message under a cofactorless verifier.
    const universal = base64urlEncode(fromHex('01'.padEnd(128, '0')));
    for (const key of [identity, new Uint8Array(32), fromHex('ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f')]) {
      const e = await failure(
        h.auth.register({ username: p.username, signingKey: base64urlEncode(key), encryptionKey: base64urlEncode(p.encryptionKey), signature: universal }),
      );
      expect(e.code).toBe('BAD_USER_INPUT');
      expect(e.message).toMatch(/signingKey/);
    }
    expect(await store.findUserByUsername(p.username)).toBeNull();
  });

  it('refuses low-order and non-canonical X25519 keys', async () => {
    const h = service();
    const p = await person();
    const good = await registration(p);
    const bad = [
      new Uint8Array(32), // 0
      fromHex('0100000000000000000000000000000000000000000000000000000000000000'), // 1
      fromHex('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800'), // order 8
      fromHex('ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'), // p − 1
      fromHex('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'), // p (≡ 0)
      (() => {
        const k = p.encryptionKey.slice();
        k[31]! |= 0x80; // high bit set: same point, second text
        return k;
      })(),
    ];
    for (const key of bad) {
      const e = await failure(h.auth.register({ ...good, encryptionKey: base64urlEncode(key) }));
      expect(e.code).toBe('BAD_USER_INPUT');
      expect(e.message).toMatch(/encryptionKey/);
    }
  });

  it('refuses bad usernames without normalising them', async () => {
    const h = service();
    const p = await person();
    const good = await registration(p);
    for (const username of ['Alice', 'al', 'a'.repeat(33), '1abc', '_abc', 'ali ce', 'alicé', ' alice', 'alice\n', '', 'ＡＢＣ', 'a\u0000bc']) {
      expect(await codeOf(h.auth.register({ ...good, username }))).toBe('BAD_USER_INPUT');
    }
    for (const username of [undefined, null, 42]) {
      expect(await codeOf(h.auth.register({ ...good, username: username as unknown as string }))).toBe('BAD_USER_INPUT');
    }
    expect(await codeOf(h.auth.register(null as unknown as RegisterInput))).toBe('BAD_USER_INPUT');
  });

  it('refuses malformed base64url and wrong lengths', async () => {
    const h = service();
    const good = await registration(await person());
    const cases: Partial<RegisterInput>[] = [
      { signingKey: `${good.signingKey}=` },
      { signingKey: good.signingKey.slice(1) },
      { signingKey: base64urlEncode(new Uint8Array(33)) },
      { signingKey: Buffer.from(base64urlDecode(good.signingKey)).toString('base64') + (good.signingKey.includes('-') ? '' : '+') },
      { encryptionKey: `${good.encryptionKey.slice(0, 42)}B` }, // unused bits set (if canonical char was A)
      { encryptionKey: base64urlEncode(new Uint8Array(31)) },
      { signature: base64urlEncode(new Uint8Array(63)) },
      { signature: `${good.signature.slice(0, 85)}!` },
      { signature: 'x'.repeat(1_000_000) },
    ];
    for (const c of cases) {
      const code = await codeOf(h.auth.register({ ...good, ...c }));
      // A replacement that happens to be canonical base64url of the right length is simply
      // another key: then the signature fails instead. Never accepted either way.
      expect(['BAD_USER_INPUT', 'BAD_REGISTRATION_SIGNATURE']).toContain(code);
    }
    expect(await codeOf(h.auth.register({ ...good, signingKey: `${good.signingKey}=` }))).toBe('BAD_USER_INPUT');
    expect(await codeOf(h.auth.register({ ...good, signature: 'x'.repeat(1_000_000) }))).toBe('BAD_USER_INPUT');
  });
});

describe('login', () => {
  it('returns a token that verifyToken accepts for the right user', async () => {
    const h = service();
    const p = await registered(h);
    const c = await h.auth.challenge(p.username, 'LOGIN', 'ip-1');
    expect(c.challenge).toHaveLength(76);
    expect(c.expiresAt.getTime()).toBe(T0 + 5 * 60_000);
    const s = await h.auth.login(p.username, c.challenge, await signLogin(p.signing.seed, p.username, c.challenge), 'ip-1');
    const row = await store.findUserByUsername(p.username);
    expect(s.user.id).toBe(row?.id);
    expect(s.user.username).toBe(p.username);
    expect(s.expiresAt.getTime()).toBe(T0 + 900_000);
    const claims = await h.auth.verifyToken(s.token);
    expect(claims.sub).toBe(row?.id);
    expect(claims.expiresAt).toEqual(s.expiresAt);
  });

  it('the token expires with the clock; garbage tokens are UNAUTHENTICATED', async () => {
    const h = service();
    const p = await registered(h);
    const c = await h.auth.challenge(p.username, 'LOGIN', 'ip-1');
    const s = await h.auth.login(p.username, c.challenge, await signLogin(p.signing.seed, p.username, c.challenge), 'ip-1');
    h.clock.advance(900_000);
    const e = await failure(h.auth.verifyToken(s.token));
    expect([e.code, e.message]).toEqual(['UNAUTHENTICATED', 'token expired']);
    expect(await codeOf(h.auth.verifyToken('nope'))).toBe('UNAUTHENTICATED');
    // A token from a deployment with another realm (same secret) is refused too.
    const staging = service({ realm: 'staging' });
    expect(await codeOf(staging.auth.verifyToken((await service().auth.login(p.username, ...(await fresh(service(), p)))).token))).toBe(
      'UNAUTHENTICATED',
    );
  });

  it('CHALLENGE_REPLAYED for a second login with the same challenge', async () => {
    const h = service();
    const p = await registered(h);
    const c = await h.auth.challenge(p.username, 'LOGIN', 'ip-1');
    const sig = await signLogin(p.signing.seed, p.username, c.challenge);
    await h.auth.login(p.username, c.challenge, sig, 'ip-1');
    const e = await failure(h.auth.login(p.username, c.challenge, sig, 'ip-1'));
    expect(e.code).toBe('CHALLENGE_REPLAYED');
    // Another instance (same keys, same database) refuses it as well.
    expect(await codeOf(service().auth.login(p.username, c.challenge, sig, 'ip-2'))).toBe('CHALLENGE_REPLAYED');
  });

  it('exactly one of two concurrent logins with the same challenge wins', async () => {
    const h = service();
    const p = await registered(h);
    const c = await h.auth.challenge(p.username, 'LOGIN', 'ip-1');
    const sig = await signLogin(p.signing.seed, p.username, c.challenge);
    const results = await Promise.allSettled([1, 2, 3, 4].map(() => h.auth.login(p.username, c.challenge, sig, 'ip-1')));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect((r.reason as AuthError).code).toBe('CHALLENGE_REPLAYED');
  });

  it('a replay is refused across a restart (the store persists used challenges), and purging never re-allows it', async () => {
    const restartDir = join(dir, 'restart');
    const c0 = clock();
    const s1: Store = await openStore({ dataDir: restartDir });
    let s1Open = true;
    let s2: Store | undefined;
    try {
      const h1 = service({ store: s1, clock: c0 });
      const p = await registered(h1);
      const c = await h1.auth.challenge(p.username, 'LOGIN', 'ip-1');
      const sig = await signLogin(p.signing.seed, p.username, c.challenge);
      await h1.auth.login(p.username, c.challenge, sig, 'ip-1');
      s1Open = false;
      await s1.close();

      s2 = await openStore({ dataDir: restartDir });
      const h2 = service({ store: s2, clock: c0 });
      expect(await codeOf(h2.auth.login(p.username, c.challenge, sig, 'ip-1'))).toBe('CHALLENGE_REPLAYED');
      expect(await h2.auth.purgeExpiredChallenges()).toBe(0); // still within its lifetime
      expect(await codeOf(h2.auth.login(p.username, c.challenge, sig, 'ip-1'))).toBe('CHALLENGE_REPLAYED');
      c0.advance(5 * 60_000 + 10 * 60_000 + 1); // past expiry + grace
      expect(await h2.auth.purgeExpiredChallenges()).toBeGreaterThanOrEqual(1);
      expect(await codeOf(h2.auth.login(p.username, c.challenge, sig, 'ip-1'))).toBe('CHALLENGE_EXPIRED');
    } finally {
      if (s1Open) await s1.close();
      await s2?.close();
    }
  });

  it('CHALLENGE_EXPIRED after 5 minutes (injected clock)', async () => {
    const h = service();
    const p = await registered(h);
    const c = await h.auth.challenge(p.username, 'LOGIN', 'ip-1');
    const sig = await signLogin(p.signing.seed, p.username, c.challenge);
    h.clock.advance(5 * 60_000);
    expect(await codeOf(h.auth.login(p.username, c.challenge, sig, 'ip-1'))).toBe('CHALLENGE_EXPIRED');
  });

  it('LOGIN_FAILED for a signature by another key, and the challenge is not burned', async () => {
    const h = service();
    const p = await registered(h);
    const mallory = await generateSigningKeyPair(nodeBackend);
    const c = await h.auth.challenge(p.username, 'LOGIN', 'ip-1');
    const e = await failure(h.auth.login(p.username, c.challenge, await signLogin(mallory.seed, p.username, c.challenge), 'ip-1'));
    expect([e.code, e.message]).toEqual(['LOGIN_FAILED', 'login failed']);
    // Signature over another realm's message, or a zero signature: same failure.
    expect(await codeOf(h.auth.login(p.username, c.challenge, await signLogin(p.signing.seed, p.username, c.challenge, 'staging'), 'ip-1'))).toBe(
      'LOGIN_FAILED',
    );
    expect(await codeOf(h.auth.login(p.username, c.challenge, base64urlEncode(new Uint8Array(64)), 'ip-1'))).toBe('LOGIN_FAILED');
    // The failed attempts did not consume it: the owner can still use it.
    const s = await h.auth.login(p.username, c.challenge, await signLogin(p.signing.seed, p.username, c.challenge), 'ip-1');
    expect(s.user.username).toBe(p.username);
  });

  it('CHALLENGE_INVALID for a challenge issued for another user, even when correctly signed', async () => {
    const h = service();
    const alice = await registered(h);
    const bob = await registered(h);
    const forBob = await h.auth.challenge(bob.username, 'LOGIN', 'ip-1');
    const sig = await signLogin(alice.signing.seed, alice.username, forBob.challenge);
    expect(await codeOf(h.auth.login(alice.username, forBob.challenge, sig, 'ip-1'))).toBe('CHALLENGE_INVALID');
    // Nor from another realm with the same keys.
    const other = service({ realm: 'staging' });
    const c = await other.auth.challenge(alice.username, 'LOGIN', 'ip-1');
    expect(await codeOf(h.auth.login(alice.username, c.challenge, await signLogin(alice.signing.seed, alice.username, c.challenge), 'ip-1'))).toBe(
      'CHALLENGE_INVALID',
    );
  });

  it('malformed inputs are BAD_USER_INPUT', async () => {
    const h = service();
    const p = await registered(h);
    const c = await h.auth.challenge(p.username, 'LOGIN', 'ip-1');
    const sig = await signLogin(p.signing.seed, p.username, c.challenge);
    expect(await codeOf(h.auth.login('Alice', c.challenge, sig, 'ip-1'))).toBe('BAD_USER_INPUT');
    expect(await codeOf(h.auth.login(p.username, `${c.challenge}=`, sig, 'ip-1'))).toBe('BAD_USER_INPUT');
    expect(await codeOf(h.auth.login(p.username, c.challenge.slice(4), sig, 'ip-1'))).toBe('BAD_USER_INPUT');
    expect(await codeOf(h.auth.login(p.username, c.challenge, `${sig}A`, 'ip-1'))).toBe('BAD_USER_INPUT');
    expect(await codeOf(h.auth.login(p.username, c.challenge, sig.slice(1), 'ip-1'))).toBe('BAD_USER_INPUT');
    expect(await codeOf(h.auth.challenge('Alice', 'LOGIN', 'ip-1'))).toBe('BAD_USER_INPUT');
    expect(await codeOf(h.auth.challenge(p.username, 'ADD_DEVICE', 'ip-1'))).toBe('BAD_USER_INPUT');
    expect(await codeOf(h.auth.challenge(p.username, 'login', 'ip-1'))).toBe('BAD_USER_INPUT');
    // None of that consumed the challenge.
    await expect(h.auth.login(p.username, c.challenge, sig, 'ip-1')).resolves.toMatchObject({ user: { username: p.username } });
  });
});

/** A fresh challenge and its correct signature, as login arguments after the username. */
async function fresh(h: Harness, p: Person): Promise<[string, string, string]> {
  const c = await h.auth.challenge(p.username, 'LOGIN', 'ip-fresh');
  return [c.challenge, await signLogin(p.signing.seed, p.username, c.challenge), 'ip-fresh'];
}

describe('no username enumeration', () => {
  it('an unknown username gets a challenge of the same length and format, and fails exactly like a wrong signature', async () => {
    let verifies = 0;
    const counting: CryptoBackend = {
      ...nodeBackend,
      ed25519Verify: (k, m, s) => {
        verifies++;
        return nodeBackend.ed25519Verify(k, m, s);
      },
    };
    const h = service({ backend: counting });
    const known = await registered(h);
    const ghost = await person(); // never registered

    const ck = await h.auth.challenge(known.username, 'LOGIN', 'ip-1');
    const cu = await h.auth.challenge(ghost.username, 'LOGIN', 'ip-1');
    const bk = base64urlDecode(ck.challenge);
    const bu = base64urlDecode(cu.challenge);
    expect(cu.challenge).toHaveLength(ck.challenge.length);
    expect(cu.challenge).toMatch(/^[A-Za-z0-9_-]{76}$/);
    expect(bu.length).toBe(bk.length);
    expect(bu[0]).toBe(bk[0]);
    expect(bu.subarray(17, 25)).toEqual(bk.subarray(17, 25)); // same expiry
    expect(cu.expiresAt).toEqual(ck.expiresAt);

    verifies = 0;
    const wrongSig = await failure(h.auth.login(known.username, ck.challenge, await signLogin(ghost.signing.seed, known.username, ck.challenge), 'ip-1'));
    expect(verifies).toBe(1);
    verifies = 0;
    const unknown = await failure(h.auth.login(ghost.username, cu.challenge, await signLogin(ghost.signing.seed, ghost.username, cu.challenge), 'ip-1'));
    expect(verifies).toBe(1); // comparable work: one signature verification in both cases
    expect({ code: unknown.code, message: unknown.message, name: unknown.name, retry: unknown.retryAfterSeconds }).toEqual({
      code: wrongSig.code,
      message: wrongSig.message,
      name: wrongSig.name,
      retry: wrongSig.retryAfterSeconds,
    });
    expect(unknown.code).toBe('LOGIN_FAILED');
    expect(unknown.extensions()).toEqual(wrongSig.extensions());
    // The challenge endpoint never touched the database for the unknown user.
    expect(await store.findUserByUsername(ghost.username)).toBeNull();
  });
});

describe('rate limits', () => {
  // The limiter counts windows on the system clock: tests move it.
  afterEach(() => {
    vi.useRealTimers();
  });
  const frozen = (): void => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0);
  };
  const later = (ms: number): void => {
    vi.setSystemTime(Date.now() + ms);
  };

  it('challenge: RATE_LIMITED per client address, with retryAfterSeconds', async () => {
    frozen();
    const h = service({ limits: { challenge: { points: 2, durationSeconds: 2 } } });
    await h.auth.challenge('someone', 'LOGIN', 'ip-a');
    await h.auth.challenge('someone-else', 'LOGIN', 'ip-a');
    const e = await failure(h.auth.challenge('third', 'LOGIN', 'ip-a'));
    expect(e.code).toBe('RATE_LIMITED');
    expect(e.retryAfterSeconds).toBe(2);
    expect(e.extensions()).toEqual({ code: 'RATE_LIMITED', retryAfterSeconds: 2 });
    await expect(h.auth.challenge('someone', 'LOGIN', 'ip-b')).resolves.toBeTruthy(); // other client
    // Refused requests do not move the window: after retryAfterSeconds the next one passes.
    expect(await codeOf(h.auth.challenge('third', 'LOGIN', 'ip-a'))).toBe('RATE_LIMITED');
    later(2000);
    await expect(h.auth.challenge('someone', 'LOGIN', 'ip-a')).resolves.toBeTruthy();
  });

  it('login: per address and username, and per address', async () => {
    frozen();
    const h = service({
      limits: { loginPerUser: { points: 2, durationSeconds: 10 }, login: { points: 4, durationSeconds: 10 } },
    });
    const p = await registered(h);
    const [c, sig] = await fresh(h, p);
    const junk = base64urlEncode(new Uint8Array(64));
    expect(await codeOf(h.auth.login(p.username, c, junk, 'ip-a'))).toBe('LOGIN_FAILED');
    expect(await codeOf(h.auth.login(p.username, c, junk, 'ip-a'))).toBe('LOGIN_FAILED');
    const limited = await failure(h.auth.login(p.username, c, sig, 'ip-a')); // even the right signature
    expect(limited.code).toBe('RATE_LIMITED');
    expect(limited.retryAfterSeconds).toBe(10);
    // Another address is not affected by ip-a's per-user bucket.
    expect((await h.auth.login(p.username, c, sig, 'ip-b')).user.username).toBe(p.username);
    // ip-a's per-address bucket (4): 3 used; one more (another user), then refused for anyone.
    expect(await codeOf(h.auth.login('nobody-here', c, junk, 'ip-a'))).toBe('CHALLENGE_INVALID');
    expect(await codeOf(h.auth.login('nobody-else', c, junk, 'ip-a'))).toBe('RATE_LIMITED');
    later(10_000);
    const [c2, sig2] = await fresh(h, p);
    expect((await h.auth.login(p.username, c2, sig2, 'ip-a')).user.username).toBe(p.username);
  });

  it('login: per account, whatever the address; only attempts with a genuine challenge count', async () => {
    frozen();
    const h = service({ limits: { loginPerAccount: { points: 3, durationSeconds: 60 } } });
    const p = await registered(h);
    const [c, sig] = await fresh(h, p);
    const junk = base64urlEncode(new Uint8Array(64));
    // A forged challenge is refused before the account's allowance is touched.
    const forged = `A${c.slice(1)}` === c ? `B${c.slice(1)}` : `A${c.slice(1)}`;
    for (let i = 0; i < 5; i++) expect(await codeOf(h.auth.login(p.username, forged, junk, `ip-f${i}`))).toBe('CHALLENGE_INVALID');
    // Three addresses, one attempt each, use the account's allowance up.
    for (const ip of ['ip-1', 'ip-2', 'ip-3']) expect(await codeOf(h.auth.login(p.username, c, junk, ip))).toBe('LOGIN_FAILED');
    const refused = await failure(h.auth.login(p.username, c, sig, 'ip-4')); // a fresh address, the right key
    expect([refused.code, refused.retryAfterSeconds]).toEqual(['RATE_LIMITED', 60]);
    // An unknown username is limited alike (no hint that it does not exist), on its own allowance.
    const ghost = await person();
    const [gc] = await fresh(h, ghost);
    for (const ip of ['ip-1', 'ip-2', 'ip-3']) expect(await codeOf(h.auth.login(ghost.username, gc, junk, ip))).toBe('LOGIN_FAILED');
    expect(await codeOf(h.auth.login(ghost.username, gc, junk, 'ip-4'))).toBe('RATE_LIMITED');
    later(60_000);
    expect((await h.auth.login(p.username, c, sig, 'ip-4')).user.username).toBe(p.username);
  });

  it('register: per address', async () => {
    frozen();
    const h = service({ limits: { register: { points: 1, durationSeconds: 60 } } });
    await h.auth.register(await registration(await person()), 'ip-r');
    const e = await failure(h.auth.register(await registration(await person()), 'ip-r'));
    expect([e.code, e.retryAfterSeconds]).toEqual(['RATE_LIMITED', 60]);
    await expect(h.auth.register(await registration(await person()), 'ip-s')).resolves.toBeTruthy();
  });

  it('refuses rules that are not positive whole numbers', () => {
    for (const rule of [{ points: 0, durationSeconds: 60 }, { points: 1.5, durationSeconds: 60 }, { points: 5, durationSeconds: 0 }]) {
      expect(() => service({ limits: { login: rule } })).toThrow(RangeError);
    }
  });
});

describe('configuration', () => {
  it('refuses short or shared secrets, bad realms and bad lifetimes', () => {
    const base = { store, backend: nodeBackend, challengeKey, jwtSecret };
    expect(() => createAuthService({ ...base, challengeKey: new Uint8Array(31) })).toThrow(TypeError);
    expect(() => createAuthService({ ...base, jwtSecret: new Uint8Array(16) })).toThrow(TypeError);
    expect(() => createAuthService({ ...base, jwtSecret: challengeKey })).toThrow(/different/);
    expect(() => createAuthService({ ...base, realm: '' })).toThrow(TypeError);
    expect(() => createAuthService({ ...base, realm: 'has space' })).toThrow(TypeError);
    expect(() => createAuthService({ ...base, tokenTtlSeconds: 0 })).toThrow(RangeError);
    expect(() => createAuthService({ ...base, challengeTtlSeconds: 0 })).toThrow(RangeError);
    expect(createAuthService(base).realm).toBe('veilgraph');
  });
});
