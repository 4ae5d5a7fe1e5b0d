// Conversations and end-to-end encrypted messages through the real gateway on a real
// SQLite file: the client `Messenger` (epoch keys wrapped for verified keys, signed and
// padded bodies), the gateway's checks, idempotent sends, cursors, receipts, live delivery
// and resume over real WebSockets, and what a removed member, a forger or a tamperer gets.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { base64urlDecode, base64urlEncode } from '../../src/crypto/base64url.js';
import { envelopeToText, parseEnvelopeText, sealSignedEnvelope } from '../../src/crypto/envelope.js';
import { isCryptoError } from '../../src/crypto/errors.js';
import { generateSymmetricKey, signingKeyPairFromSeed } from '../../src/crypto/keys.js';
import { MESSAGE_BUCKETS } from '../../src/crypto/padding.js';
import { MESSAGE_FIELDS, MessageError, type WireMessage } from '../../src/client/messaging.js';
import { ROOMY_AUTH_LIMITS, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { messagingMember, type MessagingMember } from '../helpers/messaging.js';
import { waitFor } from '../helpers/wait.js';
import { snapshotTables } from '../helpers/sqlite-snapshot.js';

let t: TestGateway;
const clients: Client[] = [];

type Member = MessagingMember;
const member = (username: string): Promise<Member> => messagingMember(t.gateway.url, username);

const LIST = `query L($c: ID!, $a: ID) { messages(conversationId: $c, after: $a) { nodes { ${MESSAGE_FIELDS} } cursor } }`;
const SEND = `mutation S($i: SendMessageInput!) { sendMessage(input: $i) { ${MESSAGE_FIELDS} } }`;

async function list(m: Member, conversationId: string, after?: string) {
  const r = await t.gql<{ messages: { nodes: WireMessage[]; cursor: string } }>(LIST, { c: conversationId, a: after ?? null }, m.token);
  return r;
}

function codes(r: { errors?: { extensions?: { code?: string } }[] }): (string | undefined)[] {
  return (r.errors ?? []).map((e) => e.extensions?.code);
}

function subscribe(m: Member, variables: Record<string, unknown>) {
  const c = createClient({ url: t.gateway.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, lazy: true, retryAttempts: 0, connectionParams: { token: m.token } });
  clients.push(c);
  const events: WireMessage[] = [];
  const errors: unknown[] = [];
  const stop = c.subscribe(
    { query: `subscription M($c: ID, $a: ID) { messageAdded(conversationId: $c, after: $a) { ${MESSAGE_FIELDS} } }`, variables },
    { next: (r) => (r.errors ? errors.push(r.errors) : events.push((r.data as { messageAdded: WireMessage }).messageAdded)), error: (e) => errors.push(e), complete: () => undefined },
  );
  return { events, errors, stop };
}


let alice: Member;
let bob: Member;
let carol: Member;
let mallory: Member;
let group: string;

beforeAll(async () => {
  t = await startTestGateway({ authLimits: ROOMY_AUTH_LIMITS });
  alice = await member('alice');
  bob = await member('bob');
  carol = await member('carol');
  mallory = await member('mallory');
  group = await alice.messenger.create('GROUP', ['bob', 'carol']);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await t?.close();
});

describe('a group conversation', () => {
  it('members send and read; bodies are signed envelopes padded to a bucket; the server holds no plaintext', async () => {
    const sent = await bob.messenger.send(group, 'hello from bob');
    const env = parseEnvelopeText(sent.body);
    expect(env.signed).toBe(true);
    expect(env.keyVersion).toBe(1);
    // 256-byte bucket + overhead: the length says only "short".
    expect(base64urlDecode(sent.body).length).toBeGreaterThan(256);
    const r = await list(alice, group);
    expect(r.errors).toBeUndefined();
    const opened = await Promise.all(r.data!.messages.nodes.map((m) => alice.messenger.open(m)));
    expect(opened.map((m) => `${m.senderUsername}: ${m.text}`)).toEqual(['bob: hello from bob']);
    const stored = await t.gateway.store.findMessage(Number(sent.seq));
    expect(stored!.body).not.toContain('hello');
    expect(Buffer.from(base64urlDecode(stored!.body)).includes(Buffer.from('hello from bob'))).toBe(false);
  });

  it("a retried send with the same client id is stored once and returns the stored message to its sender, whatever the retry's bytes", async () => {
    // From the current cursor: what is sent next is delivered whenever the subscription starts.
    const live = subscribe(carol, { c: group, a: (await list(carol, group)).data!.messages.cursor });
    const clientId = base64urlEncode(nodeBackend.randomBytes(16));
    const body = await alice.messenger.seal(group, 'only once', clientId);
    const first = await t.gql<{ sendMessage: WireMessage }>(SEND, { i: { conversationId: group, clientId, body } }, alice.token);
    const again = await t.gql<{ sendMessage: WireMessage }>(SEND, { i: { conversationId: group, clientId, body } }, alice.token);
    expect(again.data!.sendMessage.seq).toBe(first.data!.sendMessage.seq);
    // Sealed again (a fresh nonce: other bytes, as after an app restart): the stored message
    // comes back, unchanged; nothing is stored or overwritten.
    const resealed = await alice.messenger.seal(group, 'only once', clientId);
    expect(resealed).not.toBe(body);
    const retried = await t.gql<{ sendMessage: WireMessage }>(SEND, { i: { conversationId: group, clientId, body: resealed } }, alice.token);
    expect(retried.errors).toBeUndefined();
    expect(retried.data!.sendMessage).toEqual(first.data!.sendMessage);
    expect((await t.gateway.store.findMessage(Number(first.data!.sendMessage.seq)))!.body).toBe(body);
    const texts = (await Promise.all((await list(carol, group)).data!.messages.nodes.map((m) => carol.messenger.open(m)))).map((m) => m.text);
    expect(texts.filter((x) => x === 'only once')).toHaveLength(1);
    // Each retry published the event again; a live subscriber still gets the message once
    // (events arrive in order: once the next message is there, any duplicate would be too).
    const next = await alice.messenger.send(group, 'after the retries');
    await waitFor(() => live.events.some((m) => m.seq === next.seq), 'the next message, live', 10_000);
    expect(live.events.filter((m) => m.clientId === clientId)).toHaveLength(1);
    live.stop();
  });

  it('a client id holding a message: another sender gets CONFLICT, and Messenger.send with another text of the sender fails with CONFLICT; nothing is written', async () => {
    const clientId = base64urlEncode(nodeBackend.randomBytes(16));
    const stored = await alice.messenger.send(group, 'the first text', { clientId });
    const before = snapshotTables(t.dataDir, ['Message', 'Receipt']);
    // Bob, a member, with his own validly signed envelope under Alice's client id.
    const bobs = await bob.messenger.seal(group, 'bob takes the id', clientId);
    const r = await t.gql(SEND, { i: { conversationId: group, clientId, body: bobs } }, bob.token);
    expect(codes(r)).toEqual(['CONFLICT']);
    expect(r.data?.sendMessage ?? null).toBeNull(); // nothing of Alice's message comes back
    await expect(bob.messenger.send(group, 'bob takes the id', { clientId })).rejects.toMatchObject({ code: 'CONFLICT' });
    // Alice reuses the id for another text: the server returns what is stored, her client
    // sees it is not this text and refuses instead of reporting it delivered.
    await expect(alice.messenger.send(group, 'a second text', { clientId })).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(snapshotTables(t.dataDir, ['Message', 'Receipt'])).toEqual(before);
    expect((await t.gateway.store.findMessage(Number(stored.seq)))!.body).toBe(stored.body);
    // The same text again is a retry: delivered, the stored message.
    expect(await alice.messenger.send(group, 'the first text', { clientId })).toEqual(stored);
  });

  it('the gateway refuses: non-members (NOT_FOUND), misplaced, unsigned or foreign-signed bodies, stale epochs', async () => {
    const clientId = base64urlEncode(nodeBackend.randomBytes(16));
    const body = await alice.messenger.seal(group, 'x', clientId);
    expect(codes(await t.gql(SEND, { i: { conversationId: group, clientId, body } }, mallory.token))).toEqual(['NOT_FOUND']);
    expect(codes(await list(mallory, group))).toEqual(['NOT_FOUND']);
    // Sealed for another client id: BAD_SEALED_VALUE.
    const other = base64urlEncode(nodeBackend.randomBytes(16));
    expect(codes(await t.gql(SEND, { i: { conversationId: group, clientId: other, body } }, alice.token))).toEqual(['BAD_SEALED_VALUE']);
    // Alice's envelope sent by Bob: not signed by the sender.
    expect(codes(await t.gql(SEND, { i: { conversationId: group, clientId, body } }, bob.token))).toEqual(['BAD_SIGNATURE']);
    expect(codes(await t.gql(SEND, { i: { conversationId: group, clientId, body: 'hello in plaintext' } }, alice.token))).toEqual(['BAD_SEALED_VALUE']);
  });

  it('acknowledge: recipients only; the sender sees receipts; undelivered shrinks', async () => {
    const sent = await alice.messenger.send(group, 'please ack');
    const undeliveredQ = `{ undelivered { seq } }`;
    const before = await t.gql<{ undelivered: { seq: string }[] }>(undeliveredQ, {}, bob.token);
    expect(before.data!.undelivered.map((m) => m.seq)).toContain(sent.seq);
    const ACK = 'mutation A($s: [ID!]!) { acknowledge(seqs: $s) }';
    expect(codes(await t.gql(ACK, { s: [sent.seq] }, alice.token))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await t.gql(ACK, { s: [sent.seq] }, mallory.token))).toEqual(['NOT_FOUND']);
    expect((await t.gql<{ acknowledge: number }>(ACK, { s: [sent.seq] }, bob.token)).data!.acknowledge).toBe(1);
    expect((await t.gql<{ acknowledge: number }>(ACK, { s: [sent.seq] }, bob.token)).data!.acknowledge).toBe(0);
    const after = await t.gql<{ undelivered: { seq: string }[] }>(undeliveredQ, {}, bob.token);
    expect(after.data!.undelivered.map((m) => m.seq)).not.toContain(sent.seq);
    const receipts = `query R($c: ID!, $a: ID) { messages(conversationId: $c, after: $a) { nodes { seq receipts { user { username } } } } }`;
    const bySender = await t.gql<{ messages: { nodes: { seq: string; receipts: { user: { username: string } }[] }[] } }>(receipts, { c: group, a: String(Number(sent.seq) - 1) }, alice.token);
    expect(bySender.data!.messages.nodes[0]!.receipts.map((r) => r.user.username)).toEqual(['bob']);
    const byOther = await t.gql<{ messages: { nodes: { receipts: unknown[] }[] } }>(receipts, { c: group, a: String(Number(sent.seq) - 1) }, carol.token);
    expect(byOther.data!.messages.nodes[0]!.receipts).toEqual([]);
  });
});

