// A schema author's own subscription (the Note fixture's `noteSaved`, written as an author
// would: subscribe to a topic, nothing about grants) through the real gateway and a real
// graphql-ws client. One context serves every event of a subscription; veilgraph authorises
// each event against the grants as they are when it is delivered, so a grant given while
// subscribed applies from the next event and a revoked one stops the next event's fields.
import type { FormattedExecutionResult } from 'graphql';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { generateSymmetricKey, rotateSymmetricKey } from '../../src/crypto/keys.js';
import { canary, grantAccess, newObjectId, registerAndLogin, revokeAccess, type TestUser } from '../helpers/gateway.js';
import { startNoteGateway, type NoteGateway } from '../helpers/note-gateway.js';
import { waitFor } from '../helpers/wait.js';

let g: NoteGateway;
let alice: TestUser;
let eve: TestUser;

beforeAll(async () => {
  g = await startNoteGateway();
  alice = await registerAndLogin(g.t, 'alice');
  eve = await registerAndLogin(g.t, 'eve');
}, 60_000);

afterAll(async () => {
  await g?.close();
});

it("a grant given or revoked while subscribed applies from the next event of an author's subscription", async () => {
  const id = newObjectId();
  const tags = [canary('tag1'), canary('tag2'), canary('tag3')];
  const save = async (tag: string) => {
    const r = await g.t.gql('mutation S($i: NoteInput!) { saveNote(input: $i) { id } }', { i: { id, title: 'n', tag } }, alice.token);
    expect(r.errors).toBeUndefined();
  };
  await save(canary('tag0'));

  const events: FormattedExecutionResult<{ noteSaved: { tag: string | null } }, unknown>[] = [];
  const client = createClient({ url: g.t.gateway.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { token: eve.token } });
  const dispose = client.subscribe<{ noteSaved: { tag: string | null } }>(
    { query: `subscription N($id: ID!) { noteSaved(id: $id) { id title tag } }`, variables: { id } },
    { next: (r) => void events.push(r), error: () => undefined, complete: () => undefined },
  );
  try {
    await waitFor(() => g.t.gateway.pubsub.subscriberCount(`note:${id}`) === 1, 'the subscription registered');
    const codes = (n: number) => (events[n]?.errors ?? []).map((e) => `${(e.path ?? []).join('.')}:${String(e.extensions?.code)}`);

    await save(tags[0]!);
    await waitFor(() => events.length === 1, 'event 1');
    expect(codes(0)).toEqual(['noteSaved.tag:FORBIDDEN']);

    const dataKey = generateSymmetricKey(nodeBackend);
    expect((await grantAccess(g.t, alice, eve, 'Note', id, dataKey)).errors).toBeUndefined();
    await save(tags[1]!);
    await waitFor(() => events.length === 2, 'event 2');
    expect(codes(1)).toEqual([]);
    expect(events[1]!.data!.noteSaved.tag).toBe(tags[1]);

    const revoked = await revokeAccess(g.t, alice, eve, 'Note', id, rotateSymmetricKey(nodeBackend, dataKey));
    expect(revoked.errors).toBeUndefined();
    await save(tags[2]!);
    await waitFor(() => events.length === 3, 'event 3');
    expect(codes(2)).toEqual(['noteSaved.tag:FORBIDDEN']);
    expect(JSON.stringify(events[2])).not.toContain(tags[2]);
  } finally {
    dispose();
    await client.dispose();
  }
});
