// Account.token() against a real gateway with short tokens: a token is reused until shortly
// before it ends (lifetime − 1 s for `iat`'s whole seconds, less a fifth: 5.4 s of an 8 s
// token, 23 s of a 30 s one), concurrent callers share one sign-in, a run over several
// lifetimes signs in once per reuse period and is never RATE_LIMITED, and a device clock
// minutes off (either way) changes none of that.
//
// The limits: the defaults as a deployment with the shortest VEIL_TOKEN_TTL (30 s) has them,
// time-compressed with the token (every window × 8/30), so that seconds here stand for what
// a 30 s token does to the default limits in a minute.
// Sign-ins are counted at the client's own fetch (the login mutations it sends).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { Account } from '../../src/client/account.js';
import { MemoryKeyStore } from '../../src/client/keystore.js';
import { DEFAULT_AUTH_LIMITS } from '../../src/server/services/sign-in/auth/service.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

const TTL_SECONDS = 8;
/** How long one token is used (src/client/token-cache.ts). */
const REUSE_MS = TTL_SECONDS * 1000 - 1000 - (TTL_SECONDS * 1000) / 5;
const MY_DEVICES = 'query { myDevices { id } }';

let t: TestGateway;
let counter = 0;

beforeAll(async () => {
  const scaled = Object.fromEntries(Object.entries(DEFAULT_AUTH_LIMITS).map(([name, rule]) => [name, { points: rule.points, durationSeconds: (rule.durationSeconds * TTL_SECONDS) / 30 }]));
  t = await startTestGateway({ tokenTtlSeconds: TTL_SECONDS, authLimits: scaled });
});
afterAll(async () => {
  await t?.close();
});

/** An account whose sign-ins are counted, on a device clock `offset()` ms off the real one. */
async function account(offset: () => number = () => 0): Promise<{ account: Account; signIns: () => number }> {
  let signIns = 0;
  const counting: typeof fetch = (input, init) => {
    if (typeof init?.body === 'string' && init.body.includes('mutation VgLogin')) signIns++;
    return fetch(input, init);
  };
  const a = await Account.create({ endpoint: t.gateway.url, backend: nodeBackend, keystore: new MemoryKeyStore(), fetch: counting, now: () => Date.now() + offset() }, `refresh-${++counter}`);
  return { account: a, signIns: () => signIns };
}

async function accepted(token: string): Promise<void> {
  const r = await t.gql(MY_DEVICES, {}, token);
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Account.token()', () => {
  it('reuses the token, and 50 concurrent callers of a due token share one sign-in', async () => {
    let offset = 0;
    const { account: a, signIns } = await account(() => offset);
    const afterCreate = signIns();
    const first = await Promise.all(Array.from({ length: 50 }, () => a.token()));
    expect(signIns()).toBe(afterCreate); // fresh: reused
    expect(new Set(first).size).toBe(1);
    // Move the device clock past the renewal point.
    offset = REUSE_MS + 100;
    const second = await Promise.all(Array.from({ length: 50 }, () => a.token()));
    expect(signIns()).toBe(afterCreate + 1);
    expect(new Set(second).size).toBe(1);
    expect(second[0]).not.toBe(first[0]);
    await accepted(second[0]!);
  });

  it(`over ${3 * TTL_SECONDS} s of steady use: one sign-in per reuse period, every token accepted, never RATE_LIMITED`, { timeout: 60_000 }, async () => {
    const { account: a, signIns } = await account();
    const start = Date.now();
    const base = signIns();
    let calls = 0;
    while (Date.now() - start < 3 * TTL_SECONDS * 1000) {
      const token = await a.token(); // throws SessionError RATE_LIMITED if the limits are hit
      if (calls++ % 10 === 0) await accepted(token);
      await sleep(50);
    }
    const elapsed = Date.now() - start;
    const used = signIns() - base;
    expect(calls).toBeGreaterThan(4 * used);
    // At most one renewal per reuse period, and at least one per lifetime.
    expect(used).toBeLessThanOrEqual(Math.ceil(elapsed / REUSE_MS) + 1);
    expect(used).toBeGreaterThanOrEqual(Math.floor(elapsed / (TTL_SECONDS * 1000)));
  });

  it('a device clock ten minutes ahead does not make every call sign in', async () => {
    const { account: a, signIns } = await account(() => 10 * 60_000);
    const base = signIns();
    for (let i = 0; i < 20; i++) await a.token();
    expect(signIns() - base).toBe(0);
  });

  it('a device clock ten minutes behind still renews before the token expires', { timeout: 30_000 }, async () => {
    const { account: a, signIns } = await account(() => -10 * 60_000);
    const first = await a.token();
    const base = signIns();
    await sleep(TTL_SECONDS * 1000 + 200); // the first token has expired on the server's clock
    const next = await a.token();
    expect(signIns()).toBe(base + 1);
    expect(next).not.toBe(first);
    await accepted(next);
  });
});
