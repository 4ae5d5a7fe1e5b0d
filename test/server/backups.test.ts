// Backups, recovery, re-wrapping after a rotation, and account reset (src/server/services/sign-in/devices.graphql,
// docs/auth.md §12) through a real gateway on loopback; the reset code comes from the real
// CLI (npm run account:reset) run against the gateway's database. Every refused mutation is
// checked to change no row.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recoverMessage, resetMessage, type BackupKind } from '../../src/crypto/account-messages.js';
import { loginMessage } from '../../src/crypto/auth-messages.js';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { base64urlDecode, base64urlEncode } from '../../src/crypto/base64url.js';
import { generateSymmetricKey, keyIdOf, type EncryptionKeyPair, type SigningKeyPair } from '../../src/crypto/keys.js';
import { signKeyVersion } from '../../src/crypto/key-directory.js';
import { wrapKey, wrappedKeyToText } from '../../src/crypto/wrap.js';
import { openRawSocket } from '../helpers/ws.js';
import { within } from '../helpers/wait.js';
import { ROOMY_AUTH_LIMITS, newObjectId, registerAndLogin, startTestGateway, wrappedFor, type GqlResponse, type TestGateway } from '../helpers/gateway.js';
import {
  expectRefused,
  MY_BUNDLE,
  MY_DEVICES,
  PUT_BACKUP,
  REALM,
  backupInput,
  backupKeys,
  bundleFor,
  bundleRevision,
  challenge,
  codes,
  deviceLogin,
  keyPairs,
  newDevice,
  ok,
  passwordKdf,
  registerWithDevice,
  sqlite,
  type BackupKeys,
  type DeviceUser,
  type KeyBundleInput,
} from '../helpers/devices.js';

const run = promisify(execFile);

const PARAMS = 'query P($u: String!, $k: BackupKind!) { backupParameters(username: $u, kind: $k) { algorithm salt memoryKiB iterations parallelism } }';
const MY_BACKUPS = 'query { myBackups { kind createdAt kdf { algorithm salt memoryKiB iterations parallelism } } }';
const DELETE_BACKUP = 'mutation D($k: BackupKind!, $b: KeyBundleInput!) { deleteBackup(kind: $k, keyBundle: $b) }';
const OPEN = 'mutation O($u: String!, $k: BackupKind!, $c: String!, $s: String!) { openBackup(username: $u, kind: $k, challenge: $c, signature: $s) { userId keyBundle { revision bundle wrappedKey updatedAt } } }';
const RECOVER =
  'mutation R($u: String!, $k: BackupKind!, $c: String!, $s: String!, $d: NewDeviceInput!, $b: KeyBundleInput!) { recoverAccount(username: $u, kind: $k, challenge: $c, signature: $s, device: $d, keyBundle: $b) { token user { id } device { id status current } } }';
const RESET =
  'mutation X($u: String!, $r: String!, $i: ResetIdentityInput!, $d: NewDeviceInput!, $b: KeyBundleInput!) { resetAccount(username: $u, resetCode: $r, identity: $i, device: $d, keyBundle: $b) { token user { id signingKey } device { id status current } } }';
const STALE = 'query S($n: Int!) { staleWrappedKeys(first: $n) { dataKeys { objectType objectId ownerId keyVersion wrapped } epochKeys { conversationId epoch wrapped } } }';
const REWRAP = 'mutation W($d: [RewrappedDataKeyInput!]!, $e: [RewrappedEpochKeyInput!]!) { rewrapMyKeys(dataKeys: $d, epochKeys: $e) }';
const ROTATE = 'mutation R($i: RotateIdentityKeysInput!, $b: KeyBundleInput) { rotateIdentityKeys(input: $i, keyBundle: $b) { version } }';
const DIRECTORY = 'query D($u: String!) { keyDirectory(username: $u) { versions { version reset signature signingKey } } }';

let t: TestGateway;
let n = 0;
const uname = (prefix: string): string => `${prefix}${++n}`;

beforeAll(async () => {
  t = await startTestGateway({ authLimits: ROOMY_AUTH_LIMITS });
});

afterAll(async () => {
  await t?.close();
});

const refused = (code: string, request: () => Promise<GqlResponse>): Promise<GqlResponse> => expectRefused(t, code, request);

