/**
 * @module
 * The storage contract the gateway codes against. Two implementations sit behind it, one
 * per database (SQLite embedded default, PostgreSQL at scale), both on Prisma with driver
 * adapters; nothing above this file knows which one runs.
 *
 * Rows hold what the server may hold: PUBLIC values in clear, SERVER values sealed under
 * the gateway key ring (one envelope per row, `serverSealed`), SHARED/PRIVATE values as
 * the client's envelope text, blind indexes as base64url HMACs. All ids are strings.
 */

export interface UserRow {
  readonly id: string;
  readonly username: string;
  /** Ed25519 public key, 32 bytes. */
  readonly signingKey: Uint8Array;
  /** X25519 public key, 32 bytes. */
  readonly encryptionKey: Uint8Array;
  readonly createdAt: Date;
}

export interface ProfileRow {
  readonly id: string;
  readonly ownerId: string;
  /** PUBLIC. */
  readonly displayName: string;
  /** SERVER fields of this row, one envelope under the gateway key ring; null when none set. */
  readonly serverSealed: Uint8Array | null;
  /** Key ring version `serverSealed` is sealed under (0 when null): lets rotation find stale rows. */
  readonly serverKeyVersion: number;
  /** Blind index of the SERVER field `email` (searchable). */
  readonly emailIndex: string | null;
  /** SHARED envelope text. */
  readonly bio: string | null;
  /** PRIVATE envelope text. */
  readonly diary: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export type ProfileCreate = Omit<ProfileRow, 'createdAt' | 'updatedAt'>;
export type ProfileUpdate = Partial<Omit<ProfileRow, 'id' | 'ownerId' | 'createdAt' | 'updatedAt'>>;

export type Access = 'READ' | 'WRITE';

export interface GrantRow {
  /** GraphQL type name of the object, e.g. `Profile`. */
  readonly objectType: string;
  readonly objectId: string;
  readonly granteeId: string;
  readonly access: Access;
  readonly createdAt: Date;
}

/**
 * One object's data key (one version) wrapped for one recipient: wrapped key v1 bytes
 * (docs/crypto.md §7). The server stores them; it cannot open them.
 */
export interface ObjectKeyRow {
  /** GraphQL type name of the object, e.g. `Profile`. */
  readonly objectType: string;
  readonly objectId: string;
  readonly keyVersion: number;
  readonly recipientId: string;
  readonly wrapped: Uint8Array;
}

export type ObjectKeyForRecipient = Omit<ObjectKeyRow, 'recipientId'>;

/** One version of a user's public keys in the key directory (docs/crypto.md §11). */
export interface UserKeyRow {
  readonly userId: string;
  readonly version: number;
  /** Ed25519 public key, 32 bytes. */
  readonly signingKey: Uint8Array;
  /** Key id of `signingKey`, base64url ('' for unsigned legacy rows). */
  readonly signingKeyId: string;
  /** X25519 public key, 32 bytes. */
  readonly encryptionKey: Uint8Array;
  /** Ed25519 signature, 64 bytes (empty for users registered before the directory existed). */
  readonly signature: Uint8Array;
  /** True for a version made by an account reset (signed by its own key only). */
  readonly reset: boolean;
  readonly createdAt: Date;
}

/** A key version to append: `reset` defaults to false. */
export type NewUserKey = Omit<UserKeyRow, 'createdAt' | 'reset'> & { readonly reset?: boolean };

export type DeviceStatus = 'PENDING' | 'ACTIVE' | 'REVOKED';

/** One of a user's devices (docs/devices.md). */
export interface DeviceRow {
  /** base64url of 16 random bytes. */
  readonly id: string;
  readonly userId: string;
  readonly name: string;
  readonly status: DeviceStatus;
  /** Ed25519 public key, 32 bytes. */
  readonly signingKey: Uint8Array;
  /** X25519 public key, 32 bytes. */
  readonly encryptionKey: Uint8Array;
  readonly createdAt: Date;
  readonly approvedAt: Date | null;
  readonly revokedAt: Date | null;
  readonly lastSeenAt: Date | null;
  /** PENDING only: when the link request ends. */
  readonly expiresAt: Date | null;
}

export type NewDevice = Omit<DeviceRow, 'createdAt' | 'revokedAt' | 'lastSeenAt'>;

/** A user's key bundle: envelope text and its key wrapped for every ACTIVE device and backup. */
export interface KeyBundleRow {
  readonly userId: string;
  readonly revision: number;
  /** Envelope v1 text. */
  readonly bundle: string;
  /** Wrapped key v1 bytes. */
  readonly wrappedKey: Uint8Array;
  readonly updatedAt: Date;
}

export type BackupKind = 'PHRASE' | 'PASSWORD';

/** A backup of the key bundle: public keys derived from a phrase or password, and the KDF. */
export interface BackupRow {
  readonly userId: string;
  readonly kind: BackupKind;
  /** Ed25519 public key, 32 bytes. */
  readonly authKey: Uint8Array;
  /** X25519 public key, 32 bytes. */
  readonly encryptionKey: Uint8Array;
  readonly algorithm: string;
  /** base64url ('' for bip39). */
  readonly salt: string;
  readonly memoryKiB: number;
  readonly iterations: number;
  readonly parallelism: number;
  readonly createdAt: Date;
}

/** An operator-issued account reset code: its SHA-256 and when it stops working. */
export interface AccountResetRow {
  readonly userId: string;
  readonly codeHash: Uint8Array;
  readonly expiresAt: Date;
}


export type ContactStatus = 'PENDING' | 'ACCEPTED';

/** A contact request (PENDING) or contact (ACCEPTED) between two users; one row per pair. */
export interface ContactRow {
  /** The pair, ordered: `userLowId < userHighId` (string order). */
  readonly userLowId: string;
  readonly userHighId: string;
  /** Who sent the request. */
  readonly requesterId: string;
  readonly status: ContactStatus;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export type ConversationKind = 'DIRECT' | 'GROUP';
export type MemberRole = 'ADMIN' | 'MEMBER';

/** A conversation (docs/messaging.md). */
export interface ConversationRow {
  readonly id: string;
  readonly kind: ConversationKind;
  readonly createdById: string;
  /** The current epoch: messages are sealed under this version of the conversation key. */
  readonly epoch: number;
  readonly historySharing: boolean;
  readonly epochTtlSeconds: number | null;
  readonly epochStartedAt: Date;
  readonly createdAt: Date;
}

export interface MemberRow {
  readonly conversationId: string;
  readonly userId: string;
  readonly role: MemberRole;
  /** The first epoch this member may read. */
  readonly joinedEpoch: number;
  readonly createdAt: Date;
}

/** A conversation epoch key wrapped for one member (wrapped key v1 bytes). */
export interface EpochKeyRow {
  readonly conversationId: string;
  readonly epoch: number;
  readonly recipientId: string;
  readonly wrapped: Uint8Array;
}

export interface MessageRow {
  /** The cursor: increasing across the database, in commit order. */
  readonly seq: number;
  readonly conversationId: string;
  readonly clientId: string;
  readonly senderId: string;
  readonly epoch: number;
  /** Envelope v1 text. */
  readonly body: string;
  readonly expiresAt: Date | null;
  readonly createdAt: Date;
}

/** What starts a conversation's next epoch (`Store.rotateEpoch`). */
export interface EpochChange {
  /** The next epoch's key, wrapped for every member after the change. */
  readonly keys: readonly Omit<EpochKeyRow, 'conversationId' | 'epoch'>[];
  readonly add?: readonly Omit<MemberRow, 'conversationId' | 'createdAt' | 'joinedEpoch'>[];
  readonly remove?: readonly string[];
  /** Earlier epochs' keys for added members (history sharing). */
  readonly historyKeys?: readonly Omit<EpochKeyRow, 'conversationId'>[];
}

export interface ReceiptRow {
  readonly messageSeq: number;
  readonly userId: string;
  readonly deliveredAt: Date;
}

export interface Store {
  /** `sqlite` or `postgres`. */
  readonly kind: 'sqlite' | 'postgres';

