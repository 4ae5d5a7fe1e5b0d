/**
 * @module
 * An account across devices (docs/devices.md). Portable: no `node:` imports.
 *
 * The user's secrets (identity keys, every vault key version, the X25519 keys of earlier
 * identity versions) form one *key bundle*. The server stores it sealed under a fresh
 * bundle key that is wrapped for every device and every backup; it can open neither.
 * Everything here is an edit of that bundle, sent together with the change it goes with
 * in one mutation, so that the server's view (which devices and backups exist) and the
 * bundle's recipients never disagree:
 *
 * - `Account.create`: identity, first device, first bundle.
 * - `backupWithPhrase` / `backupWithPassword` / `changePassword` / `deleteBackup`: a
 *   backup is one more recipient, whose X25519 key is derived from the phrase or password.
 * - `Account.restoreWithPhrase` / `restoreWithPassword`: open the backup's copy of the
 *   bundle, add this device as a recipient, sign in as it.
 * - `Account.requestLink` (new device) + `approveDevice` (existing device, after the user
 *   compared the code both show): the existing device adds the new one as a recipient.
 * - `rotateIdentityKeys` / `revokeDevice`: new identity keys and a new vault key version,
 *   the bundle without the revoked device, one transaction; then `rewrapStaleKeys`
 *   re-wraps every data key and conversation key addressed to the old key.
 * - `resume`: finishes whatever an interrupted run left (a rotation sent but not
 *   confirmed, keys not yet re-wrapped, a newer bundle from another device).
 *
 * The recipients come from the bundle the device opened, never from the server: a server
 * cannot add a key of its own to the bundle. The bundle's revision only goes up: a device
 * refuses an older bundle than the one it holds (`BUNDLE_ROLLBACK`).
 */
import type { CryptoBackend } from '../crypto/backend.js';
import { base64urlDecode, base64urlEncode } from '../crypto/base64url.js';
import { backupMessage, recoverMessage, resetMessage, type BackupKdf, type BackupKind } from '../crypto/account-messages.js';
import { AuthPurpose, DEFAULT_REALM, loginMessage } from '../crypto/auth-messages.js';
import { equalBytes } from '../crypto/bytes.js';
import { isCryptoError } from '../crypto/errors.js';
import { signKeyVersion } from '../crypto/key-directory.js';
import {
  encryptionKeyPairFromPrivate,
  generateEncryptionKeyPair,
  generateSigningKeyPair,
  generateSymmetricKey,
  keyIdOf,
  rotateSymmetricKey,
  signingKeyPairFromSeed,
  type EncryptionKeyPair,
  type SigningKeyPair,
} from '../crypto/keys.js';
import { backupKeysFromPassword, backupKeysFromPhrase, deviceLinkCode, generateRecoveryPhrase, newPasswordKdf, parseRecoveryPhrase, type BackupKeys } from '../crypto/recovery.js';
import { unwrapKey, wrapKey, wrappedKeyToText, parseWrappedKey } from '../crypto/wrap.js';
import { decodeKeyBundle, encodeKeyBundle, openKeyBundle, sealKeyBundle, type KeyBundleContent, type KeyBundleRecipient } from '../privacy/key-bundle.js';
import { epochKeyLocation } from '../privacy/messaging-locations.js';
import {
  ACCOUNT_KEY_NAMES,
  cleanup,
  hasPrivateKey,
  loadAccountUser,
  loadLocalBundle,
  readJson,
  saveLocalBundle,
  writeJson,
  type AccountUser,
} from './account-store.js';
import { DataKeyClientKeys, graphqlDataKeyTransport } from './data-keys.js';
import { KeyDirectory, graphqlDirectoryTransport } from './directory.js';
import { generateDevice, loadDevice, saveDevice, signedDeviceInput, type LocalDevice } from './device-keys.js';
import type { KeyStore } from './keystore.js';
import { TokenCache } from './token-cache.js';
import { SessionError, fetchChallenge, graphqlRequest, isSessionError, registerKeys, signIn, type LoginResult, type SessionOptions } from './session.js';

export { cleanup, hasPrivateKey };

export interface AccountOptions extends SessionOptions {
  /** The gateway's GraphQL endpoint (`http://127.0.0.1:4000/graphql`). */
  readonly endpoint: string;
  readonly backend: CryptoBackend;
  /** Where this device keeps its keys (FileKeyStore, IndexedDbKeyStore, MemoryKeyStore). */
  readonly keystore: KeyStore;
  /** The server's realm (default "veilgraph"). */
  readonly realm?: string;
  /** Clock in Unix milliseconds (key ages, token refresh). */
  readonly now?: () => number;
}

export interface DeviceInfo {
  readonly id: string;
  readonly name: string;
  readonly status: 'PENDING' | 'ACTIVE' | 'REVOKED';
  readonly current: boolean;
  readonly createdAt: string;
  readonly lastSeenAt: string | null;
  readonly revokedAt: string | null;
  /** The code the device shows while linking (compare it before approving). */
  readonly code: string;
  readonly signingKey: Uint8Array;
  readonly encryptionKey: Uint8Array;
}

export interface BackupInfo {
  readonly kind: BackupKind;
  readonly kdf: BackupKdf;
  readonly createdAt: string;
}

export interface RewrapReport {
  /** Keys re-wrapped to the current X25519 key. */
  readonly rewrapped: number;
  /** Keys addressed to a key this account no longer has (after a reset): lost. */
  readonly unopenable: number;
}

export interface RotationReport extends RewrapReport {
  /** The new directory version. */
  readonly identityVersion: number;
  readonly vaultVersion: number;
}

/** Shortest password `backupWithPassword` accepts. Argon2id makes each guess cost, it cannot make a short password long. */
export const MIN_BACKUP_PASSWORD_LENGTH = 10;
/** A device key store can rotate at most this many identity versions' worth of old X25519 keys in one bundle. */
const REWRAP_PAGE = 200;

interface StoredBundle {
  readonly revision: number;
  readonly bundle: string;
  readonly wrappedKey: string;
}

