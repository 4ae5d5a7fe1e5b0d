/**
 * @module
 * Client suite: what `openResult` costs on a realistic large result, next to the raw AEAD
 * of the same bytes measured in the same run, interleaved.
 *
 * Result: `{ profiles(first: 1000) { nodes { id ownerId a b c d } } }` on a small in-bench
 * schema (annotated SDL through `buildSchema`), `a`, `b` SHARED and `c`, `d` PRIVATE String
 * fields. Each value is a 1 KiB JSON string (1,024 bytes of UTF-8 JSON), sealed with the
 * node backend for its own location `(Profile.x, ownerId, id)`, with the padding the client
 * uses for fields without `pad` (PADMÉ: 1,025 → 1,088 bytes encrypted), under one shared
 * key (SHARED) and one vault key (PRIVATE). The wire result is produced the way a client
 * receives it: the document from `withVeilFields` (adds `_vgOwner`, `_vgId` and
 * `__typename`) executed on the wire schema, then JSON.stringify / JSON.parse.
 *
 * Cases, per backend, in one interleaved group:
 *   openResult      copy the parsed wire result, then `openResult` on the copy (it opens in
 *                   place, so every iteration needs fresh objects)
 *   copy only       the same copy alone; its median is subtracted from the previous
 *                   (open net = openResult − copy). The copy is structural (new objects and
 *                   arrays, the same immutable strings), ≈ 1 % of the total.
 *   openEnvelope ×4000   the bare format: `openEnvelope(backend, text, key, location)` over
 *                   the same 4,000 envelope texts (no walk, no UTF-8 decode, no JSON.parse)
 *   raw AEAD ×4000  node → node:crypto chacha20-poly1305 decrypt (12-byte nonce, no AAD) of
 *                   4,000 distinct ciphertexts of 1,088 bytes (the padded plaintext length);
 *                   noble → @noble/ciphers xchacha20poly1305 decrypt of the same; sodium
 *                   (the optional backend, where it loads) → the limit loop below.
 *
 *   limit ×4000     libsodium XChaCha20-Poly1305 (`sodium-native`, see ./sodium.ts) decrypt of
 *                   4,000 distinct ciphertexts of the same length, in the same group: the
 *                   fastest AEAD Node can run (node:crypto where the addon cannot load)
 *
 * Goals, on the fastest backend (sodium where it loads, else node; the others for reference):
 * open net ≤ 2× its own raw AEAD; open net ≤ 2.5× the limit (issue 17, goal 6).
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { execute, parse } from 'graphql';
import { nodeBackend } from '../src/crypto/backends/node.js';
import {
  PADDING_PADME,
  generateSymmetricKey,
  nobleBackend,
  openEnvelope,
  paddedLength,
  sealEnvelopeText,
  type CryptoBackend,
  type Location,
  type SymmetricKey,
} from '../src/crypto/index.js';
import { openResult, staticClientKeys, withVeilFields } from '../src/client/index.js';
import { buildSchema } from '../src/server/schema.js';
import { limitRaw, sodiumBackendOrReason } from './crypto.js';
import { fmtNs, fmtRatio, progress, progressDone, runInterleaved, table, type BenchOptions, type Case, type CaseResult } from './harness.js';

export const CLIENT_OBJECTS = 1000;
export const CLIENT_VALUE_BYTES = 1024;
export const CLIENT_GOAL_RATIO = 2;
/** Issue 17 goal 6: open net ≤ 2.5× the limit (libsodium) on the same bytes. */
export const CLIENT_LIMIT_GOAL_RATIO = 2.5;
const FIELDS = ['a', 'b', 'c', 'd'] as const;
const LEVEL: Record<(typeof FIELDS)[number], 'SHARED' | 'PRIVATE'> = { a: 'SHARED', b: 'SHARED', c: 'PRIVATE', d: 'PRIVATE' };
const TAG = 16;

