/**
 * @module
 * What signIn() stores (../../storage/store.ts rows): users and their key directory history
 * (version 1 is written by registration, later ones by revokeDevice and rotations), used
 * login challenges, devices, the key bundle, and, for the bundle's recipients and the
 * re-wrapping after an identity rotation, the backups and the data and epoch keys addressed
 * to a user (empty when backups(), sharing() or messaging() are not taken). Users' public
 * keys by id are the layer's (`LayerStore`).
 */
import type { BackupRow, DeviceRow, EpochKeyRow, KeyBundleRow, NewDevice, NewUserKey, ObjectKeyRow, UserKeyRow, UserRow } from '../../storage/store.js';
import type { MessagingStore } from '../messaging/store.js';
import type { SharingStore } from '../sharing/store.js';
import type { ServiceContext } from '../../context.js';
import type { LayerStore } from '../../storage/store.js';

export interface SignInStore extends Pick<SharingStore, 'objectKeysFor'>, Pick<MessagingStore, 'epochKeysFor'> {
  /**
   * Creates a user and version 1 of their keys in the key directory (`signature`: the
   * registration signature, which signs version 1), atomically.
   */
  createUser(user: Omit<UserRow, 'createdAt'>, firstKey: { signingKeyId: string; signature: Uint8Array }): Promise<UserRow>;

  findUserByUsername(username: string): Promise<UserRow | null>;

  /**
   * Records a login challenge as used. Returns false when it was already used (replay).
   * `expiresAt` lets old entries be purged; purging never re-allows an unexpired one.
   */
  consumeChallenge(challengeId: string, expiresAt: Date): Promise<boolean>;

  purgeExpiredChallenges(now: Date): Promise<number>;

  /** Every version of the user's keys, oldest first (empty for an unknown user). */
  userKeys(userId: string): Promise<UserKeyRow[]>;

  /**
   * Appends a new key version and makes it the user's current keys (`User.signingKey`,
   * `encryptionKey`), atomically, only if the user's newest version is still
   * `row.version - 1`; otherwise CONFLICT and nothing is written.
   */
  addUserKey(row: NewUserKey): Promise<UserRow>;

  /** Key versions whose signing key has one of these key ids (who signed an envelope). */
  userKeysBySigningKeyIds(signingKeyIds: readonly string[]): Promise<UserKeyRow[]>;

  /** Inserts a device (an id in use is CONFLICT, an unknown user INVALID_REFERENCE). */
  createDevice(d: NewDevice): Promise<DeviceRow>;

  findDevice(id: string): Promise<DeviceRow | null>;

  /** Every device of the user: PENDING and ACTIVE ones, then REVOKED, each group oldest first. */
  devicesOf(userId: string): Promise<DeviceRow[]>;

  /** How many of the user's PENDING devices have not expired at `now`. */
  countPendingDevices(userId: string, now: Date): Promise<number>;

  /** A PENDING device of `userId` becomes ACTIVE (expiry cleared); false when it is not that. */
  activateDevice(id: string, userId: string, approvedAt: Date): Promise<boolean>;

  /** A PENDING or ACTIVE device of `userId` becomes REVOKED; false when it is not that. */
  revokeDevice(id: string, userId: string, revokedAt: Date): Promise<boolean>;

  /** Deletes a PENDING device of `userId` (a rejected link request); false when none. */
  deletePendingDevice(id: string, userId: string): Promise<boolean>;

  /** Records a sign-in with the device's key. */
  touchDevice(id: string, lastSeenAt: Date): Promise<void>;

  /** Deletes PENDING devices whose `expiresAt` is at or before `now`; returns how many. */
  purgeExpiredDevices(now: Date): Promise<number>;

  keyBundle(userId: string): Promise<KeyBundleRow | null>;

  /**
   * Stores the user's bundle at `revision` = stored revision + 1 (1: none stored yet), as a
   * compare-and-swap: CONFLICT, and nothing written, when another write got there first.
   */
  putKeyBundle(b: Omit<KeyBundleRow, 'updatedAt'>): Promise<KeyBundleRow>;

  /** The user's backups, PHRASE before PASSWORD. */
  backupsOf(userId: string): Promise<BackupRow[]>;

  /**
   * Data keys and epoch keys addressed to `recipientId` whose wrapped key's first recipient
   * stanza is not for `keyId` (wrapped key v1: the first stanza's key id is bytes 73–88; the
   * gateway stores keys addressed to one user with exactly one stanza), at most `limit` of
   * each, in primary key order.
   */
  keysNotWrappedTo(recipientId: string, keyId: Uint8Array, limit: number): Promise<{ objectKeys: ObjectKeyRow[]; epochKeys: EpochKeyRow[] }>;

  /**
   * Replaces the wrapped bytes of existing data and epoch keys of `recipientId`, atomically.
   * A row that does not exist is INVALID_REFERENCE and nothing is written. Returns how many
   * rows now hold different bytes.
   */
  rewrapKeys(recipientId: string, objectKeys: readonly ObjectKeyRow[], epochKeys: readonly EpochKeyRow[]): Promise<number>;
}

/** What the service's resolvers receive: the context with the store it declares (and the layer's). */
export type SignInContext = ServiceContext<LayerStore & SignInStore>;
