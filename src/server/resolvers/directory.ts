/**
 * @module
 * The key directory (schema/directory.graphql; formats: docs/crypto.md §11). Reads are
 * public, like `user(username)`: public keys are what the directory is for. The server
 * checks every new version before storing it (signed by the current key and by the new
 * one, acceptable keys, a signing key no account has had, the next version number), but
 * clients never rely on that: they verify each history themselves and pin what they saw
 * (src/client/directory.ts).
 */
import { base64urlEncode } from '../../crypto/base64url.js';
import { equalBytes } from '../../crypto/bytes.js';
import { PUBLIC_KEY_BYTES } from '../../crypto/auth-messages.js';
import { KEY_VERSION_SIGNATURE_BYTES, verifyKeyStatement } from '../../crypto/key-directory.js';
import { KEY_ID_BYTES, keyIdOf } from '../../crypto/keys.js';
import { assertAcceptableIdentityKeys, decodeFixedBase64url } from '../auth/validate.js';
import type { GatewayContext } from '../context.js';
import { requireViewer } from '../context.js';
import { gatewayError, unauthenticated } from '../errors.js';
import type { UserKeyRow } from '../storage/store.js';
import { publishKeyChange } from './user-events.js';
import { withErrorCodes } from './wrap.js';

/** Most signing key ids per `keyOwners` request. */
export const MAX_KEY_OWNER_IDS = 100;

interface RotateInput {
  version: number;
  signingKey: string;
  encryptionKey: string;
  signature: string;
}

function keyVersionOut(k: UserKeyRow) {
  return {
    version: k.version,
    signingKey: base64urlEncode(k.signingKey),
    encryptionKey: base64urlEncode(k.encryptionKey),
    signature: base64urlEncode(k.signature),
    signingKeyId: k.signingKeyId,
    createdAt: k.createdAt.toISOString(),
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
      rotateIdentityKeys: async (_: unknown, args: { input: RotateInput }, ctx: GatewayContext) => {
        const viewer = requireViewer(ctx);
        const { input } = args;
        const signingKey = decodeFixedBase64url(input.signingKey, PUBLIC_KEY_BYTES, 'signingKey');
        const encryptionKey = decodeFixedBase64url(input.encryptionKey, PUBLIC_KEY_BYTES, 'encryptionKey');
        const signature = decodeFixedBase64url(input.signature, KEY_VERSION_SIGNATURE_BYTES, 'signature');
        if (!Number.isInteger(input.version) || input.version < 2) throw gatewayError('BAD_USER_INPUT', 'version must be 2 or more (version 1 is made by registration)', { field: 'version' });

        const user = await ctx.store.findUserById(viewer.id);
        if (!user) throw unauthenticated();
        const history = await ctx.store.userKeys(user.id);
        const current = history.at(-1);
        if (!current) throw new Error(`user ${user.id} has no key versions`);

        if (input.version <= current.version) {
          // A client retrying a rotation that did succeed (its answer was lost) gets it again.
          const stored = history[input.version - 1];
          if (stored && sameVersion(stored, signingKey, encryptionKey, signature)) return keyVersionOut(stored);
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
        // One signing key, one account and version: "who signed this" has one answer. (Only the
        // key's holder could pass the check above with it, so this refuses nobody honest.)
        const signingKeyId = base64urlEncode(keyIdOf(ctx.backend, 'ed25519', signingKey));
        if ((await ctx.store.userKeysBySigningKeyIds([signingKeyId])).length > 0) {
          throw gatewayError('BAD_USER_INPUT', 'signingKey is already in the key directory; rotate to a new key', { field: 'signingKey' });
        }
        // CONFLICT when a concurrent rotation stored this version first.
        await ctx.store.addUserKey({ userId: user.id, version: input.version, signingKey, signingKeyId, encryptionKey, signature });
        const stored = (await ctx.store.userKeys(user.id)).find((k) => k.version === input.version);
        if (!stored) throw new Error('the stored key version is missing');
        ctx.log.info('directory.rotated', { userId: user.id, version: input.version });
        // After the commit: contacts re-fetch and verify the new version (an event is a hint).
        await publishKeyChange(ctx, user.id, input.version);
        return keyVersionOut(stored);
      },
    }),
  };
}
