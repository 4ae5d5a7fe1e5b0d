// `npm run demo:chat` as a subprocess: every step passes (live delivery in order on every
// screen, the removed member refused by the gateway and by the cryptography, no plaintext
// in the database file).
import { afterAll, describe, expect, it } from 'vitest';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { runDemoScript } from '../helpers/demo.js';



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
    const r = await runDemoScript('src/demo/chat.ts', ['--database-url', await db.createDatabase('chat_demo')]);
    expectAllSteps(r);
    expect(r.stdout).toContain('Two gateways on PostgreSQL');
    expect(r.stdout).toContain('no message plaintext in the Message table');
  }, 120_000);

  it('a bad argument: a clear message and exit 2', async () => {
    const r = await runDemoScript('src/demo/chat.ts', ['--frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown argument "--frobnicate"');
  }, 60_000);

  it('runs all five steps and exits 0', async () => {
    expectAllSteps(await runDemoScript('src/demo/chat.ts'));
  }, 60_000);
});
