/**
 * @module
 * Data keys of objects with SHARED fields (src/server/services/sharing/keys.graphql; docs/crypto.md §3, §7).
 * The client picks a random key per object, wraps it for each recipient's registered
 * X25519 key and stores the wrapped keys here. The server cannot open them; it checks what
 * it can from public facts before storing anything, so a wrapped key it hands out is at
 * least well-formed, of the version it claims, bound to the right object and owner, and
 * addressed to the recipient's registered key:
 *
 * - the object type has SHARED fields (manifest), the viewer owns the object (the type's
 *   TypeAdapter `owners`; an object that does not exist yet belongs to the viewer);
 * - per key: strict wrapped key v1 structure; header key version = the input's; location
 *   tag = tag(objectType, owner, objectId); exactly one stanza, for the recipient's
 *   registered X25519 key id;
 * - the keys are one version of the object's data key lineage (../data-key-lineage.ts): the
 *   first key (version 1, any new key id), or the object's key id at newest + 1, and a new
 *   version is wrapped for the owner; the newest version again only as a retry of what is
 *   stored (the same bytes). Checked in the transaction that stores them, so a concurrent put
 *   cannot start a second lineage: both would need the owner's slot of the same version.
 * - then one atomic store call: all keys or none.
 */
import { base64urlEncode } from '../../../crypto/base64url.js';
import { equalBytes } from '../../../crypto/bytes.js';
import { MAX_DATA_KEYS_PER_PUT, checkWrappedKeys, type KeyInput } from '../../wrapped-keys.js';
import { objectLevels, type PrivacyManifest } from '../../../privacy/manifest.js';
import type { SharingContext } from './store.js';
import { requireViewer } from '../../context.js';
import { forbidden, gatewayError } from '../../errors.js';
import { assertOneLineage, currentDataKey, type DataKeyRef } from '../../data-key-lineage.js';
import type { ObjectKeyRow, Store } from '../../storage/store.js';
import { withErrorCodes } from '../../resolver-errors.js';

/** Most object ids per `myDataKeys`. */
export const MAX_DATA_KEY_IDS = 1000;
/** Location parts are at most 1024 bytes (src/crypto/location.ts). */
const MAX_OBJECT_ID_BYTES = 1024;
function hasSharedField(manifest: PrivacyManifest, objectType: string): boolean {
  return objectLevels(manifest, objectType).has('SHARED');
}

/** Refuses (BAD_USER_INPUT) an `objectType` without SHARED fields: only those have data keys. */
export function checkSharedType(ctx: SharingContext, objectType: string): void {
  if (!hasSharedField(ctx.manifest, objectType)) {
    throw gatewayError('BAD_USER_INPUT', `objectType must be a type with SHARED fields; ${JSON.stringify(objectType)} is not`, { field: 'objectType' });
  }
  // createVeilgraph refuses to start with a SHARED type without a TypeAdapter; never guess an owner.
  if (!ctx.owners.has(objectType)) throw gatewayError('BAD_USER_INPUT', `no TypeAdapter for ${objectType} objects`, { field: 'objectType' });
}

export function checkObjectId(objectId: string): void {
  if (objectId.length === 0 || Buffer.byteLength(objectId, 'utf8') > MAX_OBJECT_ID_BYTES) {
    throw gatewayError('BAD_USER_INPUT', `objectId must be 1–${MAX_OBJECT_ID_BYTES} bytes`, { field: 'objectId' });
  }
}

/**
 * `putDataKeys`' lineage rule (module comment): one key version; the first (version 1) or
 * the object's key id at newest + 1, wrapped for the owner; or the newest version again as
 * an exact retry. WRONG_DATA_KEY, STALE_DATA_KEY (`extensions.keyVersion` = the newest, 0
 * for none), CONFLICT (a stored slot holds other bytes), BAD_USER_INPUT otherwise.
 */
