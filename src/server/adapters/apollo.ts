/**
 * @module
 * `veil.apolloPlugin()`: veilgraph on Apollo Server 5. Wire it as
 *
 *   const server = new ApolloServer({
 *     schema: veil.schema,                        // the enforced schema, nothing else
 *     parseOptions: veil.parseOptions,            // the token limit while parsing
 *     validationRules: [...veil.validationRules], // limits, sealed literals
 *     formatError: veil.formatError,              // also for errors outside execution (401s)
 *     plugins: [veil.apolloPlugin()],
 *   });
 *   // node:http, Express, …: the context is veilgraph's, from the request
 *   expressMiddleware(server, { context: ({ req }) => veil.context(req) });
 *
 * What the plugin does, and how it fails closed when a line above is missing:
 *
 * - **Schema.** Apollo Server refuses to start (`server.start()` rejects, CONFIG_INVALID)
 *   when its schema is not `veil.schema`: a schema with the privacy directives but without
 *   their enforcement never answers.
 * - **Token limit.** With `parseOptions` a document over the limit fails to parse and is
 *   answered QUERY_TOO_COMPLEX (400). Without, the plugin counts the tokens of each parsed
 *   document (at most the limit + 1, once per document) and refuses it the same way before
 *   it executes; parsing and validating it were then bounded only by the server's body
 *   limit, so pass the parse options.
 * - **Validation rules.** With `validationRules` they run in Apollo's validation. Without,
 *   the plugin runs them before the operation executes (once per parsed document) and
 *   refuses with the first error (400).
 * - **Cost with variables.** Validation cannot see variables: each operation is costed
 *   again with the request's before it executes (QUERY_TOO_COMPLEX, 400).
 * - **Errors** are formatted with `veil.formatError` before the response is sent (applying
 *   it twice changes nothing), so codes stay precise and production hides internals.
 * - **Request log.** One line per request: operation name, duration, error codes. Never
 *   variables, values or messages.
 *
 * The reference application's Apollo Server (src/app/apollo.ts) adds its own choices: no
 * landing page, Apollo's default cache-control plugin and reporting plugins off, batching off.
 */
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { GraphQLError, NoSchemaIntrospectionCustomRule, validate, type DocumentNode, type GraphQLFormattedError, type GraphQLSchema, type ValidationRule } from 'graphql';
import { configInvalid } from '../errors.js';
import { recordParseFailure } from '../error-format.js';
import type { RequestLimits } from '../limits.js';
import type { Logger } from '../log.js';

/** What the plugin needs of a veilgraph instance. */
export interface ApolloLayer {
  readonly schema: GraphQLSchema;
  readonly limits: RequestLimits;
  /** veilgraph's validation rules (the limits' and the sealed-literal rule), without graphql's `specifiedRules`. */
  readonly validationRules: readonly ValidationRule[];
  /** Whether veilgraph's rules already ran over this document (they mark what they validate). */
  readonly validatedByRules: (document: DocumentNode) => boolean;
  readonly formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  readonly log: Logger;
  /** createVeilgraph's `production`: introspection is refused whatever Apollo's own `introspection` option says. */
  readonly production: boolean;
}

/** Introspection in production, refused as Apollo refuses it when its `introspection` is off. */
function introspectionRefusal(schema: GraphQLSchema, document: DocumentNode): GraphQLError | undefined {
  const [e] = validate(schema, document, [NoSchemaIntrospectionCustomRule]);
  if (!e) return undefined;
  return new GraphQLError(e.message, { nodes: e.nodes ?? null, source: e.source ?? null, positions: e.positions ?? null, extensions: { code: 'GRAPHQL_VALIDATION_FAILED', validationErrorCode: 'INTROSPECTION_DISABLED' } });
}

/** A refusal before execution, answered with HTTP 400. */
function badRequest(e: GraphQLError): GraphQLError {
  return new GraphQLError(e.message, { nodes: e.nodes ?? null, source: e.source ?? null, positions: e.positions ?? null, extensions: { ...e.extensions, http: { status: 400 } } });
}

function notVeilSchema(): Error {
  return configInvalid('this Apollo Server does not serve veil.schema: pass new ApolloServer({ schema: veil.schema, plugins: [veil.apolloPlugin()], … }) (a schema built another way has the privacy directives without their enforcement)');
}

export function createApolloPlugin(layer: ApolloLayer): ApolloServerPlugin<BaseContext> {
  const { limits, log } = layer;
  // The token limit's and our rules' verdict on each parsed document, once per document
  // (Apollo hands a cached document back as the same object).
  const ownVerdicts = new WeakMap<DocumentNode, readonly GraphQLError[]>();
  return {
    async serverWillStart(service) {
      if (service.schema !== layer.schema) throw notVeilSchema();
    },
    async requestDidStart(start) {
      if (start.schema !== layer.schema) throw notVeilSchema();
      const started = performance.now();
      return {
        async parsingDidStart(rc) {
          return async (error) => {
            if (error) recordParseFailure(error, limits.parseFailure(rc.source ?? '', error));
          };
        },
        // The only hook whose refusal Apollo answers as such (others become a 500).
        async didResolveOperation(rc) {
          if (!rc.operation) return;
          let verdict = ownVerdicts.get(rc.document);
          if (!verdict) {
            // With veil.parseOptions nothing over the token limit parses; without, it is refused here.
            const tooMany = limits.tokenLimitError(rc.source ?? '');
            verdict = tooMany ? [tooMany] : layer.validatedByRules(rc.document) ? [] : validate(rc.schema, rc.document, layer.validationRules);
            // Apollo's own `introspection` defaults to NODE_ENV: veilgraph's `production` decides.
            const introspection = verdict.length === 0 && layer.production ? introspectionRefusal(rc.schema, rc.document) : undefined;
            if (introspection) verdict = [introspection];
            ownVerdicts.set(rc.document, verdict);
          }
          if (verdict.length > 0) throw badRequest(verdict[0]!);
          const refused = limits.checkCost(rc.schema, rc.document, rc.operation, rc.request.variables);
          if (refused) throw badRequest(refused);
        },
        async willSendResponse(rc) {
          const body = rc.response.body;
          const formatted = body.kind === 'single' ? body.singleResult.errors : undefined;
          if (formatted && body.kind === 'single') {
            const originals = rc.errors ?? [];
            body.singleResult.errors = formatted.map((f, i) => layer.formatError(f, originals[i] ?? f));
          }
          log.info('graphql.request', {
            operation: rc.operationName ?? null,
            ms: Math.round((performance.now() - started) * 10) / 10,
            errors: (body.kind === 'single' ? body.singleResult.errors : undefined)?.map((e) => e.extensions?.code ?? 'UNKNOWN') ?? [],
          });
        },
      };
    },
  };
}
