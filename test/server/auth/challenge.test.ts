/**
 * Stateless challenges: strict parsing, the MAC binds realm, user and purpose and every
 * byte, expiry by an injected clock.
 */
import { describe, expect, it } from 'vitest';
import { base64urlDecode, base64urlEncode } from '../../../src/crypto/base64url.js';
import { nodeBackend } from '../../../src/crypto/backends/node.js';
import {
  CHALLENGE_TEXT_LENGTH,
  CHALLENGE_TTL_MS,
  issueChallenge,
  verifyChallenge,
  type ChallengeBinding,
  type ChallengeKeying,
} from '../../../src/server/services/sign-in/auth/challenge.js';
import { AuthError, type AuthErrorCode } from '../../../src/server/services/sign-in/auth/errors.js';
import { AuthPurpose, CHALLENGE_BYTES, type AuthPurpose as AuthPurposeType } from '../../../src/crypto/auth-messages.js';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const keying: ChallengeKeying = { backend: nodeBackend, key: new Uint8Array(32).fill(0x11) };
const alice: ChallengeBinding = { realm: 'veilgraph', username: 'alice', purpose: AuthPurpose.LOGIN };

function codeOf(fn: () => unknown): AuthErrorCode | 'none' | 'other' {
  try {
    fn();
    return 'none';
  } catch (e) {
    return e instanceof AuthError ? e.code : 'other';
  }
}

describe('issueChallenge', () => {
  it('has the v1 layout: 57 bytes, 76 characters, version 1, expiry in 5 minutes', () => {
    const c = issueChallenge(keying, alice, NOW);
    expect(c.text).toHaveLength(CHALLENGE_TEXT_LENGTH);
    expect(c.text).toMatch(/^[A-Za-z0-9_-]{76}$/);
    const b = base64urlDecode(c.text);
    expect(b.length).toBe(CHALLENGE_BYTES);
    expect(b[0]).toBe(1);
    expect(Number(new DataView(b.buffer).getBigUint64(17, false))).toBe(NOW + CHALLENGE_TTL_MS);
    expect(c.expiresAt.getTime()).toBe(NOW + 5 * 60_000);
  });

  it('is fresh every time', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add(issueChallenge(keying, alice, NOW).text);
    expect(seen.size).toBe(200);
  });

  it('refuses a short key', () => {
    expect(() => issueChallenge({ backend: nodeBackend, key: new Uint8Array(31) }, alice, NOW)).toThrow(TypeError);
  });
});

