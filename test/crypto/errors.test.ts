/**
 * Every failure has its own, documented error code (docs/crypto.md §9), and no error
 * message carries key bytes or plaintext.
 *
 * Every caught CryptoError goes through `expectCode`, which checks its code and that its
 * message (and `String(error)`) contains none of the secrets registered below, in hex,
 * base64url or base64.
 */
import { describe, expect, it } from 'vitest';
import {
  CryptoError,
  DEFAULT_MAX_ENVELOPE_BYTES,
  SymmetricKeyRing,
  base64urlEncode,
  encryptionKeyPairFromPrivate,
  envelopeToText,
  generateEncryptionKeyPair,
  generateSigningKeyPair,
  generateSymmetricKey,
  isCryptoError,
  keyIdOf,
  nobleBackend,
  openEnvelope,
  openEnvelopeText,
  openVerifiedEnvelope,
  parseEnvelope,
  parseEnvelopeText,
  parseWrappedKey,
  rotateSymmetricKey,
  sealEnvelope,
  sealEnvelopeText,
  sealSignedEnvelope,
  signingKeyPairFromSeed,
  unwrapKey,
  utf8Decode,
  verifyEnvelopeSignature,
  verifyWrapSignature,
  wrapKey,
  wrappedKeyToText,
  type CryptoBackend,
  type CryptoErrorCode,
  type EncryptionKeyPair,
  type Location,
  type PaddingPolicy,
  type SigningKeyPair,
  type SymmetricKey,
} from '../../src/crypto/index.js';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { loadSodiumBackend } from '../../src/crypto/backends/sodium.js';

// --- secret registry and the one helper every failure goes through -----------------------

const secrets: Uint8Array[] = [];

function secret<T extends SymmetricKey | SigningKeyPair | EncryptionKeyPair>(k: T): T {
  if ('bytes' in k) secrets.push(k.bytes);
  if ('seed' in k) secrets.push(k.seed);
  if ('privateKey' in k) secrets.push(k.privateKey);
  return k;
}

function encodings(b: Uint8Array): string[] {
  const buf = Buffer.from(b);
  return [buf.toString('hex'), buf.toString('hex').toUpperCase(), buf.toString('base64url'), buf.toString('base64').replace(/=+$/, '')];
}

function assertNoSecretIn(e: CryptoError): void {
  const texts = [e.message, String(e), e.stack ?? ''];
  for (const s of secrets) {
    for (const enc of encodings(s)) {
      for (const t of texts) expect(t.includes(enc), `error ${e.code} "${e.message}" contains secret bytes`).toBe(false);
    }
    // Also the first 8 bytes alone (a truncated key in a message is still a leak).
    for (const enc of encodings(s.subarray(0, 8))) expect(e.message.includes(enc)).toBe(false);
  }
}

let checkedErrors = 0;

async function expectCode(code: CryptoErrorCode, f: () => unknown): Promise<CryptoError> {
  let result: unknown;
  try {
    result = await f();
  } catch (e) {
    expect(e).toBeInstanceOf(CryptoError);
    const ce = e as CryptoError;
    expect(ce.code, ce.message).toBe(code);
    expect(isCryptoError(ce, code)).toBe(true);
    expect(ce.name).toBe('CryptoError');
    assertNoSecretIn(ce);
    checkedErrors++;
    return ce;
  }
  throw new Error(`expected ${code}, but the operation succeeded and returned ${String(result)}`);
}

// --- fixtures ----------------------------------------------------------------------------

const BIO: Location = { coordinate: 'Profile.bio', ownerId: 'alice', objectId: 'p1' };
const PLAINTEXT = 'Alice likes long walks on the beach; this sentence is the secret plaintext.';

interface World {
  readonly backend: CryptoBackend;
  readonly key: SymmetricKey;
  readonly stranger: SymmetricKey;
  readonly alice: SigningKeyPair;
  readonly mallory: SigningKeyPair;
  readonly r1: EncryptionKeyPair;
  readonly r2: EncryptionKeyPair;
  readonly outsider: EncryptionKeyPair;
}

async function world(backend: CryptoBackend): Promise<World> {
  return {
    backend,
    key: secret(generateSymmetricKey(backend)),
    stranger: secret(generateSymmetricKey(backend)),
    alice: secret(await generateSigningKeyPair(backend)),
    mallory: secret(await generateSigningKeyPair(backend)),
    r1: secret(await generateEncryptionKeyPair(backend)),
    r2: secret(await generateEncryptionKeyPair(backend)),
    outsider: secret(await generateEncryptionKeyPair(backend)),
  };
}

