/**
 * @module
 * The sealed-value envelope, v1: what a SHARED or PRIVATE field (and a message body)
 * holds on the wire and at rest. Specified byte for byte in docs/crypto.md §Envelope.
 *
 *   off  len  field
 *   0    1    version      0x01
 *   1    1    suite        0x01 = XChaCha20-Poly1305, SHA-256, Ed25519
 *   2    1    flags        bit 0 = signed; all other bits zero
 *   3    16   keyId        lineage id of the symmetric key
 *   19   4    keyVersion   u32 big-endian
 *   23   16   locationTag  see ./location.ts
 *   39   24   nonce        random
 *   63   16   signerKeyId  only when signed: key id of the signer's Ed25519 key
 *   H    n    ciphertext   AEAD(padded plaintext), n ≥ 17 (1 padding byte + 16 tag)
 *   H+n  64   signature    only when signed
 *
 * AEAD associated data = the header (bytes 0..H) ‖ the full location encoding, so version,
 * suite, flags, key id and version, the location and the signer's id are all
 * authenticated; the tag in the header lets anyone without the key (the server) check
 * where an envelope belongs. The signature (when
 * present) is Ed25519 over "veilgraph/v1/envelope-signature" ‖ 0x00 ‖ bytes 0..H+n:
 * encrypt-then-sign, verifiable by anyone (the server included) without the key, while
 * the signer id inside the AEAD means nobody without the key can re-sign a ciphertext as
 * their own.
 */
import type { CryptoBackend } from './backend.js';
import { base64urlDecode, base64urlEncode } from './base64url.js';
import { assertBytes, equalBytes, readU32, utf8Decode, utf8Encode, writeU32 } from './bytes.js';
import { CryptoError } from './errors.js';
import { LABEL } from './labels.js';
import { KEY_ID_BYTES, SymmetricKeyRing, assertSigner, assertSymmetricKey, keyIdOf, keyIdText, lookupKey, type KeySource, type SigningKeyPair, type SymmetricKey } from './keys.js';
import { LOCATION_TAG_BYTES, describeLocation, locationTag, prefixedLocationInput, type Location } from './location.js';
import { PADDING_PADME, assertPaddingPolicy, pad, padInto, paddedLengthUnchecked, unpad, type PaddingPolicy } from './padding.js';
import { concatBytes } from './bytes.js';
import { Scratch } from './scratch.js';

export const ENVELOPE_VERSION = 0x01;
export const SUITE_XCHACHA20POLY1305 = 0x01;
export const FLAG_SIGNED = 0x01;
export const NONCE_BYTES = 24;
export const TAG_BYTES = 16;
export const SIGNATURE_BYTES = 64;
/** Header length without and with the signer's key id. */
export const HEADER_BYTES = 3 + KEY_ID_BYTES + 4 + LOCATION_TAG_BYTES + NONCE_BYTES;
export const SIGNED_HEADER_BYTES = HEADER_BYTES + KEY_ID_BYTES;
/** Smallest possible ciphertext: the padding marker plus the tag. */
export const MIN_CIPHERTEXT_BYTES = 1 + TAG_BYTES;
/** Default upper bound on one envelope (binary), enforced before any decoding. */
export const DEFAULT_MAX_ENVELOPE_BYTES = 1024 * 1024;

const OFF_KEY_ID = 3;
const OFF_KEY_VERSION = OFF_KEY_ID + KEY_ID_BYTES;
const OFF_LOCATION = OFF_KEY_VERSION + 4;
const OFF_NONCE = OFF_LOCATION + LOCATION_TAG_BYTES;

export interface ParsedEnvelope {
  readonly bytes: Uint8Array;
  readonly signed: boolean;
  readonly keyId: Uint8Array;
  readonly keyVersion: number;
  readonly locationTag: Uint8Array;
  readonly nonce: Uint8Array;
  readonly signerKeyId: Uint8Array | null;
  /** Bytes 0..H (the AEAD's associated data, followed by the location encoding). */
  readonly header: Uint8Array;
  readonly ciphertext: Uint8Array;
  readonly signature: Uint8Array | null;
}

