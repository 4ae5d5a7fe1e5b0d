/**
 * Test harness: the schema author's own database for the Journal fixture
 * (test/fixtures/journal/schema.prisma), as a Prisma user has it: a client generated from
 * their schema (offline, the JS engine: src/server/storage/prisma-tool.ts) and a real
 * SQLite file, or a real PostgreSQL database, with the tables `prisma migrate diff` says.
 * Each call generates into its own directory under the fixture (module resolution needs
 * the repository's node_modules above it; ignored by git), so test files never race on
 * one generated client.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { diffSql, generateClient, postgresVariant } from '../../src/server/storage/prisma-tool.js';
import type { TestPostgres } from './postgres.js';

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
  /** The SQLite file the client writes (SQLite only). */
  readonly file: string;
  close(): Promise<void>;
}

type ClientClass = new (options: unknown) => JournalPrismaClient;

/** A fresh Journal database: a SQLite file, or (given a server) the server's database. */
export async function openJournalDatabase(options: { postgres?: TestPostgres } = {}): Promise<JournalDatabase> {
  const dir = mkdtempSync(join(FIXTURE, '.tmp-'));
  try {
    const schema = join(dir, 'schema.prisma');
    copyFileSync(join(FIXTURE, 'schema.prisma'), schema);
    const file = join(dir, 'journal.db');
    let prisma: JournalPrismaClient;
    if (options.postgres) {
      // The PostgreSQL variant generates into ./postgres beside it.
      const variant = join(dir, 'schema.postgres.prisma');
      writeFileSync(variant, postgresVariant(readFileSync(schema, 'utf8')));
      generateClient('postgres', variant);
      const client = new pg.Client({ connectionString: options.postgres.url });
      await client.connect();
      try {
        await client.query(diffSql('postgres', null, schema, options.postgres.url, dir) ?? '');
      } finally {
        await client.end();
      }
      const { PrismaClient } = (await import(join(dir, 'postgres/client.ts'))) as { PrismaClient: ClientClass };
      const { PrismaPg } = await import('@prisma/adapter-pg');
      prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: options.postgres.url }) });
    } else {
      generateClient('sqlite', schema);
      const db = new Database(file);
      db.exec(diffSql('sqlite', null, schema) ?? '');
      db.close();
      const { PrismaClient } = (await import(join(dir, 'client/client.ts'))) as { PrismaClient: ClientClass };
      const { PrismaBetterSQLite3 } = await import('@prisma/adapter-better-sqlite3');
      prisma = new PrismaClient({ adapter: new PrismaBetterSQLite3({ url: `file:${file}` }) });
    }
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
