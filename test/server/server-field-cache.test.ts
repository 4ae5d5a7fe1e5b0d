// The cache of opened SERVER values (src/server/server-field-cache.ts) on the real gateway, on
// SQLite and on PostgreSQL: a row written anew reads back new, a sealed blob copied to another
// row or tampered with is refused exactly as without the cache (and is not cached), the cache
// off gives the same answers, and the bounds hold. Rows are changed behind the gateway's back
// with SQL, as someone with the database would.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, configFromEnv } from '../../src/app/config.js';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { base64urlEncode } from '../../src/crypto/base64url.js';
import { createVeilgraph, signIn, type VeilgraphOptions } from '../../src/server/index.js';
import { newKeyRingFile, writeKeyRingFile } from '../../src/server/keyring.js';
import { ServerFieldCodec } from '../../src/server/server-fields.js';
import { ENTRY_OVERHEAD_BYTES } from '../../src/server/server-field-cache.js';
import { sqlite } from '../helpers/devices.js';
import { ROOMY_AUTH_LIMITS, canary, newObjectId, registerAndLogin, startTestGateway, type GqlResponse, type TestGateway, type TestUser } from '../helpers/gateway.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

type Db = 'sqlite' | 'postgres';

interface Side {
  readonly name: 'cache on' | 'cache off';
  readonly t: TestGateway;
  readonly db: Db;
  readonly url: string | undefined;
}

const PROFILE = 'query P($id: ID!) { profile(id: $id) { id email phone } }';
const CREATE = 'mutation C($i: CreateProfileInput!) { createProfile(input: $i) { id } }';
const UPDATE = 'mutation U($id: ID!, $i: UpdateProfileInput!) { updateProfile(id: $id, input: $i) { id email phone } }';
const LIST = 'query L($n: Int) { profiles(first: $n) { nodes { id email phone } } }';

const codes = (r: GqlResponse): (string | undefined)[] => (r.errors ?? []).map((e) => e.extensions?.code);

async function sealedOf(s: Side, id: string): Promise<Buffer> {
  if (s.db === 'sqlite') {
    const db = new Database(join(s.t.dataDir, 'veilgraph.db'), { readonly: true });
    try {
      const row = db.prepare('SELECT "serverSealed" FROM "Profile" WHERE "id" = ?').get(id) as { serverSealed: Buffer };
      return Buffer.from(row.serverSealed);
    } finally {
      db.close();
    }
  }
  const c = new pg.Client({ connectionString: s.url });
  await c.connect();
  try {
    const r = await c.query<{ serverSealed: Buffer }>('SELECT "serverSealed" FROM "Profile" WHERE "id" = $1', [id]);
    return Buffer.from(r.rows[0]!.serverSealed);
  } finally {
    await c.end();
  }
}

async function setSealed(s: Side, id: string, bytes: Buffer): Promise<void> {
  if (s.db === 'sqlite') return sqlite(s.t.dataDir, 'UPDATE "Profile" SET "serverSealed" = ? WHERE "id" = ?', bytes, id);
  const c = new pg.Client({ connectionString: s.url });
  await c.connect();
  try {
    await c.query('UPDATE "Profile" SET "serverSealed" = $1 WHERE "id" = $2', [bytes, id]);
  } finally {
    await c.end();
  }
}

async function createProfile(s: Side, user: TestUser, email: string, phone: string): Promise<string> {
  const id = newObjectId();
  const r = await s.t.gql(CREATE, { i: { id, displayName: user.username, email, phone } }, user.token);
  expect(r.errors).toBeUndefined();
  return id;
}

async function read(s: Side, user: TestUser, id: string): Promise<GqlResponse<{ profile: { id: string; email: string | null; phone: string | null } | null }>> {
  return s.t.gql(PROFILE, { id }, user.token);
}

