/**
 * @module
 * An online copy of the gateway's SQLite database (`veilgraph backup <dest>`,
 * docs/storage.md): `VACUUM INTO` reads one consistent snapshot in a read transaction —
 * in WAL mode the running gateway keeps writing meanwhile — and writes it to a new file
 * that holds everything on its own (no `-wal` to go with it), compacted. The copy is
 * created 0600 in a 0700 directory (private-files.ts) and is never written over: an
 * existing `dest` is refused. PostgreSQL databases are backed up with `pg_dump`.
 */
import { statSync, unlinkSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createPrivateFile, ensurePrivateDir } from '../private-files.js';
import { StorageError } from './errors.js';
import { createClient, resolveDatabaseTarget, type OpenStoreOptions } from './open.js';

export interface BackupResult {
  /** The copy, absolute. */
  readonly file: string;
  readonly bytes: number;
  /** Rows of the migrations table in the copy (a cheap sign it is the gateway's database). */
  readonly migrations: number;
}

/**
 * Copies the SQLite database `options` name to the new file `dest` while the gateway may run.
 * Throws StorageError: INVALID_ARGUMENT for PostgreSQL, an in-memory database or an existing
 * `dest`; DATABASE_UNAVAILABLE when there is no database or the copy fails its check.
 */
export async function backupSqlite(options: OpenStoreOptions, dest: string): Promise<BackupResult> {
  const target = resolveDatabaseTarget(options);
  if (target.kind !== 'sqlite') throw new StorageError('INVALID_ARGUMENT', `${target.label} is backed up with pg_dump, not this command (docs/storage.md)`);
  if (target.file === ':memory:') throw new StorageError('INVALID_ARGUMENT', 'an in-memory database has nothing to back up');
  try {
    statSync(target.file);
  } catch {
    throw new StorageError('DATABASE_UNAVAILABLE', `no database at ${target.file}`);
  }
  const file = resolve(dest);
  if (file === target.file) throw new StorageError('INVALID_ARGUMENT', 'the copy must be another file than the database');
  ensurePrivateDir(dirname(file));
  // VACUUM INTO writes into an empty file: creating it first (exclusively) sets its mode
  // and refuses an existing one, so a backup never replaces anything.
  if (!createPrivateFile(file)) throw new StorageError('INVALID_ARGUMENT', `${file} exists already: name a new file`);
  try {
    const source = createClient(target);
    try {
      await source.$executeRawUnsafe('VACUUM INTO ?', file);
    } finally {
      await source.$disconnect();
    }
    const copy = createClient({ kind: 'sqlite', file, label: `SQLite ${file}` });
    try {
      const [check] = await copy.$queryRawUnsafe<{ quick_check: string }[]>('PRAGMA quick_check');
      if (check?.quick_check !== 'ok') throw new StorageError('DATABASE_UNAVAILABLE', `the copy ${file} failed its integrity check`);
      const [count] = await copy.$queryRawUnsafe<{ n: number | bigint }[]>('SELECT count(*) AS n FROM "_veilgraph_migrations"');
      return { file, bytes: statSync(file).size, migrations: Number(count?.n ?? 0) };
    } finally {
      await copy.$disconnect();
    }
  } catch (e) {
    // Leave nothing half-written behind (the empty file we created, or a failed copy).
    try {
      unlinkSync(file);
    } catch {
      /* already gone */
    }
    throw e;
  }
}
