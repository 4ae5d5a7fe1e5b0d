/**
 * @module
 * Wrapped keys, v1: a symmetric key (vault, data or epoch key) encrypted to one or many
 * X25519 recipients, in the spirit of age's recipient stanzas. Specified byte for byte
 * in docs/crypto.md §Wrapped key.
 *
 *   off  len   field
 *   0    1     version        0x01
 *   1    1     suite          0x02 = X25519, HKDF-SHA256, ChaCha20-Poly1305, HMAC-SHA256, Ed25519
 *   2    1     flags          bit 0 = signed; all other bits zero
 *   3    16    keyId          lineage id of the wrapped key
 *   19   4     keyVersion     u32 big-endian
 *   23   16    locationTag    what the key protects (see ./location.ts)
 *   39   32    ephemeral      X25519 public key, fresh per wrap, shared by all stanzas
 *   71   2     count          number of stanzas N, u16 big-endian, 1 ≤ N
 *   73   N×64  stanzas        recipientKeyId (16) ‖ wrapped key (32 + 16 tag), ids strictly ascending
 *   …    16    signerKeyId    only when signed
 *   …    32    mac            HMAC-SHA256(macKey, every byte before it)
 *   …    64    signature      only when signed: Ed25519 over label ‖ every byte before it
 *
 * Per stanza: shared = X25519(ephemeral, recipient); wrapKey = HKDF-SHA256(ikm = shared,
 * salt = ephemeral ‖ recipientPublicKey, info = "veilgraph/v1/wrap", 32); the wrapped key
 * is ChaCha20-Poly1305(wrapKey, nonce = 12 zero bytes, key, aad = bytes 0..73 ‖
 * recipientKeyId). A zero nonce is safe because wrapKey is unique per ephemeral key.
 * macKey = HKDF-SHA256(ikm = key, salt = "", info = "veilgraph/v1/wrap-mac", 32): like
 * age's header MAC it makes every byte, other recipients' stanzas included, tamper-evident
 * to each recipient.
 */
import type { CryptoBackend } from './backend.js';
import { base64urlDecode, base64urlEncode } from './base64url.js';
import { assertBytes, assertObject, concatBytes, equalBytes, readU32, writeU32 } from './bytes.js';
import { CryptoError } from './errors.js';
import { LABEL } from './labels.js';
import {
  KEY_ID_BYTES,
  SYMMETRIC_KEY_BYTES,
  assertEncryptionKeyPair,
  assertSigner,
  assertSymmetricKey,
  keyIdOf,
  keyIdText,
  type EncryptionKeyPair,
  type SigningKeyPair,
  type SymmetricKey,
} from './keys.js';
import { maxBytesOf, maxTextLength, type ParseOptions } from './envelope.js';
import { LOCATION_TAG_BYTES, describeLocation, locationTag, type Location } from './location.js';

export const WRAP_VERSION = 0x01;
export const SUITE_X25519_WRAP = 0x02;
const FLAG_SIGNED = 0x01;
const OFF_KEY_ID = 3;
const OFF_KEY_VERSION = OFF_KEY_ID + KEY_ID_BYTES;
const OFF_LOCATION = OFF_KEY_VERSION + 4;
const OFF_EPHEMERAL = OFF_LOCATION + LOCATION_TAG_BYTES;
const OFF_COUNT = OFF_EPHEMERAL + 32;
export const WRAP_HEADER_BYTES = OFF_COUNT + 2;
export const STANZA_BYTES = KEY_ID_BYTES + SYMMETRIC_KEY_BYTES + 16;
const MAC_BYTES = 32;
const SIGNATURE_BYTES = 64;
const ZERO_NONCE = new Uint8Array(12);
export const MAX_RECIPIENTS = 0xffff;

export interface Recipient {
  readonly keyId: Uint8Array;
  readonly publicKey: Uint8Array;
}

export interface ParsedWrappedKey {
  readonly bytes: Uint8Array;
  readonly signed: boolean;
  readonly keyId: Uint8Array;
  readonly keyVersion: number;
  readonly locationTag: Uint8Array;
  readonly ephemeral: Uint8Array;
  readonly recipientKeyIds: readonly Uint8Array[];
  readonly signerKeyId: Uint8Array | null;
  readonly mac: Uint8Array;
  readonly signature: Uint8Array | null;
}

function decodeText(text: string, options: ParseOptions): Uint8Array {
  const max = maxBytesOf(options);
  if (text.length > maxTextLength(max)) throw new CryptoError('ENVELOPE_TOO_LARGE', `wrapped key text exceeds the limit of ${max} bytes`);
  return base64urlDecode(text);
}

function malformed(why: string): CryptoError {
  return new CryptoError('ENVELOPE_MALFORMED', `wrapped key: ${why}`);
}

