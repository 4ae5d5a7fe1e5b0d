/**
 * @module
 * `npm run account:reset -- <username> [--data-dir DIR | --database-url URL]`: issues a
 * one-time account reset code (docs/auth.md §12), for a user who lost every device and
 * backup, after the operator checked out of band who asks. Stores only the code's SHA-256,
 * valid 24 hours (a new code replaces an earlier one), and prints the code on stdout:
 * printing it is the purpose, nothing else logs it. The database is the gateway's
 * (VEIL_DATA_DIR / DATABASE_URL, or the flags). Exit 0 with the code, 1 for an unknown
 * user or a failure, 2 for bad arguments.
 */
import { resolve } from 'node:path';
import { nodeBackend } from '../crypto/backends/node.js';
import { parseUsername } from './auth/validate.js';
import { configFromEnv } from './config.js';
import { issueResetCode } from './resolvers/backups.js';
import { openStore } from './storage/open.js';

const USAGE = 'usage: npm run account:reset -- <username> [--data-dir DIR | --database-url URL]';

function usage(why: string): never {
  console.error(`account:reset: ${why}\n${USAGE}`);
  process.exit(2);
}

export interface ResetArgs {
  readonly username: string;
  readonly dataDir?: string;
  readonly databaseUrl?: string;
}

export function parseResetArgs(argv: readonly string[]): ResetArgs {
  let username: string | undefined;
  let dataDir: string | undefined;
  let databaseUrl: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--data-dir' || a === '--database-url') {
      const v = argv[++i];
      if (v === undefined || v === '') usage(`${a} takes a value`);
      if (a === '--data-dir') dataDir = resolve(v);
      else databaseUrl = v;
    } else if (a.startsWith('-')) {
      usage(`unknown option ${a}`);
    } else if (username === undefined) {
      username = a;
    } else {
      usage('one username only');
    }
  }
  if (username === undefined) usage('which user?');
  if (dataDir !== undefined && databaseUrl !== undefined) usage('--data-dir or --database-url, not both');
  try {
    parseUsername(username);
  } catch {
    usage(`not a username: ${JSON.stringify(username)}`);
  }
  return { username, ...(dataDir !== undefined ? { dataDir } : {}), ...(databaseUrl !== undefined ? { databaseUrl } : {}) };
}

async function main(argv: string[]): Promise<void> {
  const args = parseResetArgs(argv);
  const config = configFromEnv();
  const store = await openStore({
    dataDir: args.dataDir ?? config.dataDir,
    databaseUrl: args.dataDir !== undefined ? undefined : (args.databaseUrl ?? config.databaseUrl),
  });
  try {
    const issued = await issueResetCode(store, (n) => nodeBackend.randomBytes(n), args.username);
    if (!issued) {
      console.error(`account:reset: no user ${args.username}`);
      process.exitCode = 1;
      return;
    }
    console.error(`account:reset: a one-time reset code for ${args.username}, valid until ${issued.expiresAt.toISOString()}; give it to them privately:`);
    process.stdout.write(`${issued.code}\n`);
  } finally {
    await store.close();
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  const code = (e as { code?: unknown }).code;
  console.error(`account:reset: ${e instanceof Error ? e.message : String(e)}${typeof code === 'string' ? ` [${code}]` : ''}`);
  process.exit(1);
});
