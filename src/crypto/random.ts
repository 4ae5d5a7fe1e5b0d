/**
 * @module
 * CSPRNG access that works in Node ≥ 20 and browsers alike (`globalThis.crypto`).
 * The only source of randomness in the project: keys, nonces, challenges, ids.
 */
import { CryptoError } from './errors.js';

// getRandomValues fills at most 65,536 bytes per call (WebCrypto spec).
const MAX_CHUNK = 65536;

export function randomBytes(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new CryptoError('INVALID_ARGUMENT', 'randomBytes: bad length');
  const c = (globalThis as { crypto?: { getRandomValues?: (a: Uint8Array) => Uint8Array } }).crypto;
  if (!c?.getRandomValues) throw new CryptoError('BACKEND_UNAVAILABLE', 'no CSPRNG (globalThis.crypto.getRandomValues)');
  const out = new Uint8Array(n);
  for (let o = 0; o < n; o += MAX_CHUNK) c.getRandomValues(out.subarray(o, Math.min(n, o + MAX_CHUNK)));
  return out;
}
