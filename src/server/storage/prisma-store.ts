/**
 * @module
 * The one `Store` implementation, over either generated Prisma client (SQLite or
 * PostgreSQL). Both clients come from the same model (prisma/schema.prisma); the code is
 * typed against the SQLite client, whose query inputs for this model are a subset of the
 * PostgreSQL client's (PostgreSQL only adds options such as `mode: 'insensitive'`), and the
 * PostgreSQL client is cast to that type once, in open.ts. The same behavioural tests run
 * against both databases (test/server/storage).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import {
  type Prisma,
  type Contact,
  type Conversation,
  type ConversationMember,
  type EpochKey,
  type Grant,
  type Message,
  type ObjectKey,
  type Profile,
  type Receipt,
  type User,
  type UserKey,
  type Device,
  type KeyBundle,
  type Backup,
  type AccountReset,
} from './generated/sqlite/client.js';
import { isStorageError, mapDriverError, mapStorageError, StorageError } from './errors.js';
import type { Columns, DirectConnection, DirectSql, Statement } from './direct-sql.js';
import {
  CONVERSATION_COLUMNS,
  CONVERSATION_EXISTS,
  deleteEpochKeysStatement,
  deleteMembersStatement,
  DEVICE_COLUMNS,
  FIND_CONVERSATION,
  FIND_DEVICE,
  FIND_MEMBER,
  FIND_MESSAGE_BY_CLIENT_ID,
  FIND_USER,
  GRANT_COLUMNS,
  grantsStatement,
  HOLD_EPOCH,
  HOLD_EPOCH_AND_INSERT_MESSAGE,
  INSERT_MESSAGE,
  insertChunks,
  insertEpochKeysStatement,
  insertMembersStatement,
  LIST_MEMBERS,
  LIST_PROFILES,
  LIST_PROFILES_AFTER,
  MEMBER_COLUMNS,
  MESSAGE_COLUMNS,
  messagesAfterStatement,
  padInList,
  PROFILE_COLUMNS,
  SWAP_EPOCH,
  USER_COLUMNS,
  usersStatement,
  accessStatement,
  ACCESS_OF_ANY,
} from './hot-sql.js';
import { MIGRATIONS_TABLE } from './migrate.js';
import type {
  Access,
  AccountResetRow,
  BackupKind,
  BackupRow,
  DeviceRow,
  DeviceStatus,
  KeyBundleRow,
  NewDevice,
  NewUserKey,
  ContactRow,
  ContactStatus,
  ConversationKind,
  ConversationRow,
  EpochChange,
  EpochKeyRow,
  GrantAccess,
  GrantRow,
  MemberRole,
  MemberRow,
  MessageRow,
  ObjectKeyForRecipient,
  ObjectKeyRow,
  ReceiptRow,
  Store,
  UserKeyRow,
  UserRow,
} from './store.js';
import type { ProfileCreate, ProfileMethods, ProfileRow, ProfileUpdate } from './profile-rows.js';

/**
 * A client or a transaction's client; the root `PrismaClient` satisfies it too.
 * `@internal`: the published declarations (`npm run build`, stripInternal) carry none of the
 * generated Prisma client's types (see `PrismaClientHandle`).
 * @internal
 */
export type Db = Prisma.TransactionClient;

/**
 * The root client: adds what only it has.
 * @internal
 */
export interface RootDb extends Db {
  $transaction<R>(fn: (tx: Db) => Promise<R>, options?: { maxWait?: number; timeout?: number }): Promise<R>;
  $disconnect(): Promise<void>;
}

/** Interactive transactions: how long to wait for a connection, and how long one may run. */
const TX_OPTIONS = { maxWait: 10_000, timeout: 30_000 } as const;
/** `IN (…)` lists are chunked: SQLite and PostgreSQL cap bound parameters per statement. */
const IN_CHUNK = 500;

/**
 * A read by `IN` list as direct statements, one per chunk of ids (each padded: hot-sql.ts);
 * `query` gives a chunk's statement and parameters.
 */
async function allInChunks<M>(d: DirectConnection, ids: readonly string[], columns: Columns, query: (chunk: string[]) => [Statement, unknown[]]): Promise<M[]> {
  const rows: M[] = [];
  for (let i = 0; i < ids.length; i += IN_CHUNK) {
    const [s, params] = query(padInList(ids.slice(i, i + IN_CHUNK)));
    rows.push(...(await d.all<M>(s, params, columns)));
  }
  return rows;
}

/** Serialises work on a single connection (SQLite): see `PrismaStore`. */
class Gate {
  #tail: Promise<unknown> = Promise.resolve();
  /** Operations started and not yet settled. */
  #pending = 0;
  run<T>(fn: () => Promise<T>): Promise<T> {
    // Idle: start now rather than a tick later (nothing else is on the connection; a direct
    // SQLite statement then runs synchronously, in this call). Busy: after the last one.
    const result = this.#pending === 0 ? invoke(fn) : this.#tail.then(fn);
    this.#pending++;
    const settled = (): void => {
      this.#pending--;
    };
    this.#tail = result.then(settled, settled);
    return result;
  }
}

function invoke<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return fn();
  } catch (e) {
    return Promise.reject(e as Error);
  }
}

/** The SQLite transaction the current async context runs in, while it is open. */
const openTransaction = new AsyncLocalStorage<{ gate: Gate; open: boolean }>();

/** Prisma's Bytes inputs are `Uint8Array<ArrayBuffer>`; a copy also keeps callers' buffers out. */
function bytesIn(b: Uint8Array): Uint8Array<ArrayBuffer> {
  if (!(b instanceof Uint8Array)) throw new StorageError('INVALID_ARGUMENT', 'expected a Uint8Array');
  return new Uint8Array(b);
}

