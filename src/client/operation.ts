/**
 * @module
 * Document helpers shared by sealing, opening and `withVeilFields`: picking the
 * operation, fragment lookup, field collection per concrete type (the same merging rules
 * as GraphQL execution, with `@skip`/`@include` treated as "maybe": what is not in the
 * data is simply not there), and per-document caches.
 *
 * Only the type *structure* of the schema is used (object, interface, union and input
 * object types, field and argument names); which values are sealed comes from the
 * manifest. The source schema and the wire schema have the same structure, so either
 * works.
 */
import {
  BREAK,
  Kind,
  TypeInfo,
  getNamedType,
  isAbstractType,
  isInputObjectType,
  isObjectType,
  typeFromAST,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLInputObjectType,
  type GraphQLObjectType,
  type GraphQLType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import type { PrivacyManifest } from '../privacy/manifest.js';
import { VeilClientError } from './errors.js';

/** The operation to run: the one named, or the only one. */
export function selectOperation(document: DocumentNode, operationName?: string | null): OperationDefinitionNode {
  let found: OperationDefinitionNode | undefined;
  for (const def of document.definitions) {
    if (def.kind !== Kind.OPERATION_DEFINITION) continue;
    if (operationName == null) {
      if (found) throw new VeilClientError('UNKNOWN_OPERATION', 'the document has several operations: pass operationName');
      found = def;
    } else if (def.name?.value === operationName) {
      found = def;
      break;
    }
  }
  if (!found) {
    throw new VeilClientError('UNKNOWN_OPERATION', operationName == null ? 'the document has no operation' : `the document has no operation named ${operationName}`);
  }
  return found;
}

const fragmentCache = new WeakMap<DocumentNode, ReadonlyMap<string, FragmentDefinitionNode>>();

export function fragmentsOf(document: DocumentNode): ReadonlyMap<string, FragmentDefinitionNode> {
  let m = fragmentCache.get(document);
  if (!m) {
    const map = new Map<string, FragmentDefinitionNode>();
    for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) map.set(def.name.value, def);
    fragmentCache.set(document, (m = map));
  }
  return m;
}

export function rootTypeOf(schema: GraphQLSchema, op: OperationDefinitionNode): GraphQLObjectType | undefined {
  return schema.getRootType(op.operation) ?? undefined;
}

/** The object types a value of `type` can have at run time. */
export function possibleTypesOf(schema: GraphQLSchema, type: GraphQLCompositeType): readonly GraphQLObjectType[] {
  return isAbstractType(type) ? schema.getPossibleTypes(type) : [type];
}

/** Whether a fragment with type condition `condition` applies to an object of type `concrete`. */
export function fragmentApplies(schema: GraphQLSchema, condition: string | undefined, concrete: GraphQLObjectType): boolean {
  if (condition === undefined || condition === concrete.name) return true;
  const t = schema.getType(condition);
  return t !== undefined && isAbstractType(t) && schema.isSubType(t, concrete);
}

/**
 * The fields selected on an object of type `concrete` by `selectionSets`, by response key,
 * in order, fragments expanded (each response key lists every field node merged into it).
 */
export function collectFields(
  schema: GraphQLSchema,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  selectionSets: readonly SelectionSetNode[],
  concrete: GraphQLObjectType,
  out: Map<string, FieldNode[]> = new Map(),
  visited: Set<string> = new Set(),
): Map<string, FieldNode[]> {
  for (const set of selectionSets) {
    for (const sel of set.selections) {
      switch (sel.kind) {
        case Kind.FIELD: {
          const key = sel.alias?.value ?? sel.name.value;
          const list = out.get(key);
          if (list) list.push(sel);
          else out.set(key, [sel]);
          break;
        }
        case Kind.INLINE_FRAGMENT:
          if (fragmentApplies(schema, sel.typeCondition?.name.value, concrete)) {
            collectFields(schema, fragments, [sel.selectionSet], concrete, out, visited);
          }
          break;
        case Kind.FRAGMENT_SPREAD: {
          const name = sel.name.value;
          if (visited.has(name)) break;
          visited.add(name);
          const frag = fragments.get(name);
          if (frag && fragmentApplies(schema, frag.typeCondition.name.value, concrete)) {
            collectFields(schema, fragments, [frag.selectionSet], concrete, out, visited);
          }
          break;
        }
      }
    }
  }
  return out;
}

