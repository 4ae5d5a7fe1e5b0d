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
import { KEY_ID_BYTES } from '../../../crypto/keys.js';
import { decodeFixedBase64url } from '../sign-in/auth/validate.js';
import type { DirectoryContext } from './store.js';
import { requireViewer } from '../../context.js';
import { gatewayError } from '../../errors.js';
import { bundleRecipients, storeKeyBundle, type KeyBundleInput } from '../sign-in/key-bundle.js';
import type { UserKeyRow } from '../../storage/store.js';
import { announceRotation, applyRotation, checkRotation, type RotateInput } from '../sign-in/identity.js';
import { withErrorCodes } from '../../resolver-errors.js';

/** Most signing key ids per `keyOwners` request. */
export const MAX_KEY_OWNER_IDS = 100;

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

export function createDirectoryResolvers() {
  return {
    Query: withErrorCodes({
      keyDirectory: async (_: unknown, args: { username: string }, ctx: DirectoryContext) => {
        const user = await ctx.store.findUserByUsername(args.username);
        if (!user) return null;
        const versions = await ctx.store.userKeys(user.id);
        return { userId: user.id, username: user.username, versions: versions.map(keyVersionOut) };
      },

      keyOwners: async (_: unknown, args: { signingKeyIds: string[] }, ctx: DirectoryContext) => {
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
      rotateIdentityKeys: async (_: unknown, args: { input: RotateInput; keyBundle?: KeyBundleInput | null }, ctx: DirectoryContext) => {
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

