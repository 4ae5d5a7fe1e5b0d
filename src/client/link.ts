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
 * before anything is sent. Incremental delivery (`@defer` chunks carrying `incremental`)
 * is not supported: such a chunk errors the operation rather than putting envelopes in
 * the cache.
 */
import { ApolloLink } from '@apollo/client/link';
import { buildSchema, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import { concatMap, defer, from, mergeMap, type Observable } from 'rxjs';
import type { CryptoBackend } from '../crypto/backend.js';
import type { PrivacyManifest } from '../privacy/manifest.js';
import type { ClientKeys } from './keys.js';
import { openResult, type SignedField } from './open.js';
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

  return new ApolloLink((operation, forward): Observable<Result> => {
    return defer(() => {
      const document = withVeilFields(operation.query, schema, manifest);
      const { operationName } = operation;
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
        concatMap((result) => from(open(result, document, operationName))),
      );
    });
  });
}
