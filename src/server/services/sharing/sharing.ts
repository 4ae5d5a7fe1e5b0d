/**
 * @module
 * Grants (src/server/services/sharing/sharing.graphql; docs/sharing.md "Grants"). The owner gives a user READ or
 * WRITE access to an object; for a type with SHARED fields the grant and the revocation
 * carry wrapped data keys, which are checked like `putDataKeys` does (shape, version,
 * binding to the object and owner, addressed to the recipient's registered X25519 key) and
 * stored in the same transaction as the grant change: all or nothing.
 *
 * Key versions are what make revocation real: a grant must hand the grantee the object's
 * newest version; a revocation must introduce version newest + 1 for exactly the owner and
 * the remaining grantees. Both carry keys of the object's one lineage (its key id,
 * ../data-key-lineage.ts: WRONG_DATA_KEY), checked in the transaction that stores them. The
 * write path (../write.ts) then refuses SHARED values sealed under any key but the newest
 * version of that lineage, so nothing written after a revocation is under a key the revoked
 * user ever held.
 */
import { objectLevels } from '../../../privacy/manifest.js';
import type { SharingContext } from './store.js';
import { requireViewer } from '../../context.js';
import { assertOneLineage, currentDataKey } from '../../data-key-lineage.js';
import { forbidden, gatewayError } from '../../errors.js';
import type { Access, GrantRow, ObjectKeyRow } from '../../storage/store.js';
import { checkWrappedKeys, type KeyInput } from '../../wrapped-keys.js';
import { checkObjectId } from './data-keys.js';
import { withErrorCodes } from '../../resolver-errors.js';

interface ObjectArgs {
  objectType: string;
  objectId: string;
}

interface Target {
  readonly ownerId: string;
  /** The type has SHARED fields: grants carry wrapped data keys. */
  readonly shared: boolean;
}

/** What a grant gives access to: the type's SERVER and SHARED fields. */
function grantableLevels(ctx: SharingContext, objectType: string): { any: boolean; shared: boolean } {
  const levels = objectLevels(ctx.manifest, objectType);
  return { any: levels.has('SERVER') || levels.has('SHARED'), shared: levels.has('SHARED') };
}

/** Resolves the object and checks the viewer owns it (NOT_FOUND / FORBIDDEN otherwise). */
async function ownedTarget(ctx: SharingContext, args: ObjectArgs, what: string): Promise<Target> {
  const viewer = requireViewer(ctx);
  const levels = grantableLevels(ctx, args.objectType);
  if (!ctx.owners.has(args.objectType) || !levels.any) {
    throw gatewayError('BAD_USER_INPUT', `objectType must be a type with SERVER or SHARED fields and a TypeAdapter; ${JSON.stringify(args.objectType)} is not`, {
      field: 'objectType',
    });
  }
  checkObjectId(args.objectId);
  const ownerId = await ctx.owners.ownerOf(args.objectType, args.objectId);
  if (ownerId === null) throw gatewayError('NOT_FOUND', `no such ${args.objectType}`);
  if (ownerId !== viewer.id) throw forbidden(what);
  return { ownerId, shared: levels.shared };
}

async function granteeByName(store: SharingContext['store'], username: string, ownerId: string): Promise<string> {
  const grantee = await store.findUserByUsername(username);
  if (!grantee) throw gatewayError('NOT_FOUND', 'no such user', { field: 'username' });
  if (grantee.id === ownerId) throw gatewayError('BAD_USER_INPUT', 'the owner always has access to their own objects', { field: 'username' });
  return grantee.id;
}

function keysError(message: string): Error {
  return gatewayError('BAD_USER_INPUT', message, { field: 'keys' });
}

/** A grant's keys: for the grantee only, and the newest version among them. */
function checkGrantKeys(rows: readonly ObjectKeyRow[], granteeId: string, latest: number | null): void {
  if (latest === null) throw keysError('the object has no data key yet: store the owner\'s first (putDataKeys), then grant');
  if (rows.some((r) => r.recipientId !== granteeId)) throw keysError('a grant may only carry keys wrapped for the grantee');
  if (rows.some((r) => r.keyVersion > latest)) throw keysError(`keys may not be newer than the object's newest data key version ${latest}`);
  if (!rows.some((r) => r.keyVersion === latest)) throw keysError(`keys must include the object's newest data key version ${latest}, wrapped for the grantee`);
}

