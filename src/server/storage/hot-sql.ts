/**
 * @module
 * The statements of the store's hot paths (docs/storage.md, "Hot paths"), one text for both
 * databases (direct-sql.ts), selecting exactly the columns of Prisma's model so that the
 * rows decode to what Prisma's queries return.
 */
import { statement, type Columns, type Statement } from './direct-sql.js';

const USER = '"id", "username", "signingKey", "encryptionKey", "createdAt"';
export const USER_COLUMNS: Columns = { dates: ['createdAt'], bytes: ['signingKey', 'encryptionKey'] };
export const FIND_USER = statement('find_user', `SELECT ${USER} FROM {User} WHERE "id" = ?`);

const DEVICE = '"id", "userId", "name", "status", "signingKey", "encryptionKey", "createdAt", "approvedAt", "revokedAt", "lastSeenAt", "expiresAt"';
export const DEVICE_COLUMNS: Columns = { dates: ['createdAt', 'approvedAt', 'revokedAt', 'lastSeenAt', 'expiresAt'], bytes: ['signingKey', 'encryptionKey'] };
export const FIND_DEVICE = statement('find_device', `SELECT ${DEVICE} FROM {Device} WHERE "id" = ?`);

const CONVERSATION = '"id", "kind", "createdById", "epoch", "historySharing", "epochTtlSeconds", "epochStartedAt", "createdAt"';
export const CONVERSATION_COLUMNS: Columns = { dates: ['epochStartedAt', 'createdAt'], bools: ['historySharing'] };
export const FIND_CONVERSATION = statement('find_conversation', `SELECT ${CONVERSATION} FROM {Conversation} WHERE "id" = ?`);

const MEMBER = '"conversationId", "userId", "role", "joinedEpoch", "createdAt"';
export const MEMBER_COLUMNS: Columns = { dates: ['createdAt'] };
export const FIND_MEMBER = statement('find_member', `SELECT ${MEMBER} FROM {ConversationMember} WHERE "conversationId" = ? AND "userId" = ?`);

const PROFILE = '"id", "ownerId", "displayName", "serverSealed", "serverKeyVersion", "emailIndex", "bio", "diary", "createdAt", "updatedAt"';
export const PROFILE_COLUMNS: Columns = { dates: ['createdAt', 'updatedAt'], bytes: ['serverSealed'] };
export const LIST_PROFILES = statement('list_profiles', `SELECT ${PROFILE} FROM {Profile} ORDER BY "id" ASC LIMIT ?`);
export const LIST_PROFILES_AFTER = statement('list_profiles_after', `SELECT ${PROFILE} FROM {Profile} WHERE "id" > ? ORDER BY "id" ASC LIMIT ?`);

const GRANT = '"objectType", "objectId", "granteeId", "access", "createdAt"';
export const GRANT_COLUMNS: Columns = { dates: ['createdAt'] };

/**
 * `IN` lists are padded up to a power of two (repeating the last id, which changes no
 * result), so a few prepared statements serve every list length up to the chunk size.
 */
export function inListSize(n: number): number {
  let size = 1;
  while (size < n) size *= 2;
  return size;
}

export function padInList<T>(values: readonly T[]): T[] {
  const out = [...values];
  const size = inListSize(values.length);
  while (out.length < size) out.push(values[values.length - 1]!);
  return out;
}

/** `SELECT <columns> FROM {table} WHERE <before>"<column>" IN (<size> placeholders)<after>`, cached per shape. */
const inListStatements = new Map<string, Statement>();

function inListStatement(name: string, size: number, text: (list: string) => string): Statement {
  const key = `${name}_${size}`;
  let s = inListStatements.get(key);
  if (!s) inListStatements.set(key, (s = statement(key, text(Array.from({ length: size }, () => '?').join(', ')))));
  return s;
}

/** Users by an `IN` list of `size` ids (the user loader). */
export function usersStatement(size: number): Statement {
  return inListStatement('users', size, (list) => `SELECT ${USER} FROM {User} WHERE "id" IN (${list})`);
}

