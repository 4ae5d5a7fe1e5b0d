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
 * chunk errors the operation rather than putting envelopes in the cache.
 */
import { ServerError } from '@apollo/client/errors';
import { ApolloLink } from '@apollo/client/link';
import { createOperation } from '@apollo/client/link/utils';
import { buildSchema, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import { concatMap, defer, firstValueFrom, from, mergeMap, of, type Observable } from 'rxjs';
import type { CryptoBackend } from '../crypto/backend.js';
import type { PrivacyManifest } from '../privacy/manifest.js';
import { EnforcementCheck, PROBE_DOCUMENT } from './enforcement.js';
import type { ClientKeys } from './keys.js';
import { openResult, type SignedField } from './open.js';
import { touchesProtectedFields } from './operation.js';
import { sealVariables, type LocationFor } from './seal.js';
import type { SignerDirectory } from './signers.js';
import { withVeilFields } from './veil.js';

export interface PrivacyLinkOptions {
  /**
   * The source or wire schema (only its type structure is used), or its SDL (e.g. the
   * generated `wireSchemaSDL`), built once with graphql's `buildSchema`.
   */
  readonly schema: GraphQLSchema | string;
  readonly manifest: PrivacyManifest;
  readonly keys: ClientKeys;
  readonly backend: CryptoBackend;
  /**
   * Checks who signed each signed value (docs/client.md, "Signed values"): the key
   * directory (`KeyDirectory`). `'unverified'` opens signed values without checking or
   * reporting their signer.
   */
  readonly directory: SignerDirectory | 'unverified';
  /** The signed-in user's id, read per operation: the default owner of sealed input values. */
  readonly viewerId?: () => string | undefined;
  /** Overrides the location rule (docs/client.md), e.g. for a WRITE grantee. */
  readonly locationFor?: LocationFor;
  /**
   * `false` turns the enforcement check off (docs/client.md, "The enforcement check"):
   * **unsafe**, protected values then go to whatever server is at the other end, enforcing
   * or not. Default: on.
   */
  readonly enforcementCheck?: boolean;
}

type Result = ApolloLink.Result;

function toSchema(schema: GraphQLSchema | string): GraphQLSchema {
  // assumeValidSDL: the source SDL carries applied @privacy/@owner/@writes directives
  // whose definitions (PRIVACY_SDL) may not be part of the string.
  return typeof schema === 'string' ? buildSchema(schema, { assumeValidSDL: true }) : schema;
}

/**
 * `result` with `extensions.veilgraphSigners` set to `signers`, the verified writers of the
 * values this link opened (docs/client.md, "Signed values"), or removed when there are none:
 * whatever the server put there is never passed on, so only this link names a writer.
 */
function withSigners(result: Result, signers: readonly SignedField[] | undefined): Result {
  const extensions = (result as { extensions?: Record<string, unknown> }).extensions;
  if (!signers && (!extensions || !('veilgraphSigners' in extensions))) return result;
  const next: Record<string, unknown> = { ...extensions };
  delete next.veilgraphSigners;
  if (signers) next.veilgraphSigners = signers;
  return { ...result, extensions: next } as Result;
}

/** The link; see the module comment and docs/client.md, "Apollo Link". */
export function createPrivacyLink(options: PrivacyLinkOptions): ApolloLink {
  const { manifest, keys, backend, directory, locationFor } = options;
  const schema = toSchema(options.schema);

  async function open(result: Result, document: ApolloLink.Operation['query'], operationName: string | undefined): Promise<Result> {
    if (typeof result !== 'object' || result === null) return result;
    if ('incremental' in result) {
      throw new Error('veilgraph privacy link: incremental delivery (@defer) is not supported; the chunk cannot be opened');
    }
    const r = result as { data?: Record<string, unknown> | null; errors?: readonly GraphQLFormattedError[] };
    if (r.data === null || r.data === undefined) return withSigners(result, undefined);
    const opened = await openResult({ schema, manifest, document, operationName: operationName ?? null, data: r.data, errors: r.errors ?? null, keys, backend, directory });
    // Spread keeps `extensions` (including Apollo's symbol-keyed protocol errors).
    const out: Record<string, unknown> = { ...result, data: opened.data };
    if (opened.errors) out.errors = opened.errors;
    else delete out.errors;
    return withSigners(out as Result, opened.signers);
  }

  const check = options.enforcementCheck === false ? undefined : new EnforcementCheck();

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
      const document = withVeilFields(operation.query, schema, manifest);
      const { operationName } = operation;
      // Only the server's answer to the probe lets protected values be sealed and sent.
      const gate = check && touchesProtectedFields(document, schema, manifest) ? from(check.ensure(() => probe(operation, forward))) : of(null);
      return gate.pipe(
        mergeMap((refused): Observable<Result> => {
          // The server refused to answer the probe (UNAUTHENTICATED, RATE_LIMITED, …): that is this operation's answer.
          if (refused) return of(refused as Result);
          return from(
            sealVariables({
              schema,
              manifest,
              document,
              operationName: operationName ?? null,
              variables: operation.variables,
              keys,
              backend,
              viewerId: options.viewerId?.(),
              ...(locationFor ? { locationFor } : {}),
            }),
          ).pipe(
            mergeMap((variables) => {
              operation.query = document;
              operation.variables = variables;
              return forward(operation);
            }),
          );
        }),
        concatMap((result) => from(open(result, document, operationName))),
      );
    });
  });
}
