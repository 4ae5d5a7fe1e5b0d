// Connection-level bounds of the WebSocket server, over real sockets on loopback from real,
// different client addresses (127.0.0.x): a cap per client address (4901) and in all (4902),
// checked before connection_init is served; trusted proxies name the address; anonymous
// sockets without an active subscription are closed after the idle bound (4903), while
// signed-in sockets and sockets with a running subscription stay.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loopback, openSocket, type TestSocket } from '../helpers/addresses.js';
import { registerAndLogin, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { waitFor, within } from '../helpers/wait.js';

// The documented close codes (docs/requests.md), pinned here as numbers: clients depend on them.
const TOO_MANY_CONNECTIONS_FROM_ADDRESS_CLOSE_CODE = 4901;
const TOO_MANY_CONNECTIONS_CLOSE_CODE = 4902;
const IDLE_CLOSE_CODE = 4903;
const sockets: TestSocket[] = [];
const gateways: TestGateway[] = [];

function open(t: TestGateway, from: Parameters<typeof openSocket>[1] = {}, token?: string): TestSocket {
  const s = openSocket(t.gateway.url.replace(/^http/, 'ws'), from, token);
  sockets.push(s);
  return s;
}

async function start(overrides: Parameters<typeof startTestGateway>[0]): Promise<TestGateway> {
  const t = await startTestGateway(overrides);
  gateways.push(t);
  return t;
}

/** How `s` was closed (fails when it stays open). */
function closeOf(s: TestSocket): Promise<{ code: number; reason: string }> {
  return within(s.closed, 'the socket to be closed');
}

/** Opens sockets from `from` until one is acknowledged (a socket just closed may not be counted out yet). */
async function openOnceCountedOut(t: TestGateway, from: Parameters<typeof openSocket>[1]): Promise<TestSocket> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const s = open(t, from);
    try {
      await s.ack();
      return s;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

afterAll(async () => {
  await Promise.all(sockets.map((s) => s.close()));
  for (const t of gateways) await t.close();
});

describe('connection caps', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await start({ wsMaxConnectionsPerAddress: 3, wsMaxConnections: 5 });
  });

  it('a fourth socket from one address is closed with 4901 and never served; other addresses are not affected; closing one frees a place', async () => {
    const first = [open(t), open(t), open(t)];
    await Promise.all(first.map((s) => s.ack()));
    const fourth = open(t); // sends connection_init as soon as it opens
    const closed = await closeOf(fourth);
    expect(closed).toEqual({ code: TOO_MANY_CONNECTIONS_FROM_ADDRESS_CLOSE_CODE, reason: 'too many connections from this address' });
    expect(fourth.acked()).toBe(false);
    // Another address has places of its own.
    const other = open(t, { localAddress: loopback(1) });
    await other.ack();
    // The first three are untouched.
    expect(first.map((s) => s.ws.readyState)).toEqual([WebSocket.OPEN, WebSocket.OPEN, WebSocket.OPEN]);
    await first[0]!.close();
    await openOnceCountedOut(t, {});
  });

  it('over the total cap a socket is closed with 4902, whatever its address', async () => {
    // 4 open now (3 from 127.0.0.1, 1 from loopback(1)); one more fits, then none.
    const fifth = open(t, { localAddress: loopback(2) });
    await fifth.ack();
    const sixth = open(t, { localAddress: loopback(3) });
    expect(await closeOf(sixth)).toEqual({ code: TOO_MANY_CONNECTIONS_CLOSE_CODE, reason: 'too many connections' });
    expect(sixth.acked()).toBe(false);
    await fifth.close();
    await openOnceCountedOut(t, { localAddress: loopback(3) });
  });

  it('behind a trusted proxy the cap is per forwarded client; an untrusted peer cannot choose its address', async () => {
    const behind = await start({ wsMaxConnectionsPerAddress: 2, trustProxy: ['127.0.0.1'] });
    const via = (client: string) => ({ headers: { 'x-forwarded-for': client } });
    await Promise.all([open(behind, via('198.51.100.1')).ack(), open(behind, via('198.51.100.1')).ack()]);
    expect((await closeOf(open(behind, via('198.51.100.1')))).code).toBe(TOO_MANY_CONNECTIONS_FROM_ADDRESS_CLOSE_CODE);
    // A client cannot escape by prepending addresses: the right-most untrusted hop counts.
    expect((await closeOf(open(behind, via('203.0.113.9, 198.51.100.1')))).code).toBe(TOO_MANY_CONNECTIONS_FROM_ADDRESS_CLOSE_CODE);
    await open(behind, via('198.51.100.2')).ack();
    // 127.0.0.2 is not a trusted proxy: its header is ignored and it counts as itself.
    const direct = (client: string) => ({ localAddress: loopback(1), headers: { 'x-forwarded-for': client } });
    await Promise.all([open(behind, direct('198.51.100.3')).ack(), open(behind, direct('198.51.100.4')).ack()]);
    expect((await closeOf(open(behind, direct('198.51.100.5')))).code).toBe(TOO_MANY_CONNECTIONS_FROM_ADDRESS_CLOSE_CODE);
  });
});

