/**
 * @module
 * The load generator of the sustained-load suite (bench/sustained.ts): a worker thread
 * holding every user's WebSocket (graphql-transport-ws, subscribed to `messageAdded` of the
 * user's conversation) and sending the request mix over keep-alive HTTP, to one or more
 * gateway processes. Plain JavaScript (as bench/messaging.ts's client thread) so the worker
 * needs no TypeScript loader.
 *
 * The mix, per operation: 30 % `myProfile` (SERVER fields decrypted), 30 % a page of the
 * user's conversation history (`messages`, 20 rows), 20 % `updateProfile` (a PUBLIC and a
 * SERVER field: sealed at rest by the gateway), 20 % `sendMessage` of a message the main
 * thread sealed beforehand (a signed envelope, as the sender's client makes it), fanned out
 * to every member's socket. The acting user of a query or write is drawn at random; a send is
 * from its conversation's creator. Each user talks to its own gateway instance (user i to
 * instance i mod instances), HTTP and WebSocket alike.
 *
 * Two load shapes:
 * - `closed`: `concurrency` lanes, each starting its next operation when the previous one
 *   answered (the capacity ramp: the most the gateway completes at that concurrency);
 * - `open`: operations arrive at `rate` per second as a Poisson process whatever the
 *   gateway does (arrivals do not wait for answers); at most `maxInFlight` run at once, the
 *   rest queue in the generator. Latency counts from the scheduled arrival, so queueing
 *   anywhere (here or in the gateway) is in the figure (no coordinated omission).
 *
 * Errors, all counted: an HTTP status other than 200, a GraphQL `errors` member, a send
 * whose answer lacks its clientId, a socket closed or errored, a frame other than `next`/
 * `ping`/`pong`, a delivery of an unknown message, to the wrong conversation or twice, a
 * delivery missing when a phase has drained, and running out of sealed messages.
 */

import { HTTP_POST_SOURCE } from './harness.js';

