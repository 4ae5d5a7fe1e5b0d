// The conversation feed's shared membership (src/server/services/messaging/conversation-feed.ts)
// must never be older than what the subscriber's own subscribe check saw: a member added to a
// conversation whose feed already holds the membership of an earlier epoch (another member
// is subscribed on this instance) is entitled, with history sharing, to the earlier epochs'
// messages from their cursor on. Real gateway, SQLite, real WebSockets.
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MESSAGE_FIELDS, type WireMessage } from '../../src/client/messaging.js';
import { ROOMY_AUTH_LIMITS, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { messagingMember, type MessagingMember } from '../helpers/messaging.js';
import { waitFor } from '../helpers/wait.js';

describe('feed membership and a member added while others are subscribed', () => {
  let t: TestGateway;
  let alice: MessagingMember;
  let bob: MessagingMember;
  let carol: MessagingMember;
  const clients: Client[] = [];

  beforeAll(async () => {
    t = await startTestGateway({ authLimits: ROOMY_AUTH_LIMITS });
    alice = await messagingMember(t.gateway.url, 'fm-alice');
    bob = await messagingMember(t.gateway.url, 'fm-bob');
    carol = await messagingMember(t.gateway.url, 'fm-carol');
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await t?.close();
  });

  function subscribe(m: MessagingMember, conversationId: string, after: string | null) {
    const c = createClient({ url: t.gateway.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, lazy: true, retryAttempts: 0, connectionParams: { token: m.token } });
    clients.push(c);
    const events: WireMessage[] = [];
    const errors: unknown[] = [];
    const stop = c.subscribe(
      { query: `subscription M($c: ID, $a: ID) { messageAdded(conversationId: $c, after: $a) { ${MESSAGE_FIELDS} } }`, variables: { c: conversationId, a: after } },
      { next: (r) => (r.errors ? errors.push(r.errors) : events.push((r.data as { messageAdded: WireMessage }).messageAdded)), error: (e) => errors.push(e), complete: () => undefined },
    );
    return { events, errors, stop };
  }


  it('a member added with history sharing gets the earlier epoch from cursor 0 although the feed held the older membership', async () => {
    const group = await alice.messenger.create('GROUP', [bob.username], { historySharing: true });
    const topic = `Conversation:${group}`;
    // Bob's live stream makes the instance's feed read (and hold) the membership of epoch 1.
    const bobSub = subscribe(bob, group, null);
    await waitFor(() => t.gateway.pubsub.subscriberCount(topic) === 1, "bob's subscription");
    const first = await alice.messenger.send(group, 'epoch one');
    await waitFor(() => bobSub.events.length === 1, 'the first message to bob', 10_000);

    await alice.messenger.addMembers(group, [carol.username], { shareHistory: true });
    // Carol may read epoch 1 (history sharing): the `messages` query agrees.
    const carolSub = subscribe(carol, group, '0');
    await waitFor(() => t.gateway.pubsub.subscriberCount(topic) === 2, "carol's subscription");
    const second = await alice.messenger.send(group, 'epoch two');
    await waitFor(() => carolSub.events.some((m) => m.seq === second.seq), 'the second message to carol', 10_000);

    expect(carolSub.errors).toEqual([]);
    // From cursor 0: every message she may read, in order, each once (before the fix: only
    // the second; the first was filtered against the feed's epoch-1 membership and skipped for good).
    expect(carolSub.events.map((m) => m.seq)).toEqual([first.seq, second.seq]);
    expect((await carol.messenger.open(carolSub.events[0]!)).text).toBe('epoch one');
    bobSub.stop();
    carolSub.stop();
    await waitFor(() => t.gateway.pubsub.subscriberCount(topic) === 0, 'the unsubscriptions', 10_000);
  });
});
