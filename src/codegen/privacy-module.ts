/**
 * @module
 * What every veilgraph code generator emits and checks, independent of GraphQL Code
 * Generator's own packages (so the public `veilgraph/codegen` entry needs only `graphql`):
 *
 * - the guard that the schema is the annotated source schema (`assertSourceSchema`);
 * - the privacy module's source, `privacyManifest` + `wireSchemaSDL` (`privacyModuleSource`);
 * - the check of operation documents against the wire schema (`wireValidationProblems`).
 *
 * Used by the public plugin (src/codegen/index.ts) and by the repository's own plugins
 * (src/codegen/plugin.ts).
 */
import { relative, sep } from 'node:path';
import {
  getNamedType,
  isInputObjectType,
  isObjectType,
  Kind,
  printSchema,
  specifiedRules,
  validate,
  type DefinitionNode,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLError,
  type GraphQLSchema,
  type GraphQLType,
} from 'graphql';
import { buildPrivacyManifest, type PrivacyManifest } from '../privacy/manifest.js';
import { toWireSchema } from '../privacy/wire-schema.js';

/** One loaded operation document, as GraphQL Code Generator hands it to a plugin (`Types.DocumentFile`). */
export interface OperationDocumentFile {
  readonly document?: DocumentNode | undefined;
  readonly location?: string | undefined;
}

// ---------------------------------------------------------------------------------------
// Guard: the schema must be the annotated source schema.

/**
 * Throws when `schema` cannot be the annotated source schema: the privacy directives are
 * not defined (PRIVACY_SDL missing), or a field already has the wire type `Sealed` (the
 * schema came from the wire, e.g. introspection of a running gateway, which carries no
 * applied directives: the manifest would be silently empty).
 */
export function assertSourceSchema(schema: GraphQLSchema): void {
  for (const name of ['privacy', 'owner', 'writes']) {
    if (!schema.getDirective(name)) {
      throw new Error(
        `veilgraph codegen: the schema does not define @${name}; pass PRIVACY_SDL (src/privacy/sdl.ts) as a schema string next to the .graphql files`,
      );
    }
  }
  if (!schema.getType('Sealed')) {
    throw new Error('veilgraph codegen: the schema does not define the Sealed scalar; pass PRIVACY_SDL (src/privacy/sdl.ts) as a schema string');
  }
  const wireTyped: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__')) continue;
    if (isObjectType(type) || isInputObjectType(type)) {
      for (const field of Object.values(type.getFields()) as { name: string; type: GraphQLType }[]) {
        if (getNamedType(field.type).name === 'Sealed') wireTyped.push(`${type.name}.${field.name}`);
      }
    }
  }
  if (wireTyped.length > 0) {
    throw new Error(
      `veilgraph codegen: ${wireTyped.join(', ')} ${wireTyped.length === 1 ? 'has' : 'have'} the wire type Sealed: this is the wire schema ` +
        '(introspection of a gateway?), which has no @privacy annotations. Generate from the annotated .graphql files instead.',
    );
  }
}

// ---------------------------------------------------------------------------------------
// The privacy module