describe('live delivery and resume over WebSockets', () => {
  it('a subscriber receives each message once, live; resuming from a cursor delivers what was missed, then live, without duplicates', async () => {
    const live = subscribe(bob, { c: group });
    await waitFor(() => t.gateway.pubsub.subscriberCount(`Conversation:${group}`) >= 1, 'the subscription', 10_000);
    const first = await alice.messenger.send(group, 'live 1');
    await waitFor(() => live.events.length === 1, 'the live event', 10_000);
    expect((await bob.messenger.open(live.events[0]!)).text).toBe('live 1');
    live.stop();
    // Offline: three messages. Then resume from the last seq seen.
    for (const text of ['missed 1', 'missed 2', 'missed 3']) await alice.messenger.send(group, text);
    const resumed = subscribe(bob, { c: group, a: first.seq });
    await waitFor(() => resumed.events.length === 3, 'the replay', 10_000);
    await alice.messenger.send(group, 'live 2');
    await waitFor(() => resumed.events.length === 4, 'live after the replay', 10_000);
    const texts = await Promise.all(resumed.events.map(async (m) => (await bob.messenger.open(m)).text));
    expect(texts).toEqual(['missed 1', 'missed 2', 'missed 3', 'live 2']);
    const seqs = resumed.events.map((m) => Number(m.seq));
    expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
    resumed.stop();
  });
});