async function checkNextVersion(store: Pick<Store, 'objectKeysFor'>, rows: readonly ObjectKeyRow[], ownerId: string, current: DataKeyRef | null): Promise<void> {
  const version = rows[0]!.keyVersion;
  if (rows.some((r) => r.keyVersion !== version)) throw gatewayError('BAD_USER_INPUT', 'keys must all be one version of the data key', { field: 'keys' });
  assertOneLineage(rows, current);
  const newest = current?.keyVersion ?? 0;
  const stale = (why: string): Error => gatewayError('STALE_DATA_KEY', `keys: ${why}`, { field: 'keys', keyVersion: newest });
  if (version === newest + 1) {
    if (!rows.some((r) => r.recipientId === ownerId)) throw gatewayError('BAD_USER_INPUT', `keys: a new data key version must be wrapped for the object's owner too`, { field: 'keys' });
    return;
  }
  if (version !== newest) throw stale(newest === 0 ? `the object has no data key: its first is version 1, not ${version}` : `a new data key version is ${newest + 1} (the newest is ${newest}), not ${version}`);
  // The newest version again: only what is stored already (a retry after a lost answer).
  // Another reader gets the current version from grantAccess, which checks the grant.
  for (const [index, r] of rows.entries()) {
    const stored = (await store.objectKeysFor(r.objectType, [r.objectId], r.recipientId)).find((k) => k.keyVersion === version);
    if (!stored) throw stale(`keys[${index}]: version ${version} exists already; a new one is ${newest + 1} (grantAccess gives the current version to a grantee)`);
    if (!equalBytes(stored.wrapped, r.wrapped)) throw gatewayError('CONFLICT', `keys[${index}]: another wrapped key is stored for this recipient and version`, { field: `keys.${index}`, index });
  }
}

/** Resolvers of ./keys.graphql; the types' TypeAdapters (`ctx.owners`) say who owns an object. */
export function createDataKeyResolvers() {
  return {
    Query: withErrorCodes({
      myDataKeys: async (_: unknown, args: { objectType: string; objectIds: string[] }, ctx: SharingContext) => {
        const viewer = requireViewer(ctx);
        if (args.objectIds.length > MAX_DATA_KEY_IDS) throw gatewayError('BAD_USER_INPUT', `objectIds may hold at most ${MAX_DATA_KEY_IDS} ids`, { field: 'objectIds' });
        const rows = await ctx.store.objectKeysFor(args.objectType, args.objectIds, viewer.id);
        return rows.map((r) => ({ objectType: r.objectType, objectId: r.objectId, keyVersion: r.keyVersion, wrapped: base64urlEncode(r.wrapped) }));
      },
    }),

    Mutation: withErrorCodes({
      putDataKeys: async (_: unknown, args: { objectType: string; objectId: string; keys: KeyInput[] }, ctx: SharingContext) => {
        const viewer = requireViewer(ctx);
        const { objectType, objectId, keys } = args;
        checkSharedType(ctx, objectType);
        checkObjectId(objectId);
        if (keys.length === 0) throw gatewayError('BAD_USER_INPUT', `keys must hold 1–${MAX_DATA_KEYS_PER_PUT} keys`, { field: 'keys' });

        // Only the owner may; an object that does not exist yet is bound to the viewer.
        const ownerId = (await ctx.owners.ownerOf(objectType, objectId)) ?? viewer.id;
        if (ownerId !== viewer.id) throw forbidden(`store data keys of this ${objectType}`);
        // Every key is checked before anything is written; the lineage and the write share one transaction.
        const rows = await checkWrappedKeys(ctx, objectType, objectId, ownerId, keys);
        await ctx.store.transaction(async (tx) => {
          await checkNextVersion(tx, rows, ownerId, await currentDataKey({ store: tx, backend: ctx.backend }, objectType, ownerId, objectId));
          await tx.putObjectKeys(rows);
        });
        return true;
      },
    }),
  };
}
