/**
 * @module
 * Development and install-time tool for the data model (never imported by the gateway).
 *
 *   tsx src/server/storage/prisma-tool.ts generate          # npm run db:generate (and postinstall; also the examples' clients)
 *   tsx src/server/storage/prisma-tool.ts migration <name>  # npm run db:migration -- <name>
 *   tsx src/server/storage/prisma-tool.ts check             # npm run db:check
 *
 * `prisma/schema.prisma` is the one source of the model (SQLite variant as written). This
 * tool writes the PostgreSQL variant next to the generated clients and runs `prisma
 * generate` for both, and creates migrations for both databases by diffing the model
 * against `prisma/migrations/model-at-latest-migration.prisma` (the model as of the last
 * migration; needs no database). Everything runs offline: `prisma.config.ts` selects the
 * JS schema engine, so the Prisma CLI downloads nothing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export type Provider = 'sqlite' | 'postgres';

const root = fileURLToPath(new URL('../../../', import.meta.url));
export const paths = {
  root,
  schema: join(root, 'prisma/schema.prisma'),
  migrations: join(root, 'prisma/migrations'),
  snapshot: join(root, 'prisma/migrations/model-at-latest-migration.prisma'),
  generated: join(root, 'src/server/storage/generated'),
  postgresSchema: join(root, 'src/server/storage/generated/schema.postgres.prisma'),
} as const;

function say(line: string): void {
  process.stdout.write(`veilgraph: ${line}\n`);
}

function replaceOnce(text: string, pattern: RegExp, replacement: string, what: string): string {
  const matches = text.match(new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : pattern.flags + 'g'));
  if (matches?.length !== 1) {
    throw new Error(`prisma-tool: expected exactly one ${what} in the schema, found ${matches?.length ?? 0}`);
  }
  return text.replace(pattern, replacement);
}

/**
 * The PostgreSQL variant of a SQLite schema text: same models, provider switched. The
 * generator output moves to `generated/postgres` (the variant file lives in `generated/`).
 */
export function postgresVariant(sqliteSchema: string): string {
  let text = replaceOnce(sqliteSchema, /(datasource\s+db\s*\{[^}]*?provider\s*=\s*)"sqlite"/, '$1"postgresql"', 'datasource provider "sqlite"');
  text = replaceOnce(text, /(datasource\s+db\s*\{[^}]*?url\s*=\s*)"[^"]*"/, '$1"postgresql://localhost/veilgraph"', 'datasource url');
  text = replaceOnce(text, /(generator\s+client\s*\{[^}]*?output\s*=\s*)"[^"]*"/, '$1"./postgres"', 'generator output');
  return '// GENERATED from prisma/schema.prisma by src/server/storage/prisma-tool.ts. Do not edit.\n' + text;
}

function writeVariant(sqliteSchemaPath: string, target: string): void {
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, postgresVariant(readFileSync(sqliteSchemaPath, 'utf8')));
}

const prismaCli = join(dirname(createRequire(import.meta.url).resolve('prisma/package.json')), 'build/index.js');

/** How long one Prisma CLI run may take (generate takes seconds; diff against a server, tens). */
const PRISMA_CLI_TIMEOUT_MS = 300_000;

interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

function prisma(provider: Provider, args: string[], extraEnv: Record<string, string> = {}): CliResult {
  const result = spawnSync(process.execPath, [prismaCli, ...args], {
    cwd: root,
    encoding: 'utf8',
    env: {
      ...process.env,
      // prisma.config.ts picks the driver adapter (the JS schema engine needs one) by this.
      VEIL_PRISMA_PROVIDER: provider,
      PRISMA_HIDE_UPDATE_MESSAGE: '1',
      CHECKPOINT_DISABLE: '1',
      ...extraEnv,
    },
    // A synchronous child blocks its caller's event loop: a CLI that never ends (it has
    // lingered on timers, or waited on a server) must not hang the caller with it.
    timeout: PRISMA_CLI_TIMEOUT_MS,
    killSignal: 'SIGKILL',
  });
  if (result.error) {
    const timedOut = (result.error as NodeJS.ErrnoException).code === 'ETIMEDOUT';
    throw new Error(timedOut ? `prisma-tool: \`prisma ${args[0] ?? ''}\` did not finish within ${PRISMA_CLI_TIMEOUT_MS / 1000} s and was stopped` : `prisma-tool: cannot run the Prisma CLI: ${result.error.message}`, { cause: result.error });
  }
  return { status: result.status ?? 1, stdout: result.stdout, stderr: result.stderr };
}

function mustSucceed(what: string, r: CliResult): string {
  if (r.status !== 0) {
    throw new Error(`prisma-tool: ${what} failed (exit ${r.status})\n${r.stdout}\n${r.stderr}`);
  }
  return r.stdout;
}

/** Runs `prisma generate` for one schema file (offline: the JS engine; see prisma.config.ts). */
export function generateClient(provider: Provider, schema: string): void {
  mustSucceed(`prisma generate (${provider})`, prisma(provider, ['generate', '--schema', schema]));
}

/**
 * The examples' own Prisma schemas (`examples/<name>/prisma/schema.prisma`): their clients
 * are generated too, into each example's (git-ignored) output, so that `npm run typecheck`
 * and the examples' tests work in a fresh clone of the repository. An example installed on
 * its own generates its client by its own `npm install` (its postinstall).
 */
