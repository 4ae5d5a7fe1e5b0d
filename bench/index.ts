/**
 * @module
 * `npm run bench [-- --quick] [-- --only crypto]`: runs the benchmark suites and prints a
 * Markdown report on stdout (progress goes to stderr when it is a terminal).
 *
 * A suite is a module exporting `run…Bench(opts)`; register it in SUITES:
 *   crypto     sealed envelopes vs raw AEAD; asymmetric operations per backend (bench/crypto.ts)
 *   server     the reference list query through the gateway vs Apollo without the layer (bench/server.ts)
 *   client     openResult of a 1,000-object result vs raw AEAD (bench/client.ts)
 *   messaging  group fan-out to 100 / 1,000 subscribers vs plain graphql-ws; group send cost
 *              and rekey on removal by group size (bench/messaging.ts)
 *   bundle     the browser client's size in an app's bundle vs the crypto primitives alone (bench/bundle.ts)
 *   sessions   the device check's share of a one-row request (bench/sessions.ts)
 *   storage    each hot read through the store vs the same SQL as a prepared statement, SQLite and PostgreSQL; the send path's store calls (bench/storage.ts)
 *   sustained  1,000 sessions plus a mix at 80 % of measured capacity for minutes: p99 drift, RSS, errors;
 *              SQLite and PostgreSQL with two gateways (bench/sustained.ts; minutes, not part of npm test)
 */
import { runBundleBench } from './bundle.js';
import { runClientBench } from './client.js';
import { runCryptoBench } from './crypto.js';
import { environmentLines, parseBenchOptions, type BenchOptions } from './harness.js';
import { runMessagingBench } from './messaging.js';
import { runServerBench } from './server.js';
import { runSessionsBench } from './sessions.js';
import { runStorageBench } from './storage.js';
import { runSustainedBench } from './sustained.js';

interface Suite {
  readonly name: string;
  readonly description: string;
  run(opts: BenchOptions): Promise<unknown>;
}

const SUITES: readonly Suite[] = [
  { name: 'crypto', description: 'sealed envelopes vs raw AEAD; asymmetric ops per backend', run: runCryptoBench },
  {
    name: 'server',
    description: 'reference list query through the gateway vs Apollo without the layer; SERVER-field decryption vs raw AEAD',
    run: runServerBench,
  },
  {
    name: 'client',
    description: 'openResult of 1,000 objects × 4 sealed 1 KiB fields vs raw AEAD and bare openEnvelope of the same envelopes',
    run: runClientBench,
  },
  {
    name: 'messaging',
    description: 'group fan-out to 100 and 1,000 subscribers vs plain graphql-ws; group send cost and rekey on removal for 1–1,000 members',
    run: runMessagingBench,
  },
  {
    name: 'bundle',
    description: "the browser client's bundle size (core, Apollo link, urql exchange, whole entry) vs the @noble primitives alone and graphql alone",
    run: runBundleBench,
  },
  { name: 'sessions', description: "the device check's share of a one-row request (device session vs the cached check)", run: runSessionsBench },
  { name: 'storage', description: 'hot reads through the store vs the same SQL as a prepared statement (SQLite, PostgreSQL); the send path\'s store calls', run: runStorageBench },
  {
    name: 'sustained',
    description: '1,000 WebSocket sessions plus queries, writes and messages at 80 % of measured capacity for 5 minutes: p99 first vs last minute, gateway RSS, errors; SQLite and PostgreSQL (two gateways)',
    run: runSustainedBench,
  },
];

async function main(): Promise<void> {
  const opts = parseBenchOptions();
  const unknown = opts.only.filter((n) => !SUITES.some((s) => s.name === n));
  if (unknown.length > 0) {
    throw new Error(`bench: unknown suite(s) ${unknown.join(', ')}; available: ${SUITES.map((s) => s.name).join(', ')}`);
  }
  const selected = opts.only.length > 0 ? SUITES.filter((s) => opts.only.includes(s.name)) : SUITES;

  console.log('# veilgraph benchmarks');
  console.log('');
  console.log('```');
  for (const line of environmentLines(opts)) console.log(line);
  console.log(`suites:   ${selected.map((s) => s.name).join(', ')}`);
  console.log('```');
  console.log('');
  const started = performance.now();
  for (const suite of selected) await suite.run(opts);
  console.log(`(total ${((performance.now() - started) / 1000).toFixed(1)} s)`);
}

main().catch((err: unknown) => {
  // Usage errors (`bench: …`) need no stack trace.
  console.error(err instanceof Error ? (err.message.startsWith('bench:') ? err.message : (err.stack ?? err.message)) : err);
  process.exitCode = 1;
});
