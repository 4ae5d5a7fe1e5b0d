/**
 * @module
 * Why the node backend's "native" X25519 / Ed25519 are only a few times faster than pure
 * JS: each call re-imports the raw 32-byte keys as KeyObjects through DER (PKCS#8 /
 * SPKI, see src/crypto/backends/der.ts), and OpenSSL 3's DER decoder is far slower than
 * the curve operation itself. Times the pieces, interleaved, against a JWK import of the
 * same raw keys and against the operation on pre-imported KeyObjects.
 *
 *   npx tsx bench/keyimport-breakdown.ts [--quick]
 *
 * Measurements only; nothing in src/ uses the alternatives.
 */
import { createPrivateKey, createPublicKey, diffieHellman, sign, type KeyObject } from 'node:crypto';
import { nodeBackend } from '../src/crypto/backends/node.js';
import { pkcs8, spki } from '../src/crypto/backends/der.js';
import { base64urlEncode } from '../src/crypto/base64url.js';
import { nobleBackend } from '../src/crypto/index.js';
import { environmentLines, fmtNs, parseBenchOptions, runInterleaved, table, type Case } from './harness.js';

const opts = parseBenchOptions();
const priv = nodeBackend.randomBytes(32);
const peerPriv = nodeBackend.randomBytes(32);
const seed = nodeBackend.randomBytes(32);
const msg = nodeBackend.randomBytes(128);

async function main(): Promise<void> {
  const pub = await nobleBackend.x25519PublicKey(priv);
  const peerPub = await nobleBackend.x25519PublicKey(peerPriv);
  const edPub = await nobleBackend.ed25519PublicKey(seed);
  const derPriv = (raw: Uint8Array, curve: 'x25519' | 'ed25519'): KeyObject =>
    createPrivateKey({ key: Buffer.from(pkcs8(curve, raw)), format: 'der', type: 'pkcs8' });
  const derPub = (raw: Uint8Array, curve: 'x25519' | 'ed25519'): KeyObject =>
    createPublicKey({ key: Buffer.from(spki(curve, raw)), format: 'der', type: 'spki' });
  const jwkPriv = (raw: Uint8Array, rawPub: Uint8Array, crv: 'X25519' | 'Ed25519'): KeyObject =>
    createPrivateKey({ key: { kty: 'OKP', crv, d: base64urlEncode(raw), x: base64urlEncode(rawPub) }, format: 'jwk' });
  const jwkPub = (rawPub: Uint8Array, crv: 'X25519' | 'Ed25519'): KeyObject =>
    createPublicKey({ key: { kty: 'OKP', crv, x: base64urlEncode(rawPub) }, format: 'jwk' });
  const kPriv = derPriv(priv, 'x25519');
  const kPeer = derPub(peerPub, 'x25519');
  const kEd = derPriv(seed, 'ed25519');

  const cases: Case[] = [
    { name: 'nodeBackend.x25519 (as shipped)', fn: () => nodeBackend.x25519(priv, peerPub), async: true },
    { name: 'nobleBackend.x25519', fn: () => nobleBackend.x25519(priv, peerPub), async: true },
    { name: 'X25519 private key import, PKCS#8 DER', fn: () => derPriv(priv, 'x25519') },
    { name: 'X25519 public key import, SPKI DER', fn: () => derPub(peerPub, 'x25519') },
    { name: 'X25519 private key import, JWK', fn: () => jwkPriv(priv, pub, 'X25519') },
    { name: 'X25519 public key import, JWK', fn: () => jwkPub(peerPub, 'X25519') },
    { name: 'diffieHellman on pre-imported KeyObjects', fn: () => diffieHellman({ privateKey: kPriv, publicKey: kPeer }) },
    { name: 'nodeBackend.ed25519Sign (as shipped)', fn: () => nodeBackend.ed25519Sign(seed, msg), async: true },
    { name: 'Ed25519 sign on a pre-imported KeyObject', fn: () => sign(null, msg, kEd) },
    { name: 'Ed25519 private key import, JWK', fn: () => jwkPriv(seed, edPub, 'Ed25519') },
  ];
  console.log('```');
  for (const line of environmentLines(opts)) console.log(line);
  console.log('```');
  console.log('');
  const results = await runInterleaved(cases, opts);
  console.log(
    table(
      ['step', 'median', 'ops/s'],
      results.map((r) => [r.name, fmtNs(r.medianNs), Math.round(r.opsPerSec).toLocaleString('en-US')]),
      ['l', 'r', 'r'],
    ),
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 1;
});
