/**
 * @module
 * A small micro-benchmark harness with no dependencies.
 *
 * Method, per group of cases (a candidate and its baseline, or several backends):
 *
 * 1. Warm-up: each case runs in doubling batches for `warmupMs`, which lets V8 optimise
 *    it and tells us roughly how long one operation takes.
 * 2. Samples: each case gets `samples` timed samples. A sample runs the operation in a
 *    loop for at least `sampleMs` (the iteration count is recalibrated if a sample
 *    finishes early) and records nanoseconds per operation.
 * 3. Interleaving: samples are taken in rounds, one sample of every case per round, and
 *    the order rotates each round (A B, B A, A B, ...). Noise from other tenants of the
 *    machine, CPU frequency changes or GC therefore lands on all cases alike instead of
 *    on whichever happened to run during a noisy second.
 * 4. Statistics: the median time per operation (ops/s = 1e9 / median ns), the spread
 *    (half the interquartile range of the per-sample times, as a percentage of the
 *    median), and for comparisons the ratio of the medians (candidate time / baseline
 *    time) plus the range of the per-round paired ratios.
 *
 * Results are reported as ratios against a baseline measured in the same run because
 * absolute numbers on a shared machine say little; ratios of interleaved samples are
 * stable to a few percent.
 */
import { cpus, loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';

export interface BenchOptions {
  /** Smoke mode: fewer and shorter samples. */
  readonly quick: boolean;
  /** Warm-up time per case, ms. */
  readonly warmupMs: number;
  /** Timed samples per case. */
  readonly samples: number;
  /** Minimum duration of one sample, ms. */
  readonly sampleMs: number;
  /** Suites to run; empty = all. */
  readonly only: readonly string[];
}

const FULL = { warmupMs: 300, samples: 10, sampleMs: 120 } as const;
const QUICK = { warmupMs: 40, samples: 4, sampleMs: 25 } as const;

function positiveNumber(raw: string | undefined, what: string): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`bench: ${what} must be a positive number, got ${JSON.stringify(raw)}`);
  return n;
}

/**
 * Options from argv and the environment:
 *   --quick (or BENCH_QUICK=1)          fewer, shorter samples
 *   --only crypto[,server] / --only=…   (or BENCH_ONLY) run only these suites
 *   --samples N, --sample-ms N, --warmup-ms N (or BENCH_SAMPLES, BENCH_SAMPLE_MS, BENCH_WARMUP_MS)
 */
export function parseBenchOptions(argv: readonly string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): BenchOptions {
  let quick = env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true';
  const only: string[] = env.BENCH_ONLY ? env.BENCH_ONLY.split(',') : [];
  const values: Record<string, string | undefined> = {
    samples: env.BENCH_SAMPLES,
    'sample-ms': env.BENCH_SAMPLE_MS,
    'warmup-ms': env.BENCH_WARMUP_MS,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') continue;
    if (arg === '--quick') {
      quick = true;
      continue;
    }
    const m = /^--(only|samples|sample-ms|warmup-ms)(?:=(.*))?$/.exec(arg);
    if (!m) throw new Error(`bench: unknown argument ${JSON.stringify(arg)} (expected --quick, --only NAME, --samples N, --sample-ms N, --warmup-ms N)`);
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new Error(`bench: ${arg} needs a value`);
    if (m[1] === 'only') only.push(...value.split(','));
    else values[m[1]!] = value;
  }
  const base = quick ? QUICK : FULL;
  return {
    quick,
    samples: Math.round(positiveNumber(values.samples, '--samples') ?? base.samples),
    sampleMs: positiveNumber(values['sample-ms'], '--sample-ms') ?? base.sampleMs,
    warmupMs: positiveNumber(values['warmup-ms'], '--warmup-ms') ?? base.warmupMs,
    only: only.map((s) => s.trim()).filter((s) => s.length > 0),
  };
}

