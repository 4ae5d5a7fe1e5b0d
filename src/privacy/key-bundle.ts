/**
 * @module
 * The key bundle (docs/crypto.md §12, docs/devices.md): everything secret an account's
 * devices share — identity keys, earlier X25519 keys, vault keys — and the list of who
 * it is wrapped to. Sealed as one envelope under a fresh random bundle key per revision;
 * that key is wrapped (one wrapped key v1, one stanza each) to every device and backup.
 * Pure and portable: imports only src/crypto and the account locations.
 *
 *   plaintext  = UTF-8 JSON, fixed field order, no white space, binary as base64url:
 *                {"format":"veilgraph-key-bundle","v":1,"userId":…,"revision":…,
 *                 "identity":{"version":…,"signingSeed":…,"encryptionPrivate":…,"createdAt":…},
 *                 "previousEncryption":[{"version":…,"privateKey":…},…],
 *                 "vault":[{"id":…,"version":…,"key":…,"createdAt":…},…],
 *                 "recipients":[{"kind":…,"id":…,"name":…|null,"encryptionKey":…},…],
 *                 "resetAt":…|null}
 *   bundle     = envelope v1 (PADMÉ) under K = (16 random bytes, revision, 32 random bytes)
 *                at (AccountKeys.bundle, userId, "bundle")
 *   wrappedKey = wrapped key v1 of K at (AccountKeys, userId, "bundle"), one stanza per recipient
 */
import type { CryptoBackend } from '../crypto/backend.js';
import { base64urlDecode, base64urlEncode } from '../crypto/base64url.js';
import { assertBytes, equalBytes, utf8Decode, utf8Encode, wipe } from '../crypto/bytes.js';
import { openEnvelope, parseEnvelopeText, sealEnvelopeText } from '../crypto/envelope.js';
import { CryptoError, type CryptoErrorCode } from '../crypto/errors.js';
import { KEY_ID_BYTES, SYMMETRIC_KEY_BYTES, keyIdOf, keyIdText, type EncryptionKeyPair, type SymmetricKey } from '../crypto/keys.js';
import { locationTag } from '../crypto/location.js';
import { parseWrappedKey, unwrapKey, wrapKey, wrappedKeyToText } from '../crypto/wrap.js';
import { bundleKeyLocation, keyBundleLocation } from './account-locations.js';
import { isTimestamp } from './timestamp.js';

export const KEY_BUNDLE_FORMAT = 'veilgraph-key-bundle';
export const KEY_BUNDLE_VERSION = 1;
/** Bundle revisions and key-directory versions live in signed 32-bit columns. */
const MAX_REVISION = 0x7fffffff;
const MAX_KEY_VERSION = 0xffffffff;
/** Longest user id and recipient id (UTF-8 bytes): a location part's limit. */
const MAX_ID_BYTES = 1024;
/** Longest device name (UTF-8 bytes): what the device message can carry. */
const MAX_NAME_BYTES = 0xffff;
const KEY_BYTES = 32;

export type KeyBundleRecipientKind = 'DEVICE' | 'PHRASE' | 'PASSWORD';

/** Someone the bundle key is wrapped to. */
export interface KeyBundleRecipient {
  kind: KeyBundleRecipientKind;
  /** A device's id, or for a backup its kind (`PHRASE`, `PASSWORD`). */
  id: string;
  /** A device's display name. */
  name?: string;
  /** X25519 public key (32 bytes) the bundle key is wrapped to. */
  encryptionKey: Uint8Array;
}

export interface KeyBundleContent {
  userId: string;
  /** 1, 2, …: the stored revision; also the bundle key's version. */
  revision: number;
  /** The current identity keys: key-directory version `version`. */
  identity: { version: number; signingSeed: Uint8Array; encryptionPrivate: Uint8Array; createdAt: string };
  /** X25519 private keys of earlier directory versions (to open keys wrapped to them), oldest first. */
  previousEncryption: { version: number; privateKey: Uint8Array }[];
  /** Vault keys, oldest first; the last seals new PRIVATE values. */
  vault: { key: SymmetricKey; createdAt: string }[];
  /** Exactly the devices and backups the bundle key is wrapped to. */
  recipients: KeyBundleRecipient[];
  /** When the account was last reset (nothing sealed before can be opened), or null. */
  resetAt: string | null;
}

