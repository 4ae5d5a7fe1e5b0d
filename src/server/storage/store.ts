/**
 * @module
 * The storage contract the privacy layer and the built-in services code against: the rows
 * and `Store`, the intersection of what the layer uses (`LayerStore`) and what each service
 * declares in its own `store.ts`. Two implementations sit behind it, one per database
 * (SQLite embedded default, PostgreSQL at scale), both on Prisma with driver adapters
 * (./prisma-store.ts); nothing above this folder knows which one runs.
 *
 * Rows hold what the server may hold: PUBLIC values in clear, SERVER values sealed under
 * the gateway key ring (one envelope per row, `serverSealed`), SHARED/PRIVATE values as
 * the client's envelope text, blind indexes as base64url HMACs. All ids are strings.
 */

import type { BackupsStore } from '../services/backups/store.js';
import type { DirectoryStore } from '../services/directory/store.js';
import type { MessagingStore } from '../services/messaging/store.js';
import type { SharingStore } from '../services/sharing/store.js';
import type { SignInStore } from '../services/sign-in/store.js';

export interface UserRow {
  readonly id: string;
  readonly username: string;
  /** Ed25519 public key, 32 bytes. */
  readonly signingKey: Uint8Array;
  /** X25519 public key, 32 bytes. */
  readonly encryptionKey: Uint8Array;
  readonly createdAt: Date;
}


export type Access = 'READ' | 'WRITE';

/** One grantee's access on one object (`Store.accessOf`). */
export interface GrantAccess {
  readonly objectId: string;
  readonly access: Access;
}

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

/**
 * What the privacy layer itself uses: transactions, the viewer's grants (authorization of
 * every SERVER and SHARED field), an object's newest data key (the lineage check of SHARED
 * writes) and users' public keys (signatures on sealed values, the user loader).
 */
export interface LayerStore {
  /** `sqlite` or `postgres`. */
  readonly kind: 'sqlite' | 'postgres';

  /** Runs `fn` in one database transaction; everything it wrote is rolled back if it throws. */
  transaction<T>(fn: (tx: this) => Promise<T>): Promise<T>;

  findUserById(id: string): Promise<UserRow | null>;

  /** The users with these ids (unknown ids left out), in one query per 500 ids; any order. */
  findUsersByIds(ids: readonly string[]): Promise<UserRow[]>;

  /**
   * Grants on the given objects (one query for many objects: authorization of lists),
   * only those of `granteeId` when given.
   */
  grantsFor(objectType: string, objectIds: readonly string[], granteeId?: string): Promise<GrantRow[]>;

  /**
   * The access one grantee holds on each of the given objects (objects without a grant left
   * out; any order): the per-request access check of a list (../access.ts). The same rows as
   * `grantsFor(objectType, objectIds, granteeId)`, reduced to what the check needs, so the
   * hot path reads two columns and builds no Date per row.
   */
  accessOf(objectType: string, objectIds: readonly string[], granteeId: string): Promise<GrantAccess[]>;

  /**
   * One wrapped key of the object's highest stored key version (any recipient; the one of
   * the smallest recipient id), or null when the object has no data key. Its header names
   * the object's data key lineage (key id and version), which every SHARED write, grant,
   * revocation and key put is held to (docs/sharing.md, "Data key lineage").
   */
  newestObjectKey(objectType: string, objectId: string): Promise<ObjectKeyRow | null>;

  close(): Promise<void>;
}

/**
 * The storage contract of the privacy layer and every built-in service: their
 * intersection. Each service declares the part it uses in its own `store.ts`
 * (../services/<name>/store.ts); an implementation of `Store` serves every service.
 */
export type Store = LayerStore & SignInStore & DirectoryStore & SharingStore & MessagingStore & BackupsStore;
