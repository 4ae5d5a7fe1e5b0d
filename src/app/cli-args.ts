/**
 * @module
 * Argument parsing for the command-line tools (`src/cli.ts`, `keys`, `account:reset`), on
 * Node's own strict `parseArgs`: unknown options, a missing or extra value and too many or
 * too few operands are refused with a `UsageError` that lists what the command accepts
 * (the tools exit 2 with it); `--name value` and `--name=value` both work; `--help` / `-h`
 * is accepted by every command and prints its help.
 */
import { parseArgs } from 'node:util';

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  /** The value's placeholder in help text (string options), e.g. "N" or "DIR". */
  readonly value?: string;
  readonly description: string;
}

export interface CommandSpec {
  /** The synopsis, e.g. "veilgraph keys rotate [--batch N] [--pause-ms N]". */
  readonly usage: string;
  /** What the command does, for its help (plain text, may span lines). */
  readonly description: string;
  readonly options?: Readonly<Record<string, OptionSpec>>;
  /** How many operands (non-option arguments) it takes, and their names for messages ("<dest>"); none when absent. */
  readonly operands?: { readonly min: number; readonly max: number; readonly names: string };
}

/** A command line the command does not accept: print the message, exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'USAGE';
}

export type ParsedCommand =
  | { readonly help: true }
  | { readonly help: false; readonly values: Readonly<Record<string, string | boolean | undefined>>; readonly operands: readonly string[] };

const HELP_OPTION: OptionSpec = { type: 'boolean', description: 'show this help and exit' };

function optionsOf(spec: CommandSpec): [string, OptionSpec][] {
  return [...Object.entries(spec.options ?? {}), ['help', HELP_OPTION]];
}

function optionLabel(name: string, o: OptionSpec): string {
  return o.type === 'string' ? `--${name} ${o.value ?? 'VALUE'}` : name === 'help' ? '--help, -h' : `--${name}`;
}

/** The command's help: synopsis, description, options. */
export function helpText(spec: CommandSpec): string {
  const rows = optionsOf(spec).map(([name, o]) => [optionLabel(name, o), o.description] as const);
  const width = Math.max(...rows.map(([l]) => l.length));
  return [`usage: ${spec.usage}`, '', spec.description, '', 'options:', ...rows.map(([l, d]) => `  ${l.padEnd(width)}  ${d}`), ''].join('\n');
}

/** One line naming what the command accepts, for error messages. */
export function acceptedText(spec: CommandSpec): string {
  return `usage: ${spec.usage}\naccepted options: ${optionsOf(spec)
    .map(([name, o]) => optionLabel(name, o))
    .join(', ')} (see --help)`;
}

export function parseCommandArgs(spec: CommandSpec, argv: readonly string[]): ParsedCommand {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, o] of optionsOf(spec)) options[name] = name === 'help' ? { type: 'boolean', short: 'h' } : { type: o.type };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
  } catch (e) {
    // Node's messages name the offending argument ("Unknown option '--bogus'", "Option
    // '--batch <value>' argument missing"); add what is accepted.
    throw new UsageError(`${e instanceof Error ? e.message.split('. To specify')[0] : String(e)}\n${acceptedText(spec)}`);
  }
  if (parsed.values.help === true) return { help: true };
  const { min, max, names } = spec.operands ?? { min: 0, max: 0, names: '' };
  const operands = parsed.positionals;
  if (operands.length > max) {
    throw new UsageError(`${max === 0 ? 'no arguments are taken' : `at most ${max} argument${max === 1 ? '' : 's'}`}, got ${JSON.stringify(operands[max])}\n${acceptedText(spec)}`);
  }
  if (operands.length < min) throw new UsageError(`missing ${names}\n${acceptedText(spec)}`);
  const values = parsed.values as Record<string, string | boolean | undefined>;
  for (const [name, o] of optionsOf(spec)) {
    if (o.type === 'string' && values[name] === '') throw new UsageError(`--${name} takes a value\n${acceptedText(spec)}`);
  }
  return { help: false, values, operands };
}

/** A whole-number option (≥ `min`), or `fallback` when absent. */
export function wholeNumberOption(spec: CommandSpec, values: Readonly<Record<string, string | boolean | undefined>>, name: string, fallback: number, min = 0): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name} takes a whole number ≥ ${min}, got ${JSON.stringify(raw)}\n${acceptedText(spec)}`);
  return n;
}
