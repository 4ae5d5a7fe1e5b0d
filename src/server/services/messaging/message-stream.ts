/**
 * @module
 * The `messageAdded` stream: every message of the given conversations after a cursor, in
 * seq order, each once, then live; what a reconnecting client needs to miss nothing.
 *
 * 1. Subscribe to each conversation's topic first (events are `{ seq }`, published after
 *    the commit), so nothing committed from now on goes unnoticed.
 * 2. With a cursor: read the stored messages after it, page by page, and deliver them.
 * 3. Then, for each event with a seq beyond what was delivered: read the stored messages
 *    after the last delivered seq (the store commits in seq order, so this fills any gap,
 *    whichever instance or order the events came in) and deliver them.
 *
 * Each batch is filtered to what the subscriber may read now: still a member of the
 * conversation, and the message's epoch at or after the member's first readable epoch
 * (unless the conversation shares history). A removed member gets nothing more.
 *
 * `return()` (the client stopped, or the socket closed) unsubscribes from every topic at
 * once, even while the stream is waiting for an event.
 */
import type { MessagingContext } from './store.js';
import type { MessageRow } from '../../storage/store.js';
import { acquireFeed, releaseFeed } from './conversation-feed.js';

const PAGE = 200;

/** The pubsub topic of one conversation's new messages; the payload is `{ seq }`. */
export function conversationTopic(id: string): string {
  return `Conversation:${id}`;
}

interface SeqEvent {
  readonly seq: number;
}

/**
 * `subscribedAtEpoch`: the conversation's epoch when the subscribe check found the viewer a
 * member (one conversation). The feed's membership, shared with streams that started earlier,
 * is used no older than that: one held from before the viewer was added would not name them.
 */
export function messageStream(ctx: MessagingContext, viewerId: string, conversationIds: readonly string[], after: number | null, subscribedAtEpoch = 0): AsyncIterableIterator<MessageRow> {
  const sources = conversationIds.map((id) => ctx.pubsub.subscribe<SeqEvent>(conversationTopic(id)));
  const events: number[] = [];
  const ready: MessageRow[] = [];
  let wake: (() => void) | null = null;
  let done = false;
  // With no cursor: live from what is stored when the stream starts (read once, first).
  let delivered = after;

  const notify = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  for (const source of sources) {
    void (async () => {
      for await (const e of source) {
        events.push(e.seq);
        notify();
      }
    })();
  }

  // Membership only changes together with the epoch (adding or removing a member starts a
  // new one), so the subscriber's access to a conversation is looked up again only when a
  // message of a newer epoch than the last check arrives: through the feed for one
  // conversation (shared by its subscribers here), per stream for several.
  const access = new Map<string, { joinedEpoch: number; history: boolean; checkedAtEpoch: number } | null>();
  const readable = async (rows: readonly MessageRow[]): Promise<MessageRow[]> => {
    const out: MessageRow[] = [];
    if (feed) {
      // One conversation: the feed's membership, shared by its subscribers on this instance
      // and read again (once for all) when a message of a newer epoch arrives.
      for (const m of rows) {
        const members = await feed.membershipAt(Math.max(m.epoch, subscribedAtEpoch));
        const joined = members.joined.get(viewerId);
        if (joined !== undefined && (members.historySharing || m.epoch >= joined)) out.push(m);
      }
      return out;
    }
    for (const m of rows) {
      let a = access.get(m.conversationId);
      if (a === undefined || (a !== null && m.epoch > a.checkedAtEpoch)) {
        // The conversation first, then the member: the epoch recorded is then never newer than
        // the membership read, so a removal that commits between the two reads cannot leave a
        // removed member cached as entitled to the new epoch (read in parallel it could).
        const conversation = await ctx.store.findConversation(m.conversationId);
        const member = conversation && (await ctx.store.findMember(m.conversationId, viewerId));
        a = member && conversation ? { joinedEpoch: member.joinedEpoch, history: conversation.historySharing, checkedAtEpoch: conversation.epoch } : null;
        access.set(m.conversationId, a);
      }
      if (a && (a.history || m.epoch >= a.joinedEpoch)) out.push(m);
    }
    return out;
  };

  // One conversation: read through the instance's shared feed (one query per new message
  // for all of its subscribers here). Several: read directly.
  const feed = conversationIds.length === 1 ? acquireFeed(ctx.store, conversationIds[0]!) : null;
  const read = (after: number, atLeast: number): Promise<MessageRow[]> =>
    feed ? feed.after(after, atLeast) : ctx.store.messagesAfter(conversationIds, after, PAGE, new Date());

  /** Reads and queues everything stored after `delivered` (by default: all stored now; else at least up to `atLeast`). */
  const catchUp = async (atLeast = Number.MAX_SAFE_INTEGER): Promise<void> => {
    for (;;) {
      const rows = await read(delivered ?? 0, atLeast);
      if (rows.length === 0) return;
      delivered = rows[rows.length - 1]!.seq;
      ready.push(...(await readable(rows)));
      if (rows.length < PAGE) return;
    }
  };

  let started = false;
  const iterator: AsyncIterableIterator<MessageRow> = {
    async next(): Promise<IteratorResult<MessageRow>> {
      if (!started) {
        started = true;
        // Subscribed above before this read: anything committed after it raises an event.
        if (delivered === null) delivered = await ctx.store.latestMessageSeq();
        else await catchUp();
      }
      while (!done && ready.length === 0) {
        const seq = events.shift();
        if (seq === undefined) {
          await new Promise<void>((resolve) => (wake = resolve));
          continue;
        }
        if (seq > delivered!) await catchUp(seq);
      }
      if (done) return { value: undefined, done: true };
      return { value: ready.shift()!, done: false };
    },
    async return(): Promise<IteratorResult<MessageRow>> {
      if (!done && feed) releaseFeed(ctx.store, feed);
      done = true;
      notify();
      await Promise.all(sources.map((s) => s.return?.()));
      return { value: undefined, done: true };
    },
    async throw(error?: unknown): Promise<IteratorResult<MessageRow>> {
      await iterator.return!();
      throw error instanceof Error ? error : new Error(String(error));
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
