/**
 * @module
 * A gateway as its own process (`tsx src/cli.ts serve`), for tests that kill it with
 * SIGKILL: no cleanup, no flushing, as a crash or a power cut. It listens on a free
 * loopback port (`PORT=0`) and is ready once it logs `gateway.started`.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const ROOT = new URL('../../', import.meta.url);

export interface GatewayProcess {
  readonly child: ChildProcess;
  /** `http://127.0.0.1:<port>/graphql`. */
  readonly url: string;
  readonly port: number;
  /** Everything it wrote so far (stdout and stderr). */
  output(): string;
  /** SIGKILL; resolves once the process is gone. */
  kill(): Promise<void>;
}

/** Starts `tsx src/cli.ts serve` with `env` (plus PORT=0, LOG_LEVEL=info unless set) and resolves once it listens. */
export function startGatewayProcess(env: NodeJS.ProcessEnv): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve'], { cwd: ROOT, env: { LOG_LEVEL: 'info', ...env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let started = false;
    const timer = setTimeout(() => reject(new Error(`the gateway did not start: ${out}`)), 60_000);
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString('utf8');
      if (started) return;
      const m = /"event":"gateway\.started","url":"([^"]+)"/.exec(out);
      if (!m) return;
      started = true;
      clearTimeout(timer);
      const url = m[1]!;
      resolve({
        child,
        url,
        port: Number(new URL(url).port),
        output: () => out,
        async kill() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          await exited;
        },
      });
    });
    child.stderr!.on('data', (b: Buffer) => (out += b.toString('utf8')));
    child.once('exit', (code, signal) => {
      if (!started) reject(new Error(`the gateway exited (${code ?? signal}): ${out}`));
    });
  });
}
