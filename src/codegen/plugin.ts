/**
 * @module
 * veilgraph's GraphQL Code Generator plugins (docs/codegen.md):
 *
 * - `veilgraph-privacy-manifest` emits the privacy manifest derived from the annotated
 *   source schema (`export const privacyManifest = {...} as const`) and the wire schema's
 *   SDL (`export const wireSchemaSDL`), the two things the client link needs besides keys.
 * - `veilgraph-apollo-hooks` emits one thin Apollo Client 4 hook per operation document
 *   (`useMyProfileQuery`, `useCreateProfileMutation`, `useXSubscription`) over the typed
 *   document nodes that `typed-document-node` emits into another module.
 * - `veilgraph-header` prepends the "generated, do not edit" banner.
 *
 * Codegen imports plugins by package name with a plain `import()`, which cannot load a
 * `.ts` file; `veilgraphPluginLoader` hands out these objects by name instead.
 */
import { relative, sep } from 'node:path';
import type { CodegenPlugin, PluginFunction, Types } from '@graphql-codegen/plugin-helpers';
import { convertFactory, type NamingConvention } from '@graphql-codegen/visitor-plugin-common';
import {
  getNamedType,
  isInputObjectType,
  isObjectType,
  Kind,
  printSchema,
  specifiedRules,
  validate,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type GraphQLType,
  type OperationDefinitionNode,
} from 'graphql';
import { buildPrivacyManifest, type PrivacyManifest } from '../privacy/manifest.js';
import { toWireSchema } from '../privacy/wire-schema.js';

export const MANIFEST_PLUGIN = 'veilgraph-privacy-manifest';
export const HOOKS_PLUGIN = 'veilgraph-apollo-hooks';
export const HEADER_PLUGIN = 'veilgraph-header';

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
// veilgraph-privacy-manifest

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

/** The manifest and wire SDL the plugin emits for `schema` (exported for tests and tools). */
export function privacyArtifacts(schema: GraphQLSchema): { manifest: PrivacyManifest; wireSchemaSDL: string } {
  assertSourceSchema(schema);
  const manifest = buildPrivacyManifest(schema);
  return { manifest, wireSchemaSDL: printSchema(toWireSchema(schema, manifest)) };
}

const manifestPluginFn: PluginFunction<Record<string, never>> = (schema) => {
  const { manifest, wireSchemaSDL } = privacyArtifacts(schema);
  return [
    '/**',
    ' * Which schema coordinate has which privacy level (derived from the @privacy, @owner and',
    ' * @writes annotations of the source schema by buildPrivacyManifest). Pass it to the client',
    ' * link; it is a plain-JSON PrivacyManifest.',
    ' */',
    `export const privacyManifest = ${JSON.stringify(sortedKeys(manifest), null, 2)} as const;`,
    '',
    '/**',
    ' * The schema as it travels (SHARED and PRIVATE fields as the Sealed scalar). Build it with',
    " * graphql's buildSchema(wireSchemaSDL) where the client needs the wire schema.",
    ' */',
    `export const wireSchemaSDL = ${templateLiteral(wireSchemaSDL)};`,
    '',
  ].join('\n');
};

export const manifestPlugin: CodegenPlugin<Record<string, never>> = {
  plugin: manifestPluginFn,
  validate(_schema, _documents, _config, outputFile) {
    if (!/\.[cm]?ts$/.test(outputFile)) {
      throw new Error(`${MANIFEST_PLUGIN}: emits TypeScript; give it a .ts output file, not ${outputFile}`);
    }
  },
};

// ---------------------------------------------------------------------------------------
// veilgraph-apollo-hooks

