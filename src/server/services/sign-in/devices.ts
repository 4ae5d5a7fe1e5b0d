/**
 * @module
 * Devices and the key bundle (src/server/services/sign-in/devices.graphql; docs/auth.md §12). Every mutation
 * acts for the token's user (a PENDING device asks to join the account it names, and joins
 * only when one of that account's sessions approves it) and writes everything in one
 * transaction: device rows, the identity rotation of a revocation, and the bundle, whose
 * recipients are checked against the account as it is after the mutation
 * (../key-bundle-check.ts).
 */
import { base64urlEncode } from '../../../crypto/base64url.js';
import { equalBytes } from '../../../crypto/bytes.js';
import { keyIdOf } from '../../../crypto/keys.js';
import { parseWrappedKey, type ParsedWrappedKey } from '../../../crypto/wrap.js';
import { DEVICE_ID_PATTERN, DEVICE_LINK_TTL_MS, newDeviceId, parseNewDevice, verifyNewDevice, type NewDeviceInput } from './auth/device.js';
import { parseUsername } from './auth/validate.js';
import type { SignInContext } from './store.js';
import { requireViewer } from '../../context.js';
import { gatewayError, unauthenticated } from '../../errors.js';
import { bundleRecipients, storeKeyBundle, type KeyBundleInput } from './key-bundle.js';
import { isStorageError } from '../../storage/errors.js';
import type { DeviceRow, EpochKeyRow, KeyBundleRow, ObjectKeyRow } from '../../storage/store.js';
import type { DeviceOut } from './accounts.js';
import { parseWrappedKeyText } from '../../wrapped-keys.js';
import { announceRotation, applyRotation, checkRotation, type RotateInput } from './identity.js';
import { withErrorCodes } from '../../resolver-errors.js';

/**
 * Most PENDING (unexpired) devices one account holds. Anyone may ask to link a device to any
 * account, so a request to a full account is never refused: the oldest waiting request makes
 * room (docs/devices.md, "Link requests from strangers"). More slots make evicting the user's
 * own request dearer for an attacker; the approving device finds it by its code, not its place.
 */
export const MAX_PENDING_DEVICES = 10;
/** `staleWrappedKeys(first)`: 1–500. */
export const MAX_STALE_KEYS_PAGE = 500;
/** Most keys one `rewrapMyKeys` replaces (data and epoch keys together). */
export const MAX_REWRAPPED_KEYS = 1000;

/** The topic a device's revocation is published on: its open sockets close (../ws.ts). */
export const deviceTopic = (deviceId: string): string => `Device:${deviceId}:revoked`;

export function keyBundleOut(b: KeyBundleRow) {
  return { revision: b.revision, bundle: b.bundle, wrappedKey: base64urlEncode(b.wrappedKey), updatedAt: b.updatedAt.toISOString() };
}

/** The viewer's device `deviceId`, or NOT_FOUND (unknown, or another user's: the same answer). */
async function viewersDevice(store: SignInContext['store'], userId: string, deviceId: string): Promise<DeviceRow> {
  const d = DEVICE_ID_PATTERN.test(deviceId) ? await store.findDevice(deviceId) : null;
  if (!d || d.userId !== userId) throw gatewayError('NOT_FOUND', 'no such device', { field: 'deviceId' });
  return d;
}

function isExpired(d: DeviceRow, now: number): boolean {
  return d.status === 'PENDING' && d.expiresAt !== null && d.expiresAt.getTime() <= now;
}

/** The recipients of the viewer's bundle after a change of devices (`devices` as they will be) and the current backups. */
async function recipientsWith(tx: SignInContext['store'], userId: string, devices: (current: DeviceRow[]) => DeviceRow[]): Promise<Uint8Array[]> {
  return bundleRecipients(devices(await tx.devicesOf(userId)), await tx.backupsOf(userId));
}

function badWrappedKey(field: string, why: string): Error {
  return gatewayError('BAD_WRAPPED_KEY', `${field}: ${why}`, { field });
}

function parseWrapped(field: string, text: string): ParsedWrappedKey {
  return parseWrappedKeyText(text, (why) => badWrappedKey(field, why), (e) => badWrappedKey(field, `not a valid wrapped key v1 (${e.code})`));
}

/**
 * A re-wrap of a stored key: the same key (id, version) at the same place (location tag),
 * with exactly one stanza, for the viewer's current X25519 key.
 */
