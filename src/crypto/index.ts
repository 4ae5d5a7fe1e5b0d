/**
 * @module
 * veilgraph's crypto core: the portable entry (Node and browsers, no `node:` imports).
 * The native Node backend lives at `veilgraph/crypto/node`.
 */
export type { CryptoBackend } from './backend.js';
export { nobleBackend } from './backends/noble.js';
export { webCryptoBackend, webCryptoSupportsCurves } from './backends/webcrypto.js';
export { selectPortableBackend } from './select.js';
export { base64urlDecode, base64urlEncode } from './base64url.js';
export { equalBytes, utf8Decode, utf8Encode } from './bytes.js';
export { CryptoError, isCryptoError, type CryptoErrorCode } from './errors.js';
export {
  KEY_ID_BYTES,
  SymmetricKeyRing,
  encryptionKeyPairFromPrivate,
  generateEncryptionKeyPair,
  generateSigningKeyPair,
  generateSymmetricKey,
  keyIdOf,
  keyIdText,
  rotateSymmetricKey,
  signingKeyPairFromSeed,
  type EncryptionKeyPair,
  type KeySource,
  type PublicKeyKind,
  type SigningKeyPair,
  type SymmetricKey,
} from './keys.js';
export { locationTag, type Location } from './location.js';
export { MESSAGE_BUCKETS, PADDING_NONE, PADDING_PADME, padme, paddedLength, type PaddingPolicy } from './padding.js';
export {
  DEFAULT_MAX_ENVELOPE_BYTES,
  envelopeToText,
  openEnvelope,
  openEnvelopeText,
  openVerifiedEnvelope,
  parseEnvelope,
  parseEnvelopeText,
  sealEnvelope,
  sealEnvelopeText,
  sealSignedEnvelope,
  verifyEnvelopeSignature,
  type OpenedEnvelope,
  type ParsedEnvelope,
  type ParseOptions,
  type SealOptions,
} from './envelope.js';
export { parseWrappedKey, unwrapKey, verifyWrapSignature, wrapKey, wrapKeyEach, wrappedKeyToText, type ParsedWrappedKey, type Recipient } from './wrap.js';
export { MAX_DEVICE_NAME_LENGTH, deviceNameProblem, normalizeDeviceName } from './device-name.js';
export {
  FINGERPRINT_DIGITS,
  FINGERPRINT_ITERATIONS,
  KEY_VERSION_LABEL,
  KEY_VERSION_SIGNATURE_BYTES,
  fingerprintOf,
  fingerprintText,
  keyStatement,
  keyVersionMessage,
  keyVersionSignatureLength,
  safetyNumberOf,
  signKeyVersion,
  verifyKeyStatement,
  type KeyStatementInput,
  type KeyVersionMessageInput,
  type SafetyNumberParty,
} from './key-directory.js';
export {
  BACKUP_KDF_MAX,
  BACKUP_KDF_MIN,
  BACKUP_SALT_BYTES,
  PHRASE_KDF,
  RECOVERY_PHRASE_WORDS,
  assertBackupKdf,
  backupKeysFromPassword,
  backupKeysFromPhrase,
  deviceLinkCode,
  generateRecoveryPhrase,
  newPasswordKdf,
  normalizeRecoveryPhrase,
  parseRecoveryPhrase,
  type Argon2Params,
  type BackupKeys,
} from './recovery.js';
