/**
 * @module
 * In-process publish/subscribe for subscription events. `publish` hands a payload to every
 * current subscriber of a topic; `subscribe` returns an async iterator of the payloads
 * published after it was called. The embedded default (SQLite, one process) uses it as is;
 * on PostgreSQL, ./pubsub-postgres.ts carries events across instances and delivers them
 * through one of these. Payloads are small (ids, cursors): subscribers read the data.
 *
 * Each subscriber has a bounded queue. A subscriber that does not keep up loses its OLDEST
 * queued payloads (an event says what changed; the newest one is what matters);
 * a publisher is never blocked by a slow subscriber. `return()` (what `for await` calls on
 * break, and what graphql-js calls when a client stops a subscription) unsubscribes at once.
 */

export interface PubSub {
  /** Delivers `payload` to every current subscriber of `topic` (synchronously queued). */
  publish(topic: string, payload: unknown): void;
  /** The payloads published to `topic` from now on, until `return()` is called. */
  subscribe<T = unknown>(topic: string): AsyncIterableIterator<T>;
}

/** A pubsub as the gateway holds it: with a subscriber count (tests, metrics) and a close. */
export interface LocalPubSub extends PubSub {
  /** Current subscribers of a topic in this process. */
  subscriberCount(topic: string): number;
  close(): Promise<void>;
}

export const DEFAULT_SUBSCRIBER_QUEUE = 64;

/**
 * Published (in this process only, payload `{}`) when events may have been missed: the
 * PostgreSQL listener lost its connection and listens again (./pubsub-postgres.ts). A
 * subscriber that acts on events, not just shows them, re-reads the state it watches (a
 * device session re-checks its device: a lost revocation event must not keep it open).
 */
export const RESYNC_TOPIC = 'veilgraph:resync';

interface Subscriber {
  push(payload: unknown): void;
}

export class InMemoryPubSub implements LocalPubSub {
  private readonly topics = new Map<string, Set<Subscriber>>();

  constructor(private readonly maxQueue: number = DEFAULT_SUBSCRIBER_QUEUE) {
    if (!Number.isInteger(maxQueue) || maxQueue < 1) throw new RangeError('maxQueue must be a positive integer');
  }

  /** Current subscribers of a topic (tests, metrics). */
  subscriberCount(topic: string): number {
    return this.topics.get(topic)?.size ?? 0;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  publish(topic: string, payload: unknown): void {
    const subs = this.topics.get(topic);
    if (!subs) return;
    for (const s of [...subs]) s.push(payload);
  }

  subscribe<T = unknown>(topic: string): AsyncIterableIterator<T> {
    const queue: T[] = [];
    const waiting: ((r: IteratorResult<T>) => void)[] = [];
    let done = false;
    const maxQueue = this.maxQueue;

    const subscriber: Subscriber = {
      push(payload) {
        if (done) return;
        const waiter = waiting.shift();
        if (waiter) {
          waiter({ value: payload as T, done: false });
          return;
        }
        queue.push(payload as T);
        if (queue.length > maxQueue) queue.shift();
      },
    };
    let subs = this.topics.get(topic);
    if (!subs) {
      subs = new Set();
      this.topics.set(topic, subs);
    }
    subs.add(subscriber);

    const stop = (): void => {
      if (done) return;
      done = true;
      queue.length = 0;
      const set = this.topics.get(topic);
      if (set) {
        set.delete(subscriber);
        if (set.size === 0) this.topics.delete(topic);
      }
      for (const w of waiting.splice(0)) w({ value: undefined as never, done: true });
    };

    const iterator: AsyncIterableIterator<T> = {
      next() {
        if (queue.length > 0) return Promise.resolve({ value: queue.shift()!, done: false });
        if (done) return Promise.resolve({ value: undefined as never, done: true });
        return new Promise((resolve) => waiting.push(resolve));
      },
      return() {
        stop();
        return Promise.resolve({ value: undefined as never, done: true });
      },
      throw(error?: unknown) {
        stop();
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }
}
