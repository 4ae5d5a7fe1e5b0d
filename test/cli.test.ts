// The command-line tools as an operator runs them (issue 14, item 13): real subprocesses of
// `src/cli.ts` and `src/app/account-reset-cli.ts`. Every command has a --help that exits 0
// without doing anything; unknown commands, options and extra arguments exit 2 with a message
// naming what is accepted; `--flag=value` and `--flag value` both take effect.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDemoScript } from './helpers/demo.js';
import { operatorEnv, runCli } from './helpers/cli.js';
import { newObjectId, registerAndLogin, startTestGateway, type TestGateway } from './helpers/gateway.js';

// Settings under which a command that wrongly starts a gateway harms nothing (and is killed).
const scratch = mkdtempSync(join(tmpdir(), 'veilgraph-cli-'));
const env = operatorEnv({ VEIL_DATA_DIR: join(scratch, 'data'), PORT: '0', VEIL_WEB_DIR: 'none' });
/** Long enough for tsx to start and answer --help; a command that serves instead is killed. */
const QUICK_MS = 20_000;

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const COMMAND_HELP: [string[], string][] = [
  [['serve', '--help'], 'usage: veilgraph serve'],
  [['health', '--help'], 'usage: veilgraph health'],
  [['backup', '--help'], 'usage: veilgraph backup <dest>'],
  [['keys', '--help'], 'usage: veilgraph keys rotate|reseal'],
  [['keys', 'rotate', '--help'], 'usage: veilgraph keys rotate'],
  [['keys', 'reseal', '-h'], 'usage: veilgraph keys reseal'],
  [['account', '--help'], 'usage: veilgraph account reset <username>'],
  [['account', 'reset', '--help'], 'usage: veilgraph account reset <username> [--data-dir DIR | --database-url URL]'],
];

describe('veilgraph --help', () => {
  it.each([['--help'], ['-h'], ['help']])('%s lists every command and exits 0', { timeout: 60_000 }, async (arg) => {
    const r = await runCli([arg], env, QUICK_MS);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    for (const c of ['serve', 'keys rotate|reseal', 'backup <dest>', 'account reset <username>', 'health [url]']) expect(r.stdout).toContain(c);
  });

  it.each(COMMAND_HELP)('%j describes the command and exits 0 without running it', { timeout: 60_000 }, async (args, usage) => {
    const r = await runCli(args, env, QUICK_MS);
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 0, signal: null });
    expect(r.stdout).toContain(usage);
    expect(r.stdout).toContain('--help');
    expect(r.stdout).not.toContain('gateway.started');
  });
});

describe('refused command lines (exit 2)', () => {
  const refused: [string[], string, string[]][] = [
    [['frobnicate'], 'unknown command "frobnicate"', ['serve', 'keys', 'backup', 'health']],
    [['--frobnicate'], "Unknown option '--frobnicate'", ['--help']],
    [['serve', '--port', '1'], "Unknown option '--port'", ['usage: veilgraph serve', '--help']],
    [['serve', 'now'], 'no arguments are taken', ['usage: veilgraph serve']],
    [['health', '--verbose'], "Unknown option '--verbose'", ['usage: veilgraph health']],
    [['keys'], 'which subcommand?', ['rotate|reseal']],
    [['keys', 'turn'], 'unknown subcommand "keys turn"', ['rotate|reseal']],
    [['keys', 'rotate', '--batchsize', '5'], "Unknown option '--batchsize'", ['--batch N', '--pause-ms N']],
    [['keys', 'rotate', '--batch'], "'--batch <value>' argument missing", ['--batch N']],
    [['keys', 'rotate', '--batch=0'], '--batch takes a whole number ≥ 1, got "0"', ['--batch N']],
    [['keys', 'reseal', '--pause-ms', 'soon'], '--pause-ms takes a whole number ≥ 0, got "soon"', ['--pause-ms N']],
    [['keys', 'rotate', 'extra'], 'no arguments are taken', ['usage: veilgraph keys rotate']],
    [['backup'], 'missing <dest>', ['usage: veilgraph backup <dest>']],
    [['backup', 'a.db', 'b.db'], 'at most 1 argument', ['usage: veilgraph backup <dest>']],
    [['backup', 'a.db', '--force'], "Unknown option '--force'", ['usage: veilgraph backup <dest>']],
    [['account'], 'which subcommand?', ['usage: veilgraph account reset <username>']],
    [['account', 'delete', 'ann'], 'unknown subcommand "account delete"', ['usage: veilgraph account reset <username>']],
    [['account', 'reset'], 'missing <username>', ['usage: veilgraph account reset <username>', '--data-dir DIR']],
    [['account', 'reset', 'ann', '--dry-run'], "Unknown option '--dry-run'", ['--data-dir DIR', '--database-url URL']],
  ];
  it.each(refused)('%j', { timeout: 60_000 }, async (args, message, accepted) => {
    const r = await runCli(args, env, QUICK_MS);
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 2, signal: null });
    expect(r.stderr).toContain(message);
    for (const a of accepted) expect(r.stderr).toContain(a);
    expect(r.stdout).not.toContain('gateway.started');
  });
});

