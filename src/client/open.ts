/**
 * @module
 * `openResult`: replaces every sealed field's envelope in a result by its decoded JSON
 * value. Walks the data with the operation's selection sets (aliases, named and inline
 * fragments, interfaces and unions via `__typename`), reads each object's location from
 * the fields `withVeilFields` added (`_vgOwner`, `_vgId`; any other selection of the
 * owner / id field works too) and removes those again.
 *
 * A field that cannot be opened becomes `null` with a per-field error
 * `{ message, path, extensions: { code } }` (the CryptoError code, or LOCATION_UNKNOWN);
 * everything else is still delivered.
 *
 * A signed value is delivered only once its signer is checked (./signers.ts): the signer's
 * key must be in a key history the directory verified (else SIGNER_UNKNOWN) and the
 * signature must verify under it (else SIGNATURE_INVALID); `signers` then reports the
 * verified user. `directory: 'unverified'` opts out: signed values open like unsigned
 * ones and no signer is reported.
 *
 * Cost: the plan (which response keys are sealed, per concrete type, where the owner and
 * id are) is computed once per document and cached; per result there is one walk over
 * the data, one `prepare` call, and per sealed field one strict decode and check into a
 * shared slab (no parsed objects), one synchronous AEAD and one JSON.parse. No schema lookups happen per field. Signed values add one
 * directory call per result (only for signers not seen before) and one Ed25519
 * verification per envelope not verified before.
 */
