/**
 * @module
 * A `TypeAdapter` for one annotated type held by a Prisma model: owner lookups (one
 * `findMany` per batch), the stored row (the debug view), and the rows key ring rotation
 * moves onto the current key. The re-seal swap is one `UPDATE … WHERE id = ? AND
 * serverSealed = ?` (`updateMany`), so a write that lands between rotation's read and its
 * swap wins and is never overwritten with older values (bytewise BLOB/BYTEA equality in
 * SQLite and PostgreSQL). These run on the base client, outside any request.
 */
import type { TypeAdapter } from '../../type-adapters.js';
import { KEY_VERSION_COLUMN, SEALED_COLUMN, type MappedType } from './model.js';

type Row = Record<string, unknown>;

/** The calls the adapter makes on a model of the base client. */
export interface ModelDelegate {
  findUnique(args: unknown): Promise<Row | null>;
  findMany(args: unknown): Promise<Row[]>;
  updateMany(args: unknown): Promise<{ count: number }>;
  count(args: unknown): Promise<number>;
}

/** Drivers may hand back Buffers; veilgraph takes plain Uint8Arrays (and Prisma's filters want them). */
function plainBytes(v: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(v);
}

function normalized(row: Row | null): Row | null {
  if (row === null) return null;
  const sealed = row[SEALED_COLUMN];
  return sealed instanceof Uint8Array ? { ...row, [SEALED_COLUMN]: plainBytes(sealed) } : row;
}

export function prismaTypeAdapter(m: MappedType, delegate: () => ModelDelegate): TypeAdapter {
  const { id, owner } = m.object;
  const notOn = (version: number): Row => ({ [SEALED_COLUMN]: { not: null }, [KEY_VERSION_COLUMN]: { not: version } });
  const adapter: TypeAdapter = {
    async owners(ids) {
      const found = new Map<string, string>();
      if (ids.length === 0) return found;
      const rows = await delegate().findMany({ where: { [id]: { in: [...new Set(ids)] } }, select: { [id]: true, [owner]: true } });
      for (const row of rows) found.set(row[id] as string, row[owner] as string);
      return found;
    },
    async find(objectId) {
      return normalized(await delegate().findUnique({ where: { [id]: objectId } }));
    },
  };
  if (!m.hasServer) return adapter;
  return {
    ...adapter,
    reseal: {
      async stale(version, limit) {
        const rows = await delegate().findMany({ where: notOn(version), orderBy: { [id]: 'asc' }, take: limit });
        return rows.map((r) => normalized(r)!);
      },
      async swap(objectId, expected, next, nextVersion) {
        const { count } = await delegate().updateMany({
          where: { [id]: objectId, [SEALED_COLUMN]: { equals: plainBytes(expected) } },
          data: { [SEALED_COLUMN]: plainBytes(next), [KEY_VERSION_COLUMN]: nextVersion },
        });
        return count === 1;
      },
      count(version) {
        return delegate().count({ where: notOn(version) });
      },
    },
  };
}
