/**
 * @module
 * Where an account's key bundle is sealed and its bundle key wrapped (docs/devices.md,
 * docs/crypto.md §12), shared by the client that seals and the gateway that checks the
 * bindings, so the two can never disagree on a byte of a location.
 */
import type { Location } from '../crypto/location.js';

export const KEY_BUNDLE_COORDINATE = 'AccountKeys.bundle';
export const BUNDLE_KEY_COORDINATE = 'AccountKeys';
export const KEY_BUNDLE_OBJECT_ID = 'bundle';

/** The place the bundle plaintext is sealed for (envelope v1 under the bundle key). */
export function keyBundleLocation(userId: string): Location {
  return { coordinate: KEY_BUNDLE_COORDINATE, ownerId: userId, objectId: KEY_BUNDLE_OBJECT_ID };
}

/** The place the bundle key is wrapped for (wrapped key v1, one stanza per device and backup). */
export function bundleKeyLocation(userId: string): Location {
  return { coordinate: BUNDLE_KEY_COORDINATE, ownerId: userId, objectId: KEY_BUNDLE_OBJECT_ID };
}
