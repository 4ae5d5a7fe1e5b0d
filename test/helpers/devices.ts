/**
 * Test helpers for devices, key bundles and backups (src/server/services/sign-in/devices.graphql), built with the
 * real crypto the way a client builds them: device proofs, bundles sealed at the account's
 * bundle location with their key wrapped to several recipients, backup keys and messages.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { backupMessage, deviceMessage, type BackupKdf, type BackupKind } from '../../src/crypto/account-messages.js';
import { signKeyVersion } from '../../src/crypto/key-directory.js';
import { loginMessage, registrationMessage, type AuthPurpose } from '../../src/crypto/auth-messages.js';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { base64urlDecode, base64urlEncode } from '../../src/crypto/base64url.js';
import { sealEnvelopeText } from '../../src/crypto/envelope.js';
import { generateEncryptionKeyPair, generateSigningKeyPair, generateSymmetricKey, keyIdOf, type EncryptionKeyPair, type SigningKeyPair, type SymmetricKey } from '../../src/crypto/keys.js';
import type { Location } from '../../src/crypto/location.js';
import { wrapKey, wrappedKeyToText } from '../../src/crypto/wrap.js';
import { bundleKeyLocation, keyBundleLocation } from '../../src/privacy/account-locations.js';
import { expect } from 'vitest';
import { login, type GqlResponse, type TestGateway, type TestUser } from './gateway.js';
import { snapshotTables } from './sqlite-snapshot.js';

export const REALM = 'veilgraph';

export interface KeyPairs {
  readonly signing: SigningKeyPair;
  readonly encryption: EncryptionKeyPair;
}

export interface NewDevice extends KeyPairs {
  readonly name: string;
  /** NewDeviceInput, signed for `username`. */
  readonly input: { name: string; signingKey: string; encryptionKey: string; signature: string };
}

export interface TestDevice extends NewDevice {
  readonly id: string;
}

export interface DeviceUser extends TestUser {
  readonly device: TestDevice;
}

export interface KeyBundleInput {
  revision: number;
  bundle: string;
  wrappedKey: string;
}

export async function keyPairs(): Promise<KeyPairs> {
  return { signing: await generateSigningKeyPair(nodeBackend), encryption: await generateEncryptionKeyPair(nodeBackend) };
}

export function codes(r: GqlResponse): (string | undefined)[] {
  return (r.errors ?? []).map((e) => e.extensions?.code);
}

export function ok<T>(r: GqlResponse<T>): T {
  if (r.errors || !r.data) throw new Error(JSON.stringify(r.errors));
  return r.data;
}

/** A new device's keys and its signed NewDeviceInput for `username`. */
export async function newDevice(username: string, name = 'laptop', keys?: KeyPairs): Promise<NewDevice> {
  const { signing, encryption } = keys ?? (await keyPairs());
  const signature = await nodeBackend.ed25519Sign(signing.seed, deviceMessage({ realm: REALM, username, name, signingKey: signing.publicKey, encryptionKey: encryption.publicKey }));
  return {
    name,
    signing,
    encryption,
    input: { name, signingKey: base64urlEncode(signing.publicKey), encryptionKey: base64urlEncode(encryption.publicKey), signature: base64urlEncode(signature) },
  };
}

/** A RegisterInput (fresh identity keys) for `username`, with `device` when given. */
export async function registration(username: string, device?: NewDevice): Promise<{ identity: KeyPairs; input: Record<string, unknown> }> {
  const identity = await keyPairs();
  const sig = await nodeBackend.ed25519Sign(
    identity.signing.seed,
    registrationMessage({ realm: REALM, username, signingKey: identity.signing.publicKey, encryptionKey: identity.encryption.publicKey }),
  );
  const input = {
    username,
    signingKey: base64urlEncode(identity.signing.publicKey),
    encryptionKey: base64urlEncode(identity.encryption.publicKey),
    signature: base64urlEncode(sig),
    ...(device ? { device: device.input } : {}),
  };
  return { identity, input };
}

