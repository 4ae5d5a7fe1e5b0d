/**
 * @module
 * The command line of `veilgraph keys`: `keys rotate` adds a key ring version (new writes use
 * it at once, in every gateway sharing the ring file, within a second) and re-seals existing
 * rows of every type with SERVER fields, with progress; `keys reseal` resumes an interrupted
 * re-seal. The work is ./keys.ts.
 */
import { acceptedText, helpText, parseCommandArgs, UsageError, wholeNumberOption, type CommandSpec } from './cli-args.js';
import { configFromEnv } from './config.js';

const RESEAL_OPTIONS = {
  batch: { type: 'string', value: 'N', description: 'rows re-sealed per transaction (default 200, at least 1)' },
  'pause-ms': { type: 'string', value: 'N', description: 'milliseconds to wait between batches (default 0), to spare a busy database' },
} as const;

/** `veilgraph keys rotate`: the spec its parser and --help use. */
export const KEYS_ROTATE_SPEC: CommandSpec = {
  usage: 'veilgraph keys rotate [--batch N] [--pause-ms N]',
  description:
    'Adds a version to <VEIL_DATA_DIR>/keyring.json (new writes of every gateway sharing the file use it\nwithin a second), then re-seals every row\'s SERVER fields onto it, with progress.',
  options: RESEAL_OPTIONS,
};

/** `veilgraph keys reseal`: resumes an interrupted re-seal. */
export const KEYS_RESEAL_SPEC: CommandSpec = {
  usage: 'veilgraph keys reseal [--batch N] [--pause-ms N]',
  description: 'Re-seals every row whose SERVER fields are not on the current key ring version (resumes an\ninterrupted `keys rotate`, or finishes after a version was added to VEIL_KEYRING).',
  options: RESEAL_OPTIONS,
};

/** `veilgraph keys`: only names its subcommands. */
export const KEYS_SPEC: CommandSpec = {
  usage: 'veilgraph keys rotate|reseal [--batch N] [--pause-ms N]',
  description: 'The gateway key ring of SERVER fields (docs/storage.md):\n  keys rotate   add a key ring version and re-seal SERVER fields onto it\n  keys reseal   resume an interrupted re-seal\n`veilgraph keys <subcommand> --help` describes each.',
};

export async function runKeysCommand(argv: readonly string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub !== 'rotate' && sub !== 'reseal') {
    // `keys --help` (or an unknown option) before any subcommand: the parser answers.
    if ((sub === undefined || sub.startsWith('-')) && parseCommandArgs(KEYS_SPEC, argv).help) return void process.stdout.write(helpText(KEYS_SPEC));
    throw new UsageError(`${sub === undefined ? 'which subcommand?' : `unknown subcommand "keys ${sub}"`}\n${acceptedText(KEYS_SPEC)}`);
  }
  const spec = sub === 'rotate' ? KEYS_ROTATE_SPEC : KEYS_RESEAL_SPEC;
  const parsed = parseCommandArgs(spec, rest);
  if (parsed.help) return void process.stdout.write(helpText(spec));
  const batchSize = wholeNumberOption(spec, parsed.values, 'batch', 200, 1);
  const pauseMs = wholeNumberOption(spec, parsed.values, 'pause-ms', 0);
  const config = configFromEnv();
  if (sub === 'rotate' && config.keyring) {
    throw new UsageError('the key ring comes from VEIL_KEYRING; add a version there (current = new version), restart the gateways, then run `veilgraph keys reseal`');
  }
  // The server's modules are loaded for real work only: help and refused command lines answer at once.
  const { runKeys } = await import('./keys.js');
  process.exitCode = await runKeys(config, { rotate: sub === 'rotate', batchSize, pauseMs, print: (line) => console.log(line) });
}
