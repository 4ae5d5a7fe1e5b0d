/**
 * @module
 * Data keys of objects with SHARED fields (src/server/services/sharing/keys.graphql; docs/crypto.md §3, §7).
 * The client picks a random key per object, wraps it for each recipient's registered
 * X25519 key and stores the wrapped keys here. The server cannot open them; it checks what
 * it can from public facts before storing anything, so a wrapped key it hands out is at
 * least well-formed, of the version it claims, bound to the right object and owner, and
 * addressed to the recipient's registered key:
 *
 * - the object type has SHARED fields (manifest), the viewer owns the object (per-type
 *   owner lookup; an object that does not exist yet belongs to the viewer);
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
import type { CryptoBackend } from '../../../crypto/backend.js';
import { base64urlDecode, base64urlEncode } from '../../../crypto/base64url.js';
import { equalBytes } from '../../../crypto/bytes.js';
import { maxTextLength } from '../../../crypto/envelope.js';
import { isCryptoError, type CryptoError } from '../../../crypto/errors.js';
import { keyIdOf } from '../../../crypto/keys.js';
import { describeLocation, locationTag, type Location } from '../../../crypto/location.js';
import { parseWrappedKey, type ParsedWrappedKey } from '../../../crypto/wrap.js';
import { objectLevels, type PrivacyManifest } from '../../../privacy/manifest.js';
import type { GatewayContext } from '../../context.js';
import { requireViewer } from '../../context.js';
import { forbidden, gatewayError } from '../../errors.js';
import { assertOneLineage, currentDataKey, type DataKeyRef } from '../../data-key-lineage.js';
import type { ObjectKeyRow, Store } from '../../storage/store.js';
import { withErrorCodes } from '../../resolver-errors.js';

/** Returns the id of the user owning the object, or null when no such object exists. */
export type OwnerLookup = (objectId: string) => Promise<string | null>;

/** Most object ids per `myDataKeys`, and most keys per `putDataKeys`. */
export const MAX_DATA_KEY_IDS = 1000;
export const MAX_DATA_KEYS_PER_PUT = 1000;
/** A wrapped key for one recipient is 137 bytes (217 signed); anything far larger is refused unread. */
const MAX_WRAPPED_KEY_BYTES = 1024;
/** Location parts are at most 1024 bytes (../../crypto/location.ts). */
const MAX_OBJECT_ID_BYTES = 1024;
/** Key versions start at 1 (docs/crypto.md §3); GraphQL's Int bounds them above. */
const MIN_KEY_VERSION = 1;

export interface KeyInput {
  recipientId: string;
  keyVersion: number;
  wrapped: string;
}

/** The built-in owner lookups (types the gateway itself stores), under the caller's. */
export function ownerLookups(store: Store, extra: Readonly<Record<string, OwnerLookup>> = {}): Readonly<Record<string, OwnerLookup>> {
  return {
    Profile: async (id) => (await store.findProfileById(id))?.ownerId ?? null,
    ...extra,
  };
}

function hasSharedField(manifest: PrivacyManifest, objectType: string): boolean {
  return objectLevels(manifest, objectType).has('SHARED');
}

function badKey(index: number, why: string): Error {
  return gatewayError('BAD_USER_INPUT', `keys[${index}]: ${why}`, { field: `keys.${index}`, index });
}

function parseKeyText(index: number, text: string): ParsedWrappedKey {
  return parseWrappedKeyText(text, (why) => badKey(index, `wrapped key text is ${why}`), (e) => (e.code.startsWith('ENVELOPE_') ? badKey(index, `not a valid wrapped key v1 (${e.code}): ${e.message}`) : undefined));
}

/**
 * Parses a wrapped key v1 sent as text, refusing text longer than any wrapped key of one
 * recipient may be before decoding it. `tooLong` builds the caller's error for that;
 * `invalid` maps a parse failure to the caller's error (undefined: rethrow it).
 */
export function parseWrappedKeyText(text: string, tooLong: (why: string) => Error, invalid: (e: CryptoError) => Error | undefined): ParsedWrappedKey {
  try {
    if (text.length > maxTextLength(MAX_WRAPPED_KEY_BYTES)) throw tooLong(`longer than a wrapped key of at most ${MAX_WRAPPED_KEY_BYTES} bytes`);
    return parseWrappedKey(base64urlDecode(text), { maxBytes: MAX_WRAPPED_KEY_BYTES });
  } catch (e) {
    if (isCryptoError(e)) throw invalid(e) ?? e;
    throw e;
  }
}

function checkKey(backend: CryptoBackend, index: number, key: KeyInput, location: Location, expectedTag: Uint8Array, recipientKey: Uint8Array): Uint8Array {
  if (!Number.isInteger(key.keyVersion) || key.keyVersion < MIN_KEY_VERSION) throw badKey(index, `keyVersion must be ${MIN_KEY_VERSION} or more`);
  const w = parseKeyText(index, key.wrapped);
  if (w.keyVersion !== key.keyVersion) throw badKey(index, `the wrapped key is version ${w.keyVersion}, not keyVersion ${key.keyVersion}`);
  if (!equalBytes(w.locationTag, expectedTag)) throw badKey(index, `the wrapped key is not bound to ${describeLocation(location)}`);
  if (w.recipientKeyIds.length !== 1) throw badKey(index, `the wrapped key must have exactly one recipient stanza, it has ${w.recipientKeyIds.length}`);
  if (!equalBytes(w.recipientKeyIds[0]!, keyIdOf(backend, 'x25519', recipientKey))) {
    throw badKey(index, `the wrapped key is not wrapped for the registered encryption key of recipient ${key.recipientId}`);
  }
  return w.bytes;
}

