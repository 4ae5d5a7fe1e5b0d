/**
 * @module
 * Profile's TypeAdapter: how veilgraph reaches the app's profile rows. Owners are looked up
 * in one query per batch (veilgraph batches every id one request asks about in one tick);
 * `find` serves the "what the server sees" view; `reseal` lets a key ring rotation move
 * every profile's SERVER blob (email, phone) onto the current key.
 */
import type { TypeAdapter } from '../../server/index.js';
import type { ProfileRow, ProfileStore } from './store.js';

export function profileAdapter(store: ProfileStore): TypeAdapter<ProfileRow> {
  return {
    owners: (ids) => store.findProfileOwners(ids),
    find: (id) => store.findProfileById(id),
    reseal: {
      stale: (version, limit) => store.listProfilesNotOnKeyVersion(version, limit),
      swap: (id, expected, next, nextVersion) => store.swapProfileServerSealed(id, expected, next, nextVersion),
      count: (version) => store.countProfilesNotOnKeyVersion(version),
    },
  };
}
