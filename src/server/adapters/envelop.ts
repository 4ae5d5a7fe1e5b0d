/**
 * @module
 * `veil.envelopPlugin()`: veilgraph on GraphQL Yoga 5 and any other Envelop 5 server. Wire it as
 *
 *   const yoga = createYoga({
 *     schema: veil.schema,                 // any other schema: createYoga throws CONFIG_INVALID
 *     plugins: [veil.envelopPlugin()],
 *     graphiql: false, landingPage: false, cors: false,
 *   });
 *   createServer(yoga.requestListener).listen(4000);
 *
 * Nothing else is needed: the plugin brings everything the Apollo plugin needs lines for.
 * What it does, hook by hook, and how it fails closed:
 *
 * - **Schema** (`onSchemaChange`, `onEnveloped`). The server serves `veil.schema`: given as
 *   Yoga's `schema`, or set by the plugin at the first request when the server has none. Any
 *   other schema at start (Yoga's `schema` option, a plugin that sets one) makes
 *   `createYoga`/`envelop()` throw CONFIG_INVALID; one set per request later (a
 *   schema-by-request plugin) gets that request refused, 500 INTERNAL_SERVER_ERROR, and an
 *   error logged. Every validation and every execution
 *   is checked against `veil.schema` itself, whatever the server passes.
 * - **Parsing** (`onParse`) with `veil.parseOptions` (the token limit): a document that does
 *   not parse is GRAPHQL_PARSE_FAILED, one over the limit QUERY_TOO_COMPLEX, both 400. A
 *   document another plugin parsed its own way has its tokens counted once.
 * - **Validation** (`onValidate`): graphql's `specifiedRules` (added when the server passes
 *   none: Envelop drops the defaults as soon as a rule is added), veilgraph's rules (limits,
 *   sealed literals) and, in production, no introspection (GRAPHQL_VALIDATION_FAILED with
 *   `validationErrorCode: INTROSPECTION_DISABLED`, as Apollo Server). Every validation error
 *   is answered 400 with a code. A document that reaches execution without veilgraph's rules
 *   having run over it (a server that skips or replaces validation) is validated there.
 * - **Context** (`onContextBuilding`): veilgraph's context (`veil.context`) from the request
 *   the server put in the initial context (Yoga: `request`, the Fetch Request; node:http,
 *   Express, Fastify: `req` and its `socket.remoteAddress` for the peer address), merged
 *   into the Envelop context: veilgraph's keys win over the server's. A bad token is 401
 *   UNAUTHENTICATED. Before anything executes the plugin checks that the context is the one
 *   it built, with none of its keys replaced by a later plugin (500 otherwise).
 * - **Cost with variables** (`onExecute`, `onSubscribe`): the operation is costed again with
 *   the request's variables before it runs (QUERY_TOO_COMPLEX, 400).
 * - **Errors** of execution and subscription events, and of the context, are formatted with
 *   `veil.formatError` and become GraphQL errors without `originalError`, so a masking plugin
 *   after this one (Yoga's `maskedErrors`) keeps our codes, and production hides internals
 *   whatever the masking says. A request error (variables that do not fit: no `data`) is 400.
 *   On Yoga the whole response gets a last pass (`onResultProcess`): every error, Yoga's own
 *   included, leaves with an `extensions.code` (BAD_REQUEST, METHOD_NOT_ALLOWED,
 *   PAYLOAD_TOO_LARGE, INTERNAL_SERVER_ERROR by HTTP status when it had none).
 * - **Subscriptions through Envelop** (Yoga's server-sent events, graphql-sse, Yoga's own
 *   graphql-ws recipe) are enforced like queries, and end no later than their proof: at the
 *   token's expiry and when a device session's device is revoked, with a last event whose
 *   error is UNAUTHENTICATED (`token expired`, `device revoked`). `veil.graphqlWsOptions()`
 *   is the WebSocket path veilgraph recommends (docs/server-yoga.md).
 * - **Cross-site requests** (Yoga's `onRequestParse`): Apollo Server's CSRF rule, so that
 *   docs/requests.md holds on Yoga too: a request runs only with a `Content-Type` other than
 *   text/plain, application/x-www-form-urlencoded, multipart/form-data (or one that does not
 *   parse), or a non-empty `apollo-require-preflight` / `x-apollo-operation-name` header;
 *   anything else is 400 BAD_REQUEST before it is parsed. Hand-written (a few lines), because
 *   Yoga's own CSRF plugin would make the plugin import graphql-yoga.
 * - **Request log**: one line per operation (name, duration, error codes), never variables,
 *   values or messages.
 *
 * The plugin imports neither graphql-yoga nor @envelop/core: it is a plain object of
 * Envelop's (and Yoga's) hooks, typed structurally here, so veilgraph/server loads without
 * them. Put it before any masking or error-handling plugin (Yoga adds its own after the
 * user's plugins).
 */
