/**
 * @module
 * The per-request query extension: what `prisma.$extends(journals.forRequest(ctx))` does
 * to each operation. For a model that holds an annotated type:
 *
 * - `create`, `createMany`, `createManyAndReturn`: the owner is the viewer; each row's
 *   `data` goes through the write path (envelopes checked for their location and writer,
 *   SERVER values sealed into `serverSealed`, blind indexes computed) before anything is
 *   written.
 * - `update`, `upsert`: the row is read first (its owner and sealed SERVER values), the
 *   viewer's right to write each field is checked (owner, or a WRITE grantee for all but
 *   PRIVATE fields), SERVER values are merged with the stored ones, and the write is a
 *   compare-and-swap on the owner and `serverSealed`: a concurrent change makes it read and
 *   merge again (CONFLICT after 5 tries), never overwrite what it did not see.
 * - `delete`: the owner only. `deleteMany`: narrowed to the viewer's own rows. Either
 *   first removes the objects' grants and data keys from veilgraph's store (../../forget.ts).
 * - `updateMany`, `updateManyAndReturn` and any operation not listed: refused
 *   (UNCHECKED_WRITE): they write rows without a per-row check.
 * - Reads pass unchanged: the GraphQL layer authorises and decrypts each field.
 *
 * On every model, nested writes into an annotated model are refused (./nested.ts), and on
 * the extended client raw SQL is refused: it bypasses every check (use the base client for
 * SQL that does not touch annotated tables).
 */
import { equalBytes } from '../../../crypto/bytes.js';
import { isSealedLevel, type PrivacyLevel } from '../../../privacy/levels.js';
import { requireViewer } from '../../context.js';
import { forbidden, gatewayError } from '../../errors.js';
import type { PrivacyManifest } from '../../../privacy/manifest.js';
import type { VeilContext } from '../../context.js';
import { uncheckedWrite } from './errors.js';
import { forgetObjects } from '../../forget.js';
import { SEALED_COLUMN, type MappedType, type ModelMap } from './model.js';
import { assertNoNestedAnnotatedWrites } from './nested.js';

type Row = Record<string, unknown>;

interface OperationParams {
  readonly model?: string;
  readonly operation: string;
  readonly args: unknown;
  readonly query: (args: unknown) => Promise<unknown>;
}

/** What `forRequest` returns: a query-only Prisma extension (keeps the client's types). */
export interface VeilgraphPrismaExtension {
  readonly name: 'veilgraph';
  readonly query: { $allOperations(params: OperationParams): Promise<unknown> };
}

/** The base client's model delegates, for the reads the extension makes itself. */
export type Delegates = (delegate: string) => {
  findUnique(args: unknown): Promise<Row | null>;
  findMany(args: unknown): Promise<Row[]>;
};

const READS = new Set(['findUnique', 'findUniqueOrThrow', 'findFirst', 'findFirstOrThrow', 'findMany', 'count', 'aggregate', 'groupBy']);
const MAX_ATTEMPTS = 5;

