/**
 * `npm run demo` — one user's life cycle through the client core, showing what the
 * client sees next to what the database holds.
 *
 *   npm run demo                     start a gateway on a temporary SQLite database (port 0)
 *   npm run demo -- --url <endpoint> use a running gateway (the database is not shown)
 *   npm run demo -- --json           keep the profile and the database; print only one JSON
 *                                    object per field as finally stored
 *   npm run demo -- --realm <realm>  the server's realm (with --url; default veilgraph)
 *
 * Alice creates her keys, registers, logs in, creates her profile with a value at each of
 * the four privacy levels, reads it back, updates it, reads it again and deletes it, all
 * through `sealVariables` / `openResult` and plain `fetch`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, print, type DocumentNode, type GraphQLFormattedError } from 'graphql';
import { nodeBackend } from '../crypto/backends/node.js';
import { base64urlEncode } from '../crypto/base64url.js';
import { openResult, sealVariables, withVeilFields, type ClientKeys } from '../client/index.js';
import { MemoryKeyStore } from '../client/keystore.js';
import { dataKeyClientKeysFrom, graphqlDataKeyTransport } from '../client/data-keys.js';
import { KeyDirectory, graphqlDirectoryTransport } from '../client/directory.js';
import { createIdentity, login, register } from '../client/session.js';
import { referenceSdl, startGateway, type RunningGateway } from '../app/gateway.js';
import { buildSchema } from '../server/schema.js';
import type { ProfileRow } from '../app/profile/store.js';
import { embeddedConfig } from '../app/config.js';

const backend = nodeBackend;

type Level = 'PUBLIC' | 'SERVER' | 'SHARED' | 'PRIVATE';
const FIELDS: readonly { name: 'displayName' | 'email' | 'phone' | 'bio' | 'diary'; level: Level }[] = [
  { name: 'displayName', level: 'PUBLIC' },
  { name: 'email', level: 'SERVER' },
  { name: 'phone', level: 'SERVER' },
  { name: 'bio', level: 'SHARED' },
  { name: 'diary', level: 'PRIVATE' },
];
type ProfileValues = Record<(typeof FIELDS)[number]['name'], string>;

interface Args {
  url?: string;
  realm: string;
  json: boolean;
}

class DemoUsageError extends Error {}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { realm: 'veilgraph', json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json') args.json = true;
    else if (a === '--url' || a === '--realm') {
      const v = argv[++i];
      if (!v) throw new DemoUsageError(`${a} needs a value`);
      if (a === '--url') args.url = v;
      else args.realm = v;
    } else if (a.startsWith('--url=')) args.url = a.slice(6);
    else if (a.startsWith('--realm=')) args.realm = a.slice(8);
    else throw new DemoUsageError(`unknown argument "${a}" (use --url <endpoint>, --realm <realm>, --json)`);
  }
  return args;
}

/** A random string of `n` base64url characters (n ≥ 12 in every use below). */
function rand(n: number): string {
  return base64urlEncode(backend.randomBytes(Math.ceil((n * 3) / 4))).slice(0, n);
}
function digits(n: number): string {
  return [...backend.randomBytes(n)].map((b) => String(b % 10)).join('');
}

function freshValues(tag: string): ProfileValues {
  return {
    displayName: `Alice ${tag} ${rand(12)}`,
    email: `alice.${rand(12).toLowerCase().replace(/[^a-z0-9]/g, 'x')}@example.com`,
    phone: `+1 555 ${digits(4)} ${digits(4)}`,
    bio: `bio ${tag}: ${rand(16)}`,
    diary: `diary ${tag}: ${rand(16)}`,
  };
}