  /** Runs `fn` in one database transaction; everything it wrote is rolled back if it throws. */
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T>;

  /**
   * Creates a user and version 1 of their keys in the key directory (`signature`: the
   * registration signature, which signs version 1), atomically.
   */
  createUser(user: Omit<UserRow, 'createdAt'>, firstKey: { signingKeyId: string; signature: Uint8Array }): Promise<UserRow>;
  findUserById(id: string): Promise<UserRow | null>;
  /** The users with these ids (unknown ids left out), in one query per 500 ids; any order. */
  findUsersByIds(ids: readonly string[]): Promise<UserRow[]>;
  findUserByUsername(username: string): Promise<UserRow | null>;

  /**
   * Records a login challenge as used. Returns false when it was already used (replay).
   * `expiresAt` lets old entries be purged; purging never re-allows an unexpired one.
   */
  consumeChallenge(challengeId: string, expiresAt: Date): Promise<boolean>;
  purgeExpiredChallenges(now: Date): Promise<number>;

  createProfile(p: ProfileCreate): Promise<ProfileRow>;
  /** Updates the given columns; returns null when the row does not exist. */
  updateProfile(id: string, patch: ProfileUpdate): Promise<ProfileRow | null>;
  /**
   * Applies `patch` only if the row's SERVER blob is still `expected` (null: still none):
   * a read-modify-write of the blob without a transaction, so it works the same against a
   * concurrent writer in another process (SQLite cannot upgrade a reading transaction to
   * a writing one while another process writes). `'conflict'` when the blob changed;
   * null when the row does not exist.
   */
  updateProfileIfServerSealed(id: string, expected: Uint8Array | null, patch: ProfileUpdate): Promise<ProfileRow | null | 'conflict'>;
  /**
   * Compare-and-swap of the SERVER blob, for key rotation racing live writes: updates only
   * when the row still holds `expected`. Returns whether it did.
   */
  swapProfileServerSealed(id: string, expected: Uint8Array, next: Uint8Array, nextVersion: number): Promise<boolean>;
  deleteProfile(id: string): Promise<boolean>;
  findProfileById(id: string): Promise<ProfileRow | null>;
  findProfileByOwner(ownerId: string): Promise<ProfileRow | null>;
  /**
   * The first profile (by id) with this email blind index that `viewerId` may read the SERVER
   * fields of — owns it, or holds any grant on it — else null. One statement decides, so a
   * lookup makes the same calls whether no profile, or profiles the viewer may not read,
   * have the index (docs/privacy.md: a lookup cannot confirm an address to a stranger).
   */
  findReadableProfileByEmailIndex(index: string, viewerId: string): Promise<ProfileRow | null>;
  /** Profiles ordered by id, after `cursor` (exclusive), at most `limit`. */
  listProfiles(limit: number, cursor?: string): Promise<ProfileRow[]>;
  /** Profiles whose SERVER blob is sealed under a version other than `version` (rotation). */
  listProfilesNotOnKeyVersion(version: number, limit: number): Promise<ProfileRow[]>;
  countProfilesNotOnKeyVersion(version: number): Promise<number>;

