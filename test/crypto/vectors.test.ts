/**
 * Replays the checked-in known-answer vectors (test/vectors/*.json, written by
 * test/vectors/generate.ts) on every backend: sealing and wrapping with the recorded
 * randomness must reproduce the stored bytes exactly, every vector must open, and every
 * invalid input must fail with exactly its recorded error code. A change to the wire
 * format, a label, the padding rule or the error precedence fails here.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  SymmetricKeyRing,
  base64urlDecode,
  base64urlEncode,
  encryptionKeyPairFromPrivate,
  isCryptoError,
  keyIdOf,
  keyIdText,
  locationTag,
  nobleBackend,
  openEnvelope,
  openVerifiedEnvelope,
  padme,
  paddedLength,
  parseEnvelopeText,
  parseWrappedKey,
  sealEnvelope,
  sealEnvelopeText,
  sealSignedEnvelope,
  signingKeyPairFromSeed,
  unwrapKey,
  verifyEnvelopeSignature,
  verifyWrapSignature,
  webCryptoBackend,
  wrapKey,
  type CryptoBackend,
  type CryptoErrorCode,
  type SigningKeyPair,
} from '../../src/crypto/index.js';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { locationTagInput } from '../../src/crypto/location.js';
import { FIXED_RANDOM_ALGORITHM, FixedRandom, fromHex, toHex, withFixedRandom } from '../helpers/fixed-random.js';
import {
  ENVELOPE_VECTORS_FILE,
  INVALID_VECTORS_FILE,
  WRAP_VECTORS_FILE,
  keyFromJson,
  locationFromJson,
  type EnvelopeVectorFile,
  type InvalidVectorFile,
  type SignerJson,
  type WrapVectorFile,
} from '../vectors/format.js';

const BACKENDS: readonly CryptoBackend[] = [nobleBackend, nodeBackend, webCryptoBackend];

function load<T>(file: string): T {
  return JSON.parse(readFileSync(new URL(`../vectors/${file}`, import.meta.url), 'utf8')) as T;
}

const envelopeFile = load<EnvelopeVectorFile>(ENVELOPE_VECTORS_FILE);
const wrapFile = load<WrapVectorFile>(WRAP_VECTORS_FILE);
const invalidFile = load<InvalidVectorFile>(INVALID_VECTORS_FILE);

async function errorOf(f: () => unknown): Promise<unknown> {
  try {
    await f();
  } catch (e) {
    return e;
  }
  return undefined;
}

/** The error's code, or a description of what happened instead, for readable failures. */
async function codeOf(f: () => unknown): Promise<string> {
  const e = await errorOf(f);
  if (e === undefined) return 'no error';
  return isCryptoError(e) ? e.code : `non-CryptoError: ${String(e)}`;
}

function signerFromJson(s: SignerJson): SigningKeyPair {
  return { seed: fromHex(s.seedHex), publicKey: fromHex(s.publicKeyHex), keyId: fromHex(s.keyIdHex) };
}

describe('fixed random stream (test/helpers/fixed-random.ts)', () => {
  it('is SHA-256(seed ‖ u32be(counter)) blocks, concatenated', () => {
    const block = (i: number) => {
      const c = Buffer.alloc(4);
      c.writeUInt32BE(i);
      return createHash('sha256').update(Buffer.concat([Buffer.from('seed', 'utf8'), c])).digest('hex');
    };
    expect(toHex(new FixedRandom('seed').next(80))).toBe(block(0) + block(1) + block(2).slice(0, 32));
  });

  it('hands out consecutive slices however the reads are split, and records them', () => {
    const whole = new FixedRandom('veilgraph').next(100);
    const r = new FixedRandom('veilgraph');
    const parts = [r.next(0), r.next(1), r.next(31), r.next(33), r.next(35)];
    expect(toHex(new Uint8Array(parts.flatMap((p) => [...p])))).toBe(toHex(whole));
    expect(toHex(r.consumed())).toBe(toHex(whole));
    expect(r.calls).toBe(5);
    expect(toHex(new FixedRandom('veilgraph2').next(32))).not.toBe(toHex(whole.subarray(0, 32)));
  });

  it('is the stream the vector files say they use', () => {
    expect(envelopeFile.randomAlgorithm).toBe(FIXED_RANDOM_ALGORITHM);
    expect(wrapFile.randomAlgorithm).toBe(FIXED_RANDOM_ALGORITHM);
  });
});

