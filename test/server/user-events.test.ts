// Events about people over real WebSockets: contact requests and answers reach the user
// they concern (and nobody else), and a contact's key change reaches their contacts, whose
// KeyDirectory then verifies the new version and reports the change.
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { KeyDirectory, graphqlDirectoryTransport } from '../../src/client/directory.js';
import { MemoryKeyStore } from '../../src/client/keystore.js';
import { rotateIdentityKeys } from '../../src/client/rotate-identity.js';
import { createIdentity, login, register } from '../../src/client/session.js';
import { ROOMY_AUTH_LIMITS, startTestGateway, type TestGateway } from '../helpers/gateway.js';

let t: TestGateway;
const clients: Client[] = [];

async function person(username: string) {
  const keystore = new MemoryKeyStore();
  await createIdentity(nodeBackend, keystore);
  const { userId } = await register(t.gateway.url, username, keystore, nodeBackend);
  const { token } = await login(t.gateway.url, username, keystore, nodeBackend);
  return { username, userId, token, keystore };
}

function listen<T>(token: string, query: string): T[] {
  const c = createClient({ url: t.gateway.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, lazy: true, retryAttempts: 0, connectionParams: { token } });
  clients.push(c);
  const events: T[] = [];
  c.subscribe({ query }, { next: (r) => void (r.data && events.push(Object.values(r.data)[0] as T)), error: () => undefined, complete: () => undefined });
  return events;
}

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const CONTACT_EVENTS = 'subscription { contactEvents { kind user { username } } }';
const KEY_EVENTS = 'subscription { contactKeyChanged { version user { username } } }';

beforeAll(async () => {
  t = await startTestGateway({ authLimits: ROOMY_AUTH_LIMITS });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await t?.close();
});

describe('events about people', () => {
  it('contact requests and answers reach the user they concern, and only them', async () => {
    const [ann, ben, eve] = [await person('ann'), await person('ben'), await person('eve')];
    const toBen = listen<{ kind: string; user: { username: string } }>(ben.token, CONTACT_EVENTS);
    const toAnn = listen<{ kind: string; user: { username: string } }>(ann.token, CONTACT_EVENTS);
    const toEve = listen<unknown>(eve.token, CONTACT_EVENTS);
    await waitFor(() => ['ann', 'ben', 'eve'].every((_, i) => t.gateway.pubsub.subscriberCount(`User:${[ann, ben, eve][i]!.userId}:contacts`) === 1), 'three subscriptions');
    const gql = (token: string, q: string, u: string) => t.gql(q, { u }, token);
    await gql(ann.token, 'mutation R($u: String!) { requestContact(username: $u) { outcome } }', 'ben');
    await waitFor(() => toBen.length === 1, 'the request event');
    await gql(ben.token, 'mutation A($u: String!) { rejectContact(username: $u) }', 'ann');
    await gql(ann.token, 'mutation R($u: String!) { requestContact(username: $u) { outcome } }', 'ben');
    await gql(ben.token, 'mutation A($u: String!) { acceptContact(username: $u) { since } }', 'ann');
    await gql(ben.token, 'mutation X($u: String!) { removeContact(username: $u) }', 'ann');
    await waitFor(() => toBen.length === 2 && toAnn.length === 3, 'every event');
    expect(toBen.map((e) => `${e.kind}:${e.user.username}`)).toEqual(['REQUEST_RECEIVED:ann', 'REQUEST_RECEIVED:ann']);
    expect(toAnn.map((e) => `${e.kind}:${e.user.username}`)).toEqual(['REQUEST_REJECTED:ben', 'REQUEST_ACCEPTED:ben', 'CONTACT_REMOVED:ben']);
    expect(toEve).toEqual([]);
  });

  it("a contact's key change reaches their contacts, whose directory verifies it and reports the change", async () => {
    const [cid, dan] = [await person('cid'), await person('dan')];
    await t.gql('mutation R($u: String!) { requestContact(username: $u) { outcome } }', { u: 'dan' }, cid.token);
    await t.gql('mutation A($u: String!) { acceptContact(username: $u) { since } }', { u: 'cid' }, dan.token);
    const directory = new KeyDirectory({ backend: nodeBackend, keystore: dan.keystore, transport: graphqlDirectoryTransport(t.gateway.url, () => dan.token) });
    expect((await directory.verifiedKeys('cid')).version).toBe(1); // pinned on first use
    const toDan = listen<{ version: number; user: { username: string } }>(dan.token, KEY_EVENTS);
    await waitFor(() => t.gateway.pubsub.subscriberCount(`User:${dan.userId}:keys`) === 1, 'the subscription');
    await rotateIdentityKeys(t.gateway.url, cid.keystore, nodeBackend, 'veilgraph', cid.token);
    await waitFor(() => toDan.length === 1, 'the key-change event');
    expect(toDan[0]).toEqual({ version: 2, user: { username: 'cid' } });
    const after = await directory.verifiedKeys('cid', { refresh: true });
    expect(after).toMatchObject({ version: 2, changed: true, previousVersion: 1 });
  });
});
