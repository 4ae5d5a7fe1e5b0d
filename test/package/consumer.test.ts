// The package as installed (issue 16, item 5): `npm pack` of a copy of this working tree,
// the tarball installed into a temporary project outside the repository, then
// (a) plain `node` imports every public entry point (package.json `exports`),
// (b) `tsc` type-checks a consumer file against the shipped .d.ts with strict settings,
//     the browser consumer of veilgraph/client in a project without any client library
//     (@apollo/client, rxjs, @urql/core, wonka are optional peer dependencies), and the
//     Apollo and urql entries in a second project that installs those libraries,
// publint and @arethetypeswrong/cli report nothing,
// the light client package @veilgraph/client (packages/client/) installed alone: only the
//     client's libraries, every entry imported by node, type-checked with the DOM lib, and
//     (c) bundled by esbuild for the browser with no Node built-ins,
// (d) a consumer's own codegen.ts runs veilgraph/codegen beside the client preset,
// (e) `npx veilgraph serve` starts on the embedded default (SQLite) and answers /health,
//     and serves the shipped web app.
// It fails, never skips, when packing or installing fails. The install reads the npm cache
// (--prefer-offline); see test/helpers/package.ts for what --ignore-scripts skips and why.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command, installConsumer, npmEnv, npmInstall, npxServe, packClient, packFreshCopy, pinned, REPO_ROOT, tempDir, type ServedGateway } from '../helpers/package.js';

interface PackageJson {
  version: string;
  exports: Record<string, string | { types: string; import: string; default: string }>;
  scripts?: Record<string, string>;
  bin?: Record<string, string>;
  files?: string[];
}

const execFileAsync = promisify(execFile);
const work = tempDir('veilgraph-package-');
const consumer = join(work, 'consumer');
/** A second consumer with the optional peer dependencies of the client integrations installed. */
const withPeers = join(work, 'consumer-peers');
/** Optional peer dependencies: only these entries need them, and they are not installed for the others. */
const PEER_ENTRIES: Record<string, readonly string[]> = {
  'veilgraph/client/apollo': ['@apollo/client', 'rxjs'],
  'veilgraph/client/urql': ['@urql/core', 'wonka'],
};
const PEERS = [...new Set(Object.values(PEER_ENTRIES).flat())];
let tarball: string;
let packed: PackageJson;
let served: ServedGateway | undefined;
let serverInstall: { packages: string[]; bytes: number };

/** A measured figure for the run's log (sizes are reported, not asserted: docs/performance.md). */
function report(line: string): void {
  process.stdout.write(`package: ${line}\n`);
}

/** The entry points a consumer imports: every key of `exports` but package.json itself. */
function entryPoints(pkg: PackageJson): string[] {
  return Object.keys(pkg.exports)
    .filter((k) => k !== './package.json')
    .map((k) => `veilgraph${k.slice(1)}`);
}

beforeAll(async () => {
  tarball = await packFreshCopy(work);
  // The tarball alone first (what `npm install veilgraph` brings), then TypeScript and Node's
  // types for (b), and no client library.
  await installConsumer(consumer, tarball, []);
  serverInstall = await installed(consumer);
  await npmInstall(consumer, pinned(['typescript', '@types/node']));
  packed = JSON.parse(readFileSync(join(consumer, 'node_modules/veilgraph/package.json'), 'utf8')) as PackageJson;
}, 420_000);

