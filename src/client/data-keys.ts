/**
 * @module
 * Per-object data keys for SHARED fields (docs/crypto.md §3): each object with SHARED
 * fields has its own random key, stored on the server only wrapped for each recipient's
 * X25519 key (`myDataKeys` / `putDataKeys`, src/server/services/sharing/keys.graphql). PRIVATE values stay
 * under the user's vault key.
 *
 * Cost model, which is the point of this file: `prepare` (once per operation or result)
 * fetches the wrapped keys of every object the result or operation touches in one request
 * per type, and unwraps each distinct (key id, version) once: one X25519 exchange per key,
 * however many fields it seals. Unwrapped keys are cached for the life of this object, so
 * reading the same objects again costs no asymmetric work at all.
 *
 * Sealing a SHARED value for an object that has no data key yet (a new object the viewer
 * owns) creates one, wraps it for the viewer and stores it before the operation is sent.
 */
import type { CryptoBackend } from '../crypto/backend.js';
import { base64urlDecode } from '../crypto/base64url.js';
import { CryptoError } from '../crypto/errors.js';
import { equalBytes } from '../crypto/bytes.js';
import { SymmetricKeyRing, encryptionKeyPairFromPrivate, generateSymmetricKey, type EncryptionKeyPair, type SigningKeyPair, type SymmetricKey } from '../crypto/keys.js';
import type { Location } from '../crypto/location.js';
import { parseWrappedKey, unwrapKey, wrapKey, wrappedKeyToText } from '../crypto/wrap.js';
import type { ClientKeys, KeyRequest, SealedLevel } from './keys.js';
import { KEY_NAMES, type KeyStore } from './keystore.js';
import { SessionError, decodeSymmetricKey, graphqlRequest, loadIdentity, type SessionOptions } from './session.js';
import { HeldKeys } from './held-keys.js';

export interface StoredDataKey {
  readonly objectId: string;
  readonly keyVersion: number;
  /** Wrapped key v1 text. */
  readonly wrapped: string;
}

/** How wrapped keys reach the server and come back. `graphqlDataKeyTransport` is the usual one. */
export interface DataKeyTransport {
  fetch(objectType: string, objectIds: readonly string[]): Promise<readonly StoredDataKey[]>;
  put(objectType: string, objectId: string, keys: readonly { recipientId: string; keyVersion: number; wrapped: string }[]): Promise<void>;
}

export interface DataKeyClientKeysOptions {
  readonly backend: CryptoBackend;
  /** The signed-in user: owner of new objects and recipient of wrapped keys. */
  readonly userId: string;
  readonly encryption: EncryptionKeyPair;
  /**
   * X25519 key pairs the user had before rotating their identity keys: data keys wrapped
   * for them before the rotation still open (each wrapped key names its recipient key).
   */
  readonly previousEncryption?: readonly EncryptionKeyPair[];
  /** Seals and opens PRIVATE values. */
  readonly vault: SymmetricKey;
  /** Earlier vault key versions (after `Account.rotateVaultKey`): they still open PRIVATE values sealed under them. */
  readonly previousVaults?: readonly SymmetricKey[];
  readonly transport: DataKeyTransport;
  /**
   * Signs every SHARED value this client seals, so its owner can tell who wrote it
   * (required by the gateway for writes by a grantee). Default: unsigned.
   */
  readonly signing?: SigningKeyPair;
}

const MAX_IDS_PER_FETCH = 1000;

function typeOf(location: Location): string {
  return location.coordinate.split('.')[0]!;
}

function objectKey(type: string, objectId: string): string {
  return `${type}\0${objectId}`;
}

export class DataKeyClientKeys implements ClientKeys {
  /** Keys held, by object (scope `type\0objectId`): the newest seals, every one opens. */
  private readonly keys = new HeldKeys();

  /** Every vault key version: opens PRIVATE values (the newest also seals them). */
  private readonly vaults: SymmetricKey | SymmetricKeyRing;

