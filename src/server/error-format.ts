/**
 * @module
 * How every error leaves a veilgraph server, on every transport (Apollo Server and Envelop
 * over HTTP, graphql-ws over WebSocket): our precise codes kept, rejected values never
 * echoed, and in production no internals and no schema names suggested. `veil.formatError`
 * is this; the adapters apply it themselves.
 */
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { CodedInputError } from './errors.js';

// Codes our validation rules set; Apollo would report them all as GRAPHQL_VALIDATION_FAILED.
const OUR_VALIDATION_CODES = new Set(['BAD_SEALED_VALUE', 'QUERY_TOO_COMPLEX']);

/**
 * A server that parses documents itself reports every failure as a parse failure with the
 * thrown error's message; an adapter records here what each failure should say instead
 * (QUERY_TOO_COMPLEX for the token limit, a generic message for a stack overflow).
 */
const parseFailures = new WeakMap<object, GraphQLError>();

/** Records that the parse failure `error` is to be reported as `ours` (./limits.ts `parseFailure`). */
export function recordParseFailure(error: object, ours: GraphQLError): void {
  parseFailures.set(error, ours);
}

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
 * so the formatter every transport shares does it for every message.
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

/**
 * The formatter (module comment). Applying it to what it already formatted changes nothing,
 * so an adapter may apply it after the server's own `formatError`.
 */
export function createErrorFormatter(production: boolean): (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError {
  const format = (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const parseFailure = recordedParseFailure(error);
    if (parseFailure) {
      // The server's message and (outside production) stack trace may be the parser's stack
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
    // No stack traces in production, whatever the server was configured with.
    const extensions = out.extensions && 'stacktrace' in out.extensions ? Object.fromEntries(Object.entries(out.extensions).filter(([k]) => k !== 'stacktrace')) : out.extensions;
    return { ...out, ...(extensions ? { extensions } : {}), message: withoutSuggestions(out.message) };
  };
}