function checkRewrap(field: string, text: string, stored: Uint8Array, currentKeyId: Uint8Array): Uint8Array {
  const next = parseWrapped(field, text);
  const before = parseWrappedKey(stored);
  if (!equalBytes(next.keyId, before.keyId) || next.keyVersion !== before.keyVersion) throw badWrappedKey(field, 'wraps another key than the stored one');
  if (!equalBytes(next.locationTag, before.locationTag)) throw badWrappedKey(field, 'is bound to another place than the stored one');
  if (next.recipientKeyIds.length !== 1 || !equalBytes(next.recipientKeyIds[0]!, currentKeyId)) {
    throw badWrappedKey(field, "must have exactly one stanza, for the viewer's current encryption key");
  }
  return next.bytes;
}

interface RewrappedDataKey {
  objectType: string;
  objectId: string;
  keyVersion: number;
  wrapped: string;
}

interface RewrappedEpochKey {
  conversationId: string;
  epoch: number;
  wrapped: string;
}

/** Resolvers of ./devices.graphql for devices and the bundle; each data key's owner comes from its type's TypeAdapter (`ctx.owners`). */
export function createDeviceResolvers() {
  return {
    Query: withErrorCodes({
      myDevices: async (_: unknown, __: unknown, ctx: SignInContext) => ctx.store.devicesOf(requireViewer(ctx).id),

      myKeyBundle: async (_: unknown, __: unknown, ctx: SignInContext) => {
        const b = await ctx.store.keyBundle(requireViewer(ctx).id);
        return b && keyBundleOut(b);
      },

      deviceLinkStatus: async (_: unknown, args: { deviceId: string }, ctx: SignInContext) => {
        await ctx.auth.limitChallenge(ctx.clientKey);
        const d = DEVICE_ID_PATTERN.test(args.deviceId) ? await ctx.store.findDevice(args.deviceId) : null;
        return d && !isExpired(d, Date.now()) ? d.status : null;
      },

      staleWrappedKeys: async (_: unknown, args: { first: number }, ctx: SignInContext) => {
        const viewer = requireViewer(ctx);
        if (!Number.isInteger(args.first) || args.first < 1 || args.first > MAX_STALE_KEYS_PAGE) {
          throw gatewayError('BAD_USER_INPUT', `first must be 1–${MAX_STALE_KEYS_PAGE}`, { field: 'first' });
        }
        const user = await ctx.store.findUserById(viewer.id);
        if (!user) throw unauthenticated();
        const currentKeyId = keyIdOf(ctx.backend, 'x25519', user.encryptionKey);
        const found = await ctx.store.keysNotWrappedTo(viewer.id, currentKeyId, args.first);
        // The store compares the first stanza; a key with a stanza for the current key anywhere is not stale.
        const stale = <T extends { wrapped: Uint8Array }>(rows: T[]): T[] =>
          rows.filter((r) => !parseWrappedKey(r.wrapped).recipientKeyIds.some((id) => equalBytes(id, currentKeyId)));
        const keys = stale(found.objectKeys);
        // One owners call per type (the loader batches what this tick asks).
        const owners = await Promise.all(keys.map((k) => ctx.owners.ownerOf(k.objectType, k.objectId)));
        const dataKeys = [];
        for (const [i, k] of keys.entries()) {
          const ownerId = owners[i]!;
          // A key whose object is gone cannot be re-wrapped (its location is unknown): left out.
          if (ownerId !== null) dataKeys.push({ objectType: k.objectType, objectId: k.objectId, ownerId, keyVersion: k.keyVersion, wrapped: base64urlEncode(k.wrapped) });
        }
        const epochKeys = stale(found.epochKeys).map((k) => ({ conversationId: k.conversationId, epoch: k.epoch, wrapped: base64urlEncode(k.wrapped) }));
        return { dataKeys, epochKeys };
      },
    }),

    Mutation: withErrorCodes({
      requestDeviceLink: async (_: unknown, args: { username: string; device: NewDeviceInput }, ctx: SignInContext) => {
        await ctx.auth.limitDeviceLink(ctx.clientKey);
        const username = parseUsername(args.username);
        const device = parseNewDevice(args.device);
        const user = await ctx.store.findUserByUsername(username);
        if (!user) throw gatewayError('NOT_FOUND', 'no such user', { field: 'username' });
        await verifyNewDevice(ctx.backend, ctx.auth.realm, username, device, user);
        const now = Date.now();
        const { created, evicted } = await ctx.store.transaction(async (tx) => {
          // Full: the oldest waiting requests make room. Refusing instead would let anyone
          // who keeps the slots filled keep the account's own new device out.
          const evicted: string[] = [];
          if ((await tx.countPendingDevices(user.id, new Date(now))) >= MAX_PENDING_DEVICES) {
            const waiting = (await tx.devicesOf(user.id)).filter((d) => d.status === 'PENDING' && !isExpired(d, now));
            waiting.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : 1));
            for (const d of waiting.slice(0, waiting.length - MAX_PENDING_DEVICES + 1)) {
              if (await tx.deletePendingDevice(d.id, user.id)) evicted.push(d.id);
            }
          }
          const { name, signingKey, encryptionKey } = device;
          const created = await tx.createDevice({ id: newDeviceId(ctx.backend), userId: user.id, name, status: 'PENDING', signingKey, encryptionKey, approvedAt: null, expiresAt: new Date(now + DEVICE_LINK_TTL_MS) });
          return { created, evicted };
        });
        for (const id of evicted) ctx.log.info('device.request-evicted', { userId: user.id, deviceId: id });
        ctx.log.info('device.requested', { userId: user.id, deviceId: created.id });
        return created;
      },

      approveDevice: async (_: unknown, args: { deviceId: string; keyBundle: KeyBundleInput }, ctx: SignInContext) => {
        const viewer = requireViewer(ctx);
        const approved = await ctx.store.transaction(async (tx) => {
          const d = await viewersDevice(tx, viewer.id, args.deviceId);
          if (d.status !== 'PENDING') throw gatewayError('NOT_FOUND', 'no such device waiting for approval', { field: 'deviceId' });
          const now = new Date();
          if (isExpired(d, now.getTime())) throw gatewayError('DEVICE_LINK_EXPIRED', 'the link request of this device expired; ask again from the device');
          const active: DeviceRow = { ...d, status: 'ACTIVE', approvedAt: now, expiresAt: null };
          const recipients = await recipientsWith(tx, viewer.id, (all) => all.map((x) => (x.id === d.id ? active : x)));
          await storeKeyBundle(ctx.backend, tx, viewer.id, args.keyBundle, recipients);
          if (!(await tx.activateDevice(d.id, viewer.id, now))) throw gatewayError('NOT_FOUND', 'no such device waiting for approval', { field: 'deviceId' });
          return active;
        });
        ctx.log.info('device.approved', { userId: viewer.id, deviceId: approved.id });
        return approved;
      },

      rejectDevice: async (_: unknown, args: { deviceId: string }, ctx: SignInContext) => {
        const viewer = requireViewer(ctx);
        if (!DEVICE_ID_PATTERN.test(args.deviceId) || !(await ctx.store.deletePendingDevice(args.deviceId, viewer.id))) {
          throw gatewayError('NOT_FOUND', 'no such device waiting for approval', { field: 'deviceId' });
        }
        ctx.log.info('device.rejected', { userId: viewer.id, deviceId: args.deviceId });
        return true;
      },

      revokeDevice: async (_: unknown, args: { deviceId: string; identity: RotateInput; keyBundle: KeyBundleInput }, ctx: SignInContext) => {
        const viewer = requireViewer(ctx);
        const d = await viewersDevice(ctx.store, viewer.id, args.deviceId);
        if (d.status === 'REVOKED') throw gatewayError('NOT_FOUND', 'no such device that is not revoked already', { field: 'deviceId' });
        if (d.id === viewer.deviceId) throw gatewayError('CANNOT_REVOKE_CURRENT_DEVICE', "a session cannot revoke its own device: revoke it from another device");
        const checked = await checkRotation(ctx, viewer.id, args.identity);
        // A revocation always rotates: a retry of a stored version is not one.
        if (checked.kind === 'replay') throw gatewayError('CONFLICT', `key version ${checked.stored.version} exists already`, { field: 'identity.version' });
        const { revoked, version } = await ctx.store.transaction(async (tx) => {
          const now = new Date();
          const recipients = await recipientsWith(tx, viewer.id, (all) => all.filter((x) => x.id !== d.id));
          await storeKeyBundle(ctx.backend, tx, viewer.id, args.keyBundle, recipients);
          if (!(await tx.revokeDevice(d.id, viewer.id, now))) throw gatewayError('NOT_FOUND', 'no such device that is not revoked already', { field: 'deviceId' });
          return { revoked: { ...d, status: 'REVOKED', revokedAt: now, expiresAt: null } satisfies DeviceRow, version: await applyRotation(tx, checked.row) };
        });
        // After the commit: its open sockets close; its tokens are refused from now on anyway.
        ctx.pubsub.publish(deviceTopic(d.id), { deviceId: d.id });
        ctx.log.info('device.revoked', { userId: viewer.id, deviceId: d.id });
        await announceRotation(ctx, version);
        return revoked;
      },

      putKeyBundle: async (_: unknown, args: { keyBundle: KeyBundleInput }, ctx: SignInContext) => {
        const viewer = requireViewer(ctx);
        const stored = await ctx.store.transaction(async (tx) => storeKeyBundle(ctx.backend, tx, viewer.id, args.keyBundle, await recipientsWith(tx, viewer.id, (all) => all)));
        return keyBundleOut(stored);
      },

      rewrapMyKeys: async (_: unknown, args: { dataKeys: RewrappedDataKey[]; epochKeys: RewrappedEpochKey[] }, ctx: SignInContext) => {
        const viewer = requireViewer(ctx);
        const { dataKeys, epochKeys } = args;
        if (dataKeys.length + epochKeys.length > MAX_REWRAPPED_KEYS) {
          throw gatewayError('BAD_USER_INPUT', `at most ${MAX_REWRAPPED_KEYS} keys (data and epoch keys together) per call`, { field: 'dataKeys' });
        }
        if (dataKeys.length + epochKeys.length === 0) return 0;
        const user = await ctx.store.findUserById(viewer.id);
        if (!user) throw unauthenticated();
        const currentKeyId = keyIdOf(ctx.backend, 'x25519', user.encryptionKey);
        const notFound = (field: string): Error => gatewayError('NOT_FOUND', `${field}: no such key addressed to you`, { field });

        // The stored rows, one query per object type and one for the epoch keys.
        const storedData = new Map<string, Uint8Array>();
        for (const type of new Set(dataKeys.map((k) => k.objectType))) {
          const rows = await ctx.store.objectKeysFor(type, dataKeys.filter((k) => k.objectType === type).map((k) => k.objectId), viewer.id);
          for (const r of rows) storedData.set(JSON.stringify([r.objectType, r.objectId, r.keyVersion]), r.wrapped);
        }
        const storedEpoch = new Map((await ctx.store.epochKeysFor(epochKeys.map((k) => k.conversationId), viewer.id)).map((r) => [JSON.stringify([r.conversationId, r.epoch]), r.wrapped]));

        const seen = new Set<string>();
        const once = (key: string, field: string): void => {
          if (seen.has(key)) throw gatewayError('BAD_USER_INPUT', `${field}: the same key is given twice`, { field });
          seen.add(key);
        };
        const objectRows: ObjectKeyRow[] = dataKeys.map((k, i) => {
          const field = `dataKeys.${i}`;
          const key = JSON.stringify([k.objectType, k.objectId, k.keyVersion]);
          once(`d${key}`, field);
          const stored = storedData.get(key);
          if (!stored) throw notFound(field);
          return { objectType: k.objectType, objectId: k.objectId, keyVersion: k.keyVersion, recipientId: viewer.id, wrapped: checkRewrap(field, k.wrapped, stored, currentKeyId) };
        });
        const epochRows: EpochKeyRow[] = epochKeys.map((k, i) => {
          const field = `epochKeys.${i}`;
          const key = JSON.stringify([k.conversationId, k.epoch]);
          once(`e${key}`, field);
          const stored = storedEpoch.get(key);
          if (!stored) throw notFound(field);
          return { conversationId: k.conversationId, epoch: k.epoch, recipientId: viewer.id, wrapped: checkRewrap(field, k.wrapped, stored, currentKeyId) };
        });
        try {
          // One transaction: every row or none.
          return await ctx.store.rewrapKeys(viewer.id, objectRows, epochRows);
        } catch (e) {
          // Deleted since it was read (a member removed, an object deleted).
          if (isStorageError(e, 'INVALID_REFERENCE')) throw gatewayError('NOT_FOUND', 'a key is no longer addressed to you');
          throw e;
        }
      },
    }),

    Device: {
      signingKey: (d: DeviceOut) => base64urlEncode(d.signingKey),
      encryptionKey: (d: DeviceOut) => base64urlEncode(d.encryptionKey),
      current: (d: DeviceOut, _: unknown, ctx: SignInContext) => d.current === true || (ctx.viewer?.deviceId !== undefined && d.id === ctx.viewer.deviceId),
      createdAt: (d: DeviceOut) => d.createdAt.toISOString(),
      approvedAt: (d: DeviceOut) => d.approvedAt?.toISOString() ?? null,
      revokedAt: (d: DeviceOut) => d.revokedAt?.toISOString() ?? null,
      lastSeenAt: (d: DeviceOut) => d.lastSeenAt?.toISOString() ?? null,
    },
  };
}
