/**
 * @module
 * Opens the database the configuration names, brings its schema up to date, and returns
 * the `Store` over it.
 *
 * | `databaseUrl`                 | database                                        |
 * |-------------------------------|-------------------------------------------------|
 * | absent / empty                | SQLite file `<dataDir>/veilgraph.db`            |
 * | `file:<path>`, `file:///abs`  | that SQLite file (relative paths: from the cwd) |
 * | `postgres://`, `postgresql://`| PostgreSQL through `@prisma/adapter-pg`         |
 */
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient as SqliteClient } from './generated/sqlite/client.js';
import { PrismaClient as PostgresClient } from './generated/postgres/client.js';
import { createPrivateFile, ensurePrivateDir } from '../private-files.js';
import { mapStorageError, redactUrl, scrub, StorageError } from './errors.js';
import { applyMigrations, defaultMigrationsDir, loadMigrations, type MigratingClient } from './migrate.js';
import { PrismaStore, type RootDb } from './prisma-store.js';
import { postgresDirect, sqliteDirect, type DirectSql, type SqliteDatabase } from './direct-sql.js';

export interface OpenStoreOptions {
  /** `DATABASE_URL`: see the module comment. Absent or empty: SQLite in `dataDir`. */
  databaseUrl?: string;
  /** Where the default SQLite file lives (`VEIL_DATA_DIR`, default `./data`); created if missing. */
  dataDir: string;
}

/** SQLite: how long a statement waits for another process's lock before SQLITE_BUSY. */
const SQLITE_BUSY_TIMEOUT_MS = 10_000;
/** PostgreSQL: how long to wait for a connection before giving up. */
const PG_CONNECT_TIMEOUT_MS = 10_000;

export type Target = { kind: 'sqlite'; file: string; label: string } | { kind: 'postgres'; url: string; label: string; password: string | undefined };