/** Grants on objects of one type, by `IN` list of `size` ids, of one grantee when `byGrantee`. */
export function grantsStatement(size: number, byGrantee: boolean): Statement {
  return inListStatement(byGrantee ? 'grants_of' : 'grants', size, (list) => `SELECT ${GRANT} FROM {Grant} WHERE "objectType" = ? AND "objectId" IN (${list})${byGrantee ? ' AND "granteeId" = ?' : ''}`);
}

/**
 * One grantee's access on objects of one type (`Store.accessOf`): two columns, no Date to
 * build. SQLite: an `IN` list of `size` ids (padded: padInList). PostgreSQL: one array
 * parameter (`= ANY`), so one prepared statement serves every length and the server gets one
 * value to bind instead of up to 500 (the padded `IN` form took ~1.6× as long at 100 ids).
 */
export function accessStatement(size: number): Statement {
  return inListStatement('access_of', size, (list) => `SELECT "objectId", "access" FROM {Grant} WHERE "objectType" = ? AND "granteeId" = ? AND "objectId" IN (${list})`);
}
export const ACCESS_OF_ANY = statement('access_of_any', 'SELECT "objectId", "access" FROM {Grant} WHERE "objectType" = ? AND "granteeId" = ? AND "objectId" = ANY(?::text[])');

// --- insertMessage -------------------------------------------------------------------------

const MESSAGE = '"seq", "conversationId", "clientId", "senderId", "epoch", "body", "expiresAt", "createdAt"';
export const MESSAGE_COLUMNS: Columns = { dates: ['expiresAt', 'createdAt'] };
export const FIND_MESSAGE_BY_CLIENT_ID = statement('find_message_by_client_id', `SELECT ${MESSAGE} FROM {Message} WHERE "conversationId" = ? AND "clientId" = ?`);
/** Holds the conversation at the message's epoch until the commit (a write locks the row). */
export const HOLD_EPOCH = statement('hold_epoch', 'UPDATE {Conversation} SET "epoch" = ? WHERE "id" = ? AND "epoch" = ?');
export const CONVERSATION_EXISTS = statement('conversation_exists', 'SELECT "id" FROM {Conversation} WHERE "id" = ?');
export const INSERT_MESSAGE = statement(
  'insert_message',
  `INSERT INTO {Message} ("conversationId", "clientId", "senderId", "epoch", "body", "expiresAt", "createdAt") VALUES (?, ?, ?, ?, ?, ?, ?) ` +
    `ON CONFLICT ("conversationId", "clientId") DO NOTHING RETURNING ${MESSAGE}`,
);
// --- messagesAfter ---------------------------------------------------------------------------

/**
 * Unexpired messages of an `IN` list of `size` conversations after a seq, in seq order, at
 * most LIMIT: Prisma's `findMany({ where: { conversationId: { in }, seq: { gt }, OR: [{ expiresAt:
 * null }, { expiresAt: { gt: now } }] }, orderBy: { seq: 'asc' }, take })`. Parameters: the
 * ids, the cursor, now, the limit. The conversation feed's read of each new message.
 */
export function messagesAfterStatement(size: number): Statement {
  return inListStatement(
    'messages_after',
    size,
    (list) => `SELECT ${MESSAGE} FROM {Message} WHERE "conversationId" IN (${list}) AND "seq" > ? AND ("expiresAt" IS NULL OR "expiresAt" > ?) ORDER BY "seq" ASC LIMIT ?`,
  );
}

/**
 * PostgreSQL only (SQLite has no data-modifying CTE): HOLD_EPOCH and INSERT_MESSAGE in one
 * statement, one round trip. Always one row: `held` (1 when the conversation was at the
 * epoch), then the new message's columns (null when nothing was inserted). Parameters as
 * INSERT_MESSAGE's.
 */
export const HOLD_EPOCH_AND_INSERT_MESSAGE = statement(
  'hold_epoch_and_insert_message',
  `WITH held AS (UPDATE {Conversation} SET "epoch" = ?::integer WHERE "id" = ?::text AND "epoch" = ?::integer RETURNING "id"), ` +
    `inserted AS (INSERT INTO {Message} ("conversationId", "clientId", "senderId", "epoch", "body", "expiresAt", "createdAt") ` +
    `SELECT ?::text, ?::text, ?::text, ?::integer, ?::text, ?::timestamp(3), ?::timestamp(3) FROM held ` +
    `ON CONFLICT ("conversationId", "clientId") DO NOTHING RETURNING ${MESSAGE}) ` +
    `SELECT (SELECT count(*) FROM held)::integer AS "held", inserted.* FROM (SELECT 1) AS one LEFT JOIN inserted ON true`,
);

