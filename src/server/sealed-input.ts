/**
 * @module
 * Checks, before anything is written, that every sealed input value is bound to the place
 * it is being written to (its header's location tag): a client cannot store Alice's
 * envelope in Bob's row or move `bio` into `diary`. Key-less, one SHA-256 per value.
 */
import type { CryptoBackend } from '../crypto/backend.js';
import { isSealedLevel } from '../privacy/levels.js';
import type { PrivacyManifest } from '../privacy/manifest.js';
import { sealedForLocation } from '../privacy/sealed-value.js';
import { gatewayError } from './errors.js';

export function assertSealedInputLocations(
  backend: CryptoBackend,
  manifest: PrivacyManifest,
  inputType: string,
  input: Readonly<Record<string, unknown>>,
  where: { readonly ownerId: string; readonly objectId: string },
): void {
  const spec = manifest.inputs[inputType];
  if (!spec) return;
  for (const [name, f] of Object.entries(spec.fields)) {
    const v = input[name];
    if (!isSealedLevel(f.level) || typeof v !== 'string') continue;
    if (!sealedForLocation(backend, v, { coordinate: f.coordinate, ownerId: where.ownerId, objectId: where.objectId })) {
      throw gatewayError(
        'BAD_SEALED_VALUE',
        `${inputType}.${name}: the envelope is not sealed for ${f.coordinate} of this owner and object (seal it with that location)`,
        { field: `${inputType}.${name}` },
      );
    }
  }
}
