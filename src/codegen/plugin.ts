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
import type { CodegenPlugin, PluginFunction, Types } from '@graphql-codegen/plugin-helpers';
import { convertFactory, type NamingConvention } from '@graphql-codegen/visitor-plugin-common';
import { Kind, type OperationDefinitionNode } from 'graphql';
import { assertSourceSchema, privacyArtifacts, privacyModuleSource, sourceLabel, WIRE_HINT, wireSchemaOf, wireValidationProblems } from './privacy-module.js';

// Moved to privacy-module.ts (shared with the public plugin, src/codegen/index.ts); re-exported for the tests.
export { assertSourceSchema, privacyArtifacts, templateLiteral, wireValidationProblems } from './privacy-module.js';

export const MANIFEST_PLUGIN = 'veilgraph-privacy-manifest';
export const HOOKS_PLUGIN = 'veilgraph-apollo-hooks';
export const HEADER_PLUGIN = 'veilgraph-header';

// ---------------------------------------------------------------------------------------
// veilgraph-privacy-manifest

const manifestPluginFn: PluginFunction<Record<string, never>> = (schema) => privacyModuleSource(privacyArtifacts(schema));

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

const hooksPluginFn: PluginFunction<HooksPluginConfig> = (schema, documents, config) => {
  const typesImport = config.typesImport;
  if (!typesImport) throw new Error(`${HOOKS_PLUGIN}: set config.typesImport to the module of the typed documents (e.g. './graphql.js')`);
  assertSourceSchema(schema);
  const problems = wireValidationProblems(wireSchemaOf(schema), documents);
  if (problems.length > 0) {
    throw new Error(
      `${HOOKS_PLUGIN}: the gateway would refuse these documents (they are validated against the wire schema, where SHARED and PRIVATE ` +
        `input fields are Sealed): ${WIRE_HINT}\n${problems.join('\n')}`,
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