/** A user with a device, a first bundle, and a backup of `kind`. */
async function withBackup(prefix: string, kind: BackupKind = 'PASSWORD'): Promise<{ u: DeviceUser; backup: BackupKeys }> {
  const u = await registerWithDevice(t, uname(prefix));
  ok(await t.gql('mutation P($b: KeyBundleInput!) { putKeyBundle(keyBundle: $b) { revision } }', { b: await bundleFor(u.id, 1, [u.device.encryption]) }, u.token));
  const backup = await backupKeys(kind);
  ok(await t.gql(PUT_BACKUP, { i: await backupInput(u.username, backup), b: await bundleFor(u.id, 2, [u.device.encryption, backup.encryption]) }, u.token));
  return { u, backup };
}

async function signed(signer: SigningKeyPair, message: Uint8Array): Promise<string> {
  return base64urlEncode(await nodeBackend.ed25519Sign(signer.seed, message));
}

async function openWith(username: string, kind: BackupKind, signer: SigningKeyPair, ch?: string) {
  const c = ch ?? (await challenge(t, username, 'RECOVER'));
  const s = await signed(signer, loginMessage({ realm: REALM, username, purpose: 'RECOVER', challenge: base64urlDecode(c) }));
  return t.gql<{ openBackup: { userId: string; keyBundle: KeyBundleInput } }>(OPEN, { u: username, k: kind, c, s });
}

describe('backupParameters', () => {
  it('PHRASE is always bip39; PASSWORD of a missing user or backup looks like a real one and stays the same', async () => {
    const u = await registerWithDevice(t, uname('params'));
    const ghost = uname('ghost');
    for (const who of [u.username, ghost]) {
      expect(ok(await t.gql(PARAMS, { u: who, k: 'PHRASE' })).backupParameters).toEqual({ algorithm: 'bip39', salt: '', memoryKiB: 0, iterations: 0, parallelism: 0 });
    }
    const fake = ok(await t.gql<{ backupParameters: Record<string, unknown> }>(PARAMS, { u: ghost, k: 'PASSWORD' })).backupParameters;
    const noBackup = ok(await t.gql<{ backupParameters: Record<string, unknown> }>(PARAMS, { u: u.username, k: 'PASSWORD' })).backupParameters;
    for (const p of [fake, noBackup]) {
      expect(p).toMatchObject({ algorithm: 'argon2id', memoryKiB: 19456, iterations: 2, parallelism: 1 });
      expect(base64urlDecode(p.salt as string)).toHaveLength(16);
    }
    expect(fake.salt).not.toBe(noBackup.salt);
    // Stable: the same answer again, for each.
    expect(ok(await t.gql(PARAMS, { u: ghost, k: 'PASSWORD' })).backupParameters).toEqual(fake);
    expect(ok(await t.gql(PARAMS, { u: u.username, k: 'PASSWORD' })).backupParameters).toEqual(noBackup);
    // A real backup: its own parameters.
    ok(await t.gql('mutation P($b: KeyBundleInput!) { putKeyBundle(keyBundle: $b) { revision } }', { b: await bundleFor(u.id, 1, [u.device.encryption]) }, u.token));
    const backup = await backupKeys('PASSWORD', { ...passwordKdf(), memoryKiB: 65536, iterations: 3, parallelism: 4 });
    ok(await t.gql(PUT_BACKUP, { i: await backupInput(u.username, backup), b: await bundleFor(u.id, 2, [u.device.encryption, backup.encryption]) }, u.token));
    expect(ok(await t.gql(PARAMS, { u: u.username, k: 'PASSWORD' })).backupParameters).toEqual(backup.kdf);
    expect(codes(await t.gql(PARAMS, { u: 'Not A Name', k: 'PASSWORD' }))).toEqual(['BAD_USER_INPUT']);
  });
});

