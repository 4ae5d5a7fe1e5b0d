/**
 * @module
 * GraphQL subscriptions over WebSocket (the graphql-transport-ws protocol of `graphql-ws`)
 * on the gateway's http server, at the same path as HTTP (`/graphql`).
 *
 * - Authentication: the token travels in the `connection_init` payload
 *   (`connectionParams.authorization = "Bearer <token>"` or `connectionParams.token`) and
 *   is verified once, when the connection opens; a malformed or invalid token closes the
 *   socket with 4403 Forbidden. No token: an anonymous connection, whose subscriptions
 *   then fail with UNAUTHENTICATED like anonymous HTTP requests.
 * - A socket lives no longer than its token: when the token expires the socket is closed
 *   with 4401 ("token expired"); the client reconnects with a fresh token and resumes. A
 *   device session's socket closes with 4403 ("session ended") when the device's
 *   revocation event reaches this instance (`watchSession`); nothing else checks the token
 *   of an open socket again.
 * - A message is at most `maxPayload` bytes (the gateway's `wsMaxPayloadBytes`, 64 KiB by
 *   default; the HTTP body limit does not apply here): a larger one closes the socket
 *   with 1009, before graphql-ws reads it.
 * - At most `maxSubscriptionsPerSocket` subscriptions run at once on one socket; one more
 *   is refused with SUBSCRIPTION_LIMIT (the socket stays open).
 * - Connection caps (in all and per client address) and the idle bound of anonymous
 *   sockets: ./ws-connections.ts, with their close codes.
 * - Every subscription gets the same `GatewayContext` as an HTTP request, so the same
 *   per-field enforcement applies to each event.
 * - Every document is parsed and validated with the same limits and rules as HTTP
 *   (./limits.ts: the token limit, graphql's `specifiedRules`, the limits' rules, the
 *   sealed-literal rule) and costed with its variables before it starts. Only
 *   subscriptions are accepted here; queries and mutations use HTTP.
 * - Errors are formatted as over HTTP (`createErrorFormatter`).
 *
 * Clients' view of all this, with every close code: docs/requests.md, "WebSocket".
 */
import type { IncomingMessage, Server } from 'node:http';
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
import { CloseCode, type Context } from 'graphql-ws';
import { useServer, type Extra } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Viewer } from '../access.js';
import { gatewayError } from '../errors.js';
import type { RequestLimits } from '../limits.js';
import type { Logger } from '../log.js';
import { ConnectionCaps, watchIdle, type IdleWatch } from '../ws-connections.js';

export interface SubscriptionServerOptions<TContext> {
  readonly httpServer: Server;
  readonly path: string;
  readonly schema: GraphQLSchema;
  /** The request limits (token limit, their rules, cost with variables), as over HTTP. */
  readonly limits: RequestLimits;
  /** The gateway's own further rules; graphql's `specifiedRules` and the limits' rules run first. */
  readonly validationRules: readonly ValidationRule[];
  /** Verifies a token (throws when it is not valid); `expiresAt` ends the socket. */
  readonly verifyToken: (token: string) => Promise<{ readonly viewer: Viewer; readonly expiresAt: Date }>;
  /**
   * Called once a socket's token is verified: may watch for the end of its session (a revoked
   * device) and call `end` then, which closes the socket (4403). Returns what stops watching.
   */
  readonly watchSession?: (viewer: Viewer, end: () => void) => (() => void) | undefined;
  /** Most subscriptions running at once on one socket. */
  readonly maxSubscriptionsPerSocket: number;
  /** The same context an HTTP request gets. */
  readonly context: (viewer: Viewer | null, request: IncomingMessage) => TContext;
  readonly formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  /** Largest accepted WebSocket message, in bytes. */
  readonly maxPayload: number;
  readonly production: boolean;
  readonly log: Logger;
  /** The client address key of an upgrade request (./client-address.ts), for the per-address cap. */
  readonly clientAddress: (request: IncomingMessage) => string;
  /** Most sockets open at once, in all and from one client address (./ws-connections.ts). */
  readonly maxConnections: number;
  readonly maxConnectionsPerAddress: number;
  /** An anonymous socket with no active subscription for this long is closed. */
  readonly anonymousIdleMs: number;
}