describe('membership and epochs', () => {
  it('a removed member cannot read what follows: no access at the gateway, and no key for the new epoch', async () => {
    await alice.messenger.removeMember(group, 'carol');
    const after = await alice.messenger.send(group, 'after carol left');
    expect(parseEnvelopeText(after.body).keyVersion).toBe(2);
    expect(codes(await list(carol, group))).toEqual(['NOT_FOUND']);
    // The stored message, as a copy of the database shows it, with every key Carol holds.
    const stored = (await t.gateway.store.findMessage(Number(after.seq)))!;
    await expect(carol.messenger.open({ ...after, body: stored.body })).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' });
    // Bob moved to the new epoch and reads it.
    expect((await bob.messenger.open(after)).text).toBe('after carol left');
  });

  it('an added member reads from the epoch they join (history off); a message under an old epoch is STALE_EPOCH', async () => {
    const dave = await member('dave');
    await alice.messenger.addMembers(group, ['dave']);
    const r = await list(dave, group);
    expect(r.data!.messages.nodes.every((m) => m.epoch >= 3)).toBe(true);
    const hello = await bob.messenger.send(group, 'welcome dave');
    expect((await dave.messenger.open(hello)).text).toBe('welcome dave');
    // Bob seals under epoch 2 by hand: refused.
    const old = generateSymmetricKey(nodeBackend);
    const clientId = base64urlEncode(nodeBackend.randomBytes(16));
    const signing = await signingKeyPairFromSeed(nodeBackend, bob.signingSeed);
    const stale = envelopeToText(await sealSignedEnvelope(nodeBackend, { ...old, version: 2 }, { coordinate: 'Message.body', ownerId: group, objectId: clientId }, '{"text":"old"}', signing, { padding: MESSAGE_BUCKETS }));
    expect(codes(await t.gql(SEND, { i: { conversationId: group, clientId, body: stale } }, bob.token))).toEqual(['STALE_EPOCH']);
  });

  it('a forged message (signed by someone else) and a tampered one are refused by the reader', async () => {
    const real = await bob.messenger.send(group, 'genuine');
    // Signed by Mallory but claimed as Bob's (what a compromised server could store).
    const clientId = real.clientId;
    const malloryKeys = await signingKeyPairFromSeed(nodeBackend, mallory.signingSeed);
    const epochKey = generateSymmetricKey(nodeBackend);
    const forged = envelopeToText(await sealSignedEnvelope(nodeBackend, { ...epochKey, version: 3 }, { coordinate: 'Message.body', ownerId: group, objectId: clientId }, '{"text":"forged"}', malloryKeys, { padding: MESSAGE_BUCKETS }));
    await expect(alice.messenger.open({ ...real, body: forged })).rejects.toMatchObject({ code: 'SIGNATURE_INVALID' });
    const bytes = base64urlDecode(real.body);
    bytes[100] = bytes[100]! ^ 1;
    const tampered = { ...real, body: base64urlEncode(bytes) };
    const e = await alice.messenger.open(tampered).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MessageError);
    expect((e as MessageError).code).toBe('SIGNATURE_INVALID');
    expect(isCryptoError(e)).toBe(false);
  });
});

