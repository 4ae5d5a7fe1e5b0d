/**
 * @module
 * Conversations and messages (src/server/services/messaging/messaging.graphql; docs/messaging.md). Every
 * operation acts as the token's user. A conversation is visible only to its members: to
 * anyone else it does not exist (NOT_FOUND), so its id reveals nothing.
 *
 * Keys: epoch keys arrive wrapped by a member's client and are checked like data keys
 * (`checkWrappedKeys`: bound to ("Conversation", conversationId, "epoch:<n>"), version n,
 * one stanza for the recipient's registered X25519 key) and must cover exactly the members
 * of the epoch. Messages: the body's envelope must be bound to ("Message.body",
 * conversationId, clientId), sealed under the current epoch and signed by the sender's
 * current signing key. A send is idempotent per (conversation, clientId, sender): a retry
 * returns the stored message. Events carry `{ seq }` and are published after the commit.
 */
import { base64urlEncode } from '../../../crypto/base64url.js';
import { MESSAGE_BUCKETS } from '../../../crypto/padding.js';
import { EPOCH_KEY_COORDINATE, epochKeyObjectId, messageBodyLocation } from '../../../privacy/messaging-locations.js';
import { sealedForLocation, sealedShapeProblem } from '../../../privacy/sealed-value.js';
import type { MessagingContext } from './store.js';
import { requireViewer } from '../../context.js';
import { gatewayError, toGraphQLError } from '../../errors.js';
import { assertSignedByActor, parseSealedValue } from '../../sealed-writers.js';
import type { ConversationKind, ConversationRow, EpochKeyRow, MemberRow, MessageRow, UserRow } from '../../storage/store.js';
import { checkWrappedKeys } from '../../wrapped-keys.js';
import { isStorageError } from '../../storage/errors.js';
import { withErrorCodes } from '../../resolver-errors.js';
import { conversationTopic, messageStream } from './message-stream.js';
import { viewerIndependent } from '../../viewer-independent.js';

/** Client-chosen ids: unguessable when random, URL-safe. */
const CLIENT_ID = /^[A-Za-z0-9_-]{16,64}$/;
export const MAX_GROUP_MEMBERS = 1000;
const MAX_PAGE = 1000;
const MAX_KEY_CONVERSATIONS = 100;
const MIN_TTL_SECONDS = 60;
const MAX_TTL_SECONDS = 365 * 24 * 3600;
/** The largest message bucket plus envelope overhead (header, tag, signature), in base64url. */
const MAX_BODY_TEXT = Math.ceil(((MESSAGE_BUCKETS.kind === 'buckets' ? Math.max(...MESSAGE_BUCKETS.sizes) : 65536) + 512) * 4 / 3);

interface EpochKeyInput {
  recipientId: string;
  wrapped: string;
}

function notFound(): Error {
  return gatewayError('NOT_FOUND', 'no such conversation');
}

function checkClientId(id: string, field: string): void {
  if (!CLIENT_ID.test(id)) throw gatewayError('BAD_USER_INPUT', `${field} must be 16–64 base64url characters, chosen at random by the client`, { field });
}

function pageSize(first: number): number {
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) throw gatewayError('BAD_USER_INPUT', `first must be 1–${MAX_PAGE}`, { field: 'first' });
  return first;
}

function cursorOf(text: string | null | undefined, field = 'after'): number {
  if (text === null || text === undefined) return 0;
  if (!/^\d{1,15}$/.test(text)) throw gatewayError('BAD_USER_INPUT', `${field} must be a message seq`, { field });
  return Number(text);
}

/** The conversation, when the viewer is a member of it; NOT_FOUND otherwise. */
async function membership(ctx: MessagingContext, conversationId: string): Promise<{ conversation: ConversationRow; member: MemberRow }> {
  const viewer = requireViewer(ctx);
  const [conversation, member] = await Promise.all([ctx.store.findConversation(conversationId), ctx.store.findMember(conversationId, viewer.id)]);
  if (!conversation || !member) throw notFound();
  return { conversation, member };
}

async function usersByName(store: MessagingContext['store'], usernames: readonly string[]): Promise<UserRow[]> {
  const out: UserRow[] = [];
  for (const name of new Set(usernames)) {
    const u = await store.findUserByUsername(name);
    if (!u) throw gatewayError('NOT_FOUND', `no such user: ${name}`, { field: 'usernames' });
    out.push(u);
  }
  return out;
}