  upsertGrant(g: Omit<GrantRow, 'createdAt'>): Promise<GrantRow>;
  deleteGrant(objectType: string, objectId: string, granteeId: string): Promise<boolean>;
  /**
   * Grants on the given objects (one query for many objects: authorization of lists),
   * only those of `granteeId` when given.
   */
  grantsFor(objectType: string, objectIds: readonly string[], granteeId?: string): Promise<GrantRow[]>;

  /**
   * Stores wrapped data keys, all or nothing. A slot `(objectType, objectId, keyVersion,
   * recipientId)` that already holds the same bytes is left as it is (a retried put
   * succeeds); one holding different bytes is a CONFLICT and nothing is written. A
   * recipient that does not exist is INVALID_REFERENCE.
   */
  putObjectKeys(rows: readonly ObjectKeyRow[]): Promise<void>;
  /**
   * `recipientId`'s wrapped keys for the given objects, every version; ordered by object
   * id, then key version.
   */
  objectKeysFor(objectType: string, objectIds: readonly string[], recipientId: string): Promise<ObjectKeyForRecipient[]>;

  /** Deletes every wrapped key of the object held for `recipientId` (revocation); returns how many. */
  deleteObjectKeys(objectType: string, objectId: string, recipientId: string): Promise<number>;
  /** Highest key version stored for an object (any recipient), or null when it has no data key. */
  latestObjectKeyVersion(objectType: string, objectId: string): Promise<number | null>;
  /**
   * One wrapped key of the object's highest stored key version (any recipient; the one of
   * the smallest recipient id), or null when the object has no data key. Its header names
   * the object's data key lineage (key id and version), which every SHARED write, grant,
   * revocation and key put is held to (docs/sharing.md, "Data key lineage").
   */
  newestObjectKey(objectType: string, objectId: string): Promise<ObjectKeyRow | null>;

