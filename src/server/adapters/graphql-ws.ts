/**
 * @module
 * `veil.graphqlWsOptions()`: veilgraph on graphql-ws (the graphql-transport-ws protocol),
 * as options for `useServer` from `graphql-ws/use/ws`:
 *
 *   const wss = new WebSocketServer({ server: httpServer, path: '/graphql', maxPayload: 64 * 1024 });
 *   const stop = useServer(veil.graphqlWsOptions(), wss);
 *
 * - Authentication: with signIn(), the token travels in the `connection_init` payload
 *   (`connectionParams.authorization = "Bearer <token>"` or `connectionParams.token`) and
 *   is verified once, when the connection opens; a malformed or invalid token closes the
 *   socket with 4403 Forbidden. No token: an anonymous connection, whose subscriptions
 *   then fail with UNAUTHENTICATED like anonymous HTTP requests. With `authenticate`
 *   instead, it is asked with the upgrade request's headers, an `authorization` string in
 *   the payload standing in for the header; a throw closes the socket with 4403.
 * - A socket lives no longer than its token: when the token expires the socket is closed
 *   with 4401 ("token expired"); the client reconnects with a fresh token and resumes. A
 *   device session's socket closes with 4403 ("session ended") when the device's
 *   revocation event reaches this instance; nothing else checks the token of an open
 *   socket again.
 * - At most `maxSubscriptionsPerSocket` subscriptions run at once on one socket; one more
 *   is refused with SUBSCRIPTION_LIMIT (the socket stays open).
 * - An anonymous socket with no running subscription is closed after the idle bound
 *   (./ws-idle.ts, 4903).
 * - A socket that is no longer open when its `connection_init` arrives (say, closed by the
 *   server's own connection caps) is not served, not even a token check.
 * - Every subscription gets the same context as an HTTP request (`veil.context`), so the
 *   same per-field enforcement applies to each event. A selection made only of fields whose
 *   resolvers are marked viewer-independent is executed once per event object and the result
 *   shared by the subscribers with the same document and variables (./shared-subscription.ts).
 * - Every document is parsed and validated with the same limits and rules as HTTP
 *   (../limits.ts: the token limit, graphql's `specifiedRules`, the limits' rules, the
 *   sealed-literal rule) and costed with its variables before it starts, against
 *   `veil.schema` whatever the options say. Only subscriptions are accepted here; queries
 *   and mutations use HTTP.
 * - Errors are formatted as over HTTP (`veil.formatError`).
 *
 * The message size (`maxPayload` of the WebSocketServer, 64 KiB in the reference app) and
 * connection caps are the server's: src/app/ws-server.ts. Clients' view of all this, with
 * every close code: docs/requests.md, "WebSocket".
 */
import type { IncomingMessage } from 'node:http';
import {
  GraphQLError,
  getOperationAST,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionArgs,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type ValidationRule,
} from 'graphql';
import { CloseCode, type Context, type ServerOptions } from 'graphql-ws';
import type { Extra } from 'graphql-ws/use/ws';
import type { Viewer } from '../access.js';
import type { VeilContext } from '../context.js';
import { gatewayError } from '../errors.js';
import type { RequestLimits } from '../limits.js';
import type { Logger } from '../log.js';
import type { VeilWsOptions } from '../veilgraph.js';
import { watchIdle, type IdleWatch } from './ws-idle.js';
import { sharedSubscribe } from './shared-subscription.js';

/** A socket's viewer as its `connection_init` proved it; `expiresAt` (a token's) ends the socket. */
export interface SocketSession {
  readonly viewer: Viewer;
  readonly expiresAt?: Date;
}

/** What the options need of a veilgraph instance. */
export interface WsLayer {
  readonly schema: GraphQLSchema;
  /** The request limits (token limit, their rules, cost with variables), as over HTTP. */
  readonly limits: RequestLimits;
  /** veilgraph's rules (the limits', the sealed-literal rule); graphql's `specifiedRules` run first. */
  readonly validationRules: readonly ValidationRule[];
  readonly formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  readonly production: boolean;
  readonly log: Logger;
  /** The session a `connection_init` proves: null for an anonymous socket; throws to refuse it (4403). */
  readonly openSession: (connectionParams: Readonly<Record<string, unknown>> | undefined, request: IncomingMessage) => Promise<SocketSession | null>;
  /**
   * Called once a socket's session is known: may watch for its end (a revoked device) and
   * call `end` then, which closes the socket (4403). Returns what stops watching.
   */
  readonly watchSession: (viewer: Viewer, end: () => void) => (() => void) | undefined;
  /** The same context an HTTP request gets. */
  readonly context: (viewer: Viewer | null, request: IncomingMessage) => VeilContext;
}

