/**
 * @module
 * Crypto suite: what the sealed-envelope format costs on top of the AEAD it is built on,
 * per backend, plus the asymmetric operations (once per key, never per field).
 *
 * Symmetric section, for values of 64 B, 1 KiB and 64 KiB, each envelope operation is
 * compared, interleaved in the same run, with the raw AEAD on the same plaintext bytes:
 *
 * - node backend  vs node:crypto `chacha20-poly1305` (createCipheriv / createDecipheriv,
 *                 fixed 12-byte nonce, no AAD): seal = encrypt + tag, open = decrypt +
 *                 verify. The envelope path adds HChaCha20 (XChaCha's 24-byte nonce),
 *                 the header, location tag, padding and base64url.
 * - noble backend vs @noble/ciphers `xchacha20poly1305` (fixed 24-byte nonce, no AAD):
 *                 same cipher as the envelope, so the ratio is pure format overhead.
 *
 * Cases:
 *   seal  PADDING_NONE  sealEnvelopeText(...)         plaintext bytes → base64url text
 *   seal  PADMÉ         the same with the default padding policy
 *   open  text          openEnvelope(backend, text, key, location): the client's full
 *                       path from the string in a GraphQL response to plaintext bytes
 *   open  bytes         openEnvelope on the already-decoded envelope bytes
 * Both opens use an envelope sealed with PADDING_NONE (like for like with the raw AEAD).
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { nodeBackend } from '../src/crypto/backends/node.js';
import { parseEnvelope } from '../src/crypto/envelope.js';
import { locationTagInput } from '../src/crypto/location.js';
import {
  PADDING_NONE,
  PADDING_PADME,
  base64urlDecode,
  equalBytes,
  generateEncryptionKeyPair,
  generateSigningKeyPair,
  generateSymmetricKey,
  nobleBackend,
  openEnvelope,
  sealEnvelopeText,
  unwrapKey,
  webCryptoBackend,
  webCryptoSupportsCurves,
  wrapKey,
  type CryptoBackend,
  type EncryptionKeyPair,
  type Location,
  type SymmetricKey,
} from '../src/crypto/index.js';
import {
  compare,
  fmtBytes,
  fmtOps,
  fmtRate,
  fmtRatio,
  progress,
  progressDone,
  runInterleaved,
  table,
  type BenchOptions,
  type Case,
  type Comparison,
} from './harness.js';

export const SIZES = [64, 1024, 64 * 1024] as const;
const OPEN_VS_XCHACHA = 'open (text) vs XChaCha+AAD';
export const GOAL_SIZE = 1024;
export const GOAL_RATIO = 1.5;
const TAG = 16;

/** A realistic location: a field of one user's row. */
export const BENCH_LOCATION: Location = { coordinate: 'Profile.diary', ownerId: 'user_01HZY3K9Q4', objectId: 'profile_01HZY3K9Q4' };

export interface RawAead {
  readonly name: string;
  seal(pt: Uint8Array): unknown;
  /** Returns the input `open` expects. */
  sealed(pt: Uint8Array): { open(): Uint8Array };
}

/** node:crypto ChaCha20-Poly1305, the primitive under the node backend. */
export function nodeRaw(key: Uint8Array): RawAead {
  const nonce = new Uint8Array(12).fill(7);
  const seal = (pt: Uint8Array): { ct: Buffer; tag: Buffer } => {
    const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
    const ct = c.update(pt);
    c.final();
    return { ct, tag: c.getAuthTag() };
  };
  return {
    name: 'node:crypto chacha20-poly1305',
    seal,
    sealed(pt) {
      const { ct, tag } = seal(pt);
      return {
        open() {
          const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
          d.setAuthTag(tag);
          const out = d.update(ct);
          d.final();
          return out;
        },
      };
    },
  };
}

/** @noble/ciphers XChaCha20-Poly1305, the primitive under the noble backend. */
export function nobleRaw(key: Uint8Array): RawAead {
  const nonce = new Uint8Array(24).fill(7);
  return {
    name: '@noble/ciphers xchacha20poly1305',
    seal: (pt) => xchacha20poly1305(key, nonce).encrypt(pt),
    sealed(pt) {
      const ct = xchacha20poly1305(key, nonce).encrypt(pt);
      return { open: () => xchacha20poly1305(key, nonce).decrypt(ct) };
    },
  };
}

export interface SymmetricRow {
  readonly size: number;
  readonly backend: string;
  readonly op: string;
  readonly cmp: Comparison;
}

export interface CryptoBenchResult {
  readonly symmetric: readonly SymmetricRow[];
  readonly goal: { readonly backend: string; readonly ratio: number; readonly pass: boolean };
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`bench self-check failed: ${what}`);
}

