/**
 * The backup-secret vectors of recovery-v1.json (docs/crypto.md §12), for ./generate.ts:
 * recovery phrases, password backups and device link codes from fixed inputs.
 *
 * Each value is computed by src/crypto/recovery.ts on the noble backend and cross-checked
 * before it is written: public keys on every backend; BIP39 words, BIP39 seeds (node's
 * PBKDF2), HKDF (node's hkdfSync) and link-code digits (BigInt) by independent
 * re-implementations; Argon2id by the reference implementation's command-line tool
 * (`argon2`, Debian package argon2) when it is installed — a warning says when it is not.
 */
import { execFileSync } from 'node:child_process';
import { hkdfSync, pbkdf2Sync } from 'node:crypto';
import { argon2id } from '@noble/hashes/argon2.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { entropyToMnemonic } from '@scure/bip39';
import { nobleBackend, webCryptoBackend, type CryptoBackend } from '../../src/crypto/index.js';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { backupKeysFromPassword, backupKeysFromPhrase, deviceLinkCode, type BackupKeys } from '../../src/crypto/recovery.js';
import { fixedBytes, fromHex, toHex } from '../helpers/fixed-random.js';
import type { BackupKeysJson, DeviceCodeVector, PasswordVector, PhraseVector, RecoveryVectorFile } from './format.js';

const BACKENDS: readonly CryptoBackend[] = [nobleBackend, nodeBackend, webCryptoBackend];
const P = 'veilgraph/test-vectors/v1/recovery/';
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`recovery vectors self-check failed: ${what}`);
}

// --- independent re-implementations --------------------------------------------------------

/** BIP39 words of 32 bytes of entropy: entropy ‖ SHA-256(entropy)[0], in 11-bit indexes. */
function refPhrase(entropy: Uint8Array): string {
  const bits = BigInt(`0x${toHex(entropy)}${toHex(sha256(entropy).subarray(0, 1))}`);
  const words: string[] = [];
  for (let i = 23; i >= 0; i--) words.push(wordlist[Number((bits >> BigInt(11 * i)) & 0x7ffn)]!);
  return words.join(' ');
}

const refSeed = (phrase: string): Uint8Array => new Uint8Array(pbkdf2Sync(phrase.normalize('NFKD'), 'mnemonic', 2048, 64, 'sha512'));
const refHkdf = (ikm: Uint8Array, label: string): Uint8Array => new Uint8Array(hkdfSync('sha256', ikm, new Uint8Array(0), utf8(label), 32));

function refCode(hash: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 5; i++) groups.push(String(BigInt(`0x${toHex(hash.subarray(5 * i, 5 * i + 5))}`) % 100000n).padStart(5, '0'));
  return groups.join(' ');
}