import {
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  getOperationAST,
  print,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLSchema,
  type ParseOptions,
  type Source,
  type ValidationRule,
} from 'graphql';
import type { Viewer } from '../access.js';
import type { VeilContext } from '../context.js';
import { configInvalid } from '../errors.js';
import type { Logger } from '../log.js';
import type { ApolloLayer } from './apollo.js';
import type { VeilRequest } from '../veilgraph.js';

/** What the plugin needs of a veilgraph instance: what the Apollo plugin needs, and the sessions it ends itself. */
export interface EnvelopLayer extends ApolloLayer {
  /** veilgraph's context for a request, and when what proved its viewer ends (a token's expiry). Throws UNAUTHENTICATED (401). */
  readonly session: (request: VeilRequest) => Promise<{ readonly context: VeilContext; readonly expiresAt?: Date | undefined }>;
  /** Watches a signed-in viewer's session for its end (a revoked device); returns what stops watching. */
  readonly watchSession: (viewer: Viewer, end: () => void) => (() => void) | undefined;
}

/** Options of `envelopPlugin`. */
export interface VeilEnvelopOptions {
  /**
   * Where the request is in your server's initial Envelop context. The default reads
   * `request` (a Fetch Request: Yoga) or `req` (a Node `IncomingMessage`: node:http, Express,
   * Fastify) for the headers, and `req.socket.remoteAddress` for the peer address. Give it
   * for other servers (Bun, Deno, a worker): `(ctx) => ({ headers: ctx.request.headers, remoteAddress: … })`.
   */
  readonly request?: (context: Readonly<Record<string, unknown>>) => VeilRequest | undefined;
}

// ---------------------------------------------------------------------------------------
// The hooks, typed structurally (method syntax: Envelop's payloads carry more than we read).

type EnvelopContext = Record<string, unknown>;
type ParseFn = (source: string | Source, options?: ParseOptions) => DocumentNode;
type Stream = AsyncIterable<ExecutionResult>;
type ExecutionOutput = ExecutionResult | Stream;

interface ExecutionArgsLike {
  readonly schema: unknown;
  readonly document: DocumentNode;
  readonly contextValue?: unknown;
  readonly variableValues?: Readonly<Record<string, unknown>> | null;
  readonly operationName?: string | null;
}

interface ResultHook {
  onNext?(payload: { result: ExecutionResult; setResult(result: ExecutionResult): void }): void;
}

/** The subset of Yoga's Fetch API the plugin uses. */
interface FetchApiLike {
  readonly Response: new (body: string, init: { status: number; headers: Record<string, string> }) => unknown;
}

