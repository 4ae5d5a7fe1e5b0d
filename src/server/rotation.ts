/**
 * @module
 * Re-sealing SERVER fields after a key ring rotation, for every type that has them: each
 * type's `TypeAdapter.reseal` (./type-adapters.ts) lists its rows not on the current
 * version and swaps each row's blob. New writes already use the new key (the ring's current
 * version); this moves existing rows over in batches while the server keeps serving: every
 * version stays in the ring, so a row is readable before, during and after its re-seal. Each
 * row is swapped with compare-and-swap, so a live write that lands between our read and our
 * write wins and is never overwritten with stale data. Safe to interrupt and run again: it
 * only picks rows not yet on the current version. The report counts rows per type and per
 * key version they came from, and what is left (a row a live writer kept winning).
 */
import type { PrivacyManifest } from '../privacy/manifest.js';
import type { GatewayKeyRing } from './keyring.js';
import type { ServerFieldCodec } from './server-fields.js';
import type { TypeAdapters } from './type-adapters.js';
import type { ResealProgress, ResealReport } from './veilgraph.js';

export interface ResealOptions {
  readonly manifest: PrivacyManifest;
  readonly types: TypeAdapters;
  readonly codec: ServerFieldCodec;
  readonly keyring: GatewayKeyRing;
  readonly batchSize?: number;
  readonly onProgress?: (p: ResealProgress) => void;
  /** Pause between batches, to leave room for live traffic (default 0). */
  readonly pauseMs?: number;
}

// A batch in which no row could be swapped (every row lost its compare-and-swap to a live
// writer, or the adapter listed rows it cannot swap) counts as a pass; passes are bounded so
// a stuck writer or adapter cannot make this spin forever. Batches with progress are free.
const MAX_PASSES = 20;

/** The types of the manifest with SERVER fields, in manifest order. */
export function serverTypes(manifest: PrivacyManifest): string[] {
  return Object.entries(manifest.objects)
    .filter(([, o]) => Object.values(o.fields).some((f) => f.level === 'SERVER'))
    .map(([name]) => name);
}

export async function resealServerFields(options: ResealOptions): Promise<ResealReport> {
  const { manifest, types, codec, keyring } = options;
  const batchSize = options.batchSize ?? 200;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new RangeError('batchSize must be a whole number ≥ 1');
  keyring.refresh(true);
  const version = keyring.current().version;
  const report: ResealReport['types'][number][] = [];
  for (const type of serverTypes(manifest)) {
    const object = manifest.objects[type]!;
    // checkTypeAdapters refused to start without it.
    const reseal = types.get(type)!.reseal!;
    const total = reseal.count ? await reseal.count(version) : undefined;
    const fromVersions: Record<number, number> = {};
    let done = 0;
    for (let pass = 0; pass < MAX_PASSES; ) {
      const rows = await reseal.stale(version, batchSize);
      if (rows.length === 0) break;
      let swapped = 0;
      for (const stale of rows) {
        const row = stale as Record<string, unknown>;
        const sealed = row.serverSealed;
        if (!(sealed instanceof Uint8Array)) continue;
        const id = String(row[object.id]);
        const next = codec.reseal(type, sealed, String(row[object.owner]), id);
        if (await reseal.swap(id, sealed, next.sealed, next.keyVersion)) {
          swapped++;
          const from = Number(row.serverKeyVersion);
          fromVersions[from] = (fromVersions[from] ?? 0) + 1;
        }
      }
      done += swapped;
      options.onProgress?.({ type, done: total === undefined ? done : Math.min(done, total), total: total ?? done, version });
      if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
      if (swapped === 0 || rows.length < batchSize) pass++;
    }
    const remaining = reseal.count ? await reseal.count(version) : (await reseal.stale(version, batchSize)).length;
    report.push({ type, resealed: done, fromVersions, remaining });
  }
  return { version, types: report };
}