const REGISTER = 'mutation R($i: RegisterInput!) { register(input: $i) { id } }';
export const MY_DEVICES = 'query { myDevices { id name status signingKey encryptionKey current createdAt approvedAt revokedAt lastSeenAt } }';

/** Registers `username` with a first device, and logs in with the identity key. */
export async function registerWithDevice(t: TestGateway, username: string): Promise<DeviceUser> {
  const device = await newDevice(username, `${username}'s first device`);
  const { identity, input } = await registration(username, device);
  const id = ok(await t.gql<{ register: { id: string } }>(REGISTER, { i: input })).register.id;
  const token = await login(t, username, identity.signing);
  const devices = ok(await t.gql<{ myDevices: { id: string }[] }>(MY_DEVICES, {}, token)).myDevices;
  return { id, username, token, ...identity, vault: generateSymmetricKey(nodeBackend), device: { ...device, id: devices[0]!.id } };
}

export async function challenge(t: TestGateway, username: string, purpose: AuthPurpose = 'LOGIN'): Promise<string> {
  const r = await t.gql<{ challenge: { challenge: string } }>('mutation C($u: String!, $p: ChallengePurpose!) { challenge(username: $u, purpose: $p) { challenge } }', { u: username, p: purpose });
  return ok(r).challenge.challenge;
}

export const LOGIN = 'mutation L($u: String!, $c: String!, $s: String!, $d: ID) { login(username: $u, challenge: $c, signature: $s, device: $d) { token expiresAt user { id } device { id name status current lastSeenAt } } }';

/** A login signed by `signer` (the device's key), for `deviceId`; with `ch`, that challenge. */
export async function deviceLogin(t: TestGateway, username: string, deviceId: string | null, signer: SigningKeyPair, ch?: string) {
  const c = ch ?? (await challenge(t, username));
  const s = await nodeBackend.ed25519Sign(signer.seed, loginMessage({ realm: REALM, username, purpose: 'LOGIN', challenge: base64urlDecode(c) }));
  return t.gql<{ login: { token: string; device: { id: string; status: string; current: boolean; lastSeenAt: string | null } | null } }>(LOGIN, {
    u: username,
    c,
    s: base64urlEncode(s),
    d: deviceId,
  });
}

export interface BundleOptions {
  /** Where the bundle is sealed (default: the account's bundle location). */
  readonly bundleAt?: Location;
  /** Where the key is wrapped (default: the account's bundle key location). */
  readonly wrapAt?: Location;
  /** The key the wrap carries, when it should differ from the sealing key. */
  readonly wrapKeyOverride?: SymmetricKey;
  readonly signer?: SigningKeyPair;
  readonly plaintext?: string;
}

/** A key bundle as a client makes one: sealed under a new key of version `revision`, wrapped to `recipients`. */
export async function bundleFor(userId: string, revision: number, recipients: readonly EncryptionKeyPair[] | readonly Uint8Array[], o: BundleOptions = {}): Promise<KeyBundleInput> {
  const key: SymmetricKey = { id: nodeBackend.randomBytes(16), version: revision, bytes: nodeBackend.randomBytes(32) };
  const bundle = sealEnvelopeText(nodeBackend, key, o.bundleAt ?? keyBundleLocation(userId), o.plaintext ?? JSON.stringify({ revision, secrets: 'not really' }));
  const publicKeys = recipients.map((r) => (r instanceof Uint8Array ? r : r.publicKey));
  const wrapped = await wrapKey(
    nodeBackend,
    o.wrapKeyOverride ?? key,
    o.wrapAt ?? bundleKeyLocation(userId),
    publicKeys.map((publicKey) => ({ keyId: keyIdOf(nodeBackend, 'x25519', publicKey), publicKey })),
    o.signer,
  );
  return { revision, bundle, wrappedKey: wrappedKeyToText(wrapped) };
}

export const MY_BUNDLE = 'query { myKeyBundle { revision bundle wrappedKey updatedAt } }';

export async function bundleRevision(t: TestGateway, token: string): Promise<number> {
  return ok(await t.gql<{ myKeyBundle: { revision: number } | null }>(MY_BUNDLE, {}, token)).myKeyBundle?.revision ?? 0;
}

