/**
 * @module
 * `withVeilFields`: the document the client actually sends. To open a sealed field the
 * client needs the field's location `(Type.field, ownerId, objectId)`, so every selection
 * set that selects a sealed field also gets
 *
 * - `__typename` (needed for interfaces and unions; kept in the result, as Apollo Client
 *   does), and
 * - `_vgOwner: <owner field>` and `_vgId: <id field>` (the type's `@owner(field, id)`),
 *   directly when the selection set's type is an object type, or inside
 *   `... on Type { … }` for each concrete type of an interface or union that has sealed
 *   fields there. `openResult` reads the location from them and removes them.
 *
 * Aliases starting with `_vg` are reserved: a document that uses one is refused
 * (`RESERVED_ALIAS`). The result is cached per (document, schema, manifest) and is a
 * fixed point: passing it back in returns it unchanged.
 *
 * A document that gains fields is re-parsed from its printed text, so its `loc` (and every
 * node's) describes the veiled text. Clients that send `loc.source.body` instead of
 * printing (urql does, for any document it has keyed) would otherwise send the original
 * text without the added fields, and every sealed field would come back LOCATION_UNKNOWN.
 * The re-parse also drops whatever a client attached to the original document (urql's
 * `__key`, which would map the veiled document back to the original).
 */
import {
  Kind,
  TypeInfo,
  isObjectType,
  parse,
  print,
  visit,
  visitWithTypeInfo,
  type ASTNode,
  type DocumentNode,
  type FieldNode,
  type GraphQLObjectType,
  type GraphQLSchema,
  type InlineFragmentNode,
  type SelectionNode,
  type SelectionSetNode,
} from 'graphql';
import type { PrivacyManifest } from '../privacy/manifest.js';
import { ID_ALIAS, OWNER_ALIAS, RESERVED_ALIAS_PREFIX } from '../privacy/sdl.js';
import { VeilClientError } from './errors.js';
import { PlanCache, collectFields, fragmentsOf, possibleTypesOf, sealedLevelOf } from './operation.js';

// The reserved aliases are shared with the gateway, which recognises exactly these fields.
export { ID_ALIAS, OWNER_ALIAS, RESERVED_ALIAS_PREFIX };

const cache = new PlanCache<DocumentNode>();
const veiled = new WeakSet<DocumentNode>();

function field(name: string, alias?: string): FieldNode {
  return {
    kind: Kind.FIELD,
    name: { kind: Kind.NAME, value: name },
    ...(alias ? { alias: { kind: Kind.NAME, value: alias } } : {}),
  };
}

function veilSelections(owner: string, id: string): FieldNode[] {
  return [field(owner, OWNER_ALIAS), field(id, ID_ALIAS)];
}

/** The concrete types (with their owner/id fields) whose sealed fields `set` selects. */
function typesNeedingLocation(
  schema: GraphQLSchema,
  manifest: PrivacyManifest,
  document: DocumentNode,
  set: SelectionSetNode,
  candidates: readonly GraphQLObjectType[],
): GraphQLObjectType[] {
  const out: GraphQLObjectType[] = [];
  const fragments = fragmentsOf(document);
  for (const t of candidates) {
    if (!manifest.objects[t.name]) continue;
    for (const nodes of collectFields(schema, fragments, [set], t).values()) {
      if (sealedLevelOf(manifest, t.name, nodes[0]!.name.value)) {
        out.push(t);
        break;
      }
    }
  }
  return out;
}

function hasTypename(set: SelectionSetNode): boolean {
  return set.selections.some((s) => s.kind === Kind.FIELD && s.name.value === '__typename' && !s.alias);
}

/**
 * Returns `document` with the location fields added wherever a sealed field is selected
 * (see the module comment). Throws RESERVED_ALIAS if the document uses a `_vg…` alias.
 */
export function withVeilFields(document: DocumentNode, schema: GraphQLSchema, manifest: PrivacyManifest): DocumentNode {
  if (veiled.has(document)) return document;
  return cache.get(document, schema, manifest, '', () => {
    const out = build(document, schema, manifest);
    veiled.add(out);
    return out;
  });
}

function build(document: DocumentNode, schema: GraphQLSchema, manifest: PrivacyManifest): DocumentNode {
  const added = addVeilFields(document, schema, manifest);
  // Unchanged: the original, whose `loc` is still true. Changed: rebuilt (module comment).
  return added === document ? document : parse(print(added));
}

function addVeilFields(document: DocumentNode, schema: GraphQLSchema, manifest: PrivacyManifest): DocumentNode {
  const typeInfo = new TypeInfo(schema);
  return visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field(node) {
        if (node.alias?.value.startsWith(RESERVED_ALIAS_PREFIX)) {
          throw new VeilClientError('RESERVED_ALIAS', `alias ${node.alias.value}: aliases starting with ${RESERVED_ALIAS_PREFIX} are reserved for the client`);
        }
        return undefined;
      },
      SelectionSet: {
        // On leave: the children are done, the user's aliases checked, and our added fields
        // are not visited again.
        leave(node, _key, parent) {
          // Only the selection sets of fields and operations: those of fragments are part of
          // the field selection set they are spread or inlined into, which is handled there.
          const owner = parent as ASTNode | readonly ASTNode[] | undefined;
          if (!owner || Array.isArray(owner)) return undefined;
          const kind = (owner as ASTNode).kind;
          if (kind !== Kind.FIELD && kind !== Kind.OPERATION_DEFINITION) return undefined;
          const named = typeInfo.getParentType();
          if (!named) return undefined;
          const need = typesNeedingLocation(schema, manifest, document, node, possibleTypesOf(schema, named));
          if (need.length === 0) return undefined;
          const added: SelectionNode[] = [];
          if (!hasTypename(node)) added.push(field('__typename'));
          for (const t of need) {
            const o = manifest.objects[t.name]!;
            if (isObjectType(named)) {
              added.push(...veilSelections(o.owner, o.id));
            } else {
              const frag: InlineFragmentNode = {
                kind: Kind.INLINE_FRAGMENT,
                typeCondition: { kind: Kind.NAMED_TYPE, name: { kind: Kind.NAME, value: t.name } },
                selectionSet: { kind: Kind.SELECTION_SET, selections: veilSelections(o.owner, o.id) },
              };
              added.push(frag);
            }
          }
          return { ...node, selections: [...node.selections, ...added] };
        },
      },
    }),
  );
}
