/**
 * @module
 * Granting and revoking access to an object's SHARED fields from the owner's client
 * (src/server/services/sharing/sharing.graphql; docs/sharing.md "Grants"). Portable: no `node:` imports.
 *
 * - `grant`: the grantee's keys come from the key directory, verified and pinned (never
 *   straight from the server); the object's newest data key is wrapped for the grantee's
 *   X25519 key and sent with the grant. The server stores only the wrapped key.
 * - `revoke`: the owner's client makes the next version of the object's data key, wraps it
 *   for itself and every remaining grantee (again from verified keys) and sends it with the
 *   revocation; the revoked user gets nothing. Then `reseal` (the application's own write
 *   of the object's SHARED fields, through the privacy link) re-seals the current values
 *   under the new key. Whatever is written from then on is under a key the revoked user
 *   never held; the gateway refuses SHARED values under an older version (STALE_DATA_KEY).
 *
 * Writing SHARED values costs no wrapping at all, however many grantees: wrapping happens
 * only here, when who may read changes.
 */
import type { CryptoBackend } from '../crypto/backend.js';
import { CryptoError } from '../crypto/errors.js';
import { keyIdOf, rotateSymmetricKey, type SymmetricKey } from '../crypto/keys.js';
import type { Location } from '../crypto/location.js';
import { wrapKey, wrappedKeyToText, type Recipient } from '../crypto/wrap.js';
import type { DataKeyClientKeys } from './data-keys.js';
import { SessionError, graphqlRequest, type SessionOptions } from './session.js';

export type Access = 'READ' | 'WRITE';

/** What sharing needs of a user's keys: verified against the key directory (src/client/directory.ts). */
export interface VerifiedKeySource {
  verifiedKeys(username: string): Promise<{ readonly userId: string; readonly encryptionKey: Uint8Array }>;
}

export interface GrantInfo {
  readonly granteeId: string;
  readonly granteeUsername: string;
  readonly access: Access;
}

export interface WrappedKeyInput {
  readonly recipientId: string;
  readonly keyVersion: number;
  readonly wrapped: string;
}

/** How grants reach the server. `graphqlSharingTransport` is the usual one. */
export interface SharingTransport {
  grants(objectType: string, objectId: string): Promise<readonly GrantInfo[]>;
  grant(objectType: string, objectId: string, username: string, access: Access, keys: readonly WrappedKeyInput[]): Promise<void>;
  revoke(objectType: string, objectId: string, username: string, keys: readonly WrappedKeyInput[]): Promise<void>;
}

export interface SharingOptions {
  readonly backend: CryptoBackend;
  /** The signed-in user: the owner of the objects shared. */
  readonly userId: string;
  /** The owner's data keys (the same object the privacy link seals and opens with). */
  readonly keys: DataKeyClientKeys;
  /** Verified, pinned keys of other users (a `KeyDirectory`). */
  readonly directory: VerifiedKeySource;
  readonly transport: SharingTransport;
  /** Whether objects of a type have SHARED fields (from the generated manifest); default: all do. */
  readonly hasSharedFields?: (objectType: string) => boolean;
}

export interface RevokeOptions {
  /**
   * Re-writes the object's SHARED fields (the application's update mutation, through the
   * privacy link, with the current plaintext values): they are then sealed under the new
   * key. Runs after the revocation is stored. Without it, the values stay under the old
   * key (which the revoked user held) until they are next written.
   */
  readonly reseal?: () => Promise<void>;
}

function recipientOf(backend: CryptoBackend, encryptionKey: Uint8Array): Recipient {
  return { keyId: keyIdOf(backend, 'x25519', encryptionKey), publicKey: encryptionKey };
}

export class Sharing {
  constructor(private readonly options: SharingOptions) {}

  private shared(objectType: string): boolean {
    return this.options.hasSharedFields?.(objectType) ?? true;
  }

  private async wrapFor(key: SymmetricKey, location: Location, recipientId: string, encryptionKey: Uint8Array): Promise<WrappedKeyInput> {
    const wrapped = await wrapKey(this.options.backend, key, location, [recipientOf(this.options.backend, encryptionKey)]);
    return { recipientId, keyVersion: key.version, wrapped: wrappedKeyToText(wrapped) };
  }

