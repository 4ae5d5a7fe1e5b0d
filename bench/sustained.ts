/**
 * @module
 * Sustained-load suite (issue 17, goal 7): 1,000 signed-in WebSocket sessions plus a mix of
 * queries, writes and messages at 80 % of the capacity measured in the same run, for five
 * minutes; reports p99 latency of the last minute against the first, the gateway's resident
 * memory over time, and errors. Once on SQLite (one gateway) and once on PostgreSQL (two
 * gateways on one database, `startPostgres` of test/helpers/postgres.ts; the suite fails
 * when PostgreSQL cannot start). Not part of `npm test`: it runs minutes.
 *
 * Per database:
 * 1. **Gateways** in their own processes (bench/sustained-gateway.ts: `startGateway`,
 *    production settings, roomy rate limits, `--expose-gc`), so their RSS is theirs and the
 *    load generator (a worker thread of this process: bench/sustained-load.ts) does not share
 *    their event loop. PostgreSQL: two instances with one key ring and one pair of secrets.
 * 2. **Set-up, not measured**: 1,000 users register and sign in through the API (identity
 *    keys, `register`, `login`: test/helpers/messaging.ts), 8 at a time, user i at instance
 *    i mod instances; each creates a profile (display name, SERVER email and phone); 100 GROUP
 *    conversations of 10 members, created by their first member with `Messenger.create`.
 *    Every user opens a WebSocket to its instance and subscribes to its conversation's
 *    `messageAdded`; priming messages make sure each subscription is live.
 * 3. **Capacity**: the mix (bench/sustained-load.ts) in closed loop at 2, 8 and 32
 *    operations in flight; capacity = the median of the operations completed per second in
 *    the steps at 8 and 32 (`capacityOf`).
 * 4. **Warm-up** at 80 % of capacity, open loop (Poisson arrivals; latency from the
 *    scheduled arrival), then the load stops, every message is delivered, and each gateway
 *    is asked for its memory after a forced full collection: the baseline.
 * 5. **Measured phase**, after 15 s (quick: 3 s) of the same load unmeasured (the forced
 *    collection leaves the gateway cold), at the same rate for the duration (5 minutes; quick: 30 s), the
 *    gateways' memory sampled every 5 s (no collection forced); then the load stops, every
 *    message must be delivered, and the memory after a forced collection again: the end.
 *
 * Goals, per database: p99 of the requests and p99 of the deliveries (send arrival to the
 * frame at a member's socket) in the last window (a minute; quick: a third of the phase)
 * within ±20 % of the first window's (a ratio of 0.80–1.20); resident memory flat: each gateway's RSS after a forced
 * collection at the end within 10 % of the baseline's; no error (see the load module: every
 * failed request, socket trouble, a missing, stray or duplicate delivery, plus every `error`
 * line a gateway logs).
 *
 * Diagnostics per window (to tell why a window's p99 is what it is): latency per kind of
 * operation; each gateway's event-loop delay and utilisation, its main thread's time on a CPU
 * and waiting for one (/proc schedstat), its collector pauses (bench/sustained-gateway.ts);
 * the generator thread's utilisation; the CPU of the machine, this process, PostgreSQL and
 * everything else (/proc/stat); the load average; SQLite WAL checkpoints and file sizes or
 * PostgreSQL autovacuum runs and dead rows.
 *
 * Settings (environment; the harness's argv stays as it is):
 *   BENCH_SUSTAINED_SECONDS   the measured phase (default 300; quick: 30)
 *   BENCH_SUSTAINED_DB        sqlite,postgres (default both)
 *   BENCH_SUSTAINED_SNAPSHOT  a directory: each gateway writes a V8 heap snapshot there at the
 *                             baseline and at the end (to find what grew; slow, adds pauses)
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { performance } from 'node:perf_hooks';
import { nodeBackend } from '../src/crypto/backends/node.js';
import { base64urlEncode } from '../src/crypto/base64url.js';
import { newKeyRingFile } from '../src/server/keyring.js';
import { gqlAt } from '../test/helpers/gateway.js';
import { messagingMember, type MessagingMember } from '../test/helpers/messaging.js';
import { startPostgres, type TestPostgres } from '../test/helpers/postgres.js';
import { EvalWorker, fmtRatio, pool, progress, progressDone, quantileOf, table, type BenchOptions } from './harness.js';
import pg from 'pg';
import type { GatewayStats, SustainedGatewaySettings } from './sustained-gateway.js';
import { LOAD_WORKER_SOURCE } from './sustained-load.js';

/** p99 of the last window within ±20 % of the first's (either way: a first window far worse than the last is no steady state either). */
export const GOAL_P99_DRIFT = 0.2;
export const GOAL_RSS_FLAT = 1.1;

const USERS = 1000;
const GROUP_SIZE = 10;
const LOAD_FRACTION = 0.8;
/** Open loop: operations running at once; more arrivals wait in the generator (their latency counts from arrival). */
const MAX_IN_FLIGHT = 64;
const SEND_SHARE = 0.2;
const KINDS = ['profile', 'history', 'write', 'send'] as const;
const SEND = 'mutation S($i: SendMessageInput!) { sendMessage(input: $i) { seq clientId } }';
const CREATE_PROFILE = 'mutation C($i: CreateProfileInput!) { createProfile(input: $i) { id } }';
const ROOT = new URL('../', import.meta.url);

type Db = 'sqlite' | 'postgres';

interface Plan {
  readonly measuredMs: number;
  readonly warmupMs: number;
  /** Load after the baseline's forced collection, before the measured phase (not measured). */
  readonly settleMs: number;
  readonly rampStepMs: number;
  readonly rampConcurrency: readonly number[];
  /** First and last window of the measured phase. */
  readonly windowMs: number;
  readonly sampleEveryMs: number;
  readonly dbs: readonly Db[];
  readonly snapshotDir: string | undefined;
}