describe('putBackup and deleteBackup', () => {
  it('stores a backup with the bundle re-wrapped to it, replaces it (new password), deletes it', async () => {
    const { u, backup } = await withBackup('put');
    expect(ok(await t.gql<{ myBackups: { kind: string; kdf: unknown }[] }>(MY_BACKUPS, {}, u.token)).myBackups).toMatchObject([{ kind: 'PASSWORD', kdf: backup.kdf }]);
    // A phrase as well: recipients are the device and both backups.
    const phrase = await backupKeys('PHRASE');
    await refused('BUNDLE_RECIPIENTS_MISMATCH', async () => t.gql(PUT_BACKUP, { i: await backupInput(u.username, phrase), b: await bundleFor(u.id, 3, [u.device.encryption, phrase.encryption]) }, u.token));
    ok(await t.gql(PUT_BACKUP, { i: await backupInput(u.username, phrase), b: await bundleFor(u.id, 3, [u.device.encryption, backup.encryption, phrase.encryption]) }, u.token));
    // A new password replaces the old backup: the old key is no longer a recipient.
    const next = await backupKeys('PASSWORD');
    await refused('BUNDLE_RECIPIENTS_MISMATCH', async () =>
      t.gql(PUT_BACKUP, { i: await backupInput(u.username, next), b: await bundleFor(u.id, 4, [u.device.encryption, backup.encryption, phrase.encryption, next.encryption]) }, u.token),
    );
    ok(await t.gql(PUT_BACKUP, { i: await backupInput(u.username, next), b: await bundleFor(u.id, 4, [u.device.encryption, phrase.encryption, next.encryption]) }, u.token));
    const list = ok(await t.gql<{ myBackups: { kind: string; kdf: { salt: string } }[] }>(MY_BACKUPS, {}, u.token)).myBackups;
    expect(list.map((b) => [b.kind, b.kdf.salt])).toEqual([
      ['PHRASE', ''],
      ['PASSWORD', next.kdf.salt],
    ]);
    // Delete: the bundle without it.
    await refused('BUNDLE_RECIPIENTS_MISMATCH', async () => t.gql(DELETE_BACKUP, { k: 'PHRASE', b: await bundleFor(u.id, 5, [u.device.encryption, phrase.encryption, next.encryption]) }, u.token));
    expect(ok(await t.gql<{ deleteBackup: boolean }>(DELETE_BACKUP, { k: 'PHRASE', b: await bundleFor(u.id, 5, [u.device.encryption, next.encryption]) }, u.token)).deleteBackup).toBe(true);
    await refused('NOT_FOUND', async () => t.gql(DELETE_BACKUP, { k: 'PHRASE', b: await bundleFor(u.id, 6, [u.device.encryption, next.encryption]) }, u.token));
    expect(await bundleRevision(t, u.token)).toBe(5);
  });

  it('refuses bad KDF parameters, keys and signatures', async () => {
    const { u, backup } = await withBackup('badput');
    const rev = (await bundleRevision(t, u.token)) + 1;
    const bundleWith = (b: BackupKeys) => bundleFor(u.id, rev, [u.device.encryption, b.encryption]);
    const kdfs = [
      { kind: 'PHRASE' as const, kdf: { ...passwordKdf() } },
      { kind: 'PHRASE' as const, kdf: { algorithm: 'bip39' as const, salt: '', memoryKiB: 1, iterations: 0, parallelism: 0 } },
      { kind: 'PASSWORD' as const, kdf: { algorithm: 'bip39' as const, salt: '', memoryKiB: 0, iterations: 0, parallelism: 0 } },
      { kind: 'PASSWORD' as const, kdf: passwordKdf(base64urlEncode(nodeBackend.randomBytes(15))) },
      { kind: 'PASSWORD' as const, kdf: passwordKdf(base64urlEncode(nodeBackend.randomBytes(17))) },
      { kind: 'PASSWORD' as const, kdf: passwordKdf('not base64url!!!!!!!!!') },
      { kind: 'PASSWORD' as const, kdf: { ...passwordKdf(), memoryKiB: 19455 } },
      { kind: 'PASSWORD' as const, kdf: { ...passwordKdf(), memoryKiB: 4194304 } },
      { kind: 'PASSWORD' as const, kdf: { ...passwordKdf(), iterations: 1 } },
      { kind: 'PASSWORD' as const, kdf: { ...passwordKdf(), iterations: 65 } },
      { kind: 'PASSWORD' as const, kdf: { ...passwordKdf(), parallelism: 0 } },
      { kind: 'PASSWORD' as const, kdf: { ...passwordKdf(), parallelism: 17 } },
    ];
    for (const { kind, kdf } of kdfs) {
      const b = await backupKeys(kind, kdf);
      await refused('BAD_KDF_PARAMETERS', async () => t.gql(PUT_BACKUP, { i: await backupInput(u.username, b), b: await bundleWith(b) }, u.token));
    }
    const next = await backupKeys('PASSWORD');
    await refused('BAD_BACKUP_SIGNATURE', async () => t.gql(PUT_BACKUP, { i: await backupInput(u.username, next, backup.signing), b: await bundleWith(next) }, u.token));
    // Signed over other parameters than those sent.
    const signedFor = await backupInput(u.username, next);
    await refused('BAD_BACKUP_SIGNATURE', async () => t.gql(PUT_BACKUP, { i: { ...signedFor, kdf: { ...next.kdf, iterations: 3 } }, b: await bundleWith(next) }, u.token));
    await refused('BAD_USER_INPUT', async () => t.gql(PUT_BACKUP, { i: { ...signedFor, authKey: 'short' }, b: await bundleWith(next) }, u.token));
    await refused('BAD_USER_INPUT', async () => t.gql(PUT_BACKUP, { i: { ...signedFor, encryptionKey: base64urlEncode(new Uint8Array(32)) }, b: await bundleWith(next) }, u.token));
  });

  it('deleting the last recipient is refused: a bundle always has one', async () => {
    const u = await registerAndLogin(t, uname('lastrec'));
    const backup = await backupKeys('PHRASE');
    ok(await t.gql(PUT_BACKUP, { i: await backupInput(u.username, backup), b: await bundleFor(u.id, 1, [backup.encryption]) }, u.token));
    await refused('BUNDLE_RECIPIENTS_MISMATCH', async () => t.gql(DELETE_BACKUP, { k: 'PHRASE', b: await bundleFor(u.id, 2, [backup.encryption]) }, u.token));
  });
});

