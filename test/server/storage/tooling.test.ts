/**
 * Opening without a database (URL handling), the migration SQL splitter, and the model
 * tooling: generated variants and checked-in migrations in step with prisma/schema.prisma.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultDataDir, openStore, resolveDatabaseTarget } from '../../../src/server/storage/open.js';
import { redactUrl, StorageError } from '../../../src/server/storage/errors.js';
import { splitSqlStatements } from '../../../src/server/storage/sql-script.js';
import { check, paths, postgresVariant } from '../../../src/server/storage/prisma-tool.js';

async function errorOf(p: Promise<unknown>): Promise<StorageError> {
  const e: unknown = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(StorageError);
  return e as StorageError;
}

describe('database URLs', () => {
  it('refuses unknown schemes and non-URLs with UNSUPPORTED_DATABASE_URL, never echoing a password', async () => {
    for (const url of ['mysql://root:hunter2@db.example/veil', 'sqlite:hunter2.db', 'hunter2', 'http://u:hunter2@x/y']) {
      const e = await errorOf(openStore({ dataDir: '/unused', databaseUrl: url }));
      expect(e.code).toBe('UNSUPPORTED_DATABASE_URL');
      expect(e.message).not.toContain('hunter2');
    }
    expect((await errorOf(openStore({ dataDir: '/unused', databaseUrl: 'mysql://x' }))).message).toContain('"mysql:"');
  });

  it('resolves the database each URL names', () => {
    expect(resolveDatabaseTarget({ dataDir: 'some/dir' })).toMatchObject({ kind: 'sqlite', file: resolve('some/dir', 'veilgraph.db') });
    expect(resolveDatabaseTarget({ dataDir: 'd', databaseUrl: '  ' })).toMatchObject({ kind: 'sqlite', file: resolve('d', 'veilgraph.db') });
    expect(resolveDatabaseTarget({ dataDir: 'd', databaseUrl: 'file:./x/y.db' })).toMatchObject({ kind: 'sqlite', file: resolve('x/y.db') });
    expect(resolveDatabaseTarget({ dataDir: 'd', databaseUrl: 'file:/abs/y.db?mode=rwc' })).toMatchObject({ kind: 'sqlite', file: '/abs/y.db' });
    expect(resolveDatabaseTarget({ dataDir: 'd', databaseUrl: 'file:///abs/my%20db.db' })).toMatchObject({ kind: 'sqlite', file: '/abs/my db.db' });
    const pg = resolveDatabaseTarget({ dataDir: 'd', databaseUrl: 'postgresql://veil:s%40cret@db:5432/veil?sslmode=require' });
    expect(pg).toMatchObject({ kind: 'postgres', password: 's%40cret' });
    expect(pg.label).not.toContain('cret');
    expect(resolveDatabaseTarget({ dataDir: 'd', databaseUrl: 'POSTGRES://db/veil' }).kind).toBe('postgres');
  });

  it('redacts passwords', () => {
    expect(redactUrl('postgresql://veil:secret@db:5432/x')).toBe('postgresql://veil:***@db:5432/x');
    expect(redactUrl('postgresql://db/x')).toBe('postgresql://db/x');
    expect(redactUrl('::not a url secret')).toBe('(not a URL)');
  });

  it('VEIL_DATA_DIR picks the data directory, ./data by default', () => {
    expect(defaultDataDir({})).toBe(resolve('data'));
    expect(defaultDataDir({ VEIL_DATA_DIR: '/var/lib/veil' })).toBe('/var/lib/veil');
  });
});

describe('splitSqlStatements', () => {
  it('splits on semicolons outside quotes, comments and bodies', () => {
    const script = `-- CreateTable; not a statement
CREATE TABLE "a;b" ("x" TEXT DEFAULT 'it''s; here');
/* block; comment */
INSERT INTO t VALUES ('a;b', "c;d");
CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN NEW.x := 'y;'; RETURN NEW; END; $$ LANGUAGE plpgsql;
CREATE FUNCTION g() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;
CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET x = CASE WHEN 1 THEN 'a' END; DELETE FROM u; END;
SELECT 1
`;
    expect(splitSqlStatements(script)).toEqual([
      `-- CreateTable; not a statement\nCREATE TABLE "a;b" ("x" TEXT DEFAULT 'it''s; here');`,
      `/* block; comment */\nINSERT INTO t VALUES ('a;b', "c;d");`,
      `CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN NEW.x := 'y;'; RETURN NEW; END; $$ LANGUAGE plpgsql;`,
      `CREATE FUNCTION g() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;`,
      `CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET x = CASE WHEN 1 THEN 'a' END; DELETE FROM u; END;`,
      'SELECT 1',
    ]);
    expect(splitSqlStatements('-- only a comment\n;\n  ')).toEqual([]);
  });

  it('splits the checked-in migrations into whole statements', () => {
    for (const kind of ['sqlite', 'postgres']) {
      const dir = join(paths.migrations, kind);
      for (const file of readdirSync(dir)) {
        for (const statement of splitSqlStatements(readFileSync(join(dir, file), 'utf8'))) {
          expect(statement).toMatch(/;$/);
          expect(statement.replace(/--[^\n]*\n/g, '').trim()).toMatch(/^(CREATE|ALTER|DROP|INSERT|UPDATE|DELETE|PRAGMA|SELECT)\b/);
        }
      }
    }
  });
});

describe('model tooling', () => {
  it('the PostgreSQL variant differs from the source model only in provider, url and output', () => {
    const source = readFileSync(paths.schema, 'utf8');
    const variant = postgresVariant(source);
    expect(variant).toContain('provider = "postgresql"');
    expect(variant).not.toContain('"sqlite"');
    const strip = (s: string): string =>
      s
        .split('\n')
        .filter((l) => !/^\s*(provider|url|output)\s*=/.test(l) && !l.startsWith('// GENERATED'))
        .join('\n');
    expect(strip(variant)).toBe(strip(source));
    expect(() => postgresVariant(source.replace('"sqlite"', '"mysql"'))).toThrow(/datasource provider/);
  });

  it('the generated clients and PostgreSQL schema are present and current (npm install generates them)', () => {
    expect(existsSync(join(paths.generated, 'sqlite', 'client.ts'))).toBe(true);
    expect(existsSync(join(paths.generated, 'postgres', 'client.ts'))).toBe(true);
    expect(readFileSync(paths.postgresSchema, 'utf8')).toBe(postgresVariant(readFileSync(paths.schema, 'utf8')));
  });

  it('both databases have the same migrations, and they cover prisma/schema.prisma', () => {
    const names = (kind: string): string[] => readdirSync(join(paths.migrations, kind)).sort();
    expect(names('sqlite')).toEqual(names('postgres'));
    expect(names('sqlite')[0]).toBe('0001_init.sql');
    // Runs the Prisma CLI (offline): diff of the model at the latest migration vs the model.
    expect(() => check()).not.toThrow();
  });
});