/** An Envelop 5 plugin (assignable to `Plugin` of @envelop/core), with two of GraphQL Yoga's hooks. */
export interface EnvelopPlugin {
  onPluginInit(payload: { registerContextErrorHandler(handler: (payload: { error: unknown; setError(error: unknown): void }) => void): void }): void;
  onSchemaChange(payload: { schema: unknown }): void;
  onEnveloped(payload: { context: Readonly<EnvelopContext> | null | undefined; setSchema(schema: GraphQLSchema): void }): void;
  onParse(payload: { params: { source: string | Source }; setParseFn(fn: ParseFn): void }): (payload: { result: unknown; replaceParseResult(result: unknown): void; context: Readonly<EnvelopContext> }) => void;
  onValidate(payload: {
    params: { schema: unknown; documentAST: DocumentNode; rules?: readonly ValidationRule[] | undefined };
    addValidationRule(rule: ValidationRule): void;
    setResult(errors: readonly GraphQLError[]): void;
    context: Readonly<EnvelopContext>;
  }): (payload: { valid: boolean; result: readonly unknown[]; setResult(errors: unknown[]): void }) => void;
  onContextBuilding(payload: { context: Readonly<EnvelopContext>; extendContext(extension: EnvelopContext): void }): Promise<void>;
  onExecute(payload: { args: ExecutionArgsLike; setResultAndStopExecution(result: ExecutionResult): void }): Promise<void | {
    onExecuteDone(payload: { result: ExecutionOutput; setResult(result: ExecutionOutput): void }): void | ResultHook;
  }>;
  onSubscribe(payload: { args: ExecutionArgsLike; setResultAndStopExecution(result: ExecutionOutput): void }): Promise<void | {
    onSubscribeResult(payload: { result: ExecutionOutput; setResult(result: ExecutionOutput): void }): void | ResultHook;
  }>;
  /** GraphQL Yoga: before the request body is read. */
  onRequestParse(payload: { request: { readonly headers: Headers }; fetchAPI: FetchApiLike; endResponse(response: unknown): void }): void;
  /** GraphQL Yoga: the response's result before it is serialised. */
  onResultProcess(payload: { result: unknown; setResult(result: unknown): void }): void;
}

// ---------------------------------------------------------------------------------------
// Errors

