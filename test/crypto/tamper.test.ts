/**
 * Exhaustive tamper tests: every byte of every structure, not a sample.
 *
 * For an unsigned envelope, a signed envelope and a wrapped key with two recipients
 * (unsigned and signed) we flip every byte (XOR 0x01, 0x80, 0xFF), truncate to every
 * shorter length, append bytes, and do the same to the base64url text form (every
 * truncation, every appended character, every character replaced by every other
 * alphabet character). Each mutation must be rejected with a CryptoError whose code is
 * one of the documented rejection codes, and never open. Where docs/crypto.md fixes the
 * order of checks (§6, §7, §9) we also assert the exact code for the region of the
 * flipped byte (e.g. a flipped location tag byte is WRONG_LOCATION).
 *
 * The node backend runs every mutation; the noble backend runs one complete smaller pass
 * (every position, one mask, every truncation).
 */
import { describe, expect, it } from 'vitest';
import {
  CryptoError,
  SymmetricKeyRing,
  base64urlEncode,
  equalBytes,
  generateEncryptionKeyPair,
  generateSigningKeyPair,
  generateSymmetricKey,
  nobleBackend,
  openEnvelope,
  openVerifiedEnvelope,
  parseWrappedKey,
  sealEnvelope,
  sealSignedEnvelope,
  unwrapKey,
  wrapKey,
  type CryptoBackend,
  type CryptoErrorCode,
  type EncryptionKeyPair,
  type Location,
} from '../../src/crypto/index.js';
import { nodeBackend } from '../../src/crypto/backends/node.js';

const DOCUMENTED: readonly CryptoErrorCode[] = [
  'ENVELOPE_MALFORMED',
  'ENVELOPE_TAMPERED',
  'WRONG_LOCATION',
  'KEY_NOT_FOUND',
  'KEY_VERSION_MISMATCH',
  'SIGNATURE_INVALID',
];
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const ALL_MASKS = [0x01, 0x80, 0xff] as const;
const APPEND_LENGTHS = [1, 2, 64] as const;

const LOCATION: Location = { coordinate: 'Profile.bio', ownerId: 'alice', objectId: 'p1' };

// Envelope layout (docs/crypto.md §6).
const ENV_KEY_ID = [3, 19] as const;
const ENV_KEY_VERSION = [19, 23] as const;
const ENV_LOCATION = [23, 39] as const;
const ENV_MIN_SIGNED = 79 + 17 + 64;
// Wrapped-key layout (docs/crypto.md §7).
const WRAP_LOCATION = [23, 39] as const;
const WRAP_COUNT = [71, 73] as const;
const WRAP_HEADER = 73;
const STANZA = 64;

const M: CryptoErrorCode = 'ENVELOPE_MALFORMED';
const T: CryptoErrorCode = 'ENVELOPE_TAMPERED';
const S: CryptoErrorCode = 'SIGNATURE_INVALID';

function within(i: number, [from, to]: readonly [number, number]): boolean {
  return i >= from && i < to;
}

type Outcome = { kind: 'opened'; value: unknown } | { kind: 'crypto'; code: CryptoErrorCode } | { kind: 'other'; error: unknown };

async function attempt(f: () => unknown): Promise<Outcome> {
  try {
    return { kind: 'opened', value: await f() };
  } catch (e) {
    return e instanceof CryptoError ? { kind: 'crypto', code: e.code } : { kind: 'other', error: e };
  }
}

type Input = Uint8Array | string;

interface Subject {
  readonly name: string;
  readonly bytes: Uint8Array;
  /** Opens (or unwraps) the input; must reject for every mutation. */
  readonly open: (input: Input) => Promise<unknown>;
  /** The codes docs/crypto.md allows for a flip of `mask` at `offset`; a subset of DOCUMENTED. */
  readonly expected: (offset: number, mask: number) => readonly CryptoErrorCode[];
}

interface Mutation {
  readonly label: string;
  readonly input: Input;
  readonly allowed: readonly CryptoErrorCode[];
}

interface Report {
  readonly checked: number;
  readonly failures: string[];
  readonly codes: Partial<Record<CryptoErrorCode, number>>;
}

