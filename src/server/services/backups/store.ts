/**
 * @module
 * What backups() stores beyond signIn()'s devices and bundle: backups of the bundle and
 * operator-issued reset codes; an account reset also revokes every device and deletes the
 * bundle (docs/devices.md).
 */
import type { AccountResetRow, BackupKind, BackupRow } from '../../storage/store.js';
import type { ServiceContext } from '../../context.js';
import type { LayerStore } from '../../storage/store.js';
import type { SignInStore } from '../sign-in/store.js';

export interface BackupsStore {
  /** Every PENDING or ACTIVE device of the user becomes REVOKED; returns how many. */
  revokeAllDevices(userId: string, revokedAt: Date): Promise<number>;

  /** Deletes the user's bundle (an account reset starts a new history at revision 1); false when none. */
  deleteKeyBundle(userId: string): Promise<boolean>;

  findBackup(userId: string, kind: BackupKind): Promise<BackupRow | null>;

  /** Creates or replaces the user's backup of `b.kind` (createdAt: now). */
  putBackup(b: Omit<BackupRow, 'createdAt'>): Promise<BackupRow>;

  /** Deletes the user's backup of `kind`; false when there was none. */
  deleteBackup(userId: string, kind: BackupKind): Promise<boolean>;

  /** Deletes every backup of the user; returns how many. */
  deleteBackups(userId: string): Promise<number>;

  /** Records (or replaces) the user's reset code hash. */
  putAccountReset(r: AccountResetRow): Promise<void>;

  findAccountReset(userId: string): Promise<AccountResetRow | null>;

  /** Deletes the reset only if it still holds `codeHash` (single use); false otherwise. */
  consumeAccountReset(userId: string, codeHash: Uint8Array): Promise<boolean>;

  /** Deletes reset codes whose `expiresAt` is at or before `now`; returns how many. */
  purgeExpiredAccountResets(now: Date): Promise<number>;
}

/** What the service's resolvers receive: the context with the store it declares (and the layer's). */
export type BackupsContext = ServiceContext<LayerStore & SignInStore & BackupsStore>;
