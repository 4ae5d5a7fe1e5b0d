/**
 * @module
 * Messaging suite (issue 6's performance items): live fan-out of a group conversation to
 * N subscribers against plain graphql-ws in the same run, the cost of one group send by
 * group size, and the rekey that removing a member costs.
 *
 * One real gateway (`startGateway`, production settings, a temp SQLite dir, auth limits
 * roomy enough for every user to register from 127.0.0.1) holds all of it:
 *
 * - **Users.** A creator plus up to 999 others, each with its own identity, registered and
 *   logged in through the API (session helpers of src/client/session.ts). Only the creator
 *   has a `Messenger` (with a `KeyDirectory`); the others only need their tokens.
 * - **Fan-out** (N = 100 and 1,000; quick: 100). A GROUP of N members (creator + N − 1)
 *   created with `Messenger.create`; each member has its own WebSocket speaking
 *   graphql-transport-ws, subscribed to `messageAdded(conversationId)` selecting
 *   `seq conversationId clientId epoch body createdAt`. The creator (a subscriber too) sends
 *   M pre-sealed messages with `sendMessage` over HTTP, one at a time (the next send starts
 *   when the previous response arrived). deliveries/s = N × M / (last delivery − first send);
 *   latency of a delivery = its receipt time − the moment its send started.
 *   **Baseline:** a plain graphql-ws server (`useServer` from `graphql-ws/use/ws` on a `ws`
 *   WebSocketServer, 127.0.0.1) with a minimal schema: `publish(m)` over HTTP (bare
 *   graphql-js `execute`, documents cached) hands the message object to an in-memory pubsub
 *   (src/server/pubsub.ts, queues large enough never to drop), and `messageAdded` yields it.
 *   Same N sockets, same subscription document, same sender pattern (M POSTs one at a
 *   time), and the same message objects: each plain round publishes what the gateway
 *   delivered in the latest gateway round, and every plain frame must be byte-identical to
 *   the gateway's frame of that message.
 * - **Client side on another thread.** The sender and all subscriber sockets run in one
 *   worker thread (the box has 2 cores: servers on the main thread, clients on the other).
 *   The subscriber side is a minimal graphql-transport-ws client on `ws` (connection_init
 *   with the token, subscribe, next) that finds the clientId in each frame by string search
 *   instead of parsing it, so the client thread stays far from saturation. Every subscriber
 *   must receive every message exactly once with identical bytes, or the suite fails.
 * - **Rounds.** Each side is first primed (messages until every socket has received one, so
 *   every subscription is live), then runs one untimed warm-up round, then timed rounds
 *   alternating the order (gateway, plain / plain, gateway, …). The event-loop utilisation
 *   of both threads is recorded per round, to show which side is the bottleneck.
 * - **Group send cost** (1, 10, 100, 1,000 members; no subscribers): `Messenger.send`
 *   (client seal and signature, the HTTP round trip, the gateway's checks, the insert and
 *   the publish), interleaved with the harness. The 1-member group is a 2-member group whose
 *   other member was removed (a GROUP needs one other member to be created).
 * - **Quick mode**: fan-out to 100 only, and groups up to 100 members (so only 100 users
 *   are registered; the ratios then compare 100 with 1 and with 10 members).
 * - **Send path on the server** (issue 17, goal 4): pre-sealed `sendMessage` requests to the
 *   biggest group, one at a time, no subscribers; each request's time on the gateway's http
 *   server and the part of it in store calls (every store method wrapped and timed).
 * - **Rekey on removal**: `Messenger.removeMember` for groups of 2, 10, 100 and 1,000
 *   (2 and 10: a fresh group per sample; 100 and 1,000: successive removals from the same
 *   group, so it shrinks by one per sample). The creator's KeyDirectory holds every member's
 *   verified keys from creation, so a removal makes no directory lookups. The transport is
 *   timed per call to show where the time goes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { Session } from 'node:inspector/promises';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { execute, parse, validate, type DocumentNode, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { KeyDirectory, graphqlDirectoryTransport } from '../src/client/directory.js';
import { MemoryKeyStore } from '../src/client/keystore.js';
import { Messenger, graphqlMessagingTransport, type MessagingTransport } from '../src/client/messaging.js';
import { createIdentity, loadIdentity, login, register } from '../src/client/session.js';
import { nodeBackend } from '../src/crypto/backends/node.js';
import { base64urlEncode } from '../src/crypto/base64url.js';
import { startGateway, type RunningGateway } from '../src/app/gateway.js';
import { InMemoryPubSub } from '../src/server/pubsub.js';
import { EvalWorker, HTTP_POST_SOURCE, fmtNs, fmtRatio, fmtSpread, median, pool, progress, progressDone, runInterleaved, table, type BenchOptions, type Case, type CaseResult } from './harness.js';
import { embeddedConfig } from '../src/app/config.js';

const REALM = 'veilgraph';
const ROOMY = { points: 1_000_000, durationSeconds: 1 };

/** Goals (issue 6; issue 17's goals 4 and 5 below). */
export const GOAL_FANOUT_RATE = 0.8;
export const GOAL_FANOUT_P99 = 1.25;
export const GOAL_SEND_CONSTANT = 1.25;
export const GOAL_REKEY_LINEAR = 1.25;
/** Issue 17, goal 4: the send path's server time, ms (median sendMessage request on the gateway). */
export const GOAL_SEND_PATH_MS = 2;
/** Issue 17, goal 5: removing a member of a 1,000-member group, end to end, ms (median). */
export const GOAL_REKEY_1000_MS = 400;

/** Fan-out plan per N: messages per round and timed rounds per side. */
interface FanoutPlan {
  readonly n: number;
  readonly m: number;
  readonly rounds: number;
}
const FANOUT_FULL: readonly FanoutPlan[] = [
  { n: 100, m: 50, rounds: 6 },
  { n: 1000, m: 20, rounds: 4 },
];
const FANOUT_QUICK: readonly FanoutPlan[] = [{ n: 100, m: 20, rounds: 3 }];
/**
 * Sends in flight from the sender: 1 = each send waits for the previous response (the
 * default; a chat client's pattern). `BENCH_MSG_CONCURRENCY=4` keeps four in flight on both
 * sides (a drill-down, not part of the reported configuration).
 */
