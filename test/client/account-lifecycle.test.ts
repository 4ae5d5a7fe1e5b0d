// The whole life of an account's keys, through the generated client (typed documents from
// codegen, Apollo Client with the privacy link and the account's keys) against the real
// gateway on a real SQLite file, with key stores in real files:
//
// register on device A, write PRIVATE and SHARED data (shared with Bob), back up with a
// phrase, restore on device B and read everything, rotate keys (old and new data readable,
// Bob sees a verified change and still reads), link device C with the code check, revoke A
// (A can neither sign in nor open what is written afterwards); wrong phrase and wrong
// password fail clearly and change nothing; a changed password keeps everything readable;
// a deleted backup can no longer restore.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApolloClient, HttpLink, InMemoryCache } from '@apollo/client';
import { ApolloLink } from '@apollo/client/link';
import { SetContextLink } from '@apollo/client/link/context';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { openEnvelopeText } from '../../src/crypto/envelope.js';
import { isCryptoError } from '../../src/crypto/errors.js';
import { Account, cleanup, hasPrivateKey, type AccountOptions } from '../../src/client/account.js';
import { type DataKeyClientKeys } from '../../src/client/data-keys.js';
import { KeyDirectory, graphqlDirectoryTransport } from '../../src/client/directory.js';
import { createPrivacyLink } from '../../src/client/link.js';
import { FileKeyStore } from '../../src/client/keystore-file.js';
import { MemoryKeyStore, type KeyStore } from '../../src/client/keystore.js';
import { Sharing, graphqlSharingTransport } from '../../src/client/sharing.js';
import { isSessionError } from '../../src/client/session.js';
import { loadLocalBundle } from '../../src/client/account-store.js';
import type { PrivacyManifest } from '../../src/privacy/manifest.js';
import { GENERATED_FILES } from '../../src/codegen/config.js';
import { OPERATIONS, SCHEMA, importGenerated, removeTempDirs, runCodegen, tempDir } from '../codegen/helpers.js';
import { ROOMY_AUTH_LIMITS, canary, newObjectId, startTestGateway, type TestGateway } from '../helpers/gateway.js';

type Doc = TypedDocumentNode<Record<string, unknown>, Record<string, unknown>>;

let t: TestGateway;
let generated: { privacyManifest: PrivacyManifest; wireSchemaSDL: string };
let docs: Record<string, Doc>;
let keyDir: string;

function fileStore(name: string): FileKeyStore {
  return new FileKeyStore(join(keyDir, `${name}.json`));
}

function options(keystore: KeyStore): AccountOptions {
  return { endpoint: t.gateway.url, backend: nodeBackend, keystore };
}

/** Apollo Client as an application builds it on top of an account. */
async function clientOf(account: Account): Promise<{ client: ApolloClient; keys: DataKeyClientKeys }> {
  const keys = await account.clientKeys();
  const client = new ApolloClient({
    link: ApolloLink.from([
      createPrivacyLink({ manifest: generated.privacyManifest, schema: generated.wireSchemaSDL, keys, backend: nodeBackend, directory: await account.keyDirectory(), viewerId: () => account.userId }),
      new SetContextLink(async () => ({ headers: { authorization: `Bearer ${await account.token()}` } })),
      new HttpLink({ uri: t.gateway.url }),
    ]),
    cache: new InMemoryCache(),
  });
  return { client, keys };
}

async function readProfile(account: Account, id: string): Promise<{ profile: Record<string, string | null> | undefined; codes: (string | undefined)[] }> {
  const { client } = await clientOf(account);
  const r = await client.query({ query: docs.ProfileDocument!, variables: { id }, fetchPolicy: 'network-only', errorPolicy: 'all' });
  const profile = (r.data as { profile: Record<string, string | null> } | undefined)?.profile;
  return { profile, codes: ((r.error as { errors?: { extensions?: { code?: string } }[] } | undefined)?.errors ?? []).map((e) => e.extensions?.code) };
}

async function updateProfile(account: Account, id: string, input: Record<string, string>): Promise<void> {
  const { client } = await clientOf(account);
  const r = await client.mutate({ mutation: docs.UpdateProfileDocument!, variables: { id, input } });
  expect(r.error).toBeUndefined();
}

/** The stored envelope text of a profile column, straight from the SQLite file. */
function storedColumn(id: string, column: 'bio' | 'diary'): string {
  const db = new Database(join(t.dataDir, 'veilgraph.db'), { readonly: true });
  try {
    return (db.prepare(`SELECT ${column} AS v FROM Profile WHERE id = ?`).get(id) as { v: string }).v;
  } finally {
    db.close();
  }
}