describe('openBackup', () => {
  it('the backup secret (its auth key) opens the bundle; the challenge is then used', async () => {
    const { u, backup } = await withBackup('open');
    const ch = await challenge(t, u.username, 'RECOVER');
    const opened = ok(await openWith(u.username, 'PASSWORD', backup.signing, ch)).openBackup;
    expect(opened.userId).toBe(u.id);
    expect(opened.keyBundle).toMatchObject(ok(await t.gql<{ myKeyBundle: object }>(MY_BUNDLE, {}, u.token)).myKeyBundle);
    await refused('CHALLENGE_REPLAYED', () => openWith(u.username, 'PASSWORD', backup.signing, ch));
  });

  it('a wrong secret, another kind, an unknown user: LOGIN_FAILED alike, burning nothing; a LOGIN challenge is CHALLENGE_INVALID', async () => {
    const { u, backup } = await withBackup('openbad');
    const ch = await challenge(t, u.username, 'RECOVER');
    const wrong = (await keyPairs()).signing;
    const failures = [
      await refused('LOGIN_FAILED', () => openWith(u.username, 'PASSWORD', wrong, ch)),
      await refused('LOGIN_FAILED', () => openWith(u.username, 'PHRASE', backup.signing, ch)),
      await refused('LOGIN_FAILED', () => openWith(uname('ghost'), 'PASSWORD', backup.signing)),
      await refused('LOGIN_FAILED', () => openWith(u.username, 'PASSWORD', u.device.signing, ch)),
    ];
    expect(new Set(failures.map((f) => f.errors![0]!.message)).size).toBe(1);
    await refused('CHALLENGE_INVALID', async () => openWith(u.username, 'PASSWORD', backup.signing, await challenge(t, u.username, 'LOGIN')));
    // The RECOVER challenge cannot sign in either.
    await refused('CHALLENGE_INVALID', () => deviceLogin(t, u.username, null, u.signing, ch));
    ok(await openWith(u.username, 'PASSWORD', backup.signing, ch));
  });
});