/** A bundle as the server stores and serves it. */
export interface StoredKeyBundle {
  readonly bundle: string;
  readonly wrappedKey: string;
  readonly revision: number;
}

const RECIPIENT_KINDS: readonly KeyBundleRecipientKind[] = ['DEVICE', 'PHRASE', 'PASSWORD'];

type Fail = (why: string) => CryptoError;

function failWith(code: CryptoErrorCode): Fail {
  return (why) => new CryptoError(code, `key bundle: ${why}`);
}

const malformed = failWith('ENVELOPE_MALFORMED');
const invalid = failWith('INVALID_ARGUMENT');

// ---------------------------------------------------------------------------------------
// Rules every bundle follows: the encoder refuses what the decoder would refuse, so a
// sealed bundle always opens.

function checkInt(v: unknown, min: number, max: number, path: string, fail: Fail): void {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw fail(`${path} must be an integer in ${min}..${max}`);
}

function checkText(v: unknown, maxBytes: number, path: string, fail: Fail, allowEmpty = false): void {
  if (typeof v !== 'string' || (v.length === 0 && !allowEmpty)) throw fail(`${path} must be a ${allowEmpty ? '' : 'non-empty '}string`);
  let n: number;
  try {
    n = utf8Encode(v).length;
  } catch {
    throw fail(`${path} is not well-formed Unicode`);
  }
  if (n > maxBytes) throw fail(`${path} is longer than ${maxBytes} bytes`);
}

function checkTimestamp(v: unknown, path: string, fail: Fail): void {
  if (!isTimestamp(v)) throw fail(`${path} must be a UTC timestamp like 2026-11-22T10:00:00.000Z`);
}

function checkBytes(v: unknown, len: number, path: string, fail: Fail): void {
  if (!(v instanceof Uint8Array) || v.length !== len) throw fail(`${path} must be ${len} bytes`);
}

function checkArray(v: unknown, min: number, path: string, fail: Fail): asserts v is unknown[] {
  if (!Array.isArray(v) || v.length < min) throw fail(`${path} must be a list${min > 0 ? ` of at least ${min}` : ''}`);
}

function checkObject(v: unknown, path: string, fail: Fail): asserts v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw fail(`${path} must be an object`);
}

function checkContent(c: KeyBundleContent, fail: Fail): void {
  checkObject(c, 'content', fail);
  checkText(c.userId, MAX_ID_BYTES, 'userId', fail);
  checkInt(c.revision, 1, MAX_REVISION, 'revision', fail);

  checkObject(c.identity, 'identity', fail);
  checkInt(c.identity.version, 1, MAX_REVISION, 'identity.version', fail);
  checkBytes(c.identity.signingSeed, KEY_BYTES, 'identity.signingSeed', fail);
  checkBytes(c.identity.encryptionPrivate, KEY_BYTES, 'identity.encryptionPrivate', fail);
  checkTimestamp(c.identity.createdAt, 'identity.createdAt', fail);

  checkArray(c.previousEncryption, 0, 'previousEncryption', fail);
  c.previousEncryption.forEach((p, i) => {
    const path = `previousEncryption[${i}]`;
    checkObject(p, path, fail);
    checkInt(p.version, 1, MAX_REVISION, `${path}.version`, fail);
    if (p.version >= c.identity.version) throw fail(`${path}.version must be below identity.version`);
    if (i > 0 && p.version <= c.previousEncryption[i - 1]!.version) throw fail('previousEncryption versions must be strictly ascending');
    checkBytes(p.privateKey, KEY_BYTES, `${path}.privateKey`, fail);
  });

  checkArray(c.vault, 1, 'vault', fail);
  const vaultKeys = new Set<string>();
  c.vault.forEach((v, i) => {
    const path = `vault[${i}]`;
    checkObject(v, path, fail);
    checkObject(v.key, `${path}.key`, fail);
    checkBytes(v.key.id, KEY_ID_BYTES, `${path}.key.id`, fail);
    checkInt(v.key.version, 1, MAX_KEY_VERSION, `${path}.key.version`, fail);
    checkBytes(v.key.bytes, SYMMETRIC_KEY_BYTES, `${path}.key.bytes`, fail);
    checkTimestamp(v.createdAt, `${path}.createdAt`, fail);
    const name = `${keyIdText(v.key.id)}/${v.key.version}`;
    if (vaultKeys.has(name)) throw fail(`${path} repeats key ${name}`);
    vaultKeys.add(name);
  });

  checkArray(c.recipients, 1, 'recipients', fail);
  const ids = new Set<string>();
  const keys = new Set<string>();
  c.recipients.forEach((r, i) => {
    const path = `recipients[${i}]`;
    checkObject(r, path, fail);
    if (!RECIPIENT_KINDS.includes(r.kind)) throw fail(`${path}.kind must be one of ${RECIPIENT_KINDS.join(', ')}`);
    checkText(r.id, MAX_ID_BYTES, `${path}.id`, fail);
    if (r.kind !== 'DEVICE' && r.id !== r.kind) throw fail(`${path}.id of a ${r.kind} backup must be "${r.kind}"`);
    if (r.name !== undefined) checkText(r.name, MAX_NAME_BYTES, `${path}.name`, fail, true);
    checkBytes(r.encryptionKey, KEY_BYTES, `${path}.encryptionKey`, fail);
    if (ids.has(r.id)) throw fail(`${path}.id is not unique`);
    const key = base64urlEncode(r.encryptionKey);
    if (keys.has(key)) throw fail(`${path}.encryptionKey is not unique`);
    ids.add(r.id);
    keys.add(key);
  });

  if (c.resetAt !== null) checkTimestamp(c.resetAt, 'resetAt', fail);
}

