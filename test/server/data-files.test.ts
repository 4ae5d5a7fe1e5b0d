// The gateway's files on disk (issue 14, items 6 and 7), with the real CLI and real SQLite:
// - a data directory the gateway creates is 0700 and every file in it 0600 (the database's
//   -wal and -shm too), even under umask 000; an existing wider one is named in a warning;
// - after a clean stop (SIGTERM to `veilgraph serve`, or close() while another process
//   still has the database open) the database file alone holds every row;
// - `veilgraph backup <dest>` (`npm run db:backup -- <dest>`) copies a running gateway's
//   database to a file that opens on its own.
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { operatorEnv, runCli, startCliGateway } from '../helpers/cli.js';
import { gqlAt, registerAndLogin, startTestGateway } from '../helpers/gateway.js';

const ROOT = new URL('../../', import.meta.url);
const temps: string[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'veilgraph-files-'));
  temps.push(d);
  return d;
}

afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

function mode(path: string): string {
  return `0${(statSync(path).mode & 0o777).toString(8)}`;
}

/** The usernames in a SQLite file opened alone: copied first into a directory of its own, so no -wal can help. */
function usernamesInFileAlone(file: string): string[] {
  const alone = join(tempDir(), 'alone.db');
  copyFileSync(file, alone);
  const db = new Database(alone, { readonly: true, fileMustExist: true });
  try {
    return db.prepare<[], { username: string }>('SELECT "username" FROM "User" ORDER BY "username"').all().map((r) => r.username);
  } finally {
    db.close();
  }
}

function warnings(logs: readonly string[]): { path: string; mode: string; fix: string }[] {
  return logs.map((l) => JSON.parse(l) as { event: string; path: string; mode: string; fix: string }).filter((l) => l.event === 'data.permissions');
}

describe('veilgraph serve, under umask 000', () => {
  it('creates the data directory 0700 and every file 0600, and a SIGTERM leaves every row in veilgraph.db', { timeout: 120_000 }, async () => {
    const dataDir = join(tempDir(), 'new', 'data');
    const served = await startCliGateway({ VEIL_DATA_DIR: dataDir }, { umask: '000' });
    let stopped = false;
    try {
      const gql = { gql: gqlAt(served.url) };
      for (const name of ['alice', 'bob', 'carol']) await registerAndLogin(gql, name);
      // While it runs: the directory it created (and the parent it created) 0700; the key
      // ring, the secrets, the database and the -wal and -shm SQLite made later, 0600.
      expect(mode(dataDir)).toBe('0700');
      expect(mode(join(dataDir, '..'))).toBe('0700');
      for (const f of ['keyring.json', 'secrets.json', 'veilgraph.db', 'veilgraph.db-wal', 'veilgraph.db-shm']) {
        expect({ f, mode: mode(join(dataDir, f)) }).toEqual({ f, mode: '0600' });
      }
      expect(served.output()).not.toContain('data.permissions');

      const end = await served.stop('SIGTERM');
      stopped = true;
      expect(end).toEqual({ code: 0, signal: null });
      expect(served.output()).toContain('gateway.stopping');
    } finally {
      if (!stopped) await served.stop('SIGKILL');
    }
    // The clean stop checkpointed: the WAL is gone or empty, the file alone has every row.
    const wal = join(dataDir, 'veilgraph.db-wal');
    expect(existsSync(wal) ? statSync(wal).size : 0).toBe(0);
    expect(usernamesInFileAlone(join(dataDir, 'veilgraph.db'))).toEqual(['alice', 'bob', 'carol']);
    expect(mode(join(dataDir, 'veilgraph.db'))).toBe('0600');
  });
});

describe('permissions of an existing data directory', () => {
  it('a private one starts without warnings; a wider directory or file is named in a warning with its chmod', { timeout: 60_000 }, async () => {
    const dataDir = join(tempDir(), 'data');
    const first = await startTestGateway({ dataDir });
    await registerAndLogin(first, 'dave');
    await first.gateway.close();
    expect(warnings(first.logs)).toEqual([]);

    chmodSync(dataDir, 0o755);
    chmodSync(join(dataDir, 'veilgraph.db'), 0o644);
    chmodSync(join(dataDir, 'secrets.json'), 0o640);
    const second = await startTestGateway({ dataDir });
    try {
      const found = warnings(second.logs);
      expect(found.map((w) => [w.path, w.mode]).sort()).toEqual(
        [
          [dataDir, '0755'],
          [join(dataDir, 'secrets.json'), '0640'],
          [join(dataDir, 'veilgraph.db'), '0644'],
          // SQLite gives the -wal and -shm it creates the database file's mode.
          [join(dataDir, 'veilgraph.db-wal'), '0644'],
          [join(dataDir, 'veilgraph.db-shm'), '0644'],
        ].sort(),
      );
      expect(found.find((w) => w.path === dataDir)!.fix).toBe(`chmod 700 ${JSON.stringify(dataDir)}`);
      expect(found.find((w) => w.path.endsWith('secrets.json'))!.fix).toBe(`chmod 600 ${JSON.stringify(join(dataDir, 'secrets.json'))}`);
      // Existing modes are the operator's: reported, not changed.
      expect(mode(dataDir)).toBe('0755');
    } finally {
      await second.close();
    }
  });
});

