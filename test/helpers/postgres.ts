/**
 * @module
 * A throwaway PostgreSQL server for tests: a fresh cluster in a temp dir, trust auth,
 * loopback only, fsync off, removed on `stop()`. Needs the server binaries
 * (`apt-get install postgresql`; found under /usr/lib/postgresql/<version>/bin, or set
 * `VEIL_PG_BIN`). Throws, with the reason, when they are missing or the server does not
 * start: tests that need PostgreSQL fail loudly instead of skipping.
 */
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlDriverAdapter } from '@prisma/driver-adapter-utils';

const run = promisify(execFile);

export interface TestPostgres {
  /** `postgresql://postgres@127.0.0.1:<port>/<database>` */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  /** Creates another empty database on the same server and returns its URL. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

/** The newest /usr/lib/postgresql/<version>/bin that has initdb, pg_ctl and pg_isready. */
export function findPostgresBin(): string {
  const override = process.env.VEIL_PG_BIN;
  const candidates: string[] = [];
  if (override) candidates.push(override);
  const base = '/usr/lib/postgresql';
  if (existsSync(base)) {
    const versions = readdirSync(base)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => join(base, v, 'bin')));
  }
  const found = candidates.find((dir) => ['initdb', 'pg_ctl', 'pg_isready', 'postgres'].every((b) => existsSync(join(dir, b))));
  if (!found) {
    throw new Error(
      'PostgreSQL server binaries not found (looked in ' +
        (candidates.length ? candidates.join(', ') : `${base}/*/bin`) +
        '). Install them with `apt-get install -y postgresql` (CI does this in .ci/run) or set VEIL_PG_BIN.',
    );
  }
  return found;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function describe(e: unknown): string {
  const err = e as { message?: string; stderr?: string; stdout?: string };
  return [err.message, err.stdout, err.stderr].filter((s) => s && s.trim()).join('\n').trim();
}

/** Runs a PostgreSQL binary as the `postgres` OS user when we are root (initdb refuses root). */
async function pgRun(bin: string, args: string[], timeout = 60_000): Promise<{ stdout: string; stderr: string }> {
  const asRoot = userInfo().uid === 0;
  const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  return run(file, argv, { cwd: '/', timeout, env: { ...process.env, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' } });
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = findPostgresBin();
  const asRoot = userInfo().uid === 0;
  let uid = -1;
  let gid = -1;
  if (asRoot) {
    const entry = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .map((l) => l.split(':'))
      .find((f) => f[0] === 'postgres');
    if (!entry) throw new Error('PostgreSQL: no `postgres` OS user to run the server as (installing the postgresql package creates it)');
    uid = Number(entry[2]);
    gid = Number(entry[3]);
  }

  const dir = mkdtempSync(join(tmpdir(), 'veilgraph-pg-'));
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  let started = false;
  let cleanup = async (): Promise<void> => {
    if (started) {
      started = false;
      await pgRun(join(bin, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], 30_000).catch(() => undefined);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    chmodSync(dir, 0o700);
    if (asRoot) chownSync(dir, uid, gid);
    const user = 'postgres';
    await pgRun(join(bin, 'initdb'), ['-D', dataDir, '-U', user, '-A', 'trust', '-E', 'UTF8', '--no-sync']).catch((e: unknown) => {
      throw new Error(`PostgreSQL: initdb failed: ${describe(e)}`, { cause: e });
    });

    // A port can be taken between the probe and the bind: retry a few times.
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const taken = await pgRun(join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-t', '1'], 10_000).then(
        () => true,
        () => false,
      );
      if (taken && attempt < 5) continue; // something already answers there
      const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
      started = true; // from here on, stop() tries pg_ctl stop (harmless if it never ran)
      const failure = await pgRun(join(bin, 'pg_ctl'), ['-D', dataDir, '-l', logFile, '-w', '-t', '30', '-o', options, 'start'], 60_000).then(
        () => null,
        (e: unknown) => e,
      );
      if (failure === null) break;
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
      if (attempt >= 5 || !/already in use|could not bind/i.test(log)) {
        throw new Error(`PostgreSQL: the server did not start: ${describe(failure)}\n${log}`, { cause: failure });
      }
    }

    await pgRun(join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-t', '30'], 40_000).catch((e: unknown) => {
      throw new Error(`PostgreSQL: the server started but does not accept connections: ${describe(e)}`, { cause: e });
    });

    // Databases are created over one maintenance connection (faster than a createdb process
    // per database), through the driver adapter the gateway uses anyway.
    let admin: SqlDriverAdapter | undefined;
    const createDatabase = async (name: string): Promise<string> => {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`PostgreSQL: bad test database name ${name}`);
      try {
        admin ??= await new PrismaPg({ host: '127.0.0.1', port, user, database: 'postgres', max: 1 }).connect();
        await admin.executeScript(`CREATE DATABASE "${name}"`);
      } catch (e) {
        throw new Error(`PostgreSQL: CREATE DATABASE ${name} failed: ${describe(e)}`, { cause: e });
      }
      return `postgresql://${user}@127.0.0.1:${port}/${name}`;
    };
    const stopAdmin = cleanup;
    cleanup = async () => {
      await admin?.dispose().catch(() => undefined);
      admin = undefined;
      await stopAdmin();
    };
    const database = 'veilgraph_test';
    const url = await createDatabase(database);
    return { url, host: '127.0.0.1', port, user, database, createDatabase, stop: () => cleanup() };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
