/**
 * @module
 * The worked example of docs/auth.md §8, computed from fixed inputs with the real code.
 * `messages.test.ts` pins its output byte for byte; run this file to print it:
 *
 *   npx tsx test/server/auth/worked-example.ts
 */
import { base64urlEncode } from '../../../src/crypto/base64url.js';
import type { CryptoBackend } from '../../../src/crypto/backend.js';
import { fromHex, hex } from '../../../src/crypto/bytes.js';
import { nodeBackend } from '../../../src/crypto/backends/node.js';
import { issueChallenge } from '../../../src/server/services/sign-in/auth/challenge.js';
import { AuthPurpose, loginMessage, registrationMessage } from '../../../src/crypto/auth-messages.js';

/** Fixed inputs: RFC 8032 §7.1 test 1 seed, RFC 7748 §6.1 Alice's X25519 key. */
export const EXAMPLE = {
  realm: 'veilgraph',
  username: 'alice',
  signingSeed: fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'),
  encryptionPrivateKey: fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'),
  challengeKey: new Uint8Array(32).fill(0x42),
  challengeRandom: fromHex('000102030405060708090a0b0c0d0e0f'),
  /** 2026-01-01T00:00:00Z minus the 5-minute lifetime: the challenge expires at 1767225600000. */
  issuedAtMs: Date.UTC(2026, 0, 1) - 5 * 60_000,
} as const;

export interface WorkedExample {
  signingKey: Uint8Array;
  encryptionKey: Uint8Array;
  registrationMessage: Uint8Array;
  registrationSignature: Uint8Array;
  challengeText: string;
  challenge: Uint8Array;
  loginMessage: Uint8Array;
  loginSignature: Uint8Array;
}

export async function workedExample(backend: CryptoBackend = nodeBackend): Promise<WorkedExample> {
  const signingKey = await backend.ed25519PublicKey(EXAMPLE.signingSeed);
  const encryptionKey = await backend.x25519PublicKey(EXAMPLE.encryptionPrivateKey);
  const reg = registrationMessage({ realm: EXAMPLE.realm, username: EXAMPLE.username, signingKey, encryptionKey });
  const fixed: CryptoBackend = { ...backend, randomBytes: (n) => EXAMPLE.challengeRandom.slice(0, n) };
  const issued = issueChallenge(
    { backend: fixed, key: EXAMPLE.challengeKey },
    { realm: EXAMPLE.realm, username: EXAMPLE.username, purpose: AuthPurpose.LOGIN },
    EXAMPLE.issuedAtMs,
  );
  const challenge = new Uint8Array(Buffer.from(issued.text, 'base64url'));
  const login = loginMessage({ realm: EXAMPLE.realm, username: EXAMPLE.username, purpose: AuthPurpose.LOGIN, challenge });
  return {
    signingKey,
    encryptionKey,
    registrationMessage: reg,
    registrationSignature: await backend.ed25519Sign(EXAMPLE.signingSeed, reg),
    challengeText: issued.text,
    challenge,
    loginMessage: login,
    loginSignature: await backend.ed25519Sign(EXAMPLE.signingSeed, login),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const ex = await workedExample();
  const out = {
    signingKey: { hex: hex(ex.signingKey), b64u: base64urlEncode(ex.signingKey) },
    encryptionKey: { hex: hex(ex.encryptionKey), b64u: base64urlEncode(ex.encryptionKey) },
    registrationMessage: hex(ex.registrationMessage),
    registrationMessageLength: ex.registrationMessage.length,
    registrationSignature: { hex: hex(ex.registrationSignature), b64u: base64urlEncode(ex.registrationSignature) },
    challengeText: ex.challengeText,
    challenge: hex(ex.challenge),
    loginMessage: hex(ex.loginMessage),
    loginMessageLength: ex.loginMessage.length,
    loginSignature: { hex: hex(ex.loginSignature), b64u: base64urlEncode(ex.loginSignature) },
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}