/** What a refused read answered, without what differs between two gateways (their key ring ids, the row ids). */
function refusal(r: GqlResponse<{ profile: { id: string } | null }>): unknown {
  return {
    codes: codes(r),
    paths: r.errors?.map((e) => e.path),
    messages: r.errors?.map((e) => e.message.replace(/(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{22}(?![A-Za-z0-9_-])/g, '<id>')),
    profile: r.data?.profile ? { ...r.data.profile, id: '<id>' } : null,
  };
}

const entries = (s: Side): number => s.t.gateway.veil.serverFieldCacheStats()?.entries ?? 0;

describe.each<Db>(['sqlite', 'postgres'])('the cache of opened SERVER values on %s', (db) => {
  let postgres: TestPostgres | undefined;
  const sides: Side[] = [];
  let n = 0;
  const user = (s: Side, tag: string): Promise<TestUser> => registerAndLogin(s.t, `${tag}${n++}`);

  beforeAll(async () => {
    let urls: (string | undefined)[] = [undefined, undefined];
    if (db === 'postgres') {
      postgres = await startPostgres(); // throws (fails the suite) when PostgreSQL cannot start
      urls = [await postgres.createDatabase('cache_on'), await postgres.createDatabase('cache_off')];
    }
    const on = await startTestGateway({ authLimits: ROOMY_AUTH_LIMITS, ...(urls[0] ? { databaseUrl: urls[0] } : {}) });
    const off = await startTestGateway({ authLimits: ROOMY_AUTH_LIMITS, serverFieldCacheBytes: 0, ...(urls[1] ? { databaseUrl: urls[1] } : {}) });
    sides.push({ name: 'cache on', t: on, db, url: urls[0] }, { name: 'cache off', t: off, db, url: urls[1] });
  }, 120_000);

  afterAll(async () => {
    for (const s of sides) await s.t.close();
    await postgres?.stop();
  });

  it('is on by default with its bounds, and off with serverFieldCacheBytes 0', () => {
    const [on, off] = sides;
    expect(on!.t.gateway.veil.serverFieldCacheStats()).toMatchObject({ maxBytes: 32 * 1024 * 1024, maxEntries: (32 * 1024 * 1024) / ENTRY_OVERHEAD_BYTES });
    expect(off!.t.gateway.veil.serverFieldCacheStats()).toBeNull();
  });

  it('a row written anew reads back its new values at once, by id and in the list; the old entry is replaced, not kept beside', async () => {
    for (const s of sides) {
      const alice = await user(s, 'alice');
      const id = await createProfile(s, alice, 'a1@example.com', '+1 555 0101');
      for (let i = 0; i < 2; i++) expect((await read(s, alice, id)).data?.profile, s.name).toEqual({ id, email: 'a1@example.com', phone: '+1 555 0101' });
      const cached = entries(s);
      const updated = await s.t.gql(UPDATE, { id, i: { email: 'a2@example.com' } }, alice.token);
      expect(updated.errors, s.name).toBeUndefined();
      expect(updated.data, s.name).toEqual({ updateProfile: { id, email: 'a2@example.com', phone: '+1 555 0101' } });
      expect((await read(s, alice, id)).data?.profile, s.name).toEqual({ id, email: 'a2@example.com', phone: '+1 555 0101' });
      const list = await s.t.gql<{ profiles: { nodes: { id: string; email: string }[] } }>(LIST, { n: 1000 }, alice.token);
      expect(list.data!.profiles.nodes.find((p) => p.id === id), s.name).toEqual({ id, email: 'a2@example.com', phone: '+1 555 0101' });
      // Another write straight after a read: still no stale value.
      await s.t.gql(UPDATE, { id, i: { phone: null } }, alice.token);
      expect((await read(s, alice, id)).data?.profile, s.name).toEqual({ id, email: 'a2@example.com', phone: null });
      if (s.name === 'cache on') expect(entries(s)).toBe(cached);
    }
  });

  it('a sealed blob copied to another owner\'s row is refused as without the cache (same code, no values), and is not cached there', async () => {
    const seen: unknown[] = [];
    for (const s of sides) {
      const alice = await user(s, 'alice');
      const bob = await user(s, 'bob');
      const mail = `${canary('alice')}@example.com`;
      const a = await createProfile(s, alice, mail, '+1 555 0102');
      const b = await createProfile(s, bob, 'bob@example.com', '+1 555 0103');
      // Both blobs are opened (and cached) before Alice's is moved over Bob's.
      expect((await read(s, alice, a)).data?.profile?.email).toBe(mail);
      expect((await read(s, bob, b)).data?.profile?.email).toBe('bob@example.com');
      await setSealed(s, b, await sealedOf(s, a));
      const before = entries(s);
      for (let i = 0; i < 2; i++) {
        const r = await read(s, bob, b);
        // One error per SERVER field selected (email, phone), as each opens the row.
        expect(codes(r), s.name).toEqual(['INTERNAL_SERVER_ERROR', 'INTERNAL_SERVER_ERROR']);
        expect(r.errors!.map((e) => e.path)).toEqual([['profile', 'email'], ['profile', 'phone']]);
        expect(r.errors![0]!.message, s.name).toBe(`envelope was not sealed for Profile of owner ${bob.id}, object ${b}`);
        expect(JSON.stringify(r), s.name).not.toContain(mail);
        seen.push(refusal(r));
      }
      expect(entries(s), s.name).toBe(before);
      // Alice's own row still reads.
      expect((await read(s, alice, a)).data?.profile?.email).toBe(mail);
    }
    // Both sides answered alike.
    expect(seen.slice(0, 2)).toEqual(seen.slice(2, 4));
  });

  it('tampered bytes are refused on every read and never cached; the original bytes restored read as before', async () => {
    const seen: unknown[] = [];
    for (const s of sides) {
      const alice = await user(s, 'alice');
      const id = await createProfile(s, alice, 'tamper@example.com', '+1 555 0104');
      expect((await read(s, alice, id)).data?.profile?.email).toBe('tamper@example.com');
      const original = await sealedOf(s, id);
      const before = entries(s);
      // One byte of the ciphertext, then one of the tag, then one of the header's key version.
      for (const at of [original.length - 20, original.length - 1, 22]) {
        const changed = Buffer.from(original);
        changed[at]! ^= 0x01;
        await setSealed(s, id, changed);
        for (let i = 0; i < 2; i++) {
          const r = await read(s, alice, id);
          expect(codes(r), `${s.name}, byte ${at}`).toEqual(['INTERNAL_SERVER_ERROR', 'INTERNAL_SERVER_ERROR']);
          expect(JSON.stringify(r)).not.toContain('tamper@example.com');
          seen.push({ at, ...(refusal(r) as object) });
        }
        expect(entries(s), s.name).toBe(before);
      }
      await setSealed(s, id, original);
      expect((await read(s, alice, id)).data?.profile, s.name).toEqual({ id, email: 'tamper@example.com', phone: '+1 555 0104' });
    }
    expect(seen.slice(0, 6)).toEqual(seen.slice(6, 12));
  });

  it('an entry opened under a key ring that has since been replaced is not used: the read is refused as without the cache; the old ring back, it reads again', async () => {
    const seen: unknown[] = [];
    for (const s of sides) {
      const alice = await user(s, 'alice');
      const id = await createProfile(s, alice, 'ring@example.com', '+1 555 0105');
      expect((await read(s, alice, id)).data?.profile?.email).toBe('ring@example.com');
      const path = join(s.t.dataDir, 'keyring.json');
      const original = readFileSync(path, 'utf8');
      try {
        writeKeyRingFile(path, newKeyRingFile(nodeBackend));
        s.t.gateway.keyring.refresh(true);
        const r = await read(s, alice, id);
        expect(codes(r), s.name).toEqual(['INTERNAL_SERVER_ERROR', 'INTERNAL_SERVER_ERROR']);
        expect(JSON.stringify(r)).not.toContain('ring@example.com');
        seen.push(refusal(r));
      } finally {
        writeFileSync(path, original);
        s.t.gateway.keyring.refresh(true);
      }
      expect((await read(s, alice, id)).data?.profile?.email, s.name).toBe('ring@example.com');
    }
    expect(seen[0]).toEqual(seen[1]);
  });

  it('holds its bound in entries and bytes, least recently used out, and answers every row right past it', async () => {
    const url = db === 'postgres' ? await postgres!.createDatabase('cache_small') : undefined;
    const maxBytes = 16 * ENTRY_OVERHEAD_BYTES;
    const t = await startTestGateway({ authLimits: ROOMY_AUTH_LIMITS, serverFieldCacheBytes: maxBytes, ...(url ? { databaseUrl: url } : {}) });
    try {
      const reader = await registerAndLogin(t, 'reader');
      const { store, keyring, manifest } = t.gateway;
      const codec = new ServerFieldCodec(nodeBackend, keyring, manifest);
      const expected = new Map<string, string>();
      for (let i = 0; i < 40; i++) {
        const ownerId = base64urlEncode(nodeBackend.randomBytes(16));
        await store.createUser({ id: ownerId, username: `owner${i}`, signingKey: nodeBackend.randomBytes(32), encryptionKey: nodeBackend.randomBytes(32) }, { signingKeyId: '', signature: new Uint8Array(0) });
        const id = newObjectId();
        const email = `owner${i}@example.com`;
        const sealed = codec.seal('Profile', ownerId, id, { email })!;
        await store.createProfile({ id, ownerId, displayName: `Owner ${i}`, serverSealed: sealed.sealed, serverKeyVersion: sealed.keyVersion, emailIndex: codec.blindIndex('Profile.email', email), bio: null, diary: null });
        await store.upsertGrant({ objectType: 'Profile', objectId: id, granteeId: reader.id, access: 'READ' });
        expected.set(id, email);
      }
      for (let round = 0; round < 2; round++) {
        const r = await t.gql<{ profiles: { nodes: { id: string; email: string }[] } }>(LIST, { n: 100 }, reader.token);
        expect(r.errors).toBeUndefined();
        const got = new Map(r.data!.profiles.nodes.map((p) => [p.id, p.email]));
        expect(got).toEqual(expected);
        const stats = t.gateway.veil.serverFieldCacheStats()!;
        expect(stats.maxEntries).toBe(16);
        expect(stats.entries).toBeGreaterThan(0);
        expect(stats.entries).toBeLessThanOrEqual(16);
        expect(stats.bytes).toBeLessThanOrEqual(maxBytes);
      }
    } finally {
      await t.close();
    }
  });
});

describe('the settings', () => {
  it('VEIL_SERVER_CACHE_BYTES: 32 MiB by default, whole bytes in 0..1 GiB (0 = no cache)', () => {
    expect(configFromEnv({}).serverFieldCacheBytes).toBe(32 * 1024 * 1024);
    expect(configFromEnv({ VEIL_SERVER_CACHE_BYTES: '0' }).serverFieldCacheBytes).toBe(0);
    expect(configFromEnv({ VEIL_SERVER_CACHE_BYTES: '1073741824' }).serverFieldCacheBytes).toBe(1024 ** 3);
    for (const bad of ['-1', '1073741825', '1.5', 'big']) expect(() => configFromEnv({ VEIL_SERVER_CACHE_BYTES: bad }), bad).toThrow(ConfigError);
  });

  it('VEIL_CRYPTO_NATIVE: prefer by default, or require or off', () => {
    expect(configFromEnv({}).nativeCrypto).toBe('prefer');
    expect(configFromEnv({ VEIL_CRYPTO_NATIVE: 'require' }).nativeCrypto).toBe('require');
    expect(configFromEnv({ VEIL_CRYPTO_NATIVE: 'off' }).nativeCrypto).toBe('off');
    for (const bad of ['on', 'sodium', 'PREFER']) expect(() => configFromEnv({ VEIL_CRYPTO_NATIVE: bad }), bad).toThrow(ConfigError);
  });

  it('createVeilgraph refuses a cache bound outside 0..1 GiB, an unknown nativeCrypto, and nativeCrypto beside backend, with CONFIG_INVALID before it creates anything', async () => {
    const root = mkdtempSync(join(tmpdir(), 'veilgraph-servercache-'));
    const dataDir = join(root, 'data');
    try {
      const cases: [Partial<VeilgraphOptions>, string][] = [
        [{ serverFieldCacheBytes: -1 }, 'serverFieldCacheBytes'],
        [{ serverFieldCacheBytes: 1024 ** 3 + 1 }, 'serverFieldCacheBytes'],
        [{ serverFieldCacheBytes: 0.5 }, 'serverFieldCacheBytes'],
        [{ nativeCrypto: 'sodium' as never }, 'nativeCrypto'],
        [{ nativeCrypto: 'off', backend: nodeBackend }, 'either backend or nativeCrypto'],
      ];
      for (const [options, says] of cases) {
        const error: unknown = await createVeilgraph({ typeDefs: [], services: [signIn()], dataDir, logSink: () => undefined, ...options }).then(
          async (v) => {
            await v.close();
            return undefined;
          },
          (e: unknown) => e,
        );
        expect(error, says).toMatchObject({ name: 'VeilgraphError', code: 'CONFIG_INVALID' });
        expect((error as Error).message).toContain(says);
        expect(existsSync(dataDir)).toBe(false);
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('the gateway runs on the libsodium backend where it loads (here), on node:crypto with off, and says which at start; its values read the same', async () => {
    for (const [nativeCrypto, name] of [
      ['prefer', 'sodium'],
      ['require', 'sodium'],
      ['off', 'node'],
    ] as const) {
      const t = await startTestGateway({ nativeCrypto, authLimits: ROOMY_AUTH_LIMITS });
      try {
        const started = t.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === 'crypto.backend');
        expect(started, nativeCrypto).toEqual([expect.objectContaining({ level: 'info', backend: name, native: nativeCrypto })]);
        const alice = await registerAndLogin(t, 'alice');
        const id = newObjectId();
        const mail = `${canary('backend')}@example.com`;
        expect((await t.gql(CREATE, { i: { id, displayName: 'A', email: mail, phone: '+1 555 0106' } }, alice.token)).errors).toBeUndefined();
        expect((await t.gql(PROFILE, { id }, alice.token)).data).toEqual({ profile: { id, email: mail, phone: '+1 555 0106' } });
        // Nothing of the values, opened or cached, is logged.
        expect(t.logs.join('\n')).not.toContain(mail);
      } finally {
        await t.close();
      }
    }
  });
});