/** Whether any vault key a key store's bundle holds opens the stored envelope. */
async function opensWith(keystore: KeyStore, text: string, id: string, ownerId: string): Promise<boolean> {
  const bundle = await loadLocalBundle(keystore);
  for (const v of bundle?.vault ?? []) {
    try {
      openEnvelopeText(nodeBackend, text, v.key, { coordinate: 'Profile.diary', ownerId, objectId: id });
      return true;
    } catch (e) {
      if (!isCryptoError(e)) throw e;
    }
  }
  return false;
}

async function rejection(p: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code?: string; message: string };
  }
  throw new Error('expected a rejection');
}

beforeAll(async () => {
  const outDir = tempDir('account-out');
  await runCodegen({ schema: SCHEMA, documents: [OPERATIONS], outDir });
  generated = await importGenerated(outDir, GENERATED_FILES.privacy);
  docs = await importGenerated(outDir, GENERATED_FILES.types);
  t = await startTestGateway({ authLimits: ROOMY_AUTH_LIMITS });
  keyDir = mkdtempSync(join(tmpdir(), 'veilgraph-account-keys-'));
}, 120_000);

afterAll(async () => {
  await t?.close();
  removeTempDirs();
  if (keyDir) rmSync(keyDir, { recursive: true, force: true });
});