  // --- Key directory (docs/crypto.md §11) -----------------------------------------------

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

  // --- Users and contacts -----------------------------------------------------------------

  /** Users whose username starts with `prefix`, ordered by username, after `afterUsername`. */
  searchUsers(prefix: string, limit: number, afterUsername?: string): Promise<UserRow[]>;
  /** The row of the pair, whichever order the ids are given in. */
  findContact(userA: string, userB: string): Promise<ContactRow | null>;
  /**
   * `fromId` asks `toId` to be a contact. Atomic and safe against the other side asking at
   * the same moment (one row per pair):
   * - no row: a PENDING request is created → `requested`;
   * - a PENDING request from `toId`: it becomes ACCEPTED → `accepted`;
   * - a PENDING request from `fromId`: nothing changes → `duplicate`;
   * - ACCEPTED: nothing changes → `already-contacts`.
   * A missing user is INVALID_REFERENCE.
   */
  requestContact(fromId: string, toId: string): Promise<{ outcome: 'requested' | 'accepted' | 'duplicate' | 'already-contacts'; row: ContactRow }>;
  /** `userId` accepts the PENDING request `requesterId` sent them; null when there is none. */
  acceptContact(userId: string, requesterId: string): Promise<ContactRow | null>;
  /** Deletes the PENDING request `requesterId` sent `recipientId` (reject or cancel); false when none. */
  deleteContactRequest(requesterId: string, recipientId: string): Promise<boolean>;
  /** Deletes an ACCEPTED contact between the two; false when they were not contacts. */
  deleteContact(userA: string, userB: string): Promise<boolean>;
  /**
   * `userId`'s contacts (`ACCEPTED`), requests sent to them (`INCOMING`) or by them
   * (`OUTGOING`), ordered by the other user's id, after `afterUserId`, at most `limit`.
   */
  listContacts(userId: string, which: 'ACCEPTED' | 'INCOMING' | 'OUTGOING', limit: number, afterUserId?: string): Promise<ContactRow[]>;

  // --- Conversations and messages (docs/messaging.md) -------------------------------------