function planOf(opts: BenchOptions, env: NodeJS.ProcessEnv = process.env): Plan {
  const raw = env.BENCH_SUSTAINED_SECONDS;
  let measuredMs = opts.quick ? 30_000 : 300_000;
  if (raw !== undefined && raw !== '') {
    const s = Number(raw);
    if (!Number.isFinite(s) || s < 15) throw new Error(`bench: BENCH_SUSTAINED_SECONDS must be a number ≥ 15, got ${JSON.stringify(raw)}`);
    measuredMs = s * 1000;
  }
  const dbs = (env.BENCH_SUSTAINED_DB ?? 'sqlite,postgres').split(',').map((s) => s.trim());
  for (const d of dbs) if (d !== 'sqlite' && d !== 'postgres') throw new Error(`bench: BENCH_SUSTAINED_DB lists sqlite and/or postgres, got ${JSON.stringify(d)}`);
  return {
    measuredMs,
    warmupMs: opts.quick ? 5_000 : 30_000,
    settleMs: opts.quick ? 3_000 : 15_000,
    rampStepMs: opts.quick ? 3_000 : 10_000,
    rampConcurrency: [2, 8, 32],
    windowMs: Math.min(60_000, measuredMs / 3),
    sampleEveryMs: 5_000,
    dbs: dbs as Db[],
    snapshotDir: env.BENCH_SUSTAINED_SNAPSHOT ? resolvePath(env.BENCH_SUSTAINED_SNAPSHOT) : undefined,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const MiB = (b: number): string => (b / 1024 / 1024).toFixed(0);
const fmtMs = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

// ---------------------------------------------------------------------------------------
// Gateway processes

interface Memory {
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
  /** CPU time (user + system) the process has used so far, µs. */
  readonly cpuMicros: number;
  readonly stats: GatewayStats;
}

class GatewayChild {
  private seq = 0;
  private readonly pending = new Map<number, (v: unknown) => void>();
  private out = '';
  /** `error`-level log lines (and anything on stderr). */
  readonly errorLines: string[] = [];
  warnLines = 0;

  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
  ) {}

  static start(settings: SustainedGatewaySettings): Promise<GatewayChild> {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/sustained-gateway.ts'], {
      cwd: ROOT,
      env: { ...process.env, VEIL_BENCH_GATEWAY: JSON.stringify(settings) },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let early = '';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the gateway did not start: ${early}`)), 120_000);
      let self: GatewayChild | undefined;
      const onLine = (line: string): void => {
        if (!self) {
          early += `${line}\n`;
          return;
        }
        if (line.includes('"level":"error"')) self.errorLines.push(line);
        else if (line.includes('"level":"warn"')) self.warnLines++;
        else if (line.trim() !== '') self.errorLines.push(line);
      };
      const lines = (b: Buffer): void => {
        const text = (self ? self.out : early) + b.toString('utf8');
        const parts = text.split('\n');
        const rest = parts.pop() ?? '';
        if (self) self.out = rest;
        else early = rest;
        for (const l of parts) onLine(l);
      };
      child.stdout!.on('data', lines);
      child.stderr!.on('data', lines);
      child.on('message', (m: { type: string; seq?: number; url?: string; usage?: Memory; path?: string }) => {
        if (m.type === 'ready') {
          clearTimeout(timer);
          self = new GatewayChild(child, m.url!);
          resolve(self);
        } else if (m.seq !== undefined) {
          const p = self?.pending.get(m.seq);
          self?.pending.delete(m.seq);
          p?.(m.usage ?? m.path);
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (!self) reject(new Error(`the gateway exited (${code ?? signal}): ${early}`));
        else for (const p of self.pending.values()) p(undefined);
      });
    });
  }

  private ask<T>(msg: Record<string, unknown>): Promise<T> {
    const seq = this.seq++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(seq, (v) => (v === undefined ? reject(new Error('the gateway process is gone')) : resolve(v as T)));
      this.child.send({ ...msg, seq });
    });
  }

  memory(gc: boolean): Promise<Memory> {
    return this.ask({ type: 'memory', gc });
  }

  snapshot(path: string): Promise<string> {
    return this.ask({ type: 'snapshot', path });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------
// The load worker

interface Rec {
  readonly kind: number[];
  readonly at: number[];
  readonly lat: number[];
  readonly dAt: number[];
  readonly dLat: number[];
}

interface PhaseResult {
  readonly rec: Rec;
  readonly start: number;
  readonly end: number;
  /** Event-loop utilisation of the load thread. */
  readonly busy: number;
  readonly peakInFlight?: number;
  readonly peakQueued?: number;
}

interface LoadErrors {
  readonly count: number;
  readonly byKind: Record<string, number>;
  readonly samples: string[];
}

interface SealedSend {
  readonly user: number;
  readonly conv: number;
  readonly clientId: string;
  readonly body: string;
}

/** The load generator's thread (bench/sustained-load.ts). */
class LoadWorker {
  private readonly worker = new EvalWorker(LOAD_WORKER_SOURCE, { wsPath: createRequire(import.meta.url).resolve('ws') });

  call<T>(type: string, msg: Record<string, unknown> = {}): Promise<T> {
    return this.worker.call<T>({ ...msg, type });
  }

  close(): Promise<void> {
    return this.worker.close();
  }
}

// ---------------------------------------------------------------------------------------
// One database

interface Window {
  readonly label: string;
  readonly ops: number;
  readonly opsPerSec: number;
  readonly p50: number;
  readonly p99: number;
  readonly deliveries: number;
  readonly dP99: number;
  readonly rss: readonly number[];
  readonly heap: readonly number[];
  /** CPU time ÷ wall time of each gateway over the window (between the samples nearest its edges). */
  readonly cpu: readonly number[];
  /** CPU time of all gateways over the window ÷ the operations that arrived in it, ms. */
  readonly cpuMsPerOp: number;
  /** p50 and p99 per kind of operation (KINDS order), ms. */
  readonly kinds: readonly { readonly n: number; readonly p50: number; readonly p99: number }[];
  readonly diag: Diagnostics;
}

/** Why a window's latency is what it is: the gateways' runtime, the machine, the database. */
interface Diagnostics {
  /** Event-loop delay: the highest 5-s p99 and the longest delay in the window, over the gateways, ms. */
  readonly eldP99: number;
  readonly eldMax: number;
  /** Event-loop utilisation of the gateways (mean of the 5-s samples; the busiest instance). */
  readonly elu: number;
  /** Collector pauses in the window: total ms (all gateways), major collections, the longest, ms. */
  readonly gcMs: number;
  readonly gcMajor: number;
  readonly gcMaxMs: number;
  /** The load generator's thread: event-loop utilisation (mean of the 5-s samples). */
  readonly loadElu: number;
  /** CPU in cores (1 = one core busy): the whole machine, this process, PostgreSQL, and everyone else. */
  readonly machineCores: number;
  readonly benchCores: number;
  readonly pgCores: number;
  readonly othersCores: number;
  /** The gateways' main threads (their event loops), share of the wall time: on a CPU, and runnable but waiting for one (the busiest instance). */
  readonly mainOnCpu: number;
  readonly mainWaiting: number;
  /** Load average (1 min), mean of the samples. */
  readonly load1: number;
  /** SQLite: WAL restarts after a checkpoint in the window, the database file at the end, MiB. */
  readonly walCheckpoints?: number;
  readonly dbMiB?: number;
  readonly walMiB?: number;
  /** PostgreSQL: autovacuum and autoanalyze runs in the window, dead rows at its end. */
  readonly autovacuum?: number;
  readonly autoanalyze?: number;
  readonly deadRows?: number;
}

interface RampStep {
  readonly concurrency: number;
  readonly opsPerSec: number;
  readonly p50: number;
  readonly p99: number;
  readonly busy: number;
  /** CPU of the gateway processes (summed) per completed operation, ms. */
  readonly cpuMsPerOp: number;
  /** CPU of the gateway processes (summed) ÷ wall time. */
  readonly cpuShare: number;
  /** Operations completed in each whole second of the step after its first (ramp-in). */
  readonly perSecond: readonly number[];
}

/**
 * Capacity: the median of the per-second completions of the steps that saturate the gateways
 * (every step but the first, whose few operations in flight leave them idle between requests
 * on a quiet machine). A maximum over whole steps (the rule before 2026-12-08) picks the
 * luckiest step on a shared machine, where the CPU the gateways get changes from one step to
 * the next: 80 % of that is more than 80 % of what they sustain.
 */
export function capacityOf(steps: readonly { readonly perSecond: readonly number[] }[]): number {
  const slices = steps.slice(1).flatMap((s) => s.perSecond);
  return slices.length > 0 ? quantileOf(slices, 0.5) : quantileOf(steps.flatMap((s) => s.perSecond), 0.5);
}

/** Completions per whole second of a closed-loop step, the first second left out. */
function perSecondOf(r: PhaseResult): number[] {
  const seconds = Math.floor((r.end - r.start) / 1000);
  const counts = new Array<number>(seconds).fill(0);
  for (let i = 0; i < r.rec.at.length; i++) {
    const k = Math.floor((r.rec.at[i]! + r.rec.lat[i]! - r.start) / 1000);
    if (k >= 0 && k < seconds) counts[k]!++;
  }
  return counts.slice(1);
}

interface Sample {
  readonly t: number;
  readonly mem: readonly Memory[];
  readonly machine: Machine;
  /** Event-loop utilisation of the load generator's thread since the previous sample. */
  readonly loadElu: number;
  /** PostgreSQL: autovacuum/autoanalyze runs so far and dead rows now, over every table. */
  readonly pg?: PgStats;
}

/** The machine beside the run: where the CPU went (cumulative, from /proc), and the load average. */
interface Machine {
  /** Jiffies (1/100 s) of all CPUs: busy (not idle, not iowait) and total. */
  readonly busy: number;
  readonly total: number;
  /** CPU time of this process (the load generator and the suite's main thread), µs. */
  readonly benchMicros: number;
  /** CPU jiffies of the PostgreSQL server's processes (0 on SQLite). */
  readonly pgJiffies: number;
  readonly load1: number;
}

interface PgStats {
  readonly autovacuum: number;
  readonly autoanalyze: number;
  readonly deadRows: number;
  readonly liveRows: number;
}

const CLK_TCK = 100;

function procStat(): { busy: number; total: number } {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = cpu.reduce((a, b) => a + b, 0);
  return { busy: total - (cpu[3] ?? 0) - (cpu[4] ?? 0), total };
}

/** CPU jiffies (utime + stime) of the PostgreSQL postmaster listening on `port` and of its children. */
function pgJiffiesOf(port: number | undefined): number {
  if (port === undefined) return 0;
  let total = 0;
  const stats: { pid: number; ppid: number; jiffies: number }[] = [];
  let master = -1;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      stats.push({ pid: Number(d), ppid: Number(f[1]), jiffies: Number(f[11]) + Number(f[12]) });
      if (master < 0 && stat.includes('(postgres)') && readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ').includes(`-p ${port} `)) master = Number(d);
    } catch {
      // The process ended meanwhile.
    }
  }
  for (const x of stats) if (x.pid === master || x.ppid === master) total += x.jiffies;
  return total;
}

function machineNow(pgPort: number | undefined): Machine {
  const u = process.cpuUsage();
  return { ...procStat(), benchMicros: u.user + u.system, pgJiffies: pgJiffiesOf(pgPort), load1: loadavg()[0]! };
}

interface DbResult {
  readonly db: Db;
  readonly instances: number;
  readonly setup: string[];
  readonly ramp: readonly RampStep[];
  readonly capacity: number;
  readonly rate: number;
  readonly measured: PhaseResult;
  readonly windows: readonly Window[];
  readonly baseline: readonly Memory[];
  readonly end: readonly Memory[];
  readonly samples: readonly Sample[];
  readonly errors: LoadErrors;
  readonly gatewayErrors: readonly string[];
  readonly gatewayWarns: number;
  readonly snapshots: readonly string[];
}

interface Member {
  readonly index: number;
  readonly member: MessagingMember;
  readonly instance: number;
  readonly conv: number;
  readonly profileId: string;
}

const newId = (): string => base64urlEncode(nodeBackend.randomBytes(16));
const textOf = (tag: string): string => `${tag}: ${'lorem ipsum dolor sit amet consectetur adipiscing elit '.repeat(5)}`.slice(0, 200);

/** Sealed sends, each from its conversation's creator, spread over the conversations round robin. */
async function sealSends(members: readonly Member[], convIds: readonly string[], count: number, from: number): Promise<SealedSend[]> {
  const out: SealedSend[] = [];
  for (let i = 0; i < count; i++) {
    const conv = (from + i) % convIds.length;
    const creator = members[conv * GROUP_SIZE]!;
    const clientId = newId();
    const body = await creator.member.messenger.seal(convIds[conv]!, textOf(`message ${from + i}`), clientId);
    out.push({ user: creator.index, conv, clientId, body: JSON.stringify({ query: SEND, variables: { i: { conversationId: convIds[conv], clientId, body } } }) });
  }
  return out;
}

function windowOf(label: string, r: PhaseResult, from: number, to: number, samples: readonly Sample[]): Window {
  const lat: number[] = [];
  for (let i = 0; i < r.rec.at.length; i++) if (r.rec.at[i]! >= from && r.rec.at[i]! < to) lat.push(r.rec.lat[i]!);
  const dLat: number[] = [];
  // A delivery belongs to the window its send arrived in, as a request does.
  for (let i = 0; i < r.rec.dAt.length; i++) {
    const sentAt = r.rec.dAt[i]! - r.rec.dLat[i]!;
    if (sentAt >= from && sentAt < to) dLat.push(r.rec.dLat[i]!);
  }
  const inside = samples.filter((s) => s.t >= from && s.t < to);
  // The samples nearest the window's edges (the sampler runs beside the load, not in step).
  const nearest = (t: number): Sample => samples.reduce((best, x) => (Math.abs(x.t - t) < Math.abs(best.t - t) ? x : best), samples[0]!);
  const a = nearest(from);
  const b = nearest(to);
  const instances = samples[0]?.mem.length ?? 0;
  const kinds = KINDS.map((_, k) => {
    const xs: number[] = [];
    for (let i = 0; i < r.rec.at.length; i++) if (r.rec.kind[i] === k && r.rec.at[i]! >= from && r.rec.at[i]! < to) xs.push(r.rec.lat[i]!);
    return { n: xs.length, p50: quantileOf(xs, 0.5), p99: quantileOf(xs, 0.99) };
  });
  // Samples that describe the window: those taken inside it (each covers the 5 s before it).
  const span = samples.filter((x) => x.t > from && x.t <= to + 2_500);
  const mean = (xs: readonly number[]): number => (xs.length === 0 ? NaN : xs.reduce((p, q) => p + q, 0) / xs.length);
  const sum = (f: (m: Memory) => number, x: Sample): number => x.mem.reduce((p, m) => p + f(m), 0);
  const wall = (b.t - a.t) / 1000;
  const cores = (jiffies: number): number => jiffies / CLK_TCK / wall;
  const machineCores = cores(b.machine.busy - a.machine.busy);
  const gatewayCores = (sum((m) => m.cpuMicros, b) - sum((m) => m.cpuMicros, a)) / 1e6 / wall;
  const benchCores = (b.machine.benchMicros - a.machine.benchMicros) / 1e6 / wall;
  const pgCores = cores(b.machine.pgJiffies - a.machine.pgJiffies);
  const walSeq = (x: Sample): number | undefined => x.mem[0]?.stats.walCheckpointSeq;
  const diag: Diagnostics = {
    eldP99: Math.max(...span.flatMap((x) => x.mem.map((m) => m.stats.eldP99))),
    eldMax: Math.max(...span.flatMap((x) => x.mem.map((m) => m.stats.eldMax))),
    elu: Math.max(...Array.from({ length: instances }, (_, k) => mean(span.map((x) => x.mem[k]!.stats.elu)))),
    gcMs: sum((m) => m.stats.gcMs, b) - sum((m) => m.stats.gcMs, a),
    gcMajor: sum((m) => m.stats.gcMajorCount, b) - sum((m) => m.stats.gcMajorCount, a),
    gcMaxMs: Math.max(...span.flatMap((x) => x.mem.map((m) => m.stats.gcMaxMs))),
    loadElu: mean(span.map((x) => x.loadElu)),
    machineCores,
    benchCores,
    pgCores,
    othersCores: machineCores - gatewayCores - benchCores - pgCores,
    load1: mean(span.map((x) => x.machine.load1)),
    mainOnCpu: Math.max(...Array.from({ length: instances }, (_, k) => (b.mem[k]!.stats.mainOnCpuMs - a.mem[k]!.stats.mainOnCpuMs) / 1000 / wall)),
    mainWaiting: Math.max(...Array.from({ length: instances }, (_, k) => (b.mem[k]!.stats.mainRunqueueMs - a.mem[k]!.stats.mainRunqueueMs) / 1000 / wall)),
    ...(walSeq(a) !== undefined && walSeq(b) !== undefined
      ? { walCheckpoints: walSeq(b)! - walSeq(a)!, dbMiB: (b.mem[0]!.stats.dbBytes ?? 0) / 1048576, walMiB: (b.mem[0]!.stats.walBytes ?? 0) / 1048576 }
      : {}),
    ...(a.pg && b.pg ? { autovacuum: b.pg.autovacuum - a.pg.autovacuum, autoanalyze: b.pg.autoanalyze - a.pg.autoanalyze, deadRows: b.pg.deadRows } : {}),
  };
  return {
    kinds,
    diag,
    label,
    ops: lat.length,
    opsPerSec: lat.length / ((to - from) / 1000),
    p50: quantileOf(lat, 0.5),
    p99: quantileOf(lat, 0.99),
    deliveries: dLat.length,
    dP99: quantileOf(dLat, 0.99),
    rss: Array.from({ length: instances }, (_, k) => quantileOf(inside.map((s) => s.mem[k]!.rss), 0.5)),
    heap: Array.from({ length: instances }, (_, k) => quantileOf(inside.map((s) => s.mem[k]!.heapUsed), 0.5)),
    cpu: Array.from({ length: instances }, (_, k) => (b.t > a.t ? (b.mem[k]!.cpuMicros - a.mem[k]!.cpuMicros) / 1000 / (b.t - a.t) : NaN)),
    cpuMsPerOp: b.t > a.t ? ((b.mem.reduce((x, m) => x + m.cpuMicros, 0) - a.mem.reduce((x, m) => x + m.cpuMicros, 0)) / 1000) * ((to - from) / (b.t - a.t)) / lat.length : NaN,
  };
}

async function pgTableStats(c: pg.Client): Promise<PgStats> {
  const r = await c.query<{ av: string; aa: string; dead: string; live: string }>(
    'SELECT sum(autovacuum_count) AS av, sum(autoanalyze_count) AS aa, sum(n_dead_tup) AS dead, sum(n_live_tup) AS live FROM pg_stat_user_tables',
  );
  const row = r.rows[0]!;
  return { autovacuum: Number(row.av), autoanalyze: Number(row.aa), deadRows: Number(row.dead), liveRows: Number(row.live) };
}

/** CPU time all gateway processes have used so far, µs. */
async function cpuOf(gateways: readonly GatewayChild[]): Promise<number> {
  return (await Promise.all(gateways.map((g) => g.memory(false)))).reduce((s, m) => s + m.cpuMicros, 0);
}

async function runDb(db: Db, plan: Plan): Promise<DbResult> {
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async (): Promise<void> => {
    for (const c of closers.splice(0)) await c().catch((e: unknown) => console.error(`bench cleanup: ${String(e)}`));
  };
  try {
    const setup: string[] = [];
    let t0 = performance.now();
    let databaseUrl: string | undefined;
    let pgPort: number | undefined;
    let pgStats: pg.Client | undefined;
    if (db === 'postgres') {
      progress('sustained: starting PostgreSQL');
      const pgServer: TestPostgres = await startPostgres(); // throws (fails the suite) when PostgreSQL cannot start
      closers.unshift(() => pgServer.stop());
      databaseUrl = await pgServer.createDatabase('sustained');
      pgPort = pgServer.port;
      pgStats = new pg.Client({ connectionString: databaseUrl });
      await pgStats.connect();
      const client = pgStats;
      closers.unshift(() => client.end());
    }
    const instances = db === 'postgres' ? 2 : 1;
    const shared = {
      realm: 'veilgraph',
      keyring: JSON.stringify(newKeyRingFile(nodeBackend)),
      jwtSecret: base64urlEncode(nodeBackend.randomBytes(32)),
      challengeKey: base64urlEncode(nodeBackend.randomBytes(32)),
      ...(databaseUrl ? { databaseUrl } : {}),
    };
    const gateways: GatewayChild[] = [];
    for (let k = 0; k < instances; k++) {
      progress(`sustained ${db}: starting gateway ${k + 1} of ${instances}`);
      const dataDir = mkdtempSync(join(tmpdir(), 'veilgraph-bench-sustained-'));
      closers.unshift(async () => rmSync(dataDir, { recursive: true, force: true }));
      const g = await GatewayChild.start({ ...shared, dataDir });
      closers.unshift(() => g.stop());
      gateways.push(g);
    }
    const load = new LoadWorker();
    closers.unshift(() => load.close());
    closers.unshift(() => load.call('close').then(() => undefined));

    // Users, profiles, conversations (set-up: not measured).
    let done = 0;
    const members = await pool(
      Array.from({ length: USERS }, (_, i) => i),
      8,
      async (i): Promise<Member> => {
        const instance = i % instances;
        const url = gateways[instance]!.url;
        const member = await messagingMember(url, `load${String(i).padStart(4, '0')}`);
        const profileId = newId();
        const created = await gqlAt(url)(CREATE_PROFILE, { i: { id: profileId, displayName: `user ${i}`, email: `load${i}@example.com`, phone: '+1 555 0100' } }, member.token);
        if (created.errors || created.status !== 200) throw new Error(`createProfile: ${JSON.stringify(created.errors)}`);
        if (++done % 50 === 0) progress(`sustained ${db}: ${done} of ${USERS} users signed up`);
        return { index: i, member, instance, conv: Math.floor(i / GROUP_SIZE), profileId };
      },
    );
    setup.push(`${USERS.toLocaleString('en-US')} users registered, signed in and with a profile (8 at a time) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    t0 = performance.now();
    const convCount = USERS / GROUP_SIZE;
    const convIds = await pool(
      Array.from({ length: convCount }, (_, c) => c),
      4,
      (c) => members[c * GROUP_SIZE]!.member.messenger.create('GROUP', members.slice(c * GROUP_SIZE + 1, (c + 1) * GROUP_SIZE).map((m) => m.member.username)),
    );
    setup.push(`${convCount} GROUP conversations of ${GROUP_SIZE} created (Messenger.create) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    await load.call('setup', {
      cfg: {
        instances: gateways.map((g) => {
          const u = new URL(g.url);
          return { host: u.hostname, port: Number(u.port), path: u.pathname, wsUrl: g.url.replace(/^http/, 'ws') };
        }),
        users: members.map((m) => ({ token: m.member.token, instance: m.instance, conv: m.conv, profileId: m.profileId })),
        convs: convIds.map((id) => ({ id, members: GROUP_SIZE })),
      },
    });
    let sealed = 0;
    const seal = async (count: number): Promise<number> => {
      const t = performance.now();
      const sends = await sealSends(members, convIds, count, sealed);
      sealed += count;
      await load.call('seal', { sends });
      return performance.now() - t;
    };
    progress(`sustained ${db}: sealing messages for priming and the capacity ramp`);
    const rampSeal = await seal(convCount * 3 + 4000);
    setup.push(`${(convCount * 3 + 4000).toLocaleString('en-US')} messages sealed (priming, ramp) in ${(rampSeal / 1000).toFixed(1)} s`);
    t0 = performance.now();
    progress(`sustained ${db}: connecting ${USERS} sockets`);
    await load.call('connect');
    const primed = await load.call<{ attempts: number }>('prime', { waitMs: 10_000 });
    await load.call('drain', { timeoutMs: 15_000 });
    setup.push(`${USERS.toLocaleString('en-US')} sockets connected and subscribed, every subscription live (${primed.attempts} priming round(s)) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    // Capacity.
    const ramp: RampStep[] = [];
    for (const c of plan.rampConcurrency) {
      progress(`sustained ${db}: capacity, ${c} in flight`);
      const cpu0 = await cpuOf(gateways);
      const r = await load.call<PhaseResult>('closed', { concurrency: c, durationMs: plan.rampStepMs });
      const cpu = (await cpuOf(gateways)) - cpu0;
      await load.call('drain', { timeoutMs: 15_000 });
      ramp.push({
        concurrency: c,
        opsPerSec: r.rec.lat.length / ((r.end - r.start) / 1000),
        p50: quantileOf(r.rec.lat, 0.5),
        p99: quantileOf(r.rec.lat, 0.99),
        busy: r.busy,
        cpuMsPerOp: cpu / 1000 / r.rec.lat.length,
        cpuShare: cpu / 1000 / (r.end - r.start),
        perSecond: perSecondOf(r),
      });
    }
    const capacity = capacityOf(ramp);
    const rate = capacity * LOAD_FRACTION;
    const needed = Math.ceil(rate * SEND_SHARE * ((plan.warmupMs + plan.measuredMs) / 1000) * 1.25) + 200;
    progress(`sustained ${db}: sealing ${needed} messages`);
    const runSeal = await seal(needed);
    setup.push(`${needed.toLocaleString('en-US')} messages sealed for the load (${SEND_SHARE * 100} % of ${rate.toFixed(0)} ops/s, 25 % spare) in ${(runSeal / 1000).toFixed(1)} s`);

    // Warm-up, then the baseline.
    progress(`sustained ${db}: warm-up at ${rate.toFixed(0)} ops/s`);
    await load.call<PhaseResult>('open', { rate, durationMs: plan.warmupMs, maxInFlight: MAX_IN_FLIGHT });
    await load.call('drain', { timeoutMs: 15_000 });
    const baseline = await Promise.all(gateways.map((g) => g.memory(true)));
    const snapshots: string[] = [];
    const snapshot = async (tag: string): Promise<void> => {
      if (!plan.snapshotDir) return;
      mkdirSync(plan.snapshotDir, { recursive: true });
      for (const [k, g] of gateways.entries()) snapshots.push(await g.snapshot(join(plan.snapshotDir, `sustained-${db}-gw${k}-${tag}.heapsnapshot`)));
    };
    await snapshot('baseline');
    // The forced collection (and a snapshot) leave the gateway cold for a moment (code and
    // caches flushed, sockets idle): the load resumes for a few seconds before the measured
    // phase so that its first window is not the restart.
    progress(`sustained ${db}: settling at ${rate.toFixed(0)} ops/s`);
    await load.call<PhaseResult>('open', { rate, durationMs: plan.settleMs, maxInFlight: MAX_IN_FLIGHT });

    // The measured phase, memory sampled alongside.
    const samples: Sample[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const t = performance.timeOrigin + performance.now();
        const [mem, loadElu, pgNow] = await Promise.all([Promise.all(gateways.map((g) => g.memory(false))), load.call<number>('elu'), pgStats ? pgTableStats(pgStats) : undefined]);
        samples.push({ t, mem, machine: machineNow(pgPort), loadElu, ...(pgNow ? { pg: pgNow } : {}) });
        const elapsed = samples.length > 0 ? t - samples[0]!.t : 0;
        progress(`sustained ${db}: ${(elapsed / 1000).toFixed(0)} of ${plan.measuredMs / 1000} s at ${rate.toFixed(0)} ops/s, RSS ${samples.at(-1)!.mem.map((m) => MiB(m.rss)).join(' + ')} MiB`);
        await sleep(plan.sampleEveryMs);
      }
    })();
    const measured = await load.call<PhaseResult>('open', { rate, durationMs: plan.measuredMs, maxInFlight: MAX_IN_FLIGHT });
    sampling = false;
    await sampler;
    await load.call('drain', { timeoutMs: 30_000 });
    const end = await Promise.all(gateways.map((g) => g.memory(true)));
    await snapshot('end');
    const errors = await load.call<LoadErrors>('errors');

    const windows: Window[] = [];
    const span = measured.end - measured.start;
    const count = Math.max(1, Math.round(plan.measuredMs / plan.windowMs));
    for (let w = 0; w < count; w++) {
      const from = measured.start + (w * plan.measuredMs) / count;
      const to = w === count - 1 ? measured.start + Math.max(span, plan.measuredMs) : measured.start + ((w + 1) * plan.measuredMs) / count;
      windows.push(windowOf(`${((w * plan.measuredMs) / count / 1000).toFixed(0)}–${(((w + 1) * plan.measuredMs) / count / 1000).toFixed(0)} s`, measured, from, to, samples));
    }
    progressDone();
    return {
      db,
      instances,
      setup,
      ramp,
      capacity,
      rate,
      measured,
      windows,
      baseline,
      end,
      samples,
      errors,
      gatewayErrors: gateways.flatMap((g) => g.errorLines),
      gatewayWarns: gateways.reduce((s, g) => s + g.warnLines, 0),
      snapshots,
    };
  } finally {
    progressDone();
    await closeAll();
  }
}

