// docs/messaging.md "On the wire": a client written from the document alone (plain
// GraphQL over HTTP and the crypto core, no Messenger) creates a conversation and sends a
// message that the reference Messenger opens, and reads what the reference Messenger
// wrote, byte for byte as the document says: the createConversation JSON, the epoch key
// wraps, and the signed, padded `{"text":…}` body.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { base64urlDecode, base64urlEncode } from '../../src/crypto/base64url.js';
import { envelopeToText, openEnvelope, parseEnvelopeText, sealSignedEnvelope, verifyEnvelopeSignature } from '../../src/crypto/envelope.js';
import { keyIdOf, type SymmetricKey } from '../../src/crypto/keys.js';
import { MESSAGE_BUCKETS } from '../../src/crypto/padding.js';
import { parseWrappedKey, unwrapKey, wrapKey, wrappedKeyToText } from '../../src/crypto/wrap.js';
import { MESSAGE_FIELDS, MessageError, type WireMessage } from '../../src/client/messaging.js';
import { ROOMY_AUTH_LIMITS, registerAndLogin, startTestGateway, type TestGateway, type TestUser } from '../helpers/gateway.js';
import { messagingMember, type MessagingMember } from '../helpers/messaging.js';

let t: TestGateway;
/** Alice's client is written from the document. */
let alice: TestUser;
/** Bob runs the reference client. */
let bob: MessagingMember;

const CREATE = 'mutation C($input: CreateConversationInput!) { createConversation(input: $input) { id kind epoch members { role user { username } } } }';
const SEND = `mutation S($input: SendMessageInput!) { sendMessage(input: $input) { ${MESSAGE_FIELDS} } }`;
const MESSAGES = `query M($c: ID!) { messages(conversationId: $c) { nodes { ${MESSAGE_FIELDS} } } }`;
const DIRECTORY = 'query D($u: String!) { keyDirectory(username: $u) { userId versions { signingKey encryptionKey } } }';

async function ok<T>(p: Promise<{ data?: T | null; errors?: unknown }>): Promise<T> {
  const r = await p;
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data!;
}

/** A user's current keys as the directory serves them (a real client verifies the history: docs/sharing.md). */
async function directoryKeys(username: string): Promise<{ userId: string; signingKey: Uint8Array; encryptionKey: Uint8Array }> {
  const d = await ok(t.gql<{ keyDirectory: { userId: string; versions: { signingKey: string; encryptionKey: string }[] } }>(DIRECTORY, { u: username }, alice.token));
  const v = d.keyDirectory.versions[d.keyDirectory.versions.length - 1]!;
  return { userId: d.keyDirectory.userId, signingKey: base64urlDecode(v.signingKey), encryptionKey: base64urlDecode(v.encryptionKey) };
}

const random22 = (): string => base64urlEncode(nodeBackend.randomBytes(16));

beforeAll(async () => {
  t = await startTestGateway({ authLimits: ROOMY_AUTH_LIMITS });
  alice = await registerAndLogin(t, 'alice');
  bob = await messagingMember(t.gateway.url, 'bob');
});

afterAll(async () => {
  await t?.close();
});

