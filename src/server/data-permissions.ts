/**
 * @module
 * The start-up check of the data directory's permissions (docs/storage.md): one warning per
 * existing path the group or others may use — the data directory, `keyring.json`,
 * `secrets.json`, and the SQLite database with its `-wal` and `-shm` — naming the path, its
 * mode and the `chmod` that fixes it. The gateway still starts: the operator may have
 * reasons (a group-shared volume), and refusing would turn a warning into an outage.
 */
import { join } from 'node:path';
import type { Logger } from './log.js';
import { widePermissions } from './private-files.js';
import { resolveDatabaseTarget, sqliteFiles, type OpenStoreOptions } from './storage/open.js';

/** Every path of the gateway's own data that should be private (absent ones are skipped by the check). */
export function privateDataPaths(options: OpenStoreOptions): string[] {
  const target = resolveDatabaseTarget(options);
  return [options.dataDir, join(options.dataDir, 'keyring.json'), join(options.dataDir, 'secrets.json'), ...(target.kind === 'sqlite' ? sqliteFiles(target.file) : [])];
}

/** Logs `data.permissions` (warn) for each of `privateDataPaths` wider than 0700/0600; returns how many. */
export function warnWidePermissions(log: Logger, options: OpenStoreOptions): number {
  const wide = widePermissions(privateDataPaths(options));
  for (const w of wide) {
    log.warn('data.permissions', { path: w.path, mode: w.mode, fix: w.fix, note: 'readable or writable by the group or others: it holds account metadata, wrapped keys or secrets' });
  }
  return wide.length;
}
