/**
 * @module
 * The account's state on this device (docs/devices.md, "On the device"). Portable.
 *
 * The key bundle this device last opened is kept whole (`account.bundle`): it is the
 * starting point of every change the device makes (a new device, a backup, a rotation),
 * and its revision is what the device refuses to go back from. Its secrets are also
 * written out under the names the rest of the client reads (`identity.*`, `key.vault`),
 * so `loadIdentity`, `dataKeyClientKeysFrom` and the Messenger work unchanged.
 */
import { utf8Decode, utf8Encode } from '../crypto/bytes.js';
import { decodeKeyBundle, encodeKeyBundle, type KeyBundleContent } from '../privacy/key-bundle.js';
import { DEVICE_KEY_NAMES } from './device-keys.js';
import { KEY_NAMES, type KeyStore } from './keystore.js';
import { encryptionKeyNameForVersion } from './rotate-identity.js';
import { SessionError, encodeSymmetricKey } from './session.js';

export const ACCOUNT_KEY_NAMES = {
  /** `{"userId","username"}` (UTF-8 JSON). */
  user: 'account.user',
  /** The last opened key bundle (docs/crypto.md §12 bundle plaintext). */
  bundle: 'account.bundle',
  /** A rotation sent (or about to be sent) but not yet confirmed: see account.ts. */
  pending: 'account.rotation.pending',
  /** A device link requested and not yet approved: `{"username","deviceId"}`. */
  link: 'account.link.pending',
} as const;

/** Key store name of an older vault key (the newest is `key.vault`). */
export function vaultKeyNameForVersion(version: number): string {
  return `${KEY_NAMES.vault}.v${version}`;
}

export interface AccountUser {
  readonly userId: string;
  readonly username: string;
}

export async function readJson<T>(keystore: KeyStore, name: string): Promise<T | undefined> {
  const b = await keystore.get(name);
  if (!b) return undefined;
  try {
    return JSON.parse(utf8Decode(b)) as T;
  } catch (e) {
    throw new SessionError('IDENTITY_MISSING', `"${name}" in the key store is malformed`, { cause: e });
  }
}

export async function writeJson(keystore: KeyStore, name: string, value: unknown): Promise<void> {
  await keystore.put(name, utf8Encode(JSON.stringify(value)));
}

export async function loadAccountUser(keystore: KeyStore): Promise<AccountUser | undefined> {
  const u = await readJson<AccountUser>(keystore, ACCOUNT_KEY_NAMES.user);
  if (u === undefined) return undefined;
  if (typeof u?.userId !== 'string' || typeof u.username !== 'string') throw new SessionError('IDENTITY_MISSING', `"${ACCOUNT_KEY_NAMES.user}" in the key store is malformed`);
  return u;
}

export async function loadLocalBundle(keystore: KeyStore): Promise<KeyBundleContent | undefined> {
  const b = await keystore.get(ACCOUNT_KEY_NAMES.bundle);
  if (!b) return undefined;
  try {
    return decodeKeyBundle(b);
  } catch (e) {
    throw new SessionError('IDENTITY_MISSING', `"${ACCOUNT_KEY_NAMES.bundle}" in the key store is malformed`, { cause: e });
  }
}

/**
 * Makes `content` this device's bundle. Every write is idempotent and the bundle itself is
 * written last, so an interrupted save is finished by saving again.
 */
export async function saveLocalBundle(keystore: KeyStore, content: KeyBundleContent): Promise<void> {
  for (const p of content.previousEncryption) {
    await keystore.put(encryptionKeyNameForVersion(p.version), p.privateKey);
  }
  const vaults = content.vault;
  for (const v of vaults.slice(0, -1)) await keystore.put(vaultKeyNameForVersion(v.key.version), encodeSymmetricKey(v.key));
  await keystore.put(KEY_NAMES.vault, encodeSymmetricKey(vaults[vaults.length - 1]!.key));
  await keystore.put(KEY_NAMES.signingSeed, content.identity.signingSeed);
  await keystore.put(KEY_NAMES.encryptionPrivate, content.identity.encryptionPrivate);
  await keystore.put(ACCOUNT_KEY_NAMES.bundle, encodeKeyBundle(content));
}

/** Whether `keystore` holds an account's private keys (a bundle, or an identity from createIdentity). */
export async function hasPrivateKey(keystore: KeyStore): Promise<boolean> {
  return (await keystore.get(ACCOUNT_KEY_NAMES.bundle)) !== undefined || (await keystore.get(KEY_NAMES.signingSeed)) !== undefined;
}

/** Names `cleanup` removes: every secret and every account record (pins are public and stay). */
function isLocalSecret(name: string): boolean {
  return (
    name.startsWith('identity.') ||
    name.startsWith('key.') ||
    name.startsWith('account.') ||
    Object.values(DEVICE_KEY_NAMES).includes(name as never)
  );
}

/**
 * Removes this account's keys from the device (sign-out for good, or before handing the
 * device on). Anything not backed up or held by another device is lost: callers should
 * check `Account.backups()` / `devices()` first. Returns how many entries were removed.
 */
export async function cleanup(keystore: KeyStore): Promise<number> {
  let n = 0;
  for (const name of await keystore.list()) {
    if (isLocalSecret(name) && (await keystore.delete(name))) n++;
  }
  return n;
}
