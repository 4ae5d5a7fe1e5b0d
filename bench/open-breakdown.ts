/**
 * @module
 * Where the time of `openEnvelope(backend, text, key, location)` goes: every step of the
 * open path timed on its own, all steps interleaved in one group (so they share the
 * machine's noise), next to the full open and the raw AEAD baseline.
 *
 *   npx tsx bench/open-breakdown.ts [--size 1024] [--backend node|noble] [--quick]
 *
 * The steps mirror src/crypto/envelope.ts `openEnvelope` (text → parseEnvelopeText →
 * base64urlDecode → parseEnvelope; locationTag = SHA-256 of locationTagInput; lookupKey;
 * xchacha20poly1305Open = HChaCha20 subkey + ChaCha20-Poly1305 with AAD = header ‖ location encoding;
 * unpad). A few "what if" rows time cheaper alternatives for the expensive steps; they
 * are measurements only, nothing in src/ uses them.
 */
import { createDecipheriv, hash } from 'node:crypto';
import { hchacha } from '@noble/ciphers/chacha.js';
import { nodeBackend } from '../src/crypto/backends/node.js';
import { base64urlDecode } from '../src/crypto/base64url.js';
import { parseEnvelope } from '../src/crypto/envelope.js';
import { lookupKey } from '../src/crypto/keys.js';
import { locationTag, locationTagInput, prefixedLocationInput } from '../src/crypto/location.js';
import { PADDING_NONE, unpad } from '../src/crypto/padding.js';
import { xchachaSubkey } from '../src/crypto/xchacha.js';
import { generateSymmetricKey, nobleBackend, openEnvelope, sealEnvelopeText, type CryptoBackend } from '../src/crypto/index.js';
import { BENCH_LOCATION, nobleRaw, nodeRaw } from './crypto.js';
import { environmentLines, fmtBytes, fmtNs, parseBenchOptions, progress, progressDone, runInterleaved, table, type Case } from './harness.js';

function takeFlag(argv: string[], flag: string): string | undefined {
  const i = argv.findIndex((a) => a === flag || a.startsWith(`${flag}=`));
  if (i < 0) return undefined;
  const a = argv[i]!;
  const eq = a.indexOf('=');
  const value = eq >= 0 ? a.slice(eq + 1) : argv[i + 1];
  argv.splice(i, eq >= 0 ? 1 : 2);
  return value;
}

const argv = process.argv.slice(2);
const size = Number(takeFlag(argv, '--size') ?? 1024);
const backendName = takeFlag(argv, '--backend') ?? 'node';
const opts = parseBenchOptions(argv);
const be: CryptoBackend = backendName === 'noble' ? nobleBackend : nodeBackend;
if (backendName !== be.name) throw new Error(`unknown backend ${backendName}`);
if (!Number.isSafeInteger(size) || size < 0) throw new Error('bad --size');

const loc = BENCH_LOCATION;
const key = generateSymmetricKey(nodeBackend);
const pt = nodeBackend.randomBytes(size);
const text = sealEnvelopeText(be, key, loc, pt, { padding: PADDING_NONE });
const bytes = base64urlDecode(text);
const env = parseEnvelope(bytes);
const tagInput = locationTagInput(loc);
const { subkey, nonce12 } = xchachaSubkey(key.bytes, env.nonce);
// The envelope's AAD: header ‖ location encoding (docs/crypto.md §6).
const aad = prefixedLocationInput(env.header, loc);
const padded = be.xchacha20poly1305Open(key.bytes, env.nonce, env.ciphertext, aad)!;
const SIGMA = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);
const keyWords = new Uint32Array(key.bytes.slice().buffer);
const nonceWords = new Uint32Array(env.nonce.slice(0, 16).buffer);
const hOut = new Uint32Array(8);
const ctBody = env.ciphertext.subarray(0, env.ciphertext.length - 16);
const ctTag = env.ciphertext.subarray(env.ciphertext.length - 16);
const raw = be === nodeBackend ? nodeRaw(key.bytes) : nobleRaw(key.bytes);
const rawSealed = raw.sealed(pt);
const VALID = /^[A-Za-z0-9_-]*$/;
const INVALID = /[^A-Za-z0-9_-]/;
const tagCache = new Map<string, Uint8Array>([[`${loc.coordinate}\0${loc.ownerId}\0${loc.objectId}`, locationTag(be, loc)]]);

interface Step {
  readonly label: string;
  /** Part of the sum that should add up to the full open (from text). */
  readonly part: boolean;
  readonly fn: () => unknown;
}

