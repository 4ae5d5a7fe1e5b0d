// The device check's per-instance cache (src/server/session-cache.ts, docs/devices.md "How
// long a revoked device's session lasts"): ACTIVE devices only, dropped by the revocation
// event on every instance (two gateways on one PostgreSQL), cleared on RESYNC (a real
// listener reconnect), never older than its bound; the cache's own rules (ordering, size,
// expiry) on the real store and pubsub with an injected clock.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { base64urlEncode } from '../../src/crypto/base64url.js';
import { newKeyRingFile } from '../../src/server/keyring.js';
import { RESYNC_TOPIC } from '../../src/server/pubsub.js';
import { deviceTopic } from '../../src/server/services/sign-in/devices.js';
import { ActiveDeviceCache, type DeviceCacheOptions, DEFAULT_DEVICE_CACHE_TTL_MS, MAX_DEVICE_CACHE_TTL_MS } from '../../src/server/session-cache.js';
import { ConfigError, configFromEnv } from '../../src/app/config.js';
import { createVeilgraph } from '../../src/server/create.js';
import { signIn } from '../../src/server/services/index.js';
import { ROOMY_AUTH_LIMITS, startTestGateway, type GqlResponse, type TestGateway } from '../helpers/gateway.js';
import { codes, deviceLogin, linkSecondDevice, ok, registerWithDevice, revokeSecondDevice, sqlite, type DeviceUser } from '../helpers/devices.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { countStoreCalls } from '../helpers/store-calls.js';
import { waitFor, within } from '../helpers/wait.js';

const ME = '{ me { id } }';
/** A bound no test here reaches: a refusal seen while it holds came from the event or a RESYNC, not from expiry. */
const LONG_TTL_MS = MAX_DEVICE_CACHE_TTL_MS;

let n = 0;
const uname = (prefix: string): string => `${prefix}${++n}`;

function accepted(r: GqlResponse): boolean {
  return r.status === 200 && codes(r).length === 0;
}

function expectDeviceRevoked(r: GqlResponse): void {
  expect(r.status).toBe(401);
  expect(codes(r)).toEqual(['UNAUTHENTICATED']);
  expect(r.errors![0]!.message).toBe('device revoked');
}

/** Asks `t` with `token` until it is refused (each answer is a real request); fails after `ms`. */
async function untilRefused(t: Pick<TestGateway, 'gql'>, token: string, what: string, ms = 20_000): Promise<GqlResponse> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await t.gql(ME, {}, token);
    if (!accepted(r)) return r;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A user with a second ACTIVE device signed in as that device. */
async function deviceSession(t: TestGateway, prefix: string): Promise<{ u: DeviceUser; second: Awaited<ReturnType<typeof linkSecondDevice>>; token: string }> {
  const u = await registerWithDevice(t, uname(prefix));
  const second = await linkSecondDevice(t, u);
  const token = ok(await deviceLogin(t, u.username, second.id, second.signing)).login.token;
  return { u, second, token };
}