interface PendingRotation {
  readonly op: 'rotate' | 'revoke';
  readonly deviceId?: string;
  /** base64url of the encoded bundle content the rotation installs. */
  readonly content: string;
  readonly identity: { version: number; signingKey: string; encryptionKey: string; signature: string };
}

const BUNDLE_FIELDS = 'revision bundle wrappedKey';
const DEVICE_FIELDS = 'id name status current createdAt lastSeenAt revokedAt signingKey encryptionKey';
const Q = {
  myDevices: `query VgMyDevices { myDevices { ${DEVICE_FIELDS} } }`,
  myKeyBundle: `query VgMyKeyBundle { myKeyBundle { ${BUNDLE_FIELDS} } }`,
  myBackups: 'query VgMyBackups { myBackups { kind createdAt kdf { algorithm salt memoryKiB iterations parallelism } } }',
  putKeyBundle: `mutation VgPutKeyBundle($b: KeyBundleInput!) { putKeyBundle(keyBundle: $b) { revision } }`,
  putBackup: 'mutation VgPutBackup($i: BackupInput!, $b: KeyBundleInput!) { putBackup(backup: $i, keyBundle: $b) { kind } }',
  deleteBackup: 'mutation VgDeleteBackup($k: BackupKind!, $b: KeyBundleInput!) { deleteBackup(kind: $k, keyBundle: $b) }',
  backupParameters: 'query VgBackupParameters($u: String!, $k: BackupKind!) { backupParameters(username: $u, kind: $k) { algorithm salt memoryKiB iterations parallelism } }',
  openBackup: `mutation VgOpenBackup($u: String!, $k: BackupKind!, $c: String!, $s: String!) { openBackup(username: $u, kind: $k, challenge: $c, signature: $s) { userId keyBundle { ${BUNDLE_FIELDS} } } }`,
  recoverAccount:
    'mutation VgRecover($u: String!, $k: BackupKind!, $c: String!, $s: String!, $d: NewDeviceInput!, $b: KeyBundleInput!) { recoverAccount(username: $u, kind: $k, challenge: $c, signature: $s, device: $d, keyBundle: $b) { token expiresAt user { id } device { id } } }',
  requestDeviceLink: 'mutation VgRequestLink($u: String!, $d: NewDeviceInput!) { requestDeviceLink(username: $u, device: $d) { id } }',
  deviceLinkStatus: 'query VgLinkStatus($id: ID!) { deviceLinkStatus(deviceId: $id) }',
  approveDevice: 'mutation VgApprove($id: ID!, $b: KeyBundleInput!) { approveDevice(deviceId: $id, keyBundle: $b) { id status } }',
  rejectDevice: 'mutation VgReject($id: ID!) { rejectDevice(deviceId: $id) }',
  rotate: 'mutation VgRotate($i: RotateIdentityKeysInput!, $b: KeyBundleInput) { rotateIdentityKeys(input: $i, keyBundle: $b) { version } }',
  revoke: 'mutation VgRevoke($id: ID!, $i: RotateIdentityKeysInput!, $b: KeyBundleInput!) { revokeDevice(deviceId: $id, identity: $i, keyBundle: $b) { id status } }',
  stale: 'query VgStale($n: Int!) { staleWrappedKeys(first: $n) { dataKeys { objectType objectId ownerId keyVersion wrapped } epochKeys { conversationId epoch wrapped } } }',
  rewrap: 'mutation VgRewrap($d: [RewrappedDataKeyInput!]!, $e: [RewrappedEpochKeyInput!]!) { rewrapMyKeys(dataKeys: $d, epochKeys: $e) }',
  resetAccount:
    'mutation VgReset($u: String!, $r: String!, $i: ResetIdentityInput!, $d: NewDeviceInput!, $b: KeyBundleInput!) { resetAccount(username: $u, resetCode: $r, identity: $i, device: $d, keyBundle: $b) { token expiresAt user { id } device { id } } }',
  resetTarget: 'query VgResetTarget($u: String!) { user(username: $u) { id } keyDirectory(username: $u) { versions { version } } }',
} as const;

function nowIso(now: () => number): string {
  return new Date(now()).toISOString();
}

function bytesOf(text: string, what: string): Uint8Array {
  try {
    return base64urlDecode(text);
  } catch (e) {
    throw new SessionError('BAD_RESPONSE', `${what} is not base64url`, { cause: e });
  }
}

function deviceRecipient(backend: CryptoBackend, device: { name: string; encryptionKey: Uint8Array }): KeyBundleRecipient {
  return { kind: 'DEVICE', id: base64urlEncode(keyIdOf(backend, 'x25519', device.encryptionKey)), name: device.name, encryptionKey: device.encryptionKey };
}

function backupRecipient(kind: BackupKind, keys: BackupKeys): KeyBundleRecipient {
  return { kind, id: kind, encryptionKey: keys.encryption.publicKey };
}

function normalizeCode(code: string): string {
  return code.replace(/\s+/g, '');
}

/** The bundle a device installs after `change`: same secrets, next revision. */
function nextRevision(content: KeyBundleContent, change: Partial<KeyBundleContent>): KeyBundleContent {
  return { ...content, ...change, revision: content.revision + 1 };
}

async function sealed(backend: CryptoBackend, content: KeyBundleContent): Promise<{ revision: number; bundle: string; wrappedKey: string }> {
  const s = await sealKeyBundle(backend, content);
  return { revision: content.revision, bundle: s.bundle, wrappedKey: s.wrappedKey };
}

export interface Ctx {
  readonly endpoint: string;
  readonly backend: CryptoBackend;
  readonly keystore: KeyStore;
  readonly realm: string;
  readonly now: () => number;
  readonly session: SessionOptions;
}

function ctxOf(o: AccountOptions): Ctx {
  return {
    endpoint: o.endpoint,
    backend: o.backend,
    keystore: o.keystore,
    realm: o.realm ?? DEFAULT_REALM,
    now: o.now ?? Date.now,
    session: { ...(o.fetch ? { fetch: o.fetch } : {}), ...(o.headers ? { headers: o.headers } : {}) },
  };
}

