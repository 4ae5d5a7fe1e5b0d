/**
 * @module
 * The one check of every key bundle a mutation stores (src/server/services/sign-in/devices.graphql KeyBundleInput;
 * docs/auth.md §12). The gateway cannot open the bundle or its key; it checks, in order:
 *
 *   1. revision = stored revision + 1 (1 when none is stored)          else STALE_KEY_BUNDLE
 *   2. `bundle` is envelope v1 text (at most 256 KiB) bound to
 *      keyBundleLocation(userId)                                        else BAD_KEY_BUNDLE
 *   3. `wrappedKey` is wrapped key v1 text (signed or not, at most 64 KiB) bound to
 *      bundleKeyLocation(userId)                                        else BAD_KEY_BUNDLE
 *   4. the wrap's key id and version are the envelope's, and the version is the revision
 *                                                                       else BAD_KEY_BUNDLE
 *   5. the wrap's stanzas are for exactly the recipients the account has after the mutation
 *      (every ACTIVE device's and every backup's X25519 key), at least one
 *                                                                       else BUNDLE_RECIPIENTS_MISMATCH
 *
 * then stores it as a compare-and-swap on the revision (a concurrent writer that got there
 * first makes it STALE_KEY_BUNDLE). Callers run it inside the mutation's transaction, with
 * the transaction's store, so the check, the recipients it is checked against and the write
 * commit together or not at all.
 */
import type { CryptoBackend } from '../../../crypto/backend.js';
import { base64urlDecode, base64urlEncode } from '../../../crypto/base64url.js';
import { equalBytes } from '../../../crypto/bytes.js';
import { maxTextLength, parseEnvelopeText, type ParsedEnvelope } from '../../../crypto/envelope.js';
import { isCryptoError } from '../../../crypto/errors.js';
import { keyIdOf } from '../../../crypto/keys.js';
import { locationTag } from '../../../crypto/location.js';
import { parseWrappedKey, type ParsedWrappedKey } from '../../../crypto/wrap.js';
import { bundleKeyLocation, keyBundleLocation } from '../../../privacy/account-locations.js';
import { AuthError } from './auth/errors.js';
import { isStorageError } from '../../storage/errors.js';
import type { BackupRow, DeviceRow, KeyBundleRow } from '../../storage/store.js';
import type { SignInStore } from './store.js';

/** What a mutation carries (src/server/services/sign-in/devices.graphql KeyBundleInput). */
export interface KeyBundleInput {
  readonly revision: number;
  readonly bundle: string;
  readonly wrappedKey: string;
}

/** Largest bundle envelope (binary). */
export const MAX_KEY_BUNDLE_BYTES = 256 * 1024;
/** Largest wrapped bundle key (binary): about 1,000 recipients. */
export const MAX_BUNDLE_KEY_BYTES = 64 * 1024;

/** The X25519 keys a bundle is wrapped to: every ACTIVE device's, then every backup's. */
export function bundleRecipients(devices: readonly DeviceRow[], backups: readonly BackupRow[]): Uint8Array[] {
  return [...devices.filter((d) => d.status === 'ACTIVE').map((d) => d.encryptionKey), ...backups.map((b) => b.encryptionKey)];
}

function bad(why: string): AuthError {
  return new AuthError('BAD_KEY_BUNDLE', `keyBundle: ${why}`);
}

function parsed<T>(what: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (isCryptoError(e)) throw bad(`${what} is not valid (${e.code})`);
    throw e;
  }
}

function parseBundle(text: unknown): ParsedEnvelope {
  if (typeof text !== 'string') throw bad('bundle must be envelope v1 text');
  return parsed('bundle', () => parseEnvelopeText(text, { maxBytes: MAX_KEY_BUNDLE_BYTES }));
}

function parseBundleKey(text: unknown): ParsedWrappedKey {
  if (typeof text !== 'string') throw bad('wrappedKey must be wrapped key v1 text');
  if (text.length > maxTextLength(MAX_BUNDLE_KEY_BYTES)) throw bad(`wrappedKey exceeds ${MAX_BUNDLE_KEY_BYTES} bytes`);
  return parsed('wrappedKey', () => parseWrappedKey(base64urlDecode(text), { maxBytes: MAX_BUNDLE_KEY_BYTES }));
}

/**
 * Checks `input` for `userId`'s account whose recipients after the mutation are `recipients`
 * (X25519 public keys), and stores it. `store` is the mutation's transaction.
 */
export async function storeKeyBundle(
  backend: CryptoBackend,
  store: SignInStore,
  userId: string,
  input: KeyBundleInput,
  recipients: readonly Uint8Array[],
): Promise<KeyBundleRow> {
  if (typeof input !== 'object' || input === null) throw bad('missing');
  const stored = await store.keyBundle(userId);
  const expected = (stored?.revision ?? 0) + 1;
  if (input.revision !== expected) {
    throw new AuthError('STALE_KEY_BUNDLE', `keyBundle: revision must be ${expected} (the stored revision + 1); fetch the bundle and try again`);
  }
  const envelope = parseBundle(input.bundle);
  if (!equalBytes(envelope.locationTag, locationTag(backend, keyBundleLocation(userId)))) throw bad("bundle is not sealed for this account's key bundle");
  const wrap = parseBundleKey(input.wrappedKey);
  if (!equalBytes(wrap.locationTag, locationTag(backend, bundleKeyLocation(userId)))) throw bad("wrappedKey is not bound to this account's bundle key");
  if (!equalBytes(wrap.keyId, envelope.keyId) || wrap.keyVersion !== envelope.keyVersion) throw bad('wrappedKey wraps another key than the one the bundle is sealed under');
  if (wrap.keyVersion !== input.revision) throw bad(`the bundle key's version must be the revision (${input.revision})`);

  const wanted = new Set(recipients.map((k) => base64urlEncode(keyIdOf(backend, 'x25519', k))));
  const given = new Set(wrap.recipientKeyIds.map((id) => base64urlEncode(id)));
  const missing = [...wanted].filter((id) => !given.has(id)).length;
  const extra = [...given].filter((id) => !wanted.has(id)).length;
  if (wanted.size === 0) throw new AuthError('BUNDLE_RECIPIENTS_MISMATCH', 'keyBundle: the account would have no ACTIVE device and no backup to wrap the bundle key for');
  if (missing > 0 || extra > 0) {
    throw new AuthError(
      'BUNDLE_RECIPIENTS_MISMATCH',
      `keyBundle: the bundle key must be wrapped for exactly the account's ACTIVE devices and backups (${missing} missing, ${extra} extra)`,
    );
  }
  try {
    return await store.putKeyBundle({ userId, revision: input.revision, bundle: input.bundle, wrappedKey: wrap.bytes });
  } catch (e) {
    if (isStorageError(e, 'CONFLICT')) throw new AuthError('STALE_KEY_BUNDLE', 'keyBundle: another change stored this revision first; fetch the bundle and try again');
    throw e;
  }
}
