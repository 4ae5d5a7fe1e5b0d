/**
 * The key bundle (src/privacy/key-bundle.ts, docs/crypto.md §12): its canonical JSON
 * encoding and strict decoding, sealing for several recipients, and every way a stored
 * bundle can be wrong — another recipient, another user, another revision, a changed byte.
 * Real crypto, no mocks.
 */
import { describe, expect, it } from 'vitest';
import {
  base64urlDecode,
  base64urlEncode,
  generateEncryptionKeyPair,
  isCryptoError,
  keyIdOf,
  nobleBackend,
  padme,
  parseEnvelopeText,
  parseWrappedKey,
  sealEnvelopeText,
  wrapKey,
  wrappedKeyToText,
  type CryptoBackend,
  type CryptoErrorCode,
  type EncryptionKeyPair,
  type SymmetricKey,
} from '../../src/crypto/index.js';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { bundleKeyLocation, keyBundleLocation } from '../../src/privacy/account-locations.js';
import { decodeKeyBundle, encodeKeyBundle, openKeyBundle, sealKeyBundle, wipeKeyBundle, type KeyBundleContent } from '../../src/privacy/index.js';
import { fixedBytes, toHex } from '../helpers/fixed-random.js';

const BACKENDS: readonly CryptoBackend[] = [nobleBackend, nodeBackend];
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array): string => new TextDecoder().decode(b);
const bytes = (name: string, n = 32): Uint8Array => fixedBytes(`key-bundle-test/${name}`, n);

const T1 = '2026-11-22T10:00:00.000Z';
const T2 = '2026-11-22T11:30:00.000Z';

function content(userId: string, revision: number, recipients: { kind: 'DEVICE' | 'PHRASE' | 'PASSWORD'; id: string; name?: string; key: EncryptionKeyPair }[]): KeyBundleContent {
  return {
    userId,
    revision,
    identity: { version: 3, signingSeed: bytes('seed'), encryptionPrivate: bytes('x25519'), createdAt: T2 },
    previousEncryption: [
      { version: 1, privateKey: bytes('x25519-v1') },
      { version: 2, privateKey: bytes('x25519-v2') },
    ],
    vault: [
      { key: { id: bytes('vault-id', 16), version: 1, bytes: bytes('vault-1') }, createdAt: T1 },
      { key: { id: bytes('vault-id', 16), version: 2, bytes: bytes('vault-2') }, createdAt: T2 },
    ],
    recipients: recipients.map((r) => ({ kind: r.kind, id: r.id, ...(r.name !== undefined ? { name: r.name } : {}), encryptionKey: r.key.publicKey })),
    resetAt: null,
  };
}

/** Every secret of a bundle, as the forms an error message could leak it in. */
function secretForms(c: KeyBundleContent): string[] {
  const raw = [c.identity.signingSeed, c.identity.encryptionPrivate, ...c.previousEncryption.map((p) => p.privateKey), ...c.vault.map((v) => v.key.bytes)];
  return raw.flatMap((b) => [toHex(b), base64urlEncode(b), Buffer.from(b).toString('base64')]);
}

async function failure(f: () => unknown, secrets: string[] = []): Promise<{ code: CryptoErrorCode; message: string }> {
  try {
    await f();
  } catch (e) {
    if (!isCryptoError(e)) throw e;
    for (const s of secrets) expect(e.message).not.toContain(s);
    return { code: e.code, message: e.message };
  }
  throw new Error('expected a CryptoError, got none');
}

const devices = await Promise.all([generateEncryptionKeyPair(nodeBackend), generateEncryptionKeyPair(nodeBackend)]);
const phraseKey = await generateEncryptionKeyPair(nodeBackend);
const stranger = await generateEncryptionKeyPair(nodeBackend);
const RECIPIENTS = [
  { kind: 'DEVICE' as const, id: 'device-1', name: 'Laptop', key: devices[0]! },
  { kind: 'DEVICE' as const, id: 'device-2', key: devices[1]! },
  { kind: 'PHRASE' as const, id: 'PHRASE', key: phraseKey },
];
const ALICE = content('user_alice', 3, RECIPIENTS);
const SECRETS = secretForms(ALICE);

