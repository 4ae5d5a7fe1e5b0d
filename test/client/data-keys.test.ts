// Per-object data keys, end to end against the real gateway: writing new objects creates,
// wraps and stores one key per object; reading 1,000 objects with two SHARED fields each
// costs one X25519 exchange per distinct key (1,000), not one per field (2,000), counted
// on the crypto backend itself; reading them again costs none.
import { parse, type DocumentNode } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CryptoBackend } from '../../src/crypto/backend.js';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { generateEncryptionKeyPair, generateSymmetricKey } from '../../src/crypto/keys.js';
import { DataKeyClientKeys, graphqlDataKeyTransport } from '../../src/client/data-keys.js';
import { openResult, sealVariables, withVeilFields, type ClientKeys } from '../../src/client/index.js';
import type { BuiltSchema } from '../../src/server/schema.js';
import type { NoteRow } from '../fixtures/note/resolvers.js';
import { newObjectId, registerAndLogin, type TestGateway, type TestUser } from '../helpers/gateway.js';
import { startNoteGateway, type NoteGateway } from '../helpers/note-gateway.js';

const N = 1000;

const SAVE = parse('mutation S($inputs: [NoteInput!]!) { saveNotes(inputs: $inputs) { id } }');
const LIST = parse('query L { notes { id title body tags secret } }');

let g: NoteGateway;
let schema: BuiltSchema;
let t: TestGateway;
let alice: TestUser;
let rows: Map<string, NoteRow>;

/** The node backend with a counter on every asymmetric operation. */
function counting(): { backend: CryptoBackend; count: () => number } {
  let n = 0;
  const backend: CryptoBackend = {
    ...nodeBackend,
    name: 'counting',
    x25519: (a, b) => (n++, nodeBackend.x25519(a, b)),
    x25519PublicKey: (a) => (n++, nodeBackend.x25519PublicKey(a)),
    ed25519Sign: (a, b) => (n++, nodeBackend.ed25519Sign(a, b)),
    ed25519Verify: (a, b, c) => (n++, nodeBackend.ed25519Verify(a, b, c)),
  };
  return { backend, count: () => n };
}

async function gql(document: DocumentNode, variables: Record<string, unknown>, keys: ClientKeys, backend: CryptoBackend) {
  const sent = withVeilFields(document, schema.source, schema.manifest);
  const sealed = await sealVariables({ schema: schema.source, manifest: schema.manifest, document, variables, keys, backend, viewerId: alice.id });
  const { print } = await import('graphql');
  const res = await fetch(t.gateway.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${alice.token}` },
    body: JSON.stringify({ query: print(sent), variables: sealed }),
  });
  const body = (await res.json()) as { data: Record<string, unknown> | null; errors?: unknown[] };
  return openResult({ schema: schema.source, manifest: schema.manifest, document, data: body.data, errors: body.errors as never, keys, backend, directory: 'unverified' });
}

beforeAll(async () => {
  g = await startNoteGateway();
  ({ t, schema, notes: rows } = g);
  alice = await registerAndLogin(t, 'alice');
}, 120_000);

afterAll(async () => {
  await g?.close();
});

describe('per-object data keys', () => {
  it('asymmetric work is per distinct key, not per field, when reading 1,000 objects', async () => {
    const transport = graphqlDataKeyTransport(t.gateway.url, () => alice.token);
    const writer = counting();
    const writeKeys = new DataKeyClientKeys({ backend: writer.backend, userId: alice.id, encryption: alice.encryption, vault: alice.vault, transport });
    const inputs = Array.from({ length: N }, (_, i) => ({ id: newObjectId(), title: `note ${i}`, body: `body ${i}`, tags: ['a', `t${i}`], secret: `secret ${i}` }));
    const saved = await gql(SAVE, { inputs }, writeKeys, writer.backend);
    expect(saved.errors).toBeUndefined();
    // A new key per object: its ephemeral key and one exchange to wrap it for the owner.
    expect(writer.count()).toBe(2 * N);
    // The server holds each note's SHARED fields under that note's own key.
    const lineages = new Set([...rows.values()].map((r) => String(r.body).slice(0, 30)));
    expect(lineages.size).toBe(N);

    // A fresh session (nothing cached) reads everything back.
    const reader = counting();
    const readKeys = new DataKeyClientKeys({ backend: reader.backend, userId: alice.id, encryption: alice.encryption, vault: alice.vault, transport });
    const read = await gql(LIST, {}, readKeys, reader.backend);
    expect(read.errors).toBeUndefined();
    const notes = (read.data as { notes: { id: string; body: string; tags: string[]; secret: string }[] }).notes;
    expect(notes).toHaveLength(N);
    const byId = new Map(inputs.map((i) => [i.id, i]));
    for (const n of notes) {
      const want = byId.get(n.id)!;
      expect([n.body, n.tags, n.secret]).toEqual([want.body, want.tags, want.secret]);
    }
    // 2,000 SHARED fields over 1,000 distinct keys: 1,000 unwraps.
    expect(reader.count()).toBe(N);

    // Reading again: every key is cached, no asymmetric work at all.
    const again = await gql(LIST, {}, readKeys, reader.backend);
    expect(again.errors).toBeUndefined();
    expect(reader.count()).toBe(N);
  }, 180_000);

  it('another user cannot store keys on alice’s notes, and a stranger’s session cannot open them', async () => {
    const id = [...rows.keys()][0]!;
    const mallory = await registerAndLogin(t, 'mallory');
    const stranger = await generateEncryptionKeyPair(nodeBackend);
    const malloryTransport = graphqlDataKeyTransport(t.gateway.url, () => mallory.token);
    const { wrapKey, wrappedKeyToText } = await import('../../src/crypto/wrap.js');
    const wrapped = await wrapKey(nodeBackend, generateSymmetricKey(nodeBackend), { coordinate: 'Note', ownerId: mallory.id, objectId: id }, [mallory.encryption]);
    await expect(malloryTransport.put('Note', id, [{ recipientId: mallory.id, keyVersion: 1, wrapped: wrappedKeyToText(wrapped) }])).rejects.toMatchObject({ code: 'FORBIDDEN' });
    // Mallory's session finds no key for alice's notes: the fields fail one by one.
    const keys = new DataKeyClientKeys({ backend: nodeBackend, userId: mallory.id, encryption: stranger, vault: mallory.vault, transport: malloryTransport });
    const note = rows.get(id)!;
    const r = await openResult({
      schema: schema.source,
      manifest: schema.manifest,
      document: parse('{ notes { id body } }'),
      data: { notes: [{ __typename: 'Note', id, _vgOwner: alice.id, _vgId: id, body: note.body }] },
      keys,
      backend: nodeBackend,
      directory: 'unverified',
    });
    expect((r.errors ?? []).map((e) => e.extensions?.code)).toEqual(['KEY_NOT_FOUND']);
  });
});
