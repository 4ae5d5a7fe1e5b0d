/**
 * @module
 * `veilExchange`: the client pipeline (pipeline.ts) as an urql exchange, what
 * `createPrivacyLink` is for Apollo. Its own module, so that only an app that uses urql
 * needs `@urql/core` and `wonka`. Put it before the exchanges that send (`fetchExchange`,
 * `subscriptionExchange`); after `cacheExchange` the cache holds opened results, before it
 * the cache holds envelopes and each hit is opened again:
 *
 *   exchanges: [cacheExchange, veilExchange({ schema, manifest, keys, backend, directory, viewerId }), fetchExchange]
 *
 * - On the way out, each operation's document becomes `withVeilFields(document)` and its
 *   variables are sealed; the operation keeps its key, so urql matches results and cache
 *   entries as before. Before the first operation with protected fields the enforcement
 *   check's probe goes through the exchanges after this one, with that operation's context
 *   (its `fetchOptions`, its `url`), once per exchange.
 * - On the way back, each result is opened (a copy: the exchanges after this one may keep
 *   the result they passed on, e.g. `cacheExchange` placed after it): `data` holds plaintext, per-field errors join
 *   `error.graphQLErrors`, `extensions.veilgraphSigners` names verified writers, and
 *   `result.operation` is the operation as the app made it (plaintext variables). The
 *   results of one operation are opened one at a time and in order (subscription events
 *   are never reordered); different operations do not wait for each other.
 * - A sealing failure, SERVER_NOT_ENFORCING or INCREMENTAL_DELIVERY is the operation's
 *   result with `error.networkError` the `VeilClientError` (or `CryptoError`): nothing of
 *   the operation was sent. A refusal to answer the probe (UNAUTHENTICATED, RATE_LIMITED,
 *   the CSRF check's BAD_REQUEST for a GET without a preflight header) is the operation's
 *   result with those GraphQL errors.
 *
 * urql sends queries as GET by default (`preferGetMethod: 'within-url-limit'`); the
 * gateway's CSRF check refuses a GET without `apollo-require-preflight` or
 * `x-apollo-operation-name` (docs/client.md, "urql").
 */
import { CombinedError, createRequest, makeErrorResult, makeOperation, type Exchange, type Operation, type OperationResult } from '@urql/core';
import type { GraphQLFormattedError } from 'graphql';
import { filter, fromPromise, makeSubject, merge, mergeMap, pipe, share, take, takeUntil, toPromise } from 'wonka';
import { PROBE_DOCUMENT } from './enforcement.js';
import { VeilClientError } from './errors.js';
import { createVeilPipeline, firstOperationName, type VeilClientOptions } from './pipeline.js';

export type VeilExchangeOptions = VeilClientOptions;

/** Context keys of the operations this exchange forwards. */
const SOURCE = 'veilgraphSource';
const PROBE = 'veilgraphProbe';

interface Forwarded {
  /** The operation as the app made it. */
  readonly operation: Operation;
  readonly document: Operation['query'];
  readonly operationName: string | null;
}

/** A GraphQL error as urql holds it, back in the wire form the core works on. */
function formatted(e: { message: string; path?: readonly (string | number)[] | undefined; extensions?: Record<string, unknown> | undefined; locations?: readonly { line: number; column: number }[] | undefined }): GraphQLFormattedError {
  return {
    message: e.message,
    ...(e.locations ? { locations: e.locations } : {}),
    ...(e.path ? { path: e.path } : {}),
    ...(e.extensions && Object.keys(e.extensions).length > 0 ? { extensions: e.extensions } : {}),
  };
}

/** The probe's answer as the enforcement check reads it: the GraphQL response, or a rejection when there was none. */
function probeAnswer(result: OperationResult): unknown {
  const errors = result.error?.graphQLErrors.map(formatted) ?? [];
  if (result.error?.networkError && errors.length === 0) throw result.error.networkError;
  return { ...(result.data !== undefined ? { data: result.data as unknown } : {}), ...(errors.length > 0 ? { errors } : {}) };
}

