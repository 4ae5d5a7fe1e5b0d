/**
 * Prisma CLI configuration, used only at development and install time by
 * src/server/storage/prisma-tool.ts (`npm run db:generate`, `npm run db:migration`).
 * The JS schema engine (`engine: 'js'`) runs through a driver adapter, so the CLI needs
 * no engine binaries and downloads nothing. The gateway itself never reads this file.
 */
import { defineConfig } from 'prisma/config';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';

const postgres = process.env.VEIL_PRISMA_PROVIDER === 'postgres';

function pgConfig(): { host: string; port: number; user: string; database: string } {
  // The PostgreSQL schema engine connects even to diff two schema files; prisma-tool starts
  // a throwaway server and passes it here. Discrete fields: a connection string breaks
  // Prisma's shadow-database handling.
  const url = new URL(process.env.VEIL_PRISMA_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres');
  return { host: url.hostname, port: Number(url.port || 5432), user: decodeURIComponent(url.username), database: url.pathname.slice(1) };
}

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: postgres ? 'src/server/storage/generated/schema.postgres.prisma' : 'prisma/schema.prisma',
  adapter: async () => (postgres ? new PrismaPg(pgConfig()) : new PrismaBetterSQLite3({ url: ':memory:' })),
});