describe('vector files cover what they promise', () => {
  const envs = envelopeFile.envelopes;

  it('envelopes: every size × padding policy × object id × signed combination, plus non-ASCII locations', () => {
    for (const size of [0, 1, 15, 16, 100, 1000]) {
      for (const kind of ['none', 'padme', 'buckets']) {
        for (const withObject of [false, true]) {
          for (const signed of [false, true]) {
            const found = envs.some(
              (v) =>
                v.plaintextHex.length === 2 * size &&
                v.padding.kind === kind &&
                (v.location.objectId != null) === withObject &&
                (v.signer !== null) === signed,
            );
            expect(found, `${size} bytes, ${kind}, object ${withObject}, signed ${signed}`).toBe(true);
          }
        }
      }
    }
    expect(envs.some((v) => /[^\x20-\x7e]/.test(v.location.ownerId) && /[^\x20-\x7e]/.test(v.location.objectId ?? ''))).toBe(true);
    expect(new Set(envs.map((v) => v.name)).size).toBe(envs.length);
  });

  it('wrapped keys: 1 and 3 recipients, signed and unsigned', () => {
    for (const n of [1, 3]) {
      for (const signed of [false, true]) {
        expect(wrapFile.wrapped.some((v) => v.recipients.length === n && (v.signer !== null) === signed)).toBe(true);
      }
    }
  });

  it('invalid inputs: every error code the openers document', () => {
    const codes = new Set(invalidFile.envelopes.map((v) => v.code));
    const wanted: CryptoErrorCode[] = ['ENVELOPE_MALFORMED', 'ENVELOPE_TOO_LARGE', 'WRONG_LOCATION', 'KEY_NOT_FOUND', 'KEY_VERSION_MISMATCH', 'ENVELOPE_TAMPERED', 'SIGNATURE_INVALID'];
    for (const c of wanted) expect(codes.has(c), c).toBe(true);
    const wrapCodes = new Set(invalidFile.wrappedKeys.map((v) => v.code));
    for (const c of ['ENVELOPE_TOO_LARGE', 'ENVELOPE_MALFORMED', 'WRONG_LOCATION', 'KEY_NOT_FOUND', 'ENVELOPE_TAMPERED', 'SIGNATURE_INVALID'] as const) expect(wrapCodes.has(c), c).toBe(true);
  });

  it('invalid inputs pin one check order for both formats: the location before the signature (docs/crypto.md §9)', () => {
    const signedWrongLocation = (vs: readonly { code: string; signerPublicKeyHex?: string; description: string }[]) =>
      vs.filter((v) => v.signerPublicKeyHex !== undefined && v.code === 'WRONG_LOCATION' && /location tag bit flipped/.test(v.description));
    expect(signedWrongLocation(invalidFile.envelopes)).toHaveLength(1);
    expect(signedWrongLocation(invalidFile.wrappedKeys)).toHaveLength(1);
  });
});

describe('padding vectors', () => {
  it.each(envelopeFile.padme)('padme($length) = $padme', ({ length, padme: expected }) => {
    expect(padme(length)).toBe(expected);
  });

  it.each(envelopeFile.paddedLength)('paddedLength($length, $padding.kind) = $paddedLength', ({ length, padding, paddedLength: expected }) => {
    expect(paddedLength(length, padding)).toBe(expected);
  });
});

describe('location-tag inputs', () => {
  it.each(envelopeFile.locationTags)('$name', ({ location, inputHex }) => {
    expect(toHex(locationTagInput(locationFromJson(location)))).toBe(inputHex);
  });
});