describe('one instance on SQLite', () => {
  let t: TestGateway;
  let short: TestGateway;

  beforeAll(async () => {
    t = await startTestGateway({ authLimits: ROOMY_AUTH_LIMITS, deviceCacheTtlMs: LONG_TTL_MS });
    // A short bound, for the lost-event case.
    short = await startTestGateway({ authLimits: ROOMY_AUTH_LIMITS, deviceCacheTtlMs: 300 });
  });

  afterAll(async () => {
    await t?.close();
    await short?.close();
  });

  it('a cached device session does not read its device per request', async () => {
    const { token } = await deviceSession(t, 'cached');
    expect(accepted(await t.gql(ME, {}, token))).toBe(true);
    const calls = countStoreCalls(t.gateway.store);
    try {
      for (let i = 0; i < 5; i++) expect(accepted(await t.gql(ME, {}, token))).toBe(true);
      expect(calls.calls.filter((c) => c === 'findDevice')).toEqual([]);
    } finally {
      calls.stop();
    }
  });

  it('with the cache off (0) every request reads its device', async () => {
    const off = await startTestGateway({ authLimits: ROOMY_AUTH_LIMITS, deviceCacheTtlMs: 0 });
    try {
      const { token } = await deviceSession(off, 'nocache');
      const calls = countStoreCalls(off.gateway.store);
      try {
        for (let i = 0; i < 3; i++) expect(accepted(await off.gql(ME, {}, token))).toBe(true);
        expect(calls.calls.filter((c) => c === 'findDevice')).toHaveLength(3);
      } finally {
        calls.stop();
      }
    } finally {
      await off.close();
    }
  });

  it('a revocation through the API refuses the next request of the revoked device at once', async () => {
    const { u, second, token } = await deviceSession(t, 'revoked');
    for (let i = 0; i < 3; i++) expect(accepted(await t.gql(ME, {}, token))).toBe(true);
    await revokeSecondDevice(t, u, second);
    expectDeviceRevoked(await t.gql(ME, {}, token));
    // Its first device's session goes on.
    const first = ok(await deviceLogin(t, u.username, u.device.id, u.device.signing)).login.token;
    expect(accepted(await t.gql(ME, {}, first))).toBe(true);
  });

  it('a revocation whose event is lost is refused once the bound has passed', async () => {
    const { second, token } = await deviceSession(short, 'lost');
    expect(accepted(await short.gql(ME, {}, token))).toBe(true);
    // REVOKED in the database without an event: only the bound ends the cached answer.
    sqlite(short.dataDir, 'UPDATE "Device" SET "status" = ? WHERE "id" = ?', 'REVOKED', second.id);
    expectDeviceRevoked(await untilRefused(short, token, 'the cached answer to expire'));
  });

  it('RESYNC drops every cached device', async () => {
    const { second, token } = await deviceSession(t, 'resync');
    expect(accepted(await t.gql(ME, {}, token))).toBe(true);
    sqlite(t.dataDir, 'UPDATE "Device" SET "status" = ? WHERE "id" = ?', 'REVOKED', second.id);
    // Without an event, the cached answer stands (within its bound) …
    expect(accepted(await t.gql(ME, {}, token))).toBe(true);
    // … until events may have been missed.
    t.gateway.pubsub.publish(RESYNC_TOPIC, {});
    expectDeviceRevoked(await t.gql(ME, {}, token));
  });

  it('a lookup that read ACTIVE before a revocation was handled does not fill the cache', async () => {
    const { second, token } = await deviceSession(t, 'race');
    const store = t.gateway.store;
    const findDevice = store.findDevice.bind(store);
    // The real read, then the revocation commits and its event is handled while that read's
    // answer (ACTIVE) is still on its way back.
    let armed = true;
    store.findDevice = async (id) => {
      const row = await findDevice(id);
      if (armed && id === second.id) {
        armed = false;
        sqlite(t.dataDir, 'UPDATE "Device" SET "status" = ? WHERE "id" = ?', 'REVOKED', id);
        t.gateway.pubsub.publish(deviceTopic(id), { deviceId: id });
        await new Promise((resolve) => setImmediate(resolve));
      }
      return row;
    };
    try {
      // Read before the revocation: accepted, as it would be without a cache.
      expect(accepted(await t.gql(ME, {}, token))).toBe(true);
      expect(armed).toBe(false);
      expectDeviceRevoked(await t.gql(ME, {}, token));
    } finally {
      store.findDevice = findDevice;
    }
  });
});

