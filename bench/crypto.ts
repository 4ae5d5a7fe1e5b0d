/**
 * @module
 * Crypto suite: what the sealed-envelope format costs against the fastest AEAD Node can
 * run, per backend, plus the asymmetric operations (once per key, never per field).
 *
 * Symmetric section, for values of 64 B, 1 KiB and 64 KiB. The baseline (the "limit") is
 * libsodium's XChaCha20-Poly1305 through `sodium-native` (fixed 24-byte nonce, no AAD, a
 * fresh output buffer per call); where that addon cannot load, node:crypto's
 * ChaCha20-Poly1305 takes its place and the report says so. Per size, all seals run in one
 * interleaved group and all opens in another, so every row's ratio is against the limit
 * measured in the same rounds:
 *
 *   raw rows       node:crypto `chacha20-poly1305` (createCipheriv / createDecipheriv per
 *                  message, 12-byte nonce, no AAD), @noble/ciphers `xchacha20poly1305`
 *                  (24-byte nonce, no AAD), and each backend's own xchacha20poly1305Open
 *                  with associated data of the envelope's length (the envelope's primitive)
 *   envelope rows  per backend (sodium where the optional backend loads, node, noble; the
 *                  sodium backend's own raw AEAD is the limit row itself):
 *     seal (no padding)  sealEnvelopeText(...)         plaintext bytes → base64url text
 *     seal (PADMÉ)       the same with the default padding policy
 *     open (from text)   openEnvelope(backend, text, key, location): the client's full path
 *                        from the string in a GraphQL response to plaintext bytes
 *     open (from bytes)  openEnvelope on the already-decoded envelope bytes
 * Both opens use an envelope sealed with PADDING_NONE (like for like with the raw AEADs).
 *
 * Goals (issue 17, goal 6), at 1 KiB on the fastest backend: open from text ≤ 2× the limit,
 * seal (no padding) ≤ 3×; `wrapKey` to one recipient ≤ 150 µs (median, fastest backend, from
 * the asymmetric table). The earlier goal (open ≤ 1.5× the backend's own raw AEAD) is still
 * printed, from the same interleaved samples.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { nodeBackend } from '../src/crypto/backends/node.js';
import { loadSodiumBackend } from '../src/crypto/backends/sodium.js';
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
  fmtBytes,
  fmtNs,
  fmtRate,
  fmtRatio,
  progress,
  progressDone,
  runInterleaved,
  table,
  type BenchOptions,
  type Case,
  type CaseResult,
} from './harness.js';
import { loadSodium } from './sodium.js';

export const SIZES = [64, 1024, 64 * 1024] as const;
export const GOAL_SIZE = 1024;
/** Issue 17 goal 6: envelope open ≤ 2× the limit, seal ≤ 3×. */
export const GOAL_OPEN_VS_LIMIT = 2;
export const GOAL_SEAL_VS_LIMIT = 3;
/** The earlier goal: envelope open ≤ 1.5× the backend's own raw AEAD. */
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

/**
 * libsodium XChaCha20-Poly1305 (`sodium-native`), the limit: one call per message into
 * libsodium, a fresh output buffer per call as every other row allocates its output.
 * `{ error }` (the load error) where the addon cannot load.
 */
export function sodiumRaw(key: Uint8Array): RawAead | { readonly error: string } {
  const loaded = loadSodium();
  if (!loaded.ok) return { error: loaded.error };
  const na = loaded.sodium;
  const nonce = new Uint8Array(24).fill(7);
  const abytes = na.crypto_aead_xchacha20poly1305_ietf_ABYTES;
  const seal = (pt: Uint8Array): Uint8Array => {
    const ct = new Uint8Array(pt.length + abytes);
    na.crypto_aead_xchacha20poly1305_ietf_encrypt(ct, pt, null, null, nonce, key);
    return ct;
  };
  return {
    name: `libsodium xchacha20poly1305 (sodium-native ${loaded.version})`,
    seal,
    sealed(pt) {
      const ct = seal(pt);
      return {
        open() {
          const out = new Uint8Array(ct.length - abytes);
          na.crypto_aead_xchacha20poly1305_ietf_decrypt(out, null, ct, null, nonce, key);
          return out;
        },
      };
    },
  };
}

/** The limit baseline: libsodium where it loads, else node:crypto (with the reason). */
export function limitRaw(key: Uint8Array): { readonly raw: RawAead; readonly fallback: string | null } {
  const s = sodiumRaw(key);
  if ('error' in s) return { raw: nodeRaw(key), fallback: s.error };
  return { raw: s, fallback: null };
}