import {
  getNamedType,
  isAbstractType,
  isCompositeType,
  isLeafType,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
import type { CryptoBackend } from '../crypto/backend.js';
import { Slab, decodeEnvelopeTextInto, envelopeKeyOf, openWith, parseEnvelope } from '../crypto/envelope.js';
import { isCryptoError, type CryptoErrorCode } from '../crypto/errors.js';
import type { Location } from '../crypto/location.js';
import type { PrivacyManifest } from '../privacy/manifest.js';
import { isVeilClientError } from './errors.js';
import { parseJsonValue } from './json-value.js';
import type { ClientKeys, KeyRequest, SealedLevel } from './keys.js';
import { checkSigners, type SignerDirectory, type VerifiedSigner } from './signers.js';
import { PlanCache, collectFields, fragmentsOf, possibleTypesOf, rootTypeOf, sealedLevelOf, selectOperation } from './operation.js';
import { ID_ALIAS, OWNER_ALIAS, withVeilFields } from './veil.js';

/** Codes of per-field errors added by openResult. */
export type OpenErrorCode =
  | CryptoErrorCode
  | 'LOCATION_UNKNOWN'
  /** A signed value whose signer's key is in no key history the directory verified. */
  | 'SIGNER_UNKNOWN';

export interface VeilFieldError extends GraphQLFormattedError {
  readonly message: string;
  readonly path: readonly (string | number)[];
  readonly extensions: { readonly code: OpenErrorCode; readonly coordinate: string };
}

export interface OpenResultOptions {
  /** Source or wire schema (only the type structure is used). */
  readonly schema: GraphQLSchema;
  readonly manifest: PrivacyManifest;
  /** The operation, as written or as returned by withVeilFields (the data must come from the latter). */
  readonly document: DocumentNode;
  readonly operationName?: string | null;
  /** The result's `data`, as parsed from the response. Modified in place. */
  readonly data: Record<string, unknown> | null | undefined;
  /** The result's own `errors`; the per-field errors are appended after them. */
  readonly errors?: readonly GraphQLFormattedError[] | null;
  readonly keys: ClientKeys;
  readonly backend: CryptoBackend;
  /**
   * Checks who signed each signed value: the key directory (`KeyDirectory`, or anything
   * with its `resolveSigners`). `'unverified'` opens signed values without checking their
   * signer, and reports none: for tools that attribute nothing.
   */
  readonly directory: SignerDirectory | 'unverified';
}

/** A signed value that was opened, and its writer, verified (docs/client.md, "Signed values"). */
export interface SignedField extends VerifiedSigner {
  readonly path: readonly (string | number)[];
  readonly coordinate: string;
}

export interface OpenedResult {
  readonly data: Record<string, unknown> | null | undefined;
  /** Absent when there are none. */
  readonly errors?: readonly GraphQLFormattedError[];
  /** The opened values that were signed, with their verified signer; absent when there are none. */
  readonly signers?: readonly SignedField[];
}

// ---------------------------------------------------------------------------------------
// Plans.

interface SealedKey {
  readonly key: string;
  readonly level: SealedLevel;
  readonly coordinate: string;
}

interface TypePlan {
  readonly sealed: readonly SealedKey[];
  readonly children: readonly { readonly key: string; readonly plan: SelectionPlan }[];
  /** Response keys that hold the owner / id, best first (`_vgOwner` / `_vgId`, then the user's own). */
  readonly ownerKeys: readonly string[];
  readonly idKeys: readonly string[];
  /** Response keys withVeilFields added, removed after opening. */
  readonly strip: readonly string[];
}

interface SelectionPlan {
  /** Set when the selection set's type is an object type. */
  readonly single: TypePlan | undefined;
  /** Interfaces and unions: by `__typename`, only types with something to do. */
  readonly byType: ReadonlyMap<string, TypePlan> | undefined;
  /** Abstract types: every sealed response key of any type (used when `__typename` is missing). */
  readonly anySealed: readonly SealedKey[];
}

const planCache = new PlanCache<SelectionPlan | null>();

function buildPlan(schema: GraphQLSchema, manifest: PrivacyManifest, document: DocumentNode, operationName: string | null | undefined): SelectionPlan | null {
  const op = selectOperation(document, operationName);
  const root = rootTypeOf(schema, op);
  if (!root) return null;
  return selectionPlan(schema, manifest, fragmentsOf(document), [op.selectionSet], root, 0) ?? null;
}

const MAX_PLAN_DEPTH = 64;

function selectionPlan(
  schema: GraphQLSchema,
  manifest: PrivacyManifest,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  sets: readonly SelectionSetNode[],
  type: GraphQLCompositeType,
  depth: number,
): SelectionPlan | undefined {
  if (depth > MAX_PLAN_DEPTH) return undefined;
  const byType = new Map<string, TypePlan>();
  const anySealed: SealedKey[] = [];
  for (const concrete of possibleTypesOf(schema, type)) {
    const fields = concrete.getFields();
    const sealed: SealedKey[] = [];
    const children: { key: string; plan: SelectionPlan }[] = [];
    const ownerKeys: string[] = [];
    const idKeys: string[] = [];
    const strip: string[] = [];
    const o = manifest.objects[concrete.name];
    for (const [key, nodes] of collectFields(schema, fragments, sets, concrete)) {
      const name = nodes[0]!.name.value;
      const def = fields[name];
      if (!def) continue;
      const named = getNamedType(def.type);
      if (isLeafType(named)) {
        const level = sealedLevelOf(manifest, concrete.name, name);
        if (level) sealed.push({ key, level, coordinate: `${concrete.name}.${name}` });
        if (o && noArgs(nodes)) {
          if (name === o.owner) {
            if (key === OWNER_ALIAS) ownerKeys.unshift(key);
            else ownerKeys.push(key);
          }
          if (name === o.id) {
            if (key === ID_ALIAS) idKeys.unshift(key);
            else idKeys.push(key);
          }
        }
        if (key === OWNER_ALIAS || key === ID_ALIAS) strip.push(key);
      } else if (isCompositeType(named)) {
        const sub: SelectionSetNode[] = [];
        for (const n of nodes) if (n.selectionSet) sub.push(n.selectionSet);
        const child = selectionPlan(schema, manifest, fragments, sub, named, depth + 1);
        if (child) children.push({ key, plan: child });
      }
    }
    if (sealed.length === 0 && children.length === 0 && strip.length === 0) continue;
    byType.set(concrete.name, { sealed, children, ownerKeys, idKeys, strip });
    for (const s of sealed) if (!anySealed.some((a) => a.key === s.key)) anySealed.push(s);
  }
  if (byType.size === 0) return undefined;
  return isAbstractType(type) ? { single: undefined, byType, anySealed } : { single: byType.values().next().value, byType: undefined, anySealed };
}

function noArgs(nodes: readonly FieldNode[]): boolean {
  return nodes.every((n) => !n.arguments || n.arguments.length === 0);
}

// ---------------------------------------------------------------------------------------
// Walking a result.

interface PathNode {
  readonly prev: PathNode | undefined;
  readonly key: string | number;
}

function pathOf(node: PathNode | undefined, last: string): (string | number)[] {
  const out: (string | number)[] = [last];
  for (let n = node; n; n = n.prev) out.push(n.key);
  return out.reverse();
}

interface OpenJob extends KeyRequest {
  readonly purpose: 'open';
  readonly keyId: Uint8Array;
  readonly keyVersion: number;
  /** The decoded envelope (checked like parseEnvelope does; parsed into objects only when signed). */
  readonly envelope: Uint8Array;
  readonly signed: boolean;
  readonly coordinate: string;
  readonly target: Record<string, unknown>;
  readonly key: string;
  readonly at: PathNode | undefined;
}

type Obj = Record<string, unknown>;

class ResultWalk {
  readonly jobs: OpenJob[] = [];
  readonly errors: VeilFieldError[] = [];
  // The fields of one result are decoded into shared slabs (one allocation per 256 KiB of
  // envelopes instead of one per field); they live exactly as long as this walk's jobs.
  private readonly slab = new Slab();

  value(v: unknown, plan: SelectionPlan, at: PathNode | undefined): void {
    if (v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) this.value(v[i], plan, { prev: at, key: i });
      return;
    }
    const obj = v as Obj;
    let tp = plan.single;
    if (!tp) {
      const typename = obj.__typename;
      if (typeof typename !== 'string') {
        for (const s of plan.anySealed) {
          if (obj[s.key] === null || obj[s.key] === undefined) continue;
          this.fail(obj, s.key, at, s.coordinate, 'LOCATION_UNKNOWN', 'no __typename in the result (send the document from withVeilFields)');
        }
        return;
      }
      tp = plan.byType!.get(typename);
      if (!tp) return;
    }
    if (tp.sealed.length > 0) {
      const ownerId = first(obj, tp.ownerKeys);
      const objectId = first(obj, tp.idKeys);
      for (const s of tp.sealed) {
        const text = obj[s.key];
        if (text === null || text === undefined) continue;
        if (ownerId === undefined || objectId === undefined) {
          this.fail(obj, s.key, at, s.coordinate, 'LOCATION_UNKNOWN', `no ${ownerId === undefined ? 'owner' : 'object id'} in the result (send the document from withVeilFields)`);
          continue;
        }
        let envelope: Uint8Array;
        try {
          envelope = decodeEnvelopeTextInto(text as string, this.slab.alloc);
        } catch (e) {
          this.failWith(obj, s.key, at, s.coordinate, e);
          continue;
        }
        const { keyId, keyVersion, signed } = envelopeKeyOf(envelope);
        const location: Location = { coordinate: s.coordinate, ownerId, objectId };
        this.jobs.push({ purpose: 'open', level: s.level, location, keyId, keyVersion, envelope, signed, coordinate: s.coordinate, target: obj, key: s.key, at });
      }
    }
    for (const c of tp.children) {
      const child = obj[c.key];
      if (child !== null && typeof child === 'object') this.value(child, c.plan, { prev: at, key: c.key });
    }
    for (const k of tp.strip) delete obj[k];
  }

  fail(obj: Obj, key: string, at: PathNode | undefined, coordinate: string, code: OpenErrorCode, why: string): void {
    obj[key] = null;
    this.errors.push({ message: `${coordinate} could not be opened: ${why}`, path: pathOf(at, key), extensions: { code, coordinate } });
  }

  failWith(obj: Obj, key: string, at: PathNode | undefined, coordinate: string, e: unknown): void {
    if (isCryptoError(e)) return this.fail(obj, key, at, coordinate, e.code, e.message);
    if (isVeilClientError(e, 'LOCATION_UNKNOWN')) return this.fail(obj, key, at, coordinate, 'LOCATION_UNKNOWN', e.message);
    if (e instanceof SyntaxError) return this.fail(obj, key, at, coordinate, 'ENVELOPE_MALFORMED', 'the plaintext is not JSON');
    throw e;
  }
}

