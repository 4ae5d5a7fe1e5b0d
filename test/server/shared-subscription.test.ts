// Fan-out with one execution per event (src/server/adapters/shared-subscription.ts): a
// subscription whose selection is made only of viewer-independent fields is executed once
// per event object and the result shared by every subscriber with the same document and
// variables; anything else runs per subscriber. First with graphql-js and the in-memory
// pubsub alone (resolver calls counted), then on the real gateway over real WebSockets:
// the members of a group subscribed with the reference client's selection cost one user
// lookup per message, not one per subscriber, and each still gets only what it may read.
import { makeExecutableSchema } from '@graphql-tools/schema';
import { parse, type ExecutionResult } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MESSAGE_FIELDS, type WireMessage } from '../../src/client/messaging.js';
import { shareKey, sharedSubscribe } from '../../src/server/adapters/shared-subscription.js';
import { InMemoryPubSub } from '../../src/server/pubsub.js';
import { viewerIndependent } from '../../src/server/viewer-independent.js';
import { ROOMY_AUTH_LIMITS, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { messagingMember, type MessagingMember } from '../helpers/messaging.js';
import { countStoreCalls } from '../helpers/store-calls.js';

describe('sharedSubscribe (graphql-js and the in-memory pubsub)', () => {
  const calls = { title: 0, viewer: 0, root: 0 };
  const pubsub = new InMemoryPubSub();
  const schema = makeExecutableSchema({
    typeDefs: `
      type Item { id: ID! title: String! viewerName: String }
      type Query { ok: Boolean }
      type Subscription { itemAdded(topic: String!): Item! }
    `,
    resolvers: {
      Subscription: {
        itemAdded: {
          subscribe: (_: unknown, args: { topic: string }) => pubsub.subscribe(args.topic),
          resolve: viewerIndependent((item: object) => (calls.root++, item)),
        },
      },
      Item: {
        id: { resolve: viewerIndependent((i: { id: string }) => i.id) },
        title: { resolve: viewerIndependent((i: { title: string }) => (calls.title++, i.title)) },
        // Unmarked: depends on who asks.
        viewerName: (_: unknown, __: unknown, ctx: { name: string }) => (calls.viewer++, ctx.name),
      },
    },
  });
  const subscribe = sharedSubscribe();

  async function open(query: string, variables: Record<string, unknown>, name: string) {
    const it = (await subscribe({ schema, document: parse(query), variableValues: variables, contextValue: { name } })) as AsyncGenerator<ExecutionResult>;
    expect(Symbol.asyncIterator in it).toBe(true);
    return it;
  }

  it('executes a viewer-independent selection once per event for every subscriber with the same document and variables', async () => {
    const q = 'subscription S($t: String!) { itemAdded(topic: $t) { id title } }';
    const subs = await Promise.all(['a', 'b', 'c'].map((n) => open(q, { t: 'one' }, n)));
    const before = { ...calls };
    const event = { id: '1', title: 'hello' };
    pubsub.publish('one', event);
    const results = await Promise.all(subs.map((s) => s.next()));
    for (const r of results) expect(r.value).toEqual({ data: { itemAdded: { id: '1', title: 'hello' } } });
    expect(calls.title - before.title).toBe(1);
    expect(calls.root - before.root).toBe(1);
    await Promise.all(subs.map((s) => s.return(undefined)));
    expect(pubsub.subscriberCount('one')).toBe(0);
  });

  it('a selection with a viewer-dependent field runs per subscriber, each with its own context', async () => {
    const q = 'subscription S($t: String!) { itemAdded(topic: $t) { id title viewerName } }';
    expect(shareKey({ schema, document: parse(q), variableValues: { t: 'two' } })).toBeNull();
    const subs = await Promise.all(['ann', 'ben'].map((n) => open(q, { t: 'two' }, n)));
    const before = { ...calls };
    pubsub.publish('two', { id: '2', title: 'x' });
    const results = await Promise.all(subs.map((s) => s.next()));
    expect(results.map((r) => (r.value as ExecutionResult<{ itemAdded: { viewerName: string } }>).data!.itemAdded.viewerName)).toEqual(['ann', 'ben']);
    expect(calls.viewer - before.viewer).toBe(2);
    expect(calls.title - before.title).toBe(2);
    await Promise.all(subs.map((s) => s.return(undefined)));
  });

  it('different variables or documents are never shared; fragments on the same type are', async () => {
    const q = 'subscription S($t: String!) { itemAdded(topic: $t) { id title } }';
    const withFragment = 'subscription S($t: String!) { itemAdded(topic: $t) { ...F } } fragment F on Item { id title }';
    const k1 = shareKey({ schema, document: parse(q), variableValues: { t: 'a' } });
    const k2 = shareKey({ schema, document: parse(q), variableValues: { t: 'b' } });
    const k3 = shareKey({ schema, document: parse(withFragment), variableValues: { t: 'a' } });
    expect(k1).not.toBeNull();
    expect(k3).not.toBeNull();
    expect(new Set([k1, k2, k3]).size).toBe(3);
    // One event object published on two topics: each topic's subscribers get their own execution.
    const a = await open(q, { t: 'three' }, 'a');
    const b = await open(q, { t: 'four' }, 'b');
    const before = { ...calls };
    const event = { id: '3', title: 'y' };
    pubsub.publish('three', event);
    pubsub.publish('four', event);
    await Promise.all([a.next(), b.next()]);
    expect(calls.title - before.title).toBe(2);
    await Promise.all([a.return(undefined), b.return(undefined)]);
  });

  it('an event that is not an object is executed per subscriber', async () => {
    const q = 'subscription S($t: String!) { itemAdded(topic: $t) { __typename } }';
    const subs = await Promise.all(['a', 'b'].map((n) => open(q, { t: 'five' }, n)));
    const before = { ...calls };
    pubsub.publish('five', 'not an object');
    await Promise.all(subs.map((s) => s.next()));
    expect(calls.root - before.root).toBe(2);
    await Promise.all(subs.map((s) => s.return(undefined)));
  });
});

describe('on the gateway: a group of members subscribed with the reference selection', () => {
  let t: TestGateway;
  let members: MessagingMember[];
  let group: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    t = await startTestGateway({ authLimits: ROOMY_AUTH_LIMITS });
    members = [];
    for (const name of ['sh-alice', 'sh-bob', 'sh-carol', 'sh-dave', 'sh-erin']) members.push(await messagingMember(t.gateway.url, name));
    group = await members[0]!.messenger.create('GROUP', members.slice(1).map((m) => m.username));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await t?.close();
  });

  function subscribe(m: MessagingMember, fields = MESSAGE_FIELDS) {
    const c = createClient({ url: t.gateway.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, lazy: true, retryAttempts: 0, connectionParams: { token: m.token } });
    clients.push(c);
    const events: WireMessage[] = [];
    const errors: unknown[] = [];
    const stop = c.subscribe(
      { query: `subscription M($c: ID) { messageAdded(conversationId: $c) { ${fields} } }`, variables: { c: group } },
      { next: (r) => (r.errors ? errors.push(r.errors) : events.push((r.data as { messageAdded: WireMessage }).messageAdded)), error: (e) => errors.push(e), complete: () => undefined },
    );
    return { events, errors, stop };
  }

  async function stopAll(subs: readonly { stop: () => void }[]): Promise<void> {
    for (const s of subs) s.stop();
    await waitFor(() => t.gateway.pubsub.subscriberCount(`Conversation:${group}`) === 0, 'the unsubscriptions');
  }

  async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('one user lookup per message for all subscribers (not one per subscriber); every member gets the same message', async () => {
    const subs = members.map((m) => subscribe(m));
    await waitFor(() => t.gateway.pubsub.subscriberCount(`Conversation:${group}`) === members.length, 'the subscriptions');
    // A first message makes every stream look up its access once (not counted below).
    await members[1]!.messenger.send(group, 'warm');
    await waitFor(() => subs.every((s) => s.events.length === 1), 'the first message everywhere');
    const counted = countStoreCalls(t.gateway.store);
    try {
      const sent = await members[1]!.messenger.send(group, 'shared');
      await waitFor(() => subs.every((s) => s.events.length === 2), 'the second message everywhere');
      await new Promise((r) => setTimeout(r, 100));
      for (const s of subs) {
        expect(s.errors).toEqual([]);
        expect(s.events[1]).toEqual(sent);
      }
      // One lookup for the send's own answer, one for all five subscribers (before: one per
      // subscriber, as each execution of `sender { id username }` looked the sender up).
      expect(counted.calls.filter((c) => c === 'findUsersByIds')).toHaveLength(2);
      expect((await members[3]!.messenger.open(subs[3]!.events[1]!)).text).toBe('shared');
    } finally {
      counted.stop();
      await stopAll(subs);
    }
  });

  it('with a viewer-dependent field selected (receipts), each subscriber executes on its own', async () => {
    const subs = members.map((m) => subscribe(m, 'seq sender { id } receipts { user { id } }'));
    await waitFor(() => t.gateway.pubsub.subscriberCount(`Conversation:${group}`) === members.length, 'the subscriptions');
    const counted = countStoreCalls(t.gateway.store);
    try {
      await members[0]!.messenger.send(group, 'per subscriber');
      await waitFor(() => subs.every((s) => s.events.length === 1), 'the message everywhere');
      for (const s of subs) expect(s.errors).toEqual([]);
      // The send's answer, then one execution (and one lookup of the sender) per subscriber;
      // only the sender's execution asks for receipts.
      expect(counted.calls.filter((c) => c === 'findUsersByIds')).toHaveLength(1 + members.length);
      expect(counted.calls.filter((c) => c === 'receiptsFor')).toHaveLength(1);
    } finally {
      counted.stop();
      await stopAll(subs);
    }
  });

  it('a member removed while subscribed gets nothing more; the new membership is read once for all streams', async () => {
    const subs = members.map((m) => subscribe(m));
    await waitFor(() => t.gateway.pubsub.subscriberCount(`Conversation:${group}`) === members.length, 'the subscriptions');
    await members[0]!.messenger.send(group, 'before');
    await waitFor(() => subs.every((s) => s.events.length === 1), 'the first message everywhere');
    await members[0]!.messenger.removeMember(group, members[4]!.username);
    const counted = countStoreCalls(t.gateway.store);
    let after: WireMessage;
    try {
      after = await members[0]!.messenger.send(group, 'after erin left');
      await waitFor(() => subs.slice(0, 4).every((s) => s.events.length === 2), 'the second message to the remaining members');
      // The new epoch's membership is read once for the five streams (the conversation's feed),
      // not once per stream; the one findMember is the send's own check of its sender.
      expect(counted.calls.filter((c) => c === 'members')).toHaveLength(1);
      expect(counted.calls.filter((c) => c === 'findMember')).toHaveLength(1);
    } finally {
      counted.stop();
    }
    await members[0]!.messenger.send(group, 'and one more');
    await waitFor(() => subs.slice(0, 4).every((s) => s.events.length === 3), 'the third message to the remaining members');
    await new Promise((r) => setTimeout(r, 200));
    for (const s of subs.slice(0, 4)) expect(s.events[1]).toEqual(after);
    expect(subs[4]!.events.map((m) => m.seq)).toEqual([subs[0]!.events[0]!.seq]);
    expect(subs[4]!.errors).toEqual([]);
    await stopAll(subs);
  });
});
