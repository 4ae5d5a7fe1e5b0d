/**
 * @module
 * Resolvers whose answer depends only on their parent object, their arguments and stored
 * rows anyone may read: never on who asks (the viewer, their grants, their session or
 * device), never on the time they run. A loader on the context that serves every viewer
 * the same row (the user loader) may be used. A
 * subscription whose whole selection is made of such fields gives every subscriber the same
 * result for the same event, so the WebSocket adapter executes it once per event and shares
 * the result (./adapters/shared-subscription.ts) instead of once per subscriber.
 *
 * Give a marked resolver in the `{ resolve }` form (`seq: { resolve: viewerIndependent(fn) }`):
 * graphql-tools binds a bare function resolver, and the bound copy is not the marked function.
 *
 * Marking is an explicit promise by the resolver's author. A field without a marked resolver
 * (a default resolver included: it may call a method of its parent with the context) keeps
 * the per-subscriber execution, and so does any field the privacy layer wraps (its wrapper is
 * a different function, unmarked), so a protected field is never shared.
 */
import type { GraphQLFieldResolver } from 'graphql';

const marked = new WeakSet<object>();

/** Marks `resolve` as viewer-independent (module comment) and returns it. */
export function viewerIndependent<F extends GraphQLFieldResolver<never, never, never>>(resolve: F): F {
  marked.add(resolve);
  return resolve;
}

/** Whether `resolve` was marked with `viewerIndependent`. */
export function isViewerIndependent(resolve: unknown): boolean {
  return typeof resolve === 'function' && marked.has(resolve);
}
