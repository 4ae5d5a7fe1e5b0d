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
  process.on('message', (m: { type: string; seq: number; gc?: boolean; path?: string }) => {
    if (m.type === 'memory') {
      if (m.gc) {
        // Twice: the first collection can leave garbage that finalisers released.
        gc();
        gc();
      }
      process.send!({ type: 'memory', seq: m.seq, usage: { ...process.memoryUsage(), cpuMicros: cpuMicros() } });
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
