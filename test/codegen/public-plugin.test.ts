/**
 * `veilgraph/codegen` loaded BY NAME, as a stranger's codegen.ts names it: GraphQL Code
 * Generator's own `generate()` resolves `'veilgraph/codegen'` from the project directory
 * (its default loader: `require.resolve` from the project, then `import()`), beside the
 * client preset. The project is a temp directory whose node_modules/veilgraph holds the
 * repository's package.json `exports` entry for `./codegen` and the current source of
 * src/codegen/index.ts built with esbuild (the packed build is tested by
 * test/package/consumer.test.ts); everything else resolves from the repository's node_modules.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from '@graphql-codegen/cli';
import { build } from 'esbuild';
import { buildSchema, introspectionFromSchema, lexicographicSortSchema, printSchema } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANIFEST_PLUGIN, veilgraphPluginLoader } from '../../src/codegen/plugin.js';
import { PRIVACY_SDL } from '../../src/privacy/sdl.js';
import { OPERATIONS, ROOT, SCHEMA, removeTempDirs, runCodegen, tempDir } from './helpers.js';
import { referenceSchema } from '../helpers/reference-schema.js';

const PROFILE_SDL = `
type Query { me: Profile }
type Mutation { updateProfile(id: ID!, input: ProfileInput!): Profile }
type Profile @owner(field: "ownerId") {
  id: ID!
  ownerId: ID!
  name: String
  email: String @privacy(level: SERVER, searchable: true)
  bio: String @privacy(level: SHARED)
  diary: String @privacy(level: PRIVATE)
}
input ProfileInput @writes(type: "Profile") { name: String, bio: String, diary: String }
`;
const GOOD_OPERATIONS = `
query me { me { id name email bio diary } }
mutation updateProfile($id: ID!, $input: ProfileInput!) { updateProfile(id: $id, input: $input) { id bio } }
`;
/** Valid against the source schema (`bio: String`), refused by the wire schema (`bio: Sealed`). */
const WIRE_REFUSED = 'query ok { me { id } }\nmutation setBio($id: ID!, $bio: String) {\n  updateProfile(id: $id, input: { bio: $bio }) { id }\n}\n';

let project: string;

/** A project dir (under a temp root whose node_modules links the repository's) with node_modules/veilgraph/codegen built from src/. */
beforeAll(async () => {
  const root = tempDir('public');
  project = join(root, 'project');
  const pkgDir = join(project, 'node_modules', 'veilgraph');
  const repoPkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, { import: string }> };
  const entry = repoPkg.exports['./codegen'];
  if (!entry) throw new Error('package.json exports has no ./codegen');
  mkdirSync(pkgDir, { recursive: true });
  writeFileSync(join(pkgDir, 'package.json'), JSON.stringify({ name: 'veilgraph', type: 'module', exports: { './codegen': entry } }));
  await build({
    entryPoints: [join(ROOT, 'src/codegen/index.ts')],
    outfile: join(pkgDir, entry.import),
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    logLevel: 'silent',
  });
  mkdirSync(join(project, 'src'));
}, 60_000);
afterAll(removeTempDirs);

interface Output {
  readonly filename: string;
  readonly content: string;
}

/** `generate()` in the project with the stranger's config: the client preset and veilgraph/codegen by name. */
async function generateByName(schema: string | readonly string[], documents: Record<string, string>, output = 'src/gql/veilgraph.ts'): Promise<Output[]> {
  for (const [name, text] of Object.entries(documents)) writeFileSync(join(project, 'src', name), text);
  return (await generate(
    {
      cwd: project,
      silent: true,
      schema: typeof schema === 'string' ? [schema] : [...schema],
      documents: Object.keys(documents).map((n) => join(project, 'src', n)),
      generates: {
        [join(project, 'src/gql/')]: { preset: 'client', config: { scalars: { Sealed: 'string' } } },
        [join(project, output)]: { plugins: ['veilgraph/codegen'] },
      },
    },
    false,
  )) as Output[];
}

/** The repository's own privacy module (MANIFEST_PLUGIN, PRIVACY_SDL added as codegenConfig does) for the same SDL. */
async function ownPrivacyModule(sdl: readonly string[]): Promise<string> {
  const [out] = (await generate(
    { silent: true, schema: [PRIVACY_SDL, ...sdl], pluginLoader: veilgraphPluginLoader, generates: { [join(project, 'own.ts')]: { plugins: [MANIFEST_PLUGIN] } } },
    false,
  )) as Output[];
  return out!.content;
}

/**
 * The emitted module's exports with the wire SDL in a canonical type order (codegen orders a
 * schema's types by how it merged the SDL; the order carries no meaning).
 */
async function canonical(source: string): Promise<{ manifest: unknown; wire: string }> {
  const m = await evaluate(source);
  return { manifest: m.privacyManifest, wire: printSchema(lexicographicSortSchema(buildSchema(m.wireSchemaSDL))) };
}

function emitted(outputs: readonly Output[], name = 'veilgraph.ts'): string {
  const file = outputs.find((o) => o.filename.endsWith(`/${name}`));
  if (!file) throw new Error(`no ${name} among ${outputs.map((o) => o.filename).join(', ')}`);
  return file.content;
}