// ---------------------------------------------------------------------------------------
// Report

interface Goal {
  readonly name: string;
  readonly pass: boolean;
}

/** Least-squares slope of RSS over the measured phase, MiB per minute, per instance. */
function slopes(samples: readonly Sample[]): number[] {
  if (samples.length < 2) return [];
  const t0 = samples[0]!.t;
  const xs = samples.map((s) => (s.t - t0) / 60_000);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  return samples[0]!.mem.map((_, k) => {
    const ys = samples.map((s) => s.mem[k]!.rss / 1024 / 1024);
    const my = ys.reduce((a, b) => a + b, 0) / ys.length;
    return xs.reduce((a, x, i) => a + (x - mx) * (ys[i]! - my), 0) / xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  });
}

function report(r: DbResult, plan: Plan, goals: Goal[], goalLines: string[]): void {
  const name = r.db === 'sqlite' ? 'SQLite, one gateway' : `PostgreSQL, ${r.instances} gateways on one database`;
  console.log(`### ${name}`);
  console.log('');
  console.log(`set-up: ${r.setup.join('; ')}`);
  console.log('');
  console.log(
    `Capacity (closed loop, the mix; ${plan.rampStepMs / 1000} s per step; load thread busy = event-loop utilisation of the generator): ${r.capacity.toFixed(0)} ops/s, ` +
      `the median of the operations completed per second in the steps at ${plan.rampConcurrency.slice(1).join(' and ')} in flight (per second: min ${Math.min(...r.ramp.slice(1).flatMap((x) => x.perSecond))}, max ${Math.max(...r.ramp.slice(1).flatMap((x) => x.perSecond))}).`,
  );
  console.log('');
  console.log(
    table(
      ['in flight', 'ops/s', 'p50 ms', 'p99 ms', 'gateway CPU ms/op', 'gateway CPU', 'load thread busy'],
      r.ramp.map((s) => [String(s.concurrency), s.opsPerSec.toFixed(0), fmtMs(s.p50), fmtMs(s.p99), fmtMs(s.cpuMsPerOp), `${(s.cpuShare * 100).toFixed(0)} %`, `${(s.busy * 100).toFixed(0)} %`]),
      ['r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
  );
  console.log('');
  const m = r.measured;
  const kinds = KINDS.map((k, i) => {
    const lat = m.rec.lat.filter((_, j) => m.rec.kind[j] === i);
    return `${k} ${lat.length.toLocaleString('en-US')} (p99 ${fmtMs(quantileOf(lat, 0.99))} ms)`;
  });
  console.log(
    `Measured phase: ${(plan.measuredMs / 1000).toFixed(0)} s open loop at ${r.rate.toFixed(0)} ops/s (${LOAD_FRACTION * 100} % of ${r.capacity.toFixed(0)}), after ${plan.warmupMs / 1000} s of warm-up; ` +
      `${m.rec.lat.length.toLocaleString('en-US')} operations: ${kinds.join(', ')}; ${m.rec.dLat.length.toLocaleString('en-US')} deliveries; ` +
      `at most ${m.peakInFlight} in flight, ${m.peakQueued} queued in the generator; the last answer came ${((m.end - m.start - plan.measuredMs) / 1000).toFixed(1)} s after the last arrival; load thread busy ${(m.busy * 100).toFixed(0)} %.`,
  );
  console.log('');
  // The generator queues only when 64 operations are already running: the gateways did not
  // keep up with the offered rate at some point (on a shared machine, often because they got
  // less CPU than during the capacity ramp). Latency and memory then measure the backlog.
  const lagS = (m.end - m.start - plan.measuredMs) / 1000;
  const overloaded = (m.peakQueued ?? 0) > 0;
  if (overloaded) {
    console.log(
      `Overloaded: up to ${m.peakQueued} arrivals waited in the generator and the last answer came ${lagS.toFixed(1)} s after the last arrival; ` +
        `the gateways completed less than the offered ${r.rate.toFixed(0)} ops/s for a while (compare their CPU share per window with the ramp's).`,
    );
    console.log('');
  }
  const inst = r.baseline.map((_, k) => (r.instances > 1 ? ` #${k + 1}` : ''));
  console.log(
    table(
      ['window', 'ops', 'ops/s', 'p50 ms', 'p99 ms', 'deliveries', 'delivery p99 ms', 'gateway CPU ms/op', ...inst.map((s) => `RSS${s} MiB`), ...inst.map((s) => `heap${s} MiB`), ...inst.map((s) => `CPU${s}`)],
      r.windows.map((w) => [
        w.label,
        w.ops.toLocaleString('en-US'),
        w.opsPerSec.toFixed(0),
        fmtMs(w.p50),
        fmtMs(w.p99),
        w.deliveries.toLocaleString('en-US'),
        fmtMs(w.dP99),
        fmtMs(w.cpuMsPerOp),
        ...w.rss.map(MiB),
        ...w.heap.map(MiB),
        ...w.cpu.map((c) => `${(c * 100).toFixed(0)} %`),
      ]),
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', ...inst.map(() => 'r' as const), ...inst.map(() => 'r' as const), ...inst.map(() => 'r' as const)],
    ),
  );
  console.log('');
  console.log('(RSS and heap per window: the median of the 5-s samples, no collection forced; CPU = the gateway process\'s CPU time ÷ wall time between the first and last sample of the window: 100 % = one core.)');
  console.log('');
  console.log('Latency per kind of operation (p50 / p99 ms, by arrival):');
  console.log('');
  console.log(
    table(
      ['window', ...KINDS.map((k) => `${k} n`), ...KINDS.map((k) => `${k} p50 / p99`)],
      r.windows.map((w) => [w.label, ...w.kinds.map((k) => k.n.toLocaleString('en-US')), ...w.kinds.map((k) => `${fmtMs(k.p50)} / ${fmtMs(k.p99)}`)]),
      ['l', ...KINDS.map(() => 'r' as const), ...KINDS.map(() => 'r' as const)],
    ),
  );
  console.log('');
  const pgDiag = r.db === 'postgres';
  console.log(
    'Diagnostics per window: the gateways\' event-loop delay (highest 5-s p99, longest), event-loop utilisation (busiest instance), its main thread\'s share of the wall time on a CPU and runnable but waiting for one (/proc schedstat: the CPU other processes had), collector pauses (total, major collections, longest); ' +
      'the load generator thread\'s utilisation; CPU in cores of the machine, this process (generator + suite), PostgreSQL and everything else (other tenants); the 1-min load average; ' +
      (pgDiag ? 'autovacuum and autoanalyze runs, dead rows at the end.' : 'WAL restarts after a checkpoint, the database and WAL files at the end.'),
  );
  console.log('');
  console.log(
    table(
      ['window', 'ELD p99 ms', 'ELD max ms', 'gw ELU', 'gw main on CPU', 'gw main waiting for a CPU', 'GC ms', 'major GC', 'GC max ms', 'gen ELU', 'machine', 'bench', ...(pgDiag ? ['postgres'] : []), 'others', 'load', ...(pgDiag ? ['autovac', 'autoanalyze', 'dead rows'] : ['WAL ckpts', 'db MiB', 'WAL MiB'])],
      r.windows.map((w) => {
        const d = w.diag;
        return [
          w.label,
          fmtMs(d.eldP99),
          fmtMs(d.eldMax),
          `${(d.elu * 100).toFixed(0)} %`,
          `${(d.mainOnCpu * 100).toFixed(0)} %`,
          `${(d.mainWaiting * 100).toFixed(0)} %`,
          fmtMs(d.gcMs),
          String(d.gcMajor),
          fmtMs(d.gcMaxMs),
          `${(d.loadElu * 100).toFixed(0)} %`,
          d.machineCores.toFixed(2),
          d.benchCores.toFixed(2),
          ...(pgDiag ? [d.pgCores.toFixed(2)] : []),
          d.othersCores.toFixed(2),
          d.load1.toFixed(2),
          ...(pgDiag ? [String(d.autovacuum ?? '–'), String(d.autoanalyze ?? '–'), String(d.deadRows ?? '–')] : [String(d.walCheckpoints ?? '–'), d.dbMiB?.toFixed(1) ?? '–', d.walMiB?.toFixed(1) ?? '–']),
        ];
      }),
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', ...(pgDiag ? ['r' as const] : []), 'r', 'r', 'r', 'r', 'r'],
    ),
  );
  console.log('');
  const memRows = r.baseline.map((b, k) => {
    const e = r.end[k]!;
    return [`gateway${inst[k]}`, MiB(b.rss), MiB(e.rss), fmtRatio(e.rss / b.rss), MiB(b.heapUsed), MiB(e.heapUsed), fmtRatio(e.heapUsed / b.heapUsed), MiB(b.external + b.arrayBuffers), MiB(e.external + e.arrayBuffers), (slopes(r.samples)[k] ?? NaN).toFixed(2)];
  });
  console.log('Memory after a forced full collection (twice), with the load stopped and every message delivered: after warm-up (baseline) and after the measured phase (end); slope = least squares over the 5-s samples of the measured phase.');
  console.log('');
  console.log(table(['', 'RSS base MiB', 'RSS end MiB', 'end ÷ base', 'heap base MiB', 'heap end MiB', 'end ÷ base', 'external base MiB', 'external end MiB', 'RSS slope MiB/min'], memRows, ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r']));
  console.log('');
  const errorCount = r.errors.count + r.gatewayErrors.length;
  if (errorCount > 0) {
    console.log(`Errors: ${JSON.stringify(r.errors.byKind)}; gateway error lines: ${r.gatewayErrors.length}`);
    for (const s of [...r.errors.samples, ...r.gatewayErrors.slice(0, 10)]) console.log(`  ${s.slice(0, 400)}`);
    console.log('');
  }
  if (r.gatewayWarns > 0) console.log(`(gateway warn lines: ${r.gatewayWarns})\n`);
  if (r.snapshots.length > 0) console.log(`heap snapshots: ${r.snapshots.join(', ')}\n`);

  const first = r.windows[0]!;
  const last = r.windows[r.windows.length - 1]!;
  const reqRatio = last.p99 / first.p99;
  const delRatio = last.dP99 / first.dP99;
  const within = (x: number): boolean => Math.abs(x - 1) <= GOAL_P99_DRIFT;
  const p99Pass = within(reqRatio) && within(delRatio);
  const line = (goal: string, detail: string, pass: boolean): void => {
    goals.push({ name: `${r.db}: ${goal}`, pass });
    goalLines.push(`  ${r.db}: ${goal}: ${detail} → ${pass ? 'PASS' : 'MISS'}`);
  };
  line(
    `p99 last window ÷ first within ${fmtRatio(1 - GOAL_P99_DRIFT)}–${fmtRatio(1 + GOAL_P99_DRIFT)}`,
    `requests ${fmtRatio(reqRatio)} (${fmtMs(last.p99)} vs ${fmtMs(first.p99)} ms), deliveries ${fmtRatio(delRatio)} (${fmtMs(last.dP99)} vs ${fmtMs(first.dP99)} ms)`,
    p99Pass,
  );
  goalLines.push(
    `    (${r.db}: gateway CPU ms per operation, last window ÷ first: ${fmtRatio(last.cpuMsPerOp / first.cpuMsPerOp)} (${fmtMs(last.cpuMsPerOp)} vs ${fmtMs(first.cpuMsPerOp)} ms): the gateway's own work, whatever CPU the machine's other tenants leave it)`,
  );
  goalLines.push(
    `    (${r.db}: the gateways' event loop waiting for a CPU (other processes had it), first window ${(first.diag.mainWaiting * 100).toFixed(0)} %, last ${(last.diag.mainWaiting * 100).toFixed(0)} % of the wall time; ` +
      `other processes used ${first.diag.othersCores.toFixed(2)} and ${last.diag.othersCores.toFixed(2)} cores; load average ${first.diag.load1.toFixed(1)} and ${last.diag.load1.toFixed(1)})`,
  );
  if (overloaded) goalLines.push(`    (${r.db}: overloaded during the measured phase: up to ${m.peakQueued} arrivals queued in the generator, last answer ${lagS.toFixed(1)} s after the last arrival)`);
  const rss = r.baseline.map((b, k) => r.end[k]!.rss / b.rss);
  line(`RSS flat: after forced GC, end ÷ after warm-up ≤ ${fmtRatio(GOAL_RSS_FLAT)}`, rss.map((x, k) => `${fmtRatio(x)} (${MiB(r.end[k]!.rss)} vs ${MiB(r.baseline[k]!.rss)} MiB)`).join(', '), rss.every((x) => x <= GOAL_RSS_FLAT));
  line('errors = 0', `${errorCount} (${m.rec.lat.length.toLocaleString('en-US')} operations, ${m.rec.dLat.length.toLocaleString('en-US')} deliveries measured)`, errorCount === 0);
}

export interface SustainedBenchResult {
  readonly results: readonly DbResult[];
  readonly goals: readonly Goal[];
}

export async function runSustainedBench(opts: BenchOptions): Promise<SustainedBenchResult> {
  const plan = planOf(opts);
  console.log('## sustained');
  console.log('');
  console.log(
    `${USERS.toLocaleString('en-US')} signed-in WebSocket sessions (each subscribed to its GROUP conversation of ${GROUP_SIZE}) plus the mix (30 % myProfile, 30 % a 20-message history page, 20 % updateProfile, 20 % sendMessage fanned out to ${GROUP_SIZE} sockets) ` +
      `at ${LOAD_FRACTION * 100} % of the capacity measured first, for ${(plan.measuredMs / 1000).toFixed(0)} s; gateways in their own processes, the load generator on a worker thread of the bench process. ` +
      `Windows of ${(plan.windowMs / 1000).toFixed(0)} s by arrival (a delivery by its send's arrival); latency from the scheduled arrival (open loop).`,
  );
  console.log('');
  const results: DbResult[] = [];
  const goals: Goal[] = [];
  const goalLines: string[] = [];
  for (const db of plan.dbs) {
    const r = await runDb(db, plan);
    results.push(r);
    report(r, plan, goals, goalLines);
  }
  console.log(`load avg: ${loadavg().map((x) => x.toFixed(2)).join(' ')} (1/5/15 min, at the end of the suite)`);
  console.log('');
  console.log('goals:');
  for (const l of goalLines) console.log(l);
  console.log('');
  return { results, goals };
}
