/**
 * @module
 * The store's fast path: a few hot statements run straight on the driver the Prisma adapter
 * already uses (better-sqlite3's one connection on SQLite, node-postgres's pool on
 * PostgreSQL), prepared once per connection, instead of through Prisma's query compiler and
 * adapter (~0.5–0.8 ms a query, whatever it returns). Prisma stays for the schema,
 * migrations and every other query (docs/storage.md, "Hot paths").
 *
 * One SQL text serves both databases: `?` placeholders (numbered `$n` for PostgreSQL) and
 * tables written `{Name}` (`"Name"` on SQLite, `"public"."Name"` on PostgreSQL, as Prisma's
 * own queries name them). Values cross in Prisma's encodings, so a row read here equals the
 * row Prisma reads, and a row written here is what Prisma would write:
 *
 * | model type | SQLite (as the better-sqlite3 adapter stores it) | PostgreSQL (`TIMESTAMP(3)`, `BYTEA`, `BOOLEAN`) |
 * |---|---|---|
 * | DateTime | ISO text `2026-12-07T10:00:00.000+00:00` (read: Prisma's parsing, also of unixepoch ms) | UTC wall time without zone |
 * | Bytes | BLOB | BYTEA |
 * | Boolean | INTEGER 0/1 | BOOLEAN |
 * | Int | INTEGER (read as numbers, not BigInt) | INTEGER |
 */
import pg from 'pg';

/** One statement in both dialects; `name` identifies its prepared form on a PostgreSQL connection. */
export interface Statement {
  readonly name: string;
  readonly sqlite: string;
  readonly postgres: string;
}

/** A statement from one text: `?` placeholders, `{Table}` names (see the module comment). */
export function statement(name: string, text: string): Statement {
  let n = 0;
  return {
    name: `veil_${name}`,
    sqlite: text.replace(/\{(\w+)\}/g, '"$1"'),
    postgres: text.replace(/\{(\w+)\}/g, '"public"."$1"').replace(/\?/g, () => `$${++n}`),
  };
}

/** Which columns of a row need Prisma's decoding; the others (text, Int) come as they are. */
export interface Columns {
  readonly dates?: readonly string[];
  readonly bytes?: readonly string[];
  readonly bools?: readonly string[];
}

export type Row = Record<string, unknown>;

/** A connection, or one inside a transaction. */
export interface DirectConnection {
  /** The rows of a SELECT (or `… RETURNING`), decoded per `columns` to Prisma's model shape. */
  all<T>(s: Statement, params: readonly unknown[], columns: Columns): Promise<T[]>;
  /** Runs a statement without rows; the number of rows it changed. */
  run(s: Statement, params: readonly unknown[]): Promise<number>;
}

export interface DirectSql extends DirectConnection {
  readonly kind: 'sqlite' | 'postgres';
  /** False when the driver's connection could not be reached (the store then uses Prisma alone). */
  usable(): boolean;
  /**
   * Runs `fn` in one transaction on one connection (SQLite: `BEGIN IMMEDIATE`, so it holds
   * the write lock from the start, as `PrismaStore.transaction` does). A throw rolls back.
   * SQLite: the caller must hold the store's gate (nothing else may use the connection meanwhile).
   * `advisoryLock` (PostgreSQL): a transaction-level advisory lock taken with BEGIN, in the
   * same round trip (SQLite needs none: the transaction holds the write lock).
   */
  transaction<T>(fn: (c: DirectConnection) => Promise<T>, options?: { advisoryLock?: bigint }): Promise<T>;
}

