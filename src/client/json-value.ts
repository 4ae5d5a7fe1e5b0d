/**
 * @module
 * A sealed field's plaintext (UTF-8 JSON) to its value: `JSON.parse(utf8Decode(bytes))`,
 * with the same result and the same errors, and a shorter way for the commonest value, a
 * JSON string with nothing escaped: its content is decoded straight to the value. That
 * skips JSON.parse's pass and the intermediate string (as long as the value), which for a
 * result of many 1 KiB text fields is a good part of the garbage the client makes.
 */
import { utf8Decode, utf8DecodeInner } from '../crypto/bytes.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * True when bytes `from..to` of `b` hold none of what a JSON string's content must escape
 * (RFC 8259 §7): '"', '\' and U+0000..U+001F. Four bytes a step where the memory is aligned
 * (the plaintext sits at the start of reused memory): a byte below 0x20 is found with the
 * "has less than" bit trick, '"' and '\' with the "has zero" one on the word XORed with
 * them (both exact for whether any byte matches).
 */
function plainContent(b: Uint8Array, from: number, to: number): boolean {
  let i = from;
  // Bytes up to the first aligned word, the words, then the rest.
  const head = Math.min(to, i + ((4 - ((b.byteOffset + i) % 4)) % 4));
  for (; i < head; i++) if (!plainByte(b[i]!)) return false;
  const count = (to - i) >> 2;
  if (count > 0) {
    const words = new Uint32Array(b.buffer, b.byteOffset + i, count);
    for (let k = 0; k < count; k++) {
      const w = words[k]!;
      const q = w ^ 0x22222222;
      const s = w ^ 0x5c5c5c5c;
      if ((((w - 0x20202020) & ~w) | ((q - 0x01010101) & ~q) | ((s - 0x01010101) & ~s)) & 0x80808080) return false;
    }
    i += count * 4;
  }
  for (; i < to; i++) if (!plainByte(b[i]!)) return false;
  return true;
}

function plainByte(c: number): boolean {
  return c >= 0x20 && c !== QUOTE && c !== BACKSLASH;
}

export function parseJsonValue(plaintext: Uint8Array): unknown {
  const n = plaintext.length;
  if (n >= 2 && plaintext[0] === QUOTE && plaintext[n - 1] === QUOTE && plainContent(plaintext, 1, n - 1)) {
    // Invalid UTF-8 inside fails here with utf8Decode's error (the quotes are ASCII).
    return utf8DecodeInner(plaintext.subarray(1, n - 1));
  }
  return JSON.parse(utf8Decode(plaintext));
}