function isRecord(v: unknown): v is Row {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function prismaCode(e: unknown): unknown {
  return e instanceof Error && e.name === 'PrismaClientKnownRequestError' ? (e as { code?: unknown }).code : undefined;
}

function notFound(m: MappedType): Error {
  return gatewayError('NOT_FOUND', `no such ${m.typeName}`);
}

function conflict(m: MappedType): Error {
  return gatewayError('CONFLICT', `the ${m.typeName} kept changing while it was being written; try again`);
}

/** `where` narrowed by `guard`, keeping the caller's own conditions. */
function narrowed(where: unknown, guard: Row): Row {
  const w = isRecord(where) ? where : {};
  const and = w.AND === undefined ? [] : Array.isArray(w.AND) ? w.AND : [w.AND];
  return { ...w, AND: [...and, guard] };
}

/** Prisma's Bytes filters take a plain Uint8Array over an ArrayBuffer. */
function bytes(v: unknown): Uint8Array<ArrayBuffer> | null {
  return v instanceof Uint8Array ? new Uint8Array(v) : null;
}

/** The write is applied only if the row still has this owner and these sealed SERVER values. */
function unchangedSince(m: MappedType, previous: Row): Row {
  const guard: Row = { [m.object.owner]: previous[m.object.owner] };
  if (m.hasServer) {
    const sealed = bytes(previous[SEALED_COLUMN]);
    guard[SEALED_COLUMN] = sealed === null ? null : { equals: sealed };
  }
  return guard;
}

/** Whether two reads of a row show the same owner and sealed SERVER values (or both no row). */
function sameVersion(m: MappedType, a: Row | null, b: Row | null): boolean {
  if (a === null || b === null) return a === b;
  if (a[m.object.owner] !== b[m.object.owner]) return false;
  if (!m.hasServer) return true;
  const x = bytes(a[SEALED_COLUMN]);
  const y = bytes(b[SEALED_COLUMN]);
  return x === null || y === null ? x === y : equalBytes(x, y);
}

interface SplitData {
  /** Fields the write path prepares, and the `@writes` input type that names them all. */
  readonly input: Row;
  readonly inputType: string | null;
  /** Everything else, stored as given (PUBLIC columns the type does not declare, foreign keys). */
  readonly rest: Row;
}

/**
 * Sorts one row's `data` into what the write path must prepare and what passes as is, and
 * refuses what would bypass it. The owner column is left out: the caller sets it.
 */
function split(m: MappedType, manifest: PrivacyManifest, data: unknown, where: string): SplitData {
  if (!isRecord(data)) throw uncheckedWrite(`${where}: data must be one object per row`);
  const own: Row = {};
  const rest: Row = {};
  for (const [key, value] of Object.entries(data)) {
    if (value === undefined || key === m.object.owner) continue;
    if (m.computed.has(key)) throw uncheckedWrite(`${where}: ${m.model}.${key} is computed by veilgraph's write path; leave it out of data`);
    if (m.relations.has(key)) {
      throw uncheckedWrite(`${where}: ${m.model}.${key} is a relation; nested writes and connects on ${m.model} bypass the owner check (set its foreign key column instead)`);
    }
    if (Object.hasOwn(m.object.fields, key)) own[key] = value;
    else rest[key] = value;
  }
  const sealedKeys = Object.keys(own).filter((k) => m.object.fields[k]!.level !== 'PUBLIC');
  // Every @writes input of the type maps a field to the same location (Type.field), so any
  // one that names all the protected fields given prepares them identically.
  const inputType = m.inputs.find((name) => sealedKeys.every((k) => Object.hasOwn(manifest.inputs[name]!.fields, k))) ?? null;
  if (sealedKeys.length > 0 && inputType === null) {
    throw uncheckedWrite(`${where}: no @writes(type: "${m.typeName}") input type declares ${sealedKeys.map((k) => `${m.typeName}.${k}`).join(', ')}; the write path checks and seals only what an input type declares`);
  }
  const input: Row = {};
  for (const [key, value] of Object.entries(own)) {
    const level = m.object.fields[key]!.level;
    if (inputType !== null && Object.hasOwn(manifest.inputs[inputType]!.fields, key)) {
      if (isSealedLevel(level) && value !== null && typeof value !== 'string') {
        throw gatewayError('BAD_SEALED_VALUE', `${m.typeName}.${key}: a ${level} value is the client's sealed envelope text`, { field: key });
      }
      input[key] = value;
    } else {
      rest[key] = value; // a PUBLIC field no input type declares
    }
  }
  return { input, inputType, rest };
}

function levelOf(m: MappedType, key: string): PrivacyLevel {
  return Object.hasOwn(m.object.fields, key) ? m.object.fields[key]!.level : 'PUBLIC';
}

export function createRequestExtension(models: ModelMap, base: Delegates, ctx: VeilContext): VeilgraphPrismaExtension {
  const prepare = async (m: MappedType, data: SplitData, ownerId: string, objectId: string, previous?: Row): Promise<Row> => {
    const columns = data.inputType === null ? {} : await ctx.veil.write(ctx, data.inputType, data.input, { ownerId, objectId }, previous);
    return { ...data.rest, ...columns };
  };

  const prepareCreate = async (m: MappedType, data: unknown, where: string): Promise<Row> => {
    const viewer = requireViewer(ctx);
    if (isRecord(data) && data[m.object.owner] !== undefined && data[m.object.owner] !== viewer.id) {
      throw forbidden(`create a ${m.typeName} owned by someone else`);
    }
    const parts = split(m, ctx.veil.manifest, data, where);
    const objectId = (data as Row)[m.object.id];
    if (typeof objectId !== 'string' || objectId.length === 0) {
      throw gatewayError('BAD_USER_INPUT', `${m.typeName}.${m.object.id} must be given on create: clients seal values for the object's id, so they choose it`, { field: m.object.id });
    }
    return { ...(await prepare(m, parts, viewer.id, objectId)), [m.object.owner]: viewer.id };
  };

  /** Checks the viewer may write what `data` writes to `previous`, and prepares it. */
  const prepareUpdate = async (m: MappedType, data: unknown, previous: Row, where: string): Promise<Row> => {
    const ownerId = previous[m.object.owner] as string;
    const objectId = previous[m.object.id] as string;
    if (isRecord(data) && data[m.object.owner] !== undefined && data[m.object.owner] !== ownerId) throw forbidden(`change the owner of a ${m.typeName}`);
    if (isRecord(data) && data[m.object.id] !== undefined && data[m.object.id] !== objectId) {
      throw gatewayError('BAD_USER_INPUT', `${m.typeName}.${m.object.id} cannot change: values are sealed for it`, { field: m.object.id });
    }
    const parts = split(m, ctx.veil.manifest, data, where);
    const keys = [...Object.keys(parts.input), ...Object.keys(parts.rest)];
    for (const key of keys.length > 0 ? keys : [m.object.id]) {
      if (!(await ctx.access.canWrite(m.typeName, objectId, ownerId, levelOf(m, key)))) throw forbidden(`write ${m.typeName}.${key}`);
    }
    return prepare(m, parts, ownerId, objectId, previous);
  };

  const find = (m: MappedType, where: unknown): Promise<Row | null> => base(m.delegate).findUnique({ where });

  const update = async (m: MappedType, args: Row, query: OperationParams['query']): Promise<unknown> => {
    requireViewer(ctx);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const previous = await find(m, args.where);
      if (!previous) throw notFound(m);
      const data = await prepareUpdate(m, args.data, previous, `${m.model}.update`);
      try {
        return await query({ ...args, where: narrowed(args.where, unchangedSince(m, previous)), data });
      } catch (e) {
        if (prismaCode(e) !== 'P2025') throw e; // P2025: the row changed (or went) since it was read
      }
    }
    throw conflict(m);
  };

  const upsert = async (m: MappedType, args: Row, query: OperationParams['query']): Promise<unknown> => {
    const viewer = requireViewer(ctx);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const previous = await find(m, args.where);
      const create = await prepareCreate(m, args.create, `${m.model}.upsert.create`);
      // No row yet: the update branch runs only if the viewer's own row with no SERVER
      // values appears meanwhile, which is what it was prepared for; anything else fails the
      // guard, Prisma creates, and the id's unique constraint refuses (we then read again).
      const assumed: Row = previous ?? { [m.object.owner]: viewer.id, [m.object.id]: create[m.object.id], ...(m.hasServer ? { [SEALED_COLUMN]: null } : {}) };
      const update = await prepareUpdate(m, args.update, assumed, `${m.model}.upsert.update`);
      try {
        return await query({ ...args, where: narrowed(args.where, unchangedSince(m, assumed)), create, update });
      } catch (e) {
        if (prismaCode(e) !== 'P2002') throw e;
        const now = await find(m, args.where);
        if (sameVersion(m, previous, now)) throw e; // another unique constraint: the caller's to handle
      }
    }
    throw conflict(m);
  };

  const remove = async (m: MappedType, args: Row, query: OperationParams['query']): Promise<unknown> => {
    const viewer = requireViewer(ctx);
    const previous = await find(m, args.where);
    if (!previous) throw notFound(m);
    if (previous[m.object.owner] !== viewer.id) throw forbidden(`delete this ${m.typeName}`);
    await forgetObjects(ctx, m.typeName, viewer.id, [previous[m.object.id] as string]);
    return query({ ...args, where: narrowed(args.where, { [m.object.owner]: viewer.id, [m.object.id]: previous[m.object.id] }) });
  };

  /** The viewer's own rows matching `where`, and only those that were forgotten first. */
  const removeMany = async (m: MappedType, args: Row, query: OperationParams['query']): Promise<unknown> => {
    const viewer = requireViewer(ctx);
    const own = narrowed(args.where, { [m.object.owner]: viewer.id });
    const ids = (await base(m.delegate).findMany({ where: own, select: { [m.object.id]: true } })).map((r) => r[m.object.id] as string);
    await forgetObjects(ctx, m.typeName, viewer.id, ids);
    return query({ ...args, where: narrowed(own, { [m.object.id]: { in: ids } }) });
  };

  const onModel = async (m: MappedType, operation: string, args: Row, query: OperationParams['query']): Promise<unknown> => {
    switch (operation) {
      case 'create':
        return query({ ...args, data: await prepareCreate(m, args.data, `${m.model}.create`) });
      case 'createMany':
      case 'createManyAndReturn': {
        const rows = Array.isArray(args.data) ? args.data : [args.data];
        // Every row is prepared (checked, sealed) before the one statement that writes them.
        const data: Row[] = [];
        for (const [i, row] of rows.entries()) data.push(await prepareCreate(m, row, `${m.model}.${operation}.data[${i}]`));
        return query({ ...args, data });
      }
      case 'update':
        return update(m, args, query);
      case 'upsert':
        return upsert(m, args, query);
      case 'delete':
        return remove(m, args, query);
      case 'deleteMany':
        return removeMany(m, args, query);
      default:
        if (READS.has(operation)) return query(args);
        throw uncheckedWrite(`${m.model}.${operation} is refused on ${m.typeName} (@privacy fields): it writes rows without checking each one; use update/upsert per row`);
    }
  };

  return {
    name: 'veilgraph',
    query: {
      async $allOperations({ model, operation, args, query }) {
        if (model === undefined) {
          // Raw SQL, Mongo commands: nothing can be checked.
          throw uncheckedWrite(`${operation} is refused on a client extended for veilgraph: raw queries bypass its checks (run SQL that does not touch annotated tables on the base client)`);
        }
        const a = isRecord(args) ? args : {};
        const m = models.byModel.get(model);
        if (m) return onModel(m, operation, a, query);
        // Any operation, not only the writes known today: reads carry no data, so this costs them nothing.
        for (const key of ['data', 'create', 'update']) assertNoNestedAnnotatedWrites(models, model, a[key], `${model}.${operation}.${key}`);
        return query(args);
      },
    },
  };
}
