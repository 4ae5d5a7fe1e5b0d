/**
 * @module
 * Apollo Server configured the way the gateway runs it: the plugins we do not use are off
 * (the default cache-control plugin is most of Apollo's per-field cost and we set no cache
 * hints; reporting plugins would send data to a vendor), one structured log line per
 * request with codes only, and errors formatted so they never echo a rejected value and,
 * in production, never expose internals.
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
import { CodedInputError } from './errors.js';
import type { Logger } from './log.js';

// Codes our validation rules set; Apollo would report them all as GRAPHQL_VALIDATION_FAILED.
const OUR_VALIDATION_CODES = new Set(['BAD_SEALED_VALUE', 'QUERY_TOO_COMPLEX']);

/** The first `extensions.code` set by us somewhere down an error's `originalError` chain. */
function codedCause(error: unknown): string | undefined {
  for (let e = error as { originalError?: unknown; extensions?: { code?: unknown } } | undefined, depth = 0; e && depth < 5; depth++) {
    if (e instanceof CodedInputError) return e.extensions.code;
    if (e instanceof GraphQLError && typeof e.extensions?.code === 'string' && OUR_VALIDATION_CODES.has(e.extensions.code)) return e.extensions.code;
    e = e.originalError as typeof e;
  }
  return undefined;
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

export interface GatewayApolloOptions {
  readonly schema: GraphQLSchema;
  readonly log: Logger;
  readonly production: boolean;
  readonly validationRules?: ValidationRule[];
}

/**
 * How every error leaves the gateway, on every transport (HTTP through Apollo, WebSocket
 * through graphql-ws): our precise codes kept, rejected values never echoed, internals
 * hidden in production.
 */
export function createErrorFormatter(production: boolean): (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
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
}

export function createGatewayApollo<TContext extends BaseContext>(options: GatewayApolloOptions): ApolloServer<TContext> {
  const { log, production } = options;
  return new ApolloServer<TContext>({
    schema: options.schema,
    introspection: !production,
    includeStacktraceInErrorResponses: !production,
    validationRules: options.validationRules ?? [],
    // The gateway's owner stops it (cli.ts serve: gateway.close(), which ends with a database
    // checkpoint). Apollo's own SIGINT/SIGTERM handler would re-raise the signal as soon as
    // Apollo alone had stopped, killing the process before the database was closed.
    stopOnTerminationSignals: false,
    plugins: [
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
      ApolloServerPluginUsageReportingDisabled(),
      ApolloServerPluginSchemaReportingDisabled(),
      ...(production ? [ApolloServerPluginLandingPageDisabled()] : []),
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
