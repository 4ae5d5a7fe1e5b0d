/**
 * @module
 * Limits every operation must fit before it executes, the same on every transport (HTTP
 * through Apollo, WebSocket through graphql-ws); docs/requests.md states them for clients.
 *
 * - tokens: graphql-js's own `maxTokens` stops the parser at `maxTokens` lexical tokens, so
 *   a huge document costs no more than a small one to refuse;
 * - directives: at most `maxDirectives` per operation, fragments counted where spread
 *   (graphql-armor's max-directives rule);
 * - depth: the longest chain of nested selections (fragments expanded);
 * - aliases: every aliased field counts, except the two the client link adds next to sealed
 *   fields (`_vgOwner: <owner field>`, `_vgId: <id field>` of an owned object type, with no
 *   arguments, directives or sub-selections), once per type in each field's selection set;
 * - cost: each selected field costs 1, multiplied by the size of every list it is nested in.
 *   A field with a `first` argument is a page of `first` (its value, from a literal, a
 *   variable or the argument's default); a list field with list arguments (ids in, results
 *   out) is as long as its longest list argument; any other list field not directly inside
 *   a page is `defaultListSize` long.
 *
 * Validation rules see no variables, so validation costs each variable-sized list at its
 * least (1) and refuses only what no variables can save; `checkCost` costs the operation
 * again with the request's variables before it executes. Violations are QUERY_TOO_COMPLEX.
 * A document that does not parse is GRAPHQL_PARSE_FAILED; one nested too deeply for the
 * recursive parser gets a generic message instead of the engine's stack overflow.
 */
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import {
  GraphQLError,
  Kind,
  Lexer,
  Source,
  TokenKind,
  getNamedType,
  getNullableType,
  getVariableValues,
  isInterfaceType,
  isListType,
  isObjectType,
  parse,
  type ASTVisitor,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import type { PrivacyManifest } from '../privacy/manifest.js';
import { ID_ALIAS, OWNER_ALIAS } from '../privacy/sdl.js';

export interface QueryLimits {
  readonly maxDepth: number;
  readonly maxAliases: number;
  readonly maxCost: number;
  /** Length assumed for a list whose size no argument gives. */
  readonly defaultListSize: number;
  /** Most lexical tokens in one document (`{`, a name, a string: one each). */
  readonly maxTokens: number;
  /** Most directives in one operation, fragments counted where spread. */
  readonly maxDirectives: number;
}

export const DEFAULT_LIMITS: QueryLimits = { maxDepth: 12, maxAliases: 30, maxCost: 20_000, defaultListSize: 50, maxTokens: 1_000, maxDirectives: 50 };

/** The limits of one gateway, with the manifest that says which `_vg` fields are the link's. */
export interface RequestLimits {
  readonly limits: QueryLimits;
  /** Validation rules: depth, aliases, directives, and cost as far as it is known without variables. */
  readonly rules: readonly ValidationRule[];
  /** Parses with the token limit; throws what `parseFailure` returns. */
  parse(source: string): DocumentNode;
  /** The coded error for a document that failed to parse (for servers that parse themselves). */
  parseFailure(source: string, error: unknown): GraphQLError;
  /**
   * QUERY_TOO_COMPLEX when `source` has more tokens than the limit, else undefined: for a
   * document a server parsed without the token limit. Lexes at most the limit + 1 tokens.
   */
  tokenLimitError(source: string): GraphQLError | undefined;
  /** QUERY_TOO_COMPLEX when `operation` with these variables costs too much; undefined otherwise. */
  checkCost(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables: Readonly<Record<string, unknown>> | undefined): GraphQLError | undefined;
}

function tooComplex(message: string, node?: OperationDefinitionNode): GraphQLError {
  return new GraphQLError(message, { ...(node ? { nodes: [node] } : {}), extensions: { code: 'QUERY_TOO_COMPLEX' } });
}

/** The limits, over the defaults, for `manifest`'s owned types (none: every alias counts). */
export function createRequestLimits(overrides: Partial<QueryLimits> = {}, manifest?: PrivacyManifest): RequestLimits {
  const limits: QueryLimits = { ...DEFAULT_LIMITS, ...overrides };
  const parseFailure = (source: string, error: unknown): GraphQLError => classifyParseFailure(source, error, limits.maxTokens);
  return {
    limits,
    rules: [createLimitsRule(limits, manifest), createDirectivesRule(limits)],
    parse(source) {
      try {
        return parse(source, { maxTokens: limits.maxTokens });
      } catch (e) {
        throw parseFailure(source, e);
      }
    },
    parseFailure,
    tokenLimitError(source) {
      return countTokens(source, limits.maxTokens) > limits.maxTokens ? tooComplex(`the document has more than ${limits.maxTokens} tokens`) : undefined;
    },
    checkCost(schema, document, operation, variables) {
      const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables ?? {}, { maxErrors: 1 });
      // Variables that do not coerce stop the operation before any resolver runs.
      if (coerced.errors) return undefined;
      const m = measureOperation(schema, manifest, document, operation, coerced.coerced, limits);
      if (m.cost <= limits.maxCost) return undefined;
      return tooComplex(`${operationLabel(operation)}: estimated cost exceeds the limit of ${limits.maxCost}`, operation);
    },
  };
}