const SDL = /* GraphQL */ `
  type Profile @owner(field: "ownerId") {
    id: ID!
    ownerId: ID!
    a: String @privacy(level: SHARED)
    b: String @privacy(level: SHARED)
    c: String @privacy(level: PRIVATE)
    d: String @privacy(level: PRIVATE)
  }

  type ProfileConnection {
    nodes: [Profile!]!
  }

  type Query {
    profiles(first: Int!): ProfileConnection!
  }
`;

const QUERY = parse(/* GraphQL */ `
  query Profiles {
    profiles(first: 1000) {
      nodes {
        id
        ownerId
        a
        b
        c
        d
      }
    }
  }
`);

type Obj = Record<string, unknown>;

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`bench self-check failed: ${what}`);
}

/** A JSON string value whose UTF-8 JSON encoding is exactly `bytes` long. */
function valueOf(i: number, field: string, bytes: number): string {
  const head = `${field}${i}:`;
  return head + 'x'.repeat(bytes - 2 - head.length);
}

/** New objects and arrays all the way down, same (immutable) strings. */
function copyJson(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(copyJson);
  const out: Obj = {};
  for (const k in v as Obj) out[k] = copyJson((v as Obj)[k]);
  return out;
}

interface Fixture {
  readonly built: ReturnType<typeof buildSchema>;
  /** The wire result's `data`, parsed (never modified: every case copies it). */
  readonly wireData: Obj;
  readonly wireBytes: number;
  readonly envelopes: readonly { readonly text: string; readonly level: 'SHARED' | 'PRIVATE'; readonly location: Location }[];
  readonly expected: readonly (readonly string[])[];
  readonly vault: SymmetricKey;
  readonly shared: SymmetricKey;
  readonly paddedBytes: number;
}

async function fixture(): Promise<Fixture> {
  const built = buildSchema(SDL, []);
  const vault = generateSymmetricKey(nodeBackend);
  const shared = generateSymmetricKey(nodeBackend);
  const envelopes: Fixture['envelopes'][number][] = [];
  const expected: string[][] = [];
  const rows: Obj[] = [];
  for (let i = 0; i < CLIENT_OBJECTS; i++) {
    const ownerId = `user_${String(i).padStart(6, '0')}_01HZY3K9Q4`;
    const id = `profile_${String(i).padStart(6, '0')}_01HZY3K9Q4`;
    const row: Obj = { id, ownerId };
    const values: string[] = [];
    for (const f of FIELDS) {
      const value = valueOf(i, f, CLIENT_VALUE_BYTES);
      const location: Location = { coordinate: `Profile.${f}`, ownerId, objectId: id };
      const level = LEVEL[f];
      // What sealVariables does for a field without `pad`: UTF-8 JSON, PADMÉ.
      const text = sealEnvelopeText(nodeBackend, level === 'PRIVATE' ? vault : shared, location, JSON.stringify(value), { padding: PADDING_PADME });
      row[f] = text;
      values.push(value);
      envelopes.push({ text, level, location });
    }
    rows.push(row);
    expected.push(values);
  }
  check(JSON.stringify(valueOf(0, 'a', CLIENT_VALUE_BYTES)).length === CLIENT_VALUE_BYTES, 'value size');
  const sent = withVeilFields(QUERY, built.wire, built.manifest);
  const res = await execute({ schema: built.wire, document: sent, rootValue: { profiles: () => ({ nodes: rows }) } });
  check(res.errors === undefined, `wire execution: ${JSON.stringify(res.errors)}`);
  const wireText = JSON.stringify(res);
  const wireData = (JSON.parse(wireText) as { data: Obj }).data;
  const node0 = ((wireData.profiles as Obj).nodes as Obj[])[0]!;
  check(node0._vgOwner !== undefined && node0._vgId !== undefined && node0.__typename === 'Profile', `wire shape ${Object.keys(node0).join(',')}`);
  return { built, wireData, wireBytes: Buffer.byteLength(wireText), envelopes, expected, vault, shared, paddedBytes: paddedLength(CLIENT_VALUE_BYTES, PADDING_PADME) };
}