async function symmetric(opts: BenchOptions): Promise<SymmetricRow[]> {
  const key: SymmetricKey = generateSymmetricKey(nodeBackend);
  const loc = BENCH_LOCATION;
  const suites: { backend: CryptoBackend; raw: RawAead }[] = [
    { backend: nodeBackend, raw: nodeRaw(key.bytes) },
    { backend: nobleBackend, raw: nobleRaw(key.bytes) },
  ];
  const rows: SymmetricRow[] = [];
  for (const size of SIZES) {
    const pt = nodeBackend.randomBytes(size);
    for (const { backend: be, raw } of suites) {
      const text = sealEnvelopeText(be, key, loc, pt, { padding: PADDING_NONE });
      const bytes = base64urlDecode(text);
      const rawSealed = raw.sealed(pt);
      // Every case must do the real work: check outputs once before timing them.
      check(equalBytes(openEnvelope(be, text, key, loc).plaintext, pt), `${be.name} open(text) ${size}`);
      check(equalBytes(openEnvelope(be, bytes, key, loc).plaintext, pt), `${be.name} open(bytes) ${size}`);
      check(equalBytes(new Uint8Array(rawSealed.open()), pt), `${raw.name} open ${size}`);
      const padme = sealEnvelopeText(be, key, loc, pt, { padding: PADDING_PADME });
      check(equalBytes(openEnvelope(be, padme, key, loc).plaintext, pt), `${be.name} PADMÉ ${size}`);

      // Like-for-like baseline: the envelope's own primitive (XChaCha20-Poly1305 through this
      // backend, 24-byte nonce) with associated data of the envelope's length, no format.
      const env = parseEnvelope(bytes);
      const aadLen = env.header.length + locationTagInput(loc).length;
      const xNonce = new Uint8Array(24).fill(7);
      const xAad = new Uint8Array(aadLen).fill(3);
      const xCt = be.xchacha20poly1305Seal(key.bytes, xNonce, pt, xAad);
      check(equalBytes(be.xchacha20poly1305Open(key.bytes, xNonce, xCt, xAad)!, pt), `${be.name} raw xchacha ${size}`);
      const xOpen: Case = { name: `${be.name} xchacha20poly1305Open`, fn: () => be.xchacha20poly1305Open(key.bytes, xNonce, xCt, xAad) };
      const rawSeal: Case = { name: `${raw.name} seal`, fn: () => raw.seal(pt) };
      const rawOpen: Case = { name: `${raw.name} open`, fn: () => rawSealed.open() };
      const cases: [string, Case, Case][] = [
        ['seal (no padding)', { name: 'sealEnvelopeText none', fn: () => sealEnvelopeText(be, key, loc, pt, { padding: PADDING_NONE }) }, rawSeal],
        ['seal (PADMÉ)', { name: 'sealEnvelopeText padme', fn: () => sealEnvelopeText(be, key, loc, pt, { padding: PADDING_PADME }) }, rawSeal],
        ['open (from text)', { name: 'openEnvelope text', fn: () => openEnvelope(be, text, key, loc).plaintext }, rawOpen],
        ['open (from bytes)', { name: 'openEnvelope bytes', fn: () => openEnvelope(be, bytes, key, loc).plaintext }, rawOpen],
        [OPEN_VS_XCHACHA, { name: 'openEnvelope text', fn: () => openEnvelope(be, text, key, loc).plaintext }, xOpen],
      ];
      for (const [op, cand, base] of cases) {
        progress(`crypto: ${fmtBytes(size)} ${be.name} ${op}`);
        rows.push({ size, backend: be.name, op, cmp: await compare(cand, base, opts) });
      }
    }
  }
  progressDone();
  return rows;
}

function printSymmetric(rows: readonly SymmetricRow[]): CryptoBenchResult['goal'] {
  console.log('Envelope vs raw AEAD (ratio = envelope time / raw time; 1.00 = no overhead; range = min–max of the per-round paired ratios)');
  console.log('raw baseline: node → node:crypto chacha20-poly1305 (12-byte nonce); noble → @noble/ciphers xchacha20poly1305 (24-byte nonce)');
  console.log('');
  console.log(
    table(
      ['size', 'backend', 'op', 'envelope ops/s', 'raw ops/s', 'ratio', 'range'],
      rows.map((r) => [
        fmtBytes(r.size),
        r.backend,
        r.op,
        fmtRate(r.cmp.candidate),
        fmtRate(r.cmp.baseline),
        fmtRatio(r.cmp.ratio),
        `${fmtRatio(r.cmp.ratioMin)}–${fmtRatio(r.cmp.ratioMax)}`,
      ]),
      ['r', 'l', 'l', 'r', 'r', 'r', 'r'],
    ),
  );
  console.log('');
  // The goal is about the client's real path (from text), on whichever backend opens fastest.
  const opens = rows.filter((r) => r.size === GOAL_SIZE && r.op === 'open (from text)');
  const fastest = opens.reduce((a, b) => (b.cmp.candidate.opsPerSec > a.cmp.candidate.opsPerSec ? b : a));
  const fromBytes = rows.find((r) => r.size === GOAL_SIZE && r.backend === fastest.backend && r.op === 'open (from bytes)');
  const vsX = rows.find((r) => r.size === GOAL_SIZE && r.backend === fastest.backend && r.op === OPEN_VS_XCHACHA);
  const pass = fastest.cmp.ratio <= GOAL_RATIO;
  const passX = vsX !== undefined && vsX.cmp.ratio <= GOAL_RATIO;
  console.log(`goal: envelope open ≤ ${GOAL_RATIO}× raw AEAD time at ${fmtBytes(GOAL_SIZE)} (fastest backend)`);
  console.log(
    `  ${fastest.backend}, vs bare ChaCha20-Poly1305 (12-byte nonce, no AAD): open from text ${fmtRatio(fastest.cmp.ratio)}× (${fmtOps(fastest.cmp.candidate.opsPerSec)} vs ${fmtOps(fastest.cmp.baseline.opsPerSec)} ops/s)` +
      (fromBytes ? `; from bytes ${fmtRatio(fromBytes.cmp.ratio)}×` : '') +
      ` → ${pass ? 'PASS' : 'MISS'}`,
  );
  if (vsX) {
    console.log(
      `  ${fastest.backend}, vs the envelope's primitive (XChaCha20-Poly1305, same AAD length): open from text ${fmtRatio(vsX.cmp.ratio)}× → ${passX ? 'PASS' : 'MISS'}`,
    );
  }
  return { backend: fastest.backend, ratio: fastest.cmp.ratio, pass };
}

