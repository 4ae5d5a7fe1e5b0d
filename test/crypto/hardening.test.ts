// Regression tests for weaknesses found while reviewing the crypto core: each case here
// was accepted (or inconsistent across backends) before its fix.
import { describe, expect, it } from 'vitest';
import { ED25519_TORSION_SUBGROUP } from '@noble/curves/ed25519.js';
import {
  CryptoError,
  generateEncryptionKeyPair,
  generateSigningKeyPair,
  generateSymmetricKey,
  nobleBackend,
  openEnvelope,
  sealEnvelope,
  sealSignedEnvelope,
  unwrapKey,
  verifyEnvelopeSignature,
  webCryptoBackend,
  wrapKey,
  type CryptoBackend,
} from '../../src/crypto/index.js';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { loadSodiumBackend } from '../../src/crypto/backends/sodium.js';
import { fromHex } from '../../src/crypto/bytes.js';
import { keyIdOf } from '../../src/crypto/keys.js';
import { isAcceptableEd25519PublicKey } from '../../src/crypto/ed25519-key-check.js';
import { SIGNED_HEADER_BYTES } from '../../src/crypto/envelope.js';

const backends: CryptoBackend[] = [nobleBackend, nodeBackend, webCryptoBackend, await loadSodiumBackend()];
const loc = { coordinate: 'Profile.bio', ownerId: 'alice', objectId: 'p1' };

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof CryptoError ? e.code : `not a CryptoError: ${String(e)}`;
  }
  return undefined;
}

async function asyncCodeOf(f: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await f();
  } catch (e) {
    return e instanceof CryptoError ? e.code : `not a CryptoError: ${String(e)}`;
  }
  return undefined;
}

describe('small-order Ed25519 public keys', () => {
  // Public key = identity point, signature (R = identity, S = 0): valid for any message
  // under a cofactorless verifier that does not check the key.
  const identityKey = fromHex('01' + '00'.repeat(31));
  const universalSig = fromHex('01' + '00'.repeat(63));

  it.each(backends.map((b) => [b.name, b] as const))('%s refuses the universal forgery', async (_name, b) => {
    for (const msg of [new Uint8Array(0), new Uint8Array([1, 2, 3])]) {
      expect(await b.ed25519Verify(identityKey, msg, universalSig)).toBe(false);
    }
  });

  it.each(backends.map((b) => [b.name, b] as const))('%s: a forged signed envelope under a small-order key is SIGNATURE_INVALID', async (_name, b) => {
    const key = generateSymmetricKey(b);
    const real = await generateSigningKeyPair(b);
    const env = await sealSignedEnvelope(b, key, loc, 'x', real);
    // The attacker cannot set signerKeyId without breaking the AEAD, but verification
    // alone must already refuse: rewrite the signer id and signature.
    const forged = env.slice();
    forged.set(keyIdOf(b, 'ed25519', identityKey), SIGNED_HEADER_BYTES - 16);
    forged.set(universalSig, forged.length - 64);
    expect(await asyncCodeOf(() => verifyEnvelopeSignature(b, forged, identityKey))).toBe('SIGNATURE_INVALID');
  });

  it('every torsion point and its sign variant is refused; real keys are accepted', async () => {
    for (const h of ED25519_TORSION_SUBGROUP) {
      const k = fromHex(h);
      expect(isAcceptableEd25519PublicKey(k)).toBe(false);
      k[31]! ^= 0x80;
      expect(isAcceptableEd25519PublicKey(k)).toBe(false);
    }
    // y = p + 1 ≡ 1 (non-canonical identity) and y = p.
    expect(isAcceptableEd25519PublicKey(fromHex('ee' + 'ff'.repeat(30) + '7f'))).toBe(false);
    expect(isAcceptableEd25519PublicKey(fromHex('ed' + 'ff'.repeat(30) + '7f'))).toBe(false);
    for (let i = 0; i < 20; i++) {
      const kp = await generateSigningKeyPair(nodeBackend);
      expect(isAcceptableEd25519PublicKey(kp.publicKey)).toBe(true);
    }
  });
});

describe('lone surrogates', () => {
  it('are refused in locations instead of colliding with U+FFFD', () => {
    const key = generateSymmetricKey(nodeBackend);
    for (const ownerId of ['a\uD800', 'a\uDC00', '\uDFFFb']) {
      expect(codeOf(() => sealEnvelope(nodeBackend, key, { ...loc, ownerId }, 'x'))).toBe('INVALID_ARGUMENT');
    }
    // A proper pair is fine and distinct from U+FFFD.
    const env = sealEnvelope(nodeBackend, key, { ...loc, ownerId: 'a\uD83D\uDE00' }, 'x');
    expect(codeOf(() => openEnvelope(nodeBackend, env, key, { ...loc, ownerId: 'a\uFFFD' }))).toBe('WRONG_LOCATION');
  });

  it('are refused in string plaintext instead of being silently replaced', () => {
    const key = generateSymmetricKey(nodeBackend);
    expect(codeOf(() => sealEnvelope(nodeBackend, key, loc, 'secret\uD800'))).toBe('INVALID_ARGUMENT');
  });
});

describe('argument checks agree across backends', () => {
  it.each(backends.map((b) => [b.name, b] as const))('%s: a short key on open is INVALID_ARGUMENT', (_name, b) => {
    const key = generateSymmetricKey(b);
    const env = sealEnvelope(b, key, loc, 'x');
    expect(codeOf(() => openEnvelope(b, env, { ...key, bytes: key.bytes.subarray(0, 31) }, loc))).toBe('INVALID_ARGUMENT');
  });

  it.each(backends.map((b) => [b.name, b] as const))('%s: a bad signer seed or key id is INVALID_ARGUMENT', async (_name, b) => {
    const key = generateSymmetricKey(b);
    const signer = await generateSigningKeyPair(b);
    const r = await generateEncryptionKeyPair(b);
    expect(await asyncCodeOf(() => sealSignedEnvelope(b, key, loc, 'x', { ...signer, seed: new Uint8Array(31) }))).toBe('INVALID_ARGUMENT');
    expect(await asyncCodeOf(() => wrapKey(b, key, loc, [r], { ...signer, keyId: new Uint8Array(15) }))).toBe('INVALID_ARGUMENT');
  });

  it('node backend refuses nonces of the wrong length like the others', () => {
    const k = new Uint8Array(32);
    for (const b of backends) {
      expect(() => b.xchacha20poly1305Seal(k, new Uint8Array(12), new Uint8Array(1), new Uint8Array(0))).toThrow();
      expect(() => b.chacha20poly1305Seal(k, new Uint8Array(24), new Uint8Array(1), new Uint8Array(0))).toThrow();
    }
  });
});

describe('wrapped keys have a size limit', () => {
  it('oversized text is ENVELOPE_TOO_LARGE before decoding', async () => {
    const r = await generateEncryptionKeyPair(nodeBackend);
    const huge = 'A'.repeat(2_000_000);
    expect(await asyncCodeOf(() => unwrapKey(nodeBackend, huge, r, loc))).toBe('ENVELOPE_TOO_LARGE');
    const w = await wrapKey(nodeBackend, generateSymmetricKey(nodeBackend), loc, [r]);
    expect(await asyncCodeOf(() => unwrapKey(nodeBackend, w, r, loc, undefined, { maxBytes: w.length - 1 }))).toBe('ENVELOPE_TOO_LARGE');
  });
});
