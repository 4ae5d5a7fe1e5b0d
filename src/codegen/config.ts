/**
 * @module
 * The GraphQL Code Generator configuration for a veilgraph client, as a function so that
 * `codegen.ts` (the `npm run codegen` entry) and the tests build the same one.
 *
 * Generated from the annotated **source** SDL (`schema/*.graphql` plus `PRIVACY_SDL`), never
 * from introspection: the source schema carries the applied `@privacy` directives the
 * manifest is derived from, and types sealed fields as what the application sees (`bio:
 * String`), not as the `Sealed` scalar that travels on the wire.
 */
import { join } from 'node:path';
import type { CodegenConfig } from '@graphql-codegen/cli';
import { PRIVACY_SDL } from '../privacy/sdl.js';
import { HEADER_PLUGIN, HOOKS_PLUGIN, MANIFEST_PLUGIN, veilgraphPluginLoader } from './plugin.js';

export interface VeilgraphCodegenOptions {
  /** Directory holding the schema's `.graphql` files (its `*.graphql`); or give `schema`. */
  readonly schemaDir?: string;
  /**
   * The schema's SDL as files or globs (e.g. `src/server/services/*\/*.graphql`), with or
   * instead of `schemaDir`: what the server builds its schema from, without `PRIVACY_SDL`.
   */
  readonly schema?: string | readonly string[];
  /** Globs (or files) of the client's operation documents, e.g. `client/operations/**\/*.graphql`. */
  readonly documents: string | readonly string[];
  /** Where the three modules are written. */
  readonly outDir: string;
  /** Resolves relative paths; default `process.cwd()`. */
  readonly cwd?: string;
  /** No progress output (the tests). */
  readonly silent?: boolean;
  /**
   * More options for `typescript-operations` and `typed-document-node` (e.g.
   * `namingConvention`, `typesPrefix`, `dedupeOperationSuffix`, `scalars`). The hooks plugin
   * gets them too, so its names agree.
   */
  readonly typescriptConfig?: Readonly<Record<string, unknown>>;
}

/** File names inside `outDir`. */
export const GENERATED_FILES = {
  /** Operation result and variables types, the input and enum types they use, typed document nodes. */
  types: 'graphql.ts',
  /** One Apollo hook per operation. */
  hooks: 'hooks.ts',
  /** `privacyManifest` and `wireSchemaSDL`. */
  privacy: 'privacy.ts',
} as const;

/**
 * Options of `typescript-operations` and `typed-document-node`, shared with our hooks plugin
 * (the naming options must agree). typescript-operations 6 emits the input and enum types an
 * operation needs itself: the `typescript` plugin is not used (it would declare them twice).
 */
const TYPESCRIPT_CONFIG = {
  useTypeImports: true,
  // `Sealed` is in the schema (PRIVACY_SDL) but no source-schema field has it: operation
  // types show what the application reads and writes, the plaintext type.
  scalars: { Sealed: 'string' },
  // A custom scalar a schema author adds without mapping it here is `unknown`, not `any`.
  defaultScalarType: 'unknown',
} as const;

export function codegenConfig(options: VeilgraphCodegenOptions): CodegenConfig {
  const out = (name: string): string => join(options.outDir, name).split('\\').join('/');
  const slashes = (p: string): string => p.split('\\').join('/');
  const sdl = [
    ...(options.schemaDir !== undefined ? [join(options.schemaDir, '*.graphql')] : []),
    ...(typeof options.schema === 'string' ? [options.schema] : (options.schema ?? [])),
  ].map(slashes);
  if (sdl.length === 0) throw new Error('veilgraph codegen: name the schema (schemaDir or schema)');
  const documents = typeof options.documents === 'string' ? [options.documents] : [...options.documents];
  return {
    ...(options.cwd ? { cwd: options.cwd } : {}),
    // PRIVACY_SDL as a schema string: the directive definitions live in src/privacy/sdl.ts
    // only, exactly as the gateway adds them (src/server/schema.ts).
    schema: [PRIVACY_SDL, ...sdl],
    documents,
    ignoreNoDocuments: true,
    silent: options.silent ?? false,
    pluginLoader: veilgraphPluginLoader,
    config: { ...TYPESCRIPT_CONFIG, ...options.typescriptConfig },
    generates: {
      [out(GENERATED_FILES.types)]: {
        plugins: [HEADER_PLUGIN, 'typescript-operations', 'typed-document-node'],
      },
      [out(GENERATED_FILES.hooks)]: {
        plugins: [HEADER_PLUGIN, HOOKS_PLUGIN],
        config: { typesImport: `./${GENERATED_FILES.types.replace(/\.ts$/, '.js')}` },
      },
      [out(GENERATED_FILES.privacy)]: {
        plugins: [HEADER_PLUGIN, MANIFEST_PLUGIN],
      },
    },
  };
}
