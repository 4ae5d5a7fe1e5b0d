/**
 * @module
 * Probe (not a suite; nothing in src/ uses it): where one 1 KiB envelope open goes on the
 * sodium backend, next to the limit, by CPU time. `npx tsx bench/open-cpu.ts`. (bench/open-breakdown.ts
 * times the steps of the node backend by wall time.)
 *
 * Short batches (3,000 calls) of each case in rotating order, 40 rounds; per case the median
 * of the process's CPU time (user + system, all threads, so GC helper threads count) per
 * call. CPU time rather than wall time because on a shared machine wall time mostly
 * measures the other tenants; the ratios to the limit are what to read. `POLLUTE=1` first
 * runs the node and noble backends through the same format functions (as the crypto suite
 * does before it measures), to see whether shared JIT feedback changes the sodium figures.
 */
import { loadSodiumBackend } from '../src/crypto/backends/sodium.js';
import { nodeBackend } from '../src/crypto/backends/node.js';
import { prefixedLocationInput } from '../src/crypto/location.js';
import { PADDING_NONE, base64urlDecode, generateSymmetricKey, nobleBackend, openEnvelope, parseEnvelope, sealEnvelopeText } from '../src/crypto/index.js';
import { BENCH_LOCATION, limitRaw } from './crypto.js';
import type { Case } from './harness.js';

let sink: unknown;

function cpuMedians(cases: readonly Case[], batch: number, rounds: number): number[] {
  for (const c of cases) for (let i = 0; i < batch * 5; i++) sink = c.fn();
  const cpu: number[][] = cases.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < cases.length; k++) {
      const i = (k + r) % cases.length;
      const fn = cases[i]!.fn;
      const u0 = process.cpuUsage();
      for (let j = 0; j < batch; j++) sink = fn();
      const u = process.cpuUsage(u0);
      cpu[i]!.push(((u.user + u.system) * 1000) / batch);
    }
  }
  return cpu.map((xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!);
}

const be = await loadSodiumBackend();
const key = generateSymmetricKey(nodeBackend);
const { raw: limit } = limitRaw(key.bytes);
const pt = nodeBackend.randomBytes(1024);
const limitSealed = limit.sealed(pt);
const loc = BENCH_LOCATION;
const text = sealEnvelopeText(be, key, loc, pt, { padding: PADDING_NONE });
const bytes = base64urlDecode(text);
const env = parseEnvelope(bytes);
const aad = prefixedLocationInput(env.header, loc);
const decodeInto = new Uint8Array(bytes.length);
const aadInto = new Uint8Array(aad.length);
if (process.env.POLLUTE) {
  for (const other of [nodeBackend, nobleBackend]) {
    const t = sealEnvelopeText(other, key, loc, pt, { padding: PADDING_NONE });
    const b = base64urlDecode(t);
    for (let i = 0; i < 3000; i++) {
      openEnvelope(other, t, key, loc);
      openEnvelope(other, b, key, loc);
    }
  }
}
const cases: Case[] = [
  { name: 'limit (libsodium open, 1 KiB, no AAD)', fn: () => limitSealed.open() },
  { name: `sodium backend xchacha20poly1305Open (+${aad.length} B AAD)`, fn: () => be.xchacha20poly1305Open(key.bytes, env.nonce, env.ciphertext, aad) },
  { name: 'openEnvelope from bytes', fn: () => openEnvelope(be, bytes, key, loc).plaintext },
  { name: 'openEnvelope from text', fn: () => openEnvelope(be, text, key, loc).plaintext },
  { name: 'base64url decode alone (into reused memory)', fn: () => base64urlDecode(text, () => decodeInto) },
  { name: 'associated data alone (into reused memory)', fn: () => prefixedLocationInput(bytes, loc, () => aadInto, env.header.length) },
];
const m = cpuMedians(cases, 3000, 40);
console.log(`CPU time per call, median of 40 rounds${process.env.POLLUTE ? ' (after node and noble ran through the same functions)' : ''}:`);
cases.forEach((c, i) => console.log(`  ${c.name.padEnd(52)} ${(m[i]! / 1e3).toFixed(2)} µs  ${(m[i]! / m[0]!).toFixed(2)}× the limit`));
if (sink === Symbol.for('never')) console.log(sink);