describe('recoverAccount', () => {
  async function recover(username: string, kind: BackupKind, authKey: SigningKeyPair, device: Awaited<ReturnType<typeof newDevice>>, bundle: KeyBundleInput, ch?: string) {
    const c = ch ?? (await challenge(t, username, 'RECOVER'));
    const m = recoverMessage({ realm: REALM, username, kind, challenge: base64urlDecode(c), deviceSigningKey: device.signing.publicKey, deviceEncryptionKey: device.encryption.publicKey });
    return t.gql<{ recoverAccount: { token: string; user: { id: string }; device: { id: string; status: string; current: boolean } } }>(RECOVER, {
      u: username,
      k: kind,
      c,
      s: await signed(authKey, m),
      d: device.input,
      b: bundle,
    });
  }

  it('adds the device ACTIVE with the bundle wrapped to it, and returns its session', async () => {
    const { u, backup } = await withBackup('recover', 'PHRASE');
    const d = await newDevice(u.username, 'new phone');
    const ch = await challenge(t, u.username, 'RECOVER');
    await refused('BUNDLE_RECIPIENTS_MISMATCH', async () => recover(u.username, 'PHRASE', backup.signing, d, await bundleFor(u.id, 3, [u.device.encryption, backup.encryption]), ch));
    const s = ok(await recover(u.username, 'PHRASE', backup.signing, d, await bundleFor(u.id, 3, [u.device.encryption, backup.encryption, d.encryption]), ch)).recoverAccount;
    expect(s.user.id).toBe(u.id);
    expect(s.device).toMatchObject({ status: 'ACTIVE', current: true });
    const payload = JSON.parse(Buffer.from(s.token.split('.')[1]!, 'base64url').toString()) as { did?: string };
    expect(payload.did).toBe(s.device.id);
    expect((await t.gql<{ myDevices: { id: string; current: boolean }[] }>(MY_DEVICES, {}, s.token)).data!.myDevices.find((x) => x.id === s.device.id)).toMatchObject({ current: true });
    expect(await bundleRevision(t, s.token)).toBe(3);
    await refused('CHALLENGE_REPLAYED', async () => recover(u.username, 'PHRASE', backup.signing, await newDevice(u.username), await bundleFor(u.id, 4, [u.device.encryption]), ch));
  });

  it('refuses a signature over other device keys, a wrong secret, a bad device proof; nothing changes', async () => {
    const { u, backup } = await withBackup('recbad');
    const d = await newDevice(u.username, 'new phone');
    const b = await bundleFor(u.id, 3, [u.device.encryption, backup.encryption, d.encryption]);
    const ch = await challenge(t, u.username, 'RECOVER');
    // Signed for another device: the recover message binds the device keys.
    const other = await newDevice(u.username, 'new phone');
    const c = base64urlDecode(ch);
    const forOther = await signed(backup.signing, recoverMessage({ realm: REALM, username: u.username, kind: 'PASSWORD', challenge: c, deviceSigningKey: other.signing.publicKey, deviceEncryptionKey: other.encryption.publicKey }));
    await refused('LOGIN_FAILED', () => t.gql(RECOVER, { u: u.username, k: 'PASSWORD', c: ch, s: forOther, d: d.input, b }));
    // The plain login message (what openBackup takes) does not recover.
    const asOpen = await signed(backup.signing, loginMessage({ realm: REALM, username: u.username, purpose: 'RECOVER', challenge: c }));
    await refused('LOGIN_FAILED', () => t.gql(RECOVER, { u: u.username, k: 'PASSWORD', c: ch, s: asOpen, d: d.input, b }));
    await refused('LOGIN_FAILED', async () => recover(u.username, 'PASSWORD', (await keyPairs()).signing, d, b, ch));
    const badProof = { ...d, input: { ...d.input, signature: other.input.signature } };
    await refused('BAD_DEVICE_SIGNATURE', () => recover(u.username, 'PASSWORD', backup.signing, badProof, b, ch));
    ok(await recover(u.username, 'PASSWORD', backup.signing, d, b, ch));
  });
});

