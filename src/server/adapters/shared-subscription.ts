/**
 * @module
 * graphql-ws's `subscribe` for veilgraph: graphql-js's `subscribe`, except that a
 * subscription whose selection is made only of viewer-independent fields
 * (../viewer-independent.ts) is executed once per event object and the result shared by
 * every subscriber with the same document, operation and variables.
 *
 * graphql-js executes the selection once per event *and subscriber*; with 1,000 members of a
 * group on one instance that is 1,000 identical executions of one message. The conversation
 * feed (../services/messaging/conversation-feed.ts) hands the same row object to each of its
 * subscribers, so a result found by that object serves all of them. A key keeps only its
 * newest few results, and goes with its last subscriber: nothing outlives the subscribers. What each subscriber may receive is still decided by its
 * own stream before the event reaches execution (membership, first readable epoch): sharing
 * changes who computes the result, not who gets it.
 *
 * Shared only when every selected field, the root field included, has a resolver marked
 * viewer-independent, and every selected composite type is an object type (an interface or
 * union would ask `resolveType`, which may read the context). Anything else, and any event
 * that is not an object, runs per subscriber exactly as graphql-js does.
 */
import {
  Kind,
  createSourceEventStream,
  execute,
  getNamedType,
  getOperationAST,
  isObjectType,
  print,
  type ExecutionArgs,
  type ExecutionResult,
  type FragmentDefinitionNode,
  type GraphQLObjectType,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
import { isViewerIndependent } from '../viewer-independent.js';

type Result = ExecutionResult | Promise<ExecutionResult>;

/** Whether every field of `set` (on `type`) and below is viewer-independent. */
function selectionShareable(schema: GraphQLSchema, type: GraphQLObjectType, set: SelectionSetNode, fragments: ReadonlyMap<string, FragmentDefinitionNode>, seen: Set<string>): boolean {
  for (const sel of set.selections) {
    if (sel.kind === Kind.FIELD) {
      if (sel.name.value === '__typename') continue;
      const field = type.getFields()[sel.name.value];
      if (!field || !isViewerIndependent(field.resolve)) return false;
      const named = getNamedType(field.type);
      if (sel.selectionSet) {
        if (!isObjectType(named) || !selectionShareable(schema, named, sel.selectionSet, fragments, seen)) return false;
      }
    } else {
      const fragment = sel.kind === Kind.INLINE_FRAGMENT ? sel : fragments.get(sel.name.value);
      if (!fragment) return false;
      if (sel.kind === Kind.FRAGMENT_SPREAD) {
        // Validation forbids cycles; a fragment is checked once per operation.
        if (seen.has(sel.name.value)) continue;
        seen.add(sel.name.value);
      }
      const on = fragment.typeCondition ? schema.getType(fragment.typeCondition.name.value) : type;
      if (on !== type) return false;
      if (!selectionShareable(schema, type, fragment.selectionSet, fragments, seen)) return false;
    }
  }
  return true;
}

/** The sharing key of a subscription whose results may be shared, or null. */
export function shareKey(args: ExecutionArgs): string | null {
  const { schema, document } = args;
  const operation = getOperationAST(document, args.operationName ?? undefined);
  const root = schema.getSubscriptionType();
  if (!operation || operation.operation !== 'subscription' || !root) return null;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  if (!selectionShareable(schema, root, operation.selectionSet, fragments, new Set())) return null;
  return `${args.operationName ?? ''}\u0000${JSON.stringify(args.variableValues ?? {})}\u0000${print(document)}`;
}

/** Maps each value of `source` through `fn`; `return`/`throw` reach the source; `ended` runs once when the stream ends, however it ends. */
function mapEvents<T>(source: AsyncIterator<T>, fn: (value: T) => Result, ended: () => void): AsyncGenerator<ExecutionResult, void, void> {
  const close = async (): Promise<void> => {
    ended();
    await source.return?.();
  };
  const iterator: AsyncGenerator<ExecutionResult, void, void> = {
    async next() {
      const r = await source.next();
      if (r.done) {
        ended();
        return { value: undefined, done: true };
      }
      try {
        return { value: await fn(r.value), done: false };
      } catch (e) {
        await close();
        throw e;
      }
    },
    async return() {
      await close();
      return { value: undefined, done: true };
    },
    async throw(error?: unknown) {
      await close();
      throw error instanceof Error ? error : new Error(String(error));
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
    // Node 20's lib types AsyncGenerator with asyncDispose on newer targets; graphql-ws only needs the above.
  } as AsyncGenerator<ExecutionResult, void, void>;
  return iterator;
}

/**
 * How many of the newest events' results a sharing key keeps. Subscribers of one key take an
 * event at about the same time (one feed wakes them all), so a few suffice; one that comes
 * later executes on its own (the same answer, one more execution). Keeping a result as long
 * as its event lives instead would hold one per key and kept row (a feed keeps up to 2,000),
 * long after the key's subscribers are gone.
 */
const RECENT_RESULTS = 8;

interface SharedKey {
  subscribers: number;
  readonly recent: { readonly event: object; readonly result: Result }[];
}

/** A graphql-ws `subscribe` that shares results as the module comment says; one per schema. */
export function sharedSubscribe(): (args: ExecutionArgs) => Promise<AsyncGenerator<ExecutionResult, void, void> | ExecutionResult> {
  // Sharing key → its live subscribers and its newest results; gone with its last subscriber.
  const keys = new Map<string, SharedKey>();
  return async (args) => {
    const key = shareKey(args);
    const source = await createSourceEventStream(args);
    if (!(Symbol.asyncIterator in source)) return source as ExecutionResult;
    const events = source as AsyncGenerator<unknown>;
    let shared: SharedKey | null = null;
    if (key !== null) {
      shared = keys.get(key) ?? { subscribers: 0, recent: [] };
      keys.set(key, shared);
      shared.subscribers++;
    }
    let ended = false;
    const end = (): void => {
      if (ended || shared === null) return;
      ended = true;
      if (--shared.subscribers === 0 && keys.get(key!) === shared) keys.delete(key!);
    };
    return mapEvents(
      events,
      (event) => {
        const run = (): Result => execute({ ...args, rootValue: event });
        if (shared === null || typeof event !== 'object' || event === null) return run();
        const hit = shared.recent.find((r) => r.event === event);
        if (hit) return hit.result;
        const result = run();
        shared.recent.push({ event, result });
        if (shared.recent.length > RECENT_RESULTS) shared.recent.shift();
        return result;
      },
      end,
    );
  };
}
