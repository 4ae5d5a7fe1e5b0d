/**
 * @module
 * Small pieces every view uses.
 */
import { base64urlEncode } from '../../../src/crypto/base64url.js';
import type { ShownError } from '../errors.js';

export function ErrorLine({ error }: { readonly error: ShownError | null | undefined }) {
  if (!error) return null;
  return (
    <p className="error" role="alert" data-testid="error" data-code={error.code}>
      <code>{error.code}</code> {error.message}
    </p>
  );
}

/** A random object id the client chooses (16 bytes, base64url), as the schema asks. */
export function newObjectId(): string {
  return base64urlEncode(crypto.getRandomValues(new Uint8Array(16)));
}
