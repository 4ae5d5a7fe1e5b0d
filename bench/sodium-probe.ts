/**
 * @module
 * What a native XChaCha20-Poly1305 would give the envelope: the node backend with its two
 * XChaCha functions (and randomBytes) replaced by libsodium through `sodium-native`, sealing
 * and opening 1 KiB envelopes, interleaved with the limit (libsodium's bare AEAD) and the
 * node backend as shipped. A probe for issue 17, goal 6 (open ≤ 2×, seal ≤ 3× the limit):
 * nothing in src/ uses it; an optional sodium backend would have to pass the same vectors.
 *
 *   npx tsx bench/sodium-probe.ts [--quick]
 */
import { createRequire } from 'node:module';
import { nodeBackend } from '../src/crypto/backends/node.js';
import { PADDING_NONE, base64urlDecode, equalBytes, generateSymmetricKey, openEnvelope, sealEnvelopeText, type CryptoBackend } from '../src/crypto/index.js';
import { BENCH_LOCATION, GOAL_OPEN_VS_LIMIT, GOAL_SEAL_VS_LIMIT, pairedRatio, sodiumRaw } from './crypto.js';
import { environmentLines, fmtNs, fmtRatio, parseBenchOptions, runInterleaved, table, type Case } from './harness.js';

interface SodiumAead {
  crypto_aead_xchacha20poly1305_ietf_encrypt(c: Uint8Array, m: Uint8Array, ad: Uint8Array | null, nsec: null, npub: Uint8Array, k: Uint8Array): number;
  crypto_aead_xchacha20poly1305_ietf_decrypt(m: Uint8Array, nsec: null, c: Uint8Array, ad: Uint8Array | null, npub: Uint8Array, k: Uint8Array): number;
  randombytes_buf(b: Uint8Array): void;
}

const opts = parseBenchOptions();
const na = createRequire(import.meta.url)('sodium-native') as SodiumAead;
const TAG = 16;

/** The node backend with libsodium's XChaCha20-Poly1305 and CSPRNG. */
const probe: CryptoBackend = {
  ...nodeBackend,
  name: 'node+sodium xchacha (probe)',
  randomBytes: (n) => {
    const out = new Uint8Array(n);
    na.randombytes_buf(out);
    return out;
  },
  xchacha20poly1305Seal: (key, nonce, pt, aad) => {
    const out = new Uint8Array(pt.length + TAG);
    na.crypto_aead_xchacha20poly1305_ietf_encrypt(out, pt, aad.length > 0 ? aad : null, null, nonce, key);
    return out;
  },
  xchacha20poly1305Open: (key, nonce, ct, aad) => {
    if (ct.length < TAG) return null;
    const out = new Uint8Array(ct.length - TAG);
    try {
      na.crypto_aead_xchacha20poly1305_ietf_decrypt(out, null, ct, aad.length > 0 ? aad : null, nonce, key);
      return out;
    } catch {
      return null;
    }
  },
};

async function main(): Promise<void> {
  const key = generateSymmetricKey(nodeBackend);
  const loc = BENCH_LOCATION;
  const pt = nodeBackend.randomBytes(1024);
  const limit = sodiumRaw(key.bytes);
  if ('error' in limit) throw new Error(`sodium-native did not load: ${limit.error}`);
  const limitSealed = limit.sealed(pt);
  const text = sealEnvelopeText(nodeBackend, key, loc, pt, { padding: PADDING_NONE });
  const bytes = base64urlDecode(text);
  // Same format: each backend opens what the other sealed.
  const check = (ok: boolean, what: string): void => {
    if (!ok) throw new Error(`probe self-check failed: ${what}`);
  };
  check(equalBytes(openEnvelope(probe, text, key, loc).plaintext, pt), 'probe opens node');
  check(equalBytes(openEnvelope(nodeBackend, sealEnvelopeText(probe, key, loc, pt, { padding: PADDING_NONE }), key, loc).plaintext, pt), 'node opens probe');
  const groups: [string, Case[]][] = [
    [
      'open',
      [
        { name: 'limit: libsodium xchacha20poly1305 open', fn: () => limitSealed.open() },
        { name: 'node backend, openEnvelope text', fn: () => openEnvelope(nodeBackend, text, key, loc).plaintext },
        { name: 'probe, openEnvelope text', fn: () => openEnvelope(probe, text, key, loc).plaintext },
        { name: 'probe, openEnvelope bytes', fn: () => openEnvelope(probe, bytes, key, loc).plaintext },
      ],
    ],
    [
      'seal',
      [
        { name: 'limit: libsodium xchacha20poly1305 seal', fn: () => limit.seal(pt) },
        { name: 'node backend, sealEnvelopeText none', fn: () => sealEnvelopeText(nodeBackend, key, loc, pt, { padding: PADDING_NONE }) },
        { name: 'probe, sealEnvelopeText none', fn: () => sealEnvelopeText(probe, key, loc, pt, { padding: PADDING_NONE }) },
        { name: 'node randomBytes(24)', fn: () => nodeBackend.randomBytes(24) },
        { name: 'sodium randombytes_buf(24)', fn: () => probe.randomBytes(24) },
      ],
    ],
  ];
  console.log('```');
  for (const line of environmentLines(opts)) console.log(line);
  console.log('```');
  console.log('');
  const rows: string[][] = [];
  for (const [dir, cases] of groups) {
    const results = await runInterleaved(cases, opts);
    for (const r of results) {
      const p = pairedRatio(r, results[0]!);
      rows.push([dir, r.name, fmtNs(r.medianNs), fmtRatio(p.ratio), `${fmtRatio(p.min)}–${fmtRatio(p.max)}`]);
    }
  }
  console.log(table(['dir', 'case (1 KiB)', 'median', '× limit', 'range'], rows, ['l', 'l', 'r', 'r', 'r']));
  console.log('');
  console.log(`goals: open ≤ ${GOAL_OPEN_VS_LIMIT}×, seal ≤ ${GOAL_SEAL_VS_LIMIT}× the limit`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 1;
});
