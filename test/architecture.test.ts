// Imports follow the data flow (STYLE.md): crypto imports nothing of ours; privacy only
// crypto; client and server never import each other; nothing portable imports `node:`
// except the files named as Node-only entries. The reference app (src/app) is built on the
// public entry points only (package.json `exports`), as any user's app is, and nothing of
// the server imports the app.
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
  // Multi-line import lists included (`[^;'"]` runs across lines up to the specifier).
  return [...readFileSync(file, 'utf8').matchAll(/^(?:import|export)\b[^;'"]*?from\s+'([^']+)'/gm)].map((m) => m[1]!);
}

function dynamicImports(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)].map((m) => m[1]!);
}

/** The top-level area (`crypto`, `client`, …) an import from `file` lands in, or null for packages. */
function area(file: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  return relative(SRC, join(file, '..', spec)).split('/')[0]!;
}

/** A package specifier's package name (`@apollo/client/link` → `@apollo/client`). */
function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** The packages `entry` and every file of ours it imports (transitively, type imports included) import. */
function packagesReachedFrom(entry: string): Set<string> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of imports(file)) {
      if (spec.startsWith('.')) visit(join(file, '..', spec).replace(/\.js$/, '.ts'));
      else packages.add(packageName(spec));
    }
  };
  visit(entry);
  return packages;
}

/** The client libraries each integration entry needs: optional peer dependencies, needed by that entry only. */
const INTEGRATION_PEERS: Record<string, readonly string[]> = {
  'client/apollo.ts': ['@apollo/client', 'rxjs'],
  'client/urql.ts': ['@urql/core', 'wonka'],
};

const NODE_ONLY = new Set(['crypto/backends/node.ts', 'crypto/backends/sodium.ts', 'client/keystore-file.ts', 'client/node.ts']);
const ALLOWED: Record<string, string[]> = {
  crypto: ['crypto'],
  privacy: ['crypto', 'privacy'],
  client: ['crypto', 'privacy', 'client'],
  server: ['crypto', 'privacy', 'server'],
  app: ['crypto', 'privacy', 'server', 'client', 'app'],
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

  it('src/app imports of our code are public entry points (package.json exports) or its own files', () => {
    // Each entry's built file (dist/x.js) stands for its source (src/x.ts).
    const pkg = JSON.parse(readFileSync(join(SRC, '..', 'package.json'), 'utf8')) as { exports: Record<string, string | { import: string }> };
    const built = Object.values(pkg.exports).flatMap((e) => (typeof e === 'string' ? [] : [e.import]));
    const entries = new Set(built.map((p) => join(SRC, p.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts'))));
    expect(entries.has(join(SRC, 'server', 'index.ts'))).toBe(true);
    const bad: string[] = [];
    for (const f of files(join(SRC, 'app'))) {
      for (const spec of [...imports(f), ...dynamicImports(f)]) {
        if (!spec.startsWith('.')) continue;
        const target = join(f, '..', spec).replace(/\.js$/, '.ts');
        if (area(f, spec) === 'app') continue;
        if (!entries.has(target)) bad.push(`${relative(SRC, f)} → ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('examples import veilgraph through its public entry points only (package.json exports), and nothing outside their own directory', () => {
    const root = join(SRC, '..');
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
    const entries = new Set(Object.keys(pkg.exports).map((k) => `veilgraph${k.slice(1)}`));
    const examples = join(root, 'examples');
    const bad: string[] = [];
    let checked = 0;
    for (const name of readdirSync(examples)) {
      const dir = join(examples, name);
      if (!statSync(dir).isDirectory()) continue;
      const sources = [...files(join(dir, 'src')), ...readdirSync(dir).filter((f) => f.endsWith('.ts')).map((f) => join(dir, f))];
      for (const f of sources) {
        checked++;
        for (const spec of [...imports(f), ...dynamicImports(f)]) {
          const outside = spec.startsWith('.') && relative(dir, join(f, '..', spec)).startsWith('..');
          const privatePath = (spec === 'veilgraph' || spec.startsWith('veilgraph/')) && !entries.has(spec);
          if (outside || privatePath) bad.push(`${relative(root, f)} → ${spec}`);
        }
      }
    }
    expect(checked).toBeGreaterThan(0);
    expect(bad).toEqual([]);
  });

  it('the client core (veilgraph/client) reaches no client library; each integration entry reaches only its own, an optional peer dependency', () => {
    const pkg = JSON.parse(readFileSync(join(SRC, '..', 'package.json'), 'utf8')) as {
      exports: Record<string, unknown>;
      dependencies: Record<string, string>;
      peerDependencies?: Record<string, string>;
      peerDependenciesMeta?: Record<string, { optional?: boolean }>;
    };
    const allPeers = Object.values(INTEGRATION_PEERS).flat();
    for (const peer of allPeers) {
      expect(pkg.peerDependencies?.[peer], peer).toBeDefined();
      expect(pkg.peerDependenciesMeta?.[peer]?.optional, peer).toBe(true);
      expect(pkg.dependencies[peer], peer).toBeUndefined();
    }
    for (const entry of ['client/apollo', 'client/urql', 'client/graphql-ws']) expect(Object.keys(pkg.exports)).toContain(`./${entry}`);
    const reached = (entry: string): string[] => [...packagesReachedFrom(join(SRC, entry))].filter((p) => allPeers.includes(p)).sort();
    expect(reached('client/index.ts')).toEqual([]);
    expect(reached('client/node.ts')).toEqual([]);
    expect(reached('client/graphql-ws.ts')).toEqual([]);
    for (const [entry, peers] of Object.entries(INTEGRATION_PEERS)) expect(reached(entry), entry).toEqual([...peers].sort());
  });

  it('src/server never imports src/app', () => {
    const bad: string[] = [];
    for (const f of files(join(SRC, 'server'))) {
      for (const spec of [...imports(f), ...dynamicImports(f)]) if (area(f, spec) === 'app') bad.push(`${relative(SRC, f)} → ${spec}`);
    }
    expect(bad).toEqual([]);
  });

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
