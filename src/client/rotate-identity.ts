/**
 * @module
 * Rotating the signed-in user's identity keys (docs/sharing.md, "Key directory"; message:
 * docs/crypto.md §11). Portable: no `node:` imports.
 *
 * New Ed25519 and X25519 keys are generated, version n+1 is signed with the current signing
 * key and the new one, and the server records it (`rotateIdentityKeys`). The key store changes only after
 * the server confirmed, so a refused rotation leaves the identity as it was. The new keys
 * are written to the store under `identity.rotation.pending` *before* the request: if the
 * answer is lost after the server stored the version, the next call finds the server's
 * current key is the pending one and finishes locally instead of leaving an identity whose
 * private keys are gone. (Ed25519 signatures are deterministic, so a retry resends the same
 * statement, which the server accepts again.)
 *
 * The replaced X25519 private key is kept as `identity.encryption.private.v<N>` (N = the
 * directory version it belonged to): data keys wrapped to it before the rotation stay
 * openable. The replaced signing seed is dropped: nothing old needs it.
 */
import type { CryptoBackend } from '../crypto/backend.js';
import { base64urlEncode } from '../crypto/base64url.js';
import { signKeyVersion } from '../crypto/key-directory.js';
import { encryptionKeyPairFromPrivate, generateEncryptionKeyPair, generateSigningKeyPair, signingKeyPairFromSeed, type EncryptionKeyPair, type SigningKeyPair } from '../crypto/keys.js';
import { DirectoryError, graphqlDirectoryTransport } from './directory.js';
import { KEY_NAMES, type KeyStore } from './keystore.js';
import { SessionError, graphqlRequest, loadIdentity, type SessionOptions } from './session.js';

export interface RotatedIdentity {
  readonly username: string;
  /** The new current version in the directory. */
  readonly version: number;
  /** New Ed25519 public key. */
  readonly signingKey: Uint8Array;
  /** New X25519 public key. */
  readonly encryptionKey: Uint8Array;
}

/** Key store name of the X25519 private key of directory version `version`, once replaced. */
export function encryptionKeyNameForVersion(version: number): string {
  return `${KEY_NAMES.encryptionPrivate}.v${version}`;
}

const ME = 'query VgMe { me { username } }';
const ROTATE = 'mutation VgRotateIdentityKeys($i: RotateIdentityKeysInput!) { rotateIdentityKeys(input: $i) { version } }';
const PENDING_BYTES = 4 + 32 + 32;

interface Pending {
  readonly version: number;
  readonly signing: SigningKeyPair;
  readonly encryption: EncryptionKeyPair;
}

async function readPending(keystore: KeyStore, backend: CryptoBackend): Promise<Pending | null> {
  const b = await keystore.get(KEY_NAMES.rotationPending);
  if (!b || b.length !== PENDING_BYTES) return null;
  const version = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0, false);
  return { version, signing: await signingKeyPairFromSeed(backend, b.slice(4, 36)), encryption: await encryptionKeyPairFromPrivate(backend, b.slice(36)) };
}

function encodePending(p: Pending): Uint8Array {
  const out = new Uint8Array(PENDING_BYTES);
  new DataView(out.buffer).setUint32(0, p.version, false);
  out.set(p.signing.seed, 4);
  out.set(p.encryption.privateKey, 36);
  return out;
}

/** Makes the pending keys the identity; each write is idempotent, so an interrupted commit can be redone. */
async function commit(keystore: KeyStore, replacedVersion: number, oldEncryption: EncryptionKeyPair, next: Pending): Promise<void> {
  const keep = encryptionKeyNameForVersion(replacedVersion);
  if (!(await keystore.get(keep))) await keystore.put(keep, oldEncryption.privateKey);
  await keystore.put(KEY_NAMES.signingSeed, next.signing.seed);
  await keystore.put(KEY_NAMES.encryptionPrivate, next.encryption.privateKey);
  await keystore.delete(KEY_NAMES.rotationPending);
}

/**
 * Rotates the identity in `keystore` to new keys, as the user `token` belongs to (`realm`:
 * the server's, "veilgraph" by default on the server side). Throws
 * `SessionError` with the server's code (BAD_KEY_SIGNATURE, CONFLICT when another device
 * rotated first, UNAUTHENTICATED, …), or `DirectoryError` KEY_PIN_MISMATCH when the
 * directory's current key is not this store's (another device rotated: this one is stale).
 */
export async function rotateIdentityKeys(
  endpoint: string,
  keystore: KeyStore,
  backend: CryptoBackend,
  realm: string,
  token: string,
  options: SessionOptions = {},
): Promise<RotatedIdentity> {
  const { signing, encryption } = await loadIdentity(keystore, backend);
  const me = await graphqlRequest<{ me: { username?: unknown } | null }>(endpoint, ME, {}, { ...options, token });
  const username = me.me?.username;
  if (typeof username !== 'string') throw new SessionError('UNAUTHENTICATED', 'the token names no signed-in user');

  // Only the current version's number and key are needed, and the key is checked against
  // this store's: the whole chain is not verified here, so an account whose version 1
  // predates the directory can still rotate.
  const history = await graphqlDirectoryTransport(endpoint, () => token, options).keyHistory(username);
  const current = Array.isArray(history?.versions) ? history.versions.at(-1) : undefined;
  if (!current || !Number.isInteger(current.version) || current.version < 1) throw new SessionError('BAD_RESPONSE', 'the directory returned no key history');
  const currentKey = current.signingKey;

  const pending = await readPending(keystore, backend);
  if (pending && currentKey === base64urlEncode(pending.signing.publicKey) && pending.version === current.version) {
    // The server stored the pending version but its answer never arrived: finish here.
    await commit(keystore, current.version - 1, encryption, pending);
    return { username, version: pending.version, signingKey: pending.signing.publicKey, encryptionKey: pending.encryption.publicKey };
  }
  if (currentKey !== base64urlEncode(signing.publicKey)) {
    throw new DirectoryError('KEY_PIN_MISMATCH', `the directory's current key of ${username} (version ${current.version}) is not the one in this key store`, { username, version: current.version });
  }

  const version = current.version + 1;
  let next = pending && pending.version === version ? pending : null;
  if (!next) {
    next = { version, signing: await generateSigningKeyPair(backend), encryption: await generateEncryptionKeyPair(backend) };
    await keystore.put(KEY_NAMES.rotationPending, encodePending(next));
  }
  const statement = { realm, username, version, previousSigningKey: signing.publicKey, signingKey: next.signing.publicKey, encryptionKey: next.encryption.publicKey };
  const signature = await signKeyVersion(backend, statement, signing.seed, next.signing.seed);
  const data = await graphqlRequest<{ rotateIdentityKeys?: { version?: unknown } }>(
    endpoint,
    ROTATE,
    { i: { version, signingKey: base64urlEncode(next.signing.publicKey), encryptionKey: base64urlEncode(next.encryption.publicKey), signature: base64urlEncode(signature) } },
    { ...options, token },
  );
  if (data.rotateIdentityKeys?.version !== version) throw new SessionError('BAD_RESPONSE', 'rotateIdentityKeys returned another version');
  await commit(keystore, current.version, encryption, next);
  return { username, version, signingKey: next.signing.publicKey, encryptionKey: next.encryption.publicKey };
}