describe('staleWrappedKeys and rewrapMyKeys', () => {
  it('after a rotation, lists the keys wrapped to the old key; re-wrapped to the current one they are gone', async () => {
    const alice = await registerAndLogin(t, uname('stale'));
    const bob = await registerAndLogin(t, uname('bob'));
    // A data key of Alice's profile (for her) and a conversation with Bob (epoch 1 for both).
    const profileId = newObjectId();
    const dataKey = generateSymmetricKey(nodeBackend);
    ok(await t.gql('mutation C($i: CreateProfileInput!) { createProfile(input: $i) { id } }', { i: { id: profileId, displayName: 'Alice' } }, alice.token));
    ok(await t.gql('mutation P($t: String!, $id: ID!, $k: [WrappedDataKeyInput!]!) { putDataKeys(objectType: $t, objectId: $id, keys: $k) }', { t: 'Profile', id: profileId, k: [await wrappedFor(dataKey, 'Profile', alice.id, profileId, alice)] }, alice.token));
    const conversationId = newObjectId();
    const epochKey = generateSymmetricKey(nodeBackend);
    const keys = [];
    for (const u of [alice, bob]) keys.push(await wrappedFor(epochKey, 'Conversation', conversationId, 'epoch:1', u));
    ok(await t.gql('mutation C($i: CreateConversationInput!) { createConversation(input: $i) { id } }', { i: { id: conversationId, kind: 'DIRECT', members: [bob.username], keys: keys.map((k) => ({ recipientId: k.recipientId, wrapped: k.wrapped })) } }, alice.token));

    type Stale = { staleWrappedKeys: { dataKeys: { objectType: string; objectId: string; ownerId: string; keyVersion: number; wrapped: string }[]; epochKeys: { conversationId: string; epoch: number; wrapped: string }[] } };
    expect(ok(await t.gql<Stale>(STALE, { n: 100 }, alice.token)).staleWrappedKeys).toEqual({ dataKeys: [], epochKeys: [] });
    // Rotate Alice's identity (no bundle: she has none).
    const next = await keyPairs();
    const statement = { realm: REALM, username: alice.username, version: 2, previousSigningKey: alice.signing.publicKey, signingKey: next.signing.publicKey, encryptionKey: next.encryption.publicKey };
    const sig = await signKeyVersion(nodeBackend, statement, alice.signing.seed, next.signing.seed);
    ok(await t.gql(ROTATE, { i: { version: 2, signingKey: base64urlEncode(next.signing.publicKey), encryptionKey: base64urlEncode(next.encryption.publicKey), signature: base64urlEncode(sig) } }, alice.token));

    const stale = ok(await t.gql<Stale>(STALE, { n: 100 }, alice.token)).staleWrappedKeys;
    expect(stale.dataKeys).toEqual([{ objectType: 'Profile', objectId: profileId, ownerId: alice.id, keyVersion: 1, wrapped: expect.any(String) }]);
    expect(stale.epochKeys).toEqual([{ conversationId, epoch: 1, wrapped: expect.any(String) }]);
    expect(ok(await t.gql<Stale>(STALE, { n: 1 }, alice.token)).staleWrappedKeys.dataKeys).toHaveLength(1);
    for (const first of [0, 501]) await refused('BAD_USER_INPUT', () => t.gql(STALE, { n: first }, alice.token));
    // Bob's keys are not Alice's business, and his own are current.
    expect(ok(await t.gql<Stale>(STALE, { n: 100 }, bob.token)).staleWrappedKeys).toEqual({ dataKeys: [], epochKeys: [] });

    const wrapTo = async (key: typeof dataKey, coordinate: string, ownerId: string, objectId: string, to: EncryptionKeyPair[]) =>
      wrappedKeyToText(await wrapKey(nodeBackend, key, { coordinate, ownerId, objectId }, to.map((r) => ({ keyId: keyIdOf(nodeBackend, 'x25519', r.publicKey), publicKey: r.publicKey }))));
    const goodData = { objectType: 'Profile', objectId: profileId, keyVersion: 1, wrapped: await wrapTo(dataKey, 'Profile', alice.id, profileId, [next.encryption]) };
    const goodEpoch = { conversationId, epoch: 1, wrapped: await wrapTo(epochKey, 'Conversation', conversationId, 'epoch:1', [next.encryption]) };

    // Refused, each changing nothing.
    const bad: [string, Record<string, unknown>][] = [
      ['BAD_WRAPPED_KEY', { d: [{ ...goodData, wrapped: await wrapTo(dataKey, 'Profile', alice.id, profileId, [alice.encryption]) }], e: [] }],
      ['BAD_WRAPPED_KEY', { d: [{ ...goodData, wrapped: await wrapTo(dataKey, 'Profile', alice.id, profileId, [next.encryption, bob.encryption]) }], e: [] }],
      ['BAD_WRAPPED_KEY', { d: [{ ...goodData, wrapped: await wrapTo(dataKey, 'Profile', alice.id, newObjectId(), [next.encryption]) }], e: [] }],
      ['BAD_WRAPPED_KEY', { d: [{ ...goodData, wrapped: await wrapTo(generateSymmetricKey(nodeBackend), 'Profile', alice.id, profileId, [next.encryption]) }], e: [] }],
      ['BAD_WRAPPED_KEY', { d: [{ ...goodData, wrapped: 'garbage' }], e: [] }],
      ['BAD_WRAPPED_KEY', { d: [goodData], e: [{ ...goodEpoch, wrapped: goodData.wrapped }] }],
      ['NOT_FOUND', { d: [{ ...goodData, keyVersion: 2 }], e: [] }],
      ['NOT_FOUND', { d: [goodData], e: [{ ...goodEpoch, conversationId: newObjectId() }] }],
      ['BAD_USER_INPUT', { d: [goodData, goodData], e: [] }],
      ['BAD_USER_INPUT', { d: Array.from({ length: 1001 }, () => goodData), e: [] }],
    ];
    for (const [code, v] of bad) await refused(code, () => t.gql(REWRAP, v, alice.token));
    // Bob cannot rewrap Alice's key: it is not addressed to him.
    await refused('NOT_FOUND', () => t.gql(REWRAP, { d: [goodData], e: [] }, bob.token));

    expect(ok(await t.gql<{ rewrapMyKeys: number }>(REWRAP, { d: [goodData], e: [goodEpoch] }, alice.token)).rewrapMyKeys).toBe(2);
    expect(ok(await t.gql<Stale>(STALE, { n: 100 }, alice.token)).staleWrappedKeys).toEqual({ dataKeys: [], epochKeys: [] });
    // The same again changes nothing.
    expect(ok(await t.gql<{ rewrapMyKeys: number }>(REWRAP, { d: [goodData], e: [goodEpoch] }, alice.token)).rewrapMyKeys).toBe(0);
    expect(ok(await t.gql<{ rewrapMyKeys: number }>(REWRAP, { d: [], e: [] }, alice.token)).rewrapMyKeys).toBe(0);
    const served = ok(await t.gql<{ myDataKeys: { wrapped: string }[] }>('query K($t: String!, $ids: [ID!]!) { myDataKeys(objectType: $t, objectIds: $ids) { wrapped } }', { t: 'Profile', ids: [profileId] }, alice.token)).myDataKeys;
    expect(served).toEqual([{ wrapped: goodData.wrapped }]);
  });
});

