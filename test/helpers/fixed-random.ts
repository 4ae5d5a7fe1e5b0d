/**
 * @module
 * A deterministic stand-in for the CSPRNG, for known-answer vectors and reproducible tests.
 *
 * Stream definition (documented in test/vectors/*.json as well, so other implementations
 * can reproduce the vectors):
 *
 *   block(i) = SHA-256(utf8(seed) ‖ u32be(i))        for i = 0, 1, 2, …
 *   stream   = block(0) ‖ block(1) ‖ block(2) ‖ …
 *
 * Successive `randomBytes(n)` calls return consecutive, non-overlapping slices of the
 * stream. The hash is @noble/hashes' SHA-256 so the stream does not depend on the backend
 * under test.
 *
 * NEVER use this outside tests: the output is public and repeats for the same seed.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import type { CryptoBackend } from '../../src/crypto/index.js';

export const FIXED_RANDOM_ALGORITHM = 'stream = SHA-256(utf8(seed) ‖ u32be(0)) ‖ SHA-256(utf8(seed) ‖ u32be(1)) ‖ …; each randomBytes(n) call takes the next n bytes';

const BLOCK = 32;

export class FixedRandom {
  readonly seed: string;
  private readonly seedBytes: Uint8Array;
  private buffer = new Uint8Array(0);
  private counter = 0;
  private readonly taken: Uint8Array[] = [];

  constructor(seed: string) {
    this.seed = seed;
    this.seedBytes = new TextEncoder().encode(seed);
  }

  /** The next `n` bytes of the stream. */
  next(n: number): Uint8Array {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`FixedRandom: bad length ${n}`);
    while (this.buffer.length < n) {
      const input = new Uint8Array(this.seedBytes.length + 4);
      input.set(this.seedBytes, 0);
      new DataView(input.buffer).setUint32(this.seedBytes.length, this.counter++, false);
      const block = sha256(input);
      const grown = new Uint8Array(this.buffer.length + BLOCK);
      grown.set(this.buffer, 0);
      grown.set(block, this.buffer.length);
      this.buffer = grown;
    }
    const out = this.buffer.slice(0, n);
    this.buffer = this.buffer.slice(n);
    this.taken.push(out.slice());
    return out;
  }

  /** Every byte handed out so far, in order (copies: callers may wipe what they got). */
  consumed(): Uint8Array {
    let len = 0;
    for (const t of this.taken) len += t.length;
    const out = new Uint8Array(len);
    let o = 0;
    for (const t of this.taken) {
      out.set(t, o);
      o += t.length;
    }
    return out;
  }

  /** Number of `randomBytes` calls served so far. */
  get calls(): number {
    return this.taken.length;
  }
}

/** `backend` with `randomBytes` served from `stream`; every other primitive unchanged. */
export function withFixedRandom(backend: CryptoBackend, stream: FixedRandom): CryptoBackend {
  // Without `fillNonce`: envelope nonces then come from the stream too.
  const fixed: CryptoBackend = { ...backend, name: `${backend.name}+fixed-random`, randomBytes: (n: number) => stream.next(n) };
  delete fixed.fillNonce;
  return fixed;
}

/** The first `n` bytes of the stream for `seed` (a fresh stream each call). */
export function fixedBytes(seed: string, n: number): Uint8Array {
  return new FixedRandom(seed).next(n);
}

export function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

export function fromHex(s: string): Uint8Array {
  if (s.length % 2 !== 0 || !/^[0-9a-f]*$/.test(s)) throw new Error(`fromHex: not lowercase even-length hex: ${s.slice(0, 40)}`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}