describe('verifyChallenge', () => {
  it('accepts its own challenge and returns the random part as the single-use id', () => {
    const c = issueChallenge(keying, alice, NOW);
    const v = verifyChallenge(keying, alice, c.text, NOW + 1000);
    const b = base64urlDecode(c.text);
    expect(v.bytes).toEqual(b);
    expect(v.id).toBe(base64urlEncode(b.subarray(1, 17)));
    expect(v.id).toHaveLength(22);
    expect(v.expiresAt).toEqual(c.expiresAt);
  });

  it('refuses a change to any bit of any byte (CHALLENGE_INVALID)', () => {
    const c = issueChallenge(keying, alice, NOW);
    const b = base64urlDecode(c.text);
    let checked = 0;
    for (let i = 0; i < b.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const t = b.slice();
        t[i]! ^= 1 << bit;
        expect(codeOf(() => verifyChallenge(keying, alice, base64urlEncode(t), NOW))).toBe('CHALLENGE_INVALID');
        checked++;
      }
    }
    expect(checked).toBe(57 * 8);
  });

  it('refuses a tampered expiry even when it would move it into the future', () => {
    const c = issueChallenge(keying, alice, NOW - CHALLENGE_TTL_MS - 1); // already expired
    const b = base64urlDecode(c.text);
    new DataView(b.buffer).setBigUint64(17, BigInt(NOW + 3_600_000), false);
    expect(codeOf(() => verifyChallenge(keying, alice, base64urlEncode(b), NOW))).toBe('CHALLENGE_INVALID');
  });

  it('expires exactly at expiresAt (injected clock)', () => {
    const c = issueChallenge(keying, alice, NOW);
    const exp = c.expiresAt.getTime();
    expect(codeOf(() => verifyChallenge(keying, alice, c.text, exp - 1))).toBe('none');
    expect(codeOf(() => verifyChallenge(keying, alice, c.text, exp))).toBe('CHALLENGE_EXPIRED');
    expect(codeOf(() => verifyChallenge(keying, alice, c.text, exp + 86_400_000))).toBe('CHALLENGE_EXPIRED');
  });

  it('checks the MAC before expiry: an expired forgery is INVALID, not EXPIRED', () => {
    const c = issueChallenge(keying, alice, NOW);
    const b = base64urlDecode(c.text);
    b[40]! ^= 1;
    expect(codeOf(() => verifyChallenge(keying, alice, base64urlEncode(b), NOW + CHALLENGE_TTL_MS))).toBe('CHALLENGE_INVALID');
  });

  it('is bound to the user, purpose, realm and key', () => {
    const c = issueChallenge(keying, alice, NOW);
    expect(codeOf(() => verifyChallenge(keying, { ...alice, username: 'bob' }, c.text, NOW))).toBe('CHALLENGE_INVALID');
    expect(codeOf(() => verifyChallenge(keying, { ...alice, username: 'alicE' }, c.text, NOW))).toBe('CHALLENGE_INVALID');
    expect(codeOf(() => verifyChallenge(keying, { ...alice, purpose: 'ADD_DEVICE' as AuthPurposeType }, c.text, NOW))).toBe(
      'CHALLENGE_INVALID',
    );
    expect(codeOf(() => verifyChallenge(keying, { ...alice, realm: 'staging' }, c.text, NOW))).toBe('CHALLENGE_INVALID');
    const otherKey = { backend: nodeBackend, key: new Uint8Array(32).fill(0x12) };
    expect(codeOf(() => verifyChallenge(otherKey, alice, c.text, NOW))).toBe('CHALLENGE_INVALID');
  });

  it('refuses a challenge with a valid MAC but another version byte', () => {
    // Simulate a future format: MAC computed by a server over version 2.
    const fixed = { ...keying, backend: { ...nodeBackend, randomBytes: (n: number) => new Uint8Array(n) } };
    const c = issueChallenge(fixed, alice, NOW);
    const b = base64urlDecode(c.text);
    b[0] = 2;
    expect(codeOf(() => verifyChallenge(keying, alice, base64urlEncode(b), NOW))).toBe('CHALLENGE_INVALID');
  });

  it('refuses malformed text with BAD_USER_INPUT', () => {
    const c = issueChallenge(keying, alice, NOW);
    const bad: unknown[] = [
      '',
      c.text.slice(1),
      `${c.text}A`,
      `${c.text.slice(0, 75)}=`,
      `${c.text.slice(0, 75)}+`,
      `${c.text.slice(0, 74)} ${c.text.slice(75)}`,
      `${c.text.slice(0, 72)}====`,
      c.text.replace(/[-_]/g, '+').replace(/^[^+]*$/, (t) => `+${t.slice(1)}`), // standard alphabet
      `${c.text.slice(0, 75)}\u00e9`, // non-ASCII
      base64urlEncode(new Uint8Array(56)),
      base64urlEncode(new Uint8Array(58)),
      'x'.repeat(100_000),
      undefined,
      null,
      57,
      base64urlDecode(c.text),
    ];
    // (57 bytes are exactly 76 characters: no unused bits, no padding, one text per challenge.)
    for (const text of bad) expect(codeOf(() => verifyChallenge(keying, alice, text, NOW))).toBe('BAD_USER_INPUT');
  });
});