/** Date, runtime and machine, printed at the top of every run. */
export function environmentLines(opts: BenchOptions): string[] {
  const cpu = cpus();
  const model = cpu[0]?.model.trim() ?? 'unknown';
  return [
    `date:     ${new Date().toISOString()}`,
    `node:     ${process.version} (V8 ${process.versions.v8}), ${process.platform}/${process.arch}`,
    `cpu:      ${model} × ${cpu.length}`,
    `load avg: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} (1/5/15 min, at start)`,
    `mode:     ${opts.quick ? 'quick' : 'full'}: ${opts.samples} interleaved samples per case, each ≥ ${opts.sampleMs} ms, ${opts.warmupMs} ms warm-up`,
  ];
}

// ---------------------------------------------------------------------------------------
// Measurement

export interface Case {
  readonly name: string;
  /** One operation. Its result is kept in a sink so the work cannot be optimised away. */
  readonly fn: () => unknown;
  /** Await each operation's promise (asymmetric backend calls). */
  readonly async?: boolean;
}

export interface CaseResult {
  readonly name: string;
  /** Per-sample nanoseconds per operation, in the order taken. */
  readonly nsPerOp: readonly number[];
  readonly medianNs: number;
  readonly opsPerSec: number;
  /** Half the interquartile range of the per-sample times, relative to the median. */
  readonly spread: number;
  readonly iterations: number;
}

export interface Comparison {
  readonly candidate: CaseResult;
  readonly baseline: CaseResult;
  /** median(candidate ns/op) / median(baseline ns/op): > 1 means the candidate is slower. */
  readonly ratio: number;
  /** Range of the per-round ratios (candidate sample i / baseline sample i). */
  readonly ratioMin: number;
  readonly ratioMax: number;
}

// Results land here so V8 cannot prove the calls dead. Read once at exit.
let sinkCount = 0;
let sinkLast: unknown;
function consume(x: unknown): void {
  sinkLast = x;
  sinkCount++;
}
process.on('exit', () => {
  if (sinkCount < 0) console.log(sinkLast);
});

const now = (): bigint => process.hrtime.bigint();

async function runBatch(c: Case, n: number): Promise<number> {
  const fn = c.fn;
  let last: unknown;
  const t0 = now();
  if (c.async) {
    for (let i = 0; i < n; i++) last = await fn();
  } else {
    for (let i = 0; i < n; i++) last = fn();
  }
  const t1 = now();
  consume(last);
  return Number(t1 - t0);
}

const gc = (globalThis as { gc?: () => void }).gc;

