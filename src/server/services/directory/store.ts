/**
 * @module
 * What directory() stores beyond signIn()'s users and key versions: contacts and contact
 * requests, one row per pair of users (docs/sharing.md, "Contacts").
 */
import type { ContactRow, UserRow } from '../../storage/store.js';
import type { ServiceContext } from '../../context.js';
import type { LayerStore } from '../../storage/store.js';
import type { SignInStore } from '../sign-in/store.js';

export interface DirectoryStore {
  /** Users whose username starts with `prefix`, ordered by username, after `afterUsername`. */
  searchUsers(prefix: string, limit: number, afterUsername?: string): Promise<UserRow[]>;

  /** The row of the pair, whichever order the ids are given in. */
  findContact(userA: string, userB: string): Promise<ContactRow | null>;

  /**
   * `fromId` asks `toId` to be a contact. Atomic and safe against the other side asking at
   * the same moment (one row per pair):
   * - no row: a PENDING request is created → `requested`;
   * - a PENDING request from `toId`: it becomes ACCEPTED → `accepted`;
   * - a PENDING request from `fromId`: nothing changes → `duplicate`;
   * - ACCEPTED: nothing changes → `already-contacts`.
   * A missing user is INVALID_REFERENCE.
   */
  requestContact(fromId: string, toId: string): Promise<{ outcome: 'requested' | 'accepted' | 'duplicate' | 'already-contacts'; row: ContactRow }>;

  /** `userId` accepts the PENDING request `requesterId` sent them; null when there is none. */
  acceptContact(userId: string, requesterId: string): Promise<ContactRow | null>;

  /** Deletes the PENDING request `requesterId` sent `recipientId` (reject or cancel); false when none. */
  deleteContactRequest(requesterId: string, recipientId: string): Promise<boolean>;

  /** Deletes an ACCEPTED contact between the two; false when they were not contacts. */
  deleteContact(userA: string, userB: string): Promise<boolean>;

  /**
   * `userId`'s contacts (`ACCEPTED`), requests sent to them (`INCOMING`) or by them
   * (`OUTGOING`), ordered by the other user's id, after `afterUserId`, at most `limit`.
   */
  listContacts(userId: string, which: 'ACCEPTED' | 'INCOMING' | 'OUTGOING', limit: number, afterUserId?: string): Promise<ContactRow[]>;
}

/** What the service's resolvers receive: the context with the store it declares (and the layer's). */
export type DirectoryContext = ServiceContext<LayerStore & SignInStore & DirectoryStore>;
