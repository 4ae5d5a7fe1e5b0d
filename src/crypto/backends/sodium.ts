/**
 * @module
 * Optional native backend for Node: libsodium through `sodium-native` (an optional
 * dependency of `veilgraph`, never of `@veilgraph/client`) for what runs per field and per
 * recipient, node:crypto for the rest:
 *
 *   libsodium    XChaCha20-Poly1305 and ChaCha20-Poly1305 (IETF; XChaCha also in place),
 *                X25519, SHA-256
 *   node backend HMAC, HKDF, Ed25519 (./node.ts), CSPRNG (../random.ts), nonce pool
 *
 * It exists for speed: libsodium's XChaCha20-Poly1305 is one native call where the node
 * backend runs HChaCha20 in JavaScript and builds a node:crypto cipher per message, and its
 * X25519 needs no key object import. Same algorithms, same bytes: test/crypto/backends.test.ts
 * runs the published vectors and the cross-backend comparison on it like on every other
 * backend; the portable noble backend stays the reference.
 *
 * Selection is explicit (`loadSodiumBackend()`, or `selectNodeBackend({ native })` below),
 * never automatic: where the addon cannot load, or its known-answer self-check fails,
 * `loadSodiumBackend` throws BACKEND_UNAVAILABLE with the reason, and `selectNodeBackend`
 * either throws too (`native: 'require'`) or returns the node backend (`'prefer'`), with
 * the reason in `nativeBackendStatus()`. Neither falls back to anything weaker: the node
 * backend implements the same algorithms with the same checks.
 *
 * Import it from `veilgraph/crypto/sodium`. This file is the only one in src/ that loads
 * `sodium-native`, lazily (createRequire inside `loadSodiumBackend`), so importing it never
 * fails.
 */
import { createRequire } from 'node:module';
import type { CryptoBackend } from '../backend.js';
import { CryptoError } from '../errors.js';
import { x25519Checked } from './noble.js';
import { nodeBackend } from './node.js';

const TAG = 16;

/** The functions used here (the package ships no types). All throw on failure. */
interface SodiumNative {
  crypto_aead_xchacha20poly1305_ietf_encrypt(c: Uint8Array, m: Uint8Array, ad: Uint8Array | null, nsec: null, npub: Uint8Array, k: Uint8Array): number;
  crypto_aead_xchacha20poly1305_ietf_decrypt(m: Uint8Array, nsec: null, c: Uint8Array, ad: Uint8Array | null, npub: Uint8Array, k: Uint8Array): number;
  crypto_aead_chacha20poly1305_ietf_encrypt(c: Uint8Array, m: Uint8Array, ad: Uint8Array | null, nsec: null, npub: Uint8Array, k: Uint8Array): number;
  crypto_aead_chacha20poly1305_ietf_decrypt(m: Uint8Array, nsec: null, c: Uint8Array, ad: Uint8Array | null, npub: Uint8Array, k: Uint8Array): number;
  crypto_hash_sha256(out: Uint8Array, input: Uint8Array): void;
  crypto_scalarmult(q: Uint8Array, n: Uint8Array, p: Uint8Array): void;
  crypto_scalarmult_base(q: Uint8Array, n: Uint8Array): void;
}

type Seal = SodiumNative['crypto_aead_xchacha20poly1305_ietf_encrypt'];
type Open = SodiumNative['crypto_aead_xchacha20poly1305_ietf_decrypt'];

// The same argument checks as the node backend, with the same codes and messages. Every
// argument is checked before libsodium sees it, so on open an exception from libsodium can
// only mean a failed authentication.
function assertAead(key: Uint8Array, nonce: Uint8Array, data: Uint8Array, aad: Uint8Array, nonceLength: number): void {
  if (!(key instanceof Uint8Array) || key.length !== 32) throw new CryptoError('INVALID_ARGUMENT', 'AEAD key must be 32 bytes');
  if (!(nonce instanceof Uint8Array) || nonce.length !== nonceLength) throw new CryptoError('INVALID_ARGUMENT', `AEAD nonce must be ${nonceLength} bytes`);
  if (!(data instanceof Uint8Array) || !(aad instanceof Uint8Array)) throw new CryptoError('INVALID_ARGUMENT', 'AEAD input and associated data must be Uint8Arrays');
}

function aeadSeal(fn: Seal, nonceLength: number): CryptoBackend['xchacha20poly1305Seal'] {
  return (key, nonce, pt, aad) => {
    assertAead(key, nonce, pt, aad, nonceLength);
    const out = new Uint8Array(pt.length + TAG);
    fn(out, pt, aad, null, nonce, key);
    return out;
  };
}

