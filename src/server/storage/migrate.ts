/**
 * @module
 * Applies the checked-in migrations (`prisma/migrations/<sqlite|postgres>/NNNN_name.sql`)
 * through the runtime client at start. Each applied file is recorded with its checksum in
 * `_veilgraph_migrations`; running again applies only files not recorded yet.
 *
 * All pending files run in ONE transaction (DDL is transactional in both databases), so a
 * failing migration leaves the database as it was. On SQLite it is `BEGIN IMMEDIATE`: a
 * second process opening the same file at the same time waits for it. On PostgreSQL the transaction first
 * takes an advisory lock, so gateways starting together migrate one after the other and
 * the later ones find nothing to do. (`pg_advisory_xact_lock`, released at commit: a
 * session lock would have to be held on one pooled connection across the whole run.)
 * Consequence: a migration must not contain statements that refuse to run in a
 * transaction (`CREATE INDEX CONCURRENTLY`, `VACUUM`).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StorageError } from './errors.js';
import { splitSqlStatements } from './sql-script.js';

/** What the migrator needs of a Prisma client (both generated clients have it). */
export interface RawClient {
  $executeRawUnsafe(query: string, ...values: unknown[]): PromiseLike<number>;
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): PromiseLike<T>;
}
export interface MigratingClient extends RawClient {
  $transaction<R>(fn: (tx: RawClient) => Promise<R>, options?: { maxWait?: number; timeout?: number }): Promise<R>;
}

