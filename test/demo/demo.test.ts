// `npm run demo` as a subprocess: the JSON mode leaves the database behind, and its raw
// bytes (plus the WAL) must show the PUBLIC value in clear and nothing else.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDemoScript } from '../helpers/demo.js';



interface Line {
  coordinate: string;
  level: 'PUBLIC' | 'SERVER' | 'SHARED' | 'PRIVATE';
  plaintext: string;
  db: string;
}

describe('npm run demo', () => {
  it('--json: one line per field; the SQLite file holds only the PUBLIC plaintext', async () => {
    const r = await runDemoScript('src/demo/crud.ts', ['--json']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const fields = lines.map((l) => JSON.parse(l) as Line);
    try {
      expect(fields.map((f) => `${f.coordinate}:${f.level}`)).toEqual([
        'Profile.displayName:PUBLIC',
        'Profile.email:SERVER',
        'Profile.phone:SERVER',
        'Profile.bio:SHARED',
        'Profile.diary:PRIVATE',
      ]);
      const db = fields[0]!.db;
      expect(isAbsolute(db)).toBe(true);
      expect(fields.every((f) => f.db === db && f.plaintext.length >= 12)).toBe(true);

      const bytes = [readFileSync(db), ...(existsSync(`${db}-wal`) ? [readFileSync(`${db}-wal`)] : [])];
      const present = (s: string): boolean => bytes.some((b) => b.includes(Buffer.from(s, 'utf8')));
      expect(bytes[0]!.length).toBeGreaterThan(0);
      for (const f of fields) {
        expect(present(f.plaintext), `${f.coordinate} (${f.level}) in the database file`).toBe(f.level === 'PUBLIC');
      }
    } finally {
      if (fields[0]?.db) rmSync(dirname(fields[0].db), { recursive: true, force: true });
    }
  });

  it('without --json: runs every step, deletes the profile, exits 0', async () => {
    const r = await runDemoScript('src/demo/crud.ts', []);
    expect(r.code, r.stderr).toBe(0);
    for (const step of [
      '[1/8] Alice creates her keys',
      '[2/8] Alice registers',
      '[3/8] Alice logs in',
      '[4/8] Alice creates her profile',
      '[5/8] Alice reads her profile back',
      '[6/8] Alice updates every field',
      '[7/8] Alice reads it again',
      '[8/8] Alice deletes her profile',
    ]) {
      expect(r.stdout).toContain(step);
    }
    expect(r.stdout).toMatch(/sealed blob \(\d+ bytes, key version 1\)/);
    expect(r.stdout).toContain('(no row)');
    expect(r.stdout).not.toMatch(/eyJ[A-Za-z0-9_-]+\.eyJ/); // no access token printed
  });

  it('fails with a clear message and a non-zero exit on a bad argument or an unreachable gateway', async () => {
    const bad = await runDemoScript('src/demo/crud.ts', ['--nope']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('unknown argument "--nope"');
    const down = await runDemoScript('src/demo/crud.ts', ['--url', 'http://127.0.0.1:1/graphql']);
    expect(down.code).not.toBe(0);
    expect(down.stderr).toContain('demo failed at step "Alice registers"');
    expect(down.stderr).toContain('NETWORK_ERROR');
  });
});