/** Argon2id by the reference CLI, or undefined when it is not installed. */
function refArgon2id(password: Uint8Array, salt: string, m: number, t: number, p: number): Uint8Array | undefined {
  try {
    const out = execFileSync('argon2', [salt, '-id', '-k', String(m), '-t', String(t), '-p', String(p), '-l', '32', '-r'], { input: password, stdio: ['pipe', 'pipe', 'ignore'] });
    return fromHex(out.toString('utf8').trim());
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

// --- vectors -----------------------------------------------------------------------------

async function keysJson(keys: BackupKeys, ikm: Uint8Array, what: string): Promise<BackupKeysJson> {
  const authSeed = refHkdf(ikm, 'veilgraph/v1/backup-auth');
  const wrapPrivate = refHkdf(ikm, 'veilgraph/v1/backup-wrap');
  check(toHex(keys.auth.seed) === toHex(authSeed), `${what}: auth seed`);
  check(toHex(keys.encryption.privateKey) === toHex(wrapPrivate), `${what}: wrap private key`);
  for (const b of BACKENDS) {
    check(toHex(await b.ed25519PublicKey(authSeed)) === toHex(keys.auth.publicKey), `${what}: auth public key on ${b.name}`);
    check(toHex(await b.x25519PublicKey(wrapPrivate)) === toHex(keys.encryption.publicKey), `${what}: X25519 public key on ${b.name}`);
  }
  return {
    authSeedHex: toHex(authSeed),
    authPublicKeyHex: toHex(keys.auth.publicKey),
    authKeyIdHex: toHex(keys.auth.keyId),
    wrapPrivateHex: toHex(wrapPrivate),
    encryptionPublicKeyHex: toHex(keys.encryption.publicKey),
    encryptionKeyIdHex: toHex(keys.encryption.keyId),
  };
}

async function phraseVector(name: string, entropy: Uint8Array): Promise<PhraseVector> {
  const phrase = entropyToMnemonic(entropy, wordlist);
  check(phrase === refPhrase(entropy), `${name}: phrase`);
  const seed = refSeed(phrase);
  const keys = await backupKeysFromPhrase(nobleBackend, phrase);
  return { name, entropyHex: toHex(entropy), phrase, seedHex: toHex(seed), keys: await keysJson(keys, seed, name) };
}

let warned = false;

async function passwordVector(name: string, password: string, salt: string, memoryKiB: number, iterations: number, parallelism: number): Promise<PasswordVector> {
  const saltBytes = utf8(salt);
  check(saltBytes.length === 16, `${name}: salt is 16 bytes`);
  const kdf = { algorithm: 'argon2id' as const, salt: Buffer.from(saltBytes).toString('base64url'), memoryKiB, iterations, parallelism };
  const input = utf8(password.normalize('NFKC'));
  const master = argon2id(input, saltBytes, { m: memoryKiB, t: iterations, p: parallelism, dkLen: 32, version: 0x13 });
  const reference = refArgon2id(input, salt, memoryKiB, iterations, parallelism);
  if (reference) check(toHex(reference) === toHex(master), `${name}: Argon2id agrees with the reference implementation`);
  else if (!warned) {
    warned = true;
    console.warn('warning: the argon2 reference CLI is not installed (apt-get install argon2): Argon2id outputs not cross-checked');
  }
  const keys = await backupKeysFromPassword(nobleBackend, password, kdf);
  return { name, password, passwordInputHex: toHex(input), kdf, saltHex: toHex(saltBytes), masterHex: toHex(master), keys: await keysJson(keys, master, name) };
}

function deviceCodeVector(signingKey: Uint8Array, encryptionKey: Uint8Array): DeviceCodeVector {
  const hash = sha256(new Uint8Array([...utf8('veilgraph/v1/device-code'), 0, ...signingKey, ...encryptionKey]));
  const code = deviceLinkCode(nobleBackend, signingKey, encryptionKey);
  check(code === refCode(hash), 'device link code digits');
  for (const b of BACKENDS) check(deviceLinkCode(b, signingKey, encryptionKey) === code, `device link code on ${b.name}`);
  return { signingKeyHex: toHex(signingKey), encryptionKeyHex: toHex(encryptionKey), hashHex: toHex(hash), code };
}

export async function recoveryVectors(generator: string): Promise<RecoveryVectorFile> {
  return {
    description:
      'veilgraph backup-secret vectors (docs/crypto.md §12). phrases: 32 bytes of entropy → 24-word BIP39 phrase → seed = mnemonicToSeed(phrase, "") → authSeed = HKDF-SHA256(seed, "", "veilgraph/v1/backup-auth", 32), wrapPrivate = HKDF-SHA256(seed, "", "veilgraph/v1/backup-wrap", 32) → Ed25519 and X25519 public keys. passwords: master = Argon2id v0x13(UTF-8(NFKC(password)), salt, m, t, p, 32), then the same HKDF. deviceCodes: 5 groups of (hash[5i..5i+5) as u40be) mod 100000.',
    generator,
    phrases: [
      await phraseVector('all-zero entropy', new Uint8Array(32)),
      await phraseVector('all-one entropy', new Uint8Array(32).fill(0xff)),
      await phraseVector('fixed-stream entropy', fixedBytes(`${P}phrase-entropy`, 32)),
    ],
    passwords: [
      await passwordVector('ASCII password, OWASP minimum (the default)', 'correct horse battery staple', 'veilgraph/salt/1', 19456, 2, 1),
      // NFKC: "e" + U+0308 → "ë", the ligature U+FB01 → "fi", U+2460 → "1".
      await passwordVector('non-ASCII password normalized by NFKC, 3 passes, 2 lanes', 'Zoe\u0308 \ufb01 \u2460', 'veilgraph/salt/2', 19456, 3, 2),
    ],
    deviceCodes: [
      deviceCodeVector(fixedBytes(`${P}device/ed25519`, 32), fixedBytes(`${P}device/x25519`, 32)),
      deviceCodeVector(new Uint8Array(32), new Uint8Array(32)),
    ],
  };
}
