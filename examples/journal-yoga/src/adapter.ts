/**
 * The journal's TypeAdapter: how veilgraph reaches journal rows. Owner lookups come batched
 * (every id one request asks about in one tick, one call); `find` is the row as stored (the
 * "what the server sees" view); `reseal` lets a key ring rotation move the sealed SERVER
 * values onto the new key, row by row, with a compare-and-swap so a concurrent write wins.
 */
import type { TypeAdapter } from 'veilgraph/server';
import type { JournalRow, JournalStore } from './store.js';

export function journalAdapter(store: JournalStore): TypeAdapter<JournalRow> {
  return {
    owners: async (ids) => store.owners(ids),
    find: async (id) => store.get(id),
    reseal: {
      stale: async (version, limit) => store.stale(version, limit),
      swap: async (id, expected, next, nextVersion) => store.swapSealed(id, expected, next, nextVersion),
      count: async (version) => store.countStale(version),
    },
  };
}