describe('encoding', () => {
  it('is canonical JSON: fixed field order, no white space, binary as unpadded base64url', () => {
    const small: KeyBundleContent = {
      userId: 'u',
      revision: 1,
      identity: { version: 1, signingSeed: new Uint8Array(32), encryptionPrivate: new Uint8Array(32).fill(1), createdAt: T1 },
      previousEncryption: [],
      vault: [{ key: { id: new Uint8Array(16).fill(2), version: 1, bytes: new Uint8Array(32).fill(3) }, createdAt: T1 }],
      recipients: [
        { kind: 'DEVICE', id: 'd1', name: 'Zoë’s phone', encryptionKey: new Uint8Array(32).fill(4) },
        { kind: 'PASSWORD', id: 'PASSWORD', encryptionKey: new Uint8Array(32).fill(5) },
      ],
      resetAt: T2,
    };
    const b = (fill: number, n = 32): string => base64urlEncode(new Uint8Array(n).fill(fill));
    expect(text(encodeKeyBundle(small))).toBe(
      `{"format":"veilgraph-key-bundle","v":1,"userId":"u","revision":1,` +
        `"identity":{"version":1,"signingSeed":"${b(0)}","encryptionPrivate":"${b(1)}","createdAt":"${T1}"},` +
        `"previousEncryption":[],` +
        `"vault":[{"id":"${b(2, 16)}","version":1,"key":"${b(3)}","createdAt":"${T1}"}],` +
        `"recipients":[{"kind":"DEVICE","id":"d1","name":"Zoë’s phone","encryptionKey":"${b(4)}"},{"kind":"PASSWORD","id":"PASSWORD","name":null,"encryptionKey":"${b(5)}"}],` +
        `"resetAt":"${T2}"}`,
    );
  });

  it('round-trips through decoding', () => {
    const decoded = decodeKeyBundle(encodeKeyBundle(ALICE));
    expect(decoded).toEqual(ALICE);
    expect('name' in decoded.recipients[1]!).toBe(false);
    const reset = { ...ALICE, resetAt: T1, previousEncryption: [] };
    expect(decodeKeyBundle(encodeKeyBundle(reset))).toEqual(reset);
  });

  it('refuses content that could not be decoded (INVALID_ARGUMENT), without secrets in the message', async () => {
    const bad: [string, KeyBundleContent][] = [
      ['no vault key', { ...ALICE, vault: [] }],
      ['no recipient', { ...ALICE, recipients: [] }],
      ['a 31-byte seed', { ...ALICE, identity: { ...ALICE.identity, signingSeed: new Uint8Array(31) } }],
      ['revision 0', { ...ALICE, revision: 0 }],
      ['a duplicate recipient key', { ...ALICE, recipients: [ALICE.recipients[0]!, { ...ALICE.recipients[1]!, encryptionKey: ALICE.recipients[0]!.encryptionKey }] }],
      ['a bad timestamp', { ...ALICE, resetAt: 'yesterday' }],
    ];
    for (const [what, c] of bad) {
      const f = await failure(() => encodeKeyBundle(c), SECRETS);
      expect([what, f.code]).toEqual([what, 'INVALID_ARGUMENT']);
      expect(f.message).toMatch(/^key bundle: /);
    }
  });
});