export interface SealOptions {
  /** How to hide the plaintext length. Default: PADMÉ. */
  readonly padding?: PaddingPolicy;
}

export interface ParseOptions {
  /** Largest accepted envelope in bytes (binary). Default 1 MiB. */
  readonly maxBytes?: number;
}

function malformed(why: string): CryptoError {
  return new CryptoError('ENVELOPE_MALFORMED', `envelope: ${why}`);
}

// Every ParsedEnvelope this module made is one of these. The openers take one in place of
// bytes or text only when it carries the private brand: an object of the same shape built
// elsewhere never passed the structural checks (and its fields may not even be bytes), and
// a class-private field cannot be added to another object or copied. (A WeakSet did the
// same at ~1–3 µs per add under GC, as much as libsodium's open of 1 KiB.)
class Parsed implements ParsedEnvelope {
  readonly #brand = true;
  constructor(
    readonly bytes: Uint8Array,
    readonly signed: boolean,
    readonly keyId: Uint8Array,
    readonly keyVersion: number,
    readonly locationTag: Uint8Array,
    readonly nonce: Uint8Array,
    readonly signerKeyId: Uint8Array | null,
    readonly header: Uint8Array,
    readonly ciphertext: Uint8Array,
    readonly signature: Uint8Array | null,
  ) {}

  static made(v: object): v is Parsed {
    return #brand in v;
  }
}

// Reused memory for the open path (./scratch.ts): the decoded text, the associated data,
// the plaintext where the caller consumes it before the call returns.
const decoded = new Scratch();
const aadScratch = new Scratch();
const plain = new Scratch();
const takeAad = (n: number): Uint8Array => aadScratch.take(n);
const takeDecoded = (n: number): Uint8Array => decoded.take(n);
// The same for seals: the header and associated data, and sealEnvelopeText's bytes.
const sealAad = new Scratch();
const sealOut = new Scratch();
const takeSealAad = (n: number): Uint8Array => sealAad.take(n);

// Options are plain objects: an array or a buffer passed in their place is a caller's mistake.
function isPlainObject(v: unknown): boolean {
  return Object.prototype.toString.call(v) === '[object Object]';
}

/** The size limit `options` set (default 1 MiB); INVALID_ARGUMENT for anything but a non-negative integer. */
export function maxBytesOf(options: ParseOptions | undefined): number {
  if (options === undefined) return DEFAULT_MAX_ENVELOPE_BYTES;
  if (!isPlainObject(options)) throw new CryptoError('INVALID_ARGUMENT', 'options must be an object');
  const max = options.maxBytes ?? DEFAULT_MAX_ENVELOPE_BYTES;
  if (!Number.isSafeInteger(max) || max < 0) throw new CryptoError('INVALID_ARGUMENT', 'maxBytes must be a non-negative integer');
  return max;
}

/** The text length that can hold an envelope of `maxBytes` bytes, for a check before decoding. */
export function maxTextLength(maxBytes: number): number {
  return Math.ceil((maxBytes * 4) / 3);
}

/**
 * Strict structural parse, no cryptography: the version and suite are known, reserved
 * flag bits are zero, the lengths add up exactly, nothing trails. Cheap enough for a
 * server to run on every write.
 */