/** 4,000 distinct raw ciphertexts of `len` bytes and a loop decrypting all of them. */
function rawLoop(backend: CryptoBackend, key: Uint8Array, len: number, count: number): { name: string; fn: () => unknown } {
  if (backend.name === 'sodium') {
    // Its own raw AEAD is libsodium's XChaCha20-Poly1305: the limit loop.
    const { name, fn } = limitLoop(key, len, count);
    return { name, fn };
  }
  if (backend === nodeBackend) {
    const nonce = new Uint8Array(12).fill(7);
    const items: { ct: Buffer; tag: Buffer }[] = [];
    for (let i = 0; i < count; i++) {
      const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
      const ct = c.update(nodeBackend.randomBytes(len));
      c.final();
      items.push({ ct, tag: c.getAuthTag() });
    }
    return {
      name: 'node:crypto chacha20-poly1305 decrypt',
      fn: () => {
        let n = 0;
        for (const { ct, tag } of items) {
          const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
          d.setAuthTag(tag);
          n += d.update(ct).length;
          d.final();
        }
        return n;
      },
    };
  }
  const nonce = new Uint8Array(24).fill(7);
  const cts: Uint8Array[] = [];
  for (let i = 0; i < count; i++) cts.push(xchacha20poly1305(key, nonce).encrypt(nodeBackend.randomBytes(len)));
  return {
    name: '@noble/ciphers xchacha20poly1305 decrypt',
    fn: () => {
      let n = 0;
      for (const ct of cts) n += xchacha20poly1305(key, nonce).decrypt(ct).length;
      return n;
    },
  };
}

/** `count` distinct limit-AEAD ciphertexts of `len` bytes and a loop decrypting all of them. */
function limitLoop(key: Uint8Array, len: number, count: number): { name: string; fallback: string | null; fn: () => unknown } {
  const { raw, fallback } = limitRaw(key);
  const items: { open(): Uint8Array }[] = [];
  for (let i = 0; i < count; i++) items.push(raw.sealed(nodeBackend.randomBytes(len)));
  return {
    name: `${raw.name} decrypt`,
    fallback,
    fn: () => {
      let n = 0;
      for (const it of items) n += it.open().length;
      return n;
    },
  };
}

interface BackendResult {
  readonly backend: string;
  readonly open: CaseResult;
  readonly copy: CaseResult;
  readonly envelopes: CaseResult;
  readonly raw: CaseResult;
  readonly rawName: string;
  readonly limit: CaseResult;
  readonly limitName: string;
  readonly limitFallback: string | null;
  /** Medians: (open − copy) / limit, and the range of the per-round paired ratios. */
  readonly vsLimit: number;
  readonly vsLimitMin: number;
  readonly vsLimitMax: number;
  /** Medians: (open − copy) / raw and / envelopes. */
  readonly netNs: number;
  readonly ratio: number;
  readonly ratioMin: number;
  readonly ratioMax: number;
  readonly vsEnvelopes: number;
}

