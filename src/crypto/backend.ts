/**
 * @module
 * The one interface every primitive goes through, so the format code never cares
 * whether bytes are processed by pure JS (@noble, the portable reference) or by the
 * runtime's native code (node:crypto, WebCrypto). All backends must produce identical
 * bytes for identical inputs; `test/crypto/backends.test.ts` holds them to the same vectors.
 *
 * Symmetric operations are synchronous: they run once per field on the hot path.
 * Asymmetric operations return promises: they run once per key (never per field), and
 * WebCrypto only offers them asynchronously.
 */

export interface CryptoBackend {
  /** Short name shown in benchmarks and errors, e.g. `noble`, `node`, `webcrypto`. */
  readonly name: string;

  /** `n` bytes from the platform CSPRNG. */
  randomBytes(n: number): Uint8Array;

  /**
   * Optional: fills `out` with CSPRNG bytes for a public nonce, possibly from a pool
   * (../nonce-pool.ts: never the same bytes twice). The envelope takes its nonce here when
   * present, else from `randomBytes`. Never used for keys. A backend that overrides
   * `randomBytes` (a deterministic test stream) must drop it.
   */
  fillNonce?(out: Uint8Array): void;

  /** ChaCha20-Poly1305 (RFC 8439), 32-byte key, 12-byte nonce; returns ciphertext ‖ 16-byte tag. */
  chacha20poly1305Seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array;
  /** Inverse of `chacha20poly1305Seal`; returns `null` when authentication fails. */
  chacha20poly1305Open(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array): Uint8Array | null;

  /** XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha), 24-byte nonce. */
  xchacha20poly1305Seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array;
  /**
   * Optional: the same seal in place. `buf` holds the plaintext in its first
   * `buf.length - 16` bytes; they are overwritten by the ciphertext and the tag fills the
   * rest. Must give the bytes `xchacha20poly1305Seal` gives (test/crypto/backends.test.ts).
   * Lets the envelope seal into its own output buffer without copies.
   */
  xchacha20poly1305SealInPlace?(key: Uint8Array, nonce: Uint8Array, buf: Uint8Array, aad: Uint8Array): void;
  /** Returns `null` when authentication fails. */
  xchacha20poly1305Open(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array): Uint8Array | null;
  /**
   * Optional: the same open into `out` (exactly `ciphertext.length - 16` bytes). Returns
   * false when authentication fails, and then writes no plaintext into `out`. Lets the
   * format code open into reusable memory it wipes after use.
   */
  xchacha20poly1305OpenInto?(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array, out: Uint8Array): boolean;

  sha256(data: Uint8Array): Uint8Array;
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
  /** HKDF-SHA256 (RFC 5869), extract-then-expand. */
  hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array;

  /** X25519 public key for a 32-byte private key (RFC 7748). */
  x25519PublicKey(privateKey: Uint8Array): Promise<Uint8Array>;
  /** X25519 shared secret. Backends throw INVALID_PUBLIC_KEY on the all-zero output. */
  x25519(privateKey: Uint8Array, publicKey: Uint8Array): Promise<Uint8Array>;

  /** Ed25519 public key for a 32-byte seed (RFC 8032). */
  ed25519PublicKey(seed: Uint8Array): Promise<Uint8Array>;
  ed25519Sign(seed: Uint8Array, message: Uint8Array): Promise<Uint8Array>;
  /** Never throws for a bad signature or key: returns false. */
  ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean>;
}
