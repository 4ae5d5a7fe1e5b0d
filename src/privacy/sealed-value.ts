/**
 * @module
 * Checks a party without the key can make on a `Sealed` value (docs/crypto.md §6, §8):
 * cheap enough for a server to run on every write, strict enough that plaintext sent by a
 * misconfigured client is refused instead of stored.
 *
 * - shape: a string of plausible length whose first characters are the base64url of an
 *   envelope v1 header (`AQEA` unsigned, `AQEB` signed). No full decode: length and
 *   prefix cost nanoseconds, and a corrupt body is caught by the reader's AEAD.
 * - location: the header's location tag equals the tag of the place it is written to;
 *   decodes only the first 52 characters (39 bytes).
 */
import type { CryptoBackend } from '../crypto/backend.js';
import { base64urlDecode } from '../crypto/base64url.js';
import { equalBytes } from '../crypto/bytes.js';
import { DEFAULT_MAX_ENVELOPE_BYTES, HEADER_BYTES, MIN_CIPHERTEXT_BYTES, maxTextLength } from '../crypto/envelope.js';
import { LOCATION_TAG_BYTES, locationTag, type Location } from '../crypto/location.js';

const MIN_TEXT = Math.ceil(((HEADER_BYTES + MIN_CIPHERTEXT_BYTES) * 4) / 3);
const TAG_END = 23 + LOCATION_TAG_BYTES; // version, suite, flags, key id, key version, tag
const TAG_TEXT = (TAG_END / 3) * 4;

export interface SealedShapeOptions {
  /** Largest accepted envelope in bytes. Default 1 MiB. */
  readonly maxBytes?: number;
}

/** Why `value` cannot be a v1 envelope, or null when its shape is plausible. */
export function sealedShapeProblem(value: unknown, options: SealedShapeOptions = {}): string | null {
  if (typeof value !== 'string') return 'expected a sealed envelope (string), got ' + (value === null ? 'null' : typeof value);
  if (value.length > maxTextLength(options.maxBytes ?? DEFAULT_MAX_ENVELOPE_BYTES)) return 'sealed value exceeds the size limit';
  if (value.length < MIN_TEXT || !(value.startsWith('AQEA') || value.startsWith('AQEB'))) {
    return 'not a sealed envelope (plaintext sent to a sealed field? the client must seal SHARED and PRIVATE values)';
  }
  return null;
}

/** True when the envelope's header says it was sealed for `location`. Call after the shape check. */
export function sealedForLocation(backend: CryptoBackend, text: string, location: Location): boolean {
  let head: Uint8Array;
  try {
    head = base64urlDecode(text.slice(0, TAG_TEXT));
  } catch {
    return false;
  }
  return equalBytes(head.subarray(23, TAG_END), locationTag(backend, location));
}
