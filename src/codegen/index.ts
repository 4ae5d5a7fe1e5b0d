/**
 * @module
 * `veilgraph/codegen`: a GraphQL Code Generator plugin that anyone's `codegen.ts` loads by
 * name, next to `@graphql-codegen/client-preset` (docs/codegen.md, "In your project"):
 *
 * ```ts
 * generates: {
 *   'src/gql/': { preset: 'client', config: { scalars: { Sealed: 'string' } } },
 *   'src/gql/veilgraph.ts': { plugins: ['veilgraph/codegen'] },
 * }
 * ```
 *
 * It follows codegen's plugin contract (a module exporting `plugin` and `validate`) and
 * emits one TypeScript module: `privacyManifest` and `wireSchemaSDL`, the same module the
 * repository's own generator writes (privacy-module.ts). It fails the run when the schema
 * is not the annotated source schema, when the annotations are ones the gateway refuses,
 * or when an operation document does not validate against the wire schema (the schema as
 * the gateway serves it, SHARED and PRIVATE fields as `Sealed`), naming file, line,
 * operation and problem.
 *
 * The schema is the SDL the gateway is built from, which does not declare the privacy
 * directives (the gateway adds PRIVACY_SDL itself); the plugin adds the definitions that
 * are missing the same way, so the same files serve both. It imports nothing of GraphQL
 * Code Generator: `graphql` only.
 */
import {
  buildASTSchema,
  isIntrospectionType,
  isSpecifiedDirective,
  isSpecifiedScalarType,
  Kind,
  parse,
  printSchema,
  type DefinitionNode,
  type GraphQLSchema,
} from 'graphql';
import { PRIVACY_SDL } from '../privacy/sdl.js';
import { privacyArtifacts, privacyModuleSource, sourceLabel, WIRE_HINT, wireValidationProblems, type OperationDocumentFile } from './privacy-module.js';

export type { OperationDocumentFile } from './privacy-module.js';

/** The name codegen.ts gives the plugin; also the prefix of its errors. */
export const PLUGIN_NAME = 'veilgraph/codegen';

/** What the plugin returns to codegen: the banner and the module. */
export interface VeilgraphPluginOutput {
  readonly prepend: string[];
  readonly content: string;
}

function definedName(def: DefinitionNode): string | undefined {
  return 'name' in def && def.name ? def.name.value : undefined;
}

/**
 * `schema` with the definitions of PRIVACY_SDL (`@privacy`, `@owner`, `@writes`,
 * `PrivacyLevel`, `Sealed`) it lacks, as the gateway adds them. A schema that already
 * declares them all is returned as it is.
 */
export function withPrivacyDefinitions(schema: GraphQLSchema): GraphQLSchema {
  const missing = parse(PRIVACY_SDL).definitions.filter((def) => {
    const name = definedName(def);
    if (name === undefined) return false;
    return def.kind === Kind.DIRECTIVE_DEFINITION ? !schema.getDirective(name) : !schema.getType(name);
  });
  if (missing.length === 0) return schema;
  // Other directives the author uses (federation, their own) stay unknown, as codegen itself
  // loads them (assumeValidSDL); wrong @privacy arguments are reported by buildPrivacyManifest.
  return buildASTSchema({ kind: Kind.DOCUMENT, definitions: [...missing, ...schemaDefinitions(schema)] }, { assumeValidSDL: true });
}

/**
 * The SDL definitions `schema` was built from, applied directives included: each type's and
 * directive's own AST where it has one (printing would turn `level: SHARED` into a string
 * while @privacy is undefined), printed SDL for what has none.
 */