describe('option values: --flag=value and --flag value', () => {
  let t: TestGateway;

  beforeAll(async () => {
    // Three profiles with a SERVER field (email), so a re-seal has rows to report on.
    t = await startTestGateway();
    for (const name of ['ann', 'ben', 'cat']) {
      const u = await registerAndLogin(t, name);
      const r = await t.gql('mutation C($i: CreateProfileInput!) { createProfile(input: $i) { id } }', { i: { id: newObjectId(), displayName: name, email: `${name}@example.com` } }, u.token);
      expect(r.errors).toBeUndefined();
    }
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it('keys rotate --batch=1 re-seals one row per batch, --batch 2 two', { timeout: 120_000 }, async () => {
    const keysEnv = operatorEnv({ VEIL_DATA_DIR: t.dataDir });
    const one = await runCli(['keys', 'rotate', '--batch=1'], keysEnv);
    expect(one.code).toBe(0);
    expect(one.stdout).toContain('re-sealed 1/3 Profile rows');
    expect(one.stdout).toContain('re-sealed 2/3 Profile rows');
    expect(one.stdout).toContain('done: 3 rows re-sealed');
    // Rows per type and the key version they came from.
    expect(one.stdout).toMatch(/^Profile: 3 rows re-sealed onto key version (\d+) \(from version \d+: 3\)$/m);

    const two = await runCli(['keys', 'rotate', '--batch', '2', '--pause-ms=1'], keysEnv);
    expect(two.code).toBe(0);
    expect(two.stdout).toContain('re-sealed 2/3 Profile rows');
    expect(two.stdout).not.toContain('re-sealed 1/3');
    expect(two.stdout).toContain('done: 3 rows re-sealed');
    const [, first] = /onto key version (\d+) \(from/.exec(one.stdout)!;
    expect(two.stdout).toContain(`Profile: 3 rows re-sealed onto key version ${Number(first) + 1} (from version ${first}: 3)`);
  });

  it('account:reset takes --data-dir=DIR and --data-dir DIR, answers --help, refuses unknown options', { timeout: 120_000 }, async () => {
    const reset = (args: string[]) => runDemoScript('src/app/account-reset-cli.ts', args, { env: operatorEnv({ VEIL_DATA_DIR: join(scratch, 'unused') }), timeoutMs: 60_000 });
    const help = await reset(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('usage: npm run account:reset -- <username>');
    expect(help.stdout).toContain('--data-dir DIR');

    const joined = await reset([`--data-dir=${t.dataDir}`, 'ann']);
    expect(joined.code).toBe(0);
    expect(joined.stdout.trim()).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const spaced = await reset(['ben', '--data-dir', t.dataDir]);
    expect(spaced.code).toBe(0);
    expect(spaced.stdout.trim()).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const unknown = await reset(['ann', '--dry-run']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--dry-run'");
    expect(unknown.stderr).toContain('--data-dir DIR');
    expect(unknown.stderr).toContain('--database-url URL');
    const none = await reset([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('missing <username>');
  });

  it('health [url]: exit 0 when the gateway answers /health, 1 when nothing answers', { timeout: 120_000 }, async () => {
    const healthUrl = t.gateway.url.replace(/\/graphql$/, '/health');
    const up = await runCli(['health', healthUrl], env);
    expect({ code: up.code, stdout: up.stdout.trim() }).toEqual({ code: 0, stdout: `healthy: ${healthUrl}` });
    // PORT names the default URL's port: 1 is never a gateway here.
    const down = await runCli(['health'], operatorEnv({ PORT: '1' }));
    expect({ code: down.code, stdout: down.stdout.trim() }).toEqual({ code: 1, stdout: 'unhealthy: http://127.0.0.1:1/health (no answer)' });
  });

  it('veilgraph account reset <username> --data-dir DIR issues a code (the bin\'s name for account:reset)', { timeout: 120_000 }, async () => {
    const r = await runCli(['account', 'reset', 'cat', `--data-dir=${t.dataDir}`], operatorEnv({ VEIL_DATA_DIR: join(scratch, 'unused') }));
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const unknownUser = await runCli(['account', 'reset', 'nobody', '--data-dir', t.dataDir], operatorEnv({ VEIL_DATA_DIR: join(scratch, 'unused') }));
    expect(unknownUser.code).toBe(1);
    expect(unknownUser.stderr).toContain('no user nobody');
  });
});