describe('account reset with the CLI', () => {
  async function cli(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
    try {
      const r = await run('npx', ['tsx', 'src/app/account-reset-cli.ts', ...args], { cwd: process.cwd(), env: { ...process.env, VEIL_DATA_DIR: '/nonexistent-unused' } });
      return { ...r, code: 0 };
    } catch (e) {
      const x = e as { stdout: string; stderr: string; code: number };
      return { stdout: x.stdout, stderr: x.stderr, code: x.code };
    }
  }

  async function resetInput(username: string, version: number) {
    const identity = await keyPairs();
    const device = await newDevice(username, 'fresh start');
    const sig = await signed(identity.signing, resetMessage({ realm: REALM, username, version, signingKey: identity.signing.publicKey, encryptionKey: identity.encryption.publicKey }));
    return {
      identity,
      device,
      vars: (code: string, bundle: KeyBundleInput) => ({
        u: username,
        r: code,
        i: { version, signingKey: base64urlEncode(identity.signing.publicKey), encryptionKey: base64urlEncode(identity.encryption.publicKey), signature: sig },
        d: device.input,
        b: bundle,
      }),
    };
  }

  it('the operator issues a code; the user starts over with new keys and a new device; everything old is revoked or deleted', { timeout: 60_000 }, async () => {
    const { u, backup } = await withBackup('reset');
    const oldDeviceToken = ok(await deviceLogin(t, u.username, u.device.id, u.device.signing)).login.token;
    // An open socket of the old device: the reset revokes the device, so it must close (4403).
    const oldSocket = await openRawSocket(t.gateway.url.replace(/^http/, 'ws'), { token: oldDeviceToken });
    const issued = await cli(u.username, '--data-dir', t.dataDir);
    expect(issued.code).toBe(0);
    const code = issued.stdout.trim();
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(issued.stderr).toContain(u.username);
    expect(issued.stderr).not.toContain(code);

    const r = await resetInput(u.username, 2);
    // A reset starts a new bundle history: revision 1 whatever was stored (the resetting
    // client has no session to read the stored revision with).
    expect(await bundleRevision(t, u.token)).toBe(2);
    const rev = 1;
    const bundle = await bundleFor(u.id, rev, [r.device.encryption]);
    // Wrong or malformed codes, unknown users, old recipients, bad signatures: refused, nothing used.
    await refused('RESET_CODE_INVALID', () => t.gql(RESET, r.vars(base64urlEncode(nodeBackend.randomBytes(32)), bundle)));
    const ghost = uname('ghost');
    await refused('RESET_CODE_INVALID', async () => t.gql(RESET, (await resetInput(ghost, 2)).vars(code, bundle)));
    await refused('BAD_USER_INPUT', () => t.gql(RESET, r.vars('short', bundle)));
    await refused('BUNDLE_RECIPIENTS_MISMATCH', async () => t.gql(RESET, r.vars(code, await bundleFor(u.id, rev, [r.device.encryption, u.device.encryption, backup.encryption]))));
    await refused('STALE_KEY_BUNDLE', async () => t.gql(RESET, r.vars(code, await bundleFor(u.id, 3, [r.device.encryption]))));
    const badVersion = await resetInput(u.username, 3);
    await refused('BAD_USER_INPUT', () => t.gql(RESET, badVersion.vars(code, bundle)));
    const other = await resetInput(u.username, 2);
    await refused('BAD_KEY_SIGNATURE', () => t.gql(RESET, { ...r.vars(code, bundle), i: { ...r.vars(code, bundle).i, signature: other.vars(code, bundle).i.signature } }));

    const s = ok(await t.gql<{ resetAccount: { token: string; user: { id: string; signingKey: string }; device: { id: string; status: string; current: boolean } } }>(RESET, r.vars(code, bundle))).resetAccount;
    expect(s.user).toEqual({ id: u.id, signingKey: base64urlEncode(r.identity.signing.publicKey) });
    expect(s.device).toMatchObject({ status: 'ACTIVE', current: true });
    const versions = ok(await t.gql<{ keyDirectory: { versions: { version: number; reset: boolean; signature: string }[] } }>(DIRECTORY, { u: u.username })).keyDirectory.versions;
    expect(versions.map((v) => [v.version, v.reset, base64urlDecode(v.signature).length])).toEqual([
      [1, false, 64],
      [2, true, 64],
    ]);
    const list = ok(await t.gql<{ myDevices: { id: string; status: string }[] }>(MY_DEVICES, {}, s.token)).myDevices;
    expect(list.map((d) => [d.id, d.status])).toEqual([
      [s.device.id, 'ACTIVE'],
      [u.device.id, 'REVOKED'],
    ]);
    expect(ok(await t.gql<{ myBackups: unknown[] }>(MY_BACKUPS, {}, s.token)).myBackups).toEqual([]);
    expect(await bundleRevision(t, s.token)).toBe(rev);
    // The old device's session ended, on HTTP and on its open socket; the code is used up.
    expect(codes(await t.gql('{ me { id } }', {}, oldDeviceToken))).toEqual(['UNAUTHENTICATED']);
    expect((await within(oldSocket.closed, 'the revoked device’s socket to close')).code).toBe(4403);
    const again = await resetInput(u.username, 3);
    await refused('RESET_CODE_INVALID', async () => t.gql(RESET, again.vars(code, await bundleFor(u.id, 1, [again.device.encryption]))));
  });

  it('an expired code is RESET_CODE_INVALID; the CLI refuses unknown users and bad arguments', { timeout: 60_000 }, async () => {
    const u = await registerAndLogin(t, uname('resetexp'));
    const code = (await cli(u.username, '--data-dir', t.dataDir)).stdout.trim();
    sqlite(t.dataDir, 'UPDATE "AccountReset" SET "expiresAt" = ? WHERE "userId" = ?', new Date(Date.now() - 1000).toISOString(), u.id);
    const r = await resetInput(u.username, 2);
    await refused('RESET_CODE_INVALID', async () => t.gql(RESET, r.vars(code, await bundleFor(u.id, 1, [r.device.encryption]))));
    expect(await t.gateway.store.purgeExpiredAccountResets(new Date())).toBe(1);

    const unknown = await cli(uname('ghost'), '--data-dir', t.dataDir);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toBe('');
    expect((await cli()).code).toBe(2);
    expect((await cli('a', 'b')).code).toBe(2);
    expect((await cli('Not_A_Name')).code).toBe(2);
    expect((await cli(u.username, '--data-dir', t.dataDir, '--database-url', 'postgres://x')).code).toBe(2);
  });
});
