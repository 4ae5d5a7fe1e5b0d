/**
 * @module
 * Apollo Server configured the way the gateway runs it: the plugins we do not use are off
 * (the default cache-control plugin is most of Apollo's per-field cost and we set no cache
 * hints; reporting plugins would send data to a vendor), no landing page (Apollo's loads
 * scripts from its CDN into the origin that serves the web app and its keys), the request
 * limits of ./limits.ts (the token limit while parsing, the cost with the request's
 * variables before executing), one structured log line per request with codes only, and
 * errors formatted so they never echo a rejected value and, in production, never expose
 * internals or suggest schema names.
 */
import { ApolloServer, type ApolloServerPlugin, type BaseContext } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginSchemaReportingDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import { GraphQLError, type GraphQLFormattedError, type GraphQLSchema, type ValidationRule } from 'graphql';
import { CodedInputError } from '../errors.js';
import { createRequestLimits, type RequestLimits } from '../limits.js';
import type { Logger } from '../log.js';

// Codes our validation rules set; Apollo would report them all as GRAPHQL_VALIDATION_FAILED.
const OUR_VALIDATION_CODES = new Set(['BAD_SEALED_VALUE', 'QUERY_TOO_COMPLEX']);

/**
 * Apollo parses documents itself and reports every failure as GRAPHQL_PARSE_FAILED with
 * the thrown error's message; `requestLimitsPlugin` records here what each failure should
 * say instead (QUERY_TOO_COMPLEX for the token limit, a generic message for a stack overflow).
 */
const parseFailures = new WeakMap<object, GraphQLError>();

/** Walks an error's `originalError` chain (a few links: Apollo wraps at most twice). */
function* causes(error: unknown): Generator<object> {
  for (let e = error as { originalError?: unknown } | undefined, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    yield e;
    e = e.originalError as typeof e;
  }
}

/** The first `extensions.code` set by us somewhere down an error's `originalError` chain. */
function codedCause(error: unknown): string | undefined {
  for (const e of causes(error)) {
    if (e instanceof CodedInputError) return e.extensions.code;
    if (e instanceof GraphQLError && typeof e.extensions?.code === 'string' && OUR_VALIDATION_CODES.has(e.extensions.code)) return e.extensions.code;
  }
  return undefined;
}

function recordedParseFailure(error: unknown): GraphQLError | undefined {
  for (const e of causes(error)) {
    const recorded = parseFailures.get(e);
    if (recorded) return recorded;
  }
  return undefined;
}

/**
 * graphql-js ends some messages with ` Did you mean "x"?` (fields, arguments, types, enum
 * values, input fields; in validation and in variable coercion alike). Apollo's
 * `hideSchemaDetailsFromClientErrors` strips them from validation errors over HTTP only,
 * so the formatter both transports share does it for every message.
 */
function withoutSuggestions(message: string): string {
  return message.replace(/ ?Did you mean(.+?)\?$/, '');
}

/**
 * graphql-js reports a bad variable as `Variable "$x" got invalid value <the value> at
 * "x.field"; <reason>`. For sealed fields the value is plaintext that should never have
 * been sent: answer with the field path and the reason only.
 */
function withoutEchoedValue(message: string): string {
  const m = /^Variable "\$([^"]+)" got invalid value [\s\S]*? at "([^"]+)"; ([\s\S]*)$/.exec(message);
  if (m) return `Variable "$${m[1]}" at "${m[2]}": ${m[3]}`;
  const top = /^Variable "\$([^"]+)" got invalid value [\s\S]*?; ([\s\S]*)$/.exec(message);
  return top ? `Variable "$${top[1]}": ${top[2]}` : message;
}

/** One log line per request: operation name, duration, error codes. Never variables, values or messages. */
export function requestLogPlugin(log: Logger): ApolloServerPlugin<BaseContext> {
  return {
    async requestDidStart() {
      const started = performance.now();
      return {
        async willSendResponse(rc) {
          const errors = 'singleResult' in rc.response.body ? rc.response.body.singleResult.errors : undefined;
          log.info('graphql.request', {
            operation: rc.operationName ?? null,
            ms: Math.round((performance.now() - started) * 10) / 10,
            errors: errors?.map((e) => e.extensions?.code ?? 'UNKNOWN') ?? [],
          });
        },
      };
    },
  };
}

