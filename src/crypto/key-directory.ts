/**
 * @module
 * The byte formats of the key directory (docs/crypto.md §11): what each version of a
 * user's public keys is signed over, and the fingerprints and safety numbers two people
 * compare to know they see the same keys. Pure and portable (no `node:` imports): the
 * gateway checks rotations with it, clients verify whole histories with it.
 *
 *   version 1:  the registration message (./auth-messages.ts), signed by key 1 itself
 *   version n:  m = "veilgraph/v1/key-version" ‖ 0x00 ‖ lp(realm) ‖ lp(username) ‖ u32be(n)
 *                   ‖ signingKey(n-1) ‖ signingKey(n) ‖ encryptionKey(n)
 *               signature = sig(key n-1, m) ‖ sig(key n, m)      (128 bytes)
 *
 * Key n-1 authorises the change; key n proves its holder agreed to it. Without the second
 * signature anyone could name someone else's signing key as their own next version (and
 * be taken for the signer of that person's envelopes), and a forged history could end in a
 * victim's real signing key with another encryption key, matching the victim's safety number.
 *
 *   fingerprint(u, k) = H^5200: h = H("veilgraph/v1/fingerprint" ‖ 0x00 ‖ lp(u) ‖ k),
 *                       then 5199 times h = H(h ‖ k)
 *   digits(f)         = 6 groups of 5: (f[5i..5i+5) as u40be) mod 100000, i = 0..5
 *   safety number     = the two users' 30 digits, the smaller first: 60 digits, 12 groups
 */
import type { CryptoBackend } from './backend.js';
import { assertBytes, assertObject, concatBytes } from './bytes.js';
import { CryptoError } from './errors.js';
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES, registrationMessage } from './auth-messages.js';
import { exactly, labelBytes, lengthPrefixed, u32be } from './signed-message.js';

export const KEY_VERSION_LABEL = 'veilgraph/v1/key-version';
export const FINGERPRINT_LABEL = 'veilgraph/v1/fingerprint';
/** Hash iterations per fingerprint (as Signal's): each guess at a look-alike key costs this many hashes. */
export const FINGERPRINT_ITERATIONS = 5200;
/** Digits per user; a safety number has twice as many. */
export const FINGERPRINT_DIGITS = 30;
/** Key versions are u32 in messages; the directory stores them in a signed 32-bit column. */
export const MAX_DIRECTORY_VERSION = 0x7fffffff;
/** A version n ≥ 2 carries two Ed25519 signatures: by key n-1, then by key n. */
export const KEY_VERSION_SIGNATURE_BYTES = 2 * SIGNATURE_BYTES;

export interface KeyVersionMessageInput {
  readonly realm: string;
  readonly username: string;
  /** The version being signed, 2 or more (version 1 is signed by registration). */
  readonly version: number;
  /** Ed25519 public key of version n-1, whose private key signs this message. */
  readonly previousSigningKey: Uint8Array;
  /** Ed25519 public key of version n. */
  readonly signingKey: Uint8Array;
  /** X25519 public key of version n. */
  readonly encryptionKey: Uint8Array;
}

/**
 * The bytes version n-1's and version n's signing keys both sign to make version n (n ≥ 2).
 * The previous key is written out, not only implied by who signs: the statement then says
 * on its own which key it succeeds, so it cannot be read as succeeding any other version or
 * any other key (no hash of earlier statements is needed to chain them).
 */
export function keyVersionMessage(m: KeyVersionMessageInput): Uint8Array {
  assertObject(m, 'key version');
  if (!Number.isInteger(m.version) || m.version < 2 || m.version > MAX_DIRECTORY_VERSION) {
    throw new CryptoError('INVALID_ARGUMENT', `key version must be an integer in 2..${MAX_DIRECTORY_VERSION} (version 1 is signed by registration)`);
  }
  return concatBytes(
    labelBytes(KEY_VERSION_LABEL),
    lengthPrefixed(m.realm),
    lengthPrefixed(m.username),
    u32be(m.version, 'key version'),
    exactly(m.previousSigningKey, PUBLIC_KEY_BYTES, 'previous signing key'),
    exactly(m.signingKey, PUBLIC_KEY_BYTES, 'signing key'),
    exactly(m.encryptionKey, PUBLIC_KEY_BYTES, 'encryption key'),
  );
}

export interface KeyStatementInput {
  readonly realm: string;
  readonly username: string;
  readonly version: number;
  /** Required for version ≥ 2; ignored for version 1. */
  readonly previousSigningKey?: Uint8Array;
  readonly signingKey: Uint8Array;
  readonly encryptionKey: Uint8Array;
}

/**
 * What version `version` is signed over, and by which keys, in the order their signatures
 * are concatenated: version 1 by its own signing key over the registration message;
 * version n by version n-1's key, then by its own, over `keyVersionMessage`.
 */
