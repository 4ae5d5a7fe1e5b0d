/**
 * @module
 * The building blocks of every byte string a veilgraph user signs outside envelopes and
 * wrapped keys (registration, login, key-directory versions). Shared so every message
 * encodes labels, strings and keys the same way. Pure and portable: no `node:` imports.
 *
 *   label(l) = ascii(l) ‖ 0x00            (domain separation: one label per message kind)
 *   lp(s)    = u16be(len(utf8(s))) ‖ utf8(s)
 *   u32be(n) = n as 4 bytes, big-endian
 */
import { concatBytes, utf8Encode, writeU32 } from './bytes.js';
import { CryptoError } from './errors.js';

const MAX_LP = 0xffff;

/** lp(s) = u16 big-endian byte length ‖ UTF-8 bytes. Throws INVALID_ARGUMENT above 65,535 bytes. */
export function lengthPrefixed(s: string): Uint8Array {
  const bytes = utf8Encode(s);
  if (bytes.length > MAX_LP) throw new CryptoError('INVALID_ARGUMENT', 'length-prefixed string longer than 65535 bytes');
  const out = new Uint8Array(2 + bytes.length);
  out[0] = bytes.length >>> 8;
  out[1] = bytes.length & 0xff;
  out.set(bytes, 2);
  return out;
}

/** A message label followed by its 0x00 terminator. */
export function labelBytes(label: string): Uint8Array {
  return concatBytes(utf8Encode(label), new Uint8Array([0]));
}

/** `b` unchanged when it is a Uint8Array of exactly `n` bytes; INVALID_ARGUMENT otherwise. */
export function exactly(b: Uint8Array, n: number, what: string): Uint8Array {
  if (!(b instanceof Uint8Array) || b.length !== n) throw new CryptoError('INVALID_ARGUMENT', `${what} must be ${n} bytes`);
  return b;
}

/** u32be(n); INVALID_ARGUMENT unless `n` is an integer in 0..2^32-1. */
export function u32be(n: number, what: string): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new CryptoError('INVALID_ARGUMENT', `${what} must be an integer in 0..2^32-1`);
  const out = new Uint8Array(4);
  writeU32(out, 0, n);
  return out;
}