/** Prisma's reading of a DateTime text (its client runtime's normalisation, then `new Date`). */
export function prismaDate(text: string): Date {
  const m = /\d{2}:\d{2}:\d{2}(?:\.\d+)?(Z|[+-]\d{2}(:?\d{2})?)?$/.exec(text);
  if (m === null) return new Date(`${text}T00:00:00Z`);
  const [time, zone, zoneMinutes] = m;
  let s = text;
  if (zone !== undefined && zone !== 'Z' && zoneMinutes === undefined) s = `${text}:00`;
  else if (zone === undefined) s = `${text}Z`;
  if (time.length === text.length) return new Date(`1970-01-01T${s}`);
  const at = m.index - 1;
  if (s[at] === ' ') s = `${s.slice(0, at)}T${s.slice(at + 1)}`;
  return new Date(s);
}

/** What the adapter writes (`2026-12-07T10:00:00.000+00:00`): `new Date` reads it as Prisma does. */
const PRISMA_WRITTEN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$/;

function decodeDate(v: unknown): unknown {
  if (v === null || v instanceof Date) return v;
  if (typeof v === 'string') return PRISMA_WRITTEN.test(v) ? new Date(v) : prismaDate(v);
  if (typeof v === 'number' || typeof v === 'bigint') return new Date(Number(v));
  return v;
}

/** A plain Uint8Array copy, as Prisma hands out (not the driver's Buffer over a shared pool). */
function decodeBytes(v: unknown): unknown {
  return v instanceof Uint8Array ? new Uint8Array(v) : v;
}

function decode<T>(row: Row, c: Columns): T {
  if (c.dates) for (const k of c.dates) row[k] = decodeDate(row[k]);
  if (c.bytes) for (const k of c.bytes) row[k] = decodeBytes(row[k]);
  if (c.bools) for (const k of c.bools) if (typeof row[k] === 'number' || typeof row[k] === 'bigint') row[k] = Number(row[k]) !== 0;
  return row as T;
}

// --- SQLite ------------------------------------------------------------------------------

/** The part of a better-sqlite3 statement used here (the adapter's driver; no type import). */
interface SqliteStatement {
  readonly reader: boolean;
  safeIntegers(on: boolean): SqliteStatement;
  all(...params: unknown[]): Row[];
  run(...params: unknown[]): { changes: number };
}

/** The part of a better-sqlite3 `Database` used here. */
export interface SqliteDatabase {
  readonly open: boolean;
  prepare(sql: string): SqliteStatement;
}

/** Dates as the better-sqlite3 adapter writes them (its default `iso8601` format). */
function sqliteParam(v: unknown): unknown {
  if (v instanceof Date) return v.toISOString().replace('Z', '+00:00');
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v instanceof Uint8Array && !Buffer.isBuffer(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return v;
}

/**
 * SQLite through the adapter's own connection (`db()`: the better-sqlite3 `Database` Prisma
 * opened; null while it is closed). Statements are prepared once per connection.
 */
export function sqliteDirect(db: () => SqliteDatabase | null): DirectSql {
  const prepared = new WeakMap<SqliteDatabase, Map<Statement, SqliteStatement>>();
  const get = (s: Statement): SqliteStatement => {
    const d = db();
    if (d === null || !d.open) throw Object.assign(new Error('the database connection is closed'), { code: 'SQLITE_MISUSE' });
    let cache = prepared.get(d);
    if (!cache) prepared.set(d, (cache = new Map()));
    let st = cache.get(s);
    // Integers as numbers: the adapter turns safe integers on for its connection, and every
    // Int column here is 32-bit.
    if (!st) cache.set(s, (st = d.prepare(s.sqlite).safeIntegers(false)));
    return st;
  };
  const conn: DirectConnection = {
    all<T>(s: Statement, params: readonly unknown[], columns: Columns): Promise<T[]> {
      try {
        return Promise.resolve(get(s).all(...params.map(sqliteParam)).map((r) => decode<T>(r, columns)));
      } catch (e) {
        return Promise.reject(e as Error);
      }
    },
    run(s: Statement, params: readonly unknown[]): Promise<number> {
      try {
        return Promise.resolve(get(s).run(...params.map(sqliteParam)).changes);
      } catch (e) {
        return Promise.reject(e as Error);
      }
    },
  };
  const begin = statement('begin_immediate', 'BEGIN IMMEDIATE');
  const commit = statement('commit', 'COMMIT');
  const rollback = statement('rollback', 'ROLLBACK');
  return {
    kind: 'sqlite',
    usable: () => db() !== null,
    ...conn,
    async transaction<T>(fn: (c: DirectConnection) => Promise<T>): Promise<T> {
      await conn.run(begin, []);
      try {
        const result = await fn(conn);
        await conn.run(commit, []);
        return result;
      } catch (e) {
        // Also when COMMIT itself failed: the transaction must not stay open on the connection.
        await conn.run(rollback, []).catch(() => undefined);
        throw e;
      }
    },
  };
}

// --- PostgreSQL --------------------------------------------------------------------------

const TIMESTAMP_OID = 1114;

/**
 * Type parsing for our queries only (the pool's global parsers stay as they are): a
 * `TIMESTAMP` is UTC wall time, as Prisma writes and reads it (node-postgres would take it as
 * local time).
 */
const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
    if (oid === TIMESTAMP_OID && format !== 'binary') return (v: string) => new Date(`${v.replace(' ', 'T')}Z`);
    return pg.types.getTypeParser(oid, format ?? 'text') as (value: string) => unknown;
  },
};

