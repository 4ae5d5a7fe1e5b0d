/**
 * @module
 * Subscription events across gateway instances through PostgreSQL LISTEN/NOTIFY, behind
 * the same `PubSub` interface as the in-process one (./pubsub.ts).
 *
 * - `publish` sends `NOTIFY` on one channel with `{ t: topic, p: payload }` as JSON. It is
 *   called after the write it announces has committed (the resolvers publish after the
 *   store call returned), so a listener never hears of a change it cannot read yet.
 *   Payloads are small by contract (ids and cursors, never rows or ciphertext): at most
 *   `MAX_NOTIFY_PAYLOAD_BYTES`; PostgreSQL's own limit is 8,000 bytes.
 * - Every instance, the publishing one included, LISTENs on one dedicated connection and
 *   hands each notification to its in-process pubsub, so local and remote subscribers
 *   see events in the one order PostgreSQL delivers them.
 * - A lost listening connection is re-opened with backoff; notifications sent while it was
 *   down are not replayed (LISTEN/NOTIFY is not a queue). Anything that must not be missed
 *   is read back by cursor from the database (messages), which is what clients do when
 *   they reconnect; once listening again, the instance publishes `RESYNC_TOPIC` locally so
 *   that watchers re-read what they watch (device sessions re-check their device).
 */
import pg from 'pg';
import type { Logger } from './log.js';
import { InMemoryPubSub, RESYNC_TOPIC, type LocalPubSub } from './pubsub.js';

/** The NOTIFY channel (an identifier: no quoting needed). */
export const NOTIFY_CHANNEL = 'veilgraph_events';
/** Largest JSON payload `publish` sends. */
export const MAX_NOTIFY_PAYLOAD_BYTES = 2048;
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5000;

export class PostgresPubSub implements LocalPubSub {
  private readonly local = new InMemoryPubSub();
  private listener: pg.Client | null = null;
  private closed = false;
  private reconnectDelay = RECONNECT_MIN_MS;
  private reconnectTimer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly url: string,
    private readonly publisher: pg.Pool,
    private readonly log: Logger,
  ) {}

  /** Connects the listening connection (and a small pool for NOTIFY) before returning. */
  static async start(url: string, log: Logger): Promise<PostgresPubSub> {
    // One publishing connection: NOTIFYs from this instance reach PostgreSQL in publish order.
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    pool.on('error', () => undefined); // idle-client errors: the next query reconnects
    const pubsub = new PostgresPubSub(url, pool, log);
    await pubsub.listen();
    return pubsub;
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url });
    client.on('notification', (n) => this.deliver(n.payload));
    client.on('error', (e) => {
      this.log.warn('pubsub.listener_error', { error: e.message });
      void client.end().catch(() => undefined);
      this.scheduleReconnect();
    });
    await client.connect();
    await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
    this.listener = client;
    this.reconnectDelay = RECONNECT_MIN_MS;
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    this.listener = null;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, RECONNECT_MAX_MS);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.listen().then(
        () => {
          this.log.info('pubsub.listener_reconnected', {});
          // Notifications sent while it was down are gone: let watchers re-read what they watch.
          this.local.publish(RESYNC_TOPIC, {});
        },
        () => this.scheduleReconnect(),
      );
    }, delay);
    this.reconnectTimer.unref();
  }

  private deliver(text: string | undefined): void {
    if (!text) return;
    let message: { t?: unknown; p?: unknown };
    try {
      message = JSON.parse(text) as typeof message;
    } catch {
      return; // not ours
    }
    if (typeof message.t === 'string') this.local.publish(message.t, message.p);
  }

  publish(topic: string, payload: unknown): void {
    const text = JSON.stringify({ t: topic, p: payload });
    if (Buffer.byteLength(text, 'utf8') > MAX_NOTIFY_PAYLOAD_BYTES) {
      throw new RangeError(`event payloads are ids and cursors: ${topic}'s is over ${MAX_NOTIFY_PAYLOAD_BYTES} bytes`);
    }
    // pg_notify takes the channel and payload as parameters (no SQL built from the payload).
    this.publisher.query('SELECT pg_notify($1, $2)', [NOTIFY_CHANNEL, text]).catch((e: unknown) => {
      this.log.warn('pubsub.notify_failed', { topic, error: e instanceof Error ? e.message : String(e) });
    });
  }

  subscribe<T = unknown>(topic: string): AsyncIterableIterator<T> {
    return this.local.subscribe<T>(topic);
  }

  subscriberCount(topic: string): number {
    return this.local.subscriberCount(topic);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    await this.listener?.end().catch(() => undefined);
    await this.publisher.end().catch(() => undefined);
  }
}
