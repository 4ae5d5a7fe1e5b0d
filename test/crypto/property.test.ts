/**
 * Property tests (fast-check): round trips for envelopes (bytes and text, unsigned and
 * signed, node and noble backends, random locations and keys), the padding policies and
 * their effect on envelope sizes, and multi-recipient key wrapping.
 */
import { describe, expect } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import {
  CryptoError,
  MESSAGE_BUCKETS,
  PADDING_NONE,
  PADDING_PADME,
  encryptionKeyPairFromPrivate,
  keyIdOf,
  nobleBackend,
  openEnvelope,
  openEnvelopeText,
  openVerifiedEnvelope,
  paddedLength,
  padme,
  parseEnvelope,
  parseWrappedKey,
  sealEnvelope,
  sealEnvelopeText,
  sealSignedEnvelope,
  signingKeyPairFromSeed,
  unwrapKey,
  wrapKey,
  type CryptoBackend,
  type Location,
  type PaddingPolicy,
  type SymmetricKey,
} from '../../src/crypto/index.js';
import { nodeBackend } from '../../src/crypto/backends/node.js';

const HEADER = 63;
const SIGNED_EXTRA = 16 + 64;
const TAG = 16;
const MAX_SIZE = 64 * 1024;

// --- arbitraries -------------------------------------------------------------------------

/** Deterministic bytes from a seed (xorshift32): big payloads without generating 64 Ki arbitraries. */
function prngBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Sizes 0..64 KiB, with the small end and the region just below 64 KiB both hit often. */
const sizeArb = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 300 }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: MAX_SIZE }) },
  { weight: 2, arbitrary: fc.integer({ min: MAX_SIZE - 1024, max: MAX_SIZE }) },
);
const payloadArb = fc.oneof(
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
  { weight: 4, arbitrary: fc.tuple(sizeArb, fc.integer({ min: 0, max: 0xffffffff })).map(([n, seed]) => prngBytes(n, seed)) },
);

const bytesArb = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const keyArb: fc.Arbitrary<SymmetricKey> = fc.record({
  id: bytesArb(16),
  version: fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom(0, 1, 0xffffffff)),
  bytes: bytesArb(32),
});

const IDENT_HEAD = '_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const IDENT_TAIL = IDENT_HEAD + '0123456789';
const identArb = fc
  .tuple(fc.constantFrom(...IDENT_HEAD), fc.string({ unit: fc.constantFrom(...IDENT_TAIL), maxLength: 24 }))
  .map(([h, t]) => h + t);
const coordinateArb = fc.oneof(identArb, fc.tuple(identArb, identArb).map(([t, f]) => `${t}.${f}`));
const utf8Length = (s: string) => Buffer.byteLength(s, 'utf8');
/** Non-empty ids of at most 1024 UTF-8 bytes: any code points, graphemes, and long ASCII. */
const idArb = fc
  .oneof(
    fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
    fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 12 }),
    fc.string({ unit: 'grapheme-ascii', minLength: 1000, maxLength: 1024 }),
  )
  .filter((s) => utf8Length(s) <= 1024);
const locationArb: fc.Arbitrary<Location> = fc.record({
  coordinate: coordinateArb,
  ownerId: idArb,
  objectId: fc.oneof(fc.constant(undefined), fc.constant(null), idArb),
});

const sameLocation = (a: Location, b: Location) =>
  a.coordinate === b.coordinate && a.ownerId === b.ownerId && (a.objectId ?? null) === (b.objectId ?? null);

const bucketsArb: fc.Arbitrary<PaddingPolicy> = fc
  .uniqueArray(fc.oneof(fc.integer({ min: 1, max: 512 }), fc.integer({ min: 1, max: 300_000 })), { minLength: 1, maxLength: 12 })
  .map((sizes) => ({ kind: 'buckets' as const, sizes: [...sizes].sort((a, b) => a - b) }));
const policyArb: fc.Arbitrary<PaddingPolicy> = fc.oneof(
  fc.constant(PADDING_NONE),
  fc.constant(PADDING_PADME),
  fc.constant(MESSAGE_BUCKETS),
  bucketsArb,
);

