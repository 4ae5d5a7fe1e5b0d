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
 */
import type { MessageRow } from '../../storage/store.js';
import type { MessagingStore } from './store.js';

const PAGE = 200;
/** Most messages a feed keeps (the newest). */
const KEEP = 2000;

export class ConversationFeed {
  private rows: MessageRow[] = [];
  /** The range held is (from, to]; null until the first read. */
  private from: number | null = null;
  private to = 0;
  private reading: Promise<void> | null = null;
  subscribers = 0;

  constructor(
    private readonly store: Pick<MessagingStore, 'messagesAfter' | 'latestMessageSeq'>,
    readonly conversationId: string,
  ) {}

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

const feeds = new WeakMap<Pick<MessagingStore, 'messagesAfter' | 'latestMessageSeq'>, Map<string, ConversationFeed>>();

/** The instance's feed of a conversation, for one more subscriber; `release` when done. */
export function acquireFeed(store: Pick<MessagingStore, 'messagesAfter' | 'latestMessageSeq'>, conversationId: string): ConversationFeed {
  let byId = feeds.get(store);
  if (!byId) feeds.set(store, (byId = new Map()));
  let feed = byId.get(conversationId);
  if (!feed) byId.set(conversationId, (feed = new ConversationFeed(store, conversationId)));
  feed.subscribers++;
  return feed;
}

export function releaseFeed(store: Pick<MessagingStore, 'messagesAfter' | 'latestMessageSeq'>, feed: ConversationFeed): void {
  if (--feed.subscribers > 0) return;
  feeds.get(store)?.delete(feed.conversationId);
}
