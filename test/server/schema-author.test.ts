// The schema author's path, end to end: add an annotated type (test/fixtures/note), run the
// code generator over the schema with it, serve it from the gateway with a resolver that
// contains no crypto, and use it from a real Apollo Client through the privacy link with
// plaintext in and plaintext out. The fixture's own table never holds protected plaintext.
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApolloClient, HttpLink, InMemoryCache } from '@apollo/client';
import { ApolloLink } from '@apollo/client/link';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { createPrivacyLink } from '../../src/client/link.js';
import { dataKeyClientKeysFrom, graphqlDataKeyTransport } from '../../src/client/data-keys.js';
import { createIdentity, login, register } from '../../src/client/session.js';
import type { PrivacyManifest } from '../../src/privacy/manifest.js';
import { GENERATED_FILES } from '../../src/codegen/config.js';
import { importGenerated, removeTempDirs, runCodegen, tempDir } from '../codegen/helpers.js';
import { noteTypes, noteResolvers, type NoteRow } from '../fixtures/note/resolvers.js';
import { canary, newObjectId, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { copyReferenceSdl } from '../helpers/reference-schema.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE = join(ROOT, 'test/fixtures/note');

let t: TestGateway;
const rows = new Map<string, NoteRow>();
let generated: { privacyManifest: PrivacyManifest; wireSchemaSDL: string };
let docs: Record<string, TypedDocumentNode<Record<string, unknown>, Record<string, unknown>>>;

beforeAll(async () => {
  // The author's schema directory: the reference schema plus their new file.
  const schemaDir = tempDir('author-schema');
  mkdirSync(join(schemaDir, 'sdl'));
  copyReferenceSdl(join(schemaDir, 'sdl'));
  copyFileSync(join(FIXTURE, 'note.graphql'), join(schemaDir, 'sdl', 'note.graphql'));
  const outDir = tempDir('author-out');
  await runCodegen({ schemaDir: join(schemaDir, 'sdl'), documents: [join(FIXTURE, 'operations.graphql')], outDir });
  generated = await importGenerated(outDir, GENERATED_FILES.privacy);
  docs = await importGenerated(outDir, GENERATED_FILES.types);
  // The owner lookup lets a note's author store its data key (putDataKeys), which SHARED fields need.
  t = await startTestGateway({ typeDefs: [readFileSync(join(FIXTURE, 'note.graphql'), 'utf8')], resolvers: [noteResolvers(rows)], types: noteTypes(rows) });
}, 120_000);

afterAll(async () => {
  await t?.close();
  removeTempDirs();
});

describe("a schema author's own type", () => {
  it('the generated manifest has the new type at every level', () => {
    const note = generated.privacyManifest.objects.Note!;
    expect(Object.fromEntries(Object.entries(note.fields).map(([k, f]) => [k, f.level]))).toEqual({
      id: 'PUBLIC',
      authorId: 'PUBLIC',
      title: 'PUBLIC',
      tag: 'SERVER',
      body: 'SHARED',
      tags: 'SHARED',
      secret: 'PRIVATE',
    });
  });

  it('round-trips through the gateway and the link with plaintext in and out, and the table holds no protected plaintext', async () => {
    const keystore = (await createIdentity(nodeBackend)).keystore;
    const username = `author${Date.now() % 100000}`;
    const { userId } = await register(t.gateway.url, username, keystore, nodeBackend);
    const { token } = await login(t.gateway.url, username, keystore, nodeBackend);
    const client = new ApolloClient({
      link: ApolloLink.from([
        createPrivacyLink({
          manifest: generated.privacyManifest,
          schema: generated.wireSchemaSDL,
          // Per-object data keys: a new note's key is made, wrapped for its author and stored before the save.
          keys: await dataKeyClientKeysFrom(keystore, nodeBackend, userId, graphqlDataKeyTransport(t.gateway.url, () => token)),
          backend: nodeBackend,
          directory: 'unverified',
          viewerId: () => userId,
        }),
        new HttpLink({ uri: t.gateway.url, headers: { authorization: `Bearer ${token}` } }),
      ]),
      cache: new InMemoryCache(),
    });
    const id = newObjectId();
    const values = { id, title: canary('title'), tag: canary('tag'), body: canary('body'), secret: canary('secret') };
    const saved = await client.mutate({ mutation: docs.SaveNoteDocument!, variables: { input: values } });
    expect(saved.data).toMatchObject({ saveNote: values });
    const read = await client.query({ query: docs.NoteDocument!, variables: { id }, fetchPolicy: 'network-only' });
    expect(read.data).toMatchObject({ note: values });

    const stored = rows.get(id)!;
    const table = JSON.stringify([...rows.values()], (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v));
    expect(table).toContain(values.title);
    for (const secret of [values.tag, values.body, values.secret]) expect(table).not.toContain(secret);
    expect(stored.body).toMatch(/^AQE/);
    expect(stored.serverSealed).toBeInstanceOf(Uint8Array);
  });
});