const steps: Step[] = [
  { label: 'FULL openEnvelope(text)', part: false, fn: () => openEnvelope(be, text, key, loc) },
  { label: 'FULL openEnvelope(bytes)', part: false, fn: () => openEnvelope(be, bytes, key, loc) },
  { label: `RAW ${raw.name} open (baseline)`, part: false, fn: () => rawSealed.open() },
  { label: 'base64urlDecode(text)', part: true, fn: () => base64urlDecode(text) },
  { label: '  (old path) alphabet regex test', part: false, fn: () => VALID.test(text) },
  { label: "  of which: Buffer.from(text, 'base64url')", part: false, fn: () => Buffer.from(text, 'base64url') },
  { label: 'parseEnvelope(bytes)', part: true, fn: () => parseEnvelope(bytes) },
  { label: 'locationTag: only when an open fails', part: false, fn: () => locationTag(be, loc) },
  { label: '  of which: locationTagInput', part: false, fn: () => locationTagInput(loc) },
  { label: `  of which: ${be.name}.sha256`, part: false, fn: () => be.sha256(tagInput) },
  { label: 'lookupKey', part: true, fn: () => lookupKey(key, env.keyId, env.keyVersion) },
  { label: 'build AAD (header ‖ location encoding)', part: true, fn: () => prefixedLocationInput(env.header, loc) },
  { label: `${be.name}.xchacha20poly1305Open (AAD = header ‖ location)`, part: true, fn: () => be.xchacha20poly1305Open(key.bytes, env.nonce, env.ciphertext, aad) },
  { label: 'unpad', part: true, fn: () => unpad(padded) },
];
if (be === nodeBackend) {
  steps.push(
    { label: '  of which: xchachaSubkey (HChaCha20, JS)', part: false, fn: () => xchachaSubkey(key.bytes, env.nonce) },
    { label: '    = noble hchacha core only (words pre-converted)', part: false, fn: () => hchacha(SIGMA, keyWords, nonceWords, hOut) },
    { label: '  of which: chacha20poly1305Open (native, AAD)', part: false, fn: () => nodeBackend.chacha20poly1305Open(subkey, nonce12, env.ciphertext, aad) },
    {
      label: '    = bare decipher + setAAD(header), no wrapper',
      part: false,
      fn: () => {
        const d = createDecipheriv('chacha20-poly1305', subkey, nonce12, { authTagLength: 16 });
        d.setAAD(aad, { plaintextLength: ctBody.length });
        d.setAuthTag(ctTag);
        const out = d.update(ctBody);
        d.final();
        return out;
      },
    },
    {
      label: '  of which: createDecipheriv only',
      part: false,
      fn: () => createDecipheriv('chacha20-poly1305', subkey, nonce12, { authTagLength: 16 }),
    },
    { label: 'what if: crypto.hash(sha256) one-shot', part: false, fn: () => hash('sha256', tagInput, 'buffer') },
  );
}
steps.push(
  { label: 'what if: alphabet check as /[^A-Za-z0-9_-]/ search', part: false, fn: () => !INVALID.test(text) },
  {
    label: 'what if: Buffer decode + re-encode, compare (strict)',
    part: false,
    fn: () => {
      const b = Buffer.from(text, 'base64url');
      return b.toString('base64url') === text ? b : null;
    },
  },
);
steps.push({ label: 'what if: location tag from a Map cache', part: false, fn: () => tagCache.get(`${loc.coordinate}\0${loc.ownerId}\0${loc.objectId}`) });

async function main(): Promise<void> {
  console.log('```');
  for (const line of environmentLines(opts)) console.log(line);
  console.log('```');
  console.log('');
  console.log(`openEnvelope breakdown: ${be.name} backend, ${fmtBytes(size)} plaintext (${text.length} chars of text, ${bytes.length} envelope bytes)`);
  console.log('');
  progress('breakdown: measuring');
  const results = await runInterleaved(
    steps.map((s): Case => ({ name: s.label, fn: s.fn })),
    opts,
  );
  progressDone();
  const full = results[0]!.medianNs;
  const rawNs = results[2]!.medianNs;
  const rows = steps.map((s, i) => {
    const r = results[i]!;
    return [s.label, fmtNs(r.medianNs), `±${(r.spread * 100).toFixed(1)}%`, `${((r.medianNs / full) * 100).toFixed(0)}%`, (r.medianNs / rawNs).toFixed(2)];
  });
  const sum = steps.reduce((acc, s, i) => acc + (s.part ? results[i]!.medianNs : 0), 0);
  rows.push(['sum of the top-level steps', fmtNs(sum), '', `${((sum / full) * 100).toFixed(0)}%`, (sum / rawNs).toFixed(2)]);
  rows.push(['full − sum (calls, allocation, GC not in isolated steps)', fmtNs(full - sum), '', `${(((full - sum) / full) * 100).toFixed(0)}%`, '']);
  console.log(table(['step', 'median', 'spread', '% of full open(text)', '× raw open'], rows, ['l', 'r', 'r', 'r', 'r']));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 1;
});