  private async newestKey(objectType: string, objectId: string): Promise<SymmetricKey> {
    const key = await this.options.keys.currentKey(objectType, objectId, this.options.userId);
    if (!key) throw new CryptoError('KEY_NOT_FOUND', `no data key for ${objectType} ${objectId}`);
    return key;
  }

  /** The grants on one of the viewer's objects. */
  grants(objectType: string, objectId: string): Promise<readonly GrantInfo[]> {
    return this.options.transport.grants(objectType, objectId);
  }

  /**
   * Gives `username` access (or changes it). For a type with SHARED fields, the object's
   * newest data key is wrapped for the grantee's verified encryption key.
   */
  async grant(objectType: string, objectId: string, username: string, access: Access = 'READ'): Promise<void> {
    const keys: WrappedKeyInput[] = [];
    if (this.shared(objectType)) {
      const grantee = await this.options.directory.verifiedKeys(username);
      const key = await this.newestKey(objectType, objectId);
      keys.push(await this.wrapFor(key, { coordinate: objectType, ownerId: this.options.userId, objectId }, grantee.userId, grantee.encryptionKey));
    }
    await this.options.transport.grant(objectType, objectId, username, access, keys);
  }

  /**
   * Ends `username`'s access: rotates the object's data key for everyone who keeps access
   * (module comment), then runs `options.reseal`.
   */
  async revoke(objectType: string, objectId: string, username: string, options: RevokeOptions = {}): Promise<void> {
    const keys: WrappedKeyInput[] = [];
    let next: SymmetricKey | undefined;
    if (this.shared(objectType)) {
      const { backend, userId, keys: dataKeys, directory } = this.options;
      const current = await this.newestKey(objectType, objectId);
      const grants = await this.options.transport.grants(objectType, objectId);
      if (!grants.some((g) => g.granteeUsername === username)) throw new SessionError('NOT_FOUND', `${username} has no access to this ${objectType}`);
      next = rotateSymmetricKey(backend, current);
      const location: Location = { coordinate: objectType, ownerId: userId, objectId };
      keys.push(await this.wrapFor(next, location, userId, dataKeys.ownEncryptionKey));
      for (const g of grants) {
        if (g.granteeUsername === username) continue;
        const verified = await directory.verifiedKeys(g.granteeUsername);
        if (verified.userId !== g.granteeId) throw new SessionError('BAD_RESPONSE', `the directory's ${g.granteeUsername} is not the grantee the server listed`);
        keys.push(await this.wrapFor(next, location, g.granteeId, verified.encryptionKey));
      }
    }
    await this.options.transport.revoke(objectType, objectId, username, keys);
    if (next) this.options.keys.hold(objectType, objectId, next);
    await options.reseal?.();
  }
}

const GRANTS = 'query VgGrants($t: String!, $id: ID!) { grants(objectType: $t, objectId: $id) { access grantee { id username } } }';
const GRANT =
  'mutation VgGrant($t: String!, $id: ID!, $u: String!, $a: Access!, $k: [WrappedDataKeyInput!]!) { grantAccess(objectType: $t, objectId: $id, username: $u, access: $a, keys: $k) { access } }';
const REVOKE = 'mutation VgRevoke($t: String!, $id: ID!, $u: String!, $k: [WrappedDataKeyInput!]!) { revokeAccess(objectType: $t, objectId: $id, username: $u, keys: $k) }';

/** The grant API of src/server/services/sharing/sharing.graphql over plain `fetch`. */
export function graphqlSharingTransport(endpoint: string, token: () => string, options: SessionOptions = {}): SharingTransport {
  const call = <T>(query: string, variables: Record<string, unknown>) => graphqlRequest<T>(endpoint, query, variables, { ...options, token: token() });
  return {
    async grants(objectType, objectId) {
      const data = await call<{ grants: { access: Access; grantee: { id: string; username: string } }[] }>(GRANTS, { t: objectType, id: objectId });
      return data.grants.map((g) => ({ granteeId: g.grantee.id, granteeUsername: g.grantee.username, access: g.access }));
    },
    async grant(objectType, objectId, username, access, keys) {
      await call(GRANT, { t: objectType, id: objectId, u: username, a: access, k: keys });
    },
    async revoke(objectType, objectId, username, keys) {
      await call(REVOKE, { t: objectType, id: objectId, u: username, k: keys });
    },
  };
}