async function gql<T>(c: Ctx, query: string, variables: Record<string, unknown>, token?: string): Promise<T> {
  return graphqlRequest<T>(c.endpoint, query, variables, { ...c.session, ...(token ? { token } : {}) });
}

/** Signs in as this account's device (its own key; the session belongs to the device). */
function deviceSignIn(c: Ctx, username: string, device: LocalDevice): Promise<LoginResult> {
  return signIn(c.endpoint, username, device.signing.seed, c.backend, c.realm, { ...c.session, deviceId: device.id });
}

function sessionOf(s: { token?: unknown; expiresAt?: unknown; user?: { id?: unknown } } | undefined, what: string): LoginResult {
  if (typeof s?.token !== 'string' || typeof s.user?.id !== 'string') throw new SessionError('BAD_RESPONSE', `${what} returned no session`);
  return { token: s.token, expiresAt: typeof s.expiresAt === 'string' ? s.expiresAt : '', userId: s.user.id };
}

async function refuseExisting(keystore: KeyStore): Promise<void> {
  if ((await loadAccountUser(keystore)) || (await hasPrivateKey(keystore))) {
    throw new SessionError('IDENTITY_EXISTS', 'this key store already holds an account: use Account.open, or cleanup() first');
  }
}

async function backupKeysFor(c: Ctx, username: string, kind: BackupKind, secret: string): Promise<BackupKeys> {
  if (kind === 'PHRASE') {
    let phrase: string;
    try {
      phrase = parseRecoveryPhrase(secret);
    } catch (e) {
      throw new SessionError('INVALID_PHRASE', e instanceof Error ? e.message : 'not a recovery phrase', { cause: e });
    }
    return backupKeysFromPhrase(c.backend, phrase);
  }
  if (typeof secret !== 'string' || secret.length === 0) throw new SessionError('RECOVERY_FAILED', 'the password is empty');
  const r = await gql<{ backupParameters?: BackupKdf }>(c, Q.backupParameters, { u: username, k: 'PASSWORD' });
  if (!r.backupParameters) throw new SessionError('BAD_RESPONSE', 'backupParameters returned nothing');
  try {
    return await backupKeysFromPassword(c.backend, secret, r.backupParameters);
  } catch (e) {
    // assertBackupKdf: parameters a client must not run (too weak, or absurdly costly).
    if (isCryptoError(e, 'INVALID_ARGUMENT')) throw new SessionError('BAD_RESPONSE', `the server's backup parameters are not acceptable: ${e.message}`, { cause: e });
    throw e;
  }
}

function recoveryFailed(e: unknown, kind: BackupKind, username: string): unknown {
  if (isSessionError(e) && e.code === 'LOGIN_FAILED') {
    const what = kind === 'PHRASE' ? 'recovery phrase' : 'password';
    return new SessionError('RECOVERY_FAILED', `this ${what} does not open a backup of ${username}`, { cause: e });
  }
  return e;
}

/** The signed-in account on this device. */
export class Account {
  readonly #c: Ctx;
  readonly userId: string;
  readonly username: string;
  #device: LocalDevice;
  #bundle: KeyBundleContent;
  #directory: KeyDirectory | undefined;
  readonly #tokens: TokenCache;

  private constructor(c: Ctx, user: AccountUser, device: LocalDevice, bundle: KeyBundleContent, session?: LoginResult) {
    this.#c = c;
    this.userId = user.userId;
    this.username = user.username;
    this.#device = device;
    this.#bundle = bundle;
    this.#tokens = new TokenCache(() => this.#signIn(), { now: c.now, ...(session ? { initial: session } : {}) });
  }

  /** This device's server id. */
  get deviceId(): string {
    return this.#device.id!;
  }

  /** The bundle this device holds (secrets included: never log it). */
  get keyBundle(): KeyBundleContent {
    return this.#bundle;
  }

  /** When the account was reset (every device and backup lost), or null: PRIVATE data from before is lost. */
  get resetAt(): string | null {
    return this.#bundle.resetAt;
  }

  toJSON(): { kind: 'Account'; username: string; userId: string } {
    return { kind: 'Account', username: this.username, userId: this.userId };
  }

  // ---------------------------------------------------------------------------------
  // Starting on a device.

  /**
   * Creates identity keys, this device's keys and the first bundle, registers `username`
   * and signs in as this device. The key store must be empty of accounts.
   */
  static async create(options: AccountOptions, username: string, { deviceName = 'first device' }: { deviceName?: string } = {}): Promise<Account> {
    const c = ctxOf(options);
    await refuseExisting(c.keystore);
    const { backend, realm } = c;
    const signing = await generateSigningKeyPair(backend);
    const encryption = await generateEncryptionKeyPair(backend);
    let device = await generateDevice(backend, deviceName);
    const { userId } = await registerKeys(c.endpoint, username, signing, encryption, backend, realm, { ...c.session, device: await signedDeviceInput(backend, device, realm, username) });
    // The device's id is the server's: find it by its key (signed in with the identity key).
    const identitySession = await signIn(c.endpoint, username, signing.seed, backend, realm, c.session);
    const mine = await listDevices(c, identitySession.token);
    const found = mine.find((d) => equalBytes(d.signingKey, device.signing.publicKey));
    if (!found) throw new SessionError('BAD_RESPONSE', 'the registered device is not among the account devices');
    device = { ...device, id: found.id };
    const createdAt = nowIso(c.now);
    const content: KeyBundleContent = {
      userId,
      revision: 1,
      identity: { version: 1, signingSeed: signing.seed, encryptionPrivate: encryption.privateKey, createdAt },
      previousEncryption: [],
      vault: [{ key: generateSymmetricKey(backend), createdAt }],
      recipients: [deviceRecipient(backend, { name: device.name, encryptionKey: device.encryption.publicKey })],
      resetAt: null,
    };
    await gql(c, Q.putKeyBundle, { b: await sealed(backend, content) }, identitySession.token);
    const user = { userId, username };
    await persist(c.keystore, user, device, content);
    const account = new Account(c, user, device, content);
    await account.token();
    return account;
  }

