/**
 * Test helper: a raw graphql-transport-ws socket (the protocol of `graphql-ws`), so a test
 * sends exactly the messages it means to, and sees every message and the close code the
 * gateway answers with.
 */
import WebSocket from 'ws';

export interface WsMessage {
  readonly type: string;
  readonly id?: string;
  readonly payload?: unknown;
}

export interface RawSocket {
  readonly ws: WebSocket;
  /** Resolves when the socket closes, with the close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;
  send(message: WsMessage): void;
  /** The next message from the gateway (messages are queued until asked for). */
  next(): Promise<WsMessage>;
  /**
   * Sends `subscribe` and resolves with the first `next` or `error` message for it (an
   * `error` payload is the list of errors).
   */
  subscribe(id: string, query: string, variables?: Record<string, unknown>): Promise<WsMessage>;
  close(): void;
}

/**
 * Opens a socket to `url` (ws://…/graphql). With `init` (a connection_init payload, `{}`
 * for an anonymous one), sends connection_init and waits for connection_ack; with `null`,
 * sends nothing.
 */
export async function openRawSocket(url: string, init: Record<string, unknown> | null = {}): Promise<RawSocket> {
  const ws = new WebSocket(url, 'graphql-transport-ws');
  const queue: WsMessage[] = [];
  const waiting: ((m: WsMessage) => void)[] = [];
  ws.on('message', (data: Buffer) => {
    const m = JSON.parse(data.toString('utf8')) as WsMessage;
    const w = waiting.shift();
    if (w) w(m);
    else queue.push(m);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') })));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const next = (): Promise<WsMessage> => {
    const m = queue.shift();
    if (m) return Promise.resolve(m);
    return new Promise<WsMessage>((resolve, reject) => {
      waiting.push(resolve);
      void closed.then(({ code }) => reject(new Error(`socket closed (${code}) while waiting for a message`)));
    });
  };
  const socket: RawSocket = {
    ws,
    closed,
    send: (message) => ws.send(JSON.stringify(message)),
    next,
    async subscribe(id, query, variables) {
      socket.send({ type: 'subscribe', id, payload: { query, ...(variables ? { variables } : {}) } });
      for (;;) {
        const m = await next();
        if (m.id === id && (m.type === 'next' || m.type === 'error')) return m;
      }
    },
    close: () => ws.close(),
  };
  if (init !== null) {
    socket.send({ type: 'connection_init', payload: init });
    const ack = await next();
    if (ack.type !== 'connection_ack') throw new Error(`expected connection_ack, got ${JSON.stringify(ack)}`);
  }
  return socket;
}

/** The `extensions.code` of each error in an `error` message's payload (or a `next` message's errors). */
export function wsCodes(m: WsMessage): (string | undefined)[] {
  const errors = m.type === 'error' ? (m.payload as { extensions?: { code?: string } }[]) : ((m.payload as { errors?: { extensions?: { code?: string } }[] } | undefined)?.errors ?? []);
  return errors.map((e) => e.extensions?.code);
}

/** The messages of each error in an `error` message's payload (or a `next` message's errors). */
export function wsMessages(m: WsMessage): string[] {
  const errors = m.type === 'error' ? (m.payload as { message: string }[]) : ((m.payload as { errors?: { message: string }[] } | undefined)?.errors ?? []);
  return errors.map((e) => e.message);
}