const BEARER = /^Bearer ([A-Za-z0-9._-]+)$/;

/** The token of an `Authorization: Bearer <token>` value, or null when it is not of that form. */
export function bearerToken(value: string): string | null {
  return BEARER.exec(value)?.[1] ?? null;
}
const TOKEN = /^[A-Za-z0-9._-]+$/;

/** The token from a connection_init payload: undefined (none), or null (malformed). */
export function tokenFromConnectionParams(params: Readonly<Record<string, unknown>> | undefined): string | null | undefined {
  if (!params) return undefined;
  const { authorization, token } = params;
  if (authorization !== undefined && authorization !== null) {
    if (typeof authorization !== 'string') return null;
    return bearerToken(authorization);
  }
  if (token !== undefined && token !== null) {
    if (typeof token !== 'string' || !TOKEN.test(token)) return null;
    return token;
  }
  return undefined;
}

/**
 * graphql's own validation errors carry no code; Apollo gives them GRAPHQL_VALIDATION_FAILED
 * over HTTP, and so do we here (without one, production would report them as internal
 * errors). Codes our rules set (QUERY_TOO_COMPLEX, BAD_SEALED_VALUE) stay.
 */
function withValidationCode(e: GraphQLError): GraphQLError {
  if (typeof e.extensions.code === 'string') return e;
  return new GraphQLError(e.message, { nodes: e.nodes ?? null, source: e.source ?? null, positions: e.positions ?? null, originalError: e.originalError ?? null, extensions: { ...e.extensions, code: 'GRAPHQL_VALIDATION_FAILED' } });
}

type WsContext = Context<Record<string, unknown>, Extra>;

/** graphql-ws `useServer` options (`isProd`: internal errors are not described in close reasons). */
export type VeilWsServerOptions = ServerOptions<Record<string, unknown>, Extra> & { readonly isProd: boolean };

