// Abstract types through the real gateway: a union of two annotated types (the Note and
// Reminder fixtures), read with inline and named fragments and aliases; every sealed
// field is opened for its concrete type's location. Written with a list of input objects.
import { parse, print, type DocumentNode } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { DataKeyClientKeys, graphqlDataKeyTransport } from '../../src/client/data-keys.js';
import { openResult, sealVariables, withVeilFields, type ClientKeys } from '../../src/client/index.js';
import type { BuiltSchema } from '../../src/server/schema.js';
import { canary, newObjectId, registerAndLogin, type TestGateway, type TestUser } from '../helpers/gateway.js';
import { startNoteGateway, type NoteGateway } from '../helpers/note-gateway.js';


let g: NoteGateway;
let schema: BuiltSchema;
let t: TestGateway;
let alice: TestUser;
let keys: ClientKeys;
const requestBodies: string[] = [];

async function run(document: DocumentNode, variables: Record<string, unknown> = {}) {
  const sealed = await sealVariables({ schema: schema.source, manifest: schema.manifest, document, variables, keys, backend: nodeBackend, viewerId: alice.id });
  const body = JSON.stringify({ query: print(withVeilFields(document, schema.source, schema.manifest)), variables: sealed });
  requestBodies.push(body);
  const res = await fetch(t.gateway.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${alice.token}` }, body });
  const json = (await res.json()) as { data: Record<string, unknown> | null; errors?: never };
  return openResult({ schema: schema.source, manifest: schema.manifest, document, data: json.data, errors: json.errors, keys, backend: nodeBackend, directory: 'unverified' });
}

beforeAll(async () => {
  g = await startNoteGateway();
  ({ t, schema } = g);
  alice = await registerAndLogin(t, 'alice');
  keys = new DataKeyClientKeys({ backend: nodeBackend, userId: alice.id, encryption: alice.encryption, vault: alice.vault, transport: graphqlDataKeyTransport(t.gateway.url, () => alice.token) });
}, 120_000);

afterAll(async () => {
  await g?.close();
});

describe('a union through the real gateway', () => {
  it('opens every sealed field of each concrete type, with fragments and aliases; plaintext never leaves the client', async () => {
    const n = [1, 2].map((i) => ({ id: newObjectId(), title: `note ${i}`, body: canary(`body${i}`), tags: [canary(`tag${i}`)], secret: canary(`secret${i}`) }));
    const r = { id: newObjectId(), at: canary('at'), label: canary('label') };
    expect((await run(parse('mutation S($inputs: [NoteInput!]!) { saveNotes(inputs: $inputs) { id } }'), { inputs: n })).errors).toBeUndefined();
    expect((await run(parse('mutation R($i: ReminderInput!) { saveReminder(input: $i) { id } }'), { i: r })).errors).toBeUndefined();

    const read = await run(
      parse(`
        query E {
          entries {
            ... on Note { id text: body tags ...Secret }
            ... on Reminder { id when: at label }
          }
        }
        fragment Secret on Note { secret }
      `),
    );
    expect(read.errors).toBeUndefined();
    const entries = (read.data as { entries: Record<string, unknown>[] }).entries;
    const byId = new Map(entries.map((e) => [e.id as string, e]));
    for (const x of n) expect(byId.get(x.id)).toEqual({ __typename: 'Note', id: x.id, text: x.body, tags: x.tags, secret: x.secret });
    expect(byId.get(r.id)).toEqual({ __typename: 'Reminder', id: r.id, when: r.at, label: r.label });

    const sent = requestBodies.join('\n');
    for (const s of [...n.flatMap((x) => [x.body, x.secret, ...x.tags]), r.at, r.label]) expect(sent).not.toContain(s);
  });
});
