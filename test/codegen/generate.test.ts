/**
 * The generator over the real schema (schema/) and the example operations
 * (client/operations/): the manifest it emits is the gateway's, the wire SDL is the
 * gateway's wire schema, the operation types are plaintext, the hooks exist, and all of it
 * typechecks.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema as buildGraphQLSchema, lexicographicSortSchema, parse, printSchema, type GraphQLObjectType } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENERATED_FILES } from '../../src/codegen/config.js';
import type { PrivacyManifest } from '../../src/privacy/manifest.js';
import { type BuiltSchema } from '../../src/server/schema.js';
import { OPERATIONS, ROOT, SCHEMA, importGenerated, removeTempDirs, runCodegen, tempDir, typecheck, type Generated } from './helpers.js';
import { referenceSchema } from '../helpers/reference-schema.js';

let gen: Generated;
let built: BuiltSchema;

beforeAll(async () => {
  built = referenceSchema();
  gen = await runCodegen({ schema: SCHEMA, documents: OPERATIONS, outDir: tempDir('real') });
});
afterAll(removeTempDirs);

/** The exported type alias `name` (one line, as typescript-operations prints it). */
function typeAlias(source: string, name: string): string {
  const m = new RegExp(`^export type ${name} = (.*);$`, 'm').exec(source);
  if (!m) throw new Error(`no type ${name} in the generated types`);
  return m[1]!;
}