export function createGraphqlWsOptions(layer: WsLayer, options: VeilWsOptions = {}): VeilWsServerOptions {
  const { schema, log } = layer;
  const maxSubscriptions = options.maxSubscriptionsPerSocket ?? DEFAULT_MAX_SUBSCRIPTIONS_PER_SOCKET;
  const idleSeconds = options.anonymousIdleSeconds ?? DEFAULT_ANONYMOUS_IDLE_SECONDS;
  for (const [name, n, min] of [
    ['maxSubscriptionsPerSocket', maxSubscriptions, 1],
    ['anonymousIdleSeconds', idleSeconds, 0],
  ] as const) {
    if (!Number.isSafeInteger(n) || n < min) throw new RangeError(`graphqlWsOptions: ${name} must be a whole number ≥ ${min}`);
  }
  const rules = [...specifiedRules, ...layer.validationRules];
  const viewers = new WeakMap<object, Viewer | null>();
  const expiryTimers = new WeakMap<object, NodeJS.Timeout>();
  const watchers = new WeakMap<object, () => void>();
  const idleWatches = new WeakMap<object, IdleWatch>();
  const format = (errors: readonly GraphQLError[]): GraphQLFormattedError[] => errors.map((e) => layer.formatError(e.toJSON(), e));

  return {
    schema,
    // One execution per event for selections of viewer-independent fields (./shared-subscription.ts).
    subscribe: sharedSubscribe(),
    isProd: layer.production,
    onConnect: async (ctx: WsContext) => {
      const socket = ctx.extra.socket;
      // Closed already (the server's connection caps refused it): serve nothing, not even a token check.
      if (socket.readyState !== socket.OPEN) return false;
      let session: SocketSession | null;
      try {
        session = await layer.openSession(ctx.connectionParams, ctx.extra.request);
      } catch (e) {
        log.info('ws.rejected', { reason: e instanceof Error && e.message === 'malformed token' ? 'malformed token' : 'invalid token' });
        return false;
      }
      // The socket may have closed while the session was checked: onClose has run already,
      // so nothing registered below would ever be removed.
      if (socket.readyState !== socket.OPEN) return false;
      if (session) {
        if (session.expiresAt) {
          // setTimeout's delay is a signed 32-bit number of ms; tokens live at most a day.
          const timer = setTimeout(() => {
            log.info('ws.closed', { reason: 'token expired' });
            socket.close(TOKEN_EXPIRED_CLOSE_CODE, 'token expired');
          }, Math.min(Math.max(0, session.expiresAt.getTime() - Date.now()), 0x7fffffff));
          timer.unref();
          expiryTimers.set(ctx, timer);
        }
        const stop = layer.watchSession(session.viewer, () => {
          log.info('ws.closed', { reason: 'session ended' });
          socket.close(SESSION_ENDED_CLOSE_CODE, 'session ended');
        });
        if (stop) watchers.set(ctx, stop);
      } else if (idleSeconds > 0) {
        idleWatches.set(ctx, watchIdle(ctx, socket, idleSeconds * 1000, log));
      }
      viewers.set(ctx, session?.viewer ?? null);
      return true;
    },
    onClose: (ctx) => {
      clearTimeout(expiryTimers.get(ctx));
      watchers.get(ctx)?.();
      idleWatches.get(ctx)?.stop();
    },
    onSubscribe: (ctx, _id, payload): ExecutionArgs | readonly GraphQLError[] => {
      // graphql-ws has registered this subscription already: it counts itself.
      if (Object.keys(ctx.subscriptions).length > maxSubscriptions) {
        log.info('ws.refused', { reason: 'subscription limit' });
        return [gatewayError('SUBSCRIPTION_LIMIT', `at most ${maxSubscriptions} subscriptions at once on one connection`)];
      }
      let document: DocumentNode;
      try {
        document = layer.limits.parse(payload.query);
      } catch (e) {
        return [e instanceof GraphQLError ? e : layer.limits.parseFailure(payload.query, e)];
      }
      const errors = validate(schema, document, rules);
      if (errors.length > 0) return errors.map(withValidationCode);
      const operation = getOperationAST(document, payload.operationName ?? undefined);
      if (!operation) return [gatewayError('BAD_USER_INPUT', 'unable to identify the operation')];
      if (operation.operation !== 'subscription') {
        return [gatewayError('BAD_USER_INPUT', `only subscriptions are accepted over WebSocket; send ${operation.operation}s over HTTP`)];
      }
      const tooCostly = layer.limits.checkCost(schema, document, operation, payload.variables ?? undefined);
      if (tooCostly) return [tooCostly];
      log.info('ws.subscribe', { operation: payload.operationName ?? null });
      return { schema, document, operationName: payload.operationName ?? null, variableValues: payload.variables ?? null };
    },
    context: async (ctx) => {
      const veil = layer.context(viewers.get(ctx) ?? null, ctx.extra.request);
      return (options.context ? await options.context(veil, ctx.extra) : veil) as Record<string, unknown>;
    },
    onNext: (_ctx, _id, _payload, _args, result) => {
      if (!result.errors?.length) return undefined;
      return { ...result, errors: format(result.errors) };
    },
    onError: (_ctx, _id, payload, errors) => {
      log.info('ws.error', { operation: payload.operationName ?? null, errors: errors.map((e) => String(e.extensions?.code ?? 'UNKNOWN')) });
      return format(errors);
    },
  };
}

/** The close code a client sees for a refused connection (bad token). */
export const FORBIDDEN_CLOSE_CODE = CloseCode.Forbidden;
/** The close code of a socket whose session ended (its device was revoked): do not reconnect with that token. */
export const SESSION_ENDED_CLOSE_CODE = CloseCode.Forbidden;
/** The close code of a socket whose token expired (graphql-ws's Unauthorized): reconnect with a fresh token. */
export const TOKEN_EXPIRED_CLOSE_CODE = CloseCode.Unauthorized;
/** Default cap on concurrent subscriptions per socket. */
export const DEFAULT_MAX_SUBSCRIPTIONS_PER_SOCKET = 100;
/** Default idle bound of anonymous sockets, in seconds. */
export const DEFAULT_ANONYMOUS_IDLE_SECONDS = 30;
/** The largest WebSocket message the reference app accepts (its WebSocketServer's `maxPayload`): subscribe messages are small documents plus variables. */
export const DEFAULT_WS_MAX_PAYLOAD_BYTES = 64 * 1024;