describe('a client written from docs/messaging.md', () => {
  /** A conversation of Alice (hand-written client) and Bob, created as the document says; its epoch 1 key. */
  async function handWrittenConversation(): Promise<{ conversationId: string; key: SymmetricKey }> {
    const conversationId = random22();
    const key: SymmetricKey = { id: nodeBackend.randomBytes(16), version: 1, bytes: nodeBackend.randomBytes(32) };
    const at = { coordinate: 'Conversation', ownerId: conversationId, objectId: 'epoch:1' };
    const wrapFor = async (encryptionKey: Uint8Array): Promise<string> =>
      wrappedKeyToText(await wrapKey(nodeBackend, key, at, [{ keyId: keyIdOf(nodeBackend, 'x25519', encryptionKey), publicKey: encryptionKey }]));
    const bobKeys = await directoryKeys('bob');
    const input = {
      id: conversationId,
      kind: 'GROUP',
      members: ['bob', 'alice', 'bob'], // the viewer's own name and a repeat are ignored
      historySharing: false,
      epochTtlSeconds: null,
      keys: [
        { recipientId: alice.id, wrapped: await wrapFor(alice.encryption.publicKey) },
        { recipientId: bobKeys.userId, wrapped: await wrapFor(bobKeys.encryptionKey) },
      ],
    };
    expect(input.keys.every((k) => k.wrapped.startsWith('AQIA'))).toBe(true);
    const created = await ok(t.gql<{ createConversation: { epoch: number; members: { role: string; user: { username: string } }[] } }>(CREATE, { input }, alice.token));
    expect(created.createConversation.epoch).toBe(1);
    expect(created.createConversation.members.map((m) => `${m.user.username}:${m.role}`).sort()).toEqual(['alice:ADMIN', 'bob:MEMBER']);
    return { conversationId, key };
  }

  /** Sends `plaintext` as Alice's message body, sealed and signed as the document says. */
  async function sendBody(conversationId: string, key: SymmetricKey, plaintext: Uint8Array): Promise<WireMessage> {
    const clientId = random22();
    const body = envelopeToText(
      await sealSignedEnvelope(nodeBackend, key, { coordinate: 'Message.body', ownerId: conversationId, objectId: clientId }, plaintext, alice.signing, { padding: MESSAGE_BUCKETS }),
    );
    expect(body.startsWith('AQEB')).toBe(true);
    return (await ok(t.gql<{ sendMessage: WireMessage }>(SEND, { input: { conversationId, clientId, body, ttlSeconds: null } }, alice.token))).sendMessage;
  }

  it('creates a conversation and sends a message the reference client opens', async () => {
    const { conversationId, key } = await handWrittenConversation();
    const text = 'hello "bob" \\ from a hand-written client ✓';
    const sent = await sendBody(conversationId, key, new TextEncoder().encode(JSON.stringify({ text })));

    const opened = await bob.messenger.open(sent);
    expect(opened).toMatchObject({ text, senderUsername: 'alice', epoch: 1 });
  });

  it('a signed body that is JSON but not {"text": string} is MESSAGE_INVALID for the reader, never a TypeError', async () => {
    const { conversationId, key } = await handWrittenConversation();
    for (const json of ['null', '42', '"text"', '[]', '{}', '{"text":5}', '{"text":null}']) {
      const sent = await sendBody(conversationId, key, new TextEncoder().encode(json));
      const e = await bob.messenger.open(sent).then(
        () => 'opened',
        (err: unknown) => err,
      );
      expect(e, json).toBeInstanceOf(MessageError);
      expect(e, json).toMatchObject({ code: 'MESSAGE_INVALID', seq: sent.seq });
    }
  });

  it('reads the reference client’s conversation and message as the document says', async () => {
    const conversationId = await bob.messenger.create('DIRECT', ['alice']);
    const wire = await bob.messenger.send(conversationId, 'reply ✓');

    // Epoch 1's key, wrapped for alice: unsigned, one stanza for her registered key, bound to "epoch:1".
    const keys = await ok(t.gql<{ myEpochKeys: { epoch: number; wrapped: string }[] }>('query K($ids: [ID!]!) { myEpochKeys(conversationIds: $ids) { epoch wrapped } }', { ids: [conversationId] }, alice.token));
    expect(keys.myEpochKeys).toHaveLength(1);
    const w = keys.myEpochKeys[0]!;
    expect(w.wrapped.startsWith('AQIA')).toBe(true);
    const header = parseWrappedKey(base64urlDecode(w.wrapped));
    expect(header.keyVersion).toBe(1);
    expect(header.recipientKeyIds).toEqual([alice.encryption.keyId]);
    const key = await unwrapKey(nodeBackend, w.wrapped, alice.encryption, { coordinate: 'Conversation', ownerId: conversationId, objectId: 'epoch:1' });

    // The body: signed by bob's directory signing key, padded to a bucket, `{"text":…}` exactly.
    const listed = await ok(t.gql<{ messages: { nodes: WireMessage[] } }>(MESSAGES, { c: conversationId }, alice.token));
    const m = listed.messages.nodes.find((n) => n.seq === wire.seq)!;
    expect(m.body.startsWith('AQEB')).toBe(true);
    const env = parseEnvelopeText(m.body);
    expect(env.keyId).toEqual(key.id);
    expect(env.keyVersion).toBe(1);
    expect(MESSAGE_BUCKETS.kind === 'buckets' && MESSAGE_BUCKETS.sizes.includes(env.ciphertext.length - 16)).toBe(true);
    await verifyEnvelopeSignature(nodeBackend, env, (await directoryKeys('bob')).signingKey);
    const plaintext = openEnvelope(nodeBackend, env, key, { coordinate: 'Message.body', ownerId: conversationId, objectId: m.clientId }).plaintext;
    expect(new TextDecoder().decode(plaintext)).toBe('{"text":"reply ✓"}');
  });
});