afterAll(async () => {
  if (served?.child.pid !== undefined && served.child.exitCode === null) {
    const pid = served.child.pid;
    const exited = new Promise((resolve) => served!.child.once('exit', resolve));
    process.kill(-pid, 'SIGTERM');
    // A gateway that does not stop in 10 s is killed: the temporary project goes either way.
    const killer = setTimeout(() => {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 10_000);
    await exited;
    clearTimeout(killer);
  }
  rmSync(work, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('has no install scripts, a files list without tests or web sources, and exports with types/import/default into dist', async () => {
    const scripts = packed.scripts ?? {};
    for (const s of ['preinstall', 'install', 'postinstall']) expect(scripts[s], s).toBeUndefined();
    const { stdout } = await command('tar', ['-tzf', tarball], work);
    const files = stdout.split('\n').filter((f) => f !== '');
    expect(files.filter((f) => /^package\/(test|src|web\/src|examples|bench)\//.test(f))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    for (const f of ['dist/cli.js', 'dist/server/veilgraph.graphql', 'dist/server/services/sign-in/auth.graphql', 'web/dist/index.html']) expect(files).toContain(`package/${f}`);
    expect(files.some((f) => /^package\/prisma\/migrations\/sqlite\/\d{4}_\w+\.sql$/.test(f))).toBe(true);
    expect(files.some((f) => /^package\/prisma\/migrations\/postgres\/\d{4}_\w+\.sql$/.test(f))).toBe(true);
    expect(packed.bin).toEqual({ veilgraph: './dist/cli.js' });
    for (const [key, target] of Object.entries(packed.exports)) {
      if (key === './package.json') continue;
      expect(target, key).toEqual({ types: expect.stringMatching(/^\.\/dist\/.+\.d\.ts$/), import: expect.stringMatching(/^\.\/dist\/.+\.js$/), default: expect.stringMatching(/^\.\/dist\/.+\.js$/) });
      if (typeof target === 'string') continue;
      for (const f of [target.types, target.import]) expect(files, `${key}: ${f}`).toContain(`package/${f.slice(2)}`);
    }
  });

  it('publint and arethetypeswrong report nothing (ESM-only profile: the package has no CommonJS build)', { timeout: 120_000 }, async () => {
    const attw = await lintPackage(tarball, 'unpacked');
    for (const e of entryPoints(packed)) expect(attw).toContain(`"${e}"`);
  });

  it('a server install brings the server: Prisma, SQLite, Apollo Server, ws, pg (sizes reported)', () => {
    for (const p of ['veilgraph', 'graphql', '@prisma/client', '@prisma/adapter-better-sqlite3', 'better-sqlite3', '@apollo/server', 'ws', 'pg']) expect(serverInstall.packages, p).toContain(p);
    report(`npm install veilgraph: ${serverInstall.packages.length} packages, ${serverInstall.bytes} bytes (du -sb node_modules)`);
  });

  it('declares the client libraries as optional peer dependencies, which a plain install does not pull', () => {
    const pkg = packed as PackageJson & { dependencies?: Record<string, string>; peerDependencies?: Record<string, string>; peerDependenciesMeta?: Record<string, { optional?: boolean }> };
    for (const peer of PEERS) {
      expect(pkg.peerDependencies?.[peer], peer).toBeDefined();
      expect(pkg.peerDependenciesMeta?.[peer], peer).toEqual({ optional: true });
      expect(pkg.dependencies?.[peer], peer).toBeUndefined();
      expect(existsSync(join(consumer, 'node_modules', peer)), peer).toBe(false);
    }
  });

  it('(a) plain node imports every public entry point that needs no optional peer dependency', { timeout: 120_000 }, async () => {
    const entries = entryPoints(packed).filter((e) => PEER_ENTRIES[e] === undefined);
    expect(entries).toEqual(expect.arrayContaining(['veilgraph/crypto', 'veilgraph/crypto/node', 'veilgraph/privacy', 'veilgraph/server', 'veilgraph/client', 'veilgraph/client/graphql-ws', 'veilgraph/client/node']));
    const names = await importAll(consumer, entries);
    for (const e of entries) expect(names[e]?.length, e).toBeGreaterThan(0);
  });

  it('(b) tsc (strict, exactOptionalPropertyTypes, noPropertyAccessFromIndexSignature, skipLibCheck false, no DOM lib) checks a server consumer against the shipped types', { timeout: 180_000 }, async () => {
    const files = (await typecheck('server.ts', ['ES2023'], consumer)).split('\n');
    // The shipped declarations, not the repository's sources.
    for (const f of ['crypto/index', 'crypto/backends/node', 'privacy/index', 'server/index', 'client/node']) expect(files).toContain(join(consumer, `node_modules/veilgraph/dist/${f}.d.ts`));
    expect(files.filter((f) => f.includes('/veilgraph/') && !f.endsWith('.d.ts'))).toEqual([]);
  });

  it('(b) the same settings with the DOM lib check a browser consumer of veilgraph/client, with no client library installed', { timeout: 180_000 }, async () => {
    const files = (await typecheck('browser.ts', ['ES2023', 'DOM'], consumer)).split('\n');
    for (const f of ['client/index', 'client/graphql-ws']) expect(files).toContain(join(consumer, `node_modules/veilgraph/dist/${f}.d.ts`));
    for (const peer of PEERS) expect(files.filter((f) => f.includes(`/node_modules/${peer}/`)), peer).toEqual([]);
  });

  it('with @apollo/client, rxjs, @urql/core and wonka installed: node imports veilgraph/client/apollo and veilgraph/client/urql, and tsc checks a consumer of both', { timeout: 420_000 }, async () => {
    await installConsumer(withPeers, tarball, pinned(['typescript', '@types/node', ...PEERS]));
    const entries = Object.keys(PEER_ENTRIES);
    for (const e of entries) expect(entryPoints(packed), e).toContain(e);
    const names = await importAll(withPeers, entries);
    for (const e of entries) expect(names[e]?.length, e).toBeGreaterThan(0);
    // @apollo/client 4's declarations fail exactOptionalPropertyTypes and NodeNext resolution (@wry/caches) on their own.
    const files = (await typecheck('integrations.ts', ['ES2023', 'DOM'], withPeers, { foreignErrors: /^node_modules\/(@apollo\/client|@wry)\// })).split('\n');
    for (const f of ['client/apollo', 'client/urql']) expect(files).toContain(join(withPeers, `node_modules/veilgraph/dist/${f}.d.ts`));
  });

  it('(e) npx veilgraph serve starts on the embedded default and answers /health (and serves the shipped web app)', { timeout: 120_000 }, async () => {
    const env: NodeJS.ProcessEnv = { ...npmEnv(), PORT: '0', VEIL_DATA_DIR: join(work, 'data'), LOG_LEVEL: 'warn' };
    served = await npxServe(consumer, env);
    const health = await fetch(`${served.url}/health`);
    expect(health.status).toBe(200);
    const page = await fetch(`${served.url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script');
    const gql = await fetch(`${served.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }) });
    expect(await gql.json()).toEqual({ data: { __typename: 'Query' } });
    // The README's other two lines: `npx veilgraph health` and `npx veilgraph --help`.
    // As the README writes it (no URL: http://127.0.0.1:$PORT/health), with the port it got.
    const port = new URL(served.url).port;
    const healthy = await command('npx', ['--no-install', 'veilgraph', 'health'], consumer, { ...env, PORT: port });
    expect(healthy.stdout).toBe(`healthy: http://127.0.0.1:${port}/health\n`);
    await expect(command('npx', ['--no-install', 'veilgraph', 'health', 'http://127.0.0.1:9/health'], consumer, env)).rejects.toThrow(/exit 1[\s\S]*unhealthy: http:\/\/127\.0\.0\.1:9\/health \(no answer\)/);
    const help = await command('npx', ['--no-install', 'veilgraph', '--help'], consumer, env);
    for (const line of ['serve', 'keys rotate|reseal', 'backup <dest>', 'account reset <username>', 'health [url]']) expect(help.stdout).toContain(line);
    await expect(command('npx', ['--no-install', 'veilgraph', '--no-such-flag'], consumer, env)).rejects.toThrow(/exit 2[\s\S]*Unknown option '--no-such-flag'/);
  });
});

/** Plain `node` in `dir` imports each of `entries`; returns the names each exports. */
async function importAll(dir: string, entries: readonly string[]): Promise<Record<string, string[]>> {
  const script = `const out = {}; for (const e of ${JSON.stringify(entries)}) out[e] = Object.keys(await import(e)); console.log(JSON.stringify(out));`;
  const { stdout } = await command(process.execPath, ['--input-type=module', '-e', script], dir);
  return JSON.parse(stdout) as Record<string, string[]>;
}

/**
 * publint on the unpacked tarball (into `work/<unpackDir>`) must say "All good!"; then
 * @arethetypeswrong/cli, which exits 1 on any problem in the resolutions an ESM-only package
 * serves (node16 from ESM, bundler), and `command` throws on that. node10 and require() are
 * out of scope by design. Returns attw's table.
 */
async function lintPackage(tgz: string, unpackDir: string): Promise<string> {
  const unpacked = join(work, unpackDir);
  mkdirSync(unpacked);
  await command('tar', ['-xzf', tgz, '-C', unpacked], work);
  const publint = await command(process.execPath, [join(REPO_ROOT, 'node_modules/publint/src/cli.js'), join(unpacked, 'package')], work);
  expect(publint.stdout).toContain('All good!');
  return (await command(process.execPath, [join(REPO_ROOT, 'node_modules/@arethetypeswrong/cli/dist/index.js'), tgz, '--profile', 'esm-only', '--format', 'table-flipped'], work)).stdout;
}

/**
 * Type-checks test/package/consumer/<file> in the project `dir` with `lib` and the strict
 * settings; returns the files tsc read (--listFiles). `types`: the @types packages it sees
 * (Node's by default). `foreignErrors`: a peer library's own declarations may not pass these
 * settings (skipLibCheck false reads them too); its errors, and only those, are accepted:
 * none in veilgraph's or the consumer's files.
 */
async function typecheck(file: string, lib: readonly string[], dir: string, options: { types?: readonly string[]; foreignErrors?: RegExp } = {}): Promise<string> {
  writeFileSync(join(dir, file), readFileSync(join(import.meta.dirname, 'consumer', file)));
  const config = `tsconfig.${file.replace(/\.ts$/, '')}.json`;
  writeFileSync(
    join(dir, config),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        lib,
        types: options.types ?? ['node'],
        strict: true,
        exactOptionalPropertyTypes: true,
        noPropertyAccessFromIndexSignature: true,
        noUncheckedIndexedAccess: true,
        skipLibCheck: false,
        noEmit: true,
      },
      files: [file],
    }),
  );
  const args = [join(dir, 'node_modules/typescript/bin/tsc'), '-p', config, '--listFiles'];
  const { foreignErrors } = options;
  if (foreignErrors === undefined) return (await command(process.execPath, args, dir, process.env, 170_000)).stdout;
  const { stdout } = await execFileAsync(process.execPath, args, { cwd: dir, timeout: 170_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }).catch((e: unknown) => e as { stdout: string });
  const errors = stdout.split('\n').filter((l) => /\): error TS\d+/.test(l));
  expect(errors.filter((l) => !foreignErrors.test(l))).toEqual([]);
  return stdout;
}

/** What `npm install` put in a project: its packages (node_modules entries of the lockfile) and bytes. */
async function installed(dir: string): Promise<{ packages: string[]; bytes: number }> {
  const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
  const packages = Object.keys(lock.packages)
    .filter((k) => k.startsWith('node_modules/'))
    .map((k) => k.slice(k.lastIndexOf('node_modules/') + 'node_modules/'.length))
    .sort();
  const { stdout } = await command('du', ['-sb', join(dir, 'node_modules')], dir);
  return { packages, bytes: Number(stdout.split('\t')[0]) };
}

describe('the light client package @veilgraph/client, installed alone', () => {
  const clientOnly = join(work, 'client-only');
  let clientTarball: string;
  let clientPkg: PackageJson & { dependencies?: Record<string, string>; peerDependencies?: Record<string, string> };

  beforeAll(async () => {
    clientTarball = await packClient(work);
    await installConsumer(clientOnly, clientTarball, []);
    clientPkg = JSON.parse(readFileSync(join(clientOnly, 'node_modules/@veilgraph/client/package.json'), 'utf8')) as typeof clientPkg;
  }, 300_000);

  it('pulls the libraries of the client and crypto cores only, none of the server (Prisma, pg, Apollo Server, ws, SQLite)', async () => {
    const { packages, bytes } = await installed(clientOnly);
    for (const server of ['prisma', '@prisma/client', '@prisma/adapter-pg', '@prisma/adapter-better-sqlite3', 'pg', '@apollo/server', 'ws', 'better-sqlite3', 'jose', 'veilgraph']) expect(packages, server).not.toContain(server);
    // Its own dependencies and graphql (a peer every GraphQL client has), with theirs: the
    // noble/scure family and nothing else.
    expect(packages).toEqual(expect.arrayContaining(['@veilgraph/client', 'graphql', 'graphql-ws', '@noble/ciphers', '@noble/curves', '@noble/hashes', '@scure/bip39']));
    for (const p of packages) expect(p, p).toMatch(/^(@veilgraph\/client|graphql|graphql-ws|@noble\/\w+|@scure\/\w+)$/);
    expect(bytes).toBeGreaterThan(0);
    report(`npm install @veilgraph/client: ${packages.length} packages, ${bytes} bytes (du -sb node_modules)`);
  });

  it('ships the same version as veilgraph, its files only under dist/, exports with types/import/default', async () => {
    expect(clientPkg.version).toBe(packed.version);
    const { stdout } = await command('tar', ['-tzf', clientTarball], work);
    const files = stdout.split('\n').filter((f) => f !== '');
    expect(files.filter((f) => !/^package\/(dist\/.+\.(js|d\.ts)|package\.json|README\.md|LICENSE)$/.test(f)).slice(0, 10)).toEqual([]);
    expect(files.filter((f) => /^package\/dist\/((server|app|codegen)\/|cli\.)/.test(f)).slice(0, 10)).toEqual([]);
    for (const [key, target] of Object.entries(clientPkg.exports)) {
      if (key === './package.json') continue;
      expect(target, key).toEqual({ types: expect.stringMatching(/^\.\/dist\/.+\.d\.ts$/), import: expect.stringMatching(/^\.\/dist\/.+\.js$/), default: expect.stringMatching(/^\.\/dist\/.+\.js$/) });
    }
  });

  it('plain node imports each entry that needs no optional peer; publint and arethetypeswrong report nothing', { timeout: 120_000 }, async () => {
    const entries = Object.keys(clientPkg.exports)
      .filter((k) => k !== './package.json' && k !== './apollo' && k !== './urql')
      .map((k) => `@veilgraph/client${k.slice(1)}`);
    expect(entries).toEqual(['@veilgraph/client', '@veilgraph/client/graphql-ws', '@veilgraph/client/node', '@veilgraph/client/crypto']);
    const names = await importAll(clientOnly, entries);
    for (const e of entries) expect(names[e]?.length, e).toBeGreaterThan(0);
    await lintPackage(clientTarball, 'client-unpacked');
  });

  it('(b) tsc (strict, exactOptionalPropertyTypes, noPropertyAccessFromIndexSignature, skipLibCheck false, DOM lib) checks a browser app against its types', { timeout: 300_000 }, async () => {
    await npmInstall(clientOnly, pinned(['typescript', '@types/node']));
    const stdout = await typecheck('client-only.ts', ['ES2023', 'DOM'], clientOnly, { types: [] });
    expect(stdout.split('\n')).toContain(join(clientOnly, 'node_modules/@veilgraph/client/dist/client/index.d.ts'));
  });

  it('with the optional peers installed beside it, node imports @veilgraph/client/apollo and @veilgraph/client/urql', { timeout: 300_000 }, async () => {
    await npmInstall(clientOnly, pinned(PEERS));
    const names = await importAll(clientOnly, ['@veilgraph/client/apollo', '@veilgraph/client/urql']);
    expect(names['@veilgraph/client/apollo']).toContain('createPrivacyLink');
    expect(names['@veilgraph/client/urql']).toContain('veilExchange');
  });

  it('(c) esbuild bundles the browser app for the browser: no Node built-in is reached', { timeout: 120_000 }, async () => {
    const out = join(work, 'bundle.js');
    const meta = join(work, 'bundle-meta.json');
    // platform=browser: a Node built-in cannot be resolved there and fails the bundle; the
    // metafile shows nothing was left out as external either.
    const { stderr } = await command(join(REPO_ROOT, 'node_modules/.bin/esbuild'), ['client-only.ts', '--bundle', '--format=esm', '--platform=browser', '--minify', `--outfile=${out}`, `--metafile=${meta}`, '--log-level=warning'], clientOnly);
    expect(stderr).toBe('');
    const inputs = (JSON.parse(readFileSync(meta, 'utf8')) as { inputs: Record<string, { imports: { path: string; external?: boolean }[] }> }).inputs;
    expect(Object.values(inputs).flatMap((i) => i.imports.filter((x) => x.external === true).map((x) => x.path))).toEqual([]);
    expect(Object.keys(inputs).some((f) => f.includes('node_modules/@veilgraph/client/dist/client/'))).toBe(true);
    // The size, reported (bench/bundle.ts measures the cases docs/performance.md lists).
    const bytes = readFileSync(out);
    report(`@veilgraph/client browser bundle of test/package/consumer/client-only.ts: ${bytes.length} bytes minified, ${gzipSync(bytes, { level: 9 }).length} gzipped`);
  });
});

describe('(d) a consumer codegen.ts names veilgraph/codegen beside the client preset', () => {
  /** A third consumer: veilgraph, GraphQL Code Generator with the client preset, graphql and TypeScript. */
  const project = join(work, 'consumer-codegen');
  const SCHEMA = [
    'type Query { me: Profile }',
    'type Mutation { updateProfile(id: ID!, input: ProfileInput!): Profile }',
    'type Profile @owner(field: "ownerId") {',
    '  id: ID!',
    '  ownerId: ID!',
    '  name: String',
    '  email: String @privacy(level: SERVER, searchable: true)',
    '  bio: String @privacy(level: SHARED)',
    '  diary: String @privacy(level: PRIVATE)',
    '}',
    'input ProfileInput @writes(type: "Profile") { name: String, bio: String, diary: String }',
  ].join('\n');
  const OPERATIONS = [
    'query me { me { id name email bio diary } }',
    'mutation updateProfile($id: ID!, $input: ProfileInput!) { updateProfile(id: $id, input: $input) { id bio } }',
  ].join('\n');
  const CODEGEN = [
    "import type { CodegenConfig } from '@graphql-codegen/cli';",
    'const config: CodegenConfig = {',
    "  schema: 'schema/*.graphql',",
    "  documents: 'src/**/*.graphql',",
    '  generates: {',
    "    'src/gql/': { preset: 'client', config: { scalars: { Sealed: 'string' } } },",
    "    'src/gql/veilgraph.ts': { plugins: ['veilgraph/codegen'] },",
    '  },',
    '};',
    'export default config;',
  ].join('\n');

  async function codegen(): Promise<{ code: number; output: string }> {
    // npmEnv drops vitest's NODE_ENV=test, under which codegen's CLI prints nothing; and without CI,
    // under which it prints a failure without its message (docs/codegen.md).
    const env = npmEnv();
    delete env['CI'];
    const npx = await execFileAsync('npx', ['--no-install', 'graphql-codegen', '--config', 'codegen.ts'], { cwd: project, timeout: 170_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8', env }).then(
      (r) => ({ code: 0, output: `${r.stdout}\n${r.stderr}` }),
      (e: unknown) => {
        const r = e as { code?: number; stdout?: string; stderr?: string };
        return { code: typeof r.code === 'number' ? r.code : -1, output: `${r.stdout ?? ''}\n${r.stderr ?? ''}` };
      },
    );
    return npx;
  }

  beforeAll(async () => {
    await installConsumer(project, tarball, pinned(['@graphql-codegen/cli', '@graphql-codegen/client-preset', 'graphql', 'typescript']));
    mkdirSync(join(project, 'schema'));
    mkdirSync(join(project, 'src'));
    writeFileSync(join(project, 'schema', 'profile.graphql'), SCHEMA);
    writeFileSync(join(project, 'src', 'profile.graphql'), OPERATIONS);
    writeFileSync(join(project, 'codegen.ts'), CODEGEN);
  }, 420_000);

  it('npx graphql-codegen writes the client preset files and veilgraph.ts with the manifest and the wire SDL', { timeout: 180_000 }, async () => {
    const run = await codegen();
    expect(run.output).not.toContain('Unable to find template plugin');
    expect(run.code, run.output).toBe(0);
    for (const f of ['gql.ts', 'graphql.ts', 'index.ts']) expect(existsSync(join(project, 'src/gql', f)), f).toBe(true);
    // The client preset types sealed fields as what the application reads (the source schema's types, no Sealed).
    const types = readFileSync(join(project, 'src/gql/graphql.ts'), 'utf8');
    expect(types).toContain('export type MeQuery');
    expect(types).toMatch(/export type MeQuery = \{ me: \{ id: string, name: string \| null, email: string \| null, bio: string \| null, diary: string \| null \} \| null \}/);
    expect(types).not.toContain('Sealed');
    const emitted = readFileSync(join(project, 'src/gql/veilgraph.ts'), 'utf8');
    expect(emitted).toContain('// Checked against the wire schema: query me, mutation updateProfile (src/profile.graphql).');
    // The emitted module as a program imports it: plain node strips nothing here, so evaluate it through TypeScript's transpiler.
    const script = [
      "import ts from 'typescript';",
      "import { readFileSync } from 'node:fs';",
      "const js = ts.transpileModule(readFileSync('src/gql/veilgraph.ts', 'utf8'), { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;",
      "const m = await import('data:text/javascript,' + encodeURIComponent(js));",
      'console.log(JSON.stringify({ manifest: m.privacyManifest, wire: m.wireSchemaSDL }));',
    ].join('\n');
    const { stdout } = await command(process.execPath, ['--input-type=module', '-e', script], project);
    const { manifest, wire } = JSON.parse(stdout) as { manifest: { objects: Record<string, { owner: string; fields: Record<string, { level: string }> }>; inputs: Record<string, { writes: string }> }; wire: string };
    const levels = Object.fromEntries(Object.entries(manifest.objects['Profile']?.fields ?? {}).map(([k, v]) => [k, v.level]));
    expect(levels).toEqual({ id: 'PUBLIC', ownerId: 'PUBLIC', name: 'PUBLIC', email: 'SERVER', bio: 'SHARED', diary: 'PRIVATE' });
    expect(manifest.objects['Profile']?.owner).toBe('ownerId');
    expect(manifest.inputs['ProfileInput']?.writes).toBe('Profile');
    expect(wire).toMatch(/bio: Sealed\n/);
    expect(wire).toMatch(/diary: Sealed\n/);
    expect(wire).toMatch(/email: String\n/);
    expect(wire).toContain('scalar Sealed');
  });

  it('a document the wire schema refuses fails codegen, naming the file, the operation and the problem', { timeout: 180_000 }, async () => {
    writeFileSync(join(project, 'src', 'bad.graphql'), 'mutation setBio($id: ID!, $bio: String) {\n  updateProfile(id: $id, input: { bio: $bio }) { id }\n}\n');
    try {
      const run = await codegen();
      expect(run.code, run.output).not.toBe(0);
      expect(run.output).toContain('veilgraph/codegen: the gateway would refuse');
      expect(run.output).toContain('src/bad.graphql:1:27 (mutation setBio): Variable "$bio" of type "String" used in position expecting type "Sealed"');
    } finally {
      rmSync(join(project, 'src', 'bad.graphql'));
    }
  });
});