function compareIds(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

// Every ParsedWrappedKey this module made (see PARSED in ./envelope.ts).
const PARSED = new WeakSet<ParsedWrappedKey>();

/** Strict structural parse: known version and suite, exact length, stanzas sorted and unique. */
export function parseWrappedKey(bytes: Uint8Array, options: ParseOptions = {}): ParsedWrappedKey {
  assertBytes(bytes, undefined, 'wrapped key');
  const max = maxBytesOf(options);
  if (bytes.length > max) throw new CryptoError('ENVELOPE_TOO_LARGE', `wrapped key: ${bytes.length} bytes exceeds the limit of ${max}`);
  if (bytes.length < WRAP_HEADER_BYTES) throw malformed('too short');
  if (bytes[0] !== WRAP_VERSION) throw malformed(`unsupported version ${bytes[0]}`);
  if (bytes[1] !== SUITE_X25519_WRAP) throw malformed(`unsupported suite ${bytes[1]}`);
  const flags = bytes[2]!;
  if ((flags & ~FLAG_SIGNED) !== 0) throw malformed('reserved flag bits set');
  const signed = (flags & FLAG_SIGNED) !== 0;
  const count = (bytes[OFF_COUNT]! << 8) | bytes[OFF_COUNT + 1]!;
  if (count === 0) throw malformed('no recipients');
  const stanzasEnd = WRAP_HEADER_BYTES + count * STANZA_BYTES;
  const expected = stanzasEnd + (signed ? KEY_ID_BYTES : 0) + MAC_BYTES + (signed ? SIGNATURE_BYTES : 0);
  if (bytes.length !== expected) throw malformed(bytes.length < expected ? 'too short' : 'trailing bytes');
  const ids: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const o = WRAP_HEADER_BYTES + i * STANZA_BYTES;
    const id = bytes.subarray(o, o + KEY_ID_BYTES);
    if (i > 0 && compareIds(ids[i - 1]!, id) >= 0) throw malformed('recipient ids not strictly ascending');
    ids.push(id);
  }
  const macStart = stanzasEnd + (signed ? KEY_ID_BYTES : 0);
  const parsed: ParsedWrappedKey = {
    bytes,
    signed,
    keyId: bytes.subarray(OFF_KEY_ID, OFF_KEY_ID + KEY_ID_BYTES),
    keyVersion: readU32(bytes, OFF_KEY_VERSION),
    locationTag: bytes.subarray(OFF_LOCATION, OFF_LOCATION + LOCATION_TAG_BYTES),
    ephemeral: bytes.subarray(OFF_EPHEMERAL, OFF_EPHEMERAL + 32),
    recipientKeyIds: ids,
    signerKeyId: signed ? bytes.subarray(stanzasEnd, macStart) : null,
    mac: bytes.subarray(macStart, macStart + MAC_BYTES),
    signature: signed ? bytes.subarray(macStart + MAC_BYTES) : null,
  };
  PARSED.add(parsed);
  return parsed;
}

function wrapKeyFor(backend: CryptoBackend, shared: Uint8Array, ephemeral: Uint8Array, recipientPublicKey: Uint8Array): Uint8Array {
  return backend.hkdfSha256(shared, concatBytes(ephemeral, recipientPublicKey), LABEL.wrap, 32);
}

function assertRecipient(backend: CryptoBackend, r: Recipient): void {
  assertObject(r, 'recipient');
  assertBytes(r.keyId, KEY_ID_BYTES, 'recipient key id');
  assertBytes(r.publicKey, 32, 'recipient public key');
  // The id is recomputed, never trusted: a stanza labelled for one key but encrypted to another would be unopenable.
  if (!equalBytes(r.keyId, keyIdOf(backend, 'x25519', r.publicKey))) {
    throw new CryptoError('INVALID_ARGUMENT', 'recipient key id does not match its public key');
  }
}

function macKeyFor(backend: CryptoBackend, key: Uint8Array): Uint8Array {
  return backend.hkdfSha256(key, new Uint8Array(0), LABEL.wrapMac, 32);
}

/**
 * Wraps `key` for every recipient. Costs one X25519 key generation plus one X25519
 * exchange per recipient; callers wrap only when a key changes, never per field.
 */