/** The Apollo Server CSRF rule's content types: a browser sends them across sites without a preflight. */
const NON_PREFLIGHTED_CONTENT_TYPES = new Set(['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']);
const PREFLIGHT_HEADERS = ['apollo-require-preflight', 'x-apollo-operation-name'] as const;
/** A MIME type's essence (type/subtype) as the WHATWG MIME type parser reads it; no match: unparseable. */
const MIME_ESSENCE = /^[\t\n\r ]*([!#$%&'*+.^_`|~0-9A-Za-z-]+\/[!#$%&'*+.^_`|~0-9A-Za-z-]+)[\t\n\r ]*(?:;|$)/;

const CSRF_MESSAGE =
  "This operation has been blocked as a potential Cross-Site Request Forgery (CSRF). Please either specify a 'content-type' header (with a type that is not one of " +
  `${[...NON_PREFLIGHTED_CONTENT_TYPES].join(', ')}) or provide a non-empty value for one of the following headers: ${PREFLIGHT_HEADERS.join(', ')}`;

/** Whether a browser would have had to preflight this request (docs/requests.md, "Cross-site requests"). */
export function preflighted(headers: Headers): boolean {
  const contentType = headers.get('content-type');
  if (contentType !== null) {
    const essence = MIME_ESSENCE.exec(contentType)?.[1]?.toLowerCase();
    // Unparseable, or a type a form cannot send: a cross-site page could not send it unpreflighted.
    if (essence === undefined || !NON_PREFLIGHTED_CONTENT_TYPES.has(essence)) return true;
  }
  return PREFLIGHT_HEADERS.some((h) => (headers.get(h) ?? '').length > 0);
}

/** Errors the plugin made or formatted: not formatted again, not wrapped again. */
const finished = new WeakSet<GraphQLError>();
/** Errors the plugin gave a status: Yoga's parse hook marks parse errors `spec` (200 for `accept: application/json`); the last pass unmarks them. */
const statusGiven = new WeakSet<GraphQLError>();

function httpOf(e: GraphQLError): { status?: number } | undefined {
  const http = e.extensions?.http;
  return typeof http === 'object' && http !== null ? (http as { status?: number }) : undefined;
}

/**
 * `e` as it leaves: formatted (codes kept, values not echoed, internals hidden in
 * production), a GraphQL error without `originalError` (a masking plugin after us then
 * keeps it as it is), the HTTP status given or the one it had.
 */
function finish(format: EnvelopLayer['formatError'], e: GraphQLError, status?: number): GraphQLError {
  if (finished.has(e) && (status === undefined || httpOf(e)?.status === status)) return e;
  const f = format(e.toJSON(), e);
  // `spec: false`: Yoga otherwise answers 200 for validation errors to `accept: application/json`.
  const http = status !== undefined ? { ...httpOf(e), status, spec: false } : httpOf(e);
  // Yoga reads `http` (status, headers) and `unexpected` (a 500) and strips both from the response.
  const internals: Record<string, unknown> = { ...(http ? { http } : {}), ...(e.extensions?.unexpected === true ? { unexpected: true } : {}) };
  const out = new GraphQLError(f.message, {
    // Parse failures lose their location when the formatter says so (a stack overflow has none worth giving).
    ...(f.locations ? { nodes: e.nodes ?? null, source: e.source ?? null, positions: e.positions ?? null } : {}),
    path: f.path ?? null,
    extensions: { ...f.extensions, ...internals },
  });
  finished.add(out);
  if (status !== undefined) statusGiven.add(out);
  return out;
}

/** What a 500 refusal says: the server is not wired as veilgraph needs; `fix` goes to the log. */
function misconfigured(log: Logger, event: string, message: string, fix: string): GraphQLError {
  log.error(event, { fix });
  return new GraphQLError(message, { extensions: { code: 'INTERNAL_SERVER_ERROR', http: { status: 500, spec: false } } });
}

/** The code an error without one gets, from its HTTP status (Yoga's own errors carry none). */
function codeForStatus(status: number | undefined): string {
  if (status === 405) return 'METHOD_NOT_ALLOWED';
  if (status === 413) return 'PAYLOAD_TOO_LARGE';
  if (status !== undefined && status >= 400 && status < 500) return 'BAD_REQUEST';
  return 'INTERNAL_SERVER_ERROR';
}

function isStream(v: unknown): v is Stream {
  return typeof v === 'object' && v !== null && typeof (v as Stream)[Symbol.asyncIterator] === 'function';
}

// ---------------------------------------------------------------------------------------
// The request

interface NodeRequestLike {
  readonly headers?: unknown;
  readonly socket?: { readonly remoteAddress?: string | undefined } | null;
}

/** The request in an initial context: Yoga's `request` (Fetch) and `req` (Node), or a plain Envelop server's `req`. */
function requestIn(context: Readonly<EnvelopContext>): VeilRequest | undefined {
  const fetchRequest = context.request as { headers?: unknown } | undefined;
  const req = context.req as NodeRequestLike | undefined;
  const headers = (fetchRequest?.headers ?? req?.headers) as VeilRequest['headers'] | undefined;
  if (typeof headers !== 'object' || headers === null) return undefined;
  return { headers, remoteAddress: req?.socket?.remoteAddress ?? undefined };
}

/** A session's end, as the last event of a subscription. */
function sessionEnded(message: string): ExecutionResult {
  return { errors: [new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED' } })] };
}

/**
 * `source` ending when the session does: at `expiresAt` and when `watch` says so, with one
 * last event (`sessionEnded`). Written by hand, not as an async generator: a generator's
 * `return()` waits for the pending `next()`, so a client that goes away would keep the
 * subscription (and its pubsub subscriber) until the next event.
 */
function untilSessionEnds(source: Stream, expiresAt: Date | undefined, watch: ((end: () => void) => (() => void) | undefined) | undefined): Stream {
  const it = source[Symbol.asyncIterator]();
  let ended: string | undefined;
  let done = false;
  let wake: ((reason: string) => void) | undefined;
  const endedPromise = new Promise<string>((resolve) => (wake = resolve));
  const end = (reason: string): void => {
    if (ended !== undefined || done) return;
    ended = reason;
    wake?.(reason);
  };
  const timer = expiresAt ? setTimeout(() => end('token expired'), Math.min(Math.max(0, expiresAt.getTime() - Date.now()), 0x7fffffff)) : undefined;
  timer?.unref();
  const stop = watch?.(() => end('device revoked'));
  const cleanup = async (): Promise<void> => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    stop?.();
    await it.return?.();
  };
  let reported = false;
  const close = async (): Promise<IteratorResult<ExecutionResult>> => {
    await cleanup();
    if (ended !== undefined && !reported) {
      reported = true;
      return { value: sessionEnded(ended), done: false };
    }
    return { value: undefined, done: true };
  };
  const iterator: AsyncIterableIterator<ExecutionResult> = {
    async next() {
      if (done || ended !== undefined) return close();
      const r = await Promise.race([it.next(), endedPromise.then(() => null)]);
      if (r === null || ended !== undefined) return close();
      if (r.done) await cleanup();
      return r;
    },
    async return() {
      await cleanup();
      return { value: undefined, done: true };
    },
    async throw(error?: unknown) {
      await cleanup();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

// ---------------------------------------------------------------------------------------

export function createEnvelopPlugin(layer: EnvelopLayer, options: VeilEnvelopOptions = {}): EnvelopPlugin {
  const { schema, limits, log, formatError } = layer;
  const rules: readonly ValidationRule[] = [...(layer.production ? [NoSchemaIntrospectionCustomRule] : []), ...layer.validationRules];

  /** The schema the orchestrator holds (onSchemaChange tells us; our own setSchema does not); undefined: none yet. */
  let current: unknown;
  /** Set by the first request: a schema change after it no longer stops the server from starting. */
  let serving = false;
  /** Documents our parse function produced (within the token limit). */
  const parsedByUs = new WeakSet<DocumentNode>();
  /** Errors our parse produced or classified (not classified again). */
  const parseRefusals = new WeakSet<object>();
  /** Verdicts on documents that did not come through our parse or our rules. */
  const tokenVerdicts = new WeakMap<DocumentNode, GraphQLError | null>();
  const ruleVerdicts = new WeakMap<DocumentNode, GraphQLError | null>();
  /** What our context building put into each Envelop context. */
  const contexts = new WeakMap<object, { readonly context: VeilContext; readonly expiresAt?: Date | undefined }>();
  const started = new WeakMap<object, number>();

  const notVeilSchema = (): GraphQLError =>
    misconfigured(
      log,
      'envelop.schema_replaced',
      "this server's schema is not veil.schema",
      'another plugin (or a schema given per request) replaced veil.schema: remove it, and build your schema with createVeilgraph({ typeDefs, resolvers })',
    );
  const logRequest = (context: object | null | undefined, operation: string | null | undefined, errors: readonly { extensions?: Record<string, unknown> }[] | undefined): void => {
    const t0 = context ? started.get(context) : undefined;
    log.info('graphql.request', {
      operation: operation ?? null,
      ms: t0 === undefined ? null : Math.round((performance.now() - t0) * 10) / 10,
      errors: errors?.map((e) => String(e.extensions?.code ?? 'UNKNOWN')) ?? [],
    });
  };
  const formatResult = (result: ExecutionResult): ExecutionResult => {
    if (!result.errors?.length) return result;
    // No `data` and no error on a field: the operation never started (variables that do
    // not fit their types): a request error, 400. A subscription's own field error has a path.
    const requestError = result.data === undefined && result.errors.every((e) => !e.path);
    const status = requestError ? 400 : undefined;
    return { ...result, errors: result.errors.map((e) => finish(formatError, e, status)) };
  };
  const formatOutput = (payload: { result: ExecutionOutput; setResult(result: ExecutionOutput): void }, context: object | undefined, operation: string | null | undefined): void | ResultHook => {
    if (isStream(payload.result)) return { onNext: (p) => p.setResult(formatResult(p.result)) };
    const formatted = formatResult(payload.result);
    payload.setResult(formatted);
    logRequest(context, operation, formatted.errors);
  };

  /** The token limit for a document another parse function produced (ours stop at the limit), once per document. */
  const tokenVerdict = (document: DocumentNode): GraphQLError | null => {
    if (parsedByUs.has(document)) return null;
    let verdict = tokenVerdicts.get(document);
    if (verdict === undefined) {
      const tooMany = limits.tokenLimitError(document.loc?.source.body ?? print(document));
      verdict = tooMany ? finish(formatError, tooMany, 400) : null;
      tokenVerdicts.set(document, verdict);
    }
    return verdict;
  };
  /** Our rules' verdict on a document they did not validate (a server that skips or replaces validation), once per document. */
  const ruleVerdict = (document: DocumentNode): GraphQLError | null => {
    if (layer.validatedByRules(document)) return null;
    let verdict = ruleVerdicts.get(document);
    if (verdict === undefined) {
      const first = validate(schema, document, [...specifiedRules, ...rules])[0];
      verdict = first ? finish(formatError, withValidationCode(first), 400) : null;
      ruleVerdicts.set(document, verdict);
    }
    return verdict;
  };

  /** Why `args` must not run (500: wiring; 400: the request), or undefined. */
  const refusal = (args: ExecutionArgsLike): GraphQLError | undefined => {
    if (args.schema !== schema) return notVeilSchema();
    const ctx = args.contextValue as EnvelopContext | undefined;
    const built = ctx ? contexts.get(ctx) : undefined;
    if (!ctx || !built) {
      return misconfigured(log, 'envelop.no_context', "veilgraph's context was not built for this operation", 'execute with the context from the enveloped contextFactory() (Envelop builds it; veilgraph adds the viewer there)');
    }
    for (const [key, value] of Object.entries(built.context)) {
      if (ctx[key] !== value) {
        return misconfigured(log, 'envelop.context_replaced', "veilgraph's context was changed by another plugin", `a plugin after veil.envelopPlugin() replaced context.${key}: rename your key or move that plugin before veilgraph's`);
      }
    }
    const late = tokenVerdict(args.document) ?? ruleVerdict(args.document);
    if (late) return late;
    const operation = getOperationAST(args.document, args.operationName ?? undefined);
    if (!operation) return undefined; // execution reports it
    const tooCostly = limits.checkCost(schema, args.document, operation, args.variableValues ?? undefined);
    return tooCostly ? finish(formatError, tooCostly, 400) : undefined;
  };

  const watchFor = (viewer: Viewer | null) => (viewer ? (end: () => void) => layer.watchSession(viewer, end) : undefined);

  return {
    onPluginInit({ registerContextErrorHandler }) {
      // The schema is not set here: a schema set before this hook ran (Yoga's `schema`
      // option, a plugin listed earlier) would be silently replaced, and Envelop tells no
      // plugin what it was. Once every plugin is initialised Envelop announces the schema
      // (onSchemaChange): one that is not veil.schema stops the server from starting; none
      // at all, and the first request sets veil.schema (onEnveloped).
      // Errors while the context is built (ours: UNAUTHENTICATED with 401; others' too).
      registerContextErrorHandler(({ error, setError }) => {
        const e = error instanceof GraphQLError ? error : new GraphQLError(error instanceof Error ? error.message : 'context failed', { originalError: error instanceof Error ? error : null });
        // Not a GraphQL error: something failed, not the request (500).
        const out = finish(formatError, e, error instanceof GraphQLError ? undefined : 500);
        log.info('graphql.request', { operation: null, ms: null, errors: [String(out.extensions.code ?? 'UNKNOWN')] });
        setError(out);
      });
    },

    onSchemaChange({ schema: next }) {
      current = next;
      if (next === schema) return;
      if (!serving) {
        throw configInvalid(
          'this server does not serve veil.schema: pass createYoga({ schema: veil.schema, plugins: [veil.envelopPlugin()], … }) (or no schema: the plugin sets it), and no plugin that sets another (a schema built another way has the privacy directives without their enforcement)',
        );
      }
      log.error('envelop.schema_replaced', { fix: 'another plugin replaced veil.schema per request: every request with it is refused' });
    },

    onEnveloped({ context, setSchema }) {
      serving = true;
      if (current === undefined) {
        setSchema(schema);
        current = schema;
      }
      if (context) started.set(context, performance.now());
    },

    onParse({ params, setParseFn }) {
      const text = typeof params.source === 'string' ? params.source : params.source.body;
      setParseFn((source) => {
        try {
          const document = limits.parse(typeof source === 'string' ? source : source.body);
          parsedByUs.add(document);
          return document;
        } catch (e) {
          // limits.parse throws its coded error (GRAPHQL_PARSE_FAILED, QUERY_TOO_COMPLEX).
          const refused = finish(formatError, e instanceof GraphQLError ? e : limits.parseFailure(text, e), 400);
          parseRefusals.add(refused);
          throw refused;
        }
      });
      return ({ result, replaceParseResult, context }) => {
        if (result instanceof Error) {
          // Ours, or a parse function a later plugin set: classify it as ours would.
          const refused = parseRefusals.has(result) ? (result as GraphQLError) : finish(formatError, limits.parseFailure(text, result), 400);
          parseRefusals.add(refused);
          replaceParseResult(refused);
          logRequest(context, null, [refused]);
          return;
        }
        const tooMany = result ? tokenVerdict(result as DocumentNode) : null;
        if (tooMany) {
          replaceParseResult(tooMany);
          logRequest(context, null, [tooMany]);
        }
      };
    },

    onValidate({ params, addValidationRule, setResult, context }) {
      if (params.schema !== schema) {
        setResult([notVeilSchema()]);
        return () => undefined;
      }
      // Envelop validates with exactly the rules it was given once one is added: without
      // graphql's own (the server passed none), they would be dropped. Ours after them.
      const have = new Set(params.rules ?? []);
      for (const rule of [...specifiedRules, ...rules]) if (!have.has(rule)) addValidationRule(rule);
      return ({ valid, result, setResult: replace }) => {
        let errors = valid ? [] : (result as GraphQLError[]);
        // A validate function a later plugin set that did not run our rules: run them here.
        if (valid) {
          const late = ruleVerdict(params.documentAST);
          errors = late ? [late] : [];
        }
        if (errors.length === 0) return;
        const refused = errors.map((e) => finish(formatError, withValidationCode(e), 400));
        replace(refused);
        logRequest(context, null, refused);
      };
    },

    async onContextBuilding({ context, extendContext }) {
      const request = options.request ? options.request(context) : requestIn(context);
      if (!request) {
        throw misconfigured(log, 'envelop.no_request', 'no request in the context', 'veil.envelopPlugin() found no `request` or `req` in the initial context: pass envelopPlugin({ request: (ctx) => ({ headers, remoteAddress }) })');
      }
      if (request.remoteAddress === undefined && request.socket?.remoteAddress === undefined) warnNoPeer(log);
      const session = await layer.session(request);
      extendContext(session.context as unknown as EnvelopContext);
      contexts.set(context, session);
    },

    async onExecute({ args, setResultAndStopExecution }) {
      const refused = refusal(args);
      if (refused) {
        setResultAndStopExecution({ errors: [refused] });
        logRequest(args.contextValue as object | undefined, args.operationName, [refused]);
        return;
      }
      return { onExecuteDone: (payload) => formatOutput(payload, args.contextValue as object | undefined, args.operationName) };
    },

    async onSubscribe({ args, setResultAndStopExecution }) {
      const refused = refusal(args);
      if (refused) {
        setResultAndStopExecution({ errors: [refused] });
        logRequest(args.contextValue as object | undefined, args.operationName, [refused]);
        return;
      }
      const session = contexts.get(args.contextValue as object)!;
      return {
        onSubscribeResult: (payload) => {
          if (!isStream(payload.result)) return formatOutput(payload, args.contextValue as object | undefined, args.operationName);
          log.info('graphql.subscribe', { operation: args.operationName ?? null });
          payload.setResult(untilSessionEnds(payload.result, session.expiresAt, watchFor(session.context.viewer)));
          return { onNext: (p) => p.setResult(formatResult(p.result)) };
        },
      };
    },

    onRequestParse({ request, fetchAPI, endResponse }) {
      if (preflighted(request.headers)) return;
      log.info('graphql.request', { operation: null, ms: null, errors: ['BAD_REQUEST'] });
      endResponse(
        new fetchAPI.Response(JSON.stringify({ errors: [{ message: CSRF_MESSAGE, extensions: { code: 'BAD_REQUEST' } }] }), {
          status: 400,
          headers: { 'content-type': 'application/json; charset=utf-8' },
        }),
      );
    },

    onResultProcess({ result, setResult }) {
      // Single results and batches; event streams were formatted event by event.
      const one = (r: unknown): unknown => {
        const errors = (r as ExecutionResult | null)?.errors;
        if (!errors?.length) return r;
        return {
          ...(r as ExecutionResult),
          errors: errors.map((e) => {
            if (!(e instanceof GraphQLError)) return e;
            // A refused request keeps its 4xx whatever the accept header (Yoga answers 200 to
            // `accept: application/json` for errors it marks `spec`), as docs/requests.md says.
            const status = httpOf(e)?.status ?? (e.extensions?.unexpected ? 500 : undefined);
            if (statusGiven.has(e) || (status !== undefined && status >= 400)) (httpOf(e) as { spec?: boolean }).spec = false;
            // Yoga's own code for its body limit is REQUEST_ENTITY_TOO_LARGE: ours is PAYLOAD_TOO_LARGE.
            let coded = typeof e.extensions?.code === 'string' && status !== 413 ? e : withCode(e, codeForStatus(status));
            // Yoga describes a body it could not read in `extensions.originalError`, with a
            // piece of the body in the JSON parser's message: never echo a request.
            if (status !== undefined && status < 500 && coded.extensions.originalError !== undefined) coded = withoutOriginal(coded);
            return finish(formatError, coded);
          }),
        };
      };
      if (Array.isArray(result)) setResult(result.map(one));
      else if (!isStream(result)) setResult(one(result));
    },
  };
}

let warnedNoPeer = false;
/** Once per process: without the peer address every request shares one rate-limit bucket. */
function warnNoPeer(log: Logger): void {
  if (warnedNoPeer) return;
  warnedNoPeer = true;
  log.warn('envelop.no_peer_address', { fix: 'the Envelop context has no req.socket.remoteAddress: per-address rate limits count every request as one client; pass envelopPlugin({ request })' });
}

function withCode(e: GraphQLError, code: string): GraphQLError {
  return new GraphQLError(e.message, { nodes: e.nodes ?? null, source: e.source ?? null, positions: e.positions ?? null, path: e.path ?? null, originalError: e.originalError ?? null, extensions: { ...e.extensions, code } });
}

function withoutOriginal(e: GraphQLError): GraphQLError {
  const { originalError: _dropped, ...extensions } = e.extensions; // eslint-disable-line @typescript-eslint/no-unused-vars -- dropped on purpose
  return new GraphQLError(e.message, { nodes: e.nodes ?? null, source: e.source ?? null, positions: e.positions ?? null, path: e.path ?? null, extensions });
}

/**
 * graphql's own validation errors carry no code: GRAPHQL_VALIDATION_FAILED, as Apollo Server
 * answers them (INTROSPECTION_DISABLED named as Apollo does). Codes our rules set stay.
 */
function withValidationCode(e: GraphQLError): GraphQLError {
  if (typeof e.extensions?.code === 'string') return e;
  const introspection = /introspection has been disabled/i.test(e.message);
  return withCode(introspection ? new GraphQLError(e.message, { nodes: e.nodes ?? null, source: e.source ?? null, positions: e.positions ?? null, extensions: { ...e.extensions, validationErrorCode: 'INTROSPECTION_DISABLED' } }) : e, 'GRAPHQL_VALIDATION_FAILED');
}
