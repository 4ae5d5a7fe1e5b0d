// The device-name rule (src/crypto/device-name.ts): what the gateway accepts, and the
// client's normaliser that turns what a user typed into an accepted name.
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { deviceNameProblem, MAX_DEVICE_NAME_LENGTH, normalizeDeviceName } from '../../src/crypto/device-name.js';
import { REFUSED_DEVICE_NAMES } from '../helpers/devices.js';

describe('deviceNameProblem', () => {
  it.each(REFUSED_DEVICE_NAMES)('%s is refused', (_, name) => {
    expect(deviceNameProblem(name)).not.toBeNull();
  });

  it.each([['Chromium on Linux'], ['Alice’s phone ❤️'], ['téléphone'], ['日本語のノート'], ['هاتف سارة'], ['x'.repeat(64)], ['😀'.repeat(64)], ['1️⃣ keypad'], ['नमस्ते'], ['Tiếng Việt']])('%s is accepted', (name) => {
    expect(deviceNameProblem(name)).toBeNull();
  });

  it('refuses what is not a string or not well-formed UTF-16', () => {
    expect(deviceNameProblem(42)).not.toBeNull();
    expect(deviceNameProblem(null)).not.toBeNull();
    expect(deviceNameProblem('lone\uD800')).not.toBeNull();
  });
});

describe('normalizeDeviceName', () => {
  it('strips invisible and control characters, applies NFKC, collapses and trims white space', () => {
    expect(normalizeDeviceName('  ｐｈｏｎｅ\u200B  ')).toBe('phone');
    expect(normalizeDeviceName('my\u202E laptop')).toBe('my laptop');
    expect(normalizeDeviceName('te\u0301le\u0301phone')).toBe('téléphone');
    expect(normalizeDeviceName('e\u200B\u0301')).toBe('é');
    expect(normalizeDeviceName('line\nbreak\ttab')).toBe('line break tab');
    expect(normalizeDeviceName('a  \u3000 b')).toBe('a b');
    expect(normalizeDeviceName('Alice’s phone ❤️')).toBe('Alice’s phone ❤️');
  });

  it.each(REFUSED_DEVICE_NAMES)('%s becomes acceptable unless nothing acceptable is left', (_, name) => {
    const normal = normalizeDeviceName(name);
    expect(deviceNameProblem(normal) === null || normal === '' || [...normal].length > MAX_DEVICE_NAME_LENGTH).toBe(true);
  });

  test.prop([fc.string({ unit: 'grapheme', maxLength: 40 })], { numRuns: 2000 })('any text normalises to an accepted name, or to nothing, and stays put', (typed) => {
    const normal = normalizeDeviceName(typed);
    expect(normalizeDeviceName(normal)).toBe(normal);
    if (normal !== '' && [...normal].length <= MAX_DEVICE_NAME_LENGTH) expect(deviceNameProblem(normal)).toBeNull();
  });

  test.prop([fc.string({ unit: 'binary', maxLength: 40 })], { numRuns: 2000 })('any code points at all, too', (typed) => {
    const normal = normalizeDeviceName(typed);
    expect(normalizeDeviceName(normal)).toBe(normal);
    if (normal !== '' && [...normal].length <= MAX_DEVICE_NAME_LENGTH) expect(deviceNameProblem(normal)).toBeNull();
  });
});