export const PUT_BUNDLE = 'mutation P($b: KeyBundleInput!) { putKeyBundle(keyBundle: $b) { revision bundle wrappedKey updatedAt } }';

export interface BackupKeys extends KeyPairs {
  readonly kind: BackupKind;
  readonly kdf: BackupKdf;
}

export function passwordKdf(salt = base64urlEncode(nodeBackend.randomBytes(16))): BackupKdf {
  return { algorithm: 'argon2id', salt, memoryKiB: 19456, iterations: 2, parallelism: 1 };
}

export const PHRASE_KDF: BackupKdf = { algorithm: 'bip39', salt: '', memoryKiB: 0, iterations: 0, parallelism: 0 };

/** A backup's keys (random here: what a phrase or password would derive) and KDF. */
export async function backupKeys(kind: BackupKind, kdf: BackupKdf = kind === 'PHRASE' ? PHRASE_KDF : passwordKdf()): Promise<BackupKeys> {
  return { kind, kdf, ...(await keyPairs()) };
}

/** BackupInput for `username`, signed by the backup's auth key (or `signer`). */
export async function backupInput(username: string, b: BackupKeys, signer: SigningKeyPair = b.signing): Promise<Record<string, unknown>> {
  const m = backupMessage({ realm: REALM, username, kind: b.kind, authKey: b.signing.publicKey, encryptionKey: b.encryption.publicKey, kdf: b.kdf });
  return {
    kind: b.kind,
    authKey: base64urlEncode(b.signing.publicKey),
    encryptionKey: base64urlEncode(b.encryption.publicKey),
    kdf: b.kdf,
    signature: base64urlEncode(await nodeBackend.ed25519Sign(signer.seed, m)),
  };
}

export const PUT_BACKUP = 'mutation B($i: BackupInput!, $b: KeyBundleInput!) { putBackup(backup: $i, keyBundle: $b) { kind createdAt kdf { algorithm salt memoryKiB iterations parallelism } } }';

/** Tables every device, bundle and backup mutation may touch. */
export const ACCOUNT_TABLES = ['User', 'UserKey', 'Device', 'KeyBundle', 'Backup', 'AccountReset', 'ObjectKey', 'EpochKey', 'UsedChallenge'] as const;

/** Runs a request that must be refused with `code`, and checks that it changed no row of ACCOUNT_TABLES. */
export async function expectRefused(t: TestGateway, code: string, request: () => Promise<GqlResponse>): Promise<GqlResponse> {
  const before = snapshotTables(t.dataDir, ACCOUNT_TABLES);
  const r = await request();
  expect(codes(r), JSON.stringify(r.errors)).toEqual([code]);
  expect(snapshotTables(t.dataDir, ACCOUNT_TABLES), 'a refused request changed rows').toEqual(before);
  return r;
}

/** Runs SQL on a running gateway's SQLite file from outside (to age a row, say). */
export function sqlite(dataDir: string, sql: string, ...params: unknown[]): void {
  const db = new Database(join(dataDir, 'veilgraph.db'));
  try {
    db.pragma('busy_timeout = 10000');
    db.prepare(sql).run(...params);
  } finally {
    db.close();
  }
}