// ---------------------------------------------------------------------------------------
// Asymmetric operations

interface AsymOp {
  readonly name: string;
  make(be: CryptoBackend): () => Promise<unknown>;
}

async function asymmetric(opts: BenchOptions): Promise<void> {
  const backends: CryptoBackend[] = [nobleBackend, nodeBackend];
  const webOk = await webCryptoSupportsCurves();
  if (webOk) backends.push(webCryptoBackend);

  const be0 = nobleBackend;
  const key = generateSymmetricKey(be0);
  const loc: Location = { coordinate: 'Conversation', ownerId: 'conv_01HZY3K9Q4' };
  const me: EncryptionKeyPair = await generateEncryptionKeyPair(be0);
  const peer = await generateEncryptionKeyPair(be0);
  const signer = await generateSigningKeyPair(be0);
  const others: EncryptionKeyPair[] = [];
  for (let i = 0; i < 9; i++) others.push(await generateEncryptionKeyPair(be0));
  const one = [me];
  const ten = [me, ...others];
  const msg = be0.randomBytes(128);
  const sig = await be0.ed25519Sign(signer.seed, msg);
  const wrapped10 = await wrapKey(be0, key, loc, ten);
  for (const be of backends) {
    check(await be.ed25519Verify(signer.publicKey, msg, sig), `${be.name} verify`);
    check(equalBytes(await be.x25519(me.privateKey, peer.publicKey), await be0.x25519(me.privateKey, peer.publicKey)), `${be.name} x25519`);
    check(equalBytes((await unwrapKey(be, wrapped10, me, loc)).bytes, key.bytes), `${be.name} unwrap`);
    check(equalBytes((await unwrapKey(be0, await wrapKey(be, key, loc, ten), others[3]!, loc)).bytes, key.bytes), `${be.name} wrap`);
  }

  const ops: AsymOp[] = [
    { name: 'X25519 DH', make: (be) => () => be.x25519(me.privateKey, peer.publicKey) },
    { name: 'Ed25519 sign (128 B)', make: (be) => () => be.ed25519Sign(signer.seed, msg) },
    { name: 'Ed25519 verify (128 B)', make: (be) => () => be.ed25519Verify(signer.publicKey, msg, sig) },
    { name: 'wrapKey, 1 recipient', make: (be) => () => wrapKey(be, key, loc, one) },
    { name: 'wrapKey, 10 recipients', make: (be) => () => wrapKey(be, key, loc, ten) },
    { name: 'unwrapKey (1 of 10 stanzas)', make: (be) => () => unwrapKey(be, wrapped10, me, loc) },
  ];
  const natives = backends.filter((b) => b !== nobleBackend);
  const rows: string[][] = [];
  for (const op of ops) {
    progress(`crypto: ${op.name}`);
    const results = await runInterleaved(
      backends.map((be) => ({ name: be.name, fn: op.make(be), async: true })),
      opts,
    );
    const noble = results[0]!;
    rows.push([
      op.name,
      ...results.map(fmtRate),
      ...natives.map((_, i) => `${fmtRatio(noble.medianNs / results[i + 1]!.medianNs)}×`),
    ]);
  }
  progressDone();
  console.log('Asymmetric operations (once per key, never per field); speed-up = noble time / native time');
  if (!webOk) console.log('(WebCrypto in this runtime lacks X25519/Ed25519: webcrypto column omitted)');
  console.log('');
  console.log(
    table(
      ['op', ...backends.map((b) => `${b.name} ops/s`), ...natives.map((b) => `${b.name} speed-up`)],
      rows,
      ['l', ...backends.map(() => 'r' as const), ...natives.map(() => 'r' as const)],
    ),
  );
}

export async function runCryptoBench(opts: BenchOptions): Promise<CryptoBenchResult> {
  console.log('## crypto');
  console.log('');
  const symmetricRows = await symmetric(opts);
  const goal = printSymmetric(symmetricRows);
  console.log('');
  await asymmetric(opts);
  console.log('');
  return { symmetric: symmetricRows, goal };
}
