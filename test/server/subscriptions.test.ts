// Subscriptions over WebSocket: a real graphql-ws client (with the `ws` WebSocket) against
// a real gateway on loopback. Each event is authorised per field for the subscriber,
// exactly as a query is; the token is checked at connection time; documents meet the same
// validation rules as over HTTP.
import type { FormattedExecutionResult } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { generateSymmetricKey, rotateSymmetricKey } from '../../src/crypto/keys.js';
import { InMemoryPubSub } from '../../src/server/pubsub.js';
import { tokenFromConnectionParams } from '../../src/server/adapters/graphql-ws.js';
import { grantAccess, newObjectId, registerAndLogin, revokeAccess, seal, startTestGateway, storeDataKey, type TestGateway, type TestUser } from '../helpers/gateway.js';

type Result = FormattedExecutionResult<Record<string, Record<string, unknown>>>;

let t: TestGateway;
let alice: TestUser;
let eve: TestUser;
let wsUrl: string;
const profileId = newObjectId();
const dataKey = generateSymmetricKey(nodeBackend);
const clients: Client[] = [];

const SUB = `subscription S($id: ID!) { profileUpdated(id: $id) { id ownerId displayName email phone bio diary updatedAt } }`;

function client(params: Record<string, unknown> | undefined, onClosed?: (code: number) => void): Client {
  const c = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    lazy: true,
    retryAttempts: 0,
    ...(params ? { connectionParams: params } : {}),
    on: { closed: (e) => onClosed?.((e as { code: number }).code) },
  });
  clients.push(c);
  return c;
}

/** Subscribes and collects events; `ready` resolves once the server acknowledged the connection. */
function subscribe(c: Client, query: string, variables: Record<string, unknown>) {
  const events: Result[] = [];
  let error: unknown;
  let completed = false;
  const waiters: (() => void)[] = [];
  const wake = () => waiters.splice(0).forEach((w) => w());
  const dispose = c.subscribe<Record<string, Record<string, unknown>>>(
    { query, variables },
    {
      next: (r) => (events.push(r as Result), wake()),
      error: (e) => ((error = e), wake()),
      complete: () => ((completed = true), wake()),
    },
  );
  const until = async (cond: () => boolean, ms = 5000): Promise<void> => {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out; events=${JSON.stringify(events)} error=${String(error)}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 50);
      });
    }
  };
  return {
    events,
    get error() {
      return error;
    },
    get completed() {
      return completed;
    },
    until,
    dispose,
  };
}

