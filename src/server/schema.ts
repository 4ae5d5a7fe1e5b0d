/**
 * @module
 * Builds the schema: veilgraph's privacy directives and `Sealed` scalar (src/privacy/sdl.ts)
 * and root types (./veilgraph.graphql), the chosen services' SDL and the author's, the
 * privacy manifest derived from it, and the wire types (sealed fields become `Sealed`).
 * ./enforce.ts then adds the per-field enforcement.
 *
 * The directive definitions exist only here: an author's SDL that declares `@privacy`,
 * `@owner`, `@writes`, the `Sealed` scalar or a root type is refused (CONFIG_INVALID), so
 * SDL that names `@privacy` cannot become a schema with the directives but without their
 * enforcement through veilgraph.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeExecutableSchema } from '@graphql-tools/schema';
import type { IResolvers } from '@graphql-tools/utils';
import { Kind, parse, type DocumentNode, type GraphQLScalarType, type GraphQLSchema } from 'graphql';
import { buildPrivacyManifest, type PrivacyManifest } from '../privacy/manifest.js';
import { PRIVACY_SDL } from '../privacy/sdl.js';
import { toWireSchema } from '../privacy/wire-schema.js';
import { configInvalid } from './errors.js';
import type { ServiceModule } from './service-module.js';
import { ROOT_SDL, rootResolvers } from './veilgraph-info.js';

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

/**
 * The privacy directives plus `sdl`, as is: no root types added, no declarations checked.
 * Throws PrivacySchemaError (listing every problem) for annotations that cannot be enforced.
 * (Tests and tools with SDL of their own; servers go through `assembleSchema`.)
 */
export function buildSchema(sdl: string, resolvers: IResolvers | IResolvers[]): BuiltSchema {
  const source = makeExecutableSchema({ typeDefs: [PRIVACY_SDL, sdl], resolvers });
  const manifest = buildPrivacyManifest(source);
  return { source, wire: toWireSchema(source, manifest), manifest };
}

/** The SDL veilgraph contributes for a set of services: its root types, then each service's documents. */
export function serviceTypeDefs(services: readonly ServiceModule[]): string[] {
  return [ROOT_SDL, ...services.flatMap((s) => s.typeDefs)];
}

const OURS = new Set(['privacy', 'owner', 'writes']);
const ROOTS = new Set(['Query', 'Mutation', 'Subscription']);

/** The author's declarations that only veilgraph may make (module comment), each with what to do. */
function declarationProblems(doc: DocumentNode, index: number): string[] {
  const where = `typeDefs[${index}]`;
  const problems: string[] = [];
  for (const def of doc.definitions) {
    if (def.kind === Kind.DIRECTIVE_DEFINITION && OURS.has(def.name.value)) {
      problems.push(`${where} declares @${def.name.value}: veilgraph declares @privacy, @owner and @writes itself, with their enforcement; remove the declaration and annotate your types with them as they are`);
    } else if (def.kind === Kind.SCALAR_TYPE_DEFINITION && def.name.value === 'Sealed') {
      problems.push(`${where} declares the Sealed scalar: veilgraph declares it; remove the declaration (sealed fields are typed as their plaintext type in your SDL)`);
    } else if ((def.kind === Kind.OBJECT_TYPE_DEFINITION || def.kind === Kind.INTERFACE_TYPE_DEFINITION) && ROOTS.has(def.name.value)) {
      problems.push(`${where} declares type ${def.name.value}: veilgraph declares the root types; write \`extend type ${def.name.value} { … }\` instead`);
    } else if (def.kind === Kind.SCHEMA_DEFINITION || def.kind === Kind.SCHEMA_EXTENSION) {
      problems.push(`${where} has a schema definition: veilgraph's root types are Query, Mutation and Subscription; extend those instead`);
    }
  }
  return problems;
}

export interface AssembleOptions {
  /** The author's SDL documents. */
  readonly typeDefs: readonly string[];
  readonly resolvers: readonly IResolvers[];
  readonly services: readonly ServiceModule[];
  /** The server's `Sealed` scalar (./sealed-scalar.ts). */
  readonly sealed: GraphQLScalarType;
}

/**
 * The schema of a veilgraph server (module comment). Throws CONFIG_INVALID for SDL that does
 * not parse or declares what only veilgraph may, and PrivacySchemaError for annotations that
 * cannot be enforced.
 */
export function assembleSchema(options: AssembleOptions): BuiltSchema {
  const problems: string[] = [];
  options.typeDefs.forEach((sdl, i) => {
    if (typeof sdl !== 'string') {
      problems.push(`typeDefs[${i}] is not a string of SDL`);
      return;
    }
    let doc: DocumentNode;
    try {
      doc = parse(sdl, { noLocation: true });
    } catch (e) {
      problems.push(`typeDefs[${i}] does not parse: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    problems.push(...declarationProblems(doc, i));
  });
  if (problems.length > 0) throw configInvalid(problems.join('\n'));
  const source = makeExecutableSchema({
    typeDefs: [PRIVACY_SDL, ...serviceTypeDefs(options.services), ...options.typeDefs],
    resolvers: [{ Sealed: options.sealed }, rootResolvers, ...options.services.flatMap((s) => s.resolvers), ...options.resolvers],
  });
  const manifest = buildPrivacyManifest(source);
  return { source, wire: toWireSchema(source, manifest), manifest };
}
