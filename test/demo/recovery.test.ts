// `npm run demo:recovery` as a subprocess: every step passes, the printed phrase is 24
// valid BIP39 words, both devices show the same link code, the phone is refused after its
// revocation, and the database holds no secret.
import { describe, expect, it } from 'vitest';
import { parseRecoveryPhrase } from '../../src/crypto/recovery.js';
import { runDemoScript } from '../helpers/demo.js';

describe('npm run demo:recovery', () => {
  it('runs all eight steps and exits 0', async () => {
    const r = await runDemoScript('src/demo/recovery.ts');
    expect(r.code, r.stderr + r.stdout).toBe(0);
    for (let i = 1; i <= 8; i++) expect(r.stdout).toContain(`[${i}/8]`);
    const words = [...r.stdout.matchAll(/\b\d{1,2}\. ([a-z]+)/g)].map((m) => m[1]!);
    expect(words).toHaveLength(24);
    expect(() => parseRecoveryPhrase(words.join(' '))).not.toThrow();
    const codes = [...r.stdout.matchAll(/(?:tablet|laptop) shows: ([\d ]+?)\s*(?:\(|$)/gm)].map((m) => m[1]!.trim());
    expect(codes).toHaveLength(2);
    expect(codes[0]).toMatch(/^(\d{5} ){4}\d{5}$/);
    expect(codes[0]).toBe(codes[1]);
    expect(r.stdout).toContain("Bob's client: verified key change 1 → 2");
    expect(r.stdout).toContain('phone: DEVICE_REVOKED');
    expect(r.stdout).toContain('a wrong password: RECOVERY_FAILED');
    expect(r.stdout).toContain('All steps behaved as expected.');
  }, 120_000);
});