/** Device names the gateway refuses (docs/auth.md §12), each with why. */
export const REFUSED_DEVICE_NAMES: readonly (readonly [string, string])[] = [
  ['right-to-left override', 'phone\u202Egnp.exe'],
  ['left-to-right embedding', '\u202Aphone'],
  ['first strong isolate', 'phone \u2068x\u2069'],
  ['right-to-left mark', 'phone\u200F'],
  ['Arabic letter mark', 'phone\u061C'],
  ['zero-width space', 'pho\u200Bne'],
  ['zero-width joiner', 'pho\u200Dne'],
  ['zero-width non-joiner', 'pho\u200Cne'],
  ['word joiner', 'pho\u2060ne'],
  ['byte order mark', '\uFEFFphone'],
  ['soft hyphen', 'pho\u00ADne'],
  ['tag characters', 'phone\u{E0041}'],
  ['Hangul filler (invisible)', 'phone\u3164'],
  ['combining grapheme joiner', 'pho\u034Fne'],
  ['private use', 'phone\uE000'],
  ['control character', 'bell\u0007'],
  ['tab', 'tab\there'],
  ['line separator', 'line\u2028sep'],
  ['not NFKC: full-width letters', 'ｐｈｏｎｅ'],
  ['not NFKC: decomposed é', 'te\u0301le\u0301phone'],
  ['not NFKC: ligature', 'ﬁle server'],
  ['leading space', ' phone'],
  ['trailing space', 'phone '],
  ['only a space', ' '],
  ['empty', ''],
  ['65 code points', 'x'.repeat(65)],
  ['a variation selector alone', '\uFE0F'],
  ['variation selectors stacked', 'a' + '\uFE0F'.repeat(40)],
  ['a variation selector after a space', 'a \uFE0F b'],
  ['braille pattern blank', '\u2800'],
  ['braille blanks as spaces', 'phone\u2800\u2800\u2800\u2800(Alice)'],
  ['combining marks only', '\u0301\u0301\u0301'],
  ['a combining mark after a space', 'a \u0301b'],
  ['combining marks stacked ("zalgo")', '\u00E0\u0301\u0302\u0303\u0304\u0305'],
];

/** The identity rotation of `username` to version `version`, signed by `current` and new keys. */
export async function rotation(username: string, version: number, current: SigningKeyPair): Promise<{ next: KeyPairs; input: Record<string, unknown> }> {
  const next = await keyPairs();
  const statement = { realm: REALM, username, version, previousSigningKey: current.publicKey, signingKey: next.signing.publicKey, encryptionKey: next.encryption.publicKey };
  const signature = await signKeyVersion(nodeBackend, statement, current.seed, next.signing.seed);
  return { next, input: { version, signingKey: base64urlEncode(next.signing.publicKey), encryptionKey: base64urlEncode(next.encryption.publicKey), signature: base64urlEncode(signature) } };
}

export const REQUEST_LINK = 'mutation Q($u: String!, $d: NewDeviceInput!) { requestDeviceLink(username: $u, device: $d) { id name status current createdAt approvedAt revokedAt lastSeenAt } }';
export const APPROVE = 'mutation A($id: ID!, $b: KeyBundleInput!) { approveDevice(deviceId: $id, keyBundle: $b) { id status approvedAt current } }';
export const REVOKE = 'mutation V($id: ID!, $i: RotateIdentityKeysInput!, $b: KeyBundleInput!) { revokeDevice(deviceId: $id, identity: $i, keyBundle: $b) { id status revokedAt } }';

/**
 * A second ACTIVE device of `u` (registered with one device and no bundle yet), linked and
 * approved through the API as a client does it: the bundle at revision 1 for the first
 * device, then revision 2 for both.
 */
export async function linkSecondDevice(t: TestGateway, u: DeviceUser): Promise<TestDevice> {
  ok(await t.gql(PUT_BUNDLE, { b: await bundleFor(u.id, 1, [u.device.encryption]) }, u.token));
  const d = await newDevice(u.username, 'phone');
  const id = ok(await t.gql<{ requestDeviceLink: { id: string } }>(REQUEST_LINK, { u: u.username, d: d.input })).requestDeviceLink.id;
  ok(await t.gql(APPROVE, { id, b: await bundleFor(u.id, 2, [u.device.encryption, d.encryption]) }, u.token));
  return { ...d, id };
}

/** Revokes the second device of linkSecondDevice() through the API (identity version 2, bundle revision 3 for the first device). */
export async function revokeSecondDevice(t: Pick<TestGateway, 'gql'>, u: DeviceUser, second: TestDevice): Promise<void> {
  const rot = await rotation(u.username, 2, u.signing);
  ok(await t.gql(REVOKE, { id: second.id, i: rot.input, b: await bundleFor(u.id, 3, [u.device.encryption]) }, u.token));
}
