/**
 * @module
 * Strict base64url without padding (RFC 4648 §5), the text form of every v1 structure.
 *
 * Strict means one byte string has exactly one accepted text: no padding, no whitespace,
 * no characters outside the URL-safe alphabet, no length ≡ 1 (mod 4), and the unused low
 * bits of the last character must be zero. Lenient decoders (Node's Buffer among them)
 * accept many texts for one value, which would let a server store two different strings
 * that open to the same ciphertext.
 */
import { CryptoError } from './errors.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

// Buffer is used when present purely for speed (native code); its output is only
// trusted after the strict checks below have accepted the text.
type BufferView = {
  toString(enc: 'base64url'): string;
  write(s: string, offset: number, length: number, enc: 'base64url'): number;
  /** Node's own decoder behind `write(s, offset, length, 'base64url')` (bounds checked natively), without its argument handling. */
  base64urlWrite?(s: string, offset: number, length: number): number;
};
type BufferLike = {
  byteLength(s: string, enc: 'utf8'): number;
  from(s: string, enc: 'base64url'): Uint8Array & { buffer: ArrayBufferLike };
  from(b: ArrayBufferLike, off?: number, len?: number): BufferView;
};
const NodeBuffer = (globalThis as { Buffer?: BufferLike }).Buffer;

// A Buffer over the whole of the reused memory decoded into last: the open path decodes into the
// same memory (../scratch.ts, the client's slabs) again and again, and a Buffer
// object made per call costs about as much as the decoding of 1 KiB. It covers the whole
// ArrayBuffer; every write is bounded by the offset and length of the caller's view.
let lastMemory: ArrayBufferLike | undefined;
let lastView: BufferView | undefined;
function bufferOver(memory: ArrayBufferLike): BufferView {
  if (memory !== lastMemory || lastView === undefined) {
    lastView = NodeBuffer!.from(memory);
    lastMemory = memory;
  }
  return lastView;
}

const VALID = /^[A-Za-z0-9_-]*$/;

export function base64urlEncode(b: Uint8Array): string {
  if (!(b instanceof Uint8Array)) throw new CryptoError('INVALID_ARGUMENT', 'base64urlEncode: expected a Uint8Array');
  if (NodeBuffer) return NodeBuffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64url');
  let s = '';
  let i = 0;
  for (; i + 2 < b.length; i += 3) {
    const n = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!;
    s += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! + ALPHABET[n & 63]!;
  }
  const rest = b.length - i;
  if (rest === 1) {
    const n = b[i]! << 16;
    s += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]!;
  } else if (rest === 2) {
    const n = (b[i]! << 16) | (b[i + 1]! << 8);
    s += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]!;
  }
  return s;
}

/**
 * Decodes canonical unpadded base64url; anything else is ENVELOPE_MALFORMED. `alloc` gives
 * the output memory (default: a new buffer); it may be reused memory, all of it is written.
 */