describe('an account moves to a new device and survives losing one', () => {
  const storeA = () => fileStore('alice-phone');
  const storeB = () => fileStore('alice-laptop');
  const storeC = () => fileStore('alice-tablet');
  let a: Account;
  let b: Account;
  let bob: Account;
  let bobDirectory: KeyDirectory;
  let phrase: string;
  const profileId = newObjectId();
  const bio1 = canary('bio1');
  const diary1 = canary('diary1');

  it('registers on device A and writes PRIVATE and SHARED data, shared with Bob', async () => {
    a = await Account.create(options(storeA()), 'life_alice', { deviceName: 'phone' });
    bob = await Account.create(options(new MemoryKeyStore()), 'life_bob');
    expect(await hasPrivateKey(storeA())).toBe(true);
    const { client, keys } = await clientOf(a);
    const r = await client.mutate({ mutation: docs.CreateProfileDocument!, variables: { input: { id: profileId, displayName: 'Alice', bio: bio1, diary: diary1 } } });
    expect(r.error).toBeUndefined();

    const token = await a.token();
    const directory = new KeyDirectory({ backend: nodeBackend, keystore: new MemoryKeyStore(), transport: graphqlDirectoryTransport(t.gateway.url, () => token) });
    const sharing = new Sharing({ backend: nodeBackend, userId: a.userId, keys, directory, transport: graphqlSharingTransport(t.gateway.url, () => token) });
    await sharing.grant('Profile', profileId, 'life_bob', 'READ');

    const bobToken = await bob.token();
    bobDirectory = new KeyDirectory({ backend: nodeBackend, keystore: new MemoryKeyStore(), transport: graphqlDirectoryTransport(t.gateway.url, () => bobToken) });
    await bobDirectory.verifiedKeys('life_alice'); // Bob pins Alice's version 1
    const seen = await readProfile(bob, profileId);
    expect(seen.profile?.bio).toBe(bio1);
    expect(seen.profile?.diary).toBeNull();
  });

  it('backs up with a 24-word phrase; the server holds only wrapped keys', async () => {
    phrase = await a.backupWithPhrase();
    expect(phrase.split(' ')).toHaveLength(24);
    expect((await a.backups()).map((x) => x.kind)).toEqual(['PHRASE']);
    // Neither the phrase, nor any secret of the bundle, is in the database files.
    const bundle = a.keyBundle;
    const files = readdirSync(t.dataDir).filter((f) => f.startsWith('veilgraph.db'));
    const raw = Buffer.concat(files.map((f) => readFileSync(join(t.dataDir, f))));
    for (const secret of [bundle.identity.signingSeed, bundle.identity.encryptionPrivate, bundle.vault[0]!.key.bytes]) {
      expect(raw.includes(Buffer.from(secret))).toBe(false);
    }
    expect(raw.includes(Buffer.from(phrase))).toBe(false);
  });

  it('a wrong or malformed phrase fails clearly and writes nothing', async () => {
    const store = storeB();
    const words = phrase.split(' ');
    const other = [...words.slice(0, 23)].join(' ');
    expect((await rejection(Account.restoreWithPhrase(options(store), 'life_alice', other))).code).toBe('INVALID_PHRASE');
    const { generateRecoveryPhrase } = await import('../../src/crypto/recovery.js');
    const wrong = await rejection(Account.restoreWithPhrase(options(store), 'life_alice', generateRecoveryPhrase(nodeBackend)));
    expect(wrong.code).toBe('RECOVERY_FAILED');
    expect(wrong.message).not.toContain(phrase.split(' ')[0]);
    expect(await store.list()).toEqual([]);
    expect((await a.devices()).filter((d) => d.status === 'ACTIVE')).toHaveLength(1);
  });

  it('restores on device B from the phrase and reads everything', async () => {
    b = await Account.restoreWithPhrase(options(storeB()), 'life_alice', `  ${phrase.toUpperCase()} `, { deviceName: 'laptop' });
    expect(b.userId).toBe(a.userId);
    expect(b.deviceId).not.toBe(a.deviceId);
    const seen = await readProfile(b, profileId);
    expect(seen.profile?.bio).toBe(bio1);
    expect(seen.profile?.diary).toBe(diary1);
    const devices = await b.devices();
    expect(devices.filter((d) => d.status === 'ACTIVE').map((d) => d.name).sort()).toEqual(['laptop', 'phone']);
    expect(devices.find((d) => d.current)?.id).toBe(b.deviceId);
  });

  it('rotates keys on B: old and new data readable on every device, Bob sees a verified change', async () => {
    const report = await b.rotateIdentityKeys();
    expect(report.identityVersion).toBe(2);
    expect(report.vaultVersion).toBe(2);
    expect(report.rewrapped).toBeGreaterThanOrEqual(1); // the profile's data key
    expect(report.unopenable).toBe(0);
    // Written before the rotation, read after it (vault v1, data key re-wrapped).
    expect((await readProfile(b, profileId)).profile?.diary).toBe(diary1);
    const diary2 = canary('diary2');
    await updateProfile(b, profileId, { diary: diary2 });
    expect((await readProfile(b, profileId)).profile?.diary).toBe(diary2);
    // A picks up the new bundle (resume) and reads the new value.
    a = await Account.open(options(storeA()));
    expect(a.keyBundle.identity.version).toBe(2);
    expect((await readProfile(a, profileId)).profile?.diary).toBe(diary2);
    // Bob: a change signed by the old key, and he still reads the bio.
    const v = await bobDirectory.verifiedKeys('life_alice', { refresh: true });
    expect(v.version).toBe(2);
    expect(v.changed).toBe(true);
    expect((await readProfile(bob, profileId)).profile?.bio).toBe(bio1);
  });

  it('links device C after the code check; a wrong code changes nothing', async () => {
    const request = await Account.requestLink(options(storeC()), 'life_alice', { deviceName: 'tablet' });
    expect(await request.status()).toBe('PENDING');
    const pending = (await b.devices()).find((d) => d.status === 'PENDING');
    expect(pending?.code).toBe(request.code);
    const wrong = await rejection(b.approveDevice(pending!.id, '00000 00000 00000 00000 00000'));
    expect(wrong.code).toBe('DEVICE_CODE_MISMATCH');
    expect(await request.status()).toBe('PENDING');
    await b.approveDevice(pending!.id, request.code);
    const c = await request.waitForApproval({ intervalMs: 50, timeoutMs: 10_000 });
    expect((await readProfile(c, profileId)).profile?.bio).toBe(bio1);
  });

  it('revokes the lost device A: it cannot sign in, and cannot open what is written afterwards', async () => {
    const oldToken = await a.token();
    const report = await b.revokeDevice(a.deviceId);
    expect(report.identityVersion).toBe(3);
    const diary3 = canary('diary3');
    await updateProfile(b, profileId, { diary: diary3 });
    expect((await readProfile(b, profileId)).profile?.diary).toBe(diary3);

    // A's session ends and it cannot sign in again.
    const me = await t.gql('query { me { id } }', {}, oldToken);
    expect(me.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const reopened = await rejection(Account.open(options(storeA())));
    expect(reopened.code).toBe('DEVICE_REVOKED');
    // Even with the database in hand, none of A's keys opens the new value.
    const stored = storedColumn(profileId, 'diary');
    expect(await opensWith(storeA(), stored, profileId, a.userId)).toBe(false);
    expect(await opensWith(storeB(), stored, profileId, a.userId)).toBe(true);
    // C (not revoked) follows.
    const c = await Account.open(options(storeC()));
    expect((await readProfile(c, profileId)).profile?.diary).toBe(diary3);
    const devices = await b.devices();
    expect(devices.find((d) => d.id === a.deviceId)?.status).toBe('REVOKED');
  });

  it('password backup: wrong password fails, change of password keeps data readable, deleted backup cannot restore', async () => {
    const pw1 = 'correct horse battery staple';
    await b.backupWithPassword(pw1);
    const short = await rejection(b.backupWithPassword('short'));
    expect(short.code).toBe('WEAK_PASSWORD');

    const wrong = await rejection(Account.restoreWithPassword(options(new MemoryKeyStore()), 'life_alice', 'not the password at all'));
    expect(wrong.code).toBe('RECOVERY_FAILED');

    const pw2 = 'a different long password';
    await b.changePassword(pw2);
    expect((await rejection(Account.restoreWithPassword(options(new MemoryKeyStore()), 'life_alice', pw1))).code).toBe('RECOVERY_FAILED');
    const d = await Account.restoreWithPassword(options(new MemoryKeyStore()), 'life_alice', pw2, { deviceName: 'from password' });
    const seen = await readProfile(d, profileId);
    expect(seen.profile?.bio).toBe(bio1);
    expect(seen.profile?.diary).not.toBeNull();

    await d.deleteBackup('PASSWORD');
    expect((await rejection(Account.restoreWithPassword(options(new MemoryKeyStore()), 'life_alice', pw2))).code).toBe('RECOVERY_FAILED');
    await b.deleteBackup('PHRASE');
    expect((await rejection(Account.restoreWithPhrase(options(new MemoryKeyStore()), 'life_alice', phrase))).code).toBe('RECOVERY_FAILED');
  });

  it('losing everything: a reset with the operator code starts over, old PRIVATE data is declared lost, contacts are told', async () => {
    const { issueResetCode } = await import('../../src/server/services/backups/backups.js');
    const wrongCode = await rejection(Account.reset(options(new MemoryKeyStore()), 'life_alice', 'A'.repeat(43)));
    expect(wrongCode.code).toBe('RESET_CODE_INVALID');
    const issued = await issueResetCode(t.gateway.store, (n) => nodeBackend.randomBytes(n), 'life_alice');
    const fresh = await Account.reset(options(new MemoryKeyStore()), 'life_alice', issued!.code, { deviceName: 'after the flood' });
    expect(fresh.resetAt).not.toBeNull();
    // Every earlier device is revoked; the new one reads PUBLIC data, and the old PRIVATE value fails to open.
    expect((await fresh.devices()).filter((d) => d.status === 'ACTIVE').map((d) => d.name)).toEqual(['after the flood']);
    const seen = await readProfile(fresh, profileId);
    expect(seen.profile?.displayName).toBe('Alice');
    expect(seen.profile?.diary).toBeNull();
    expect(seen.codes).toContain('KEY_NOT_FOUND');
    expect((await fresh.rewrapStaleKeys()).unopenable).toBeGreaterThan(0);
    expect((await rejection(Account.open(options(storeB())))).code).toBe('DEVICE_REVOKED');
    // Bob's client refuses the reset version until the two compare safety numbers.
    const told = await rejection(bobDirectory.verifiedKeys('life_alice', { refresh: true }));
    expect(told.code).toBe('KEY_RESET');
  });

  it('cleanup removes every local secret; the store then holds no account', async () => {
    const store = storeC();
    expect(await hasPrivateKey(store)).toBe(true);
    expect(await cleanup(store)).toBeGreaterThan(0);
    expect(await hasPrivateKey(store)).toBe(false);
    expect(isSessionError(await rejection(Account.open(options(store))), 'IDENTITY_MISSING')).toBe(true);
  });
});

describe('key expiry', () => {
  it('rotates the identity (and vault) when older than the limit, else nothing', async () => {
    const store = new MemoryKeyStore();
    const day = 24 * 60 * 60_000;
    const created = Date.now();
    await Account.create(options(store), 'expiry_alice');
    // The same device, two days later.
    let now = created + 2 * day;
    const later = await Account.open({ ...options(store), now: () => now });
    expect(await later.rotateExpiredKeys({ maxAgeMs: day })).toBe('identity');
    expect(later.keyBundle.identity.version).toBe(2);
    expect(later.keyBundle.vault.map((v) => v.key.version)).toEqual([1, 2]);
    expect(await later.rotateExpiredKeys({ maxAgeMs: day })).toBe('none');
    // Three days after the rotation: younger than four days; two more days and it is older.
    now += 3 * day;
    expect(await later.rotateExpiredKeys({ maxAgeMs: 4 * day })).toBe('none');
    await later.rotateVaultKey();
    now += 2 * day;
    expect(await later.rotateExpiredKeys({ maxAgeMs: 4 * day })).toBe('identity');
    await expect(later.rotateExpiredKeys({ maxAgeMs: 0 })).rejects.toThrow(TypeError);
  });

  it('measures the age from the last rotation, not from the account', async () => {
    const day = 24 * 60 * 60_000;
    let now = Date.now();
    const account = await Account.create({ ...options(new MemoryKeyStore()), now: () => now }, 'expiry_bob');
    now += 2 * day;
    await account.rotateIdentityKeys();
    now += 0.4 * day;
    expect(await account.rotateExpiredKeys({ maxAgeMs: 0.5 * day })).toBe('none');
    now += 0.2 * day;
    expect(await account.rotateExpiredKeys({ maxAgeMs: 0.5 * day })).toBe('identity');
    expect(account.keyBundle.identity.version).toBe(3);
  });
});
