/**
 * @module
 * `createPrivacyLink`: the client core as an Apollo Client 4 link. Placed before the
 * terminating link (`HttpLink`, `GraphQLWsLink`, …), it
 *
 * - on the way out, replaces `operation.query` by `withVeilFields(query)` (adds
 *   `__typename` and the `_vgOwner` / `_vgId` aliases where sealed fields are selected)
 *   and `operation.variables` by `await sealVariables(…)` (SHARED/PRIVATE input values
 *   become envelopes bound to their location);
 * - on the way back, passes every result (each HTTP response, each subscription event,
 *   each multipart chunk) through `openResult`: `data` holds plaintext, the reserved
 *   aliases are gone, and each field that could not be opened is `null` with a per-field
 *   error appended to `errors`. A signed value is delivered only when its signature
 *   verifies under a key the key directory verified (`directory`; SIGNER_UNKNOWN or
 *   SIGNATURE_INVALID otherwise), and its verified signer goes into
 *   `extensions.veilgraphSigners`. The result stays a `FormattedExecutionResult`, which is
 *   what Apollo's cache and `errorPolicy` expect.
 *
 * Results are opened one at a time and in order (`concatMap`), so subscription events
 * are never reordered. Sealing starts when the operation is subscribed to, and a sealing
 * failure (LOCATION_UNKNOWN, SEALED_LITERAL, KEY_NOT_FOUND, …) errors the operation
 * before it is sent.
 *
 * Before the first operation that selects or writes a protected field, and before its
 * variables are sealed, the link asks the server through the rest of the chain whether it
 * enforces (`EnforcementCheck`, `query VgProbe { _veilgraph { protocol enforced } }`), once
 * per link; a server that does not gets nothing of the operation, which fails with
 * SERVER_NOT_ENFORCING (docs/client.md, "The enforcement check").
 *
 * Incremental delivery (`@defer` chunks carrying `incremental`) is not supported: such a
 * chunk errors the operation (INCREMENTAL_DELIVERY) rather than putting envelopes in the
 * cache.
 *
 * The work itself is the client pipeline's (`createVeilPipeline`, pipeline.ts), shared
 * with the urql exchange and the graphql-ws helper; this file only maps it onto links.
 */
import { ServerError } from '@apollo/client/errors';
import { ApolloLink } from '@apollo/client/link';
import { createOperation } from '@apollo/client/link/utils';
import { concatMap, defer, firstValueFrom, from, mergeMap, of, type Observable } from 'rxjs';
import { PROBE_DOCUMENT } from './enforcement.js';
import { createVeilPipeline, type VeilClientOptions } from './pipeline.js';

/** The options of every client integration (`VeilClientOptions`, src/client/pipeline.ts). */
export type PrivacyLinkOptions = VeilClientOptions;

type Result = ApolloLink.Result;

/** The link; see the module comment and docs/client.md, "Apollo Link". */
export function createPrivacyLink(options: PrivacyLinkOptions): ApolloLink {
  const veil = createVeilPipeline(options);

  /**
   * The probe, through the rest of the chain with the context of the operation that needs
   * it (headers or a token an earlier link set reach it too).
   */
  function probe(operation: ApolloLink.Operation, forward: ApolloLink.ForwardFunction): Promise<unknown> {
    const request = createOperation({ query: PROBE_DOCUMENT, context: { ...operation.getContext() } }, { client: operation.client });
    return firstValueFrom(forward(request)).catch((e: unknown) => {
      // HttpLink turns a non-2xx `application/json` answer into a ServerError; its body may
      // still be the server's GraphQL answer ("Cannot query field"), which decides.
      if (ServerError.is(e)) {
        try {
          const body: unknown = JSON.parse(e.bodyText);
          if (typeof body === 'object' && body !== null && Array.isArray((body as { errors?: unknown }).errors)) return body;
        } catch {
          // not JSON: no answer
        }
      }
      throw e;
    });
  }

  return new ApolloLink((operation, forward): Observable<Result> => {
    return defer(() => {
      const { operationName } = operation;
      return from(veil.prepare({ document: operation.query, operationName, variables: operation.variables }, () => probe(operation, forward))).pipe(
        mergeMap((prepared): Observable<Result> => {
          // The server refused to answer the probe (UNAUTHENTICATED, RATE_LIMITED, …): that is this operation's answer.
          if (prepared.kind === 'answered') return of(prepared.result as Result);
          operation.query = prepared.document;
          operation.variables = prepared.variables;
          return forward(operation).pipe(concatMap((result) => from(veil.open(result, prepared.document, operationName))));
        }),
      );
    });
  });
}