async function runBackend(fx: Fixture, backend: CryptoBackend, opts: BenchOptions): Promise<BackendResult> {
  const { built, wireData, vault, shared } = fx;
  const keys = staticClientKeys({ vault, shared });
  const openOnce = (): Promise<unknown> =>
    openResult({ schema: built.source, manifest: built.manifest, document: QUERY, data: copyJson(wireData) as Obj, keys, backend, directory: 'unverified' });

  // Self-check: every value opens to its plaintext, the added fields are gone, no errors.
  const opened = (await openResult({ schema: built.source, manifest: built.manifest, document: QUERY, data: copyJson(wireData) as Obj, keys, backend, directory: 'unverified' })) as {
    data: Obj;
    errors?: unknown[];
  };
  check(opened.errors === undefined, `${backend.name} openResult errors: ${JSON.stringify(opened.errors?.slice(0, 2))}`);
  const nodes = (opened.data.profiles as Obj).nodes as Obj[];
  check(nodes.length === CLIENT_OBJECTS, 'node count');
  nodes.forEach((n, i) => {
    FIELDS.forEach((f, j) => check(n[f] === fx.expected[i]![j], `${backend.name} value ${i}.${f}`));
    check(!('_vgOwner' in n) && !('_vgId' in n), 'veil fields stripped');
  });
  const wireNode0 = ((wireData.profiles as Obj).nodes as Obj[])[0]!;
  check(wireNode0.a === fx.envelopes[0]!.text && '_vgOwner' in wireNode0, 'wire data untouched by openResult');

  const keyOf = (level: 'SHARED' | 'PRIVATE'): SymmetricKey => (level === 'PRIVATE' ? vault : shared);
  const envs = fx.envelopes.map((e) => ({ text: e.text, key: keyOf(e.level), location: e.location }));
  for (const e of envs.slice(0, 8)) check(openEnvelope(backend, e.text, e.key, e.location).plaintext.length === CLIENT_VALUE_BYTES, 'openEnvelope');
  const raw = rawLoop(backend, shared.bytes, fx.paddedBytes, envs.length);
  check(raw.fn() === envs.length * fx.paddedBytes, 'raw loop');
  const limit = limitLoop(shared.bytes, fx.paddedBytes, envs.length);
  check(limit.fn() === envs.length * fx.paddedBytes, 'limit loop');

  const cases: Case[] = [
    { name: 'openResult (copy + open)', fn: openOnce, async: true },
    { name: 'copy only', fn: () => copyJson(wireData) },
    {
      name: `openEnvelope ×${envs.length}`,
      fn: () => {
        let n = 0;
        for (const e of envs) n += openEnvelope(backend, e.text, e.key, e.location).plaintext.length;
        return n;
      },
    },
    { name: `raw ×${envs.length}`, fn: raw.fn },
    { name: `limit ×${envs.length}`, fn: limit.fn },
  ];
  progress(`client: ${backend.name}`);
  const [open, copy, envelopes, rawR, limitR] = await runInterleaved(cases, opts);
  const paired = open!.nsPerOp.map((x, i) => (x - copy!.nsPerOp[i]!) / rawR!.nsPerOp[i]!);
  const pairedLimit = open!.nsPerOp.map((x, i) => (x - copy!.nsPerOp[i]!) / limitR!.nsPerOp[i]!);
  const netNs = open!.medianNs - copy!.medianNs;
  return {
    backend: backend.name,
    open: open!,
    copy: copy!,
    envelopes: envelopes!,
    raw: rawR!,
    rawName: raw.name,
    limit: limitR!,
    limitName: limit.name,
    limitFallback: limit.fallback,
    vsLimit: netNs / limitR!.medianNs,
    vsLimitMin: Math.min(...pairedLimit),
    vsLimitMax: Math.max(...pairedLimit),
    netNs,
    ratio: netNs / rawR!.medianNs,
    ratioMin: Math.min(...paired),
    ratioMax: Math.max(...paired),
    vsEnvelopes: netNs / envelopes!.medianNs,
  };
}

const pct = (r: CaseResult): string => `±${(r.spread * 100).toFixed(r.spread < 0.1 ? 1 : 0)}%`;