const SEND_CONCURRENCY = ((): number => {
  const raw = process.env.BENCH_MSG_CONCURRENCY;
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`bench: BENCH_MSG_CONCURRENCY must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
})();
/**
 * A drill-down, not part of the reported figures: `BENCH_MSG_PROFILE=<dir>` writes a CPU profile
 * of the servers' (main) thread for the first timed fan-out round of each side, per N
 * (`<dir>/fanout-<side>-<N>.cpuprofile`, open in Chrome DevTools). Profiling slows both sides.
 */
const PROFILE_DIR = process.env.BENCH_MSG_PROFILE || null;

/** Runs `fn` under the CPU profiler when BENCH_MSG_PROFILE is set and `name` is given. */
async function profiled<T>(name: string | null, fn: () => Promise<T>): Promise<T> {
  if (!PROFILE_DIR || name === null) return fn();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  try {
    return await fn();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(join(PROFILE_DIR, `${name}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}
/**
 * A drill-down: `BENCH_MSG_PARTS=fanout,send,path,rekey` (any subset) runs only those parts;
 * the reported configuration runs all four.
 */
const BENCH_PARTS: ReadonlySet<string> = ((): Set<string> => {
  const all = ['fanout', 'send', 'path', 'rekey'];
  const raw = process.env.BENCH_MSG_PARTS;
  if (raw === undefined || raw === '') return new Set(all);
  const parts = raw.split(',').map((x) => x.trim());
  for (const p of parts) if (!all.includes(p)) throw new Error(`bench: BENCH_MSG_PARTS takes ${all.join(', ')}; got ${JSON.stringify(p)}`);
  return new Set(parts);
})();
/** Group sizes for the send cost and the removal; quick mode stops at 100 (registering 1,000 users takes ~15 s). */
const SEND_SIZES = [1, 10, 100, 1000] as const;
const REMOVE_SIZES = [2, 10, 100, 1000] as const;
const maxMembers = (opts: BenchOptions): number => (opts.quick ? 100 : 1000);
const REMOVE_ROUNDS_FULL = 4;
const REMOVE_ROUNDS_QUICK = 2;
/** A round that has not completed in this long fails the suite. */
const ROUND_TIMEOUT_MS = 120_000;

const SUBSCRIPTION = 'subscription M($c: ID) { messageAdded(conversationId: $c) { seq conversationId clientId epoch body createdAt } }';
const SEND = 'mutation S($i: SendMessageInput!) { sendMessage(input: $i) { seq clientId } }';
const PUBLISH = 'mutation P($m: MessageInput!) { publish(m: $m) { seq clientId } }';

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`bench self-check failed: ${what}`);
}

const newId = (): string => base64urlEncode(nodeBackend.randomBytes(16));
const topic = (conversationId: string): string => `Conversation:${conversationId}`;

/** ~200 characters of text: `{"text": …}` pads to the 256-byte message bucket. */
function textOf(tag: string): string {
  return `${tag}: ${'lorem ipsum dolor sit amet consectetur adipiscing elit '.repeat(5)}`.slice(0, 200);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------
// Client thread: the sender and every subscriber socket

// Plain JavaScript so the worker needs no TypeScript loader (as bench/server.ts does).
const WORKER_SOURCE = `
const http = require('node:http');
const { parentPort, workerData } = require('node:worker_threads');
const WebSocket = require(workerData.wsPath);
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
const now = () => performance.now();
const groups = new Map();
const problems = [];
const problem = (what) => { if (problems.length < 20) problems.push(what); };
const NEXT = '{"id":"1","type":"next","payload":{"data":{"messageAdded":';
const CID = '"clientId":"';

function onFrame(g, s, text) {
  g.lastFrameAt = now();
  if (!text.startsWith(NEXT)) {
    problem(g.name + ' socket ' + s + ': unexpected frame ' + text.slice(0, 300));
    return;
  }
  const a = text.indexOf(CID);
  const cid = a < 0 ? '' : text.slice(a + CID.length, text.indexOf('"', a + CID.length));
  const st = g.state;
  if (!st) { problem(g.name + ' socket ' + s + ': a frame outside any round (' + cid + ')'); return; }
  if (st.kind === 'prime') {
    if (!st.seen[s]) { st.seen[s] = 1; st.count++; if (st.count === st.n) st.resolve(); }
    return;
  }
  const idx = st.index.get(cid);
  if (idx === undefined) { problem(g.name + ' socket ' + s + ': a message not sent in this round (' + cid + ')'); return; }
  const k = s * st.m + idx;
  if (st.recv[k] >= 0) { problem(g.name + ' socket ' + s + ': message ' + cid + ' delivered twice'); return; }
  st.recv[k] = now();
  const ref = st.frames[idx];
  if (ref === undefined || ref === null) st.frames[idx] = text;
  else if (ref !== text) problem(g.name + ' socket ' + s + ': frame of ' + cid + ' differs: ' + text.slice(0, 200) + ' vs ' + ref.slice(0, 200));
  st.count++;
  if (st.count === st.total) { st.end = st.recv[k]; st.maybeDone(); }
}

function connectOne(g, s, url, token) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, 'graphql-transport-ws', { perMessageDeflate: false });
    let acked = false;
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { token } })));
    ws.on('message', (data) => {
      const text = data.toString();
      if (acked) { onFrame(g, s, text); return; }
      const m = JSON.parse(text);
      if (m.type === 'connection_ack') {
        acked = true;
        ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: g.query, variables: g.variables } }));
        resolve(ws);
      } else if (m.type === 'ping') ws.send('{"type":"pong"}');
      else reject(new Error(g.name + ' socket ' + s + ': unexpected before ack: ' + text.slice(0, 300)));
    });
    ws.on('error', (e) => { if (!acked) reject(e); else problem(g.name + ' socket ' + s + ': ' + e.message); });
    ws.on('close', (code, reason) => {
      if (!acked) reject(new Error(g.name + ' socket ' + s + ': closed before ack: ' + code + ' ' + reason));
      else if (!g.closing) problem(g.name + ' socket ' + s + ': closed by the server: ' + code + ' ' + reason);
    });
  });
}

async function connect(m) {
  const g = { name: m.name, query: m.query, variables: m.variables, sockets: [], state: null, closing: false, lastFrameAt: 0 };
  groups.set(m.name, g);
  let next = 0;
  const lane = async () => { while (next < m.tokens.length) { const s = next++; g.sockets[s] = await connectOne(g, s, m.url, m.tokens[s]); } };
  await Promise.all(Array.from({ length: 32 }, lane));
}

${HTTP_POST_SOURCE}
function post(t, body) {
  return httpPost(agent, t, t.headers, body);
}

async function sendAll(t, sends, concurrency, sentAt) {
  let next = 0;
  const lane = async () => {
    while (next < sends.length) {
      const i = next++;
      sentAt[i] = now();
      const r = await post(t, sends[i].body);
      if (r.status !== 200 || r.text.includes('"errors"') || !r.text.includes(CID + sends[i].clientId + '"')) {
        throw new Error('send ' + sends[i].clientId + ' failed: status ' + r.status + ': ' + r.text.slice(0, 400));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, sends.length) }, lane));
}

async function prime(m) {
  const g = groups.get(m.group);
  const n = g.sockets.length;
  const st = { kind: 'prime', n, seen: new Uint8Array(n), count: 0, resolve: null };
  const all = new Promise((r) => (st.resolve = r));
  g.state = st;
  let used = 0;
  for (const s of m.sends) {
    used++;
    await sendAll(m.target, [s], 1, []);
    const timer = new Promise((r) => setTimeout(() => r('timeout'), m.waitMs));
    if ((await Promise.race([all, timer])) !== 'timeout') break;
  }
  if (st.count !== n) throw new Error(g.name + ': after ' + used + ' priming messages only ' + st.count + ' of ' + n + ' subscriptions are live');
  // Quiet: nothing more arrives for a while.
  while (now() - g.lastFrameAt < m.quietMs) await new Promise((r) => setTimeout(r, 50));
  g.state = null;
  return { used };
}

async function round(m) {
  const g = groups.get(m.group);
  const n = g.sockets.length;
  const count = m.sends.length;
  const st = {
    kind: 'round', m: count, total: n * count, count: 0, end: 0,
    index: new Map(m.sends.map((s, i) => [s.clientId, i])),
    recv: new Float64Array(n * count).fill(-1),
    frames: m.frames ? m.frames.slice() : new Array(count),
    sendsDone: false, maybeDone: null,
  };
  const delivered = new Promise((resolve) => { st.maybeDone = () => { if (st.sendsDone && st.count === st.total) resolve(); }; });
  const sentAt = new Float64Array(count);
  const elu0 = performance.eventLoopUtilization();
  g.state = st;
  await sendAll(m.target, m.sends, m.concurrency, sentAt);
  const sendsEnd = now();
  st.sendsDone = true;
  st.maybeDone();
  const timer = new Promise((r) => setTimeout(() => r('timeout'), m.timeoutMs));
  if ((await Promise.race([delivered, timer])) === 'timeout') {
    const per = new Array(count).fill(0);
    for (let k = 0; k < st.recv.length; k++) if (st.recv[k] >= 0) per[k % count]++;
    throw new Error(g.name + ': round timed out after ' + m.timeoutMs + ' ms with ' + st.count + ' of ' + st.total + ' deliveries; per message: ' + per.join(','));
  }
  // Late duplicates would land in the next round or at close and be reported there.
  g.state = null;
  const latencies = new Float64Array(n * count);
  for (let k = 0; k < latencies.length; k++) latencies[k] = st.recv[k] - sentAt[k % count];
  return { start: sentAt[0], sendsEnd, end: st.end, latencies, frames: st.frames, clientBusy: performance.eventLoopUtilization(elu0).utilization };
}

async function close(m) {
  const g = groups.get(m.group);
  g.closing = true;
  await Promise.all(g.sockets.map((ws) => new Promise((r) => { if (ws.readyState === WebSocket.CLOSED) r(); else { ws.once('close', r); ws.close(1000); } })));
  groups.delete(m.group);
}

async function sends(m) { await sendAll(m.target, m.sends, 1, []); }

const handlers = { connect, prime, round, sends, close, problems: async () => problems.splice(0) };
parentPort.on('message', (m) => {
  handlers[m.type](m).then(
    (value) => parentPort.postMessage({ seq: m.seq, value }),
    (e) => parentPort.postMessage({ seq: m.seq, error: String((e && e.stack) || e) }),
  );
});
`;

interface HttpTarget {
  readonly host: string;
  readonly port: number;
  readonly path: string;
  readonly headers: Record<string, string>;
}

function httpTarget(url: string, headers: Record<string, string>): HttpTarget {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port), path: u.pathname, headers: { 'content-type': 'application/json', ...headers } };
}

