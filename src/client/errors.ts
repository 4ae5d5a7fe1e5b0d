/**
 * @module
 * Errors the client core raises itself (crypto failures stay `CryptoError`s with their
 * codes). Messages never contain plaintext values or key bytes.
 */

export type VeilClientErrorCode =
  /** No owner or object id could be found for a sealed value (see docs/client.md, "Locations"). */
  | 'LOCATION_UNKNOWN'
  /** A SHARED/PRIVATE input field is written as a literal in the document: pass it as a variable. */
  | 'SEALED_LITERAL'
  /** One variable value would have to be sealed for two different locations. */
  | 'AMBIGUOUS_VARIABLE'
  /** The document uses an alias starting with `_vg`, which the client reserves. */
  | 'RESERVED_ALIAS'
  /** The document has no operation of that name, or several and no name was given. */
  | 'UNKNOWN_OPERATION'
  /**
   * The server did not answer the enforcement check with `{ protocol: 1, enforced: true }`
   * (docs/client.md, "The enforcement check"): nothing protected was sent to it.
   */
  | 'SERVER_NOT_ENFORCING'
  /**
   * A result came in chunks (`@defer`, `@stream`): the client integrations do not open
   * those, rather than deliver envelopes or re-open merged, already opened data.
   */
  | 'INCREMENTAL_DELIVERY';

export class VeilClientError extends Error {
  override readonly name = 'VeilClientError';
  readonly code: VeilClientErrorCode;

  constructor(code: VeilClientErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isVeilClientError(e: unknown, code?: VeilClientErrorCode): e is VeilClientError {
  return e instanceof VeilClientError && (code === undefined || e.code === code);
}