export interface HooksPluginConfig {
  /**
   * Module (relative to the hooks file) exporting the typed documents and the operation
   * types, i.e. the output of `typescript-operations` + `typed-document-node`. Required.
   */
  typesImport?: string;
  /** Where Apollo's React hooks come from. Default `@apollo/client/react`. */
  apolloReactImport?: string;
  // Naming options shared with the TypeScript plugins; the names must agree with theirs.
  namingConvention?: NamingConvention;
  typesPrefix?: string;
  typesSuffix?: string;
  omitOperationSuffix?: boolean;
  dedupeOperationSuffix?: boolean;
  documentVariablePrefix?: string;
  documentVariableSuffix?: string;
}

const HOOK_OF = { query: 'useQuery', mutation: 'useMutation', subscription: 'useSubscription' } as const;

interface OperationNames {
  readonly hook: string;
  readonly document: string;
  readonly result: string;
  readonly variables: string;
}

/**
 * The names `typescript-operations` and `typed-document-node` give an operation's types
 * and document (same rules as visitor-plugin-common's BaseVisitor / ClientSideBaseVisitor),
 * and the hook's name (`use` + the operation's name + its kind).
 */
export function operationNames(node: OperationDefinitionNode, config: HooksPluginConfig = {}): OperationNames {
  if (!node.name) throw new Error('anonymous operation');
  const convert = convertFactory({ namingConvention: config.namingConvention });
  const kind = node.operation.charAt(0).toUpperCase() + node.operation.slice(1);
  const name = node.name.value;
  const suffix = config.omitOperationSuffix
    ? ''
    : config.dedupeOperationSuffix && name.toLowerCase().endsWith(kind.toLowerCase())
      ? ''
      : kind;
  // BaseVisitor.convertName: typesPrefix and typesSuffix apply unless turned off; the
  // document variable turns off the prefix only.
  const typed = (s: string): string => `${config.typesPrefix ?? ''}${convert(node, { suffix: s })}${config.typesSuffix ?? ''}`;
  const documentName = convert(node, { prefix: config.documentVariablePrefix ?? '', suffix: config.documentVariableSuffix ?? 'Document' });
  return {
    hook: `use${convert(node, { suffix })}`,
    document: `${documentName}${config.typesSuffix ?? ''}`,
    result: typed(suffix),
    variables: typed(`${suffix}Variables`),
  };
}

/** A variable that is non-null and has no default makes the hook's `options` required. */
function hasRequiredVariables(node: OperationDefinitionNode): boolean {
  return (node.variableDefinitions ?? []).some((v) => v.type.kind === Kind.NON_NULL_TYPE && !v.defaultValue);
}

function sourceLabel(location: string | undefined): string {
  if (!location) return 'an operation document';
  const rel = relative(process.cwd(), location);
  return (rel.startsWith('..') ? location : rel).split(sep).join('/');
}

/** Rules codegen itself skips for documents (fragments and variables may be shared across files). */
const SKIPPED_RULES = new Set(['NoUnusedFragmentsRule', 'NoUnusedVariablesRule', 'KnownDirectivesRule']);

/**
 * Codegen validates the documents against the source schema; the gateway validates them
 * against the wire schema. They differ where a variable meets a sealed input field
 * directly (`input: { bio: $bio }`: `String` here, `Sealed` there), so a document can pass
 * one and fail the other. Returns the wire schema's complaints, per file.
 */
export function wireValidationProblems(schema: GraphQLSchema, documents: readonly Types.DocumentFile[]): string[] {
  const wire = toWireSchema(schema, buildPrivacyManifest(schema));
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
      problems.push(`${sourceLabel(file.location)}${at ? `:${at.line}:${at.column}` : ''}: ${error.message}`);
    }
  }
  return problems;
}

