/**
 * @module
 * veilgraph for Prisma users: a Prisma Client extension driven by the privacy manifest, so
 * a resolver stores an annotated type with `db.journal.create({ data: input })` and holds
 * no crypto, and the `TypeAdapter`s veilgraph needs for those types (owner lookups, the
 * debug view, key ring rotation). docs/server-prisma.md is the guide.
 *
 *   const journals = prismaVeilgraph(prisma, { models: { Journal: 'journal' } });
 *   const veil = await createVeilgraph({ typeDefs, resolvers, types: journals.types, … });
 *   journals.attach(veil);
 *   // per request, with the context veilgraph made for it:
 *   const db = prisma.$extends(journals.forRequest(ctx));
 *
 * Why `attach`: the adapters must exist before `createVeilgraph` (it refuses to start
 * without one per annotated type), and they need its manifest (owner and id fields) and
 * write path. Until attached, every adapter call and `forRequest` fail (CONFIG_INVALID).
 *
 * Why an extension per request, not one global extension reading the request from
 * AsyncLocalStorage: the acting user is then an argument the resolver visibly passes, so a
 * write can never pick up another request's viewer or none (a background job, a lost async
 * context), and the base client stays available, unextended, for code outside requests.
 * `$extends` is cheap (it wraps the client; no new connection).
 *
 * Like prisma-field-encryption, this hooks Prisma's `query` extension component (every
 * operation passes through `$allOperations` with its model and arguments); unlike it, what
 * to protect comes from the SDL's `@privacy`, not schema comments, and client-sealed values
 * are checked for their location rather than encrypted here.
 */
import { configInvalid } from './prisma/errors.js';
import { dataModelOf, mapModels, type ModelMap } from './prisma/model.js';
import { prismaTypeAdapter, type ModelDelegate } from './prisma/type-adapter.js';
import { createRequestExtension, type VeilgraphPrismaExtension } from './prisma/writes.js';
import type { TypeAdapter, VeilContext, VeilgraphWriter } from './pending-contract.js';

export { PrismaAdapterError, type PrismaAdapterErrorCode } from './prisma/errors.js';
export type { VeilgraphPrismaExtension } from './prisma/writes.js';

export interface PrismaVeilgraphOptions {
  /**
   * The annotated types this client stores, and the model of each: `{ Journal: 'journal' }`
   * (the model's name or its client property). Every type with `@privacy` fields that has a
   * model here must be named (else CONFIG_INVALID at `attach`).
   */
  readonly models: Readonly<Record<string, string>>;
}

export interface PrismaVeilgraph {
  /** A `TypeAdapter` per type of `models`, for `createVeilgraph({ types })`. Usable once attached. */
  readonly types: Readonly<Record<string, TypeAdapter>>;
  /**
   * Binds the adapters to a veilgraph: checks the client's data model against the schema
   * (CONFIG_INVALID listing every problem). Call once, right after `createVeilgraph`.
   */
  attach(veil: VeilgraphWriter): void;
  /** The extension for one request: `prisma.$extends(journals.forRequest(ctx))`. */
  forRequest(ctx: VeilContext): VeilgraphPrismaExtension;
}

/**
 * `prisma`: your PrismaClient (Prisma 6, any provider). The adapters and the extension's
 * own reads use it as given; extend it per request with `forRequest`, never globally.
 */
export function prismaVeilgraph(prisma: object, options: PrismaVeilgraphOptions): PrismaVeilgraph {
  interface Bound {
    readonly veil: VeilgraphWriter;
    readonly models: ModelMap;
    readonly adapters: ReadonlyMap<string, TypeAdapter>;
  }
  let bound: Bound | null = null;
  const attached = (): Bound => {
    if (!bound) throw configInvalid('not attached: call attach(veil) with the veilgraph from createVeilgraph before using the Prisma adapter');
    return bound;
  };
  const delegate = (name: string): ModelDelegate => (prisma as Record<string, ModelDelegate>)[name]!;

  // The adapters' column names come from the schema, known once attached: these forward.
  // A type without SERVER fields has no sealed rows: nothing is stale, nothing swaps.
  const types: Record<string, TypeAdapter> = {};
  for (const typeName of Object.keys(options.models)) {
    const adapter = (): TypeAdapter => attached().adapters.get(typeName)!;
    types[typeName] = {
      owners: async (ids, ctx) => adapter().owners(ids, ctx),
      find: async (id) => adapter().find!(id),
      reseal: {
        stale: async (version, limit) => (await adapter().reseal?.stale(version, limit)) ?? [],
        swap: async (id, expected, next, nextVersion) => (await adapter().reseal?.swap(id, expected, next, nextVersion)) ?? false,
        count: async (version) => (await adapter().reseal?.count?.(version)) ?? 0,
      },
    };
  }

  return {
    types,
    attach(veil) {
      if (bound) {
        if (bound.veil === veil) return;
        throw configInvalid('already attached to another veilgraph');
      }
      const models = mapModels(dataModelOf(prisma), veil.manifest, options.models);
      const adapters = new Map([...models.byType].map(([typeName, m]) => [typeName, prismaTypeAdapter(m, () => delegate(m.delegate))]));
      bound = { veil, models, adapters };
    },
    forRequest(ctx) {
      const { veil, models } = attached();
      if (!ctx || typeof ctx !== 'object' || !('viewer' in ctx) || !('access' in ctx)) {
        throw configInvalid("forRequest takes the request's veilgraph context (the one veilgraph made for this request)");
      }
      return createRequestExtension(veil, models, (name) => delegate(name), ctx);
    },
  };
}