export async function wrapKey(
  backend: CryptoBackend,
  key: SymmetricKey,
  location: Location,
  recipients: readonly Recipient[],
  signer?: SigningKeyPair,
): Promise<Uint8Array> {
  assertSymmetricKey(key);
  if (signer !== undefined) assertSigner(signer);
  if (!Array.isArray(recipients)) throw new CryptoError('INVALID_ARGUMENT', 'recipients must be a list');
  if (recipients.length === 0) throw new CryptoError('INVALID_ARGUMENT', 'wrapKey needs at least one recipient');
  if (recipients.length > MAX_RECIPIENTS) throw new CryptoError('INVALID_ARGUMENT', `at most ${MAX_RECIPIENTS} recipients per wrapped key`);
  for (const r of recipients) assertRecipient(backend, r);
  const sorted = [...recipients].sort((a, b) => compareIds(a.keyId, b.keyId));
  for (let i = 1; i < sorted.length; i++) {
    if (compareIds(sorted[i - 1]!.keyId, sorted[i]!.keyId) === 0) throw new CryptoError('INVALID_ARGUMENT', 'duplicate recipient');
  }
  const ephemeralPrivate = backend.randomBytes(32);
  const ephemeral = await backend.x25519PublicKey(ephemeralPrivate);
  const header = new Uint8Array(WRAP_HEADER_BYTES);
  header[0] = WRAP_VERSION;
  header[1] = SUITE_X25519_WRAP;
  header[2] = signer ? FLAG_SIGNED : 0;
  header.set(key.id, OFF_KEY_ID);
  writeU32(header, OFF_KEY_VERSION, key.version);
  header.set(locationTag(backend, location), OFF_LOCATION);
  header.set(ephemeral, OFF_EPHEMERAL);
  header[OFF_COUNT] = sorted.length >> 8;
  header[OFF_COUNT + 1] = sorted.length & 0xff;

  const parts: Uint8Array[] = [header];
  try {
    for (const r of sorted) {
      const shared = await backend.x25519(ephemeralPrivate, r.publicKey);
      const wk = wrapKeyFor(backend, shared, ephemeral, r.publicKey);
      parts.push(r.keyId, backend.chacha20poly1305Seal(wk, ZERO_NONCE, key.bytes, concatBytes(header, r.keyId)));
      shared.fill(0);
      wk.fill(0);
    }
  } finally {
    ephemeralPrivate.fill(0);
  }
  if (signer) parts.push(signer.keyId);
  const macKey = macKeyFor(backend, key.bytes);
  const body = concatBytes(...parts);
  const withMac = concatBytes(body, backend.hmacSha256(macKey, body));
  macKey.fill(0);
  if (!signer) return withMac;
  return concatBytes(withMac, await backend.ed25519Sign(signer.seed, concatBytes(LABEL.wrapSignature, withMac)));
}

/**
 * Wraps `key` for each recipient separately: one single-stanza wrapped key per recipient, in
 * the order given, each exactly as `wrapKey(backend, key, location, [recipient])` makes it,
 * except that all of them carry the same ephemeral key, generated for this call and erased
 * after it. That is the sharing a multi-recipient wrap already does (each stanza's wrapKey
 * is unique per ephemeral key *and* recipient, so the zero nonce stays safe: the same
 * recipient twice is refused), split into objects a server can store per recipient (an
 * epoch key for each member). Costs one X25519 key generation in all, one exchange per
 * recipient. Unsigned.
 */
export async function wrapKeyEach(backend: CryptoBackend, key: SymmetricKey, location: Location, recipients: readonly Recipient[]): Promise<Uint8Array[]> {
  assertSymmetricKey(key);
  if (!Array.isArray(recipients)) throw new CryptoError('INVALID_ARGUMENT', 'recipients must be a list');
  const seen = new Set<string>();
  for (const r of recipients) {
    assertRecipient(backend, r);
    const id = base64urlEncode(r.keyId);
    if (seen.has(id)) throw new CryptoError('INVALID_ARGUMENT', 'duplicate recipient');
    seen.add(id);
  }
  const tag = locationTag(backend, location);
  if (recipients.length === 0) return [];
  const ephemeralPrivate = backend.randomBytes(32);
  const ephemeral = await backend.x25519PublicKey(ephemeralPrivate);
  const header = new Uint8Array(WRAP_HEADER_BYTES);
  header[0] = WRAP_VERSION;
  header[1] = SUITE_X25519_WRAP;
  header[2] = 0;
  header.set(key.id, OFF_KEY_ID);
  writeU32(header, OFF_KEY_VERSION, key.version);
  header.set(tag, OFF_LOCATION);
  header.set(ephemeral, OFF_EPHEMERAL);
  header[OFF_COUNT] = 0;
  header[OFF_COUNT + 1] = 1;
  const macKey = macKeyFor(backend, key.bytes);
  const out: Uint8Array[] = [];
  try {
    for (const r of recipients) {
      const shared = await backend.x25519(ephemeralPrivate, r.publicKey);
      const wk = wrapKeyFor(backend, shared, ephemeral, r.publicKey);
      const body = concatBytes(header, r.keyId, backend.chacha20poly1305Seal(wk, ZERO_NONCE, key.bytes, concatBytes(header, r.keyId)));
      shared.fill(0);
      wk.fill(0);
      out.push(concatBytes(body, backend.hmacSha256(macKey, body)));
    }
  } finally {
    ephemeralPrivate.fill(0);
    macKey.fill(0);
  }
  return out;
}