export interface PairedRatio {
  /** median(a ns/op) / median(b ns/op): > 1 means a is slower. */
  readonly ratio: number;
  /** Range of the per-round ratios. */
  readonly min: number;
  readonly max: number;
}

/** a against b, both from the same interleaved group (their samples are paired by round). */
export function pairedRatio(a: CaseResult, b: CaseResult): PairedRatio {
  const paired = a.nsPerOp.map((x, i) => x / b.nsPerOp[i]!);
  return { ratio: a.medianNs / b.medianNs, min: Math.min(...paired), max: Math.max(...paired) };
}

export interface SymmetricRow {
  readonly size: number;
  readonly dir: 'seal' | 'open';
  /** `limit`, `raw` or a backend name. */
  readonly subject: string;
  readonly op: string;
  readonly result: CaseResult;
  readonly vsLimit: PairedRatio;
  /** Envelope rows: against the backend's own raw AEAD (node:crypto / noble), same group. */
  readonly vsOwnRaw: PairedRatio | null;
}

export interface CryptoBenchResult {
  readonly symmetric: readonly SymmetricRow[];
  readonly limit: string;
  readonly goal: {
    readonly backend: string;
    readonly openVsLimit: number;
    readonly sealVsLimit: number;
    readonly pass: boolean;
  };
  readonly wrap: { readonly backend: string; readonly wrapOneUs: number; readonly pass: boolean };
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`bench self-check failed: ${what}`);
}

interface Labelled {
  readonly subject: string;
  readonly op: string;
  readonly ownRaw?: number;
  readonly c: Case;
}

