/** The Store suite against a real SQLite file per test, plus SQLite-specific opening. */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createClient, openStore, resolveDatabaseTarget } from '../../../src/server/storage/open.js';
import { StorageError } from '../../../src/server/storage/errors.js';
import { firstKey, migrationSuite, profile, storeSuite, key, type SuiteTarget } from './suite.js';
import { hotPathSuite } from './hot-paths.js';

const root = mkdtempSync(join(tmpdir(), 'veilgraph-sqlite-'));
let n = 0;
afterAll(() => rmSync(root, { recursive: true, force: true }));

const target: SuiteTarget = {
  kind: 'sqlite',
  fresh: () => Promise.resolve({ dataDir: join(root, `db${++n}`) }),
};
storeSuite(target);
migrationSuite(target);
hotPathSuite(target);

describe('SQLite opening', () => {
  it('with no URL creates <dataDir>/veilgraph.db (and missing directories), in WAL mode, migrated', async () => {
    const dataDir = join(root, 'nested', 'data', 'dir');
    const store = await openStore({ dataDir });
    try {
      expect(store.kind).toBe('sqlite');
      await store.createUser({ id: 'u', username: 'u', signingKey: key(1), encryptionKey: key(2) }, firstKey());
    } finally {
      await store.close();
    }
    const file = join(dataDir, 'veilgraph.db');
    expect(existsSync(file)).toBe(true);
    const db = createClient(resolveDatabaseTarget({ dataDir }));
    try {
      expect(await db.$queryRawUnsafe('PRAGMA journal_mode')).toEqual([{ journal_mode: 'wal' }]);
      expect(await db.$queryRawUnsafe('SELECT "name" FROM "_veilgraph_migrations"')).toEqual([{ name: '0001_init' }, { name: '0002_add_object_keys' }, { name: '0003_contacts_key_directory' }, { name: '0004_conversations_messages' }, { name: '0005_devices_backups' }]);
      expect(await db.$queryRawUnsafe('SELECT "username" FROM "User"')).toEqual([{ username: 'u' }]);
    } finally {
      await db.$disconnect();
    }
  });

  it('treats an empty DATABASE_URL as unset', async () => {
    const dataDir = join(root, 'empty-url');
    const store = await openStore({ dataDir, databaseUrl: '' });
    await store.close();
    expect(existsSync(join(dataDir, 'veilgraph.db'))).toBe(true);
  });

  it('opens the file a file: URL names (relative to the working directory, or file:///absolute)', async () => {
    const absolute = join(root, 'by-url', 'abs.db');
    const s1 = await openStore({ dataDir: '/nonexistent-unused', databaseUrl: pathToFileURL(absolute).href });
    await s1.close();
    expect(existsSync(absolute)).toBe(true);

    const rel = join(root, 'by-url', 'rel.db');
    const s2 = await openStore({ dataDir: '/nonexistent-unused', databaseUrl: `file:${relative(process.cwd(), rel)}` });
    await s2.close();
    expect(existsSync(rel)).toBe(true);
  });

  it('fails with DATABASE_UNAVAILABLE when the file cannot be opened', async () => {
    const notADir = join(root, 'a-file');
    writeFileSync(notADir, 'x');
    const e1: unknown = await openStore({ dataDir: join(notADir, 'sub') }).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(StorageError);
    expect((e1 as StorageError).code).toBe('DATABASE_UNAVAILABLE');

    const garbage = join(root, 'garbage.db');
    writeFileSync(garbage, 'this is not a database file, not at all, really'.repeat(100));
    const e2: unknown = await openStore({ dataDir: root, databaseUrl: `file:${garbage}` }).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(StorageError);
    expect((e2 as StorageError).code).toBe('DATABASE_UNAVAILABLE');
  });
});

describe('SQLite with another process on the same file', () => {
  it('a transaction that reads, then writes, survives another process writing in between', async () => {
    const dataDir = join(root, 'two-processes');
    const store = await openStore({ dataDir });
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./fixtures/sqlite-writer.ts', import.meta.url)), dataDir], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const nextLine = async (): Promise<string> => String((await lines.next()).value);
    try {
      await store.createUser({ id: 'u', username: 'u', signingKey: key(1), encryptionKey: key(1) }, firstKey());
      await store.createProfile(profile('p', 'u'));
      expect(await nextLine()).toBe('ready');

      await store.transaction(async (tx) => {
        expect((await tx.findProfileById('p'))!.displayName).toBe('name of p');
        child.stdin.write('p from-child\n');
        // The child's write waits for our lock. (Were the transaction deferred, the child
        // would write now and our write below would fail with SQLITE_BUSY_SNAPSHOT.)
        await new Promise((r) => setTimeout(r, 300));
        await tx.updateProfile('p', { bio: 'from-parent' });
      });
      expect(await nextLine()).toBe('done');
      expect(await store.findProfileById('p')).toMatchObject({ displayName: 'from-child', bio: 'from-parent' });
    } finally {
      // The child must be gone before the temp dir is removed, pass or fail.
      child.stdin.end();
      const kill = setTimeout(() => child.kill(), 15_000);
      await store.close();
      await exited;
      clearTimeout(kill);
    }
    expect(child.exitCode).toBe(0);
  });
});
