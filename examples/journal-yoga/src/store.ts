/**
 * The journal's own table in its own SQLite file (better-sqlite3, no ORM). The columns follow
 * veilgraph's convention for annotated types (docs/server.md): PUBLIC fields as columns, every
 * SERVER field of a row sealed together in `serverSealed` (with its `serverKeyVersion`), a
 * blind index per searchable SERVER field (`moodIndex`), one column per SHARED/PRIVATE field
 * holding the client's envelope text. Nothing here knows any crypto.
 */
import Database from 'better-sqlite3';

export interface JournalRow {
  readonly id: string;
  readonly authorId: string;
  readonly title: string;
  /** mood and place (SERVER), sealed together by veilgraph; null when neither was ever given. */
  readonly serverSealed: Uint8Array | null;
  readonly serverKeyVersion: number;
  /** Blind index of mood (searchable SERVER field). */
  readonly moodIndex: string | null;
  /** SHARED: envelope text. */
  readonly body: string | null;
  /** PRIVATE: envelope text. */
  readonly note: string | null;
  readonly createdAt: number;
}

/** What a write stores: the columns `veil.write` returned, plus the row's id, author and title. */
export type JournalColumns = Partial<Omit<JournalRow, 'id' | 'authorId' | 'createdAt'>>;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS journal (
  id               TEXT PRIMARY KEY,      -- chosen by the client: values are sealed for it
  authorId         TEXT NOT NULL,         -- @owner
  title            TEXT NOT NULL,         -- PUBLIC
  serverSealed     BLOB,                  -- SERVER fields, sealed
  serverKeyVersion INTEGER NOT NULL DEFAULT 0,
  moodIndex        TEXT,                  -- blind index of mood
  body             TEXT,                  -- SHARED envelope
  note           TEXT,                  -- PRIVATE envelope
  createdAt        INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS journal_author ON journal (authorId, createdAt);
CREATE INDEX IF NOT EXISTS journal_mood ON journal (authorId, moodIndex);
CREATE INDEX IF NOT EXISTS journal_version ON journal (serverKeyVersion);
`;

const COLUMNS = ['title', 'serverSealed', 'serverKeyVersion', 'moodIndex', 'body', 'note'] as const;
/** better-sqlite3 binds Buffers, not other Uint8Arrays (what veilgraph seals into). */
function blob(v: Uint8Array | null | undefined): Buffer | null {
  if (v === null || v === undefined) return null;
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** Most ids in one `IN (…)` (SQLite's variable limit is far above; a batch is one request's). */
const IN_CHUNK = 500;

export class JournalStore {
  private constructor(private readonly db: Database.Database) {}

  /** Opens (and creates) the table in the SQLite file at `path`, in WAL mode. */
  static open(path: string): JournalStore {
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.exec(SCHEMA);
    return new JournalStore(db);
  }

  get(id: string): JournalRow | null {
    return (this.db.prepare('SELECT * FROM journal WHERE id = ?').get(id) as JournalRow | undefined) ?? null;
  }

  byAuthor(authorId: string): JournalRow[] {
    return this.db.prepare('SELECT * FROM journal WHERE authorId = ? ORDER BY createdAt DESC, id').all(authorId) as JournalRow[];
  }

  byMood(authorId: string, moodIndex: string): JournalRow[] {
    return this.db.prepare('SELECT * FROM journal WHERE authorId = ? AND moodIndex = ? ORDER BY createdAt DESC, id').all(authorId, moodIndex) as JournalRow[];
  }

  /** Inserts a new journal; false when the id is taken. */
  insert(row: Omit<JournalRow, 'createdAt' | 'serverKeyVersion'> & { serverKeyVersion?: number }): boolean {
    const r = this.db
      .prepare('INSERT INTO journal (id, authorId, title, serverSealed, serverKeyVersion, moodIndex, body, note, createdAt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING')
      .run(row.id, row.authorId, row.title, blob(row.serverSealed), row.serverKeyVersion ?? 0, row.moodIndex, row.body, row.note, Date.now());
    return r.changes === 1;
  }

  /**
   * Writes `columns` to the row if its sealed SERVER blob is still `expected` (the one the
   * new blob was merged from); false when another write changed it meanwhile.
   */
  updateIfUnchanged(id: string, expected: Uint8Array | null, columns: JournalColumns): boolean {
    const set = COLUMNS.filter((c) => columns[c] !== undefined);
    if (set.length === 0) return this.get(id) !== null;
    const sql = `UPDATE journal SET ${set.map((c) => `${c} = ?`).join(', ')} WHERE id = ? AND serverSealed IS ?`;
    const values = set.map((c) => (c === 'serverSealed' ? blob(columns.serverSealed) : (columns[c] ?? null)));
    return this.db.prepare(sql).run(...values, id, blob(expected)).changes === 1;
  }

  delete(id: string): boolean {
    return this.db.prepare('DELETE FROM journal WHERE id = ?').run(id).changes === 1;
  }

  /** Authors of these journals, in one query per 500 ids. */
  owners(ids: readonly string[]): Map<string, string> {
    const out = new Map<string, string>();
    for (let i = 0; i < ids.length; i += IN_CHUNK) {
      const chunk = ids.slice(i, i + IN_CHUNK);
      const rows = this.db.prepare(`SELECT id, authorId FROM journal WHERE id IN (${chunk.map(() => '?').join(', ')})`).all(...chunk) as { id: string; authorId: string }[];
      for (const r of rows) out.set(r.id, r.authorId);
    }
    return out;
  }

  /** Up to `limit` rows with SERVER values sealed under another key version than `version`. */
  stale(version: number, limit: number): JournalRow[] {
    return this.db.prepare('SELECT * FROM journal WHERE serverSealed IS NOT NULL AND serverKeyVersion <> ? LIMIT ?').all(version, limit) as JournalRow[];
  }

  countStale(version: number): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM journal WHERE serverSealed IS NOT NULL AND serverKeyVersion <> ?').get(version) as { n: number }).n;
  }

  /** Compare-and-swap of a row's sealed blob (the re-seal after a key rotation). */
  swapSealed(id: string, expected: Uint8Array, next: Uint8Array, nextVersion: number): boolean {
    return this.db.prepare('UPDATE journal SET serverSealed = ?, serverKeyVersion = ? WHERE id = ? AND serverSealed = ?').run(blob(next), nextVersion, id, blob(expected)).changes === 1;
  }

  /** Rows with sealed SERVER values per key version (what a rotation moves). */
  countByKeyVersion(): Record<number, number> {
    const rows = this.db.prepare('SELECT serverKeyVersion AS v, COUNT(*) AS n FROM journal WHERE serverSealed IS NOT NULL GROUP BY serverKeyVersion').all() as { v: number; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.v, r.n]));
  }

  close(): void {
    this.db.close();
  }
}