// ---------------------------------------------------------------------------------------
// Encoding

/** The plaintext of a bundle: canonical UTF-8 JSON (fixed field order, no white space). INVALID_ARGUMENT for a bad bundle. */
export function encodeKeyBundle(content: KeyBundleContent): Uint8Array {
  checkContent(content, invalid);
  return encodeChecked(content);
}

function encodeChecked(c: KeyBundleContent): Uint8Array {
  const b = base64urlEncode;
  return utf8Encode(
    JSON.stringify({
      format: KEY_BUNDLE_FORMAT,
      v: KEY_BUNDLE_VERSION,
      userId: c.userId,
      revision: c.revision,
      identity: { version: c.identity.version, signingSeed: b(c.identity.signingSeed), encryptionPrivate: b(c.identity.encryptionPrivate), createdAt: c.identity.createdAt },
      previousEncryption: c.previousEncryption.map((p) => ({ version: p.version, privateKey: b(p.privateKey) })),
      vault: c.vault.map((v) => ({ id: b(v.key.id), version: v.key.version, key: b(v.key.bytes), createdAt: v.createdAt })),
      recipients: c.recipients.map((r) => ({ kind: r.kind, id: r.id, name: r.name ?? null, encryptionKey: b(r.encryptionKey) })),
      resetAt: c.resetAt,
    }),
  );
}

const FIELDS = {
  top: ['format', 'v', 'userId', 'revision', 'identity', 'previousEncryption', 'vault', 'recipients', 'resetAt'],
  identity: ['version', 'signingSeed', 'encryptionPrivate', 'createdAt'],
  previous: ['version', 'privateKey'],
  vault: ['id', 'version', 'key', 'createdAt'],
  recipient: ['kind', 'id', 'name', 'encryptionKey'],
} as const;

/** `v` as an object with exactly `fields` (values unchecked). */
function fieldsOf(v: unknown, fields: readonly string[], path: string): Record<string, unknown> {
  checkObject(v, path, malformed);
  for (const k of Object.keys(v)) {
    if (!fields.includes(k)) throw malformed(`${path} has an unknown field "${k.slice(0, 40)}"`);
  }
  for (const k of fields) if (!(k in v)) throw malformed(`${path} lacks the field "${k}"`);
  return v;
}

