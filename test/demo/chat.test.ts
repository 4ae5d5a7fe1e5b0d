// `npm run demo:chat` as a subprocess: every step passes (live delivery in order on every
// screen, the removed member refused by the gateway and by the cryptography, no plaintext
// in the database file).
import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

const ROOT = new URL('../../', import.meta.url);

function runChatDemo(args: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/demo/chat.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let db: TestPostgres | undefined;

afterAll(async () => {
  await db?.stop();
});

function expectAllSteps(r: { code: number | null; stdout: string; stderr: string }): void {
  expect(r.code, r.stderr + r.stdout).toBe(0);
  for (let i = 1; i <= 5; i++) expect(r.stdout).toContain(`[${i}/5]`);
  expect(r.stdout).toContain('the gateway to Carol: NOT_FOUND');
  expect(r.stdout).toContain('the stored message with every key Carol holds: KEY_NOT_FOUND');
  expect(r.stdout).not.toContain("Carol's screen  ← bob: Surprise party");
  expect(r.stdout).toContain('All steps behaved as expected.');
}

describe('npm run demo:chat', () => {
  it('on two gateways sharing a real PostgreSQL (events across instances): all five steps, exit 0', async () => {
    db = await startPostgres(); // throws (fails the test) when PostgreSQL cannot start
    const r = await runChatDemo(['--database-url', await db.createDatabase('chat_demo')]);
    expectAllSteps(r);
    expect(r.stdout).toContain('Two gateways on PostgreSQL');
    expect(r.stdout).toContain('no message plaintext in the Message table');
  }, 120_000);

  it('a bad argument: a clear message and exit 2', async () => {
    const r = await runChatDemo(['--frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown argument "--frobnicate"');
  }, 60_000);

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
