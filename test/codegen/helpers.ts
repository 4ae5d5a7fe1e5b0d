/**
 * Runs veilgraph's code generator programmatically (`@graphql-codegen/cli`'s `generate`)
 * into temp directories, and typechecks what it wrote.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { generate } from '@graphql-codegen/cli';
import { REFERENCE_SDL_FILES } from '../helpers/reference-schema.js';
import { codegenConfig, GENERATED_FILES, type VeilgraphCodegenOptions } from '../../src/codegen/config.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The reference schema's SDL files (the built-in services' and the app's). */
export const SCHEMA: readonly string[] = REFERENCE_SDL_FILES;
export const OPERATIONS = join(ROOT, 'client/operations/**/*.graphql');

const dirs: string[] = [];

/**
 * A temp dir with a `node_modules` link to the repository's, so that what is generated
 * there resolves `@apollo/client` and friends as it would in the repository.
 */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `veilgraph-codegen-${prefix}-`));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  dirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export interface Generated {
  readonly outDir: string;
  /** File contents by GENERATED_FILES key. */
  readonly types: string;
  readonly hooks: string;
  readonly privacy: string;
}

/** Runs the generator with the project's configuration and writes the files to `outDir`. */
export async function runCodegen(options: Omit<VeilgraphCodegenOptions, 'silent'>): Promise<Generated> {
  const outputs = (await generate(codegenConfig({ ...options, silent: true }), true)) as { filename: string; content: string }[];
  const content = (name: string): string => {
    const file = outputs.find((o) => o.filename.endsWith(`/${name}`) || o.filename === name);
    if (!file) throw new Error(`codegen produced no ${name}: ${outputs.map((o) => o.filename).join(', ')}`);
    return file.content;
  };
  return {
    outDir: options.outDir,
    types: content(GENERATED_FILES.types),
    hooks: content(GENERATED_FILES.hooks),
    privacy: content(GENERATED_FILES.privacy),
  };
}

/** Imports a generated module (vitest transpiles the TypeScript). */
export async function importGenerated<T>(outDir: string, file: string): Promise<T> {
  return (await import(/* @vite-ignore */ pathToFileURL(join(outDir, file)).href)) as T;
}

const exec = promisify(execFile);

/**
 * `tsc --noEmit` over every `.ts` file of `dir` with the repository's compiler options
 * (strict, NodeNext). Resolves to tsc's diagnostics; empty when clean.
 */
export async function typecheck(dir: string, extra: Record<string, string> = {}): Promise<string> {
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(dir, name), text);
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ extends: join(ROOT, 'tsconfig.json'), compilerOptions: { types: [], noEmit: true }, include: ['./*.ts'] }),
  );
  try {
    await exec(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', dir], { cwd: dir });
    return '';
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    return `${err.stdout ?? ''}${err.stderr ?? ''}` || err.message;
  }
}