/** Which database a URL names. Throws UNSUPPORTED_DATABASE_URL for anything else. */
export function resolveDatabaseTarget(options: OpenStoreOptions): Target {
  const url = options.databaseUrl?.trim();
  if (!url) {
    const file = resolve(options.dataDir, 'veilgraph.db');
    return { kind: 'sqlite', file, label: `SQLite ${file}` };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'file') {
    let file: string;
    if (url.startsWith('file://')) {
      try {
        file = fileURLToPath(url.replace(/[?#].*$/, ''));
      } catch (e) {
        throw new StorageError('UNSUPPORTED_DATABASE_URL', `database URL ${redactUrl(url)} is not a usable file URL: ${e instanceof Error ? e.message : String(e)}`);
      }
    } else {
      file = decodeURIComponent(url.slice('file:'.length).replace(/[?#].*$/, ''));
      if (file !== ':memory:' && !isAbsolute(file)) file = resolve(file);
    }
    if (file === '') throw new StorageError('UNSUPPORTED_DATABASE_URL', 'database URL file: names no file');
    return { kind: 'sqlite', file, label: `SQLite ${file}` };
  }
  if (scheme === 'postgres' || scheme === 'postgresql') {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new StorageError('UNSUPPORTED_DATABASE_URL', `database URL ${redactUrl(url)} is not a valid URL`);
    }
    const password = parsed.password || undefined;
    return { kind: 'postgres', url, password, label: `PostgreSQL ${redactUrl(url)}` };
  }
  throw new StorageError(
    'UNSUPPORTED_DATABASE_URL',
    scheme === undefined
      ? 'DATABASE_URL is not a URL; use file:<path>, postgres:// or postgresql:// (or leave it unset for SQLite in the data directory)'
      : `DATABASE_URL scheme "${scheme}:" is not supported; use file:<path>, postgres:// or postgresql:// (or leave it unset for SQLite in the data directory)`,
  );
}

/**
 * The better-sqlite3 adapter, remembering the connection it opens: the store's direct
 * statements (direct-sql.ts) run on that one connection, so they take turns with Prisma's
 * queries through the store's gate and see what its transactions wrote. Should a later
 * adapter keep its connection elsewhere, `db` stays null and the store uses Prisma alone
 * (a storage test checks the direct path is in use).
 */
class SqliteAdapterWithConnection extends PrismaBetterSQLite3 {
  db: SqliteDatabase | null = null;
  override async connect(): ReturnType<PrismaBetterSQLite3['connect']> {
    const adapter = await super.connect();
    const client = (adapter as unknown as { client?: Partial<SqliteDatabase> }).client;
    this.db = client && typeof client.prepare === 'function' && typeof client.open === 'boolean' ? (client as SqliteDatabase) : null;
    return adapter;
  }
}

/**
 * A Prisma client for the target and the direct statements over the same driver connection
 * (SQLite) or pool (PostgreSQL). @internal
 */
export function createClientAndDirect(target: Target): { client: RootDb & MigratingClient; direct: DirectSql } {
  if (target.kind === 'sqlite') {
    const adapter = new SqliteAdapterWithConnection({ url: target.file, timeout: SQLITE_BUSY_TIMEOUT_MS });
    return { client: new SqliteClient({ adapter }), direct: sqliteDirect(() => adapter.db) };
  }
  // One pool for Prisma's queries and the direct ones; Prisma's disconnect ends it.
  const pool = new pg.Pool({ connectionString: target.url, connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS });
  const adapter = new PrismaPg(pool, { disposeExternalPool: true });
  // The one cast between the two generated clients: the PostgreSQL client's model API is a
  // superset of the SQLite client's for this model (same models; PostgreSQL adds filter
  // options such as `mode`), but TypeScript cannot relate the two sets of generated
  // generic types. prisma-store.ts is written against the SQLite client's types.
  return { client: new PostgresClient({ adapter }) as unknown as RootDb & MigratingClient, direct: postgresDirect(pool) };
}

/**
 * A Prisma client for the target, not yet used (so not yet connected). Exported for tests
 * and maintenance; the gateway goes through `openStore`. Not in the published declarations
 * (its type is the generated client's: see PrismaClientHandle in prisma-store.ts).
 * @internal
 */
export function createClient(target: Target): RootDb & MigratingClient {
  return createClientAndDirect(target).client;
}

export async function openStore(options: OpenStoreOptions): Promise<PrismaStore> {
  const target = resolveDatabaseTarget(options);
  const secret = target.kind === 'postgres' ? target.password : undefined;
  if (target.kind === 'sqlite' && target.file !== ':memory:') {
    // A new directory 0700 and a new database file 0600 before SQLite opens it: SQLite would
    // create it 0644, and gives its -wal and -shm the database file's mode (private-files.ts).
    try {
      ensurePrivateDir(dirname(target.file));
      createPrivateFile(target.file);
    } catch (e) {
      throw new StorageError('DATABASE_UNAVAILABLE', `cannot create ${target.label}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }
  let client: RootDb & MigratingClient;
  let direct: DirectSql;
  try {
    ({ client, direct } = createClientAndDirect(target));
  } catch (e) {
    // Nothing connects yet (the adapter does on first use); a throw here is still the database's.
    throw openError(e, target.label, secret);
  }

  try {
    if (target.kind === 'sqlite') {
      // WAL: readers do not block the writer. The busy timeout (riding out other processes'
      // locks) is the adapter's `timeout` option. Foreign keys, off by default in SQLite, go
      // on after migrating (see migrate.ts).
      if (target.file !== ':memory:') {
        const [mode] = await client.$queryRawUnsafe<{ journal_mode: string }[]>('PRAGMA journal_mode = WAL');
        if (String(mode?.journal_mode).toLowerCase() !== 'wal') {
          throw new StorageError('DATABASE_UNAVAILABLE', `${target.label}: could not switch to WAL mode (got ${String(mode?.journal_mode)})`);
        }
        await client.$executeRawUnsafe('PRAGMA synchronous = NORMAL');
      }
    }
    await applyMigrations(client, target.kind, loadMigrations(defaultMigrationsDir(target.kind)));
    if (target.kind === 'sqlite') await client.$executeRawUnsafe('PRAGMA foreign_keys = ON');
  } catch (e) {
    await client.$disconnect().catch(() => undefined);
    throw openError(e, target.label, secret);
  }
  // Connected by now (the migrations ran): a SQLite adapter that hid its connection leaves the store on Prisma alone.
  return new PrismaStore(target.kind, client, { secret, direct: direct.usable() ? direct : undefined });
}

function openError(e: unknown, label: string, secret: string | undefined): unknown {
  if (e instanceof StorageError) return e;
  const mapped = mapStorageError(e, `cannot open ${label}`, secret, true);
  if (mapped instanceof StorageError) return mapped;
  // Opening failed some other way (a corrupt file, a permission error): still the database.
  const message = scrub(e instanceof Error ? e.message : String(e), secret);
  return new StorageError('DATABASE_UNAVAILABLE', `cannot open ${label}: ${message}`, { cause: e });
}

/** A SQLite database file and the two SQLite keeps next to it in WAL mode. */
export function sqliteFiles(file: string): string[] {
  return file === ':memory:' ? [] : [file, `${file}-wal`, `${file}-shm`];
}

/** `VEIL_DATA_DIR` or `./data`, absolute. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.VEIL_DATA_DIR || join('.', 'data'));
}
