/**
 * Timestamps inside key bundles (docs/crypto.md §12, §13): `YYYY-MM-DDTHH:MM:SS`, 0–9
 * fraction digits, `Z`, and a real date and time. The bundle decoder used `Date.parse`,
 * which rolls 2026-02-30 over to March 2 and reads 24:00 as the next midnight; what the
 * document calls "a real date" is now checked field by field.
 */
import { describe, expect, it } from 'vitest';
import { decodeKeyBundle, encodeKeyBundle, type KeyBundleContent } from '../../src/privacy/key-bundle.js';
import { isTimestamp } from '../../src/privacy/timestamp.js';

const GOOD = [
  '2026-11-22T10:00:00Z',
  '2026-11-22T10:00:00.1Z',
  '2026-11-22T10:00:00.000Z',
  '2026-11-22T10:00:00.123456789Z',
  '2024-02-29T23:59:59.999Z',
  '2000-02-29T00:00:00Z',
  '0000-01-01T00:00:00.000Z',
  '9999-12-31T23:59:59.999Z',
];

const BAD = [
  '2026-02-30T10:00:00.000Z',
  '2026-02-29T10:00:00.000Z',
  '1900-02-29T10:00:00.000Z',
  '2026-04-31T10:00:00.000Z',
  '2026-13-01T10:00:00.000Z',
  '2026-00-10T10:00:00.000Z',
  '2026-01-00T10:00:00.000Z',
  '2026-01-01T24:00:00.000Z',
  '2026-01-01T23:60:00.000Z',
  '2026-01-01T23:59:60.000Z',
  '2026-11-22T10:00:00.1234567890Z',
  '2026-11-22T10:00:00.Z',
  '2026-11-22T10:00:00',
  '2026-11-22T10:00:00+00:00',
  '2026-11-22 10:00:00Z',
  '+002026-11-22T10:00:00.000Z',
  '2026-11-22t10:00:00z',
];

describe('isTimestamp', () => {
  it.each(GOOD)('accepts %s', (t) => expect(isTimestamp(t)).toBe(true));
  it.each(BAD)('refuses %s', (t) => expect(isTimestamp(t)).toBe(false));
  it('writers write what toISOString writes, and readers take it', () => {
    expect(isTimestamp(new Date(Date.UTC(2026, 10, 22, 10, 0, 0, 5)).toISOString())).toBe(true);
    expect(isTimestamp(undefined)).toBe(false);
    expect(isTimestamp(0)).toBe(false);
  });
});

describe('in a key bundle', () => {
  const at = (t: string): KeyBundleContent => ({
    userId: 'u',
    revision: 1,
    identity: { version: 1, signingSeed: new Uint8Array(32), encryptionPrivate: new Uint8Array(32).fill(1), createdAt: t },
    previousEncryption: [],
    vault: [{ key: { id: new Uint8Array(16).fill(2), version: 1, bytes: new Uint8Array(32).fill(3) }, createdAt: '2026-11-22T10:00:00.000Z' }],
    recipients: [{ kind: 'PASSWORD', id: 'PASSWORD', encryptionKey: new Uint8Array(32).fill(5) }],
    resetAt: null,
  });

  it('a date that does not exist is ENVELOPE_MALFORMED on decoding and INVALID_ARGUMENT on encoding', () => {
    const bytes = new TextDecoder().decode(encodeKeyBundle(at('2026-02-28T10:00:00.000Z'))).replace('2026-02-28T10:00:00.000Z', '2026-02-30T10:00:00.000Z');
    expect(() => decodeKeyBundle(new TextEncoder().encode(bytes))).toThrow(expect.objectContaining({ code: 'ENVELOPE_MALFORMED', message: expect.stringMatching(/identity.createdAt/) }));
    expect(() => encodeKeyBundle(at('2026-01-01T24:00:00.000Z'))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('fractions of 0 to 9 digits decode unchanged', () => {
    for (const t of ['2026-11-22T10:00:00Z', '2026-11-22T10:00:00.5Z', '2026-11-22T10:00:00.123456789Z']) {
      expect(decodeKeyBundle(encodeKeyBundle(at(t))).identity.createdAt).toBe(t);
    }
  });
});
