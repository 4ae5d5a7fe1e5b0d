// `npm run demo:chat` as a subprocess: every step passes (live delivery in order on every
// screen, the removed member refused by the gateway and by the cryptography, no plaintext
// in the database file).
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url);

function runChatDemo(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/demo/chat.ts'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run demo:chat', () => {
  it('runs all five steps and exits 0', async () => {
    const r = await runChatDemo();
    expect(r.code, r.stderr + r.stdout).toBe(0);
    for (let i = 1; i <= 5; i++) expect(r.stdout).toContain(`[${i}/5]`);
    expect(r.stdout).toContain('the gateway to Carol: NOT_FOUND');
    expect(r.stdout).toContain('the stored message with every key Carol holds: KEY_NOT_FOUND');
    expect(r.stdout).not.toContain("Carol's screen  ← bob: Surprise party");
    expect(r.stdout).toContain('All steps behaved as expected.');
  }, 60_000);
});