/** Waits until the server has registered the subscription (a subscriber on the topic). */
async function subscribed(id: string, n = 1): Promise<void> {
  // The subscription is registered once the server answered the subscribe message; the
  // protocol has no acknowledgement for that, so poll the in-process pubsub.
  const deadline = Date.now() + 5000;
  while (subscriberCount(id) < n) {
    if (Date.now() > deadline) throw new Error('the subscription was not registered');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function subscriberCount(id: string): number {
  return t.gateway.pubsub.subscriberCount(`Profile:${id}`);
}

beforeAll(async () => {
  t = await startTestGateway();
  wsUrl = t.gateway.url.replace(/^http/, 'ws');
  alice = await registerAndLogin(t, 'alice');
  eve = await registerAndLogin(t, 'eve');
  await storeDataKey(t, alice, 'Profile', profileId, dataKey);
  const created = await t.gql(
    'mutation C($i: CreateProfileInput!) { createProfile(input: $i) { id } }',
    {
      i: {
        id: profileId,
        displayName: 'Alice',
        email: 'alice@example.com',
        phone: '+1 555 0100',
        bio: seal(dataKey, 'Profile.bio', alice.id, profileId, 'first bio'),
        diary: seal(alice.vault, 'Profile.diary', alice.id, profileId, 'dear diary'),
      },
    },
    alice.token,
  );
  expect(created.errors).toBeUndefined();
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await t?.close();
});

async function update(input: Record<string, unknown>): Promise<void> {
  const r = await t.gql('mutation U($id: ID!, $i: UpdateProfileInput!) { updateProfile(id: $id, input: $i) { id } }', { id: profileId, i: input }, alice.token);
  expect(r.errors).toBeUndefined();
}

describe('profileUpdated over graphql-ws', () => {
  it('the owner receives each stored change: SERVER fields decrypted, SHARED/PRIVATE as envelopes', async () => {
    const sub = subscribe(client({ authorization: `Bearer ${alice.token}` }), SUB, { id: profileId });
    await subscribed(profileId);
    const bio = seal(dataKey, 'Profile.bio', alice.id, profileId, 'second bio');
    await update({ displayName: 'Alice A.', phone: '+1 555 0199', bio });
    await sub.until(() => sub.events.length === 1);
    const e = sub.events[0]!;
    expect(e.errors).toBeUndefined();
    expect(e.data!.profileUpdated).toMatchObject({ id: profileId, ownerId: alice.id, displayName: 'Alice A.', email: 'alice@example.com', phone: '+1 555 0199', bio });
    expect(e.data!.profileUpdated!.diary).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(JSON.stringify(e)).not.toContain('second bio');

    await update({ displayName: 'Alice B.' });
    await sub.until(() => sub.events.length === 2);
    expect(sub.events[1]!.data!.profileUpdated).toMatchObject({ displayName: 'Alice B.', bio });
    sub.dispose();
    await sub.until(() => subscriberCount(profileId) === 0);
  });

  it('a stranger receives PUBLIC fields; every protected field is a FORBIDDEN path error', async () => {
    const sub = subscribe(client({ token: eve.token }), SUB, { id: profileId });
    await subscribed(profileId);
    await update({ displayName: 'Alice C.' });
    await sub.until(() => sub.events.length === 1);
    const e = sub.events[0]!;
    expect(e.data!.profileUpdated).toMatchObject({ id: profileId, ownerId: alice.id, displayName: 'Alice C.', email: null, phone: null, bio: null, diary: null });
    const errs = e.errors ?? [];
    expect(errs.map((x) => `${(x.path ?? []).join('.')}:${x.extensions?.code}`).sort()).toEqual(
      ['profileUpdated.bio:FORBIDDEN', 'profileUpdated.diary:FORBIDDEN', 'profileUpdated.email:FORBIDDEN', 'profileUpdated.phone:FORBIDDEN'],
    );
    expect(JSON.stringify(e)).not.toContain('alice@example.com');

    // A grant given later applies to the next event (grants are looked up per event).
    const g = await grantAccess(t, alice, eve, 'Profile', profileId, dataKey);
    expect(g.errors).toBeUndefined();
    await update({ displayName: 'Alice D.' });
    await sub.until(() => sub.events.length === 2);
    const second = sub.events[1]!;
    expect(second.data!.profileUpdated).toMatchObject({ displayName: 'Alice D.', email: 'alice@example.com', diary: null });
    expect((second.errors ?? []).map((x) => (x.path ?? []).join('.'))).toEqual(['profileUpdated.diary']);
    const r = await revokeAccess(t, alice, eve, 'Profile', profileId, rotateSymmetricKey(nodeBackend, dataKey));
    expect(r.errors).toBeUndefined();
    await update({ displayName: 'Alice E.' });
    await sub.until(() => sub.events.length === 3);
    expect(sub.events[2]!.data!.profileUpdated).toMatchObject({ displayName: 'Alice E.', email: null });
    sub.dispose();
    await sub.until(() => subscriberCount(profileId) === 0);
  });

  it('a bad token: the connection is closed with 4403 and no event arrives', async () => {
    for (const params of [{ authorization: 'Bearer not.a.valid-token' }, { authorization: 'Basic abc' }, { token: 'x y' }]) {
      let closedWith: number | undefined;
      const sub = subscribe(client(params, (code) => (closedWith = code)), SUB, { id: profileId });
      await sub.until(() => sub.error !== undefined);
      expect(closedWith).toBe(4403);
      expect(subscriberCount(profileId)).toBe(0);
      await update({ displayName: 'Alice F.' });
      await new Promise((res) => setTimeout(res, 100));
      expect(sub.events).toEqual([]);
    }
  });

  it('no token, or no such profile: UNAUTHENTICATED / NOT_FOUND, and no subscription is left behind', async () => {
    const anon = subscribe(client(undefined), SUB, { id: profileId });
    await anon.until(() => anon.completed || anon.error !== undefined);
    expect((anon.events[0]?.errors ?? []).map((e) => (e as { extensions?: { code?: string } }).extensions?.code)).toEqual(['UNAUTHENTICATED']);

    const missing = newObjectId();
    const nf = subscribe(client({ token: alice.token }), SUB, { id: missing });
    await nf.until(() => nf.completed || nf.error !== undefined);
    expect((nf.events[0]?.errors ?? []).map((e) => (e as { extensions?: { code?: string } }).extensions?.code)).toEqual(['NOT_FOUND']);
    expect(subscriberCount(missing)).toBe(0);
  });

  it('the same validation as HTTP: an over-deep document fails with QUERY_TOO_COMPLEX; queries go over HTTP', async () => {
    const deep = `subscription D($id: ID!) { profileUpdated(id: $id) { ${deepSelection()} } }`;
    const sub = subscribe(client({ token: alice.token }), deep, { id: profileId });
    await sub.until(() => sub.error !== undefined);
    const errors = sub.error as { extensions?: { code?: string } }[];
    expect(Array.isArray(errors)).toBe(true);
    expect(errors.map((e) => e.extensions?.code)).toContain('QUERY_TOO_COMPLEX');
    expect(subscriberCount(profileId)).toBe(0);

    const q = subscribe(client({ token: alice.token }), '{ myProfile { id } }', {});
    await q.until(() => q.error !== undefined);
    expect((q.error as { message: string }[])[0]!.message).toMatch(/only subscriptions/);
  });
});

/** A selection deeper than the default limit (12): Profile.owner → User.profile → … */
function deepSelection(): string {
  let s = 'id';
  for (let i = 0; i < 8; i++) s = `id owner { profile { ${s} } }`;
  return s;
}

describe('InMemoryPubSub', () => {
  it('bounded queue: a slow subscriber keeps the newest payloads; return() unsubscribes', async () => {
    const ps = new InMemoryPubSub(3);
    const it1 = ps.subscribe<number>('t');
    for (let i = 1; i <= 5; i++) ps.publish('t', i);
    expect(ps.subscriberCount('t')).toBe(1);
    const got = [(await it1.next()).value, (await it1.next()).value, (await it1.next()).value];
    expect(got).toEqual([3, 4, 5]);
    const pending = it1.next();
    ps.publish('t', 6);
    expect(await pending).toEqual({ value: 6, done: false });
    const waiting = it1.next();
    await it1.return!();
    expect(await waiting).toMatchObject({ done: true });
    expect(ps.subscriberCount('t')).toBe(0);
    ps.publish('t', 7);
    expect(await it1.next()).toMatchObject({ done: true });
  });

  it('connection params: Bearer authorization or token; anything else is malformed', () => {
    expect(tokenFromConnectionParams(undefined)).toBeUndefined();
    expect(tokenFromConnectionParams({})).toBeUndefined();
    expect(tokenFromConnectionParams({ authorization: 'Bearer a.b-c_d' })).toBe('a.b-c_d');
    expect(tokenFromConnectionParams({ token: 'a.b' })).toBe('a.b');
    expect(tokenFromConnectionParams({ authorization: 'a.b' })).toBeNull();
    expect(tokenFromConnectionParams({ token: 42 })).toBeNull();
  });
});
