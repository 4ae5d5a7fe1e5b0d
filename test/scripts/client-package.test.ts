// The light client package's build step (scripts/client-package.ts) on small built trees:
// it copies what the entries reach and nothing else, and refuses a package.json that does not
// match the files (a library imported but not declared, one declared but not imported, a
// range other than the root's, a Node built-in in a browser entry, another version).
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildClientPackage, packageOf, specifiers } from '../../scripts/client-package.js';

let root: string;

function write(path: string, text: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
}

const entry = (p: string) => ({ types: `./dist/${p}.d.ts`, import: `./dist/${p}.js`, default: `./dist/${p}.js` });

/** A root package, a built dist/ with a client that reaches crypto, and a server file nothing of the client reaches. */
function setUp(client: { version?: string; dependencies?: Record<string, string>; nodeEntryImport?: string } = {}): void {
  root = mkdtempSync(join(tmpdir(), 'veil-client-package-'));
  write('package.json', JSON.stringify({ version: '1.2.3', dependencies: { '@noble/hashes': '^2.0.0', pg: '^8.0.0' }, peerDependencies: { graphql: '^16.0.0' } }));
  write('dist/client/index.js', "import { sha } from '../crypto/index.js';\nimport { parse } from 'graphql';\nexport const x = 1;\n");
  write('dist/client/index.d.ts', "import type { Sha } from '../crypto/types.js';\nexport declare const x: Sha;\n");
  write('dist/client/node.js', `import { readFileSync } from '${client.nodeEntryImport ?? 'node:fs'}';\nexport const y = 2;\n`);
  write('dist/client/node.d.ts', 'export declare const y: number;\n');
  write('dist/crypto/index.js', "export { sha } from './sha.js';\n");
  write('dist/crypto/index.d.ts', 'export declare const sha: number;\n');
  write('dist/crypto/sha.js', "import { sha256 } from '@noble/hashes/sha2.js';\nexport const sha = sha256;\n");
  write('dist/crypto/types.d.ts', 'export type Sha = number;\n');
  write('dist/crypto/types.js', "import pg from 'pg';\nexport default pg;\n");
  write('dist/server/index.js', "import pg from 'pg';\nexport default pg;\n");
  write(
    'packages/client/package.json',
    JSON.stringify({
      version: client.version ?? '1.2.3',
      exports: { '.': entry('client/index'), './node': entry('client/node'), './package.json': './package.json' },
      dependencies: client.dependencies ?? { '@noble/hashes': '^2.0.0' },
      peerDependencies: { graphql: '^16.0.0' },
    }),
  );
}

const build = () => buildClientPackage(root, join(root, 'dist'), join(root, 'packages/client'));

afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('buildClientPackage', () => {
  it('copies exactly the files the entries reach: .js through .js imports, .d.ts through both; a type-only import brings no JavaScript', () => {
    setUp();
    expect(build()).toBe(8);
    const copied = readdirSync(join(root, 'packages/client/dist'), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name).slice(join(root, 'packages/client/dist').length + 1))
      .sort();
    // Not crypto/types.js (only a declaration imports it, and its `pg` is then no dependency), not server/.
    expect(copied).toEqual(['client/index.d.ts', 'client/index.js', 'client/node.d.ts', 'client/node.js', 'crypto/index.d.ts', 'crypto/index.js', 'crypto/sha.js', 'crypto/types.d.ts']);
  });

  it('refuses an imported library that is not declared, a declared one nothing imports, and another range than the root’s', () => {
    setUp({ dependencies: { pg: '^8.0.0' } });
    expect(build).toThrow(/imports @noble\/hashes, which is not in its dependencies[\s\S]*lists pg, which none of its files imports/);
    rmSync(root, { recursive: true, force: true });
    setUp({ dependencies: { '@noble/hashes': '^1.0.0' } });
    expect(build).toThrow(/@noble\/hashes is "\^1\.0\.0", the root package\.json says "\^2\.0\.0"/);
  });

  it('refuses a Node built-in reached from a browser entry, and another version than the root package’s', () => {
    setUp({ version: '1.2.4' });
    expect(build).toThrow(/version is 1\.2\.4, the root package's is 1\.2\.3/);
    rmSync(root, { recursive: true, force: true });
    setUp();
    write('dist/crypto/sha.js', "import { createHash } from 'node:crypto';\nimport { sha256 } from '@noble/hashes/sha2.js';\nexport const sha = sha256;\n");
    expect(build).toThrow(/entry \. reaches Node built-ins \(node:crypto\): it must run in browsers/);
  });

  it('reads static, dynamic and side-effect imports and re-exports; names the package of a deep import', () => {
    expect(specifiers("import a from 'a';\nexport { b } from './b.js';\nconst c = await import('c/x.js');\nimport 'd';\n").sort()).toEqual(['./b.js', 'a', 'c/x.js', 'd']);
    // Text that only looks like an import (a comment, a template string) is none.
    expect(specifiers("// import x from 'comment';\nconst t = `import { y } from '${name}'`;\nexport type T = import('./t.js').T;\n")).toEqual(['./t.js']);
    expect([packageOf('@noble/hashes/sha2.js'), packageOf('graphql/language/index.js'), packageOf('rxjs')]).toEqual(['@noble/hashes', 'graphql', 'rxjs']);
  });
});
