/**
 * @module
 * Typed errors for the crypto core. Every failure a caller can act on has a stable
 * `code`; the GraphQL layer copies it into `extensions.code`. Messages never contain
 * key material or plaintext.
 */

export type CryptoErrorCode =
  /** The bytes are not a well-formed v1 structure (length, version, encoding, trailing bytes). */
  | 'ENVELOPE_MALFORMED'
  /** Authentication failed: the ciphertext, header or a MAC was changed. */
  | 'ENVELOPE_TAMPERED'
  /** Input exceeds the configured size limit; rejected before decoding. */
  | 'ENVELOPE_TOO_LARGE'
  /** No key with the envelope's key id, or no stanza for the recipient. */
  | 'KEY_NOT_FOUND'
  /** The key id is known, but not at the envelope's key version. */
  | 'KEY_VERSION_MISMATCH'
  /** The envelope was sealed for another location (coordinate, owner or object). */
  | 'WRONG_LOCATION'
  /** A signature is missing, does not verify, or names an unexpected signer. */
  | 'SIGNATURE_INVALID'
  /** A caller passed a value of the wrong type, size or range. */
  | 'INVALID_ARGUMENT'
  /** A recovery phrase as typed is not 24 words of the BIP39 English list with a valid checksum. */
  | 'INVALID_RECOVERY_PHRASE'
  /** An X25519 exchange produced the all-zero secret (low-order public key). */
  | 'INVALID_PUBLIC_KEY'
  /** The runtime lacks a primitive the chosen backend needs. */
  | 'BACKEND_UNAVAILABLE';

export class CryptoError extends Error {
  override readonly name = 'CryptoError';
  readonly code: CryptoErrorCode;

  constructor(code: CryptoErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** True when `e` is a CryptoError, optionally with the given code. */
export function isCryptoError(e: unknown, code?: CryptoErrorCode): e is CryptoError {
  return e instanceof CryptoError && (code === undefined || e.code === code);
}