describe('strict decoding', () => {
  const json = (): Record<string, unknown> => JSON.parse(text(encodeKeyBundle(ALICE))) as Record<string, unknown>;
  const enc = (v: unknown): Uint8Array => utf8(JSON.stringify(v));
  type J = Record<string, unknown> & { identity: Record<string, unknown>; vault: Record<string, unknown>[]; recipients: Record<string, unknown>[]; previousEncryption: Record<string, unknown>[] };
  const edit = (f: (j: J) => void): Uint8Array => {
    const j = json() as J;
    f(j);
    return enc(j);
  };
  const good = json() as J;

  const cases: [string, Uint8Array, RegExp][] = [
    ['not UTF-8', Uint8Array.of(0x7b, 0xff, 0x7d), /not UTF-8 JSON/],
    ['not JSON', utf8('{"format":'), /not UTF-8 JSON/],
    ['a JSON array', enc([good]), /bundle must be an object/],
    ['JSON null', utf8('null'), /bundle must be an object/],
    ['an unknown top-level field', edit((j) => (j.extra = 1)), /unknown field "extra"/],
    ['a missing field', edit((j) => delete j.resetAt), /lacks the field "resetAt"/],
    ['another format', edit((j) => (j.format = 'something-else')), /format must be/],
    ['version 2', edit((j) => (j.v = 2)), /unsupported version/],
    ['an unknown identity field', edit((j) => (j.identity.signingKey = 'x')), /identity has an unknown field/],
    ['an unknown recipient field', edit((j) => (j.recipients[0]!.role = 'admin')), /recipients\[0\] has an unknown field/],
    ['a recipient without name', edit((j) => delete j.recipients[0]!.name), /recipients\[0\] lacks the field "name"/],
    ['a 31-byte seed', edit((j) => (j.identity.signingSeed = base64urlEncode(new Uint8Array(31)))), /identity.signingSeed must be 32 bytes/],
    ['a padded base64 seed', edit((j) => (j.identity.signingSeed = Buffer.from(bytes('seed')).toString('base64'))), /identity.signingSeed is not strict base64url/],
    ['a seed as a number', edit((j) => (j.identity.signingSeed = 5)), /identity.signingSeed must be a base64url string/],
    ['a 15-byte vault key id', edit((j) => (j.vault[0]!.id = base64urlEncode(new Uint8Array(15)))), /vault\[0\].id must be 16 bytes/],
    ['a 33-byte vault key', edit((j) => (j.vault[1]!.key = base64urlEncode(new Uint8Array(33)))), /vault\[1\].key must be 32 bytes/],
    ['a 16-byte recipient key', edit((j) => (j.recipients[2]!.encryptionKey = base64urlEncode(new Uint8Array(16)))), /recipients\[2\].encryptionKey must be 32 bytes/],
    ['revision 0', edit((j) => (j.revision = 0)), /revision must be an integer/],
    ['revision 1.5', edit((j) => (j.revision = 1.5)), /revision must be an integer/],
    ['revision as a string', edit((j) => (j.revision = '3')), /revision must be an integer/],
    ['identity version 0', edit((j) => (j.identity.version = 0)), /identity.version must be an integer/],
    ['vault key version 0', edit((j) => (j.vault[0]!.version = 0)), /vault\[0\].key.version must be an integer/],
    ['an empty user id', edit((j) => (j.userId = '')), /userId must be a non-empty string/],
    ['no vault key', edit((j) => (j.vault = [])), /vault must be a list of at least 1/],
    ['no recipient', edit((j) => (j.recipients = [])), /recipients must be a list of at least 1/],
    ['previousEncryption not a list', edit((j) => ((j as Record<string, unknown>).previousEncryption = {})), /previousEncryption must be a list/],
    ['a repeated vault key', edit((j) => (j.vault = [j.vault[0]!, j.vault[0]!])), /vault\[1\] repeats key/],
    ['previous keys out of order', edit((j) => j.previousEncryption.reverse()), /strictly ascending/],
    ['a previous key as new as the identity', edit((j) => (j.previousEncryption[1]!.version = 3)), /must be below identity.version/],
    ['a repeated recipient id', edit((j) => (j.recipients[1]!.id = 'device-1')), /recipients\[1\].id is not unique/],
    ['a repeated recipient key', edit((j) => (j.recipients[1]!.encryptionKey = j.recipients[0]!.encryptionKey)), /recipients\[1\].encryptionKey is not unique/],
    ['an unknown recipient kind', edit((j) => (j.recipients[0]!.kind = 'ADMIN')), /recipients\[0\].kind must be one of/],
    ['a backup whose id is not its kind', edit((j) => (j.recipients[2]!.id = 'phrase-1')), /id of a PHRASE backup must be "PHRASE"/],
    ['a name that is a number', edit((j) => (j.recipients[0]!.name = 7)), /name must be a string or null/],
    ['a timestamp without zone', edit((j) => (j.identity.createdAt = '2026-11-22T10:00:00')), /identity.createdAt must be a UTC timestamp/],
    ['an impossible date', edit((j) => (j.vault[0]!.createdAt = '2026-13-40T10:00:00Z')), /vault\[0\].createdAt must be a UTC timestamp/],
    ['resetAt as a number', edit((j) => (j.resetAt = 0)), /resetAt must be a UTC timestamp/],
    ['white space', utf8(JSON.stringify(good, null, 1)), /not in canonical form/],
    ['fields reordered', enc({ v: 1, ...good }), /not in canonical form/],
    ['a duplicated field', utf8(text(encodeKeyBundle(ALICE)).replace('{"format"', '{"userId":"user_mallory","format"')), /not in canonical form/],
    ['a needlessly escaped character', utf8(text(encodeKeyBundle(ALICE)).replace('"Laptop"', '"\\u004captop"')), /not in canonical form/],
  ];

  it.each(cases)('refuses %s (ENVELOPE_MALFORMED)', async (_, input, why) => {
    const f = await failure(() => decodeKeyBundle(input), SECRETS);
    expect(f.code).toBe('ENVELOPE_MALFORMED');
    expect(f.message).toMatch(/^key bundle: /);
    expect(f.message).toMatch(why);
  });

  it('accepts the canonical bytes, and a name of null as no name', () => {
    expect(decodeKeyBundle(enc(good))).toEqual(ALICE);
  });

  it('wipeKeyBundle zeroes every secret', () => {
    const c = decodeKeyBundle(encodeKeyBundle(ALICE));
    wipeKeyBundle(c);
    for (const b of [c.identity.signingSeed, c.identity.encryptionPrivate, ...c.previousEncryption.map((p) => p.privateKey), ...c.vault.map((v) => v.key.bytes)]) {
      expect(b.every((x) => x === 0)).toBe(true);
    }
    expect(ALICE.identity.signingSeed.some((x) => x !== 0)).toBe(true);
  });
});