/** Runs every mutation (concurrently in chunks; async ops are the signature checks and X25519). */
async function run(subject: Subject, mutations: readonly Mutation[]): Promise<Report> {
  const failures: string[] = [];
  const codes: Partial<Record<CryptoErrorCode, number>> = {};
  const CHUNK = 512;
  for (let start = 0; start < mutations.length; start += CHUNK) {
    const chunk = mutations.slice(start, start + CHUNK);
    const outcomes = await Promise.all(chunk.map((m) => attempt(() => subject.open(m.input))));
    outcomes.forEach((o, j) => {
      const m = chunk[j]!;
      if (o.kind === 'opened') failures.push(`${subject.name}: ${m.label} OPENED`);
      else if (o.kind === 'other') failures.push(`${subject.name}: ${m.label} threw a non-CryptoError: ${String(o.error)}`);
      else {
        codes[o.code] = (codes[o.code] ?? 0) + 1;
        if (!DOCUMENTED.includes(o.code) || !m.allowed.includes(o.code)) {
          failures.push(`${subject.name}: ${m.label} gave ${o.code}, expected one of ${m.allowed.join('|')}`);
        }
      }
    });
  }
  return { checked: mutations.length, failures, codes };
}

function flips(subject: Subject, masks: readonly number[]): Mutation[] {
  const out: Mutation[] = [];
  for (let i = 0; i < subject.bytes.length; i++) {
    for (const mask of masks) {
      const b = subject.bytes.slice();
      b[i] = b[i]! ^ mask;
      out.push({ label: `byte ${i} ^ 0x${mask.toString(16)}`, input: b, allowed: subject.expected(i, mask) });
    }
  }
  return out;
}

function truncations(subject: Subject): Mutation[] {
  const out: Mutation[] = [];
  for (let n = 0; n < subject.bytes.length; n++) out.push({ label: `truncated to ${n}`, input: subject.bytes.slice(0, n), allowed: DOCUMENTED });
  return out;
}

function appends(subject: Subject, lengths: readonly number[]): Mutation[] {
  const out: Mutation[] = [];
  for (const n of lengths) {
    for (const [what, tail] of [
      ['zero', new Uint8Array(n)],
      ['random', nodeBackend.randomBytes(n)],
      ['0x80 then zero', Uint8Array.from({ length: n }, (_, i) => (i === 0 ? 0x80 : 0))],
    ] as const) {
      const b = new Uint8Array(subject.bytes.length + n);
      b.set(subject.bytes);
      b.set(tail, subject.bytes.length);
      out.push({ label: `appended ${n} ${what} bytes`, input: b, allowed: DOCUMENTED });
    }
  }
  return out;
}

/**
 * Which replacement characters to try at text position `i` of `len`: every other
 * alphabet character (`all`), or — where each attempt costs an X25519 exchange or a
 * signature check — every single-bit change of the 6-bit value plus its complement,
 * with every other character still tried in the first and last four positions (the
 * version/suite/flags and the last character's unused bits).
 */
type Replacements = 'all' | 'bits';
const SIX_BIT_MASKS = [1, 2, 4, 8, 16, 32, 63] as const;

function replacementsAt(text: string, i: number, mode: Replacements): string[] {
  const v = ALPHABET.indexOf(text[i]!);
  if (mode === 'all' || i < 4 || i >= text.length - 4) return [...ALPHABET].filter((c) => c !== text[i]);
  return SIX_BIT_MASKS.map((m) => ALPHABET[v ^ m]!);
}

function textMutations(subject: Subject, mode: Replacements): Mutation[] {
  const text = base64urlEncode(subject.bytes);
  const out: Mutation[] = [];
  for (let n = 0; n < text.length; n++) out.push({ label: `text truncated to ${n}`, input: text.slice(0, n), allowed: DOCUMENTED });
  for (const c of ALPHABET) out.push({ label: `text + '${c}'`, input: text + c, allowed: DOCUMENTED });
  for (let i = 0; i < text.length; i++) {
    for (const c of replacementsAt(text, i, mode)) {
      out.push({ label: `text[${i}] '${text[i]}' -> '${c}'`, input: text.slice(0, i) + c + text.slice(i + 1), allowed: DOCUMENTED });
    }
  }
  return out;
}