function bytesField(v: unknown, len: number, path: string): Uint8Array {
  if (typeof v !== 'string') throw malformed(`${path} must be a base64url string`);
  let out: Uint8Array;
  try {
    out = base64urlDecode(v);
  } catch {
    throw malformed(`${path} is not strict base64url`);
  }
  if (out.length !== len) throw malformed(`${path} must be ${len} bytes`);
  return out;
}

/**
 * Strict inverse of `encodeKeyBundle`: every field present with the right type and size,
 * no unknown field, the rules above, and the bytes exactly the canonical encoding.
 * ENVELOPE_MALFORMED otherwise; messages name fields, never secret values.
 */
export function decodeKeyBundle(bytes: Uint8Array): KeyBundleContent {
  assertBytes(bytes, undefined, 'key bundle');
  let json: unknown;
  try {
    json = JSON.parse(utf8Decode(bytes));
  } catch {
    throw malformed('not UTF-8 JSON');
  }
  const top = fieldsOf(json, FIELDS.top, 'bundle');
  if (top.format !== KEY_BUNDLE_FORMAT) throw malformed(`format must be "${KEY_BUNDLE_FORMAT}"`);
  if (top.v !== KEY_BUNDLE_VERSION) throw malformed(`unsupported version (this code reads v${KEY_BUNDLE_VERSION})`);
  const identity = fieldsOf(top.identity, FIELDS.identity, 'identity');
  checkArray(top.previousEncryption, 0, 'previousEncryption', malformed);
  checkArray(top.vault, 1, 'vault', malformed);
  checkArray(top.recipients, 1, 'recipients', malformed);
  const content: KeyBundleContent = {
    userId: top.userId as string,
    revision: top.revision as number,
    identity: {
      version: identity.version as number,
      signingSeed: bytesField(identity.signingSeed, KEY_BYTES, 'identity.signingSeed'),
      encryptionPrivate: bytesField(identity.encryptionPrivate, KEY_BYTES, 'identity.encryptionPrivate'),
      createdAt: identity.createdAt as string,
    },
    previousEncryption: top.previousEncryption.map((raw, i) => {
      const p = fieldsOf(raw, FIELDS.previous, `previousEncryption[${i}]`);
      return { version: p.version as number, privateKey: bytesField(p.privateKey, KEY_BYTES, `previousEncryption[${i}].privateKey`) };
    }),
    vault: top.vault.map((raw, i) => {
      const v = fieldsOf(raw, FIELDS.vault, `vault[${i}]`);
      const key = { id: bytesField(v.id, KEY_ID_BYTES, `vault[${i}].id`), version: v.version as number, bytes: bytesField(v.key, SYMMETRIC_KEY_BYTES, `vault[${i}].key`) };
      return { key, createdAt: v.createdAt as string };
    }),
    recipients: top.recipients.map((raw, i) => {
      const r = fieldsOf(raw, FIELDS.recipient, `recipients[${i}]`);
      if (r.name !== null && typeof r.name !== 'string') throw malformed(`recipients[${i}].name must be a string or null`);
      const recipient: KeyBundleRecipient = { kind: r.kind as KeyBundleRecipientKind, id: r.id as string, encryptionKey: bytesField(r.encryptionKey, KEY_BYTES, `recipients[${i}].encryptionKey`) };
      if (typeof r.name === 'string') recipient.name = r.name;
      return recipient;
    }),
    resetAt: top.resetAt as string | null,
  };
  try {
    checkContent(content, malformed);
    const canonical = encodeChecked(content);
    const same = equalBytes(canonical, bytes);
    wipe(canonical);
    if (!same) throw malformed('not in canonical form (field order, white space or escaping)');
  } catch (e) {
    wipeKeyBundle(content);
    throw e;
  }
  return content;
}

/** Overwrites every secret byte array of `content` (best effort, as `wipe`). */
export function wipeKeyBundle(content: KeyBundleContent): void {
  wipe(content.identity.signingSeed, content.identity.encryptionPrivate);
  for (const p of content.previousEncryption) wipe(p.privateKey);
  for (const v of content.vault) wipe(v.key.bytes);
}

// ---------------------------------------------------------------------------------------
// Sealing and opening

/**
 * Seals `content` for its recipients: the bundle under a fresh random key whose version
 * is the revision, and that key wrapped to every recipient's X25519 key.
 */