const BACKENDS: readonly CryptoBackend[] = [nodeBackend, nobleBackend];

function expectCryptoError(f: () => unknown, code: string): void {
  let threw: unknown;
  try {
    f();
  } catch (e) {
    threw = e;
  }
  expect(threw).toBeInstanceOf(CryptoError);
  expect((threw as CryptoError).code).toBe(code);
}

// --- envelopes: round trips ----------------------------------------------------------------

/** Largest payload size seen by the round-trip properties, to prove the 64 KiB end was exercised. */
const seen = { max: 0, count: 0, nearMax: 0 };

for (const backend of BACKENDS) {
  describe(`envelope round trip (${backend.name})`, () => {
    test.prop([payloadArb, keyArb, locationArb, policyArb], { numRuns: 100, examples: [[new Uint8Array(MAX_SIZE), { id: new Uint8Array(16), version: 1, bytes: new Uint8Array(32) }, { coordinate: 'A', ownerId: 'o' }, PADDING_PADME]] })(
      'openEnvelope(sealEnvelope(x)) = x, at exactly the sealed location',
      (pt, key, loc, padding) => {
        seen.max = Math.max(seen.max, pt.length);
        seen.count++;
        if (pt.length >= MAX_SIZE - 1024) seen.nearMax++;
        const env = sealEnvelope(backend, key, loc, pt, { padding });
        expect(env.length).toBe(HEADER + paddedLength(pt.length, padding) + TAG);
        const opened = openEnvelope(backend, env, key, loc);
        expect(Buffer.from(opened.plaintext).equals(Buffer.from(pt))).toBe(true);
        expect(opened.signerKeyId).toBeNull();
        // null and undefined both mean "no object id".
        expect(openEnvelope(backend, env, key, { ...loc, objectId: loc.objectId ?? null }).plaintext.length).toBe(pt.length);
      },
    );

    test.prop([payloadArb, keyArb, locationArb, bytesArb(32)], { numRuns: 100 })(
      'openVerifiedEnvelope(sealSignedEnvelope(x)) = x',
      async (pt, key, loc, seed) => {
        seen.max = Math.max(seen.max, pt.length);
        seen.count++;
        if (pt.length >= MAX_SIZE - 1024) seen.nearMax++;
        const signer = await signingKeyPairFromSeed(backend, seed);
        const env = await sealSignedEnvelope(backend, key, loc, pt, signer);
        expect(env.length).toBe(HEADER + SIGNED_EXTRA + paddedLength(pt.length, PADDING_PADME) + TAG);
        const opened = await openVerifiedEnvelope(backend, env, key, loc, signer.publicKey);
        expect(Buffer.from(opened.plaintext).equals(Buffer.from(pt))).toBe(true);
        expect(opened.signerKeyId).toEqual(signer.keyId);
      },
    );

    test.prop([fc.oneof(fc.string({ unit: 'binary', maxLength: 2000 }), fc.string({ unit: 'grapheme', maxLength: 300 })), keyArb, locationArb], {
      numRuns: 100,
    })('openEnvelopeText(sealEnvelopeText(s)) = s for unicode strings', (s, key, loc) => {
      const text = sealEnvelopeText(backend, key, loc, s);
      expect(text).toMatch(/^AQEA[A-Za-z0-9_-]+$/);
      expect(openEnvelopeText(backend, text, key, loc)).toBe(s);
      // The text form and the bytes form open the same way.
      expect(openEnvelopeText(backend, Buffer.from(text, 'base64url'), key, loc)).toBe(s);
    });

    test.prop([fc.uint8Array({ maxLength: 64 }), keyArb, locationArb, locationArb], { numRuns: 100 })(
      'an envelope opens at its own location only; every other location is WRONG_LOCATION',
      (pt, key, sealedAt, openedAt) => {
        const env = sealEnvelope(backend, key, sealedAt, pt);
        if (sameLocation(sealedAt, openedAt)) expect(openEnvelope(backend, env, key, openedAt).plaintext).toEqual(pt);
        else expectCryptoError(() => openEnvelope(backend, env, key, openedAt), 'WRONG_LOCATION');
        // Changing any single part of the location moves it.
        for (const moved of [
          { ...sealedAt, coordinate: sealedAt.coordinate + 'x' },
          { ...sealedAt, ownerId: sealedAt.ownerId === 'moved' ? 'moved\u0000' : 'moved' },
          { ...sealedAt, objectId: sealedAt.objectId == null ? 'o' : null },
          { ...sealedAt, objectId: sealedAt.objectId === 'moved' ? 'moved\u0000' : 'moved' },
        ]) {
          expectCryptoError(() => openEnvelope(backend, env, key, moved), 'WRONG_LOCATION');
        }
      },
    );
  });
}