function textMutationCount(subject: Subject, mode: Replacements): number {
  const len = base64urlEncode(subject.bytes).length;
  const replaced = mode === 'all' ? len * 63 : 8 * 63 + (len - 8) * SIX_BIT_MASKS.length;
  return len + 64 + replaced;
}

function expectClean(report: Report, expectedCount: number): void {
  expect(report.failures).toEqual([]);
  expect(report.checked).toBe(expectedCount);
  const total = Object.values(report.codes).reduce((a, b) => a + b, 0);
  expect(total).toBe(expectedCount);
}

// --- subjects ----------------------------------------------------------------------------

interface Fixture {
  readonly backend: CryptoBackend;
  readonly unsignedSmall: Subject;
  readonly unsignedLarge: Subject;
  readonly signed: Subject;
  /** The signed envelope opened WITHOUT signature verification (openEnvelope). */
  readonly signedUnverified: Subject;
  readonly wrapUnsigned: readonly [Subject, Subject];
  readonly wrapSigned: Subject;
}

function unsignedEnvelopeExpected(len: number) {
  return (i: number, mask: number): readonly CryptoErrorCode[] => {
    if (i === 0 || i === 1) return [M];
    // Setting the signed flag re-reads the layout: too short for a signed envelope, or a header that no longer authenticates.
    if (i === 2) return mask === 0x01 && len >= ENV_MIN_SIGNED ? [T] : [M];
    if (within(i, ENV_KEY_ID)) return ['KEY_NOT_FOUND'];
    if (within(i, ENV_KEY_VERSION)) return ['KEY_VERSION_MISMATCH'];
    if (within(i, ENV_LOCATION)) return ['WRONG_LOCATION'];
    return [T];
  };
}

async function makeFixture(backend: CryptoBackend): Promise<Fixture> {
  const key = generateSymmetricKey(backend);
  const other = generateSymmetricKey(backend);
  const ring = new SymmetricKeyRing([key, other]);
  const signer = await generateSigningKeyPair(backend);
  const small = new Uint8Array(0);
  const large = Uint8Array.from({ length: 100 }, (_, i) => (i * 7 + 3) & 0xff);

  const openWithRing = (input: Input) => Promise.resolve(openEnvelope(backend, input, ring, LOCATION).plaintext);
  const envSmall = sealEnvelope(backend, key, LOCATION, small);
  const envLarge = sealEnvelope(backend, key, LOCATION, large);
  const envSigned = await sealSignedEnvelope(backend, key, LOCATION, large, signer);

  const r1 = await generateEncryptionKeyPair(backend);
  const r2 = await generateEncryptionKeyPair(backend);
  const recipients = [r1, r2].map((r) => ({ keyId: r.keyId, publicKey: r.publicKey }));
  const wrappedUnsigned = await wrapKey(backend, key, LOCATION, recipients);
  const wrappedSigned = await wrapKey(backend, key, LOCATION, recipients, signer);

  const wrapSubject = (name: string, bytes: Uint8Array, identity: EncryptionKeyPair, signerPublicKey?: Uint8Array): Subject => {
    const w = parseWrappedKey(bytes);
    const own = w.recipientKeyIds.findIndex((id) => equalBytes(id, identity.keyId));
    expect(own).toBeGreaterThanOrEqual(0);
    const stanzasEnd = WRAP_HEADER + w.recipientKeyIds.length * STANZA;
    return {
      name,
      bytes,
      open: async (input) => (await unwrapKey(backend, input, identity, LOCATION, signerPublicKey)).bytes,
      expected: (i) => {
        if (i < 3) return [M];
        if (within(i, WRAP_LOCATION)) return ['WRONG_LOCATION'];
        if (within(i, WRAP_COUNT)) return [M];
        const inStanzaId = i >= WRAP_HEADER && i < stanzasEnd && (i - WRAP_HEADER) % STANZA < 16;
        if (signerPublicKey) return inStanzaId ? [M, S] : [S];
        if (inStanzaId) return Math.floor((i - WRAP_HEADER) / STANZA) === own ? [M, 'KEY_NOT_FOUND'] : [M, T];
        return [T];
      },
    };
  };

  return {
    backend,
    unsignedSmall: { name: 'unsigned envelope (empty plaintext)', bytes: envSmall, open: openWithRing, expected: unsignedEnvelopeExpected(envSmall.length) },
    unsignedLarge: { name: 'unsigned envelope (100 bytes)', bytes: envLarge, open: openWithRing, expected: unsignedEnvelopeExpected(envLarge.length) },
    signed: {
      name: 'signed envelope',
      bytes: envSigned,
      open: async (input) => (await openVerifiedEnvelope(backend, input, ring, LOCATION, signer.publicKey)).plaintext,
      // Structure, then the location tag (WRONG_LOCATION, as for wrapped keys: docs/crypto.md §6, §9),
      // then the signature, which covers everything but itself.
      expected: (i, mask) => (i < 2 || (i === 2 && mask !== 0x01) ? [M] : within(i, ENV_LOCATION) ? ['WRONG_LOCATION'] : [S]),
    },
    signedUnverified: {
      name: 'signed envelope, opened without verification',
      bytes: envSigned,
      open: openWithRing,
      expected: (i, mask) => (i === 2 && mask === 0x01 ? [T] : unsignedEnvelopeExpected(envSigned.length)(i, mask)),
    },
    wrapUnsigned: [
      wrapSubject('unsigned wrapped key as recipient 1', wrappedUnsigned, r1),
      wrapSubject('unsigned wrapped key as recipient 2', wrappedUnsigned, r2),
    ],
    wrapSigned: wrapSubject('signed wrapped key as recipient 1 with signer check', wrappedSigned, r1, signer.publicKey),
  };
}

