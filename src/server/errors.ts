/**
 * @module
 * GraphQL errors with stable codes. Every error a client can act on carries
 * `extensions.code`; messages name fields and coordinates, never values.
 */
import { GraphQLError } from 'graphql';

export type GatewayErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'BAD_USER_INPUT'
  | 'BAD_SEALED_VALUE'
  | 'RATE_LIMITED'
  | 'QUERY_TOO_COMPLEX'
  /** Contacts (docs/sharing.md): the viewer already asked this user. */
  | 'CONTACT_REQUEST_EXISTS'
  /** Contacts: the two users are contacts already. */
  | 'ALREADY_CONTACTS'
  /** The debug view (`storedObject`) is off: production, or VEIL_DEBUG_VIEW=off (docs/debug-view.md). */
  | 'DEBUG_VIEW_DISABLED'
  | 'INTERNAL_SERVER_ERROR';

/**
 * veilgraph's own typed error: start-up refusals (`CONFIG_INVALID`, with a message that says
 * what to do) and errors a resolver may throw. It carries its code in `extensions`, so a
 * resolver that throws one answers a GraphQL error with that `extensions.code`.
 */
export class VeilgraphError extends Error {
  override readonly name = 'VeilgraphError';
  readonly extensions: Readonly<Record<string, unknown>> & { readonly code: string };
  constructor(
    readonly code: string,
    message: string,
    extensions: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.extensions = { ...extensions, code };
  }
}

/** The code of every start-up refusal. */
export const CONFIG_INVALID = 'CONFIG_INVALID';

/** A start-up refusal: the options cannot be served safely; `message` says what to change. */
export function configInvalid(message: string): VeilgraphError {
  return new VeilgraphError(CONFIG_INVALID, message);
}

export function gatewayError(code: GatewayErrorCode | string, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { ...extensions, code } });
}

export function forbidden(what: string): GraphQLError {
  return gatewayError('FORBIDDEN', `not allowed to ${what}`);
}

export function unauthenticated(): GraphQLError {
  return gatewayError('UNAUTHENTICATED', 'sign in first: send a token from `login` as "Authorization: Bearer <token>"');
}

/**
 * Carries a code through graphql-js's input coercion: for a scalar's parse error,
 * graphql-js builds a new error from `originalError`, whose `extensions` survive.
 */
export class CodedInputError extends Error {
  readonly extensions: { code: string };
  constructor(code: string, message: string) {
    super(message);
    this.extensions = { code };
  }
}

// Only our own error classes are translated; anything else (a Node system error, a driver
// error) may carry paths or connection strings and stays an internal error.
const EXPOSED = new Set(['CryptoError', 'AuthError', 'StorageError']);

/** Our own typed errors (crypto, auth, storage) become GraphQL errors with their code. */
export function toGraphQLError(e: unknown): unknown {
  if (e instanceof GraphQLError) return e;
  if (e instanceof Error && EXPOSED.has(e.name) && typeof (e as { code?: unknown }).code === 'string') {
    const extra: Record<string, unknown> = {};
    const retry = (e as { retryAfterSeconds?: unknown }).retryAfterSeconds;
    if (typeof retry === 'number') extra.retryAfterSeconds = retry;
    return gatewayError((e as unknown as { code: string }).code, e.message, extra);
  }
  return e;
}