const recipient = (k: EncryptionKeyPair) => ({ keyId: k.keyId, publicKey: k.publicKey });

const OTHER_LOCATIONS: readonly [string, Location][] = [
  ['another field (Profile.diary)', { coordinate: 'Profile.diary', ownerId: 'alice', objectId: 'p1' }],
  ['another type (Post.bio)', { coordinate: 'Post.bio', ownerId: 'alice', objectId: 'p1' }],
  ['the type alone (Profile)', { coordinate: 'Profile', ownerId: 'alice', objectId: 'p1' }],
  ['another owner (bob)', { coordinate: 'Profile.bio', ownerId: 'bob', objectId: 'p1' }],
  ['owner differing in case (Alice)', { coordinate: 'Profile.bio', ownerId: 'Alice', objectId: 'p1' }],
  ['another object (p2)', { coordinate: 'Profile.bio', ownerId: 'alice', objectId: 'p2' }],
  ['objectId absent (undefined)', { coordinate: 'Profile.bio', ownerId: 'alice' }],
  ['objectId absent (null)', { coordinate: 'Profile.bio', ownerId: 'alice', objectId: null }],
  // The length-prefixed encoding keeps these apart although their concatenations are equal.
  ['owner/object boundary moved', { coordinate: 'Profile.bio', ownerId: 'alicep', objectId: '1' }],
];

