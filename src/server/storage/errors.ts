/**
 * @module
 * Storage failures callers can act on, each with a stable `code`. Anything else (a bug, an
 * unexpected database error) propagates as it is.
 */

export type StorageErrorCode =
  /** The database cannot be reached, opened, or does not exist. */
  | 'DATABASE_UNAVAILABLE'
  /** `DATABASE_URL` has a scheme we do not support (or is not a URL). */
  | 'UNSUPPORTED_DATABASE_URL'
  /** A unique key is taken (username, profile owner, id). */
  | 'CONFLICT'
  /** A row refers to one that does not exist (profile owner, grantee). */
  | 'INVALID_REFERENCE'
  /** An argument the database would not be able to hold (e.g. access not READ/WRITE). */
  | 'INVALID_ARGUMENT'
  /** Applying the schema migrations failed, or an applied migration was edited afterwards. */
  | 'MIGRATION_FAILED';

export class StorageError extends Error {
  override readonly name = 'StorageError';
  readonly code: StorageErrorCode;
  /** For CONFLICT: the columns of the violated unique key, when the database says. */
  readonly fields: readonly string[] | undefined;

  constructor(code: StorageErrorCode, message: string, options?: { cause?: unknown; fields?: readonly string[] }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.fields = options?.fields;
  }
}

export function isStorageError(e: unknown, code?: StorageErrorCode): e is StorageError {
  return e instanceof StorageError && (code === undefined || e.code === code);
}

/** The URL with any password replaced by `***`; only the scheme when it does not parse. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0];
    return scheme ? `${scheme}…` : '(not a URL)';
  }
}

/** Removes `secret` (as written and URL-decoded) from `text`. */
export function scrub(text: string, secret: string | undefined): string {
  if (!secret) return text;
  let out = text.split(secret).join('***');
  try {
    const decoded = decodeURIComponent(secret);
    if (decoded) out = out.split(decoded).join('***');
  } catch {
    // not URL-encoded
  }
  return out;
}

interface PrismaLikeError {
  name?: string;
  code?: string;
  errorCode?: string;
  message?: string;
  meta?: {
    target?: unknown;
    driverAdapterError?: { cause?: { kind?: string; code?: unknown; constraint?: { fields?: unknown } } };
  };
}

/** Prisma error codes meaning the database is not there (P1xxx, pool timeouts, dropped links). */
const UNAVAILABLE_CODES = new Set(['P1000', 'P1001', 'P1002', 'P1003', 'P1008', 'P1010', 'P1011', 'P1017', 'P2024']);
const UNAVAILABLE_ADAPTER_KINDS = new Set([
  'DatabaseNotReachable',
  'DatabaseDoesNotExist',
  'DatabaseAccessDenied',
  'AuthenticationFailed',
  'ConnectionClosed',
  'SocketTimeout',
  'TooManyConnections',
  'TlsConnectionError',
]);

function conflictFields(e: PrismaLikeError): string[] | undefined {
  const target = e.meta?.target ?? e.meta?.driverAdapterError?.cause?.constraint?.fields;
  // SQLite reports `User.username`-style names, PostgreSQL quoted ones: keep the bare column.
  if (Array.isArray(target)) return target.filter((f): f is string => typeof f === 'string').map((f) => f.replace(/^"|"$/g, ''));
  return undefined;
}

/**
 * A StorageError for Prisma/driver errors callers can act on; `e` itself otherwise.
 * `what` names the operation for the message. Messages may reach API clients (the gateway
 * exposes StorageError codes and messages), so they name no host, file or value; only
 * `detail` (for opening, which the operator sees) adds the driver's reason, with `secret`
 * scrubbed. The original error stays available as `cause`.
 */