describe.each(BACKENDS)('$name backend', (backend) => {
  describe('key ids', () => {
    it.each(envelopeFile.keyIds)('$name', async (v) => {
      const pk = fromHex(v.publicKeyHex);
      if (v.secretHex !== '') {
        const derived = v.kind === 'ed25519' ? await backend.ed25519PublicKey(fromHex(v.secretHex)) : await backend.x25519PublicKey(fromHex(v.secretHex));
        expect(toHex(derived)).toBe(v.publicKeyHex);
      }
      const id = keyIdOf(backend, v.kind, pk);
      expect(toHex(id)).toBe(v.keyIdHex);
      expect(keyIdText(id)).toBe(v.keyIdText);
    });
  });

  describe('location tags', () => {
    it.each(envelopeFile.locationTags)('$name', ({ location, inputHex, tagHex }) => {
      expect(toHex(locationTag(backend, locationFromJson(location)))).toBe(tagHex);
      expect(toHex(backend.sha256(fromHex(inputHex)).subarray(0, 16))).toBe(tagHex);
    });
  });

  describe('envelopes', () => {
    it.each(envelopeFile.envelopes)('$name: sealing with the recorded randomness reproduces it', async (v) => {
      const key = keyFromJson(v.key);
      const loc = locationFromJson(v.location);
      const pt = fromHex(v.plaintextHex);
      const random = new FixedRandom(v.random.seed);
      const b = withFixedRandom(backend, random);
      const sealed = v.signer
        ? await sealSignedEnvelope(b, key, loc, pt, signerFromJson(v.signer), { padding: v.padding })
        : sealEnvelope(b, key, loc, pt, { padding: v.padding });
      expect(base64urlEncode(sealed)).toBe(v.envelope);
      expect(toHex(random.consumed())).toBe(v.random.consumedHex);
      expect(random.calls).toBe(1);
      if (!v.signer) {
        expect(sealEnvelopeText(withFixedRandom(backend, new FixedRandom(v.random.seed)), key, loc, pt, { padding: v.padding })).toBe(v.envelope);
      }
    });

    it.each(envelopeFile.envelopes)('$name: opens to the plaintext', async (v) => {
      const key = keyFromJson(v.key);
      const loc = locationFromJson(v.location);
      const opened = openEnvelope(backend, v.envelope, key, loc);
      expect(toHex(opened.plaintext)).toBe(v.plaintextHex);
      expect(opened.signerKeyId && toHex(opened.signerKeyId)).toBe(v.signer ? v.signer.keyIdHex : null);
      // Same through a key ring that also holds another version of the lineage, and from bytes.
      const ring = new SymmetricKeyRing([key, { ...key, version: key.version === 7 ? 8 : 7, bytes: new Uint8Array(32).fill(7) }]);
      expect(toHex(openEnvelope(backend, base64urlDecode(v.envelope), ring, loc).plaintext)).toBe(v.plaintextHex);
      if (v.signer) {
        const verified = await openVerifiedEnvelope(backend, v.envelope, key, loc, fromHex(v.signer.publicKeyHex));
        expect(toHex(verified.plaintext)).toBe(v.plaintextHex);
      } else {
        const e = await errorOf(() => verifyEnvelopeSignature(backend, v.envelope, new Uint8Array(32).fill(1)));
        expect(isCryptoError(e, 'SIGNATURE_INVALID')).toBe(true);
      }
    });

    it.each(envelopeFile.envelopes)('$name: header fields and derived values', async (v) => {
      const p = parseEnvelopeText(v.envelope);
      expect(p.bytes.length).toBe(v.expected.envelopeBytes);
      expect(toHex(p.keyId)).toBe(v.key.idHex);
      expect(p.keyVersion).toBe(v.key.version);
      expect(toHex(p.locationTag)).toBe(v.expected.locationTagHex);
      expect(toHex(locationTag(backend, locationFromJson(v.location)))).toBe(v.expected.locationTagHex);
      expect(toHex(p.nonce)).toBe(v.expected.nonceHex);
      expect(v.expected.nonceHex).toBe(v.random.consumedHex);
      expect(p.signed).toBe(v.signer !== null);
      expect(p.ciphertext.length).toBe(v.expected.paddedLength + 16);
      expect(paddedLength(v.plaintextHex.length / 2, v.padding)).toBe(v.expected.paddedLength);
      if (v.signer) {
        const s = await signingKeyPairFromSeed(backend, fromHex(v.signer.seedHex));
        expect([toHex(s.publicKey), toHex(s.keyId)]).toEqual([v.signer.publicKeyHex, v.signer.keyIdHex]);
        expect(p.signerKeyId && toHex(p.signerKeyId)).toBe(v.signer.keyIdHex);
        expect(p.signature?.length).toBe(64);
      } else {
        expect([p.signerKeyId, p.signature]).toEqual([null, null]);
      }
    });
  });

  describe('wrapped keys', () => {
    it.each(wrapFile.wrapped)('$name: wrapping with the recorded randomness reproduces it, in any recipient order', async (v) => {
      const key = keyFromJson(v.key);
      const loc = locationFromJson(v.location);
      const recipients = v.recipients.map((r) => ({ keyId: fromHex(r.keyIdHex), publicKey: fromHex(r.publicKeyHex) }));
      const signer = v.signer ? signerFromJson(v.signer) : undefined;
      const random = new FixedRandom(v.random.seed);
      const wrapped = await wrapKey(withFixedRandom(backend, random), key, loc, recipients, signer);
      expect(base64urlEncode(wrapped)).toBe(v.wrapped);
      expect(toHex(random.consumed())).toBe(v.random.consumedHex);
      expect(random.calls).toBe(1);
      const reversed = await wrapKey(withFixedRandom(backend, new FixedRandom(v.random.seed)), key, loc, [...recipients].reverse(), signer);
      expect(base64urlEncode(reversed)).toBe(v.wrapped);
    });

    it.each(wrapFile.wrapped)('$name: every recipient unwraps the key', async (v) => {
      const loc = locationFromJson(v.location);
      for (const r of v.recipients) {
        const identity = await encryptionKeyPairFromPrivate(backend, fromHex(r.privateKeyHex));
        expect([toHex(identity.publicKey), toHex(identity.keyId)]).toEqual([r.publicKeyHex, r.keyIdHex]);
        const k = await unwrapKey(backend, v.wrapped, identity, loc);
        expect([toHex(k.id), k.version, toHex(k.bytes)]).toEqual([v.key.idHex, v.key.version, v.key.bytesHex]);
        if (v.signer) {
          const signed = await unwrapKey(backend, base64urlDecode(v.wrapped), identity, loc, fromHex(v.signer.publicKeyHex));
          expect(toHex(signed.bytes)).toBe(v.key.bytesHex);
        }
      }
    });

    it.each(wrapFile.wrapped)('$name: header fields and derived values', async (v) => {
      const bytes = base64urlDecode(v.wrapped);
      const p = parseWrappedKey(bytes);
      expect(bytes.length).toBe(v.expected.wrappedBytes);
      expect([toHex(p.keyId), p.keyVersion, p.signed]).toEqual([v.key.idHex, v.key.version, v.signer !== null]);
      expect(toHex(p.locationTag)).toBe(v.expected.locationTagHex);
      expect(toHex(locationTag(backend, locationFromJson(v.location)))).toBe(v.expected.locationTagHex);
      expect(toHex(p.ephemeral)).toBe(v.expected.ephemeralPublicKeyHex);
      expect(toHex(await backend.x25519PublicKey(fromHex(v.random.consumedHex)))).toBe(v.expected.ephemeralPublicKeyHex);
      expect(p.recipientKeyIds.map(toHex)).toEqual(v.expected.stanzaKeyIdsHex);
      expect([...v.expected.stanzaKeyIdsHex].sort()).toEqual(v.recipients.map((r) => r.keyIdHex).sort());
      if (v.signer) {
        expect(p.signerKeyId && toHex(p.signerKeyId)).toBe(v.signer.keyIdHex);
        const s = await signingKeyPairFromSeed(backend, fromHex(v.signer.seedHex));
        expect(toHex(s.keyId)).toBe(v.signer.keyIdHex);
        await expect(verifyWrapSignature(backend, bytes, s.publicKey)).resolves.toBeDefined();
      } else {
        expect([p.signerKeyId, p.signature]).toEqual([null, null]);
      }
    });
  });

  describe('invalid envelopes', () => {
    it.each(invalidFile.envelopes)('$code: $description', async (v) => {
      const key = keyFromJson(v.key);
      const loc = locationFromJson(v.location);
      const opts = v.maxBytes === undefined ? undefined : { maxBytes: v.maxBytes };
      const got = await codeOf(() =>
        v.signerPublicKeyHex === undefined
          ? openEnvelope(backend, v.text, key, loc, opts)
          : openVerifiedEnvelope(backend, v.text, key, loc, fromHex(v.signerPublicKeyHex), opts),
      );
      expect(got).toBe(v.code);
    });
  });

  describe('invalid wrapped keys', () => {
    it.each(invalidFile.wrappedKeys)('$code: $description', async (v) => {
      const identity = await encryptionKeyPairFromPrivate(backend, fromHex(v.identity.privateKeyHex));
      expect(toHex(identity.keyId)).toBe(v.identity.keyIdHex);
      const signer = v.signerPublicKeyHex === undefined ? undefined : fromHex(v.signerPublicKeyHex);
      const opts = v.maxBytes === undefined ? {} : { maxBytes: v.maxBytes };
      expect(await codeOf(() => unwrapKey(backend, v.text, identity, locationFromJson(v.location), signer, opts))).toBe(v.code);
    });
  });
});
