/**
 * @module
 * The JSON shape of the checked-in known-answer vectors (envelope-v1.json, wrap-v1.json,
 * invalid-v1.json, recovery-v1.json), shared by the generator (./generate.ts) and the test that replays
 * them (../crypto/vectors.test.ts). All byte strings are lowercase hex (`…Hex`) except
 * envelopes and wrapped keys, which are in their wire form: strict unpadded base64url.
 */
import type { CryptoErrorCode, Location, PaddingPolicy, SymmetricKey } from '../../src/crypto/index.js';
import { fromHex, toHex } from '../helpers/fixed-random.js';

export interface KeyJson {
  readonly idHex: string;
  readonly version: number;
  readonly bytesHex: string;
}

export interface LocationJson {
  readonly coordinate: string;
  readonly ownerId: string;
  /** Absent, or null: no object id (both encode the same way). */
  readonly objectId?: string | null;
}

/** An Ed25519 signer: the seed is the input, the rest is derived and recorded for checking. */
export interface SignerJson {
  readonly seedHex: string;
  readonly publicKeyHex: string;
  readonly keyIdHex: string;
}

/** An X25519 identity: the private key is the input, the rest is derived. */
export interface IdentityJson {
  readonly privateKeyHex: string;
  readonly publicKeyHex: string;
  readonly keyIdHex: string;
}

export interface RandomJson {
  /** Seed of the fixed stream (see `algorithm` at the top of the file). */
  readonly seed: string;
  /** Exactly the bytes the operation consumed, in order. */
  readonly consumedHex: string;
}

export interface EnvelopeVector {
  readonly name: string;
  readonly key: KeyJson;
  readonly location: LocationJson;
  readonly padding: PaddingPolicy;
  readonly plaintextHex: string;
  readonly signer: SignerJson | null;
  readonly random: RandomJson;
  /** Derived facts, for readers and for checking a parser. */
  readonly expected: {
    readonly locationTagHex: string;
    readonly nonceHex: string;
    readonly paddedLength: number;
    readonly envelopeBytes: number;
  };
  /** The sealed envelope, base64url. */
  readonly envelope: string;
}

export interface KeyIdVector {
  readonly name: string;
  readonly kind: 'ed25519' | 'x25519';
  /** Seed (Ed25519) or private key (X25519) the public key was derived from. */
  readonly secretHex: string;
  readonly publicKeyHex: string;
  readonly keyIdHex: string;
  readonly keyIdText: string;
}

export interface LocationTagVector {
  readonly name: string;
  readonly location: LocationJson;
  /** The hashed input: label ‖ 0x00 ‖ enc(location). */
  readonly inputHex: string;
  readonly tagHex: string;
}

export interface PadmeVector {
  readonly length: number;
  readonly padme: number;
}

export interface PaddedLengthVector {
  readonly length: number;
  readonly padding: PaddingPolicy;
  readonly paddedLength: number;
}

export interface EnvelopeVectorFile {
  readonly description: string;
  readonly generator: string;
  readonly randomAlgorithm: string;
  readonly keyIds: readonly KeyIdVector[];
  readonly locationTags: readonly LocationTagVector[];
  readonly padme: readonly PadmeVector[];
  readonly paddedLength: readonly PaddedLengthVector[];
  readonly envelopes: readonly EnvelopeVector[];
}

export interface WrapVector {
  readonly name: string;
  readonly key: KeyJson;
  readonly location: LocationJson;
  /** In the order passed to wrapKey (stanzas are sorted by key id on the wire). */
  readonly recipients: readonly IdentityJson[];
  readonly signer: SignerJson | null;
  readonly random: RandomJson;
  readonly expected: {
    readonly locationTagHex: string;
    readonly ephemeralPublicKeyHex: string;
    /** Recipient key ids in wire order (strictly ascending). */
    readonly stanzaKeyIdsHex: readonly string[];
    readonly wrappedBytes: number;
  };
  /** The wrapped key, base64url. */
  readonly wrapped: string;
}

export interface WrapVectorFile {
  readonly description: string;
  readonly generator: string;
  readonly randomAlgorithm: string;
  readonly wrapped: readonly WrapVector[];
}