const SELECTION = 'id ownerId displayName email phone bio diary';
const CREATE = parse(`mutation DemoCreate($i: CreateProfileInput!) { createProfile(input: $i) { ${SELECTION} } }`);
const READ = parse(`query DemoRead { myProfile { ${SELECTION} } }`);
const UPDATE = parse(`mutation DemoUpdate($id: ID!, $i: UpdateProfileInput!) { updateProfile(id: $id, input: $i) { ${SELECTION} } }`);
const DELETE = parse(`mutation DemoDelete($id: ID!) { deleteProfile(id: $id) }`);

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const say = (line = ''): void => {
    if (!args.json) console.log(line);
  };
  const built = buildSchema(referenceSdl(), []);
  const schema = built.source;
  const { manifest } = built;

  let gateway: RunningGateway | undefined;
  let dataDir: string | undefined;
  const logs: string[] = [];
  let step = 'start';
  let failed = false;
  try {
    let endpoint: string;
    if (args.url) {
      endpoint = args.url;
      say(`Using the gateway at ${endpoint} (realm ${args.realm}); the database is not visible from here.`);
    } else {
      dataDir = mkdtempSync(join(tmpdir(), 'veilgraph-demo-'));
      step = 'start the gateway';
      gateway = await startGateway({ ...embeddedConfig(dataDir), realm: args.realm, logSink: (line) => logs.push(line) });
      endpoint = gateway.url;
      say(`Started a gateway at ${endpoint} on SQLite ${join(dataDir, 'veilgraph.db')}`);
    }
    const dbFile = dataDir ? join(dataDir, 'veilgraph.db') : null;
    const total = 8;
    let n = 0;
    const header = (title: string): void => {
      step = title;
      n++;
      say();
      say(`[${n}/${total}] ${title}`);
    };

    // 1. Keys.
    header('Alice creates her keys');
    const keystore = new MemoryKeyStore();
    const identity = await createIdentity(backend, keystore);
    say(`  Ed25519 signing key   ${base64urlEncode(identity.signingKey)}`);
    say(`  X25519 encryption key ${base64urlEncode(identity.encryptionKey)}`);
    say(`  key store holds       ${(await keystore.list()).join(', ')} (secrets stay on the device)`);

    // 2. Register.
    header('Alice registers');
    const username = `alice-${rand(12).toLowerCase().replace(/[^a-z0-9]/g, '0')}`;
    const { userId } = await register(endpoint, username, keystore, backend, args.realm);
    say(`  username ${username}, user id ${userId}`);

    // 3. Log in.
    header('Alice logs in (challenge, Ed25519 signature)');
    const session = await login(endpoint, username, keystore, backend, args.realm);
    if (session.userId !== userId) throw new Error('login returned another user id');
    // Per-object data keys: bio is sealed under a key of Alice's profile alone, stored on
    // the server only wrapped for her X25519 key; diary under her vault key.
    const keys: ClientKeys = await dataKeyClientKeysFrom(keystore, backend, userId, graphqlDataKeyTransport(endpoint, () => session.token));
    // Her SHARED values are signed: reading one checks the signature against the key directory.
    const directory = new KeyDirectory({ backend, realm: args.realm, keystore, transport: graphqlDirectoryTransport(endpoint, () => session.token) });
    say(`  access token received, expires ${session.expiresAt} (a bearer secret: not printed)`);

    async function run(doc: DocumentNode, variables: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
      const document = withVeilFields(doc, schema, manifest);
      const sealed = await sealVariables({ schema, manifest, document, variables, keys, backend, viewerId: userId });
      const res = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${session.token}` },
        body: JSON.stringify({ query: print(document), variables: sealed }),
      });
      const body = (await res.json()) as { data?: Record<string, unknown> | null; errors?: GraphQLFormattedError[] };
      const opened = await openResult({ schema, manifest, document, data: body.data, errors: body.errors ?? null, keys, backend, directory });
      if (opened.errors?.length) {
        const e = opened.errors[0]!;
        throw new Error(`${e.message}${e.extensions?.code ? ` (${String(e.extensions.code)})` : ''}`);
      }
      if (!opened.data) throw new Error(`HTTP ${res.status}: no data`);
      return opened.data;
    }

    const cell = (s: string, w: number): string => (s.length > w ? s.slice(0, w - 1) + '…' : s.padEnd(w));
    function dbCell(row: ProfileRow | null, level: Level, name: string): string {
      if (!gateway) return '(not visible with --url)';
      if (!row) return '(no row)';
      switch (level) {
        case 'PUBLIC':
          return String(row[name as 'displayName']);
        case 'SERVER':
          return row.serverSealed ? `sealed blob (${row.serverSealed.length} bytes, key version ${row.serverKeyVersion})` : 'null';
        default: {
          const text = row[name as 'bio' | 'diary'];
          // The first characters are the fixed header (version, suite, key id): show the tail,
          // which is ciphertext and changes with every write.
          return text === null ? 'null' : `envelope …${text.slice(-20)} (${text.length} chars)`;
        }
      }
    }
    async function show(profileId: string, seen: Record<string, unknown> | null): Promise<void> {
      const row = gateway ? await gateway.store.findProfileById(profileId) : null;
      say(`  ${cell('field', 12)} ${cell('level', 8)} ${cell("Alice's client sees", 40)} database row holds`);
      for (const f of FIELDS) {
        const v = seen ? seen[f.name] : undefined;
        const clientText = seen === null ? '(nothing)' : v === null || v === undefined ? 'null' : JSON.stringify(v);
        say(`  ${cell(f.name, 12)} ${cell(f.level, 8)} ${cell(clientText, 40)} ${dbCell(row, f.level, f.name)}`);
      }
    }
    function expectValues(got: unknown, want: ProfileValues): Record<string, unknown> {
      const p = got as Record<string, unknown> | null;
      if (!p) throw new Error('no profile in the result');
      for (const f of FIELDS) if (p[f.name] !== want[f.name]) throw new Error(`${f.name} read back differs from what was written`);
      return p;
    }

    // 4. Create.
    header('Alice creates her profile (bio and diary sealed on her device)');
    const profileId = base64urlEncode(backend.randomBytes(16));
    const first = freshValues('v1');
    const created = await run(CREATE, { i: { id: profileId, ...first } });
    await show(profileId, expectValues(created.createProfile, first));

    // 5. Read.
    header('Alice reads her profile back');
    await show(profileId, expectValues((await run(READ)).myProfile, first));

    // 6. Update.
    header('Alice updates every field');
    const second = freshValues('v2');
    const updated = await run(UPDATE, { id: profileId, i: second });
    await show(profileId, expectValues(updated.updateProfile, second));

    // 7. Read again.
    header('Alice reads it again');
    await show(profileId, expectValues((await run(READ)).myProfile, second));

    if (args.json) {
      for (const f of FIELDS) {
        process.stdout.write(JSON.stringify({ coordinate: `Profile.${f.name}`, level: f.level, plaintext: second[f.name], db: dbFile }) + '\n');
      }
    } else {
      // 8. Delete.
      header('Alice deletes her profile');
      const deleted = await run(DELETE, { id: profileId });
      if (deleted.deleteProfile !== true) throw new Error('deleteProfile did not return true');
      const after = await run(READ);
      if (after.myProfile !== null) throw new Error('the profile is still there after deleting it');
      await show(profileId, null);
      say();
      say('Done: the profile is gone; the temporary database is removed.');
    }
    return 0;
  } catch (e) {
    failed = true;
    const message = e instanceof Error ? e.message : String(e);
    const code = (e as { code?: unknown } | null)?.code;
    console.error(`demo failed at step "${step}": ${message}${typeof code === 'string' ? ` [${code}]` : ''}`);
    if (logs.length) console.error(`gateway log (last lines):\n${logs.slice(-10).join('\n')}`);
    if (dataDir) console.error(`the temporary data directory is kept: ${dataDir}`);
    return 1;
  } finally {
    if (gateway) await gateway.close();
    // Keep the database for --json (the caller inspects it) or after a failure.
    if (dataDir && !args.json && !failed) rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(`demo failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  },
);