export function exampleSchemas(): string[] {
  const dir = join(root, 'examples');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => join(dir, name, 'prisma/schema.prisma'))
    .filter((schema) => existsSync(schema))
    .sort();
}

export function generate(): void {
  writeVariant(paths.schema, paths.postgresSchema);
  generateClient('sqlite', paths.schema);
  generateClient('postgres', paths.postgresSchema);
  say(`generated Prisma clients in ${relative(root, paths.generated)}/{sqlite,postgres}`);
  for (const schema of exampleSchemas()) {
    generateClient('sqlite', schema);
    say(`generated the Prisma client of ${relative(root, dirname(dirname(schema)))}`);
  }
}

/**
 * The SQL that takes `from` (a SQLite-variant schema file, or null for an empty database)
 * to `to`, for one provider; null when there is nothing to do. PostgreSQL variants are
 * written to `variantDir`.
 */
export function diffSql(provider: Provider, from: string | null, to: string, pgUrl?: string, variantDir = join(paths.generated, 'diff')): string | null {
  const variant = (path: string): string => {
    if (provider === 'sqlite') return path;
    const target = join(variantDir, `${path === to ? 'to' : 'from'}.postgres.prisma`);
    writeVariant(path, target);
    return target;
  };
  const args = ['migrate', 'diff', ...(from === null ? ['--from-empty'] : ['--from-schema-datamodel', variant(from)]), '--to-schema-datamodel', variant(to), '--script'];
  // The PostgreSQL schema engine connects to a server even to diff two schema files.
  const env: Record<string, string> = provider === 'postgres' && pgUrl !== undefined ? { VEIL_PRISMA_PG_URL: pgUrl } : {};
  const sql = mustSucceed(`prisma migrate diff (${provider})`, prisma(provider, args, env));
  const statements = sql.replace(/^--.*$/gm, '').trim();
  return statements === '' ? null : sql.trim() + '\n';
}

function migrationFiles(provider: Provider): string[] {
  const dir = join(paths.migrations, provider);
  return existsSync(dir) ? readdirSync(dir).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort() : [];
}

/**
 * Writes `NNNN_<name>.sql` for both databases. The PostgreSQL diff needs a server: the one
 * in VEIL_PRISMA_PG_URL, else a throwaway one started with the test helper.
 */
export async function createMigration(name: string): Promise<void> {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error('prisma-tool: migration name must match [a-z0-9_]+');
  const from = existsSync(paths.snapshot) ? paths.snapshot : null;
  const sqliteSql = diffSql('sqlite', from, paths.schema);
  let pgUrl = process.env.VEIL_PRISMA_PG_URL;
  let stop = async (): Promise<void> => undefined;
  if (pgUrl === undefined) {
    const { startPostgres } = await import('../../../test/helpers/postgres.js');
    const server = await startPostgres();
    pgUrl = server.url;
    stop = server.stop;
  }
  let postgresSql: string | null;
  try {
    postgresSql = diffSql('postgres', from, paths.schema, pgUrl);
  } finally {
    await stop();
  }
  const sql = { sqlite: sqliteSql, postgres: postgresSql };
  if (sql.sqlite === null && sql.postgres === null) {
    say('the model has no changes since the latest migration; nothing written.');
    return;
  }
  const sqliteFiles = migrationFiles('sqlite');
  const postgresFiles = migrationFiles('postgres');
  if (sqliteFiles.length !== postgresFiles.length) {
    throw new Error('prisma-tool: prisma/migrations/sqlite and prisma/migrations/postgres have different numbers of migrations');
  }
  const file = `${String(sqliteFiles.length + 1).padStart(4, '0')}_${name}.sql`;
  for (const provider of ['sqlite', 'postgres'] as const) {
    const dir = join(paths.migrations, provider);
    mkdirSync(dir, { recursive: true });
    // A provider with no change still gets a (no-op) file so both directories stay in step.
    writeFileSync(join(dir, file), sql[provider] ?? '-- No change for this database.\nSELECT 1;\n');
    say(`wrote prisma/migrations/${provider}/${file}`);
  }
  writeFileSync(paths.snapshot, '// The model as of the latest migration (written by `npm run db:migration`). Do not edit.\n' + readFileSync(paths.schema, 'utf8'));
}

/** Throws when prisma/schema.prisma has changes no migration covers. */
export function check(): void {
  if (!existsSync(paths.snapshot)) throw new Error('prisma-tool: no migrations yet: run `npm run db:migration -- init`');
  const pending = diffSql('sqlite', paths.snapshot, paths.schema);
  if (pending !== null) {
    throw new Error(`prisma-tool: prisma/schema.prisma has changes without a migration; run \`npm run db:migration -- <name>\`. Pending SQL (sqlite):\n${pending}`);
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [command, arg] = process.argv.slice(2);
  try {
    if (command === 'generate') generate();
    else if (command === 'migration' && arg !== undefined) await createMigration(arg);
    else if (command === 'check') {
      check();
      say('migrations are up to date with prisma/schema.prisma');
    } else {
      console.error('usage: prisma-tool.ts generate | migration <name> | check');
      process.exit(2);
    }
  } catch (e) {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  }
}