/** The exchange; see the module comment and docs/client.md, "urql". */
export function veilExchange(options: VeilExchangeOptions): Exchange {
  const veil = createVeilPipeline(options);

  return ({ client, forward }) =>
    (operations$) => {
      const ops$ = share(operations$);
      const probes = makeSubject<Operation>();

      function probe(operation: Operation): Promise<unknown> {
        const mark = {};
        const request = client.createRequestOperation('query', createRequest(PROBE_DOCUMENT, {}), { ...operation.context, requestPolicy: 'network-only', [SOURCE]: undefined, [PROBE]: mark });
        const answer = pipe(
          results$,
          filter((r) => r.operation.context[PROBE] === mark),
          take(1),
          toPromise,
        );
        probes.next(request);
        return answer.then(probeAnswer);
      }

      /** The operation to forward, or its result when it is not to be sent. */
      async function prepare(operation: Operation): Promise<Operation | OperationResult> {
        const operationName = firstOperationName(operation.query);
        try {
          const prepared = await veil.prepare({ document: operation.query, operationName, variables: operation.variables as Record<string, unknown> }, () => probe(operation));
          if (prepared.kind === 'answered') {
            return { operation, data: undefined, error: new CombinedError({ graphQLErrors: prepared.result.errors ? [...prepared.result.errors] : [] }), hasNext: false, stale: false };
          }
          const source: Forwarded = { operation, document: prepared.document, operationName };
          return makeOperation(operation.kind, { ...operation, query: prepared.document, variables: prepared.variables }, { ...operation.context, [SOURCE]: source });
        } catch (e) {
          return makeErrorResult(operation, e instanceof Error ? e : new Error(String(e)));
        }
      }

      const prepared$ = pipe(
        ops$,
        filter((op) => op.kind !== 'teardown'),
        mergeMap((op) =>
          pipe(
            fromPromise(prepare(op)),
            // Torn down while sealing: nothing is sent.
            takeUntil(filter((o: Operation) => o.kind === 'teardown' && o.key === op.key)(ops$)),
          ),
        ),
        share,
      );
      const isResult = (x: Operation | OperationResult): x is OperationResult => 'stale' in x;
      const answered$ = pipe(prepared$, filter(isResult));
      const toSend$ = pipe(
        prepared$,
        filter((x): x is Operation => !isResult(x)),
      );
      const teardowns$ = filter((op: Operation) => op.kind === 'teardown')(ops$);
      // What the exchanges after this one answer; the probe (above) reads its answer from it too.
      const results$ = share(forward(merge([toSend$, teardowns$, probes.source])));

      // Per operation key, the opening of its latest result: the next one waits for it.
      const queues = new Map<number, Promise<unknown>>();
      function inOrder(key: number, task: () => Promise<OperationResult>): Promise<OperationResult> {
        const next = (queues.get(key) ?? Promise.resolve()).then(task);
        queues.set(key, next);
        void next.finally(() => {
          if (queues.get(key) === next) queues.delete(key);
        });
        return next;
      }

      async function open(result: OperationResult): Promise<OperationResult> {
        const source = result.operation.context[SOURCE] as Forwarded | undefined;
        if (!source) return result;
        const { operation } = source;
        try {
          // urql merges a result that comes in chunks with the previous one, whose data is
          // already opened: refused, as the Apollo link refuses `incremental`.
          if (result.hasNext && operation.kind !== 'subscription') {
            throw new VeilClientError('INCREMENTAL_DELIVERY', 'incremental delivery (@defer, @stream) is not supported: the chunk cannot be opened');
          }
          const graphQLErrors = result.error?.graphQLErrors.map(formatted) ?? [];
          // Opening works in place, and exchanges after this one may keep the result they
          // passed on (cacheExchange placed after this one serves it again on a cache hit,
          // subscriptionExchange merges the next event into it): open a copy.
          const data = result.data === undefined || result.data === null ? result.data : (structuredClone(result.data) as Record<string, unknown>);
          const opened = await veil.open(
            { data, ...(graphQLErrors.length > 0 ? { errors: graphQLErrors } : {}), ...(result.extensions ? { extensions: result.extensions } : {}) },
            source.document,
            source.operationName,
          );
          const errors = opened.errors ?? [];
          const networkError = result.error?.networkError;
          return {
            ...result,
            operation,
            data: opened.data,
            error: errors.length > 0 || networkError ? new CombinedError({ graphQLErrors: [...errors], ...(networkError ? { networkError } : {}), response: result.error?.response as unknown }) : undefined,
            extensions: opened.extensions,
          };
        } catch (e) {
          return makeErrorResult(operation, e instanceof Error ? e : new Error(String(e)));
        }
      }

      const opened$ = pipe(
        results$,
        filter((r) => r.operation.context[PROBE] === undefined),
        mergeMap((r) => fromPromise(inOrder(r.operation.key, () => open(r)))),
      );
      // opened$ first: subscribing it starts the forwarding before any operation can arrive.
      return merge([opened$, answered$]);
    };
}