describe('close() while another process has the database open', () => {
  it('checkpoints: the file alone holds every row although SQLite would not checkpoint on its own', { timeout: 60_000 }, async () => {
    const dataDir = join(tempDir(), 'data');
    const t = await startTestGateway({ dataDir });
    await registerAndLogin(t, 'erin');
    await registerAndLogin(t, 'frank');
    // A second connection (as an operator's sqlite3 shell would hold): closing the gateway's
    // connection is then not the last close, so SQLite itself leaves the WAL as it is.
    const other = new Database(join(dataDir, 'veilgraph.db'), { fileMustExist: true });
    try {
      other.prepare('SELECT count(*) FROM "User"').get();
      await t.gateway.close();
      expect(usernamesInFileAlone(join(dataDir, 'veilgraph.db'))).toEqual(['erin', 'frank']);
      expect(statSync(join(dataDir, 'veilgraph.db-wal')).size).toBe(0);
    } finally {
      other.close();
    }
  });
});

describe('veilgraph backup <dest>', () => {
  it('copies a running gateway’s database to a new 0600 file that opens on its own, and never writes over one', { timeout: 120_000 }, async () => {
    const t = await startTestGateway();
    try {
      for (const name of ['gina', 'hank']) await registerAndLogin(t, name);
      const env = operatorEnv({ VEIL_DATA_DIR: t.dataDir });
      const dest = join(tempDir(), 'backups', 'copy.db');

      // The documented command, as an operator runs it, while the gateway keeps running.
      const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn('npm', ['run', '--silent', 'db:backup', '--', dest], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
        child.stderr.on('data', (b: Buffer) => (out += b.toString('utf8')));
        child.on('close', (code) => resolve({ code, out }));
      });
      expect(r.out).toContain(dest);
      expect(r.code).toBe(0);
      expect(mode(dest)).toBe('0600');
      expect(mode(join(dest, '..'))).toBe('0700');
      expect(existsSync(`${dest}-wal`)).toBe(false);
      expect(usernamesInFileAlone(dest)).toEqual(['gina', 'hank']);

      // The gateway went on serving; the copy is the snapshot it was.
      await registerAndLogin(t, 'ivan');
      expect(usernamesInFileAlone(dest)).toEqual(['gina', 'hank']);

      // An existing file is never replaced.
      const before = readFileSync(dest);
      const again = await runCli(['backup', dest], env);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain('exists already');
      expect(readFileSync(dest).equals(before)).toBe(true);

      // A second copy sees the newer row.
      const second = join(tempDir(), 'second.db');
      expect((await runCli(['backup', second], env)).code).toBe(0);
      expect(usernamesInFileAlone(second)).toEqual(['gina', 'hank', 'ivan']);
    } finally {
      await t.close();
    }
  });

  it('PostgreSQL is pointed to pg_dump (exit 2); no database is an error (exit 1), and nothing is left behind', { timeout: 60_000 }, async () => {
    const dest = join(tempDir(), 'pg.db');
    const pg = await runCli(['backup', dest], operatorEnv({ DATABASE_URL: 'postgres://u:secret@127.0.0.1:1/db' }));
    expect(pg.code).toBe(2);
    expect(pg.stderr).toContain('pg_dump');
    expect(pg.stderr).not.toContain('secret');
    expect(existsSync(dest)).toBe(false);

    const empty = tempDir();
    mkdirSync(join(empty, 'data'));
    writeFileSync(join(empty, 'unrelated'), '');
    const none = await runCli(['backup', dest], operatorEnv({ VEIL_DATA_DIR: join(empty, 'data') }));
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no database');
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(join(empty, 'data', 'veilgraph.db'))).toBe(false);
  });
});
