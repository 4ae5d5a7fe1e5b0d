/**
 * @module
 * XChaCha20-Poly1305 expressed through ChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03 §2.3):
 * subkey = HChaCha20(key, nonce[0..16]), then ChaCha20-Poly1305 with the 12-byte nonce
 * 0x00000000 ‖ nonce[16..24]. This is how a backend with a native ChaCha20-Poly1305 but
 * no XChaCha (node:crypto) gets native speed for our 24-byte random nonces: HChaCha20 is
 * a single block function, cheap in pure JS.
 */
import { hchacha } from '@noble/ciphers/chacha.js';

// "expand 32-byte k" as little-endian words.
const SIGMA = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

// Scratch space reused across calls (synchronous, so never shared by two calls at once);
// allocation was most of HChaCha20's cost. Wiped after each use.
const KEY_WORDS = new Uint32Array(8);
const NONCE_WORDS = new Uint32Array(4);
const OUT_WORDS = new Uint32Array(8);
const OUT_BYTES = new Uint8Array(OUT_WORDS.buffer);

function words(b: Uint8Array, w: Uint32Array): Uint32Array {
  const len = w.length;
  for (let i = 0; i < len; i++) {
    const o = i * 4;
    w[i] = (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
  }
  return w;
}

/** Derives the XChaCha20 subkey and 12-byte ChaCha20 nonce for a 32-byte key and 24-byte nonce. */
export function xchachaSubkey(key: Uint8Array, nonce: Uint8Array): { subkey: Uint8Array; nonce12: Uint8Array } {
  const out = OUT_WORDS;
  hchacha(SIGMA, words(key, KEY_WORDS), words(nonce, NONCE_WORDS), out);
  KEY_WORDS.fill(0);
  const subkey = new Uint8Array(32);
  if (LITTLE_ENDIAN) {
    subkey.set(OUT_BYTES);
  } else {
    for (let i = 0; i < 8; i++) {
      const v = out[i]!;
      subkey[4 * i] = v & 0xff;
      subkey[4 * i + 1] = (v >>> 8) & 0xff;
      subkey[4 * i + 2] = (v >>> 16) & 0xff;
      subkey[4 * i + 3] = v >>> 24;
    }
  }
  out.fill(0);
  const nonce12 = new Uint8Array(12);
  nonce12.set(nonce.subarray(16, 24), 4);
  return { subkey, nonce12 };
}