describe('two instances on one PostgreSQL', () => {
  let db: TestPostgres;
  let a: TestGateway;
  let b: TestGateway;
  let admin: pg.Client;

  beforeAll(async () => {
    db = await startPostgres(); // throws (fails the suite) when PostgreSQL cannot start
    const databaseUrl = await db.createDatabase('sessions');
    // One deployment: same database, key ring and secrets (a token works at both). The long
    // bound: a refusal seen here comes from the event or a RESYNC, never from expiry.
    const shared = {
      databaseUrl,
      keyring: JSON.stringify(newKeyRingFile(nodeBackend)),
      jwtSecret: base64urlEncode(nodeBackend.randomBytes(32)),
      challengeKey: base64urlEncode(nodeBackend.randomBytes(32)),
      authLimits: ROOMY_AUTH_LIMITS,
      deviceCacheTtlMs: LONG_TTL_MS,
    };
    a = await startTestGateway(shared);
    b = await startTestGateway(shared);
    admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
  }, 120_000);

  afterAll(async () => {
    await admin?.end();
    await a?.close();
    await b?.close();
    await db?.stop();
  });

  it('a device session used on both, revoked through A, is refused on B by the next request after the event arrives', { timeout: 60_000 }, async () => {
    const { u, second, token } = await deviceSession(a, 'twoinst');
    for (const t of [a, b]) for (let i = 0; i < 2; i++) expect(accepted(await t.gql(ME, {}, token))).toBe(true);
    // B answers from its cache: no device read per request.
    const calls = countStoreCalls(b.gateway.store);
    try {
      expect(accepted(await b.gql(ME, {}, token))).toBe(true);
      expect(calls.calls.filter((c) => c === 'findDevice')).toEqual([]);
    } finally {
      calls.stop();
    }
    const event = b.gateway.pubsub.subscribe(deviceTopic(second.id));
    try {
      await revokeSecondDevice(a, u, second);
      expectDeviceRevoked(await a.gql(ME, {}, token));
      // Polled on the response: B refuses once the event has crossed (NOTIFY), long before its bound.
      expectDeviceRevoked(await untilRefused(b, token, 'instance B to refuse the revoked device'));
      // And the event did arrive on B (the refusal is its doing: B's bound is a minute).
      expect((await within(event.next(), 'the revocation event on B')).done).toBe(false);
    } finally {
      await event.return?.();
    }
  });

  it('after the event arrived on B, B’s next request is refused', { timeout: 60_000 }, async () => {
    const { u, second, token } = await deviceSession(a, 'nextreq');
    expect(accepted(await b.gql(ME, {}, token))).toBe(true);
    const event = b.gateway.pubsub.subscribe(deviceTopic(second.id));
    try {
      await revokeSecondDevice(a, u, second);
      expect((await within(event.next(), 'the revocation event on B')).done).toBe(false);
      expectDeviceRevoked(await b.gql(ME, {}, token));
    } finally {
      await event.return?.();
    }
  });

  it('a listener reconnect on B (RESYNC) drops its cached devices: a revocation whose event B missed is refused', { timeout: 60_000 }, async () => {
    const { second, token } = await deviceSession(a, 'pgresync');
    expect(accepted(await b.gql(ME, {}, token))).toBe(true);
    // Revoked in the database without an event (as if B's listener was down when it was sent).
    await admin.query('UPDATE "Device" SET "status" = $1 WHERE "id" = $2', ['REVOKED', second.id]);
    expect(accepted(await b.gql(ME, {}, token))).toBe(true);
    // Cut every listening connection; each instance reconnects and publishes RESYNC locally.
    const resync = b.gateway.pubsub.subscribe(RESYNC_TOPIC);
    try {
      await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query ILIKE 'LISTEN%' AND pid <> pg_backend_pid()");
      expect((await within(resync.next(), 'B to listen again (RESYNC)')).done).toBe(false);
      expectDeviceRevoked(await b.gql(ME, {}, token));
    } finally {
      await resync.return?.();
    }
  });
});

