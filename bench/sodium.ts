/**
 * @module
 * libsodium's XChaCha20-Poly1305 through `sodium-native` (a devDependency with prebuilt
 * binaries): the fastest AEAD Node can run, the crypto benchmarks' limit baseline
 * (issue 17, goal 6). Loaded lazily so that the benchmarks still run, against node:crypto,
 * where the native addon cannot load; the reason is then printed with the results.
 *
 * Only the two functions the benchmarks call are typed here (the package ships no types).
 */
import { createRequire } from 'node:module';

interface SodiumNative {
  readonly crypto_aead_xchacha20poly1305_ietf_ABYTES: number;
  crypto_aead_xchacha20poly1305_ietf_encrypt(c: Uint8Array, m: Uint8Array, ad: Uint8Array | null, nsec: null, npub: Uint8Array, k: Uint8Array): number;
  crypto_aead_xchacha20poly1305_ietf_decrypt(m: Uint8Array, nsec: null, c: Uint8Array, ad: Uint8Array | null, npub: Uint8Array, k: Uint8Array): number;
}

export type SodiumLoad = { readonly ok: true; readonly sodium: SodiumNative; readonly version: string } | { readonly ok: false; readonly error: string };

let cached: SodiumLoad | undefined;

export function loadSodium(): SodiumLoad {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  try {
    const sodium = require('sodium-native') as SodiumNative;
    const version = (require('sodium-native/package.json') as { version: string }).version;
    cached = { ok: true, sodium, version };
  } catch (err) {
    cached = { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  return cached;
}