async function expectOpens(subject: Subject, expected: Uint8Array): Promise<void> {
  const out = await subject.open(subject.bytes);
  expect(out).toBeInstanceOf(Uint8Array);
  expect(equalBytes(out as Uint8Array, expected)).toBe(true);
  const fromText = await subject.open(base64urlEncode(subject.bytes));
  expect(equalBytes(fromText as Uint8Array, expected)).toBe(true);
}

// --- node backend: everything ------------------------------------------------------------

describe('tamper, node backend (every byte, every mask)', async () => {
  const f = await makeFixture(nodeBackend);
  const large = Uint8Array.from({ length: 100 }, (_, i) => (i * 7 + 3) & 0xff);

  it('the untampered structures open (so every rejection below is caused by the mutation)', async () => {
    await expectOpens(f.unsignedSmall, new Uint8Array(0));
    await expectOpens(f.unsignedLarge, large);
    await expectOpens(f.signed, large);
    await expectOpens(f.signedUnverified, large);
    const key = await f.wrapUnsigned[0].open(f.wrapUnsigned[0].bytes);
    await expectOpens(f.wrapUnsigned[0], key as Uint8Array);
    await expectOpens(f.wrapUnsigned[1], key as Uint8Array);
    await expectOpens(f.wrapSigned, key as Uint8Array);
    expect(f.unsignedSmall.bytes.length).toBe(63 + 1 + 16);
    expect(f.signed.bytes.length).toBeGreaterThanOrEqual(ENV_MIN_SIGNED);
    expect(f.wrapUnsigned[0].bytes.length).toBe(73 + 2 * 64 + 32);
    expect(f.wrapSigned.bytes.length).toBe(73 + 2 * 64 + 16 + 32 + 64);
  });

  for (const which of ['unsignedSmall', 'unsignedLarge', 'signed'] as const) {
    it(`${which}: every byte flipped (0x01, 0x80, 0xFF) is rejected with the code of its region`, async () => {
      const s = f[which];
      const report = await run(s, flips(s, ALL_MASKS));
      expectClean(report, s.bytes.length * 3);
    });

    it(`${which}: every truncation and appended bytes are rejected`, async () => {
      const s = f[which];
      const report = await run(s, [...truncations(s), ...appends(s, APPEND_LENGTHS)]);
      expectClean(report, s.bytes.length + APPEND_LENGTHS.length * 3);
    });

    it(`${which}: text form — every truncation, every appended character, characters replaced at every position`, async () => {
      const s = f[which];
      // Unsigned envelopes open in microseconds: try all 63 replacements everywhere.
      const mode: Replacements = which === 'signed' ? 'bits' : 'all';
      const report = await run(s, textMutations(s, mode));
      expectClean(report, textMutationCount(s, mode));
    });
  }

  it('signed envelope opened without verification: every byte the AEAD covers is still tamper-evident', async () => {
    const s = f.signedUnverified;
    const all = flips(s, ALL_MASKS);
    const sigStart = s.bytes.length - 64;
    const covered = all.filter((_, k) => Math.floor(k / 3) < sigStart);
    const report = await run(s, covered);
    expectClean(report, sigStart * 3);
    // Only the signature itself is outside the AEAD; openVerifiedEnvelope (above) is what rejects changes there.
    const sigOnly = all.filter((_, k) => Math.floor(k / 3) >= sigStart);
    expect(sigOnly).toHaveLength(64 * 3);
    for (const m of sigOnly) expect(await attempt(() => s.open(m.input))).toMatchObject({ kind: 'opened' });
  });

  const wraps = (): Subject[] => [f.wrapUnsigned[0], f.wrapUnsigned[1], f.wrapSigned];
  for (const idx of [0, 1, 2] as const) {
    const label = ['unsigned wrapped key (recipient 1)', 'unsigned wrapped key (recipient 2)', 'signed wrapped key (recipient 1, signer check)'][idx]!;
    it(`${label}: every byte flipped (0x01, 0x80, 0xFF) is rejected with the code of its region`, async () => {
      const s = wraps()[idx]!;
      const report = await run(s, flips(s, ALL_MASKS));
      expectClean(report, s.bytes.length * 3);
    });

    it(`${label}: every truncation and appended bytes are rejected as malformed`, async () => {
      const s = wraps()[idx]!;
      const report = await run(s, [...truncations(s), ...appends(s, APPEND_LENGTHS)].map((m) => ({ ...m, allowed: [M] })));
      expectClean(report, s.bytes.length + APPEND_LENGTHS.length * 3);
    });
  }

  for (const idx of [0, 2] as const) {
    const label = ['unsigned wrapped key (recipient 1)', '', 'signed wrapped key (recipient 1, signer check)'][idx]!;
    it(`${label}: text form — every truncation, every appended character, characters replaced at every position`, async () => {
      const s = wraps()[idx]!;
      const report = await run(s, textMutations(s, 'bits'));
      expectClean(report, textMutationCount(s, 'bits'));
    });
  }
});

