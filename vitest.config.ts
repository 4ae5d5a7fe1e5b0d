import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

/**
 * `veilgraph/*` (what the examples and some tests import) from src/: package.json's `exports`
 * name the built files in dist/ (`npm run build`), and the tests run on the sources, by
 * tsconfig.json's `paths` (the same map the type checker uses). The package as installed is
 * tested by test/package/ (a packed tarball in a temporary project).
 */
const tsconfig = JSON.parse(readFileSync(new URL('./tsconfig.json', import.meta.url), 'utf8')) as { compilerOptions: { paths: Record<string, [string]> } };
const sourceAliases = Object.entries(tsconfig.compilerOptions.paths).map(([name, [file]]) => ({
  find: new RegExp(`^${name.replace(/\//g, '\\/')}$`),
  replacement: fileURLToPath(new URL(file, import.meta.url)),
}));

export default defineConfig({
  resolve: {
    // graphql 16 ships CommonJS (`main`) and ESM (`module`) builds. Node, and every
    // dependency it loads (Apollo, graphql-tools), gets the CommonJS one; Vite would pick
    // the ESM one for test files, and graphql refuses types from "another realm". One
    // instance for everybody: the one Node uses.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }, ...sourceAliases],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // In CI, also a line per test file as it starts and one per test that runs past a minute
    // (test/reporters/progress.ts): the end of the log then names whatever hangs.
    reporters: process.env.CI === 'true' ? ['default', './test/reporters/progress.ts'] : ['default'],
    // Tamper and property tests run thousands of crypto operations; give them room on
    // a shared 2-core machine instead of loosening what they check.
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
