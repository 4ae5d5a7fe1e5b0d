// An interrupted rotation leaves the account usable and resumable. A real child process
// rotates the identity keys of an account kept in a key store file and is killed with
// SIGKILL at three points (test/fixtures/rotate-and-die.ts); then the account is opened
// again from the same file, here, and must finish the rotation: one consistent identity on
// both sides, every key re-wrapped, old and new data readable.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { base64urlEncode } from '../../src/crypto/base64url.js';
import { Account, type AccountOptions } from '../../src/client/account.js';
import { ACCOUNT_KEY_NAMES } from '../../src/client/account-store.js';
import { FileKeyStore } from '../../src/client/keystore-file.js';
import { openResult, sealVariables, withVeilFields } from '../../src/client/index.js';
import { signingKeyPairFromSeed } from '../../src/crypto/keys.js';
import { referenceSchema } from '../helpers/reference-schema.js';
import { parse, print } from 'graphql';
import { runDemoScript } from '../helpers/demo.js';
import { ROOMY_AUTH_LIMITS, canary, newObjectId, startTestGateway, type TestGateway } from '../helpers/gateway.js';

let t: TestGateway;
let dir: string;
const built = referenceSchema();

const CREATE = parse('mutation C($i: CreateProfileInput!) { createProfile(input: $i) { id bio diary } }');
const READ = parse('query R($id: ID!) { profile(id: $id) { id bio diary } }');

async function request(account: Account, document: ReturnType<typeof parse>, variables: Record<string, unknown>): Promise<Record<string, unknown>> {
  const keys = await account.clientKeys();
  const common = { schema: built.source, manifest: built.manifest, document, keys, backend: nodeBackend, directory: await account.keyDirectory() };
  const sealed = await sealVariables({ ...common, variables, viewerId: account.userId });
  const res = await t.gql(print(withVeilFields(document, built.source, built.manifest)), sealed, await account.token());
  const opened = await openResult({ ...common, data: res.data as Record<string, unknown>, errors: res.errors as never });
  expect(opened.errors).toBeUndefined();
  return opened.data as Record<string, unknown>;
}

beforeAll(async () => {
  t = await startTestGateway({ authLimits: ROOMY_AUTH_LIMITS });
  dir = mkdtempSync(join(tmpdir(), 'veilgraph-rotation-'));
}, 60_000);

afterAll(async () => {
  await t?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a rotation killed mid-way', () => {
  const path = () => join(dir, 'alice.json');
  const options = (): AccountOptions => ({ endpoint: t.gateway.url, backend: nodeBackend, keystore: new FileKeyStore(path()) });
  const profileId = newObjectId();
  const bio = canary('bio');
  const diary = canary('diary');
  let expectedVersion = 1;

  beforeAll(async () => {
    const account = await Account.create(options(), 'crash_alice');
    await request(account, CREATE, { i: { id: profileId, displayName: 'Alice', bio, diary } });
  }, 60_000);

  for (const point of ['before-send', 'after-send', 'mid-rewrap'] as const) {
    it(`killed ${point}: reopening finishes the rotation and everything reads`, async () => {
      const run = await runDemoScript('test/fixtures/rotate-and-die.ts', [t.gateway.url, path(), point]);
      expect(run.signal, run.stderr).toBe('SIGKILL');
      expectedVersion++;

      const store = new FileKeyStore(path());
      // The kill left the rotation pending locally (except mid-rewrap, which had installed it).
      expect((await store.get(ACCOUNT_KEY_NAMES.pending)) !== undefined).toBe(point !== 'mid-rewrap');

      const account = await Account.open(options());
      expect(await store.get(ACCOUNT_KEY_NAMES.pending)).toBeUndefined();
      // One identity on both sides: the directory's current key is the one this store holds.
      const history = await t.gql<{ keyDirectory: { versions: { version: number; signingKey: string }[] } }>(
        'query K($u: String!) { keyDirectory(username: $u) { versions { version signingKey } } }',
        { u: 'crash_alice' },
      );
      const current = history.data!.keyDirectory.versions.at(-1)!;
      expect(current.version).toBe(expectedVersion);
      const mine = await signingKeyPairFromSeed(nodeBackend, account.keyBundle.identity.signingSeed);
      expect(current.signingKey).toBe(base64urlEncode(mine.publicKey));
      expect(account.keyBundle.identity.version).toBe(expectedVersion);
      // Nothing left wrapped to an old key.
      const stale = await t.gql<{ staleWrappedKeys: { dataKeys: unknown[]; epochKeys: unknown[] } }>('query { staleWrappedKeys { dataKeys { objectId } epochKeys { epoch } } }', {}, await account.token());
      expect(stale.data!.staleWrappedKeys.dataKeys).toEqual([]);
      // Old data reads; new data writes and reads.
      const read = (await request(account, READ, { id: profileId })).profile as Record<string, string>;
      expect(read.bio).toBe(bio);
      expect(read.diary).toBe(diary);
    }, 60_000);
  }
});