export function parseEnvelope(bytes: Uint8Array, options: ParseOptions = {}): ParsedEnvelope {
  assertBytes(bytes, undefined, 'envelope');
  const max = maxBytesOf(options);
  if (bytes.length > max) throw new CryptoError('ENVELOPE_TOO_LARGE', `envelope: ${bytes.length} bytes exceeds the limit of ${max}`);
  if (bytes.length < HEADER_BYTES + MIN_CIPHERTEXT_BYTES) throw malformed('too short');
  if (bytes[0] !== ENVELOPE_VERSION) throw malformed(`unsupported version ${bytes[0]}`);
  if (bytes[1] !== SUITE_XCHACHA20POLY1305) throw malformed(`unsupported suite ${bytes[1]}`);
  const flags = bytes[2]!;
  if ((flags & ~FLAG_SIGNED) !== 0) throw malformed('reserved flag bits set');
  const signed = (flags & FLAG_SIGNED) !== 0;
  const headerLen = signed ? SIGNED_HEADER_BYTES : HEADER_BYTES;
  const trailer = signed ? SIGNATURE_BYTES : 0;
  if (bytes.length < headerLen + MIN_CIPHERTEXT_BYTES + trailer) throw malformed('too short');
  const ctEnd = bytes.length - trailer;
  return new Parsed(
    bytes,
    signed,
    bytes.subarray(OFF_KEY_ID, OFF_KEY_ID + KEY_ID_BYTES),
    readU32(bytes, OFF_KEY_VERSION),
    bytes.subarray(OFF_LOCATION, OFF_LOCATION + LOCATION_TAG_BYTES),
    bytes.subarray(OFF_NONCE, OFF_NONCE + NONCE_BYTES),
    signed ? bytes.subarray(HEADER_BYTES, SIGNED_HEADER_BYTES) : null,
    bytes.subarray(0, headerLen),
    bytes.subarray(headerLen, ctEnd),
    signed ? bytes.subarray(ctEnd) : null,
  );
}

/** Decodes the text form (strict base64url) and parses it; checks the size before decoding. */
export function parseEnvelopeText(text: string, options: ParseOptions = {}): ParsedEnvelope {
  return parseEnvelopeTextInto(text, newBytes, options);
}

/**
 * `parseEnvelopeText` decoding into memory from `alloc` (which must hand out memory no one
 * else uses while the envelope lives): the client decodes all envelopes of one result into
 * shared slabs instead of one buffer each (src/client/open.ts).
 */
export function parseEnvelopeTextInto(text: string, alloc: (n: number) => Uint8Array, options: ParseOptions = {}): ParsedEnvelope {
  if (typeof text !== 'string') throw malformed('expected a string');
  const max = maxBytesOf(options);
  if (text.length > maxTextLength(max)) throw new CryptoError('ENVELOPE_TOO_LARGE', `envelope text exceeds the limit of ${max} bytes`);
  return parseEnvelope(base64urlDecode(text, alloc), options);
}

function newBytes(n: number): Uint8Array {
  return new Uint8Array(n);
}

/**
 * `parseEnvelopeTextInto` without the ParsedEnvelope: the same checks and errors, returning
 * the decoded bytes (in memory from `alloc`), which `openWith` opens without parsing them
 * into objects again. The client decodes every field of a result this way (src/client/open.ts).
 */
export function decodeEnvelopeTextInto(text: string, alloc: (n: number) => Uint8Array, options?: ParseOptions): Uint8Array {
  if (typeof text !== 'string') throw malformed('expected a string');
  const max = maxBytesOf(options);
  if (text.length > maxTextLength(max)) throw new CryptoError('ENVELOPE_TOO_LARGE', `envelope text exceeds the limit of ${max} bytes`);
  const bytes = base64urlDecode(text, alloc);
  if (!wellFormedHead(bytes, max)) parseEnvelope(bytes, options);
  return bytes;
}

/**
 * parseEnvelope's checks on bytes that are a Uint8Array: true when all pass. When false,
 * parseEnvelope on the same bytes throws the error that says why.
 */
function wellFormedHead(bytes: Uint8Array, max: number): boolean {
  const n = bytes.length;
  const flags = bytes[2];
  const signed = flags === FLAG_SIGNED;
  return (
    n <= max &&
    n >= (signed ? SIGNED_HEADER_BYTES + SIGNATURE_BYTES : HEADER_BYTES) + MIN_CIPHERTEXT_BYTES &&
    bytes[0] === ENVELOPE_VERSION &&
    bytes[1] === SUITE_XCHACHA20POLY1305 &&
    (signed || flags === 0)
  );
}

