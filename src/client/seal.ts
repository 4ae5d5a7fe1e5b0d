/**
 * @module
 * `sealVariables`: replaces every SHARED/PRIVATE input value in an operation's variables
 * by an envelope sealed for its location, before the operation is sent.
 *
 * The walk starts at the operation's field *arguments* (not at the variable definitions),
 * because a value's location depends on where it is written: which input type holds it
 * (`manifest.inputs[Type].fields[f]`: level and coordinate) and which object it writes
 * (the input's `id` field or the field's `id` argument). From each argument it follows
 * the argument's input type through nested input objects and lists, into variables and
 * into literals. A variable used directly at a sealed position (`{ bio: $bio }`, with
 * `$bio: Sealed`) is sealed too. A sealed input field written as a non-null *literal* is
 * refused (SEALED_LITERAL): the plaintext would be in the document.
 *
 * Location rule (docs/client.md): for an input object of type T whose fields write type W
 * (`@writes(type: W)`, with `@owner(field: O, id: I)` on W):
 * 1. `locationFor(T, path, value, context)` when given and it returns a location;
 * 2. otherwise ownerId = the input's own `O` field when it has one, else `viewerId`;
 *    objectId = the input's own `I` field when it has one, else the argument named `I`
 *    (then `id`) of the field the input is passed to (`updateProfile(id: $id, input: $i)`);
 * 3. otherwise LOCATION_UNKNOWN: nothing is sealed or sent.
 */
import {
  Kind,
  getNamedType,
  isInputObjectType,
  isListType,
  isNonNullType,
  valueFromASTUntyped,
  type ArgumentNode,
  type DocumentNode,
  type FieldNode,
  type GraphQLArgument,
  type GraphQLCompositeType,
  type GraphQLInputObjectType,
  type GraphQLInputType,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValueNode,
  isCompositeType,
  isInterfaceType,
  isObjectType,
  typeFromAST,
} from 'graphql';
import type { CryptoBackend } from '../crypto/backend.js';
import { envelopeToText, sealEnvelopeText, sealSignedEnvelope } from '../crypto/envelope.js';
import type { Location } from '../crypto/location.js';
import { PADDING_PADME, type PaddingPolicy } from '../crypto/padding.js';
import type { PrivacyManifest } from '../privacy/manifest.js';
import { VeilClientError } from './errors.js';
import type { ClientKeys, KeyRequest, SealedLevel } from './keys.js';
import { PlanCache, fragmentsOf, rootTypeOf, selectOperation } from './operation.js';

export type Variables = Record<string, unknown>;
export type InputPath = readonly (string | number)[];

/** Where the values of one input object belong. `objectId: null` seals without an object id. */
export interface InputLocation {
  readonly ownerId: string;
  readonly objectId?: string | null;
}

export interface LocationContext {
  /** The name of the field the input is passed to, e.g. `updateProfile`. */
  readonly field: string;
  /** That field's arguments, variables substituted. */
  readonly arguments: Readonly<Record<string, unknown>>;
  readonly viewerId: string | undefined;
}

/**
 * Overrides the location rule for an input object. `path` is where the object is in the
 * operation: `[responseKey, argumentName, …keys and list indices]`, e.g.
 * `['updateProfile', 'input']`. Return undefined to apply the default rule.
 */
export type LocationFor = (inputTypeName: string, path: InputPath, value: Readonly<Record<string, unknown>>, context: LocationContext) => InputLocation | undefined;

export interface SealVariablesOptions {
  /** Source or wire schema (only the type structure is used). */
  readonly schema: GraphQLSchema;
  readonly manifest: PrivacyManifest;
  /** The operation as it will be sent. */
  readonly document: DocumentNode;
  readonly operationName?: string | null;
  readonly variables?: Variables | null;
  readonly keys: ClientKeys;
  readonly backend: CryptoBackend;
  /** The signed-in user: the default owner of what they write. */
  readonly viewerId?: string;
  readonly locationFor?: LocationFor;
}

// ---------------------------------------------------------------------------------------
// Plans: what in a document can hold sealed values. Computed once per document.

interface SealedInputField {
  readonly level: SealedLevel;
  readonly coordinate: string;
  readonly padding: PaddingPolicy;
}

interface InputPlan {
  readonly typeName: string;
  readonly sealed: ReadonlyMap<string, SealedInputField>;
  /** Fields whose type can contain sealed values further down. */
  readonly nested: ReadonlyMap<string, GraphQLInputType>;
  readonly ownerField: string | undefined;
  readonly idField: string;
}

interface ArgSite {
  readonly name: string;
  readonly type: GraphQLInputType;
  readonly value: ValueNode;
}

