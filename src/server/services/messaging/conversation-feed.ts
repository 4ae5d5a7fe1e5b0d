/**
 * @module
 * One gateway instance's shared read of a conversation's newest messages. With 1,000
 * subscribers of one group on an instance, each new message is read from the database
 * once, not 1,000 times: every subscriber's stream asks the feed for "after my cursor, up
 * to at least this seq", and concurrent asks share one query.
 *
 * The feed holds a contiguous range `(from, to]`: every message of the conversation with a
 * seq in it (commit order = seq order, docs/storage.md, so reading after `to` never skips
 * one). A cursor inside the range is answered from memory, extending the range first when
 * the seq asked for is beyond it; a cursor before the range (a subscriber resuming from
 * far back) is read straight from the store and does not disturb the feed. Expired
 * messages are dropped at answer time. A feed lives while it has subscribers.
 *
 * The feed also holds the conversation's membership for its subscribers' streams: who is a
 * member, from which epoch, and whether history is shared, as of one conversation epoch.
 * Membership changes only together with the epoch (adding or removing a member starts a new
 * one, in the same transaction), so a snapshot taken at epoch E answers exactly for every
 * message of epoch ≤ E; a message of a newer epoch makes the feed read the membership again
 * first (once for all its subscribers, not once per subscriber). That is the bound: never
 * older than the epoch of the message being delivered, so a removed member's stream stops at
 * the first message of the epoch that removed them.
 */
import type { MessageRow } from '../../storage/store.js';
import type { MessagingStore } from './store.js';

/** What a feed reads. */
export type FeedStore = Pick<MessagingStore, 'messagesAfter' | 'latestMessageSeq' | 'findConversation' | 'members'>;

const PAGE = 200;
/** Most messages a feed keeps (the newest). */
const KEEP = 2000;

/** The membership of a conversation as of its epoch `epoch`; `joined`: member → first epoch. */
export interface FeedMembership {
  readonly epoch: number;
  readonly historySharing: boolean;
  readonly joined: ReadonlyMap<string, number>;
}

/** No such conversation (deleted): nobody may read it. */
const GONE: FeedMembership = { epoch: Number.MAX_SAFE_INTEGER, historySharing: false, joined: new Map() };

export class ConversationFeed {
  private rows: MessageRow[] = [];
  /** The range held is (from, to]; null until the first read. */
  private from: number | null = null;
  private to = 0;
  private reading: Promise<void> | null = null;
  private membership: FeedMembership | null = null;
  private readingMembers: Promise<void> | null = null;
  subscribers = 0;

  constructor(
    private readonly store: FeedStore,
    readonly conversationId: string,
  ) {}

  /** Conversation, then members, then the conversation again: kept only when its epoch did not move in between. */
  private async readMembership(): Promise<void> {
    for (;;) {
      const before = await this.store.findConversation(this.conversationId);
      if (!before) {
        this.membership = GONE;
        return;
      }
      const members = await this.store.members(this.conversationId);
      const after = await this.store.findConversation(this.conversationId);
      if (after && after.epoch === before.epoch) {
        this.membership = { epoch: before.epoch, historySharing: before.historySharing, joined: new Map(members.map((m) => [m.userId, m.joinedEpoch])) };
        return;
      }
    }
  }

  /**
   * The membership as of an epoch of at least `epoch`, read again (once for all callers) when
   * the one held is older. A read already under way may have started before that epoch
   * began, so it is followed by one more. Should the stored epoch still be older than the
   * message's (it cannot: a message is stored under its conversation's current epoch), the
   * answer is nobody: fail closed.
   */
  async membershipAt(epoch: number): Promise<FeedMembership> {
    for (let attempt = 0; attempt < 2 && (!this.membership || this.membership.epoch < epoch); attempt++) {
      this.readingMembers ??= this.readMembership().finally(() => (this.readingMembers = null));
      await this.readingMembers;
    }
    return this.membership && this.membership.epoch >= epoch ? this.membership : GONE;
  }

  private async extend(): Promise<void> {
    for (;;) {
      const page = await this.store.messagesAfter([this.conversationId], this.to, PAGE, new Date());
      if (page.length > 0) {
        this.rows.push(...page);
        this.to = page[page.length - 1]!.seq;
        if (this.rows.length > KEEP) {
          const dropped = this.rows.splice(0, this.rows.length - KEEP);
          this.from = dropped[dropped.length - 1]!.seq;
        }
      }
      if (page.length < PAGE) return;
    }
  }

  /** Messages after `after` (ascending, unexpired), including at least every seq up to `atLeast` that exists. */
  async after(after: number, atLeast: number): Promise<MessageRow[]> {
    if (this.from === null) {
      this.from = after;
      this.to = after;
    }
    if (after < this.from) return this.store.messagesAfter([this.conversationId], after, PAGE, new Date());
    while (this.to < atLeast) {
      // One read at a time; whoever arrives meanwhile waits for it and checks again.
      this.reading ??= this.extend().finally(() => (this.reading = null));
      const before = this.to;
      await this.reading;
      if (this.to === before) break; // nothing newer is stored yet
    }
    // Rows are in seq order: find the first after the cursor by bisection (a live subscriber
    // asks for the newest one or two of up to KEEP rows, once per message and subscriber).
    const rows = this.rows;
    let lo = 0;
    let hi = rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (rows[mid]!.seq > after) hi = mid;
      else lo = mid + 1;
    }
    const now = Date.now();
    const out: MessageRow[] = [];
    for (let i = lo; i < rows.length && out.length < PAGE; i++) {
      const m = rows[i]!;
      if (m.expiresAt === null || m.expiresAt.getTime() > now) out.push(m);
    }
    return out;
  }
}

const feeds = new WeakMap<FeedStore, Map<string, ConversationFeed>>();

/** The instance's feed of a conversation, for one more subscriber; `release` when done. */
export function acquireFeed(store: FeedStore, conversationId: string): ConversationFeed {
  let byId = feeds.get(store);
  if (!byId) feeds.set(store, (byId = new Map()));
  let feed = byId.get(conversationId);
  if (!feed) byId.set(conversationId, (feed = new ConversationFeed(store, conversationId)));
  feed.subscribers++;
  return feed;
}

export function releaseFeed(store: FeedStore, feed: ConversationFeed): void {
  if (--feed.subscribers > 0) return;
  feeds.get(store)?.delete(feed.conversationId);
}
