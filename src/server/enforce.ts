/**
 * @module
 * Enforces the manifest on every protected output field: the viewer must be allowed to
 * read the field's level (else FORBIDDEN for that field, never a silent null and never
 * the ciphertext); SERVER fields are then decrypted from the row's sealed blob; SHARED and
 * PRIVATE fields return the stored envelope, which only the client can open.
 */
import { MapperKind, mapSchema } from '@graphql-tools/utils';
import { defaultFieldResolver, type GraphQLFieldResolver, type GraphQLResolveInfo, type GraphQLSchema } from 'graphql';
import type { PrivacyManifest } from '../privacy/manifest.js';
import type { RequestAccess } from './access.js';
import { forbidden, gatewayError } from './errors.js';
import type { ServerFieldCodec, ServerRow } from './server-fields.js';
import { isViewerIndependent, viewerIndependent } from './viewer-independent.js';

export interface EnforcementContext {
  readonly access?: RequestAccess;
}

type Row = ServerRow & Record<string, unknown>;

/**
 * Every schema `enforcePrivacy` made. The server adapters refuse to serve any other (a schema
 * with the privacy directives but not their enforcement must never answer).
 */
const enforced = new WeakSet<GraphQLSchema>();

/** Whether `schema` is one `enforcePrivacy` made. */
export function isEnforcedSchema(schema: GraphQLSchema): boolean {
  return enforced.has(schema);
}

/** A context without veilgraph's `access` (the server's own context function left it out): refuse, never serve unchecked. */
function notVeilgraphContext(): Error {
  return gatewayError('INTERNAL_SERVER_ERROR', "the request context is not veilgraph's: build it with veil.context(request) (or spread it into yours)");
}

/**
 * A subscription keeps one context for all its events, and the grants its first event looked
 * up would otherwise answer every later one: a grant revoked while subscribed would still
 * let the next event's protected fields through. The root field's per-event resolver forgets
 * them first, so each event is authorised against the grants as they are when it is
 * delivered, whoever wrote the subscription's resolvers.
 */
function freshGrantsPerEvent<C extends { resolve?: GraphQLFieldResolver<Row, EnforcementContext> | undefined }>(config: C): C {
  const original: GraphQLFieldResolver<Row, EnforcementContext> = config.resolve ?? defaultFieldResolver;
  const resolve: GraphQLFieldResolver<Row, EnforcementContext> = (event, args, ctx, info) => {
    ctx?.access?.forgetGrants();
    return original(event, args, ctx, info);
  };
  // Forgetting grants matters only to protected fields below, and a selection with one is
  // never shared (./viewer-independent.ts): a viewer-independent root stays one.
  if (isViewerIndependent(original)) viewerIndependent(resolve);
  return { ...config, resolve };
}

export function enforcePrivacy(schema: GraphQLSchema, manifest: PrivacyManifest, codec: ServerFieldCodec): GraphQLSchema {
  const subscriptionType = schema.getSubscriptionType()?.name;
  const out = mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (config, fieldName, typeName) => {
      if (typeName === subscriptionType) return freshGrantsPerEvent(config);
      const object = manifest.objects[typeName];
      const level = object?.fields[fieldName]?.level;
      if (!object || !level || level === 'PUBLIC') return config;
      const original: GraphQLFieldResolver<Row, EnforcementContext> = config.resolve ?? defaultFieldResolver;
      const what = `read ${typeName}.${fieldName}`;
      // Runs once per protected field per row: no closure or key string is made on the
      // synchronous path (grants prefetched, or the viewer owns the row); only a grant not yet
      // looked up waits for the batched query.
      const value = (parent: Row, args: Record<string, unknown>, ctx: EnforcementContext, info: GraphQLResolveInfo, ownerId: string, objectId: string): unknown =>
        level === 'SERVER' ? (codec.open(typeName, parent, ownerId, objectId)[fieldName] ?? null) : original(parent, args, ctx, info);
      const resolve: GraphQLFieldResolver<Row, EnforcementContext> = (parent, args, ctx, info) => {
        const ownerId = String(parent[object.owner]);
        const objectId = String(parent[object.id]);
        if (!ctx?.access) throw notVeilgraphContext();
        const allowed = ctx.access.canRead(typeName, objectId, ownerId, level);
        if (allowed === true) return value(parent, args, ctx, info, ownerId, objectId);
        if (allowed === false) throw forbidden(what);
        return allowed.then((ok) => {
          if (!ok) throw forbidden(what);
          return value(parent, args, ctx, info, ownerId, objectId);
        });
      };
      return { ...config, resolve };
    },
  });
  enforced.add(out);
  return out;
}
