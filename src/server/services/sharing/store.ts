/**
 * @module
 * What sharing() stores: grants and the data keys of objects with SHARED fields, wrapped for
 * each recipient (docs/sharing.md). Reading a viewer's grants and an object's newest data
 * key is the layer's (`LayerStore`): every read and every SHARED write asks.
 */
import type { GrantRow, ObjectKeyForRecipient, ObjectKeyRow } from '../../storage/store.js';
import type { ServiceContext } from '../../context.js';
import type { SignInStore } from '../sign-in/store.js';
import type { LayerStore } from '../../storage/store.js';

export interface SharingStore {
  upsertGrant(g: Omit<GrantRow, 'createdAt'>): Promise<GrantRow>;

  deleteGrant(objectType: string, objectId: string, granteeId: string): Promise<boolean>;

  /**
   * Stores wrapped data keys, all or nothing. A slot `(objectType, objectId, keyVersion,
   * recipientId)` that already holds the same bytes is left as it is (a retried put
   * succeeds); one holding different bytes is a CONFLICT and nothing is written. A
   * recipient that does not exist is INVALID_REFERENCE.
   */
  putObjectKeys(rows: readonly ObjectKeyRow[]): Promise<void>;

  /**
   * `recipientId`'s wrapped keys for the given objects, every version; ordered by object
   * id, then key version.
   */
  objectKeysFor(objectType: string, objectIds: readonly string[], recipientId: string): Promise<ObjectKeyForRecipient[]>;

  /** Deletes every wrapped key of the object held for `recipientId` (revocation); returns how many. */
  deleteObjectKeys(objectType: string, objectId: string, recipientId: string): Promise<number>;

  /** Highest key version stored for an object (any recipient), or null when it has no data key. */
  latestObjectKeyVersion(objectType: string, objectId: string): Promise<number | null>;
}

/** What the service's resolvers receive: the context with the store it declares (and the layer's). */
export type SharingContext = ServiceContext<LayerStore & SignInStore & SharingStore>;