const hooksPluginFn: PluginFunction<HooksPluginConfig> = (schema, documents, config) => {
  const typesImport = config.typesImport;
  if (!typesImport) throw new Error(`${HOOKS_PLUGIN}: set config.typesImport to the module of the typed documents (e.g. './graphql.js')`);
  assertSourceSchema(schema);
  const problems = wireValidationProblems(schema, documents);
  if (problems.length > 0) {
    throw new Error(
      `${HOOKS_PLUGIN}: the gateway would refuse these documents (they are validated against the wire schema, where SHARED and PRIVATE ` +
        `input fields are Sealed): pass sealed values inside an input-object variable (\`input: $input\`), not as a variable of ` +
        `their own (docs/codegen.md).\n${problems.join('\n')}`,
    );
  }
  const hooksUsed = new Set<string>();
  const valueImports: string[] = [];
  const typeImports: string[] = [];
  const bodies: string[] = [];

  for (const file of documents) {
    for (const def of file.document?.definitions ?? []) {
      if (def.kind !== Kind.OPERATION_DEFINITION) continue;
      if (!def.name) {
        throw new Error(`${HOOKS_PLUGIN}: ${sourceLabel(file.location)} has an anonymous ${def.operation}; name it (the hook is named after it)`);
      }
      const names = operationNames(def, config);
      const apolloHook = HOOK_OF[def.operation];
      hooksUsed.add(apolloHook);
      valueImports.push(names.document);
      typeImports.push(names.result, names.variables);
      const optional = def.operation === 'mutation' || !hasRequiredVariables(def) ? '?' : '';
      // Partial data would make `data` a deep partial that these types do not describe:
      // for that, call useQuery with the document directly (Apollo types it then).
      const restriction = def.operation === 'query' ? ' & { returnPartialData?: false }' : '';
      bodies.push(
        [
          `/** \`${def.operation} ${def.name.value}\` (${sourceLabel(file.location)}) through Apollo's \`${apolloHook}\`. */`,
          `export function ${names.hook}(options${optional}: ${apolloHook}.Options<${names.result}, ${names.variables}>${restriction}) {`,
          `  return ${apolloHook}(${names.document}, options);`,
          '}',
        ].join('\n'),
      );
    }
  }
  if (bodies.length === 0) return { content: 'export {};\n' };

  const apollo = config.apolloReactImport ?? '@apollo/client/react';
  const imports = [
    `import { ${[...hooksUsed].sort().join(', ')} } from '${apollo}';`,
    `import { ${[...valueImports, ...typeImports.map((t) => `type ${t}`)].join(', ')} } from '${typesImport}';`,
  ];
  return { prepend: imports, content: `\n${bodies.join('\n\n')}\n` };
};

export const hooksPlugin: CodegenPlugin<HooksPluginConfig> = {
  plugin: hooksPluginFn,
  validate(_schema, _documents, config: HooksPluginConfig, outputFile) {
    if (!config.typesImport) throw new Error(`${HOOKS_PLUGIN} (${outputFile}): set config.typesImport, e.g. './graphql.js'`);
  },
};

// ---------------------------------------------------------------------------------------
// veilgraph-header

export const headerPlugin: CodegenPlugin = {
  plugin: (): Types.ComplexPluginOutput => ({
    content: '',
    prepend: [
      '/* eslint-disable */',
      "// Generated by veilgraph's code generator (npm run codegen; docs/codegen.md) from the",
      '// annotated schema and the operation documents. Do not edit: edit those and regenerate.',
    ],
  }),
};

// ---------------------------------------------------------------------------------------
// Loader

const PLUGINS: Readonly<Record<string, CodegenPlugin>> = {
  [MANIFEST_PLUGIN]: manifestPlugin,
  [HOOKS_PLUGIN]: hooksPlugin,
  [HEADER_PLUGIN]: headerPlugin,
};

/**
 * Codegen's `pluginLoader`: our plugins by name (codegen first asks for
 * `@graphql-codegen/<name>`, then the bare name), everything else by `import()`.
 */
export function veilgraphPluginLoader(name: string): Promise<CodegenPlugin> | CodegenPlugin {
  const ours = PLUGINS[name.replace(/^@graphql-codegen\//, '')];
  if (ours) return ours;
  return import(name) as Promise<CodegenPlugin>;
}