export function mapStorageError(e: unknown, what: string, secret?: string, detail = false): unknown {
  if (e instanceof StorageError || typeof e !== 'object' || e === null) return e;
  const err = e as PrismaLikeError;
  const code = err.code ?? err.errorCode;
  const cause = err.meta?.driverAdapterError?.cause;
  const kind = cause?.kind;
  // PostgreSQL SQLSTATE classes 08 (connection exception) and 57P01-03 (server shutting
  // down / starting up) arrive unclassified (kind "postgres").
  const pgState = kind === 'postgres' && typeof cause?.code === 'string' ? cause.code : '';
  const pgUnavailable = pgState.startsWith('08') || /^57P0[123]$/.test(pgState);
  const message = scrub(String(err.message ?? ''), secret).trim();
  // Raw queries (`$executeRaw…`) fail with P2010 whatever the cause; the adapter's `kind` says
  // which constraint it was, as P2002/P2003 do for model queries.
  const raw = code === 'P2010';
  if (code === 'P2002' || (raw && kind === 'UniqueConstraintViolation')) {
    const fields = conflictFields(err);
    return new StorageError('CONFLICT', `${what}: ${fields?.length ? fields.join(', ') : 'a unique key'} already exists`, { cause: e, fields });
  }
  if (code === 'P2003' || (raw && kind === 'ForeignKeyConstraintViolation')) {
    return new StorageError('INVALID_REFERENCE', `${what}: it refers to a row that does not exist`, { cause: e });
  }
  if ((code !== undefined && UNAVAILABLE_CODES.has(code)) || (kind !== undefined && UNAVAILABLE_ADAPTER_KINDS.has(kind)) || pgUnavailable || err.name === 'PrismaClientInitializationError') {
    return new StorageError('DATABASE_UNAVAILABLE', `${what}: database unavailable${detail ? `: ${lastLine(message)}` : ''}`, { cause: e });
  }
  return e;
}

function lastLine(message: string): string {
  const lines = message.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.at(-1) ?? 'unknown error';
}

interface DriverLikeError {
  code?: unknown;
  message?: unknown;
  detail?: unknown;
}

/** SQLite result codes meaning the database cannot be used now (the adapter maps BUSY the same way). */
const SQLITE_UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|CANTOPEN|IOERR|FULL|NOTADB|CORRUPT|MISUSE|READONLY)/;
/** PostgreSQL SQLSTATEs meaning the same: connection (08), resources (53), auth (28), no database, shutdown. */
const PG_UNAVAILABLE = /^(08|53|28|3D000$|57P0[123]$)/;
/** node-postgres and Node socket failures (no SQLSTATE). */
const NODE_UNAVAILABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH']);
const PG_CLIENT_UNAVAILABLE = /connection terminated|timeout exceeded when trying to connect|not queryable|connection timeout/i;

/**
 * `mapStorageError` for errors of the drivers themselves (better-sqlite3, node-postgres), as
 * the store's direct statements meet them (direct-sql.ts): the same codes and messages as
 * the Prisma path gives for the same failure. Anything else comes back as it is.
 */
export function mapDriverError(e: unknown, what: string, secret?: string): unknown {
  if (e instanceof StorageError || typeof e !== 'object' || e === null) return e;
  const err = e as DriverLikeError;
  const code = typeof err.code === 'string' ? err.code : '';
  const message = scrub(String(err.message ?? ''), secret);
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505') {
    // SQLite: "UNIQUE constraint failed: Message.conversationId, Message.clientId";
    // PostgreSQL: detail 'Key ("conversationId", "clientId")=(…) already exists.'
    const list = code === '23505' ? /^Key \(([^)]*)\)=/.exec(String(err.detail ?? ''))?.[1] : message.split('constraint failed: ')[1];
    const fields = list?.split(', ').map((f) => f.split('.').pop()!.replace(/^"|"$/g, ''));
    return new StorageError('CONFLICT', `${what}: ${fields?.length ? fields.join(', ') : 'a unique key'} already exists`, { cause: e, fields });
  }
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || code === '23503') {
    return new StorageError('INVALID_REFERENCE', `${what}: it refers to a row that does not exist`, { cause: e });
  }
  if (SQLITE_UNAVAILABLE.test(code) || (/^[0-9A-Z]{5}$/.test(code) && PG_UNAVAILABLE.test(code)) || NODE_UNAVAILABLE.has(code) || (code === '' && PG_CLIENT_UNAVAILABLE.test(message))) {
    return new StorageError('DATABASE_UNAVAILABLE', `${what}: database unavailable`, { cause: e });
  }
  return e;
}