/** Key id (a view) and version named in the header of bytes `decodeEnvelopeTextInto` accepted. */
export function envelopeKeyOf(bytes: Uint8Array): { readonly keyId: Uint8Array; readonly keyVersion: number; readonly signed: boolean } {
  return { keyId: bytes.subarray(OFF_KEY_ID, OFF_KEY_ID + KEY_ID_BYTES), keyVersion: readU32(bytes, OFF_KEY_VERSION), signed: bytes[2] === FLAG_SIGNED };
}

/**
 * A bump allocator over slabs of `slabBytes`: one allocation for many envelopes that live
 * and die together (the fields of one result). Each view is handed out once and never
 * reused; requests above a quarter slab get their own buffer.
 */
export class Slab {
  private slab = new Uint8Array(0);
  private at = 0;
  constructor(private readonly slabBytes = 256 * 1024) {}

  readonly alloc = (n: number): Uint8Array => {
    if (n > this.slabBytes / 4) return new Uint8Array(n);
    if (this.at + n > this.slab.length) {
      this.slab = new Uint8Array(this.slabBytes);
      this.at = 0;
    }
    const view = this.slab.subarray(this.at, this.at + n);
    this.at += n;
    return view;
  };
}

function toParsed(input: string | Uint8Array | ParsedEnvelope, options?: ParseOptions): ParsedEnvelope {
  if (typeof input === 'string') return parseEnvelopeText(input, options);
  if (input instanceof Uint8Array) return parseEnvelope(input, options);
  if (typeof input === 'object' && input !== null && Parsed.made(input)) return input;
  throw new CryptoError('INVALID_ARGUMENT', 'envelope must be text, bytes or a ParsedEnvelope from parseEnvelope');
}

// Zeros the length of each header: the header is built in place inside the AAD buffer.
const BLANK_HEADER = new Uint8Array(HEADER_BYTES);
const BLANK_SIGNED_HEADER = new Uint8Array(SIGNED_HEADER_BYTES);

/**
 * The header and the AEAD's associated data (header ‖ full location encoding, see
 * docs/crypto.md §6) in one buffer: the header is written in place at its start, so the
 * location is encoded once and hashed for the tag from the same bytes.
 */
function headerAndAad(backend: CryptoBackend, key: SymmetricKey, location: Location, signerKeyId: Uint8Array | null): { header: Uint8Array; aad: Uint8Array } {
  const headerLen = signerKeyId ? SIGNED_HEADER_BYTES : HEADER_BYTES;
  // In reused memory (every byte is written): the caller releases it once sealed.
  const aad = prefixedLocationInput(signerKeyId ? BLANK_SIGNED_HEADER : BLANK_HEADER, location, takeSealAad);
  try {
    return { header: writeHeader(backend, key, aad, headerLen, signerKeyId), aad };
  } catch (e) {
    sealAad.release(aad, false);
    throw e;
  }
}

function writeHeader(backend: CryptoBackend, key: SymmetricKey, aad: Uint8Array, headerLen: number, signerKeyId: Uint8Array | null): Uint8Array {
  const header = aad.subarray(0, headerLen);
  header[0] = ENVELOPE_VERSION;
  header[1] = SUITE_XCHACHA20POLY1305;
  header[2] = signerKeyId ? FLAG_SIGNED : 0;
  header.set(key.id, OFF_KEY_ID);
  writeU32(header, OFF_KEY_VERSION, key.version);
  // = locationTag(backend, location): the hash input is the encoding right after the header.
  header.set(backend.sha256(aad.subarray(headerLen)).subarray(0, LOCATION_TAG_BYTES), OFF_LOCATION);
  const nonce = header.subarray(OFF_NONCE, OFF_NONCE + NONCE_BYTES);
  if (backend.fillNonce) backend.fillNonce(nonce);
  else nonce.set(backend.randomBytes(NONCE_BYTES));
  if (signerKeyId) header.set(signerKeyId, HEADER_BYTES);
  return header;
}

/**
 * header ‖ AEAD(padded plaintext) in one buffer from `alloc`; releases the AAD (reused
 * memory from `headerAndAad`) in every case.
 */