/** Drivers hand back Buffers (a Uint8Array subclass): callers get plain Uint8Arrays. */
function bytesOut(b: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(b) === Uint8Array.prototype ? b : new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function toUser(u: User): UserRow {
  return { id: u.id, username: u.username, signingKey: bytesOut(u.signingKey), encryptionKey: bytesOut(u.encryptionKey), createdAt: u.createdAt };
}

function toProfile(p: Profile): ProfileRow {
  return {
    id: p.id,
    ownerId: p.ownerId,
    displayName: p.displayName,
    serverSealed: p.serverSealed === null ? null : bytesOut(p.serverSealed),
    serverKeyVersion: p.serverKeyVersion,
    emailIndex: p.emailIndex,
    bio: p.bio,
    diary: p.diary,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  };
}

function toAccess(a: string): Access {
  if (a === 'READ' || a === 'WRITE') return a;
  throw new StorageError('INVALID_ARGUMENT', `grant access must be READ or WRITE, got ${JSON.stringify(a)}`);
}

function toGrant(g: Grant): GrantRow {
  return { objectType: g.objectType, objectId: g.objectId, granteeId: g.granteeId, access: toAccess(g.access), createdAt: g.createdAt };
}

/** Key versions are u32 on the wire; the column is a 32-bit signed INTEGER (both databases). */
const MAX_STORED_KEY_VERSION = 0x7fffffff;

function checkObjectKey(r: ObjectKeyRow): void {
  for (const k of ['objectType', 'objectId', 'recipientId'] as const) {
    if (typeof r[k] !== 'string' || r[k].length === 0) throw new StorageError('INVALID_ARGUMENT', `object key ${k} must be a non-empty string`);
  }
  if (!Number.isInteger(r.keyVersion) || r.keyVersion < 0 || r.keyVersion > MAX_STORED_KEY_VERSION) {
    throw new StorageError('INVALID_ARGUMENT', `object key version must be an integer 0–${MAX_STORED_KEY_VERSION}, got ${r.keyVersion}`);
  }
  if (!(r.wrapped instanceof Uint8Array)) throw new StorageError('INVALID_ARGUMENT', 'object key wrapped bytes must be a Uint8Array');
}

function toUserKey(k: UserKey): UserKeyRow {
  return {
    userId: k.userId,
    version: k.version,
    signingKey: bytesOut(k.signingKey),
    signingKeyId: k.signingKeyId,
    encryptionKey: bytesOut(k.encryptionKey),
    signature: bytesOut(k.signature),
    reset: k.reset,
    createdAt: k.createdAt,
  };
}

function checkUserKey(r: NewUserKey): void {
  if (typeof r.userId !== 'string' || r.userId.length === 0) throw new StorageError('INVALID_ARGUMENT', 'user key userId must be a non-empty string');
  if (!Number.isInteger(r.version) || r.version < 1 || r.version > MAX_STORED_KEY_VERSION) {
    throw new StorageError('INVALID_ARGUMENT', `user key version must be an integer 1–${MAX_STORED_KEY_VERSION}, got ${r.version}`);
  }
  if (typeof r.signingKeyId !== 'string') throw new StorageError('INVALID_ARGUMENT', 'user key signingKeyId must be a string');
  for (const k of ['signingKey', 'encryptionKey', 'signature'] as const) {
    if (!(r[k] instanceof Uint8Array)) throw new StorageError('INVALID_ARGUMENT', `user key ${k} must be a Uint8Array`);
  }
}

function userKeyData(r: NewUserKey): Prisma.UserKeyUncheckedCreateInput {
  if (r.reset !== undefined && typeof r.reset !== 'boolean') throw new StorageError('INVALID_ARGUMENT', 'user key reset must be a boolean');
  return {
    userId: r.userId,
    version: r.version,
    signingKey: bytesIn(r.signingKey),
    signingKeyId: r.signingKeyId,
    encryptionKey: bytesIn(r.encryptionKey),
    signature: bytesIn(r.signature),
    reset: r.reset ?? false,
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function slotConflict(): StorageError {
  return new StorageError('CONFLICT', 'put object keys: a different key is already stored for this object, key version and recipient', {
    fields: ['objectType', 'objectId', 'keyVersion', 'recipientId'],
  });
}

function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new StorageError('INVALID_ARGUMENT', `limit must be a non-negative integer, got ${limit}`);
}

/**
 * Prisma's "no row matched" (P2025). Prisma finds it out from an empty result, not from a
 * database error, so an enclosing PostgreSQL transaction stays usable.
 */
function isNoSuchRow(e: unknown): boolean {
  return (e as { code?: unknown }).code === 'P2025';
}

/** The least string above every string that starts with `prefix` (code point order); null when none is. */
function prefixUpperBound(prefix: string): string | null {
  const points = Array.from(prefix, (c) => c.codePointAt(0)!);
  while (points.length > 0) {
    const last = points.pop()!;
    if (last < 0x10ffff) return String.fromCodePoint(...points, last === 0xd7ff ? 0xe000 : last + 1);
  }
  return null;
}

/**
 * Strings starting with `prefix`, exactly. Prisma's `startsWith` is a LIKE with the pattern
 * unescaped (`_` and `%` match anything) and, on SQLite, case-insensitive. PostgreSQL: LIKE
 * with the wildcards escaped (`\` is its default LIKE escape); LIKE matches character by
 * character whatever the column's collation. SQLite: the range [prefix, next prefix), exact
 * because SQLite compares text bytewise (BINARY), and it reads the unique index.
 */
function startsWith(kind: 'sqlite' | 'postgres', prefix: string): Prisma.StringFilter {
  if (kind === 'postgres') return { startsWith: prefix.replace(/[\\%_]/g, '\\$&') };
  const upper = prefixUpperBound(prefix);
  return upper === null ? { gte: prefix } : { gte: prefix, lt: upper };
}

function toContactStatus(s: string): ContactStatus {
  if (s === 'PENDING' || s === 'ACCEPTED') return s;
  throw new StorageError('INVALID_ARGUMENT', `contact status must be PENDING or ACCEPTED, got ${JSON.stringify(s)}`);
}

function toContact(c: Contact): ContactRow {
  return { userLowId: c.userLowId, userHighId: c.userHighId, requesterId: c.requesterId, status: toContactStatus(c.status), createdAt: c.createdAt, updatedAt: c.updatedAt };
}

/** The key of a pair's one row: the two ids in string order, so both sides name the same row. */
function contactPair(a: string, b: string): { userLowId: string; userHighId: string } {
  return a < b ? { userLowId: a, userHighId: b } : { userLowId: b, userHighId: a };
}

/** The rows of one `listContacts` list, seen from `userId`. */
function contactListFilter(userId: string, which: 'ACCEPTED' | 'INCOMING' | 'OUTGOING'): Prisma.ContactWhereInput {
  switch (which) {
    case 'ACCEPTED':
      return { status: 'ACCEPTED' };
    case 'INCOMING':
      return { status: 'PENDING', requesterId: { not: userId } };
    case 'OUTGOING':
      return { status: 'PENDING', requesterId: userId };
    default:
      throw new StorageError('INVALID_ARGUMENT', `contact list must be ACCEPTED, INCOMING or OUTGOING, got ${JSON.stringify(which)}`);
  }
}

type RequestContactResult = Awaited<ReturnType<Store['requestContact']>>;

/**
 * One decision of `requestContact` on the pair's row, in one transaction. Null when the row
 * changed between reading and updating it (the other side cancelled): decide again.
 */
async function decideContactRequest(db: Db, pair: { userLowId: string; userHighId: string }, fromId: string, toId: string): Promise<RequestContactResult | null> {
  const existing = await db.contact.findUnique({ where: { userLowId_userHighId: pair } });
  if (existing === null) {
    // A concurrent request between the same two fails this insert with CONFLICT (P2002).
    const created = await db.contact.create({ data: { ...pair, requesterId: fromId, status: 'PENDING' } });
    return { outcome: 'requested', row: toContact(created) };
  }
  const row = toContact(existing);
  if (row.status === 'ACCEPTED') return { outcome: 'already-contacts', row };
  if (row.requesterId === fromId) return { outcome: 'duplicate', row };
  try {
    // Conditional: accepts only the request we read, still pending.
    const accepted = await db.contact.update({ where: { userLowId_userHighId: pair, status: 'PENDING', requesterId: toId }, data: { status: 'ACCEPTED' } });
    return { outcome: 'accepted', row: toContact(accepted) };
  } catch (e) {
    if (isNoSuchRow(e)) return null;
    throw e;
  }
}

/** Decisions `requestContact` makes at most when the row keeps changing under it. */
const MAX_CONTACT_REQUEST_ATTEMPTS = 3;

// --- Conversations and messages ------------------------------------------------------------

function toConversationKind(k: string): ConversationKind {
  if (k === 'DIRECT' || k === 'GROUP') return k;
  throw new StorageError('INVALID_ARGUMENT', `conversation kind must be DIRECT or GROUP, got ${JSON.stringify(k)}`);
}

function toMemberRole(r: string): MemberRole {
  if (r === 'ADMIN' || r === 'MEMBER') return r;
  throw new StorageError('INVALID_ARGUMENT', `member role must be ADMIN or MEMBER, got ${JSON.stringify(r)}`);
}

function toConversation(c: Conversation): ConversationRow {
  return {
    id: c.id,
    kind: toConversationKind(c.kind),
    createdById: c.createdById,
    epoch: c.epoch,
    historySharing: c.historySharing,
    epochTtlSeconds: c.epochTtlSeconds,
    epochStartedAt: c.epochStartedAt,
    createdAt: c.createdAt,
  };
}

function toMember(m: ConversationMember): MemberRow {
  return { conversationId: m.conversationId, userId: m.userId, role: toMemberRole(m.role), joinedEpoch: m.joinedEpoch, createdAt: m.createdAt };
}

function toEpochKey(k: EpochKey): EpochKeyRow {
  return { conversationId: k.conversationId, epoch: k.epoch, recipientId: k.recipientId, wrapped: bytesOut(k.wrapped) };
}

function toMessage(m: Message): MessageRow {
  return { seq: m.seq, conversationId: m.conversationId, clientId: m.clientId, senderId: m.senderId, epoch: m.epoch, body: m.body, expiresAt: m.expiresAt, createdAt: m.createdAt };
}

function toReceipt(r: Receipt): ReceiptRow {
  return { messageSeq: r.messageSeq, userId: r.userId, deliveredAt: r.deliveredAt };
}

function checkId(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) throw new StorageError('INVALID_ARGUMENT', `${what} must be a non-empty string`);
}

/** Epochs, like key versions, are 32-bit signed INTEGER columns; the first is 1. */
function checkEpoch(epoch: number, what: string): void {
  if (!Number.isInteger(epoch) || epoch < 1 || epoch > MAX_STORED_KEY_VERSION) {
    throw new StorageError('INVALID_ARGUMENT', `${what} must be an integer 1–${MAX_STORED_KEY_VERSION}, got ${epoch}`);
  }
}

function checkDate(d: unknown, what: string): asserts d is Date {
  if (!(d instanceof Date) || Number.isNaN(d.getTime())) throw new StorageError('INVALID_ARGUMENT', `${what} must be a valid Date`);
}

/** Refuses a call that names the same thing twice (one member added twice, two keys for one slot). */
function checkNoDuplicates(keys: readonly string[], what: string): void {
  if (new Set(keys).size !== keys.length) throw new StorageError('INVALID_ARGUMENT', `${what}: the same one is given twice`);
}

/** `Message.seq` is a 32-bit signed INTEGER (SERIAL / INTEGER AUTOINCREMENT), from 1. */
const MAX_SEQ = 0x7fffffff;

/** Seqs as given by callers: integers, deduplicated; those no row can have (≤ 0, > MAX_SEQ) dropped. */
function storedSeqs(seqs: readonly number[]): number[] {
  for (const s of seqs) if (!Number.isSafeInteger(s)) throw new StorageError('INVALID_ARGUMENT', `message seq must be an integer, got ${s}`);
  return [...new Set(seqs)].filter((s) => s >= 1 && s <= MAX_SEQ);
}

function memberData(conversationId: string, m: Omit<MemberRow, 'conversationId' | 'createdAt' | 'joinedEpoch'>, joinedEpoch: number): Prisma.ConversationMemberCreateManyInput {
  checkId(m.userId, 'member userId');
  return { conversationId, userId: m.userId, role: toMemberRole(m.role), joinedEpoch };
}

function epochKeyData(conversationId: string, epoch: number, k: Omit<EpochKeyRow, 'conversationId' | 'epoch'>): Prisma.EpochKeyCreateManyInput {
  checkId(k.recipientId, 'epoch key recipientId');
  return { conversationId, epoch, recipientId: k.recipientId, wrapped: bytesIn(k.wrapped) };
}

function messageData(m: Omit<MessageRow, 'seq' | 'createdAt'>): Prisma.MessageUncheckedCreateInput {
  checkId(m.conversationId, 'message conversationId');
  checkId(m.clientId, 'message clientId');
  checkId(m.senderId, 'message senderId');
  checkEpoch(m.epoch, 'message epoch');
  if (typeof m.body !== 'string') throw new StorageError('INVALID_ARGUMENT', 'message body must be a string');
  if (m.expiresAt !== null) checkDate(m.expiresAt, 'message expiresAt');
  return { conversationId: m.conversationId, clientId: m.clientId, senderId: m.senderId, epoch: m.epoch, body: m.body, expiresAt: m.expiresAt };
}

/** Messages not yet expired at `now` (`expiresAt` null: never). */
function unexpiredAt(now: Date): Prisma.MessageWhereInput {
  return { OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] };
}

function bySeq(a: { seq: number }, b: { seq: number }): number {
  return a.seq - b.seq;
}

function profileData(patch: ProfileUpdate): Prisma.ProfileUpdateInput {
  // Only the columns a patch may set, whatever else the object carries at runtime.
  const data: Prisma.ProfileUpdateInput = {};
  if (patch.displayName !== undefined) data.displayName = patch.displayName;
  if (patch.serverSealed !== undefined) data.serverSealed = patch.serverSealed === null ? null : bytesIn(patch.serverSealed);
  if (patch.serverKeyVersion !== undefined) data.serverKeyVersion = patch.serverKeyVersion;
  if (patch.emailIndex !== undefined) data.emailIndex = patch.emailIndex;
  if (patch.bio !== undefined) data.bio = patch.bio;
  if (patch.diary !== undefined) data.diary = patch.diary;
  return data;
}

/**
 * Raw SQL (the one statement Prisma's model API cannot express portably). PostgreSQL
 * placeholders are numbered, SQLite's are `?`; the PostgreSQL table is schema-qualified
 * as Prisma's own queries are (migrate.ts creates the tables in `public`).
 */
const CONSUME_CHALLENGE_PG = 'INSERT INTO "public"."UsedChallenge" ("id", "expiresAt") VALUES ($1, $2) ON CONFLICT ("id") DO NOTHING';
const CONSUME_CHALLENGE_SQLITE = 'INSERT INTO "UsedChallenge" ("id", "expiresAt") VALUES (?, ?) ON CONFLICT ("id") DO NOTHING';

/**
 * SQLite: the first statement of every `transaction()`, a write that changes nothing, so the
 * transaction holds the write lock from the start like `BEGIN IMMEDIATE` (the adapter only
 * issues a deferred `BEGIN`). A deferred transaction that reads and then writes fails at
 * once with SQLITE_BUSY_SNAPSHOT when another process (the rotation CLI, say) wrote in
 * between; taking the lock first makes the other process wait (busy timeout) instead.
 */
const SQLITE_TAKE_WRITE_LOCK = `UPDATE "${MIGRATIONS_TABLE}" SET "name" = "name" WHERE 0`;

/**
 * PostgreSQL: the transaction-level advisory lock every message insert takes before drawing
 * its `seq` and holds until its transaction ends (`pg_advisory_xact_lock`). Message inserts
 * therefore commit one at a time, in the order they drew their seqs: commit order is seq
 * order, so a reader that has seen seq N has seen every message below N and a cursor never
 * skips a message that committed late. (Without it, two inserts drawing seqs 5 and 6 may
 * commit 6 first: a reader at that moment moves its cursor to 6 and never sees 5.) Key: the
 * first 8 bytes of sha256("veilgraph:message-seq") as a signed bigint, distinct from the
 * migrations' key (migrate.ts). SQLite needs no lock of its own: the database has one writer
 * at a time, and a transaction that inserts holds the write lock until it commits.
 */
export const MESSAGE_SEQ_LOCK_KEY = createHash('sha256').update('veilgraph:message-seq').digest().readBigInt64BE(0);
const TAKE_MESSAGE_SEQ_LOCK_PG = `SELECT pg_advisory_xact_lock(${MESSAGE_SEQ_LOCK_KEY})`;

/**
 * Receipts for existing messages, insert-if-absent in one statement (no error on a repeat,
 * which would abort an enclosing PostgreSQL transaction); seqs with no message are skipped.
 * SQLite needs the WHERE for `INSERT … SELECT … ON CONFLICT` to parse (it has one).
 */
