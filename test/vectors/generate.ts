/**
 * Generates the v1 known-answer vectors from fixed inputs:
 *
 *   npx tsx test/vectors/generate.ts            (or: npm run vectors) writes the files
 *   npx tsx test/vectors/generate.ts --check    exits 1 if the checked-in files differ
 *
 * Output (checked in, so that any change to the wire format shows up as a diff):
 *   test/vectors/envelope-v1.json  key ids, location tags, PADMÉ / padded lengths, envelopes
 *   test/vectors/wrap-v1.json      wrapped keys (1 and 3 recipients, signed and unsigned)
 *   test/vectors/invalid-v1.json   invalid envelopes and wrapped keys, each with the
 *                                  error code opening it must fail with
 *   test/vectors/recovery-v1.json  recovery phrases, password backups and device link
 *                                  codes (./recovery.ts; replayed by test/crypto/recovery.test.ts)
 *
 * Every input is fixed. Secrets (symmetric keys, Ed25519 seeds, X25519 private keys,
 * plaintexts) and the randomness an operation consumes come from the deterministic
 * stream of test/helpers/fixed-random.ts, seeded with a documented string per item, and
 * are recorded in hex next to the output so another implementation can re-derive every
 * byte without running this script. Vectors are produced with the pure-JS reference
 * backend (noble) and, before anything is written, re-checked on the node and webcrypto
 * backends; derived values (key ids, location-tag inputs, PADMÉ) are also cross-checked
 * against independent re-implementations in this file.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256 } from '@noble/hashes/sha2.js';
import {
  MESSAGE_BUCKETS,
  PADDING_NONE,
  PADDING_PADME,
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
  parseEnvelope,
  parseWrappedKey,
  sealEnvelope,
  sealSignedEnvelope,
  signingKeyPairFromSeed,
  unwrapKey,
  webCryptoBackend,
  wrapKey,
  type CryptoBackend,
  type EncryptionKeyPair,
  type Location,
  type PaddingPolicy,
  type SigningKeyPair,
  type SymmetricKey,
} from '../../src/crypto/index.js';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { locationTagInput } from '../../src/crypto/location.js';
import { FIXED_RANDOM_ALGORITHM, FixedRandom, fixedBytes, fromHex, toHex, withFixedRandom } from '../helpers/fixed-random.js';
import {
  ENVELOPE_VECTORS_FILE,
  INVALID_VECTORS_FILE,
  RECOVERY_VECTORS_FILE,
  WRAP_VECTORS_FILE,
  keyFromJson,
  keyToJson,
  locationFromJson,
  locationToJson,
  type EnvelopeVector,
  type EnvelopeVectorFile,
  type IdentityJson,
  type InvalidEnvelopeVector,
  type InvalidVectorFile,
  type InvalidWrappedKeyVector,
  type KeyIdVector,
  type LocationTagVector,
  type PaddedLengthVector,
  type PadmeVector,
  type SignerJson,
  type WrapVector,
  type WrapVectorFile,
} from './format.js';
import { recoveryVectors } from './recovery.js';

const OUT_DIR = dirname(fileURLToPath(import.meta.url));
const GENERATOR = 'test/vectors/generate.ts';
/** Every seed below starts with this, so the streams cannot collide with other uses. */
const P = 'veilgraph/test-vectors/v1/';
const BACKENDS: readonly CryptoBackend[] = [nobleBackend, nodeBackend, webCryptoBackend];

// ---------------------------------------------------------------------------------------
// Fixed inputs

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

function symmetricKey(lineage: string, version: number, bytesSeed: string): SymmetricKey {
  return { id: fixedBytes(`${P}key/${lineage}/id`, 16), version, bytes: fixedBytes(`${P}key/${lineage}/${bytesSeed}`, 32) };
}

const KEY_PROFILE = symmetricKey('profile', 1, 'v1');
const KEY_PROFILE_V2 = symmetricKey('profile', 2, 'v2');
/** High bit set in the version: catches a signed 32-bit read of the header. */
const KEY_MESSAGE = symmetricKey('message', 0xfedcba98, 'v4275878552');
const KEY_MAX_VERSION = symmetricKey('vault', 0xffffffff, 'v4294967295');
const KEY_VERSION_ZERO = symmetricKey('epoch', 0, 'v0');
const KEY_OTHER = symmetricKey('other', 1, 'v1');

const LOC_FIELD: Location = { coordinate: 'Profile.diary', ownerId: 'user_alice' };
const LOC_FIELD_OBJECT: Location = { coordinate: 'Profile.diary', ownerId: 'user_alice', objectId: 'profile_0001' };
const LOC_UNICODE: Location = { coordinate: 'Message.body', ownerId: 'ünïcødé-用户-🔑', objectId: 'объект/42' };
/** "Zoë" in NFC (U+00EB). Locations are not normalised: NFD is a different location. */
const LOC_ZOE: Location = { coordinate: 'Vault', ownerId: 'Zo\u00eb' };
const LOC_VAULT: Location = { coordinate: 'Vault', ownerId: 'user_alice' };

const SMALL_BUCKETS: PaddingPolicy = { kind: 'buckets', sizes: [16, 64, 256] };
const POLICIES: readonly (readonly [string, PaddingPolicy])[] = [
  ['none', PADDING_NONE],
  ['padme', PADDING_PADME],
  ['buckets-message', MESSAGE_BUCKETS],
  ['buckets-small', SMALL_BUCKETS],
];
const SIZES = [0, 1, 15, 16, 100, 1000] as const;

const plaintextOf = (n: number): Uint8Array => fixedBytes(`${P}plaintext/${n}`, n);

// RFC 8032 §7.1 TEST 1 and RFC 7748 §6.1 keys, so key ids of well-known keys are on record.
const RFC8032_TEST1_SEED = fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
const RFC7748_ALICE_PRIVATE = fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
const RFC7748_BOB_PRIVATE = fromHex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');

// ---------------------------------------------------------------------------------------
// Independent re-implementations (cross-checks of the code under test, not used to build vectors)

function refKeyId(kind: 'ed25519' | 'x25519', pk: Uint8Array): Uint8Array {
  return sha256(new Uint8Array([...utf8('veilgraph/v1/key-id'), 0, kind === 'ed25519' ? 1 : 2, ...pk])).slice(0, 16);
}

