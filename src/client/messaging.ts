/**
 * @module
 * End-to-end encrypted conversations from a member's client (src/server/services/messaging/messaging.graphql;
 * docs/messaging.md). Portable: no `node:` imports.
 *
 * - Epoch keys: created by the member who starts an epoch (conversation creation, a
 *   membership change, a scheduled or chosen rotation), wrapped for every member's
 *   **verified** X25519 key (key directory), sent with the change. Fetched wrapped
 *   (`myEpochKeys`) and unwrapped once per epoch, then held.
 * - Sending: the body `{ "text": … }` is padded to a message bucket, sealed under the current
 *   epoch key for ("Message.body", conversationId, clientId) and signed by the sender. The
 *   client id is chosen once per message: a retry with it never duplicates the message.
 *   The envelope of a send whose outcome is unknown (no answer) is kept, and a retry
 *   resends the same bytes; the server returns the stored message to its sender whatever
 *   the bytes, and what comes back is checked against the text meant (CONFLICT when the id
 *   holds another text). A stale epoch (STALE_EPOCH) refreshes the keys and re-seals once;
 *   a due scheduled rotation (EPOCH_EXPIRED) rotates first.
 * - Opening: the signature is verified against the sender's pinned, verified keys before
 *   anything is decrypted; a forged or tampered message is refused with a typed error.
 */
import type { CryptoBackend } from '../crypto/backend.js';
import { base64urlDecode, base64urlEncode } from '../crypto/base64url.js';
import { equalBytes, utf8Decode } from '../crypto/bytes.js';
import { envelopeToText, openEnvelope, parseEnvelopeText, sealSignedEnvelope, verifyEnvelopeSignature } from '../crypto/envelope.js';
import { CryptoError, isCryptoError } from '../crypto/errors.js';
import { generateSymmetricKey, keyIdOf, rotateSymmetricKey, type EncryptionKeyPair, type SigningKeyPair, type SymmetricKey } from '../crypto/keys.js';
import { epochKeyLocation, messageBodyLocation } from '../privacy/messaging-locations.js';
import { MESSAGE_BUCKETS } from '../crypto/padding.js';
import { parseWrappedKey, unwrapKey, wrapKeyEach, wrappedKeyToText } from '../crypto/wrap.js';
import { SessionError, graphqlRequest, type SessionOptions } from './session.js';
import { HeldKeys } from './held-keys.js';

export type ConversationKind = 'DIRECT' | 'GROUP';

/** A message as the server lists or pushes it. */
export interface WireMessage {
  readonly seq: string;
  readonly conversationId: string;
  readonly clientId: string;
  readonly sender: { readonly id: string; readonly username: string };
  readonly epoch: number;
  readonly body: string;
  readonly expiresAt?: string | null;
  readonly createdAt: string;
}

/** A message opened and verified. */
export interface OpenedMessage {
  readonly seq: string;
  readonly conversationId: string;
  readonly clientId: string;
  readonly senderId: string;
  readonly senderUsername: string;
  readonly text: string;
  readonly epoch: number;
  readonly expiresAt: Date | null;
  readonly createdAt: string;
}

export type MessageErrorCode = 'SIGNATURE_INVALID' | 'KEY_NOT_FOUND' | 'MESSAGE_INVALID' | 'EXPIRED';

/** Why a message was refused on opening. Never carries plaintext or keys. */
export class MessageError extends Error {
  override readonly name = 'MessageError';
  constructor(
    readonly code: MessageErrorCode,
    message: string,
    readonly seq?: string,
  ) {
    super(message);
  }
}

export interface EpochKeyWire {
  readonly conversationId: string;
  readonly epoch: number;
  readonly wrapped: string;
}

export interface MemberWire {
  readonly userId: string;
  readonly username: string;
}