function schemaDefinitions(schema: GraphQLSchema): DefinitionNode[] {
  const printed = parse(printSchema(schema)).definitions;
  const byName = new Map(printed.map((d) => [definedName(d), d]));
  const defs: DefinitionNode[] = [];
  const schemaDef = schema.astNode ?? printed.find((d) => d.kind === Kind.SCHEMA_DEFINITION);
  if (schemaDef) defs.push(schemaDef);
  defs.push(...schema.extensionASTNodes);
  for (const type of Object.values(schema.getTypeMap())) {
    if (isIntrospectionType(type) || isSpecifiedScalarType(type)) continue;
    const node = type.astNode ?? byName.get(type.name);
    if (node) defs.push(node);
    defs.push(...type.extensionASTNodes);
  }
  for (const directive of schema.getDirectives()) {
    if (isSpecifiedDirective(directive)) continue;
    const node = directive.astNode ?? byName.get(directive.name);
    if (node) defs.push(node);
  }
  return defs;
}

/** The named operations and fragments of `documents`, for the banner. */
function checkedDefinitions(documents: readonly OperationDocumentFile[]): string[] {
  return documents.flatMap((file) =>
    (file.document?.definitions ?? []).flatMap((def) => {
      if (def.kind === Kind.OPERATION_DEFINITION) return [`${def.operation} ${def.name?.value ?? '(anonymous)'}`];
      if (def.kind === Kind.FRAGMENT_DEFINITION) return [`fragment ${def.name.value}`];
      return [];
    }),
  );
}

/**
 * Codegen's `plugin(schema, documents, config)` (it takes no config): the privacy module for `schema`, after
 * checking `documents` against the wire schema. Throws (codegen then fails and prints the
 * message) when the schema has no `@privacy` annotation, when the gateway would refuse its
 * annotations, and when a document does not validate against the wire schema.
 */
export function plugin(schema: GraphQLSchema, documents: readonly OperationDocumentFile[]): VeilgraphPluginOutput {
  const source = withPrivacyDefinitions(schema);
  const artifacts = privacyArtifacts(source);
  if (!Object.values(artifacts.manifest.objects).some((o) => Object.values(o.fields).some((f) => f.level !== 'PUBLIC'))) {
    // Fail closed: an empty manifest would make the client link seal and open nothing.
    throw new Error(
      `${PLUGIN_NAME}: no type of the schema has a SERVER, SHARED or PRIVATE field, so there is nothing to protect. Point \`schema\` at ` +
        'the annotated .graphql files the gateway is built from; a schema loaded by introspection (a URL or JSON) has no @privacy annotations.',
    );
  }
  const problems = wireValidationProblems(artifacts.wireSchema, documents);
  if (problems.length > 0) {
    throw new Error(
      `${PLUGIN_NAME}: the gateway would refuse what follows: it does not validate against the wire schema (the schema as the gateway ` +
        `serves it, SHARED and PRIVATE fields and input fields as Sealed).\n${problems.map((p) => `  ${p}`).join('\n')}\n${WIRE_HINT}`,
    );
  }
  const checked = checkedDefinitions(documents);
  const files = [...new Set(documents.map((d) => sourceLabel(d.location)))];
  return {
    prepend: [
      '/* eslint-disable */',
      `// Generated by ${PLUGIN_NAME} (GraphQL Code Generator) from the annotated schema. Do not edit: regenerate.`,
      checked.length > 0
        ? `// Checked against the wire schema: ${checked.join(', ')} (${files.join(', ')}).`
        : '// No operation document reached this output, so none was checked against the wire schema (give `documents` at the top level of codegen.ts).',
    ],
    content: `\n${privacyModuleSource(artifacts)}`,
  };
}

/** Codegen's `validate(schema, documents, config, outputFile)`: the output is a TypeScript module. */
export function validate(_schema: GraphQLSchema, _documents: readonly OperationDocumentFile[], _config: unknown, outputFile: string): void {
  if (!/\.[cm]?ts$/.test(outputFile)) {
    throw new Error(`${PLUGIN_NAME}: emits TypeScript (\`as const\` objects); give it a .ts output file, not ${outputFile}`);
  }
}
