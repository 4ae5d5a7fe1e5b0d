// Prisma CLI configuration (prisma generate, prisma db push). The JS engine runs through
// the driver adapter, so the CLI needs no engine binaries.
import { defineConfig } from 'prisma/config';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: 'prisma/schema.prisma',
  adapter: async () => new PrismaBetterSQLite3({ url: process.env.DATABASE_URL ?? 'file:./journal.db' }),
});
