// What shared subscription results (src/server/adapters/shared-subscription.ts) keep alive:
// nothing once a sharing key's subscribers are gone, and only a few of the newest results
// while they are there, however long the events themselves live (a conversation feed keeps
// up to 2,000 rows). Any member chooses as many sharing keys as they like (an alias, an extra
// variable), so a result per key and live event would grow without bound. graphql-js and the
// in-memory pubsub, as the first part of shared-subscription.test.ts; the collector is asked
// to run (V8's gc, exposed for this file) and WeakRefs tell what it could free.
import { makeExecutableSchema } from '@graphql-tools/schema';
import { parse, type ExecutionResult } from 'graphql';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { sharedSubscribe } from '../../src/server/adapters/shared-subscription.js';
import { InMemoryPubSub } from '../../src/server/pubsub.js';
import { viewerIndependent } from '../../src/server/viewer-independent.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function collect(): Promise<void> {
  // WeakRefs made in this job stay alive until it ends: let it end first.
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 0));
    gc();
  }
}

describe('shared subscription results and memory', () => {
  const pubsub = new InMemoryPubSub();
  const schema = makeExecutableSchema({
    typeDefs: `
      type Item { id: ID! }
      type Query { ok: Boolean }
      type Subscription { itemAdded(topic: String!): Item! }
    `,
    resolvers: {
      Subscription: { itemAdded: { subscribe: (_: unknown, args: { topic: string }) => pubsub.subscribe(args.topic), resolve: viewerIndependent((i: object) => i) } },
      Item: { id: { resolve: viewerIndependent((i: { id: string }) => i.id) } },
    },
  });
  const subscribe = sharedSubscribe();
  const query = parse('subscription S($t: String!) { itemAdded(topic: $t) { id } }');

  async function open(variables: Record<string, unknown>) {
    return (await subscribe({ schema, document: query, variableValues: variables, contextValue: {} })) as AsyncGenerator<ExecutionResult>;
  }

  /** One subscriber with its own key: receives `event` once, then unsubscribes; a WeakRef to its result. */
  async function receiveOnce(event: object, junk: string): Promise<WeakRef<object>> {
    const sub = await open({ t: 'mem-a', junk });
    pubsub.publish('mem-a', event);
    const ref = new WeakRef((await sub.next()).value as object);
    await sub.return(undefined);
    return ref;
  }

  it('a result is not kept after its sharing key has no subscriber, though its event lives on', async () => {
    // The event stays reachable (as a conversation feed keeps its rows).
    const event = { id: 'kept' };
    const refs: WeakRef<object>[] = [];
    // Each subscriber its own key (an extra variable the operation does not declare).
    for (let i = 0; i < 5; i++) refs.push(await receiveOnce(event, `k${i}`));
    await collect();
    expect(refs.filter((r) => r.deref() !== undefined)).toHaveLength(0);
    expect(event.id).toBe('kept');
  });

  it('a live key keeps only its newest few results', async () => {
    const sub = await open({ t: 'mem-b' });
    const events: object[] = [];
    const refs: WeakRef<object>[] = [];
    for (let i = 0; i < 50; i++) {
      const event = { id: String(i) };
      events.push(event);
      pubsub.publish('mem-b', event);
      refs.push(new WeakRef((await sub.next()).value as object));
    }
    await collect();
    expect(refs.filter((r) => r.deref() !== undefined).length).toBeLessThanOrEqual(8);
    expect(events).toHaveLength(50);
    await sub.return(undefined);
  });
});