for (const backend of [nodeBackend, nobleBackend, await loadSodiumBackend()]) {
  describe(`error codes (${backend.name} backend)`, async () => {
    const w = await world(backend);
    const { key, stranger, alice, mallory, r1, r2, outsider } = w;
    const env = sealEnvelope(backend, key, BIO, PLAINTEXT);
    const signedEnv = await sealSignedEnvelope(backend, key, BIO, PLAINTEXT, alice);
    const wrapped = await wrapKey(backend, key, BIO, [recipient(r1), recipient(r2)]);
    const signedWrapped = await wrapKey(backend, key, BIO, [recipient(r1), recipient(r2)], alice);

    it('the fixtures open where they should (every failure below is caused by the one change made)', async () => {
      expect(openEnvelopeText(backend, env, key, BIO)).toBe(PLAINTEXT);
      expect(utf8Decode((await openVerifiedEnvelope(backend, signedEnv, key, BIO, alice.publicKey)).plaintext)).toBe(PLAINTEXT);
      for (const r of [r1, r2]) {
        expect((await unwrapKey(backend, wrapped, r, BIO)).bytes).toEqual(key.bytes);
        expect((await unwrapKey(backend, signedWrapped, r, BIO, alice.publicKey)).bytes).toEqual(key.bytes);
      }
    });

    describe('KEY_NOT_FOUND', () => {
      it('unwrapping with a key pair that is not among the recipients', async () => {
        await expectCode('KEY_NOT_FOUND', () => unwrapKey(backend, wrapped, outsider, BIO));
        await expectCode('KEY_NOT_FOUND', () => unwrapKey(backend, signedWrapped, outsider, BIO, alice.publicKey));
        await expectCode('KEY_NOT_FOUND', () => unwrapKey(backend, wrappedKeyToText(wrapped), outsider, BIO));
      });

      it("the envelope's key id is not in the ring (or is not the single key given)", async () => {
        await expectCode('KEY_NOT_FOUND', () => openEnvelope(backend, env, new SymmetricKeyRing([stranger]), BIO));
        await expectCode('KEY_NOT_FOUND', () => openEnvelope(backend, env, new SymmetricKeyRing(), BIO));
        await expectCode('KEY_NOT_FOUND', () => openEnvelope(backend, env, stranger, BIO));
        await expectCode('KEY_NOT_FOUND', () => openVerifiedEnvelope(backend, signedEnv, new SymmetricKeyRing([stranger]), BIO, alice.publicKey));
        // Same bytes, another lineage id: the id, not the bytes, is what is looked up.
        await expectCode('KEY_NOT_FOUND', () => openEnvelope(backend, env, { ...key, id: stranger.id }, BIO));
      });
    });

    describe('KEY_VERSION_MISMATCH', () => {
      it('the ring holds the lineage but not the version (rotated key)', async () => {
        const v2 = secret(rotateSymmetricKey(backend, key));
        expect(v2.id).toEqual(key.id);
        expect(v2.version).toBe(key.version + 1);
        expect(v2.bytes).not.toEqual(key.bytes);
        const v3 = secret(rotateSymmetricKey(backend, v2));
        await expectCode('KEY_VERSION_MISMATCH', () => openEnvelope(backend, env, new SymmetricKeyRing([v2]), BIO));
        await expectCode('KEY_VERSION_MISMATCH', () => openEnvelope(backend, env, new SymmetricKeyRing([v2, v3, stranger]), BIO));
        await expectCode('KEY_VERSION_MISMATCH', () => openEnvelope(backend, env, v2, BIO));
        await expectCode('KEY_VERSION_MISMATCH', () => openVerifiedEnvelope(backend, signedEnv, new SymmetricKeyRing([v2]), BIO, alice.publicKey));
        // A new envelope under v2 is not readable with v1 alone either, but is with the full ring.
        const env2 = sealEnvelope(backend, v2, BIO, PLAINTEXT);
        await expectCode('KEY_VERSION_MISMATCH', () => openEnvelope(backend, env2, new SymmetricKeyRing([key]), BIO));
        const ring = new SymmetricKeyRing([key, v2]);
        expect(openEnvelopeText(backend, env, ring, BIO)).toBe(PLAINTEXT);
        expect(openEnvelopeText(backend, env2, ring, BIO)).toBe(PLAINTEXT);
        expect(ring.latest(key.id)?.version).toBe(2);
      });
    });

    describe('WRONG_LOCATION', () => {
      for (const [what, loc] of OTHER_LOCATIONS) {
        it(`envelope and wrapped key opened at ${what}`, async () => {
          await expectCode('WRONG_LOCATION', () => openEnvelope(backend, env, key, loc));
          await expectCode('WRONG_LOCATION', () => openEnvelope(backend, envelopeToText(env), key, loc));
          await expectCode('WRONG_LOCATION', () => openVerifiedEnvelope(backend, signedEnv, key, loc, alice.publicKey));
          await expectCode('WRONG_LOCATION', () => unwrapKey(backend, wrapped, r1, loc));
          await expectCode('WRONG_LOCATION', () => unwrapKey(backend, signedWrapped, r2, loc, alice.publicKey));
        });
      }

      it('objectId present vs absent, the other way round', async () => {
        const noObject: Location = { coordinate: 'Profile.bio', ownerId: 'alice' };
        const e = sealEnvelope(backend, key, noObject, PLAINTEXT);
        const wk = await wrapKey(backend, key, noObject, [recipient(r1)]);
        expect(openEnvelopeText(backend, e, key, { ...noObject, objectId: null })).toBe(PLAINTEXT);
        await expectCode('WRONG_LOCATION', () => openEnvelope(backend, e, key, BIO));
        await expectCode('WRONG_LOCATION', () => unwrapKey(backend, wk, r1, BIO));
        expect((await unwrapKey(backend, wk, r1, noObject)).bytes).toEqual(key.bytes);
      });

      it('ciphertexts cannot be swapped between fields, owners or objects', async () => {
        const diary: Location = { coordinate: 'Profile.diary', ownerId: 'alice', objectId: 'p1' };
        const bobBio: Location = { coordinate: 'Profile.bio', ownerId: 'bob', objectId: 'p1' };
        const p2Bio: Location = { coordinate: 'Profile.bio', ownerId: 'alice', objectId: 'p2' };
        // Same key everywhere, so only the location binding can stop the swap.
        const stored = new Map<string, Uint8Array>([
          ['bio', sealEnvelope(backend, key, BIO, 'bio text')],
          ['diary', sealEnvelope(backend, key, diary, 'diary text')],
          ['bobBio', sealEnvelope(backend, key, bobBio, 'bob bio')],
          ['p2Bio', sealEnvelope(backend, key, p2Bio, 'p2 bio')],
        ]);
        const locs: Record<string, Location> = { bio: BIO, diary, bobBio, p2Bio };
        for (const [from, ct] of stored) {
          for (const [to, loc] of Object.entries(locs)) {
            if (from === to) expect(openEnvelopeText(backend, ct, key, loc)).toBeTypeOf('string');
            else await expectCode('WRONG_LOCATION', () => openEnvelope(backend, ct, key, loc));
          }
        }
        // The three swaps named in the design: (Profile.bio, alice, p1) read at diary, bob's row, p2's row.
        for (const loc of [diary, bobBio, p2Bio]) await expectCode('WRONG_LOCATION', () => openEnvelope(backend, stored.get('bio')!, key, loc));
      });

      it('checks the location before the key (a wrong location with a wrong key is WRONG_LOCATION)', async () => {
        await expectCode('WRONG_LOCATION', () => openEnvelope(backend, env, stranger, OTHER_LOCATIONS[0]![1]));
        await expectCode('WRONG_LOCATION', () => unwrapKey(backend, wrapped, outsider, OTHER_LOCATIONS[0]![1]));
      });
    });

    describe('SIGNATURE_INVALID and the AEAD-bound signer id', () => {
      const body = () => signedEnv.subarray(0, signedEnv.length - 64);
      const withSignature = (sig: Uint8Array) => {
        const out = signedEnv.slice();
        out.set(sig, out.length - 64);
        return out;
      };
      const sigInput = (b: Uint8Array) => Buffer.concat([Buffer.from('veilgraph/v1/envelope-signature\0'), b]);

      it('signature replaced by a valid signature of another key over the same bytes', async () => {
        const forged = withSignature(await backend.ed25519Sign(mallory.seed, sigInput(body())));
        expect(await backend.ed25519Verify(mallory.publicKey, sigInput(body()), forged.subarray(forged.length - 64))).toBe(true);
        await expectCode('SIGNATURE_INVALID', () => openVerifiedEnvelope(backend, forged, key, BIO, alice.publicKey));
        await expectCode('SIGNATURE_INVALID', () => verifyEnvelopeSignature(backend, forged, alice.publicKey));
        // The header still names alice, so mallory's key is not even the named signer.
        await expectCode('SIGNATURE_INVALID', () => openVerifiedEnvelope(backend, forged, key, BIO, mallory.publicKey));
      });

      it('signature replaced by 64 random bytes (and by zeros)', async () => {
        for (const sig of [backend.randomBytes(64), new Uint8Array(64)]) {
          await expectCode('SIGNATURE_INVALID', () => openVerifiedEnvelope(backend, withSignature(sig), key, BIO, alice.publicKey));
        }
      });

      it("attacker strips the signature and re-signs with their own key and signer id: the AEAD rejects it", async () => {
        const resigned = signedEnv.slice(0, signedEnv.length - 64);
        resigned.set(mallory.keyId, 63);
        const sig = await backend.ed25519Sign(mallory.seed, sigInput(resigned));
        const forged = new Uint8Array(signedEnv.length);
        forged.set(resigned);
        forged.set(sig, resigned.length);
        // The verifier expecting alice sees another signer.
        await expectCode('SIGNATURE_INVALID', () => openVerifiedEnvelope(backend, forged, key, BIO, alice.publicKey));
        // The verifier who is told "mallory wrote this": the signature is genuinely mallory's…
        const parsed = await verifyEnvelopeSignature(backend, forged, mallory.publicKey);
        expect(parsed.signerKeyId).toEqual(mallory.keyId);
        // …but the signer id is bound by the AEAD, so the open still fails.
        await expectCode('ENVELOPE_TAMPERED', () => openVerifiedEnvelope(backend, forged, key, BIO, mallory.publicKey));
        await expectCode('ENVELOPE_TAMPERED', () => openEnvelope(backend, forged, key, BIO));
      });

      it('an unsigned envelope given to openVerifiedEnvelope / verifyEnvelopeSignature', async () => {
        await expectCode('SIGNATURE_INVALID', () => openVerifiedEnvelope(backend, env, key, BIO, alice.publicKey));
        await expectCode('SIGNATURE_INVALID', () => openVerifiedEnvelope(backend, envelopeToText(env), key, BIO, alice.publicKey));
        await expectCode('SIGNATURE_INVALID', () => verifyEnvelopeSignature(backend, env, alice.publicKey));
      });

      it('a signed envelope verified against another signer', async () => {
        await expectCode('SIGNATURE_INVALID', () => openVerifiedEnvelope(backend, signedEnv, key, BIO, mallory.publicKey));
      });

      it('wrapped keys: unsigned, wrong signer, replaced signature', async () => {
        await expectCode('SIGNATURE_INVALID', () => unwrapKey(backend, wrapped, r1, BIO, alice.publicKey));
        await expectCode('SIGNATURE_INVALID', () => verifyWrapSignature(backend, wrapped, alice.publicKey));
        await expectCode('SIGNATURE_INVALID', () => unwrapKey(backend, signedWrapped, r1, BIO, mallory.publicKey));
        const replaced = signedWrapped.slice();
        const wrapBody = signedWrapped.subarray(0, signedWrapped.length - 64);
        replaced.set(await backend.ed25519Sign(mallory.seed, Buffer.concat([Buffer.from('veilgraph/v1/wrap-signature\0'), wrapBody])), replaced.length - 64);
        await expectCode('SIGNATURE_INVALID', () => unwrapKey(backend, replaced, r1, BIO, alice.publicKey));
        const random = signedWrapped.slice();
        random.set(backend.randomBytes(64), random.length - 64);
        await expectCode('SIGNATURE_INVALID', () => unwrapKey(backend, random, r1, BIO, alice.publicKey));
        // Without a signer check the signature is not consulted: the key still unwraps.
        expect((await unwrapKey(backend, random, r1, BIO)).bytes).toEqual(key.bytes);
      });

      it('wrapped key re-signed by an attacker under their own signer id: the MAC rejects it', async () => {
        const p = parseWrappedKey(signedWrapped);
        const macStart = signedWrapped.length - 64 - 32;
        const body = signedWrapped.slice(0, macStart + 32);
        body.set(mallory.keyId, macStart - 16);
        expect(equalIds(parseWrappedKey(concat(body, new Uint8Array(64))).signerKeyId!, mallory.keyId)).toBe(true);
        const sig = await backend.ed25519Sign(mallory.seed, Buffer.concat([Buffer.from('veilgraph/v1/wrap-signature\0'), body]));
        const forged = concat(body, sig);
        expect(p.signerKeyId).toEqual(alice.keyId);
        await expectCode('SIGNATURE_INVALID', () => unwrapKey(backend, forged, r1, BIO, alice.publicKey));
        await verifyWrapSignature(backend, forged, mallory.publicKey);
        await expectCode('ENVELOPE_TAMPERED', () => unwrapKey(backend, forged, r1, BIO, mallory.publicKey));
      });
    });

    describe('ENVELOPE_TOO_LARGE, before decoding', () => {
      it('text longer than the limit allows is rejected without being decoded', async () => {
        // maxBytes 10 → at most ceil(40 / 3) = 14 characters. Garbage text shows no decoding happened.
        const garbage = (n: number) => '!'.repeat(n);
        await expectCode('ENVELOPE_TOO_LARGE', () => parseEnvelopeText(garbage(15), { maxBytes: 10 }));
        await expectCode('ENVELOPE_MALFORMED', () => parseEnvelopeText(garbage(14), { maxBytes: 10 }));
        const text = envelopeToText(env);
        await expectCode('ENVELOPE_TOO_LARGE', () => openEnvelope(backend, text, key, BIO, { maxBytes: 16 }));
        await expectCode('ENVELOPE_TOO_LARGE', () => openEnvelopeText(backend, text, key, BIO, { maxBytes: env.length - 1 }));
        expect(openEnvelopeText(backend, text, key, BIO, { maxBytes: env.length })).toBe(PLAINTEXT);
        // The default limit (1 MiB) applies to text too.
        await expectCode('ENVELOPE_TOO_LARGE', () => parseEnvelopeText('#'.repeat(Math.ceil((DEFAULT_MAX_ENVELOPE_BYTES * 4) / 3) + 1)));
      });

      it('bytes longer than the limit are rejected before any structural check', async () => {
        const junk = (n: number) => new Uint8Array(n).fill(0xee);
        await expectCode('ENVELOPE_TOO_LARGE', () => parseEnvelope(junk(11), { maxBytes: 10 }));
        await expectCode('ENVELOPE_MALFORMED', () => parseEnvelope(junk(10), { maxBytes: 10 }));
        await expectCode('ENVELOPE_TOO_LARGE', () => parseEnvelope(junk(DEFAULT_MAX_ENVELOPE_BYTES + 1)));
        await expectCode('ENVELOPE_MALFORMED', () => parseEnvelope(junk(DEFAULT_MAX_ENVELOPE_BYTES)));
        await expectCode('ENVELOPE_TOO_LARGE', () => openEnvelope(backend, env, key, BIO, { maxBytes: env.length - 1 }));
        await expectCode('ENVELOPE_TOO_LARGE', () => openVerifiedEnvelope(backend, signedEnv, key, BIO, alice.publicKey, { maxBytes: 100 }));
        await expectCode('ENVELOPE_TOO_LARGE', () => verifyEnvelopeSignature(backend, signedEnv, alice.publicKey, { maxBytes: 100 }));
        // Too large is reported even for a wrong location or a missing key: size is checked first.
        await expectCode('ENVELOPE_TOO_LARGE', () => openEnvelope(backend, env, stranger, OTHER_LOCATIONS[0]![1], { maxBytes: 1 }));
      });
    });

    describe('INVALID_ARGUMENT', () => {
      const badKeys: readonly [string, SymmetricKey][] = [
        ['31-byte key', { id: key.id, version: 1, bytes: new Uint8Array(31) }],
        ['33-byte key', { id: key.id, version: 1, bytes: new Uint8Array(33) }],
        ['15-byte key id', { id: new Uint8Array(15), version: 1, bytes: new Uint8Array(32) }],
        ['negative version', { id: key.id, version: -1, bytes: new Uint8Array(32) }],
        ['fractional version', { id: key.id, version: 1.5, bytes: new Uint8Array(32) }],
        ['version 2^32', { id: key.id, version: 2 ** 32, bytes: new Uint8Array(32) }],
      ];
      for (const [what, bad] of badKeys) {
        it(`bad symmetric key: ${what}`, async () => {
          await expectCode('INVALID_ARGUMENT', () => sealEnvelope(backend, bad, BIO, 'x'));
          await expectCode('INVALID_ARGUMENT', () => sealEnvelopeText(backend, bad, BIO, 'x'));
          await expectCode('INVALID_ARGUMENT', () => sealSignedEnvelope(backend, bad, BIO, 'x', alice));
          await expectCode('INVALID_ARGUMENT', () => wrapKey(backend, bad, BIO, [recipient(r1)]));
          await expectCode('INVALID_ARGUMENT', () => new SymmetricKeyRing([bad]));
        });
      }

      it('bad asymmetric key lengths', async () => {
        await expectCode('INVALID_ARGUMENT', () => signingKeyPairFromSeed(backend, new Uint8Array(31)));
        await expectCode('INVALID_ARGUMENT', () => encryptionKeyPairFromPrivate(backend, new Uint8Array(33)));
        await expectCode('INVALID_ARGUMENT', () => keyIdOf(backend, 'x25519', new Uint8Array(31)));
        await expectCode('INVALID_ARGUMENT', () => sealSignedEnvelope(backend, key, BIO, 'x', { ...alice, keyId: new Uint8Array(15) }));
        await expectCode('INVALID_ARGUMENT', () => wrapKey(backend, key, BIO, [{ keyId: r1.keyId, publicKey: r1.publicKey.subarray(0, 31) }]));
      });

      it('rotating a key past the last version', async () => {
        await expectCode('INVALID_ARGUMENT', () => rotateSymmetricKey(backend, { ...key, version: 0xffffffff }));
      });

      const badLocations: readonly [string, Location][] = [
        ['empty ownerId', { coordinate: 'Profile.bio', ownerId: '' }],
        ['empty objectId (present but empty)', { coordinate: 'Profile.bio', ownerId: 'alice', objectId: '' }],
        ['ownerId over 1024 UTF-8 bytes', { coordinate: 'Profile.bio', ownerId: 'é'.repeat(513) }],
        ['objectId over 1024 UTF-8 bytes', { coordinate: 'Profile.bio', ownerId: 'alice', objectId: 'x'.repeat(1025) }],
        ['coordinate with three parts (Profile.bio.x)', { coordinate: 'Profile.bio.x', ownerId: 'alice' }],
        ['coordinate starting with a digit (1abc)', { coordinate: '1abc', ownerId: 'alice' }],
        ['field starting with a digit (Profile.1bio)', { coordinate: 'Profile.1bio', ownerId: 'alice' }],
        ['empty coordinate', { coordinate: '', ownerId: 'alice' }],
        ['coordinate with a space', { coordinate: 'Profile bio', ownerId: 'alice' }],
        ['coordinate with a trailing dot', { coordinate: 'Profile.', ownerId: 'alice' }],
        ['coordinate with a trailing newline', { coordinate: 'Profile.bio\n', ownerId: 'alice' }],
        ['non-ASCII coordinate', { coordinate: 'Profil.bïo', ownerId: 'alice' }],
        ['non-string ownerId', { coordinate: 'Profile.bio', ownerId: 42 as unknown as string }],
      ];
      for (const [what, loc] of badLocations) {
        it(`bad location: ${what}`, async () => {
          await expectCode('INVALID_ARGUMENT', () => sealEnvelope(backend, key, loc, 'x'));
          await expectCode('INVALID_ARGUMENT', () => wrapKey(backend, key, loc, [recipient(r1)]));
          // Opening at a bad location is a caller error too, not a wrong location.
          await expectCode('INVALID_ARGUMENT', () => openEnvelope(backend, env, key, loc));
          await expectCode('INVALID_ARGUMENT', () => unwrapKey(backend, wrapped, r1, loc));
        });
      }

      it('an ownerId of exactly 1024 UTF-8 bytes is accepted (the limit is inclusive)', () => {
        const loc: Location = { coordinate: 'Profile.bio', ownerId: 'é'.repeat(512) };
        expect(openEnvelopeText(backend, sealEnvelope(backend, key, loc, 'ok'), key, loc)).toBe('ok');
      });

      const badPolicies: readonly [string, PaddingPolicy][] = [
        ['buckets not rising (equal)', { kind: 'buckets', sizes: [256, 256] }],
        ['buckets falling', { kind: 'buckets', sizes: [1024, 256] }],
        ['buckets rising then falling', { kind: 'buckets', sizes: [16, 64, 32] }],
        ['no buckets', { kind: 'buckets', sizes: [] }],
        ['zero bucket', { kind: 'buckets', sizes: [0, 16] }],
        ['negative bucket', { kind: 'buckets', sizes: [-16, 16] }],
        ['fractional bucket', { kind: 'buckets', sizes: [1.5, 16] }],
        ['NaN bucket', { kind: 'buckets', sizes: [Number.NaN] }],
        ['infinite bucket', { kind: 'buckets', sizes: [16, Number.POSITIVE_INFINITY] }],
        ['unknown kind', { kind: 'exponential' } as unknown as PaddingPolicy],
      ];
      for (const [what, padding] of badPolicies) {
        it(`bad padding policy: ${what}`, async () => {
          await expectCode('INVALID_ARGUMENT', () => sealEnvelope(backend, key, BIO, 'x', { padding }));
          await expectCode('INVALID_ARGUMENT', () => sealSignedEnvelope(backend, key, BIO, 'x', alice, { padding }));
        });
      }

      it("wrapKey with a recipient whose key id does not match its public key", async () => {
        await expectCode('INVALID_ARGUMENT', () => wrapKey(backend, key, BIO, [{ keyId: r2.keyId, publicKey: r1.publicKey }]));
        await expectCode('INVALID_ARGUMENT', () => wrapKey(backend, key, BIO, [recipient(r1), { keyId: r1.keyId, publicKey: r2.publicKey }]));
        // The Ed25519 id of the same 32 bytes is not the X25519 id.
        await expectCode('INVALID_ARGUMENT', () => wrapKey(backend, key, BIO, [{ keyId: keyIdOf(backend, 'ed25519', r1.publicKey), publicKey: r1.publicKey }]));
        await expectCode('INVALID_ARGUMENT', () => wrapKey(backend, key, BIO, [{ keyId: new Uint8Array(16), publicKey: r1.publicKey }]));
      });

      it('wrapKey with duplicate recipients, or none', async () => {
        await expectCode('INVALID_ARGUMENT', () => wrapKey(backend, key, BIO, [recipient(r1), recipient(r1)]));
        await expectCode('INVALID_ARGUMENT', () => wrapKey(backend, key, BIO, [recipient(r1), recipient(r2), recipient(r1)]));
        await expectCode('INVALID_ARGUMENT', () => wrapKey(backend, key, BIO, [recipient(r1), { ...recipient(r1), publicKey: r1.publicKey.slice() }]));
        await expectCode('INVALID_ARGUMENT', () => wrapKey(backend, key, BIO, []));
      });
    });

    describe('the remaining codes', () => {
      it('INVALID_PUBLIC_KEY: wrapping to a low-order X25519 point', async () => {
        for (const pub of [new Uint8Array(32), Uint8Array.of(1, ...new Uint8Array(31))]) {
          await expectCode('INVALID_PUBLIC_KEY', () => wrapKey(backend, key, BIO, [{ keyId: keyIdOf(backend, 'x25519', pub), publicKey: pub }]));
        }
      });

      it('ENVELOPE_MALFORMED: bad text, version, suite, reserved flags; and non-UTF-8 plaintext for the text API', async () => {
        await expectCode('ENVELOPE_MALFORMED', () => openEnvelope(backend, envelopeToText(env) + '=', key, BIO));
        await expectCode('ENVELOPE_MALFORMED', () => openEnvelope(backend, ' ' + envelopeToText(env), key, BIO));
        await expectCode('ENVELOPE_MALFORMED', () => openEnvelope(backend, envelopeToText(env).replace(/-/g, '+').replace(/_/g, '/') + '+', key, BIO));
        for (const [offset, value] of [[0, 2], [1, 2], [2, 0x02]] as const) {
          const b = env.slice();
          b[offset] = value;
          await expectCode('ENVELOPE_MALFORMED', () => openEnvelope(backend, b, key, BIO));
        }
        await expectCode('ENVELOPE_MALFORMED', () => parseWrappedKey(env));
        await expectCode('ENVELOPE_MALFORMED', () => parseEnvelope(wrapped));
        const notUtf8 = sealEnvelope(backend, key, BIO, Uint8Array.of(0xc3, 0x28));
        await expectCode('ENVELOPE_MALFORMED', () => openEnvelopeText(backend, notUtf8, key, BIO));
        expect(openEnvelope(backend, notUtf8, key, BIO).plaintext).toEqual(Uint8Array.of(0xc3, 0x28));
      });

      it('every failure kind above produced its own code', async () => {
        const codes = new Set<CryptoErrorCode>();
        const record = async (code: CryptoErrorCode, f: () => unknown) => codes.add((await expectCode(code, f)).code);
        await record('ENVELOPE_MALFORMED', () => openEnvelope(backend, env.subarray(0, 10), key, BIO));
        await record('ENVELOPE_TOO_LARGE', () => openEnvelope(backend, env, key, BIO, { maxBytes: 10 }));
        await record('WRONG_LOCATION', () => openEnvelope(backend, env, key, OTHER_LOCATIONS[0]![1]));
        await record('KEY_NOT_FOUND', () => openEnvelope(backend, env, stranger, BIO));
        await record('KEY_VERSION_MISMATCH', () => openEnvelope(backend, env, { ...key, version: 7 }, BIO));
        await record('ENVELOPE_TAMPERED', () => openEnvelope(backend, env, { ...key, bytes: stranger.bytes }, BIO));
        await record('SIGNATURE_INVALID', () => openVerifiedEnvelope(backend, env, key, BIO, alice.publicKey));
        await record('INVALID_ARGUMENT', () => sealEnvelope(backend, key, { coordinate: '1abc', ownerId: 'a' }, ''));
        expect(codes.size).toBe(8);
      });
    });
  });
}

function equalIds(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

describe('error messages', () => {
  it('never contain key bytes or plaintext (checked on every error above)', () => {
    // Guard against the check silently not running: the suites above went through expectCode many times.
    expect(checkedErrors).toBeGreaterThan(100);
    expect(secrets.length).toBeGreaterThan(10);
  });

  it('do not contain the plaintext of a tampered or misplaced envelope', async () => {
    const key = secret(generateSymmetricKey(nodeBackend));
    const env = sealEnvelope(nodeBackend, key, BIO, PLAINTEXT);
    const b = env.slice();
    b[b.length - 1] = b[b.length - 1]! ^ 1;
    for (const [code, f] of [
      ['ENVELOPE_TAMPERED', () => openEnvelope(nodeBackend, b, key, BIO)],
      ['WRONG_LOCATION', () => openEnvelope(nodeBackend, env, key, { coordinate: 'Profile.diary', ownerId: 'alice' })],
    ] as const) {
      const e = await expectCode(code, f);
      expect(e.message).not.toContain(PLAINTEXT);
      expect(e.message).not.toContain(PLAINTEXT.slice(0, 12));
      expect(e.message).not.toContain(base64urlEncode(Buffer.from(PLAINTEXT)).slice(0, 16));
    }
  });
});
