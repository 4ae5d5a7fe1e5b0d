/**
 * Requests and WebSockets from chosen client addresses, for per-address decisions (rate
 * limits, connection caps): on Linux every 127.0.0.0/8 address is loopback, so a request
 * bound to 127.0.0.7 reaches a gateway on 127.0.0.1 from a real, different address. Headers
 * (X-Forwarded-For) can be added as a proxy would.
 */
import { request } from 'node:http';
import WebSocket from 'ws';
import type { GqlResponse } from './gateway.js';

export interface From {
  /** The local address to connect from (default: the system's choice, 127.0.0.1). */
  readonly localAddress?: string;
  readonly headers?: Record<string, string>;
}

/** The n-th loopback address other than 127.0.0.1 (n ≥ 1): 127.0.0.2, …, 127.0.1.x, … */
export function loopback(n: number): string {
  const v = n + 1;
  return `127.0.${Math.floor(v / 256)}.${v % 256}`;
}

/** POSTs one GraphQL operation from `from`. */
export function gqlFrom<T = Record<string, unknown>>(url: string, from: From, query: string, variables?: Record<string, unknown>, token?: string): Promise<GqlResponse<T>> {
  const body = JSON.stringify({ query, variables });
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        ...(from.localAddress ? { localAddress: from.localAddress } : {}),
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(token ? { authorization: `Bearer ${token}` } : {}), ...from.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            resolve({ ...(JSON.parse(Buffer.concat(chunks).toString('utf8')) as GqlResponse<T>), status: res.statusCode ?? 0 });
          } catch (e) {
            reject(e instanceof Error ? e : new Error(String(e)));
          }
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export interface TestSocket {
  readonly ws: WebSocket;
  /** Resolves with the close code and reason, whenever the socket closes. */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Whether the server acknowledged connection_init. */
  acked(): boolean;
  /** Resolves once acknowledged; rejects when the socket closes first. */
  ack(): Promise<void>;
  /** Messages of type next/error/complete received so far. */
  readonly messages: { id?: string; type: string; payload?: unknown }[];
  send(message: Record<string, unknown>): void;
  /** Closes from our side and waits until closed. */
  close(): Promise<void>;
}

/**
 * Opens a graphql-transport-ws socket from `from` and sends connection_init at once (with
 * `token` when given). Nothing is awaited: use `ack()` or `closed`.
 */
export function openSocket(wsUrl: string, from: From = {}, token?: string): TestSocket {
  const ws = new WebSocket(wsUrl, 'graphql-transport-ws', { ...(from.localAddress ? { localAddress: from.localAddress } : {}), ...(from.headers ? { headers: from.headers } : {}) });
  let isAcked = false;
  const messages: TestSocket['messages'] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') })));
  const ack = new Promise<void>((resolve, reject) => {
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as { id?: string; type: string; payload?: unknown };
      if (m.type === 'connection_ack') {
        isAcked = true;
        resolve();
      } else if (m.type === 'ping') {
        ws.send(JSON.stringify({ type: 'pong' }));
      } else {
        messages.push(m);
      }
    });
    void closed.then(({ code, reason }) => reject(new Error(`closed before connection_ack: ${code} ${reason}`)));
  });
  ack.catch(() => undefined);
  ws.on('error', () => undefined); // a refused upgrade or reset shows as a close
  ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: token ? { token } : {} })));
  return {
    ws,
    closed,
    acked: () => isAcked,
    ack: () => ack,
    messages,
    send: (message) => ws.send(JSON.stringify(message)),
    async close() {
      if (ws.readyState !== WebSocket.CLOSED) ws.close(1000);
      await closed;
    },
  };
}
