/**
 * @module
 * How veilgraph reaches the rows of a schema author's types: one `TypeAdapter` per type with
 * a protected (non-PUBLIC) field. The author's rows stay in the author's database; veilgraph
 * asks only:
 *
 * - `owners(ids, ctx)`: who owns these objects. Data keys (`putDataKeys`), grants and their
 *   revocation, `veil.write` (the owner a resolver names) and the re-wrapping after an
 *   identity rotation ask. (The debug view reads the owner from the row `find` returns.) Calls are
 *   batched per request: every id one request asks about in one tick, one call per type
 *   (`OwnerLoader`). An id missing from the answer has no object (yet).
 * - `find(id)`: one row as stored, for the "what the server sees" view.
 * - `reseal`: rotation of the SERVER key ring moves every row of the type onto the current
 *   key (./rotation.ts). Required for a type with SERVER fields.
 *
 * - `attach({ type, manifest })`, optional: called once at start, after the checks below and
 *   before anything is created or opened, with the schema the adapter will serve. An adapter
 *   that derives its columns from the schema (the Prisma extension, ./adapters/prisma.ts)
 *   takes them here and refuses what it cannot serve by throwing (CONFIG_INVALID), so the
 *   author never binds an adapter to its veilgraph by hand.
 *
 * `checkTypeAdapters` refuses to start (CONFIG_INVALID) what could not be served: a protected
 * type without an adapter, a SERVER type without `reseal`, an adapter for a type that has no
 * protected field, and whatever an adapter's `attach` refuses.
 */
import type { PrivacyManifest } from '../privacy/manifest.js';
import type { VeilContext } from './context.js';
import { configInvalid } from './errors.js';

/** How veilgraph reaches the rows of one of the author's types. */
export interface TypeAdapter<Row extends object = Record<string, unknown>> {
  /**
   * Owners of these objects, by id; an id missing from the map has no object (yet). Called
   * batched: all ids one request asks about in one tick. `ctx` is the request's context.
   */
  owners(ids: readonly string[], ctx: VeilContext): Promise<ReadonlyMap<string, string>>;
  /** One row as stored (the "what the server sees" view); null when there is none. */
  find?(id: string): Promise<Row | null>;
  /** Required when the type has SERVER fields: rotation moves rows onto the current key. */
  reseal?: {
    /**
     * Up to `limit` rows whose `serverKeyVersion` is not `version` and whose `serverSealed`
     * is not null (any order). Each row carries the type's id and owner fields, `serverSealed`
     * (bytes) and `serverKeyVersion`.
     */
    stale(version: number, limit: number): Promise<readonly Row[]>;
    /** Compare-and-swap of the row's sealed blob; false when it changed meanwhile. */
    swap(id: string, expected: Uint8Array, next: Uint8Array, nextVersion: number): Promise<boolean>;
    /** How many rows `stale(version, …)` would list in all (progress reports). */
    count?(version: number): Promise<number>;
  };
  /**
   * Called once when a veilgraph is created with this adapter, after its own checks passed and
   * before anything is opened: the type it serves and the schema's manifest. Throw (a
   * VeilgraphError CONFIG_INVALID saying what to change) to refuse the start.
   */
  attach?(schema: { readonly type: string; readonly manifest: PrivacyManifest }): void;
}

/** The adapters of a veilgraph instance, by type name. */
export type TypeAdapters = ReadonlyMap<string, TypeAdapter<object>>;

function protectedTypes(manifest: PrivacyManifest): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const [type, object] of Object.entries(manifest.objects)) {
    const levels = new Set(Object.values(object.fields).map((f) => f.level));
    levels.delete('PUBLIC');
    if (levels.size > 0) out.set(type, levels);
  }
  return out;
}

/**
 * Checks the author's adapters against the manifest (module comment) and returns them as a
 * map. `sharing` says whether the sharing() service is taken: SHARED fields need its data keys.
 */
export function checkTypeAdapters(manifest: PrivacyManifest, types: Readonly<Record<string, TypeAdapter<object>>>, sharing: boolean): TypeAdapters {
  const annotated = protectedTypes(manifest);
  const problems: string[] = [];
  for (const name of Object.keys(types)) {
    if (!annotated.has(name)) problems.push(`types.${name}: ${name} has no field above PUBLIC in the schema, so it needs no TypeAdapter; remove it (or check the spelling of the type name)`);
  }
  for (const [type, levels] of annotated) {
    const adapter = Object.hasOwn(types, type) ? types[type] : undefined;
    const named = [...levels].join(', ');
    if (!adapter || typeof adapter.owners !== 'function') {
      problems.push(`${type} has ${named} fields but no TypeAdapter: pass createVeilgraph({ types: { ${type}: { owners(ids, ctx) { … } } } }) so veilgraph can tell who owns a ${type}`);
      continue;
    }
    if (levels.has('SERVER') && (typeof adapter.reseal?.stale !== 'function' || typeof adapter.reseal?.swap !== 'function')) {
      problems.push(`${type} has SERVER fields but its TypeAdapter has no reseal { stale, swap }: without it a key ring rotation would leave ${type} rows on the old key; add them (docs/server.md, "Rotate the key ring")`);
    }
    if (levels.has('SHARED') && !sharing) {
      problems.push(`${type} has SHARED fields, which are sealed under per-object data keys that only the sharing() service stores: add sharing() to services (it requires directory() and signIn()), or make the fields PRIVATE`);
    }
  }
  if (problems.length > 0) throw configInvalid(problems.join('\n'));
  for (const [type, adapter] of Object.entries(types)) adapter.attach?.({ type, manifest });
  return new Map(Object.entries(types));
}

interface Batch {
  readonly ids: Set<string>;
  readonly done: Promise<ReadonlyMap<string, string>>;
}

/**
 * Owner lookups of one request through the TypeAdapters: every `ownerOf` of one type made in
 * the same tick becomes one `owners` call. Nothing is kept past the batch (a subscription's
 * context never answers from an earlier event).
 */
export class OwnerLoader {
  private readonly batches = new Map<string, Batch>();

  constructor(
    private readonly adapters: TypeAdapters,
    private readonly context: () => VeilContext,
  ) {}

  /** Whether `type` has an adapter (own entries only: the map comes from options). */
  has(type: string): boolean {
    return this.adapters.has(type);
  }

  /** The owner of one object; null when it does not exist or its type has no adapter. */
  ownerOf(type: string, id: string): Promise<string | null> {
    const adapter = this.adapters.get(type);
    if (!adapter) return Promise.resolve(null);
    let batch = this.batches.get(type);
    if (!batch) {
      const ids = new Set<string>();
      // Runs after the current synchronous run: every ownerOf made in it is in `ids` by then.
      const done = Promise.resolve().then(async () => {
        this.batches.delete(type);
        const found = await adapter.owners([...ids], this.context());
        if (!(found instanceof Map)) throw new TypeError(`TypeAdapter ${type}.owners must resolve to a Map of id → owner id`);
        return found as ReadonlyMap<string, string>;
      });
      batch = { ids, done };
      this.batches.set(type, batch);
    }
    batch.ids.add(id);
    return batch.done.then((m) => {
      const owner = m.get(id);
      return typeof owner === 'string' ? owner : null;
    });
  }
}
