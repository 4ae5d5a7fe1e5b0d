// `npm run demo:share` as a subprocess: every step passes, the two safety numbers agree, and
// the revoked reader fails on the stored envelope itself, not only at the gateway.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url);

function runShareDemo(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/demo/share.ts'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run demo:share', () => {
  it('runs all eight steps and exits 0', async () => {
    const r = await runShareDemo();
    expect(r.code, r.stderr + r.stdout).toBe(0);
    for (let i = 1; i <= 8; i++) expect(r.stdout).toContain(`[${i}/8]`);
    const numbers = [...r.stdout.matchAll(/safety number on \w+'s screen:\s+([\d ]+)/g)].map((m) => m[1]!.trim());
    expect(numbers).toHaveLength(2);
    expect(numbers[0]).toMatch(/^(\d{5} ){11}\d{5}$/);
    expect(numbers[0]).toBe(numbers[1]);
    expect(r.stdout).toContain('the stored envelope with every key Bob ever held: KEY_VERSION_MISMATCH');
    expect(r.stdout).toContain('All steps behaved as expected.');
  }, 60_000);
});
