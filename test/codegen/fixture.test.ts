/**
 * A schema author adds a type of their own (a field at each of the four levels, an input
 * type that writes it, a subscription) and runs the generator: the manifest, the wire
 * SDL, the plaintext operation types and the hooks all pick it up. Then what the
 * generator refuses: a schema without annotations (introspection), PRIVACY_SDL missing,
 * annotations the gateway would refuse, anonymous operations.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from '@graphql-codegen/cli';
import { buildSchema as buildGraphQLSchema, introspectionFromSchema, type GraphQLInputObjectType, type GraphQLObjectType } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENERATED_FILES } from '../../src/codegen/config.js';
import { MANIFEST_PLUGIN, veilgraphPluginLoader } from '../../src/codegen/plugin.js';
import type { PrivacyManifest } from '../../src/privacy/manifest.js';
import { buildSchema, readSchemaDir } from '../../src/server/schema.js';
import { SCHEMA, importGenerated, removeTempDirs, runCodegen, tempDir, typecheck, type Generated } from './helpers.js';
import { copyReferenceSdl, referenceSchema, referenceSdl } from '../helpers/reference-schema.js';

const hasSubscription = /^\s*type\s+Subscription\b/m.test(referenceSdl());

const FIXTURE_SDL = `
enum Mood {
  CALM
  STORMY
}

"A schema author's own type: one field at each level, plus a list and an enum."
type Note @owner(field: "authorId") {
  id: ID!
  authorId: ID!
  "Level 1 (no type default, so PUBLIC)."
  title: String!
  "Level 2."
  summary: String @privacy(level: SERVER, searchable: true)
  "Level 3."
  body: String @privacy(level: SHARED, pad: [256, 1024])
  "Level 3, a whole list in one envelope."
  tags: [String!]! @privacy(level: SHARED)
  "Level 4."
  secret: String @privacy(level: PRIVATE)
  "Level 4, an enum."
  mood: Mood @privacy(level: PRIVATE)
}

input NoteInput @writes(type: "Note") {
  id: ID!
  title: String!
  summary: String
  body: String
  tags: [String!]!
  secret: String
  mood: Mood
}

extend type Query {
  note(id: ID!): Note
}

extend type Mutation {
  saveNote(input: NoteInput!): Note!
}

${hasSubscription ? 'extend type' : 'type'} Subscription {
  noteSaved(authorId: ID!): Note!
}
`;

const FIXTURE_OPERATIONS = `
query note($id: ID!) {
  note(id: $id) { id authorId title summary body tags secret mood }
}

mutation saveNote($input: NoteInput!) {
  saveNote(input: $input) { id title body }
}

subscription noteSaved($authorId: ID!) {
  noteSaved(authorId: $authorId) { id authorId body secret }
}
`;

/** A schema dir: the repository's schema files plus `extra` files. */
function schemaDirWith(extra: Record<string, string>): string {
  const dir = join(tempDir('schema'), 'schema');
  mkdirSync(dir);
  copyReferenceSdl(dir);
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(dir, name), text);
  return dir;
}

function operationsFile(text: string): string {
  const file = join(tempDir('ops'), 'ops.graphql');
  writeFileSync(file, text);
  return file;
}

afterAll(removeTempDirs);

