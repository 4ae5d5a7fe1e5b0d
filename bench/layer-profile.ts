/**
 * @module
 * Where a gateway request's CPU time goes, by owner of the code: a CPU profile (V8's
 * sampling profiler through node:inspector, the same data `node --cpu-prof` writes) of the
 * gateway serving the reference list query from bench/server.ts, with self time summed per
 * bucket (the store: Prisma and the driver; graphql-js; Apollo Server; jose; veilgraph's own
 * files one by one; Node's HTTP; GC). Only the load phase is profiled, not the set-up.
 *
 *   npx tsx bench/layer-profile.ts [--db sqlite|postgres] [--target gateway|gatewayMem|sameMem|sameDb|peer|plain]
 *                                  [--n 1] [--query e2ee|all] [--seconds 8] [--out file.cpuprofile]
 *
 * `--target gatewayMem` (SQLite) is the gateway with page and grants from memory: its profile
 * next to `sameMem`'s is the layer's own work.
 *
 * Not part of `npm run bench`: a drill-down for issue 17 goal 1 (docs/performance.md).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { CONCURRENCY, FIELDS_ALL, FIELDS_E2EE, listDocument, setUpServerBench, type BenchDb } from './server.js';
import { table } from './harness.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** The bucket a frame's self time counts for. */
function bucket(url: string, fn: string): string {
  if (url === '') {
    if (fn === '(garbage collector)') return 'GC';
    if (fn === '(idle)') return 'idle';
    if (fn === '(program)') return 'program (V8, not JS)';
    return `native: ${fn || '(anonymous)'}`;
  }
  const u = url.replace(/^file:\/\//, '');
  if (/storage\/generated|@prisma|better-sqlite3|\/pg\/|pg-protocol|pg-pool/.test(u)) return 'store: Prisma, driver';
  if (u.includes('node_modules/graphql/')) return 'graphql-js';
  if (u.includes('node_modules/@apollo/')) return 'Apollo Server';
  if (u.includes('node_modules/@graphql-tools/')) return 'graphql-tools';
  if (u.includes('node_modules/jose/')) return 'jose (token)';
  const src = /\/(src\/.*)$/.exec(u);
  if (src) return `veilgraph ${src[1]}`;
  if (u.startsWith('node:')) return `node ${u.slice(5).split('/')[0]}`;
  const mod = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u);
  if (mod) return `dep ${mod[1]}`;
  return `other ${u.split('/').slice(-2).join('/')}`;
}

function summarise(p: Profile): Map<string, number> {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const out = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const n = byId.get(id)!;
    const k = bucket(n.callFrame.url, n.callFrame.functionName);
    out.set(k, (out.get(k) ?? 0) + (p.timeDeltas[i] ?? 0));
  });
  return out;
}

/** Self time per function of veilgraph's own files (the top ones). */
function ownFunctions(p: Profile): Map<string, number> {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const out = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const n = byId.get(id)!;
    const src = /\/(src\/.*)$/.exec(n.callFrame.url);
    if (!src || src[1]!.includes('storage/generated')) return;
    const k = `${src[1]}:${n.callFrame.lineNumber + 1} ${n.callFrame.functionName || '(anonymous)'}`;
    out.set(k, (out.get(k) ?? 0) + (p.timeDeltas[i] ?? 0));
  });
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { db: { type: 'string', default: 'sqlite' }, n: { type: 'string', default: '1' }, query: { type: 'string', default: 'e2ee' }, seconds: { type: 'string', default: '8' }, out: { type: 'string' }, target: { type: 'string', default: 'gateway' } },
  });
  const db = values.db as BenchDb;
  const n = Number(values.n);
  const fields = values.query === 'all' ? FIELDS_ALL : FIELDS_E2EE;
  const fx = await setUpServerBench(db, Math.max(n, 200));
  try {
    const doc = listDocument(values.query ?? 'e2ee', fields, n, fx.profiles);
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${fx.token}` };
    const url = values.target === 'gateway' ? fx.gateway.url : fx.servers[values.target as keyof typeof fx.servers]?.url;
    if (!url) throw new Error(`--target ${values.target}: gateway, or one of ${Object.keys(fx.servers).join(', ')}`);
    const res = await fetch(url, { method: 'POST', headers, body: doc.body });
    const text = await res.text();
    if (res.status !== 200 || text.includes('"errors"')) throw new Error(`gateway: ${res.status} ${text.slice(0, 300)}`);
    const id = await fx.client.target({ url, body: doc.body, headers, expectBytes: Buffer.byteLength(text) });
    // Warm-up, then the profiled phase.
    const until = async (ms: number): Promise<number> => {
      const end = performance.now() + ms;
      let count = 0;
      while (performance.now() < end) {
        await fx.client.run(id, 64, CONCURRENCY);
        count += 64;
      }
      return count;
    };
    await until(1500);
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
    await session.post('Profiler.start');
    const t0 = performance.now();
    const count = await until(Number(values.seconds) * 1000);
    const wall = performance.now() - t0;
    const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: Profile };
    session.disconnect();
    if (values.out) writeFileSync(values.out, JSON.stringify(profile));
    const sums = summarise(profile);
    const busy = [...sums.entries()].filter(([k]) => k !== 'idle').reduce((a, [, v]) => a + v, 0);
    const perReq = (us: number): string => (us / count).toFixed(1);
    console.log(`${values.target} on ${db}, N=${n}, ${values.query}: ${count} requests in ${(wall / 1000).toFixed(1)} s (${((count * 1000) / wall).toFixed(0)} req/s); main thread busy ${(busy / 1000 / wall * 100).toFixed(0)}%, ${perReq(busy)} µs CPU per request`);
    console.log('');
    const rows = [...sums.entries()].filter(([k]) => k !== 'idle').sort((a, b) => b[1] - a[1]).slice(0, 40);
    console.log(table(['bucket', 'µs/request', 'share'], rows.map(([k, v]) => [k, perReq(v), `${((100 * v) / busy).toFixed(1)}%`]), ['l', 'r', 'r']));
    console.log('');
    const own = [...ownFunctions(profile).entries()].sort((a, b) => b[1] - a[1]).slice(0, 25);
    console.log(table(['veilgraph function (self)', 'µs/request'], own.map(([k, v]) => [k, perReq(v)]), ['l', 'r']));
  } finally {
    await fx.close();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
