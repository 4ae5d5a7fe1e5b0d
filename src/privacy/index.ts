/**
 * @module
 * The privacy model shared by the gateway and the code generator: the directives, the
 * manifest derived from annotated SDL, the wire schema, and key-less checks of sealed
 * values. Imports only src/crypto.
 */
// PRIVACY_SDL is not exported: the directive definitions come only with veilgraph's server
// (createVeilgraph) and its code generator, so annotated SDL cannot become an unenforced schema.
export { ID_ALIAS, OWNER_ALIAS, RESERVED_ALIAS_PREFIX } from './sdl.js';
export { PRIVACY_LEVELS, isSealedLevel, type PrivacyLevel } from './levels.js';
export { PrivacySchemaError } from './errors.js';
export {
  MANIFEST_VERSION,
  buildPrivacyManifest,
  levelOf,
  type FieldPrivacy,
  type InputFieldPrivacy,
  type InputPrivacy,
  type ObjectPrivacy,
  type PrivacyManifest,
} from './manifest.js';
export { toWireSchema } from './wire-schema.js';
export { PROBE_FIELD, VEILGRAPH_PROTOCOL } from './protocol.js';
export { sealedForLocation, sealedShapeProblem, type SealedShapeOptions } from './sealed-value.js';
export {
  KEY_BUNDLE_FORMAT,
  KEY_BUNDLE_VERSION,
  decodeKeyBundle,
  encodeKeyBundle,
  openKeyBundle,
  sealKeyBundle,
  wipeKeyBundle,
  type KeyBundleContent,
  type KeyBundleRecipient,
  type KeyBundleRecipientKind,
  type StoredKeyBundle,
} from './key-bundle.js';