  constructor(private readonly options: DataKeyClientKeysOptions) {
    const previous = options.previousVaults ?? [];
    this.vaults = previous.length === 0 ? options.vault : new SymmetricKeyRing([...previous, options.vault]);
  }

  /** Holds `key` for the object: it opens values sealed under it, and seals new ones if it is the newest. */
  hold(type: string, objectId: string, key: SymmetricKey): void {
    this.keys.hold(objectKey(type, objectId), key);
  }

  private holds(keyId: Uint8Array, version: number): boolean {
    return this.keys.holds(keyId, version);
  }

  async prepare(requests: readonly KeyRequest[]): Promise<void> {
    // Which objects need keys, and whose they are (the owner is part of every key's binding).
    const wanted = new Map<string, Map<string, string>>(); // type → objectId → ownerId
    const toCreate = new Map<string, { type: string; objectId: string }>();
    for (const r of requests) {
      if (r.level !== 'SHARED' || r.location.objectId == null) continue;
      const type = typeOf(r.location);
      const objectId = r.location.objectId;
      // Sealing someone else's object always asks for its keys again: after a revocation its
      // owner moved it to a new key version, and the gateway refuses values under an older one.
      const fresh =
        r.purpose === 'open'
          ? r.keyId !== undefined && r.keyVersion !== undefined && this.holds(r.keyId, r.keyVersion)
          : r.location.ownerId === this.options.userId && this.keys.latest(objectKey(type, objectId)) !== undefined;
      if (fresh) continue;
      let ids = wanted.get(type);
      if (!ids) wanted.set(type, (ids = new Map()));
      ids.set(objectId, r.location.ownerId);
      if (r.purpose === 'seal' && r.location.ownerId === this.options.userId) toCreate.set(objectKey(type, objectId), { type, objectId });
    }
    for (const [type, ids] of wanted) await this.fetchKeys(type, ids);
    for (const { type, objectId } of toCreate.values()) {
      if (this.keys.latest(objectKey(type, objectId)) !== undefined) continue;
      await this.createKey(type, objectId);
    }
  }

  /** Fetches and unwraps the viewer's keys of these objects (objectId → ownerId), each distinct key once. */
  private async fetchKeys(type: string, ids: ReadonlyMap<string, string>): Promise<void> {
    const all = [...ids.keys()];
    for (let i = 0; i < all.length; i += MAX_IDS_PER_FETCH) {
      const rows = await this.options.transport.fetch(type, all.slice(i, i + MAX_IDS_PER_FETCH));
      for (const row of rows) {
        const ownerId = ids.get(row.objectId);
        if (ownerId === undefined) continue;
        // The header names the key: skip the exchange for keys already held.
        const header = parseWrappedKey(base64urlDecode(row.wrapped));
        if (this.holds(header.keyId, header.keyVersion)) continue;
        // The recipient stanza names which of the user's X25519 keys it is wrapped for.
        const identity = [this.options.encryption, ...(this.options.previousEncryption ?? [])].find((k) => header.recipientKeyIds.some((id) => equalBytes(id, k.keyId))) ?? this.options.encryption;
        try {
          const key = await unwrapKey(this.options.backend, row.wrapped, identity, { coordinate: type, ownerId, objectId: row.objectId });
          this.hold(type, row.objectId, key);
        } catch (e) {
          // A key that does not open for this place is skipped: the fields it seals
          // then fail one by one (KEY_NOT_FOUND) instead of failing the whole result.
          if (!(e instanceof CryptoError)) throw e;
        }
      }
    }
  }

  /**
   * The newest data key of an object, fetched from the server now (not from the cache);
   * for its owner, one is created and stored when it has none yet. Sharing uses this
   * before wrapping the key for someone else or rotating it.
   */
  async currentKey(type: string, objectId: string, ownerId: string): Promise<SymmetricKey | undefined> {
    await this.fetchKeys(type, new Map([[objectId, ownerId]]));
    if (this.keys.latest(objectKey(type, objectId)) === undefined && ownerId === this.options.userId) await this.createKey(type, objectId);
    return this.keys.latest(objectKey(type, objectId));
  }

