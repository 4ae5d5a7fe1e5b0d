/**
 * openResult's plaintext → value step (src/client/json-value.ts) against the definition it
 * shortens, `JSON.parse(utf8Decode(bytes))`: the same value or the same error for every
 * input, whether or not the shorter way applies.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { utf8Decode, utf8Encode } from '../../src/crypto/bytes.js';
import { isCryptoError } from '../../src/crypto/errors.js';
import { parseJsonValue } from '../../src/client/json-value.js';

type Outcome = { ok: true; value: unknown } | { ok: false; kind: string; code?: string; message: string };

function outcome(f: () => unknown): Outcome {
  try {
    return { ok: true, value: f() };
  } catch (e) {
    if (isCryptoError(e)) return { ok: false, kind: 'CryptoError', code: e.code, message: e.message };
    return { ok: false, kind: (e as Error).constructor.name, message: '' };
  }
}

// At every offset of a larger buffer: the scan reads aligned words in the middle.
function same(bytes: Uint8Array): void {
  const want = outcome(() => JSON.parse(utf8Decode(bytes)));
  for (let offset = 0; offset < 4; offset++) {
    const memory = new Uint8Array(bytes.length + 8).fill(0x22);
    memory.set(bytes, offset);
    const got = outcome(() => parseJsonValue(memory.subarray(offset, offset + bytes.length)));
    expect(got).toEqual(want);
  }
}

const b = (...xs: number[]): Uint8Array => new Uint8Array(xs);
const q = 0x22;

describe('parseJsonValue', () => {
  it('gives JSON.parse(utf8Decode(bytes)) on the edge cases of the short way', () => {
    const cases: Uint8Array[] = [
      b(q, q), // ""
      b(q), // a lone quote
      b(), // nothing
      b(q, 0x61, q), // "a"
      b(q, 0x22, q), // """
      b(q, 0x5c, q), // "\"
      b(q, 0x5c, 0x6e, q), // "\n" escaped
      b(q, 0x5c, 0x75, 0x30, 0x30, 0x34, 0x31, q), // "\u0041"
      b(q, 0x0a, q), // raw newline inside: invalid JSON
      b(q, 0x00, q),
      b(q, 0x1f, q),
      b(q, 0x7f, q), // DEL is allowed unescaped
      b(q, 0xef, 0xbb, 0xbf, 0x61, q), // U+FEFF inside the string: kept
      b(0xef, 0xbb, 0xbf, q, 0x61, q), // a BOM before the text: stripped by utf8Decode
      b(q, 0xc3, q), // truncated UTF-8
      b(q, 0xed, 0xa0, 0x80, q), // an encoded surrogate
      b(q, 0xe2, 0x80, 0xa8, q), // U+2028 (allowed in JSON strings)
      b(0x20, q, 0x61, q), // leading space
      b(q, 0x61, q, 0x20), // trailing space
      b(q, 0x61, q, q), // trailing quote
      utf8Encode('"a" "b"'),
      utf8Encode('123'),
      utf8Encode('{"a":"b"}'),
      utf8Encode('["x"]'),
      utf8Encode('null'),
      utf8Encode(JSON.stringify('déjà vu 😀 ' + 'x'.repeat(1000))),
    ];
    for (const c of cases) same(c);
  });

  it('gives the same value for any JSON-encoded string or value', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), fc.json()), (s) => {
        let text: string;
        try {
          text = JSON.stringify(s);
          utf8Encode(text);
        } catch {
          return; // lone surrogates cannot be sealed
        }
        same(utf8Encode(text));
      }),
      { numRuns: 2000 },
    );
  });

  it('finds a byte to escape at every position of a longer string', () => {
    const base = utf8Encode(JSON.stringify('x'.repeat(70)));
    for (let i = 1; i < base.length - 1; i++) {
      for (const c of [0x00, 0x09, 0x1f, 0x20, 0x22, 0x5c, 0x7f, 0x80, 0xc3, 0xff]) {
        const v = base.slice();
        v[i] = c;
        same(v);
      }
    }
  });

  it('gives the same value or error for arbitrary bytes between quotes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.constantFrom(0x20, 0x41, 0x7f), fc.boolean(), (inner, fill, quoted) => {
        // Mostly plain bytes around the random ones, so the word scan sees both.
        const padded = new Uint8Array([...new Uint8Array(9).fill(fill), ...inner, ...new Uint8Array(7).fill(fill)]);
        const bytes = quoted ? new Uint8Array([q, ...padded, q]) : padded;
        same(bytes);
      }),
      { numRuns: 5000 },
    );
  });
});