describe('envelope round trip coverage', () => {
  test('the round-trip properties above hit sizes up to exactly 64 KiB', () => {
    // The properties above run first (same file, declaration order).
    expect(seen.count).toBeGreaterThanOrEqual(4 * 100);
    expect(seen.max).toBe(MAX_SIZE);
    expect(seen.nearMax).toBeGreaterThanOrEqual(10);
  });

  const coordinateCandidateArb = fc.oneof(
    coordinateArb,
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({ unit: fc.constantFrom(...IDENT_TAIL, '.', ' ', '-', 'é', '\n'), maxLength: 12 }),
  );
  test.prop([coordinateCandidateArb], { numRuns: 300 })(
    'a coordinate is accepted iff it matches Type or Type.field (ASCII identifiers)',
    (coordinate) => {
      const legal = /^[_A-Za-z][_0-9A-Za-z]*(\.[_A-Za-z][_0-9A-Za-z]*)?$/.test(coordinate);
      const key = { id: new Uint8Array(16), version: 1, bytes: new Uint8Array(32) };
      const loc = { coordinate, ownerId: 'o' };
      if (legal) expect(openEnvelopeText(nodeBackend, sealEnvelope(nodeBackend, key, loc, 'v'), key, loc)).toBe('v');
      else expectCryptoError(() => sealEnvelope(nodeBackend, key, loc, 'v'), 'INVALID_ARGUMENT');
    },
  );
});

// --- padding -------------------------------------------------------------------------------

/** Integer reference for PADMÉ (docs/crypto.md §5), independent of Math.log2. */
function padmeReference(x: number): number {
  if (x < 2) return x;
  const e = 31 - Math.clz32(x);
  const s = 31 - Math.clz32(e) + 1;
  const z = e - s;
  const m = 2 ** z;
  return Math.ceil(x / m) * m;
}

function padmeParams(x: number): { e: number; s: number } {
  const e = 31 - Math.clz32(x);
  return { e, s: 31 - Math.clz32(e) + 1 };
}