describe("a schema author's fixture type", () => {
  let schemaDir: string;
  let gen: Generated;

  beforeAll(async () => {
    schemaDir = schemaDirWith({ 'zz-note.graphql': FIXTURE_SDL });
    gen = await runCodegen({ schemaDir, documents: operationsFile(FIXTURE_OPERATIONS), outDir: tempDir('fixture-out') });
  });

  it('is in the emitted manifest, with each field at its level, equal to what the gateway builds', async () => {
    const { privacyManifest } = await importGenerated<{ privacyManifest: PrivacyManifest }>(gen.outDir, GENERATED_FILES.privacy);
    expect(privacyManifest).toEqual(buildSchema(readSchemaDir(schemaDir), {}).manifest);
    const note = privacyManifest.objects['Note']!;
    expect(note.owner).toBe('authorId');
    expect(note.id).toBe('id');
    expect(note.fields).toEqual({
      id: { level: 'PUBLIC', type: 'ID!' },
      authorId: { level: 'PUBLIC', type: 'ID!' },
      title: { level: 'PUBLIC', type: 'String!' },
      summary: { level: 'SERVER', type: 'String', searchable: true },
      body: { level: 'SHARED', type: 'String', pad: [256, 1024] },
      tags: { level: 'SHARED', type: '[String!]!' },
      secret: { level: 'PRIVATE', type: 'String' },
      mood: { level: 'PRIVATE', type: 'Mood' },
    });
    expect(privacyManifest.inputs['NoteInput']!.writes).toBe('Note');
    expect(privacyManifest.inputs['NoteInput']!.fields['secret']).toEqual({ level: 'PRIVATE', type: 'String', coordinate: 'Note.secret' });
    // The reference type is still there.
    expect(privacyManifest.objects['Profile']!.fields['bio']!.level).toBe('SHARED');
  });

  it('is sealed on the wire for SHARED and PRIVATE only', async () => {
    const { wireSchemaSDL } = await importGenerated<{ wireSchemaSDL: string }>(gen.outDir, GENERATED_FILES.privacy);
    const wire = buildGraphQLSchema(wireSchemaSDL);
    const note = (wire.getType('Note') as GraphQLObjectType).getFields();
    const types = Object.fromEntries(Object.entries(note).map(([k, f]) => [k, String(f.type)]));
    expect(types).toEqual({
      id: 'ID!',
      authorId: 'ID!',
      title: 'String!',
      summary: 'String',
      body: 'Sealed',
      tags: 'Sealed!',
      secret: 'Sealed',
      mood: 'Sealed',
    });
    const input = (wire.getType('NoteInput') as GraphQLInputObjectType).getFields();
    expect(String(input['tags']!.type)).toBe('Sealed!');
    expect(String(input['summary']!.type)).toBe('String');
  });

  it('gets plaintext operation types and a hook per operation, subscription included', async () => {
    expect(gen.types).toMatch(/export type NoteQuery = \{ note: \{ id: string, authorId: string, title: string, summary: string \| null, body: string \| null, tags: Array<string>, secret: string \| null, mood: Mood \| null \} \| null \};/);
    expect(gen.types).toMatch(/export type Mood =\s*\| 'CALM'\s*\| 'STORMY';/);
    expect(gen.types).not.toMatch(/Sealed/);
    expect(gen.hooks).toContain("import { useMutation, useQuery, useSubscription } from '@apollo/client/react';");
    expect(gen.hooks).toContain(
      'export function useNoteSavedSubscription(options: useSubscription.Options<NoteSavedSubscription, NoteSavedSubscriptionVariables>) {\n  return useSubscription(NoteSavedDocument, options);',
    );
    const hooks = await importGenerated<Record<string, unknown>>(gen.outDir, GENERATED_FILES.hooks);
    expect(Object.keys(hooks).sort()).toEqual(['useNoteQuery', 'useNoteSavedSubscription', 'useSaveNoteMutation']);
    const usage = `
      import { useNoteQuery, useNoteSavedSubscription, useSaveNoteMutation } from './hooks.js';
      export function useExample(): unknown[] {
        const q = useNoteQuery({ variables: { id: 'n1' } });
        const tags: string[] | undefined = q.data?.note?.tags;
        const mood: 'CALM' | 'STORMY' | null | undefined = q.data?.note?.mood;
        const s = useNoteSavedSubscription({ variables: { authorId: 'u1' } });
        const secret: string | null | undefined = s.data?.noteSaved.secret;
        const [save] = useSaveNoteMutation();
        void save({ variables: { input: { id: 'n1', title: 't', tags: ['a'], mood: 'CALM', secret: 'plain' } } });
        // @ts-expect-error tags are a list of strings, not one
        void save({ variables: { input: { id: 'n1', title: 't', tags: 'a' } } });
        return [tags, mood, secret];
      }
    `;
    expect(await typecheck(gen.outDir, { 'usage.ts': usage })).toBe('');
  });
});

describe('what the generator refuses', () => {
  it('a schema loaded by introspection (no applied directives, Sealed fields)', async () => {
    const built = referenceSchema();
    const dir = tempDir('introspection');
    const json = join(dir, 'schema.json');
    writeFileSync(json, JSON.stringify({ data: introspectionFromSchema(built.wire) }));
    await expect(
      generate(
        {
          schema: json,
          silent: true,
          pluginLoader: veilgraphPluginLoader,
          generates: { [join(dir, 'privacy.ts')]: { plugins: [MANIFEST_PLUGIN] } },
        },
        false,
      ),
    ).rejects.toThrow(/Profile\.bio.*wire type Sealed.*Generate from the annotated \.graphql files/s);
  });

  it('a schema without PRIVACY_SDL', async () => {
    const dir = tempDir('no-privacy-sdl');
    await expect(
      generate(
        {
          schema: 'type Query { hello: String }',
          silent: true,
          pluginLoader: veilgraphPluginLoader,
          generates: { [join(dir, 'privacy.ts')]: { plugins: [MANIFEST_PLUGIN] } },
        },
        false,
      ),
    ).rejects.toThrow(/does not define @privacy; pass PRIVACY_SDL/);
  });

  it('annotations the gateway refuses, listing every problem', async () => {
    const schemaDir = schemaDirWith({
      'zz-bad.graphql': `
        type Bad @privacy(level: PRIVATE) {
          id: ID!
          text: String @privacy(level: SHARED, searchable: true)
        }
        extend type Query { bad: Bad }
      `,
    });
    await expect(runCodegen({ schemaDir, documents: [], outDir: tempDir('bad-out') })).rejects.toThrow(
      /searchable is only possible at level SERVER[\s\S]*Bad: has protected fields but no @owner/,
    );
  });

  it('a document the source schema accepts but the gateway (wire schema) would refuse', async () => {
    const documents = operationsFile(
      [
        'mutation setBio($id: ID!, $bio: String) {',
        '  updateProfile(id: $id, input: { bio: $bio }) { id }',
        '}',
      ].join('\n'),
    );
    await expect(runCodegen({ schema: SCHEMA, documents, outDir: tempDir('wire-out') })).rejects.toThrow(
      /gateway would refuse[\s\S]*ops\.graphql:1:27 \(mutation setBio\): Variable "\$bio" of type "String" used in position expecting type "Sealed"/,
    );
  });

  it('an anonymous operation (the hook is named after the operation)', async () => {
    await expect(
      runCodegen({ schema: SCHEMA, documents: operationsFile('query { myProfile { id } }'), outDir: tempDir('anon-out') }),
    ).rejects.toThrow(/anonymous query/);
  });
});
