/**
 * Strict base64url (src/crypto/base64url.ts): RFC 4648 §5 without padding, one accepted
 * text per byte string. Checked against an independent pure-JS reference written here,
 * against RFC 4648 §10's examples, and exhaustively over short texts.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { base64urlDecode, base64urlEncode, isCryptoError } from '../../src/crypto/index.js';
import { FixedRandom, toHex } from '../helpers/fixed-random.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Reference encoder: bit by bit, no tables shared with the code under test. */
function refEncode(b: Uint8Array): string {
  let bits = '';
  for (const x of b) bits += x.toString(2).padStart(8, '0');
  while (bits.length % 6 !== 0) bits += '0';
  let out = '';
  for (let i = 0; i < bits.length; i += 6) out += ALPHABET[parseInt(bits.slice(i, i + 6), 2)]!;
  return out;
}

/** Reference strict decoder: null for anything that is not the canonical encoding of some bytes. */
function refDecode(s: string): Uint8Array | null {
  let bits = '';
  for (const c of s) {
    const v = ALPHABET.indexOf(c);
    if (v < 0) return null;
    bits += v.toString(2).padStart(6, '0');
  }
  const n = Math.floor(bits.length / 8);
  const rest = bits.slice(8 * n);
  if (rest.length >= 6 || /1/.test(rest)) return null; // a whole spare character, or unused bits set
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = parseInt(bits.slice(8 * i, 8 * i + 8), 2);
  return out;
}

type IsCryptoError = typeof isCryptoError;

/** True when decoding `s` throws a CryptoError with code ENVELOPE_MALFORMED. */
function rejects(decode: (s: string) => Uint8Array, s: string, isError: IsCryptoError = isCryptoError): boolean {
  try {
    decode(s);
  } catch (e) {
    return isError(e, 'ENVELOPE_MALFORMED');
  }
  return false;
}

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

// RFC 4648 §10 (the base64 examples; none of them uses the characters that differ in base64url).
const RFC4648 = [
  ['', ''],
  ['f', 'Zg'],
  ['fo', 'Zm8'],
  ['foo', 'Zm9v'],
  ['foob', 'Zm9vYg'],
  ['fooba', 'Zm9vYmE'],
  ['foobar', 'Zm9vYmFy'],
] as const;

const INVALID: readonly (readonly [string, string])[] = [
  ['Zg==', "'=' padding"],
  ['Zg=', "single '='"],
  ['Zm8=', "'=' padding (length ≡ 3)"],
  ['Zm9v=', "'=' after a full quantum"],
  ['=', "lone '='"],
  ['Zm=v', "'=' inside"],
  [' Zg', 'leading space'],
  ['Zg ', 'trailing space'],
  ['Zg\n', 'trailing newline'],
  ['Zm9v\r\nYg', 'CRLF inside'],
  ['Zm 9v', 'space inside'],
  ['\tZm9v', 'leading tab'],
  ['Zm9v\u00a0', 'no-break space'],
  ['+w', "'+' (standard alphabet for 62)"],
  ['/w', "'/' (standard alphabet for 63)"],
  ['Zm+v', "'+' inside"],
  ['Zm/v', "'/' inside"],
  ['Zm9v.A', "'.'"],
  ['Zm9vé', 'non-ASCII letter'],
  ['Zm9v\u0000', 'NUL'],
  ['Z', 'length 1'],
  ['Zm9vY', 'length ≡ 1 (mod 4)'],
  ['Zm9vYmFyZ', 'length ≡ 1 (mod 4), longer'],
  ['Zh', "non-canonical: 'Zg' is 'f'"],
  ['Zv', 'non-canonical: all 4 unused bits set'],
  ['Zm9', "non-canonical: 'Zm8' is 'fo'"],
  ['Zm_', 'non-canonical: both unused bits set'],
  ['Zm9vYh', 'non-canonical after a full quantum'],
  ['Zm9vYmF', "non-canonical: 'Zm9vYmE' is 'fooba'"],
];

interface Codec {
  readonly encode: (b: Uint8Array) => string;
  readonly decode: (s: string) => Uint8Array;
  /** The isCryptoError of the same module instance as the codec (a fresh copy has its own CryptoError class). */
  readonly isError: IsCryptoError;
}

