/**
 * @module
 * The reference app's storage seam for its own type, `Profile`. The app keeps its profiles
 * in veilgraph's database file (the Prisma schema has a Profile model), so the store that
 * serves them is the one `openStore` returns: its Profile methods are this seam. An app with
 * a database of its own puts its own store here; nothing else in the app changes.
 */
import type { PrismaStore } from '../../server/index.js';

export type ProfileStore = Pick<
  PrismaStore,
  | 'createProfile'
  | 'updateProfileIfServerSealed'
  | 'swapProfileServerSealed'
  | 'deleteProfile'
  | 'findProfileById'
  | 'findProfileOwners'
  | 'findProfileByOwner'
  | 'findReadableProfileByEmailIndex'
  | 'listProfiles'
  | 'listProfilesNotOnKeyVersion'
  | 'countProfilesNotOnKeyVersion'
>;

/** One stored profile: PUBLIC columns, the SERVER blob and its key version, the email's blind index, SHARED/PRIVATE envelopes. */
export type ProfileRow = NonNullable<Awaited<ReturnType<ProfileStore['findProfileById']>>>;
export type ProfileUpdate = Parameters<PrismaStore['updateProfile']>[1];