/** How the messenger reaches the server. `graphqlMessagingTransport` is the usual one. */
export interface MessagingTransport {
  epochKeys(conversationIds: readonly string[]): Promise<readonly EpochKeyWire[]>;
  conversation(id: string): Promise<{ readonly epoch: number; readonly members: readonly MemberWire[] }>;
  create(input: { id: string; kind: ConversationKind; members: readonly string[]; historySharing: boolean; epochTtlSeconds: number | null; keys: readonly { recipientId: string; wrapped: string }[] }): Promise<void>;
  addMembers(conversationId: string, usernames: readonly string[], keys: readonly { recipientId: string; wrapped: string }[], historyKeys: readonly { recipientId: string; epoch: number; wrapped: string }[]): Promise<void>;
  removeMember(conversationId: string, username: string, keys: readonly { recipientId: string; wrapped: string }[]): Promise<void>;
  rotate(conversationId: string, keys: readonly { recipientId: string; wrapped: string }[]): Promise<void>;
  send(input: { conversationId: string; clientId: string; body: string; ttlSeconds: number | null }): Promise<WireMessage>;
}

/** What messaging needs of other users' keys: the key directory (src/client/directory.ts). */
export interface MessagingDirectory {
  verifiedKeys(username: string): Promise<{ readonly userId: string; readonly encryptionKey: Uint8Array }>;
  resolveSigner(signingKeyId: Uint8Array): Promise<{ readonly userId: string; readonly username: string; readonly signingKey: Uint8Array } | null>;
}

export interface MessengerOptions {
  readonly backend: CryptoBackend;
  readonly userId: string;
  readonly username: string;
  readonly encryption: EncryptionKeyPair;
  readonly signing: SigningKeyPair;
  readonly directory: MessagingDirectory;
  readonly transport: MessagingTransport;
  /** Client ids and conversation ids (default: 16 random bytes, base64url). */
  readonly newId?: () => string;
}


/** Most sends without an answer whose envelopes a Messenger keeps for a retry (oldest go first). */
const MAX_UNANSWERED = 256;

interface UnansweredSend {
  readonly conversationId: string;
  readonly text: string;
  readonly body: string;
}

export class Messenger {
  /** Epoch keys held, by conversation: the newest seals, every one opens. */
  private readonly keys = new HeldKeys();
  /** Envelopes of sends that got no answer, by client id: a retry resends the same bytes. */
  private readonly unanswered = new Map<string, UnansweredSend>();

  constructor(private readonly options: MessengerOptions) {}

  private newId(): string {
    return this.options.newId?.() ?? base64urlEncode(this.options.backend.randomBytes(16));
  }

  /**
   * A new client id for a message (16 random bytes, base64url, or `options.newId`). Keep it
   * with the text until the send is answered, and pass it again to retry.
   */
  newClientId(): string {
    return this.newId();
  }

  private hold(conversationId: string, key: SymmetricKey): void {
    this.keys.hold(conversationId, key);
  }

  /** Fetches and unwraps this user's epoch keys of the conversations (each epoch once). */
  async refreshKeys(conversationIds: readonly string[]): Promise<void> {
    const { backend, encryption } = this.options;
    for (const k of await this.options.transport.epochKeys(conversationIds)) {
      const header = parseWrappedKey(base64urlDecode(k.wrapped));
      if (header.keyVersion !== k.epoch || this.keys.holds(header.keyId, header.keyVersion)) continue;
      try {
        this.hold(k.conversationId, await unwrapKey(backend, k.wrapped, encryption, epochKeyLocation(k.conversationId, k.epoch)));
      } catch (e) {
        if (!isCryptoError(e)) throw e; // a wrap that does not open here: its messages fail one by one
      }
    }
  }

  private async wrapFor(key: SymmetricKey, conversationId: string, usernames: readonly string[]): Promise<{ recipientId: string; wrapped: string }[]> {
    const { backend } = this.options;
    const members: { userId: string; encryptionKey: Uint8Array }[] = [];
    for (const name of new Set(usernames)) {
      members.push(name === this.options.username ? { userId: this.options.userId, encryptionKey: this.options.encryption.publicKey } : await this.options.directory.verifiedKeys(name));
    }
    // One single-recipient wrapped key per member (the server stores one per member), all
    // made in one call that shares its ephemeral key (wrapKeyEach, docs/crypto.md).
    const wrapped = await wrapKeyEach(
      backend,
      key,
      epochKeyLocation(conversationId, key.version),
      members.map((m) => ({ keyId: keyIdOf(backend, 'x25519', m.encryptionKey), publicKey: m.encryptionKey })),
    );
    return members.map((m, i) => ({ recipientId: m.userId, wrapped: wrappedKeyToText(wrapped[i]!) }));
  }