function aeadOpen(fn: Open, nonceLength: number): CryptoBackend['xchacha20poly1305Open'] {
  return (key, nonce, ct, aad) => {
    assertAead(key, nonce, ct, aad, nonceLength);
    if (ct.length < TAG) return null;
    const out = new Uint8Array(ct.length - TAG);
    try {
      // libsodium compares the tag in constant time and writes no plaintext unless it matches.
      fn(out, null, ct, aad, nonce, key);
    } catch {
      out.fill(0);
      return null;
    }
    return out;
  };
}

function assertPrivate(k: Uint8Array): void {
  if (!(k instanceof Uint8Array) || k.length !== 32) throw new CryptoError('INVALID_ARGUMENT', 'x25519 private key must be 32 bytes');
}

function build(na: SodiumNative): CryptoBackend {
  return {
    ...nodeBackend,
    name: 'sodium',
    chacha20poly1305Seal: aeadSeal(na.crypto_aead_chacha20poly1305_ietf_encrypt.bind(na), 12),
    chacha20poly1305Open: aeadOpen(na.crypto_aead_chacha20poly1305_ietf_decrypt.bind(na), 12),
    xchacha20poly1305Seal: aeadSeal(na.crypto_aead_xchacha20poly1305_ietf_encrypt.bind(na), 24),
    xchacha20poly1305Open: aeadOpen(na.crypto_aead_xchacha20poly1305_ietf_decrypt.bind(na), 24),
    xchacha20poly1305OpenInto: (key, nonce, ct, aad, out) => {
      assertAead(key, nonce, ct, aad, 24);
      if (!(out instanceof Uint8Array) || ct.length < TAG || out.length !== ct.length - TAG) throw new CryptoError('INVALID_ARGUMENT', 'open into: output must be the ciphertext length minus the tag');
      try {
        // libsodium checks the tag before it decrypts: on failure `out` is left untouched.
        na.crypto_aead_xchacha20poly1305_ietf_decrypt(out, null, ct, aad, nonce, key);
        return true;
      } catch {
        return false;
      }
    },
    // libsodium's AEAD reads each block of the message before writing it and writes the tag
    // after the message, so the message and the ciphertext may share memory.
    xchacha20poly1305SealInPlace: (key, nonce, buf, aad) => {
      assertAead(key, nonce, buf, aad, 24);
      if (buf.length < TAG) throw new CryptoError('INVALID_ARGUMENT', 'in-place seal: buffer shorter than the tag');
      na.crypto_aead_xchacha20poly1305_ietf_encrypt(buf, buf.subarray(0, buf.length - TAG), aad, null, nonce, key);
    },
    sha256: (data) => {
      if (!(data instanceof Uint8Array)) return nodeBackend.sha256(data);
      const out = new Uint8Array(32);
      na.crypto_hash_sha256(out, data);
      return out;
    },
    x25519PublicKey: async (priv) => {
      assertPrivate(priv);
      const pub = new Uint8Array(32);
      na.crypto_scalarmult_base(pub, priv);
      return pub;
    },
    x25519: async (priv, pub) => {
      assertPrivate(priv);
      if (!(pub instanceof Uint8Array) || pub.length !== 32) throw new CryptoError('INVALID_PUBLIC_KEY', 'x25519 public key must be 32 bytes');
      const shared = new Uint8Array(32);
      try {
        na.crypto_scalarmult(shared, priv, pub);
      } catch (cause) {
        // libsodium refuses the small-order points and the all-zero result, all of which the
        // other backends refuse as an all-zero result.
        shared.fill(0);
        throw new CryptoError('INVALID_PUBLIC_KEY', 'X25519 exchange failed (invalid or low-order public key)', { cause });
      }
      return x25519Checked(shared);
    },
  };
}

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

/**
 * Known answers checked once before the backend is handed out, so that a broken or
 * mismatched prebuilt binary is refused instead of used: RFC 7748 §6.1 (X25519 public key
 * and shared secret) and one XChaCha20-Poly1305 and ChaCha20-Poly1305 seal and open each,
 * byte for byte against the node backend.
 */