/** Checks epoch `epoch`'s wrapped keys: valid for each recipient, exactly the members `expected`. */
async function epochKeys(ctx: MessagingContext, conversationId: string, epoch: number, keys: readonly EpochKeyInput[], expected: ReadonlySet<string>): Promise<Omit<EpochKeyRow, 'conversationId' | 'epoch'>[]> {
  const rows = await checkWrappedKeys(
    ctx,
    EPOCH_KEY_COORDINATE,
    epochKeyObjectId(epoch),
    conversationId,
    keys.map((k) => ({ recipientId: k.recipientId, keyVersion: epoch, wrapped: k.wrapped })),
  );
  const seen = new Set<string>();
  for (const r of rows) {
    if (!expected.has(r.recipientId)) throw gatewayError('BAD_USER_INPUT', `keys: epoch ${epoch} may only be wrapped for its members`, { field: 'keys' });
    if (seen.has(r.recipientId)) throw gatewayError('BAD_USER_INPUT', 'keys: one key per member', { field: 'keys' });
    seen.add(r.recipientId);
  }
  if (seen.size !== expected.size) throw gatewayError('BAD_USER_INPUT', `keys: epoch ${epoch} must be wrapped for every member (${expected.size - seen.size} missing)`, { field: 'keys' });
  return rows.map((r) => ({ recipientId: r.recipientId, wrapped: r.wrapped }));
}

function publishedAfter(ctx: MessagingContext, message: MessageRow): void {
  ctx.pubsub.publish(conversationTopic(message.conversationId), { seq: message.seq });
}

/**
 * The answer to a send whose client id already holds `message`. Its sender gets that
 * message, whatever body the retry carries: the client re-seals with a fresh nonce, maybe
 * under a newer epoch, so the bytes differ, and the answer to the first attempt may have
 * been lost in a crash after the commit. Nothing is stored or overwritten; the client
 * compares what comes back with what it meant to send (docs/messaging.md). The event is
 * published again, as the crash may also have lost it; streams skip a seq they have
 * delivered. Anyone else gets CONFLICT and nothing of the message.
 */
function retried(ctx: MessagingContext, message: MessageRow, senderId: string): MessageRow {
  if (message.senderId !== senderId) throw gatewayError('CONFLICT', 'this clientId is taken by another message', { field: 'clientId' });
  publishedAfter(ctx, message);
  return message;
}

