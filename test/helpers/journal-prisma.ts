/**
 * Test harness: the schema author's own database for the Journal fixture
 * (test/fixtures/journal/schema.prisma), as a Prisma user has it: a client generated from
 * their schema (offline, the JS engine: src/server/storage/prisma-tool.ts) and a real
 * SQLite file with the tables `prisma migrate diff` says. Each call generates into its own
 * directory under the fixture (module resolution needs the repository's node_modules
 * above it; ignored by git), so test files never race on one generated client.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { diffSql, generateClient } from '../../src/server/storage/prisma-tool.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/journal/', import.meta.url));

/** A Journal row as the generated client returns it. */
export interface JournalRow extends Record<string, unknown> {
  readonly id: string;
  readonly authorId: string;
  readonly title: string;
  readonly serverSealed: Uint8Array | null;
  readonly serverKeyVersion: number;
  readonly moodIndex: string | null;
  readonly body: string | null;
  readonly secret: string | null;
  readonly notebookId: string | null;
}

/** The model calls the tests make (the real types live in the generated code). */
export interface ModelCalls<Row> {
  findUnique(args: unknown): Promise<Row | null>;
  findMany(args?: unknown): Promise<Row[]>;
  count(args?: unknown): Promise<number>;
  create(args: unknown): Promise<Row>;
  createMany(args: unknown): Promise<{ count: number }>;
  update(args: unknown): Promise<Row>;
  updateMany(args: unknown): Promise<{ count: number }>;
  upsert(args: unknown): Promise<Row>;
  delete(args: unknown): Promise<Row>;
  deleteMany(args?: unknown): Promise<{ count: number }>;
}

/** The generated client's surface the tests use. */
export interface JournalPrismaClient {
  readonly journal: ModelCalls<JournalRow>;
  readonly notebook: ModelCalls<Record<string, unknown>>;
  $extends(extension: unknown): JournalPrismaClient;
  $transaction<T>(fn: (tx: JournalPrismaClient) => Promise<T>): Promise<T>;
  $executeRawUnsafe(sql: string): Promise<number>;
  $queryRawUnsafe(sql: string): Promise<unknown>;
  $disconnect(): Promise<void>;
}

export interface JournalDatabase {
  readonly prisma: JournalPrismaClient;
  /** The SQLite file the client writes. */
  readonly file: string;
  close(): Promise<void>;
}

export async function openJournalDatabase(): Promise<JournalDatabase> {
  const dir = mkdtempSync(join(FIXTURE, '.tmp-'));
  try {
    const schema = join(dir, 'schema.prisma');
    copyFileSync(join(FIXTURE, 'schema.prisma'), schema);
    generateClient('sqlite', schema);
    const file = join(dir, 'journal.db');
    const sql = diffSql('sqlite', null, schema);
    const db = new Database(file);
    db.exec(sql ?? '');
    db.close();
    const { PrismaClient } = (await import(join(dir, 'client/client.ts'))) as { PrismaClient: new (options: unknown) => JournalPrismaClient };
    const { PrismaBetterSQLite3 } = await import('@prisma/adapter-better-sqlite3');
    const prisma = new PrismaClient({ adapter: new PrismaBetterSQLite3({ url: `file:${file}` }) });
    return {
      prisma,
      file,
      async close() {
        await prisma.$disconnect();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
