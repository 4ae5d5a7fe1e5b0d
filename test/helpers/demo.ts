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

export function runDemoScript(script: string, args: readonly string[] = []): Promise<DemoRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