export const messagingResolvers = {
  Query: withErrorCodes({
    conversations: async (_: unknown, args: { first: number; after?: string | null }, ctx: MessagingContext) => {
      const viewer = requireViewer(ctx);
      const first = pageSize(args.first);
      const nodes = await ctx.store.conversationsOf(viewer.id, first, args.after ?? undefined);
      return { nodes, endCursor: nodes.length === first ? nodes[nodes.length - 1]!.id : null };
    },
    conversation: async (_: unknown, args: { id: string }, ctx: MessagingContext) => (await membership(ctx, args.id)).conversation,
    myEpochKeys: async (_: unknown, args: { conversationIds: string[] }, ctx: MessagingContext) => {
      const viewer = requireViewer(ctx);
      if (args.conversationIds.length > MAX_KEY_CONVERSATIONS) throw gatewayError('BAD_USER_INPUT', `conversationIds may hold at most ${MAX_KEY_CONVERSATIONS} ids`, { field: 'conversationIds' });
      return ctx.store.epochKeysFor(args.conversationIds, viewer.id);
    },
    messages: async (_: unknown, args: { conversationId: string; after?: string | null; first: number }, ctx: MessagingContext) => {
      const { conversation, member } = await membership(ctx, args.conversationId);
      const after = cursorOf(args.after);
      const rows = await ctx.store.messagesAfter([args.conversationId], after, pageSize(args.first), new Date());
      const readable = rows.filter((m) => conversation.historySharing || m.epoch >= member.joinedEpoch);
      return { nodes: readable, cursor: String(rows.length > 0 ? rows[rows.length - 1]!.seq : after) };
    },
    undelivered: async (_: unknown, args: { first: number }, ctx: MessagingContext) => ctx.store.undeliveredFor(requireViewer(ctx).id, pageSize(args.first), new Date()),
  }),

  Mutation: withErrorCodes({
    createConversation: async (
      _: unknown,
      args: { input: { id: string; kind: ConversationKind; members: string[]; historySharing?: boolean | null; epochTtlSeconds?: number | null; keys: EpochKeyInput[] } },
      ctx: MessagingContext,
    ) => {
      const viewer = requireViewer(ctx);
      const { input } = args;
      checkClientId(input.id, 'id');
      const others = (await usersByName(ctx.store, input.members)).filter((u) => u.id !== viewer.id);
      if (input.kind === 'DIRECT' && others.length !== 1) throw gatewayError('BAD_USER_INPUT', 'a DIRECT conversation has exactly one other member', { field: 'members' });
      if (input.kind === 'GROUP' && others.length < 1) throw gatewayError('BAD_USER_INPUT', 'a GROUP needs at least one other member', { field: 'members' });
      if (others.length + 1 > MAX_GROUP_MEMBERS) throw gatewayError('BAD_USER_INPUT', `at most ${MAX_GROUP_MEMBERS} members`, { field: 'members' });
      const ttl = input.epochTtlSeconds ?? null;
      if (ttl !== null && (!Number.isInteger(ttl) || ttl < MIN_TTL_SECONDS || ttl > MAX_TTL_SECONDS)) {
        throw gatewayError('BAD_USER_INPUT', `epochTtlSeconds must be ${MIN_TTL_SECONDS}–${MAX_TTL_SECONDS}`, { field: 'epochTtlSeconds' });
      }
      const memberIds = new Set([viewer.id, ...others.map((u) => u.id)]);
      const keys = await epochKeys(ctx, input.id, 1, input.keys, memberIds);
      return ctx.store.createConversation(
        { id: input.id, kind: input.kind, createdById: viewer.id, historySharing: input.historySharing ?? false, epochTtlSeconds: ttl },
        [{ userId: viewer.id, role: 'ADMIN' }, ...others.map((u) => ({ userId: u.id, role: 'MEMBER' as const }))],
        keys,
      );
    },

    addMembers: async (
      _: unknown,
      args: { conversationId: string; usernames: string[]; keys: EpochKeyInput[]; historyKeys?: { recipientId: string; epoch: number; wrapped: string }[] | null },
      ctx: MessagingContext,
    ) => {
      const { conversation, member } = await membership(ctx, args.conversationId);
      if (member.role !== 'ADMIN') throw gatewayError('FORBIDDEN', 'only an admin adds members');
      if (conversation.kind === 'DIRECT') throw gatewayError('BAD_USER_INPUT', 'a DIRECT conversation keeps its two members');
      const current = await ctx.store.members(args.conversationId);
      const currentIds = new Set(current.map((m) => m.userId));
      const added = (await usersByName(ctx.store, args.usernames)).filter((u) => !currentIds.has(u.id));
      if (added.length === 0) throw gatewayError('BAD_USER_INPUT', 'everyone named is a member already', { field: 'usernames' });
      if (currentIds.size + added.length > MAX_GROUP_MEMBERS) throw gatewayError('BAD_USER_INPUT', `at most ${MAX_GROUP_MEMBERS} members`, { field: 'usernames' });
      const next = conversation.epoch + 1;
      const keys = await epochKeys(ctx, args.conversationId, next, args.keys, new Set([...currentIds, ...added.map((u) => u.id)]));
      const historyKeys: Omit<EpochKeyRow, 'conversationId'>[] = [];
      const history = args.historyKeys ?? [];
      if (history.length > 0 && !conversation.historySharing) throw gatewayError('BAD_USER_INPUT', 'this conversation does not share history', { field: 'historyKeys' });
      const addedIds = new Set(added.map((u) => u.id));
      for (const h of history) {
        if (!addedIds.has(h.recipientId) || !Number.isInteger(h.epoch) || h.epoch < 1 || h.epoch > conversation.epoch) {
          throw gatewayError('BAD_USER_INPUT', 'historyKeys: earlier epochs, for added members only', { field: 'historyKeys' });
        }
        const [row] = await checkWrappedKeys(ctx, EPOCH_KEY_COORDINATE, epochKeyObjectId(h.epoch), args.conversationId, [{ recipientId: h.recipientId, keyVersion: h.epoch, wrapped: h.wrapped }]);
        historyKeys.push({ epoch: h.epoch, recipientId: row!.recipientId, wrapped: row!.wrapped });
      }
      return ctx.store.rotateEpoch(args.conversationId, next, { keys, add: added.map((u) => ({ userId: u.id, role: 'MEMBER' as const })), historyKeys });
    },

    removeMember: async (_: unknown, args: { conversationId: string; username: string; keys: EpochKeyInput[] }, ctx: MessagingContext) => {
      const { conversation, member } = await membership(ctx, args.conversationId);
      const [target] = await usersByName(ctx.store, [args.username]);
      if (target!.id !== member.userId && member.role !== 'ADMIN') throw gatewayError('FORBIDDEN', 'only an admin removes others; anyone may leave');
      if (conversation.kind === 'DIRECT') throw gatewayError('BAD_USER_INPUT', 'a DIRECT conversation keeps its two members');
      const current = await ctx.store.members(args.conversationId);
      if (!current.some((m) => m.userId === target!.id)) throw gatewayError('NOT_FOUND', `${args.username} is not a member`, { field: 'username' });
      const remaining = new Set(current.filter((m) => m.userId !== target!.id).map((m) => m.userId));
      if (remaining.size === 0) throw gatewayError('BAD_USER_INPUT', 'the last member cannot leave');
      const next = conversation.epoch + 1;
      const keys = await epochKeys(ctx, args.conversationId, next, args.keys, remaining);
      return ctx.store.rotateEpoch(args.conversationId, next, { keys, remove: [target!.id] });
    },

    rotateEpoch: async (_: unknown, args: { conversationId: string; keys: EpochKeyInput[] }, ctx: MessagingContext) => {
      const { conversation } = await membership(ctx, args.conversationId);
      const current = await ctx.store.members(args.conversationId);
      const next = conversation.epoch + 1;
      const keys = await epochKeys(ctx, args.conversationId, next, args.keys, new Set(current.map((m) => m.userId)));
      return ctx.store.rotateEpoch(args.conversationId, next, { keys });
    },

    sendMessage: async (_: unknown, args: { input: { conversationId: string; clientId: string; body: string; ttlSeconds?: number | null } }, ctx: MessagingContext) => {
      const { input } = args;
      const { conversation, member } = await membership(ctx, input.conversationId);
      checkClientId(input.clientId, 'clientId');
      const ttl = input.ttlSeconds ?? null;
      if (ttl !== null && (!Number.isInteger(ttl) || ttl < MIN_TTL_SECONDS || ttl > MAX_TTL_SECONDS)) {
        throw gatewayError('BAD_USER_INPUT', `ttlSeconds must be ${MIN_TTL_SECONDS}–${MAX_TTL_SECONDS}`, { field: 'ttlSeconds' });
      }
      const field = 'SendMessageInput.body';
      const problem = input.body.length > MAX_BODY_TEXT ? 'larger than the largest message bucket' : sealedShapeProblem(input.body);
      if (problem) throw gatewayError('BAD_SEALED_VALUE', `${field}: ${problem}`, { field });
      if (!sealedForLocation(ctx.backend, input.body, messageBodyLocation(input.conversationId, input.clientId))) {
        throw gatewayError('BAD_SEALED_VALUE', `${field}: the envelope is not sealed for Message.body of this conversation and client id`, { field });
      }
      const env = parseSealedValue(field, input.body);
      await assertSignedByActor(ctx, field, env, member.userId);
      const stale = env.keyVersion !== conversation.epoch;
      const expired = conversation.epochTtlSeconds !== null && Date.now() - conversation.epochStartedAt.getTime() >= conversation.epochTtlSeconds * 1000;
      if (stale || expired) {
        // A retry of a message stored before the epoch moved on (its answer lost) gets that
        // message, not a refusal that would make the client re-seal or rotate first. Only on
        // this path: a send under the current epoch finds a stored one inside insertMessage.
        const stored = await ctx.store.findMessageByClientId(input.conversationId, input.clientId);
        if (stored) return retried(ctx, stored, member.userId);
        if (stale) throw gatewayError('STALE_EPOCH', `sealed under epoch ${env.keyVersion}, but the conversation is at epoch ${conversation.epoch}; fetch the keys and re-seal`, { epoch: conversation.epoch });
        throw gatewayError('EPOCH_EXPIRED', `epoch ${conversation.epoch} is past its scheduled rotation: rotate the epoch, then send`, { epoch: conversation.epoch });
      }
      const stored = await ctx.store
        .insertMessage({
          conversationId: input.conversationId,
          clientId: input.clientId,
          senderId: member.userId,
          epoch: env.keyVersion,
          body: input.body,
          expiresAt: ttl === null ? null : new Date(Date.now() + ttl * 1000),
        })
        .catch((e: unknown) => {
          // The epoch moved between our check and the insert (a rotation committed first).
          if (isStorageError(e, 'CONFLICT')) throw gatewayError('STALE_EPOCH', 'the conversation moved to a new epoch; fetch the keys and re-seal');
          throw e;
        });
      const { message, created } = stored;
      if (!created) return retried(ctx, message, member.userId);
      publishedAfter(ctx, message);
      return message;
    },

    acknowledge: async (_: unknown, args: { seqs: string[] }, ctx: MessagingContext) => {
      const viewer = requireViewer(ctx);
      if (args.seqs.length === 0 || args.seqs.length > MAX_PAGE) throw gatewayError('BAD_USER_INPUT', `seqs must hold 1–${MAX_PAGE} ids`, { field: 'seqs' });
      const seqs = [...new Set(args.seqs.map((s) => cursorOf(s, 'seqs')))];
      // Recipient only: a member of the message's conversation, not its sender. Membership is
      // looked up once per conversation, however many of its messages are acknowledged.
      const memberOf = new Map<string, Promise<MemberRow | null>>();
      for (const seq of seqs) {
        const m = await ctx.store.findMessage(seq);
        let member: Promise<MemberRow | null> | undefined;
        if (m) {
          member = memberOf.get(m.conversationId);
          if (!member) memberOf.set(m.conversationId, (member = ctx.store.findMember(m.conversationId, viewer.id)));
        }
        if (!m || !(await member)) throw gatewayError('NOT_FOUND', `no such message: ${seq}`, { field: 'seqs' });
        if (m.senderId === viewer.id) throw gatewayError('BAD_USER_INPUT', 'the sender does not acknowledge their own message', { field: 'seqs' });
      }
      return ctx.store.addReceipts(viewer.id, seqs);
    },
  }),

  Subscription: {
    messageAdded: {
      subscribe: async (_: unknown, args: { conversationId?: string | null; after?: string | null }, ctx: MessagingContext) => {
        try {
          const viewer = requireViewer(ctx);
          const after = args.after === undefined || args.after === null ? null : cursorOf(args.after);
          let ids: string[];
          // The epoch at which the viewer was found a member: the feed's shared membership is
          // never used older than that for this stream (message-stream.ts).
          let subscribedAtEpoch = 0;
          if (args.conversationId) {
            subscribedAtEpoch = (await membership(ctx, args.conversationId)).conversation.epoch;
            ids = [args.conversationId];
          } else {
            ids = (await ctx.store.conversationsOf(viewer.id, MAX_PAGE)).map((c) => c.id);
          }
          return messageStream(ctx, viewer.id, ids, after, subscribedAtEpoch);
        } catch (e) {
          throw toGraphQLError(e);
        }
      },
      // Viewer-independent, like the Message fields marked below: a subscription selecting only
      // those is executed once per message and shared by its subscribers (docs/messaging.md).
      resolve: viewerIndependent((m: MessageRow) => m),
    },
  },

  Conversation: {
    members: (c: ConversationRow, _: unknown, ctx: MessagingContext) => ctx.store.members(c.id),
    epochStartedAt: (c: ConversationRow) => c.epochStartedAt.toISOString(),
    createdAt: (c: ConversationRow) => c.createdAt.toISOString(),
  },
  ConversationMember: {
    user: (m: MemberRow, _: unknown, ctx: MessagingContext) => ctx.users.load(m.userId),
  },
  EpochKey: {
    wrapped: (k: EpochKeyRow) => base64urlEncode(k.wrapped),
  },
  Message: {
    // The message's own columns: the same for every reader. In `{ resolve }` form: graphql-tools
    // binds a bare function resolver, and the bound copy would not carry the mark.
    seq: { resolve: viewerIndependent((m: MessageRow) => String(m.seq)) },
    conversationId: { resolve: viewerIndependent((m: MessageRow) => m.conversationId) },
    clientId: { resolve: viewerIndependent((m: MessageRow) => m.clientId) },
    epoch: { resolve: viewerIndependent((m: MessageRow) => m.epoch) },
    body: { resolve: viewerIndependent((m: MessageRow) => m.body) },
    expiresAt: { resolve: viewerIndependent((m: MessageRow) => m.expiresAt?.toISOString() ?? null) },
    createdAt: { resolve: viewerIndependent((m: MessageRow) => m.createdAt.toISOString()) },
    // Through the context's loader, which serves the stored row to anyone (it keeps nothing past its batch).
    sender: { resolve: viewerIndependent((m: MessageRow, _: unknown, ctx: MessagingContext) => ctx.users.load(m.senderId)) },
    receipts: async (m: MessageRow, _: unknown, ctx: MessagingContext) => (ctx.viewer?.id === m.senderId ? ctx.store.receiptsFor([m.seq]) : []),
  },
  Receipt: {
    user: (r: { userId: string }, _: unknown, ctx: MessagingContext) => ctx.users.load(r.userId),
    deliveredAt: (r: { deliveredAt: Date }) => r.deliveredAt.toISOString(),
  },
};