interface FieldSite {
  readonly responseKey: string;
  readonly fieldName: string;
  readonly argNodes: readonly ArgumentNode[];
  /** Arguments whose type can contain sealed values. */
  readonly args: readonly ArgSite[];
}

interface SealPlan {
  readonly sites: readonly FieldSite[];
  readonly defaults: readonly { readonly name: string; readonly type: GraphQLInputType; readonly value: ValueNode }[];
  readonly inputs: InputPlans;
}

class InputPlans {
  private readonly plans = new Map<GraphQLInputObjectType, InputPlan>();
  private readonly reaches = new Map<GraphQLInputType, boolean>();

  constructor(private readonly manifest: PrivacyManifest) {}

  of(type: GraphQLInputObjectType): InputPlan {
    let p = this.plans.get(type);
    if (p) return p;
    const spec = this.manifest.inputs[type.name];
    const target = spec ? this.manifest.objects[spec.writes] : undefined;
    const sealed = new Map<string, SealedInputField>();
    const nested = new Map<string, GraphQLInputType>();
    for (const f of Object.values(type.getFields())) {
      const fp = spec?.fields[f.name];
      if (fp && (fp.level === 'SHARED' || fp.level === 'PRIVATE')) {
        sealed.set(f.name, { level: fp.level, coordinate: fp.coordinate, padding: fp.pad ? { kind: 'buckets', sizes: fp.pad } : PADDING_PADME });
      } else if (this.canHoldSealed(f.type)) {
        nested.set(f.name, f.type);
      }
    }
    p = { typeName: type.name, sealed, nested, ownerField: target?.owner, idField: target?.id ?? 'id' };
    this.plans.set(type, p);
    return p;
  }

  /** Whether a value of `type` can contain a sealed input field (cycles in input types allowed). */
  canHoldSealed(type: GraphQLInputType): boolean {
    const named = getNamedType(type);
    if (!isInputObjectType(named)) return false;
    let r = this.reaches.get(named);
    if (r === undefined) {
      r = this.search(named);
      this.reaches.set(named, r);
    }
    return r;
  }

  private search(start: GraphQLInputObjectType): boolean {
    const seen = new Set<GraphQLInputObjectType>([start]);
    const stack = [start];
    while (stack.length > 0) {
      const t = stack.pop()!;
      const spec = this.manifest.inputs[t.name];
      for (const f of Object.values(t.getFields())) {
        const level = spec?.fields[f.name]?.level;
        if (level === 'SHARED' || level === 'PRIVATE') return true;
        const n = getNamedType(f.type);
        if (isInputObjectType(n) && !seen.has(n)) {
          seen.add(n);
          stack.push(n);
        }
      }
    }
    return false;
  }
}

const planCache = new PlanCache<SealPlan>();

function buildPlan(schema: GraphQLSchema, manifest: PrivacyManifest, document: DocumentNode, operationName: string | null | undefined): SealPlan {
  const op = selectOperation(document, operationName);
  const fragments = fragmentsOf(document);
  const inputs = new InputPlans(manifest);
  const sites: FieldSite[] = [];
  const seenFragments = new Set<string>();

  const walk = (set: SelectionSetNode, parent: GraphQLCompositeType | undefined): void => {
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        const def = parent && (isObjectType(parent) || isInterfaceType(parent)) ? parent.getFields()[sel.name.value] : undefined;
        if (def) addSite(sel, def.args, inputs, sites);
        if (sel.selectionSet) {
          const t = def ? getNamedType(def.type) : undefined;
          walk(sel.selectionSet, t && isCompositeType(t) ? t : undefined);
        }
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        const t = sel.typeCondition ? schema.getType(sel.typeCondition.name.value) : parent;
        walk(sel.selectionSet, t && isCompositeType(t) ? t : undefined);
      } else {
        const name = sel.name.value;
        if (seenFragments.has(name)) continue;
        seenFragments.add(name);
        const frag = fragments.get(name);
        if (!frag) continue;
        const t = schema.getType(frag.typeCondition.name.value);
        walk(frag.selectionSet, t && isCompositeType(t) ? t : undefined);
      }
    }
  };
  walk(op.selectionSet, rootTypeOf(schema, op));

  const defaults: SealPlan['defaults'][number][] = [];
  for (const v of op.variableDefinitions ?? []) {
    if (!v.defaultValue) continue;
    const type = typeFromAST(schema, v.type) as GraphQLInputType | undefined;
    if (type && inputs.canHoldSealed(type)) defaults.push({ name: v.variable.name.value, type, value: v.defaultValue });
  }
  return { sites, defaults, inputs };
}

