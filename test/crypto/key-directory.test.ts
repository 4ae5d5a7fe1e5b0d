/**
 * The key directory's byte formats (docs/crypto.md §11), pure: the key-version message
 * byte for byte, which key signs which version, fingerprints and safety numbers (a
 * deterministic vector, symmetry, and that they change with either key), the same on
 * every backend, and the worked example printed in the document.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { registrationMessage } from '../../src/crypto/auth-messages.js';
import { base64urlEncode } from '../../src/crypto/base64url.js';
import { hex, utf8Encode } from '../../src/crypto/bytes.js';
import type { CryptoBackend } from '../../src/crypto/backend.js';
import { nobleBackend } from '../../src/crypto/backends/noble.js';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { webCryptoBackend } from '../../src/crypto/backends/webcrypto.js';
import { isCryptoError } from '../../src/crypto/errors.js';
import {
  FINGERPRINT_ITERATIONS,
  KEY_VERSION_LABEL,
  fingerprintOf,
  fingerprintText,
  keyStatement,
  keyVersionMessage,
  keyVersionSignatureLength,
  safetyNumberOf,
  signKeyVersion,
  verifyKeyStatement,
} from '../../src/crypto/key-directory.js';
import { EXAMPLE, keyDirectoryExample } from './key-directory-example.js';

// Pinned: the values printed in docs/crypto.md §11.
const V1_SIGNING_KEY = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
const V2_SIGNING_KEY = '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c';
const V2_ENCRYPTION_KEY = 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f';
const MESSAGE_PARTS = [
  '7665696c67726170682f76312f6b65792d76657273696f6e', // "veilgraph/v1/key-version"
  '00',
  '0009 7665696c6772617068', // lp("veilgraph")
  '0005 616c696365', // lp("alice")
  '00000002', // u32be(2)
  V1_SIGNING_KEY, // previous signing key (version 1)
  V2_SIGNING_KEY, // signing key (version 2)
  V2_ENCRYPTION_KEY, // encryption key (version 2)
];
const V2_SIGNATURE = [
  '0577ec2edd656e7c7ffd8cca64ef8a0ba823df727a752824b901d5eeaa1335a3', // by version 1's key
  'ecec173c6f56349176ba772f5f12091b9d7afaca65b7a7dbdfe7653d4d945400',
  '909980e1fa9011ba6fd8f7c7a92dba8c2cb79302ae83ed6de08eeb794e9e45df', // by version 2's key
  '7d1d97daeacfdaf66d17a9ad1ecfcf7873e5a8606786dc1376d2aa256c33a003',
];
const V2_SIGNATURE_TEXT =
  'BXfsLt1lbnx__YzKZO-KC6gj33J6dSgkuQHV7qoTNaPs7Bc8b1Y0kXa6dy9fEgkbnXr6ymW3p9vf52U9TZRUAJCZgOH6kBG6b9j3x6ktuowst5MCroPtbeCO63lOnkXffR2X2urP2vZtF6mtHs_PeHPlqGBnhtwTdtKqJWwzoAM';
const V2_SIGNING_KEY_ID = 'e0EoHVMQno5sASToBtDqbA';
const BOB_SIGNING_KEY = 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025';
const ALICE_FINGERPRINT = '98e14d2be6dc265547d185caace97ee1988c72c2715b4c2b395e1db851391c57';
const ALICE_FINGERPRINT_TEXT = '60102 28273 79966 82850 22905 44505';
const BOB_FINGERPRINT_TEXT = '10710 91840 46323 01865 45373 43148';
const SAFETY_NUMBER = '10710 91840 46323 01865 45373 43148 60102 28273 79966 82850 22905 44505';
const SAFETY_NUMBER_AFTER_ROTATION = '10710 91840 46323 01865 45373 43148 94879 87607 43475 41638 27558 51741';

const BACKENDS: readonly CryptoBackend[] = [nobleBackend, nodeBackend, webCryptoBackend];

function key(fill: number): Uint8Array {
  return new Uint8Array(32).fill(fill);
}

function expectInvalidArgument(fn: () => unknown): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(isCryptoError(thrown, 'INVALID_ARGUMENT')).toBe(true);
}

describe('the key-version message', () => {
  const base = { realm: 'veilgraph', username: 'alice', version: 2, previousSigningKey: key(1), signingKey: key(2), encryptionKey: key(3) };

  it('is the worked example byte for byte', async () => {
    const x = await keyDirectoryExample();
    expect(hex(x.v1SigningKey)).toBe(V1_SIGNING_KEY);
    expect(hex(x.v2SigningKey)).toBe(V2_SIGNING_KEY);
    expect(hex(x.v2EncryptionKey)).toBe(V2_ENCRYPTION_KEY);
    expect(hex(x.v2Message)).toBe(MESSAGE_PARTS.join('').replace(/ /g, ''));
    expect(x.v2Message.length).toBe(25 + 11 + 7 + 4 + 96);
    expect(hex(x.v2Signature)).toBe(V2_SIGNATURE.join(''));
    expect(base64urlEncode(x.v2Signature)).toBe(V2_SIGNATURE_TEXT);
    expect(base64urlEncode(x.v2SigningKeyId)).toBe(V2_SIGNING_KEY_ID);
    // Two plain Ed25519 signatures over the message: version 1's key, then version 2's.
    expect(await nodeBackend.ed25519Verify(x.v1SigningKey, x.v2Message, x.v2Signature.slice(0, 64))).toBe(true);
    expect(await nodeBackend.ed25519Verify(x.v2SigningKey, x.v2Message, x.v2Signature.slice(64))).toBe(true);
  });

  it('puts every field where the layout says', () => {
    const m = keyVersionMessage({ ...base, version: 0x01020304 });
    const label = utf8Encode(KEY_VERSION_LABEL);
    expect(m.slice(0, label.length)).toEqual(label);
    let o = label.length;
    expect(m[o++]).toBe(0);
    expect([...m.slice(o, o + 11)]).toEqual([0, 9, ...utf8Encode('veilgraph')]);
    o += 11;
    expect([...m.slice(o, o + 7)]).toEqual([0, 5, ...utf8Encode('alice')]);
    o += 7;
    expect([...m.slice(o, o + 4)]).toEqual([1, 2, 3, 4]);
    o += 4;
    expect(m.slice(o, o + 32)).toEqual(key(1));
    expect(m.slice(o + 32, o + 64)).toEqual(key(2));
    expect(m.slice(o + 64, o + 96)).toEqual(key(3));
    expect(m.length).toBe(o + 96);
  });

  it('differs in every input, and never equals a registration message', () => {
    const seen = new Set<string>();
    const variants = [
      base,
      { ...base, realm: 'other' },
      { ...base, username: 'alicf' },
      { ...base, version: 3 },
      { ...base, previousSigningKey: key(9) },
      { ...base, signingKey: key(9) },
      { ...base, encryptionKey: key(9) },
    ];
    for (const v of variants) seen.add(hex(keyVersionMessage(v)));
    expect(seen.size).toBe(variants.length);
    const reg = registrationMessage({ realm: 'veilgraph', username: 'alice', signingKey: key(2), encryptionKey: key(3) });
    expect(hex(reg).startsWith(hex(utf8Encode('veilgraph/v1/register\0')))).toBe(true);
    expect(seen.has(hex(reg))).toBe(false);
  });

  it('refuses version 1 (signed by registration), versions out of range and wrong key sizes', () => {
    for (const version of [1, 0, -1, 1.5, 0x80000000, Number.NaN]) expectInvalidArgument(() => keyVersionMessage({ ...base, version }));
    expect(() => keyVersionMessage({ ...base, version: 0x7fffffff })).not.toThrow();
    for (const k of ['previousSigningKey', 'signingKey', 'encryptionKey'] as const) {
      expectInvalidArgument(() => keyVersionMessage({ ...base, [k]: new Uint8Array(31) }));
      expectInvalidArgument(() => keyVersionMessage({ ...base, [k]: new Uint8Array(33) }));
    }
  });
});

describe('keyStatement: which key signs what', () => {
  it('version 1 is the registration message, signed by its own key', () => {
    const s = keyStatement({ realm: 'r', username: 'alice', version: 1, signingKey: key(2), encryptionKey: key(3), previousSigningKey: key(7) });
    expect(s.message).toEqual(registrationMessage({ realm: 'r', username: 'alice', signingKey: key(2), encryptionKey: key(3) }));
    expect(s.signers).toEqual([key(2)]);
    expect(keyVersionSignatureLength(1)).toBe(64);
  });

  it('version n is the key-version message, signed by version n-1, then by version n', () => {
    const m = { realm: 'r', username: 'alice', version: 5, previousSigningKey: key(1), signingKey: key(2), encryptionKey: key(3) };
    const s = keyStatement(m);
    expect(s.message).toEqual(keyVersionMessage(m));
    expect(s.signers).toEqual([key(1), key(2)]);
    expect(keyVersionSignatureLength(5)).toBe(128);
    expectInvalidArgument(() => keyStatement({ ...m, previousSigningKey: undefined }));
  });

  it('verifyKeyStatement needs both signatures, in order, and nothing else', async () => {
    const x = await keyDirectoryExample();
    const m = { realm: EXAMPLE.realm, username: EXAMPLE.username, version: 2, previousSigningKey: x.v1SigningKey, signingKey: x.v2SigningKey, encryptionKey: x.v2EncryptionKey };
    for (const b of BACKENDS) expect(await verifyKeyStatement(b, m, x.v2Signature)).toBe(true);
    const byV1 = x.v2Signature.slice(0, 64);
    const byV2 = x.v2Signature.slice(64);
    expect(await verifyKeyStatement(nodeBackend, m, byV1)).toBe(false);
    expect(await verifyKeyStatement(nodeBackend, m, new Uint8Array([...byV2, ...byV1]))).toBe(false);
    expect(await verifyKeyStatement(nodeBackend, m, new Uint8Array([...x.v2Signature, 0]))).toBe(false);
    // Naming someone else's key as the next version: its holder's signature is missing.
    const other = await nodeBackend.ed25519PublicKey(key(8));
    const taken = { ...m, signingKey: other };
    const onlyPrevious = await nodeBackend.ed25519Sign(EXAMPLE.v1SigningSeed, keyVersionMessage(taken));
    expect(await verifyKeyStatement(nodeBackend, taken, new Uint8Array([...onlyPrevious, ...onlyPrevious]))).toBe(false);
    expect(await verifyKeyStatement(nodeBackend, taken, await signKeyVersion(nodeBackend, taken, EXAMPLE.v1SigningSeed, key(8)))).toBe(true);
    for (const flip of [0, 63, 64, 127]) {
      const bad = x.v2Signature.slice();
      bad[flip]! ^= 1;
      expect(await verifyKeyStatement(nodeBackend, m, bad)).toBe(false);
    }
  });
});

describe('fingerprints and safety numbers', () => {
  it('are the worked example', async () => {
    const x = await keyDirectoryExample();
    expect(hex(x.bobSigningKey)).toBe(BOB_SIGNING_KEY);
    expect(hex(x.aliceFingerprint)).toBe(ALICE_FINGERPRINT);
    expect(x.aliceFingerprintText).toBe(ALICE_FINGERPRINT_TEXT);
    expect(x.bobFingerprintText).toBe(BOB_FINGERPRINT_TEXT);
    expect(x.safetyNumber).toBe(SAFETY_NUMBER);
    expect(x.safetyNumberAfterRotation).toBe(SAFETY_NUMBER_AFTER_ROTATION);
  });

  it('the fingerprint is the labelled hash iterated as specified', () => {
    const k = key(7);
    let h = nodeBackend.sha256(new Uint8Array([...utf8Encode('veilgraph/v1/fingerprint\0'), 0, 5, ...utf8Encode('alice'), ...k]));
    for (let i = 1; i < FINGERPRINT_ITERATIONS; i++) h = nodeBackend.sha256(new Uint8Array([...h, ...k]));
    expect(fingerprintOf(nodeBackend, 'alice', k)).toEqual(h);
    expect(FINGERPRINT_ITERATIONS).toBe(5200);
  });

  it('every backend computes the same fingerprints', () => {
    const expected = fingerprintText(nodeBackend, 'alice', key(5));
    for (const b of BACKENDS) expect(fingerprintText(b, 'alice', key(5))).toBe(expected);
  });

  it('is symmetric: both sides compute the same 60 digits', () => {
    const a = { username: 'alice', signingKey: key(1) };
    const b = { username: 'bob', signingKey: key(2) };
    const n = safetyNumberOf(nodeBackend, a, b);
    expect(n).toMatch(/^\d{5}( \d{5}){11}$/);
    expect(safetyNumberOf(nodeBackend, b, a)).toBe(n);
    // It is the two users' own fingerprints, the smaller first.
    const fa = fingerprintText(nodeBackend, a.username, a.signingKey);
    const fb = fingerprintText(nodeBackend, b.username, b.signingKey);
    expect(fa).toMatch(/^\d{5}( \d{5}){5}$/);
    expect(n).toBe(fa.replace(/ /g, '') < fb.replace(/ /g, '') ? `${fa} ${fb}` : `${fb} ${fa}`);
  });

  it('changes when either key or either username changes', () => {
    const a = { username: 'alice', signingKey: key(1) };
    const b = { username: 'bob', signingKey: key(2) };
    const n = safetyNumberOf(nodeBackend, a, b);
    expect(safetyNumberOf(nodeBackend, { ...a, signingKey: key(3) }, b)).not.toBe(n);
    expect(safetyNumberOf(nodeBackend, a, { ...b, signingKey: key(3) })).not.toBe(n);
    expect(safetyNumberOf(nodeBackend, { ...a, username: 'alicf' }, b)).not.toBe(n);
    expect(safetyNumberOf(nodeBackend, a, { ...b, username: 'bot' })).not.toBe(n);
  });

  it('refuses a signing key that is not 32 bytes', () => {
    expectInvalidArgument(() => fingerprintOf(nodeBackend, 'alice', new Uint8Array(31)));
  });
});

describe('docs/crypto.md §11', () => {
  const doc = readFileSync(new URL('../../docs/crypto.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('## 11. Key directory'));

  it('prints the worked example exactly', () => {
    expect(doc).toContain('## 11. Key directory');
    for (const part of [...MESSAGE_PARTS, ...V2_SIGNATURE, V2_SIGNATURE_TEXT, V2_SIGNING_KEY_ID, BOB_SIGNING_KEY, ALICE_FINGERPRINT]) expect(section).toContain(part);
    for (const text of [ALICE_FINGERPRINT_TEXT, BOB_FINGERPRINT_TEXT, SAFETY_NUMBER, SAFETY_NUMBER_AFTER_ROTATION]) expect(section).toContain(text);
  });

  it('the example inputs are the RFC test keys', () => {
    expect(hex(EXAMPLE.v2SigningSeed)).toBe('4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb');
    for (const seed of [EXAMPLE.v1SigningSeed, EXAMPLE.v2SigningSeed, EXAMPLE.bobSigningSeed, EXAMPLE.v1EncryptionPrivateKey, EXAMPLE.v2EncryptionPrivateKey]) {
      expect(section).toContain(hex(seed));
    }
  });
});
