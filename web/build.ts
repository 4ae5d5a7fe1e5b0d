/**
 * @module
 * Builds the web app (`npm run web:build`; `npm start` runs it first):
 *
 * 1. codegen: typed documents, hooks and the privacy manifest from schema/ and
 *    client/operations/ into client/generated/ (the same as `npm run codegen`);
 * 2. esbuild: web/src/main.tsx and web/src/styles.css into content-hashed files in
 *    `<outDir>/assets/`, and web/index.html into `<outDir>/index.html` pointing at them.
 *
 * The gateway serves `<outDir>` at `/` (VEIL_WEB_DIR, default web/dist). Usage:
 * `tsx web/build.ts [outDir]`.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from '@graphql-codegen/cli';
import { build } from 'esbuild';
import codegenConfig from '../codegen.js';

export const WEB_ROOT = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(WEB_ROOT, '..');
export const DEFAULT_WEB_OUT_DIR = join(WEB_ROOT, 'dist');

export interface WebBuildOptions {
  /** Where index.html and assets/ go (emptied first). Default web/dist. */
  readonly outDir?: string;
  /** Skip codegen (client/generated must exist). */
  readonly skipCodegen?: boolean;
  /** Minified production React (default), or development React with its warnings (debugging). */
  readonly mode?: 'production' | 'development';
}

export interface WebBuildResult {
  readonly outDir: string;
  /** Paths under outDir, e.g. `assets/app-XXXX.js`. */
  readonly files: readonly string[];
}

/** `npm run codegen` (codegen.ts: client/operations into client/generated), from any cwd. */
export async function generateClientCode(): Promise<void> {
  await generate({ ...codegenConfig, cwd: ROOT, silent: true }, true);
}

export async function buildWebApp(options: WebBuildOptions = {}): Promise<WebBuildResult> {
  const outDir = resolve(options.outDir ?? DEFAULT_WEB_OUT_DIR);
  if (!options.skipCodegen) await generateClientCode();
  rmSync(outDir, { recursive: true, force: true });
  const assets = join(outDir, 'assets');
  mkdirSync(assets, { recursive: true });
  const result = await build({
    entryPoints: [
      { in: join(WEB_ROOT, 'src/main.tsx'), out: 'app' },
      { in: join(WEB_ROOT, 'src/styles.css'), out: 'app' },
    ],
    outdir: assets,
    entryNames: '[name]-[hash]',
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    jsx: 'automatic',
    minify: (options.mode ?? 'production') === 'production',
    sourcemap: 'linked',
    // React's production build; and no `process` in the browser.
    define: { 'process.env.NODE_ENV': JSON.stringify(options.mode ?? 'production') },
    metafile: true,
    logLevel: 'warning',
  });
  const outputs = Object.keys(result.metafile.outputs).map((p) => relative(outDir, resolve(ROOT, p)));
  const script = outputs.find((p) => p.endsWith('.js'));
  const style = outputs.find((p) => p.endsWith('.css'));
  if (!script || !style) throw new Error(`web build produced no script or stylesheet: ${outputs.join(', ')}`);
  const html = readFileSync(join(WEB_ROOT, 'index.html'), 'utf8')
    .replace('/assets/app.js', `/assets/${basename(script)}`)
    .replace('/assets/app.css', `/assets/${basename(style)}`);
  if (!html.includes(basename(script)) || !html.includes(basename(style))) throw new Error('web/index.html must reference /assets/app.js and /assets/app.css');
  writeFileSync(join(outDir, 'index.html'), html);
  return { outDir, files: ['index.html', ...outputs] };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  buildWebApp({ ...(process.argv[2] ? { outDir: process.argv[2] } : {}) }).then(
    (r) => console.log(`web app built in ${Date.now() - started} ms: ${relative(process.cwd(), r.outDir) || '.'} (${r.files.length} files)`),
    (e: unknown) => {
      console.error(`web build failed: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(1);
    },
  );
}