export async function runClientBench(opts: BenchOptions): Promise<BackendResult[]> {
  console.log('## client');
  console.log('');
  const fx = await fixture();
  const results: BackendResult[] = [];
  const loaded = await sodiumBackendOrReason();
  const sodium = typeof loaded === 'string' ? null : loaded;
  if (!sodium) console.log(`(the optional sodium backend is not available: ${loaded as string}; its row is omitted)`);
  for (const be of [...(sodium ? [sodium] : []), nodeBackend, nobleBackend]) results.push(await runBackend(fx, be, opts));
  progressDone();
  const n = fx.envelopes.length;
  console.log(
    `openResult on { profiles(first: ${CLIENT_OBJECTS}) { nodes { id ownerId a b c d } } }: ${CLIENT_OBJECTS} objects × ${FIELDS.length} sealed String fields (a, b SHARED; c, d PRIVATE), ` +
      `values of ${CLIENT_VALUE_BYTES} B JSON (${fx.paddedBytes} B encrypted after PADMÉ), wire result ${(fx.wireBytes / 1024).toFixed(0)} KiB with _vgOwner/_vgId/__typename.`,
  );
  console.log('Envelopes sealed with the node backend (one shared key, one vault key; staticClientKeys); opened with the backend named in each row.');
  console.log(`One op = one whole result (${n} fields). open net = median(copy + openResult) − median(copy only); copy = structural copy of the parsed wire data (openResult opens in place).`);
  console.log(`raw = ${n} distinct ciphertexts of ${fx.paddedBytes} B: node → node:crypto chacha20-poly1305 (12-byte nonce, no AAD); noble → @noble/ciphers xchacha20poly1305. ratio = open net / raw; range = min–max of the per-round paired ratios.`);
  console.log(`limit = the same ${n} × ${fx.paddedBytes} B through ${results[0]!.limitName}, in the same group; net ÷ limit = open net / limit.`);
  if (results[0]!.limitFallback !== null) console.log(`  (sodium-native did not load: ${results[0]!.limitFallback}; node:crypto is the limit instead)`);
  console.log('');
  console.log(
    table(
      ['backend', 'copy + openResult', 'copy only', 'open net', `openEnvelope ×${n}`, `raw AEAD ×${n}`, `limit ×${n}`, 'net ÷ raw', 'range', 'net ÷ limit', 'range ', 'net ÷ openEnvelope', 'envelopes ÷ raw'],
      results.map((r) => [
        r.backend,
        `${fmtNs(r.open.medianNs)} ${pct(r.open)}`,
        `${fmtNs(r.copy.medianNs)} ${pct(r.copy)}`,
        fmtNs(r.netNs),
        `${fmtNs(r.envelopes.medianNs)} ${pct(r.envelopes)}`,
        `${fmtNs(r.raw.medianNs)} ${pct(r.raw)}`,
        `${fmtNs(r.limit.medianNs)} ${pct(r.limit)}`,
        fmtRatio(r.ratio),
        `${fmtRatio(r.ratioMin)}–${fmtRatio(r.ratioMax)}`,
        fmtRatio(r.vsLimit),
        `${fmtRatio(r.vsLimitMin)}–${fmtRatio(r.vsLimitMax)}`,
        fmtRatio(r.vsEnvelopes),
        fmtRatio(r.envelopes.medianNs / r.raw.medianNs),
      ]),
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
  );
  console.log('');
  console.log(`per field: ${results.map((r) => `${r.backend} open net ${fmtNs(r.netNs / n)}, openEnvelope ${fmtNs(r.envelopes.medianNs / n)}, raw ${fmtNs(r.raw.medianNs / n)}`).join('; ')}`);
  console.log('');
  // The goals are judged on the fastest backend this process has (sodium where it loads,
  // else node); the others are printed for reference.
  const goalBackend = results.reduce((a, b) => (b.netNs < a.netNs ? b : a)).backend;
  const note = (r: BackendResult): string => (r.backend === goalBackend ? '' : ' (reference)');
  console.log(`goal: openResult of the ${CLIENT_OBJECTS} × ${FIELDS.length} × ${CLIENT_VALUE_BYTES} B result ≤ ${CLIENT_GOAL_RATIO}× the backend's own raw AEAD of the same bytes (fastest backend: ${goalBackend})`);
  for (const r of results) {
    const pass = r.ratio <= CLIENT_GOAL_RATIO;
    console.log(`  ${r.backend}: ${fmtNs(r.netNs)} per result vs ${fmtNs(r.raw.medianNs)} raw → ${fmtRatio(r.ratio)}× → ${pass ? 'PASS' : 'MISS'}${note(r)}`);
  }
  console.log(`goal: the same ≤ ${CLIENT_LIMIT_GOAL_RATIO}× the limit (${results[0]!.limitName}; fastest backend: ${goalBackend})`);
  for (const r of results) {
    const pass = r.vsLimit <= CLIENT_LIMIT_GOAL_RATIO;
    console.log(`  ${r.backend}: ${fmtNs(r.netNs)} per result vs ${fmtNs(r.limit.medianNs)} limit → ${fmtRatio(r.vsLimit)}× → ${pass ? 'PASS' : 'MISS'}${note(r)}`);
  }
  console.log('');
  return results;
}
