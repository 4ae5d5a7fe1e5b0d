/**
 * @module
 * The gateway under test of the sustained-load suite (bench/sustained.ts), in its own
 * process so that its resident memory is its own and the load generator does not share
 * its event loop. Started by the suite as
 * `node --expose-gc --import tsx bench/sustained-gateway.ts` with an IPC channel and its
 * settings as JSON in `VEIL_BENCH_GATEWAY`; it is `startGateway` (what `veilgraph serve`
 * runs) with production settings and rate limits roomy enough for 1,000 users signing in
 * from 127.0.0.1.
 *
 * IPC, parent → child: `{ type: 'memory', seq, gc }` → `{ type: 'memory', seq, usage }`
 * (`process.memoryUsage()` plus `cpuMicros`, the process's CPU time so far, after a full
 * forced collection when `gc`);
 * `{ type: 'snapshot', seq, path }` writes a V8 heap snapshot → `{ type: 'snapshot', seq, path }`.
 * Child → parent: `{ type: 'ready', url }` once it listens. Log lines at warn and above go
 * to stdout (the suite counts `error` lines as errors); nothing below is written.
 */
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import { writeHeapSnapshot } from 'node:v8';
import { startGateway } from '../src/app/gateway.js';
import { embeddedConfig } from '../src/app/config.js';

/** What the suite passes in `VEIL_BENCH_GATEWAY`. */
export interface SustainedGatewaySettings {
  readonly dataDir: string;
  readonly databaseUrl?: string;
  /** Shared by every instance of one deployment (PostgreSQL: two gateways on one database). */
  readonly keyring: string;
  readonly jwtSecret: string;
  readonly challengeKey: string;
  readonly realm: string;
}

/** CPU time this process has used so far (user + system), µs. */
const cpuMicros = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/**
 * What the suite's diagnostics read beside the memory (each `memory` answer): the event
 * loop's delay since the previous answer (a histogram reset at each answer), its utilisation,
 * the collector's pauses so far, and on SQLite the database and WAL files (the WAL header's
 * checkpoint sequence counts the times the WAL restarted after a checkpoint).
 */
export interface GatewayStats {
  /** Event-loop delay since the previous answer, ms (10-ms resolution timer). */
  readonly eldP99: number;
  readonly eldMax: number;
  readonly eldMean: number;
  /** Event-loop utilisation since the previous answer (0–1). */
  readonly elu: number;
  /** Collector pauses so far: count, total ms, and the longest since the previous answer. */
  readonly gcCount: number;
  readonly gcMs: number;
  readonly gcMaxMs: number;
  /** Major (mark-compact) collections so far and their total ms. */
  readonly gcMajorCount: number;
  readonly gcMajorMs: number;
  /**
   * The main thread (the event loop) so far, from /proc (Linux; NaN elsewhere): ms on a CPU
   * and ms runnable but waiting for one (the scheduler's run queue: CPU other processes had).
   */
  readonly mainOnCpuMs: number;
  readonly mainRunqueueMs: number;
  /** SQLite: bytes of the database file and of its WAL, and the WAL header's checkpoint sequence. */
  readonly dbBytes?: number;
  readonly walBytes?: number;
  readonly walCheckpointSeq?: number;
}

/** The main thread's /proc schedstat: ns on a CPU, ns waiting on a run queue. */
function mainSchedstat(): { onCpu: number; waiting: number } {
  try {
    const [onCpu, waiting] = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
    return { onCpu: onCpu!, waiting: waiting! };
  } catch {
    return { onCpu: NaN, waiting: NaN };
  }
}

function sqliteFiles(dataDir: string): { dbBytes: number; walBytes: number; walCheckpointSeq: number } | undefined {
  const db = readdirSync(dataDir).find((f) => f.endsWith('.db') || f.endsWith('.sqlite'));
  if (!db) return undefined;
  const wal = join(dataDir, `${db}-wal`);
  let walBytes = 0;
  let walCheckpointSeq = -1;
  try {
    walBytes = statSync(wal).size;
    const fd = openSync(wal, 'r');
    try {
      const head = Buffer.alloc(16);
      if (readSync(fd, head, 0, 16, 0) === 16) walCheckpointSeq = head.readUInt32BE(12);
    } finally {
      closeSync(fd);
    }
  } catch {
    // No WAL yet.
  }
  return { dbBytes: statSync(join(dataDir, db)).size, walBytes, walCheckpointSeq };
}