describe('disappearing messages', () => {
  it('a message with a TTL is hidden by clients after expiresAt and deleted by the purge', async () => {
    const sent = await alice.messenger.send(group, 'self-destructs', { ttlSeconds: 60 });
    expect(sent.expiresAt).not.toBeNull();
    await expect(bob.messenger.open(sent, new Date(Date.parse(sent.expiresAt!) + 1))).rejects.toMatchObject({ code: 'EXPIRED' });
    expect(await t.gateway.store.purgeExpiredMessages(new Date(Date.parse(sent.expiresAt!) + 1))).toBeGreaterThanOrEqual(1);
    expect(await t.gateway.store.findMessage(Number(sent.seq))).toBeNull();
  });
});

describe('more epochs and subscriptions', () => {
  it('a scheduled rotation: once the epoch is older than epochTtlSeconds, sending says EPOCH_EXPIRED and the Messenger rotates first', async () => {
    const chat = await alice.messenger.create('DIRECT', ['bob'], { epochTtlSeconds: 3600 });
    await alice.messenger.send(chat, 'epoch one');
    // Two hours pass (the epoch's start moved back in the database file).
    const db = new Database(join(t.dataDir, 'veilgraph.db'));
    const row = db.prepare('SELECT "epochStartedAt" AS at FROM "Conversation" WHERE id = ?').get(chat) as { at: number | string };
    const earlier = typeof row.at === 'number' ? row.at - 7_200_000 : new Date(Date.parse(row.at) - 7_200_000).toISOString();
    db.prepare('UPDATE "Conversation" SET "epochStartedAt" = ? WHERE id = ?').run(earlier, chat);
    db.close();
    const clientId = base64urlEncode(nodeBackend.randomBytes(16));
    const raw = await t.gql(SEND, { i: { conversationId: chat, clientId, body: await alice.messenger.seal(chat, 'late', clientId) } }, alice.token);
    expect(codes(raw)).toEqual(['EPOCH_EXPIRED']);
    const sent = await alice.messenger.send(chat, 'epoch two, after the scheduled rotation');
    expect(sent.epoch).toBe(2);
    expect((await bob.messenger.open(sent)).text).toBe('epoch two, after the scheduled rotation');
  });

  it('a retry of a message stored before the epoch moved on gets the stored message: not EPOCH_EXPIRED once the rotation is due, not STALE_EPOCH after it', async () => {
    const chat = await alice.messenger.create('DIRECT', ['bob'], { epochTtlSeconds: 3600 });
    const clientId = base64urlEncode(nodeBackend.randomBytes(16));
    const body = await alice.messenger.seal(chat, 'sent under epoch one', clientId);
    // Sealed under epoch one too, never sent: a new message, not a retry.
    const laterId = base64urlEncode(nodeBackend.randomBytes(16));
    const laterBody = await alice.messenger.seal(chat, 'sealed under epoch one, sent after it', laterId);
    const first = await t.gql<{ sendMessage: WireMessage }>(SEND, { i: { conversationId: chat, clientId, body } }, alice.token);
    expect(first.errors).toBeUndefined();
    // Two hours pass: the scheduled rotation is due. The answer was lost; the same bytes again.
    const db = new Database(join(t.dataDir, 'veilgraph.db'));
    const row = db.prepare('SELECT "epochStartedAt" AS at FROM "Conversation" WHERE id = ?').get(chat) as { at: number | string };
    const earlier = typeof row.at === 'number' ? row.at - 7_200_000 : new Date(Date.parse(row.at) - 7_200_000).toISOString();
    db.prepare('UPDATE "Conversation" SET "epochStartedAt" = ? WHERE id = ?').run(earlier, chat);
    db.close();
    const due = await t.gql<{ sendMessage: WireMessage }>(SEND, { i: { conversationId: chat, clientId, body } }, alice.token);
    expect(codes(due)).toEqual([]);
    expect(due.data!.sendMessage).toEqual(first.data!.sendMessage);
    // The Messenger rotates (epoch 2); the retry, still sealed under epoch 1, gets the stored message.
    expect((await alice.messenger.send(chat, 'epoch two')).epoch).toBe(2);
    const before = snapshotTables(t.dataDir, ['Message']);
    const stale = await t.gql<{ sendMessage: WireMessage }>(SEND, { i: { conversationId: chat, clientId, body } }, alice.token);
    expect(codes(stale)).toEqual([]);
    expect(stale.data!.sendMessage).toEqual(first.data!.sendMessage);
    // A new client id under the old epoch is still refused, and writes nothing.
    expect(codes(await t.gql(SEND, { i: { conversationId: chat, clientId: laterId, body: laterBody } }, alice.token))).toEqual(['STALE_EPOCH']);
    expect(snapshotTables(t.dataDir, ['Message'])).toEqual(before);
  });

  it('history sharing (explicit): an added member reads the earlier epochs too', async () => {
    const erin = await member('erin');
    const chat = await alice.messenger.create('GROUP', ['bob'], { historySharing: true });
    await bob.messenger.send(chat, 'before erin');
    await alice.messenger.addMembers(chat, ['erin'], { shareHistory: true });
    const r = await list(erin, chat);
    const texts = await Promise.all(r.data!.messages.nodes.map(async (m) => (await erin.messenger.open(m)).text));
    expect(texts).toEqual(['before erin']);
  });

  it("without a conversation id, a subscription carries all of the viewer's conversations", async () => {
    const frank = await member('frank');
    const one = await alice.messenger.create('DIRECT', ['frank']);
    const two = await bob.messenger.create('GROUP', ['frank', 'alice']);
    const all = subscribe(frank, {});
    await waitFor(() => t.gateway.pubsub.subscriberCount(`Conversation:${one}`) >= 1 && t.gateway.pubsub.subscriberCount(`Conversation:${two}`) >= 1, 'the subscription', 10_000);
    await alice.messenger.send(one, 'to frank directly');
    await bob.messenger.send(two, 'to the group with frank');
    await waitFor(() => all.events.length === 2, 'both messages', 10_000);
    expect(await Promise.all(all.events.map(async (m) => (await frank.messenger.open(m)).text))).toEqual(['to frank directly', 'to the group with frank']);
    all.stop();
  });
});