export interface Migration {
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

export const MIGRATIONS_TABLE = '_veilgraph_migrations';
/** Advisory lock key: the first 8 bytes of sha256("veilgraph:migrations") as a signed bigint. */
export const MIGRATION_LOCK_KEY = createHash('sha256').update('veilgraph:migrations').digest().readBigInt64BE(0);

export function defaultMigrationsDir(kind: 'sqlite' | 'postgres'): string {
  return fileURLToPath(new URL(`../../../prisma/migrations/${kind}/`, import.meta.url));
}

export function loadMigrations(dir: string): Migration[] {
  if (!existsSync(dir)) throw new StorageError('MIGRATION_FAILED', `migrations directory ${dir} is missing`);
  return readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((file) => {
      // Line endings normalised: a checkout with CRLF must not look like an edited migration.
      const sql = readFileSync(join(dir, file), 'utf8').replace(/\r\n/g, '\n');
      return { name: file.replace(/\.sql$/, ''), sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

export interface MigrationResult {
  /** Names of the migrations this call applied (empty when the database was up to date). */
  readonly applied: string[];
}

/**
 * Applies pending migrations. Throws StorageError MIGRATION_FAILED when one fails or when an
 * applied migration's file changed since. Migrations recorded in the database but unknown
 * here (a newer gateway ran) are left alone.
 */
export async function applyMigrations(client: MigratingClient, kind: 'sqlite' | 'postgres', migrations: readonly Migration[]): Promise<MigrationResult> {
  if (kind === 'postgres') return applyPending(client, kind, migrations);

  // SQLite: foreign keys off while migrating, as SQLite's procedure for schema changes
  // prescribes. A table redefinition (Prisma's way to alter a SQLite table: create new,
  // copy, drop old, rename) drops the old table, which with enforcement on would
  // cascade-delete the child rows; and `PRAGMA foreign_keys` is a no-op inside a
  // transaction, so the PRAGMA lines Prisma writes into such a migration cannot do it.
  // `applyPending` runs `PRAGMA foreign_key_check` before committing instead.
  const [state] = await client.$queryRawUnsafe<{ foreign_keys: unknown }[]>('PRAGMA foreign_keys');
  const wasOn = Number(state?.foreign_keys) === 1;
  await client.$executeRawUnsafe('PRAGMA foreign_keys = OFF');
  try {
    return await applyPending(client, kind, migrations);
  } finally {
    if (wasOn) await client.$executeRawUnsafe('PRAGMA foreign_keys = ON');
  }
}

function applyPending(client: MigratingClient, kind: 'sqlite' | 'postgres', migrations: readonly Migration[]): Promise<MigrationResult> {
  const createTable =
    kind === 'postgres'
      ? `CREATE TABLE IF NOT EXISTS "${MIGRATIONS_TABLE}" ("name" TEXT PRIMARY KEY, "checksum" TEXT NOT NULL, "appliedAt" TIMESTAMPTZ NOT NULL DEFAULT now())`
      : `CREATE TABLE IF NOT EXISTS "${MIGRATIONS_TABLE}" ("name" TEXT PRIMARY KEY, "checksum" TEXT NOT NULL, "appliedAt" TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)`;
  // Placeholders differ: PostgreSQL numbers them, SQLite takes `?`.
  const insert = `INSERT INTO "${MIGRATIONS_TABLE}" ("name", "checksum") VALUES ${kind === 'postgres' ? '($1, $2)' : '(?, ?)'}`;

  return inTransaction(
    client,
    kind,
    async (tx) => {
      if (kind === 'postgres') {
        // Waits for any other gateway migrating this database; released at commit/rollback.
        await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
        // Prisma's queries name tables as "public"."User": create them there, whatever the
        // search path says (by default a schema named after the user comes first).
        await tx.$executeRawUnsafe('SET LOCAL search_path TO public');
      }
      await tx.$executeRawUnsafe(createTable);
      const rows = await tx.$queryRawUnsafe<{ name: string; checksum: string }[]>(`SELECT "name", "checksum" FROM "${MIGRATIONS_TABLE}"`);
      const done = new Map(rows.map((r) => [r.name, r.checksum]));
      const applied: string[] = [];
      for (const m of migrations) {
        const recorded = done.get(m.name);
        if (recorded !== undefined) {
          if (recorded !== m.checksum) {
            throw new StorageError('MIGRATION_FAILED', `migration ${m.name} was edited after it was applied to this database; add a new migration instead`);
          }
          continue;
        }
        for (const statement of splitSqlStatements(m.sql)) {
          try {
            await tx.$executeRawUnsafe(statement);
          } catch (e) {
            throw new StorageError('MIGRATION_FAILED', `migration ${m.name} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
          }
        }
        await tx.$executeRawUnsafe(insert, m.name, m.checksum);
        applied.push(m.name);
      }
      if (kind === 'sqlite' && applied.length > 0) {
        const violations = await tx.$queryRawUnsafe<unknown[]>('PRAGMA foreign_key_check');
        if (violations.length > 0) {
          throw new StorageError('MIGRATION_FAILED', `migrations ${applied.join(', ')} leave ${violations.length} rows with broken foreign keys`);
        }
      }
      return { applied };
    },
  );
}

/**
 * PostgreSQL: an interactive Prisma transaction (waiting for another gateway's migration
 * happens inside it, hence the long timeout). SQLite: `BEGIN IMMEDIATE` on the client's one
 * connection, so the write lock is taken before anything is read (a deferred transaction
 * that read first would fail with SQLITE_BUSY_SNAPSHOT if another process wrote meanwhile;
 * this one waits for the busy timeout instead). Nothing else uses the connection while a
 * store is being opened.
 */
async function inTransaction<R>(client: MigratingClient, kind: 'sqlite' | 'postgres', fn: (tx: RawClient) => Promise<R>): Promise<R> {
  if (kind === 'postgres') return client.$transaction(fn, { maxWait: 30_000, timeout: 300_000 });
  await client.$executeRawUnsafe('BEGIN IMMEDIATE');
  let result: R;
  try {
    result = await fn(client);
  } catch (e) {
    await Promise.resolve(client.$executeRawUnsafe('ROLLBACK')).catch(() => undefined);
    throw e;
  }
  await client.$executeRawUnsafe('COMMIT');
  return result;
}