export const LOAD_WORKER_SOURCE = `
const http = require('node:http');
const { parentPort, workerData } = require('node:worker_threads');
const WebSocket = require(workerData.wsPath);
const clock = () => performance.timeOrigin + performance.now();

const KINDS = ['profile', 'history', 'write', 'send'];
const WEIGHTS = [0.3, 0.3, 0.2, 0.2];
const Q_PROFILE = JSON.stringify({ query: 'query P { myProfile { id displayName email phone updatedAt } }' });
const Q_HISTORY = 'query H($c: ID!) { messages(conversationId: $c, first: 20) { nodes { seq clientId sender { id } epoch body createdAt } cursor } }';
const M_WRITE = 'mutation U($id: ID!, $i: UpdateProfileInput!) { updateProfile(id: $id, input: $i) { id updatedAt } }';
const SUBSCRIPTION = 'subscription M($c: ID) { messageAdded(conversationId: $c) { seq conversationId clientId sender { id } epoch body createdAt } }';
const NEXT = '{"id":"1","type":"next","payload":{"data":{"messageAdded":';
const CID = '"clientId":"';

let cfg = null;
let agents = [];
const sockets = [];
let closing = false;
const errors = { count: 0, byKind: {}, samples: [] };
function fail(kind, what) {
  errors.count++;
  errors.byKind[kind] = (errors.byKind[kind] || 0) + 1;
  if (errors.samples.length < 20) errors.samples.push(kind + ': ' + String(what).slice(0, 400));
}

// Sealed sends from the main thread: { user, conv, clientId, body }.
const pool = [];
let poolNext = 0;
// Every message sent: clientId -> { conv, at, got, expected, rec, closed }.
const messages = new Map();
let writes = 0;
let lastElu = performance.eventLoopUtilization();

function pickKind() {
  let x = Math.random();
  for (let k = 0; k < WEIGHTS.length; k++) { x -= WEIGHTS[k]; if (x < 0) return k; }
  return WEIGHTS.length - 1;
}

function request(kind) {
  if (kind === 3) {
    const p = pool[poolNext];
    if (!p) return null;
    pool[poolNext++] = undefined;
    return { user: p.user, body: p.body, clientId: p.clientId, conv: p.conv };
  }
  const user = Math.floor(Math.random() * cfg.users.length);
  const u = cfg.users[user];
  if (kind === 0) return { user, body: Q_PROFILE };
  if (kind === 1) return { user, body: JSON.stringify({ query: Q_HISTORY, variables: { c: cfg.convs[u.conv].id } }) };
  const n = writes++;
  return { user, body: JSON.stringify({ query: M_WRITE, variables: { id: u.profileId, i: { displayName: 'user ' + user + ' #' + n, phone: '+1 555 01' + String(n % 100).padStart(2, '0') } } }) };
}

${HTTP_POST_SOURCE}
function post(instance, token, body) {
  return httpPost(agents[instance], cfg.instances[instance], { 'content-type': 'application/json', authorization: 'Bearer ' + token }, body);
}

function newRec() { return { kind: [], at: [], lat: [], dAt: [], dLat: [] }; }

async function runOp(kind, at, rec) {
  const r = request(kind);
  if (!r) { fail('pool', 'the sealed messages ran out'); return; }
  const u = cfg.users[r.user];
  if (r.clientId) messages.set(r.clientId, { conv: r.conv, at, got: 0, expected: cfg.convs[r.conv].members, rec, closed: false });
  try {
    const res = await post(u.instance, u.token, r.body);
    const lat = clock() - at;
    if (res.status !== 200 || res.text.includes('"errors"') || (r.clientId && !res.text.includes(CID + r.clientId + '"'))) {
      fail(KINDS[kind], 'status ' + res.status + ': ' + res.text.slice(0, 300));
    } else if (rec) {
      rec.kind.push(kind); rec.at.push(at); rec.lat.push(lat);
    }
  } catch (e) {
    fail(KINDS[kind], (e && e.message) || e);
  }
}

function onFrame(s, text) {
  if (text.startsWith(NEXT)) {
    sockets[s].seen = true;
    const a = text.indexOf(CID);
    const cid = a < 0 ? '' : text.slice(a + CID.length, text.indexOf('"', a + CID.length));
    const m = messages.get(cid);
    if (!m) { fail('delivery', 'socket ' + s + ': a message nobody sent: ' + text.slice(0, 200)); return; }
    if (m.closed) return; // already counted as missing when its phase drained
    if (m.conv !== cfg.users[s].conv) { fail('delivery', 'socket ' + s + ': a message of another conversation'); return; }
    m.got++;
    if (m.got > m.expected) { fail('delivery', 'socket ' + s + ': message ' + cid + ' delivered twice'); return; }
    if (m.rec) { const t = clock(); m.rec.dAt.push(t); m.rec.dLat.push(t - m.at); }
    return;
  }
  if (text === '{"type":"ping"}') { sockets[s].ws.send('{"type":"pong"}'); return; }
  if (text.startsWith('{"type":"pong"')) return;
  fail('socket', 'socket ' + s + ': unexpected frame ' + text.slice(0, 300));
}

function connectOne(s) {
  const u = cfg.users[s];
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(cfg.instances[u.instance].wsUrl, 'graphql-transport-ws', { perMessageDeflate: false });
    let acked = false;
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { token: u.token } })));
    ws.on('message', (data) => {
      const text = data.toString();
      if (acked) { onFrame(s, text); return; }
      const m = JSON.parse(text);
      if (m.type === 'connection_ack') {
        acked = true;
        sockets[s] = { ws, seen: false };
        ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: SUBSCRIPTION, variables: { c: cfg.convs[u.conv].id } } }));
        resolve();
      } else if (m.type === 'ping') ws.send('{"type":"pong"}');
      else reject(new Error('socket ' + s + ': unexpected before ack: ' + text.slice(0, 300)));
    });
    ws.on('error', (e) => { if (!acked) reject(e); else fail('socket', 'socket ' + s + ': ' + e.message); });
    ws.on('close', (code, reason) => {
      if (!acked) reject(new Error('socket ' + s + ': closed before ack: ' + code + ' ' + reason));
      else if (!closing) fail('socket', 'socket ' + s + ': closed by the server: ' + code + ' ' + reason);
    });
  });
}

const handlers = {
  async setup(m) {
    cfg = m.cfg;
    agents = cfg.instances.map(() => new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 }));
  },
  async seal(m) { for (const p of m.sends) pool.push(p); return pool.length - poolNext; },
  async connect() {
    let next = 0;
    const lane = async () => { while (next < cfg.users.length) await connectOne(next++); };
    await Promise.all(Array.from({ length: 32 }, lane));
  },
  // Until every socket has received a message: each subscription is live (the protocol does
  // not acknowledge a subscribe).
  async prime(m) {
    for (let attempt = 1; attempt <= 5; attempt++) {
      const cold = new Set();
      for (let s = 0; s < sockets.length; s++) if (!sockets[s].seen) cold.add(cfg.users[s].conv);
      if (cold.size === 0) return { attempts: attempt - 1 };
      const convs = [...cold];
      let next = 0;
      const lane = async () => {
        while (next < convs.length) {
          const conv = convs[next++];
          const i = pool.findIndex((p, k) => k >= poolNext && p && p.conv === conv);
          if (i < 0) throw new Error('no sealed primer left for conversation ' + conv);
          const p = pool[i];
          pool.splice(i, 1);
          messages.set(p.clientId, { conv, at: clock(), got: 0, expected: cfg.convs[conv].members, rec: null, closed: false });
          const res = await post(cfg.users[p.user].instance, cfg.users[p.user].token, p.body);
          if (res.status !== 200 || res.text.includes('"errors"')) throw new Error('primer failed: ' + res.text.slice(0, 300));
        }
      };
      await Promise.all(Array.from({ length: 8 }, lane));
      const deadline = clock() + m.waitMs;
      while (clock() < deadline && sockets.some((x) => !x.seen)) await new Promise((r) => setTimeout(r, 50));
    }
    const cold = sockets.filter((x) => !x.seen).length;
    if (cold > 0) throw new Error(cold + ' subscriptions received nothing after 5 rounds of primers');
    return { attempts: 5 };
  },
  async closed(m) {
    const rec = newRec();
    const start = clock();
    const end = start + m.durationMs;
    const elu0 = performance.eventLoopUtilization();
    const lane = async () => { while (clock() < end) await runOp(pickKind(), clock(), rec); };
    await Promise.all(Array.from({ length: m.concurrency }, lane));
    return { rec, start, end: clock(), busy: performance.eventLoopUtilization(elu0).utilization };
  },
  async open(m) {
    const rec = newRec();
    const start = clock();
    const end = start + m.durationMs;
    const elu0 = performance.eventLoopUtilization();
    let next = start;
    let inFlight = 0;
    let peak = 0;
    let queuedPeak = 0;
    const queue = [];
    const pending = new Set();
    const launch = (kind, at) => {
      inFlight++;
      if (inFlight > peak) peak = inFlight;
      const p = runOp(kind, at, rec).then(() => {
        pending.delete(p);
        inFlight--;
        const q = queue.shift();
        if (q) launch(q[0], q[1]);
      });
      pending.add(p);
    };
    await new Promise((resolve) => {
      const tick = () => {
        const t = clock();
        while (next <= t && next < end) {
          const at = next;
          next += (-Math.log(1 - Math.random()) * 1000) / m.rate;
          const kind = pickKind();
          if (inFlight < m.maxInFlight) launch(kind, at);
          else { queue.push([kind, at]); if (queue.length > queuedPeak) queuedPeak = queue.length; }
        }
        if (next >= end) resolve();
        else setTimeout(tick, 1);
      };
      tick();
    });
    while (pending.size > 0 || queue.length > 0) await Promise.all([...pending]);
    return { rec, start, end: clock(), busy: performance.eventLoopUtilization(elu0).utilization, peakInFlight: peak, peakQueued: queuedPeak };
  },
  // Waits until every message sent so far reached every member's socket (or the time is up:
  // what is missing then is an error).
  async drain(m) {
    const deadline = clock() + m.timeoutMs;
    const open = () => { let n = 0; for (const x of messages.values()) if (!x.closed && x.got < x.expected) n++; return n; };
    while (open() > 0 && clock() < deadline) await new Promise((r) => setTimeout(r, 50));
    let missing = 0;
    for (const [cid, x] of messages) {
      if (x.closed) continue;
      if (x.got < x.expected) { missing += x.expected - x.got; fail('delivery', 'message ' + cid + ': ' + x.got + ' of ' + x.expected + ' deliveries after the drain'); }
      x.closed = true;
      x.rec = null;
    }
    return { missing, left: pool.length - poolNext };
  },
  async errors() { return errors; },
  // Event-loop utilisation of this thread since the previous call (the suite's 5-s sampler).
  async elu() { const now = performance.eventLoopUtilization(); const u = performance.eventLoopUtilization(now, lastElu).utilization; lastElu = now; return u; },
  async close() {
    closing = true;
    await Promise.all(sockets.map((x) => new Promise((r) => { if (x.ws.readyState === WebSocket.CLOSED) r(); else { x.ws.once('close', r); x.ws.close(1000); } })));
    for (const a of agents) a.destroy();
  },
};

parentPort.on('message', (m) => {
  handlers[m.type](m).then(
    (value) => parentPort.postMessage({ seq: m.seq, value }),
    (e) => parentPort.postMessage({ seq: m.seq, error: String((e && e.stack) || e) }),
  );
});
`;
