/**
 * @module
 * The reference application's `Profile` table (src/app/profile), which lives in veilgraph's
 * Prisma schema and database file: the app's data happens to share them. `PrismaStore`
 * implements these methods; the app declares the same as its own `ProfileStore` seam
 * (src/app/profile/store.ts). Nothing in the privacy layer or the services uses them.
 */

export interface ProfileRow {
  readonly id: string;
  readonly ownerId: string;
  /** PUBLIC. */
  readonly displayName: string;
  /** SERVER fields of this row, one envelope under the gateway key ring; null when none set. */
  readonly serverSealed: Uint8Array | null;
  /** Key ring version `serverSealed` is sealed under (0 when null): lets rotation find stale rows. */
  readonly serverKeyVersion: number;
  /** Blind index of the SERVER field `email` (searchable). */
  readonly emailIndex: string | null;
  /** SHARED envelope text. */
  readonly bio: string | null;
  /** PRIVATE envelope text. */
  readonly diary: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export type ProfileCreate = Omit<ProfileRow, 'createdAt' | 'updatedAt'>;
export type ProfileUpdate = Partial<Omit<ProfileRow, 'id' | 'ownerId' | 'createdAt' | 'updatedAt'>>;

/** The Profile methods of `PrismaStore` (what the reference app's `ProfileStore` asks for). */
export interface ProfileMethods {
  createProfile(p: ProfileCreate): Promise<ProfileRow>;

  /** Updates the given columns; returns null when the row does not exist. */
  updateProfile(id: string, patch: ProfileUpdate): Promise<ProfileRow | null>;

  /**
   * Applies `patch` only if the row's SERVER blob is still `expected` (null: still none):
   * a read-modify-write of the blob without a transaction, so it works the same against a
   * concurrent writer in another process (SQLite cannot upgrade a reading transaction to
   * a writing one while another process writes). `'conflict'` when the blob changed;
   * null when the row does not exist.
   */
  updateProfileIfServerSealed(id: string, expected: Uint8Array | null, patch: ProfileUpdate): Promise<ProfileRow | null | 'conflict'>;

  /**
   * Compare-and-swap of the SERVER blob, for key rotation racing live writes: updates only
   * when the row still holds `expected`. Returns whether it did.
   */
  swapProfileServerSealed(id: string, expected: Uint8Array, next: Uint8Array, nextVersion: number): Promise<boolean>;

  deleteProfile(id: string): Promise<boolean>;

  findProfileById(id: string): Promise<ProfileRow | null>;

  /** The owners of these profiles, by id (unknown ids left out), in one query per 500 ids. */
  findProfileOwners(ids: readonly string[]): Promise<Map<string, string>>;
  findProfileByOwner(ownerId: string): Promise<ProfileRow | null>;

  /**
   * The first profile (by id) with this email blind index that `viewerId` may read the SERVER
   * fields of — owns it, or holds any grant on it — else null. One statement decides, so a
   * lookup makes the same calls whether no profile, or profiles the viewer may not read,
   * have the index (docs/privacy.md: a lookup cannot confirm an address to a stranger).
   */
  findReadableProfileByEmailIndex(index: string, viewerId: string): Promise<ProfileRow | null>;

  /** Profiles ordered by id, after `cursor` (exclusive), at most `limit`. */
  listProfiles(limit: number, cursor?: string): Promise<ProfileRow[]>;

  /** Profiles whose SERVER blob is sealed under a version other than `version` (rotation). */
  listProfilesNotOnKeyVersion(version: number, limit: number): Promise<ProfileRow[]>;

  countProfilesNotOnKeyVersion(version: number): Promise<number>;
}
