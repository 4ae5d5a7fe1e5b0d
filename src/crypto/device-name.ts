/**
 * @module
 * Device names: the one rule for the name a device signs into its device message (docs/auth.md
 * §12, docs/crypto.md §12) and that other devices of the account list. Names come from
 * outsiders too (anyone may ask to link a device to any account), so they may not hide
 * characters or reorder what is shown: a name is accepted only when it is already in the form
 * `normalizeDeviceName` gives, and 1–64 code points long.
 *
 * The gateway refuses any other name (it cannot rewrite one: the name is signed by the
 * device); clients normalise what the user typed before signing. The normal form:
 *
 *   1. every control character (Cc), line or paragraph separator (Zl, Zp) and white space
 *      character (JavaScript `\s`: White_Space and U+FEFF) becomes U+0020 SPACE;
 *   2. format characters (Cf: bidi embeddings, overrides, isolates and marks, zero-width
 *      space, joiners and non-joiner, word joiner, soft hyphen, tags, …), private-use
 *      characters (Co), unpaired surrogates (Cs) and every other Default_Ignorable_Code_Point
 *      except the variation selectors U+FE00–U+FE0F and U+E0100–U+E01EF are removed;
 *   3. Unicode normalisation form NFKC (compatibility forms such as full-width letters and
 *      ligatures become the plain ones, combining sequences are composed);
 *   4. 1–3 again until nothing changes;
 *   5. runs of spaces become one space; spaces at either end are removed.
 *
 * Emoji keep their variation selectors (❤️) but lose zero-width joiners: a joined sequence
 * shows as its parts. Everything here is per code point with the runtime's Unicode tables
 * (`\p{…}`, `String.prototype.normalize`).
 */
import { CryptoError } from './errors.js';

export const MAX_DEVICE_NAME_LENGTH = 64;

const BREAKING = /[\p{Cc}\p{Zl}\p{Zp}\s]/gu;
const INVISIBLE = /[\p{Cf}\p{Co}\p{Cs}]|(?![\uFE00-\uFE0F\u{E0100}-\u{E01EF}])\p{Default_Ignorable_Code_Point}/gu;
const LONE_SURROGATE = /\p{Cs}/u;
/** Steps 1–3 reach a fixed point in one or two rounds for any input; more would be a runtime bug. */
const MAX_ROUNDS = 8;

/** The normal form of a device name (see the module comment). May be empty or too long: check with `deviceNameProblem`. */
export function normalizeDeviceName(name: string): string {
  if (typeof name !== 'string') throw new CryptoError('INVALID_ARGUMENT', 'a device name must be a string');
  let s = name;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const next = s.replace(BREAKING, ' ').replace(INVISIBLE, '').normalize('NFKC');
    if (next === s) break;
    s = next;
  }
  return s.replace(/ {2,}/g, ' ').replace(/^ | $/g, '');
}

/** Why `name` is not an acceptable device name, or null when it is. */
export function deviceNameProblem(name: unknown): string | null {
  if (typeof name !== 'string' || LONE_SURROGATE.test(name)) return 'must be well-formed text';
  const length = [...name].length;
  if (length < 1 || length > MAX_DEVICE_NAME_LENGTH) return `must be 1–${MAX_DEVICE_NAME_LENGTH} characters`;
  if (normalizeDeviceName(name) !== name) {
    return 'must be in normal form: NFKC, no control, format (bidi, zero-width) or other invisible characters, single spaces, none at either end';
  }
  return null;
}
