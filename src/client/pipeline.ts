/**
 * @module
 * What every client integration does around one operation, without any client library in
 * it: the Apollo link (`link.ts`), the urql exchange (`urql.ts`) and the graphql-ws helper
 * (`graphql-ws.ts`) are thin adapters over it, so they seal, check and open alike.
 *
 * - `prepare`: the document to send is `withVeilFields(document)`; if it selects or writes
 *   a protected field, the enforcement check runs first (once per pipeline, through the
 *   `probe` the adapter sends along its own transport); then the variables are sealed.
 *   It resolves with what to send, or with the server's refusal to answer the probe (the
 *   operation's answer), and rejects when sealing fails or the server does not enforce
 *   (nothing of the operation was sent).
 * - `open`: one result (a response, a subscription event): envelopes in `data` become
 *   plaintext, reserved aliases go, per-field errors are appended, and
 *   `extensions.veilgraphSigners` holds the verified writers and nothing the server put
 *   there. Incremental delivery (`@defer` chunks) is refused: opening a chunk of a result
 *   that the client merges with the previous, already opened, one is not supported.
 */
import { Kind, buildSchema, type DocumentNode, type FormattedExecutionResult, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import type { CryptoBackend } from '../crypto/backend.js';
import type { PrivacyManifest } from '../privacy/manifest.js';
import { EnforcementCheck, type ProbeSender } from './enforcement.js';
import { VeilClientError } from './errors.js';
import type { ClientKeys } from './keys.js';
import { openResult, type SignedField } from './open.js';
import { touchesProtectedFields } from './operation.js';
import { sealVariables, type LocationFor, type Variables } from './seal.js';
import type { SignerDirectory } from './signers.js';
import { withVeilFields } from './veil.js';

/** The options of every client integration (Apollo link, urql exchange, graphql-ws helper). */
export interface VeilClientOptions {
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

export interface VeilRequest {
  readonly document: DocumentNode;
  readonly operationName?: string | null | undefined;
  readonly variables?: Variables | undefined;
}

export type Prepared =
  /** Send this document with these variables. */
  | { readonly kind: 'send'; readonly document: DocumentNode; readonly variables: Variables }
  /** The server refused to answer the enforcement check (UNAUTHENTICATED, RATE_LIMITED, …): this is the operation's answer. */
  | { readonly kind: 'answered'; readonly result: FormattedExecutionResult };

export interface VeilPipeline {
  readonly schema: GraphQLSchema;
  prepare(request: VeilRequest, probe: ProbeSender): Promise<Prepared>;
  /**
   * `result` opened (see the module comment); `document` is the one sent (or the one
   * written). Other members of `result` are kept. Rejects on an incremental chunk, or when
   * the keys or the key directory cannot be reached.
   */
  open<R extends object>(result: R, document: DocumentNode, operationName: string | null | undefined): Promise<R>;
}

function toSchema(schema: GraphQLSchema | string): GraphQLSchema {
  // assumeValidSDL: the source SDL carries applied @privacy/@owner/@writes directives
  // whose definitions (PRIVACY_SDL) may not be part of the string.
  return typeof schema === 'string' ? buildSchema(schema, { assumeValidSDL: true }) : schema;
}

/** The name of the document's first operation: what clients that send one operation (urql, graphql-ws) run. */
export function firstOperationName(document: DocumentNode): string | null {
  for (const def of document.definitions) if (def.kind === Kind.OPERATION_DEFINITION) return def.name?.value ?? null;
  return null;
}

/**
 * `result` with `extensions.veilgraphSigners` set to `signers`, the verified writers of the
 * values opened here (docs/client.md, "Signed values"), or removed when there are none:
 * whatever the server put there is never passed on, so only the client names a writer.
 */
function withSigners<R extends object>(result: R, signers: readonly SignedField[] | undefined): R {
  const extensions = (result as { extensions?: Record<string, unknown> }).extensions;
  if (!signers && (!extensions || !('veilgraphSigners' in extensions))) return result;
  const next: Record<string, unknown> = { ...extensions };
  delete next.veilgraphSigners;
  if (signers) next.veilgraphSigners = signers;
  return { ...result, extensions: next };
}

/** One pipeline per client: it holds the client's enforcement check. */
export function createVeilPipeline(options: VeilClientOptions): VeilPipeline {
  const { manifest, keys, backend, directory, locationFor } = options;
  const schema = toSchema(options.schema);
  const check = options.enforcementCheck === false ? undefined : new EnforcementCheck();

  async function prepare(request: VeilRequest, probe: ProbeSender): Promise<Prepared> {
    const document = withVeilFields(request.document, schema, manifest);
    // Only the server's answer to the probe lets protected values be sealed and sent.
    if (check && touchesProtectedFields(document, schema, manifest)) {
      const refused = await check.ensure(probe);
      if (refused) return { kind: 'answered', result: refused };
    }
    const variables = await sealVariables({
      schema,
      manifest,
      document,
      operationName: request.operationName ?? null,
      variables: request.variables ?? {},
      keys,
      backend,
      viewerId: options.viewerId?.(),
      ...(locationFor ? { locationFor } : {}),
    });
    return { kind: 'send', document, variables };
  }

  async function open<R extends object>(result: R, document: DocumentNode, operationName: string | null | undefined): Promise<R> {
    if ('incremental' in result) {
      throw new VeilClientError('INCREMENTAL_DELIVERY', 'incremental delivery (@defer, @stream) is not supported: the chunk cannot be opened');
    }
    const r = result as { data?: Record<string, unknown> | null; errors?: readonly GraphQLFormattedError[] };
    if (r.data === null || r.data === undefined) return withSigners(result, undefined);
    const opened = await openResult({ schema, manifest, document, operationName: operationName ?? null, data: r.data, errors: r.errors ?? null, keys, backend, directory });
    // Spread keeps `extensions` (including Apollo's symbol-keyed protocol errors).
    const out: Record<string, unknown> = { ...result, data: opened.data };
    if (opened.errors) out.errors = opened.errors;
    else delete out.errors;
    return withSigners(out as R, opened.signers);
  }

  return { schema, prepare, open };
}
