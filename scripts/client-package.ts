/**
 * @module
 * The light client package, `@veilgraph/client` (packages/client/), cut out of dist/.
 *
 * A browser app needs the client core and the crypto core, not the gateway: installing
 * `veilgraph` pulls Prisma, pg, Apollo Server, ws and the rest (~200 packages). This step
 * copies into packages/client/dist/ exactly the built files its entry points reach (their
 * relative imports, followed through the .js and the .d.ts), with dist/'s layout, and checks
 * packages/client/package.json against what those files import:
 * - every bare import is a dependency or a peer dependency of the client package, at the
 *   range the root package.json gives it (one version of each library for both packages);
 * - no dependency is listed that nothing imports;
 * - no entry but `./node` reaches a `node:` module (the others run in browsers);
 * - the version is the root package's.
 * A mismatch fails the build with what to change.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

interface PackageJson {
  version: string;
  exports: Record<string, string | { types: string; import: string; default: string }>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

/** Entry points that may use Node's built-in modules. */
const NODE_ENTRIES = new Set(['./node']);

/**
 * Every module specifier a built .js or .d.ts file names: static and dynamic imports,
 * re-exports, `import x = require()` and `import('…')` types, read by TypeScript's own
 * pre-processor (so a `from '…'` inside a comment or a string is not one).
 */
export function specifiers(code: string): string[] {
  return ts.preProcessFile(code, true, true).importedFiles.map((f) => f.fileName);
}

/** The package a bare specifier names (`@scope/name/sub` → `@scope/name`). */
export function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

interface Closure {
  readonly files: Set<string>;
  readonly packages: Set<string>;
  readonly builtins: Set<string>;
}

/** The files reachable from `entries` (paths under `dist`), and the packages and built-ins they import. */
function closure(dist: string, entries: readonly string[]): Closure {
  const files = new Set<string>();
  const packages = new Set<string>();
  const builtins = new Set<string>();
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    if (!existsSync(file)) throw new Error(`${relative(dist, file)} is imported but was not built`);
    files.add(file);
    for (const s of specifiers(readFileSync(file, 'utf8'))) {
      if (s.startsWith('.')) {
        const target = resolve(dirname(file), s);
        const declarations = target.replace(/\.js$/, '.d.ts');
        // A declaration file's imports are types: they need the other declarations, not the
        // JavaScript. A module's declarations come with its JavaScript.
        if (!file.endsWith('.d.ts')) queue.push(target);
        if (target.endsWith('.js') && (file.endsWith('.d.ts') || existsSync(declarations))) {
          // A declaration that names another must find it (a .js may have none: never for ours).
          if (!existsSync(declarations)) throw new Error(`${relative(dist, file)} imports ${s}, whose declarations were not built`);
          queue.push(declarations);
        }
      } else if (s.startsWith('node:')) {
        builtins.add(s);
      } else {
        packages.add(packageOf(s));
      }
    }
  }
  return { files, packages, builtins };
}

function targets(pkg: PackageJson): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [key, value] of Object.entries(pkg.exports)) {
    if (typeof value === 'string') continue; // ./package.json
    out.set(key, [value.import, value.types]);
  }
  return out;
}

/**
 * Copies the client package's files from `dist` into `packageDir/dist` and checks its
 * package.json (see the module comment). Returns how many files it copied.
 */
export function buildClientPackage(root: string, dist: string, packageDir: string): number {
  const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson;
  const pkg = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as PackageJson;
  const problems: string[] = [];
  if (pkg.version !== rootPkg.version) problems.push(`version is ${pkg.version}, the root package's is ${rootPkg.version}`);

  const all = new Set<string>();
  const imported = new Set<string>();
  for (const [key, paths] of targets(pkg)) {
    const reach = closure(
      dist,
      paths.map((p) => join(dist, relative('dist', p))),
    );
    for (const f of reach.files) all.add(f);
    for (const p of reach.packages) imported.add(p);
    if (!NODE_ENTRIES.has(key) && reach.builtins.size > 0) problems.push(`entry ${key} reaches Node built-ins (${[...reach.builtins].join(', ')}): it must run in browsers`);
  }

  const declared = { ...pkg.dependencies, ...pkg.peerDependencies };
  const rootRanges = { ...rootPkg.dependencies, ...rootPkg.peerDependencies };
  for (const name of [...imported].sort()) {
    if (!(name in declared)) problems.push(`imports ${name}, which is not in its dependencies: add "${name}": "${rootRanges[name] ?? '?'}"`);
    else if (declared[name] !== rootRanges[name]) problems.push(`${name} is "${declared[name]}", the root package.json says "${rootRanges[name] ?? '(absent)'}"`);
  }
  for (const name of Object.keys(declared)) if (!imported.has(name)) problems.push(`lists ${name}, which none of its files imports: remove it`);
  if (problems.length > 0) throw new Error(`packages/client/package.json:\n  ${problems.join('\n  ')}`);

  const out = join(packageDir, 'dist');
  rmSync(out, { recursive: true, force: true });
  for (const f of all) {
    const target = join(out, relative(dist, f));
    mkdirSync(dirname(target), { recursive: true });
    cpSync(f, target);
  }
  return all.size;
}
