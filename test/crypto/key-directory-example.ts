/**
 * @module
 * The worked example of docs/crypto.md §11, computed from fixed inputs with the real code.
 * `key-directory.test.ts` pins its output byte for byte and checks the document shows it;
 * run this file to print it:
 *
 *   npx tsx test/crypto/key-directory-example.ts
 */
import type { CryptoBackend } from '../../src/crypto/backend.js';
import { base64urlEncode } from '../../src/crypto/base64url.js';
import { fromHex, hex } from '../../src/crypto/bytes.js';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { fingerprintOf, fingerprintText, keyVersionMessage, safetyNumberOf, signKeyVersion } from '../../src/crypto/key-directory.js';
import { keyIdOf } from '../../src/crypto/keys.js';

/** Fixed inputs: RFC 8032 §7.1 tests 1–3 seeds, RFC 7748 §6.1 X25519 keys. */
export const EXAMPLE = {
  realm: 'veilgraph',
  username: 'alice',
  /** Alice's version 1 (the keys of docs/auth.md §9). */
  v1SigningSeed: fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'),
  v1EncryptionPrivateKey: fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'),
  /** Alice's version 2. */
  v2SigningSeed: fromHex('4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb'),
  v2EncryptionPrivateKey: fromHex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'),
  /** Bob's signing key, for the safety number. */
  bobUsername: 'bob',
  bobSigningSeed: fromHex('c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7'),
} as const;

export interface KeyDirectoryExample {
  v1SigningKey: Uint8Array;
  v2SigningKey: Uint8Array;
  v2EncryptionKey: Uint8Array;
  v2SigningKeyId: Uint8Array;
  v2Message: Uint8Array;
  /** By version 1's key, then by version 2's (128 bytes). */
  v2Signature: Uint8Array;
  bobSigningKey: Uint8Array;
  aliceFingerprint: Uint8Array;
  aliceFingerprintText: string;
  bobFingerprintText: string;
  safetyNumber: string;
  safetyNumberAfterRotation: string;
}

export async function keyDirectoryExample(backend: CryptoBackend = nodeBackend): Promise<KeyDirectoryExample> {
  const v1SigningKey = await backend.ed25519PublicKey(EXAMPLE.v1SigningSeed);
  const v2SigningKey = await backend.ed25519PublicKey(EXAMPLE.v2SigningSeed);
  const v2EncryptionKey = await backend.x25519PublicKey(EXAMPLE.v2EncryptionPrivateKey);
  const bobSigningKey = await backend.ed25519PublicKey(EXAMPLE.bobSigningSeed);
  const statement = { realm: EXAMPLE.realm, username: EXAMPLE.username, version: 2, previousSigningKey: v1SigningKey, signingKey: v2SigningKey, encryptionKey: v2EncryptionKey };
  const v2Message = keyVersionMessage(statement);
  const alice = { username: EXAMPLE.username, signingKey: v1SigningKey };
  const bob = { username: EXAMPLE.bobUsername, signingKey: bobSigningKey };
  return {
    v1SigningKey,
    v2SigningKey,
    v2EncryptionKey,
    v2SigningKeyId: keyIdOf(backend, 'ed25519', v2SigningKey),
    v2Message,
    v2Signature: await signKeyVersion(backend, statement, EXAMPLE.v1SigningSeed, EXAMPLE.v2SigningSeed),
    bobSigningKey,
    aliceFingerprint: fingerprintOf(backend, alice.username, alice.signingKey),
    aliceFingerprintText: fingerprintText(backend, alice.username, alice.signingKey),
    bobFingerprintText: fingerprintText(backend, bob.username, bob.signingKey),
    safetyNumber: safetyNumberOf(backend, alice, bob),
    safetyNumberAfterRotation: safetyNumberOf(backend, { ...alice, signingKey: v2SigningKey }, bob),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const x = await keyDirectoryExample();
  const show: Record<string, string> = {};
  for (const [k, v] of Object.entries(x)) show[k] = v instanceof Uint8Array ? `${hex(v)} = ${base64urlEncode(v)}` : v;
  process.stdout.write(`${JSON.stringify(show, null, 2)}\n`);
}
