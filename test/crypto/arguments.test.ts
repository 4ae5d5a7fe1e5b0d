/**
 * Every public function of the crypto core (src/crypto/index.ts) answers a caller's
 * argument of the wrong type with a coded CryptoError (INVALID_ARGUMENT, docs/crypto.md §9),
 * never a TypeError or RangeError from deep inside: each argument of a valid call is
 * replaced in turn by values of other types (and objects by look-alikes) and the call must
 * fail with that code. A new export fails the coverage test until it has a row here.
 */
import { describe, expect, it } from 'vitest';
import * as crypto from '../../src/crypto/index.js';
import {
  PADDING_PADME,
  SymmetricKeyRing,
  envelopeToText,
  generateEncryptionKeyPair,
  generateRecoveryPhrase,
  generateSigningKeyPair,
  generateSymmetricKey,
  isCryptoError,
  newPasswordKdf,
  nobleBackend,
  sealEnvelope,
  sealSignedEnvelope,
  wrapKey,
  type Location,
} from '../../src/crypto/index.js';

const b = nobleBackend;
const key = generateSymmetricKey(b);
const signer = await generateSigningKeyPair(b);
const enc = await generateEncryptionKeyPair(b);
const loc: Location = { coordinate: 'Profile.bio', ownerId: 'u1', objectId: 'p1' };
const env = sealEnvelope(b, key, loc, 'hi');
const signedEnv = await sealSignedEnvelope(b, key, loc, 'hi', signer);
const wrapped = await wrapKey(b, key, loc, [enc], signer);
const phrase = generateRecoveryPhrase(b);
const kdf = newPasswordKdf(b);
const version2 = { realm: 'veilgraph', username: 'alice', version: 2, previousSigningKey: signer.publicKey, signingKey: signer.publicKey, encryptionKey: enc.publicKey };

/** Values of the wrong type for any argument. */
const WRONG: readonly [string, unknown][] = [
  ['undefined', undefined],
  ['null', null],
  ['a number', 42],
  ['a string', 'abc'],
  ['an empty object', {}],
  ['an array', [1, 2, 3]],
  ['an ArrayBuffer', new ArrayBuffer(32)],
];

/** Look-alike objects whose fields are of the wrong type. */
const LOOK_ALIKES: readonly [string, unknown][] = [
  ['a key with a text id', { id: 'x', version: 1, bytes: key.bytes }],
  ['a location with a numeric coordinate', { coordinate: 5, ownerId: 'u1' }],
  ['a key pair of strings', { keyId: 'x', publicKey: 'y', privateKey: 'z', seed: 'w' }],
  ['a parsed envelope made by hand', { bytes: env, signed: false, keyId: key.id, keyVersion: 1, locationTag: new Uint8Array(16), nonce: new Uint8Array(24), header: env.subarray(0, 63), ciphertext: env.subarray(63), signature: null, signerKeyId: null }],
];

/** What an options argument may be: absent, or an object (whose unknown fields are ignored). */
const OPTIONS = ['undefined', 'an empty object'];

/**
 * A valid call per export, with which argument positions to vary (the backend is the
 * library's own object, not data, and is left alone). `skip`: arguments where a value of
 * another type is legitimately accepted (optional arguments, text-or-bytes inputs).
 */
interface Row {
  readonly args: readonly unknown[];
  readonly vary: readonly number[];
  /** Accepted values per position: those are left out for that position. */
  readonly accepts?: Readonly<Record<number, readonly string[]>>;
}

