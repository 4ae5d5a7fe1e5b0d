/**
 * @module
 * `veilgraph account reset <username> [--data-dir DIR | --database-url URL]` (in the
 * repository also `npm run account:reset -- <username> …`, this file run directly): issues a
 * one-time account reset code (docs/auth.md §12), for a user who lost every device and
 * backup, after the operator checked out of band who asks. Stores only the code's SHA-256,
 * valid 24 hours (a new code replaces an earlier one), and prints the code on stdout:
 * printing it is the purpose, nothing else logs it. The database is the gateway's
 * (VEIL_DATA_DIR / DATABASE_URL, or the flags). Exit 0 with the code (or `--help`), 1 for
 * an unknown user or a failure, 2 for bad arguments.
 */
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBackend } from '../crypto/backends/node.js';
import { USERNAME_PATTERN, issueResetCode, openStore } from '../server/index.js';
import { acceptedText, helpText, parseCommandArgs, UsageError, type CommandSpec } from './cli-args.js';
import { configFromEnv } from './config.js';

export const ACCOUNT_RESET_SPEC: CommandSpec = {
  usage: 'npm run account:reset -- <username> [--data-dir DIR | --database-url URL]   (veilgraph account reset …)',
  description:
    'Issues a one-time account reset code for <username> (valid 24 hours; a new code replaces an earlier\none) and prints it on stdout, for a user who lost every device and backup. Check out of band who\nasks first (docs/devices.md). The database is the gateway\'s: VEIL_DATA_DIR / DATABASE_URL, or:',
  options: {
    'data-dir': { type: 'string', value: 'DIR', description: 'the SQLite database in DIR (veilgraph.db), instead of VEIL_DATA_DIR / DATABASE_URL' },
    'database-url': { type: 'string', value: 'URL', description: 'this database (file:… or postgres://…), instead of DATABASE_URL' },
  },
  operands: { min: 1, max: 1, names: '<username>' },
};

export interface ResetArgs {
  readonly username: string;
  readonly dataDir?: string;
  readonly databaseUrl?: string;
}

/** `veilgraph account reset`: the same command under the package's bin. */
export const VEILGRAPH_ACCOUNT_RESET_SPEC: CommandSpec = { ...ACCOUNT_RESET_SPEC, usage: 'veilgraph account reset <username> [--data-dir DIR | --database-url URL]' };

/** `veilgraph account`: only names its subcommand. */
export const ACCOUNT_SPEC: CommandSpec = {
  usage: 'veilgraph account reset <username> [--data-dir DIR | --database-url URL]',
  description: 'Accounts (docs/devices.md):\n  account reset <username>   issue a one-time account reset code\n`veilgraph account reset --help` describes it.',
};

/** The arguments, or null for `--help`; throws UsageError for anything else it does not accept. */
export function parseResetArgs(argv: readonly string[], spec: CommandSpec = ACCOUNT_RESET_SPEC): ResetArgs | null {
  const parsed = parseCommandArgs(spec, argv);
  if (parsed.help) return null;
  const username = parsed.operands[0]!;
  const dataDir = parsed.values['data-dir'] as string | undefined;
  const databaseUrl = parsed.values['database-url'] as string | undefined;
  if (dataDir !== undefined && databaseUrl !== undefined) throw new UsageError(`--data-dir or --database-url, not both\n${acceptedText(spec)}`);
  if (!USERNAME_PATTERN.test(username)) throw new UsageError(`not a username: ${JSON.stringify(username)}\n${acceptedText(spec)}`);
  return { username, ...(dataDir !== undefined ? { dataDir: resolve(dataDir) } : {}), ...(databaseUrl !== undefined ? { databaseUrl } : {}) };
}

/** Runs `account reset` with `argv` (after the command's name): UsageError for a refused command line. */
export async function runAccountReset(argv: readonly string[], spec: CommandSpec = ACCOUNT_RESET_SPEC): Promise<void> {
  const args = parseResetArgs(argv, spec);
  if (args === null) return void process.stdout.write(helpText(spec));
  const env = configFromEnv();
  const store = await openStore({
    dataDir: args.dataDir ?? env.dataDir,
    databaseUrl: args.dataDir !== undefined ? undefined : (args.databaseUrl ?? env.databaseUrl),
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

/** `veilgraph account <subcommand> …`. */
export async function runAccountCommand(argv: readonly string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === 'reset') return runAccountReset(rest, VEILGRAPH_ACCOUNT_RESET_SPEC);
  if ((sub === undefined || sub.startsWith('-')) && parseCommandArgs(ACCOUNT_SPEC, argv).help) return void process.stdout.write(helpText(ACCOUNT_SPEC));
  throw new UsageError(`${sub === undefined ? 'which subcommand?' : `unknown subcommand "account ${sub}"`}\n${acceptedText(ACCOUNT_SPEC)}`);
}

// Run directly (`npm run account:reset`): the command itself. Imported (src/cli.ts): nothing runs.
if (invokedDirectly()) {
  runAccountReset(process.argv.slice(2)).catch((e: unknown) => {
    if (e instanceof UsageError) {
      console.error(`account:reset: ${e.message}`);
      process.exit(2);
    }
    const code = (e as { code?: unknown }).code;
    console.error(`account:reset: ${e instanceof Error ? e.message : String(e)}${typeof code === 'string' ? ` [${code}]` : ''}`);
    process.exit(1);
  });
}

function invokedDirectly(): boolean {
  try {
    return process.argv[1] !== undefined && fileURLToPath(import.meta.url) === realpathSync(process.argv[1]);
  } catch {
    return false;
  }
}
