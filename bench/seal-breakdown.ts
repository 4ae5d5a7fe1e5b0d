/**
 * @module
 * Where the time of `sealEnvelopeText(node backend, key, location, plaintext, none)` goes:
 * each step of src/crypto/envelope.ts `sealEnvelope` (header: location tag = SHA-256 of the
 * location encoding, a 24-byte random nonce; pad; AAD = header ‖ location encoding;
 * XChaCha20-Poly1305 = HChaCha20 subkey + node:crypto ChaCha20-Poly1305; header ‖
 * ciphertext; base64url) timed on its own, interleaved in one group with the full seal and
 * the limit (libsodium's bare XChaCha20-Poly1305 seal, see ./sodium.ts).
 *
 *   npx tsx bench/seal-breakdown.ts [--quick]
 *
 * Measurements only; the steps call the same functions the seal does.
 */
import { nodeBackend } from '../src/crypto/backends/node.js';
import { base64urlEncode } from '../src/crypto/base64url.js';
import { concatBytes } from '../src/crypto/bytes.js';
import { locationTag, locationTagInput, prefixedLocationInput } from '../src/crypto/location.js';
import { PADDING_NONE, pad } from '../src/crypto/padding.js';
import { xchachaSubkey } from '../src/crypto/xchacha.js';
import { generateSymmetricKey, sealEnvelopeText } from '../src/crypto/index.js';
import { BENCH_LOCATION, pairedRatio, sodiumRaw } from './crypto.js';
import { environmentLines, fmtNs, fmtRatio, parseBenchOptions, runInterleaved, table, type Case } from './harness.js';

const opts = parseBenchOptions();
const be = nodeBackend;
const loc = BENCH_LOCATION;
const key = generateSymmetricKey(be);
const pt = be.randomBytes(1024);
const header = new Uint8Array(63).fill(1);
const nonce = be.randomBytes(24);
const aad = prefixedLocationInput(header, loc);
const { subkey, nonce12 } = xchachaSubkey(key.bytes, nonce);
const ct = be.xchacha20poly1305Seal(key.bytes, nonce, pt, aad);
const body = concatBytes(header, ct);

async function main(): Promise<void> {
  const limit = sodiumRaw(key.bytes);
  if ('error' in limit) throw new Error(`sodium-native did not load: ${limit.error}`);
  const cases: Case[] = [
    { name: 'limit: libsodium xchacha20poly1305 seal', fn: () => limit.seal(pt) },
    { name: 'FULL sealEnvelopeText (node, no padding)', fn: () => sealEnvelopeText(be, key, loc, pt, { padding: PADDING_NONE }) },
    { name: 'locationTagInput', fn: () => locationTagInput(loc) },
    { name: 'locationTag (encoding + SHA-256)', fn: () => locationTag(be, loc) },
    { name: 'randomBytes(24) (getRandomValues)', fn: () => be.randomBytes(24) },
    { name: 'pad (none: a copy)', fn: () => pad(pt, PADDING_NONE) },
    { name: 'AAD: header ‖ location encoding', fn: () => prefixedLocationInput(header, loc) },
    { name: 'xchacha20poly1305Seal (node backend)', fn: () => be.xchacha20poly1305Seal(key.bytes, nonce, pt, aad) },
    { name: '  of which: xchachaSubkey (HChaCha20, JS)', fn: () => xchachaSubkey(key.bytes, nonce) },
    { name: '  of which: chacha20poly1305Seal (native, AAD)', fn: () => be.chacha20poly1305Seal(subkey, nonce12, pt, aad) },
    { name: 'concat header ‖ ciphertext', fn: () => concatBytes(header, ct) },
    { name: 'base64urlEncode (1,103 B)', fn: () => base64urlEncode(body) },
  ];
  console.log('```');
  for (const line of environmentLines(opts)) console.log(line);
  console.log('```');
  console.log('');
  const results = await runInterleaved(cases, opts);
  const full = results[1]!;
  console.log(
    table(
      ['step (1 KiB)', 'median', '% of full seal', '× limit'],
      results.map((r) => [r.name, fmtNs(r.medianNs), `${((100 * r.medianNs) / full.medianNs).toFixed(0)}%`, fmtRatio(pairedRatio(r, results[0]!).ratio)]),
      ['l', 'r', 'r', 'r'],
    ),
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 1;
});
