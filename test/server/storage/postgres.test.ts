/**
 * The Store suite against a throwaway PostgreSQL server (a fresh database per test), plus
 * PostgreSQL-specific opening. Fails, never skips, when PostgreSQL cannot start.
 */
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, openStore, resolveDatabaseTarget } from '../../../src/server/storage/open.js';
import { StorageError } from '../../../src/server/storage/errors.js';
import { startPostgres, type TestPostgres } from '../../helpers/postgres.js';
import { firstKey, migrationSuite, storeSuite, key, type SuiteTarget } from './suite.js';
import { hotPathSuite } from './hot-paths.js';

let pg: TestPostgres;
let n = 0;
let shared: string | undefined;
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(async () => {
  await pg?.stop();
});

const target: SuiteTarget = {
  kind: 'postgres',
  fresh: async () => ({ dataDir: '/nonexistent-unused', databaseUrl: await pg.createDatabase(`suite_${++n}`) }),
  empty: async () => {
    // One database for the whole suite, emptied before each test (the stores of the test
    // before are closed by then, so TRUNCATE does not wait for their locks).
    shared ??= await pg.createDatabase('suite_shared');
    const db = createClient(resolveDatabaseTarget({ dataDir: '/unused', databaseUrl: shared }));
    try {
      const tables = await db.$queryRawUnsafe<{ t: string }[]>(`SELECT tablename::text AS t FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('User', 'UserKey', 'Contact', 'Profile', 'Grant', 'ObjectKey', 'UsedChallenge', 'Conversation', 'ConversationMember', 'EpochKey', 'Message', 'Receipt', 'Device', 'KeyBundle', 'Backup', 'AccountReset')`);
      if (tables.length > 0) await db.$executeRawUnsafe(`TRUNCATE ${tables.map((r) => `"${r.t}"`).join(', ')}`);
    } finally {
      await db.$disconnect();
    }
    return { dataDir: '/nonexistent-unused', databaseUrl: shared };
  },
};
storeSuite(target);
migrationSuite(target);
hotPathSuite(target);

describe('PostgreSQL opening', () => {
  it('two gateways opening one fresh database at once both succeed (advisory lock), schema applied once', async () => {
    const url = await pg.createDatabase('concurrent_open');
    const stores = await Promise.all(Array.from({ length: 4 }, () => openStore({ dataDir: '/unused', databaseUrl: url })));
    try {
      await stores[0]!.createUser({ id: 'u', username: 'u', signingKey: key(1), encryptionKey: key(1) }, firstKey());
      for (const s of stores) expect(await s.findUserById('u')).not.toBeNull();
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('creates the tables in public even when a schema named after the user comes first in the search path', async () => {
    const url = await pg.createDatabase('user_schema');
    const db = createClient(resolveDatabaseTarget({ dataDir: '/unused', databaseUrl: url }));
    await db.$executeRawUnsafe(`CREATE SCHEMA "${pg.user}"`);
    await db.$disconnect();
    const store = await openStore({ dataDir: '/unused', databaseUrl: url });
    try {
      await store.createUser({ id: 'u', username: 'u', signingKey: key(1), encryptionKey: key(1) }, firstKey());
      expect(await store.consumeChallenge('c', new Date(Date.now() + 60_000))).toBe(true);
      expect(await store.consumeChallenge('c', new Date(Date.now() + 60_000))).toBe(false);
      expect(await store.purgeExpiredChallenges(new Date(Date.now() + 120_000))).toBe(1);
    } finally {
      await store.close();
    }
  });

  it('losing the database while running is DATABASE_UNAVAILABLE, naming no host (messages can reach API clients)', async () => {
    const url = await pg.createDatabase('dropped_later');
    const store = await openStore({ dataDir: '/unused', databaseUrl: url });
    try {
      await store.createUser({ id: 'u', username: 'u', signingKey: key(1), encryptionKey: key(1) }, firstKey());
      const admin = createClient(resolveDatabaseTarget({ dataDir: '/unused', databaseUrl: pg.url }));
      await admin.$executeRawUnsafe('DROP DATABASE "dropped_later" WITH (FORCE)');
      await admin.$disconnect();
      let e: unknown;
      for (let attempt = 0; attempt < 3 && !(e instanceof StorageError); attempt++) {
        // The first query may meet the connection the server just terminated.
        e = await store.findUserById('u').catch((err: unknown) => err);
      }
      expect(e).toBeInstanceOf(StorageError);
      expect((e as StorageError).code).toBe('DATABASE_UNAVAILABLE');
      expect((e as StorageError).message).toBe('find user: database unavailable');
    } finally {
      await store.close();
    }
  });

  it('accepts postgres:// as well as postgresql://', async () => {
    const url = (await pg.createDatabase('short_scheme')).replace(/^postgresql:/, 'postgres:');
    const store = await openStore({ dataDir: '/unused', databaseUrl: url });
    expect(store.kind).toBe('postgres');
    await store.close();
  });

  it('an unreachable server is DATABASE_UNAVAILABLE, and the password appears nowhere', async () => {
    const url = `postgresql://veil:Sup3r%40Secret@127.0.0.1:1/veilgraph`;
    const e: unknown = await openStore({ dataDir: '/unused', databaseUrl: url }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(StorageError);
    expect((e as StorageError).code).toBe('DATABASE_UNAVAILABLE');
    expect((e as StorageError).message).toContain('127.0.0.1:1');
    const everything = inspect(e, { depth: 30 }) + JSON.stringify(e) + String(e);
    expect(everything).not.toContain('Sup3r');
  });

  it('a database that does not exist is DATABASE_UNAVAILABLE, without the password', async () => {
    const url = `postgresql://${pg.user}:Sup3r%40Secret@${pg.host}:${pg.port}/no_such_database`;
    const e: unknown = await openStore({ dataDir: '/unused', databaseUrl: url }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(StorageError);
    expect((e as StorageError).code).toBe('DATABASE_UNAVAILABLE');
    expect((e as StorageError).message).toContain('no_such_database');
    expect(inspect(e, { depth: 30 }) + String(e)).not.toContain('Sup3r');
  });
});