function addReceiptsSql(kind: 'sqlite' | 'postgres', count: number): string {
  const pg = kind === 'postgres';
  const table = (name: string): string => (pg ? `"public"."${name}"` : `"${name}"`);
  const param = (i: number): string => (pg ? `$${i}` : '?');
  const seqs = Array.from({ length: count }, (_, i) => param(i + 3)).join(', ');
  return (
    `INSERT INTO ${table('Receipt')} ("messageSeq", "userId", "deliveredAt") SELECT "seq", ${param(1)}, ${param(2)} FROM ${table('Message')} ` +
    `WHERE "seq" IN (${seqs}) ON CONFLICT ("messageSeq", "userId") DO NOTHING`
  );
}

// --- Devices, key bundles, backups, resets -------------------------------------------------

function toDeviceStatus(s: string): DeviceStatus {
  if (s === 'PENDING' || s === 'ACTIVE' || s === 'REVOKED') return s;
  throw new StorageError('INVALID_ARGUMENT', `device status must be PENDING, ACTIVE or REVOKED, got ${JSON.stringify(s)}`);
}

function toDevice(d: Device): DeviceRow {
  return {
    id: d.id,
    userId: d.userId,
    name: d.name,
    status: toDeviceStatus(d.status),
    signingKey: bytesOut(d.signingKey),
    encryptionKey: bytesOut(d.encryptionKey),
    createdAt: d.createdAt,
    approvedAt: d.approvedAt,
    revokedAt: d.revokedAt,
    lastSeenAt: d.lastSeenAt,
    expiresAt: d.expiresAt,
  };
}

