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
import { type Prisma, type Contact, type Grant, type ObjectKey, type Profile, type User, type UserKey } from './generated/sqlite/client.js';
import { isStorageError, mapStorageError, StorageError } from './errors.js';
import { MIGRATIONS_TABLE } from './migrate.js';
import type { Access, ContactRow, ContactStatus, GrantRow, ObjectKeyForRecipient, ObjectKeyRow, ProfileCreate, ProfileRow, ProfileUpdate, Store, UserKeyRow, UserRow } from './store.js';

/** A client or a transaction's client; the root `PrismaClient` satisfies it too. */
export type Db = Prisma.TransactionClient;

/** The root client: adds what only it has. */
export interface RootDb extends Db {
  $transaction<R>(fn: (tx: Db) => Promise<R>, options?: { maxWait?: number; timeout?: number }): Promise<R>;
  $disconnect(): Promise<void>;
}

/** Interactive transactions: how long to wait for a connection, and how long one may run. */
const TX_OPTIONS = { maxWait: 10_000, timeout: 30_000 } as const;
/** `IN (…)` lists are chunked: SQLite and PostgreSQL cap bound parameters per statement. */
const IN_CHUNK = 500;

/** Serialises work on a single connection (SQLite): see `PrismaStore`. */
class Gate {
  #tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn);
    this.#tail = result.catch(() => undefined);
    return result;
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
    createdAt: k.createdAt,
  };
}

function checkUserKey(r: Omit<UserKeyRow, 'createdAt'>): void {
  if (typeof r.userId !== 'string' || r.userId.length === 0) throw new StorageError('INVALID_ARGUMENT', 'user key userId must be a non-empty string');
  if (!Number.isInteger(r.version) || r.version < 1 || r.version > MAX_STORED_KEY_VERSION) {
    throw new StorageError('INVALID_ARGUMENT', `user key version must be an integer 1–${MAX_STORED_KEY_VERSION}, got ${r.version}`);
  }
  if (typeof r.signingKeyId !== 'string') throw new StorageError('INVALID_ARGUMENT', 'user key signingKeyId must be a string');
  for (const k of ['signingKey', 'encryptionKey', 'signature'] as const) {
    if (!(r[k] instanceof Uint8Array)) throw new StorageError('INVALID_ARGUMENT', `user key ${k} must be a Uint8Array`);
  }
}

function userKeyData(r: Omit<UserKeyRow, 'createdAt'>): Prisma.UserKeyUncheckedCreateInput {
  return {
    userId: r.userId,
    version: r.version,
    signingKey: bytesIn(r.signingKey),
    signingKeyId: r.signingKeyId,
    encryptionKey: bytesIn(r.encryptionKey),
    signature: bytesIn(r.signature),
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

/** The kind of object grants on profiles are recorded under. */
const PROFILE_OBJECT_TYPE = 'Profile';

export class PrismaStore implements Store {
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

  constructor(kind: 'sqlite' | 'postgres', root: RootDb, options?: { secret?: string });
  constructor(kind: 'sqlite' | 'postgres', root: null, options: { tx: Db; secret?: string });
  constructor(kind: 'sqlite' | 'postgres', root: RootDb | null, options?: { tx?: Db; secret?: string }) {
    this.kind = kind;
    this.#root = root;
    this.#db = root ?? options!.tx!;
    this.#gate = root !== null && kind === 'sqlite' ? new Gate() : null;
    this.#secret = options?.secret;
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

  /** Runs `fn` atomically: in a new transaction from the root store, as is inside one. */
  async #atomic<T>(what: string, fn: (db: Db) => Promise<T>): Promise<T> {
    if (this.#root === null) return this.#op(what, fn);
    const root = this.#root;
    return this.#op(what, () => root.$transaction(fn, TX_OPTIONS));
  }

  async transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    // Nested: Prisma has no nested interactive transactions; the inner work joins the outer
    // one (a throw still rolls back everything, since it propagates through the outer fn).
    if (this.#root === null) return fn(this);
    const root = this.#root;
    const gate = this.#gate;
    const body = (tx: Db): Promise<T> => fn(new PrismaStore(this.kind, null, { tx, secret: this.#secret }));
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
    return this.#op('find user', async (db) => {
      const u = await db.user.findUnique({ where: { id } });
      return u && toUser(u);
    });
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

  findProfileByOwner(ownerId: string): Promise<ProfileRow | null> {
    return this.#op('find profile', async (db) => {
      const p = await db.profile.findUnique({ where: { ownerId } });
      return p && toProfile(p);
    });
  }

  findProfilesByEmailIndex(index: string): Promise<ProfileRow[]> {
    return this.#op('find profiles', async (db) => (await db.profile.findMany({ where: { emailIndex: index }, orderBy: { id: 'asc' } })).map(toProfile));
  }

  async listProfiles(limit: number, cursor?: string): Promise<ProfileRow[]> {
    checkLimit(limit);
    if (limit === 0) return [];
    return this.#op('list profiles', async (db) =>
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
    return this.#op('find grants', async (db) => {
      const rows: Grant[] = [];
      for (let i = 0; i < ids.length; i += IN_CHUNK) {
        const objectId = { in: ids.slice(i, i + IN_CHUNK) };
        rows.push(...(await db.grant.findMany({ where: granteeId === undefined ? { objectType, objectId } : { objectType, objectId, granteeId } })));
      }
      // One order whatever the chunking: by object, then grantee.
      rows.sort((a, b) => (a.objectId < b.objectId ? -1 : a.objectId > b.objectId ? 1 : a.granteeId < b.granteeId ? -1 : a.granteeId > b.granteeId ? 1 : 0));
      return rows.map(toGrant);
    });
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

  userKeys(userId: string): Promise<UserKeyRow[]> {
    return this.#op('find user keys', async (db) => (await db.userKey.findMany({ where: { userId }, orderBy: { version: 'asc' } })).map(toUserKey));
  }

  async addUserKey(row: Omit<UserKeyRow, 'createdAt'>): Promise<UserRow> {
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

  async close(): Promise<void> {
    // A transaction's store ends with its transaction; only the root one disconnects.
    if (this.#root === null) return;
    await (this.#gate ? this.#gate.run(() => this.#root!.$disconnect()) : this.#root.$disconnect());
  }
}