function addSite(node: FieldNode, defs: readonly GraphQLArgument[], inputs: InputPlans, sites: FieldSite[]): void {
  if (!node.arguments || node.arguments.length === 0) return;
  const args: ArgSite[] = [];
  for (const a of node.arguments) {
    const def = defs.find((d) => d.name === a.name.value);
    if (def && inputs.canHoldSealed(def.type)) args.push({ name: def.name, type: def.type, value: a.value });
  }
  if (args.length > 0) sites.push({ responseKey: node.alias?.value ?? node.name.value, fieldName: node.name.value, argNodes: node.arguments, args });
}

// ---------------------------------------------------------------------------------------
// Sealing.

interface SealTask extends KeyRequest {
  readonly purpose: 'seal';
  /** Path of the value inside the variables. */
  readonly path: readonly (string | number)[];
  readonly value: unknown;
  readonly padding: PaddingPolicy;
  readonly where: string;
}

class Walk {
  private argValues: Record<string, unknown> | undefined;

  constructor(
    private readonly tasks: Map<string, SealTask>,
    private readonly options: SealVariablesOptions,
    private readonly variables: Variables,
    private readonly inputs: InputPlans,
    private readonly site: FieldSite | undefined,
  ) {}

  /** A literal (or variable) at an argument position. */
  ast(node: ValueNode, type: GraphQLInputType, opPath: (string | number)[]): void {
    if (isNonNullType(type)) return this.ast(node, type.ofType, opPath);
    if (node.kind === Kind.VARIABLE) {
      const name = node.name.value;
      return this.json(this.variables[name], type, [name], opPath);
    }
    if (isListType(type)) {
      if (node.kind === Kind.LIST) node.values.forEach((item, i) => this.ast(item, type.ofType, [...opPath, i]));
      else this.ast(node, type.ofType, opPath);
      return;
    }
    if (!isInputObjectType(type) || node.kind !== Kind.OBJECT) return;
    const plan = this.inputs.of(type);
    let location: InputLocation | undefined;
    for (const f of node.fields) {
      const name = f.name.value;
      const sealed = plan.sealed.get(name);
      if (sealed) {
        if (f.value.kind === Kind.VARIABLE) {
          location ??= this.locate(plan, valueFromASTUntyped(node, this.variables) as Record<string, unknown>, opPath);
          this.task([f.value.name.value], this.variables[f.value.name.value], sealed, location, plan, name);
        } else if (f.value.kind !== Kind.NULL) {
          throw new VeilClientError(
            'SEALED_LITERAL',
            `${plan.typeName}.${name} is ${sealed.level} but is written as a literal in the document (at ${[...opPath, name].join('.')}): pass it in a variable so it can be sealed`,
          );
        }
        continue;
      }
      const nested = plan.nested.get(name);
      if (nested) this.ast(f.value, nested, [...opPath, name]);
    }
  }

  /** A variable's value (or part of it) at a position of type `type`. */
  json(value: unknown, type: GraphQLInputType, path: (string | number)[], opPath: (string | number)[]): void {
    if (value === null || value === undefined) return;
    if (isNonNullType(type)) return this.json(value, type.ofType, path, opPath);
    if (isListType(type)) {
      if (Array.isArray(value)) value.forEach((item, i) => this.json(item, type.ofType, [...path, i], [...opPath, i]));
      else this.json(value, type.ofType, path, opPath);
      return;
    }
    if (!isInputObjectType(type) || typeof value !== 'object' || Array.isArray(value)) return;
    const obj = value as Record<string, unknown>;
    const plan = this.inputs.of(type);
    let location: InputLocation | undefined;
    for (const [name, sealed] of plan.sealed) {
      const v = obj[name];
      if (v === undefined || v === null) continue;
      location ??= this.locate(plan, obj, opPath);
      this.task([...path, name], v, sealed, location, plan, name);
    }
    for (const [name, nested] of plan.nested) this.json(obj[name], nested, [...path, name], [...opPath, name]);
  }

  private task(path: (string | number)[], value: unknown, f: SealedInputField, where: InputLocation, plan: InputPlan, field: string): void {
    if (value === undefined || value === null) return;
    const location: Location = { coordinate: f.coordinate, ownerId: where.ownerId, objectId: where.objectId ?? null };
    const key = JSON.stringify(path);
    const prev = this.tasks.get(key);
    if (prev) {
      const same =
        prev.level === f.level &&
        prev.location.coordinate === location.coordinate &&
        prev.location.ownerId === location.ownerId &&
        prev.location.objectId === location.objectId &&
        JSON.stringify(prev.padding) === JSON.stringify(f.padding);
      if (!same) {
        throw new VeilClientError(
          'AMBIGUOUS_VARIABLE',
          `variable $${path.join('.')} is used for ${prev.where} and ${plan.typeName}.${field}, which need different seals: use one variable per place`,
        );
      }
      return;
    }
    this.tasks.set(key, { purpose: 'seal', level: f.level, location, path, value, padding: f.padding, where: `${plan.typeName}.${field}` });
  }

