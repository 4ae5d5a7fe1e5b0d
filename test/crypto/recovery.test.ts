/**
 * Backup secrets (src/crypto/recovery.ts, docs/crypto.md §12): recovery phrases, password
 * backups under real Argon2id parameters, the refusal of parameters a server must not be
 * able to impose, device link codes, and the known-answer vectors of
 * test/vectors/recovery-v1.json replayed on every backend.
 */
import { createHash, pbkdf2Sync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { argon2id } from '@noble/hashes/argon2.js';
import { entropyToMnemonic, mnemonicToSeed } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { describe, expect, it } from 'vitest';
import {
  BACKUP_KDF_MAX,
  BACKUP_KDF_MIN,
  PHRASE_KDF,
  assertBackupKdf,
  backupKeysFromPassword,
  backupKeysFromPhrase,
  deviceLinkCode,
  generateRecoveryPhrase,
  isCryptoError,
  newPasswordKdf,
  nobleBackend,
  normalizeRecoveryPhrase,
  parseRecoveryPhrase,
  webCryptoBackend,
  type CryptoBackend,
  type CryptoErrorCode,
} from '../../src/crypto/index.js';
import type { BackupKdf } from '../../src/crypto/account-messages.js';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { FixedRandom, fromHex, toHex, withFixedRandom } from '../helpers/fixed-random.js';
import { RECOVERY_VECTORS_FILE, type BackupKeysJson, type RecoveryVectorFile } from '../vectors/format.js';

const BACKENDS: readonly CryptoBackend[] = [nobleBackend, nodeBackend, webCryptoBackend];
const vectors = JSON.parse(readFileSync(new URL(`../vectors/${RECOVERY_VECTORS_FILE}`, import.meta.url), 'utf8')) as RecoveryVectorFile;

/** Argon2id at the OWASP minimum takes ~0.5 s in pure JS; a few run per test. */
const SLOW = 60_000;

const ZERO_PHRASE = `${'abandon '.repeat(23)}art`;
const SALT = Buffer.from('veilgraph/salt/1').toString('base64url');

async function failure(f: () => unknown): Promise<{ code: CryptoErrorCode; message: string }> {
  try {
    await f();
  } catch (e) {
    if (isCryptoError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected a CryptoError, got none');
}

function passwordKdf(overrides: Partial<BackupKdf> = {}): BackupKdf {
  return { algorithm: 'argon2id', salt: SALT, ...BACKUP_KDF_MIN, ...overrides };
}

function keysHex(k: { auth: { publicKey: Uint8Array; seed: Uint8Array }; encryption: { publicKey: Uint8Array; privateKey: Uint8Array } }): string[] {
  return [toHex(k.auth.seed), toHex(k.auth.publicKey), toHex(k.encryption.privateKey), toHex(k.encryption.publicKey)];
}

describe('recovery phrases', () => {
  it('are 24 English words from 32 bytes of the backend CSPRNG, and parse back', () => {
    for (const backend of BACKENDS) {
      const phrase = generateRecoveryPhrase(backend);
      const words = phrase.split(' ');
      expect(words).toHaveLength(24);
      for (const w of words) expect(wordlist).toContain(w);
      expect(parseRecoveryPhrase(phrase)).toBe(phrase);
    }
    expect(generateRecoveryPhrase(nobleBackend)).not.toBe(generateRecoveryPhrase(nobleBackend));
  });

  it('take exactly one 32-byte read from backend.randomBytes', () => {
    const random = new FixedRandom('recovery-phrase');
    const phrase = generateRecoveryPhrase(withFixedRandom(nobleBackend, random));
    expect(random.calls).toBe(1);
    expect(phrase).toBe(entropyToMnemonic(random.consumed(), wordlist));
    expect(random.consumed()).toHaveLength(32);
  });

  it('normalize case, white space and compatibility characters', () => {
    const messy = `  ${ZERO_PHRASE.toUpperCase().replace(/ /g, ' \t\n\u00a0 ')}\u3000`;
    expect(normalizeRecoveryPhrase(messy)).toBe(ZERO_PHRASE);
    expect(parseRecoveryPhrase(messy)).toBe(ZERO_PHRASE);
    // Full-width letters (as an East Asian keyboard may type them) are NFKD-equal to ASCII.
    const fullWidth = ZERO_PHRASE.replace(/art$/, '\uff41\uff52\uff54');
    expect(parseRecoveryPhrase(fullWidth)).toBe(ZERO_PHRASE);
  });

  it('name the positions of unknown words without repeating them', async () => {
    const words = ZERO_PHRASE.split(' ');
    words[2] = 'zebrafish';
    const one = await failure(() => parseRecoveryPhrase(words.join(' ')));
    expect(one.code).toBe('INVALID_RECOVERY_PHRASE');
    expect(one.message).toMatch(/word 3 is not in the BIP39 English word list/);
    expect(one.message).not.toContain('zebrafish');
    words[23] = 'hunter2';
    const two = await failure(() => parseRecoveryPhrase(words.join(' ')));
    expect(two.message).toMatch(/words 3, 24 are not/);
    expect(two.message).not.toMatch(/zebrafish|hunter2|abandon/);
  });

  it('must have 24 words', async () => {
    const twelve = entropyToMnemonic(new Uint8Array(16), wordlist); // a valid 12-word BIP39 phrase
    for (const [text, n] of [[twelve, 12], [ZERO_PHRASE.split(' ').slice(0, 23).join(' '), 23], [`${ZERO_PHRASE} abandon`, 25], ['', 0], [' \n ', 0]] as const) {
      const f = await failure(() => parseRecoveryPhrase(text));
      expect(f).toEqual({ code: 'INVALID_RECOVERY_PHRASE', message: `recovery phrase: expected 24 words, got ${n}` });
    }
  });

  it('must have a valid checksum', async () => {
    const bad = 'abandon '.repeat(23) + 'abandon';
    const f = await failure(() => parseRecoveryPhrase(bad));
    expect(f.code).toBe('INVALID_RECOVERY_PHRASE');
    expect(f.message).toMatch(/checksum/);
    expect(f.message).not.toContain('abandon');
    // Two words swapped: almost always a checksum failure (here it is).
    const words = generateRecoveryPhrase(withFixedRandom(nobleBackend, new FixedRandom('swap'))).split(' ');
    [words[0], words[1]] = [words[1]!, words[0]!];
    expect((await failure(() => parseRecoveryPhrase(words.join(' ')))).message).toMatch(/checksum/);
  });

  it('refuse a non-string', async () => {
    expect((await failure(() => parseRecoveryPhrase(42 as unknown as string))).code).toBe('INVALID_ARGUMENT');
  });

  it('BIP39 itself: the published 24-word vectors (trezor/python-mnemonic), checked against node PBKDF2', async () => {
    const cases = [
      [
        '00'.repeat(32),
        ZERO_PHRASE,
        'bda85446c68413707090a52022edd26a1c9462295029f2e60cd7c4f2bbd3097170af7a4d73245cafa9c3cca8d561a7c3de6f5d4a10be8ed2a5e608d68f92fcc8',
      ],
      [
        '7f'.repeat(32),
        'legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth title',
        'bc09fca1804f7e69da93c2f2028eb238c227f2e9dda30cd63699232578480a4021b146ad717fbb7e451ce9eb835f43620bf5c514db0f8add49f5d121449d3e87',
      ],
    ] as const;
    for (const [entropy, phrase, seedWithTrezor] of cases) {
      expect(entropyToMnemonic(fromHex(entropy), wordlist)).toBe(phrase);
      expect(toHex(await mnemonicToSeed(phrase, 'TREZOR'))).toBe(seedWithTrezor);
      expect(toHex(pbkdf2Sync(phrase, 'mnemonicTREZOR', 2048, 64, 'sha512'))).toBe(seedWithTrezor);
    }
  });
});

describe('backup keys from a phrase', () => {
  it('are the same on every backend, and the phrase as typed does not matter', async () => {
    const phrase = generateRecoveryPhrase(nobleBackend);
    const reference = keysHex(await backupKeysFromPhrase(nobleBackend, phrase));
    for (const backend of BACKENDS) {
      expect(keysHex(await backupKeysFromPhrase(backend, phrase))).toEqual(reference);
      expect(keysHex(await backupKeysFromPhrase(backend, `  ${phrase.toUpperCase().replace(/ /g, '\n')} `))).toEqual(reference);
    }
  });

  it('differ for another phrase, and the auth and wrap keys are independent', async () => {
    const a = await backupKeysFromPhrase(nodeBackend, generateRecoveryPhrase(nodeBackend));
    const b = await backupKeysFromPhrase(nodeBackend, generateRecoveryPhrase(nodeBackend));
    expect(new Set([...keysHex(a), ...keysHex(b)]).size).toBe(8);
    expect(a.kdf).toEqual(PHRASE_KDF);
  });

  it('refuse an invalid phrase before deriving', async () => {
    expect((await failure(() => backupKeysFromPhrase(nobleBackend, 'abandon '.repeat(24)))).code).toBe('INVALID_RECOVERY_PHRASE');
  });
});

describe('backup keys from a password (Argon2id at the OWASP minimum)', () => {
  it(
    'are deterministic for (password, salt), on every backend',
    async () => {
      const kdf = passwordKdf();
      const reference = keysHex(await backupKeysFromPassword(nobleBackend, 'correct horse battery staple', kdf));
      for (const backend of [nodeBackend, webCryptoBackend]) {
        expect(keysHex(await backupKeysFromPassword(backend, 'correct horse battery staple', kdf))).toEqual(reference);
      }
      const keys = await backupKeysFromPassword(nobleBackend, 'correct horse battery staple', kdf);
      expect(keys.kdf).toEqual(kdf);
    },
    SLOW,
  );

  it(
    'differ with the salt and with the password',
    async () => {
      const base = keysHex(await backupKeysFromPassword(nodeBackend, 'correct horse battery staple', passwordKdf()));
      const otherSalt = keysHex(await backupKeysFromPassword(nodeBackend, 'correct horse battery staple', passwordKdf({ salt: Buffer.from('veilgraph/salt/2').toString('base64url') })));
      const otherPassword = keysHex(await backupKeysFromPassword(nodeBackend, 'correct horse battery stapler', passwordKdf()));
      expect(new Set([...base, ...otherSalt, ...otherPassword]).size).toBe(12);
    },
    SLOW,
  );

  it(
    'normalize the password with NFKC: composed and decomposed "é" are one password',
    async () => {
      const composed = keysHex(await backupKeysFromPassword(nodeBackend, 'caf\u00e9', passwordKdf()));
      const decomposed = keysHex(await backupKeysFromPassword(nodeBackend, 'cafe\u0301', passwordKdf()));
      expect(decomposed).toEqual(composed);
      // And the input really is UTF-8 of the NFKC form: the same Argon2id output by hand.
      const master = argon2id(new TextEncoder().encode('caf\u00e9'), Buffer.from('veilgraph/salt/1'), { m: 19456, t: 2, p: 1, dkLen: 32 });
      expect(toHex(nodeBackend.hkdfSha256(master, new Uint8Array(0), new TextEncoder().encode('veilgraph/v1/backup-auth'), 32))).toBe(composed[0]);
    },
    SLOW,
  );

  it('refuse an empty password, a lone surrogate and bad parameters before any work', async () => {
    expect((await failure(() => backupKeysFromPassword(nobleBackend, '', passwordKdf()))).code).toBe('INVALID_ARGUMENT');
    expect((await failure(() => backupKeysFromPassword(nobleBackend, 'a\ud800', passwordKdf()))).code).toBe('INVALID_ARGUMENT');
    // 100 GiB: refused at once, not attempted.
    const start = Date.now();
    expect((await failure(() => backupKeysFromPassword(nobleBackend, 'pw', passwordKdf({ memoryKiB: 100 * 1024 * 1024 })))).code).toBe('INVALID_ARGUMENT');
    expect(Date.now() - start).toBeLessThan(1000);
  });

  it('the Argon2id implementation reproduces RFC 9106 §5.3 (argon2id, with secret and associated data)', () => {
    const tag = argon2id(new Uint8Array(32).fill(1), new Uint8Array(16).fill(2), {
      t: 3,
      m: 32,
      p: 4,
      dkLen: 32,
      version: 0x13,
      key: new Uint8Array(8).fill(3),
      personalization: new Uint8Array(12).fill(4),
    });
    expect(toHex(tag)).toBe('0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659');
  });
});

describe('backup KDF parameters', () => {
  it('new password parameters: 16 random bytes of salt, OWASP minimum costs', () => {
    const random = new FixedRandom('salt');
    const kdf = newPasswordKdf(withFixedRandom(nobleBackend, random));
    expect(kdf).toEqual({ algorithm: 'argon2id', salt: Buffer.from(random.consumed()).toString('base64url'), memoryKiB: 19456, iterations: 2, parallelism: 1 });
    expect(random.consumed()).toHaveLength(16);
    expect(newPasswordKdf(nobleBackend).salt).not.toBe(newPasswordKdf(nobleBackend).salt);
    expect(newPasswordKdf(nobleBackend, { memoryKiB: 65536, iterations: 3 })).toMatchObject({ memoryKiB: 65536, iterations: 3, parallelism: 1 });
  });

  it('accept the limits themselves', () => {
    assertBackupKdf('PASSWORD', passwordKdf());
    assertBackupKdf('PASSWORD', passwordKdf(BACKUP_KDF_MAX));
    assertBackupKdf('PHRASE', PHRASE_KDF);
    assertBackupKdf('PHRASE', { ...PHRASE_KDF });
  });

  const refused: [string, 'PHRASE' | 'PASSWORD', BackupKdf | null][] = [
    ['memory below the minimum', 'PASSWORD', passwordKdf({ memoryKiB: 19455 })],
    ['memory 64 KiB', 'PASSWORD', passwordKdf({ memoryKiB: 64 })],
    ['one pass', 'PASSWORD', passwordKdf({ iterations: 1 })],
    ['zero lanes', 'PASSWORD', passwordKdf({ parallelism: 0 })],
    ['4 GiB of memory', 'PASSWORD', passwordKdf({ memoryKiB: 4 * 1024 * 1024 })],
    ['100 GiB of memory', 'PASSWORD', passwordKdf({ memoryKiB: 100 * 1024 * 1024 })],
    ['65 passes', 'PASSWORD', passwordKdf({ iterations: 65 })],
    ['a million passes', 'PASSWORD', passwordKdf({ iterations: 1_000_000 })],
    ['17 lanes', 'PASSWORD', passwordKdf({ parallelism: 17 })],
    ['fractional memory', 'PASSWORD', passwordKdf({ memoryKiB: 19456.5 })],
    ['NaN passes', 'PASSWORD', passwordKdf({ iterations: Number.NaN })],
    ['memory as a string', 'PASSWORD', passwordKdf({ memoryKiB: '19456' as unknown as number })],
    ['a 15-byte salt', 'PASSWORD', passwordKdf({ salt: Buffer.alloc(15).toString('base64url') })],
    ['a 17-byte salt', 'PASSWORD', passwordKdf({ salt: Buffer.alloc(17).toString('base64url') })],
    ['an empty salt', 'PASSWORD', passwordKdf({ salt: '' })],
    ['a padded base64 salt', 'PASSWORD', passwordKdf({ salt: `${Buffer.alloc(16).toString('base64')}` })],
    ['bip39 for a password', 'PASSWORD', PHRASE_KDF],
    ['argon2i for a password', 'PASSWORD', passwordKdf({ algorithm: 'argon2i' as 'argon2id' })],
    ['argon2id for a phrase', 'PHRASE', passwordKdf()],
    ['a phrase with a salt', 'PHRASE', { ...PHRASE_KDF, salt: SALT }],
    ['a phrase with costs', 'PHRASE', { ...PHRASE_KDF, iterations: 2 }],
    ['no parameters', 'PASSWORD', null],
  ];
  it.each(refused)('refuse %s', async (_, kind, kdf) => {
    expect((await failure(() => assertBackupKdf(kind, kdf as BackupKdf))).code).toBe('INVALID_ARGUMENT');
  });

  it('refuse an unknown backup kind, and weak overrides of new parameters', async () => {
    expect((await failure(() => assertBackupKdf('PIN' as 'PHRASE', PHRASE_KDF))).code).toBe('INVALID_ARGUMENT');
    expect((await failure(() => newPasswordKdf(nobleBackend, { iterations: 1 }))).code).toBe('INVALID_ARGUMENT');
  });
});

describe('device link codes', () => {
  const sk = fromHex('11'.repeat(32));
  const ek = fromHex('22'.repeat(32));

  it('are 5 groups of 5 digits of a labelled SHA-256 of both keys', () => {
    const h = createHash('sha256').update('veilgraph/v1/device-code\0').update(sk).update(ek).digest();
    const expected = [0, 1, 2, 3, 4].map((i) => String(h.readUIntBE(5 * i, 5) % 100000).padStart(5, '0')).join(' ');
    for (const backend of BACKENDS) expect(deviceLinkCode(backend, sk, ek)).toBe(expected);
    expect(expected).toMatch(/^\d{5}( \d{5}){4}$/);
  });

  it('change with either key, and with the order of the keys', () => {
    const codes = new Set([deviceLinkCode(nodeBackend, sk, ek), deviceLinkCode(nodeBackend, ek, sk), deviceLinkCode(nodeBackend, sk, sk), deviceLinkCode(nodeBackend, ek, ek)]);
    expect(codes.size).toBe(4);
  });

  it('refuse keys of the wrong size', async () => {
    expect((await failure(() => deviceLinkCode(nodeBackend, sk.subarray(1), ek))).code).toBe('INVALID_ARGUMENT');
    expect((await failure(() => deviceLinkCode(nodeBackend, sk, new Uint8Array(33)))).code).toBe('INVALID_ARGUMENT');
  });
});

describe('known-answer vectors (test/vectors/recovery-v1.json)', () => {
  function expectKeys(k: Awaited<ReturnType<typeof backupKeysFromPhrase>>, v: BackupKeysJson): void {
    expect([toHex(k.auth.seed), toHex(k.auth.publicKey), toHex(k.auth.keyId)]).toEqual([v.authSeedHex, v.authPublicKeyHex, v.authKeyIdHex]);
    expect([toHex(k.encryption.privateKey), toHex(k.encryption.publicKey), toHex(k.encryption.keyId)]).toEqual([v.wrapPrivateHex, v.encryptionPublicKeyHex, v.encryptionKeyIdHex]);
  }

  it('cover phrases, passwords and link codes', () => {
    expect(vectors.phrases.length).toBeGreaterThanOrEqual(3);
    expect(vectors.passwords.length).toBeGreaterThanOrEqual(2);
    expect(vectors.deviceCodes.length).toBeGreaterThanOrEqual(2);
  });

  describe.each(BACKENDS)('$name backend', (backend) => {
    it.each(vectors.phrases)('phrase: $name', async (v) => {
      expect(entropyToMnemonic(fromHex(v.entropyHex), wordlist)).toBe(v.phrase);
      expect(toHex(await mnemonicToSeed(v.phrase, ''))).toBe(v.seedHex);
      expectKeys(await backupKeysFromPhrase(backend, v.phrase), v.keys);
    });

    it.each(vectors.passwords)(
      'password: $name',
      async (v) => {
        expect(toHex(new TextEncoder().encode(v.password.normalize('NFKC')))).toBe(v.passwordInputHex);
        expect(toHex(Buffer.from(v.kdf.salt, 'base64url'))).toBe(v.saltHex);
        const k = await backupKeysFromPassword(backend, v.password, v.kdf);
        expectKeys(k, v.keys);
        expect(toHex(backend.hkdfSha256(fromHex(v.masterHex), new Uint8Array(0), new TextEncoder().encode('veilgraph/v1/backup-auth'), 32))).toBe(v.keys.authSeedHex);
      },
      SLOW,
    );

    it.each(vectors.deviceCodes)('device link code $code', (v) => {
      expect(toHex(backend.sha256(new Uint8Array([...new TextEncoder().encode('veilgraph/v1/device-code'), 0, ...fromHex(v.signingKeyHex), ...fromHex(v.encryptionKeyHex)])))).toBe(v.hashHex);
      expect(deviceLinkCode(backend, fromHex(v.signingKeyHex), fromHex(v.encryptionKeyHex))).toBe(v.code);
    });
  });

  it(
    'the Argon2id outputs (masters) are those of the implementation in use',
    () => {
      for (const v of vectors.passwords) {
        const master = argon2id(fromHex(v.passwordInputHex), fromHex(v.saltHex), { m: v.kdf.memoryKiB, t: v.kdf.iterations, p: v.kdf.parallelism, dkLen: 32, version: 0x13 });
        expect(toHex(master)).toBe(v.masterHex);
      }
    },
    SLOW,
  );
});

describe('docs/crypto.md §12', () => {
  const doc = readFileSync(new URL('../../docs/crypto.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('## 12. Devices, key bundle and backups'));

  it("prints the vectors' values", () => {
    const zero = vectors.phrases.find((v) => v.name === 'all-zero entropy')!;
    const pw = vectors.passwords[0]!;
    const code = vectors.deviceCodes.find((v) => /^0+$/.test(v.signingKeyHex))!;
    for (const value of [zero.keys.authPublicKeyHex, zero.keys.encryptionPublicKeyHex, pw.kdf.salt, pw.masterHex, pw.keys.authPublicKeyHex, pw.keys.encryptionPublicKeyHex, code.hashHex, code.code]) {
      expect(section).toContain(value);
    }
    expect(pw.password).toBe('correct horse battery staple');
  });

  it('states the parameter limits the code enforces', () => {
    expect(section).toContain(`${BACKUP_KDF_MIN.memoryKiB.toLocaleString('en')} ≤ m ≤ ${BACKUP_KDF_MAX.memoryKiB.toLocaleString('en')}`);
    expect(section).toContain(`${BACKUP_KDF_MIN.iterations} ≤ t ≤ ${BACKUP_KDF_MAX.iterations}`);
    expect(section).toContain(`${BACKUP_KDF_MIN.parallelism} ≤ p ≤ ${BACKUP_KDF_MAX.parallelism}`);
  });
});