/** Evaluates the emitted module (it imports nothing) and returns its exports. */
async function evaluate(source: string): Promise<{ privacyManifest: { objects: Record<string, { owner: string; fields: Record<string, { level: string }> }>; inputs: Record<string, { writes: string }> }; wireSchemaSDL: string }> {
  const { transform } = await import('esbuild');
  const { code } = await transform(source, { loader: 'ts', format: 'esm' });
  return (await import(/* @vite-ignore */ `data:text/javascript,${encodeURIComponent(code)}`)) as Awaited<ReturnType<typeof evaluate>>;
}

describe('veilgraph/codegen by name, beside the client preset', () => {
  it('resolves by name and emits the manifest and the wire SDL: the same module as the repository generator, for an SDL without PRIVACY_SDL', async () => {
    const outputs = await generateByName(PROFILE_SDL, { 'profile.graphql': GOOD_OPERATIONS });
    for (const f of ['gql.ts', 'graphql.ts', 'index.ts']) expect(outputs.map((o) => o.filename)).toContain(join(project, 'src/gql', f));
    const content = emitted(outputs);
    expect(content).toContain('// Generated by veilgraph/codegen');
    expect(content).toContain('// Checked against the wire schema: query me, mutation updateProfile (');
    const { privacyManifest, wireSchemaSDL } = await evaluate(content);
    const levels = Object.fromEntries(Object.entries(privacyManifest.objects['Profile']!.fields).map(([k, v]) => [k, v.level]));
    expect(levels).toEqual({ id: 'PUBLIC', ownerId: 'PUBLIC', name: 'PUBLIC', email: 'SERVER', bio: 'SHARED', diary: 'PRIVATE' });
    expect(privacyManifest.inputs['ProfileInput']!.writes).toBe('Profile');
    expect(wireSchemaSDL).toMatch(/\n {2}bio: Sealed\n/);
    expect(wireSchemaSDL).toMatch(/\n {2}email: String\n/);
    // What the repository's own plugin writes for the same SDL.
    expect(await canonical(content)).toEqual(await canonical(await ownPrivacyModule([PROFILE_SDL])));
  });

  it('an SDL that declares PRIVACY_SDL itself gives the same module', async () => {
    const without = emitted(await generateByName(PROFILE_SDL, { 'profile.graphql': GOOD_OPERATIONS }));
    const withDefinitions = emitted(await generateByName([PRIVACY_SDL, PROFILE_SDL], { 'profile.graphql': GOOD_OPERATIONS }));
    expect(await canonical(withDefinitions)).toEqual(await canonical(without));
  });

  it('the reference schema and operations: the same manifest and wire SDL as `npm run codegen`', { timeout: 60_000 }, async () => {
    const outputs = (await generate(
      {
        cwd: project,
        silent: true,
        schema: [...SCHEMA],
        documents: [OPERATIONS],
        generates: { [join(project, 'src/ref/veilgraph.ts')]: { plugins: ['veilgraph/codegen'] } },
      },
      false,
    )) as Output[];
    const ours = await runCodegen({ schema: SCHEMA, documents: OPERATIONS, outDir: tempDir('public-ref') });
    const built = referenceSchema();
    const theirs = await canonical(emitted(outputs));
    expect(theirs.manifest).toEqual(JSON.parse(JSON.stringify(built.manifest)));
    expect(theirs).toEqual(await canonical(ours.privacy));
    expect(theirs.wire).toBe(printSchema(lexicographicSortSchema(built.wire)));
  });

  it('fails codegen on a document the wire schema refuses, naming the file, the line, the operation and the problem', async () => {
    const run = generateByName(PROFILE_SDL, { 'profile.graphql': GOOD_OPERATIONS, 'bad.graphql': WIRE_REFUSED });
    await expect(run).rejects.toThrow(
      /veilgraph\/codegen: the gateway would refuse what follows[\s\S]*\n {2}\S*src\/bad\.graphql:2:27 \(mutation setBio\): Variable "\$bio" of type "String" used in position expecting type "Sealed"\.\nPass sealed values inside an input-object variable/,
    );
    await expect(run).rejects.not.toThrow(/query ok|profile\.graphql/);
  });

  it('fails on a schema without @privacy annotations: introspection of the wire schema, or a schema with nothing to protect', async () => {
    const json = join(project, 'wire.json');
    writeFileSync(json, JSON.stringify({ data: introspectionFromSchema(referenceSchema().wire) }));
    await expect(generateByName(json, {})).rejects.toThrow(/Profile\.bio.*wire type Sealed.*Generate from the annotated \.graphql files/s);
    await expect(generateByName('type Query { hello: String }', {})).rejects.toThrow(/veilgraph\/codegen: no type of the schema has a SERVER, SHARED or PRIVATE field/);
  });

  it('fails on annotations the gateway refuses, and on an output that is not TypeScript', async () => {
    const bad = PROFILE_SDL.replace('@privacy(level: SHARED)', '@privacy(level: SHARED, searchable: true)');
    await expect(generateByName(bad, {})).rejects.toThrow(/Profile\.bio: searchable is only possible at level SERVER/);
    await expect(generateByName(PROFILE_SDL, {}, 'src/gql/veilgraph.json')).rejects.toThrow(/veilgraph\/codegen: emits TypeScript .*give it a \.ts output file/);
  });
});