  /** Starts a conversation with `usernames` (DIRECT: one other user); returns its id. */
  async create(kind: ConversationKind, usernames: readonly string[], options: { historySharing?: boolean; epochTtlSeconds?: number } = {}): Promise<string> {
    const id = this.newId();
    const key = generateSymmetricKey(this.options.backend); // version 1 = epoch 1
    const keys = await this.wrapFor(key, id, [this.options.username, ...usernames]);
    await this.options.transport.create({ id, kind, members: usernames, historySharing: options.historySharing ?? false, epochTtlSeconds: options.epochTtlSeconds ?? null, keys });
    this.hold(id, key);
    return id;
  }

  private async currentKey(conversationId: string): Promise<SymmetricKey> {
    if (!this.keys.latest(conversationId)) await this.refreshKeys([conversationId]);
    const key = this.keys.latest(conversationId);
    if (!key) throw new CryptoError('KEY_NOT_FOUND', `no epoch key for conversation ${conversationId}`);
    return key;
  }

  /** The next epoch's key, wrapped for `usernames` (verified keys). */
  private async nextEpoch(conversationId: string, usernames: readonly string[]): Promise<{ key: SymmetricKey; keys: { recipientId: string; wrapped: string }[] }> {
    await this.refreshKeys([conversationId]);
    const key = rotateSymmetricKey(this.options.backend, await this.currentKey(conversationId));
    return { key, keys: await this.wrapFor(key, conversationId, usernames) };
  }

  private async memberNames(conversationId: string): Promise<string[]> {
    return (await this.options.transport.conversation(conversationId)).members.map((m) => m.username);
  }

  /** Adds members (admins); a new epoch starts, and with history sharing they get the earlier ones. */
  async addMembers(conversationId: string, usernames: readonly string[], options: { shareHistory?: boolean } = {}): Promise<void> {
    const names = [...new Set([...(await this.memberNames(conversationId)), ...usernames])];
    const { key, keys } = await this.nextEpoch(conversationId, names);
    const historyKeys: { recipientId: string; epoch: number; wrapped: string }[] = [];
    if (options.shareHistory) {
      for (let epoch = 1; epoch < key.version; epoch++) {
        const old = this.keys.ring.get(key.id, epoch);
        for (const w of await this.wrapFor(old, conversationId, usernames)) historyKeys.push({ ...w, epoch });
      }
    }
    await this.options.transport.addMembers(conversationId, usernames, keys, historyKeys);
    this.hold(conversationId, key);
  }

  /** Removes a member (or leaves, with one's own name); the others move to a new epoch. */
  async removeMember(conversationId: string, username: string): Promise<void> {
    const remaining = (await this.memberNames(conversationId)).filter((n) => n !== username);
    const { key, keys } = await this.nextEpoch(conversationId, remaining);
    await this.options.transport.removeMember(conversationId, username, keys);
    if (username !== this.options.username) this.hold(conversationId, key);
  }

  /** Starts a new epoch for the same members. */
  async rotate(conversationId: string): Promise<void> {
    const { key, keys } = await this.nextEpoch(conversationId, await this.memberNames(conversationId));
    await this.options.transport.rotate(conversationId, keys);
    this.hold(conversationId, key);
  }

  /** Seals a message (signed, padded) for the current epoch; the same clientId on retry. */
  async seal(conversationId: string, text: string, clientId: string): Promise<string> {
    const key = await this.currentKey(conversationId);
    const env = await sealSignedEnvelope(this.options.backend, key, messageBodyLocation(conversationId, clientId), JSON.stringify({ text }), this.options.signing, { padding: MESSAGE_BUCKETS });
    return envelopeToText(env);
  }

