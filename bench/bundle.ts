/**
 * @module
 * `npm run bench -- --only bundle`: what the browser client costs in an app's bundle.
 *
 * Each case is a small app entry bundled by esbuild for the browser (ESM, minified,
 * tree-shaken, no Node built-ins: one would fail the bundle), from the same sources the
 * published files are compiled from. Sizes are bytes of the minified bundle and of the same
 * bytes gzipped (level 9). Sizes do not depend on the machine's load; the baselines are
 * still bundled in the same run with the same settings, so the ratios compare like with like:
 * - the crypto primitives alone (XChaCha20-Poly1305, X25519, Ed25519, SHA-256/HKDF from
 *   @noble, which a user would otherwise pick to encrypt fields themselves);
 * - graphql's parse/print/visit alone (every GraphQL client ships them already: the cases
 *   that leave graphql out of the bundle assume the app has it, as it does).
 */
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { fmtRatio, table } from './harness.js';

/** Kilobytes (1,000 bytes, as bundle sizes are usually quoted) with one decimal. */
function kb(n: number): string {
  return `${(n / 1000).toFixed(1)} KB`;
}

const ROOT = fileURLToPath(new URL('../', import.meta.url));

interface BundleCase {
  readonly name: string;
  readonly code: string;
  /** Packages left out of the bundle: the app brings them. */
  readonly external?: readonly string[];
}

export interface BundleSize {
  readonly name: string;
  readonly minified: number;
  readonly gzipped: number;
}

const CLIENT = './src/client/index.ts';
/** The seal/open core every integration uses, with the portable crypto backend. */
const CORE = `export { createVeilPipeline, withVeilFields, openResult, staticClientKeys } from '${CLIENT}';\nexport { selectPortableBackend } from './src/crypto/index.ts';`;

/** The cases: the seal/open core first (its size is the one the performance target names). */
export const BUNDLE_CASES: readonly BundleCase[] = [
  {
    name: 'core: seal/open pipeline + crypto (graphql from the app)',
    code: CORE,
    external: ['graphql'],
  },
  {
    name: 'core with graphql bundled',
    code: CORE,
  },
  {
    name: 'core + Apollo link (@apollo/client, rxjs, graphql from the app)',
    code: `export { createPrivacyLink } from './src/client/apollo.ts';\nexport { staticClientKeys } from '${CLIENT}';\nexport { selectPortableBackend } from './src/crypto/index.ts';`,
    external: ['graphql', '@apollo/client', 'rxjs'],
  },
  {
    name: 'core + urql exchange (@urql/core, wonka, graphql from the app)',
    code: `export { veilExchange } from './src/client/urql.ts';\nexport { staticClientKeys } from '${CLIENT}';\nexport { selectPortableBackend } from './src/crypto/index.ts';`,
    external: ['graphql', '@urql/core', 'wonka'],
  },
  {
    name: 'whole client entry (accounts, devices, sharing, messaging, IndexedDB store; graphql from the app)',
    code: `export * from '${CLIENT}';\nexport * from './src/client/graphql-ws.ts';\nexport * from './src/crypto/index.ts';`,
    external: ['graphql', 'graphql-ws'],
  },
  {
    name: 'baseline: @noble primitives alone',
    code: `export { xchacha20poly1305 } from '@noble/ciphers/chacha.js';\nexport { x25519, ed25519 } from '@noble/curves/ed25519.js';\nexport { sha256 } from '@noble/hashes/sha2.js';\nexport { hkdf } from '@noble/hashes/hkdf.js';`,
  },
  {
    name: 'baseline: graphql parse/print/visit alone',
    code: `export { parse, print, visit } from 'graphql';`,
  },
];

/** Bundles one case for the browser; a Node built-in in it fails the bundle. */
export async function bundleSize(c: BundleCase): Promise<BundleSize> {
  const result = await build({
    stdin: { contents: c.code, resolveDir: ROOT, loader: 'ts', sourcefile: 'app.ts' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    treeShaking: true,
    external: [...(c.external ?? [])],
    logLevel: 'silent',
  });
  const bytes = result.outputFiles[0]!.contents;
  return { name: c.name, minified: bytes.length, gzipped: gzipSync(bytes, { level: 9 }).length };
}

/** Sizes do not vary between runs: `--quick` and the sampling options change nothing here. */
export async function runBundleBench(): Promise<BundleSize[]> {
  const sizes: BundleSize[] = [];
  for (const c of BUNDLE_CASES) sizes.push(await bundleSize(c));
  const noble = sizes.find((s) => s.name.startsWith('baseline: @noble'))!;
  console.log('## bundle');
  console.log('');
  console.log('esbuild, browser, ESM, minified, tree-shaken; gzip level 9. Ratios: gzipped size / the @noble primitives alone.');
  console.log('');
  console.log(
    table(
      ['case', 'minified', 'gzipped', 'gzipped / noble'],
      sizes.map((s) => [s.name, kb(s.minified), kb(s.gzipped), fmtRatio(s.gzipped / noble.gzipped)]),
      ['l', 'r', 'r', 'r'],
    ),
  );
  console.log('');
  return sizes;
}
