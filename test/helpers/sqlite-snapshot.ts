/**
 * Test helper: reads a running gateway's SQLite file (`<dataDir>/veilgraph.db`) from
 * outside, read-only, with better-sqlite3 (the driver the gateway's Prisma adapter
 * brings along), so a test can compare what is stored before and after a request
 * without going through the gateway's own store. A schema author's own SQLite file (an
 * example's table) is read the same way: pass its path ending in `.db` instead of a data dir.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';

/** One table's rows as JSON text (bytes as hex), sorted, so snapshots compare with `toEqual`. */
export type TableSnapshot = Record<string, string[]>;

function cell(v: unknown): unknown {
  if (v instanceof Uint8Array) return `hex:${Buffer.from(v).toString('hex')}`;
  if (typeof v === 'bigint') return v.toString();
  return v;
}

/** The SQLite file: a gateway's data dir holds `veilgraph.db`; a path ending in `.db` is the file itself. */
function databaseFile(dataDirOrFile: string): string {
  return dataDirOrFile.endsWith('.db') ? dataDirOrFile : join(dataDirOrFile, 'veilgraph.db');
}

/** Every row of `tables`, as plain objects (bytes as `hex:…` strings). */
export function readTables(dataDir: string, tables: readonly string[]): Record<string, Record<string, unknown>[]> {
  const db = new Database(databaseFile(dataDir), { readonly: true, fileMustExist: true });
  try {
    const out: Record<string, Record<string, unknown>[]> = {};
    for (const table of tables) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(table)) throw new Error(`not a table name: ${table}`);
      out[table] = db.prepare<[], Record<string, unknown>>(`SELECT * FROM "${table}"`).all().map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, cell(v)])));
    }
    return out;
  } finally {
    db.close();
  }
}

/**
 * A comparable snapshot of `tables`: each row as sorted JSON, rows sorted. Rows for which
 * `exclude(table, row)` is true are left out (say, rows that belong to the acting user).
 */
export function snapshotTables(dataDir: string, tables: readonly string[], exclude: (table: string, row: Record<string, unknown>) => boolean = () => false): TableSnapshot {
  const rows = readTables(dataDir, tables);
  const out: TableSnapshot = {};
  for (const table of tables) {
    out[table] = rows[table]!.filter((r) => !exclude(table, r))
      .map((r) => JSON.stringify(Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))))
      .sort();
  }
  return out;
}
