/**
 * @module
 * veilgraph's isomorphic client core (Node and browsers, no `node:` imports): seals the
 * SHARED and PRIVATE values of an operation's variables before it is sent, and opens them
 * in results after it returns, driven by the privacy manifest. docs/client.md explains
 * the API, the location rule, the reserved aliases and the error behaviour.
 */
export { VeilClientError, isVeilClientError, type VeilClientErrorCode } from './errors.js';
// The manifest's type, for code that holds the generated one (a browser app installs no veilgraph/privacy).
export type { PrivacyManifest } from '../privacy/manifest.js';
export { staticClientKeys, type ClientKeys, type KeyRequest, type SealedLevel, type StaticClientKeysOptions } from './keys.js';
export { ID_ALIAS, OWNER_ALIAS, RESERVED_ALIAS_PREFIX, withVeilFields } from './veil.js';
export {
  sealVariables,
  type InputLocation,
  type InputPath,
  type LocationContext,
  type LocationFor,
  type SealVariablesOptions,
  type Variables,
} from './seal.js';
export { openResult, type OpenErrorCode, type OpenResultOptions, type OpenedResult, type SignedField, type VeilFieldError } from './open.js';
export { checkSigners, type SignerCheck, type SignerDirectory, type VerifiedSigner } from './signers.js';
export { createVeilPipeline, firstOperationName, type Prepared, type VeilClientOptions, type VeilPipeline, type VeilRequest } from './pipeline.js';
export { EnforcementCheck, PROBE_QUERY, fetchProbe, type FetchProbeOptions, type ProbeSender } from './enforcement.js';
export { touchesProtectedFields } from './operation.js';
export { MemoryKeyStore, KEY_NAMES, type KeyStore } from './keystore.js';
export { clientKeysFrom, createIdentity, loadIdentity, login, register, SessionError } from './session.js';
export { TokenCache, type TokenCacheOptions } from './token-cache.js';
export { IndexedDbKeyStore, IndexedDbKeyStoreError, isIndexedDbKeyStoreError, type IndexedDbKeyStoreErrorCode, type IndexedDbKeyStoreOptions } from './keystore-indexeddb.js';
export { DataKeyClientKeys, dataKeyClientKeysFrom, graphqlDataKeyTransport, type DataKeyClientKeysOptions, type DataKeyTransport, type StoredDataKey } from './data-keys.js';
export {
  DirectoryError,
  KeyDirectory,
  graphqlDirectoryTransport,
  isDirectoryError,
  pinKeyName,
  pinUsernameKeyName,
  verifyKeyHistory,
  type DirectoryErrorCode,
  type DirectoryTransport,
  type KeyChangeInfo,
  type KeyDirectoryOptions,
  type KeyHistoryRecord,
  type KeyOwnerRecord,
  type KeyVersionRecord,
  type SignerInfo,
  type VerifiedHistory,
  type VerifiedKeys,
  type VerifiedKeyVersion,
} from './directory.js';
export { encryptionKeyNameForVersion, rotateIdentityKeys, type RotatedIdentity } from './rotate-identity.js';
export {
  Sharing,
  graphqlSharingTransport,
  type Access,
  type GrantInfo,
  type RevokeOptions,
  type SharingOptions,
  type SharingTransport,
  type VerifiedKeySource,
  type WrappedKeyInput,
} from './sharing.js';
export {
  Account,
  DeviceLinkRequest,
  MIN_BACKUP_PASSWORD_LENGTH,
  cleanup,
  hasPrivateKey,
  type AccountOptions,
  type BackupInfo,
  type DeviceInfo,
  type RewrapReport,
  type RotationReport,
} from './account.js';
export { loadAccountUser, type AccountUser } from './account-store.js';
export {
  MESSAGE_FIELDS,
  MessageError,
  Messenger,
  graphqlMessagingTransport,
  type ConversationKind,
  type MessageErrorCode,
  type MessagingDirectory,
  type MessagingTransport,
  type MessengerOptions,
  type OpenedMessage,
  type WireMessage,
} from './messaging.js';