/** Deep copy with object keys sorted, so the emitted module does not depend on schema order. */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = sortedKeys((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

/** `s` as a template literal (readable multi-line SDL in the emitted module). */
export function templateLiteral(s: string): string {
  return '`' + s.replace(/\\/g, '\\\\').replace(/`/g, '\\`').replace(/\$\{/g, '\\${') + '`';
}

/** The manifest and wire SDL the plugins emit for `schema` (exported for tests and tools). */
export function privacyArtifacts(schema: GraphQLSchema): { manifest: PrivacyManifest; wireSchema: GraphQLSchema; wireSchemaSDL: string } {
  assertSourceSchema(schema);
  const manifest = buildPrivacyManifest(schema);
  const wireSchema = toWireSchema(schema, manifest);
  return { manifest, wireSchema, wireSchemaSDL: printSchema(wireSchema) };
}

/** The wire schema of a source schema (what the gateway serves), for `wireValidationProblems`. */
export function wireSchemaOf(schema: GraphQLSchema): GraphQLSchema {
  return toWireSchema(schema, buildPrivacyManifest(schema));
}

/** The emitted module's body: `privacyManifest` and `wireSchemaSDL`; it imports nothing. */
export function privacyModuleSource(artifacts: { manifest: PrivacyManifest; wireSchemaSDL: string }): string {
  return [
    '/**',
    ' * Which schema coordinate has which privacy level (derived from the @privacy, @owner and',
    ' * @writes annotations of the source schema by buildPrivacyManifest). Pass it to the client',
    ' * link; it is a plain-JSON PrivacyManifest.',
    ' */',
    `export const privacyManifest = ${JSON.stringify(sortedKeys(artifacts.manifest), null, 2)} as const;`,
    '',
    '/**',
    ' * The schema as it travels (SHARED and PRIVATE fields as the Sealed scalar). Build it with',
    " * graphql's buildSchema(wireSchemaSDL) where the client needs the wire schema.",
    ' */',
    `export const wireSchemaSDL = ${templateLiteral(artifacts.wireSchemaSDL)};`,
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------
// The documents against the wire schema

/** A document's path relative to the working directory, with `/` separators. */
export function sourceLabel(location: string | undefined): string {
  if (!location) return 'an operation document';
  const rel = relative(process.cwd(), location);
  return (rel.startsWith('..') ? location : rel).split(sep).join('/');
}

/** Rules codegen itself skips for documents (fragments and variables may be shared across files). */
const SKIPPED_RULES = new Set(['NoUnusedFragmentsRule', 'NoUnusedVariablesRule', 'KnownDirectivesRule']);

/** `mutation setBio` / `fragment ProfileFields`: the definition of `own` the error points into. */
function definitionLabel(error: GraphQLError, own: readonly DefinitionNode[]): string | undefined {
  const loc = error.nodes?.[0]?.loc;
  if (loc === undefined) return undefined;
  // Same source: a fragment of another file has offsets into that file's text.
  const def = own.find((d) => d.loc !== undefined && d.loc.source === loc.source && d.loc.start <= loc.start && loc.start < d.loc.end);
  if (def?.kind === Kind.OPERATION_DEFINITION) return `${def.operation} ${def.name?.value ?? '(anonymous)'}`;
  if (def?.kind === Kind.FRAGMENT_DEFINITION) return `fragment ${def.name.value}`;
  return undefined;
}

/** How to fix the usual reason a document passes the source schema and fails the wire schema. */
export const WIRE_HINT =
  'Pass sealed values inside an input-object variable (`input: $input`), not as a variable of their own (docs/codegen.md).';

/**
 * Codegen validates the documents against the source schema; the gateway validates them
 * against the wire schema. They differ where a variable meets a sealed input field
 * directly (`input: { bio: $bio }`: `String` here, `Sealed` there), so a document can pass
 * one and fail the other. `wire` is the wire schema (`wireSchemaOf`, or `privacyArtifacts(…).wireSchema`
 * when it is built anyway). Returns its complaints, each as
 * `file:line:column (operation name): message`.
 */
export function wireValidationProblems(wire: GraphQLSchema, documents: readonly OperationDocumentFile[]): string[] {
  const rules = specifiedRules.filter((r) => !SKIPPED_RULES.has(r.name));
  const problems: string[] = [];
  for (const file of documents) {
    if (!file.document) continue;
    const own = file.document.definitions;
    const others = documents
      .filter((d) => d !== file)
      .flatMap((d) => d.document?.definitions ?? [])
      .filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION);
    const doc: DocumentNode = { kind: Kind.DOCUMENT, definitions: [...own, ...others] };
    for (const error of validate(wire, doc, rules)) {
      const at = error.locations?.[0];
      const where = definitionLabel(error, own);
      problems.push(`${sourceLabel(file.location)}${at ? `:${at.line}:${at.column}` : ''}${where ? ` (${where})` : ''}: ${error.message}`);
    }
  }
  return problems;
}