function refLocationInput(loc: Location): Uint8Array {
  const u16 = (n: number): number[] => [n >> 8, n & 0xff];
  const c = utf8(loc.coordinate);
  const o = utf8(loc.ownerId);
  const out = [...utf8('veilgraph/v1/location'), 0, ...u16(c.length), ...c, ...u16(o.length), ...o];
  if (loc.objectId == null) out.push(0);
  else {
    const j = utf8(loc.objectId);
    out.push(1, ...u16(j.length), ...j);
  }
  return new Uint8Array(out);
}

function refPadme(len: number): number {
  const L = BigInt(len);
  if (L < 2n) return len;
  const e = BigInt(L.toString(2).length - 1);
  const s = BigInt(e.toString(2).length);
  const mask = (1n << (e - s)) - 1n;
  return Number((L + mask) & ~mask);
}

function refPaddedLength(len: number, policy: PaddingPolicy): number {
  if (policy.kind === 'none') return len + 1;
  if (policy.kind === 'padme') return refPadme(len + 1);
  const fit = policy.sizes.find((s) => s >= len + 1);
  if (fit !== undefined) return fit;
  const largest = policy.sizes[policy.sizes.length - 1]!;
  return largest * Math.ceil((len + 1) / largest);
}

// ---------------------------------------------------------------------------------------
// Helpers

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`generator self-check failed: ${what}`);
}

const same = (a: Uint8Array, b: Uint8Array): boolean => toHex(a) === toHex(b);

function signerJson(s: SigningKeyPair): SignerJson {
  return { seedHex: toHex(s.seed), publicKeyHex: toHex(s.publicKey), keyIdHex: toHex(s.keyId) };
}

function identityJson(k: EncryptionKeyPair): IdentityJson {
  return { privateKeyHex: toHex(k.privateKey), publicKeyHex: toHex(k.publicKey), keyIdHex: toHex(k.keyId) };
}

async function codeOf(f: () => unknown): Promise<string> {
  try {
    await f();
    return 'OK';
  } catch (e) {
    if (isCryptoError(e)) return e.code;
    throw e;
  }
}

function mutate(bytes: Uint8Array, f: (b: Uint8Array) => void): Uint8Array {
  const copy = bytes.slice();
  f(copy);
  return copy;
}

const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

// ---------------------------------------------------------------------------------------
// Key ids, location tags, padding

async function keyIdVectors(signer: SigningKeyPair, identities: Record<string, EncryptionKeyPair>): Promise<KeyIdVector[]> {
  const out: KeyIdVector[] = [];
  const add = (name: string, kind: 'ed25519' | 'x25519', secret: Uint8Array, pk: Uint8Array): void => {
    const id = keyIdOf(nobleBackend, kind, pk);
    check(same(id, refKeyId(kind, pk)), `key id ${name}`);
    out.push({ name, kind, secretHex: toHex(secret), publicKeyHex: toHex(pk), keyIdHex: toHex(id), keyIdText: keyIdText(id) });
  };
  add('signer (ed25519, fixed seed)', 'ed25519', signer.seed, signer.publicKey);
  const rfc = await signingKeyPairFromSeed(nobleBackend, RFC8032_TEST1_SEED);
  add('RFC 8032 §7.1 TEST 1 (ed25519)', 'ed25519', rfc.seed, rfc.publicKey);
  for (const [name, k] of Object.entries(identities)) add(`${name} (x25519)`, 'x25519', k.privateKey, k.publicKey);
  // The same 32 bytes under both kinds must give different ids (the kind byte is hashed).
  add('signer public key bytes read as an x25519 key', 'x25519', new Uint8Array(0), signer.publicKey);
  return out;
}

function locationTagVectors(): LocationTagVector[] {
  const cases: [string, Location][] = [
    ['field, no object id', LOC_FIELD],
    ['field with object id', LOC_FIELD_OBJECT],
    ['objectId null encodes like an absent object id', { coordinate: 'Profile.diary', ownerId: 'user_alice', objectId: null }],
    ['non-ASCII owner and object ids', LOC_UNICODE],
    ['type-only coordinate, owner "Zoë" in NFC', LOC_ZOE],
    ['owner "Zoë" in NFD (a different location)', { coordinate: 'Vault', ownerId: 'Zoe\u0308' }],
    ['coordinate with underscores and digits', { coordinate: '_Type2.field_3', ownerId: 'o', objectId: 'x' }],
    ['single-character parts', { coordinate: 'T', ownerId: 'o' }],
    ['1024-byte owner id (the maximum part length)', { coordinate: 'Profile.bio', ownerId: 'é'.repeat(512) }],
    ['part lengths ≥ 256 exercise the high length byte', { coordinate: 'Profile.bio', ownerId: 'a'.repeat(300), objectId: 'b'.repeat(257) }],
  ];
  return cases.map(([name, loc]) => {
    const tag = locationTag(nobleBackend, loc);
    const input = refLocationInput(loc);
    check(same(tag, sha256(input).slice(0, 16)), `location tag ${name}`);
    return { name, location: locationToJson(loc), inputHex: toHex(input), tagHex: toHex(tag) };
  });
}

function padmeVectors(): PadmeVector[] {
  const lengths = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 17, 18, 19, 20, 31, 32, 33, 34, 35, 36, 40, 63, 64, 65, 100, 127, 128, 129, 255, 256, 257, 1000, 1001,
    1023, 1024, 1025, 4095, 4096, 4097, 65535, 65536, 65537, 1_000_000, 1_048_575, 1_048_576, 1_048_577, 2 ** 31 - 1, 2 ** 32 + 1, 2 ** 40 + 12345,
  ];
  return lengths.map((length) => {
    const p = padme(length);
    check(p === refPadme(length), `padme(${length}) = ${p}, reference ${refPadme(length)}`);
    return { length, padme: p };
  });
}

