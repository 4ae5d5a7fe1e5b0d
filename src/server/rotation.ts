/**
 * @module
 * Re-sealing SERVER fields after a key ring rotation. New writes already use the new key
 * (the ring's current version); this moves existing rows over in batches while the
 * gateway keeps serving: every version stays in the ring, so a row is readable before,
 * during and after its re-seal. Each row is swapped with compare-and-swap, so a live
 * write that lands between our read and our write wins and is never overwritten with
 * stale data. Safe to interrupt and run again: it only picks rows not yet on the current
 * version.
 */
import type { GatewayKeyRing } from './keyring.js';
import type { ServerFieldCodec } from './server-fields.js';
import type { Store } from './storage/store.js';

export interface ResealProgress {
  readonly type: string;
  readonly done: number;
  readonly total: number;
  readonly version: number;
}

export interface ResealOptions {
  readonly store: Store;
  readonly codec: ServerFieldCodec;
  readonly keyring: GatewayKeyRing;
  readonly batchSize?: number;
  readonly onProgress?: (p: ResealProgress) => void;
  /** Pause between batches, to leave room for live traffic (default 0). */
  readonly pauseMs?: number;
}

// A row that keeps losing the compare-and-swap (another writer on an old key) is retried
// on the next pass; passes are bounded so a stuck writer cannot make this spin forever.
const MAX_PASSES = 20;

export async function resealServerFields(options: ResealOptions): Promise<{ resealed: number; version: number }> {
  const { store, codec, keyring } = options;
  const batchSize = options.batchSize ?? 200;
  keyring.refresh(true);
  const version = keyring.current().version;
  const total = await store.countProfilesNotOnKeyVersion(version);
  let done = 0;
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const rows = await store.listProfilesNotOnKeyVersion(version, batchSize);
    if (rows.length === 0) break;
    for (const row of rows) {
      if (!row.serverSealed) continue;
      const next = codec.reseal('Profile', row.serverSealed, row.ownerId, row.id);
      if (await store.swapProfileServerSealed(row.id, row.serverSealed, next.sealed, next.keyVersion)) done++;
    }
    options.onProgress?.({ type: 'Profile', done: Math.min(done, total), total, version });
    if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
    if (rows.length === batchSize) pass--; // full batches are progress, not retries
  }
  return { resealed: done, version };
}