describe('padding', () => {
  const lenArb = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 200_000 }));

  test.prop([lenArb, bucketsArb], { numRuns: 500 })('buckets: ≥ len + 1, the smallest fitting bucket, else the next multiple of the largest', (len, policy) => {
    if (policy.kind !== 'buckets') throw new Error('unreachable');
    const sizes = policy.sizes;
    const largest = sizes[sizes.length - 1]!;
    const p = paddedLength(len, policy);
    expect(p).toBeGreaterThanOrEqual(len + 1);
    if (len + 1 <= largest) {
      expect(sizes).toContain(p);
      // No smaller bucket would have fitted.
      expect(sizes.filter((s) => s >= len + 1 && s < p)).toEqual([]);
    } else {
      expect(p % largest).toBe(0);
      expect(p - largest).toBeLessThan(len + 1);
    }
  });

  test.prop([lenArb], { numRuns: 500 })('none: exactly len + 1 (the marker byte)', (len) => {
    expect(paddedLength(len, PADDING_NONE)).toBe(len + 1);
  });

  test.prop([lenArb], { numRuns: 1000 })('padme: ≥ len + 1, overhead ≤ 12.5 % (at most 15/129 ≈ 11.6 %), few significant bits', (len) => {
    const x = len + 1;
    const p = paddedLength(len, PADDING_PADME);
    expect(p).toBe(padme(x));
    expect(p).toBe(padmeReference(x));
    expect(p).toBeGreaterThanOrEqual(x);
    // Overhead bound from the formula: p − x < 2^(E−S) ≤ x / 2^S, and S ≥ 3 once x ≥ 16,
    // so p − x ≤ floor(x / 8); the worst case over all x is x = 129 → 144 (15/129).
    expect(p - x).toBeLessThanOrEqual(Math.floor(x / 8));
    expect((p - x) * 129).toBeLessThanOrEqual(15 * x);
    expect(p).toBeLessThanOrEqual(x * 1.125);
    if (x >= 2) {
      const { e, s } = padmeParams(x);
      expect(p - x).toBeLessThan(2 ** (e - s));
      expect(p % 2 ** (e - s)).toBe(0);
      // Leaks O(log log x) bits: p / 2^(E−S) ≤ 2^(S+1), i.e. at most S + 1 significant bits.
      expect(p / 2 ** (e - s)).toBeLessThanOrEqual(2 ** (s + 1));
      if (x >= 256) expect((p - x) * 16).toBeLessThan(x);
    }
    // Idempotent and monotone.
    expect(padme(p)).toBe(p);
    expect(padme(x + 1)).toBeGreaterThanOrEqual(p);
  });

  test.prop([fc.integer({ min: 1, max: 200_001 }), fc.oneof(fc.integer({ min: 0, max: 2_000 }), fc.integer({ min: 0, max: 200_000 }))], { numRuns: 60 })(
    'padme: the set of distinct padded lengths over a range is small (≤ 2^S + 1 per power of two)',
    (lo, span) => {
      const hi = Math.min(200_001, lo + span);
      const distinct = new Set<number>();
      for (let x = lo; x <= hi; x++) distinct.add(padme(x));
      let bound = 0;
      for (let e = padmeParams(lo).e; e <= padmeParams(hi).e; e++) bound += 2 ** (e === 0 ? 0 : padmeParams(2 ** e).s) + 1;
      expect(distinct.size).toBeLessThanOrEqual(bound);
      expect(distinct.size).toBeLessThanOrEqual(Math.max(1, hi - lo + 1));
    },
  );

  test('padme agrees with the integer reference and the bounds for every x ≤ 2^20', () => {
    let mismatches = 0;
    let worst = 0;
    for (let x = 0; x <= 2 ** 20; x++) {
      const p = padme(x);
      if (p !== padmeReference(x) || p < x) mismatches++;
      if (x > 0) worst = Math.max(worst, (p - x) / x);
    }
    expect(mismatches).toBe(0);
    expect(worst).toBe(15 / 129);
    const all = new Set<number>();
    for (let len = 0; len <= 200_000; len++) all.add(paddedLength(len, PADDING_PADME));
    // 200 001 plaintext lengths collapse to a couple of hundred padded lengths.
    expect(all.size).toBeLessThan(250);
  });

  test.prop([fc.integer({ min: 0, max: 200_000 }), policyArb, fc.boolean(), bytesArb(32)], { numRuns: 60 })(
    'envelope length = header + paddedLength + tag (+ signer id + signature): sizes take bucket values only',
    async (len, padding, signed, seed) => {
      const key: SymmetricKey = { id: new Uint8Array(16).fill(1), version: 1, bytes: seed };
      const loc: Location = { coordinate: 'Message.body', ownerId: 'conversation-1' };
      const pt = new Uint8Array(len);
      const env = signed
        ? await sealSignedEnvelope(nodeBackend, key, loc, pt, await signingKeyPairFromSeed(nodeBackend, seed))
        : sealEnvelope(nodeBackend, key, loc, pt, { padding });
      const policy = signed ? PADDING_PADME : padding;
      const overhead = HEADER + TAG + (signed ? SIGNED_EXTRA : 0);
      expect(env.length).toBe(overhead + paddedLength(len, policy));
      expect(parseEnvelope(env).ciphertext.length).toBe(paddedLength(len, policy) + TAG);
      const body = env.length - overhead;
      if (policy.kind === 'buckets') {
        const largest = policy.sizes[policy.sizes.length - 1]!;
        expect(policy.sizes.includes(body) || (body > largest && body % largest === 0)).toBe(true);
      } else if (policy.kind === 'padme') {
        expect(padme(body)).toBe(body);
      }
      expect(openEnvelope(nodeBackend, env, key, loc).plaintext.length).toBe(len);
    },
  );

  test.prop([fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 65535 })], { numRuns: 100 })(
    'MESSAGE_BUCKETS: two messages in the same bucket have the same envelope size',
    (a, b) => {
      const key: SymmetricKey = { id: new Uint8Array(16), version: 1, bytes: new Uint8Array(32).fill(7) };
      const loc: Location = { coordinate: 'Message.body', ownerId: 'c' };
      const ea = sealEnvelope(nodeBackend, key, loc, new Uint8Array(a), { padding: MESSAGE_BUCKETS });
      const eb = sealEnvelope(nodeBackend, key, loc, new Uint8Array(b), { padding: MESSAGE_BUCKETS });
      const sizes = [256, 1024, 4096, 16384, 65536].map((s) => s + HEADER + TAG);
      expect(sizes).toContain(ea.length);
      expect(sizes).toContain(eb.length);
      expect(ea.length === eb.length).toBe(paddedLength(a, MESSAGE_BUCKETS) === paddedLength(b, MESSAGE_BUCKETS));
    },
  );
});