const ROWS: Record<string, Row> = {
  base64urlDecode: { args: ['AAAA'], vary: [0], accepts: { 0: ['a string'] } },
  base64urlEncode: { args: [new Uint8Array(3)], vary: [0] },
  equalBytes: { args: [new Uint8Array(1), new Uint8Array(1)], vary: [0, 1] },
  utf8Decode: { args: [new Uint8Array(1)], vary: [0] },
  utf8Encode: { args: ['x'], vary: [0], accepts: { 0: ['a string'] } },
  encryptionKeyPairFromPrivate: { args: [b, enc.privateKey], vary: [1] },
  signingKeyPairFromSeed: { args: [b, signer.seed], vary: [1] },
  generateSymmetricKey: { args: [b], vary: [] },
  generateSigningKeyPair: { args: [b], vary: [] },
  generateEncryptionKeyPair: { args: [b], vary: [] },
  keyIdOf: { args: [b, 'ed25519', signer.publicKey], vary: [1, 2] },
  keyIdText: { args: [signer.keyId], vary: [0] },
  rotateSymmetricKey: { args: [b, key], vary: [1] },
  locationTag: { args: [b, loc], vary: [1] },
  padme: { args: [10], vary: [0], accepts: { 0: ['a number'] } },
  paddedLength: { args: [10, PADDING_PADME], vary: [0, 1], accepts: { 0: ['a number'] } },
  envelopeToText: { args: [env], vary: [0] },
  parseEnvelope: { args: [env, {}], vary: [0, 1], accepts: { 1: OPTIONS } },
  // Text input that is not a string is malformed text (ENVELOPE_MALFORMED, checked below).
  parseEnvelopeText: { args: [envelopeToText(env), {}], vary: [1], accepts: { 1: OPTIONS } },
  sealEnvelope: { args: [b, key, loc, 'hi', {}], vary: [1, 2, 3, 4], accepts: { 3: ['a string'], 4: OPTIONS } },
  sealEnvelopeText: { args: [b, key, loc, 'hi', {}], vary: [1, 2, 3, 4], accepts: { 3: ['a string'], 4: OPTIONS } },
  sealSignedEnvelope: { args: [b, key, loc, 'hi', signer, {}], vary: [1, 2, 3, 4, 5], accepts: { 3: ['a string'], 5: OPTIONS } },
  openEnvelope: { args: [b, env, key, loc, {}], vary: [1, 2, 3, 4], accepts: { 1: ['a string'], 4: OPTIONS } },
  openEnvelopeText: { args: [b, env, key, loc, {}], vary: [1, 2, 3, 4], accepts: { 1: ['a string'], 4: OPTIONS } },
  openVerifiedEnvelope: { args: [b, signedEnv, key, loc, signer.publicKey, {}], vary: [1, 2, 3, 4, 5], accepts: { 1: ['a string'], 5: OPTIONS } },
  verifyEnvelopeSignature: { args: [b, signedEnv, signer.publicKey, {}], vary: [1, 2, 3], accepts: { 1: ['a string'], 3: OPTIONS } },
  parseWrappedKey: { args: [wrapped, {}], vary: [0, 1], accepts: { 1: OPTIONS } },
  unwrapKey: { args: [b, wrapped, enc, loc, signer.publicKey, {}], vary: [1, 2, 3, 4, 5], accepts: { 1: ['a string'], 4: ['undefined', 'null'], 5: OPTIONS } },
  verifyWrapSignature: { args: [b, wrapped, signer.publicKey], vary: [1, 2] },
  wrapKey: { args: [b, key, loc, [enc], signer], vary: [1, 2, 3, 4], accepts: { 4: ['undefined'] } },
  wrapKeyEach: { args: [b, key, loc, [enc]], vary: [1, 2, 3] },
  wrappedKeyToText: { args: [wrapped], vary: [0] },
  fingerprintOf: { args: [b, 'alice', signer.publicKey], vary: [1, 2], accepts: { 1: ['a string'] } },
  fingerprintText: { args: [b, 'alice', signer.publicKey], vary: [1, 2], accepts: { 1: ['a string'] } },
  keyStatement: { args: [version2], vary: [0] },
  keyVersionMessage: { args: [version2], vary: [0] },
  keyVersionSignatureLength: { args: [2], vary: [] },
  signKeyVersion: { args: [b, version2, signer.seed, signer.seed], vary: [1, 2, 3] },
  verifyKeyStatement: { args: [b, version2, new Uint8Array(128)], vary: [1] },
  safetyNumberOf: { args: [b, { username: 'a', signingKey: signer.publicKey }, { username: 'b', signingKey: signer.publicKey }], vary: [1, 2] },
  assertBackupKdf: { args: ['PASSWORD', kdf], vary: [0, 1] },
  backupKeysFromPhrase: { args: [b, phrase], vary: [1], accepts: { 1: ['a string'] } },
  backupKeysFromPassword: { args: [b, 'correct horse', kdf], vary: [] },
  deviceLinkCode: { args: [b, signer.publicKey, enc.publicKey], vary: [1, 2] },
  generateRecoveryPhrase: { args: [b], vary: [] },
  newPasswordKdf: { args: [b], vary: [] },
  normalizeRecoveryPhrase: { args: ['abandon'], vary: [0], accepts: { 0: ['a string'] } },
  parseRecoveryPhrase: { args: [phrase], vary: [0], accepts: { 0: ['a string'] } },
  selectPortableBackend: { args: [], vary: [] },
  webCryptoSupportsCurves: { args: [], vary: [] },
  isCryptoError: { args: [new Error('x')], vary: [] },
  normalizeDeviceName: { args: ['Phone'], vary: [0], accepts: { 0: ['a string'] } },
  // A predicate over anything: it answers with the problem, never throws.
  deviceNameProblem: { args: ['Phone'], vary: [] },
};

