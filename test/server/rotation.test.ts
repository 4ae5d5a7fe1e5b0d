// Key ring rotation while the gateway serves: the real CLI (`veilgraph keys rotate`) runs
// as its own process against the gateway's SQLite file and key ring, re-sealing rows in
// small batches, while a reader keeps reading every SERVER field through the API and an
// owner keeps writing. No read may fail or return a wrong value; at the end every row is
// on the new key version, and new writes use it.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { base64urlEncode } from '../../src/crypto/base64url.js';
import { ServerFieldCodec } from '../../src/server/server-fields.js';
import { canary, newObjectId, registerAndLogin, startTestGateway, type TestGateway, type TestUser } from '../helpers/gateway.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ROWS = 300;

let t: TestGateway;
let reader: TestUser;
let writer: TestUser;
let writerProfile: string;
const expected = new Map<string, string>();

beforeAll(async () => {
  t = await startTestGateway();
  reader = await registerAndLogin(t, 'reader');
  writer = await registerAndLogin(t, 'writer');
  const { store, keyring, manifest } = t.gateway;
  const codec = new ServerFieldCodec(nodeBackend, keyring, manifest);
  // Rows are created directly in the store, sealed exactly as the API seals them, to make
  // a few hundred quickly; the reader is granted all of them.
  for (let i = 0; i < ROWS; i++) {
    const ownerId = base64urlEncode(nodeBackend.randomBytes(16));
    await store.createUser({ id: ownerId, username: `owner${i}`, signingKey: nodeBackend.randomBytes(32), encryptionKey: nodeBackend.randomBytes(32) }, { signingKeyId: '', signature: new Uint8Array(0) });
    const id = newObjectId();
    const email = `${canary(`r${i}`)}@example.com`;
    const sealed = codec.seal('Profile', ownerId, id, { email })!;
    await store.createProfile({
      id,
      ownerId,
      displayName: `Owner ${i}`,
      serverSealed: sealed.sealed,
      serverKeyVersion: sealed.keyVersion,
      emailIndex: codec.blindIndex('Profile.email', email),
      bio: null,
      diary: null,
    });
    await store.upsertGrant({ objectType: 'Profile', objectId: id, granteeId: reader.id, access: 'READ' });
    expected.set(id, email);
  }
  writerProfile = newObjectId();
  const created = await t.gql('mutation C($i: CreateProfileInput!) { createProfile(input: $i) { id } }', { i: { id: writerProfile, displayName: 'W', email: 'w0@example.com' } }, writer.token);
  expect(created.errors).toBeUndefined();
}, 120_000);

afterAll(async () => {
  await t?.close();
});

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, VEIL_DATA_DIR: t.dataDir, LOG_LEVEL: 'warn' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('key ring rotation', () => {
  it('re-seals every row with progress while reads and writes continue, none failing', async () => {
    const versionBefore = (JSON.parse(readFileSync(join(t.dataDir, 'keyring.json'), 'utf8')) as { current: number }).current;
    let reading = true;
    let reads = 0;
    const failures: string[] = [];
    const readLoop = (async () => {
      while (reading) {
        const r = await t.gql<{ profiles: { nodes: { id: string; email: string | null }[] } }>(
          'query { profiles(first: 200) { nodes { id email } } }',
          {},
          reader.token,
        );
        const r2 = await t.gql<{ profiles: { nodes: { id: string; email: string | null }[] } }>(
          'query A($a: ID!) { profiles(first: 200, after: $a) { nodes { id email } } }',
          { a: r.data?.profiles.nodes.at(-1)?.id ?? '' },
          reader.token,
        );
        for (const res of [r, r2]) {
          for (const e of res.errors ?? []) if (!(e.path?.at(-1) === 'email' && e.extensions?.code === 'FORBIDDEN')) failures.push(`${e.extensions?.code}: ${e.message}`);
          for (const n of res.data?.profiles.nodes ?? []) {
            const want = expected.get(n.id);
            if (want !== undefined && n.email !== want) failures.push(`row ${n.id}: got ${n.email}`);
          }
        }
        reads++;
      }
    })();
    let writes = 0;
    const writeLoop = (async () => {
      while (reading) {
        const r = await t.gql('mutation U($id: ID!, $e: String!) { updateProfile(id: $id, input: { email: $e }) { email } }', { id: writerProfile, e: `w${++writes}@example.com` }, writer.token);
        if (r.errors) failures.push(`write: ${JSON.stringify(r.errors)}`);
      }
    })();

    const cli = await runCli(['keys', 'rotate', '--batch', '25', '--pause-ms', '20']);
    await new Promise((r) => setTimeout(r, 1200)); // gateways pick up a new ring within a second
    reading = false;
    await Promise.all([readLoop, writeLoop]);

    expect(cli.code, cli.stderr).toBe(0);
    const progress = cli.stdout.split('\n').filter((l) => /^re-sealed \d+\/\d+ Profile rows onto key version \d+$/.test(l));
    expect(progress.length).toBeGreaterThanOrEqual(ROWS / 25);
    expect(cli.stdout).toMatch(new RegExp(`all SERVER fields are on key version ${versionBefore + 1}`));
    expect(failures).toEqual([]);
    expect(reads).toBeGreaterThan(2);
    expect(writes).toBeGreaterThan(2);

    const versionAfter = versionBefore + 1;
    expect(await t.gateway.store.countProfilesNotOnKeyVersion(versionAfter)).toBe(0);
    // A write after the rotation is sealed under the new version by the running gateway.
    const w = await t.gql('mutation U($id: ID!) { updateProfile(id: $id, input: { phone: "after" }) { phone email } }', { id: writerProfile }, writer.token);
    expect(w.errors).toBeUndefined();
    expect((await t.gateway.store.findProfileById(writerProfile))!.serverKeyVersion).toBe(versionAfter);
    // Every row still decrypts to its original value.
    const all = await t.gql<{ profiles: { nodes: { id: string; email: string }[] } }>('query { profiles(first: 200) { nodes { id email } } }', {}, reader.token);
    for (const n of all.data!.profiles.nodes) if (expected.has(n.id)) expect(n.email).toBe(expected.get(n.id));
  }, 180_000);
});
