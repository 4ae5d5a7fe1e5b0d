/**
 * The signed byte strings, byte for byte (docs/auth.md §2 and §8): fixed inputs give
 * pinned hex, every field sits where the spec says, and the file stays portable.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { base64urlEncode } from '../../../src/crypto/base64url.js';
import { fromHex, hex, utf8Encode } from '../../../src/crypto/bytes.js';
import { nobleBackend } from '../../../src/crypto/backends/noble.js';
import { nodeBackend } from '../../../src/crypto/backends/node.js';
import { isCryptoError } from '../../../src/crypto/errors.js';
import {
  AuthPurpose,
  CHALLENGE_BYTES,
  LOGIN_LABEL,
  REGISTER_LABEL,
  isAuthPurpose,
  lengthPrefixed,
  loginMessage,
  registrationMessage,
  type AuthPurpose as AuthPurposeType,
} from '../../../src/crypto/auth-messages.js';
import { EXAMPLE, workedExample } from './worked-example.js';

// Pinned: these are the values printed in docs/auth.md §8.
const SIGNING_KEY = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
const ENCRYPTION_KEY = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';
const REGISTRATION_MESSAGE =
  '7665696c67726170682f76312f7265676973746572' + // "veilgraph/v1/register"
  '00' +
  '0009' + '7665696c6772617068' + // lp("veilgraph")
  '0005' + '616c696365' + // lp("alice")
  SIGNING_KEY +
  ENCRYPTION_KEY;
const REGISTRATION_SIGNATURE =
  '60653323b319d4d96bebaf0d36b57e0ab4aad6cb31343008eb8e5f7181987bc8593057d9e3e3ae7de41e5bcf9d2a85bd22fa445ebe643de0b6b0f9f785654805';
const CHALLENGE_TEXT = 'AQABAgMEBQYHCAkKCwwNDg8AAAGbdtqoAM1H6W-ujbav4YApOJrliJoOuOPdfuVPMvlYm1ro8vpP';
const CHALLENGE =
  '01' + // version
  '000102030405060708090a0b0c0d0e0f' + // random
  '0000019b76daa800' + // expiresAt = 1767225600000 ms = 2026-01-01T00:00:00Z
  'cd47e96fae8db6afe18029389ae5889a0eb8e3dd7ee54f32f9589b5ae8f2fa4f'; // mac
const LOGIN_MESSAGE =
  '7665696c67726170682f76312f6c6f67696e' + // "veilgraph/v1/login"
  '00' +
  '0009' + '7665696c6772617068' + // lp("veilgraph")
  '0005' + '616c696365' + // lp("alice")
  '0005' + '4c4f47494e' + // lp("LOGIN")
  CHALLENGE;
const LOGIN_SIGNATURE =
  '30be4417f3547152a3187cc535ee57e8bc86d0746c1b0c3b355f5bb000ed184d6690d24f5d64961768f546e5c5c2ace6455cecdaf398395bba68c1431caa8205';

function expectInvalidArgument(fn: () => unknown): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(isCryptoError(caught, 'INVALID_ARGUMENT')).toBe(true);
}

describe('lengthPrefixed', () => {
  it('is u16 big-endian byte length then UTF-8', () => {
    expect(hex(lengthPrefixed(''))).toBe('0000');
    expect(hex(lengthPrefixed('alice'))).toBe('0005616c696365');
    expect(hex(lengthPrefixed('é'))).toBe('0002c3a9'); // bytes, not UTF-16 units
    expect(hex(lengthPrefixed('x'.repeat(300)).subarray(0, 2))).toBe('012c');
    expect(lengthPrefixed('x'.repeat(0xffff)).length).toBe(0xffff + 2);
  });

  it('refuses strings over 65,535 bytes and lone surrogates', () => {
    expectInvalidArgument(() => lengthPrefixed('x'.repeat(0x10000)));
    expectInvalidArgument(() => lengthPrefixed('a\uD800b'));
  });
});

describe('registration message', () => {
  it('matches the pinned bytes for fixed inputs', async () => {
    const ex = await workedExample();
    expect(hex(ex.signingKey)).toBe(SIGNING_KEY);
    expect(hex(ex.encryptionKey)).toBe(ENCRYPTION_KEY);
    expect(hex(ex.registrationMessage)).toBe(REGISTRATION_MESSAGE);
    expect(ex.registrationMessage.length).toBe(104);
    expect(hex(ex.registrationSignature)).toBe(REGISTRATION_SIGNATURE);
  });

  it('has the documented layout', () => {
    const signingKey = new Uint8Array(32).fill(0xaa);
    const encryptionKey = new Uint8Array(32).fill(0xbb);
    const m = registrationMessage({ realm: 'r', username: 'bob', signingKey, encryptionKey });
    const label = utf8Encode(REGISTER_LABEL);
    expect(m.subarray(0, label.length)).toEqual(label);
    expect(m[label.length]).toBe(0);
    let o = label.length + 1;
    expect(hex(m.subarray(o, o + 3))).toBe('000172'); // lp("r")
    o += 3;
    expect(hex(m.subarray(o, o + 5))).toBe('0003626f62'); // lp("bob")
    o += 5;
    expect(m.subarray(o, o + 32)).toEqual(signingKey);
    expect(m.subarray(o + 32)).toEqual(encryptionKey);
  });

  it('binds the realm, the username and both keys', () => {
    const base = { realm: 'veilgraph', username: 'alice', signingKey: new Uint8Array(32), encryptionKey: new Uint8Array(32) };
    const m = hex(registrationMessage(base));
    expect(hex(registrationMessage({ ...base, realm: 'veilgraph2' }))).not.toBe(m);
    expect(hex(registrationMessage({ ...base, username: 'alicf' }))).not.toBe(m);
    expect(hex(registrationMessage({ ...base, signingKey: new Uint8Array(32).fill(1) }))).not.toBe(m);
    expect(hex(registrationMessage({ ...base, encryptionKey: new Uint8Array(32).fill(1) }))).not.toBe(m);
    // Length prefixes keep field boundaries unambiguous: ("ab","c") ≠ ("a","bc").
    expect(hex(registrationMessage({ ...base, realm: 'ab', username: 'c' }))).not.toBe(
      hex(registrationMessage({ ...base, realm: 'a', username: 'bc' })),
    );
  });

  it('refuses keys of the wrong size', () => {
    const ok = { realm: 'veilgraph', username: 'alice', signingKey: new Uint8Array(32), encryptionKey: new Uint8Array(32) };
    expectInvalidArgument(() => registrationMessage({ ...ok, signingKey: new Uint8Array(31) }));
    expectInvalidArgument(() => registrationMessage({ ...ok, encryptionKey: new Uint8Array(33) }));
  });
});

describe('login message', () => {
  it('matches the pinned bytes for fixed inputs', async () => {
    const ex = await workedExample();
    expect(ex.challengeText).toBe(CHALLENGE_TEXT);
    expect(hex(ex.challenge)).toBe(CHALLENGE);
    expect(base64urlEncode(fromHex(CHALLENGE))).toBe(CHALLENGE_TEXT);
    expect(hex(ex.loginMessage)).toBe(LOGIN_MESSAGE);
    expect(ex.loginMessage.length).toBe(101);
    expect(hex(ex.loginSignature)).toBe(LOGIN_SIGNATURE);
  });

  it('signatures of the worked example verify on every backend', async () => {
    for (const backend of [nodeBackend, nobleBackend]) {
      const key = fromHex(SIGNING_KEY);
      expect(await backend.ed25519Verify(key, fromHex(REGISTRATION_MESSAGE), fromHex(REGISTRATION_SIGNATURE))).toBe(true);
      expect(await backend.ed25519Verify(key, fromHex(LOGIN_MESSAGE), fromHex(LOGIN_SIGNATURE))).toBe(true);
      // Domain separation: neither signature passes for the other message.
      expect(await backend.ed25519Verify(key, fromHex(LOGIN_MESSAGE), fromHex(REGISTRATION_SIGNATURE))).toBe(false);
      expect(await backend.ed25519Verify(key, fromHex(REGISTRATION_MESSAGE), fromHex(LOGIN_SIGNATURE))).toBe(false);
    }
  });

  it('has the documented layout and binds every field', () => {
    const challenge = new Uint8Array(CHALLENGE_BYTES).fill(7);
    const base = { realm: 'veilgraph', username: 'alice', purpose: AuthPurpose.LOGIN, challenge };
    const m = loginMessage(base);
    const label = utf8Encode(LOGIN_LABEL);
    expect(m.subarray(0, label.length)).toEqual(label);
    expect(m[label.length]).toBe(0);
    expect(m.subarray(m.length - CHALLENGE_BYTES)).toEqual(challenge);
    expect(m.length).toBe(label.length + 1 + 11 + 7 + 7 + CHALLENGE_BYTES);
    const other = new Uint8Array(CHALLENGE_BYTES).fill(7);
    other[56] = 8;
    for (const variant of [
      { ...base, realm: 'other' },
      { ...base, username: 'bob' },
      { ...base, purpose: 'ADD_DEVICE' as AuthPurposeType },
      { ...base, challenge: other },
    ]) {
      expect(hex(loginMessage(variant))).not.toBe(hex(m));
    }
  });

  it('refuses a challenge of the wrong size', () => {
    const base = { realm: 'veilgraph', username: 'alice', purpose: AuthPurpose.LOGIN };
    expectInvalidArgument(() => loginMessage({ ...base, challenge: new Uint8Array(56) }));
    expectInvalidArgument(() => loginMessage({ ...base, challenge: new Uint8Array(58) }));
  });
});

describe('purposes', () => {
  it('LOGIN and RECOVER (backups) are the v1 purposes', () => {
    expect(Object.values(AuthPurpose)).toEqual(['LOGIN', 'RECOVER']);
    expect(isAuthPurpose('LOGIN')).toBe(true);
    expect(isAuthPurpose('RECOVER')).toBe(true);
    for (const p of ['login', 'recover', 'ADD_DEVICE', '', 'LOGIN ', 1, null, undefined]) expect(isAuthPurpose(p)).toBe(false);
  });
});

describe('portability', () => {
  it('auth-messages.ts imports nothing from node: or the server (clients import it)', () => {
    const src = readFileSync(new URL('../../../src/crypto/auth-messages.ts', import.meta.url), 'utf8');
    const imports = [...src.matchAll(/from\s+'([^']+)'/g)].map((m) => m[1]);
    expect(imports.length).toBeGreaterThan(0);
    for (const i of imports) expect(i).toMatch(/^\.\/(bytes|errors|signed-message)\.js$/);
  });

  it('the worked example inputs are the RFC test keys', () => {
    expect(hex(EXAMPLE.signingSeed)).toBe('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
    expect(EXAMPLE.issuedAtMs + 5 * 60_000).toBe(1767225600000);
  });
});
