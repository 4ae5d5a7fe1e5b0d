/**
 * @module
 * Limits every operation must fit before it executes, the same on every transport:
 *
 * - depth: the longest chain of nested selections (fragments expanded);
 * - aliases: the number of aliased fields (aliases let one request repeat expensive
 *   fields);
 * - cost: each selected field costs 1, multiplied by the size of every list it is nested
 *   in: a field's literal `first` argument, else `defaultListSize` (for a variable `first`,
 *   or a list-typed field without `first` that is not directly inside a paged field).
 *
 * Violations are validation errors with `extensions.code` QUERY_TOO_COMPLEX.
 */
import {
  GraphQLError,
  Kind,
  getNamedType,
  getNullableType,
  isInterfaceType,
  isListType,
  isObjectType,
  type GraphQLNamedType,
  type ASTVisitor,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { RESERVED_ALIAS_PREFIX } from '../privacy/sdl.js';

export interface QueryLimits {
  readonly maxDepth: number;
  readonly maxAliases: number;
  readonly maxCost: number;
  readonly defaultListSize: number;
}

export const DEFAULT_LIMITS: QueryLimits = { maxDepth: 12, maxAliases: 30, maxCost: 20_000, defaultListSize: 50 };

interface Measure {
  depth: number;
  aliases: number;
  cost: number;
}

export function createLimitsRule(limits: QueryLimits = DEFAULT_LIMITS): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const d of context.getDocument().definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);

    const schema = context.getSchema();

    // `parent` is the type the selection set is on (null once unknown: other rules report it);
    // `paged` says the enclosing field had a `first` argument, so a list directly below it
    // (a connection's nodes or edges) is already counted.
    const measure = (
      set: SelectionSetNode,
      parent: GraphQLNamedType | null,
      multiplier: number,
      paged: boolean,
      seen: ReadonlySet<string>,
      m: Measure,
      depth: number,
    ): void => {
      if (depth > m.depth) m.depth = depth;
      // Stop early: a hostile document cannot make this walk expensive.
      if (m.depth > limits.maxDepth || m.cost > limits.maxCost) return;
      for (const sel of set.selections) {
        if (sel.kind === Kind.FIELD) {
          // The client link's own `_vg…` aliases (owner and id of sealed objects) are not
          // the caller's: they would otherwise eat the budget of every sealed selection.
          if (sel.alias && !sel.alias.value.startsWith(RESERVED_ALIAS_PREFIX)) m.aliases++;
          m.cost += multiplier;
          if (!sel.selectionSet) continue;
          const def = parent && (isObjectType(parent) || isInterfaceType(parent)) ? parent.getFields()[sel.name.value] : undefined;
          const first = sel.arguments?.find((a) => a.name.value === 'first');
          let size = 1;
          if (first) size = first.value.kind === Kind.INT ? Math.max(1, Number(first.value.value)) : limits.defaultListSize;
          else if (def && isListType(getNullableType(def.type)) && !paged) size = limits.defaultListSize;
          measure(sel.selectionSet, def ? getNamedType(def.type) : null, multiplier * size, first !== undefined, seen, m, depth + 1);
        } else if (sel.kind === Kind.INLINE_FRAGMENT) {
          const t = sel.typeCondition ? (schema.getType(sel.typeCondition.name.value) ?? null) : parent;
          measure(sel.selectionSet, t, multiplier, paged, seen, m, depth);
        } else {
          const name = sel.name.value;
          const frag = fragments.get(name);
          if (!frag || seen.has(name)) continue; // unknown or cyclic: other rules report it
          measure(frag.selectionSet, schema.getType(frag.typeCondition.name.value) ?? null, multiplier, paged, new Set([...seen, name]), m, depth);
        }
      }
    };

    return {
      OperationDefinition(op) {
        const m: Measure = { depth: 0, aliases: 0, cost: 0 };
        const root = schema.getRootType(op.operation) ?? null;
        measure(op.selectionSet, root, 1, false, new Set(), m, 1);
        const name = op.name?.value ?? 'anonymous operation';
        const fail = (what: string): void => {
          context.reportError(new GraphQLError(`${name}: ${what}`, { nodes: [op], extensions: { code: 'QUERY_TOO_COMPLEX' } }));
        };
        if (m.depth > limits.maxDepth) fail(`depth exceeds the limit of ${limits.maxDepth}`);
        if (m.aliases > limits.maxAliases) fail(`${m.aliases} aliases exceed the limit of ${limits.maxAliases}`);
        if (m.cost > limits.maxCost) fail(`estimated cost exceeds the limit of ${limits.maxCost}`);
      },
    };
  };
}