// --- noble backend: one complete, smaller pass --------------------------------------------

describe('tamper, noble backend (every byte, one mask, every truncation)', async () => {
  const f = await makeFixture(nobleBackend);
  const subjects = (): Subject[] => [f.unsignedSmall, f.unsignedLarge, f.signed, f.wrapUnsigned[0], f.wrapSigned];

  it('the untampered structures open', async () => {
    await expectOpens(f.unsignedLarge, Uint8Array.from({ length: 100 }, (_, i) => (i * 7 + 3) & 0xff));
    await expectOpens(f.signed, Uint8Array.from({ length: 100 }, (_, i) => (i * 7 + 3) & 0xff));
    const key = await f.wrapUnsigned[0].open(f.wrapUnsigned[0].bytes);
    await expectOpens(f.wrapSigned, key as Uint8Array);
  });

  for (const idx of [0, 1, 2, 3, 4] as const) {
    const label = ['unsigned envelope (empty)', 'unsigned envelope (100 bytes)', 'signed envelope', 'unsigned wrapped key', 'signed wrapped key'][idx]!;
    it(`${label}: every byte ^ 0x01, every truncation, 1 appended byte`, async () => {
      const s = subjects()[idx]!;
      const report = await run(s, [...flips(s, [0x01]), ...truncations(s), ...appends(s, [1])]);
      expectClean(report, s.bytes.length * 2 + 3);
    });
  }
});