/** A revocation's keys: version latest + 1, exactly once for each of `keepers`. */
function checkRotationKeys(rows: readonly ObjectKeyRow[], keepers: ReadonlySet<string>, next: number): void {
  const seen = new Set<string>();
  for (const r of rows) {
    if (r.keyVersion !== next) throw keysError(`a revocation's keys must all be the next data key version ${next}`);
    if (!keepers.has(r.recipientId)) throw keysError('a revocation may only carry keys for the owner and the remaining grantees');
    if (seen.has(r.recipientId)) throw keysError('one key per recipient');
    seen.add(r.recipientId);
  }
  const missing = [...keepers].filter((id) => !seen.has(id));
  if (missing.length > 0) throw keysError(`the next data key version ${next} must be wrapped for the owner and every remaining grantee (${missing.length} missing)`);
}

/** Resolvers of ./sharing.graphql; the types' TypeAdapters (`ctx.owners`) say who owns an object. */
export function createSharingResolvers() {
  return {
    Query: withErrorCodes({
      grants: async (_: unknown, args: ObjectArgs, ctx: SharingContext) => {
        await ownedTarget(ctx, args, `see the grants of this ${args.objectType}`);
        return ctx.store.grantsFor(args.objectType, [args.objectId]);
      },
    }),

    Mutation: withErrorCodes({
      grantAccess: async (_: unknown, args: ObjectArgs & { username: string; access: Access; keys: KeyInput[] }, ctx: SharingContext) => {
        const target = await ownedTarget(ctx, args, `grant access to this ${args.objectType}`);
        const granteeId = await granteeByName(ctx.store, args.username, target.ownerId);
        if (!target.shared && args.keys.length > 0) throw keysError(`${args.objectType} has no SHARED fields: a grant carries no keys`);
        const rows = await checkWrappedKeys(ctx, args.objectType, args.objectId, target.ownerId, args.keys);
        return ctx.store.transaction(async (tx) => {
          if (target.shared) {
            const current = await currentDataKey({ store: tx, backend: ctx.backend }, args.objectType, target.ownerId, args.objectId);
            checkGrantKeys(rows, granteeId, current?.keyVersion ?? null);
            assertOneLineage(rows, current);
            // Re-granting (say READ → WRITE) re-wraps the same versions with fresh randomness:
            // the owner's newest wrap replaces the grantee's old one.
            await tx.deleteObjectKeys(args.objectType, args.objectId, granteeId);
            await tx.putObjectKeys(rows);
          }
          return tx.upsertGrant({ objectType: args.objectType, objectId: args.objectId, granteeId, access: args.access });
        });
      },

      revokeAccess: async (_: unknown, args: ObjectArgs & { username: string; keys: KeyInput[] }, ctx: SharingContext) => {
        const target = await ownedTarget(ctx, args, `revoke access to this ${args.objectType}`);
        const granteeId = await granteeByName(ctx.store, args.username, target.ownerId);
        if (!target.shared && args.keys.length > 0) throw keysError(`${args.objectType} has no SHARED fields: a revocation carries no keys`);
        const rows = await checkWrappedKeys(ctx, args.objectType, args.objectId, target.ownerId, args.keys);
        return ctx.store.transaction(async (tx) => {
          const grants: GrantRow[] = await tx.grantsFor(args.objectType, [args.objectId]);
          if (!grants.some((g) => g.granteeId === granteeId)) throw gatewayError('NOT_FOUND', `${args.username} has no access to this ${args.objectType}`, { field: 'username' });
          if (target.shared) {
            const current = await currentDataKey({ store: tx, backend: ctx.backend }, args.objectType, target.ownerId, args.objectId);
            const keepers = new Set([target.ownerId, ...grants.filter((g) => g.granteeId !== granteeId).map((g) => g.granteeId)]);
            checkRotationKeys(rows, keepers, (current?.keyVersion ?? 0) + 1);
            // Same key id, version + 1: the next version of the object's lineage.
            assertOneLineage(rows, current);
            await tx.putObjectKeys(rows);
            await tx.deleteObjectKeys(args.objectType, args.objectId, granteeId);
          }
          await tx.deleteGrant(args.objectType, args.objectId, granteeId);
          return true;
        });
      },
    }),

    Grant: {
      grantee: (g: GrantRow, _: unknown, ctx: SharingContext) => ctx.users.load(g.granteeId),
      createdAt: (g: GrantRow) => g.createdAt.toISOString(),
    },
  };
}