function encrypt(backend: CryptoBackend, key: SymmetricKey, header: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, padding: PaddingPolicy, alloc: (n: number) => Uint8Array): Uint8Array {
  try {
    return encryptWith(backend, key, header, aad, plaintext, padding, alloc);
  } finally {
    sealAad.release(aad, false);
  }
}

function encryptWith(backend: CryptoBackend, key: SymmetricKey, header: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, padding: PaddingPolicy, alloc: (n: number) => Uint8Array): Uint8Array {
  if (backend.xchacha20poly1305SealInPlace) {
    // One buffer: header, then the padded plaintext, sealed in place (no padded copy, no
    // separate ciphertext). The plaintext is overwritten by the ciphertext; if sealing
    // throws, the buffer is wiped before the error leaves.
    const paddedLen = paddedLengthUnchecked(plaintext.length, padding);
    const out = alloc(header.length + paddedLen + TAG_BYTES);
    out.set(header, 0);
    padInto(plaintext, out, header.length, paddedLen);
    try {
      backend.xchacha20poly1305SealInPlace(key.bytes, header.subarray(OFF_NONCE, OFF_NONCE + NONCE_BYTES), out.subarray(header.length), aad);
    } catch (e) {
      out.fill(0);
      throw e;
    }
    return out;
  }
  const padded = pad(plaintext, padding);
  const nonce = header.subarray(OFF_NONCE, OFF_NONCE + NONCE_BYTES);
  const ct = backend.xchacha20poly1305Seal(key.bytes, nonce, padded, aad);
  padded.fill(0);
  const out = alloc(header.length + ct.length);
  out.set(header, 0);
  out.set(ct, header.length);
  return out;
}

function prepare(key: SymmetricKey, plaintext: string | Uint8Array, options: SealOptions): { pt: Uint8Array; padding: PaddingPolicy } {
  assertSymmetricKey(key);
  if (!isPlainObject(options)) throw new CryptoError('INVALID_ARGUMENT', 'seal options must be an object');
  const padding = options.padding ?? PADDING_PADME;
  assertPaddingPolicy(padding);
  const pt = typeof plaintext === 'string' ? utf8Encode(plaintext) : plaintext;
  assertBytes(pt, undefined, 'plaintext');
  return { pt, padding };
}

/** Seals without a signature. Synchronous: the per-field hot path. */
export function sealEnvelope(backend: CryptoBackend, key: SymmetricKey, location: Location, plaintext: string | Uint8Array, options: SealOptions = {}): Uint8Array {
  return sealInto(backend, key, location, plaintext, options, newBytes);
}

function sealInto(backend: CryptoBackend, key: SymmetricKey, location: Location, plaintext: string | Uint8Array, options: SealOptions, alloc: (n: number) => Uint8Array): Uint8Array {
  const { pt, padding } = prepare(key, plaintext, options);
  const { header, aad } = headerAndAad(backend, key, location, null);
  return encrypt(backend, key, header, aad, pt, padding, alloc);
}

/** Seals and signs with the writer's Ed25519 key (encrypt-then-sign, see the module comment). */
export async function sealSignedEnvelope(
  backend: CryptoBackend,
  key: SymmetricKey,
  location: Location,
  plaintext: string | Uint8Array,
  signer: SigningKeyPair,
  options: SealOptions = {},
): Promise<Uint8Array> {
  const { pt, padding } = prepare(key, plaintext, options);
  assertSigner(signer);
  const { header, aad } = headerAndAad(backend, key, location, signer.keyId);
  const body = encrypt(backend, key, header, aad, pt, padding, newBytes);
  const signature = await backend.ed25519Sign(signer.seed, concatBytes(LABEL.envelopeSignature, body));
  return concatBytes(body, signature);
}

export interface OpenedEnvelope {
  readonly plaintext: Uint8Array;
  /**
   * Key id of the signer named in the header, or null when unsigned. Authenticated by
   * the AEAD (only a key holder can have set it) but not proof of authorship: use
   * `openVerifiedEnvelope` for that.
   */
  readonly signerKeyId: Uint8Array | null;
}