  /**
   * Sends `text`. `clientId` (default: new) makes retries safe: after a failure without an
   * answer (NETWORK_ERROR, say), call again with the same id and text, and the stored
   * message comes back if the first attempt was stored; it is never stored twice. The same
   * id with another text of this user's fails with CONFLICT (and stores nothing).
   */
  async send(conversationId: string, text: string, options: { clientId?: string; ttlSeconds?: number } = {}): Promise<WireMessage> {
    const clientId = options.clientId ?? this.newId();
    const kept = this.unanswered.get(clientId);
    // The same bytes as the attempt without an answer, if this is its retry.
    let reuse = kept !== undefined && kept.conversationId === conversationId && kept.text === text ? kept.body : undefined;
    const attempt = async (): Promise<WireMessage> => {
      const body = reuse ?? (await this.seal(conversationId, text, clientId));
      reuse = undefined; // a refusal below re-seals
      this.keepUnanswered(clientId, { conversationId, text, body });
      const sent = await this.options.transport.send({ conversationId, clientId, body, ttlSeconds: options.ttlSeconds ?? null });
      return this.checkSent(sent, conversationId, clientId, text, body);
    };
    try {
      const sent = await this.retryingEpochs(conversationId, attempt);
      this.unanswered.delete(clientId);
      return sent;
    } catch (e) {
      // An answer means the server decided: the next send with this id seals again. Without
      // one (network, a response that is not GraphQL), the envelope stays for the retry.
      if (e instanceof SessionError && e.code !== 'NETWORK_ERROR' && e.code !== 'BAD_RESPONSE') this.unanswered.delete(clientId);
      throw e;
    }
  }

  private async retryingEpochs(conversationId: string, attempt: () => Promise<WireMessage>): Promise<WireMessage> {
    try {
      return await attempt();
    } catch (e) {
      if (e instanceof SessionError && e.code === 'STALE_EPOCH') {
        await this.refreshKeys([conversationId]);
        return attempt();
      }
      if (e instanceof SessionError && e.code === 'EPOCH_EXPIRED') {
        await this.rotate(conversationId);
        return attempt();
      }
      throw e;
    }
  }

  private keepUnanswered(clientId: string, send: UnansweredSend): void {
    this.unanswered.delete(clientId); // re-inserted as the newest
    this.unanswered.set(clientId, send);
    if (this.unanswered.size > MAX_UNANSWERED) this.unanswered.delete(this.unanswered.keys().next().value!);
  }

  /**
   * What the server answered is the message meant: this user's, at this id, and either the
   * bytes just sent or (a retry of a stored send) a stored envelope that opens, signed by
   * this user, to the same text. Anything else is CONFLICT: the id holds another message.
   */
  private async checkSent(sent: WireMessage, conversationId: string, clientId: string, text: string, body: string): Promise<WireMessage> {
    if (sent.conversationId !== conversationId || sent.clientId !== clientId || sent.sender.id !== this.options.userId) {
      throw new SessionError('BAD_RESPONSE', 'the server answered the send with another message');
    }
    if (sent.body === body) return sent;
    let stored: OpenedMessage | undefined;
    try {
      stored = await this.open({ ...sent, expiresAt: null });
    } catch (e) {
      if (!(e instanceof MessageError)) throw e;
    }
    if (stored?.text !== text) throw new SessionError('CONFLICT', 'this clientId already holds another message of yours; send this text with a new clientId');
    return sent;
  }

  /**
   * Verifies and opens a message: the signature against the sender's verified, pinned keys
   * (the signer must be the sender the server names), then the body under the epoch key.
   */
  async open(m: WireMessage, now: Date = new Date()): Promise<OpenedMessage> {
    const { backend } = this.options;
    if (m.expiresAt && new Date(m.expiresAt) <= now) throw new MessageError('EXPIRED', 'the message has expired', m.seq);
    let env;
    try {
      env = parseEnvelopeText(m.body);
    } catch {
      throw new MessageError('MESSAGE_INVALID', 'the body is not an envelope', m.seq);
    }
    if (!env.signed || !env.signerKeyId) throw new MessageError('SIGNATURE_INVALID', 'the message is not signed', m.seq);
    // This user's own current key needs no directory (a retry checks what it sent).
    const own = equalBytes(env.signerKeyId, keyIdOf(backend, 'ed25519', this.options.signing.publicKey));
    const signer = own ? { userId: this.options.userId, username: this.options.username, signingKey: this.options.signing.publicKey } : await this.options.directory.resolveSigner(env.signerKeyId);
    if (!signer || signer.userId !== m.sender.id || !equalBytes(keyIdOf(backend, 'ed25519', signer.signingKey), env.signerKeyId)) {
      throw new MessageError('SIGNATURE_INVALID', 'the signer is not the sender', m.seq);
    }
    try {
      await verifyEnvelopeSignature(backend, env, signer.signingKey);
    } catch {
      throw new MessageError('SIGNATURE_INVALID', 'the signature does not verify', m.seq);
    }
    if (!this.keys.holds(env.keyId, env.keyVersion)) await this.refreshKeys([m.conversationId]);
    let body: unknown;
    try {
      body = JSON.parse(utf8Decode(openEnvelope(backend, env, this.keys.ring, messageBodyLocation(m.conversationId, m.clientId)).plaintext));
    } catch (e) {
      if (isCryptoError(e) && (e.code === 'KEY_NOT_FOUND' || e.code === 'KEY_VERSION_MISMATCH')) throw new MessageError('KEY_NOT_FOUND', `no key for epoch ${env.keyVersion}`, m.seq);
      throw new MessageError('MESSAGE_INVALID', 'the message does not open (tampered or misplaced)', m.seq);
    }
    // A member may seal any JSON (null, a number, an array): only an object with a text is a message.
    const text = typeof body === 'object' && body !== null ? (body as { text?: unknown }).text : undefined;
    if (typeof text !== 'string') throw new MessageError('MESSAGE_INVALID', 'the body has no text', m.seq);
    return {
      seq: m.seq,
      conversationId: m.conversationId,
      clientId: m.clientId,
      senderId: signer.userId,
      senderUsername: signer.username,
      text,
      epoch: env.keyVersion,
      expiresAt: m.expiresAt ? new Date(m.expiresAt) : null,
      createdAt: m.createdAt,
    };
  }
}

