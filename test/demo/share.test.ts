// `npm run demo:share` as a subprocess: every step passes, the two safety numbers agree, and
// the revoked reader fails on the stored envelope itself, not only at the gateway.
import { describe, expect, it } from 'vitest';
import { runDemoScript } from '../helpers/demo.js';



describe('npm run demo:share', () => {
  it('runs all eight steps and exits 0', async () => {
    const r = await runDemoScript('src/demo/share.ts');
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