interface Send {
  readonly clientId: string;
  /** The whole HTTP request body. */
  readonly body: string;
}

interface RoundResult {
  readonly start: number;
  readonly sendsEnd: number;
  readonly end: number;
  readonly latencies: Float64Array;
  readonly frames: string[];
  /** Event-loop utilisation of the client thread during the round (0–1). */
  readonly clientBusy: number;
  /** Event-loop utilisation of the server (main) thread during the round (0–1). */
  serverBusy: number;
}

/** The client thread. */
class Clients {
  private readonly worker = new EvalWorker(WORKER_SOURCE, { wsPath: createRequire(import.meta.url).resolve('ws') });

  private call<T>(msg: Record<string, unknown>): Promise<T> {
    return this.worker.call<T>(msg);
  }

  connect(group: string, url: string, tokens: readonly string[], variables: Record<string, unknown>): Promise<void> {
    return this.call({ type: 'connect', name: group, url, tokens, query: SUBSCRIPTION, variables });
  }

  prime(group: string, target: HttpTarget, sends: readonly Send[], waitMs: number): Promise<{ used: number }> {
    return this.call({ type: 'prime', group, target, sends, waitMs, quietMs: 300 });
  }

  async round(group: string, target: HttpTarget, sends: readonly Send[], frames: readonly string[] | null): Promise<RoundResult> {
    const elu0 = performance.eventLoopUtilization();
    const r = await this.call<RoundResult>({ type: 'round', group, target, sends, frames, concurrency: SEND_CONCURRENCY, timeoutMs: ROUND_TIMEOUT_MS });
    r.serverBusy = performance.eventLoopUtilization(elu0).utilization;
    return r;
  }

  /** Sends one at a time (each after the previous response), checking each answer. */
  send(target: HttpTarget, sends: readonly Send[]): Promise<void> {
    return this.call({ type: 'sends', target, sends });
  }

  closeGroup(group: string): Promise<void> {
    return this.call({ type: 'close', group });
  }

  async assertNoProblems(): Promise<void> {
    const problems = await this.call<string[]>({ type: 'problems' });
    check(problems.length === 0, `subscribers saw:\n  ${problems.join('\n  ')}`);
  }

  close(): Promise<void> {
    return this.worker.close();
  }
}

// ---------------------------------------------------------------------------------------
// The plain graphql-ws baseline

const PLAIN_SDL = /* GraphQL */ `
  type Message {
    seq: ID!
    conversationId: ID!
    clientId: ID!
    epoch: Int!
    body: String!
    createdAt: String!
  }
  input MessageInput {
    seq: ID!
    conversationId: ID!
    clientId: ID!
    epoch: Int!
    body: String!
    createdAt: String!
  }
  type Query {
    ok: Boolean
  }
  type Mutation {
    publish(m: MessageInput!): Message!
  }
  type Subscription {
    messageAdded(conversationId: ID): Message!
  }
`;

interface PlainMessage {
  readonly seq: string;
  readonly conversationId: string;
  readonly clientId: string;
  readonly epoch: number;
  readonly body: string;
  readonly createdAt: string;
}

interface PlainServer {
  readonly url: string;
  readonly pubsub: InMemoryPubSub;
  close(): Promise<void>;
}