/**
 * Opens the stanza for `identity`. Checks, in order (docs/crypto.md §7): size
 * (ENVELOPE_TOO_LARGE), structure (ENVELOPE_MALFORMED), location (WRONG_LOCATION), with
 * `signerPublicKey` a valid signature by that key (SIGNATURE_INVALID), a stanza for this
 * recipient (KEY_NOT_FOUND), the stanza's AEAD and the MAC over the whole structure
 * (ENVELOPE_TAMPERED): the order signed envelopes are opened in too. Arguments of the
 * wrong type are INVALID_ARGUMENT.
 */
export async function unwrapKey(
  backend: CryptoBackend,
  input: Uint8Array | string,
  identity: EncryptionKeyPair,
  location: Location,
  signerPublicKey?: Uint8Array,
  options: ParseOptions = {},
): Promise<SymmetricKey> {
  assertEncryptionKeyPair(identity);
  const w = parseWrappedKey(typeof input === 'string' ? decodeText(input, options) : input, options);
  if (!equalBytes(w.locationTag, locationTag(backend, location))) {
    throw new CryptoError('WRONG_LOCATION', `wrapped key is not for ${describeLocation(location)}`);
  }
  if (signerPublicKey != null) await verifyWrapSignature(backend, w, signerPublicKey);
  const index = w.recipientKeyIds.findIndex((id) => equalBytes(id, identity.keyId));
  if (index < 0) throw new CryptoError('KEY_NOT_FOUND', `wrapped key has no stanza for recipient ${keyIdText(identity.keyId)}`);
  const o = WRAP_HEADER_BYTES + index * STANZA_BYTES;
  const header = w.bytes.subarray(0, WRAP_HEADER_BYTES);
  let shared: Uint8Array;
  try {
    shared = await backend.x25519(identity.privateKey, w.ephemeral);
  } catch (cause) {
    // Only a changed ephemeral key can be of low order: report it as tampering.
    throw new CryptoError('ENVELOPE_TAMPERED', 'wrapped key has an invalid ephemeral key', { cause });
  }
  const wk = wrapKeyFor(backend, shared, w.ephemeral, identity.publicKey);
  const bytes = backend.chacha20poly1305Open(wk, ZERO_NONCE, w.bytes.subarray(o + KEY_ID_BYTES, o + STANZA_BYTES), concatBytes(header, identity.keyId));
  shared.fill(0);
  wk.fill(0);
  if (!bytes) throw new CryptoError('ENVELOPE_TAMPERED', 'wrapped key failed authentication');
  const macKey = macKeyFor(backend, bytes);
  const macEnd = w.bytes.length - (w.signed ? SIGNATURE_BYTES : 0) - MAC_BYTES;
  const ok = equalBytes(backend.hmacSha256(macKey, w.bytes.subarray(0, macEnd)), w.mac);
  macKey.fill(0);
  if (!ok) {
    bytes.fill(0);
    throw new CryptoError('ENVELOPE_TAMPERED', 'wrapped key MAC does not verify');
  }
  return { id: w.keyId.slice(), version: w.keyVersion, bytes };
}

/** Verifies the granter's signature on a wrapped key; needs no private key. */
export async function verifyWrapSignature(backend: CryptoBackend, input: Uint8Array | ParsedWrappedKey, signerPublicKey: Uint8Array): Promise<ParsedWrappedKey> {
  let w: ParsedWrappedKey;
  if (input instanceof Uint8Array) w = parseWrappedKey(input);
  else if (typeof input === 'object' && input !== null && PARSED.has(input)) w = input;
  else throw new CryptoError('INVALID_ARGUMENT', 'wrapped key must be bytes or a ParsedWrappedKey from parseWrappedKey');
  assertBytes(signerPublicKey, 32, 'signer public key');
  if (!w.signed || !w.signerKeyId || !w.signature) throw new CryptoError('SIGNATURE_INVALID', 'wrapped key is not signed');
  if (!equalBytes(w.signerKeyId, keyIdOf(backend, 'ed25519', signerPublicKey))) {
    throw new CryptoError('SIGNATURE_INVALID', `wrapped key is signed by key ${keyIdText(w.signerKeyId)}, not the expected signer`);
  }
  const body = w.bytes.subarray(0, w.bytes.length - SIGNATURE_BYTES);
  if (!(await backend.ed25519Verify(signerPublicKey, concatBytes(LABEL.wrapSignature, body), w.signature))) {
    throw new CryptoError('SIGNATURE_INVALID', 'wrapped key signature does not verify');
  }
  return w;
}

export function wrappedKeyToText(bytes: Uint8Array): string {
  assertBytes(bytes, undefined, 'wrapped key');
  return base64urlEncode(bytes);
}
