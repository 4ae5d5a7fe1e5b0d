/**
 * The package as a stranger gets it (test/package/): `npm pack` of a copy of this working
 * tree (what a fresh clone holds: `git ls-files`, tracked and untracked-not-ignored, with the
 * repository's node_modules linked for the pack scripts, so `prepare`/`prepack` build
 * everything themselves and nothing in this tree is rewritten under other running tests),
 * then the tarball installed into a temporary project outside the repository, which cannot
 * resolve anything of the repository's node_modules.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const REPO_ROOT = join(import.meta.dirname, '../..');

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion; a non-zero exit throws with its output (the test fails loudly). */
export async function command(file: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = process.env, timeoutMs = 180_000): Promise<CommandResult> {
  try {
    return await run(file, [...args], { cwd, env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' });
  } catch (e) {
    const r = e as { code?: unknown; signal?: unknown; stdout?: string; stderr?: string };
    const { stdout = '', stderr = '' } = r;
    // The output goes into the message once, cut to its start (where tsc and npm put their errors).
    delete r.stdout;
    delete r.stderr;
    const cut = (text: string): string => (text.length > 8000 ? `${text.slice(0, 8000)}\n… (${text.length - 8000} more characters)` : text);
    throw new Error(`${file} ${args.join(' ')} (in ${cwd}) failed: exit ${String(r.code)} ${String(r.signal ?? '')}\n--- stdout\n${cut(stdout)}\n--- stderr\n${cut(stderr)}`, { cause: e });
  }
}

/** The environment for npm in the child projects: no NODE_ENV=test from vitest, no update checks. */
export function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
  delete env.NODE_ENV;
  // Set when vitest runs under `npm test`: they would point the child npm at this repository.
  for (const k of Object.keys(env)) if (k.startsWith('npm_package_') || k === 'npm_lifecycle_event' || k === 'npm_lifecycle_script' || k === 'INIT_CWD') delete env[k];
  return env;
}

/** The version of `name` in the repository's node_modules (what the npm cache holds here). */
export function repoVersion(name: string): string {
  return (JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
}

/** `npm pack` of a copy of the working tree; returns the tarball's path. */
export async function packFreshCopy(work: string): Promise<string> {
  const copy = join(work, 'clone');
  const { stdout } = await command('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], REPO_ROOT);
  for (const f of stdout.split('\0').filter((f) => f !== '' && existsSync(join(REPO_ROOT, f)))) {
    mkdirSync(dirname(join(copy, f)), { recursive: true });
    copyFileSync(join(REPO_ROOT, f), join(copy, f));
  }
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(copy, 'node_modules'), 'dir');
  return npmPack(copy, join(work, 'tarball'), [], 300_000);
}

/** `npm pack [what]` in `cwd` into the new directory `out`; returns the one tarball it made. */
async function npmPack(cwd: string, out: string, what: readonly string[], timeoutMs: number): Promise<string> {
  mkdirSync(out);
  await command('npm', ['pack', '--pack-destination', out, ...what], cwd, npmEnv(), timeoutMs);
  const [tgz, ...more] = readdirSync(out).filter((f) => f.endsWith('.tgz'));
  if (tgz === undefined || more.length > 0) throw new Error(`npm pack ${what.join(' ')} left ${readdirSync(out).join(', ') || 'nothing'} in ${out}`);
  return join(out, tgz);
}

/**
 * `npm pack` of the light client package (packages/client/) in the copy `packFreshCopy`
 * made and built; returns the tarball's path.
 */
export async function packClient(work: string): Promise<string> {
  return npmPack(join(work, 'clone'), join(work, 'client-tarball'), ['./packages/client'], 120_000);
}

/** `name@version` as the repository's node_modules has it, for each name (what the npm cache holds). */
export function pinned(names: readonly string[]): string[] {
  return names.map((n) => `${n}@${repoVersion(n)}`);
}

/** `npm install` of `specs` into the project `dir`, from the npm cache, running no scripts. */
export async function npmInstall(dir: string, specs: readonly string[]): Promise<void> {
  await command('npm', ['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', ...specs], dir, npmEnv(), 300_000);
}

/**
 * A new project in `dir` (outside the repository) with the tarball and `extra` packages
 * installed from the npm cache (`--prefer-offline`).
 *
 * `--ignore-scripts`: veilgraph itself declares no install scripts (the test checks the packed
 * package.json); what this skips is better-sqlite3's native build, which downloads a prebuilt
 * binary from GitHub (unreachable on these machines) or else compiles for minutes. The
 * repository's own build of the same better-sqlite3 version is copied in instead (same Node,
 * same machine); a different version fails here.
 */
export async function installConsumer(dir: string, tarball: string, extra: readonly string[]): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }, null, 2));
  await npmInstall(dir, [tarball, ...extra]);
  const installed = join(dir, 'node_modules', 'better-sqlite3');
  // Only the server brings SQLite (the light client package does not).
  if (!existsSync(installed)) return;
  const version = (JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { version: string }).version;
  if (version !== repoVersion('better-sqlite3')) {
    throw new Error(`the consumer got better-sqlite3 ${version}, the repository has ${repoVersion('better-sqlite3')}: no native build to copy (install with scripts and a compiler instead)`);
  }
  cpSync(join(REPO_ROOT, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'), join(installed, 'build/Release/better_sqlite3.node'));
}

/** A fresh temporary directory outside the repository. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface ServedGateway {
  readonly child: ChildProcess;
  readonly url: string;
  output(): string;
}

/** `npx veilgraph serve` in `cwd` with `env`; resolves with the URL it prints once it listens. */
export function npxServe(cwd: string, env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<ServedGateway> {
  const child = spawn('npx', ['--no-install', 'veilgraph', 'serve'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  // Whatever goes wrong before it listens, its whole process group goes (it is detached).
  const stop = (): void => {
    if (child.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`npx veilgraph serve printed no URL in ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      stop();
      reject(e);
    });
    const onData = (b: Buffer): void => {
      out += b.toString('utf8');
      const m = /veilgraph gateway on (http:\/\/\S+)\/graphql/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, output: () => out });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`npx veilgraph serve exited (${String(code)} ${String(signal)}):\n${out}`));
    });
  });
}