export const MESSAGE_FIELDS = 'seq conversationId clientId sender { id username } epoch body expiresAt createdAt';
const EPOCH_KEYS = 'query VgEpochKeys($ids: [ID!]!) { myEpochKeys(conversationIds: $ids) { conversationId epoch wrapped } }';
const CONVERSATION = 'query VgConversation($id: ID!) { conversation(id: $id) { epoch members { user { id username } } } }';
const CREATE = 'mutation VgCreateConversation($i: CreateConversationInput!) { createConversation(input: $i) { id } }';
const ADD = 'mutation VgAddMembers($c: ID!, $u: [String!]!, $k: [EpochKeyInput!]!, $h: [HistoryKeyInput!]) { addMembers(conversationId: $c, usernames: $u, keys: $k, historyKeys: $h) { epoch } }';
const REMOVE = 'mutation VgRemoveMember($c: ID!, $u: String!, $k: [EpochKeyInput!]!) { removeMember(conversationId: $c, username: $u, keys: $k) { epoch } }';
const ROTATE = 'mutation VgRotateEpoch($c: ID!, $k: [EpochKeyInput!]!) { rotateEpoch(conversationId: $c, keys: $k) { epoch } }';
const SEND = `mutation VgSendMessage($i: SendMessageInput!) { sendMessage(input: $i) { ${MESSAGE_FIELDS} } }`;

/** The messaging API of src/server/services/messaging/messaging.graphql over plain `fetch`. */
export function graphqlMessagingTransport(endpoint: string, token: () => string, options: SessionOptions = {}): MessagingTransport {
  const call = <T>(query: string, variables: Record<string, unknown>) => graphqlRequest<T>(endpoint, query, variables, { ...options, token: token() });
  return {
    async epochKeys(conversationIds) {
      return (await call<{ myEpochKeys: EpochKeyWire[] }>(EPOCH_KEYS, { ids: conversationIds })).myEpochKeys;
    },
    async conversation(id) {
      const c = (await call<{ conversation: { epoch: number; members: { user: { id: string; username: string } }[] } | null }>(CONVERSATION, { id })).conversation;
      if (!c) throw new SessionError('NOT_FOUND', 'no such conversation');
      return { epoch: c.epoch, members: c.members.map((m) => ({ userId: m.user.id, username: m.user.username })) };
    },
    async create(input) {
      await call(CREATE, { i: input });
    },
    async addMembers(conversationId, usernames, keys, historyKeys) {
      await call(ADD, { c: conversationId, u: usernames, k: keys, h: historyKeys });
    },
    async removeMember(conversationId, username, keys) {
      await call(REMOVE, { c: conversationId, u: username, k: keys });
    },
    async rotate(conversationId, keys) {
      await call(ROTATE, { c: conversationId, k: keys });
    },
    async send(input) {
      return (await call<{ sendMessage: WireMessage }>(SEND, { i: input })).sendMessage;
    },
  };
}