  /**
   * Creates a conversation with its members and epoch 1's wrapped keys, atomically. An id
   * in use is CONFLICT; a member or recipient that does not exist is INVALID_REFERENCE.
   */
  createConversation(
    c: Omit<ConversationRow, 'epoch' | 'epochStartedAt' | 'createdAt'>,
    members: readonly Omit<MemberRow, 'conversationId' | 'createdAt' | 'joinedEpoch'>[],
    keys: readonly Omit<EpochKeyRow, 'conversationId' | 'epoch'>[],
  ): Promise<ConversationRow>;
  findConversation(id: string): Promise<ConversationRow | null>;
  /** Conversations `userId` is a member of, ordered by id, after `afterId`, at most `limit`. */
  conversationsOf(userId: string, limit: number, afterId?: string): Promise<ConversationRow[]>;
  members(conversationId: string): Promise<MemberRow[]>;
  findMember(conversationId: string, userId: string): Promise<MemberRow | null>;
  /**
   * Starts epoch `nextEpoch` (= current + 1, else CONFLICT and nothing written) with its
   * wrapped keys, removing `remove` and adding `add` members (joining at `nextEpoch`), and
   * storing `historyKeys` (earlier epochs' keys for added members), atomically.
   */
  rotateEpoch(conversationId: string, nextEpoch: number, change: EpochChange): Promise<ConversationRow>;
  /** `recipientId`'s wrapped keys of these conversations, every epoch, ordered by conversation then epoch. */
  epochKeysFor(conversationIds: readonly string[], recipientId: string): Promise<EpochKeyRow[]>;
  /**
   * Stores a message unless `(conversationId, clientId)` exists: then returns the stored one
   * with `created: false` (the caller decides what a retry gets: docs/messaging.md). CONFLICT (and nothing stored) when
   * the conversation is no longer at `m.epoch`; the check holds until the commit. Commit order is `seq` order (a
   * message with a lower seq is never committed after one with a higher seq), so a reader
   * that has seen seq N has seen every message below N.
   */
  insertMessage(m: Omit<MessageRow, 'seq' | 'createdAt'>): Promise<{ message: MessageRow; created: boolean }>;
  /** Messages of these conversations with `seq > after`, ascending, at most `limit`, unexpired at `now`. */
  messagesAfter(conversationIds: readonly string[], after: number, limit: number, now: Date): Promise<MessageRow[]>;
  findMessage(seq: number): Promise<MessageRow | null>;
  /** The message stored under `clientId` in the conversation (expired or not), or null. */
  findMessageByClientId(conversationId: string, clientId: string): Promise<MessageRow | null>;
  /** The highest seq stored (0 when there is none): where a live-only stream starts. */
  latestMessageSeq(): Promise<number>;
  /** Records receipts of `userId` for these messages (existing ones are kept); returns how many are new. */
  addReceipts(userId: string, seqs: readonly number[]): Promise<number>;
  receiptsFor(seqs: readonly number[]): Promise<ReceiptRow[]>;
  /** Messages in `userId`'s conversations, not sent by them, without their receipt, from `joinedEpoch` on, ascending. */
  undeliveredFor(userId: string, limit: number, now: Date): Promise<MessageRow[]>;
  /** Deletes messages whose `expiresAt` is at or before `now`; returns how many. */
  purgeExpiredMessages(now: Date): Promise<number>;

  // --- Devices, key bundles, backups, resets (docs/devices.md) ---------------------------

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
  /** Every PENDING or ACTIVE device of the user becomes REVOKED; returns how many. */
  revokeAllDevices(userId: string, revokedAt: Date): Promise<number>;
  /** Deletes a PENDING device of `userId` (a rejected link request); false when none. */
  deletePendingDevice(id: string, userId: string): Promise<boolean>;
  /** Records a sign-in with the device's key. */
  touchDevice(id: string, lastSeenAt: Date): Promise<void>;
  /** Deletes PENDING devices whose `expiresAt` is at or before `now`; returns how many. */
  purgeExpiredDevices(now: Date): Promise<number>;

  keyBundle(userId: string): Promise<KeyBundleRow | null>;
  /** Deletes the user's bundle (an account reset starts a new history at revision 1); false when none. */
  deleteKeyBundle(userId: string): Promise<boolean>;
  /**
   * Stores the user's bundle at `revision` = stored revision + 1 (1: none stored yet), as a
   * compare-and-swap: CONFLICT, and nothing written, when another write got there first.
   */
  putKeyBundle(b: Omit<KeyBundleRow, 'updatedAt'>): Promise<KeyBundleRow>;

  /** The user's backups, PHRASE before PASSWORD. */
  backupsOf(userId: string): Promise<BackupRow[]>;
  findBackup(userId: string, kind: BackupKind): Promise<BackupRow | null>;
  /** Creates or replaces the user's backup of `b.kind` (createdAt: now). */
  putBackup(b: Omit<BackupRow, 'createdAt'>): Promise<BackupRow>;
  /** Deletes the user's backup of `kind`; false when there was none. */
  deleteBackup(userId: string, kind: BackupKind): Promise<boolean>;
  /** Deletes every backup of the user; returns how many. */
  deleteBackups(userId: string): Promise<number>;

  /** Records (or replaces) the user's reset code hash. */
  putAccountReset(r: AccountResetRow): Promise<void>;
  findAccountReset(userId: string): Promise<AccountResetRow | null>;
  /** Deletes the reset only if it still holds `codeHash` (single use); false otherwise. */
  consumeAccountReset(userId: string, codeHash: Uint8Array): Promise<boolean>;
  /** Deletes reset codes whose `expiresAt` is at or before `now`; returns how many. */
  purgeExpiredAccountResets(now: Date): Promise<number>;

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

  close(): Promise<void>;
}
