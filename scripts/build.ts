/**
 * @module
 * `npm run build` (and `prepare`/`prepack`): the published package in dist/.
 *
 * 1. tsc with tsconfig.build.json: ESM JavaScript and .d.ts for src/ (without the demos and
 *    the Prisma development tool), mirroring src/'s layout. Run through the compiler API for
 *    one reason: the Prisma clients generated into src/server/storage/generated/ compile to
 *    JavaScript but tsc cannot emit their declarations (TS4094 on Prisma's `DbNull`-style
 *    exports). Those errors, and only those, are accepted; the generated clients' .d.ts are
 *    left out, and the build fails if any other published declaration imports them (the
 *    public types are declared without Prisma's: `PrismaClientHandle` in prisma-store.ts).
 * 2. The files modules read at run time by a path relative to themselves (`new URL('./x.graphql',
 *    import.meta.url)`) are copied next to the JavaScript. Paths that climb out of src/
 *    (`../../../prisma/migrations/`, the web app in web/dist/) resolve the same from dist/, whose
 *    depth matches src/'s: the package ships those directories (`files` in package.json).
 * 3. The light client package `@veilgraph/client` (packages/client/): the files its entry points
 *    reach, cut out of dist/, and its package.json checked against their imports
 *    (scripts/client-package.ts).
 * 4. The web app (web/build.ts) into web/dist/, served by `veilgraph serve` by default.
 *
 * Usage: `tsx scripts/build.ts [--no-web]`.
 */
import { chmodSync, cpSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { buildClientPackage } from './client-package.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SRC = join(ROOT, 'src');
const DIST = join(ROOT, 'dist');
const GENERATED = join('server', 'storage', 'generated') + sep;
/** TS4094: "Property '#private' of exported anonymous class type may not be private or protected." */
const GENERATED_DECLARATION_ERROR = 4094;

function say(line: string): void {
  process.stdout.write(`build: ${line}\n`);
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

function compile(): void {
  const configPath = join(ROOT, 'tsconfig.build.json');
  const read = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
  if (read.error) throw new Error(ts.formatDiagnostic(read.error, host));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, ROOT, undefined, configPath);
  if (parsed.errors.length > 0) throw new Error(ts.formatDiagnostics(parsed.errors, host));
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
  const emitted = program.emit();
  const all = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics];
  const accepted = (d: ts.Diagnostic): boolean =>
    d.code === GENERATED_DECLARATION_ERROR && d.file !== undefined && relative(SRC, d.file.fileName).startsWith(GENERATED);
  const errors = all.filter((d) => d.category === ts.DiagnosticCategory.Error && !accepted(d));
  if (errors.length > 0) throw new Error(`tsc failed:\n${ts.formatDiagnostics(errors, host)}`);
}

const host: ts.FormatDiagnosticsHost = {
  getCanonicalFileName: (f) => f,
  getCurrentDirectory: () => ROOT,
  getNewLine: () => '\n',
};

/** The generated clients' partial declarations go; no other declaration may import them. */
function checkDeclarations(): void {
  const generatedDist = join(DIST, GENERATED);
  for (const f of walk(generatedDist)) if (f.endsWith('.d.ts')) rmSync(f);
  const leaks = walk(DIST)
    .filter((f) => f.endsWith('.d.ts'))
    // Both `import … from '…'` and the inline `import('…').T` tsc writes for inferred types.
    .filter((f) => /(from\s*|import\(\s*)['"][^'"]*\/generated\/(sqlite|postgres)\//.test(readFileSync(f, 'utf8')));
  if (leaks.length > 0) {
    throw new Error(`declarations import the generated Prisma clients (not shipped as types): ${leaks.map((f) => relative(ROOT, f)).join(', ')}`);
  }
}

/** Files read at run time next to a module: the SDL of the services and of the reference app. */
function copyAssets(): number {
  const assets = walk(SRC).filter((f) => f.endsWith('.graphql') && !relative(SRC, f).startsWith('demo' + sep));
  for (const f of assets) cpSync(f, join(DIST, relative(SRC, f)));
  return assets.length;
}

async function main(argv: readonly string[]): Promise<void> {
  const unknown = argv.filter((a) => a !== '--no-web');
  if (unknown.length > 0) {
    process.stderr.write(`build: unknown argument ${unknown[0]} (accepted: --no-web)\n`);
    process.exit(2);
  }
  rmSync(DIST, { recursive: true, force: true });
  compile();
  checkDeclarations();
  const copied = copyAssets();
  // The bin: tsc keeps src/cli.ts's shebang; the mode makes `npm link`/local runs work too (npm sets it on install).
  chmodSync(join(DIST, 'cli.js'), 0o755);
  say(`dist/ (${walk(DIST).length} files, ${copied} .graphql)`);
  const clientFiles = buildClientPackage(ROOT, DIST, join(ROOT, 'packages', 'client'));
  say(`packages/client/dist/ (${clientFiles} files)`);
  if (!argv.includes('--no-web')) {
    const { buildWebApp } = await import('../web/build.js');
    const web = await buildWebApp();
    say(`${relative(ROOT, web.outDir)}/ (${web.files.length} files)`);
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`build: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});

