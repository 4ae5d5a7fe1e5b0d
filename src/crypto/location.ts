/**
 * @module
 * Where a ciphertext belongs. Every envelope and wrapped key is bound to a location so it
 * cannot be moved to another field, row or owner: a server (or anyone with database
 * access) that swaps Alice's `Profile.diary` into Bob's row, or into her `Profile.bio`,
 * gets WRONG_LOCATION instead of a plausible plaintext.
 *
 * Encoding (all lengths big-endian u16, strings UTF-8):
 *   enc(loc) = len(coordinate) ‖ coordinate ‖ len(ownerId) ‖ ownerId ‖ objectFlag [‖ len(objectId) ‖ objectId]
 * with objectFlag 0x00 (no object id) or 0x01. The location tag carried in headers is
 *   SHA-256("veilgraph/v1/location" ‖ 0x00 ‖ enc(loc))[0..16].
 */
import type { CryptoBackend } from './backend.js';
import { utf8Encode } from './bytes.js';
import { CryptoError } from './errors.js';
import { LABEL } from './labels.js';

export const LOCATION_TAG_BYTES = 16;
const MAX_PART_BYTES = 1024;
// `Type.field` (a schema coordinate) or `Type` alone (for keys that cover a whole object).
const COORDINATE = /^[_A-Za-z][_0-9A-Za-z]*(\.[_A-Za-z][_0-9A-Za-z]*)?$/;
// The last coordinate that passed COORDINATE (strings are immutable): the fields of one
// type are opened one after another, and the test is a regex run per field.
let lastCoordinate: string | null = null;

export interface Location {
  /** Schema coordinate `Type.field`, or `Type` for a key covering a whole object. */
  readonly coordinate: string;
  /** Id of the user (or conversation) that owns the value. */
  readonly ownerId: string;
  /** Id of the object (row) when known at sealing time. */
  readonly objectId?: string | null | undefined;
}

// A location part as either an ASCII string (written char by char, no allocation: ids and
// coordinates nearly always are) or its UTF-8 bytes.
type Part = string | Uint8Array;

function part(s: unknown, what: string): Part {
  if (typeof s !== 'string' || s.length === 0) throw new CryptoError('INVALID_ARGUMENT', `location ${what} must be a non-empty string`);
  let ascii = true;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  const p: Part = ascii ? s : utf8Encode(s);
  if (p.length > MAX_PART_BYTES) throw new CryptoError('INVALID_ARGUMENT', `location ${what} exceeds ${MAX_PART_BYTES} bytes`);
  return p;
}

function writePart(out: Uint8Array, at: number, p: Part): number {
  const n = p.length;
  out[at++] = n >> 8;
  out[at++] = n & 0xff;
  if (typeof p === 'string') {
    for (let i = 0; i < n; i++) out[at + i] = p.charCodeAt(i);
  } else {
    out.set(p, at);
  }
  return at + n;
}

/** `"veilgraph/v1/location" ‖ 0x00 ‖ enc(loc)`: the input hashed into the location tag. */
export function locationTagInput(loc: Location): Uint8Array {
  return prefixedLocationInput(EMPTY, loc);
}

const EMPTY = new Uint8Array(0);

/**
 * `prefix ‖ locationTagInput(loc)` in one allocation: the envelope's associated data is
 * the header followed by this, built once per field on the hot path.
 */
export function prefixedLocationInput(prefix: Uint8Array, loc: Location, alloc: (n: number) => Uint8Array = newBytes, prefixLength = prefix.length): Uint8Array {
  if (typeof loc !== 'object' || loc === null) throw new CryptoError('INVALID_ARGUMENT', 'location must be an object { coordinate, ownerId, objectId? }');
  if (typeof loc.coordinate !== 'string' || (loc.coordinate !== lastCoordinate && !COORDINATE.test(loc.coordinate))) {
    throw new CryptoError('INVALID_ARGUMENT', 'location coordinate must look like Type.field or Type');
  }
  lastCoordinate = loc.coordinate;
  const c = part(loc.coordinate, 'coordinate');
  const o = part(loc.ownerId, 'ownerId');
  const j = loc.objectId !== undefined && loc.objectId !== null ? part(loc.objectId, 'objectId') : undefined;
  const label = LABEL.location;
  // `alloc` may return reused memory: every byte is written below.
  const out = alloc(prefixLength + label.length + 2 + c.length + 2 + o.length + 1 + (j ? 2 + j.length : 0));
  // The first `prefixLength` bytes of `prefix` (an envelope's header, read from the
  // envelope itself): copied by hand, as a view for `set` would cost more than the copy.
  if (prefixLength === prefix.length) out.set(prefix, 0);
  else for (let i = 0; i < prefixLength; i++) out[i] = prefix[i]!;
  out.set(label, prefixLength);
  let p = writePart(out, prefixLength + label.length, c);
  p = writePart(out, p, o);
  out[p++] = j ? 1 : 0;
  if (j) writePart(out, p, j);
  return out;
}

function newBytes(n: number): Uint8Array {
  return new Uint8Array(n);
}

/** The 16-byte tag stored in headers. Public: derived from public facts only. */
export function locationTag(backend: CryptoBackend, loc: Location): Uint8Array {
  return backend.sha256(locationTagInput(loc)).subarray(0, LOCATION_TAG_BYTES);
}

export function describeLocation(loc: Location): string {
  return `${loc.coordinate} of owner ${loc.ownerId}${loc.objectId != null ? `, object ${loc.objectId}` : ''}`;
}