/** The order of `devicesOf`: PENDING and ACTIVE, then REVOKED; each group oldest first (then by id). */
function deviceOrder(a: DeviceRow, b: DeviceRow): number {
  const group = (d: DeviceRow): number => (d.status === 'REVOKED' ? 1 : 0);
  return group(a) - group(b) || a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function toKeyBundle(b: KeyBundle): KeyBundleRow {
  return { userId: b.userId, revision: b.revision, bundle: b.bundle, wrappedKey: bytesOut(b.wrappedKey), updatedAt: b.updatedAt };
}

function toBackupKind(k: string): BackupKind {
  if (k === 'PHRASE' || k === 'PASSWORD') return k;
  throw new StorageError('INVALID_ARGUMENT', `backup kind must be PHRASE or PASSWORD, got ${JSON.stringify(k)}`);
}

function toBackup(b: Backup): BackupRow {
  return {
    userId: b.userId,
    kind: toBackupKind(b.kind),
    authKey: bytesOut(b.authKey),
    encryptionKey: bytesOut(b.encryptionKey),
    algorithm: b.algorithm,
    salt: b.salt,
    memoryKiB: b.memoryKiB,
    iterations: b.iterations,
    parallelism: b.parallelism,
    createdAt: b.createdAt,
  };
}

function toAccountReset(r: AccountReset): AccountResetRow {
  return { userId: r.userId, codeHash: bytesOut(r.codeHash), expiresAt: r.expiresAt };
}

/**
 * Where wrapped key v1 holds its first stanza's recipient key id (1-based for SQL's substr):
 * after the 73-byte header (docs/crypto.md, wrapped key).
 */
const FIRST_STANZA_KEY_ID_OFFSET = 74;
const STANZA_KEY_ID_BYTES = 16;

/** Primary keys of a recipient's rows whose first stanza is not for a key id, in key order. */
function keysNotWrappedToSql(kind: 'sqlite' | 'postgres', table: 'ObjectKey' | 'EpochKey'): string {
  const pg = kind === 'postgres';
  const columns = table === 'ObjectKey' ? '"objectType", "objectId", "keyVersion"' : '"conversationId", "epoch"';
  const from = pg ? `"public"."${table}"` : `"${table}"`;
  const slice = pg ? `substring("wrapped" from ${FIRST_STANZA_KEY_ID_OFFSET} for ${STANZA_KEY_ID_BYTES})` : `substr("wrapped", ${FIRST_STANZA_KEY_ID_OFFSET}, ${STANZA_KEY_ID_BYTES})`;
  const [p1, p2, p3] = pg ? ['$1', '$2', '$3'] : ['?', '?', '?'];
  return `SELECT ${columns} FROM ${from} WHERE "recipientId" = ${p1} AND ${slice} <> ${p2} ORDER BY ${columns} LIMIT ${p3}`;
}

/** Checkpoint mode of a clean close: copies the whole WAL into the database, then truncates the WAL to 0 bytes. */
const SQLITE_CHECKPOINT = 'PRAGMA wal_checkpoint(TRUNCATE)';

/** The kind of object grants on profiles are recorded under. */
const PROFILE_OBJECT_TYPE = 'Profile';

/**
 * `findReadableProfileByEmailIndex`: the first profile by id with the blind index whose owner
 * is the viewer or on which the viewer holds a grant. Parameters: index, viewer, object type,
 * viewer.
 */
function readableProfileByEmailSql(kind: 'sqlite' | 'postgres'): string {
  const pg = kind === 'postgres';
  const [profile, grant] = pg ? ['"public"."Profile"', '"public"."Grant"'] : ['"Profile"', '"Grant"'];
  const [p1, p2, p3, p4] = pg ? ['$1', '$2', '$3', '$4'] : ['?', '?', '?', '?'];
  return (
    `SELECT p."id" FROM ${profile} p WHERE p."emailIndex" = ${p1} AND (p."ownerId" = ${p2} OR EXISTS ` +
    `(SELECT 1 FROM ${grant} g WHERE g."objectType" = ${p3} AND g."objectId" = p."id" AND g."granteeId" = ${p4})) ORDER BY p."id" LIMIT 1`
  );
}

/** The CONFLICT of `insertMessage` when the conversation is no longer at the message's epoch. */
const STALE_EPOCH_MESSAGE = 'insert message: the conversation is no longer at this epoch';

/**
 * A Prisma client of veilgraph's own model (`RootDb`) or a transaction's client (`Db`), as
 * PrismaStore's constructor declares it. Declared without Prisma's generated types on
 * purpose: the published `.d.ts` of `veilgraph/server` would otherwise pull in the whole
 * generated client (~1 MB of types, which consumers type-check with skipLibCheck off, and
 * whose declarations tsc cannot emit). Applications get a store from `openStore`.
 */
export interface PrismaClientHandle {
  $executeRawUnsafe(query: string, ...values: unknown[]): Promise<number>;
}

export class PrismaStore implements Store, ProfileMethods {
  readonly kind: 'sqlite' | 'postgres';
  readonly #db: Db;
  readonly #root: RootDb | null;
  /**
   * SQLite only, root store only. The better-sqlite3 adapter runs every query on ONE
   * connection and does not keep plain queries out of an open interactive transaction: a
   * write issued elsewhere while a transaction is open would join it and vanish with its
   * rollback. So on SQLite, root operations and transactions take turns through this gate
   * (better-sqlite3 is synchronous anyway, so nothing ran in parallel before either).
   * Inside `transaction(fn)`, use the `tx` store it passes: the root store waits for the
   * transaction to end.
   */
  readonly #gate: Gate | null;
  readonly #secret: string | undefined;
  /**
   * The hot paths' direct statements on the driver (direct-sql.ts, docs/storage.md "Hot
   * paths"), or null: then Prisma runs them too. A SQLite transaction's store keeps them (one
   * connection: they run inside the transaction and see its writes); a PostgreSQL
   * transaction's store has none (its connection is Prisma's), so its reads stay inside it.
   */
  readonly #direct: DirectSql | null;

  constructor(kind: 'sqlite' | 'postgres', root: PrismaClientHandle, options?: { secret?: string; direct?: DirectSql });
  constructor(kind: 'sqlite' | 'postgres', root: null, options: { tx: PrismaClientHandle; secret?: string; direct?: DirectSql });
  constructor(kind: 'sqlite' | 'postgres', root: PrismaClientHandle | null, options?: { tx?: PrismaClientHandle; secret?: string; direct?: DirectSql }) {
    this.kind = kind;
    // The handles are this module's generated clients (open.ts makes them; `transaction`
    // passes Prisma's transaction client): see PrismaClientHandle.
    this.#root = root as RootDb | null;
    this.#db = (root ?? options!.tx!) as Db;
    this.#gate = root !== null && kind === 'sqlite' ? new Gate() : null;
    this.#secret = options?.secret;
    this.#direct = options?.direct ?? null;
  }

  /** Whether the hot paths run as direct statements (false: through Prisma). For tests and benchmarks. */
  get direct(): boolean {
    return this.#direct !== null;
  }

  /**
   * SQLite: the root store called from inside its own open transaction would wait for the
   * gate that transaction holds, for ever. Fail fast instead, saying what to do.
   */
  #refuseReentry(): void {
    const current = openTransaction.getStore();
    if (current !== undefined && current.open && current.gate === this.#gate) {
      throw new StorageError('INVALID_ARGUMENT', 'inside store.transaction(fn), use the store fn receives: on SQLite the root store waits for the transaction to end');
    }
  }

  /** Runs one operation: through the gate (SQLite root), mapping database errors. */
  async #op<T>(what: string, fn: (db: Db) => Promise<T>): Promise<T> {
    if (this.#gate) this.#refuseReentry();
    try {
      return await (this.#gate ? this.#gate.run(() => fn(this.#db)) : fn(this.#db));
    } catch (e) {
      throw mapStorageError(e, what, this.#secret);
    }
  }

  /**
   * A hot path: `fast` on the direct statements when the store has them, else `slow` through
   * Prisma; the same gate, re-entry check and error codes either way.
   */
  async #hot<T>(what: string, fast: (d: DirectConnection) => Promise<T>, slow: (db: Db) => Promise<T>): Promise<T> {
    const direct = this.#direct;
    return direct === null ? this.#op(what, slow) : this.#viaDirect(what, () => fast(direct));
  }

  /** A hot read of one row or none, by a direct statement or Prisma's `slow`, then `convert`. */
  #hotOne<M, R>(what: string, s: Statement, params: readonly unknown[], columns: Columns, slow: (db: Db) => Promise<M | null>, convert: (m: M) => R): Promise<R | null> {
    return this.#hot(
      what,
      async (d) => {
        const [m] = await d.all<M>(s, params, columns);
        return m ? convert(m) : null;
      },
      async (db) => {
        const m = await slow(db);
        return m && convert(m);
      },
    );
  }

  /** Runs direct statements as `#op` runs Prisma's: through the gate (SQLite root), mapping driver errors. */
  async #viaDirect<T>(what: string, run: () => Promise<T>): Promise<T> {
    if (this.#gate) this.#refuseReentry();
    try {
      return await (this.#gate ? this.#gate.run(run) : run());
    } catch (e) {
      throw mapDriverError(e, what, this.#secret);
    }
  }

  /** Runs `fn` atomically: in a new transaction from the root store, as is inside one. */
  async #atomic<T>(what: string, fn: (db: Db) => Promise<T>): Promise<T> {
    if (this.#root === null) return this.#op(what, fn);
    const root = this.#root;
    return this.#op(what, () => root.$transaction(fn, TX_OPTIONS));
  }

  async transaction<T>(fn: (tx: this) => Promise<T>): Promise<T> {
    // Nested: Prisma has no nested interactive transactions; the inner work joins the outer
    // one (a throw still rolls back everything, since it propagates through the outer fn).
    if (this.#root === null) return fn(this);
    const root = this.#root;
    const gate = this.#gate;
    // A store over the transaction: a PrismaStore like this one (the class has no subclasses).
    const direct = this.kind === 'sqlite' ? (this.#direct ?? undefined) : undefined;
    const body = (tx: Db): Promise<T> => fn(new PrismaStore(this.kind, null, { tx, secret: this.#secret, direct }) as this);
    try {
      if (gate === null) return await root.$transaction(body, TX_OPTIONS);
      this.#refuseReentry();
      const context = { gate, open: true };
      const immediate = async (tx: Db): Promise<T> => {
        await tx.$executeRawUnsafe(SQLITE_TAKE_WRITE_LOCK);
        return openTransaction.run(context, () => body(tx));
      };
      try {
        return await gate.run(() => root.$transaction(immediate, TX_OPTIONS));
      } finally {
        context.open = false; // work `fn` left running may use the root store afterwards
      }
    } catch (e) {
      // Errors thrown by `fn` itself come back unchanged; only Prisma's are mapped.
      throw mapStorageError(e, 'transaction', this.#secret);
    }
  }

  createUser(user: Omit<UserRow, 'createdAt'>, firstKey: { signingKeyId: string; signature: Uint8Array }): Promise<UserRow> {
    checkUserKey({ userId: user.id, version: 1, signingKey: user.signingKey, encryptionKey: user.encryptionKey, ...firstKey });
    // The user and version 1 of their keys exist together or not at all: the directory never
    // has a user without keys, nor keys of a name someone else won.
    return this.#atomic('create user', async (db) => {
      const created = await db.user.create({
        data: { id: user.id, username: user.username, signingKey: bytesIn(user.signingKey), encryptionKey: bytesIn(user.encryptionKey) },
      });
      await db.userKey.create({ data: userKeyData({ userId: user.id, version: 1, signingKey: user.signingKey, encryptionKey: user.encryptionKey, ...firstKey }) });
      return toUser(created);
    });
  }

  findUserById(id: string): Promise<UserRow | null> {
    return this.#hotOne('find user', FIND_USER, [id], USER_COLUMNS, (db) => db.user.findUnique({ where: { id } }), toUser);
  }

  async findUsersByIds(ids: readonly string[]): Promise<UserRow[]> {
    const unique = [...new Set(ids)];
    if (unique.length === 0) return [];
    return this.#hot(
      'find users',
      async (d) => (await allInChunks<User>(d, unique, USER_COLUMNS, (chunk) => [usersStatement(chunk.length), chunk])).map(toUser),
      async (db) => {
        const out: UserRow[] = [];
        for (let i = 0; i < unique.length; i += IN_CHUNK) out.push(...(await db.user.findMany({ where: { id: { in: unique.slice(i, i + IN_CHUNK) } } })).map(toUser));
        return out;
      },
    );
  }

  findUserByUsername(username: string): Promise<UserRow | null> {
    return this.#op('find user', async (db) => {
      const u = await db.user.findUnique({ where: { username } });
      return u && toUser(u);
    });
  }

  consumeChallenge(challengeId: string, expiresAt: Date): Promise<boolean> {
    return this.#op('consume challenge', async (db) => {
      // One statement, atomic in both databases, and no error on a replay (an error would
      // abort an enclosing PostgreSQL transaction): the row count says who inserted first.
      // The date goes through the adapter's DateTime mapping like every model query's, so it
      // is stored as all DateTimes are (SQLite keeps ISO text and the purge compares text;
      // the tests purge what this wrote).
      const inserted = await db.$executeRawUnsafe(this.kind === 'postgres' ? CONSUME_CHALLENGE_PG : CONSUME_CHALLENGE_SQLITE, challengeId, expiresAt);
      return inserted === 1;
    });
  }

  purgeExpiredChallenges(now: Date): Promise<number> {
    return this.#op('purge challenges', async (db) => (await db.usedChallenge.deleteMany({ where: { expiresAt: { lt: now } } })).count);
  }

  createProfile(p: ProfileCreate): Promise<ProfileRow> {
    return this.#op('create profile', async (db) =>
      toProfile(
        await db.profile.create({
          data: {
            id: p.id,
            // The plain column, not `owner: { connect }`: one INSERT, and the foreign key
            // (not a prior lookup) decides whether the owner exists.
            ownerId: p.ownerId,
            displayName: p.displayName,
            serverSealed: p.serverSealed === null ? null : bytesIn(p.serverSealed),
            serverKeyVersion: p.serverKeyVersion,
            emailIndex: p.emailIndex,
            bio: p.bio,
            diary: p.diary,
          },
        }),
      ),
    );
  }

  updateProfile(id: string, patch: ProfileUpdate): Promise<ProfileRow | null> {
    return this.#op('update profile', async (db) => {
      try {
        return toProfile(await db.profile.update({ where: { id }, data: profileData(patch) }));
      } catch (e) {
        // P2025: no such row. Prisma finds that out from the empty result, not from a
        // database error, so an enclosing PostgreSQL transaction stays usable.
        if ((e as { code?: unknown }).code === 'P2025') return null;
        throw e;
      }
    });
  }

  updateProfileIfServerSealed(id: string, expected: Uint8Array | null, patch: ProfileUpdate): Promise<ProfileRow | null | 'conflict'> {
    return this.#op('update profile', async (db) => {
      // One conditional UPDATE: the database compares and writes atomically.
      const { count } = await db.profile.updateMany({
        where: { id, serverSealed: expected === null ? null : { equals: bytesIn(expected) } },
        data: profileData(patch) as Prisma.ProfileUpdateManyMutationInput,
      });
      const row = await db.profile.findUnique({ where: { id } });
      if (!row) return null;
      return count === 1 ? toProfile(row) : 'conflict';
    });
  }

  swapProfileServerSealed(id: string, expected: Uint8Array, next: Uint8Array, nextVersion: number): Promise<boolean> {
    return this.#op('swap server seal', async (db) => {
      // One UPDATE … WHERE id = ? AND serverSealed = ?: the database compares and swaps
      // atomically (BLOB and BYTEA equality are bytewise in both).
      const { count } = await db.profile.updateMany({
        where: { id, serverSealed: { equals: bytesIn(expected) } },
        data: { serverSealed: bytesIn(next), serverKeyVersion: nextVersion },
      });
      return count === 1;
    });
  }

  deleteProfile(id: string): Promise<boolean> {
    // Grants and data keys name their object generically (no foreign key), so they go in the same transaction.
    return this.#atomic('delete profile', async (db) => {
      await db.grant.deleteMany({ where: { objectType: PROFILE_OBJECT_TYPE, objectId: id } });
      await db.objectKey.deleteMany({ where: { objectType: PROFILE_OBJECT_TYPE, objectId: id } });
      const { count } = await db.profile.deleteMany({ where: { id } });
      return count > 0;
    });
  }

  findProfileById(id: string): Promise<ProfileRow | null> {
    return this.#op('find profile', async (db) => {
      const p = await db.profile.findUnique({ where: { id } });
      return p && toProfile(p);
    });
  }

  async findProfileOwners(ids: readonly string[]): Promise<Map<string, string>> {
    const unique = [...new Set(ids)];
    if (unique.length === 0) return new Map();
    return this.#op('find profile owners', async (db) => {
      const out = new Map<string, string>();
      for (let i = 0; i < unique.length; i += IN_CHUNK) {
        for (const p of await db.profile.findMany({ where: { id: { in: unique.slice(i, i + IN_CHUNK) } }, select: { id: true, ownerId: true } })) out.set(p.id, p.ownerId);
      }
      return out;
    });
  }

  findProfileByOwner(ownerId: string): Promise<ProfileRow | null> {
    return this.#op('find profile', async (db) => {
      const p = await db.profile.findUnique({ where: { ownerId } });
      return p && toProfile(p);
    });
  }

  findReadableProfileByEmailIndex(index: string, viewerId: string): Promise<ProfileRow | null> {
    return this.#op('find profile', async (db) => {
      // Which profile, decided in the database: its work is not the caller's to vary.
      const [hit] = await db.$queryRawUnsafe<{ id: string }[]>(readableProfileByEmailSql(this.kind), index, viewerId, PROFILE_OBJECT_TYPE, viewerId);
      if (!hit) return null;
      // Only a profile the viewer may read is fetched whole.
      const row = await db.profile.findUnique({ where: { id: hit.id } });
      return row && toProfile(row);
    });
  }

  async listProfiles(limit: number, cursor?: string): Promise<ProfileRow[]> {
    checkLimit(limit);
    if (limit === 0) return [];
    return this.#hot(
      'list profiles',
      async (d) => (await (cursor === undefined ? d.all<Profile>(LIST_PROFILES, [limit], PROFILE_COLUMNS) : d.all<Profile>(LIST_PROFILES_AFTER, [cursor, limit], PROFILE_COLUMNS))).map(toProfile),
      async (db) =>
        (
          await db.profile.findMany({
            where: cursor === undefined ? {} : { id: { gt: cursor } },
            orderBy: { id: 'asc' },
            take: limit,
          })
        ).map(toProfile),
    );
  }

  async listProfilesNotOnKeyVersion(version: number, limit: number): Promise<ProfileRow[]> {
    checkLimit(limit);
    if (limit === 0) return [];
    return this.#op('list profiles', async (db) =>
      (
        await db.profile.findMany({
          where: { serverSealed: { not: null }, serverKeyVersion: { not: version } },
          orderBy: { id: 'asc' },
          take: limit,
        })
      ).map(toProfile),
    );
  }

  countProfilesNotOnKeyVersion(version: number): Promise<number> {
    return this.#op('count profiles', (db) => db.profile.count({ where: { serverSealed: { not: null }, serverKeyVersion: { not: version } } }));
  }

  async upsertGrant(g: Omit<GrantRow, 'createdAt'>): Promise<GrantRow> {
    const access = toAccess(g.access);
    return this.#op('upsert grant', async (db) =>
      toGrant(
        await db.grant.upsert({
          where: { objectType_objectId_granteeId: { objectType: g.objectType, objectId: g.objectId, granteeId: g.granteeId } },
          create: { objectType: g.objectType, objectId: g.objectId, granteeId: g.granteeId, access },
          update: { access },
        }),
      ),
    );
  }

  deleteGrant(objectType: string, objectId: string, granteeId: string): Promise<boolean> {
    return this.#op('delete grant', async (db) => (await db.grant.deleteMany({ where: { objectType, objectId, granteeId } })).count > 0);
  }

  async grantsFor(objectType: string, objectIds: readonly string[], granteeId?: string): Promise<GrantRow[]> {
    const ids = [...new Set(objectIds)];
    if (ids.length === 0) return [];
    // One order whatever the chunking: by object, then grantee.
    const ordered = (rows: Grant[]): GrantRow[] =>
      rows.sort((a, b) => (a.objectId < b.objectId ? -1 : a.objectId > b.objectId ? 1 : a.granteeId < b.granteeId ? -1 : a.granteeId > b.granteeId ? 1 : 0)).map(toGrant);
    return this.#hot(
      'find grants',
      async (d) =>
        ordered(
          await allInChunks<Grant>(d, ids, GRANT_COLUMNS, (chunk) => [
            grantsStatement(chunk.length, granteeId !== undefined),
            granteeId === undefined ? [objectType, ...chunk] : [objectType, ...chunk, granteeId],
          ]),
        ),
      async (db) => {
        const rows: Grant[] = [];
        for (let i = 0; i < ids.length; i += IN_CHUNK) {
          const objectId = { in: ids.slice(i, i + IN_CHUNK) };
          rows.push(...(await db.grant.findMany({ where: granteeId === undefined ? { objectType, objectId } : { objectType, objectId, granteeId } })));
        }
        return ordered(rows);
      },
    );
  }

  async accessOf(objectType: string, objectIds: readonly string[], granteeId: string): Promise<GrantAccess[]> {
    const ids = [...new Set(objectIds)];
    if (ids.length === 0) return [];
    const rows = await this.#hot(
      'find access',
      // PostgreSQL takes each chunk as one array parameter (its padding repeats an id: no extra row).
      (d) =>
        allInChunks<{ objectId: string; access: string }>(d, ids, {}, (chunk) =>
          this.kind === 'sqlite' ? [accessStatement(chunk.length), [objectType, granteeId, ...chunk]] : [ACCESS_OF_ANY, [objectType, granteeId, chunk]],
        ),
      async (db) => {
        const out: { objectId: string; access: string }[] = [];
        for (let i = 0; i < ids.length; i += IN_CHUNK) {
          out.push(...(await db.grant.findMany({ where: { objectType, granteeId, objectId: { in: ids.slice(i, i + IN_CHUNK) } }, select: { objectId: true, access: true } })));
        }
        return out;
      },
    );
    // A padded list repeats its last id, which matches one row at most once: no duplicates.
    return rows.map((r) => ({ objectId: r.objectId, access: toAccess(r.access) }));
  }

  async putObjectKeys(rows: readonly ObjectKeyRow[]): Promise<void> {
    // Everything is checked before anything is written; duplicates within the call must agree.
    const slots = new Map<string, ObjectKeyRow>();
    for (const r of rows) {
      checkObjectKey(r);
      const slot = JSON.stringify([r.objectType, r.objectId, r.keyVersion, r.recipientId]);
      const seen = slots.get(slot);
      if (seen && !sameBytes(seen.wrapped, r.wrapped)) throw slotConflict();
      slots.set(slot, r);
    }
    if (slots.size === 0) return;
    await this.#atomic('put object keys', async (db) => {
      for (const r of slots.values()) {
        const where = { objectType_objectId_keyVersion_recipientId: { objectType: r.objectType, objectId: r.objectId, keyVersion: r.keyVersion, recipientId: r.recipientId } };
        const existing = await db.objectKey.findUnique({ where, select: { wrapped: true } });
        if (existing) {
          if (!sameBytes(existing.wrapped, r.wrapped)) throw slotConflict();
          continue;
        }
        // A concurrent put of the same slot makes this insert fail with CONFLICT (P2002).
        await db.objectKey.create({
          data: { objectType: r.objectType, objectId: r.objectId, keyVersion: r.keyVersion, recipientId: r.recipientId, wrapped: bytesIn(r.wrapped) },
        });
      }
    });
  }

  async objectKeysFor(objectType: string, objectIds: readonly string[], recipientId: string): Promise<ObjectKeyForRecipient[]> {
    const ids = [...new Set(objectIds)];
    if (ids.length === 0) return [];
    return this.#op('find object keys', async (db) => {
      const rows: ObjectKey[] = [];
      for (let i = 0; i < ids.length; i += IN_CHUNK) {
        rows.push(...(await db.objectKey.findMany({ where: { recipientId, objectType, objectId: { in: ids.slice(i, i + IN_CHUNK) } } })));
      }
      // One order whatever the chunking: by object, then key version.
      rows.sort((a, b) => (a.objectId < b.objectId ? -1 : a.objectId > b.objectId ? 1 : a.keyVersion - b.keyVersion));
      return rows.map((k) => ({ objectType: k.objectType, objectId: k.objectId, keyVersion: k.keyVersion, wrapped: bytesOut(k.wrapped) }));
    });
  }

  deleteObjectKeys(objectType: string, objectId: string, recipientId: string): Promise<number> {
    return this.#op('delete object keys', async (db) => (await db.objectKey.deleteMany({ where: { objectType, objectId, recipientId } })).count);
  }

  latestObjectKeyVersion(objectType: string, objectId: string): Promise<number | null> {
    return this.#op('find object keys', async (db) => {
      // The primary key (objectType, objectId, keyVersion, …) serves this ordered lookup.
      const k = await db.objectKey.findFirst({ where: { objectType, objectId }, orderBy: { keyVersion: 'desc' }, select: { keyVersion: true } });
      return k?.keyVersion ?? null;
    });
  }

  newestObjectKey(objectType: string, objectId: string): Promise<ObjectKeyRow | null> {
    return this.#op('find object keys', async (db) => {
      const k = await db.objectKey.findFirst({ where: { objectType, objectId }, orderBy: [{ keyVersion: 'desc' }, { recipientId: 'asc' }] });
      return k ? { objectType: k.objectType, objectId: k.objectId, keyVersion: k.keyVersion, recipientId: k.recipientId, wrapped: bytesOut(k.wrapped) } : null;
    });
  }

  userKeys(userId: string): Promise<UserKeyRow[]> {
    return this.#op('find user keys', async (db) => (await db.userKey.findMany({ where: { userId }, orderBy: { version: 'asc' } })).map(toUserKey));
  }

  async addUserKey(row: NewUserKey): Promise<UserRow> {
    checkUserKey(row);
    return this.#atomic('add user key', async (db) => {
      const newest = await db.userKey.findFirst({ where: { userId: row.userId }, orderBy: { version: 'desc' }, select: { version: true } });
      if ((newest?.version ?? 0) !== row.version - 1) {
        throw new StorageError('CONFLICT', `add user key: version ${row.version} does not follow the newest stored version`, { fields: ['userId', 'version'] });
      }
      // Two concurrent appends of the same version both pass the check above on PostgreSQL;
      // the primary key (userId, version) lets one insert win and the other fail with CONFLICT.
      await db.userKey.create({ data: userKeyData(row) });
      return toUser(await db.user.update({ where: { id: row.userId }, data: { signingKey: bytesIn(row.signingKey), encryptionKey: bytesIn(row.encryptionKey) } }));
    });
  }

  async userKeysBySigningKeyIds(signingKeyIds: readonly string[]): Promise<UserKeyRow[]> {
    // '' marks unsigned legacy rows: it names no key.
    const ids = [...new Set(signingKeyIds)].filter((id) => id !== '');
    if (ids.length === 0) return [];
    return this.#op('find user keys', async (db) => {
      const rows: UserKey[] = [];
      for (let i = 0; i < ids.length; i += IN_CHUNK) rows.push(...(await db.userKey.findMany({ where: { signingKeyId: { in: ids.slice(i, i + IN_CHUNK) } } })));
      // One order whatever the chunking: by user, then version.
      rows.sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : a.version - b.version));
      return rows.map(toUserKey);
    });
  }

  // --- Users and contacts ---------------------------------------------------------------

  async searchUsers(prefix: string, limit: number, afterUsername?: string): Promise<UserRow[]> {
    checkLimit(limit);
    if (limit === 0) return [];
    const where: Prisma.UserWhereInput[] = [{ username: startsWith(this.kind, prefix) }];
    if (afterUsername !== undefined) where.push({ username: { gt: afterUsername } });
    return this.#op('search users', async (db) => (await db.user.findMany({ where: { AND: where }, orderBy: { username: 'asc' }, take: limit })).map(toUser));
  }

  findContact(userA: string, userB: string): Promise<ContactRow | null> {
    return this.#op('find contact', async (db) => {
      const c = await db.contact.findUnique({ where: { userLowId_userHighId: contactPair(userA, userB) } });
      return c && toContact(c);
    });
  }

  async requestContact(fromId: string, toId: string): Promise<RequestContactResult> {
    if (fromId === toId) throw new StorageError('INVALID_ARGUMENT', 'request contact: a user cannot ask themselves');
    const pair = contactPair(fromId, toId);
    for (let attempt = 1; attempt <= MAX_CONTACT_REQUEST_ATTEMPTS; attempt++) {
      try {
        const decided = await this.#atomic('request contact', async (db) => {
          // SQLite: take the write lock before reading, as `transaction()` does, so another
          // process writing in between makes us wait instead of failing the insert.
          if (this.kind === 'sqlite') await db.$executeRawUnsafe(SQLITE_TAKE_WRITE_LOCK);
          return decideContactRequest(db, pair, fromId, toId);
        });
        if (decided) return decided;
      } catch (e) {
        // PostgreSQL runs READ COMMITTED: two requests between the same two users at the same
        // moment can both find no row, and the later insert fails with CONFLICT once the
        // first commits. Deciding again, in a new transaction, finds that PENDING request and
        // accepts it. (SQLite transactions hold the write lock from the start: they never
        // meet.) Inside an enclosing transaction the failed insert has aborted it: rethrow.
        if (!isStorageError(e, 'CONFLICT') || this.#root === null) throw e;
      }
    }
    throw new StorageError('CONFLICT', 'request contact: the request kept changing while it was being decided; try again', { fields: ['userLowId', 'userHighId'] });
  }

  acceptContact(userId: string, requesterId: string): Promise<ContactRow | null> {
    return this.#op('accept contact', async (db) => {
      try {
        // One conditional UPDATE: only a request `requesterId` sent, still pending.
        const where = { userLowId_userHighId: contactPair(userId, requesterId), status: 'PENDING', requesterId };
        return toContact(await db.contact.update({ where, data: { status: 'ACCEPTED' } }));
      } catch (e) {
        if (isNoSuchRow(e)) return null;
        throw e;
      }
    });
  }

  deleteContactRequest(requesterId: string, recipientId: string): Promise<boolean> {
    return this.#op('delete contact request', async (db) => {
      const { count } = await db.contact.deleteMany({ where: { ...contactPair(requesterId, recipientId), status: 'PENDING', requesterId } });
      return count > 0;
    });
  }

  deleteContact(userA: string, userB: string): Promise<boolean> {
    return this.#op('delete contact', async (db) => (await db.contact.deleteMany({ where: { ...contactPair(userA, userB), status: 'ACCEPTED' } })).count > 0);
  }

  async listContacts(userId: string, which: 'ACCEPTED' | 'INCOMING' | 'OUTGOING', limit: number, afterUserId?: string): Promise<ContactRow[]> {
    checkLimit(limit);
    const filter = contactListFilter(userId, which);
    if (limit === 0) return [];
    // The rows where the user is `userHighId` hold the others with smaller ids, those where
    // they are `userLowId` the others with larger ids. Reading the first set, then the second,
    // each in one index-ordered query, lists the others in id order. (Under a PostgreSQL
    // collation other than C, each half is in the collation's order: paging still visits every
    // row exactly once.)
    return this.#op('list contacts', async (db) => {
      const rows: Contact[] = [];
      if (afterUserId === undefined || afterUserId < userId) {
        const where = { ...filter, userHighId: userId, ...(afterUserId === undefined ? {} : { userLowId: { gt: afterUserId } }) };
        rows.push(...(await db.contact.findMany({ where, orderBy: { userLowId: 'asc' }, take: limit })));
      }
      if (rows.length < limit) {
        const where = { ...filter, userLowId: userId, ...(afterUserId !== undefined && afterUserId > userId ? { userHighId: { gt: afterUserId } } : {}) };
        rows.push(...(await db.contact.findMany({ where, orderBy: { userHighId: 'asc' }, take: limit - rows.length })));
      }
      return rows.map(toContact);
    });
  }

  // --- Conversations and messages -------------------------------------------------------

  async createConversation(
    c: Omit<ConversationRow, 'epoch' | 'epochStartedAt' | 'createdAt'>,
    members: readonly Omit<MemberRow, 'conversationId' | 'createdAt' | 'joinedEpoch'>[],
    keys: readonly Omit<EpochKeyRow, 'conversationId' | 'epoch'>[],
  ): Promise<ConversationRow> {
    // Everything is checked before anything is written.
    checkId(c.id, 'conversation id');
    checkId(c.createdById, 'conversation createdById');
    const kind = toConversationKind(c.kind);
    if (typeof c.historySharing !== 'boolean') throw new StorageError('INVALID_ARGUMENT', 'conversation historySharing must be a boolean');
    if (c.epochTtlSeconds !== null && (!Number.isInteger(c.epochTtlSeconds) || c.epochTtlSeconds < 1 || c.epochTtlSeconds > MAX_STORED_KEY_VERSION)) {
      throw new StorageError('INVALID_ARGUMENT', `conversation epochTtlSeconds must be null or an integer 1–${MAX_STORED_KEY_VERSION}, got ${c.epochTtlSeconds}`);
    }
    const memberRows = members.map((m) => memberData(c.id, m, 1));
    checkNoDuplicates(memberRows.map((m) => m.userId), 'create conversation: member');
    const keyRows = keys.map((k) => epochKeyData(c.id, 1, k));
    checkNoDuplicates(keyRows.map((k) => k.recipientId), 'create conversation: epoch key recipient');
    return this.#atomic('create conversation', async (db) => {
      const now = new Date();
      // An id in use fails this insert with CONFLICT (P2002); an unknown member or recipient
      // fails the ones below with INVALID_REFERENCE (P2003), and the transaction takes all back.
      const created = await db.conversation.create({
        data: { id: c.id, kind, createdById: c.createdById, epoch: 1, historySharing: c.historySharing, epochTtlSeconds: c.epochTtlSeconds, epochStartedAt: now, createdAt: now },
      });
      for (let i = 0; i < memberRows.length; i += IN_CHUNK) await db.conversationMember.createMany({ data: memberRows.slice(i, i + IN_CHUNK) });
      for (let i = 0; i < keyRows.length; i += IN_CHUNK) await db.epochKey.createMany({ data: keyRows.slice(i, i + IN_CHUNK) });
      return toConversation(created);
    });
  }

  findConversation(id: string): Promise<ConversationRow | null> {
    return this.#hotOne('find conversation', FIND_CONVERSATION, [id], CONVERSATION_COLUMNS, (db) => db.conversation.findUnique({ where: { id } }), toConversation);
  }

  async conversationsOf(userId: string, limit: number, afterId?: string): Promise<ConversationRow[]> {
    checkLimit(limit);
    if (limit === 0) return [];
    // From the user's memberships (index on userId), not by scanning conversations.
    return this.#op('list conversations', async (db) => {
      const rows = await db.conversationMember.findMany({
        where: afterId === undefined ? { userId } : { userId, conversationId: { gt: afterId } },
        orderBy: { conversationId: 'asc' },
        take: limit,
        include: { conversation: true },
      });
      return rows.map((r) => toConversation(r.conversation));
    });
  }

  members(conversationId: string): Promise<MemberRow[]> {
    return this.#hot(
      'list members',
      async (d) => (await d.all<ConversationMember>(LIST_MEMBERS, [conversationId], MEMBER_COLUMNS)).map(toMember),
      async (db) => (await db.conversationMember.findMany({ where: { conversationId }, orderBy: { userId: 'asc' } })).map(toMember),
    );
  }

  findMember(conversationId: string, userId: string): Promise<MemberRow | null> {
    return this.#hotOne(
      'find member',
      FIND_MEMBER,
      [conversationId, userId],
      MEMBER_COLUMNS,
      (db) => db.conversationMember.findUnique({ where: { conversationId_userId: { conversationId, userId } } }),
      toMember,
    );
  }

  async rotateEpoch(conversationId: string, nextEpoch: number, change: EpochChange): Promise<ConversationRow> {
    // Everything is checked before anything is written.
    checkEpoch(nextEpoch, 'rotate epoch: next epoch');
    const remove = [...new Set(change.remove ?? [])];
    for (const id of remove) checkId(id, 'rotate epoch: removed member');
    const removed = new Set(remove);
    const added = (change.add ?? []).map((m) => memberData(conversationId, m, nextEpoch));
    checkNoDuplicates(added.map((m) => m.userId), 'rotate epoch: added member');
    const keyRows = change.keys.map((k) => epochKeyData(conversationId, nextEpoch, k));
    checkNoDuplicates(keyRows.map((k) => k.recipientId), 'rotate epoch: epoch key recipient');
    const historyRows = (change.historyKeys ?? []).map((k) => {
      checkEpoch(k.epoch, 'rotate epoch: history key epoch');
      if (k.epoch >= nextEpoch) throw new StorageError('INVALID_ARGUMENT', `rotate epoch: a history key must be of an epoch before ${nextEpoch}, got ${k.epoch}`);
      return epochKeyData(conversationId, k.epoch, k);
    });
    checkNoDuplicates(historyRows.map((k) => `${k.epoch}:${k.recipientId}`), 'rotate epoch: history key');
    // Keys go in after the removed members' keys are deleted: a key for one of them would stay.
    for (const r of [...added.map((m) => m.userId), ...keyRows.map((k) => k.recipientId), ...historyRows.map((k) => k.recipientId)]) {
      if (removed.has(r)) throw new StorageError('INVALID_ARGUMENT', 'rotate epoch: a removed member cannot be added or given keys in the same rotation');
    }
    const allKeys = [...keyRows, ...historyRows];
    // The Prisma body below in fewer statements (docs/storage.md, "Hot paths"): the swap
    // returns the row, the deletes go by padded IN lists, the inserts as multi-row VALUES.
    const direct = async (c: DirectConnection): Promise<ConversationRow> => {
      const now = new Date();
      const [swapped] = await c.all<Conversation>(SWAP_EPOCH, [nextEpoch, now, conversationId, nextEpoch - 1], CONVERSATION_COLUMNS);
      if (swapped === undefined) {
        if ((await c.all(CONVERSATION_EXISTS, [conversationId], {})).length === 0) throw new StorageError('INVALID_REFERENCE', 'rotate epoch: the conversation does not exist');
        throw new StorageError('CONFLICT', `rotate epoch: epoch ${nextEpoch} does not follow the current epoch`, { fields: ['conversationId', 'epoch'] });
      }
      for (let i = 0; i < remove.length; i += IN_CHUNK) {
        const chunk = padInList(remove.slice(i, i + IN_CHUNK));
        await c.run(deleteMembersStatement(chunk.length), [conversationId, ...chunk]);
        await c.run(deleteEpochKeysStatement(chunk.length), [conversationId, ...chunk]);
      }
      let at = 0;
      for (const n of insertChunks(added.length)) {
        await c.run(insertMembersStatement(n), added.slice(at, (at += n)).flatMap((m) => [m.conversationId, m.userId, m.role, m.joinedEpoch, now]));
      }
      at = 0;
      for (const n of insertChunks(allKeys.length)) {
        await c.run(insertEpochKeysStatement(n), allKeys.slice(at, (at += n)).flatMap((k) => [k.conversationId, k.epoch, k.recipientId, k.wrapped, now]));
      }
      return toConversation(swapped);
    };
    const d = this.#direct;
    // Root store: a transaction of its own. A (SQLite) transaction's store: inside that one.
    if (d !== null) return this.#viaDirect('rotate epoch', () => (this.#root === null ? direct(d) : d.transaction(direct)));
    return this.#atomic('rotate epoch', async (db) => {
      // Compare-and-swap on the epoch, first: one UPDATE … WHERE id = ? AND epoch = ?, so of
      // two concurrent rotations to the same epoch exactly one matches (PostgreSQL re-checks
      // the WHERE once the winner commits), and it holds the row until this one commits.
      const { count } = await db.conversation.updateMany({ where: { id: conversationId, epoch: nextEpoch - 1 }, data: { epoch: nextEpoch, epochStartedAt: new Date() } });
      if (count === 0) {
        const current = await db.conversation.findUnique({ where: { id: conversationId }, select: { epoch: true } });
        if (current === null) throw new StorageError('INVALID_REFERENCE', 'rotate epoch: the conversation does not exist');
        throw new StorageError('CONFLICT', `rotate epoch: epoch ${nextEpoch} does not follow the current epoch`, { fields: ['conversationId', 'epoch'] });
      }
      for (let i = 0; i < remove.length; i += IN_CHUNK) {
        const chunk = remove.slice(i, i + IN_CHUNK);
        await db.conversationMember.deleteMany({ where: { conversationId, userId: { in: chunk } } });
        // Every epoch's wraps for them go too: they are not served the earlier keys again.
        await db.epochKey.deleteMany({ where: { conversationId, recipientId: { in: chunk } } });
      }
      // An added member who is already one, or a key slot already held, is CONFLICT (P2002).
      for (let i = 0; i < added.length; i += IN_CHUNK) await db.conversationMember.createMany({ data: added.slice(i, i + IN_CHUNK) });
      for (let i = 0; i < allKeys.length; i += IN_CHUNK) await db.epochKey.createMany({ data: allKeys.slice(i, i + IN_CHUNK) });
      return toConversation(await db.conversation.findUniqueOrThrow({ where: { id: conversationId } }));
    });
  }

  async epochKeysFor(conversationIds: readonly string[], recipientId: string): Promise<EpochKeyRow[]> {
    const ids = [...new Set(conversationIds)];
    if (ids.length === 0) return [];
    return this.#op('find epoch keys', async (db) => {
      const rows: EpochKey[] = [];
      for (let i = 0; i < ids.length; i += IN_CHUNK) rows.push(...(await db.epochKey.findMany({ where: { recipientId, conversationId: { in: ids.slice(i, i + IN_CHUNK) } } })));
      // One order whatever the chunking: by conversation, then epoch.
      rows.sort((a, b) => (a.conversationId < b.conversationId ? -1 : a.conversationId > b.conversationId ? 1 : a.epoch - b.epoch));
      return rows.map(toEpochKey);
    });
  }

  async insertMessage(m: Omit<MessageRow, 'seq' | 'createdAt'>): Promise<{ message: MessageRow; created: boolean }> {
    const data = messageData(m);
    const where = { conversationId_clientId: { conversationId: data.conversationId, clientId: data.clientId } };
    const noSuchConversation = (): StorageError => new StorageError('INVALID_REFERENCE', 'insert message: no such conversation');
    // The Prisma body's outcomes in fewer statements (docs/storage.md, "Hot paths"), for the
    // common case (a new message at the current epoch: hold the epoch, insert). The
    // transaction already holds the lock: on PostgreSQL taken with BEGIN (MESSAGE_SEQ_LOCK_KEY),
    // on SQLite by BEGIN IMMEDIATE or the caller's transaction.
    const holdAndInsert = async (c: DirectConnection): Promise<{ held: boolean; created: Message | undefined }> => {
      // createdAt as Prisma's @default(now()) gives it: the gateway's clock.
      const row = [data.conversationId, data.clientId, data.senderId, data.epoch, data.body, data.expiresAt ?? null, new Date()];
      if (this.kind === 'postgres') {
        const [r] = await c.all<Message & { held: number }>(HOLD_EPOCH_AND_INSERT_MESSAGE, [data.epoch, data.conversationId, data.epoch, ...row], MESSAGE_COLUMNS);
        return { held: r!.held === 1, created: r!.seq === null ? undefined : r };
      }
      if ((await c.run(HOLD_EPOCH, [data.epoch, data.conversationId, data.epoch])) !== 1) return { held: false, created: undefined };
      return { held: true, created: (await c.all<Message>(INSERT_MESSAGE, row, MESSAGE_COLUMNS))[0] };
    };
    const direct = async (c: DirectConnection): Promise<{ message: MessageRow; created: boolean }> => {
      const { held, created } = await holdAndInsert(c);
      if (created) return { message: toMessage(created), created: true };
      // Nothing inserted. A retry of a stored message gets it whatever the epoch is now, as
      // on the Prisma path (under the lock, every earlier insert of the client id has committed).
      const [existing] = await c.all<Message>(FIND_MESSAGE_BY_CLIENT_ID, [data.conversationId, data.clientId], MESSAGE_COLUMNS);
      if (existing) return { message: toMessage(existing), created: false };
      if (held) throw new StorageError('CONFLICT', 'insert message: conversationId, clientId already exists', { fields: ['conversationId', 'clientId'] });
      if ((await c.all(CONVERSATION_EXISTS, [data.conversationId], {})).length === 0) throw noSuchConversation();
      throw new StorageError('CONFLICT', STALE_EPOCH_MESSAGE);
    };
    try {
      const d = this.#direct;
      if (d !== null) {
        // Root store: a transaction of its own. A (SQLite) transaction's store: inside that one.
        return await this.#viaDirect('insert message', () => (this.#root === null ? direct(d) : d.transaction(direct, { advisoryLock: MESSAGE_SEQ_LOCK_KEY })));
      }
      return await this.#atomic('insert message', async (db) => {
        // PostgreSQL: inserts take turns until commit, so commit order is seq order (see
        // MESSAGE_SEQ_LOCK_KEY). SQLite: the write lock before reading, as `transaction()`
        // does, so another process writing in between makes us wait instead of failing.
        await db.$executeRawUnsafe(this.kind === 'postgres' ? TAKE_MESSAGE_SEQ_LOCK_PG : SQLITE_TAKE_WRITE_LOCK);
        // Under the lock, a retry of a committed insert is seen here (READ COMMITTED: each
        // statement sees everything committed before it).
        const existing = await db.message.findUnique({ where });
        if (existing) return { message: toMessage(existing), created: false };
        // The conversation must still be at the message's epoch, and stays there until we
        // commit: this write locks its row, so a rotation (a compare-and-swap of the same
        // row) waits for us, and one that committed first makes us refuse. A message is
        // never stored under an epoch that ended before it (a removed member holds that key).
        const { count } = await db.conversation.updateMany({ where: { id: data.conversationId, epoch: data.epoch }, data: { epoch: data.epoch } });
        if (count !== 1) {
          if ((await db.conversation.count({ where: { id: data.conversationId } })) === 0) throw noSuchConversation();
          throw new StorageError('CONFLICT', STALE_EPOCH_MESSAGE);
        }
        // An unknown conversation or sender is INVALID_REFERENCE (P2003).
        return { message: toMessage(await db.message.create({ data })), created: true };
      });
    } catch (e) {
      // The same message inserted at the same moment by a writer that does not take the lock
      // (none in this code; another version of it, say): the unique key lets one insert win
      // and fails the other with CONFLICT. Read the winner, in a new statement outside the
      // transaction PostgreSQL aborted. Inside an enclosing transaction it stays aborted: rethrow.
      if (!isStorageError(e, 'CONFLICT') || e.message === STALE_EPOCH_MESSAGE || this.#root === null) throw e;
      const stored = await this.#op('insert message', (db) => db.message.findUnique({ where }));
      if (stored === null) throw e;
      return { message: toMessage(stored), created: false };
    }
  }

  async messagesAfter(conversationIds: readonly string[], after: number, limit: number, now: Date): Promise<MessageRow[]> {
    checkLimit(limit);
    if (!Number.isSafeInteger(after) || after < 0) throw new StorageError('INVALID_ARGUMENT', `message cursor must be a non-negative integer, got ${after}`);
    checkDate(now, 'now');
    const ids = [...new Set(conversationIds)];
    if (limit === 0 || ids.length === 0 || after >= MAX_SEQ) return [];
    const direct = this.#direct;
    if (direct !== null && ids.length <= IN_CHUNK) {
      // The hot path (each new message, once per conversation feed): one direct statement,
      // so one snapshot, as the Prisma query below.
      const list = padInList(ids);
      return this.#viaDirect('list messages', async () => (await direct.all<Message>(messagesAfterStatement(list.length), [...list, after, now, limit], MESSAGE_COLUMNS)).map(toMessage));
    }
    return this.#op('list messages', async (db) => {
      const query = (chunk: string[], seq: Prisma.IntFilter) =>
        db.message.findMany({ where: { AND: [{ conversationId: { in: chunk }, seq }, unexpiredAt(now)] }, orderBy: { seq: 'asc' }, take: limit });
      // One statement reads one snapshot, and commit order is seq order: a page never has a
      // gap that a later commit fills.
      if (ids.length <= IN_CHUNK) return (await query(ids, { gt: after })).map(toMessage);
      // Several statements read several snapshots: a later chunk could see a seq above one a
      // concurrent commit adds to an earlier chunk, and the caller's next cursor would skip
      // it. Bound every chunk by the highest seq committed before the first: every message
      // below it had committed by then (commit order = seq order).
      const top = await db.message.findFirst({ orderBy: { seq: 'desc' }, select: { seq: true } });
      if (top === null || top.seq <= after) return [];
      const rows: Message[] = [];
      for (let i = 0; i < ids.length; i += IN_CHUNK) rows.push(...(await query(ids.slice(i, i + IN_CHUNK), { gt: after, lte: top.seq })));
      return rows.sort(bySeq).slice(0, limit).map(toMessage);
    });
  }

  async findMessageByClientId(conversationId: string, clientId: string): Promise<MessageRow | null> {
    return this.#op('find message', async (db) => {
      const m = await db.message.findUnique({ where: { conversationId_clientId: { conversationId, clientId } } });
      return m && toMessage(m);
    });
  }

  async findMessage(seq: number): Promise<MessageRow | null> {
    if (!Number.isSafeInteger(seq)) throw new StorageError('INVALID_ARGUMENT', `message seq must be an integer, got ${seq}`);
    if (seq < 1 || seq > MAX_SEQ) return null;
    return this.#op('find message', async (db) => {
      const m = await db.message.findUnique({ where: { seq } });
      return m && toMessage(m);
    });
  }

  latestMessageSeq(): Promise<number> {
    // The primary key serves this. Commit order is seq order: every message below it has
    // committed, so a stream starting after it misses nothing committed later.
    return this.#op('find latest message', async (db) => (await db.message.findFirst({ orderBy: { seq: 'desc' }, select: { seq: true } }))?.seq ?? 0);
  }

  async addReceipts(userId: string, seqs: readonly number[]): Promise<number> {
    checkId(userId, 'receipt userId');
    const list = storedSeqs(seqs);
    if (list.length === 0) return 0;
    const deliveredAt = new Date();
    // One INSERT … SELECT … ON CONFLICT DO NOTHING per chunk; its row count is the new ones.
    // An unknown user is INVALID_REFERENCE (P2003).
    const insert = async (db: Db): Promise<number> => {
      let added = 0;
      for (let i = 0; i < list.length; i += IN_CHUNK) {
        const chunk = list.slice(i, i + IN_CHUNK);
        added += await db.$executeRawUnsafe(addReceiptsSql(this.kind, chunk.length), userId, deliveredAt, ...chunk);
      }
      return added;
    };
    return list.length > IN_CHUNK ? this.#atomic('add receipts', insert) : this.#op('add receipts', insert);
  }

  async receiptsFor(seqs: readonly number[]): Promise<ReceiptRow[]> {
    const list = storedSeqs(seqs);
    if (list.length === 0) return [];
    return this.#op('find receipts', async (db) => {
      const rows: Receipt[] = [];
      for (let i = 0; i < list.length; i += IN_CHUNK) rows.push(...(await db.receipt.findMany({ where: { messageSeq: { in: list.slice(i, i + IN_CHUNK) } } })));
      // One order whatever the chunking: by message, then user.
      rows.sort((a, b) => a.messageSeq - b.messageSeq || (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0));
      return rows.map(toReceipt);
    });
  }

  async undeliveredFor(userId: string, limit: number, now: Date): Promise<MessageRow[]> {
    checkLimit(limit);
    checkDate(now, 'now');
    if (limit === 0) return [];
    return this.#op('list undelivered messages', async (db) => {
      const memberships = await db.conversationMember.findMany({ where: { userId }, select: { conversationId: true, joinedEpoch: true } });
      const rows: Message[] = [];
      for (let i = 0; i < memberships.length; i += IN_CHUNK) {
        // What the user may read: per conversation, the epochs from the one they joined at.
        // One condition per distinct joinedEpoch (most members share a few), not per conversation.
        const byJoinedEpoch = new Map<number, string[]>();
        for (const m of memberships.slice(i, i + IN_CHUNK)) {
          const ids = byJoinedEpoch.get(m.joinedEpoch);
          if (ids) ids.push(m.conversationId);
          else byJoinedEpoch.set(m.joinedEpoch, [m.conversationId]);
        }
        const readable = [...byJoinedEpoch].map(([joinedEpoch, ids]): Prisma.MessageWhereInput => ({ conversationId: { in: ids }, epoch: { gte: joinedEpoch } }));
        rows.push(
          ...(await db.message.findMany({
            where: { AND: [{ OR: readable }, unexpiredAt(now)], senderId: { not: userId }, receipts: { none: { userId } } },
            orderBy: { seq: 'asc' },
            take: limit,
          })),
        );
      }
      return rows.sort(bySeq).slice(0, limit).map(toMessage);
    });
  }

  async purgeExpiredMessages(now: Date): Promise<number> {
    checkDate(now, 'now');
    // Their receipts go with them (foreign key, ON DELETE CASCADE).
    return this.#op('purge messages', async (db) => (await db.message.deleteMany({ where: { expiresAt: { lte: now } } })).count);
  }

  // --- Devices, key bundles, backups, resets ---------------------------------------------

  async createDevice(d: NewDevice): Promise<DeviceRow> {
    checkId(d.id, 'device id');
    checkId(d.userId, 'device userId');
    const status = toDeviceStatus(d.status);
    return this.#op('create device', async (db) =>
      toDevice(
        await db.device.create({
          data: {
            id: d.id,
            userId: d.userId,
            name: d.name,
            status,
            signingKey: bytesIn(d.signingKey),
            encryptionKey: bytesIn(d.encryptionKey),
            approvedAt: d.approvedAt,
            expiresAt: d.expiresAt,
          },
        }),
      ),
    );
  }

  async findDevice(id: string): Promise<DeviceRow | null> {
    return this.#hotOne('find device', FIND_DEVICE, [id], DEVICE_COLUMNS, (db) => db.device.findUnique({ where: { id } }), toDevice);
  }

  async devicesOf(userId: string): Promise<DeviceRow[]> {
    return this.#op('list devices', async (db) => (await db.device.findMany({ where: { userId } })).map(toDevice).sort(deviceOrder));
  }

  async countPendingDevices(userId: string, now: Date): Promise<number> {
    checkDate(now, 'now');
    return this.#op('count devices', (db) => db.device.count({ where: { userId, status: 'PENDING', expiresAt: { gt: now } } }));
  }

  async activateDevice(id: string, userId: string, approvedAt: Date): Promise<boolean> {
    checkDate(approvedAt, 'approvedAt');
    return this.#op('activate device', async (db) => {
      // One conditional UPDATE: only a device still PENDING, of this user.
      const { count } = await db.device.updateMany({ where: { id, userId, status: 'PENDING' }, data: { status: 'ACTIVE', approvedAt, expiresAt: null } });
      return count === 1;
    });
  }

  async revokeDevice(id: string, userId: string, revokedAt: Date): Promise<boolean> {
    checkDate(revokedAt, 'revokedAt');
    return this.#op('revoke device', async (db) => {
      const { count } = await db.device.updateMany({ where: { id, userId, status: { in: ['PENDING', 'ACTIVE'] } }, data: { status: 'REVOKED', revokedAt, expiresAt: null } });
      return count === 1;
    });
  }

  async revokeAllDevices(userId: string, revokedAt: Date): Promise<number> {
    checkDate(revokedAt, 'revokedAt');
    return this.#op('revoke devices', async (db) => (await db.device.updateMany({ where: { userId, status: { in: ['PENDING', 'ACTIVE'] } }, data: { status: 'REVOKED', revokedAt, expiresAt: null } })).count);
  }

  async deletePendingDevice(id: string, userId: string): Promise<boolean> {
    return this.#op('delete device', async (db) => (await db.device.deleteMany({ where: { id, userId, status: 'PENDING' } })).count === 1);
  }

  async touchDevice(id: string, lastSeenAt: Date): Promise<void> {
    checkDate(lastSeenAt, 'lastSeenAt');
    await this.#op('touch device', (db) => db.device.updateMany({ where: { id }, data: { lastSeenAt } }));
  }

  async purgeExpiredDevices(now: Date): Promise<number> {
    checkDate(now, 'now');
    return this.#op('purge devices', async (db) => (await db.device.deleteMany({ where: { status: 'PENDING', expiresAt: { lte: now } } })).count);
  }

  async keyBundle(userId: string): Promise<KeyBundleRow | null> {
    return this.#op('find key bundle', async (db) => {
      const b = await db.keyBundle.findUnique({ where: { userId } });
      return b && toKeyBundle(b);
    });
  }

  async deleteKeyBundle(userId: string): Promise<boolean> {
    return this.#op('delete key bundle', async (db) => (await db.keyBundle.deleteMany({ where: { userId } })).count > 0);
  }

  async putKeyBundle(b: Omit<KeyBundleRow, 'updatedAt'>): Promise<KeyBundleRow> {
    checkId(b.userId, 'key bundle userId');
    checkEpoch(b.revision, 'key bundle revision');
    if (typeof b.bundle !== 'string' || b.bundle.length === 0) throw new StorageError('INVALID_ARGUMENT', 'key bundle must be a non-empty string');
    const data = { revision: b.revision, bundle: b.bundle, wrappedKey: bytesIn(b.wrappedKey) };
    const stale = (): StorageError => new StorageError('CONFLICT', `put key bundle: revision ${b.revision} does not follow the stored revision`, { fields: ['userId', 'revision'] });
    return this.#op('put key bundle', async (db) => {
      // Revision 1: an insert (a bundle stored meanwhile fails it on the primary key). Later:
      // one UPDATE … WHERE revision = previous, so of two writers of one revision one wins.
      if (b.revision === 1) return toKeyBundle(await db.keyBundle.create({ data: { userId: b.userId, ...data } }));
      const { count } = await db.keyBundle.updateMany({ where: { userId: b.userId, revision: b.revision - 1 }, data });
      if (count !== 1) throw stale();
      return toKeyBundle(await db.keyBundle.findUniqueOrThrow({ where: { userId: b.userId } }));
    });
  }

  async backupsOf(userId: string): Promise<BackupRow[]> {
    // "PASSWORD" < "PHRASE" in text order: sort here, PHRASE first.
    return this.#op('list backups', async (db) => (await db.backup.findMany({ where: { userId } })).map(toBackup).sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'PHRASE' ? -1 : 1)));
  }

  async findBackup(userId: string, kind: BackupKind): Promise<BackupRow | null> {
    return this.#op('find backup', async (db) => {
      const b = await db.backup.findUnique({ where: { userId_kind: { userId, kind: toBackupKind(kind) } } });
      return b && toBackup(b);
    });
  }

  async putBackup(b: Omit<BackupRow, 'createdAt'>): Promise<BackupRow> {
    checkId(b.userId, 'backup userId');
    const kind = toBackupKind(b.kind);
    for (const n of ['memoryKiB', 'iterations', 'parallelism'] as const) {
      if (!Number.isInteger(b[n]) || b[n] < 0 || b[n] > MAX_STORED_KEY_VERSION) throw new StorageError('INVALID_ARGUMENT', `backup ${n} must be an integer 0–${MAX_STORED_KEY_VERSION}`);
    }
    const data = {
      authKey: bytesIn(b.authKey),
      encryptionKey: bytesIn(b.encryptionKey),
      algorithm: b.algorithm,
      salt: b.salt,
      memoryKiB: b.memoryKiB,
      iterations: b.iterations,
      parallelism: b.parallelism,
      createdAt: new Date(),
    };
    return this.#op('put backup', async (db) =>
      toBackup(await db.backup.upsert({ where: { userId_kind: { userId: b.userId, kind } }, create: { userId: b.userId, kind, ...data }, update: data })),
    );
  }

  async deleteBackup(userId: string, kind: BackupKind): Promise<boolean> {
    return this.#op('delete backup', async (db) => (await db.backup.deleteMany({ where: { userId, kind: toBackupKind(kind) } })).count === 1);
  }

  async deleteBackups(userId: string): Promise<number> {
    return this.#op('delete backups', async (db) => (await db.backup.deleteMany({ where: { userId } })).count);
  }

  async putAccountReset(r: AccountResetRow): Promise<void> {
    checkId(r.userId, 'account reset userId');
    checkDate(r.expiresAt, 'account reset expiresAt');
    const data = { codeHash: bytesIn(r.codeHash), expiresAt: r.expiresAt };
    await this.#op('put account reset', (db) => db.accountReset.upsert({ where: { userId: r.userId }, create: { userId: r.userId, ...data }, update: data }));
  }

  async findAccountReset(userId: string): Promise<AccountResetRow | null> {
    return this.#op('find account reset', async (db) => {
      const r = await db.accountReset.findUnique({ where: { userId } });
      return r && toAccountReset(r);
    });
  }

  async consumeAccountReset(userId: string, codeHash: Uint8Array): Promise<boolean> {
    return this.#op('consume account reset', async (db) => (await db.accountReset.deleteMany({ where: { userId, codeHash: { equals: bytesIn(codeHash) } } })).count === 1);
  }

  async purgeExpiredAccountResets(now: Date): Promise<number> {
    checkDate(now, 'now');
    return this.#op('purge account resets', async (db) => (await db.accountReset.deleteMany({ where: { expiresAt: { lte: now } } })).count);
  }

  async keysNotWrappedTo(recipientId: string, keyId: Uint8Array, limit: number): Promise<{ objectKeys: ObjectKeyRow[]; epochKeys: EpochKeyRow[] }> {
    checkId(recipientId, 'recipientId');
    checkLimit(limit);
    if (!(keyId instanceof Uint8Array) || keyId.length !== STANZA_KEY_ID_BYTES) throw new StorageError('INVALID_ARGUMENT', `key id must be ${STANZA_KEY_ID_BYTES} bytes`);
    if (limit === 0) return { objectKeys: [], epochKeys: [] };
    return this.#op('find stale keys', async (db) => {
      // The filter on the wrapped bytes runs in SQL (Prisma cannot express it); the rows are
      // then read through the model, one query per table.
      type ObjectPk = { objectType: string; objectId: string; keyVersion: number | bigint };
      type EpochPk = { conversationId: string; epoch: number | bigint };
      const objectPks = await db.$queryRawUnsafe<ObjectPk[]>(keysNotWrappedToSql(this.kind, 'ObjectKey'), recipientId, bytesIn(keyId), limit);
      const epochPks = await db.$queryRawUnsafe<EpochPk[]>(keysNotWrappedToSql(this.kind, 'EpochKey'), recipientId, bytesIn(keyId), limit);
      const objectKeys =
        objectPks.length === 0
          ? []
          : await db.objectKey.findMany({
              where: { recipientId, OR: objectPks.map((k) => ({ objectType: k.objectType, objectId: k.objectId, keyVersion: Number(k.keyVersion) })) },
              orderBy: [{ objectType: 'asc' }, { objectId: 'asc' }, { keyVersion: 'asc' }],
            });
      const epochKeys =
        epochPks.length === 0
          ? []
          : await db.epochKey.findMany({
              where: { recipientId, OR: epochPks.map((k) => ({ conversationId: k.conversationId, epoch: Number(k.epoch) })) },
              orderBy: [{ conversationId: 'asc' }, { epoch: 'asc' }],
            });
      return {
        objectKeys: objectKeys.map((k) => ({ objectType: k.objectType, objectId: k.objectId, keyVersion: k.keyVersion, recipientId: k.recipientId, wrapped: bytesOut(k.wrapped) })),
        epochKeys: epochKeys.map(toEpochKey),
      };
    });
  }

  async rewrapKeys(recipientId: string, objectKeys: readonly ObjectKeyRow[], epochKeys: readonly EpochKeyRow[]): Promise<number> {
    checkId(recipientId, 'recipientId');
    for (const k of objectKeys) {
      checkObjectKey(k);
      if (k.recipientId !== recipientId) throw new StorageError('INVALID_ARGUMENT', 'rewrap keys: every data key must be addressed to the recipient');
    }
    for (const k of epochKeys) {
      checkId(k.conversationId, 'epoch key conversationId');
      checkEpoch(k.epoch, 'epoch key epoch');
      if (k.recipientId !== recipientId) throw new StorageError('INVALID_ARGUMENT', 'rewrap keys: every epoch key must be addressed to the recipient');
    }
    checkNoDuplicates(objectKeys.map((k) => JSON.stringify([k.objectType, k.objectId, k.keyVersion])), 'rewrap keys: data key');
    checkNoDuplicates(epochKeys.map((k) => JSON.stringify([k.conversationId, k.epoch])), 'rewrap keys: epoch key');
    const missing = (): StorageError => new StorageError('INVALID_REFERENCE', 'rewrap keys: no such key addressed to the recipient');
    return this.#atomic('rewrap keys', async (db) => {
      let changed = 0;
      for (const k of objectKeys) {
        const where = { objectType_objectId_keyVersion_recipientId: { objectType: k.objectType, objectId: k.objectId, keyVersion: k.keyVersion, recipientId } };
        const stored = await db.objectKey.findUnique({ where, select: { wrapped: true } });
        if (!stored) throw missing();
        if (sameBytes(stored.wrapped, k.wrapped)) continue;
        await db.objectKey.update({ where, data: { wrapped: bytesIn(k.wrapped) } });
        changed++;
      }
      for (const k of epochKeys) {
        const where = { conversationId_epoch_recipientId: { conversationId: k.conversationId, epoch: k.epoch, recipientId } };
        const stored = await db.epochKey.findUnique({ where, select: { wrapped: true } });
        if (!stored) throw missing();
        if (sameBytes(stored.wrapped, k.wrapped)) continue;
        await db.epochKey.update({ where, data: { wrapped: bytesIn(k.wrapped) } });
        changed++;
      }
      return changed;
    });
  }

  async close(): Promise<void> {
    // A transaction's store ends with its transaction; only the root one disconnects.
    if (this.#root === null) return;
    const root = this.#root;
    const end = async (): Promise<void> => {
      try {
        // SQLite: move every committed page from -wal into the database file and empty -wal,
        // so the file alone holds all the data after a clean stop (a copy of it is complete).
        // SQLite does this by itself when the last connection closes, but not when another
        // process still has the database open.
        if (this.kind === 'sqlite') await root.$queryRawUnsafe(SQLITE_CHECKPOINT);
      } finally {
        await root.$disconnect();
      }
    };
    await (this.#gate ? this.#gate.run(end) : end());
  }
}