export interface SubscriptionServer {
  /** Closes every socket (1001 Going Away) and the WebSocket server. */
  dispose(): Promise<void>;
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

export function startSubscriptionServer<TContext>(options: SubscriptionServerOptions<TContext>): SubscriptionServer {
  const { schema, log } = options;
  const rules = [...specifiedRules, ...options.limits.rules, ...options.validationRules];
  const viewers = new WeakMap<object, Viewer | null>();
  const expiryTimers = new WeakMap<object, NodeJS.Timeout>();
  const watchers = new WeakMap<object, () => void>();
  const idleWatches = new WeakMap<object, IdleWatch>();
  const wss = new WebSocketServer({ server: options.httpServer, path: options.path, maxPayload: options.maxPayload });
  // Registered before useServer's own listener, so a socket over a cap is closed before graphql-ws serves it.
  const caps = new ConnectionCaps({ maxConnections: options.maxConnections, maxConnectionsPerAddress: options.maxConnectionsPerAddress, log });
  wss.on('connection', (socket, request) => caps.admit(socket, options.clientAddress(request)));

  const format = (errors: readonly GraphQLError[]): GraphQLFormattedError[] => errors.map((e) => options.formatError(e.toJSON(), e));

  const disposable = useServer<Record<string, unknown>>(
    {
      schema,
      onConnect: async (ctx: Context<Record<string, unknown>, Extra>) => {
        // Over a cap: already closing; serve nothing (not even a token check).
        if (!caps.isAdmitted(ctx.extra.socket)) return false;
        const token = tokenFromConnectionParams(ctx.connectionParams);
        if (token === null) {
          log.info('ws.rejected', { reason: 'malformed token' });
          return false;
        }
        let viewer: Viewer | null = null;
        if (token !== undefined) {
          let expiresAt: Date;
          try {
            ({ viewer, expiresAt } = await options.verifyToken(token));
          } catch {
            log.info('ws.rejected', { reason: 'invalid token' });
            return false;
          }
          // The socket may have closed while the token was checked: onClose has run already,
          // so nothing registered below would ever be removed.
          if (ctx.extra.socket.readyState !== ctx.extra.socket.OPEN) return false;
          // setTimeout's delay is a signed 32-bit number of ms; tokens live at most a day.
          const timer = setTimeout(() => {
            log.info('ws.closed', { reason: 'token expired' });
            ctx.extra.socket.close(TOKEN_EXPIRED_CLOSE_CODE, 'token expired');
          }, Math.min(Math.max(0, expiresAt.getTime() - Date.now()), 0x7fffffff));
          timer.unref();
          expiryTimers.set(ctx, timer);
          const stop = options.watchSession?.(viewer, () => {
            log.info('ws.closed', { reason: 'session ended' });
            ctx.extra.socket.close(SESSION_ENDED_CLOSE_CODE, 'session ended');
          });
          if (stop) watchers.set(ctx, stop);
        } else {
          idleWatches.set(ctx, watchIdle(ctx, ctx.extra.socket, options.anonymousIdleMs, log));
        }
        viewers.set(ctx, viewer);
        return true;
      },
      onClose: (ctx) => {
        clearTimeout(expiryTimers.get(ctx));
        watchers.get(ctx)?.();
        idleWatches.get(ctx)?.stop();
      },
      onSubscribe: (ctx, _id, payload): ExecutionArgs | readonly GraphQLError[] => {
        // graphql-ws has registered this subscription already: it counts itself.
        if (Object.keys(ctx.subscriptions).length > options.maxSubscriptionsPerSocket) {
          log.info('ws.refused', { reason: 'subscription limit' });
          return [gatewayError('SUBSCRIPTION_LIMIT', `at most ${options.maxSubscriptionsPerSocket} subscriptions at once on one connection`)];
        }
        let document: DocumentNode;
        try {
          document = options.limits.parse(payload.query);
        } catch (e) {
          return [e instanceof GraphQLError ? e : options.limits.parseFailure(payload.query, e)];
        }
        const errors = validate(schema, document, rules);
        if (errors.length > 0) return errors.map(withValidationCode);
        const operation = getOperationAST(document, payload.operationName ?? undefined);
        if (!operation) return [gatewayError('BAD_USER_INPUT', 'unable to identify the operation')];
        if (operation.operation !== 'subscription') {
          return [gatewayError('BAD_USER_INPUT', `only subscriptions are accepted over WebSocket; send ${operation.operation}s over HTTP`)];
        }
        const tooCostly = options.limits.checkCost(schema, document, operation, payload.variables ?? undefined);
        if (tooCostly) return [tooCostly];
        log.info('ws.subscribe', { operation: payload.operationName ?? null });
        return { schema, document, operationName: payload.operationName ?? null, variableValues: payload.variables ?? null };
      },
      context: (ctx) => options.context(viewers.get(ctx) ?? null, ctx.extra.request) as Record<string, unknown>,
      onNext: (_ctx, _id, _payload, _args, result) => {
        if (!result.errors?.length) return undefined;
        return { ...result, errors: format(result.errors) };
      },
      onError: (_ctx, _id, payload, errors) => {
        log.info('ws.error', { operation: payload.operationName ?? null, errors: errors.map((e) => String(e.extensions?.code ?? 'UNKNOWN')) });
        return format(errors);
      },
      isProd: options.production,
    },
    wss,
  );

  return {
    async dispose() {
      // dispose() waits for every client's close handshake; one that does not answer is cut off.
      const cutoff = setTimeout(() => {
        for (const socket of wss.clients) socket.terminate();
      }, 1000);
      try {
        await disposable.dispose();
      } finally {
        clearTimeout(cutoff);
      }
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
/** Default largest WebSocket message: subscribe messages are small documents plus variables. */
export const DEFAULT_WS_MAX_PAYLOAD_BYTES = 64 * 1024;