describe.each(BACKENDS)('sealing and opening ($name backend)', (backend) => {
  it('every recipient opens the bundle; it is one PADMÉ envelope and one wrapped key of 3 stanzas', async () => {
    const stored = { ...(await sealKeyBundle(backend, ALICE)), revision: 3 };
    for (const r of [devices[0]!, devices[1]!, phraseKey]) {
      expect(await openKeyBundle(backend, stored, 'user_alice', r)).toEqual(ALICE);
    }
    const env = parseEnvelopeText(stored.bundle);
    const wrap = parseWrappedKey(base64urlDecode(stored.wrappedKey));
    expect(env.ciphertext.length - 16).toBe(padme(encodeKeyBundle(ALICE).length + 1));
    expect(wrap.recipientKeyIds).toHaveLength(3);
    expect([toHex(wrap.keyId), wrap.keyVersion]).toEqual([toHex(env.keyId), 3]);
    expect(env.keyVersion).toBe(3);
    expect(wrap.signed).toBe(false);
    expect(env.signed).toBe(false);
  });

  it('uses a fresh bundle key every time', async () => {
    const a = await sealKeyBundle(backend, ALICE);
    const b = await sealKeyBundle(backend, ALICE);
    expect(toHex(parseEnvelopeText(a.bundle).keyId)).not.toBe(toHex(parseEnvelopeText(b.bundle).keyId));
    expect(a.wrappedKey).not.toBe(b.wrappedKey);
  });

  it('a non-recipient gets KEY_NOT_FOUND', async () => {
    const stored = { ...(await sealKeyBundle(backend, ALICE)), revision: 3 };
    expect((await failure(() => openKeyBundle(backend, stored, 'user_alice', stranger), SECRETS)).code).toBe('KEY_NOT_FOUND');
  });

  it('a changed byte anywhere in the bundle or the wrapped key fails', async () => {
    const stored = { ...(await sealKeyBundle(backend, ALICE)), revision: 3 };
    const env = base64urlDecode(stored.bundle);
    const wrapped = base64urlDecode(stored.wrappedKey);
    const flip = (b: Uint8Array, i: number): string => {
      const c = b.slice();
      c[i]! ^= 0x01;
      return base64urlEncode(c);
    };
    // Envelope: header (key id, version, location tag, nonce), ciphertext, tag.
    for (const [i, code] of [
      [5, 'KEY_NOT_FOUND'],
      [22, 'KEY_VERSION_MISMATCH'],
      [30, 'WRONG_LOCATION'],
      [50, 'ENVELOPE_TAMPERED'],
      [100, 'ENVELOPE_TAMPERED'],
      [env.length - 1, 'ENVELOPE_TAMPERED'],
    ] as const) {
      expect([i, (await failure(() => openKeyBundle(backend, { ...stored, bundle: flip(env, i) }, 'user_alice', devices[0]!), SECRETS)).code]).toEqual([i, code]);
    }
    // Wrapped key: the other recipients' stanzas and the MAC are authenticated too.
    for (let i = 0; i < wrapped.length; i += 7) {
      const f = await failure(() => openKeyBundle(backend, { ...stored, wrappedKey: flip(wrapped, i) }, 'user_alice', devices[0]!), SECRETS);
      expect(['ENVELOPE_MALFORMED', 'ENVELOPE_TAMPERED', 'WRONG_LOCATION', 'KEY_NOT_FOUND']).toContain(f.code);
    }
  });

  it('a bundle moved to another user fails (WRONG_LOCATION)', async () => {
    const alice = { ...(await sealKeyBundle(backend, ALICE)), revision: 3 };
    const bob = { ...(await sealKeyBundle(backend, content('user_bob', 3, RECIPIENTS))), revision: 3 };
    // The whole stored bundle served as Bob's, or only the envelope swapped in.
    expect((await failure(() => openKeyBundle(backend, alice, 'user_bob', devices[0]!))).code).toBe('WRONG_LOCATION');
    expect((await failure(() => openKeyBundle(backend, { ...bob, bundle: alice.bundle }, 'user_bob', devices[0]!))).code).toBe('WRONG_LOCATION');
    expect((await failure(() => openKeyBundle(backend, { ...alice, wrappedKey: bob.wrappedKey }, 'user_alice', devices[0]!))).code).toBe('WRONG_LOCATION');
  });

  it('a bundle and a wrapped key of different revisions do not open together', async () => {
    const r3 = await sealKeyBundle(backend, ALICE);
    const r4 = await sealKeyBundle(backend, { ...ALICE, revision: 4 });
    // Revision 4's key, revision 3's envelope: not sealed under that key.
    expect((await failure(() => openKeyBundle(backend, { bundle: r3.bundle, wrappedKey: r4.wrappedKey, revision: 4 }, 'user_alice', devices[0]!))).code).toBe('KEY_NOT_FOUND');
    // Revision 3's key served as revision 4.
    const f = await failure(() => openKeyBundle(backend, { bundle: r4.bundle, wrappedKey: r3.wrappedKey, revision: 4 }, 'user_alice', devices[0]!));
    expect(f).toMatchObject({ code: 'ENVELOPE_MALFORMED', message: 'key bundle: the bundle key is of revision 3, stored as revision 4' });
  });

  it('a stored revision other than the sealed one fails', async () => {
    const r3 = await sealKeyBundle(backend, ALICE);
    for (const revision of [2, 4]) {
      expect((await failure(() => openKeyBundle(backend, { ...r3, revision }, 'user_alice', devices[0]!))).code).toBe('ENVELOPE_MALFORMED');
    }
    for (const revision of [0, 1.5, Number.NaN]) {
      expect((await failure(() => openKeyBundle(backend, { ...r3, revision }, 'user_alice', devices[0]!))).code).toBe('ENVELOPE_MALFORMED');
    }
  });

  /** Seals `c` at `userId`'s locations by hand (what a buggy or malicious client could store). */
  async function sealByHand(c: KeyBundleContent, userId: string, keyVersion: number, wrapTo: EncryptionKeyPair[]): Promise<{ bundle: string; wrappedKey: string }> {
    const key: SymmetricKey = { id: backend.randomBytes(16), version: keyVersion, bytes: backend.randomBytes(32) };
    return {
      bundle: sealEnvelopeText(backend, key, keyBundleLocation(userId), encodeKeyBundle(c)),
      wrappedKey: wrappedKeyToText(await wrapKey(backend, key, bundleKeyLocation(userId), wrapTo.map((k) => ({ keyId: keyIdOf(backend, 'x25519', k.publicKey), publicKey: k.publicKey })))),
    };
  }

  it('the content must name the user and revision it is stored for, and list exactly the wrap recipients', async () => {
    const all = [devices[0]!, devices[1]!, phraseKey];
    const mallory = await sealByHand({ ...ALICE, userId: 'user_mallory' }, 'user_alice', 3, all);
    expect((await failure(() => openKeyBundle(backend, { ...mallory, revision: 3 }, 'user_alice', devices[0]!))).code).toBe('WRONG_LOCATION');
    const rev = await sealByHand({ ...ALICE, revision: 2 }, 'user_alice', 3, all);
    expect((await failure(() => openKeyBundle(backend, { ...rev, revision: 3 }, 'user_alice', devices[0]!))).message).toBe('key bundle: names revision 2, stored as revision 3');
    const hidden = await sealByHand(ALICE, 'user_alice', 3, [devices[0]!, devices[1]!, phraseKey, stranger]);
    expect((await failure(() => openKeyBundle(backend, { ...hidden, revision: 3 }, 'user_alice', devices[0]!))).message).toMatch(/recipient list differs/);
    const fewer = await sealByHand(ALICE, 'user_alice', 3, [devices[0]!]);
    expect((await failure(() => openKeyBundle(backend, { ...fewer, revision: 3 }, 'user_alice', devices[0]!))).message).toMatch(/recipient list differs/);
    const ok = await sealByHand(ALICE, 'user_alice', 3, all);
    expect(await openKeyBundle(backend, { ...ok, revision: 3 }, 'user_alice', phraseKey)).toEqual(ALICE);
  });

  it('refuses malformed stored values', async () => {
    const r3 = await sealKeyBundle(backend, ALICE);
    expect((await failure(() => openKeyBundle(backend, { ...r3, bundle: 'not base64!', revision: 3 }, 'user_alice', devices[0]!))).code).toBe('ENVELOPE_MALFORMED');
    expect((await failure(() => openKeyBundle(backend, { ...r3, wrappedKey: 42 as unknown as string, revision: 3 }, 'user_alice', devices[0]!))).code).toBe('ENVELOPE_MALFORMED');
  });
});
