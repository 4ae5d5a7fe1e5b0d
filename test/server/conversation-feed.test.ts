// The shared per-instance feed of a conversation's messages, on a real SQLite store: many
// subscribers asking at once share one database read; cursors before the feed's range are
// read directly; the answers are the same as reading the store.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConversationFeed } from '../../src/server/services/messaging/conversation-feed.js';
import { openStore } from '../../src/server/storage/open.js';
import type { Store } from '../../src/server/storage/store.js';
import { firstKey } from './storage/suite.js';

let dir: string;
let store: Store;

/** The real store, counting `messagesAfter` calls. */
function counting(s: Store): { store: Store; reads: () => number } {
  let n = 0;
  const wrapped = Object.create(s) as Store;
  wrapped.messagesAfter = (...args: Parameters<Store['messagesAfter']>) => {
    n++;
    return s.messagesAfter(...args);
  };
  return { store: wrapped, reads: () => n };
}

async function send(clientId: string): Promise<number> {
  const { message } = await store.insertMessage({ conversationId: 'c1', clientId, senderId: 'alice', epoch: 1, body: `AQEB-body-${clientId}`, expiresAt: null });
  return message.seq;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'veilgraph-feed-'));
  store = await openStore({ dataDir: dir, databaseUrl: undefined });
  await store.createUser({ id: 'alice', username: 'alice', signingKey: new Uint8Array(32).fill(1), encryptionKey: new Uint8Array(32).fill(2) }, firstKey());
  await store.createConversation({ id: 'c1', kind: 'GROUP', createdById: 'alice', historySharing: false, epochTtlSeconds: null }, [{ userId: 'alice', role: 'ADMIN' }], []);
});

afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('ConversationFeed', () => {
  it('100 subscribers asking for a new message at once: one database read, the same answer for all', async () => {
    const start = await store.latestMessageSeq();
    const { store: s, reads } = counting(store);
    const feed = new ConversationFeed(s, 'c1');
    expect(await feed.after(start, start)).toEqual([]);
    const seq = await send('m1');
    const before = reads();
    const answers = await Promise.all(Array.from({ length: 100 }, () => feed.after(start, seq)));
    expect(reads() - before).toBe(1);
    for (const a of answers) expect(a.map((m) => m.clientId)).toEqual(['m1']);
    // Already held: no read at all.
    await feed.after(start, seq);
    expect(reads() - before).toBe(1);
  });

  it('answers like the store: several messages, a cursor inside the range, a cursor before it (read directly)', async () => {
    const base = await store.latestMessageSeq();
    const feed = new ConversationFeed(store, 'c1');
    await feed.after(base, base);
    const seqs = [];
    for (const id of ['m2', 'm3', 'm4']) seqs.push(await send(id));
    expect((await feed.after(base, seqs[2]!)).map((m) => m.clientId)).toEqual(['m2', 'm3', 'm4']);
    expect((await feed.after(seqs[0]!, seqs[2]!)).map((m) => m.clientId)).toEqual(['m3', 'm4']);
    // Before the feed's range: straight from the store, including the older m1.
    expect((await feed.after(0, seqs[2]!)).map((m) => m.clientId)).toEqual((await store.messagesAfter(['c1'], 0, 200, new Date())).map((m) => m.clientId));
  });
});