  /** The viewer's own X25519 public key (what their wrapped keys are wrapped for). */
  get ownEncryptionKey(): Uint8Array {
    return this.options.encryption.publicKey;
  }

  /** A new object's first data key, wrapped for its owner (the viewer) and stored. */
  private async createKey(type: string, objectId: string): Promise<void> {
    const { backend, userId, encryption, transport } = this.options;
    const key = generateSymmetricKey(backend);
    const wrapped = await wrapKey(backend, key, { coordinate: type, ownerId: userId, objectId }, [encryption]);
    await transport.put(type, objectId, [{ recipientId: userId, keyVersion: key.version, wrapped: wrappedKeyToText(wrapped) }]);
    this.hold(type, objectId, key);
  }

  sealingKey(level: SealedLevel, location: Location): SymmetricKey {
    if (level === 'PRIVATE') return this.options.vault;
    const key = location.objectId != null ? this.keys.latest(objectKey(typeOf(location), location.objectId)) : undefined;
    if (!key) throw new CryptoError('KEY_NOT_FOUND', `no data key for ${typeOf(location)} ${location.objectId ?? '(no object id)'}: only its owner or a grantee can write SHARED fields`);
    return key;
  }

  openingKeys(level: SealedLevel): SymmetricKey | SymmetricKeyRing {
    return level === 'PRIVATE' ? this.vaults : this.keys.ring;
  }

  signer(level: SealedLevel): SigningKeyPair | undefined {
    return level === 'SHARED' ? this.options.signing : undefined;
  }
}

const MY_DATA_KEYS = 'query VgMyDataKeys($t: String!, $ids: [ID!]!) { myDataKeys(objectType: $t, objectIds: $ids) { objectId keyVersion wrapped } }';
const PUT_DATA_KEYS = 'mutation VgPutDataKeys($t: String!, $id: ID!, $k: [WrappedDataKeyInput!]!) { putDataKeys(objectType: $t, objectId: $id, keys: $k) }';

/** The data-key API of src/server/services/sharing/keys.graphql over plain `fetch`. */
export function graphqlDataKeyTransport(endpoint: string, token: () => string, options: SessionOptions = {}): DataKeyTransport {
  return {
    async fetch(objectType, objectIds) {
      const data = await graphqlRequest<{ myDataKeys: StoredDataKey[] }>(endpoint, MY_DATA_KEYS, { t: objectType, ids: objectIds }, { ...options, token: token() });
      return data.myDataKeys;
    },
    async put(objectType, objectId, keys) {
      await graphqlRequest(endpoint, PUT_DATA_KEYS, { t: objectType, id: objectId, k: keys }, { ...options, token: token() });
    },
  };
}

/** `DataKeyClientKeys` for the identity and vault key held in `keystore`, signing SHARED values (docs/client.md). */
export async function dataKeyClientKeysFrom(keystore: KeyStore, backend: CryptoBackend, userId: string, transport: DataKeyTransport): Promise<DataKeyClientKeys> {
  const { encryption, signing } = await loadIdentity(keystore, backend);
  const vaultBytes = await keystore.get(KEY_NAMES.vault);
  if (!vaultBytes) throw new SessionError('IDENTITY_MISSING', 'the key store holds no vault key');
  // Encryption keys replaced by identity rotations (src/client/rotate-identity.ts).
  const previousEncryption: EncryptionKeyPair[] = [];
  for (const name of await keystore.list()) {
    if (!name.startsWith(`${KEY_NAMES.encryptionPrivate}.v`)) continue;
    const privateKey = await keystore.get(name);
    if (privateKey?.length === 32) previousEncryption.push(await encryptionKeyPairFromPrivate(backend, privateKey));
  }
  return new DataKeyClientKeys({ backend, userId, encryption, previousEncryption, signing, vault: decodeSymmetricKey(vaultBytes, 'the vault key'), transport });
}