export function keyStatement(m: KeyStatementInput): { message: Uint8Array; signers: readonly Uint8Array[] } {
  assertObject(m, 'key statement');
  if (m.version === 1) {
    return { message: registrationMessage({ realm: m.realm, username: m.username, signingKey: m.signingKey, encryptionKey: m.encryptionKey }), signers: [m.signingKey] };
  }
  if (!m.previousSigningKey) throw new CryptoError('INVALID_ARGUMENT', 'a key version after the first needs the previous signing key');
  return { message: keyVersionMessage({ ...m, previousSigningKey: m.previousSigningKey }), signers: [m.previousSigningKey, m.signingKey] };
}

/** Length of a version's signature: 64 bytes for version 1, 128 for every later version. */
export function keyVersionSignatureLength(version: number): number {
  return version === 1 ? SIGNATURE_BYTES : KEY_VERSION_SIGNATURE_BYTES;
}

/**
 * Signs version n ≥ 2: `previousSeed` is version n-1's Ed25519 seed, `seed` version n's
 * (whose public keys must be `m.previousSigningKey` and `m.signingKey`). 128 bytes.
 */
export async function signKeyVersion(backend: CryptoBackend, m: KeyVersionMessageInput, previousSeed: Uint8Array, seed: Uint8Array): Promise<Uint8Array> {
  const message = keyVersionMessage(m);
  assertBytes(previousSeed, 32, 'previous Ed25519 seed');
  assertBytes(seed, 32, 'Ed25519 seed');
  return concatBytes(await backend.ed25519Sign(previousSeed, message), await backend.ed25519Sign(seed, message));
}

/**
 * True when `signature` is the signature of the version `m` describes: every signer of
 * `keyStatement(m)` in order, nothing more. Never throws for a bad signature.
 */
export async function verifyKeyStatement(backend: CryptoBackend, m: KeyStatementInput, signature: Uint8Array): Promise<boolean> {
  const { message, signers } = keyStatement(m);
  if (!(signature instanceof Uint8Array) || signature.length !== signers.length * SIGNATURE_BYTES) return false;
  for (const [i, signer] of signers.entries()) {
    if (!(await backend.ed25519Verify(signer, message, signature.subarray(i * SIGNATURE_BYTES, (i + 1) * SIGNATURE_BYTES)))) return false;
  }
  return true;
}

/** The user's 32-byte fingerprint: iterated, labelled SHA-256 of username and signing key. */
export function fingerprintOf(backend: CryptoBackend, username: string, signingKey: Uint8Array): Uint8Array {
  exactly(signingKey, PUBLIC_KEY_BYTES, 'signing key');
  let h = backend.sha256(concatBytes(labelBytes(FINGERPRINT_LABEL), lengthPrefixed(username), signingKey));
  const buf = new Uint8Array(h.length + signingKey.length);
  buf.set(signingKey, h.length);
  for (let i = 1; i < FINGERPRINT_ITERATIONS; i++) {
    buf.set(h, 0);
    h = backend.sha256(buf);
  }
  return h;
}

/**
 * `groups` groups of 5 decimal digits from the first 5·groups bytes of `hash`: group i is
 * (hash[5i..5i+5) as u40be) mod 100000, zero-padded. Fingerprints use 6 groups, device
 * link codes (./recovery.ts) 5.
 */
export function decimalDigits(hash: Uint8Array, groups: number): string {
  if (!Number.isInteger(groups) || groups < 1 || hash.length < groups * 5) {
    throw new CryptoError('INVALID_ARGUMENT', `${groups} digit groups need ${groups * 5} bytes`);
  }
  let out = '';
  for (let i = 0; i < groups; i++) {
    const o = i * 5;
    // A 40-bit integer is exact in a double (bitwise operators would cut it to 32 bits).
    let n = 0;
    for (let j = 0; j < 5; j++) n = n * 256 + hash[o + j]!;
    out += String(n % 100_000).padStart(5, '0');
  }
  return out;
}

/** 30 digits from the first 30 bytes of a fingerprint. */
function digitsOf(fingerprint: Uint8Array): string {
  return decimalDigits(fingerprint, FINGERPRINT_DIGITS / 5);
}

/** Digits in groups of 5 separated by one space. */
export function groupDigits(digits: string): string {
  return digits.match(/.{5}/g)!.join(' ');
}

/** A user's own fingerprint as shown on "my key" screens: 30 digits in 6 groups of 5. */
export function fingerprintText(backend: CryptoBackend, username: string, signingKey: Uint8Array): string {
  return groupDigits(digitsOf(fingerprintOf(backend, username, signingKey)));
}

export interface SafetyNumberParty {
  readonly username: string;
  /** The party's current Ed25519 signing key. */
  readonly signingKey: Uint8Array;
}

/**
 * The one number two users compare (read aloud, or side by side): both users' 30 digits,
 * the numerically smaller first, so both sides compute the same 60 digits (12 groups of 5)
 * whichever of them is "a". It changes when either user's signing key changes.
 */
export function safetyNumberOf(backend: CryptoBackend, a: SafetyNumberParty, b: SafetyNumberParty): string {
  assertObject(a, 'first party');
  assertObject(b, 'second party');
  const da = digitsOf(fingerprintOf(backend, a.username, a.signingKey));
  const db = digitsOf(fingerprintOf(backend, b.username, b.signingKey));
  return groupDigits(da <= db ? da + db : db + da);
}