export async function sealKeyBundle(backend: CryptoBackend, content: KeyBundleContent): Promise<{ bundle: string; wrappedKey: string }> {
  const plaintext = encodeKeyBundle(content);
  const key: SymmetricKey = { id: backend.randomBytes(KEY_ID_BYTES), version: content.revision, bytes: backend.randomBytes(SYMMETRIC_KEY_BYTES) };
  try {
    const bundle = sealEnvelopeText(backend, key, keyBundleLocation(content.userId), plaintext);
    const recipients = content.recipients.map((r) => ({ keyId: keyIdOf(backend, 'x25519', r.encryptionKey), publicKey: r.encryptionKey }));
    const wrappedKey = wrappedKeyToText(await wrapKey(backend, key, bundleKeyLocation(content.userId), recipients));
    return { bundle, wrappedKey };
  } finally {
    wipe(key.bytes, plaintext);
  }
}

/**
 * Opens a stored bundle as `recipient` (a device's or a backup's X25519 key pair). Checks,
 * in order: the wrapped key (its errors: WRONG_LOCATION for another account, KEY_NOT_FOUND
 * when `recipient` has no stanza, ENVELOPE_TAMPERED); its key version is the stored
 * revision (ENVELOPE_MALFORMED); the envelope is bound to this account (WRONG_LOCATION) and
 * sealed under the wrapped key (KEY_NOT_FOUND / KEY_VERSION_MISMATCH); the envelope opens
 * (ENVELOPE_TAMPERED); the plaintext decodes (ENVELOPE_MALFORMED), names `userId`
 * (WRONG_LOCATION) and the stored revision (ENVELOPE_MALFORMED), and lists exactly the
 * wrapped key's recipients (ENVELOPE_MALFORMED).
 *
 * A server can still serve an older revision as it was: callers keep the highest revision
 * they have seen and refuse to go back.
 */
export async function openKeyBundle(backend: CryptoBackend, stored: StoredKeyBundle, userId: string, recipient: EncryptionKeyPair): Promise<KeyBundleContent> {
  if (typeof stored?.bundle !== 'string' || typeof stored.wrappedKey !== 'string') throw malformed('bundle and wrappedKey must be strings');
  checkInt(stored.revision, 1, MAX_REVISION, 'stored revision', malformed);
  const bundleLocation = keyBundleLocation(userId);
  const key = await unwrapKey(backend, stored.wrappedKey, recipient, bundleKeyLocation(userId));
  try {
    if (key.version !== stored.revision) throw malformed(`the bundle key is of revision ${key.version}, stored as revision ${stored.revision}`);
    const env = parseEnvelopeText(stored.bundle);
    if (!equalBytes(env.locationTag, locationTag(backend, bundleLocation))) throw new CryptoError('WRONG_LOCATION', 'key bundle: sealed for another account');
    if (!equalBytes(env.keyId, key.id)) throw new CryptoError('KEY_NOT_FOUND', 'key bundle: not sealed under the wrapped bundle key (bundle and wrapped key of different revisions?)');
    if (env.keyVersion !== key.version) throw new CryptoError('KEY_VERSION_MISMATCH', `key bundle: sealed under bundle key version ${env.keyVersion}, the wrapped key is version ${key.version}`);
    const plaintext = openEnvelope(backend, env, key, bundleLocation).plaintext;
    let content: KeyBundleContent;
    try {
      content = decodeKeyBundle(plaintext);
    } finally {
      wipe(plaintext);
    }
    if (content.userId !== userId) throw new CryptoError('WRONG_LOCATION', 'key bundle: names another user');
    if (content.revision !== stored.revision) throw malformed(`names revision ${content.revision}, stored as revision ${stored.revision}`);
    const wrappedTo = parseWrappedKey(base64urlDecode(stored.wrappedKey)).recipientKeyIds.map(keyIdText).sort();
    const listed = content.recipients.map((r) => keyIdText(keyIdOf(backend, 'x25519', r.encryptionKey))).sort();
    if (wrappedTo.join() !== listed.join()) throw malformed('its recipient list differs from the wrapped key\'s recipients');
    return content;
  } finally {
    wipe(key.bytes);
  }
}
