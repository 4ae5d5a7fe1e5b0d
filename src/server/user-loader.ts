/**
 * @module
 * Batches the user lookups of one request: every `load(id)` made in the same tick (the
 * `grantee`, `sender` or `user` field of each row of a list) becomes one `findUsersByIds`
 * query instead of one query per row. Nothing is kept past the batch, so a long-lived
 * subscription context never serves a user row (keys included) older than its event.
 */
import type { Store, UserRow } from './storage/store.js';

interface Batch {
  readonly ids: Set<string>;
  readonly rows: Promise<Map<string, UserRow>>;
}

export class UserLoader {
  private batch: Batch | null = null;

  constructor(private readonly store: Store) {}

  load(id: string): Promise<UserRow | null> {
    let batch = this.batch;
    if (!batch) {
      const ids = new Set<string>();
      // Runs after the current synchronous run: every load made in it is in `ids` by then.
      const rows = Promise.resolve().then(async () => {
        this.batch = null;
        return new Map((await this.store.findUsersByIds([...ids])).map((u) => [u.id, u]));
      });
      this.batch = batch = { ids, rows };
    }
    batch.ids.add(id);
    return batch.rows.then((m) => m.get(id) ?? null);
  }
}