  private locate(plan: InputPlan, obj: Record<string, unknown>, opPath: (string | number)[]): InputLocation {
    const { locationFor, viewerId } = this.options;
    if (locationFor) {
      const custom = locationFor(plan.typeName, opPath, obj, { field: this.site?.fieldName ?? '', arguments: this.args(), viewerId });
      if (custom) {
        if (typeof custom.ownerId !== 'string' || custom.ownerId.length === 0) {
          throw new VeilClientError('LOCATION_UNKNOWN', `locationFor(${plan.typeName}) returned no ownerId`);
        }
        return custom;
      }
    }
    const ownerId = (plan.ownerField !== undefined ? idText(obj[plan.ownerField]) : undefined) ?? viewerId;
    if (!ownerId) {
      throw new VeilClientError('LOCATION_UNKNOWN', `${plan.typeName} at ${opPath.join('.')}: no owner for its sealed fields: pass viewerId or locationFor`);
    }
    const args = this.args();
    const objectId = idText(obj[plan.idField]) ?? idText(args[plan.idField]) ?? idText(args.id);
    if (objectId === undefined) {
      throw new VeilClientError(
        'LOCATION_UNKNOWN',
        `${plan.typeName} at ${opPath.join('.')}: no object id for its sealed fields (no "${plan.idField}" field in the input, no "${plan.idField}" argument on ${this.site?.fieldName ?? 'the field'}): pass locationFor`,
      );
    }
    return { ownerId, objectId };
  }

  private args(): Record<string, unknown> {
    if (!this.argValues) {
      const out: Record<string, unknown> = {};
      for (const a of this.site?.argNodes ?? []) out[a.name.value] = valueFromASTUntyped(a.value, this.variables);
      this.argValues = out;
    }
    return this.argValues;
  }
}

function idText(v: unknown): string | undefined {
  if (typeof v === 'string' && v.length > 0) return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/** Copies `variables` along `path` only (copy on write) and sets the value there. */
function setAt(root: Variables, copied: Set<object>, path: readonly (string | number)[], value: string): void {
  let container = root as Record<string | number, unknown>;
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i]!;
    let child = container[k] as Record<string | number, unknown>;
    if (!copied.has(child)) {
      child = (Array.isArray(child) ? child.slice() : { ...child }) as Record<string | number, unknown>;
      container[k] = child;
      copied.add(child);
    }
    container = child;
  }
  container[path[path.length - 1]!] = value;
}

/**
 * Returns a copy of `variables` (the input is not modified) in which every SHARED/PRIVATE
 * input value is replaced by its envelope text: the UTF-8 JSON of the value, padded per the
 * manifest's `pad` buckets (PADMÉ otherwise), sealed for `(Type.field, ownerId, objectId)`.
 * Throws (and nothing may be sent) when a location or a key is missing.
 */
export async function sealVariables(options: SealVariablesOptions): Promise<Variables> {
  const { schema, manifest, document, keys, backend } = options;
  const variables = options.variables ?? {};
  const plan = planCache.get(document, schema, manifest, options.operationName ?? '', () => buildPlan(schema, manifest, document, options.operationName));

  const tasks = new Map<string, SealTask>();
  // Default values are literals: the walk only checks they hold no sealed plaintext.
  for (const d of plan.defaults) new Walk(tasks, options, {}, plan.inputs, undefined).ast(d.value, d.type, [`$${d.name}`]);
  for (const site of plan.sites) {
    const w = new Walk(tasks, options, variables, plan.inputs, site);
    for (const a of site.args) w.ast(a.value, a.type, [site.responseKey, a.name]);
  }
  if (tasks.size === 0) return variables;

  const list = [...tasks.values()];
  if (keys.prepare) await keys.prepare(list);
  const out: Variables = { ...variables };
  const copied = new Set<object>([out]);
  for (const t of list) {
    const key = keys.sealingKey(t.level, t.location);
    const signer = keys.signer?.(t.level, t.location);
    const plaintext = JSON.stringify(t.value);
    setAt(
      out,
      copied,
      t.path,
      signer
        ? envelopeToText(await sealSignedEnvelope(backend, key, t.location, plaintext, signer, { padding: t.padding }))
        : sealEnvelopeText(backend, key, t.location, plaintext, { padding: t.padding }),
    );
  }
  return out;
}
