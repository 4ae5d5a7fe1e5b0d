/**
 * @module
 * veilgraph for Prisma users: a Prisma Client extension driven by the privacy manifest, so
 * a resolver stores an annotated type with `db.journal.create({ data: input })` and holds
 * no crypto, and the `TypeAdapter`s veilgraph needs for those types (owner lookups, the
 * debug view, key ring rotation). docs/server-prisma.md is the guide.
 *
 *   const journals = prismaVeilgraph(prisma, { models: { Journal: 'journal' } });
 *   const veil = await createVeilgraph({ typeDefs, resolvers, types: journals.types, … });
 *   // in a resolver, with the context veilgraph made for the request:
 *   const db = prisma.$extends(journals.forRequest(ctx));
 *
 * The adapters need the schema (which columns hold the id, the owner, the sealed SERVER
 * values): `createVeilgraph` hands it to them at start (`TypeAdapter.attach`), before it
 * opens anything, and refuses to start (CONFIG_INVALID, every problem listed) when the
 * client's data model does not fit. The write path comes with each request's context
 * (`ctx.veil`), so one extension serves exactly the veilgraph that made the request.
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
import type { PrivacyManifest } from '../../privacy/manifest.js';
import type { VeilContext } from '../context.js';
import type { TypeAdapter } from '../type-adapters.js';
import { configInvalid } from './prisma/errors.js';
import { dataModelOf, mapModels, type ModelMap } from './prisma/model.js';
import { prismaTypeAdapter, type ModelDelegate } from './prisma/type-adapter.js';
import { createRequestExtension, type VeilgraphPrismaExtension } from './prisma/writes.js';

export { UNCHECKED_WRITE, UncheckedWriteError } from './prisma/errors.js';
export type { VeilgraphPrismaExtension } from './prisma/writes.js';

export interface PrismaVeilgraphOptions {
  /**
   * The annotated types this client stores, and the model of each: `{ Journal: 'journal' }`
   * (the model's name or its client property). Every type with `@privacy` fields that has a
   * model here must be named (else CONFIG_INVALID at start).
   */
  readonly models: Readonly<Record<string, string>>;
}

export interface PrismaVeilgraph {
  /** A `TypeAdapter` per type of `models`, for `createVeilgraph({ types })`. */
  readonly types: Readonly<Record<string, TypeAdapter>>;
  /** The extension for one request: `prisma.$extends(journals.forRequest(ctx))`, `ctx` the context veilgraph made for it. */
  forRequest(ctx: VeilContext): VeilgraphPrismaExtension;
}

interface Bound {
  readonly models: ModelMap;
  readonly adapters: ReadonlyMap<string, TypeAdapter>;
}

/**
 * `prisma`: your PrismaClient (Prisma 6, any provider). The adapters and the extension's
 * own reads use it as given; extend it per request with `forRequest`, never globally.
 */
export function prismaVeilgraph(prisma: object, options: PrismaVeilgraphOptions): PrismaVeilgraph {
  const delegate = (name: string): ModelDelegate => (prisma as Record<string, ModelDelegate>)[name]!;
  // One mapping per schema the adapters were attached to (usually one); the adapters' calls
  // without a request (the debug view, rotation) use the latest.
  const bindings = new WeakMap<PrivacyManifest, Bound>();
  let latest: Bound | null = null;
  const bind = (manifest: PrivacyManifest): Bound => {
    let b = bindings.get(manifest);
    if (!b) {
      const models = mapModels(dataModelOf(prisma), manifest, options.models);
      b = { models, adapters: new Map([...models.byType].map(([typeName, m]) => [typeName, prismaTypeAdapter(m, () => delegate(m.delegate))])) };
      bindings.set(manifest, b);
    }
    latest = b;
    return b;
  };
  const bound = (ctx?: VeilContext): Bound => {
    const b = ctx?.veil ? bindings.get(ctx.veil.manifest) : latest;
    if (!b) throw configInvalid('these Prisma adapters are not part of this veilgraph: pass prismaVeilgraph(…).types to createVeilgraph({ types })');
    return b;
  };

  // The adapters' column names come from the schema, known at attach: these forward. A type
  // without SERVER fields has no sealed rows: nothing is stale, nothing swaps.
  const types: Record<string, TypeAdapter> = {};
  for (const typeName of Object.keys(options.models)) {
    const adapter = (ctx?: VeilContext): TypeAdapter => bound(ctx).adapters.get(typeName)!;
    types[typeName] = {
      attach: ({ manifest }) => void bind(manifest),
      owners: async (ids, ctx) => adapter(ctx).owners(ids, ctx),
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
    forRequest(ctx) {
      if (!ctx || typeof ctx !== 'object' || !('viewer' in ctx) || !('access' in ctx) || !('veil' in ctx)) {
        throw configInvalid("forRequest takes the request's veilgraph context (the one veilgraph made for this request)");
      }
      return createRequestExtension(bound(ctx).models, (name) => delegate(name), ctx);
    },
  };
}