function codecTests(codec: () => Codec): void {
  it.each(RFC4648)('RFC 4648: "%s" ↔ "%s"', (plain, encoded) => {
    const { encode, decode } = codec();
    expect(encode(ascii(plain))).toBe(encoded);
    expect(toHex(decode(encoded))).toBe(toHex(ascii(plain)));
    expect(refEncode(ascii(plain))).toBe(encoded); // the reference agrees with the RFC too
  });

  it('round-trips random bytes of every length 0..100 and matches the reference encoder', () => {
    const { encode, decode } = codec();
    const random = new FixedRandom('veilgraph/test/base64url/round-trip');
    for (let len = 0; len <= 100; len++) {
      for (let rep = 0; rep < 5; rep++) {
        const b = random.next(len);
        const s = encode(b);
        expect(s, `length ${len}`).toBe(refEncode(b));
        expect(s.length).toBe(Math.ceil((4 * len) / 3));
        expect(toHex(decode(s)), `length ${len}`).toBe(toHex(b));
      }
    }
  });

  it('encodes the characters that differ from standard base64 as - and _', () => {
    const { encode, decode } = codec();
    expect(encode(new Uint8Array([0xfb, 0xff]))).toBe('-_8');
    expect(encode(new Uint8Array([0xff, 0xff, 0xff]))).toBe('____');
    expect(encode(new Uint8Array([0xf8, 0x00, 0x00]))).toBe('-AAA');
    expect(toHex(decode('-_8'))).toBe('fbff');
  });

  it('encodes views into a larger buffer by their own bytes only', () => {
    const { encode } = codec();
    const backing = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(encode(backing.subarray(2, 5))).toBe(refEncode(new Uint8Array([3, 4, 5])));
  });

  it.each(INVALID)('rejects %j (%s) with ENVELOPE_MALFORMED', (s) => {
    expect(refDecode(s)).toBeNull(); // the case really is invalid
    const { decode, isError } = codec();
    expect(rejects(decode, s, isError)).toBe(true);
  });

  it('every 2- and 3-character text: accepted exactly when canonical, and then encode(decode(s)) = s', () => {
    const { encode, decode, isError } = codec();
    let accepted = 0;
    for (const a of ALPHABET) {
      for (const b of ALPHABET) {
        const two = a + b;
        const ref2 = refDecode(two);
        if (ref2) {
          accepted++;
          expect(encode(decode(two))).toBe(two);
        } else expect(rejects(decode, two, isError), two).toBe(true);
        for (const c of ALPHABET) {
          const three = two + c;
          const ref3 = refDecode(three);
          if (ref3) {
            accepted++;
            const d = decode(three);
            if (toHex(d) !== toHex(ref3) || encode(d) !== three) expect(`${three} → ${toHex(d)}`).toBe(`${three} → ${toHex(ref3)}`);
          } else if (!rejects(decode, three, isError)) expect(`${three} accepted`).toBe(`${three} rejected`);
        }
      }
    }
    // 2^8 one-byte values and 2^16 two-byte values, each with exactly one text.
    expect(accepted).toBe(256 + 65536);
  });

  it('rejects every character outside the alphabet, in any position', () => {
    const { decode, isError } = codec();
    for (let cp = 0; cp < 0x180; cp++) {
      const c = String.fromCharCode(cp);
      if (ALPHABET.includes(c)) continue;
      for (const s of [`${c}AAA`, `A${c}AA`, `AA${c}A`, `AAA${c}`, `AAAA${c}A`, `AAAA${c}AA`]) {
        if (!rejects(decode, s, isError)) expect(`${JSON.stringify(s)} accepted`).toBe(`${JSON.stringify(s)} rejected`);
      }
    }
    for (const s of ['AA\u{1F511}', 'A\uD800', '\uFF21AAA']) expect(rejects(decode, s, isError), s).toBe(true);
  });
}

describe('base64url with Buffer (the Node path)', () => {
  codecTests(() => ({ encode: base64urlEncode, decode: base64urlDecode, isError: isCryptoError }));

  it('agrees with Node’s own base64url encoder', () => {
    const random = new FixedRandom('veilgraph/test/base64url/buffer');
    for (let len = 0; len <= 100; len++) {
      const b = random.next(len);
      expect(base64urlEncode(b)).toBe(Buffer.from(b).toString('base64url'));
    }
  });

  it('rejects texts that Node’s lenient decoder accepts', () => {
    // Buffer decodes all of these to the bytes of "f" or "foo"; the strict decoder must not.
    for (const s of ['Zg==', 'Zh', 'Zm9v\n', 'Zm 9v', 'Zm9v=']) {
      expect(Buffer.from(s, 'base64url').length).toBeGreaterThan(0);
      expect(rejects(base64urlDecode, s), JSON.stringify(s)).toBe(true);
    }
  });
});

describe('base64url without Buffer (the browser path)', () => {
  // The module picks its implementation when loaded: load a fresh copy with no global
  // Buffer so its pure-JS fallback runs, and hold it to exactly the same tests.
  let portable: Codec | undefined;
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  async function load(): Promise<Codec> {
    vi.stubGlobal('Buffer', undefined);
    vi.resetModules();
    try {
      const m = await import('../../src/crypto/base64url.js');
      const errors = await import('../../src/crypto/errors.js');
      return { encode: m.base64urlEncode, decode: m.base64urlDecode, isError: errors.isCryptoError };
    } finally {
      vi.unstubAllGlobals();
      vi.resetModules();
    }
  }

  it('loads a Buffer-free copy', async () => {
    portable = await load();
    expect(portable.encode).not.toBe(base64urlEncode);
    expect(portable.encode(ascii('foobar'))).toBe('Zm9vYmFy');
    // The fallback decodes into an exactly sized ArrayBuffer of its own (the Buffer path
    // returns a view into Node's shared allocation pool).
    expect(portable.decode('Zm9vYmFy').buffer.byteLength).toBe(6);
  });

  codecTests(() => {
    if (!portable) throw new Error('the Buffer-free copy was not loaded (first test failed)');
    return portable;
  });
});