/** The optional sodium backend (src/crypto/backends/sodium.ts), or why it is not there. */
export async function sodiumBackendOrReason(): Promise<CryptoBackend | string> {
  try {
    return await loadSodiumBackend();
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

async function symmetric(opts: BenchOptions, key: SymmetricKey, limit: RawAead, sodium: CryptoBackend | null): Promise<SymmetricRow[]> {
  const loc = BENCH_LOCATION;
  const backends: { be: CryptoBackend; raw: RawAead }[] = [
    // The sodium backend's own raw AEAD is libsodium's: the limit row itself.
    ...(sodium ? [{ be: sodium, raw: limit }] : []),
    { be: nodeBackend, raw: nodeRaw(key.bytes) },
    { be: nobleBackend, raw: nobleRaw(key.bytes) },
  ];
  const rows: SymmetricRow[] = [];
  for (const size of SIZES) {
    const pt = nodeBackend.randomBytes(size);
    const limitSealed = limit.sealed(pt);
    check(equalBytes(new Uint8Array(limitSealed.open()), pt), `${limit.name} open ${size}`);
    // Index 0 of each group is the limit; raw AEADs next; envelope rows name their raw row.
    const seals: Labelled[] = [{ subject: 'limit', op: limit.name, c: { name: 'limit seal', fn: () => limit.seal(pt) } }];
    const opens: Labelled[] = [{ subject: 'limit', op: limit.name, c: { name: 'limit open', fn: () => limitSealed.open() } }];
    const rawIndex = new Map<RawAead, { seal: number; open: number }>([[limit, { seal: 0, open: 0 }]]);
    for (const { raw } of backends) {
      if (rawIndex.has(raw)) continue;
      const sealed = raw.sealed(pt);
      check(equalBytes(new Uint8Array(sealed.open()), pt), `${raw.name} open ${size}`);
      rawIndex.set(raw, { seal: seals.length, open: opens.length });
      seals.push({ subject: 'raw', op: raw.name, c: { name: `${raw.name} seal`, fn: () => raw.seal(pt) } });
      opens.push({ subject: 'raw', op: raw.name, c: { name: `${raw.name} open`, fn: () => sealed.open() } });
    }
    for (const { be, raw } of backends) {
      const own = rawIndex.get(raw)!;
      const text = sealEnvelopeText(be, key, loc, pt, { padding: PADDING_NONE });
      const bytes = base64urlDecode(text);
      // Every case must do the real work: check outputs once before timing them.
      check(equalBytes(openEnvelope(be, text, key, loc).plaintext, pt), `${be.name} open(text) ${size}`);
      check(equalBytes(openEnvelope(be, bytes, key, loc).plaintext, pt), `${be.name} open(bytes) ${size}`);
      const padme = sealEnvelopeText(be, key, loc, pt, { padding: PADDING_PADME });
      check(equalBytes(openEnvelope(be, padme, key, loc).plaintext, pt), `${be.name} PADMÉ ${size}`);
      // The envelope's own primitive through this backend (24-byte nonce) with associated
      // data of the envelope's length, no format.
      const env = parseEnvelope(bytes);
      const aadLen = env.header.length + locationTagInput(loc).length;
      const xNonce = new Uint8Array(24).fill(7);
      const xAad = new Uint8Array(aadLen).fill(3);
      const xCt = be.xchacha20poly1305Seal(key.bytes, xNonce, pt, xAad);
      check(equalBytes(be.xchacha20poly1305Open(key.bytes, xNonce, xCt, xAad)!, pt), `${be.name} raw xchacha ${size}`);
      opens.push({
        subject: 'raw',
        op: `${be.name} backend xchacha20poly1305Open (+${aadLen} B AAD)`,
        c: { name: `${be.name} xchacha open`, fn: () => be.xchacha20poly1305Open(key.bytes, xNonce, xCt, xAad) },
      });
      seals.push(
        { subject: be.name, op: 'seal (no padding)', ownRaw: own.seal, c: { name: `${be.name} seal none`, fn: () => sealEnvelopeText(be, key, loc, pt, { padding: PADDING_NONE }) } },
        { subject: be.name, op: 'seal (PADMÉ)', ownRaw: own.seal, c: { name: `${be.name} seal padme`, fn: () => sealEnvelopeText(be, key, loc, pt, { padding: PADDING_PADME }) } },
      );
      opens.push(
        { subject: be.name, op: 'open (from text)', ownRaw: own.open, c: { name: `${be.name} open text`, fn: () => openEnvelope(be, text, key, loc).plaintext } },
        { subject: be.name, op: 'open (from bytes)', ownRaw: own.open, c: { name: `${be.name} open bytes`, fn: () => openEnvelope(be, bytes, key, loc).plaintext } },
      );
    }
    for (const [dir, group] of [['seal', seals], ['open', opens]] as const) {
      progress(`crypto: ${fmtBytes(size)} ${dir} (${group.length} cases)`);
      const results = await runInterleaved(
        group.map((g) => g.c),
        opts,
      );
      group.forEach((g, i) => {
        const r = results[i]!;
        rows.push({
          size,
          dir,
          subject: g.subject,
          op: g.op,
          result: r,
          vsLimit: pairedRatio(r, results[0]!),
          vsOwnRaw: g.ownRaw === undefined ? null : pairedRatio(r, results[g.ownRaw]!),
        });
      });
    }
  }
  progressDone();
  return rows;
}

function printSymmetric(rows: readonly SymmetricRow[], limit: RawAead, fallback: string | null): CryptoBenchResult['goal'] {
  console.log(`limit (baseline of every ratio): ${limit.name}, 24-byte nonce, no AAD`);
  if (fallback !== null) console.log(`  (sodium-native did not load: ${fallback}; node:crypto is the baseline instead)`);
  console.log('× limit = median time / median time of the limit in the same interleaved group; range = min–max of the per-round paired ratios;');
  console.log('× own raw = envelope time / the backend’s own raw AEAD (node → node:crypto chacha20-poly1305, noble → @noble/ciphers xchacha20poly1305), same group');
  console.log('');
  console.log(
    table(
      ['size', 'dir', 'subject', 'op', 'ops/s', 'µs/op', '× limit', 'range', '× own raw'],
      rows.map((r) => [
        fmtBytes(r.size),
        r.dir,
        r.subject,
        r.op,
        fmtRate(r.result),
        (r.result.medianNs / 1e3).toFixed(2),
        fmtRatio(r.vsLimit.ratio),
        `${fmtRatio(r.vsLimit.min)}–${fmtRatio(r.vsLimit.max)}`,
        r.vsOwnRaw ? fmtRatio(r.vsOwnRaw.ratio) : '',
      ]),
      ['r', 'l', 'l', 'l', 'r', 'r', 'r', 'r', 'r'],
    ),
  );
  console.log('');
  const at = (subject: string, op: string): SymmetricRow | undefined => rows.find((r) => r.size === GOAL_SIZE && r.subject === subject && r.op === op);
  // The goals are about the client's real path (from text), on whichever backend opens fastest.
  const opens = rows.filter((r) => r.size === GOAL_SIZE && r.op === 'open (from text)');
  const fastest = opens.reduce((a, b) => (b.result.opsPerSec > a.result.opsPerSec ? b : a));
  const be = fastest.subject;
  const fromBytes = at(be, 'open (from bytes)');
  const seal = at(be, 'seal (no padding)')!;
  const sealPadme = at(be, 'seal (PADMÉ)');
  const limitOpen = rows.find((r) => r.size === GOAL_SIZE && r.dir === 'open' && r.subject === 'limit')!;
  const limitSeal = rows.find((r) => r.size === GOAL_SIZE && r.dir === 'seal' && r.subject === 'limit')!;
  const openPass = fastest.vsLimit.ratio <= GOAL_OPEN_VS_LIMIT;
  const sealPass = seal.vsLimit.ratio <= GOAL_SEAL_VS_LIMIT;
  console.log(`goals at ${fmtBytes(GOAL_SIZE)}, fastest backend (${be}), against the limit (open ${fmtNs(limitOpen.result.medianNs)}, seal ${fmtNs(limitSeal.result.medianNs)}):`);
  console.log(
    `  open ≤ ${GOAL_OPEN_VS_LIMIT}× the limit: from text ${fmtRatio(fastest.vsLimit.ratio)}× (${fmtNs(fastest.result.medianNs)})` +
      (fromBytes ? `; from bytes ${fmtRatio(fromBytes.vsLimit.ratio)}× (${fmtNs(fromBytes.result.medianNs)})` : '') +
      ` → ${openPass ? 'PASS' : 'MISS'}`,
  );
  console.log(
    `  seal ≤ ${GOAL_SEAL_VS_LIMIT}× the limit: no padding ${fmtRatio(seal.vsLimit.ratio)}× (${fmtNs(seal.result.medianNs)})` +
      (sealPadme ? `; PADMÉ ${fmtRatio(sealPadme.vsLimit.ratio)}×` : '') +
      ` → ${sealPass ? 'PASS' : 'MISS'}`,
  );
  if (fastest.vsOwnRaw) {
    console.log(
      `  (earlier goal, open ≤ ${GOAL_RATIO}× the backend's own raw AEAD: ${fmtRatio(fastest.vsOwnRaw.ratio)}× → ${fastest.vsOwnRaw.ratio <= GOAL_RATIO ? 'PASS' : 'MISS'})`,
    );
  }
  return { backend: be, openVsLimit: fastest.vsLimit.ratio, sealVsLimit: seal.vsLimit.ratio, pass: openPass && sealPass };
}

// ---------------------------------------------------------------------------------------
// Asymmetric operations

interface AsymOp {
  readonly name: string;
  make(be: CryptoBackend): () => Promise<unknown>;
}

/** Issue 17 goal 6: wrapKey to one recipient ≤ 150 µs (fastest backend). */
export const GOAL_WRAP_ONE_US = 150;

async function asymmetric(opts: BenchOptions, sodium: CryptoBackend | null): Promise<{ backend: string; wrapOneUs: number; pass: boolean }> {
  const backends: CryptoBackend[] = [nobleBackend, nodeBackend];
  if (sodium) backends.push(sodium);
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
  let wrapOne: CaseResult[] = [];
  for (const op of ops) {
    progress(`crypto: ${op.name}`);
    const results = await runInterleaved(
      backends.map((be) => ({ name: be.name, fn: op.make(be), async: true })),
      opts,
    );
    if (op.name === 'wrapKey, 1 recipient') wrapOne = results;
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
  console.log('');
  const fastest = wrapOne.reduce((a, b) => (b.medianNs < a.medianNs ? b : a));
  const us = fastest.medianNs / 1e3;
  const pass = us <= GOAL_WRAP_ONE_US;
  console.log(`goal: wrapKey to one recipient ≤ ${GOAL_WRAP_ONE_US} µs, fastest backend (${fastest.name}): ${us.toFixed(0)} µs (${wrapOne.map((r) => `${r.name} ${(r.medianNs / 1e3).toFixed(0)} µs`).join(', ')}) → ${pass ? 'PASS' : 'MISS'}`);
  return { backend: fastest.name, wrapOneUs: us, pass };
}

export async function runCryptoBench(opts: BenchOptions): Promise<CryptoBenchResult> {
  console.log('## crypto');
  console.log('');
  const key: SymmetricKey = generateSymmetricKey(nodeBackend);
  const { raw: limit, fallback } = limitRaw(key.bytes);
  const loaded = await sodiumBackendOrReason();
  const sodium = typeof loaded === 'string' ? null : loaded;
  if (!sodium) console.log(`(the optional sodium backend is not available: ${loaded as string}; its rows are omitted)`);
  const symmetricRows = await symmetric(opts, key, limit, sodium);
  const goal = printSymmetric(symmetricRows, limit, fallback);
  console.log('');
  const wrap = await asymmetric(opts, sodium);
  console.log('');
  return { symmetric: symmetricRows, limit: limit.name, goal, wrap };
}
