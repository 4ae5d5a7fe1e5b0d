/**
 * The examples in `examples/` are apps a stranger would write: each has its own
 * package.json that depends on `veilgraph` (`file:../..`) and imports only its public entry
 * points (`veilgraph/server`, `veilgraph/client`, …). `npm install` in an example links
 * `node_modules/veilgraph` to this repository; the tests make the same link, so the
 * examples run from the repository's own node_modules with nothing installed in them, and
 * resolve `veilgraph/*` through the package's `exports` exactly as they would once installed.
 */
import { lstatSync, mkdirSync, readlinkSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The repository root (where veilgraph's package.json is). */
export const REPO_ROOT = resolve(import.meta.dirname, '../..');

/** `examples/<name>` as an absolute path. */
export function exampleDir(name: string): string {
  return join(REPO_ROOT, 'examples', name);
}

/**
 * Makes `examples/<name>/node_modules/veilgraph` a link to the repository, as `npm install`
 * of `file:../..` does, and returns the example's directory. A link that is already there
 * is kept; anything else in its place is an error (never replaced: it may be someone's install).
 */
export function linkVeilgraph(name: string): string {
  const dir = exampleDir(name);
  const link = join(dir, 'node_modules', 'veilgraph');
  const target = '../../..';
  try {
    const st = lstatSync(link);
    if (st.isSymbolicLink() && resolve(join(dir, 'node_modules'), readlinkSync(link)) === REPO_ROOT) return dir;
    throw new Error(`${link} exists and is not a link to ${REPO_ROOT}: remove it (npm install in the example makes the same link)`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  symlinkSync(target, link, 'dir');
  return dir;
}