async function selfCheck(be: CryptoBackend): Promise<string | null> {
  const alice = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
  const bobPub = hex('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
  const alicePub = hex('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
  const shared = hex('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
  if (Buffer.compare(await be.x25519PublicKey(alice), alicePub) !== 0) return 'X25519 public key differs from RFC 7748';
  if (Buffer.compare(await be.x25519(alice, bobPub), shared) !== 0) return 'X25519 shared secret differs from RFC 7748';
  // FIPS 180-2 "abc".
  if (Buffer.compare(be.sha256(new Uint8Array([0x61, 0x62, 0x63])), hex('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')) !== 0) return 'SHA-256 differs from FIPS 180-2';
  const key = new Uint8Array(32).map((_, i) => i);
  const pt = new Uint8Array(100).map((_, i) => 255 - i);
  const aad = new Uint8Array(40).fill(7);
  for (const [n, seal, open, ref] of [
    [24, be.xchacha20poly1305Seal, be.xchacha20poly1305Open, nodeBackend.xchacha20poly1305Seal],
    [12, be.chacha20poly1305Seal, be.chacha20poly1305Open, nodeBackend.chacha20poly1305Seal],
  ] as const) {
    const nonce = new Uint8Array(n).fill(9);
    const ct = seal(key, nonce, pt, aad);
    if (Buffer.compare(ct, ref(key, nonce, pt, aad)) !== 0) return `AEAD (${n}-byte nonce) differs from the node backend`;
    const back = open(key, nonce, ct, aad);
    if (!back || Buffer.compare(back, pt) !== 0) return `AEAD (${n}-byte nonce) does not open its own output`;
    if (n === 24) {
      const buf = new Uint8Array(pt.length + TAG);
      buf.set(pt);
      be.xchacha20poly1305SealInPlace!(key, nonce, buf, aad);
      if (Buffer.compare(buf, ct) !== 0) return 'XChaCha20-Poly1305 in place differs';
    }
    ct[0]! ^= 1;
    if (open(key, nonce, ct, aad) !== null) return `AEAD (${n}-byte nonce) opens a changed ciphertext`;
  }
  return null;
}

let loaded: Promise<CryptoBackend> | undefined;
let status: { readonly native: boolean; readonly reason: string | null } = { native: false, reason: 'not loaded yet' };

/**
 * The sodium backend, after loading `sodium-native` and checking known answers (once per
 * process). Rejects with BACKEND_UNAVAILABLE, the reason in the message and `cause`, where
 * the addon is not installed, cannot load on this platform, or fails its self-check.
 */
export function loadSodiumBackend(): Promise<CryptoBackend> {
  loaded ??= (async () => {
    let na: SodiumNative;
    try {
      na = createRequire(import.meta.url)('sodium-native') as SodiumNative;
    } catch (cause) {
      throw new CryptoError('BACKEND_UNAVAILABLE', `sodium backend: sodium-native could not load (${cause instanceof Error ? cause.message.split('\n')[0] : String(cause)})`, { cause });
    }
    const be = build(na);
    let why: string | null;
    try {
      why = await selfCheck(be);
    } catch (cause) {
      throw new CryptoError('BACKEND_UNAVAILABLE', 'sodium backend: self-check threw', { cause });
    }
    if (why !== null) throw new CryptoError('BACKEND_UNAVAILABLE', `sodium backend: self-check failed: ${why}`);
    return be;
  })();
  return loaded;
}

export interface SelectNodeBackendOptions {
  /**
   * `'prefer'` (default): the sodium backend where it loads, else the node backend.
   * `'require'`: the sodium backend, or BACKEND_UNAVAILABLE. `'off'`: the node backend.
   */
  readonly native?: 'prefer' | 'require' | 'off';
}

/** The fastest backend this Node process can run, as `options.native` asks (see the module comment). */
export async function selectNodeBackend(options: SelectNodeBackendOptions = {}): Promise<CryptoBackend> {
  const native = options.native ?? 'prefer';
  if (native !== 'prefer' && native !== 'require' && native !== 'off') throw new CryptoError('INVALID_ARGUMENT', "native must be 'prefer', 'require' or 'off'");
  if (native === 'off') {
    status = { native: false, reason: "native: 'off'" };
    return nodeBackend;
  }
  try {
    const be = await loadSodiumBackend();
    status = { native: true, reason: null };
    return be;
  } catch (e) {
    status = { native: false, reason: e instanceof Error ? e.message : String(e) };
    if (native === 'require') throw e;
    return nodeBackend;
  }
}

/** What the last `selectNodeBackend` chose, and why not the sodium backend when it did not. */
export function nativeBackendStatus(): { readonly native: boolean; readonly reason: string | null } {
  return status;
}