  /** The account this key store holds: signs in as its device and finishes anything interrupted (`resume`). */
  static async open(options: AccountOptions): Promise<Account> {
    const c = ctxOf(options);
    const user = await loadAccountUser(c.keystore);
    const device = await loadDevice(c.keystore, c.backend);
    const bundle = await loadLocalBundle(c.keystore);
    if (!user || !device?.id || !bundle) throw new SessionError('IDENTITY_MISSING', 'this key store holds no account: create, restore or link one');
    const account = new Account(c, user, device, bundle);
    await account.resume();
    return account;
  }

  /** Restores the account on this device from its 24-word recovery phrase, as a new device. */
  static restoreWithPhrase(options: AccountOptions, username: string, phrase: string, opts: { deviceName?: string } = {}): Promise<Account> {
    return restore(ctxOf(options), username, 'PHRASE', phrase, opts.deviceName ?? 'restored device');
  }

  /** Restores the account on this device from its backup password, as a new device. */
  static restoreWithPassword(options: AccountOptions, username: string, password: string, opts: { deviceName?: string } = {}): Promise<Account> {
    return restore(ctxOf(options), username, 'PASSWORD', password, opts.deviceName ?? 'restored device');
  }

  /**
   * Asks to add this device to `username`'s account. Show `code` on this device; the user
   * approves on a device already signed in (`approveDevice`) after checking it shows the
   * same code; then `waitForApproval` signs in and installs the bundle.
   */
  static async requestLink(options: AccountOptions, username: string, { deviceName = 'new device' }: { deviceName?: string } = {}): Promise<DeviceLinkRequest> {
    const c = ctxOf(options);
    await refuseExisting(c.keystore);
    const device = await generateDevice(c.backend, deviceName);
    const r = await gql<{ requestDeviceLink?: { id?: unknown } }>(c, Q.requestDeviceLink, { u: username, d: await signedDeviceInput(c.backend, device, c.realm, username) });
    const id = r.requestDeviceLink?.id;
    if (typeof id !== 'string') throw new SessionError('BAD_RESPONSE', 'requestDeviceLink returned no device id');
    const linked = { ...device, id };
    await saveDevice(c.keystore, linked);
    await writeJson(c.keystore, ACCOUNT_KEY_NAMES.link, { username, deviceId: id });
    return new DeviceLinkRequest(c, username, linked);
  }

  /**
   * Starts over after every device and backup is lost, with the one-time code the operator
   * issued (`npm run account:reset -- <username>`). New identity keys (contacts are told of
   * a reset, not a verified change), a new vault: every PRIVATE value sealed before, and
   * every SHARED key wrapped only to the old keys, is lost — `resetAt` says since when.
   */
  static async reset(options: AccountOptions, username: string, resetCode: string, { deviceName = 'new device' }: { deviceName?: string } = {}): Promise<Account> {
    const c = ctxOf(options);
    await refuseExisting(c.keystore);
    const { backend, realm } = c;
    const found = await gql<{ user?: { id?: unknown } | null; keyDirectory?: { versions?: { version?: unknown }[] } | null }>(c, Q.resetTarget, { u: username });
    const userId = found.user?.id;
    const last = found.keyDirectory?.versions?.at(-1)?.version;
    if (typeof userId !== 'string' || typeof last !== 'number') throw new SessionError('NOT_FOUND', `no user ${username}`);
    const version = last + 1;
    const signing = await generateSigningKeyPair(backend);
    const encryption = await generateEncryptionKeyPair(backend);
    const signature = await backend.ed25519Sign(signing.seed, resetMessage({ realm, username, version, signingKey: signing.publicKey, encryptionKey: encryption.publicKey }));
    let device = await generateDevice(backend, deviceName);
    const createdAt = nowIso(c.now);
    // A reset starts a new bundle history: revision 1 (every device that held a later
    // revision is revoked by the reset).
    const content: KeyBundleContent = {
      userId,
      revision: 1,
      identity: { version, signingSeed: signing.seed, encryptionPrivate: encryption.privateKey, createdAt },
      previousEncryption: [],
      vault: [{ key: generateSymmetricKey(backend), createdAt }],
      recipients: [deviceRecipient(backend, { name: device.name, encryptionKey: device.encryption.publicKey })],
      resetAt: createdAt,
    };
    const r = await gql<{ resetAccount?: { token?: unknown; expiresAt?: unknown; user?: { id?: unknown }; device?: { id?: unknown } } }>(c, Q.resetAccount, {
      u: username,
      r: resetCode,
      i: { version, signingKey: base64urlEncode(signing.publicKey), encryptionKey: base64urlEncode(encryption.publicKey), signature: base64urlEncode(signature) },
      d: await signedDeviceInput(backend, device, realm, username),
      b: await sealed(backend, content),
    });
    const session = sessionOf(r.resetAccount, 'resetAccount');
    if (typeof r.resetAccount?.device?.id !== 'string') throw new SessionError('BAD_RESPONSE', 'resetAccount returned no device');
    device = { ...device, id: r.resetAccount.device.id };
    const user = { userId, username };
    await persist(c.keystore, user, device, content);
    return new Account(c, user, device, content, session);
  }

  /** For the factories below (the constructor stays private). */
  static fromParts(c: Ctx, user: AccountUser, device: LocalDevice, bundle: KeyBundleContent, session: LoginResult): Account {
    return new Account(c, user, device, bundle, session);
  }

  // ---------------------------------------------------------------------------------
  // Session.

  /**
   * A valid access token for this device: the last one until a fifth of its lifetime is left
   * (at most 60 s before expiry), then one new sign-in shared by every concurrent caller
   * (./token-cache.ts, docs/client.md).
   */
  token(): Promise<string> {
    return this.#tokens.token();
  }

  async #signIn(): Promise<LoginResult> {
    try {
      return await deviceSignIn(this.#c, this.username, this.#device);
    } catch (e) {
      if (isSessionError(e, 'DEVICE_REVOKED' as never)) throw new SessionError('DEVICE_REVOKED', 'this device was revoked: its keys no longer open new data', { cause: e });
      throw e;
    }
  }