/** Whether `Type.field` is sealed (SHARED or PRIVATE) according to the manifest. */
export function sealedLevelOf(manifest: PrivacyManifest, typeName: string, fieldName: string): 'SHARED' | 'PRIVATE' | undefined {
  const level = manifest.objects[typeName]?.fields[fieldName]?.level;
  return level === 'SHARED' || level === 'PRIVATE' ? level : undefined;
}

/** Whether `type` is an object type the manifest lists with at least one sealed field. */
export function hasSealedFields(manifest: PrivacyManifest, type: GraphQLCompositeType): boolean {
  if (!isObjectType(type)) return false;
  const o = manifest.objects[type.name];
  if (!o) return false;
  for (const name in o.fields) if (sealedLevelOf(manifest, type.name, name)) return true;
  return false;
}

/**
 * A cache keyed by (document, schema, manifest) and then by a string (the operation
 * name): plans are computed once per document and dropped with it.
 */
export class PlanCache<V> {
  private readonly byDoc = new WeakMap<DocumentNode, WeakMap<GraphQLSchema, WeakMap<PrivacyManifest, Map<string, V>>>>();

  get(document: DocumentNode, schema: GraphQLSchema, manifest: PrivacyManifest, key: string, build: () => V): V {
    let bySchema = this.byDoc.get(document);
    if (!bySchema) this.byDoc.set(document, (bySchema = new WeakMap()));
    let byManifest = bySchema.get(schema);
    if (!byManifest) bySchema.set(schema, (byManifest = new WeakMap()));
    let byKey = byManifest.get(manifest);
    if (!byKey) byManifest.set(manifest, (byKey = new Map()));
    let v = byKey.get(key);
    if (v === undefined) byKey.set(key, (v = build()));
    return v;
  }
}

const protectedCache = new PlanCache<boolean>();

/**
 * Whether `document` selects or writes a protected field (manifest level SERVER, SHARED or
 * PRIVATE): a selected field with such a level on its type (or on any concrete type of an
 * interface or union), or an argument or variable whose input type can hold such an input
 * field. The whole document counts (every operation and fragment), which errs on the side
 * of "yes". Cached per (document, schema, manifest).
 */
export function touchesProtectedFields(document: DocumentNode, schema: GraphQLSchema, manifest: PrivacyManifest): boolean {
  return protectedCache.get(document, schema, manifest, '', () => scanProtected(document, schema, manifest));
}

function isProtectedLevel(level: string | undefined): boolean {
  return level !== undefined && level !== 'PUBLIC';
}

function scanProtected(document: DocumentNode, schema: GraphQLSchema, manifest: PrivacyManifest): boolean {
  const reaches = new Map<GraphQLInputObjectType, boolean>();
  const inputHolds = (type: GraphQLType | undefined): boolean => {
    const start = type && getNamedType(type);
    if (!start || !isInputObjectType(start)) return false;
    const known = reaches.get(start);
    if (known !== undefined) return known;
    const seen = new Set<GraphQLInputObjectType>([start]);
    const stack = [start];
    let found = false;
    while (stack.length > 0 && !found) {
      const t = stack.pop()!;
      const spec = manifest.inputs[t.name];
      for (const f of Object.values(t.getFields())) {
        if (isProtectedLevel(spec?.fields[f.name]?.level)) {
          found = true;
          break;
        }
        const n = getNamedType(f.type);
        if (isInputObjectType(n) && !seen.has(n)) {
          seen.add(n);
          stack.push(n);
        }
      }
    }
    reaches.set(start, found);
    return found;
  };
  const typeInfo = new TypeInfo(schema);
  let found = false;
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field(node) {
        const parent = typeInfo.getParentType();
        if (!parent) return undefined;
        const name = node.name.value;
        const types = [parent.name, ...possibleTypesOf(schema, parent).map((t) => t.name)];
        if (!types.some((t) => isProtectedLevel(manifest.objects[t]?.fields[name]?.level))) return undefined;
        found = true;
        return BREAK;
      },
      Argument() {
        if (!inputHolds(typeInfo.getArgument()?.type)) return undefined;
        found = true;
        return BREAK;
      },
      VariableDefinition(node) {
        if (!inputHolds(typeFromAST(schema, node.type))) return undefined;
        found = true;
        return BREAK;
      },
    }),
  );
  return found;
}