/**
 * Opens an envelope sealed for `location` with a key from `keys`. Checks, in order
 * (docs/crypto.md §6): size (ENVELOPE_TOO_LARGE), structure (ENVELOPE_MALFORMED),
 * location (WRONG_LOCATION), key id and version (KEY_NOT_FOUND / KEY_VERSION_MISMATCH),
 * authentication (ENVELOPE_TAMPERED), padding (ENVELOPE_MALFORMED). Does not verify a
 * signature: `openVerifiedEnvelope` does. Arguments of the wrong type are INVALID_ARGUMENT.
 */
export function openEnvelope(
  backend: CryptoBackend,
  input: string | Uint8Array | ParsedEnvelope,
  keys: KeySource,
  location: Location,
  options?: ParseOptions,
): OpenedEnvelope {
  return openWith(backend, input, keys, location, options, false, opened);
}

function opened(plaintext: Uint8Array, signerKeyId: Uint8Array | null): OpenedEnvelope {
  return { plaintext, signerKeyId };
}

/**
 * The open path shared by `openEnvelope`, `openEnvelopeText` and the client's result
 * opening: checks as `openEnvelope` documents, then hands the unpadded plaintext and the
 * signer id to `use` and returns what it returns.
 *
 * `transient` says `use` copies what it keeps (decodes it to a string, say) and keeps no
 * reference to the plaintext: it may then be opened into reusable memory, which is wiped
 * as soon as `use` returns. Text input is decoded into reusable memory in every case, so
 * `use` gets a copy of the signer id.
 */
export function openWith<T>(
  backend: CryptoBackend,
  input: string | Uint8Array | ParsedEnvelope,
  keys: KeySource,
  location: Location,
  options: ParseOptions | undefined,
  transient: boolean,
  use: (plaintext: Uint8Array, signerKeyId: Uint8Array | null) => T,
): T {
  if (!(keys instanceof SymmetricKeyRing)) assertSymmetricKey(keys);
  if (input instanceof Uint8Array) return openBytes(backend, input, keys, location, options, transient, use, false);
  if (typeof input !== 'string') return openParsed(backend, toParsed(input, options), keys, location, transient, use, false);
  // Text: the checks of parseEnvelopeText, decoding into reused memory (nothing returned
  // or thrown refers to it: the signer id is copied).
  const max = maxBytesOf(options);
  if (input.length > maxTextLength(max)) throw new CryptoError('ENVELOPE_TOO_LARGE', `envelope text exceeds the limit of ${max} bytes`);
  let bytes: Uint8Array | undefined;
  try {
    bytes = base64urlDecode(input, takeDecoded);
    return openBytes(backend, bytes, keys, location, options, transient, use, true);
  } finally {
    if (bytes) decoded.release(bytes, false);
  }
}

/**
 * `openParsed(parseEnvelope(bytes))` without the ParsedEnvelope on the success path: the
 * structure is checked and the header read at fixed offsets, and only the views the AEAD
 * needs are made (a ParsedEnvelope is eleven objects, a fifth of an open of 1 KiB). Anything
 * that is not a well-formed envelope for a key in `keys` goes the general way instead
 * (parseEnvelope, then openParsed), which reports the same error in the same order
 * (docs/crypto.md §6); so does a failed authentication, for its location check.
 */