/** A Date as the pg adapter sends it for a `TIMESTAMP(3)`: UTC, no zone. */
function pgTimestamp(d: Date): string {
  const pad = (n: number, z = 2): string => String(n).padStart(z, '0');
  const ms = d.getUTCMilliseconds();
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${ms ? `.${pad(ms, 3)}` : ''}`;
}

function pgParam(v: unknown): unknown {
  if (v instanceof Date) return pgTimestamp(v);
  if (v instanceof Uint8Array && !Buffer.isBuffer(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return v;
}

interface PgQueryable {
  query(config: pg.QueryConfig): Promise<pg.QueryResult<Row>>;
}

function pgConnection(client: PgQueryable): DirectConnection {
  // `name`: node-postgres prepares the statement once per connection and reuses it.
  const query = (s: Statement, params: readonly unknown[]): Promise<pg.QueryResult<Row>> =>
    client.query({ name: s.name, text: s.postgres, values: params.map(pgParam), types: pgTypes });
  return {
    async all<T>(s: Statement, params: readonly unknown[], columns: Columns): Promise<T[]> {
      return (await query(s, params)).rows.map((r) => decode<T>(r, columns));
    },
    async run(s: Statement, params: readonly unknown[]): Promise<number> {
      return (await query(s, params)).rowCount ?? 0;
    },
  };
}

/** PostgreSQL through the pool the pg adapter uses (`new PrismaPg(pool)`). */
export function postgresDirect(pool: pg.Pool): DirectSql {
  return {
    kind: 'postgres',
    usable: () => true,
    ...pgConnection(pool),
    async transaction<T>(fn: (c: DirectConnection) => Promise<T>, options?: { advisoryLock?: bigint }): Promise<T> {
      const lock = options?.advisoryLock;
      if (lock !== undefined && typeof lock !== 'bigint') throw new TypeError('advisoryLock must be a bigint');
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        // One round trip for both (the simple protocol runs them in order; the lock is a bigint literal, not input).
        await client.query(lock === undefined ? 'BEGIN' : `BEGIN; SELECT pg_advisory_xact_lock(${lock})`);
        try {
          const result = await fn(pgConnection(client));
          await client.query('COMMIT');
          return result;
        } catch (e) {
          await client.query('ROLLBACK').catch((err: unknown) => {
            // A connection that cannot roll back is dropped from the pool, not reused.
            broken = err instanceof Error ? err : new Error(String(err));
          });
          throw e;
        }
      } finally {
        client.release(broken);
      }
    },
  };
}
