/**
 * @module
 * What veilgraph holds about objects that are being deleted: their grants and wrapped data
 * keys, in veilgraph's own store (the rows are in the author's database). They name their
 * object by type and id only, so if they stayed, an object made again at the same id
 * would be shared with the old grantees at once (and its owner's new data key refused as
 * another lineage). They are removed first, in one transaction of veilgraph's store, then
 * the rows: if the row delete then fails, the object has lost its sharing, never kept it.
 *
 * Keys are removed for the owner and for every current grantee (a revocation already
 * removed the revoked ones').
 */
import type { VeilContext } from './context.js';
import { forbidden } from './errors.js';

export async function forgetObjects(ctx: VeilContext, typeName: string, ownerId: string, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await ctx.veil.store.transaction(async (tx) => {
    const grants = await tx.grantsFor(typeName, ids);
    for (const id of ids) await tx.deleteObjectKeys(typeName, id, ownerId);
    for (const g of grants) {
      await tx.deleteObjectKeys(typeName, g.objectId, g.granteeId);
      await tx.deleteGrant(typeName, g.objectId, g.granteeId);
    }
  });
}

/**
 * `veil.forget(ctx, type, ids)`: a schema author's delete calls it before deleting the rows.
 * Only the owner may (FORBIDDEN otherwise: the owners come from the type's TypeAdapter, ids
 * it does not know are skipped); then every grant and wrapped data key of those objects is
 * removed, in one transaction.
 */
export async function forgetOwnObjects(ctx: VeilContext, typeName: string, ids: readonly string[]): Promise<void> {
  const viewer = ctx.viewer;
  const owners = await Promise.all(ids.map((id) => ctx.owners.ownerOf(typeName, id)));
  const known = ids.filter((_, i) => owners[i] !== null);
  if (!viewer || owners.some((o) => o !== null && o !== viewer.id)) throw forbidden(`delete this ${typeName}`);
  await forgetObjects(ctx, typeName, viewer.id, known);
}
