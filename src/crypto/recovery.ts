/**
 * @module
 * Backup secrets and what they derive (docs/crypto.md §12): the 24-word recovery phrase,
 * the password (Argon2id), the two key pairs a backup secret becomes, and the code two
 * devices show while linking. Pure and portable (no `node:` imports).
 *
 *   phrase:    seed   = BIP39 mnemonicToSeed(normalized phrase, passphrase "")       64 bytes
 *   password:  master = Argon2id v0x13(NFKC(password), salt, m, t, p, 32 bytes)
 *   both:      authSeed    = HKDF-SHA256(ikm = seed | master, salt = "", info = "veilgraph/v1/backup-auth", 32)
 *              wrapPrivate = HKDF-SHA256(ikm = seed | master, salt = "", info = "veilgraph/v1/backup-wrap", 32)
 *              auth = Ed25519(authSeed), encryption = X25519(wrapPrivate)
 *   link code: f = SHA-256("veilgraph/v1/device-code" ‖ 0x00 ‖ signingKey ‖ encryptionKey),
 *              5 groups of 5 digits (as fingerprints, ./key-directory.ts)
 *
 * The server stores a backup's two public keys. Both come from one stretched secret by
 * independent HKDF derivations, so testing a password guess against either costs one
 * full Argon2id, never less; the phrase has 256 bits of entropy and needs no stretching.
 */
import { argon2idAsync } from '@noble/hashes/argon2.js';
import { entropyToMnemonic, mnemonicToEntropy, mnemonicToSeed } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import type { BackupKdf, BackupKind } from './account-messages.js';
import type { CryptoBackend } from './backend.js';
import { base64urlDecode, base64urlEncode } from './base64url.js';
import { concatBytes, utf8Encode, wipe } from './bytes.js';
import { CryptoError } from './errors.js';
import { decimalDigits, groupDigits } from './key-directory.js';
import { encryptionKeyPairFromPrivate, signingKeyPairFromSeed, type EncryptionKeyPair, type SigningKeyPair } from './keys.js';
import { LABEL } from './labels.js';
import { exactly } from './signed-message.js';

/** Words in a recovery phrase: 256 bits of entropy plus an 8-bit checksum. */
export const RECOVERY_PHRASE_WORDS = 24;
const ENTROPY_BYTES = 32;
/** Bytes of random salt in a password backup's KDF parameters. */
export const BACKUP_SALT_BYTES = 16;

/** Argon2id cost parameters (memory in KiB, passes, lanes). */
export interface Argon2Params {
  readonly memoryKiB: number;
  readonly iterations: number;
  readonly parallelism: number;
}

/** OWASP's minimum for Argon2id (m = 19 MiB, t = 2, p = 1), and the default for new backups. */
export const BACKUP_KDF_MIN: Argon2Params = { memoryKiB: 19456, iterations: 2, parallelism: 1 };
/**
 * The most a client agrees to spend when a server hands it parameters: 4 GiB − 1 KiB (the
 * largest memory the Argon2 implementation can allocate, one typed array < 2^32 bytes),
 * 64 passes, 16 lanes. Anything above is refused before any work starts.
 */
export const BACKUP_KDF_MAX: Argon2Params = { memoryKiB: 4194303, iterations: 64, parallelism: 16 };
/** The KDF record of a PHRASE backup: the phrase is already 256 bits, nothing to stretch. */
export const PHRASE_KDF: BackupKdf = { algorithm: 'bip39', salt: '', memoryKiB: 0, iterations: 0, parallelism: 0 };

/** The two key pairs a backup secret becomes, with the parameters that derived them. */
export interface BackupKeys {
  /** Ed25519: signs the backup message and proves the secret when recovering. */
  readonly auth: SigningKeyPair;
  /** X25519: the key bundle's key is wrapped to it. */
  readonly encryption: EncryptionKeyPair;
  readonly kdf: BackupKdf;
}

function invalidPhrase(why: string): CryptoError {
  return new CryptoError('INVALID_RECOVERY_PHRASE', `recovery phrase: ${why}`);
}