function paddedLengthVectors(): PaddedLengthVector[] {
  const lengths = [0, 1, 14, 15, 16, 17, 63, 64, 100, 254, 255, 256, 1000, 1023, 1024, 4095, 4096, 16383, 65535, 65536, 200_000];
  const out: PaddedLengthVector[] = [];
  for (const [, padding] of POLICIES) {
    for (const length of lengths) {
      const p = paddedLength(length, padding);
      check(p === refPaddedLength(length, padding), `paddedLength(${length}, ${JSON.stringify(padding)})`);
      out.push({ length, padding, paddedLength: p });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Envelopes

async function makeEnvelope(
  name: string,
  key: SymmetricKey,
  location: Location,
  plaintext: Uint8Array,
  padding: PaddingPolicy,
  signer: SigningKeyPair | null,
): Promise<EnvelopeVector> {
  const random = new FixedRandom(`${P}envelope/${name}`);
  const backend = withFixedRandom(nobleBackend, random);
  const bytes = signer
    ? await sealSignedEnvelope(backend, key, location, plaintext, signer, { padding })
    : sealEnvelope(backend, key, location, plaintext, { padding });
  const consumed = random.consumed();
  check(consumed.length === 24, `${name}: consumed ${consumed.length} random bytes, expected a 24-byte nonce`);
  const parsed = parseEnvelope(bytes);
  check(same(parsed.nonce, consumed), `${name}: nonce is the consumed randomness`);
  const padded = paddedLength(plaintext.length, padding);
  check(parsed.ciphertext.length === padded + 16, `${name}: ciphertext length`);
  for (const b of BACKENDS) {
    const opened = signer
      ? await openVerifiedEnvelope(b, bytes, key, location, signer.publicKey)
      : openEnvelope(b, bytes, key, location);
    check(same(opened.plaintext, plaintext), `${name}: opens on ${b.name}`);
  }
  return {
    name,
    key: keyToJson(key),
    location: locationToJson(location),
    padding,
    plaintextHex: toHex(plaintext),
    signer: signer ? signerJson(signer) : null,
    random: { seed: random.seed, consumedHex: toHex(consumed) },
    expected: {
      locationTagHex: toHex(locationTag(nobleBackend, location)),
      nonceHex: toHex(parsed.nonce),
      paddedLength: padded,
      envelopeBytes: bytes.length,
    },
    envelope: base64urlEncode(bytes),
  };
}

async function envelopeVectors(signer: SigningKeyPair): Promise<EnvelopeVector[]> {
  const out: EnvelopeVector[] = [];
  for (const size of SIZES) {
    for (const [policyName, policy] of POLICIES) {
      for (const [locName, loc] of [
        ['no-object', LOC_FIELD],
        ['object', LOC_FIELD_OBJECT],
      ] as const) {
        for (const signed of [false, true]) {
          const name = `${size}B/${policyName}/${locName}/${signed ? 'signed' : 'unsigned'}`;
          out.push(await makeEnvelope(name, KEY_PROFILE, loc, plaintextOf(size), policy, signed ? signer : null));
        }
      }
    }
  }
  for (const size of SIZES) {
    for (const signed of [false, true]) {
      const name = `${size}B/padme/unicode-location/${signed ? 'signed' : 'unsigned'}`;
      out.push(await makeEnvelope(name, KEY_MESSAGE, LOC_UNICODE, plaintextOf(size), PADDING_PADME, signed ? signer : null));
    }
  }
  const text = utf8('Grüße, 世界! 🔐');
  out.push(await makeEnvelope('utf8-text/padme/nfc-owner/unsigned/max-key-version', KEY_MAX_VERSION, LOC_ZOE, text, PADDING_PADME, null));
  out.push(await makeEnvelope('utf8-text/none/nfc-owner/signed/key-version-0', KEY_VERSION_ZERO, LOC_ZOE, text, PADDING_NONE, signer));
  out.push(await makeEnvelope('300B/buckets-small/above-largest-bucket/unsigned', KEY_PROFILE_V2, LOC_FIELD_OBJECT, plaintextOf(300), SMALL_BUCKETS, null));
  return out;
}

// ---------------------------------------------------------------------------------------
// Wrapped keys

async function makeWrap(
  name: string,
  key: SymmetricKey,
  location: Location,
  recipients: readonly EncryptionKeyPair[],
  signer: SigningKeyPair | null,
): Promise<WrapVector> {
  const random = new FixedRandom(`${P}wrap/${name}`);
  const backend = withFixedRandom(nobleBackend, random);
  const rs = recipients.map((r) => ({ keyId: r.keyId, publicKey: r.publicKey }));
  const bytes = await wrapKey(backend, key, location, rs, signer ?? undefined);
  const consumed = random.consumed();
  check(consumed.length === 32, `${name}: consumed ${consumed.length} random bytes, expected a 32-byte ephemeral key`);
  const parsed = parseWrappedKey(bytes);
  check(same(parsed.ephemeral, await nobleBackend.x25519PublicKey(consumed)), `${name}: ephemeral key is derived from the consumed randomness`);
  for (const b of BACKENDS) {
    for (const r of recipients) {
      const k = await unwrapKey(b, bytes, r, location, signer?.publicKey);
      check(same(k.bytes, key.bytes) && same(k.id, key.id) && k.version === key.version, `${name}: unwraps on ${b.name}`);
    }
  }
  return {
    name,
    key: keyToJson(key),
    location: locationToJson(location),
    recipients: recipients.map(identityJson),
    signer: signer ? signerJson(signer) : null,
    random: { seed: random.seed, consumedHex: toHex(consumed) },
    expected: {
      locationTagHex: toHex(locationTag(nobleBackend, location)),
      ephemeralPublicKeyHex: toHex(parsed.ephemeral),
      stanzaKeyIdsHex: parsed.recipientKeyIds.map(toHex),
      wrappedBytes: bytes.length,
    },
    wrapped: base64urlEncode(bytes),
  };
}

async function wrapVectors(signer: SigningKeyPair, ids: Record<'alice' | 'bob' | 'carol' | 'rfcAlice' | 'rfcBob', EncryptionKeyPair>): Promise<WrapVector[]> {
  return [
    await makeWrap('one-recipient/unsigned', KEY_PROFILE, LOC_VAULT, [ids.alice], null),
    await makeWrap('one-recipient/signed', KEY_PROFILE, LOC_VAULT, [ids.alice], signer),
    await makeWrap('three-recipients/unsigned/unicode-location', KEY_MESSAGE, LOC_UNICODE, [ids.carol, ids.alice, ids.bob], null),
    await makeWrap('three-recipients/signed/unicode-location', KEY_MESSAGE, LOC_UNICODE, [ids.bob, ids.carol, ids.alice], signer),
    await makeWrap('rfc7748-recipients/unsigned/object-location', KEY_PROFILE_V2, LOC_FIELD_OBJECT, [ids.rfcBob, ids.rfcAlice], null),
  ];
}

// ---------------------------------------------------------------------------------------
// Invalid envelopes

/** Ed25519 group order L = 2^252 + 27742317777372353535851937790883648493. */
const ED25519_L = 2n ** 252n + 27742317777372353535851937790883648493n;

/** S + L in place of S: the same signature under a non-strict verifier (malleability). */
function malleate(sig: Uint8Array): Uint8Array {
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i]!);
  s += ED25519_L;
  const out = sig.slice();
  for (let i = 32; i < 64; i++) {
    out[i] = Number(s & 0xffn);
    s >>= 8n;
  }
  return out;
}

const B64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Sets unused low bits of the last character: the same bytes to a lenient decoder, rejected by a strict one. */
function setLastBits(text: string, bits: number): string {
  const last = B64URL_ALPHABET.indexOf(text[text.length - 1]!);
  check(last >= 0 && (last & bits) === 0, 'setLastBits: bits already set');
  return text.slice(0, -1) + B64URL_ALPHABET[last | bits]!;
}

/** Seals hand-made padded bytes exactly as the format does: AAD = header ‖ location tag input. */
function sealRaw(key: SymmetricKey, header: Uint8Array, location: Location, padded: Uint8Array): Uint8Array {
  const nonce = header.subarray(39, 63);
  return concat(header, nobleBackend.xchacha20poly1305Seal(key.bytes, nonce, padded, concat(header, locationTagInput(location))));
}

async function invalidEnvelopeVectors(signer: SigningKeyPair, otherSigner: SigningKeyPair): Promise<InvalidEnvelopeVector[]> {
  const seal = (name: string, key: SymmetricKey, loc: Location, pt: Uint8Array | string, padding: PaddingPolicy): Uint8Array =>
    sealEnvelope(withFixedRandom(nobleBackend, new FixedRandom(`${P}invalid/${name}`)), key, loc, pt, { padding });
  const sealSigned = (name: string, key: SymmetricKey, loc: Location, pt: Uint8Array | string, padding: PaddingPolicy): Promise<Uint8Array> =>
    sealSignedEnvelope(withFixedRandom(nobleBackend, new FixedRandom(`${P}invalid/${name}`)), key, loc, pt, signer, { padding });

  const K = KEY_PROFILE;
  const L = LOC_FIELD_OBJECT;
  // 85 bytes → 114 characters (length ≡ 2 mod 4: the last character has 4 unused bits).
  const u = seal('base/hello', K, L, 'hello', PADDING_NONE);
  // 83 bytes → 111 characters (≡ 3 mod 4: 2 unused bits).
  const u3 = seal('base/hey', K, L, 'hey', PADDING_NONE);
  // 84 bytes → 112 characters (≡ 0 mod 4).
  const u4 = seal('base/hell', K, L, 'hell', PADDING_NONE);
  // 183 bytes: long enough to be re-read with the signed layout.
  const ulong = seal('base/long', K, L, plaintextOf(100), PADDING_PADME);
  const u2 = seal('base/second', K, L, 'world', PADDING_NONE);
  const uNoObject = seal('base/no-object', K, LOC_FIELD, 'hello', PADDING_NONE);
  const uZoe = seal('base/zoe', K, LOC_ZOE, 'hello', PADDING_NONE);
  const s = await sealSigned('base/signed', K, L, 'hello', PADDING_PADME);
  const sv0 = await sealSignedEnvelope(withFixedRandom(nobleBackend, new FixedRandom(`${P}invalid/base/signed-version-0`)), KEY_VERSION_ZERO, L, 'hello', signer, { padding: PADDING_PADME });
  check(u.length === 85 && u3.length === 83 && u4.length === 84 && ulong.length === 183 && s.length === 165, 'base envelope lengths');

  const t = base64urlEncode;
  const ut = t(u);
  const at = (text: string, i: number, c: string): string => text.slice(0, i) + c + text.slice(i + 1);
  const header = u.slice(0, 63);
  const rawHeader = (seed: string): Uint8Array => mutate(header, (h) => h.set(fixedBytes(`${P}invalid/nonce/${seed}`, 24), 39));
  const nonAsciiIndex = 50;

  type V = Omit<InvalidEnvelopeVector, 'key' | 'location'> & { key?: SymmetricKey; location?: Location };
  const vs: V[] = [
    // Structure
    { code: 'ENVELOPE_MALFORMED', description: 'empty text', text: '' },
    { code: 'ENVELOPE_MALFORMED', description: 'unknown version 0x02', text: t(mutate(u, (b) => (b[0] = 0x02))) },
    { code: 'ENVELOPE_MALFORMED', description: 'version 0x00', text: t(mutate(u, (b) => (b[0] = 0x00))) },
    { code: 'ENVELOPE_MALFORMED', description: 'version 0xff', text: t(mutate(u, (b) => (b[0] = 0xff))) },
    { code: 'ENVELOPE_MALFORMED', description: 'unknown suite 0x02 (the wrapped-key suite)', text: t(mutate(u, (b) => (b[1] = 0x02))) },
    { code: 'ENVELOPE_MALFORMED', description: 'suite 0x00', text: t(mutate(u, (b) => (b[1] = 0x00))) },
    { code: 'ENVELOPE_MALFORMED', description: 'reserved flag bit 1 (0x02) set', text: t(mutate(u, (b) => (b[2] = 0x02))) },
    { code: 'ENVELOPE_MALFORMED', description: 'reserved flag bit 7 (0x80) set', text: t(mutate(u, (b) => (b[2] = 0x80))) },
    { code: 'ENVELOPE_MALFORMED', description: 'reserved flag bit set next to the signed bit (0x03) on a signed envelope', text: t(mutate(s, (b) => (b[2] = 0x03))) },
    { code: 'ENVELOPE_MALFORMED', description: 'truncated header (first 40 bytes)', text: t(u.slice(0, 40)) },
    { code: 'ENVELOPE_MALFORMED', description: 'header only (63 bytes), no ciphertext', text: t(u.slice(0, 63)) },
    { code: 'ENVELOPE_MALFORMED', description: 'ciphertext of 16 bytes, one short of the 17-byte minimum', text: t(u.slice(0, 79)) },
    { code: 'ENVELOPE_MALFORMED', description: 'signed flag on an 85-byte envelope, too short for the signed layout (160 bytes minimum)', text: t(mutate(u, (b) => (b[2] = 0x01))) },
    { code: 'ENVELOPE_MALFORMED', description: 'signed envelope cut to 159 bytes, below the signed minimum', text: t(s.slice(0, 159)) },
    // Encoding
    { code: 'ENVELOPE_MALFORMED', description: "'==' padding appended", text: `${ut}==` },
    { code: 'ENVELOPE_MALFORMED', description: "single '=' padding appended (length ≡ 3 mod 4 text)", text: `${t(u3)}=` },
    { code: 'ENVELOPE_MALFORMED', description: "'=' inside the text", text: at(ut, 20, '=') },
    { code: 'ENVELOPE_MALFORMED', description: 'standard base64 (+, /, = padding) of the same bytes', text: Buffer.from(u).toString('base64') },
    { code: 'ENVELOPE_MALFORMED', description: "'+' (standard alphabet) in place of one character", text: at(ut, 30, '+') },
    { code: 'ENVELOPE_MALFORMED', description: "'/' (standard alphabet) in place of one character", text: at(ut, 31, '/') },
    { code: 'ENVELOPE_MALFORMED', description: 'trailing newline', text: `${ut}\n` },
    { code: 'ENVELOPE_MALFORMED', description: 'trailing CRLF', text: `${ut}\r\n` },
    { code: 'ENVELOPE_MALFORMED', description: 'leading space', text: ` ${ut}` },
    { code: 'ENVELOPE_MALFORMED', description: 'space in the middle', text: `${ut.slice(0, 40)} ${ut.slice(40)}` },
    { code: 'ENVELOPE_MALFORMED', description: 'tab in the middle (text length ≡ 0 mod 4 with it)', text: `${t(u3).slice(0, 40)}\t${t(u3).slice(40)}` },
    { code: 'ENVELOPE_MALFORMED', description: 'line break every 76 characters (MIME style)', text: `${ut.slice(0, 76)}\n${ut.slice(76)}` },
    { code: 'ENVELOPE_MALFORMED', description: 'non-ASCII character (é) in place of one character', text: at(ut, nonAsciiIndex, 'é') },
    { code: 'ENVELOPE_MALFORMED', description: 'NUL character appended', text: `${t(u3)}\0` },
    { code: 'ENVELOPE_MALFORMED', description: 'length ≡ 1 (mod 4): one character appended to a 112-character text', text: `${t(u4)}A` },
    { code: 'ENVELOPE_MALFORMED', description: 'length ≡ 1 (mod 4): last character of a 114-character text removed', text: ut.slice(0, -1) },
    { code: 'ENVELOPE_MALFORMED', description: 'non-canonical last character (length ≡ 2 mod 4, an unused low bit set)', text: setLastBits(ut, 0x01) },
    { code: 'ENVELOPE_MALFORMED', description: 'non-canonical last character (length ≡ 2 mod 4, all 4 unused bits set)', text: setLastBits(ut, 0x0f) },
    { code: 'ENVELOPE_MALFORMED', description: 'non-canonical last character (length ≡ 3 mod 4, an unused low bit set)', text: setLastBits(t(u3), 0x01) },
    { code: 'ENVELOPE_MALFORMED', description: 'non-canonical last character (length ≡ 3 mod 4, both unused bits set)', text: setLastBits(t(u3), 0x03) },
    // Authenticated, but the padding is not the v1 encoding
    { code: 'ENVELOPE_MALFORMED', description: 'authentic, but the padded plaintext is all zeros (no 0x80 marker)', text: t(sealRaw(K, rawHeader('zeros'), L, new Uint8Array(8))) },
    { code: 'ENVELOPE_MALFORMED', description: "authentic, but the padded plaintext is 'hello' with no marker", text: t(sealRaw(K, rawHeader('no-marker'), L, utf8('hello'))) },
    { code: 'ENVELOPE_MALFORMED', description: "authentic, but the marker is 0x81 ('hi' ‖ 81 00 00)", text: t(sealRaw(K, rawHeader('marker-81'), L, new Uint8Array([0x68, 0x69, 0x81, 0, 0]))) },
    { code: 'ENVELOPE_MALFORMED', description: "authentic, but a non-zero byte follows the marker ('hi' ‖ 80 01)", text: t(sealRaw(K, rawHeader('after-marker'), L, new Uint8Array([0x68, 0x69, 0x80, 0x01]))) },
    // Size limits (checked before decoding)
    { code: 'ENVELOPE_TOO_LARGE', description: 'one byte over maxBytes (85-byte envelope, maxBytes 84)', text: ut, maxBytes: 84 },
    { code: 'ENVELOPE_TOO_LARGE', description: 'far over maxBytes (183-byte envelope, maxBytes 64)', text: t(ulong), maxBytes: 64 },
    { code: 'ENVELOPE_TOO_LARGE', description: 'size is checked before the alphabet: 200 invalid characters with maxBytes 64', text: '!'.repeat(200), maxBytes: 64 },
    // Location
    { code: 'WRONG_LOCATION', description: 'opened for another owner', text: ut, location: { ...L, ownerId: 'user_bob' } },
    { code: 'WRONG_LOCATION', description: 'opened for another field of the same object (Profile.bio)', text: ut, location: { ...L, coordinate: 'Profile.bio' } },
    { code: 'WRONG_LOCATION', description: 'opened with the type-only coordinate (Profile)', text: ut, location: { ...L, coordinate: 'Profile' } },
    { code: 'WRONG_LOCATION', description: 'opened for another object id', text: ut, location: { ...L, objectId: 'profile_0002' } },
    { code: 'WRONG_LOCATION', description: 'opened without the object id it was sealed with', text: ut, location: LOC_FIELD },
    { code: 'WRONG_LOCATION', description: 'sealed without an object id, opened with one', text: t(uNoObject), location: L },
    { code: 'WRONG_LOCATION', description: 'owner id differing only in case', text: ut, location: { ...L, ownerId: 'User_alice' } },
    { code: 'WRONG_LOCATION', description: 'sealed for owner "Zoë" in NFC, opened with NFD (no normalisation)', text: t(uZoe), location: { ...LOC_ZOE, ownerId: 'Zoe\u0308' } },
    { code: 'WRONG_LOCATION', description: 'location tag bit flipped in the header, opened at the sealing location', text: t(mutate(u, (b) => (b[23]! ^= 0x01))) },
    // Signed envelopes opened with a signer: the location is checked before the signature (§6, §9).
    { code: 'WRONG_LOCATION', description: 'signed, location tag bit flipped, opened with the signer required (location before signature)', text: t(mutate(s, (b) => (b[23]! ^= 0x01))), signerPublicKeyHex: toHex(signer.publicKey) },
    { code: 'WRONG_LOCATION', description: 'signed and intact, opened for another owner with the signer required', text: t(s), location: { ...L, ownerId: 'user_bob' }, signerPublicKeyHex: toHex(signer.publicKey) },
    { code: 'WRONG_LOCATION', description: "signed, opened for another owner against another signer's key (location before signature)", text: t(s), location: { ...L, ownerId: 'user_bob' }, signerPublicKeyHex: toHex(otherSigner.publicKey) },
    // Keys
    { code: 'KEY_NOT_FOUND', description: 'opened with a key of another lineage (id)', text: ut, key: KEY_OTHER },
    { code: 'KEY_NOT_FOUND', description: 'key id bit flipped in the header', text: t(mutate(u, (b) => (b[3]! ^= 0x80))) },
    { code: 'KEY_VERSION_MISMATCH', description: 'opened with the same key id at version 2 (sealed at version 1)', text: ut, key: KEY_PROFILE_V2 },
    { code: 'KEY_VERSION_MISMATCH', description: 'key version in the header changed from 1 to 2', text: t(mutate(u, (b) => (b[22] = 0x02))) },
    { code: 'KEY_VERSION_MISMATCH', description: 'key version in the header byte-swapped (0x00000001 → 0x01000000)', text: t(mutate(u, (b) => ((b[19] = 0x01), (b[22] = 0x00)))) },
    // Authentication
    { code: 'ENVELOPE_TAMPERED', description: 'first ciphertext byte bit flipped', text: t(mutate(u, (b) => (b[63]! ^= 0x01))) },
    { code: 'ENVELOPE_TAMPERED', description: 'last tag bit flipped', text: t(mutate(u, (b) => (b[b.length - 1]! ^= 0x80))) },
    { code: 'ENVELOPE_TAMPERED', description: 'nonce bit flipped', text: t(mutate(u, (b) => (b[39]! ^= 0x01))) },
    { code: 'ENVELOPE_TAMPERED', description: 'trailing zero byte appended (unsigned: read as part of the ciphertext)', text: t(concat(u, new Uint8Array(1))) },
    { code: 'ENVELOPE_TAMPERED', description: 'last byte removed (unsigned)', text: t(u.slice(0, -1)) },
    { code: 'ENVELOPE_TAMPERED', description: 'right key id and version, wrong key bytes', text: ut, key: { ...K, bytes: KEY_OTHER.bytes } },
    { code: 'ENVELOPE_TAMPERED', description: 'ciphertext and tag from another envelope under the same key and location', text: t(concat(u.slice(0, 63), u2.slice(63))) },
    { code: 'ENVELOPE_TAMPERED', description: 'signed bit set on a 183-byte unsigned envelope (parses with the signed layout)', text: t(mutate(ulong, (b) => (b[2] = 0x01))) },
    { code: 'ENVELOPE_TAMPERED', description: 'signed bit cleared on a signed envelope (signer id and signature read as ciphertext)', text: t(mutate(s, (b) => (b[2] = 0x00))) },
    { code: 'ENVELOPE_TAMPERED', description: 'signature stripped and signed bit cleared (downgrade to unsigned)', text: t(mutate(s.slice(0, -64), (b) => (b[2] = 0x00))) },
    { code: 'ENVELOPE_TAMPERED', description: 'signer key id bit flipped (it is authenticated by the AEAD)', text: t(mutate(s, (b) => (b[63]! ^= 0x01))) },
    { code: 'ENVELOPE_TAMPERED', description: 'trailing byte on a signed envelope (signature window shifts into the ciphertext)', text: t(concat(s, new Uint8Array(1))) },
    // Signatures (opened with openVerifiedEnvelope)
    { code: 'SIGNATURE_INVALID', description: 'signature bit flipped', text: t(mutate(s, (b) => (b[b.length - 40]! ^= 0x01))), signerPublicKeyHex: toHex(signer.publicKey) },
    { code: 'SIGNATURE_INVALID', description: 'signature replaced by zeros', text: t(mutate(s, (b) => b.fill(0, b.length - 64))), signerPublicKeyHex: toHex(signer.publicKey) },
    { code: 'SIGNATURE_INVALID', description: 'non-canonical signature: S replaced by S + L (malleability)', text: t(concat(s.slice(0, -64), malleate(s.slice(-64)))), signerPublicKeyHex: toHex(signer.publicKey) },
    { code: 'SIGNATURE_INVALID', description: 'unsigned envelope where a signature is required', text: ut, signerPublicKeyHex: toHex(signer.publicKey) },
    { code: 'SIGNATURE_INVALID', description: "verified against another signer's public key", text: t(s), signerPublicKeyHex: toHex(otherSigner.publicKey) },
    { code: 'SIGNATURE_INVALID', description: 'signature bit flipped on an envelope of key version 0 (the format allows 0; lineages start at 1)', text: t(mutate(sv0, (b) => (b[b.length - 1]! ^= 0x01))), key: KEY_VERSION_ZERO, signerPublicKeyHex: toHex(signer.publicKey) },
    { code: 'ENVELOPE_TOO_LARGE', description: 'a signed envelope one byte over maxBytes is refused before its signature is looked at', text: t(s), maxBytes: 164, signerPublicKeyHex: toHex(signer.publicKey) },
  ];
  return vs.map((v) => {
    const { key, location, ...rest } = v;
    return { ...rest, key: keyToJson(key ?? K), location: locationToJson(location ?? L) };
  });
}

async function invalidWrappedKeyVectors(
  signer: SigningKeyPair,
  otherSigner: SigningKeyPair,
  ids: Record<'alice' | 'bob' | 'carol' | 'mallory', EncryptionKeyPair>,
): Promise<InvalidWrappedKeyVector[]> {
  const wrap = (name: string, rs: EncryptionKeyPair[], sg?: SigningKeyPair): Promise<Uint8Array> =>
    wrapKey(withFixedRandom(nobleBackend, new FixedRandom(`${P}invalid/wrap/${name}`)), KEY_PROFILE, LOC_VAULT, rs, sg);
  const w1 = await wrap('one', [ids.alice]); // 169 bytes: text length ≡ 2 mod 4
  const w3 = await wrap('three', [ids.alice, ids.bob, ids.carol]); // 297 bytes
  const ws = await wrap('signed', [ids.alice, ids.bob], signer); // 73 + 128 + 16 + 32 + 64 = 313 bytes
  check(w1.length === 169 && w3.length === 297 && ws.length === 313, 'base wrapped key lengths');
  const t = base64urlEncode;
  const p3 = parseWrappedKey(w3);
  const stanzaOf = (id: Uint8Array): number => 73 + 64 * p3.recipientKeyIds.findIndex((x) => same(x, id));
  const aliceStanza = stanzaOf(ids.alice.keyId);
  const otherStanza = stanzaOf(ids.bob.keyId);
  const swapStanzas = (b: Uint8Array): void => {
    const a = b.slice(73, 137);
    b.set(b.slice(137, 201), 73);
    b.set(a, 137);
  };
  const w1t = t(w1);
  const sp = toHex(signer.publicKey);

  type V = Omit<InvalidWrappedKeyVector, 'identity' | 'location'> & { identity?: EncryptionKeyPair; location?: Location };
  const vs: V[] = [
    { code: 'ENVELOPE_MALFORMED', description: 'empty text', text: '' },
    { code: 'ENVELOPE_TOO_LARGE', description: 'one byte over maxBytes (169-byte wrapped key, maxBytes 168), before decoding', text: w1t, maxBytes: 168 },
    { code: 'ENVELOPE_TOO_LARGE', description: 'size is checked before the alphabet: 300 invalid characters with maxBytes 64', text: '!'.repeat(300), maxBytes: 64 },
    { code: 'ENVELOPE_MALFORMED', description: 'unknown version 0x02', text: t(mutate(w3, (b) => (b[0] = 0x02))) },
    { code: 'ENVELOPE_MALFORMED', description: 'envelope suite 0x01 instead of the wrap suite 0x02', text: t(mutate(w3, (b) => (b[1] = 0x01))) },
    { code: 'ENVELOPE_MALFORMED', description: 'reserved flag bit (0x04) set', text: t(mutate(w3, (b) => (b[2] = 0x04))) },
    { code: 'ENVELOPE_MALFORMED', description: 'truncated inside the header (72 bytes)', text: t(w3.slice(0, 72)) },
    { code: 'ENVELOPE_MALFORMED', description: 'recipient count 0', text: t(mutate(w3, (b) => ((b[71] = 0), (b[72] = 0)))) },
    { code: 'ENVELOPE_MALFORMED', description: 'recipient count 2 for 3 stanzas (length does not add up)', text: t(mutate(w3, (b) => (b[72] = 2))) },
    { code: 'ENVELOPE_MALFORMED', description: 'recipient count 4 for 3 stanzas', text: t(mutate(w3, (b) => (b[72] = 4))) },
    { code: 'ENVELOPE_MALFORMED', description: 'trailing zero byte', text: t(concat(w3, new Uint8Array(1))) },
    { code: 'ENVELOPE_MALFORMED', description: 'last byte removed', text: t(w3.slice(0, -1)) },
    { code: 'ENVELOPE_MALFORMED', description: 'first two stanzas swapped (ids no longer ascending)', text: t(mutate(w3, swapStanzas)) },
    { code: 'ENVELOPE_MALFORMED', description: 'first stanza duplicated over the second (ids not strictly ascending)', text: t(mutate(w3, (b) => b.set(b.slice(73, 137), 137))) },
    { code: 'ENVELOPE_MALFORMED', description: 'signed bit cleared on a signed wrapped key (length does not add up)', text: t(mutate(ws, (b) => (b[2] = 0x00))) },
    { code: 'ENVELOPE_MALFORMED', description: 'signed bit set on an unsigned wrapped key', text: t(mutate(w3, (b) => (b[2] = 0x01))) },
    { code: 'ENVELOPE_MALFORMED', description: "'==' padding appended", text: `${w1t}==` },
    { code: 'ENVELOPE_MALFORMED', description: 'trailing newline', text: `${w1t}\n` },
    { code: 'ENVELOPE_MALFORMED', description: 'non-canonical last character (an unused low bit set)', text: setLastBits(w1t, 0x01) },
    { code: 'WRONG_LOCATION', description: 'opened for another owner', text: t(w3), location: { ...LOC_VAULT, ownerId: 'user_bob' } },
    { code: 'WRONG_LOCATION', description: 'opened with an object id it was not wrapped with', text: t(w3), location: { ...LOC_VAULT, objectId: 'vault_1' } },
    { code: 'WRONG_LOCATION', description: 'signed, location tag bit flipped, signer required (location before signature, as for envelopes)', text: t(mutate(ws, (b) => (b[23]! ^= 0x01))), signerPublicKeyHex: sp },
    { code: 'WRONG_LOCATION', description: "signed and intact, opened for another owner against another signer's key (location before signature)", text: t(ws), location: { ...LOC_VAULT, ownerId: 'user_bob' }, signerPublicKeyHex: toHex(otherSigner.publicKey) },
    { code: 'KEY_NOT_FOUND', description: 'identity is not among the recipients', text: t(w3), identity: ids.mallory },
    { code: 'KEY_NOT_FOUND', description: "recipient's stanza key id bit flipped", text: t(mutate(w1, (b) => (b[73]! ^= 0x01))) },
    { code: 'ENVELOPE_TAMPERED', description: "bit flipped in the recipient's own wrapped key", text: t(mutate(w3, (b) => (b[aliceStanza + 20]! ^= 0x01))) },
    { code: 'ENVELOPE_TAMPERED', description: "bit flipped in another recipient's stanza (caught by the MAC)", text: t(mutate(w3, (b) => (b[otherStanza + 20]! ^= 0x01))) },
    { code: 'ENVELOPE_TAMPERED', description: 'MAC bit flipped', text: t(mutate(w3, (b) => (b[b.length - 1]! ^= 0x01))) },
    { code: 'ENVELOPE_TAMPERED', description: 'key id bit flipped in the header (stanza AAD)', text: t(mutate(w3, (b) => (b[3]! ^= 0x01))) },
    { code: 'ENVELOPE_TAMPERED', description: 'key version changed in the header (stanza AAD)', text: t(mutate(w3, (b) => (b[22] = 0x02))) },
    { code: 'ENVELOPE_TAMPERED', description: 'ephemeral public key bit flipped', text: t(mutate(w3, (b) => (b[39]! ^= 0x02))) },
    { code: 'ENVELOPE_TAMPERED', description: 'signer key id bit flipped, no signature required (caught by the MAC)', text: t(mutate(ws, (b) => (b[73 + 128]! ^= 0x01))) },
    {
      code: 'ENVELOPE_TAMPERED',
      description: 'ephemeral public key replaced by zeros (low-order point)',
      text: t(mutate(w3, (b) => b.fill(0, 39, 71))),
    },
    { code: 'SIGNATURE_INVALID', description: 'signature bit flipped', text: t(mutate(ws, (b) => (b[b.length - 1]! ^= 0x01))), signerPublicKeyHex: sp },
    { code: 'SIGNATURE_INVALID', description: 'unsigned wrapped key where a signature is required', text: t(w3), signerPublicKeyHex: sp },
    { code: 'SIGNATURE_INVALID', description: "verified against another signer's public key", text: t(ws), signerPublicKeyHex: toHex(otherSigner.publicKey) },
    { code: 'SIGNATURE_INVALID', description: 'non-canonical signature: S replaced by S + L', text: t(concat(ws.slice(0, -64), malleate(ws.slice(-64)))), signerPublicKeyHex: sp },
  ];
  return vs.map((v) => {
    const { identity, location, ...rest } = v;
    return { ...rest, identity: identityJson(identity ?? ids.alice), location: locationToJson(location ?? LOC_VAULT) };
  });
}

async function checkInvalid(file: InvalidVectorFile, identities: readonly EncryptionKeyPair[]): Promise<void> {
  const problems: string[] = [];
  for (const b of BACKENDS) {
    for (const v of file.envelopes) {
      const key = keyFromJson(v.key);
      const loc = locationFromJson(v.location);
      const opts = v.maxBytes === undefined ? undefined : { maxBytes: v.maxBytes };
      const got = await codeOf(() =>
        v.signerPublicKeyHex === undefined
          ? openEnvelope(b, v.text, key, loc, opts)
          : openVerifiedEnvelope(b, v.text, key, loc, fromHex(v.signerPublicKeyHex), opts),
      );
      if (got !== v.code) problems.push(`[${b.name}] envelope "${v.description}": expected ${v.code}, got ${got}`);
    }
    for (const v of file.wrappedKeys) {
      const identity = identities.find((i) => toHex(i.privateKey) === v.identity.privateKeyHex)!;
      const got = await codeOf(() =>
        unwrapKey(b, v.text, identity, locationFromJson(v.location), v.signerPublicKeyHex === undefined ? undefined : fromHex(v.signerPublicKeyHex), v.maxBytes === undefined ? {} : { maxBytes: v.maxBytes }),
      );
      if (got !== v.code) problems.push(`[${b.name}] wrapped key "${v.description}": expected ${v.code}, got ${got}`);
    }
  }
  if (problems.length > 0) throw new Error(`invalid vectors do not fail as intended:\n  ${problems.join('\n  ')}`);
}

// ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const checkOnly = process.argv.includes('--check');
  const signer = await signingKeyPairFromSeed(nobleBackend, fixedBytes(`${P}signer/ed25519-seed`, 32));
  const otherSigner = await signingKeyPairFromSeed(nobleBackend, RFC8032_TEST1_SEED);
  const identity = (name: string): Promise<EncryptionKeyPair> => encryptionKeyPairFromPrivate(nobleBackend, fixedBytes(`${P}identity/${name}/x25519`, 32));
  const ids = {
    alice: await identity('alice'),
    bob: await identity('bob'),
    carol: await identity('carol'),
    mallory: await identity('mallory'),
    rfcAlice: await encryptionKeyPairFromPrivate(nobleBackend, RFC7748_ALICE_PRIVATE),
    rfcBob: await encryptionKeyPairFromPrivate(nobleBackend, RFC7748_BOB_PRIVATE),
  };
  check(toHex(ids.rfcAlice.publicKey) === '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a', 'RFC 7748 Alice public key');

  const envelopeFile: EnvelopeVectorFile = {
    description:
      'veilgraph envelope v1 known-answer vectors: key ids, location tags, PADMÉ and padded lengths, sealed envelopes. Sealing with the recorded random bytes as the nonce must reproduce each envelope byte for byte.',
    generator: GENERATOR,
    randomAlgorithm: FIXED_RANDOM_ALGORITHM,
    keyIds: await keyIdVectors(signer, { alice: ids.alice, bob: ids.bob, carol: ids.carol, 'RFC 7748 §6.1 Alice': ids.rfcAlice, 'RFC 7748 §6.1 Bob': ids.rfcBob }),
    locationTags: locationTagVectors(),
    padme: padmeVectors(),
    paddedLength: paddedLengthVectors(),
    envelopes: await envelopeVectors(signer),
  };
  const wrapFile: WrapVectorFile = {
    description:
      'veilgraph wrapped-key v1 known-answer vectors. The 32 recorded random bytes are the ephemeral X25519 private key; wrapping with them must reproduce each wrapped key byte for byte, and every recipient must unwrap it.',
    generator: GENERATOR,
    randomAlgorithm: FIXED_RANDOM_ALGORITHM,
    wrapped: await wrapVectors(signer, ids),
  };
  const invalidFile: InvalidVectorFile = {
    description:
      'veilgraph v1 invalid inputs. Envelopes: openEnvelope(text, key, location, {maxBytes}) — or openVerifiedEnvelope with signerPublicKeyHex when present — must throw a CryptoError with exactly `code`. Wrapped keys: unwrapKey(text, identity, location, signerPublicKeyHex?, {maxBytes}) likewise. The first failing check of docs/crypto.md §6/§7 decides the code: size, structure, location, signature (when a signer is required), key, authentication.',
    generator: GENERATOR,
    envelopes: await invalidEnvelopeVectors(signer, otherSigner),
    wrappedKeys: await invalidWrappedKeyVectors(signer, otherSigner, ids),
  };
  await checkInvalid(invalidFile, Object.values(ids));

  const outputs: [string, unknown][] = [
    [ENVELOPE_VECTORS_FILE, envelopeFile],
    [WRAP_VECTORS_FILE, wrapFile],
    [INVALID_VECTORS_FILE, invalidFile],
    [RECOVERY_VECTORS_FILE, await recoveryVectors(GENERATOR)],
  ];
  let stale = false;
  for (const [file, data] of outputs) {
    const path = join(OUT_DIR, file);
    const text = `${JSON.stringify(data, null, 2)}\n`;
    if (checkOnly) {
      let current = '';
      try {
        current = readFileSync(path, 'utf8');
      } catch {
        // missing counts as stale
      }
      if (current !== text) {
        console.error(`${file} is out of date: run npm run vectors`);
        stale = true;
      }
    } else {
      writeFileSync(path, text);
      console.log(`wrote ${path}`);
    }
  }
  if (stale) process.exitCode = 1;
  else if (checkOnly) console.log('vectors are up to date');
}

await main();