function quantile(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function median(xs: readonly number[]): number {
  return quantile([...xs].sort((a, b) => a - b), 0.5);
}

/** The q-quantile (0–1, interpolated) of unsorted `xs`; NaN when empty. */
export function quantileOf(xs: readonly number[], q: number): number {
  return xs.length === 0 ? NaN : quantile([...xs].sort((a, b) => a - b), q);
}

/** `fn` over `items` with at most `concurrency` calls running at once; results in item order. */
export async function pool<T, R>(items: readonly T[], concurrency: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
  return out;
}

/** Warm-up: doubling batches until `ms` has passed; returns an estimate of ns per op. */
async function warmUp(c: Case, ms: number): Promise<number> {
  const budget = ms * 1e6;
  let spent = 0;
  let n = 1;
  let perOp = Infinity;
  while (spent < budget) {
    const t = await runBatch(c, n);
    spent += t;
    perOp = t / n;
    if (t < budget / 8) n *= 2;
  }
  return perOp;
}

/**
 * Runs every case with interleaved samples (see the module comment) and returns one
 * result per case, in the order given.
 */
export async function runInterleaved(cases: readonly Case[], opts: BenchOptions): Promise<CaseResult[]> {
  const target = opts.sampleMs * 1e6;
  const iters: number[] = [];
  for (const c of cases) {
    const perOp = await warmUp(c, opts.warmupMs);
    iters.push(Math.max(1, Math.ceil(target / Math.max(perOp, 1))));
  }
  const samples: number[][] = cases.map(() => []);
  for (let round = 0; round < opts.samples; round++) {
    for (let k = 0; k < cases.length; k++) {
      const i = (k + round) % cases.length;
      gc?.();
      let n = iters[i]!;
      let t = await runBatch(cases[i]!, n);
      // Too short (the op sped up after warm-up, or the estimate was off): discard and
      // rerun with a count recalibrated from this measurement.
      while (t < target * 0.9) {
        n = Math.max(n * 2, Math.ceil((target * 1.05 * n) / Math.max(t, 1)));
        t = await runBatch(cases[i]!, n);
      }
      iters[i] = n;
      samples[i]!.push(t / n);
    }
  }
  return cases.map((c, i) => {
    const xs = samples[i]!;
    const sorted = [...xs].sort((a, b) => a - b);
    const med = quantile(sorted, 0.5);
    return {
      name: c.name,
      nsPerOp: xs,
      medianNs: med,
      opsPerSec: 1e9 / med,
      spread: (quantile(sorted, 0.75) - quantile(sorted, 0.25)) / 2 / med,
      iterations: iters[i]!,
    };
  });
}

/** Candidate against baseline, interleaved A B / B A. */
export async function compare(candidate: Case, baseline: Case, opts: BenchOptions): Promise<Comparison> {
  const [a, b] = await runInterleaved([candidate, baseline], opts);
  const paired = a!.nsPerOp.map((x, i) => x / b!.nsPerOp[i]!);
  return {
    candidate: a!,
    baseline: b!,
    ratio: a!.medianNs / b!.medianNs,
    ratioMin: Math.min(...paired),
    ratioMax: Math.max(...paired),
  };
}

// ---------------------------------------------------------------------------------------
// Formatting

/** `1,234,567` for large rates, 3 significant digits for small ones. */
export function fmtOps(opsPerSec: number): string {
  if (opsPerSec >= 1000) return Math.round(opsPerSec).toLocaleString('en-US');
  return opsPerSec.toPrecision(3);
}

export function fmtSpread(spread: number): string {
  return `±${(spread * 100).toFixed(spread < 0.1 ? 1 : 0)}%`;
}

/** ops/s with its spread, e.g. `412,345 ±1.2%`. */
export function fmtRate(r: CaseResult): string {
  return `${fmtOps(r.opsPerSec)} ${fmtSpread(r.spread)}`;
}

export function fmtRatio(x: number): string {
  return x.toFixed(2);
}

export function fmtNs(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${ns.toFixed(0)} ns`;
}

export function fmtBytes(n: number): string {
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} B`;
}

/**
 * A Markdown table with padded columns: readable in a terminal and pasteable into docs
 * as is. `align[i] === 'r'` right-aligns column i (numbers).
 */
export function table(headers: readonly string[], rows: readonly (readonly string[])[], align: readonly ('l' | 'r')[] = []): string {
  const width = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const cell = (s: string, i: number): string => (align[i] === 'r' ? s.padStart(width[i]!) : s.padEnd(width[i]!));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => cell(c, i)).join(' | ')} |`;
  const rule = `|${width.map((w, i) => (align[i] === 'r' ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

/** A one-line progress note on stderr, so stdout stays a clean report. */
export function progress(msg: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${msg}`);
}

export function progressDone(): void {
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
}

// ---------------------------------------------------------------------------------------
// Load threads

/**
 * Plain JavaScript for EvalWorker sources (interpolate it): `httpPost(agent, target, headers,
 * body)` POSTs `body` to `target` ({ host, port, path }) and resolves with `{ status, text }`.
 * The load threads of bench/messaging.ts and bench/sustained-load.ts share it.
 */
export const HTTP_POST_SOURCE = `
function httpPost(agent, t, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ agent, host: t.host, port: t.port, path: t.path, method: 'POST', headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
`;

/**
 * A worker thread running plain JavaScript `source` (no TypeScript loader needed), called
 * by message: `call({ type, … })` posts the message with a sequence number and resolves with
 * the `value` the worker posts back under that number, or rejects with its `error` text.
 */
export class EvalWorker {
  private readonly worker: Worker;
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(source: string, workerData?: unknown) {
    this.worker = new Worker(source, { eval: true, workerData });
    this.worker.on('message', (m: { seq: number; value?: unknown; error?: string }) => {
      const p = this.pending.get(m.seq);
      this.pending.delete(m.seq);
      if (m.error) p?.reject(new Error(m.error));
      else p?.resolve(m.value);
    });
    this.worker.on('error', (e) => {
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    });
  }

  call<T>(msg: Record<string, unknown>): Promise<T> {
    const seq = this.seq++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(seq, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...msg, seq });
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