// --- members and rotateEpoch -----------------------------------------------------------------

/** A conversation's members in Prisma's `orderBy: { userId: 'asc' }` (the database's own collation, as Prisma's query). */
export const LIST_MEMBERS = statement('list_members', `SELECT ${MEMBER} FROM {ConversationMember} WHERE "conversationId" = ? ORDER BY "userId" ASC`);
/**
 * The rotation's compare-and-swap: moves the conversation to the next epoch only from the one
 * before it, and returns the row as it now is (what the Prisma path reads back after its writes,
 * none of which touch this row). Parameters: next epoch, epochStartedAt, id, previous epoch.
 */
export const SWAP_EPOCH = statement(
  'swap_epoch',
  `UPDATE {Conversation} SET "epoch" = ?, "epochStartedAt" = ? WHERE "id" = ? AND "epoch" = ? RETURNING ${CONVERSATION}`,
);

/** Members of one conversation, by an `IN` list of `size` user ids (padded: padInList). */
export function deleteMembersStatement(size: number): Statement {
  return inListStatement('delete_members', size, (list) => `DELETE FROM {ConversationMember} WHERE "conversationId" = ? AND "userId" IN (${list})`);
}

/** Every epoch's keys in one conversation for an `IN` list of `size` recipients (padded: padInList). */
export function deleteEpochKeysStatement(size: number): Statement {
  return inListStatement('delete_epoch_keys', size, (list) => `DELETE FROM {EpochKey} WHERE "conversationId" = ? AND "recipientId" IN (${list})`);
}

/**
 * Rows per multi-row INSERT at most: 256 rows × 5 columns = 1,280 bound parameters, far under
 * SQLite's 32,766 and PostgreSQL's 65,535 a statement. A power of two, see `insertChunks`.
 */
export const INSERT_CHUNK = 256;

/**
 * How many rows each INSERT of `n` rows takes: chunks of INSERT_CHUNK, then the remainder as
 * powers of two (rows cannot be padded as `IN` lists are: a repeated row is a duplicate key),
 * so at most nine statement shapes per table serve every count. 999 → 256, 256, 256, 128, 64, 32, 4, 2, 1.
 */
export function insertChunks(n: number): number[] {
  const out: number[] = [];
  let left = n;
  while (left >= INSERT_CHUNK) {
    out.push(INSERT_CHUNK);
    left -= INSERT_CHUNK;
  }
  for (let size = INSERT_CHUNK / 2; size >= 1; size /= 2) {
    if (left >= size) {
      out.push(size);
      left -= size;
    }
  }
  return out;
}

const multiRowStatements = new Map<string, Statement>();

function multiRowInsert(name: string, table: string, columns: readonly string[], rows: number): Statement {
  const key = `${name}_${rows}`;
  let s = multiRowStatements.get(key);
  if (!s) {
    const row = `(${columns.map(() => '?').join(', ')})`;
    const text = `INSERT INTO {${table}} (${columns.map((c) => `"${c}"`).join(', ')}) VALUES ${Array.from({ length: rows }, () => row).join(', ')}`;
    multiRowStatements.set(key, (s = statement(key, text)));
  }
  return s;
}

/** The columns a member insert writes, in the order of its parameters (createdAt: Prisma's @default(now()), the gateway's clock). */
export const INSERT_MEMBER_COLUMNS = ['conversationId', 'userId', 'role', 'joinedEpoch', 'createdAt'] as const;
export function insertMembersStatement(rows: number): Statement {
  return multiRowInsert('insert_members', 'ConversationMember', INSERT_MEMBER_COLUMNS, rows);
}

/** The columns an epoch key insert writes, in the order of its parameters. */
export const INSERT_EPOCH_KEY_COLUMNS = ['conversationId', 'epoch', 'recipientId', 'wrapped', 'createdAt'] as const;
export function insertEpochKeysStatement(rows: number): Statement {
  return multiRowInsert('insert_epoch_keys', 'EpochKey', INSERT_EPOCH_KEY_COLUMNS, rows);
}