function openBytes<T>(
  backend: CryptoBackend,
  bytes: Uint8Array,
  keys: KeySource,
  location: Location,
  options: ParseOptions | undefined,
  transient: boolean,
  use: (plaintext: Uint8Array, signerKeyId: Uint8Array | null) => T,
  copySigner: boolean,
): T {
  const n = bytes.length;
  const signed = bytes[2] === FLAG_SIGNED;
  const headerLen = signed ? SIGNED_HEADER_BYTES : HEADER_BYTES;
  const trailer = signed ? SIGNATURE_BYTES : 0;
  const key = wellFormedHead(bytes, maxBytesOf(options)) ? keyFor(keys, bytes) : undefined;
  if (key === undefined) return openParsed(backend, parseEnvelope(bytes, options), keys, location, transient, use, copySigner);
  const signer = signed ? (copySigner ? bytes.slice(HEADER_BYTES, SIGNED_HEADER_BYTES) : bytes.subarray(HEADER_BYTES, SIGNED_HEADER_BYTES)) : null;
  const nonce = bytes.subarray(OFF_NONCE, OFF_NONCE + NONCE_BYTES);
  const ciphertext = bytes.subarray(headerLen, n - trailer);
  const aad = prefixedLocationInput(bytes, location, takeAad, headerLen);
  let padded: Uint8Array | null;
  let scratch: Uint8Array | undefined;
  try {
    if (transient && backend.xchacha20poly1305OpenInto) {
      scratch = plain.take(ciphertext.length - TAG_BYTES);
      padded = backend.xchacha20poly1305OpenInto(key.bytes, nonce, ciphertext, aad, scratch) ? scratch : null;
    } else {
      padded = backend.xchacha20poly1305Open(key.bytes, nonce, ciphertext, aad);
    }
  } finally {
    aadScratch.release(aad, false);
  }
  try {
    if (!padded) {
      assertLocation(backend, parseEnvelope(bytes, options), location);
      throw new CryptoError('ENVELOPE_TAMPERED', 'envelope failed authentication');
    }
    return use(unpad(padded), signer);
  } finally {
    if (scratch) plain.release(scratch, true);
  }
}

/** The key in `keys` the header at the start of `bytes` names, or undefined (the general path then says why). */
function keyFor(keys: KeySource, bytes: Uint8Array): SymmetricKey | undefined {
  const version = readU32(bytes, OFF_KEY_VERSION);
  if (keys instanceof SymmetricKeyRing) {
    try {
      return keys.get(bytes.subarray(OFF_KEY_ID, OFF_KEY_ID + KEY_ID_BYTES), version);
    } catch {
      return undefined;
    }
  }
  if (keys.version !== version) return undefined;
  // Key ids are public: a plain comparison.
  const id = keys.id;
  for (let i = 0; i < KEY_ID_BYTES; i++) if (id[i] !== bytes[OFF_KEY_ID + i]) return undefined;
  return keys;
}

function openParsed<T>(
  backend: CryptoBackend,
  env: ParsedEnvelope,
  keys: KeySource,
  location: Location,
  transient: boolean,
  use: (plaintext: Uint8Array, signerKeyId: Uint8Array | null) => T,
  copySigner: boolean,
): T {
  // The success path never hashes the location: the AEAD authenticates the full location
  // encoding. Only when something fails is the tag compared, so that a wrong location is
  // reported as such (and before key errors), as docs/crypto.md §6 orders the checks.
  let key: SymmetricKey;
  try {
    key = lookupKey(keys, env.keyId, env.keyVersion);
  } catch (e) {
    assertLocation(backend, env, location);
    throw e;
  }
  const signer = env.signerKeyId && copySigner ? env.signerKeyId.slice() : env.signerKeyId;
  const aad = prefixedLocationInput(env.header, location, takeAad);
  let padded: Uint8Array | null;
  let scratch: Uint8Array | undefined;
  try {
    if (transient && backend.xchacha20poly1305OpenInto) {
      scratch = plain.take(env.ciphertext.length - TAG_BYTES);
      padded = backend.xchacha20poly1305OpenInto(key.bytes, env.nonce, env.ciphertext, aad, scratch) ? scratch : null;
    } else {
      padded = backend.xchacha20poly1305Open(key.bytes, env.nonce, env.ciphertext, aad);
    }
  } finally {
    aadScratch.release(aad, false);
  }
  try {
    if (!padded) {
      assertLocation(backend, env, location);
      throw new CryptoError('ENVELOPE_TAMPERED', 'envelope failed authentication');
    }
    return use(unpad(padded), signer);
  } finally {
    if (scratch) plain.release(scratch, true);
  }
}