// ---------------------------------------------------------------------------------------
// Parsing

const GENERIC_PARSE_FAILURE = 'Syntax Error: the document could not be parsed.';

/** How many tokens `source` has, counting no further than `max + 1`; lexing errors end the count. */
function countTokens(source: string, max: number): number {
  const lexer = new Lexer(new Source(source));
  let n = 0;
  try {
    while (n <= max && lexer.advance().kind !== TokenKind.EOF) n++;
  } catch {
    // A lexing error: the tokens before it are all there are.
  }
  return n;
}

function classifyParseFailure(source: string, error: unknown, maxTokens: number): GraphQLError {
  const parseFailed = (message: string, from?: GraphQLError): GraphQLError =>
    new GraphQLError(message, { ...(from?.source && from.positions ? { source: from.source, positions: from.positions } : {}), extensions: { code: 'GRAPHQL_PARSE_FAILED' } });
  // Not a syntax error: the recursive parser ran out of stack (or worse). Say nothing of it.
  if (!(error instanceof GraphQLError)) return parseFailed(GENERIC_PARSE_FAILURE);
  if (countTokens(source, maxTokens) > maxTokens) return tooComplex(`the document has more than ${maxTokens} tokens`);
  return parseFailed(error.message, error);
}

// ---------------------------------------------------------------------------------------
// Directives

function createDirectivesRule(limits: QueryLimits): ValidationRule {
  return maxDirectivesRule({
    n: limits.maxDirectives,
    // Report as a validation error with our code instead of throwing out of `validate`.
    propagateOnRejection: false,
    onReject: [(context) => context?.reportError(tooComplex(`the operation's directives exceed the limit of ${limits.maxDirectives}`))],
  }) as unknown as ValidationRule;
}

// ---------------------------------------------------------------------------------------
// Depth, aliases, cost

interface Measure {
  depth: number;
  aliases: number;
  cost: number;
}

/** A variable whose value validation cannot know. */
const UNKNOWN = Symbol('unknown');

type Variables = Readonly<Record<string, unknown>> | null;

function operationLabel(op: OperationDefinitionNode): string {
  return op.name?.value ?? 'anonymous operation';
}

function argumentValue(def: GraphQLArgument, node: FieldNode, variables: Variables): unknown {
  const arg = node.arguments?.find((a) => a.name.value === def.name);
  if (!arg) return def.defaultValue;
  const v = arg.value;
  if (v.kind === Kind.VARIABLE) {
    if (variables === null) return UNKNOWN;
    return Object.hasOwn(variables, v.name.value) ? variables[v.name.value] : def.defaultValue;
  }
  if (v.kind === Kind.INT) return Number(v.value);
  if (v.kind === Kind.LIST) return v.values.length;
  return v.kind === Kind.NULL ? null : 1;
}

/**
 * How many times the selections below `node` run: `size`, and whether `node` is a page
 * (then a list directly below it, a connection's nodes, is that page and costs no more).
 */
function listSize(def: GraphQLField<unknown, unknown> | undefined, node: FieldNode, variables: Variables, paged: boolean, limits: QueryLimits): { size: number; paged: boolean } {
  if (!def) return { size: 1, paged: false };
  const first = def.args.find((a) => a.name === 'first');
  if (first) {
    // A page that is a connection object: the list directly below it (its nodes) is the
    // page. A page that is itself a list: its items are the page, and lists inside them
    // are lists of their own.
    const page = !isListType(getNullableType(def.type));
    const v = argumentValue(first, node, variables);
    if (v === UNKNOWN) return { size: 1, paged: page };
    return { size: typeof v === 'number' && Number.isFinite(v) ? Math.max(1, Math.trunc(v)) : limits.defaultListSize, paged: page };
  }
  if (!isListType(getNullableType(def.type)) || paged) return { size: 1, paged: false };
  let size: number | undefined;
  for (const a of def.args) {
    if (!isListType(getNullableType(a.type))) continue;
    const v = argumentValue(a, node, variables);
    // A literal list is counted by `argumentValue`; a variable's value is an array, or one
    // value that input coercion makes a list of one.
    const n = v === UNKNOWN ? 1 : Array.isArray(v) ? v.length : typeof v === 'number' ? v : v === null || v === undefined ? undefined : 1;
    if (n !== undefined) size = Math.max(size ?? 1, n);
  }
  return { size: size ?? limits.defaultListSize, paged: false };
}

