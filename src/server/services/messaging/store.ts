/**
 * @module
 * What messaging() stores: conversations, members, epoch keys, messages and receipts
 * (docs/messaging.md, docs/storage.md "Message").
 */
import type { ConversationRow, EpochChange, EpochKeyRow, MemberRow, MessageRow, ReceiptRow } from '../../storage/store.js';
import type { ServiceContext } from '../../context.js';
import type { SignInStore } from '../sign-in/store.js';
import type { LayerStore } from '../../storage/store.js';

export interface MessagingStore {
  /**
   * Creates a conversation with its members and epoch 1's wrapped keys, atomically. An id
   * in use is CONFLICT; a member or recipient that does not exist is INVALID_REFERENCE.
   */
  createConversation(
    c: Omit<ConversationRow, 'epoch' | 'epochStartedAt' | 'createdAt'>,
    members: readonly Omit<MemberRow, 'conversationId' | 'createdAt' | 'joinedEpoch'>[],
    keys: readonly Omit<EpochKeyRow, 'conversationId' | 'epoch'>[],
  ): Promise<ConversationRow>;

  findConversation(id: string): Promise<ConversationRow | null>;

  /** Conversations `userId` is a member of, ordered by id, after `afterId`, at most `limit`. */
  conversationsOf(userId: string, limit: number, afterId?: string): Promise<ConversationRow[]>;

  members(conversationId: string): Promise<MemberRow[]>;

  findMember(conversationId: string, userId: string): Promise<MemberRow | null>;

  /**
   * Starts epoch `nextEpoch` (= current + 1, else CONFLICT and nothing written) with its
   * wrapped keys, removing `remove` and adding `add` members (joining at `nextEpoch`), and
   * storing `historyKeys` (earlier epochs' keys for added members), atomically.
   */
  rotateEpoch(conversationId: string, nextEpoch: number, change: EpochChange): Promise<ConversationRow>;

  /** `recipientId`'s wrapped keys of these conversations, every epoch, ordered by conversation then epoch. */
  epochKeysFor(conversationIds: readonly string[], recipientId: string): Promise<EpochKeyRow[]>;

  /**
   * Stores a message unless `(conversationId, clientId)` exists: then returns the stored one
   * with `created: false` (the caller decides what a retry gets: docs/messaging.md). CONFLICT (and nothing stored) when
   * the conversation is no longer at `m.epoch`; the check holds until the commit. Commit order is `seq` order (a
   * message with a lower seq is never committed after one with a higher seq), so a reader
   * that has seen seq N has seen every message below N.
   */
  insertMessage(m: Omit<MessageRow, 'seq' | 'createdAt'>): Promise<{ message: MessageRow; created: boolean }>;

  /** Messages of these conversations with `seq > after`, ascending, at most `limit`, unexpired at `now`. */
  messagesAfter(conversationIds: readonly string[], after: number, limit: number, now: Date): Promise<MessageRow[]>;

  findMessage(seq: number): Promise<MessageRow | null>;

  /** The message stored under `clientId` in the conversation (expired or not), or null. */
  findMessageByClientId(conversationId: string, clientId: string): Promise<MessageRow | null>;

  /** The highest seq stored (0 when there is none): where a live-only stream starts. */
  latestMessageSeq(): Promise<number>;

  /** Records receipts of `userId` for these messages (existing ones are kept); returns how many are new. */
  addReceipts(userId: string, seqs: readonly number[]): Promise<number>;

  receiptsFor(seqs: readonly number[]): Promise<ReceiptRow[]>;

  /** Messages in `userId`'s conversations, not sent by them, without their receipt, from `joinedEpoch` on, ascending. */
  undeliveredFor(userId: string, limit: number, now: Date): Promise<MessageRow[]>;

  /** Deletes messages whose `expiresAt` is at or before `now`; returns how many. */
  purgeExpiredMessages(now: Date): Promise<number>;
}

/** What the service's resolvers receive: the context with the store it declares (and the layer's). */
export type MessagingContext = ServiceContext<LayerStore & SignInStore & MessagingStore>;