const ROOMY = { points: 1_000_000, durationSeconds: 1 };

async function main(): Promise<void> {
  const raw = process.env.VEIL_BENCH_GATEWAY;
  if (!raw || !process.send) throw new Error('sustained-gateway: run by bench/sustained.ts (VEIL_BENCH_GATEWAY and an IPC channel)');
  const s = JSON.parse(raw) as SustainedGatewaySettings;
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('sustained-gateway: needs --expose-gc');
  const gateway = await startGateway({
    ...embeddedConfig(s.dataDir),
    ...(s.databaseUrl ? { databaseUrl: s.databaseUrl } : {}),
    production: true,
    realm: s.realm,
    keyring: s.keyring,
    jwtSecret: s.jwtSecret,
    challengeKey: s.challengeKey,
    // The run (set-up, capacity, warm-up, measurement) must not outlive the tokens.
    tokenTtlSeconds: 4 * 3600,
    logLevel: 'warn',
    logSink: (line) => process.stdout.write(`${line}\n`),
    authLimits: { register: ROOMY, challenge: ROOMY, login: ROOMY, loginPerUser: ROOMY, loginPerAccount: ROOMY, loginPerDevice: ROOMY },
    // Every session comes from loopback: one address.
    wsMaxConnectionsPerAddress: 1_000_000,
  });
  gateway.httpServer.keepAliveTimeout = 120_000;
  const eld = monitorEventLoopDelay({ resolution: 10 });
  eld.enable();
  let elu = performance.eventLoopUtilization();
  const gcs = { count: 0, ms: 0, maxMs: 0, majorCount: 0, majorMs: 0 };
  // NODE_PERFORMANCE_GC_MAJOR = 4 (perf_hooks constants).
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcs.count++;
      gcs.ms += e.duration;
      gcs.maxMs = Math.max(gcs.maxMs, e.duration);
      if ((e as { detail?: { kind?: number } }).detail?.kind === 4) {
        gcs.majorCount++;
        gcs.majorMs += e.duration;
      }
    }
  }).observe({ entryTypes: ['gc'] });
  const stats = (): GatewayStats => {
    const now = performance.eventLoopUtilization();
    const sched = mainSchedstat();
    const out: GatewayStats = {
      eldP99: eld.percentile(99) / 1e6,
      eldMax: eld.max / 1e6,
      eldMean: eld.mean / 1e6,
      elu: performance.eventLoopUtilization(now, elu).utilization,
      gcCount: gcs.count,
      gcMs: gcs.ms,
      gcMaxMs: gcs.maxMs,
      gcMajorCount: gcs.majorCount,
      gcMajorMs: gcs.majorMs,
      mainOnCpuMs: sched.onCpu / 1e6,
      mainRunqueueMs: sched.waiting / 1e6,
      ...(s.databaseUrl ? {} : sqliteFiles(s.dataDir)),
    };
    elu = now;
    eld.reset();
    gcs.maxMs = 0;
    return out;
  };
  process.on('message', (m: { type: string; seq: number; gc?: boolean; path?: string }) => {
    if (m.type === 'memory') {
      if (m.gc) {
        // Twice: the first collection can leave garbage that finalisers released.
        gc();
        gc();
      }
      process.send!({ type: 'memory', seq: m.seq, usage: { ...process.memoryUsage(), cpuMicros: cpuMicros(), stats: stats() } });
    } else if (m.type === 'snapshot') {
      process.send!({ type: 'snapshot', seq: m.seq, path: writeHeapSnapshot(m.path) });
    }
  });
  const stop = (): void => {
    gateway.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('disconnect', stop);
  process.send({ type: 'ready', url: gateway.url });
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