/**
 * The request limits over HTTP: the token limit is `parseOptions`; this plugin gives parse
 * failures their code and message, and costs each operation with its variables before it
 * executes (validation cannot see them).
 */
export function requestLimitsPlugin(limits: RequestLimits): ApolloServerPlugin<BaseContext> {
  return {
    async requestDidStart() {
      return {
        async parsingDidStart(rc) {
          return async (error) => {
            if (error) parseFailures.set(error, limits.parseFailure(rc.source ?? '', error));
          };
        },
        async didResolveOperation(rc) {
          if (!rc.operation) return;
          const refused = limits.checkCost(rc.schema, rc.document, rc.operation, rc.request.variables);
          if (refused) throw new GraphQLError(refused.message, { nodes: refused.nodes ?? null, extensions: { ...refused.extensions, http: { status: 400 } } });
        },
      };
    },
  };
}

export interface GatewayApolloOptions {
  readonly schema: GraphQLSchema;
  readonly log: Logger;
  readonly production: boolean;
  /** Rules beside graphql's `specifiedRules` (the limits' own rules are added from `limits`). */
  readonly validationRules?: ValidationRule[];
  /** The request limits (default: `createRequestLimits()`, every alias counted). */
  readonly limits?: RequestLimits;
}

/**
 * How every error leaves the gateway, on every transport (HTTP through Apollo, WebSocket
 * through graphql-ws): our precise codes kept, rejected values never echoed, internals
 * hidden in production.
 */
export function createErrorFormatter(production: boolean): (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError {
  const format = (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const parseFailure = recordedParseFailure(error);
    if (parseFailure) {
      // Apollo's message and (outside production) stack trace may be the parser's stack
      // overflow: only what we recorded goes out.
      return { message: parseFailure.message, ...(formatted.locations ? { locations: formatted.locations } : {}), extensions: { code: parseFailure.extensions.code } };
    }
    // Apollo re-codes validation and variable errors (GRAPHQL_VALIDATION_FAILED,
    // BAD_USER_INPUT); a code we set deeper in the chain is the more precise one.
    const inner = codedCause(error);
    const code = inner ?? formatted.extensions?.code;
    if (inner) formatted = { ...formatted, extensions: { ...formatted.extensions, code: inner } };
    if (code === 'BAD_SEALED_VALUE' || formatted.message.startsWith('Variable "$')) {
      return { ...formatted, message: withoutEchoedValue(formatted.message) };
    }
    if (production && (code === undefined || code === 'INTERNAL_SERVER_ERROR')) {
      return { message: 'internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } };
    }
    return formatted;
  };
  if (!production) return format;
  return (formatted, error) => {
    const out = format(formatted, error);
    return { ...out, message: withoutSuggestions(out.message) };
  };
}

export function createGatewayApollo<TContext extends BaseContext>(options: GatewayApolloOptions): ApolloServer<TContext> {
  const { log, production } = options;
  const limits = options.limits ?? createRequestLimits();
  return new ApolloServer<TContext>({
    schema: options.schema,
    introspection: !production,
    includeStacktraceInErrorResponses: !production,
    parseOptions: { maxTokens: limits.limits.maxTokens },
    validationRules: [...limits.rules, ...(options.validationRules ?? [])],
    // Batches (a JSON array body) stay refused (Apollo's default): one request, one operation,
    // so the limits above bound a request.
    allowBatchedHttpRequests: false,
    // The gateway's owner stops it (cli.ts serve: gateway.close(), which ends with a database
    // checkpoint). Apollo's own SIGINT/SIGTERM handler would re-raise the signal as soon as
    // Apollo alone had stopped, killing the process before the database was closed.
    stopOnTerminationSignals: false,
    plugins: [
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
      ApolloServerPluginUsageReportingDisabled(),
      ApolloServerPluginSchemaReportingDisabled(),
      ApolloServerPluginLandingPageDisabled(),
      requestLimitsPlugin(limits) as ApolloServerPlugin<TContext>,
      requestLogPlugin(log) as ApolloServerPlugin<TContext>,
    ],
    formatError: createErrorFormatter(production),
    logger: {
      debug: () => undefined,
      info: () => undefined,
      warn: (m) => log.warn('apollo.warn', { detail: String(m).slice(0, 200) }),
      error: () => log.error('apollo.error', {}),
    },
  });
}
