// Imports follow the data flow (STYLE.md): crypto imports nothing of ours; privacy only
// crypto; client and server never import each other; nothing portable imports `node:`
// except the files named as Node-only entries.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (f === 'generated') return [];
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function imports(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(/^(?:import|export)[^'"\n]*?from\s+'([^']+)'/gm)].map((m) => m[1]!);
}

/** The top-level area (`crypto`, `client`, …) an import from `file` lands in, or null for packages. */
function area(file: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  return relative(SRC, join(file, '..', spec)).split('/')[0]!;
}

const NODE_ONLY = new Set(['crypto/backends/node.ts', 'client/keystore-file.ts', 'client/node.ts']);
const ALLOWED: Record<string, string[]> = {
  crypto: ['crypto'],
  privacy: ['crypto', 'privacy'],
  client: ['crypto', 'privacy', 'client'],
  server: ['crypto', 'privacy', 'server'],
  codegen: ['crypto', 'privacy', 'server', 'codegen'],
};

describe('architecture', () => {
  for (const [from, allowed] of Object.entries(ALLOWED)) {
    it(`src/${from} imports only ${allowed.join(', ')}`, () => {
      const bad: string[] = [];
      for (const f of files(join(SRC, from))) {
        for (const spec of imports(f)) {
          const to = area(f, spec);
          if (to !== null && !allowed.includes(to.replace(/\.ts$|\.js$/, ''))) bad.push(`${relative(SRC, f)} → ${spec}`);
        }
      }
      expect(bad).toEqual([]);
    });
  }

  it('portable code (crypto, privacy, client) imports no node: modules', () => {
    const bad: string[] = [];
    for (const area of ['crypto', 'privacy', 'client']) {
      for (const f of files(join(SRC, area))) {
        if (NODE_ONLY.has(relative(SRC, f))) continue;
        for (const spec of imports(f)) if (spec.startsWith('node:')) bad.push(`${relative(SRC, f)} → ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });
});