function assertLocation(backend: CryptoBackend, env: ParsedEnvelope, location: Location): void {
  if (!equalBytes(env.locationTag, locationTag(backend, location))) {
    throw new CryptoError('WRONG_LOCATION', `envelope was not sealed for ${describeLocation(location)}`);
  }
}

/** Like `openEnvelope`, decoding the plaintext as UTF-8. */
export function openEnvelopeText(
  backend: CryptoBackend,
  input: string | Uint8Array | ParsedEnvelope,
  keys: KeySource,
  location: Location,
  options?: ParseOptions,
): string {
  return openWith(backend, input, keys, location, options, true, utf8Decode);
}

/**
 * Verifies that `signerPublicKey` (an Ed25519 key) signed this envelope. Needs no
 * symmetric key, so a server can check a writer's signature on data it cannot read.
 * SIGNATURE_INVALID when unsigned, signed by another key, or the signature is bad.
 */
export async function verifyEnvelopeSignature(
  backend: CryptoBackend,
  input: string | Uint8Array | ParsedEnvelope,
  signerPublicKey: Uint8Array,
  options?: ParseOptions,
): Promise<ParsedEnvelope> {
  const env = toParsed(input, options);
  assertBytes(signerPublicKey, 32, 'signer public key');
  if (!env.signed || !env.signerKeyId || !env.signature) throw new CryptoError('SIGNATURE_INVALID', 'envelope is not signed');
  if (!equalBytes(env.signerKeyId, keyIdOf(backend, 'ed25519', signerPublicKey))) {
    throw new CryptoError('SIGNATURE_INVALID', `envelope is signed by key ${keyIdText(env.signerKeyId)}, not the expected signer`);
  }
  const body = env.bytes.subarray(0, env.bytes.length - SIGNATURE_BYTES);
  const ok = await backend.ed25519Verify(signerPublicKey, concatBytes(LABEL.envelopeSignature, body), env.signature);
  if (!ok) throw new CryptoError('SIGNATURE_INVALID', 'envelope signature does not verify');
  return env;
}

/**
 * Opens an envelope that `signerPublicKey`'s holder must have signed: proof that they wrote
 * the plaintext. Checks in the order wrapped keys use too (docs/crypto.md §6, §7, §9): size
 * and structure, location (WRONG_LOCATION), the signature (SIGNATURE_INVALID), then as
 * `openEnvelope` (key, authentication, padding). The checks that need no secret and cost
 * least come first: the location tag is public and one hash; the signature is public and
 * one Ed25519 verification; the symmetric key is used last, and only on bytes whose author
 * is proven.
 */
export async function openVerifiedEnvelope(
  backend: CryptoBackend,
  input: string | Uint8Array | ParsedEnvelope,
  keys: KeySource,
  location: Location,
  signerPublicKey: Uint8Array,
  options?: ParseOptions,
): Promise<OpenedEnvelope> {
  const env = toParsed(input, options);
  assertLocation(backend, env, location);
  await verifyEnvelopeSignature(backend, env, signerPublicKey);
  return openEnvelope(backend, env, keys, location);
}

/** Text form for the `Sealed` GraphQL scalar. */
export function envelopeToText(bytes: Uint8Array): string {
  assertBytes(bytes, undefined, 'envelope');
  return base64urlEncode(bytes);
}

/** `sealEnvelope` returning the text form. */
export function sealEnvelopeText(backend: CryptoBackend, key: SymmetricKey, location: Location, plaintext: string | Uint8Array, options: SealOptions = {}): string {
  // The bytes only live until they are encoded: reused memory, wiped on release (it held
  // the padded plaintext for a moment before it was sealed in place).
  let bytes: Uint8Array | undefined;
  try {
    return base64urlEncode(sealInto(backend, key, location, plaintext, options, (n) => (bytes = sealOut.take(n))));
  } finally {
    if (bytes) sealOut.release(bytes, true);
  }
}
