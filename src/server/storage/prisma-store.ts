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
import { type Prisma, type Grant, type ObjectKey, type Profile, type User } from './generated/sqlite/client.js';
import { mapStorageError, StorageError } from './errors.js';
import { MIGRATIONS_TABLE } from './migrate.js';
import type { Access, GrantRow, ObjectKeyForRecipient, ObjectKeyRow, ProfileCreate, ProfileRow, ProfileUpdate, Store, UserRow } from './store.js';

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

  createUser(user: Omit<UserRow, 'createdAt'>): Promise<UserRow> {
    return this.#op('create user', async (db) =>
      toUser(
        await db.user.create({
          data: { id: user.id, username: user.username, signingKey: bytesIn(user.signingKey), encryptionKey: bytesIn(user.encryptionKey) },
        }),
      ),
    );
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
    // Grants name their object generically (no foreign key), so they go in the same transaction.
    return this.#atomic('delete profile', async (db) => {
      await db.grant.deleteMany({ where: { objectType: PROFILE_OBJECT_TYPE, objectId: id } });
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

  async close(): Promise<void> {
    // A transaction's store ends with its transaction; only the root one disconnects.
    if (this.#root === null) return;
    await (this.#gate ? this.#gate.run(() => this.#root!.$disconnect()) : this.#root.$disconnect());
  }
}
