// Canary test: distinct random strings are written at all four levels through the HTTP
// API; then the raw database (SQLite file bytes, a PostgreSQL dump) and everything the
// gateway logged are searched. PUBLIC canaries must be there; SERVER, SHARED and PRIVATE
// canaries must never be, in any encoding a column could hold them in.
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canary, grantAccess, newObjectId, registerAndLogin, seal, startTestGateway, storeDataKey, type TestGateway } from '../helpers/gateway.js';
import { findPostgresBin, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { generateSymmetricKey } from '../../src/crypto/keys.js';
import { nodeBackend } from '../../src/crypto/backends/node.js';

const run = promisify(execFile);

interface Canaries {
  readonly public: string[];
  readonly protected: string[];
}

/** Writes canaries at every level (create, then update), reads them back, returns them. */
async function writeCanaries(t: TestGateway): Promise<Canaries> {
  const alice = await registerAndLogin(t, 'alice');
  const bob = await registerAndLogin(t, 'bob');
  const dataKey = generateSymmetricKey(nodeBackend);
  const id = newObjectId();
  const c = {
    name1: canary('public1'),
    name2: canary('public2'),
    email1: `${canary('server1')}@example.com`,
    email2: `${canary('server2')}@example.com`,
    phone: canary('server3'),
    bio1: canary('shared1'),
    bio2: canary('shared2'),
    diary1: canary('private1'),
    diary2: canary('private2'),
  };
  await storeDataKey(t, alice, 'Profile', id, dataKey);
  const create = await t.gql(
    'mutation C($i: CreateProfileInput!) { createProfile(input: $i) { id } }',
    {
      i: {
        id,
        displayName: c.name1,
        email: c.email1,
        phone: c.phone,
        bio: seal(dataKey, 'Profile.bio', alice.id, id, c.bio1),
        diary: seal(alice.vault, 'Profile.diary', alice.id, id, c.diary1),
      },
    },
    alice.token,
  );
  expect(create.errors).toBeUndefined();
  const update = await t.gql(
    'mutation U($id: ID!, $i: UpdateProfileInput!) { updateProfile(id: $id, input: $i) { id } }',
    {
      id,
      i: {
        displayName: c.name2,
        email: c.email2,
        bio: seal(dataKey, 'Profile.bio', alice.id, id, c.bio2),
        diary: seal(alice.vault, 'Profile.diary', alice.id, id, c.diary2),
      },
    },
    alice.token,
  );
  expect(update.errors).toBeUndefined();
  // Reads, a grant and a lookup, so that those paths have logged too.
  const read = await t.gql<{ myProfile: { email: string; phone: string } }>('{ myProfile { displayName email phone bio diary } }', {}, alice.token);
  expect(read.data!.myProfile.email).toBe(c.email2);
  expect(read.data!.myProfile.phone).toBe(c.phone);
  expect((await grantAccess(t, alice, bob, 'Profile', id, dataKey)).errors).toBeUndefined();
  await t.gql('query F($e: String!) { profileByEmail(email: $e) { id email } }', { e: c.email2 }, bob.token);
  // A rejected plaintext write must not leave its value anywhere either.
  const leak = canary('rejected');
  const bad = await t.gql('mutation U($id: ID!, $i: UpdateProfileInput!) { updateProfile(id: $id, input: $i) { id } }', { id, i: { bio: leak } }, alice.token);
  expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_SEALED_VALUE');
  return {
    // The first name was overwritten by the update: only the current one must be stored.
    public: [c.name2],
    protected: [c.email1, c.email2, c.phone, c.bio1, c.bio2, c.diary1, c.diary2, leak],
  };
}

/** Every way a string could sit in a dump: as text, and as the hex a bytea column prints. */
function encodings(s: string): string[] {
  return [s, Buffer.from(s).toString('hex'), Buffer.from(s).toString('base64')];
}

function expectCanaries(haystack: string, logs: string, c: Canaries): void {
  for (const p of c.public) expect(haystack, 'PUBLIC value stored in clear').toContain(p);
  for (const s of c.protected) {
    for (const e of encodings(s)) {
      expect(haystack.includes(e), `protected canary found in the database: ${s}`).toBe(false);
      expect(logs.includes(e), `protected canary found in the logs: ${s}`).toBe(false);
    }
  }
}

describe('canaries on SQLite', () => {
  let t: TestGateway;
  let c: Canaries;
  beforeAll(async () => {
    t = await startTestGateway();
    c = await writeCanaries(t);
    await t.gateway.close(); // checkpoints and closes the file
  });
  afterAll(async () => {
    const { rmSync } = await import('node:fs');
    rmSync(t.dataDir, { recursive: true, force: true });
  });

  it('the raw database files hold PUBLIC canaries and no protected ones', () => {
    const files = readdirSync(t.dataDir).filter((f) => f.startsWith('veilgraph.db'));
    expect(files).toContain('veilgraph.db');
    const bytes = files.map((f) => readFileSync(join(t.dataDir, f)).toString('latin1')).join('\n');
    expectCanaries(bytes, t.logs.join('\n'), c);
  });

  it('the logs never hold tokens or keys', () => {
    const logs = t.logs.join('\n');
    expect(logs).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./); // a JWT
    const secrets = JSON.parse(readFileSync(join(t.dataDir, 'secrets.json'), 'utf8')) as Record<string, string>;
    const ring = JSON.parse(readFileSync(join(t.dataDir, 'keyring.json'), 'utf8')) as { keys: { key: string }[]; indexKey: string };
    for (const s of [...Object.values(secrets), ...ring.keys.map((k) => k.key), ring.indexKey]) expect(logs).not.toContain(s);
    expect(t.logs.length).toBeGreaterThan(5);
  });
});

describe('canaries on PostgreSQL', () => {
  let pg: TestPostgres;
  let t: TestGateway;
  let c: Canaries;
  beforeAll(async () => {
    pg = await startPostgres(); // throws (fails the suite) when PostgreSQL cannot start
    t = await startTestGateway({ databaseUrl: pg.url });
    c = await writeCanaries(t);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await pg?.stop();
  });

  it('a dump of the database holds PUBLIC canaries and no protected ones', async () => {
    const { stdout } = await run(join(findPostgresBin(), 'pg_dump'), ['--data-only', '--dbname', pg.url], { maxBuffer: 64 * 1024 * 1024 });
    expect(stdout).toContain('COPY public."Profile"');
    expectCanaries(stdout, t.logs.join('\n'), c);
  });
});