/** A new 24-word English BIP39 phrase from 32 bytes of the backend's CSPRNG. */
export function generateRecoveryPhrase(backend: CryptoBackend): string {
  const entropy = backend.randomBytes(ENTROPY_BYTES);
  try {
    return entropyToMnemonic(entropy, wordlist);
  } finally {
    wipe(entropy);
  }
}

/** NFKD, lower case, no leading or trailing space, words separated by one space. */
export function normalizeRecoveryPhrase(text: string): string {
  if (typeof text !== 'string') throw new CryptoError('INVALID_ARGUMENT', 'recovery phrase must be a string');
  return text.normalize('NFKD').toLowerCase().trim().split(/\s+/).join(' ');
}

const WORDS = new Set(wordlist);

/**
 * The normalized phrase, or INVALID_RECOVERY_PHRASE saying what is wrong: which positions
 * hold a word not in the list (never the words themselves), a count other than 24, or a
 * failed checksum (some word is a different valid word: typed wrong or out of order).
 */
export function parseRecoveryPhrase(text: string): string {
  const phrase = normalizeRecoveryPhrase(text);
  const words = phrase === '' ? [] : phrase.split(' ');
  const unknown = words.flatMap((w, i) => (WORDS.has(w) ? [] : [i + 1]));
  if (unknown.length > 0) {
    const at = unknown.length === 1 ? `word ${unknown[0]} is` : `words ${unknown.join(', ')} are`;
    throw invalidPhrase(`${at} not in the BIP39 English word list`);
  }
  if (words.length !== RECOVERY_PHRASE_WORDS) throw invalidPhrase(`expected ${RECOVERY_PHRASE_WORDS} words, got ${words.length}`);
  let entropy: Uint8Array;
  try {
    entropy = mnemonicToEntropy(phrase, wordlist);
  } catch {
    throw invalidPhrase('checksum does not match (a word is wrong or out of place)');
  }
  wipe(entropy);
  return phrase;
}

function outOfRange(kind: BackupKind, why: string): CryptoError {
  return new CryptoError('INVALID_ARGUMENT', `${kind} backup parameters: ${why}`);
}

function inRange(v: number, min: number, max: number): boolean {
  return Number.isSafeInteger(v) && v >= min && v <= max;
}

/**
 * Throws INVALID_ARGUMENT unless `kdf` is acceptable for `kind`: PHRASE exactly
 * `PHRASE_KDF`; PASSWORD argon2id with a 16-byte salt and every cost within
 * `BACKUP_KDF_MIN`..`BACKUP_KDF_MAX`. Run on parameters from the server before deriving,
 * so a malicious server can neither weaken a password backup nor make a client exhaust
 * its memory or time.
 */
export function assertBackupKdf(kind: BackupKind, kdf: BackupKdf): void {
  if (kind !== 'PHRASE' && kind !== 'PASSWORD') throw new CryptoError('INVALID_ARGUMENT', 'backup kind must be PHRASE or PASSWORD');
  if (typeof kdf !== 'object' || kdf === null) throw outOfRange(kind, 'missing');
  if (kind === 'PHRASE') {
    const p = PHRASE_KDF;
    const same = kdf.algorithm === p.algorithm && kdf.salt === p.salt && kdf.memoryKiB === 0 && kdf.iterations === 0 && kdf.parallelism === 0;
    if (!same) throw outOfRange(kind, 'must be algorithm "bip39" with an empty salt and zero costs');
    return;
  }
  if (kdf.algorithm !== 'argon2id') throw outOfRange(kind, 'algorithm must be "argon2id"');
  let salt: Uint8Array;
  try {
    salt = base64urlDecode(kdf.salt);
  } catch {
    throw outOfRange(kind, 'salt is not base64url');
  }
  if (salt.length !== BACKUP_SALT_BYTES) throw outOfRange(kind, `salt must be ${BACKUP_SALT_BYTES} bytes, got ${salt.length}`);
  const min = BACKUP_KDF_MIN;
  const max = BACKUP_KDF_MAX;
  if (!inRange(kdf.memoryKiB, min.memoryKiB, max.memoryKiB)) throw outOfRange(kind, `memoryKiB must be an integer in ${min.memoryKiB}..${max.memoryKiB}`);
  if (!inRange(kdf.iterations, min.iterations, max.iterations)) throw outOfRange(kind, `iterations must be an integer in ${min.iterations}..${max.iterations}`);
  if (!inRange(kdf.parallelism, min.parallelism, max.parallelism)) throw outOfRange(kind, `parallelism must be an integer in ${min.parallelism}..${max.parallelism}`);
}