/** The fixed cost of an introspection field (docs/requests.md, "Limits"); they exist only on the query root. */
export const INTROSPECTION_COST: ReadonlyMap<string, number> = new Map([
  ['__schema', 5_000],
  ['__type', 100],
]);

/** Whether `sel` is one of the fields the client link adds to a selection set on `parent`. */
function isLinkField(sel: FieldNode, parent: GraphQLNamedType | null, manifest: PrivacyManifest | undefined, scope: Set<string>): boolean {
  if (!parent || !isObjectType(parent) || !sel.alias) return false;
  const owned = manifest?.objects[parent.name];
  if (!owned) return false;
  const alias = sel.alias.value;
  const field = alias === OWNER_ALIAS ? owned.owner : alias === ID_ALIAS ? owned.id : undefined;
  if (field === undefined || sel.name.value !== field) return false;
  if (sel.arguments?.length || sel.directives?.length || sel.selectionSet) return false;
  // Once per type in the field's selection set: that is all the link ever adds.
  const key = `${parent.name}.${alias}`;
  if (scope.has(key)) return false;
  scope.add(key);
  return true;
}

function measureOperation(
  schema: GraphQLSchema,
  manifest: PrivacyManifest | undefined,
  document: DocumentNode,
  op: OperationDefinitionNode,
  variables: Variables,
  limits: QueryLimits,
): Measure {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const m: Measure = { depth: 0, aliases: 0, cost: 0 };

  // `parent` is the type the selection set is on (null once unknown: other rules report it);
  // `paged` says the enclosing field is a page; `scope` holds the link fields already let
  // through in the enclosing field's selection set (inline fragments and spreads share it).
  const walk = (set: SelectionSetNode, parent: GraphQLNamedType | null, multiplier: number, paged: boolean, seen: ReadonlySet<string>, depth: number, scope: Set<string>): void => {
    if (depth > m.depth) m.depth = depth;
    // Stop early: a hostile document (a fragment bomb, say) cannot make this walk expensive.
    if (m.depth > limits.maxDepth || m.cost > limits.maxCost) return;
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        if (sel.alias && !isLinkField(sel, parent, manifest, scope)) m.aliases++;
        m.cost += multiplier;
        const introspection = INTROSPECTION_COST.get(sel.name.value);
        if (introspection !== undefined) {
          // Answered from the schema: its size is the schema's, whatever is selected below,
          // so a fixed cost, nothing below walked (a tool's introspection query nests deeper
          // than any data query). One fits the default budget; a few copies do not.
          m.cost += multiplier * (introspection - 1);
          continue;
        }
        if (!sel.selectionSet) continue;
        const def = parent && (isObjectType(parent) || isInterfaceType(parent)) ? parent.getFields()[sel.name.value] : undefined;
        const size = listSize(def, sel, variables, paged, limits);
        walk(sel.selectionSet, def ? getNamedType(def.type) : null, multiplier * size.size, size.paged, seen, depth + 1, new Set());
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        const t = sel.typeCondition ? (schema.getType(sel.typeCondition.name.value) ?? null) : parent;
        walk(sel.selectionSet, t, multiplier, paged, seen, depth, scope);
      } else {
        const name = sel.name.value;
        const frag = fragments.get(name);
        if (!frag || seen.has(name)) continue; // unknown or cyclic: other rules report it
        walk(frag.selectionSet, schema.getType(frag.typeCondition.name.value) ?? null, multiplier, paged, new Set([...seen, name]), depth, scope);
      }
    }
  };
  walk(op.selectionSet, schema.getRootType(op.operation) ?? null, 1, false, new Set(), 1, new Set());
  return m;
}

/** Depth, aliases, and cost with every variable-sized list at its least. */
export function createLimitsRule(limits: QueryLimits = DEFAULT_LIMITS, manifest?: PrivacyManifest): ValidationRule {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(op) {
      const m = measureOperation(context.getSchema(), manifest, context.getDocument(), op, null, limits);
      const fail = (what: string): void => context.reportError(tooComplex(`${operationLabel(op)}: ${what}`, op));
      if (m.depth > limits.maxDepth) fail(`depth exceeds the limit of ${limits.maxDepth}`);
      if (m.aliases > limits.maxAliases) fail(`${m.aliases} aliases exceed the limit of ${limits.maxAliases}`);
      if (m.cost > limits.maxCost) fail(`estimated cost exceeds the limit of ${limits.maxCost}`);
    },
  });
}
