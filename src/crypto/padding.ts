/**
 * @module
 * Length hiding. Plaintext is padded before encryption so a ciphertext's size reveals
 * only a bucket, not the exact length.
 *
 * Encoding (ISO/IEC 7816-4): `plaintext ‖ 0x80 ‖ 0x00 × k`. The marker byte is always
 * present, so unpadding is unambiguous even for the policy `none` (which adds just the
 * marker). The padded length is chosen by a policy:
 *
 * - `none`:    len + 1.
 * - `buckets`: the smallest configured size ≥ len + 1; above the largest, the next
 *              multiple of the largest size.
 * - `padme`:   PADMÉ (Nikitin et al., "Reducing Metadata Leakage from Encrypted Files
 *              and Communication with PURBs", PETS 2019) of len + 1: at most ~12 %
 *              overhead, leaks O(log log L) bits of the length.
 */
import { CryptoError } from './errors.js';

export type PaddingPolicy =
  | { readonly kind: 'none' }
  | { readonly kind: 'padme' }
  | { readonly kind: 'buckets'; readonly sizes: readonly number[] };

export const PADDING_NONE: PaddingPolicy = { kind: 'none' };
export const PADDING_PADME: PaddingPolicy = { kind: 'padme' };
/** Fixed buckets for chat messages: short texts all look alike. */
export const MESSAGE_BUCKETS: PaddingPolicy = { kind: 'buckets', sizes: [256, 1024, 4096, 16384, 65536] };

/** PADMÉ: keep the top bits of L that fit in log2(log2(L)) + 1 bits, round the rest up. */
export function padme(len: number): number {
  assertLength(len);
  return padmeOf(len);
}

function padmeOf(len: number): number {
  if (len < 2) return len;
  const e = floorLog2(len);
  const s = floorLog2(e) + 1;
  const mask = 2 ** (e - s);
  return Math.ceil(len / mask) * mask;
}

/** Lengths are byte counts: non-negative safe integers (INVALID_ARGUMENT otherwise). */
function assertLength(len: number): void {
  if (!Number.isSafeInteger(len) || len < 0) throw new CryptoError('INVALID_ARGUMENT', 'a length must be a non-negative integer');
}

// Exact for every safe integer, unlike Math.floor(Math.log2(x)) near powers of two.
function floorLog2(x: number): number {
  let e = 0;
  while (2 ** (e + 1) <= x) e++;
  return e;
}

/** The padded length (marker included) for a plaintext of `len` bytes. */
export function paddedLength(len: number, policy: PaddingPolicy): number {
  assertLength(len);
  assertPaddingPolicy(policy);
  return lengthFor(len, policy);
}

// The rule itself, for callers that checked the policy already (sealing: once per envelope).
function lengthFor(len: number, policy: PaddingPolicy): number {
  const min = len + 1;
  switch (policy.kind) {
    case 'none':
      return min;
    case 'padme':
      return padmeOf(min);
    case 'buckets': {
      const sizes = policy.sizes;
      for (const s of sizes) if (s >= min) return s;
      const largest = sizes[sizes.length - 1]!;
      return Math.ceil(min / largest) * largest;
    }
  }
}

/** Throws INVALID_ARGUMENT unless the policy is usable (sizes positive, strictly rising). */
export function assertPaddingPolicy(policy: PaddingPolicy): void {
  if (typeof policy !== 'object' || policy === null) throw new CryptoError('INVALID_ARGUMENT', 'padding policy must be an object');
  if (policy.kind === 'buckets' && !Array.isArray(policy.sizes)) throw new CryptoError('INVALID_ARGUMENT', 'bucket sizes must be a list');
  if (policy.kind === 'buckets') {
    const ok =
      policy.sizes.length > 0 &&
      policy.sizes.every((s, i) => Number.isSafeInteger(s) && s > 0 && (i === 0 || s > policy.sizes[i - 1]!));
    if (!ok) throw new CryptoError('INVALID_ARGUMENT', 'bucket sizes must be positive integers in strictly rising order');
  } else if (policy.kind !== 'none' && policy.kind !== 'padme') {
    throw new CryptoError('INVALID_ARGUMENT', 'unknown padding policy');
  }
}

/**
 * Writes the padded plaintext (`paddedLength` bytes, from `paddedLengthUnchecked`) into `out`
 * at `offset`, zeros included (`out` may be reused memory). Lets the envelope pad straight
 * into its output buffer.
 */
export function padInto(plaintext: Uint8Array, out: Uint8Array, offset: number, paddedLength: number): void {
  out.set(plaintext, offset);
  out[offset + plaintext.length] = 0x80;
  out.fill(0, offset + plaintext.length + 1, offset + paddedLength);
}

/** `paddedLength` for a policy already checked with `assertPaddingPolicy`. */
export function paddedLengthUnchecked(len: number, policy: PaddingPolicy): number {
  return lengthFor(len, policy);
}

export function pad(plaintext: Uint8Array, policy: PaddingPolicy): Uint8Array {
  const out = new Uint8Array(lengthFor(plaintext.length, policy));
  out.set(plaintext, 0);
  out[plaintext.length] = 0x80;
  return out;
}

/**
 * Removes the padding. Only ever called on authenticated plaintext, so a bad marker
 * means the sender did not follow the format: ENVELOPE_MALFORMED.
 */
export function unpad(padded: Uint8Array): Uint8Array {
  let i = padded.length - 1;
  while (i >= 0 && padded[i] === 0) i--;
  if (i < 0 || padded[i] !== 0x80) throw new CryptoError('ENVELOPE_MALFORMED', 'bad padding');
  return padded.subarray(0, i);
}
