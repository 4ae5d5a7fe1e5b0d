// The WebSocket transport's own limits, over real sockets on loopback: a socket is closed
// when its token expires (4401), a socket runs at most N subscriptions at once
// (SUBSCRIPTION_LIMIT for one more, the others keep running), and a message over the
// WebSocket payload limit closes the socket (1009) without reaching GraphQL.
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { login, newObjectId, registerAndLogin, startTestGateway, type TestGateway, type TestUser } from '../helpers/gateway.js';

const SUB = 'subscription S($id: ID!) { profileUpdated(id: $id) { id displayName } }';
const TOKEN_TTL_SECONDS = 5;
const MAX_SUBSCRIPTIONS = 2;
const MAX_PAYLOAD = 16 * 1024;

let t: TestGateway;
let alice: TestUser;
let wsUrl: string;
const profileId = newObjectId();
const clients: Client[] = [];

function client(token: string, onClosed?: (code: number) => void): Client {
  const c = createClient({ url: wsUrl, webSocketImpl: WebSocket, lazy: true, retryAttempts: 0, connectionParams: { token }, on: { closed: (e) => onClosed?.((e as { code: number }).code) } });
  clients.push(c);
  return c;
}

async function waitFor(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

beforeAll(async () => {
  t = await startTestGateway({ tokenTtlSeconds: TOKEN_TTL_SECONDS, maxSubscriptionsPerSocket: MAX_SUBSCRIPTIONS, wsMaxPayloadBytes: MAX_PAYLOAD });
  wsUrl = t.gateway.url.replace(/^http/, 'ws');
  alice = await registerAndLogin(t, 'alice');
  const r = await t.gql('mutation C($i: CreateProfileInput!) { createProfile(input: $i) { id } }', { i: { id: profileId, displayName: 'Alice' } }, alice.token);
  expect(r.errors).toBeUndefined();
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await t?.close();
});

describe('WebSocket limits', () => {
  it('a socket is closed with 4401 when its token expires, and its subscriptions end with it', { timeout: 30_000 }, async () => {
    let closedWith: number | undefined;
    let ended = false;
    // A fresh token (the one from beforeAll may be near its end already).
    const c = client(await login(t, 'alice', alice.signing), (code) => (closedWith = code));
    c.subscribe({ query: SUB, variables: { id: profileId } }, { next: () => undefined, error: () => (ended = true), complete: () => (ended = true) });
    await waitFor(() => t.gateway.pubsub.subscriberCount(`Profile:${profileId}`) === 1, 'the subscription');
    await waitFor(() => closedWith !== undefined, 'the socket to close when the token expires');
    expect(closedWith).toBe(4401);
    await waitFor(() => ended, 'the subscription to end');
    await waitFor(() => t.gateway.pubsub.subscriberCount(`Profile:${profileId}`) === 0, 'the server to drop the subscription');
  });

  it(`at most ${MAX_SUBSCRIPTIONS} subscriptions per socket: one more gets SUBSCRIPTION_LIMIT, the others keep receiving`, async () => {
    const bob = await registerAndLogin(t, 'bob');
    const c = client(bob.token);
    const events: string[][] = [[], [], []];
    const errors: unknown[][] = [[], [], []];
    for (let i = 0; i < MAX_SUBSCRIPTIONS + 1; i++) {
      c.subscribe(
        { query: SUB, variables: { id: profileId } },
        {
          next: (r) => {
            if (r.errors) errors[i]!.push(...r.errors.map((e) => (e as { extensions?: { code?: string } }).extensions?.code));
            else events[i]!.push((r.data as { profileUpdated: { displayName: string } }).profileUpdated.displayName);
          },
          error: (e) => errors[i]!.push(e),
          complete: () => undefined,
        },
      );
      // One at a time, so which one is over the limit is known.
      if (i < MAX_SUBSCRIPTIONS) await waitFor(() => t.gateway.pubsub.subscriberCount(`Profile:${profileId}`) === i + 1, `subscription ${i + 1}`);
    }
    await waitFor(() => errors[MAX_SUBSCRIPTIONS]!.length > 0, 'the refusal');
    expect(errors[MAX_SUBSCRIPTIONS]!.map((e) => (Array.isArray(e) ? (e[0] as { extensions?: { code?: string } }).extensions?.code : e))).toEqual(['SUBSCRIPTION_LIMIT']);
    expect(t.gateway.pubsub.subscriberCount(`Profile:${profileId}`)).toBe(MAX_SUBSCRIPTIONS);
    // Alice's first token may have expired (it lives TOKEN_TTL_SECONDS): log in again.
    const aliceToken = await login(t, 'alice', alice.signing);
    const own = await t.gql('mutation U($id: ID!, $i: UpdateProfileInput!) { updateProfile(id: $id, input: $i) { id } }', { id: profileId, i: { displayName: 'Alice C.' } }, aliceToken);
    expect(own.errors).toBeUndefined();
    await waitFor(() => events[0]!.length === 1 && events[1]!.length === 1, 'events on the subscriptions within the limit');
    expect(events.slice(0, MAX_SUBSCRIPTIONS)).toEqual([['Alice C.'], ['Alice C.']]);
    expect(events[MAX_SUBSCRIPTIONS]).toEqual([]);
  });

  it(`a message over ${MAX_PAYLOAD} bytes closes the socket with 1009 (too big)`, async () => {
    const ws = new WebSocket(wsUrl, 'graphql-transport-ws');
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      ws.on('open', () => resolve());
      ws.on('error', reject);
    });
    ws.send(JSON.stringify({ type: 'connection_init', payload: { token: alice.token, padding: 'x'.repeat(MAX_PAYLOAD) } }));
    expect(await closed).toBe(1009);
  });
});
