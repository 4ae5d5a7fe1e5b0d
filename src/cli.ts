#!/usr/bin/env node
/**
 * veilgraph command line. `veilgraph --help` lists the commands, `veilgraph <command> --help`
 * describes one. Exit 0 on success, 1 on failure, 2 for a command line it does not accept
 * (unknown command or option, missing or extra argument), with a message naming what it
 * accepts.
 *
 *   veilgraph serve                 start the gateway (the default; settings: src/app/config.ts, the README)
 *   veilgraph keys rotate|reseal    add a key ring version and re-seal SERVER fields / resume
 *   veilgraph backup <dest>         online copy of the SQLite database into the new file <dest>
 *   veilgraph account reset <user>  a one-time account reset code (docs/devices.md)
 *   veilgraph health [url]          exit 0 when a gateway answers /health
 *
 * The published package's bin (dist/cli.js); in the repository `npx tsx src/cli.ts …`.
 */
import { acceptedText, helpText, parseCommandArgs, UsageError, type CommandSpec } from './app/cli-args.js';
import { configFromEnv } from './app/config.js';

const TOP: CommandSpec = {
  usage: 'veilgraph <command> [options]   (no command: serve)',
  description: [
    'commands:',
    '  serve                     start the gateway (settings: environment variables, see the README)',
    '  keys rotate|reseal        add a key ring version and re-seal SERVER fields onto it / resume a re-seal',
    '  backup <dest>             copy the SQLite database, also while a gateway runs, to the new file <dest>',
    '  account reset <username>  a one-time reset code for a user who lost every device (docs/devices.md)',
    '  health [url]              exit 0 when a gateway answers /health, 1 otherwise',
    '',
    '`veilgraph <command> --help` describes each.',
  ].join('\n'),
};

const SERVE: CommandSpec = {
  usage: 'veilgraph serve',
  description:
    'Starts the gateway and, unless VEIL_WEB_DIR=none, the web app. Settings are environment variables\n(PORT, HOST, VEIL_DATA_DIR, DATABASE_URL, …: see the README). SIGINT or SIGTERM\nstops it cleanly (the SQLite database is checkpointed into its file).',
};

const HEALTH: CommandSpec = {
  usage: 'veilgraph health [url]',
  description: 'Asks a gateway for /health; exit 0 when it answers 200, 1 otherwise.\nurl defaults to http://127.0.0.1:$PORT/health (PORT defaults to 4000).',
  operands: { min: 0, max: 1, names: '[url]' },
};

const BACKUP: CommandSpec = {
  usage: 'veilgraph backup <dest>',
  description:
    "Copies the gateway's SQLite database (VEIL_DATA_DIR/veilgraph.db, or DATABASE_URL=file:…) to the new\nfile <dest>, consistently, while a gateway keeps running: SQLite's VACUUM INTO. The copy opens on its\nown (no -wal), is created 0600 and is never written over. PostgreSQL: use pg_dump (docs/storage.md).",
  operands: { min: 1, max: 1, names: '<dest>' },
};

async function serve(argv: readonly string[]): Promise<void> {
  if (parseCommandArgs(SERVE, argv).help) return void process.stdout.write(helpText(SERVE));
  const { startGateway } = await import('./app/gateway.js');
  const config = configFromEnv();
  const gateway = await startGateway(config);
  const api = gateway.url.replace('127.0.0.1', 'localhost');
  console.log(`veilgraph gateway on ${api}`);
  // The app needs a secure context: localhost or 127.0.0.1 here, HTTPS anywhere else.
  if (config.webDir) console.log(`web app on ${api.replace(/\/graphql$/, '/')} (open it in two browsers to chat)`);
  const stop = (signal: string): void => {
    gateway.log.info('gateway.stopping', { signal });
    gateway.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

async function health(argv: readonly string[]): Promise<void> {
  const parsed = parseCommandArgs(HEALTH, argv);
  if (parsed.help) return void process.stdout.write(helpText(HEALTH));
  const url = parsed.operands[0] ?? `http://127.0.0.1:${process.env.PORT ?? 4000}/health`;
  const res = await fetch(url).catch(() => null);
  const ok = res?.status === 200;
  console.log(ok ? `healthy: ${url}` : `unhealthy: ${url}${res ? ` (HTTP ${res.status})` : ' (no answer)'}`);
  process.exit(ok ? 0 : 1);
}

async function backup(argv: readonly string[]): Promise<void> {
  const parsed = parseCommandArgs(BACKUP, argv);
  if (parsed.help) return void process.stdout.write(helpText(BACKUP));
  const config = configFromEnv();
  const { backupSqlite, resolveDatabaseTarget } = await import('./server/index.js');
  const target = resolveDatabaseTarget({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  if (target.kind === 'postgres') throw new UsageError(`DATABASE_URL names ${target.label}: back it up with pg_dump (docs/storage.md), e.g. pg_dump --format=custom --file=<dest> "$DATABASE_URL"`);
  const r = await backupSqlite({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }, parsed.operands[0]!);
  console.log(`backup: ${target.file} → ${r.file} (${r.bytes} bytes, integrity ok, ${r.migrations} migrations)`);
}

async function main(argv: readonly string[]): Promise<void> {
  const [command = 'serve', ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'health':
      return health(rest);
    case 'backup':
      return backup(rest);
    case 'account': {
      const { runAccountCommand } = await import('./app/account-reset-cli.js');
      return runAccountCommand(rest);
    }
    case 'keys': {
      const { runKeysCommand } = await import('./app/keys-cli.js');
      return runKeysCommand(rest);
    }
    case 'help':
      if (rest.length > 0) throw new UsageError(`"help" takes nothing; use \`veilgraph ${rest[0]} --help\`\n${acceptedText(TOP)}`);
      return void process.stdout.write(helpText(TOP));
    default:
      // Options before any command: only --help / -h.
      if (command.startsWith('-') && parseCommandArgs(TOP, argv).help) return void process.stdout.write(helpText(TOP));
      throw new UsageError(`unknown command "${command}"\n${helpText(TOP)}`);
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  if (e instanceof UsageError) {
    console.error(`veilgraph: ${e.message}`);
    process.exit(2);
  }
  const code = (e as { code?: unknown }).code;
  console.error(`veilgraph: ${e instanceof Error ? e.message : String(e)}${typeof code === 'string' ? ` [${code}]` : ''}`);
  process.exit(1);
});
