/**
 * @module
 * The key directory (src/server/services/directory/directory.graphql; formats: docs/crypto.md §11). Reads are
 * public, like `user(username)`: public keys are what the directory is for. The server
 * checks every new version before storing it (signed by the current key and by the new
 * one, acceptable keys, a signing key no account has had, the next version number), but
 * clients never rely on that: they verify each history themselves and pin what they saw
 * (src/client/directory.ts).
 */
import { base64urlEncode } from '../../../crypto/base64url.js';
import { equalBytes } from '../../../crypto/bytes.js';
import { PUBLIC_KEY_BYTES } from '../../../crypto/auth-messages.js';
import { KEY_VERSION_SIGNATURE_BYTES, verifyKeyStatement } from '../../../crypto/key-directory.js';
import { KEY_ID_BYTES, keyIdOf } from '../../../crypto/keys.js';
import { assertAcceptableIdentityKeys, decodeFixedBase64url } from '../sign-in/auth/validate.js';
import type { GatewayContext } from '../../context.js';
import { requireViewer } from '../../context.js';
import { gatewayError, unauthenticated } from '../../errors.js';
import { bundleRecipients, storeKeyBundle, type KeyBundleInput } from '../sign-in/key-bundle.js';
import type { NewUserKey, Store, UserKeyRow } from '../../storage/store.js';
import { publishKeyChange } from './user-events.js';
import { withErrorCodes } from '../../resolver-errors.js';

/** Most signing key ids per `keyOwners` request. */
export const MAX_KEY_OWNER_IDS = 100;

export interface RotateInput {
  version: number;
  signingKey: string;
  encryptionKey: string;
  signature: string;
}

export function keyVersionOut(k: UserKeyRow) {
  return {
    version: k.version,
    signingKey: base64urlEncode(k.signingKey),
    encryptionKey: base64urlEncode(k.encryptionKey),
    signature: base64urlEncode(k.signature),
    signingKeyId: k.signingKeyId,
    createdAt: k.createdAt.toISOString(),
    reset: k.reset,
  };
}

function sameVersion(k: UserKeyRow, signingKey: Uint8Array, encryptionKey: Uint8Array, signature: Uint8Array): boolean {
  return equalBytes(k.signingKey, signingKey) && equalBytes(k.encryptionKey, encryptionKey) && equalBytes(k.signature, signature);
}

export function createDirectoryResolvers() {
  return {
    Query: withErrorCodes({
      keyDirectory: async (_: unknown, args: { username: string }, ctx: GatewayContext) => {
        const user = await ctx.store.findUserByUsername(args.username);
        if (!user) return null;
        const versions = await ctx.store.userKeys(user.id);
        return { userId: user.id, username: user.username, versions: versions.map(keyVersionOut) };
      },

      keyOwners: async (_: unknown, args: { signingKeyIds: string[] }, ctx: GatewayContext) => {
        const ids = args.signingKeyIds;
        if (ids.length > MAX_KEY_OWNER_IDS) throw gatewayError('BAD_USER_INPUT', `signingKeyIds may hold at most ${MAX_KEY_OWNER_IDS} ids`, { field: 'signingKeyIds' });
        ids.forEach((id, i) => decodeFixedBase64url(id, KEY_ID_BYTES, `signingKeyIds[${i}]`));
        const rows = await ctx.store.userKeysBySigningKeyIds(ids);
        const usernames = new Map((await ctx.store.findUsersByIds(rows.map((r) => r.userId))).map((u) => [u.id, u.username]));
        return rows.flatMap((r) => {
          const username = usernames.get(r.userId);
          return username ? [{ signingKeyId: r.signingKeyId, userId: r.userId, username, version: r.version }] : [];
        });
      },
    }),

    Mutation: withErrorCodes({
      rotateIdentityKeys: async (_: unknown, args: { input: RotateInput; keyBundle?: KeyBundleInput | null }, ctx: GatewayContext) => {
        const viewer = requireViewer(ctx);
        const checked = await checkRotation(ctx, viewer.id, args.input);
        const bundle = await ctx.store.keyBundle(viewer.id);
        if (checked.kind === 'replay') {
          // A retry whose bundle was stored with it (or an older one) gets the stored version.
          if (!args.keyBundle || (bundle !== null && bundle.revision >= args.keyBundle.revision)) return keyVersionOut(checked.stored);
          throw gatewayError('CONFLICT', `key version ${checked.stored.version} exists already, stored without this key bundle`, { field: 'version' });
        }
        const keyBundle = args.keyBundle ?? null;
        const required = (): Error => gatewayError('KEY_BUNDLE_REQUIRED', 'the account has a key bundle: send the bundle holding the new keys as keyBundle', { field: 'keyBundle' });
        if (bundle !== null && keyBundle === null) throw required();
        const stored = await ctx.store.transaction(async (tx) => {
          if (keyBundle) await storeKeyBundle(ctx.backend, tx, viewer.id, keyBundle, bundleRecipients(await tx.devicesOf(viewer.id), await tx.backupsOf(viewer.id)));
          else if (await tx.keyBundle(viewer.id)) throw required(); // stored since the check above
          return applyRotation(tx, checked.row);
        });
        await announceRotation(ctx, stored);
        return keyVersionOut(stored);
      },
    }),
  };
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
export async function checkRotation(ctx: GatewayContext, userId: string, input: RotateInput): Promise<CheckedRotation> {
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
export async function assertUnusedSigningKey(ctx: GatewayContext, signingKey: Uint8Array): Promise<string> {
  const signingKeyId = base64urlEncode(keyIdOf(ctx.backend, 'ed25519', signingKey));
  if ((await ctx.store.userKeysBySigningKeyIds([signingKeyId])).length > 0) {
    throw gatewayError('BAD_USER_INPUT', 'signingKey is already in the key directory; rotate to a new key', { field: 'signingKey' });
  }
  return signingKeyId;
}

/** Appends the checked version (CONFLICT when a concurrent rotation stored it first) and returns it as stored. */
export async function applyRotation(store: Store, row: NewUserKey): Promise<UserKeyRow> {
  await store.addUserKey(row);
  const stored = (await store.userKeys(row.userId)).find((k) => k.version === row.version);
  if (!stored) throw new Error('the stored key version is missing');
  return stored;
}

/** After the commit: a log line, and the user's contacts re-fetch and verify the new version (an event is a hint). */
export async function announceRotation(ctx: GatewayContext, stored: UserKeyRow): Promise<void> {
  ctx.log.info('directory.rotated', { userId: stored.userId, version: stored.version, reset: stored.reset });
  await publishKeyChange(ctx, stored.userId, stored.version);
}
