/** Runs one of the demos (`src/demo/<name>.ts`), or another script, as a subprocess, as `npm run demo…` does. */
import { spawn } from 'node:child_process';

const ROOT = new URL('../../', import.meta.url);

export interface DemoRun {
  readonly code: number | null;
  /** The signal that ended it (SIGKILL for a process killed on purpose), or null. */
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * `env`: the child's whole environment (default: this process's). `timeoutMs`: killed with
 * SIGKILL after that long (for a command that should end at once but might not).
 */
export function runDemoScript(script: string, args: readonly string[] = [], { env, timeoutMs }: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<DemoRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env } : {}) });
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', () => clearTimeout(timer));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