async function startPlainServer(): Promise<PlainServer> {
  const pubsub = new InMemoryPubSub(100_000);
  const schema: GraphQLSchema = makeExecutableSchema({
    typeDefs: PLAIN_SDL,
    resolvers: {
      Mutation: {
        publish: (_: unknown, args: { m: PlainMessage }) => {
          const m = { ...args.m };
          pubsub.publish(topic(m.conversationId), m);
          return m;
        },
      },
      Subscription: {
        messageAdded: {
          subscribe: (_: unknown, args: { conversationId?: string | null }) => pubsub.subscribe(topic(args.conversationId ?? '')),
          resolve: (m: PlainMessage) => m,
        },
      },
    },
  });
  const documents = new Map<string, DocumentNode>();
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const { query, variables } = JSON.parse(Buffer.concat(chunks).toString()) as { query: string; variables?: Record<string, unknown> };
    let document = documents.get(query);
    if (!document) {
      document = parse(query);
      const errors = validate(schema, document);
      if (errors.length > 0) {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ errors }));
        return;
      }
      documents.set(query, document);
    }
    const result = await execute({ schema, document, variableValues: variables ?? null });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result));
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      res.writeHead(500).end(String(e));
    });
  });
  server.keepAliveTimeout = 120_000;
  const wss = new WebSocketServer({ server, path: '/graphql' });
  const disposable = useServer({ schema }, wss);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`,
    pubsub,
    async close() {
      const cutoff = setTimeout(() => {
        for (const s of wss.clients) s.terminate();
      }, 1000);
      await disposable.dispose();
      clearTimeout(cutoff);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

// ---------------------------------------------------------------------------------------
// Users, groups

interface User {
  readonly username: string;
  readonly userId: string;
  readonly token: string;
}

/** Where the creator's `Messenger` spends its transport time (ms), per call kind. */
interface TransportTimes {
  conversation: number;
  epochKeys: number;
  removeMember: number;
}

function timedTransport(inner: MessagingTransport, t: TransportTimes): MessagingTransport {
  const timed = async <R>(key: keyof TransportTimes, fn: () => Promise<R>): Promise<R> => {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      t[key] += performance.now() - t0;
    }
  };
  return {
    epochKeys: (ids) => timed('epochKeys', () => inner.epochKeys(ids)),
    conversation: (id) => timed('conversation', () => inner.conversation(id)),
    create: (input) => inner.create(input),
    addMembers: (c, u, k, h) => inner.addMembers(c, u, k, h),
    removeMember: (c, u, k) => timed('removeMember', () => inner.removeMember(c, u, k)),
    rotate: (c, k) => inner.rotate(c, k),
    send: (input) => inner.send(input),
  };
}

interface Creator extends User {
  readonly messenger: Messenger;
  readonly times: TransportTimes;
}

async function signUp(url: string, username: string): Promise<{ user: User; keystore: MemoryKeyStore }> {
  const keystore = new MemoryKeyStore();
  await createIdentity(nodeBackend, keystore);
  const { userId } = await register(url, username, keystore, nodeBackend, REALM);
  const { token } = await login(url, username, keystore, nodeBackend, REALM);
  return { user: { username, userId, token }, keystore };
}

async function signUpCreator(url: string): Promise<Creator> {
  const { user, keystore } = await signUp(url, 'bench-creator');
  const { signing, encryption } = await loadIdentity(keystore, nodeBackend);
  const directory = new KeyDirectory({ backend: nodeBackend, keystore, transport: graphqlDirectoryTransport(url, () => user.token) });
  const times: TransportTimes = { conversation: 0, epochKeys: 0, removeMember: 0 };
  const transport = timedTransport(graphqlMessagingTransport(url, () => user.token), times);
  const messenger = new Messenger({ backend: nodeBackend, userId: user.userId, username: user.username, encryption, signing, directory, transport });
  return { ...user, messenger, times };
}

interface Fixture {
  readonly gateway: RunningGateway;
  readonly plain: PlainServer;
  readonly clients: Clients;
  readonly creator: Creator;
  /** Everyone but the creator. */
  readonly others: readonly User[];
  /** GROUP conversations of exactly N members (creator + others[0 .. N−2]), by N. */
  readonly groups: Map<number, string>;
  readonly setup: string[];
  close(): Promise<void>;
}

async function setUp(opts: BenchOptions): Promise<Fixture> {
  const dataDir = mkdtempSync(join(tmpdir(), 'veilgraph-bench-msg-'));
  const closers: (() => Promise<void>)[] = [async () => rmSync(dataDir, { recursive: true, force: true })];
  const closeAll = async (): Promise<void> => {
    for (const c of closers.splice(0)) await c().catch((e: unknown) => console.error(`bench cleanup: ${String(e)}`));
  };
  try {
    const gateway = await startGateway({
      ...embeddedConfig(dataDir),
      production: true,
      realm: REALM,
      tokenTtlSeconds: 3600,
      logSink: () => undefined,
      authLimits: { register: ROOMY, challenge: ROOMY, login: ROOMY, loginPerUser: ROOMY },
      // Every member's socket comes from loopback: one address.
      wsMaxConnectionsPerAddress: 1_000_000,
    });
    closers.unshift(() => gateway.close());
    gateway.httpServer.keepAliveTimeout = 120_000;
    const plain = await startPlainServer();
    closers.unshift(() => plain.close());
    const clients = new Clients();
    closers.unshift(() => clients.close());

    const setup: string[] = [];
    const biggest = maxMembers(opts);
    let t0 = performance.now();
    progress('messaging: registering users');
    const creator = await signUpCreator(gateway.url);
    const names = Array.from({ length: biggest - 1 }, (_, i) => `bench-m${String(i).padStart(4, '0')}`);
    let done = 0;
    const others = await pool(names, 8, async (name) => {
      const u = (await signUp(gateway.url, name)).user;
      if (++done % 50 === 0) progress(`messaging: registered ${done} of ${names.length} users`);
      return u;
    });
    setup.push(`${(others.length + 1).toLocaleString('en-US')} users registered and logged in through the API (8 at a time) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const groups = new Map<number, string>();
    for (const n of [100, 1000].filter((n) => n <= biggest)) {
      t0 = performance.now();
      progress(`messaging: creating a group of ${n}`);
      groups.set(n, await creator.messenger.create('GROUP', others.slice(0, n - 1).map((u) => u.username)));
      setup.push(`group of ${n.toLocaleString('en-US')} created with Messenger.create (directory lookup and a wrap per member, then createConversation) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    progressDone();
    return { gateway, plain, clients, creator, others, groups, setup, close: closeAll };
  } catch (e) {
    await closeAll();
    throw e;
  }
}

// ---------------------------------------------------------------------------------------
// (a) Fan-out

interface SideResult {
  /** deliveries/s per timed round. */
  readonly rates: number[];
  /** Every delivery's latency over the timed rounds, ms, sorted. */
  readonly latencies: Float64Array;
  /** Per timed round: the time the sends took (ms) and the wall time (ms). */
  readonly sendMs: number[];
  readonly wallMs: number[];
  /** Event-loop utilisation per timed round: the servers' thread and the clients' thread. */
  readonly serverBusy: number[];
  readonly clientBusy: number[];
}

interface FanoutResult {
  readonly plan: FanoutPlan;
  readonly gateway: SideResult;
  readonly plain: SideResult;
  readonly bodyChars: number;
  readonly frameBytes: number;
  readonly primed: { gateway: number; plain: number };
}

function quantile(sorted: ArrayLike<number>, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

function sideResult(rounds: readonly RoundResult[], n: number, m: number): SideResult {
  const all = new Float64Array(rounds.reduce((s, r) => s + r.latencies.length, 0));
  let o = 0;
  for (const r of rounds) {
    all.set(r.latencies, o);
    o += r.latencies.length;
  }
  all.sort();
  return {
    rates: rounds.map((r) => (n * m) / ((r.end - r.start) / 1000)),
    latencies: all,
    sendMs: rounds.map((r) => r.sendsEnd - r.start),
    wallMs: rounds.map((r) => r.end - r.start),
    serverBusy: rounds.map((r) => r.serverBusy),
    clientBusy: rounds.map((r) => r.clientBusy),
  };
}

async function fanout(fx: Fixture, plan: FanoutPlan): Promise<FanoutResult> {
  const { n, m, rounds } = plan;
  const conversationId = fx.groups.get(n)!;
  const members = [fx.creator, ...fx.others.slice(0, n - 1)];
  const gwTarget = httpTarget(fx.gateway.url, { authorization: `Bearer ${fx.creator.token}` });
  const plainTarget = httpTarget(fx.plain.url, {});

  // Pre-sealed bodies: sealing (a signature and an AEAD per message) is not timed.
  let sealed = 0;
  const sealRound = async (tag: string, count: number): Promise<Send[]> => {
    const out: Send[] = [];
    for (let i = 0; i < count; i++) {
      const clientId = newId();
      const body = await fx.creator.messenger.seal(conversationId, textOf(`${tag} message ${i}`), clientId);
      sealed = body.length;
      out.push({ clientId, body: JSON.stringify({ query: SEND, variables: { i: { conversationId, clientId, body } } }) });
    }
    return out;
  };
  const primers = await sealRound('primer', 10);
  const warmUp = await sealRound('warm-up', m);
  const timed: Send[][] = [];
  for (let r = 0; r < rounds; r++) timed.push(await sealRound(`round ${r}`, m));

  const gwGroup = `gateway N=${n}`;
  const plainGroup = `plain N=${n}`;
  const wsUrl = (url: string): string => url.replace(/^http/, 'ws');
  progress(`messaging: N=${n}: connecting ${n} + ${n} sockets`);
  await fx.clients.connect(gwGroup, wsUrl(fx.gateway.url), members.map((u) => u.token), { c: conversationId });
  await fx.clients.connect(plainGroup, wsUrl(fx.plain.url), members.map((u) => u.token), { c: conversationId });
  try {
    // Every gateway subscription live: priming messages until each socket got one.
    progress(`messaging: N=${n}: priming`);
    const gwPrimed = await fx.clients.prime(gwGroup, gwTarget, primers, n >= 1000 ? 30_000 : 10_000);
    progress(`messaging: N=${n}: warm-up round (gateway)`);
    let latest = await fx.clients.round(gwGroup, gwTarget, warmUp, null);
    const publishOf = (frames: readonly string[]): Send[] =>
      frames.map((f) => {
        const msg = (JSON.parse(f) as { payload: { data: { messageAdded: PlainMessage } } }).payload.data.messageAdded;
        return { clientId: msg.clientId, body: JSON.stringify({ query: PUBLISH, variables: { m: msg } }) };
      });
    const plainPrimed = await fx.clients.prime(plainGroup, plainTarget, publishOf(latest.frames).slice(0, 10), 10_000);
    progress(`messaging: N=${n}: warm-up round (plain)`);
    await fx.clients.round(plainGroup, plainTarget, publishOf(latest.frames), latest.frames);

    const gw: RoundResult[] = [];
    const pl: RoundResult[] = [];
    for (let r = 0; r < rounds; r++) {
      progress(`messaging: N=${n}: round ${r + 1} of ${rounds}`);
      const runGateway = async (): Promise<void> => {
        latest = await profiled(r === 0 ? `fanout-gateway-${n}` : null, () => fx.clients.round(gwGroup, gwTarget, timed[r]!, null));
        gw.push(latest);
      };
      // The plain side publishes what the gateway delivered last, and must deliver the same bytes.
      const runPlain = async (): Promise<void> => {
        const sends = publishOf(latest.frames);
        pl.push(await profiled(r === 0 ? `fanout-plain-${n}` : null, () => fx.clients.round(plainGroup, plainTarget, sends, latest.frames)));
      };
      if (r % 2 === 0) {
        await runGateway();
        await runPlain();
      } else {
        await runPlain();
        await runGateway();
      }
    }
    // Anything late (a duplicate, a frame after its round) shows up here.
    await sleep(300);
    await fx.clients.assertNoProblems();
    const frame = latest.frames[0]!;
    // Sanity: the frame carries this conversation's message under the current epoch.
    const msg = (JSON.parse(frame) as { payload: { data: { messageAdded: PlainMessage } } }).payload.data.messageAdded;
    check(msg.conversationId === conversationId && msg.epoch === 1 && msg.body.length === sealed, `N=${n}: delivered message ${JSON.stringify(msg).slice(0, 200)}`);
    return {
      plan,
      gateway: sideResult(gw, n, m),
      plain: sideResult(pl, n, m),
      bodyChars: sealed,
      frameBytes: Buffer.byteLength(frame),
      primed: { gateway: gwPrimed.used, plain: plainPrimed.used },
    };
  } finally {
    await fx.clients.closeGroup(gwGroup);
    await fx.clients.closeGroup(plainGroup);
    progressDone();
  }
}

// ---------------------------------------------------------------------------------------
// (b) Group send cost and rekey on removal

interface SendResult {
  readonly size: number;
  readonly result: CaseResult;
}

async function groupOf(fx: Fixture, size: number): Promise<string> {
  const existing = fx.groups.get(size);
  if (existing) return existing;
  if (size === 1) {
    // A GROUP is created with at least one other member: create with one, then remove them.
    const id = await fx.creator.messenger.create('GROUP', [fx.others[0]!.username]);
    await fx.creator.messenger.removeMember(id, fx.others[0]!.username);
    return id;
  }
  return fx.creator.messenger.create('GROUP', fx.others.slice(0, size - 1).map((u) => u.username));
}

async function sendCost(fx: Fixture, opts: BenchOptions): Promise<{ sends: SendResult[]; seal: CaseResult }> {
  progress('messaging: group send cost');
  const sizes = SEND_SIZES.filter((s) => s <= maxMembers(opts));
  const convs = new Map<number, string>();
  for (const s of sizes) {
    const id = await groupOf(fx, s);
    const conv = await graphqlMessagingTransport(fx.gateway.url, () => fx.creator.token).conversation(id);
    check(conv.members.length === s, `group of ${s} has ${conv.members.length} members`);
    convs.set(s, id);
    const sent = await fx.creator.messenger.send(id, textOf('check'));
    check(sent.conversationId === id && sent.sender.id === fx.creator.userId, `send to the group of ${s}`);
  }
  let i = 0;
  const cases: Case[] = sizes.map((s) => ({ name: `send, ${s} members`, fn: () => fx.creator.messenger.send(convs.get(s)!, textOf(`send ${i++}`)), async: true }));
  const one = convs.get(1)!;
  cases.push({ name: 'seal only', fn: () => fx.creator.messenger.seal(one, textOf(`seal ${i}`), newId()), async: true });
  const before = await fx.gateway.store.messagesAfter([one], 0, 1000, new Date());
  const results = await runInterleaved(cases, opts);
  const after = await fx.gateway.store.messagesAfter([one], 0, 1000, new Date());
  check(after.length > before.length, 'the timed sends were stored');
  progressDone();
  return {
    sends: sizes.map((size, k) => ({ size, result: results[k]! })),
    seal: results[sizes.length]!,
  };
}

/** The send path on the server: one sendMessage request's time on the gateway, and the part of it spent in store calls. */
interface SendPath {
  readonly sends: number;
  /** Per send, ms: request received → response finished, on the gateway's http server. */
  readonly serverMs: number[];
  /** Per send, ms: with a store call in flight (overlapping calls counted once), and how many calls. */
  readonly storeMs: number[];
  readonly storeCalls: number[];
  /** Store method → calls and total ms over all sends. */
  readonly byMethod: Map<string, { calls: number; ms: number }>;
}

const SEND_PATH_SENDS_FULL = 300;
const SEND_PATH_SENDS_QUICK = 100;

/** Time in store calls since `begin()`: the union of the intervals with a call in flight (calls may overlap), and per method. */
interface StoreTally {
  ms: number;
  calls: number;
  readonly byMethod: Map<string, { calls: number; ms: number }>;
}

/** Wraps every method of the gateway's store in place to time it (the store still does the work); `restore` undoes it. */
function timeStore(target: object): { begin(): StoreTally; restore(): void } {
  const store = target as Record<string, unknown>;
  let inFlight = 0;
  let since = 0;
  let cur: StoreTally = { ms: 0, calls: 0, byMethod: new Map() };
  const originals = new Map<string, unknown>();
  for (let proto = Object.getPrototypeOf(store) as object | null; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === 'constructor' || originals.has(name) || typeof store[name] !== 'function') continue;
      const original = store[name] as (...a: unknown[]) => unknown;
      originals.set(name, Object.prototype.hasOwnProperty.call(store, name) ? original : undefined);
      store[name] = function (this: unknown, ...a: unknown[]): unknown {
        const t0 = performance.now();
        if (inFlight++ === 0) since = t0;
        const mine = cur;
        const done = (): void => {
          const t1 = performance.now();
          if (--inFlight === 0) mine.ms += t1 - since;
          mine.calls++;
          const m = mine.byMethod.get(name) ?? { calls: 0, ms: 0 };
          m.calls++;
          m.ms += t1 - t0;
          mine.byMethod.set(name, m);
        };
        let r: unknown;
        try {
          r = original.apply(this, a);
        } catch (e) {
          done();
          throw e;
        }
        if (r instanceof Promise) return r.finally(done);
        done();
        return r;
      };
    }
  }
  return {
    begin: () => (cur = { ms: 0, calls: 0, byMethod: new Map() }),
    restore: () => {
      for (const [name, own] of originals) {
        if (own === undefined) delete store[name];
        else store[name] = own;
      }
    },
  };
}

/**
 * The server's part of a send: `sendMessage` requests (pre-sealed bodies, one at a time, from
 * the clients' thread, no subscribers) to the biggest group, timed on the gateway's http
 * server from the request event to the response's finish, with every store method wrapped to
 * time what it spends in the store. Nothing else is in flight meanwhile.
 */
async function sendPath(fx: Fixture, opts: BenchOptions): Promise<SendPath> {
  progress('messaging: send path on the server');
  const size = Math.max(...SEND_SIZES.filter((s) => s <= maxMembers(opts)));
  const conversationId = fx.groups.get(size) ?? (await groupOf(fx, size));
  const n = opts.quick ? SEND_PATH_SENDS_QUICK : SEND_PATH_SENDS_FULL;
  const bodies: Send[] = [];
  for (let i = 0; i < n + 20; i++) {
    const clientId = newId();
    const body = await fx.creator.messenger.seal(conversationId, textOf(`path ${i}`), clientId);
    bodies.push({ clientId, body: JSON.stringify({ query: SEND, variables: { i: { conversationId, clientId, body } } }) });
  }
  const byMethod = new Map<string, { calls: number; ms: number }>();
  const timer = timeStore(fx.gateway.store);
  const serverMs: number[] = [];
  const storeMs: number[] = [];
  const storeCalls: number[] = [];
  let recording = false;
  const onRequest = (_req: IncomingMessage, res: ServerResponse): void => {
    const t0 = performance.now();
    // One request at a time: the store calls made meanwhile are this request's.
    const mine = timer.begin();
    res.on('finish', () => {
      if (!recording) return;
      serverMs.push(performance.now() - t0);
      storeMs.push(mine.ms);
      storeCalls.push(mine.calls);
      for (const [k, v] of mine.byMethod) {
        const t = byMethod.get(k) ?? { calls: 0, ms: 0 };
        t.calls += v.calls;
        t.ms += v.ms;
        byMethod.set(k, t);
      }
    });
  };
  fx.gateway.httpServer.prependListener('request', onRequest);
  try {
    const target = httpTarget(fx.gateway.url, { authorization: `Bearer ${fx.creator.token}` });
    await fx.clients.send(target, bodies.slice(0, 20)); // warm-up
    recording = true;
    await profiled(PROFILE_DIR ? 'send-path' : null, () => fx.clients.send(target, bodies.slice(20)));
  } finally {
    recording = false;
    fx.gateway.httpServer.removeListener('request', onRequest);
    timer.restore();
    progressDone();
  }
  check(serverMs.length === n, `send path: ${serverMs.length} of ${n} sends timed`);
  return { sends: n, serverMs, storeMs, storeCalls, byMethod };
}

interface RemovalSample {
  /** The group size this sample stands for (2, 10, 100, 1,000). */
  readonly nominal: number;
  /** Members before the removal. */
  readonly size: number;
  readonly remaining: number;
  readonly ms: number;
  readonly conversationMs: number;
  readonly epochKeysMs: number;
  readonly mutationMs: number;
  /** Time in the gateway's store calls during the removal (all three requests). */
  readonly storeMs: number;
}

async function rekeyCost(fx: Fixture, opts: BenchOptions): Promise<RemovalSample[]> {
  const sizes = REMOVE_SIZES.filter((s) => s <= maxMembers(opts));
  const rounds = opts.quick ? REMOVE_ROUNDS_QUICK : REMOVE_ROUNDS_FULL;
  const out: RemovalSample[] = [];
  const t = fx.creator.times;
  // Successive removals from the big groups: the last members first.
  const timer = timeStore(fx.gateway.store);
  try {
  const victims = new Map<number, string[]>(sizes.filter((s) => fx.groups.has(s)).map((s) => [s, fx.others.slice(0, s - 1).map((u) => u.username)]));
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < sizes.length; k++) {
      const size = sizes[(k + r) % sizes.length]!;
      progress(`messaging: rekey on removal, round ${r + 1} of ${rounds}, ${size} members`);
      let id: string;
      let victim: string;
      if (fx.groups.has(size)) {
        id = fx.groups.get(size)!;
        victim = victims.get(size)!.pop()!;
      } else {
        id = await fx.creator.messenger.create('GROUP', fx.others.slice(0, size - 1).map((u) => u.username));
        victim = fx.others[size - 2]!.username;
      }
      const before = await graphqlMessagingTransport(fx.gateway.url, () => fx.creator.token).conversation(id);
      t.conversation = t.epochKeys = t.removeMember = 0;
      const tally = timer.begin();
      const t0 = performance.now();
      await profiled(r === 0 && fx.groups.has(size) ? `rekey-${size}` : null, () => fx.creator.messenger.removeMember(id, victim));
      const ms = performance.now() - t0;
      const sample = { nominal: size, size: before.members.length, remaining: before.members.length - 1, ms, conversationMs: t.conversation, epochKeysMs: t.epochKeys, mutationMs: t.removeMember, storeMs: tally.ms };
      const afterRemoval = await graphqlMessagingTransport(fx.gateway.url, () => fx.creator.token).conversation(id);
      check(afterRemoval.epoch === before.epoch + 1 && afterRemoval.members.length === sample.remaining && !afterRemoval.members.some((x) => x.username === victim), `removal from the group of ${size}`);
      out.push(sample);
    }
  }
  } finally {
    timer.restore();
  }
  progressDone();
  return out;
}

// ---------------------------------------------------------------------------------------
// Report

const ms = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const rate = (x: number): string => Math.round(x).toLocaleString('en-US');

function spreadOf(xs: readonly number[]): string {
  const sorted = [...xs].sort((a, b) => a - b);
  const med = quantile(sorted, 0.5);
  return fmtSpread((quantile(sorted, 0.75) - quantile(sorted, 0.25)) / 2 / med);
}

interface Goal {
  readonly name: string;
  readonly pass: boolean;
}

function reportFanout(rs: readonly FanoutResult[], goals: Goal[], goalLines: string[]): void {
  const f0 = rs[0]!;
  console.log(
    `Fan-out: one GROUP of N members, each on its own WebSocket subscribed to messageAdded(conversationId) { seq conversationId clientId epoch body createdAt }; ` +
      `the creator (also a subscriber) sends M pre-sealed messages (${f0.bodyChars}-character bodies: 200-character text, 256-byte bucket, signed; frames of ${f0.frameBytes} B), ` +
      `${SEND_CONCURRENCY === 1 ? 'one at a time' : `${SEND_CONCURRENCY} in flight`}, over HTTP. ` +
      'plain = graphql-ws useServer on ws with a minimal schema: publish(m) over HTTP (bare graphql-js) → in-memory pubsub → messageAdded yields the message object; same sockets, same sender pattern, byte-identical frames (checked).',
  );
  console.log(
    'Clients (sender and sockets) on a worker thread. deliveries/s = N × M / (last delivery − first send), median over timed rounds (±spread); ' +
      'latency = receipt − start of that message\'s send, pooled over the timed rounds; busy = event-loop utilisation of the servers\' (main) thread and of the clients\' thread during a round, median. ' +
      'Every subscriber received every message exactly once (checked).',
  );
  console.log('');
  const rows: string[][] = [];
  for (const r of rs) {
    for (const [name, s] of [
      ['gateway (veilgraph)', r.gateway],
      ['plain graphql-ws', r.plain],
    ] as const) {
      rows.push([
        r.plan.n.toLocaleString('en-US'),
        String(r.plan.m),
        String(r.plan.rounds),
        name,
        `${rate(median(s.rates))} ${spreadOf(s.rates)}`,
        ms(median(s.wallMs)),
        ms(median(s.sendMs)),
        ms(quantile(s.latencies, 0.5)),
        ms(quantile(s.latencies, 0.99)),
        ms(s.latencies[s.latencies.length - 1]!),
        `${(median(s.serverBusy) * 100).toFixed(0)} %`,
        `${(median(s.clientBusy) * 100).toFixed(0)} %`,
      ]);
    }
  }
  const align: ('l' | 'r')[] = ['r', 'r', 'r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'];
  console.log(table(['N', 'M', 'rounds', 'server', 'deliveries/s', 'wall ms/round', 'sends ms/round', 'p50 ms', 'p99 ms', 'max ms', 'server thread busy', 'client thread busy'], rows, align));
  console.log('');
  const ratioRows: string[][] = [];
  const rateRatios: string[] = [];
  const p99Ratios: string[] = [];
  let ratePass = true;
  let p99Pass = true;
  for (const r of rs) {
    const paired = r.gateway.rates.map((x, i) => x / r.plain.rates[i]!);
    const rr = median(r.gateway.rates) / median(r.plain.rates);
    const p50 = quantile(r.gateway.latencies, 0.5) / quantile(r.plain.latencies, 0.5);
    const p99 = quantile(r.gateway.latencies, 0.99) / quantile(r.plain.latencies, 0.99);
    ratioRows.push([r.plan.n.toLocaleString('en-US'), `${fmtRatio(rr)} (${fmtRatio(Math.min(...paired))}–${fmtRatio(Math.max(...paired))})`, `${fmtRatio(p50)}×`, `${fmtRatio(p99)}×`]);
    rateRatios.push(`N=${r.plan.n}: ${fmtRatio(rr)}`);
    p99Ratios.push(`N=${r.plan.n}: ${fmtRatio(p99)}×`);
    ratePass &&= rr >= GOAL_FANOUT_RATE;
    p99Pass &&= p99 <= GOAL_FANOUT_P99;
  }
  console.log('Ratios, gateway ÷ plain: deliveries/s (≥ 1 = gateway faster; in brackets the range of the per-round paired ratios) and latency (≤ 1 = gateway faster)');
  console.log('');
  console.log(table(['N', 'deliveries/s ratio', 'p50 ratio', 'p99 ratio'], ratioRows, ['r', 'r', 'r', 'r']));
  console.log('');
  const line = (name: string, detail: string, pass: boolean): void => {
    goals.push({ name, pass });
    goalLines.push(`  ${name}: ${detail} → ${pass ? 'PASS' : 'MISS'}`);
  };
  line(`goal 4: fan-out deliveries/s ≥ ${fmtRatio(GOAL_FANOUT_RATE)}× plain graphql-ws`, rateRatios.join(', '), ratePass);
  line(`goal 4: fan-out p99 latency ≤ ${fmtRatio(GOAL_FANOUT_P99)}× plain graphql-ws`, p99Ratios.join(', '), p99Pass);
}

function reportSend(sends: readonly SendResult[], seal: CaseResult, goals: Goal[], goalLines: string[]): void {
  console.log('Group send cost: Messenger.send (seal + sign on the client, sendMessage over HTTP: membership, envelope and signature checks, insert, publish; no subscribers), interleaved with the harness; one op = one send');
  console.log('');
  const base = sends.find((s) => s.size === 1)!.result;
  const rows = sends.map((s) => {
    const paired = s.result.nsPerOp.map((x, i) => x / base.nsPerOp[i]!);
    return [s.size.toLocaleString('en-US'), fmtNs(s.result.medianNs), fmtSpread(s.result.spread), `${fmtRatio(s.result.medianNs / base.medianNs)} (${fmtRatio(Math.min(...paired))}–${fmtRatio(Math.max(...paired))})`];
  });
  rows.push(['(seal only, client)', fmtNs(seal.medianNs), fmtSpread(seal.spread), fmtRatio(seal.medianNs / base.medianNs)]);
  console.log(table(['members', 'time/send', 'spread', '÷ 1 member (range)'], rows, ['r', 'r', 'r', 'r']));
  console.log('');
  const biggest = sends[sends.length - 1]!;
  const ratio = biggest.result.medianNs / base.medianNs;
  goals.push({ name: 'send cost constant', pass: ratio <= GOAL_SEND_CONSTANT });
  goalLines.push(
    `  group send cost constant: ${biggest.size.toLocaleString('en-US')}-member ÷ 1-member ≤ ${fmtRatio(GOAL_SEND_CONSTANT)}: ${fmtRatio(ratio)} (${fmtNs(biggest.result.medianNs)} vs ${fmtNs(base.medianNs)}) → ${ratio <= GOAL_SEND_CONSTANT ? 'PASS' : 'MISS'}`,
  );
}

function reportRekey(samples: readonly RemovalSample[], goals: Goal[], goalLines: string[]): void {
  console.log(
    'Rekey on removal: Messenger.removeMember (list the members; fetch the epoch keys; a new epoch key wrapped for each remaining member, native X25519; removeMember over HTTP: wraps checked, epoch rotated). ' +
      'Groups of 2 and 10: a fresh group per sample; 100 and 1,000: successive removals from one group. Medians over the samples; the parts are the transport calls timed inside the Messenger, wraps = the rest.',
  );
  console.log('');
  const sizes = [...new Set(samples.map((s) => s.nominal))].sort((a, b) => a - b);
  const bucket = (size: number): RemovalSample[] => samples.filter((s) => s.nominal === size);
  const perMember = new Map<number, number>();
  const rows = sizes.map((size) => {
    const xs = bucket(size);
    const med = (f: (s: RemovalSample) => number): number => median(xs.map(f));
    const per = median(xs.map((s) => (s.ms * 1000) / s.remaining));
    perMember.set(size, per);
    const remaining = [...new Set(xs.map((s) => s.remaining))];
    return [
      size.toLocaleString('en-US'),
      remaining.length === 1 ? String(remaining[0]) : `${Math.min(...remaining)}–${Math.max(...remaining)}`,
      String(xs.length),
      ms(med((s) => s.ms)),
      Math.round(per).toLocaleString('en-US'),
      ms(med((s) => s.conversationMs)),
      ms(med((s) => s.epochKeysMs)),
      ms(med((s) => s.ms - s.conversationMs - s.epochKeysMs - s.mutationMs)),
      ms(med((s) => s.mutationMs)),
      ms(med((s) => s.storeMs)),
    ];
  });
  console.log(
    table(['members', 'remaining', 'samples', 'removeMember ms', 'µs / remaining member', 'list members ms', 'epoch keys ms', 'wraps (client) ms', 'removeMember mutation ms', 'of all: store calls ms'], rows, [
      'r',
      'r',
      'r',
      'r',
      'r',
      'r',
      'r',
      'r',
      'r',
      'r',
    ]),
  );
  // Least squares: time = a + b × remaining.
  const xs = samples.map((s) => s.remaining);
  const ys = samples.map((s) => s.ms);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  const slope = xs.reduce((a, x, i) => a + (x - mx) * (ys[i]! - my), 0) / xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  console.log('');
  console.log(`least-squares fit over all samples: removeMember ≈ ${ms(my - slope * mx)} ms + ${Math.round(slope * 1000).toLocaleString('en-US')} µs × remaining members`);
  console.log('');
  const big = Math.max(...sizes);
  const ref = sizes.includes(100) && big > 100 ? 100 : sizes[sizes.length - 2]!;
  const ratio = perMember.get(big)! / perMember.get(ref)!;
  goals.push({ name: 'rekey linear', pass: ratio <= GOAL_REKEY_LINEAR });
  goalLines.push(
    `  rekey on removal linear at most: µs per remaining member at ${big.toLocaleString('en-US')} ÷ at ${ref} ≤ ${fmtRatio(GOAL_REKEY_LINEAR)}: ${fmtRatio(ratio)} (${Math.round(perMember.get(big)!).toLocaleString('en-US')} vs ${Math.round(perMember.get(ref)!).toLocaleString('en-US')} µs) → ${ratio <= GOAL_REKEY_LINEAR ? 'PASS' : 'MISS'}`,
  );
  const at1000 = bucket(1000);
  if (at1000.length === 0) {
    goalLines.push(`  goal 5: rekey on removal at 1,000 members ≤ ${GOAL_REKEY_1000_MS} ms end to end: not measured (quick mode stops at ${big} members; at ${big}: ${ms(median(bucket(big).map((x) => x.ms)))} ms)`);
  } else {
    const med = median(at1000.map((x) => x.ms));
    const pass = med <= GOAL_REKEY_1000_MS;
    goals.push({ name: 'goal 5: rekey at 1,000', pass });
    goalLines.push(`  goal 5: rekey on removal at 1,000 members ≤ ${GOAL_REKEY_1000_MS} ms end to end: ${ms(med)} ms (median of ${at1000.length}) → ${pass ? 'PASS' : 'MISS'}`);
  }
}

function reportSendPath(p: SendPath, size: number, goals: Goal[], goalLines: string[]): void {
  console.log(
    `Send path on the server: ${p.sends} sendMessage requests (pre-sealed, one at a time from the clients' thread, no subscribers) to the group of ${size.toLocaleString('en-US')}; ` +
      'server time = request event → response finished on the gateway; store = time with a store call in flight, the rest is everything else (HTTP, GraphQL, token, checks, signature, publish).',
  );
  console.log('');
  const q = (xs: readonly number[], k: number): number => quantile(Float64Array.from(xs).sort(), k);
  const rest = p.serverMs.map((x, i) => x - p.storeMs[i]!);
  console.log(
    table(
      ['', 'p50 ms', 'p90 ms', 'p99 ms'],
      [
        ['server time', ms(q(p.serverMs, 0.5)), ms(q(p.serverMs, 0.9)), ms(q(p.serverMs, 0.99))],
        [`store calls (${median(p.storeCalls)} per send)`, ms(q(p.storeMs, 0.5)), ms(q(p.storeMs, 0.9)), ms(q(p.storeMs, 0.99))],
        ['the rest', ms(q(rest, 0.5)), ms(q(rest, 0.9)), ms(q(rest, 0.99))],
      ],
      ['l', 'r', 'r', 'r'],
    ),
  );
  console.log('');
  const methods = [...p.byMethod].sort((a, b) => b[1].ms - a[1].ms);
  console.log(table(['store method', 'calls per send', 'ms per send (each call\'s own time)'], methods.map(([name, v]) => [name, (v.calls / p.sends).toFixed(2), ms(v.ms / p.sends)]), ['l', 'r', 'r']));
  console.log('');
  const med = q(p.serverMs, 0.5);
  const pass = med <= GOAL_SEND_PATH_MS;
  goals.push({ name: 'goal 4: send path', pass });
  goalLines.push(`  goal 4: send path ≤ ${GOAL_SEND_PATH_MS} ms of server time: ${ms(med)} ms median (store ${ms(q(p.storeMs, 0.5))} ms, the rest ${ms(q(rest, 0.5))} ms) → ${pass ? 'PASS' : 'MISS'}`);
}

export interface MessagingBenchResult {
  readonly fanout: readonly FanoutResult[];
  readonly sends: readonly SendResult[];
  readonly removals: readonly RemovalSample[];
  readonly goals: readonly Goal[];
}

export async function runMessagingBench(opts: BenchOptions): Promise<MessagingBenchResult> {
  console.log('## messaging');
  console.log('');
  const t0 = performance.now();
  const fx = await setUp(opts);
  try {
    console.log(`set-up (${((performance.now() - t0) / 1000).toFixed(1)} s): gateway on SQLite (production settings); ${fx.setup.join('; ')}`);
    console.log('');
    const fan: FanoutResult[] = [];
    for (const plan of opts.quick ? FANOUT_QUICK : FANOUT_FULL) if (BENCH_PARTS.has('fanout')) fan.push(await fanout(fx, plan));
    const parts = BENCH_PARTS;
    const { sends, seal } = parts.has('send') ? await sendCost(fx, opts) : { sends: [], seal: null };
    const path = parts.has('path') ? await sendPath(fx, opts) : null;
    const removals = parts.has('rekey') ? await rekeyCost(fx, opts) : [];
    await fx.clients.assertNoProblems();

    const goals: Goal[] = [];
    const goalLines: string[] = [];
    if (fan.length > 0) reportFanout(fan, goals, goalLines);
    if (seal) reportSend(sends, seal, goals, goalLines);
    if (path) reportSendPath(path, Math.max(...SEND_SIZES.filter((s) => s <= maxMembers(opts))), goals, goalLines);
    if (removals.length > 0) reportRekey(removals, goals, goalLines);
    console.log('goals:');
    for (const l of goalLines) console.log(l);
    console.log('');
    return { fanout: fan, sends, removals, goals };
  } finally {
    progressDone();
    await fx.close();
  }
}
