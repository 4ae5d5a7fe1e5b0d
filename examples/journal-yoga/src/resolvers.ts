/**
 * The journal's resolvers: plain reads and writes of the journal table. No crypto: a write
 * hands the input to `veil.write`, which checks every sealed value and the writer's right to
 * write, seals the SERVER values and computes the blind index, and returns the columns to
 * store; a search asks `veil.blindIndex`. Reads return rows as stored: veilgraph's enforced
 * schema decides, field by field, what each viewer gets.
 */
import { VeilgraphError, requireViewer, type VeilContext } from 'veilgraph/server';
import type { JournalColumns, JournalRow, JournalStore } from './store.js';

/** The GraphQL inputs (SHARED and PRIVATE values arrive as the client's envelope text). */
export type JournalPatch = {
  readonly title?: string;
  readonly mood?: string | null;
  readonly place?: string | null;
  readonly body?: string | null;
  readonly note?: string | null;
};
export type NewJournal = JournalPatch & {
  readonly id: string;
  readonly title: string;
};

/** A save event: the id only; each subscriber reads the row as stored when the event reaches it. */
interface Saved {
  readonly id: string;
}

const journalTopic = (id: string): string => `journal:${id}`;
const authorTopic = (authorId: string): string => `journals-of:${authorId}`;
/** A journal that changes under every attempt to update it is reported, not retried forever. */
const MAX_UPDATE_ATTEMPTS = 5;

function notFound(): VeilgraphError {
  return new VeilgraphError('NOT_FOUND', 'no such journal');
}

export function journalResolvers(store: JournalStore) {
  // After the write returned: subscribers never see a change that was not stored.
  const saved = (ctx: VeilContext, row: JournalRow): JournalRow => {
    ctx.pubsub.publish(journalTopic(row.id), { id: row.id } satisfies Saved);
    ctx.pubsub.publish(authorTopic(row.authorId), { id: row.id } satisfies Saved);
    return row;
  };

  return {
    Query: {
      journal: (_: unknown, args: { id: string }) => store.get(args.id),
      myJournals: (_: unknown, __: unknown, ctx: VeilContext) => store.byAuthor(requireViewer(ctx).id),
      journalsByMood: (_: unknown, args: { mood: string }, ctx: VeilContext) => store.byMood(requireViewer(ctx).id, ctx.veil.blindIndex('Journal.mood', args.mood)),
    },

    Mutation: {
      createJournal: async (_: unknown, args: { input: NewJournal }, ctx: VeilContext) => {
        const viewer = requireViewer(ctx);
        const { input } = args;
        // Checked and sealed first; a refused input stores nothing.
        const columns = (await ctx.veil.write(ctx, 'NewJournal', input, { ownerId: viewer.id, objectId: input.id })) as JournalColumns;
        const row = { serverSealed: null, moodIndex: null, body: null, note: null, ...columns, id: input.id, authorId: viewer.id, title: input.title };
        if (!store.insert(row)) throw new VeilgraphError('CONFLICT', 'a journal with this id exists');
        return saved(ctx, store.get(input.id)!);
      },

      updateJournal: async (_: unknown, args: { id: string; patch: JournalPatch }, ctx: VeilContext) => {
        requireViewer(ctx);
        // veil.write refuses (FORBIDDEN) a viewer who may not write these fields: the author,
        // or a WRITE grantee for all but the PRIVATE field. SERVER values are merged with the
        // row's, so the blob is written back only if no other write replaced it meanwhile.
        for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
          const row = store.get(args.id);
          if (!row) throw notFound();
          const columns = (await ctx.veil.write(ctx, 'JournalPatch', args.patch, { ownerId: row.authorId, objectId: row.id }, row)) as JournalColumns;
          if (store.updateIfUnchanged(row.id, row.serverSealed, columns)) return saved(ctx, store.get(row.id)!);
        }
        throw new VeilgraphError('CONFLICT', 'the journal kept changing while it was being updated; try again');
      },

      deleteJournal: async (_: unknown, args: { id: string }, ctx: VeilContext) => {
        const viewer = requireViewer(ctx);
        const row = store.get(args.id);
        if (!row) throw notFound();
        if (row.authorId !== viewer.id) throw new VeilgraphError('FORBIDDEN', 'only the author deletes a journal');
        // Its grants and data keys first: left behind, a journal made again at this id would
        // be shared with the old grantees at once.
        await ctx.veil.forget(ctx, 'Journal', [row.id]);
        store.delete(row.id);
        return row.id;
      },
    },

    Subscription: {
      journalSaved: {
        subscribe: (_: unknown, args: { id?: string | null }, ctx: VeilContext) => {
          const viewer = requireViewer(ctx);
          // Subscribe first, then check: a save stored between the two is not lost.
          const events = ctx.pubsub.subscribe<Saved>(args.id ? journalTopic(args.id) : authorTopic(viewer.id));
          if (args.id && !store.get(args.id)) {
            void events.return?.();
            throw notFound();
          }
          return events;
        },
        resolve: (event: Saved) => {
          // The row as stored now; veilgraph authorises it against the grants as they are now.
          const row = store.get(event.id);
          if (!row) throw notFound();
          return row;
        },
      },
    },
  };
}
