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
 *      The braille pattern blank U+2800, a symbol that draws nothing, is removed too;
 *   3. Unicode normalisation form NFKC (compatibility forms such as full-width letters and
 *      ligatures become the plain ones, combining sequences are composed);
 *   4. marks that draw on nothing visible are removed: a variation selector is kept only
 *      directly after a base character (not a space, mark or another selector); a combining
 *      mark (category M) only after a base character, a kept selector or another kept mark,
 *      and at most 4 in a row (enough for the scripts that stack marks, not for "zalgo");
 *   5. 1–4 again until nothing changes;
 *   6. runs of spaces become one space; spaces at either end are removed.
 *
 * So every accepted name holds at least one letter, number, punctuation mark or symbol that
 * draws something. Emoji keep their variation selectors (❤️) and keycaps (1️⃣) but lose
 * zero-width joiners: a joined sequence shows as its parts. Everything here is per code point
 * with the runtime's Unicode tables (`\p{…}`, `String.prototype.normalize`).
 */
import { CryptoError } from './errors.js';

export const MAX_DEVICE_NAME_LENGTH = 64;

const BREAKING = /[\p{Cc}\p{Zl}\p{Zp}\s]/gu;
const INVISIBLE = /[\p{Cf}\p{Co}\p{Cs}]|(?![\uFE00-\uFE0F\u{E0100}-\u{E01EF}])\p{Default_Ignorable_Code_Point}/gu;
const LONE_SURROGATE = /\p{Cs}/u;
/** Draws nothing, yet is a symbol (So), not a format character. */
const BLANK_SYMBOLS = /\u2800/gu;
const VARIATION_SELECTOR = /^[\uFE00-\uFE0F\u{E0100}-\u{E01EF}]$/u;
const MARK = /^\p{M}$/u;
/** Most combining marks kept in a row on one base character. */
export const MAX_COMBINING_MARKS = 4;

/** Step 4 of the module comment: selectors and marks only where they draw on something. */
function tidyMarks(s: string): string {
  let out = '';
  let prev: 'start' | 'space' | 'base' | 'selector' | 'mark' = 'start';
  let marks = 0;
  for (const c of s) {
    if (VARIATION_SELECTOR.test(c)) {
      if (prev !== 'base') continue;
      prev = 'selector';
    } else if (MARK.test(c)) {
      if (prev === 'start' || prev === 'space' || marks >= MAX_COMBINING_MARKS) continue;
      marks++;
      prev = 'mark';
    } else {
      prev = c === ' ' ? 'space' : 'base';
      marks = 0;
    }
    out += c;
  }
  return out;
}
/** Steps 1–4 reach a fixed point in one or two rounds for any input; more would be a runtime bug. */
const MAX_ROUNDS = 8;

/** The normal form of a device name (see the module comment). May be empty or too long: check with `deviceNameProblem`. */
export function normalizeDeviceName(name: string): string {
  if (typeof name !== 'string') throw new CryptoError('INVALID_ARGUMENT', 'a device name must be a string');
  let s = name;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const next = tidyMarks(s.replace(BREAKING, ' ').replace(INVISIBLE, '').replace(BLANK_SYMBOLS, '').normalize('NFKC'));
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