export interface InvalidEnvelopeVector {
  readonly description: string;
  readonly code: CryptoErrorCode;
  /** The envelope text exactly as received (may contain any characters). */
  readonly text: string;
  readonly key: KeyJson;
  readonly location: LocationJson;
  /** ParseOptions.maxBytes to open with; absent means the default limit. */
  readonly maxBytes?: number;
  /** When present, open with openVerifiedEnvelope and this Ed25519 public key. */
  readonly signerPublicKeyHex?: string;
}

export interface InvalidWrappedKeyVector {
  readonly description: string;
  readonly code: CryptoErrorCode;
  readonly text: string;
  readonly identity: IdentityJson;
  readonly location: LocationJson;
  /** ParseOptions.maxBytes to unwrap with; absent means the default limit. */
  readonly maxBytes?: number;
  /** When present, unwrap requiring a signature by this Ed25519 public key. */
  readonly signerPublicKeyHex?: string;
}

export interface InvalidVectorFile {
  readonly description: string;
  readonly generator: string;
  readonly envelopes: readonly InvalidEnvelopeVector[];
  readonly wrappedKeys: readonly InvalidWrappedKeyVector[];
}

export function keyToJson(k: SymmetricKey): KeyJson {
  return { idHex: toHex(k.id), version: k.version, bytesHex: toHex(k.bytes) };
}

/** A fresh key object each call: opening code may not wipe it, but tests should not share buffers. */
export function keyFromJson(k: KeyJson): SymmetricKey {
  return { id: fromHex(k.idHex), version: k.version, bytes: fromHex(k.bytesHex) };
}

export function locationFromJson(l: LocationJson): Location {
  return l.objectId === undefined ? { coordinate: l.coordinate, ownerId: l.ownerId } : { coordinate: l.coordinate, ownerId: l.ownerId, objectId: l.objectId };
}

export function locationToJson(l: Location): LocationJson {
  return l.objectId === undefined ? { coordinate: l.coordinate, ownerId: l.ownerId } : { coordinate: l.coordinate, ownerId: l.ownerId, objectId: l.objectId };
}

/** A backup's derived keys (docs/crypto.md §12): HKDF outputs and the key pairs made from them. */
export interface BackupKeysJson {
  readonly authSeedHex: string;
  readonly authPublicKeyHex: string;
  readonly authKeyIdHex: string;
  readonly wrapPrivateHex: string;
  readonly encryptionPublicKeyHex: string;
  readonly encryptionKeyIdHex: string;
}

export interface PhraseVector {
  readonly name: string;
  /** The 32 bytes of entropy the phrase encodes. */
  readonly entropyHex: string;
  /** As generated (normalized). */
  readonly phrase: string;
  /** BIP39 mnemonicToSeed(phrase, ""): the HKDF input. */
  readonly seedHex: string;
  readonly keys: BackupKeysJson;
}

export interface PasswordVector {
  readonly name: string;
  /** As typed (not normalized). */
  readonly password: string;
  /** UTF-8 of NFKC(password): the Argon2id password input. */
  readonly passwordInputHex: string;
  readonly kdf: { readonly algorithm: 'argon2id'; readonly salt: string; readonly memoryKiB: number; readonly iterations: number; readonly parallelism: number };
  /** The salt's 16 bytes. */
  readonly saltHex: string;
  /** Argon2id output (32 bytes): the HKDF input. */
  readonly masterHex: string;
  readonly keys: BackupKeysJson;
}

export interface DeviceCodeVector {
  readonly signingKeyHex: string;
  readonly encryptionKeyHex: string;
  /** SHA-256("veilgraph/v1/device-code" ‖ 0x00 ‖ signingKey ‖ encryptionKey). */
  readonly hashHex: string;
  readonly code: string;
}

export interface RecoveryVectorFile {
  readonly description: string;
  readonly generator: string;
  readonly phrases: readonly PhraseVector[];
  readonly passwords: readonly PasswordVector[];
  readonly deviceCodes: readonly DeviceCodeVector[];
}

export const ENVELOPE_VECTORS_FILE = 'envelope-v1.json';
export const RECOVERY_VECTORS_FILE = 'recovery-v1.json';
export const WRAP_VECTORS_FILE = 'wrap-v1.json';
export const INVALID_VECTORS_FILE = 'invalid-v1.json';
