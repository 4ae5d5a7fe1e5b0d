/**
 * @module
 * Small byte helpers shared by the format code. No runtime-specific imports: this file
 * runs unchanged in Node and in browsers.
 */
import { CryptoError } from './errors.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Encodes UTF-8, refusing strings with lone surrogates: TextEncoder would silently turn
 * them into U+FFFD, so two different strings would encode (and bind, and hash) alike.
 */
export function utf8Encode(s: string): Uint8Array {
  if (typeof s !== 'string') throw new CryptoError('INVALID_ARGUMENT', 'expected a string');
  if (LONE_SURROGATE.test(s)) throw new CryptoError('INVALID_ARGUMENT', 'string is not well-formed UTF-16 (lone surrogate)');
  return encoder.encode(s);
}

/** Decodes UTF-8, rejecting invalid sequences instead of substituting U+FFFD. */
export function utf8Decode(b: Uint8Array): string {
  return decodeWith(decoder, b);
}

function decodeWith(d: TextDecoder, b: Uint8Array): string {
  assertBytes(b, undefined, 'UTF-8 bytes');
  try {
    return d.decode(b);
  } catch (cause) {
    throw new CryptoError('ENVELOPE_MALFORMED', 'plaintext is not valid UTF-8', { cause });
  }
}

// The same, keeping a leading U+FEFF: for bytes from inside a larger text (a BOM is only
// stripped at the start of a whole text).
const innerDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** `utf8Decode` for bytes cut from inside a text: the same checks and error, a leading U+FEFF kept. */
export function utf8DecodeInner(b: Uint8Array): string {
  return decodeWith(innerDecoder, b);
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function writeU32(out: Uint8Array, offset: number, v: number): void {
  out[offset] = v >>> 24;
  out[offset + 1] = (v >>> 16) & 0xff;
  out[offset + 2] = (v >>> 8) & 0xff;
  out[offset + 3] = v & 0xff;
}

export function readU32(b: Uint8Array, offset: number): number {
  return ((b[offset]! << 24) | (b[offset + 1]! << 16) | (b[offset + 2]! << 8) | b[offset + 3]!) >>> 0;
}

/**
 * Constant-time equality for secrets and MACs: the running time depends only on the
 * lengths, never on where the first difference is.
 */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  assertBytes(a, undefined, 'first argument');
  assertBytes(b, undefined, 'second argument');
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Overwrites a buffer that held secret material. Best effort: JS cannot pin memory. */
export function wipe(...bufs: Uint8Array[]): void {
  for (const b of bufs) b.fill(0);
}

export function hex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

export function fromHex(s: string): Uint8Array {
  if (s.length % 2 !== 0 || !/^[0-9a-f]*$/.test(s)) {
    throw new CryptoError('INVALID_ARGUMENT', 'expected lowercase hex with an even length');
  }
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * Throws INVALID_ARGUMENT unless `v` is a non-null object (not an array): the check every
 * public entry runs on its object arguments (keys, locations, policies) before reading a
 * property, so a caller's `undefined` is a coded error and never a TypeError.
 */
export function assertObject(v: unknown, what: string): asserts v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new CryptoError('INVALID_ARGUMENT', `${what} must be an object`);
}

/** Throws INVALID_ARGUMENT unless `b` is a Uint8Array of exactly `len` bytes. */
export function assertBytes(b: unknown, len: number | undefined, what: string): asserts b is Uint8Array {
  if (!(b instanceof Uint8Array)) throw new CryptoError('INVALID_ARGUMENT', `${what} must be a Uint8Array`);
  if (len !== undefined && b.length !== len) {
    throw new CryptoError('INVALID_ARGUMENT', `${what} must be ${len} bytes, got ${b.length}`);
  }
}