describe('the cache on the real store and pubsub (injected clock)', () => {
  let t: TestGateway;
  let users: DeviceUser[];
  let clock = 1_000_000;
  const now = (): number => clock;

  beforeAll(async () => {
    t = await startTestGateway({ authLimits: ROOMY_AUTH_LIMITS });
    users = [];
    for (let i = 0; i < 3; i++) users.push(await registerWithDevice(t, uname('unit')));
  });

  afterAll(async () => {
    await t?.close();
  });

  function cache(o: { ttlMs?: number; maxEntries?: number; load?: DeviceCacheOptions['load'] } = {}): ActiveDeviceCache {
    const store = t.gateway.store;
    return new ActiveDeviceCache({ load: o.load ?? ((id) => store.findDevice(id)), pubsub: t.gateway.pubsub, now, ...(o.ttlMs !== undefined ? { ttlMs: o.ttlMs } : {}), ...(o.maxEntries !== undefined ? { maxEntries: o.maxEntries } : {}) });
  }

  async function reads(c: ActiveDeviceCache, id: string): Promise<number> {
    const calls = countStoreCalls(t.gateway.store);
    try {
      await c.active(id);
      return calls.calls.filter((x) => x === 'findDevice').length;
    } finally {
      calls.stop();
    }
  }

  it('keeps an ACTIVE device for the bound from its read, and not a moment longer (hits do not extend it)', async () => {
    const c = cache();
    expect(c.ttlMs).toBe(DEFAULT_DEVICE_CACHE_TTL_MS);
    const id = users[0]!.device.id;
    expect(await c.active(id)).toEqual({ id, userId: users[0]!.id });
    clock += DEFAULT_DEVICE_CACHE_TTL_MS - 1;
    expect(await reads(c, id)).toBe(0);
    clock += 1;
    expect(await reads(c, id)).toBe(1);
    c.close();
  });

  it('never caches an unknown, PENDING or REVOKED device', async () => {
    const c = cache();
    const unknown = base64urlEncode(nodeBackend.randomBytes(16));
    expect(await c.active(unknown)).toBeNull();
    expect(await reads(c, unknown)).toBe(1);
    const u = await registerWithDevice(t, uname('pending'));
    sqlite(t.dataDir, 'UPDATE "Device" SET "status" = ? WHERE "id" = ?', 'PENDING', u.device.id);
    expect(await c.active(u.device.id)).toBeNull();
    expect(await reads(c, u.device.id)).toBe(1);
    sqlite(t.dataDir, 'UPDATE "Device" SET "status" = ? WHERE "id" = ?', 'REVOKED', u.device.id);
    expect(await reads(c, u.device.id)).toBe(1);
    expect(c.size).toBe(0);
    c.close();
  });

  it('the revocation event drops the entry; an event or RESYNC during a read keeps its answer out', async () => {
    const c = cache();
    const id = users[1]!.device.id;
    await c.active(id);
    t.gateway.pubsub.publish(deviceTopic(id), { deviceId: id });
    await new Promise((resolve) => setImmediate(resolve));
    expect(c.size).toBe(0);
    expect(await reads(c, id)).toBe(1);
    c.close();

    for (const topic of [deviceTopic(id), RESYNC_TOPIC]) {
      const store = t.gateway.store;
      const during = cache({
        load: async (x) => {
          const row = await store.findDevice(x);
          t.gateway.pubsub.publish(topic, { deviceId: x });
          await new Promise((resolve) => setImmediate(resolve));
          return row;
        },
      });
      // The answer read before the event is returned, and not kept.
      expect(await during.active(id)).toEqual({ id, userId: users[1]!.id });
      expect(during.size).toBe(0);
      during.close();
    }
  });

  it('a full cache evicts no live entry: a new device waits for room (expiry), the cached ones stay', async () => {
    const c = cache({ maxEntries: 2 });
    const [x, y, z] = users.map((u) => u.device.id) as [string, string, string];
    await c.active(x);
    await c.active(y);
    expect(await reads(c, z)).toBe(1);
    expect(await reads(c, z)).toBe(1); // not admitted
    expect(await reads(c, x)).toBe(0);
    expect(await reads(c, y)).toBe(0);
    clock += DEFAULT_DEVICE_CACHE_TTL_MS;
    expect(await reads(c, z)).toBe(1); // the expired ones made room
    expect(await reads(c, z)).toBe(0);
    c.close();
  });

  it('holds no subscription once closed; refuses a bound outside 0–60 s', async () => {
    const before = t.gateway.pubsub.subscriberCount(RESYNC_TOPIC);
    const c = cache();
    const id = users[2]!.device.id;
    await c.active(id);
    expect(t.gateway.pubsub.subscriberCount(deviceTopic(id))).toBe(1);
    c.close();
    await waitFor(() => t.gateway.pubsub.subscriberCount(deviceTopic(id)) === 0 && t.gateway.pubsub.subscriberCount(RESYNC_TOPIC) === before, 'the subscriptions to end');
    // Off (0): every call reads, and nothing is subscribed.
    const off = cache({ ttlMs: 0 });
    expect(await reads(off, id)).toBe(1);
    expect(await reads(off, id)).toBe(1);
    expect(t.gateway.pubsub.subscriberCount(deviceTopic(id))).toBe(0);
    expect(t.gateway.pubsub.subscriberCount(RESYNC_TOPIC)).toBe(before);
    off.close();
    for (const ttlMs of [-1, 1.5, MAX_DEVICE_CACHE_TTL_MS + 1]) expect(() => cache({ ttlMs })).toThrow(RangeError);
  });
});

describe('the setting', () => {
  it('VEIL_DEVICE_CACHE_MS: 5000 by default, whole milliseconds in 0..60000', () => {
    expect(configFromEnv({}).deviceCacheTtlMs).toBe(DEFAULT_DEVICE_CACHE_TTL_MS);
    expect(DEFAULT_DEVICE_CACHE_TTL_MS).toBe(5000);
    expect(configFromEnv({ VEIL_DEVICE_CACHE_MS: '0' }).deviceCacheTtlMs).toBe(0);
    expect(configFromEnv({ VEIL_DEVICE_CACHE_MS: '60000' }).deviceCacheTtlMs).toBe(60_000);
    for (const bad of ['-1', '60001', '1.5', 'soon']) expect(() => configFromEnv({ VEIL_DEVICE_CACHE_MS: bad })).toThrow(ConfigError);
  });

  it('createVeilgraph refuses deviceCacheTtlMs outside 0–60,000 with CONFIG_INVALID, before it creates anything', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'veilgraph-cache-')), 'data');
    try {
      for (const deviceCacheTtlMs of [-1, 60_001, 0.5]) {
        const error: unknown = await createVeilgraph({ typeDefs: [], services: [signIn()], dataDir, deviceCacheTtlMs, logSink: () => undefined }).then(
          async (v) => {
            await v.close();
            return undefined;
          },
          (e: unknown) => e,
        );
        expect(error).toMatchObject({ name: 'VeilgraphError', code: 'CONFIG_INVALID' });
        expect((error as Error).message).toContain('deviceCacheTtlMs');
        expect(existsSync(dataDir)).toBe(false);
      }
    } finally {
      rmSync(join(dataDir, '..'), { recursive: true, force: true });
    }
  });
});