/** Exports that are not functions of data: classes and the backends themselves. */
const NOT_ROWS = new Set(['CryptoError', 'SymmetricKeyRing', 'nobleBackend', 'webCryptoBackend']);

async function failure(f: () => unknown): Promise<unknown> {
  try {
    await f();
  } catch (e) {
    return e;
  }
  return 'no error';
}

function describeError(e: unknown): string {
  return isCryptoError(e) ? e.code : e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

describe('every export of the crypto core has a row', () => {
  it('lists each function export', () => {
    const functions = Object.entries(crypto)
      .filter(([name, v]) => typeof v === 'function' && !NOT_ROWS.has(name))
      .map(([name]) => name)
      .sort();
    expect(functions.filter((f) => !(f in ROWS))).toEqual([]);
  });

  it('every row is a valid call as written', async () => {
    for (const [name, row] of Object.entries(ROWS)) {
      const f = (crypto as Record<string, unknown>)[name] as (...a: unknown[]) => unknown;
      if (name === 'parseEnvelopeText' || name === 'isCryptoError') continue; // a failing and a predicate call
      const e = await failure(() => f(...row.args));
      expect(e, name).toBe('no error');
    }
  });
});

describe('arguments of the wrong type are INVALID_ARGUMENT', () => {
  for (const [name, row] of Object.entries(ROWS)) {
    if (row.vary.length === 0) continue;
    it(name, async () => {
      const f = (crypto as Record<string, unknown>)[name] as (...a: unknown[]) => unknown;
      const wrong: string[] = [];
      for (const i of row.vary) {
        for (const [what, value] of [...WRONG, ...LOOK_ALIKES]) {
          if (row.accepts?.[i]?.includes(what)) continue;
          const args = [...row.args];
          args[i] = value;
          const e = await failure(() => f(...args));
          // A look-alike may be a valid value for some positions (say, an object for options).
          if (e === 'no error' && LOOK_ALIKES.some(([w]) => w === what)) continue;
          if (!isCryptoError(e, 'INVALID_ARGUMENT')) wrong.push(`argument ${i} = ${what}: ${describeError(e)}`);
        }
      }
      expect(wrong).toEqual([]);
    });
  }
});

describe('the cases the issue named, and neighbours', () => {
  it('openEnvelope with non-byte envelopes: INVALID_ARGUMENT, not a TypeError', async () => {
    for (const input of [undefined, null, 42, {}, [1, 2], new ArrayBuffer(85)]) {
      const e = await failure(() => crypto.openEnvelope(b, input as never, key, loc));
      expect(e).toBeInstanceOf(crypto.CryptoError);
      expect(e).toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
  });

  it('text inputs that are not strings stay ENVELOPE_MALFORMED (they are malformed text, §8)', async () => {
    expect(await failure(() => crypto.parseEnvelopeText(42 as never))).toMatchObject({ code: 'ENVELOPE_MALFORMED' });
  });

  it('a SymmetricKeyRing refuses what is not a list of keys', () => {
    for (const keys of [null, 42, [null], [{}], [{ ...key, bytes: 'x' }]]) {
      expect(() => new SymmetricKeyRing(keys as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
    const ring = new SymmetricKeyRing([key]);
    for (const id of [undefined, 'x', new Uint8Array(3)]) {
      expect(() => ring.get(id as never, 1)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
      expect(() => ring.latest(id as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });

  it('keyIdOf refuses an unknown key kind instead of hashing it as kind 0', () => {
    expect(() => crypto.keyIdOf(b, 'rsa' as never, signer.publicKey)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('lengths are non-negative integers: padme(0) = 0, padme(1) = 1; negative, fractional and unsafe lengths are refused', () => {
    expect(crypto.padme(0)).toBe(0);
    expect(crypto.padme(1)).toBe(1);
    expect(crypto.paddedLength(0, PADDING_PADME)).toBe(1);
    for (const n of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      expect(() => crypto.padme(n)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
      expect(() => crypto.paddedLength(n, PADDING_PADME)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });
});
