/**
 * @module
 * Errors as the app shows them: a stable code (the server's `extensions.code`, or the
 * client library's typed error code) and a message. Never includes a value or a key.
 */
import { CombinedGraphQLErrors } from '@apollo/client';
import type { GraphQLFormattedError } from 'graphql';

export interface ShownError {
  readonly code: string;
  readonly message: string;
}

export function describeError(e: unknown): ShownError {
  if (CombinedGraphQLErrors.is(e)) {
    const first = e.errors[0];
    return { code: String(first?.extensions?.code ?? 'GRAPHQL_ERROR'), message: first?.message ?? e.message };
  }
  if (e && typeof e === 'object' && 'code' in e && typeof e.code === 'string') {
    return { code: e.code, message: e instanceof Error ? e.message : e.code };
  }
  return { code: 'ERROR', message: e instanceof Error ? e.message : String(e) };
}

/**
 * The per-field error the privacy link reported for `field` (a sealed value this viewer
 * cannot open: no grant, revoked, PRIVATE of someone else), from a result read with
 * `errorPolicy: 'all'`.
 */
export function fieldError(error: unknown, field: string): ShownError | undefined {
  if (!CombinedGraphQLErrors.is(error)) return undefined;
  const hit = error.errors.find((x: GraphQLFormattedError) => x.path !== undefined && x.path[x.path.length - 1] === field);
  return hit ? { code: String(hit.extensions?.code ?? 'GRAPHQL_ERROR'), message: hit.message } : undefined;
}
