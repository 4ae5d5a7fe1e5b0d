/**
 * The plugin's parts on their own: the loader, the template literal, the names the hooks
 * plugin gives (which must agree with typescript-operations' and typed-document-node's,
 * checked end to end with non-default naming options), and the source-schema guard.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema as buildGraphQLSchema, parse, type OperationDefinitionNode } from 'graphql';
import { afterAll, describe, expect, it } from 'vitest';
import { codegenConfig } from '../../src/codegen/config.js';
import {
  HEADER_PLUGIN,
  HOOKS_PLUGIN,
  MANIFEST_PLUGIN,
  assertSourceSchema,
  headerPlugin,
  hooksPlugin,
  manifestPlugin,
  operationNames,
  privacyArtifacts,
  templateLiteral,
  veilgraphPluginLoader,
} from '../../src/codegen/plugin.js';
import { PRIVACY_SDL } from '../../src/privacy/sdl.js';
import { SCHEMA, removeTempDirs, runCodegen, tempDir, typecheck } from './helpers.js';
import { referenceSchema } from '../helpers/reference-schema.js';

afterAll(removeTempDirs);

function op(source: string): OperationDefinitionNode {
  return parse(source).definitions[0] as OperationDefinitionNode;
}

describe('veilgraphPluginLoader', () => {
  it('hands out our plugins under their names, as codegen asks for them', async () => {
    expect(await veilgraphPluginLoader(MANIFEST_PLUGIN)).toBe(manifestPlugin);
    expect(await veilgraphPluginLoader(`@graphql-codegen/${HOOKS_PLUGIN}`)).toBe(hooksPlugin);
    expect(await veilgraphPluginLoader(HEADER_PLUGIN)).toBe(headerPlugin);
  });

  it('imports anything else', async () => {
    const ops = await veilgraphPluginLoader('@graphql-codegen/typescript-operations');
    expect(typeof ops.plugin).toBe('function');
    await expect(veilgraphPluginLoader('@graphql-codegen/no-such-plugin-here')).rejects.toMatchObject({ code: 'ERR_MODULE_NOT_FOUND' });
  });

  it('is what codegenConfig uses', () => {
    expect(codegenConfig({ schemaDir: 'schema', documents: 'x.graphql', outDir: 'out' }).pluginLoader).toBe(veilgraphPluginLoader);
  });
});

describe('templateLiteral', () => {
  it('round-trips backslashes, backticks and ${', () => {
    const text = 'a `b` \\n \\` ${x} $ {y} \\${z}\n"""\nend\\';
    expect(new Function(`return ${templateLiteral(text)};`)()).toBe(text);
  });
});

describe('operationNames', () => {
  it('default naming: PascalCase + operation kind, Document suffix, use prefix', () => {
    expect(operationNames(op('query myProfile { myProfile { id } }'))).toEqual({
      hook: 'useMyProfileQuery',
      document: 'MyProfileDocument',
      result: 'MyProfileQuery',
      variables: 'MyProfileQueryVariables',
    });
    expect(operationNames(op('subscription note_saved { x }')).hook).toBe('useNote_SavedSubscription');
  });

  it('follows the naming options', () => {
    const config = { typesPrefix: 'I', typesSuffix: 'T', dedupeOperationSuffix: true, documentVariableSuffix: 'Doc' };
    expect(operationNames(op('mutation saveNoteMutation { x }'), config)).toEqual({
      hook: 'useSaveNoteMutation',
      document: 'SaveNoteMutationDocT',
      result: 'ISaveNoteMutationT',
      variables: 'ISaveNoteMutationVariablesT',
    });
    expect(operationNames(op('query me { me { id } }'), { omitOperationSuffix: true }).hook).toBe('useMe');
  });

  it('agree with the TypeScript plugins under non-default naming options (the output typechecks)', async () => {
    const dir = tempDir('naming');
    const ops = join(dir, 'ops.graphql');
    writeFileSync(ops, 'query myProfileQuery { myProfile { id bio } }\nmutation deleteIt($id: ID!) { deleteProfile(id: $id) }\n');
    const out = join(dir, 'out');
    const gen = await runCodegen({
      schema: SCHEMA,
      documents: ops,
      outDir: out,
      typescriptConfig: { typesPrefix: 'I', typesSuffix: 'T', dedupeOperationSuffix: true, documentVariableSuffix: 'Doc' },
    });
    expect(gen.hooks).toContain('export function useMyProfileQuery(options?: useQuery.Options<IMyProfileQueryT, IMyProfileQueryVariablesT>');
    expect(gen.hooks).toContain('return useMutation(DeleteItDocT, options);');
    const usage = `
      import { useDeleteItMutation, useMyProfileQuery } from './hooks.js';
      export function useExample(): unknown {
        const bio: string | null | undefined = useMyProfileQuery().data?.myProfile?.bio;
        const [del] = useDeleteItMutation();
        void del({ variables: { id: 'p1' } });
        return bio;
      }
    `;
    expect(await typecheck(out, { 'usage.ts': usage })).toBe('');
  });
});

describe('assertSourceSchema / privacyArtifacts', () => {
  const built = referenceSchema();

  it('accepts the annotated source schema', () => {
    expect(() => assertSourceSchema(built.source)).not.toThrow();
    expect(privacyArtifacts(built.source).manifest).toEqual(built.manifest);
  });

  it('refuses the wire schema, naming the Sealed fields', () => {
    expect(() => assertSourceSchema(built.wire)).toThrow(/Profile\.bio, Profile\.diary, .*CreateProfileInput\.bio/);
  });

  it('refuses a schema without the privacy directives or Sealed', () => {
    const withoutSealed = PRIVACY_SDL.replace(/^"""An end-to-end[^\n]*\nscalar Sealed$/m, '');
    expect(withoutSealed).not.toContain('Sealed');
    expect(() => assertSourceSchema(buildGraphQLSchema(`${withoutSealed}\ntype Query { a: String }`))).toThrow(/Sealed scalar/);
    expect(() => assertSourceSchema(buildGraphQLSchema('type Query { a: String }'))).toThrow(/does not define @privacy/);
  });
});
