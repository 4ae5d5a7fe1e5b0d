/**
 * @module
 * The exact byte strings signed to manage an account's devices and backups (docs/devices.md,
 * "Signed messages"). Pure and portable, shared by client and server like
 * `auth-messages.ts`: each message starts with its own label and 0x00 (so no signature can
 * pass for another kind), then the realm (so none is valid at another deployment).
 *
 *   lp(s)  = u16be(len(utf8(s))) ‖ utf8(s)
 *   device  = "veilgraph/v1/device"  ‖ 0x00 ‖ lp(realm) ‖ lp(username) ‖ lp(name) ‖ signingKey(32) ‖ encryptionKey(32)
 *   backup  = "veilgraph/v1/backup"  ‖ 0x00 ‖ lp(realm) ‖ lp(username) ‖ lp(kind) ‖ authKey(32) ‖ encryptionKey(32)
 *             ‖ lp(algorithm) ‖ lp(salt) ‖ u32be(memoryKiB) ‖ u32be(iterations) ‖ u32be(parallelism)
 *   recover = "veilgraph/v1/recover" ‖ 0x00 ‖ lp(realm) ‖ lp(username) ‖ lp(kind) ‖ challenge(57)
 *             ‖ deviceSigningKey(32) ‖ deviceEncryptionKey(32)
 *
 * `device` is signed by the new device's signing key (proof of possession, so nobody can
 * enrol someone else's key). `backup` is signed by the backup's auth key. `recover` is
 * signed by the backup's auth key to add a device: it binds the one-time challenge and the
 * device's keys, so a recorded answer cannot enrol another device. Opening a backup
 * (read-only) answers the plain login message with purpose RECOVER (auth-messages.ts).
 */
import { concatBytes } from './bytes.js';
import { CHALLENGE_BYTES, PUBLIC_KEY_BYTES } from './auth-messages.js';
import { exactly, labelBytes, lengthPrefixed, u32be } from './signed-message.js';

export const DEVICE_LABEL = 'veilgraph/v1/device';
export const BACKUP_LABEL = 'veilgraph/v1/backup';
export const RECOVER_LABEL = 'veilgraph/v1/recover';

/** The two kinds of backup: a 24-word recovery phrase, or a password. */
export type BackupKind = 'PHRASE' | 'PASSWORD';

/** How a backup's secret becomes key material (stored with the backup, public). */
export interface BackupKdf {
  /** "bip39" for PHRASE (salt empty, numbers 0), "argon2id" for PASSWORD. */
  readonly algorithm: 'bip39' | 'argon2id';
  /** base64url; 16 random bytes for argon2id, empty for bip39. */
  readonly salt: string;
  readonly memoryKiB: number;
  readonly iterations: number;
  readonly parallelism: number;
}

export interface DeviceMessageInput {
  readonly realm: string;
  readonly username: string;
  /** The device's display name, as the user typed it. */
  readonly name: string;
  /** The device's Ed25519 public key (32 bytes): it signs in with it. */
  readonly signingKey: Uint8Array;
  /** The device's X25519 public key (32 bytes): the key bundle is wrapped to it. */
  readonly encryptionKey: Uint8Array;
}

export function deviceMessage(m: DeviceMessageInput): Uint8Array {
  return concatBytes(
    labelBytes(DEVICE_LABEL),
    lengthPrefixed(m.realm),
    lengthPrefixed(m.username),
    lengthPrefixed(m.name),
    exactly(m.signingKey, PUBLIC_KEY_BYTES, 'device signing key'),
    exactly(m.encryptionKey, PUBLIC_KEY_BYTES, 'device encryption key'),
  );
}

export interface BackupMessageInput {
  readonly realm: string;
  readonly username: string;
  readonly kind: BackupKind;
  /** Ed25519 public key derived from the secret: proves the secret when recovering. */
  readonly authKey: Uint8Array;
  /** X25519 public key derived from the secret: the bundle key is wrapped to it. */
  readonly encryptionKey: Uint8Array;
  readonly kdf: BackupKdf;
}

export function backupMessage(m: BackupMessageInput): Uint8Array {
  return concatBytes(
    labelBytes(BACKUP_LABEL),
    lengthPrefixed(m.realm),
    lengthPrefixed(m.username),
    lengthPrefixed(m.kind),
    exactly(m.authKey, PUBLIC_KEY_BYTES, 'backup auth key'),
    exactly(m.encryptionKey, PUBLIC_KEY_BYTES, 'backup encryption key'),
    lengthPrefixed(m.kdf.algorithm),
    lengthPrefixed(m.kdf.salt),
    u32be(m.kdf.memoryKiB, 'memoryKiB'),
    u32be(m.kdf.iterations, 'iterations'),
    u32be(m.kdf.parallelism, 'parallelism'),
  );
}

export interface RecoverMessageInput {
  readonly realm: string;
  readonly username: string;
  readonly kind: BackupKind;
  /** The RECOVER challenge as raw bytes (57). */
  readonly challenge: Uint8Array;
  readonly deviceSigningKey: Uint8Array;
  readonly deviceEncryptionKey: Uint8Array;
}

export function recoverMessage(m: RecoverMessageInput): Uint8Array {
  return concatBytes(
    labelBytes(RECOVER_LABEL),
    lengthPrefixed(m.realm),
    lengthPrefixed(m.username),
    lengthPrefixed(m.kind),
    exactly(m.challenge, CHALLENGE_BYTES, 'challenge'),
    exactly(m.deviceSigningKey, PUBLIC_KEY_BYTES, 'device signing key'),
    exactly(m.deviceEncryptionKey, PUBLIC_KEY_BYTES, 'device encryption key'),
  );
}

export const RESET_LABEL = 'veilgraph/v1/reset';

export interface ResetMessageInput {
  readonly realm: string;
  readonly username: string;
  /** The directory version the reset creates (current + 1). */
  readonly version: number;
  readonly signingKey: Uint8Array;
  readonly encryptionKey: Uint8Array;
}

/**
 *   reset = "veilgraph/v1/reset" ‖ 0x00 ‖ lp(realm) ‖ lp(username) ‖ u32be(version) ‖ signingKey(32) ‖ encryptionKey(32)
 *
 * Signed by the new signing key only: after an account reset (every device and backup
 * lost) nothing old can sign, so the directory version it creates breaks the chain and is
 * marked `reset`; contacts are told, and must compare safety numbers again.
 */
export function resetMessage(m: ResetMessageInput): Uint8Array {
  return concatBytes(
    labelBytes(RESET_LABEL),
    lengthPrefixed(m.realm),
    lengthPrefixed(m.username),
    u32be(m.version, 'version'),
    exactly(m.signingKey, PUBLIC_KEY_BYTES, 'signing key'),
    exactly(m.encryptionKey, PUBLIC_KEY_BYTES, 'encryption key'),
  );
}