/** KDF parameters for a new password backup: a fresh random salt, `BACKUP_KDF_MIN` costs unless overridden. */
export function newPasswordKdf(backend: CryptoBackend, overrides: Partial<Argon2Params> = {}): BackupKdf {
  const kdf: BackupKdf = {
    algorithm: 'argon2id',
    salt: base64urlEncode(backend.randomBytes(BACKUP_SALT_BYTES)),
    memoryKiB: overrides.memoryKiB ?? BACKUP_KDF_MIN.memoryKiB,
    iterations: overrides.iterations ?? BACKUP_KDF_MIN.iterations,
    parallelism: overrides.parallelism ?? BACKUP_KDF_MIN.parallelism,
  };
  assertBackupKdf('PASSWORD', kdf);
  return kdf;
}

/** The two key pairs from the 32- or 64-byte stretched secret (wiped here). */
async function backupKeysFrom(backend: CryptoBackend, secret: Uint8Array, kdf: BackupKdf): Promise<BackupKeys> {
  const none = new Uint8Array(0);
  const authSeed = backend.hkdfSha256(secret, none, LABEL.backupAuth, 32);
  const wrapPrivate = backend.hkdfSha256(secret, none, LABEL.backupWrap, 32);
  wipe(secret);
  return { auth: await signingKeyPairFromSeed(backend, authSeed), encryption: await encryptionKeyPairFromPrivate(backend, wrapPrivate), kdf };
}

/** The backup keys of a recovery phrase (INVALID_RECOVERY_PHRASE when it is not a valid phrase). */
export async function backupKeysFromPhrase(backend: CryptoBackend, phrase: string): Promise<BackupKeys> {
  const seed = await mnemonicToSeed(parseRecoveryPhrase(phrase), '');
  return backupKeysFrom(backend, seed, PHRASE_KDF);
}

/**
 * The backup keys of a password under `kdf` (checked with `assertBackupKdf` first). The
 * password is NFKC-normalized, so the same text typed on different keyboards or systems
 * gives the same keys; it must not be empty.
 */
export async function backupKeysFromPassword(backend: CryptoBackend, password: string, kdf: BackupKdf): Promise<BackupKeys> {
  assertBackupKdf('PASSWORD', kdf);
  if (typeof password !== 'string') throw new CryptoError('INVALID_ARGUMENT', 'password must be a string');
  const bytes = utf8Encode(password.normalize('NFKC'));
  if (bytes.length === 0) {
    throw new CryptoError('INVALID_ARGUMENT', 'password must not be empty');
  }
  const salt = base64urlDecode(kdf.salt);
  let master: Uint8Array;
  try {
    master = await argon2idAsync(bytes, salt, {
      m: kdf.memoryKiB,
      t: kdf.iterations,
      p: kdf.parallelism,
      dkLen: 32,
      version: 0x13,
      maxmem: kdf.memoryKiB * 1024,
    });
  } catch (cause) {
    throw new CryptoError('BACKEND_UNAVAILABLE', 'Argon2id failed (out of memory?)', { cause });
  } finally {
    wipe(bytes);
  }
  return backupKeysFrom(backend, master, { ...kdf });
}

/**
 * The code a new device and an approving device both show while linking, derived from
 * the new device's public keys: if the codes match, the approver is about to wrap the key
 * bundle to the right device. 25 digits in 5 groups of 5 (≈ 83 bits).
 */
export function deviceLinkCode(backend: CryptoBackend, signingKey: Uint8Array, encryptionKey: Uint8Array): string {
  exactly(signingKey, 32, 'device signing key');
  exactly(encryptionKey, 32, 'device encryption key');
  return groupDigits(decimalDigits(backend.sha256(concatBytes(LABEL.deviceCode, signingKey, encryptionKey)), 5));
}
