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
// What a JSON string's content must escape (RFC 8259 §7): with none of it, the content is
// the value as it stands.
const NEEDS_PARSE = /["\\\u0000-\u001f]/;

export function parseJsonValue(plaintext: Uint8Array): unknown {
  const n = plaintext.length;
  if (n >= 2 && plaintext[0] === QUOTE && plaintext[n - 1] === QUOTE) {
    // Invalid UTF-8 inside fails here with utf8Decode's error (the quotes are ASCII).
    const content = utf8DecodeInner(plaintext.subarray(1, n - 1));
    if (!NEEDS_PARSE.test(content)) return content;
  }
  return JSON.parse(utf8Decode(plaintext));
}