  async #gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    return gql<T>(this.#c, query, variables, await this.token());
  }

  /**
   * The `ClientKeys` for the privacy link: PRIVATE under every vault version (the newest
   * seals), SHARED per object. Installs a newer bundle first (another device rotated): build
   * the link's keys again after `sync()` reports a change.
   */
  async clientKeys(): Promise<DataKeyClientKeys> {
    await this.sync();
    return clientKeysOf(this.#c, this.userId, this.#bundle, () => this.token());
  }

  /**
   * The key directory (docs/sharing.md), pinning in this account's key store: what the
   * privacy link checks signed values against (`createPrivacyLink({ directory })`) and what
   * `Sharing` and `Messenger` verify other users' keys with. One per account object; this
   * user's current signing key is trusted first hand (`KeyDirectory.trust`).
   */
  async keyDirectory(): Promise<KeyDirectory> {
    // Directory reads need no token, and none is sent: an expired one would fail the request.
    this.#directory ??= new KeyDirectory({
      backend: this.#c.backend,
      realm: this.#c.realm,
      keystore: this.#c.keystore,
      transport: graphqlDirectoryTransport(this.#c.endpoint, () => '', this.#c.session),
    });
    const { identity } = this.#bundle;
    this.#directory.trust({ userId: this.userId, username: this.username, version: identity.version, signingKey: await this.#c.backend.ed25519PublicKey(identity.signingSeed) });
    return this.#directory;
  }

  /** Installs the server's bundle when another device changed it; true when it did. */
  async sync(): Promise<boolean> {
    const before = this.#bundle.revision;
    await this.#pull();
    return this.#bundle.revision !== before;
  }

  /** The identity key pairs (signing the user's SHARED values and messages). */
  async identity(): Promise<{ signing: SigningKeyPair; encryption: EncryptionKeyPair }> {
    const i = this.#bundle.identity;
    return { signing: await signingKeyPairFromSeed(this.#c.backend, i.signingSeed), encryption: await encryptionKeyPairFromPrivate(this.#c.backend, i.encryptionPrivate) };
  }

  // ---------------------------------------------------------------------------------
  // Devices.

  async devices(): Promise<DeviceInfo[]> {
    return listDevices(this.#c, await this.token());
  }

  /**
   * Approves a device that asked to join, after the user checked that it shows `code`
   * (DEVICE_CODE_MISMATCH otherwise, and nothing changes): it becomes a recipient of the
   * bundle and can sign in.
   */
  async approveDevice(deviceId: string, code: string): Promise<void> {
    await this.#pull();
    const d = (await this.devices()).find((x) => x.id === deviceId && x.status === 'PENDING');
    if (!d) throw new SessionError('NOT_FOUND', 'no such device waiting for approval');
    if (normalizeCode(d.code) !== normalizeCode(code)) throw new SessionError('DEVICE_CODE_MISMATCH', 'the code does not match the one this device shows: do not approve it');
    const next = nextRevision(this.#bundle, { recipients: [...this.#bundle.recipients, deviceRecipient(this.#c.backend, d)] });
    await this.#gql(Q.approveDevice, { id: deviceId, b: await sealed(this.#c.backend, next) });
    await this.#install(next);
  }

  async rejectDevice(deviceId: string): Promise<void> {
    await this.#gql(Q.rejectDevice, { id: deviceId });
  }

  /**
   * Revokes another device (lost, sold, compromised): in one transaction it can no longer
   * sign in and the account moves to new identity keys and a new vault key the device
   * never sees; then every key addressed to the old identity is re-wrapped.
   */
  async revokeDevice(deviceId: string): Promise<RotationReport> {
    if (deviceId === this.deviceId) throw new SessionError('CANNOT_REVOKE_CURRENT_DEVICE', 'revoke this device from another one, or use cleanup() here');
    await this.#pull();
    const d = (await this.devices()).find((x) => x.id === deviceId && x.status !== 'REVOKED');
    if (!d) throw new SessionError('NOT_FOUND', 'no such device');
    const recipients = this.#bundle.recipients.filter((r) => !equalBytes(r.encryptionKey, d.encryptionKey));
    return this.#rotate('revoke', deviceId, recipients);
  }

  // ---------------------------------------------------------------------------------
  // Backups.

  async backups(): Promise<BackupInfo[]> {
    const r = await this.#gql<{ myBackups?: BackupInfo[] }>(Q.myBackups);
    return r.myBackups ?? [];
  }

  /** Creates (or replaces) the recovery-phrase backup and returns the 24 words: show them once, never store them. */
  async backupWithPhrase(): Promise<string> {
    const phrase = generateRecoveryPhrase(this.#c.backend);
    await this.#putBackup('PHRASE', await backupKeysFromPhrase(this.#c.backend, phrase));
    return phrase;
  }

  /** Creates (or replaces) the password backup (Argon2id, OWASP parameters, fresh salt). */
  async backupWithPassword(password: string): Promise<void> {
    if (typeof password !== 'string' || [...password].length < MIN_BACKUP_PASSWORD_LENGTH) {
      throw new SessionError('WEAK_PASSWORD', `a backup password needs at least ${MIN_BACKUP_PASSWORD_LENGTH} characters`);
    }
    await this.#putBackup('PASSWORD', await backupKeysFromPassword(this.#c.backend, password, newPasswordKdf(this.#c.backend)));
  }

  /** Replaces the password backup's password (the old one then opens nothing). */
  async changePassword(newPassword: string): Promise<void> {
    if (!(await this.backups()).some((b) => b.kind === 'PASSWORD')) throw new SessionError('NOT_FOUND', 'there is no password backup to change');
    await this.backupWithPassword(newPassword);
  }

  /** Deletes a backup: the bundle is re-wrapped without it, so its secret opens nothing stored from now on. */
  async deleteBackup(kind: BackupKind): Promise<void> {
    await this.#pull();
    const next = nextRevision(this.#bundle, { recipients: this.#bundle.recipients.filter((r) => r.kind !== kind) });
    await this.#gql(Q.deleteBackup, { k: kind, b: await sealed(this.#c.backend, next) });
    await this.#install(next);
  }

  async #putBackup(kind: BackupKind, keys: BackupKeys): Promise<void> {
    await this.#pull();
    const { backend, realm } = this.#c;
    const message = backupMessage({ realm, username: this.username, kind, authKey: keys.auth.publicKey, encryptionKey: keys.encryption.publicKey, kdf: keys.kdf });
    const input = {
      kind,
      authKey: base64urlEncode(keys.auth.publicKey),
      encryptionKey: base64urlEncode(keys.encryption.publicKey),
      kdf: keys.kdf,
      signature: base64urlEncode(await backend.ed25519Sign(keys.auth.seed, message)),
    };
    const next = nextRevision(this.#bundle, { recipients: [...this.#bundle.recipients.filter((r) => r.kind !== kind), backupRecipient(kind, keys)] });
    await this.#gql(Q.putBackup, { i: input, b: await sealed(backend, next) });
    await this.#install(next);
  }

  // ---------------------------------------------------------------------------------
  // Rotation.

  /** New identity keys (signed by the old ones: contacts see a verified change) and a new vault key version. */
  rotateIdentityKeys(): Promise<RotationReport> {
    return this.#pull().then(() => this.#rotate('rotate', undefined, this.#bundle.recipients));
  }

  /** A new vault key version seals PRIVATE values from now on; the older versions stay in the bundle and keep opening. */
  async rotateVaultKey(): Promise<number> {
    await this.#pull();
    const newest = this.#bundle.vault[this.#bundle.vault.length - 1]!.key;
    const key = rotateSymmetricKey(this.#c.backend, newest);
    const next = nextRevision(this.#bundle, { vault: [...this.#bundle.vault, { key, createdAt: nowIso(this.#c.now) }] });
    await this.#gql(Q.putKeyBundle, { b: await sealed(this.#c.backend, next) });
    await this.#install(next);
    return key.version;
  }

  /**
   * Key expiry: rotates the identity keys (and with them the vault key) when they are
   * older than `maxAgeMs`. (The newest vault key is never older than the identity keys:
   * every identity rotation adds one.) Returns what it rotated.
   */
  async rotateExpiredKeys({ maxAgeMs }: { maxAgeMs: number }): Promise<'identity' | 'none'> {
    if (!(Number.isFinite(maxAgeMs) && maxAgeMs > 0)) throw new TypeError('maxAgeMs must be a positive number');
    await this.#pull();
    const age = (iso: string): number => this.#c.now() - Date.parse(iso);
    if (age(this.#bundle.identity.createdAt) < maxAgeMs) return 'none';
    await this.#rotate('rotate', undefined, this.#bundle.recipients);
    return 'identity';
  }

  async #rotate(op: 'rotate' | 'revoke', deviceId: string | undefined, recipients: KeyBundleRecipient[]): Promise<RotationReport> {
    const { backend, realm } = this.#c;
    const old = this.#bundle;
    const oldSigning = await signingKeyPairFromSeed(backend, old.identity.signingSeed);
    const signing = await generateSigningKeyPair(backend);
    const encryption = await generateEncryptionKeyPair(backend);
    const version = old.identity.version + 1;
    const createdAt = nowIso(this.#c.now);
    const newestVault = old.vault[old.vault.length - 1]!.key;
    const next = nextRevision(old, {
      identity: { version, signingSeed: signing.seed, encryptionPrivate: encryption.privateKey, createdAt },
      previousEncryption: [...old.previousEncryption, { version: old.identity.version, privateKey: old.identity.encryptionPrivate }],
      vault: [...old.vault, { key: rotateSymmetricKey(backend, newestVault), createdAt }],
      recipients,
    });
    const statement = { realm, username: this.username, version, previousSigningKey: oldSigning.publicKey, signingKey: signing.publicKey, encryptionKey: encryption.publicKey };
    const pending: PendingRotation = {
      op,
      ...(deviceId ? { deviceId } : {}),
      content: base64urlEncode(encodeKeyBundle(next)),
      identity: {
        version,
        signingKey: base64urlEncode(signing.publicKey),
        encryptionKey: base64urlEncode(encryption.publicKey),
        signature: base64urlEncode(await signKeyVersion(backend, statement, oldSigning.seed, signing.seed)),
      },
    };
    // Written before the request: if the process dies after the server stored the rotation
    // but before the answer arrived, `resume` finds it and finishes instead of leaving an
    // account whose new private keys exist nowhere.
    await writeJson(this.#c.keystore, ACCOUNT_KEY_NAMES.pending, pending);
    await this.#sendRotation(pending, next);
    await this.#install(next);
    await this.#c.keystore.delete(ACCOUNT_KEY_NAMES.pending);
    const report = await this.rewrapStaleKeys();
    return { ...report, identityVersion: version, vaultVersion: next.vault[next.vault.length - 1]!.key.version };
  }

  async #sendRotation(p: PendingRotation, next: KeyBundleContent): Promise<void> {
    const b = await sealed(this.#c.backend, next);
    if (p.op === 'revoke') await this.#gql(Q.revoke, { id: p.deviceId, i: p.identity, b });
    else await this.#gql(Q.rotate, { i: p.identity, b });
  }

  /**
   * Finishes whatever an interrupted run left, in order: a rotation written to the key store
   * but not confirmed (sent again, or found done on the server); a newer bundle stored by
   * another device (installed); keys still wrapped to an old identity key (re-wrapped).
   * Safe to call at any time; `Account.open` calls it.
   */
  async resume(): Promise<RewrapReport> {
    const pending = await readJson<PendingRotation>(this.#c.keystore, ACCOUNT_KEY_NAMES.pending);
    // The server's bundle, when it is still what #pull needs to look at.
    let server: StoredBundle | null | undefined;
    if (pending) {
      const next = decodeKeyBundle(bytesOf(pending.content, 'the pending rotation'));
      server = await this.#serverBundle();
      if ((server?.revision ?? 0) === next.revision - 1 && next.revision - 1 === this.#bundle.revision) {
        // Never reached the server (or it refused): send the same rotation again.
        await this.#sendRotation(pending, next);
        await this.#install(next);
        server = undefined;
      }
      // Otherwise the server has it (or something newer): #pull below installs it.
      await this.#c.keystore.delete(ACCOUNT_KEY_NAMES.pending);
    }
    await this.#pull(server);
    return this.rewrapStaleKeys();
  }

  /**
   * Re-wraps every data key and conversation key still addressed to an earlier identity key
   * of this account, to the current one, page by page. Returns the counts.
   */
  async rewrapStaleKeys(): Promise<RewrapReport> {
    const { backend } = this.#c;
    const identity = await this.identity();
    const byKeyId = new Map<string, EncryptionKeyPair>();
    for (const p of this.#bundle.previousEncryption) {
      const pair = await encryptionKeyPairFromPrivate(backend, p.privateKey);
      byKeyId.set(base64urlEncode(keyIdOf(backend, 'x25519', pair.publicKey)), pair);
    }
    const openerOf = (wrapped: string): EncryptionKeyPair | undefined => {
      const w = parseWrappedKey(bytesOf(wrapped, 'a wrapped key'));
      for (const id of w.recipientKeyIds) {
        const pair = byKeyId.get(base64urlEncode(id));
        if (pair) return pair;
      }
      return undefined;
    };
    const current = [identity.encryption];
    let rewrapped = 0;
    for (;;) {
      const r = await this.#gql<{ staleWrappedKeys: { dataKeys: { objectType: string; objectId: string; ownerId: string; keyVersion: number; wrapped: string }[]; epochKeys: { conversationId: string; epoch: number; wrapped: string }[] } }>(Q.stale, { n: REWRAP_PAGE });
      const { dataKeys, epochKeys } = r.staleWrappedKeys;
      const d: { objectType: string; objectId: string; keyVersion: number; wrapped: string }[] = [];
      const e: { conversationId: string; epoch: number; wrapped: string }[] = [];
      for (const k of dataKeys) {
        const location = { coordinate: k.objectType, ownerId: k.ownerId, objectId: k.objectId };
        const pair = openerOf(k.wrapped);
        if (!pair) continue;
        const key = await unwrapKey(backend, k.wrapped, pair, location);
        d.push({ objectType: k.objectType, objectId: k.objectId, keyVersion: k.keyVersion, wrapped: wrappedKeyToText(await wrapKey(backend, key, location, current)) });
      }
      for (const k of epochKeys) {
        const location = epochKeyLocation(k.conversationId, k.epoch);
        const pair = openerOf(k.wrapped);
        if (!pair) continue;
        const key = await unwrapKey(backend, k.wrapped, pair, location);
        e.push({ conversationId: k.conversationId, epoch: k.epoch, wrapped: wrappedKeyToText(await wrapKey(backend, key, location, current)) });
      }
      // Keys no held X25519 key opens (after a reset) stay stale: stop when a page has only those.
      if (d.length + e.length === 0) return { rewrapped, unopenable: dataKeys.length + epochKeys.length };
      rewrapped += await this.#gql<{ rewrapMyKeys: number }>(Q.rewrap, { d, e }).then((x) => x.rewrapMyKeys);
    }
  }

  // ---------------------------------------------------------------------------------
  // The bundle.

  async #serverBundle(): Promise<StoredBundle | null> {
    const r = await this.#gql<{ myKeyBundle: StoredBundle | null }>(Q.myKeyBundle);
    return r.myKeyBundle;
  }

  /**
   * Installs the server's bundle when it is newer; refuses one older than what this device
   * holds. `fetched`: the bundle the caller has just read (saves the request).
   */
  async #pull(fetched?: StoredBundle | null): Promise<void> {
    const server = fetched === undefined ? await this.#serverBundle() : fetched;
    if (!server) throw new SessionError('BAD_RESPONSE', 'the server holds no key bundle for this account');
    if (server.revision < this.#bundle.revision) {
      throw new SessionError('BUNDLE_ROLLBACK', `the server offers key bundle revision ${server.revision}, older than revision ${this.#bundle.revision} this device holds`);
    }
    if (server.revision === this.#bundle.revision) return;
    let content: KeyBundleContent;
    try {
      content = await openKeyBundle(this.#c.backend, server, this.userId, this.#device.encryption);
    } catch (e) {
      if (isCryptoError(e, 'KEY_NOT_FOUND')) throw new SessionError('DEVICE_REVOKED', 'the key bundle is no longer wrapped for this device: it was revoked', { cause: e });
      throw e;
    }
    await this.#install(content);
  }

  async #install(content: KeyBundleContent): Promise<void> {
    await saveLocalBundle(this.#c.keystore, content);
    this.#bundle = content;
  }
}

async function listDevices(c: Ctx, token: string): Promise<DeviceInfo[]> {
  const r = await gql<{ myDevices?: { id: string; name: string; status: DeviceInfo['status']; current: boolean; createdAt: string; lastSeenAt: string | null; revokedAt: string | null; signingKey: string; encryptionKey: string }[] }>(
    c,
    Q.myDevices,
    {},
    token,
  );
  return (r.myDevices ?? []).map((d) => {
    const signingKey = bytesOf(d.signingKey, 'a device key');
    const encryptionKey = bytesOf(d.encryptionKey, 'a device key');
    return { ...d, signingKey, encryptionKey, code: deviceLinkCode(c.backend, signingKey, encryptionKey) };
  });
}

async function persist(keystore: KeyStore, user: AccountUser, device: LocalDevice, content: KeyBundleContent): Promise<void> {
  await saveDevice(keystore, device);
  await saveLocalBundle(keystore, content);
  await writeJson(keystore, ACCOUNT_KEY_NAMES.user, user);
}

async function clientKeysOf(c: Ctx, userId: string, bundle: KeyBundleContent, token: () => Promise<string>): Promise<DataKeyClientKeys> {
  // graphqlDataKeyTransport reads the token synchronously: refresh it before each call.
  let current = '';
  const inner = graphqlDataKeyTransport(c.endpoint, () => current, c.session);
  const transport = {
    async fetch(t: string, ids: readonly string[]) {
      current = await token();
      return inner.fetch(t, ids);
    },
    async put(t: string, id: string, keys: readonly { recipientId: string; keyVersion: number; wrapped: string }[]) {
      current = await token();
      return inner.put(t, id, keys);
    },
  };
  const i = bundle.identity;
  const vaults = bundle.vault.map((v) => v.key);
  return new DataKeyClientKeys({
    backend: c.backend,
    userId,
    signing: await signingKeyPairFromSeed(c.backend, i.signingSeed),
    encryption: await encryptionKeyPairFromPrivate(c.backend, i.encryptionPrivate),
    previousEncryption: await Promise.all(bundle.previousEncryption.map((p) => encryptionKeyPairFromPrivate(c.backend, p.privateKey))),
    vault: vaults[vaults.length - 1]!,
    previousVaults: vaults.slice(0, -1),
    transport,
  });
}

/** A device's request to join an account, waiting for approval. */
export class DeviceLinkRequest {
  readonly #c: Ctx;
  readonly username: string;
  readonly #device: LocalDevice;

  constructor(c: Ctx, username: string, device: LocalDevice) {
    this.#c = c;
    this.username = username;
    this.#device = device;
  }

  get deviceId(): string {
    return this.#device.id!;
  }

  /** The code to show on this device; the approving device shows the same one. */
  get code(): string {
    return deviceLinkCode(this.#c.backend, this.#device.signing.publicKey, this.#device.encryption.publicKey);
  }

  /** One look: PENDING, ACTIVE (approved), REVOKED, or null (rejected or expired). */
  async status(): Promise<'PENDING' | 'ACTIVE' | 'REVOKED' | null> {
    const r = await gql<{ deviceLinkStatus: 'PENDING' | 'ACTIVE' | 'REVOKED' | null }>(this.#c, Q.deviceLinkStatus, { id: this.deviceId });
    return r.deviceLinkStatus;
  }

  /** Polls until approved, then signs in and installs the bundle. LINK_REJECTED, LINK_TIMEOUT otherwise. */
  async waitForApproval({ timeoutMs = 10 * 60_000, intervalMs = 2000 }: { timeoutMs?: number; intervalMs?: number } = {}): Promise<Account> {
    const deadline = this.#c.now() + timeoutMs;
    for (;;) {
      const s = await this.status();
      if (s === 'ACTIVE') return this.#complete();
      if (s !== 'PENDING') {
        await cleanup(this.#c.keystore);
        throw new SessionError('LINK_REJECTED', 'the link request was rejected or expired');
      }
      if (this.#c.now() >= deadline) throw new SessionError('LINK_TIMEOUT', 'no approval before the timeout (the request stays valid until it expires)');
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }

  async #complete(): Promise<Account> {
    const c = this.#c;
    const session = await deviceSignIn(c, this.username, this.#device);
    const r = await gql<{ myKeyBundle: StoredBundle | null }>(c, Q.myKeyBundle, {}, session.token);
    if (!r.myKeyBundle) throw new SessionError('BAD_RESPONSE', 'the account has no key bundle');
    const content = await openKeyBundle(c.backend, r.myKeyBundle, session.userId, this.#device.encryption);
    const user = { userId: session.userId, username: this.username };
    await persist(c.keystore, user, this.#device, content);
    await c.keystore.delete(ACCOUNT_KEY_NAMES.link);
    return Account.fromParts(c, user, this.#device, content, session);
  }
}

async function restore(c: Ctx, username: string, kind: BackupKind, secret: string, deviceName: string): Promise<Account> {
  await refuseExisting(c.keystore);
  const { backend, realm } = c;
  const keys = await backupKeysFor(c, username, kind, secret);
  let opened: { userId?: unknown; keyBundle?: StoredBundle };
  try {
    const ch = await fetchChallenge(c.endpoint, username, AuthPurpose.RECOVER, c.session);
    const sig = await backend.ed25519Sign(keys.auth.seed, loginMessage({ realm, username, purpose: AuthPurpose.RECOVER, challenge: ch.bytes }));
    opened = (await gql<{ openBackup?: { userId?: unknown; keyBundle?: StoredBundle } }>(c, Q.openBackup, { u: username, k: kind, c: ch.text, s: base64urlEncode(sig) })).openBackup ?? {};
  } catch (e) {
    throw recoveryFailed(e, kind, username);
  }
  if (typeof opened.userId !== 'string' || !opened.keyBundle) throw new SessionError('BAD_RESPONSE', 'openBackup returned no bundle');
  const userId = opened.userId;
  const content = await openKeyBundle(backend, opened.keyBundle, userId, keys.encryption);
  let device = await generateDevice(backend, deviceName);
  const next = nextRevision(content, { recipients: [...content.recipients, deviceRecipient(backend, { name: device.name, encryptionKey: device.encryption.publicKey })] });
  const ch = await fetchChallenge(c.endpoint, username, AuthPurpose.RECOVER, c.session);
  const sig = await backend.ed25519Sign(
    keys.auth.seed,
    recoverMessage({ realm, username, kind, challenge: ch.bytes, deviceSigningKey: device.signing.publicKey, deviceEncryptionKey: device.encryption.publicKey }),
  );
  let s: { token?: unknown; expiresAt?: unknown; user?: { id?: unknown }; device?: { id?: unknown } } | undefined;
  try {
    s = (
      await gql<{ recoverAccount?: typeof s }>(c, Q.recoverAccount, {
        u: username,
        k: kind,
        c: ch.text,
        s: base64urlEncode(sig),
        d: await signedDeviceInput(backend, device, realm, username),
        b: await sealed(backend, next),
      })
    ).recoverAccount;
  } catch (e) {
    throw recoveryFailed(e, kind, username);
  }
  const session = sessionOf(s, 'recoverAccount');
  if (typeof s?.device?.id !== 'string') throw new SessionError('BAD_RESPONSE', 'recoverAccount returned no device');
  device = { ...device, id: s.device.id };
  const user = { userId, username };
  await persist(c.keystore, user, device, next);
  return Account.fromParts(c, user, device, next, session);
}
