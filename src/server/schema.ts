/**
 * @module
 * Builds the executable schema: the author's SDL from `schema/` plus the privacy
 * directives, the privacy manifest derived from it, the wire types (sealed fields become
 * `Sealed`), and the per-field enforcement.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeExecutableSchema } from '@graphql-tools/schema';
import type { IResolvers } from '@graphql-tools/utils';
import type { GraphQLSchema } from 'graphql';
import { buildPrivacyManifest, type PrivacyManifest } from '../privacy/manifest.js';
import { PRIVACY_SDL } from '../privacy/sdl.js';
import { toWireSchema } from '../privacy/wire-schema.js';

/** These `.graphql` files, in order, concatenated. */
export function readSdlFiles(files: readonly string[]): string {
  return files.map((f) => readFileSync(f, 'utf8')).join('\n');
}

/** The `.graphql` files of a directory, sorted by name, concatenated. */
export function readSchemaDir(dir: string): string {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.graphql'))
    .sort()
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\n');
}

export interface BuiltSchema {
  /** The annotated source schema (directives visible; what codegen reads). */
  readonly source: GraphQLSchema;
  /** What clients talk to: sealed fields as `Sealed`, resolvers attached. */
  readonly wire: GraphQLSchema;
  readonly manifest: PrivacyManifest;
}

/** Throws PrivacySchemaError (listing every problem) for annotations that cannot be enforced. */
export function buildSchema(sdl: string, resolvers: IResolvers | IResolvers[]): BuiltSchema {
  const source = makeExecutableSchema({ typeDefs: [PRIVACY_SDL, sdl], resolvers });
  const manifest = buildPrivacyManifest(source);
  return { source, wire: toWireSchema(source, manifest), manifest };
}
