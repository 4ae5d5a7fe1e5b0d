/**
 * @module
 * Wrapped keys (docs/crypto.md §7) as clients send them: base64url text, refused unread when
 * longer than any wrapped key of one recipient may be, and checked from public facts before
 * they are stored: shape, version, binding to a place, addressed to the recipient's
 * registered X25519 key. Data keys and grants (sharing()), epoch keys (messaging()) and
 * re-wrapped keys after an identity rotation (signIn()) take them.
 */
import type { CryptoBackend } from '../crypto/backend.js';
import { base64urlDecode } from '../crypto/base64url.js';
import { equalBytes } from '../crypto/bytes.js';
import { keyIdOf } from '../crypto/keys.js';
import { describeLocation, locationTag, type Location } from '../crypto/location.js';
import { gatewayError } from './errors.js';
import type { LayerStore, ObjectKeyRow } from './storage/store.js';
import { maxTextLength } from '../crypto/envelope.js';
import { isCryptoError, type CryptoError } from '../crypto/errors.js';
import { parseWrappedKey, type ParsedWrappedKey } from '../crypto/wrap.js';

/** A wrapped key for one recipient is 137 bytes (217 signed); anything far larger is refused unread. */
export const MAX_WRAPPED_KEY_BYTES = 1024;
/** Most keys one request stores (`putDataKeys`, a grant, a revocation, an epoch). */
export const MAX_DATA_KEYS_PER_PUT = 1000;
/** Key versions start at 1 (docs/crypto.md §3); GraphQL's Int bounds them above. */
const MIN_KEY_VERSION = 1;


export interface KeyInput {
  recipientId: string;
  keyVersion: number;
  wrapped: string;
}


/**
 * Parses a wrapped key v1 sent as text, refusing text longer than any wrapped key of one
 * recipient may be before decoding it. `tooLong` builds the caller's error for that;
 * `invalid` maps a parse failure to the caller's error (undefined: rethrow it).
 */
export function parseWrappedKeyText(text: string, tooLong: (why: string) => Error, invalid: (e: CryptoError) => Error | undefined): ParsedWrappedKey {
  try {
    if (text.length > maxTextLength(MAX_WRAPPED_KEY_BYTES)) throw tooLong(`longer than a wrapped key of at most ${MAX_WRAPPED_KEY_BYTES} bytes`);
    return parseWrappedKey(base64urlDecode(text), { maxBytes: MAX_WRAPPED_KEY_BYTES });
  } catch (e) {
    if (isCryptoError(e)) throw invalid(e) ?? e;
    throw e;
  }
}


function badKey(index: number, why: string): Error {
  return gatewayError('BAD_USER_INPUT', `keys[${index}]: ${why}`, { field: `keys.${index}`, index });
}

function parseKeyText(index: number, text: string): ParsedWrappedKey {
  return parseWrappedKeyText(text, (why) => badKey(index, `wrapped key text is ${why}`), (e) => (e.code.startsWith('ENVELOPE_') ? badKey(index, `not a valid wrapped key v1 (${e.code}): ${e.message}`) : undefined));
}

function checkKey(backend: CryptoBackend, index: number, key: KeyInput, location: Location, expectedTag: Uint8Array, recipientKey: Uint8Array): Uint8Array {
  if (!Number.isInteger(key.keyVersion) || key.keyVersion < MIN_KEY_VERSION) throw badKey(index, `keyVersion must be ${MIN_KEY_VERSION} or more`);
  const w = parseKeyText(index, key.wrapped);
  if (w.keyVersion !== key.keyVersion) throw badKey(index, `the wrapped key is version ${w.keyVersion}, not keyVersion ${key.keyVersion}`);
  if (!equalBytes(w.locationTag, expectedTag)) throw badKey(index, `the wrapped key is not bound to ${describeLocation(location)}`);
  if (w.recipientKeyIds.length !== 1) throw badKey(index, `the wrapped key must have exactly one recipient stanza, it has ${w.recipientKeyIds.length}`);
  if (!equalBytes(w.recipientKeyIds[0]!, keyIdOf(backend, 'x25519', recipientKey))) {
    throw badKey(index, `the wrapped key is not wrapped for the registered encryption key of recipient ${key.recipientId}`);
  }
  return w.bytes;
}

/**
 * Checks every wrapped key (module comment) before anything is written and returns the rows
 * to store. `keysField` names the argument in error paths.
 */
export async function checkWrappedKeys(
  ctx: { readonly backend: CryptoBackend; readonly store: Pick<LayerStore, 'findUsersByIds'> },
  objectType: string,
  objectId: string,
  ownerId: string,
  keys: readonly KeyInput[],
): Promise<ObjectKeyRow[]> {
  if (keys.length > MAX_DATA_KEYS_PER_PUT) throw gatewayError('BAD_USER_INPUT', `keys may hold at most ${MAX_DATA_KEYS_PER_PUT} keys`, { field: 'keys' });
  const location: Location = { coordinate: objectType, ownerId, objectId };
  const expectedTag = locationTag(ctx.backend, location);
  // Every recipient's registered key in one query (a rotation for 1,000 members names 1,000).
  const recipients = new Map((await ctx.store.findUsersByIds(keys.map((k) => k.recipientId))).map((u) => [u.id, u.encryptionKey]));
  const rows: ObjectKeyRow[] = [];
  for (const [index, key] of keys.entries()) {
    const recipientKey = recipients.get(key.recipientId);
    if (!recipientKey) throw gatewayError('NOT_FOUND', `keys[${index}]: no such recipient`, { field: `keys.${index}.recipientId`, index });
    const wrapped = checkKey(ctx.backend, index, key, location, expectedTag, recipientKey);
    rows.push({ objectType, objectId, keyVersion: key.keyVersion, recipientId: key.recipientId, wrapped });
  }
  return rows;
}

