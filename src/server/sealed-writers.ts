/**
 * @module
 * Checks on sealed input values that need the database (the key-less, synchronous location
 * check is ./sealed-input.ts). Run by `prepareWrite` before anything is written:
 *
 * - **Writer signatures.** A signed envelope must be signed by the acting user's current
 *   signing key (the header names the signer; the signature is verified without the
 *   symmetric key, docs/crypto.md §6): nobody can store a value attributed to someone else.
 *   A SHARED value written by anyone but the owner (a WRITE grantee) must be signed, so
 *   the owner can always tell who wrote what. Code `BAD_SIGNATURE`.
 * - **Current data key** (./data-key-lineage.ts). A SHARED value must be sealed under the
 *   object's data key as stored: its key id (`WRONG_DATA_KEY`) at its newest version
 *   (`STALE_DATA_KEY`); an object with no data key takes no SHARED value (`NO_DATA_KEY`).
 *   After a revocation (newest + 1, not wrapped for the revoked user) a writer with a stale
 *   key is refused instead of writing something the revoked user could still open, and no
 *   writer can seal under a key of their own that the owner and other readers never get.
 */
import { parseEnvelopeText, verifyEnvelopeSignature, type ParsedEnvelope } from '../crypto/envelope.js';
import { equalBytes } from '../crypto/bytes.js';
import { isCryptoError } from '../crypto/errors.js';
import { keyIdOf } from '../crypto/keys.js';
import { isSealedLevel } from '../privacy/levels.js';
import type { CryptoBackend } from '../crypto/backend.js';
import type { GatewayContext } from './context.js';
import type { LayerStore } from './storage/store.js';
import { requireViewer } from './context.js';
import { assertSealedUnderDataKey, currentDataKey, type DataKeyRef } from './data-key-lineage.js';
import { gatewayError } from './errors.js';

export type SealedWriteServices = Pick<GatewayContext, 'backend' | 'manifest' | 'store' | 'viewer'>;

/** Parses a sealed value the shape check accepted; BAD_SEALED_VALUE when it is not a valid envelope. */
export function parseSealedValue(field: string, text: string): ParsedEnvelope {
  try {
    return parseEnvelopeText(text);
  } catch (e) {
    if (isCryptoError(e)) throw gatewayError('BAD_SEALED_VALUE', `${field}: not a valid envelope (${e.code})`, { field });
    throw e;
  }
}

/**
 * Checks that `env` is signed by `actorId`'s current signing key (BAD_SIGNATURE otherwise);
 * `signingKey` may pass the key when the caller already has it.
 */
export async function assertSignedByActor(services: { readonly backend: CryptoBackend; readonly store: Pick<LayerStore, 'findUserById'> }, field: string, env: ParsedEnvelope, actorId: string, signingKey?: Uint8Array): Promise<Uint8Array> {
  const key = signingKey ?? (await services.store.findUserById(actorId))?.signingKey;
  if (!env.signed || !key || !equalBytes(env.signerKeyId!, keyIdOf(services.backend, 'ed25519', key))) {
    throw gatewayError('BAD_SIGNATURE', `${field}: the envelope is not signed by the writer's current signing key`, { field });
  }
  try {
    await verifyEnvelopeSignature(services.backend, env, key);
  } catch (e) {
    if (isCryptoError(e)) throw gatewayError('BAD_SIGNATURE', `${field}: the writer's signature does not verify`, { field });
    throw e;
  }
  return key;
}

export async function assertSealedWriters(
  services: SealedWriteServices,
  inputType: string,
  input: Readonly<Record<string, unknown>>,
  where: { readonly ownerId: string; readonly objectId: string },
): Promise<void> {
  const spec = services.manifest.inputs[inputType];
  if (!spec) return;
  const actor = requireViewer(services as GatewayContext);
  let signingKey: Uint8Array | undefined;
  let current: DataKeyRef | null | undefined;
  for (const [name, f] of Object.entries(spec.fields)) {
    const v = input[name];
    if (!isSealedLevel(f.level) || typeof v !== 'string') continue;
    const field = `${inputType}.${name}`;
    const env = parseSealedValue(field, v);
    if (env.signed) {
      signingKey = await assertSignedByActor(services, field, env, actor.id, signingKey);
    } else if (f.level === 'SHARED' && actor.id !== where.ownerId) {
      throw gatewayError('BAD_SIGNATURE', `${field}: a SHARED value written by a grantee must be signed by the writer`, { field });
    }
    if (f.level === 'SHARED') {
      if (current === undefined) current = await currentDataKey(services, spec.writes, where.ownerId, where.objectId);
      assertSealedUnderDataKey(field, env, current);
    }
  }
}