export function base64urlDecode(s: string, alloc: (n: number) => Uint8Array = newBytes): Uint8Array {
  if (typeof s !== 'string') throw new CryptoError('INVALID_ARGUMENT', 'base64urlDecode: expected a string');
  if (NodeBuffer) {
    // Buffer's decoder is lenient: it skips characters outside the base64 alphabets (and
    // stops at '='), accepts '+' and '/' besides '-' and '_', reads a non-Latin-1
    // character by its low byte, and ignores set unused bits. Each of those is refused
    // here without a pass in JavaScript (the text is ~1.4 KiB per 1 KiB field):
    // - non-ASCII: the UTF-8 length differs from the length (one native pass);
    // - '+' and '/': two native searches;
    // - any other character outside the alphabet contributes no bits, so fewer than
    //   floor(3L/4) bytes come out, which canonical text of length L (≢ 1 mod 4) gives
    //   exactly: the decoder writes straight into a buffer of that size and the count
    //   written must fill it (this also spares `Buffer.from`'s pass to measure the text and
    //   its copy out of the shared pool);
    // - unused bits: the last character, as in the portable decoder.
    // test/crypto/base64url.test.ts holds this to the portable decoder on every 2- and
    // 3-character text and every foreign character below U+0180 in every position.
    const rem = s.length % 4;
    if (rem === 1) throw malformed('not canonical unpadded base64url');
    if (NodeBuffer.byteLength(s, 'utf8') !== s.length || s.indexOf('+') >= 0 || s.indexOf('/') >= 0) {
      throw malformed('not canonical unpadded base64url');
    }
    const n = Math.floor((s.length * 3) / 4);
    const out = alloc(n);
    if (out.length !== n) throw new CryptoError('INVALID_ARGUMENT', 'base64urlDecode: alloc must return exactly the bytes asked for');
    // Fresh memory (the default) gets a Buffer of its own: it is the caller's (a decoded key,
    // say) and must not stay referenced from here.
    const view = alloc === newBytes ? NodeBuffer.from(out.buffer) : bufferOver(out.buffer);
    // `write`'s argument handling costs a fifth of decoding 1 KiB; where Buffer has the
    // method `write` calls for this encoding (every Node with base64url), it is called directly.
    const written = view.base64urlWrite ? view.base64urlWrite(s, out.byteOffset, n) : view.write(s, out.byteOffset, n, 'base64url');
    if (written !== n) throw malformed('not canonical unpadded base64url');
    if (rem !== 0) checkUnusedBits(s, rem);
    return out;
  }
  return portableDecode(s);
}

function newBytes(n: number): Uint8Array {
  return new Uint8Array(n);
}

function checkUnusedBits(s: string, rem: number): void {
  // The last character carries 4 (rem 2) or 2 (rem 3) unused low bits; canonical text has
  // them zero. A character outside the alphabet decodes to -1 here and is refused too.
  const last = DECODE[s.charCodeAt(s.length - 1)] ?? -1;
  if (last < 0) throw malformed('characters outside the base64url alphabet');
  if ((last & (rem === 2 ? 0x0f : 0x03)) !== 0) throw malformed('non-canonical base64url (unused bits set)');
}

/** The portable decoder, used where there is no Buffer (browsers). Exported for tests. */
export function portableDecode(s: string): Uint8Array {
  if (typeof s !== 'string') throw new CryptoError('INVALID_ARGUMENT', 'base64urlDecode: expected a string');
  const rem = s.length % 4;
  if (rem === 1) throw malformed('impossible base64url length');
  if (!VALID.test(s)) throw malformed('characters outside the base64url alphabet');
  if (rem !== 0) checkUnusedBits(s, rem);
  const out = new Uint8Array(Math.floor((s.length * 3) / 4));
  let o = 0;
  let i = 0;
  for (; i + 3 < s.length; i += 4) {
    const n =
      (DECODE[s.charCodeAt(i)]! << 18) |
      (DECODE[s.charCodeAt(i + 1)]! << 12) |
      (DECODE[s.charCodeAt(i + 2)]! << 6) |
      DECODE[s.charCodeAt(i + 3)]!;
    out[o++] = n >> 16;
    out[o++] = (n >> 8) & 0xff;
    out[o++] = n & 0xff;
  }
  if (rem === 2) {
    const n = (DECODE[s.charCodeAt(i)]! << 18) | (DECODE[s.charCodeAt(i + 1)]! << 12);
    out[o] = n >> 16;
  } else if (rem === 3) {
    const n = (DECODE[s.charCodeAt(i)]! << 18) | (DECODE[s.charCodeAt(i + 1)]! << 12) | (DECODE[s.charCodeAt(i + 2)]! << 6);
    out[o] = n >> 16;
    out[o + 1] = (n >> 8) & 0xff;
  }
  return out;
}

function malformed(why: string): CryptoError {
  return new CryptoError('ENVELOPE_MALFORMED', why);
}