function first(obj: Obj, keys: readonly string[]): string | undefined {
  for (const k of keys) {
    const v = obj[k];
    if (typeof v === 'string' && v.length > 0) return v;
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  }
  return undefined;
}

/**
 * Opens every sealed field of a result in place (see the module comment). `keys.prepare`
 * is called once with every value's location before the synchronous per-field work.
 */
export async function openResult(options: OpenResultOptions): Promise<OpenedResult> {
  const { schema, manifest, keys, backend, data } = options;
  const errors = options.errors ? [...options.errors] : [];
  const signers: SignedField[] = [];
  const finish = (): OpenedResult => ({ data, ...(errors.length > 0 ? { errors } : {}), ...(signers.length > 0 ? { signers } : {}) });
  if (data === null || data === undefined) return finish();

  const document = withVeilFields(options.document, schema, manifest);
  const plan = planCache.get(document, schema, manifest, options.operationName ?? '', () => buildPlan(schema, manifest, document, options.operationName));
  if (!plan) return finish();

  const walk = new ResultWalk();
  walk.value(data, plan, undefined);
  if (walk.jobs.length > 0) {
    if (keys.prepare) await keys.prepare(walk.jobs);
    // Everything is opened and checked before `data` changes, so a rejection (the key
    // directory cannot be reached) leaves it as it was.
    const opened: { job: OpenJob; value: unknown }[] = [];
    const failed: { job: OpenJob; error: unknown }[] = [];
    for (const job of walk.jobs) {
      try {
        // Transient: the plaintext is decoded to a string and parsed before the call returns,
        // so it is opened into reused memory that is wiped right after (no 1 KiB buffer per
        // field for the GC).
        opened.push({ job, value: openWith(backend, job.envelope, keys.openingKeys(job.level, job.location), job.location, undefined, true, parseJsonValue) });
      } catch (e) {
        failed.push({ job, error: e });
      }
    }
    // Signers, checked after the AEAD: only values that open (their signer id set by a key
    // holder) cost a directory lookup or a signature verification.
    const signed = options.directory === 'unverified' ? [] : opened.filter((o) => o.job.signed);
    const checks = signed.length > 0 ? await checkSigners(backend, options.directory as SignerDirectory, signed.map((o) => parseEnvelope(o.job.envelope))) : [];
    const checked = new Map(signed.map((o, i) => [o, checks[i]!]));
    for (const { job, error } of failed) walk.failWith(job.target, job.key, job.at, job.coordinate, error);
    for (const o of opened) {
      const { job } = o;
      const check = checked.get(o);
      if (check && !check.ok) {
        walk.fail(job.target, job.key, job.at, job.coordinate, check.code, check.why);
        continue;
      }
      job.target[job.key] = o.value;
      if (check) signers.push({ path: pathOf(job.at, job.key), coordinate: job.coordinate, ...check.signer });
    }
  }
  for (const e of walk.errors) errors.push(e);
  return finish();
}
