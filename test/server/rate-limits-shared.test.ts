// Rate limits shared by every gateway instance on one PostgreSQL database: two real
// gateways on one throwaway PostgreSQL, requests alternating between them from real, different
// loopback addresses. Per instance each would allow the limit again; shared, the limit holds
// for the deployment (docs/auth.md §7). Default limits.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { base64urlEncode } from '../../src/crypto/base64url.js';
import { RateLimits } from '../../src/server/rate-limit.js';
import { DEFAULT_AUTH_LIMITS } from '../../src/server/services/sign-in/auth/service.js';
import { newKeyRingFile } from '../../src/server/keyring.js';
import { gqlFrom, loopback } from '../helpers/addresses.js';
import { LOGIN, challenge, codes, registerWithDevice } from '../helpers/devices.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

const JUNK_SIGNATURE = base64urlEncode(new Uint8Array(64));
// The documented defaults and table (docs/auth.md §7), pinned here.
const LOGIN_PER_USER = 5;
const LOGIN_PER_ACCOUNT = 30;
const RATE_LIMIT_TABLE = 'veil_rate_limits';

let db: TestPostgres;
let databaseUrl: string;
let a: TestGateway;
let b: TestGateway;

beforeAll(async () => {
  db = await startPostgres(); // throws (fails the suite) when PostgreSQL cannot start
  databaseUrl = await db.createDatabase('limits');
  // Two instances of one deployment: same database, key ring and secrets.
  const shared = { databaseUrl, keyring: JSON.stringify(newKeyRingFile(nodeBackend)), jwtSecret: base64urlEncode(nodeBackend.randomBytes(32)), challengeKey: base64urlEncode(nodeBackend.randomBytes(32)) };
  a = await startTestGateway(shared);
  b = await startTestGateway(shared);
}, 120_000);

afterAll(async () => {
  await a?.close();
  await b?.close();
  await db?.stop();
});

describe('rate limits across instances (PostgreSQL)', () => {
  it(`one address, one username: ${LOGIN_PER_USER} attempts a minute in all, not per instance`, async () => {
    const u = await registerWithDevice(a, 'per-address');
    const c = await challenge(a, u.username);
    const from = { localAddress: loopback(1) };
    const results: (string | undefined)[] = [];
    for (let i = 0; i < LOGIN_PER_USER + 2; i++) {
      const at = i % 2 === 0 ? a : b;
      results.push(codes(await gqlFrom(at.gateway.url, from, LOGIN, { u: u.username, c, s: JUNK_SIGNATURE }))[0]);
    }
    const allowed = LOGIN_PER_USER;
    expect(results).toEqual([...Array<string>(allowed).fill('LOGIN_FAILED'), 'RATE_LIMITED', 'RATE_LIMITED']);
  });

  it(`one account from many addresses: ${LOGIN_PER_ACCOUNT} attempts a minute in all, then both instances refuse`, async () => {
    const u = await registerWithDevice(b, 'per-account');
    const c = await challenge(b, u.username);
    // registerWithDevice signed in once with the identity key (on b).
    const allowed = LOGIN_PER_ACCOUNT - 1;
    const results: (string | undefined)[] = [];
    for (let i = 0; i < allowed + 2; i++) {
      const at = i % 2 === 0 ? a : b;
      results.push(codes(await gqlFrom(at.gateway.url, { localAddress: loopback(100 + i) }, LOGIN, { u: u.username, c, s: JUNK_SIGNATURE }))[0]);
    }
    expect(results).toEqual([...Array<string>(allowed).fill('LOGIN_FAILED'), 'RATE_LIMITED', 'RATE_LIMITED']);
  });

  it('the counts live in one table of the database, keyed by rule; windows closed over an hour ago are purged', async () => {
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
    try {
      const r = await pool.query<{ rule: string }>(`SELECT DISTINCT split_part(key, ':', 1) AS rule FROM ${RATE_LIMIT_TABLE} ORDER BY 1`);
      expect(r.rows.map((row) => row.rule)).toEqual(expect.arrayContaining(['challenge', 'login', 'loginPerAccount', 'loginPerUser', 'register']));
      const limits = await RateLimits.create(DEFAULT_AUTH_LIMITS, { kind: 'postgres', pool });
      expect(await limits.purgeExpired()).toBe(0); // every window is still open (or closed just now)
      const count = async (): Promise<number> => Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${RATE_LIMIT_TABLE}`)).rows[0]!.n);
      const rows = await count();
      expect(await limits.purgeExpired(Date.now() + 2 * 3_600_000)).toBe(rows);
      expect(await count()).toBe(0);
    } finally {
      await pool.end();
    }
  });

  it('when the table cannot be reached, the limits still hold, counted in the instance’s memory', async () => {
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
    try {
      const limits = await RateLimits.create({ r: { points: 2, durationSeconds: 60 } }, { kind: 'postgres', pool, tableName: 'veil_rate_limits_gone' });
      expect((await limits.take('r', 'k')).allowed).toBe(true);
      await pool.query('DROP TABLE veil_rate_limits_gone');
      expect((await limits.take('r', 'k2')).allowed).toBe(true);
      expect((await limits.take('r', 'k2')).allowed).toBe(true);
      expect(await limits.take('r', 'k2')).toMatchObject({ allowed: false, retryAfterSeconds: 60 });
    } finally {
      await pool.end();
    }
  });
});