describe('privacy module', () => {
  it('emits the manifest the gateway derives from the same schema', async () => {
    const mod = await importGenerated<{ privacyManifest: PrivacyManifest }>(gen.outDir, GENERATED_FILES.privacy);
    expect(mod.privacyManifest).toEqual(built.manifest);
    // Not vacuous: the reference schema has a field at each level.
    const profile = mod.privacyManifest.objects['Profile']!;
    expect(profile.fields['displayName']!.level).toBe('PUBLIC');
    expect(profile.fields['email']).toEqual({ level: 'SERVER', type: 'String', searchable: true });
    expect(profile.fields['bio']!.level).toBe('SHARED');
    expect(profile.fields['diary']!.level).toBe('PRIVATE');
    expect(mod.privacyManifest.inputs['CreateProfileInput']!.fields['bio']!.coordinate).toBe('Profile.bio');
  });

  it('emits the wire schema SDL: it builds, has bio: Sealed, and equals the gateway wire schema', async () => {
    const mod = await importGenerated<{ wireSchemaSDL: string }>(gen.outDir, GENERATED_FILES.privacy);
    const wire = buildGraphQLSchema(mod.wireSchemaSDL);
    const profile = wire.getType('Profile') as GraphQLObjectType;
    expect(String(profile.getFields()['bio']!.type)).toBe('Sealed');
    expect(String(profile.getFields()['diary']!.type)).toBe('Sealed');
    expect(String(profile.getFields()['email']!.type)).toBe('String');
    expect(printSchema(lexicographicSortSchema(wire))).toBe(printSchema(lexicographicSortSchema(built.wire)));
    // The SDL survives the template literal intact (descriptions with backticks).
    expect(mod.wireSchemaSDL).toContain('Pass as `after`');
  });

  it('is declared as const (literal level types) and assignable to PrivacyManifest', () => {
    expect(gen.privacy).toMatch(/^export const privacyManifest = \{$/m);
    expect(gen.privacy).toMatch(/^\} as const;$/m);
    expect(gen.privacy).toMatch(/^export const wireSchemaSDL = `/m);
  });
});

describe('operation types', () => {
  it('types sealed fields as their plaintext (source schema) type, never Sealed', () => {
    for (const name of ['MyProfileQuery', 'ProfileQuery', 'ProfilesQuery', 'CreateProfileMutation', 'UpdateProfileMutation', 'ProfileFieldsFragment']) {
      const alias = typeAlias(gen.types, name);
      expect(alias, name).toMatch(/\bbio\??: string \| null\b/);
      expect(alias, name).toMatch(/\bdiary\??: string \| null\b/);
      expect(alias, name).toMatch(/\bdisplayName: string\b/);
    }
    expect(gen.types).not.toMatch(/Sealed/);
  });

  it('types sealed input fields as plaintext too (the link seals them)', () => {
    const input = /export type CreateProfileInput = \{([^}]*)\}/.exec(gen.types)![1]!;
    expect(input).toMatch(/bio\?: string \| null/);
    expect(input).toMatch(/diary\?: string \| null/);
  });
});

describe('hooks module', () => {
  it('exports one hook per operation', async () => {
    const hooks = await importGenerated<Record<string, unknown>>(gen.outDir, GENERATED_FILES.hooks);
    // Every operation of client/operations/, named as Apollo's hooks are: use + Name + Kind.
    const ops = readdirSync(join(ROOT, 'client/operations'))
      .filter((f) => f.endsWith('.graphql'))
      .flatMap((f) => parse(readFileSync(join(ROOT, 'client/operations', f), 'utf8')).definitions)
      .flatMap((d) => (d.kind === 'OperationDefinition' && d.name ? [{ name: d.name.value, kind: d.operation }] : []));
    const names = ops.map((o) => `use${o.name[0]!.toUpperCase()}${o.name.slice(1)}${o.kind[0]!.toUpperCase()}${o.kind.slice(1)}`);
    expect(names).toEqual(expect.arrayContaining(['useMyProfileQuery', 'useProfileQuery', 'useProfilesQuery', 'useCreateProfileMutation', 'useUpdateProfileMutation', 'useRequestContactMutation', 'useContactsQuery', 'useGrantsQuery']));
    for (const n of names) expect(typeof hooks[n], n).toBe('function');
    expect(Object.keys(hooks).sort()).toEqual([...names].sort());
  });

  it('wraps useQuery / useMutation with the typed documents; options required only with required variables', () => {
    expect(gen.hooks).toContain("from '@apollo/client/react'");
    expect(gen.hooks).toContain(
      'export function useMyProfileQuery(options?: useQuery.Options<MyProfileQuery, MyProfileQueryVariables> & { returnPartialData?: false }) {\n  return useQuery(MyProfileDocument, options);',
    );
    expect(gen.hooks).toContain('export function useProfileQuery(options: useQuery.Options<ProfileQuery, ProfileQueryVariables>');
    expect(gen.hooks).toContain('export function useProfilesQuery(options?:'); // $first has a default, $after is nullable
    expect(gen.hooks).toContain('export function useUpdateProfileMutation(options?: useMutation.Options<UpdateProfileMutation, UpdateProfileMutationVariables>)');
  });
});

/** Uses the generated modules the way an application would; must typecheck. */
const USAGE = `
import type { PrivacyManifest } from '${join(ROOT, 'src/privacy/manifest.js')}';
import { privacyManifest, wireSchemaSDL } from './privacy.js';
import { useCreateProfileMutation, useMyProfileQuery, useProfileQuery, useProfilesQuery } from './hooks.js';
import { MyProfileDocument, type MyProfileQuery } from './graphql.js';
import { useQuery } from '@apollo/client/react';

export const manifest: PrivacyManifest = privacyManifest;
export const level: 'SHARED' = privacyManifest.objects.Profile.fields.bio.level;
export const sdl: string = wireSchemaSDL;

export function useExample(): unknown[] {
  const mine = useMyProfileQuery();
  const bio: string | null | undefined = mine.data?.myProfile?.bio;
  // @ts-expect-error bio is a plaintext string
  const wrong: number | null | undefined = mine.data?.myProfile?.bio;
  // @ts-expect-error $id is required
  useProfileQuery();
  useProfileQuery({ variables: { id: 'p1' }, fetchPolicy: 'network-only' });
  // @ts-expect-error unknown variable
  useProfileQuery({ variables: { nope: 'p1' } });
  const page = useProfilesQuery({ variables: { first: 10 } });
  const [create] = useCreateProfileMutation();
  void create({ variables: { input: { id: 'p1', displayName: 'Ada', bio: 'plaintext in, sealed by the link', diary: null } } });
  // @ts-expect-error displayName is required
  void create({ variables: { input: { id: 'p1' } } });
  const direct = useQuery(MyProfileDocument);
  const same: MyProfileQuery | undefined = direct.data;
  return [bio, wrong, page.data?.profiles, same];
}
`;

const MODERN = `
declare module '@apollo/client' {
  export interface TypeOverrides {
    signatureStyle: 'modern';
  }
}
export {};
`;

describe('generated TypeScript', () => {
  it('typechecks under the repository compiler options, as an application uses it', async () => {
    // Two programs: Apollo's default ("classic") hook signatures, and its opt-in "modern" ones.
    const modernDir = tempDir('modern');
    const copy = await runCodegen({ schema: SCHEMA, documents: OPERATIONS, outDir: modernDir });
    expect(copy.hooks).toBe(gen.hooks); // deterministic
    expect(copy.privacy).toBe(gen.privacy);
    const [classic, modern] = await Promise.all([
      typecheck(gen.outDir, { 'usage.ts': USAGE }),
      typecheck(modernDir, { 'usage.ts': USAGE, 'modern.ts': MODERN }),
    ]);
    expect(classic).toBe('');
    expect(modern).toBe('');
  });
});
