/**
 * @module
 * New versions of a user's identity keys (docs/sharing.md, "Key directory"; formats:
 * docs/crypto.md §11): the checks before one is stored, storing it, and announcing it after
 * the commit. revokeDevice (./devices.ts) always rotates; directory()'s rotateIdentityKeys
 * and backups()'s resetAccount store versions through the same functions. The announcement
 * is a log line and each service's `onIdentityRotated` (directory() tells the user's
 * contacts).
 */
import { base64urlEncode } from '../../../crypto/base64url.js';
import { equalBytes } from '../../../crypto/bytes.js';
import { PUBLIC_KEY_BYTES } from '../../../crypto/auth-messages.js';
import { KEY_VERSION_SIGNATURE_BYTES, verifyKeyStatement } from '../../../crypto/key-directory.js';
import { keyIdOf } from '../../../crypto/keys.js';
import type { SignInContext, SignInStore } from './store.js';
import { gatewayError, unauthenticated } from '../../errors.js';
import type { NewUserKey, UserKeyRow } from '../../storage/store.js';
import { assertAcceptableIdentityKeys, decodeFixedBase64url } from './auth/validate.js';

export interface RotateInput {
  version: number;
  signingKey: string;
  encryptionKey: string;
  signature: string;
}

function sameVersion(k: UserKeyRow, signingKey: Uint8Array, encryptionKey: Uint8Array, signature: Uint8Array): boolean {
  return equalBytes(k.signingKey, signingKey) && equalBytes(k.encryptionKey, encryptionKey) && equalBytes(k.signature, signature);
}

/** A rotation as checked: a retry of a stored version, or the next version to store. */
export type CheckedRotation = { readonly kind: 'replay'; readonly stored: UserKeyRow } | { readonly kind: 'new'; readonly row: NewUserKey };

/**
 * Everything rotateIdentityKeys checks before it writes (docs/sharing.md, Key directory), for
 * the viewer `userId`: shapes (BAD_USER_INPUT), a version that exists (the same keys and
 * signature: a replay; else CONFLICT), version = current + 1 (BAD_USER_INPUT), acceptable
 * keys (BAD_USER_INPUT), both signatures (BAD_KEY_SIGNATURE), a signing key no account has
 * had (BAD_USER_INPUT). revokeDevice reuses it.
 */
export async function checkRotation(ctx: SignInContext, userId: string, input: RotateInput): Promise<CheckedRotation> {
  if (typeof input !== 'object' || input === null) throw gatewayError('BAD_USER_INPUT', 'identity input missing');
  const signingKey = decodeFixedBase64url(input.signingKey, PUBLIC_KEY_BYTES, 'signingKey');
  const encryptionKey = decodeFixedBase64url(input.encryptionKey, PUBLIC_KEY_BYTES, 'encryptionKey');
  const signature = decodeFixedBase64url(input.signature, KEY_VERSION_SIGNATURE_BYTES, 'signature');
  if (!Number.isInteger(input.version) || input.version < 2) throw gatewayError('BAD_USER_INPUT', 'version must be 2 or more (version 1 is made by registration)', { field: 'version' });

  const user = await ctx.store.findUserById(userId);
  if (!user) throw unauthenticated();
  const history = await ctx.store.userKeys(user.id);
  const current = history.at(-1);
  if (!current) throw new Error(`user ${user.id} has no key versions`);

  if (input.version <= current.version) {
    // A client retrying a rotation that did succeed (its answer was lost) gets it again.
    const stored = history[input.version - 1];
    if (stored && sameVersion(stored, signingKey, encryptionKey, signature)) return { kind: 'replay', stored };
    throw gatewayError('CONFLICT', `key version ${input.version} exists already; the current version is ${current.version}`, { field: 'version' });
  }
  if (input.version !== current.version + 1) {
    throw gatewayError('BAD_USER_INPUT', `version must be the current version + 1 (${current.version + 1})`, { field: 'version' });
  }
  await assertAcceptableIdentityKeys(ctx.backend, signingKey, encryptionKey);
  const statement = { realm: ctx.auth.realm, username: user.username, version: input.version, previousSigningKey: current.signingKey, signingKey, encryptionKey };
  if (!(await verifyKeyStatement(ctx.backend, statement, signature))) {
    throw gatewayError('BAD_KEY_SIGNATURE', 'the key-version signature does not verify with the current signing key and the new one');
  }
  const signingKeyId = await assertUnusedSigningKey(ctx, signingKey);
  return { kind: 'new', row: { userId: user.id, version: input.version, signingKey, signingKeyId, encryptionKey, signature } };
}

/**
 * One signing key, one account and version: "who signed this" has one answer. (Only the
 * key's holder could pass a signature check with it, so this refuses nobody honest.)
 * Returns the key id.
 */
export async function assertUnusedSigningKey(ctx: SignInContext, signingKey: Uint8Array): Promise<string> {
  const signingKeyId = base64urlEncode(keyIdOf(ctx.backend, 'ed25519', signingKey));
  if ((await ctx.store.userKeysBySigningKeyIds([signingKeyId])).length > 0) {
    throw gatewayError('BAD_USER_INPUT', 'signingKey is already in the key directory; rotate to a new key', { field: 'signingKey' });
  }
  return signingKeyId;
}

/** Appends the checked version (CONFLICT when a concurrent rotation stored it first) and returns it as stored. */
export async function applyRotation(store: Pick<SignInStore, 'addUserKey' | 'userKeys'>, row: NewUserKey): Promise<UserKeyRow> {
  await store.addUserKey(row);
  const stored = (await store.userKeys(row.userId)).find((k) => k.version === row.version);
  if (!stored) throw new Error('the stored key version is missing');
  return stored;
}

/** After the commit: a log line, and the services that care hear of it (directory(): the user's contacts re-fetch and verify the new version; an event is a hint). */
export async function announceRotation(ctx: SignInContext, stored: UserKeyRow): Promise<void> {
  ctx.log.info('directory.rotated', { userId: stored.userId, version: stored.version, reset: stored.reset });
  await ctx.identityRotated(stored);
}