/** The owner lookup for `objectType`, if the gateway has one (own properties only: `owners` comes from options). */
export function ownerLookupFor(owners: Readonly<Record<string, OwnerLookup>>, objectType: string): OwnerLookup | undefined {
  return Object.hasOwn(owners, objectType) ? owners[objectType] : undefined;
}

/** The owner lookup of a type with SHARED fields; BAD_USER_INPUT for any other type. */
export function sharedTypeOwners(ctx: GatewayContext, owners: Readonly<Record<string, OwnerLookup>>, objectType: string): OwnerLookup {
  if (!hasSharedField(ctx.manifest, objectType)) {
    throw gatewayError('BAD_USER_INPUT', `objectType must be a type with SHARED fields; ${JSON.stringify(objectType)} is not`, { field: 'objectType' });
  }
  const lookup = ownerLookupFor(owners, objectType);
  if (!lookup) throw gatewayError('BAD_USER_INPUT', `the gateway has no owner lookup for ${objectType} objects (GatewayOptions.owners)`, { field: 'objectType' });
  return lookup;
}

export function checkObjectId(objectId: string): void {
  if (objectId.length === 0 || Buffer.byteLength(objectId, 'utf8') > MAX_OBJECT_ID_BYTES) {
    throw gatewayError('BAD_USER_INPUT', `objectId must be 1–${MAX_OBJECT_ID_BYTES} bytes`, { field: 'objectId' });
  }
}

/**
 * Checks every wrapped key (module comment) before anything is written and returns the rows
 * to store. `keysField` names the argument in error paths.
 */
export async function checkWrappedKeys(
  ctx: GatewayContext,
  objectType: string,
  objectId: string,
  ownerId: string,
  keys: readonly KeyInput[],
): Promise<ObjectKeyRow[]> {
  if (keys.length > MAX_DATA_KEYS_PER_PUT) throw gatewayError('BAD_USER_INPUT', `keys may hold at most ${MAX_DATA_KEYS_PER_PUT} keys`, { field: 'keys' });
  const location: Location = { coordinate: objectType, ownerId, objectId };
  const expectedTag = locationTag(ctx.backend, location);
  // Every recipient's registered key in one query (a rotation for 1,000 members names 1,000).
  const recipients = new Map((await ctx.store.findUsersByIds(keys.map((k) => k.recipientId))).map((u) => [u.id, u.encryptionKey]));
  const rows: ObjectKeyRow[] = [];
  for (const [index, key] of keys.entries()) {
    const recipientKey = recipients.get(key.recipientId);
    if (!recipientKey) throw gatewayError('NOT_FOUND', `keys[${index}]: no such recipient`, { field: `keys.${index}.recipientId`, index });
    const wrapped = checkKey(ctx.backend, index, key, location, expectedTag, recipientKey);
    rows.push({ objectType, objectId, keyVersion: key.keyVersion, recipientId: key.recipientId, wrapped });
  }
  return rows;
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

/** Resolvers of src/server/services/sharing/keys.graphql; `owners` says who owns an object of each type. */
export function createDataKeyResolvers(owners: Readonly<Record<string, OwnerLookup>>) {
  return {
    Query: withErrorCodes({
      myDataKeys: async (_: unknown, args: { objectType: string; objectIds: string[] }, ctx: GatewayContext) => {
        const viewer = requireViewer(ctx);
        if (args.objectIds.length > MAX_DATA_KEY_IDS) throw gatewayError('BAD_USER_INPUT', `objectIds may hold at most ${MAX_DATA_KEY_IDS} ids`, { field: 'objectIds' });
        const rows = await ctx.store.objectKeysFor(args.objectType, args.objectIds, viewer.id);
        return rows.map((r) => ({ objectType: r.objectType, objectId: r.objectId, keyVersion: r.keyVersion, wrapped: base64urlEncode(r.wrapped) }));
      },
    }),

    Mutation: withErrorCodes({
      putDataKeys: async (_: unknown, args: { objectType: string; objectId: string; keys: KeyInput[] }, ctx: GatewayContext) => {
        const viewer = requireViewer(ctx);
        const { objectType, objectId, keys } = args;
        const lookup = sharedTypeOwners(ctx, owners, objectType);
        checkObjectId(objectId);
        if (keys.length === 0) throw gatewayError('BAD_USER_INPUT', `keys must hold 1–${MAX_DATA_KEYS_PER_PUT} keys`, { field: 'keys' });

        // Only the owner may; an object that does not exist yet is bound to the viewer.
        const ownerId = (await lookup(objectId)) ?? viewer.id;
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