describe('idle anonymous sockets', () => {
  let t: TestGateway;
  let ticks: { push(n: number): void; end(): void } | undefined;

  beforeAll(async () => {
    // The reference schema has no public subscription: a schema author's own one.
    const sdl = 'extend type Subscription {\n  "Public: anyone may listen."\n  ticks: Int!\n}\n';
    const resolvers = {
      Subscription: {
        ticks: {
          subscribe: () => {
            const queue: number[] = [];
            let wake: (() => void) | undefined;
            let done = false;
            ticks = {
              push: (n) => {
                queue.push(n);
                wake?.();
              },
              end: () => {
                done = true;
                wake?.();
              },
            };
            return (async function* () {
              for (;;) {
                while (queue.length > 0) yield { ticks: queue.shift()! };
                if (done) return;
                await new Promise<void>((r) => (wake = r));
              }
            })();
          },
        },
      },
    };
    t = await start({ typeDefs: [sdl], resolvers: [resolvers], wsAnonymousIdleSeconds: 1, tokenTtlSeconds: 300 });
  });


  it('anonymous sockets that only sent connection_init are closed with 4903 (all of them)', async () => {
    const many = Array.from({ length: 20 }, (_, i) => open(t, { localAddress: loopback(10 + (i % 4)) }));
    await Promise.all(many.map((s) => s.ack()));
    const closes = await Promise.all(many.map((s) => closeOf(s)));
    expect(closes).toEqual(many.map(() => ({ code: IDLE_CLOSE_CODE, reason: 'idle: no subscription' })));
  });

  it('a signed-in socket without subscriptions is not closed as idle', async () => {
    const alice = await registerAndLogin(t, 'alice');
    const signedIn = open(t, {}, alice.token);
    await signedIn.ack();
    const anonymous = open(t);
    await anonymous.ack();
    // The anonymous one, opened later, is closed; the signed-in one has been idle longer and stays.
    expect((await closeOf(anonymous)).code).toBe(IDLE_CLOSE_CODE);
    expect(signedIn.ws.readyState).toBe(WebSocket.OPEN);
  });

  /** An anonymous socket with the public subscription running as `id`. */
  async function listeningSocket(id: string): Promise<TestSocket> {
    const s = open(t);
    await s.ack();
    ticks = undefined;
    s.send({ id, type: 'subscribe', payload: { query: 'subscription { ticks }' } });
    await waitFor(() => ticks !== undefined, 'the subscription to start');
    return s;
  }

  it('an anonymous socket stays while a subscription runs, and is closed once it has had none for the idle bound', async () => {
    const listening = await listeningSocket('1');
    const bystander = open(t);
    await bystander.ack();
    expect((await closeOf(bystander)).code).toBe(IDLE_CLOSE_CODE);
    // The bystander came later and was closed: the subscribed socket outlived the idle bound.
    expect(listening.ws.readyState).toBe(WebSocket.OPEN);
    ticks!.push(7);
    await waitFor(() => listening.messages.some((m) => m.type === 'next'), 'the event');
    expect(listening.messages[0]).toEqual({ id: '1', type: 'next', payload: { data: { ticks: 7 } } });
    ticks!.end();
    await waitFor(() => listening.messages.some((m) => m.type === 'complete'), 'the completion');
    expect(await closeOf(listening)).toEqual({ code: IDLE_CLOSE_CODE, reason: 'idle: no subscription' });
  });

  it('refused subscribes (every one fails at once: no viewer) do not keep an anonymous socket open', async () => {
    const s = open(t);
    await s.ack();
    // One refused subscribe every 200 ms, five times the idle bound and more, until it is closed.
    let n = 0;
    const sending = setInterval(() => {
      if (s.ws.readyState === WebSocket.OPEN) s.send({ id: String(++n), type: 'subscribe', payload: { query: 'subscription { contactEvents { kind } }' } });
    }, 200);
    try {
      expect(await closeOf(s)).toEqual({ code: IDLE_CLOSE_CODE, reason: 'idle: no subscription' });
    } finally {
      clearInterval(sending);
    }
    expect(n).toBeGreaterThan(0);
  });

  it('an anonymous socket whose client completed its subscription is closed as idle too', async () => {
    const listening = await listeningSocket('a');
    listening.send({ id: 'a', type: 'complete' });
    expect((await closeOf(listening)).code).toBe(IDLE_CLOSE_CODE);
  });
});
