/**
 * Test helpers for the command line (`src/cli.ts`) run as a real subprocess: one-shot
 * commands, and `serve` as a gateway process that a test stops with a signal, the way an
 * operator or a service manager does.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { runDemoScript, type DemoRun } from './demo.js';

const ROOT = new URL('../../', import.meta.url);

/**
 * The environment of a command run by an operator: this process's, without the
 * NODE_ENV=test vitest sets (Apollo, for one, behaves differently under it), plus `extra`.
 */
export function operatorEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', ...extra };
  if (extra.NODE_ENV === undefined) delete env.NODE_ENV;
  return env;
}

/** `veilgraph <args>` to completion (killed after `timeoutMs`, default 60 s: a command that starts a server by mistake ends too). */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = operatorEnv(), timeoutMs = 60_000): Promise<DemoRun> {
  return runDemoScript('src/cli.ts', args, { env, timeoutMs });
}

export interface CliGateway {
  readonly child: ChildProcess;
  /** The GraphQL URL it logged in `gateway.started`. */
  readonly url: string;
  /** Everything it wrote so far (stdout and stderr). */
  output(): string;
  /** Sends `signal` and resolves with how it ended. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * `veilgraph serve` on a free loopback port with `env` (VEIL_DATA_DIR etc.); resolves once it
 * logged `gateway.started`. `umask`, when given, is the child's umask (through /bin/sh).
 */
export function startCliGateway(env: NodeJS.ProcessEnv, { umask }: { umask?: string } = {}): Promise<CliGateway> {
  const fullEnv = operatorEnv({ PORT: '0', VEIL_WEB_DIR: 'none', LOG_LEVEL: 'info', ...env });
  const argv = [process.execPath, '--import', 'tsx', 'src/cli.ts', 'serve'];
  const child =
    umask === undefined
      ? spawn(argv[0]!, argv.slice(1), { cwd: ROOT, env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('/bin/sh', ['-c', `umask ${umask} && exec "$@"`, 'sh', ...argv], { cwd: ROOT, env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    let started = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the gateway did not start: ${out}`));
    }, 60_000);
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString('utf8');
      const m = /"event":"gateway\.started","url":"([^"]+)"/.exec(out);
      if (m && !started) {
        started = true;
        clearTimeout(timer);
        resolve({
          child,
          url: m[1]!,
          output: () => out,
          stop: (signal = 'SIGTERM') => {
            child.kill(signal);
            return exited;
          },
        });
      }
    });
    child.stderr!.on('data', (b: Buffer) => (out += b.toString('utf8')));
    void exited.then(({ code, signal }) => {
      if (!started) {
        clearTimeout(timer);
        reject(new Error(`the gateway exited (${code ?? signal}) before it started: ${out}`));
      }
    });
  });
}