// --- key wrapping --------------------------------------------------------------------------

async function recipientsFrom(backend: CryptoBackend, n: number, seed: Uint8Array) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const priv = backend.sha256(Uint8Array.from([...seed, i]));
    out.push(await encryptionKeyPairFromPrivate(backend, priv));
  }
  return out;
}

for (const [backend, numRuns] of [
  [nodeBackend, 25],
  [nobleBackend, 6],
] as const) {
  describe(`key wrapping (${backend.name})`, () => {
    test.prop([fc.integer({ min: 1, max: 20 }), bytesArb(16), keyArb, locationArb, fc.option(bytesArb(32), { nil: undefined })], { numRuns })(
      'every one of 1..20 recipients unwraps the same key; nobody else does',
      async (n, seed, key, loc, signerSeed) => {
        const identities = await recipientsFrom(backend, n + 1, seed);
        const outsider = identities.pop()!;
        const signer = signerSeed ? await signingKeyPairFromSeed(backend, signerSeed) : undefined;
        // Any order in, sorted stanzas out.
        const recipients = identities.map((r) => ({ keyId: r.keyId, publicKey: r.publicKey })).reverse();
        const wrapped = await wrapKey(backend, key, loc, recipients, signer);
        expect(wrapped.length).toBe(73 + 64 * n + 32 + (signer ? 16 + 64 : 0));
        const parsed = parseWrappedKey(wrapped);
        const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
        expect(parsed.recipientKeyIds.map(hex)).toEqual(identities.map((r) => hex(r.keyId)).sort());
        expect(parsed.recipientKeyIds.map(hex)).toEqual(identities.map((r) => hex(keyIdOf(backend, 'x25519', r.publicKey))).sort());
        for (const r of identities) {
          const k = await unwrapKey(backend, wrapped, r, loc, signer?.publicKey);
          expect(Buffer.from(k.id).equals(Buffer.from(key.id))).toBe(true);
          expect(k.version).toBe(key.version);
          expect(Buffer.from(k.bytes).equals(Buffer.from(key.bytes))).toBe(true);
        }
        let code: string | undefined;
        try {
          await unwrapKey(backend, wrapped, outsider, loc, signer?.publicKey);
        } catch (e) {
          code = e instanceof CryptoError ? e.code : 'not a CryptoError';
        }
        expect(code).toBe('KEY_NOT_FOUND');
      },
    );
  });
}
