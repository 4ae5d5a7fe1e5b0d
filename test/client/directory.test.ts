// The client's key directory against a real gateway: first use pins, a real rotation is a
// verified change, safety numbers agree on both sides, and every way a compromised server
// can lie about keys is refused. The lies are written straight into the gateway's SQLite
// file with better-sqlite3, as an operator with the database would: a version not signed
// by the previous key, a replaced history, an unsigned legacy version, a rolled-back
// history, another account under a known name.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registrationMessage } from '../../src/crypto/auth-messages.js';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { base64urlEncode } from '../../src/crypto/base64url.js';
import { parseEnvelope, sealSignedEnvelope } from '../../src/crypto/envelope.js';
import { fingerprintText, keyVersionMessage, safetyNumberOf, signKeyVersion } from '../../src/crypto/key-directory.js';
import { generateEncryptionKeyPair, generateSigningKeyPair, generateSymmetricKey, keyIdOf, keyIdText } from '../../src/crypto/keys.js';
import {
  DirectoryError,
  KeyDirectory,
  graphqlDirectoryTransport,
  isDirectoryError,
  pinKeyName,
  pinUsernameKeyName,
  verifyKeyHistory,
  type DirectoryErrorCode,
  type DirectoryTransport,
  type KeyChangeInfo,
  type KeyVersionRecord,
} from '../../src/client/directory.js';
import { KEY_NAMES, MemoryKeyStore, type KeyStore } from '../../src/client/keystore.js';
import { encryptionKeyNameForVersion, rotateIdentityKeys } from '../../src/client/rotate-identity.js';
import { createIdentity, loadIdentity, login, register } from '../../src/client/session.js';
import { startTestGateway, type TestGateway, ROOMY_AUTH_LIMITS } from '../helpers/gateway.js';

const backend = nodeBackend;
const REALM = 'veilgraph';
/** The tests register many users from one address. */

interface Person {
  readonly username: string;
  readonly userId: string;
  readonly keystore: KeyStore;
  token: string;
}

let t: TestGateway;
let db: Database.Database;

async function person(username: string): Promise<Person> {
  const { keystore } = await createIdentity(backend);
  const { userId } = await register(t.gateway.url, username, keystore, backend, REALM);
  const { token } = await login(t.gateway.url, username, keystore, backend, REALM);
  return { username, userId, keystore, token };
}

/** A client's directory: its own key store (pins), the real gateway behind a call counter. */
function directoryOf(p: Person, options: { keystore?: KeyStore; onKeyChange?: (i: KeyChangeInfo) => void; transport?: DirectoryTransport } = {}) {
  const real = options.transport ?? graphqlDirectoryTransport(t.gateway.url, () => p.token);
  let fetches = 0;
  const transport: DirectoryTransport = {
    keyHistory: (u) => (fetches++, real.keyHistory(u)),
    keyOwners: (ids) => real.keyOwners(ids),
  };
  const directory = new KeyDirectory({ backend, realm: REALM, keystore: options.keystore ?? p.keystore, transport, ...(options.onKeyChange ? { onKeyChange: options.onKeyChange } : {}) });
  return { directory, fetches: () => fetches };
}

async function signingKeyOf(p: Person): Promise<Uint8Array> {
  return (await loadIdentity(p.keystore, backend)).signing.publicKey;
}

async function refusal(promise: Promise<unknown>, code: DirectoryErrorCode): Promise<DirectoryError> {
  const e = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DirectoryError);
  expect((e as DirectoryError).code).toBe(code);
  return e as DirectoryError;
}

// --- What a compromised server writes -------------------------------------------------------

function createdAtOf(userId: string): unknown {
  return db.prepare<[string], { createdAt: unknown }>('SELECT "createdAt" FROM "UserKey" WHERE "userId" = ? ORDER BY "version" LIMIT 1').get(userId)!.createdAt;
}

function insertVersion(userId: string, version: number, signingKey: Uint8Array, encryptionKey: Uint8Array, signature: Uint8Array): void {
  db.prepare('INSERT INTO "UserKey" ("userId", "version", "signingKey", "signingKeyId", "encryptionKey", "signature", "createdAt") VALUES (?, ?, ?, ?, ?, ?, ?)').run(
    userId,
    version,
    Buffer.from(signingKey),
    keyIdText(keyIdOf(backend, 'ed25519', signingKey)),
    Buffer.from(encryptionKey),
    Buffer.from(signature),
    createdAtOf(userId),
  );
  db.prepare('UPDATE "User" SET "signingKey" = ?, "encryptionKey" = ? WHERE "id" = ?').run(Buffer.from(signingKey), Buffer.from(encryptionKey), userId);
}

/** A complete, validly self-signed version 1 for `username` under keys the server made up. */
async function fakeRegistration(username: string) {
  const signing = await generateSigningKeyPair(backend);
  const encryption = await generateEncryptionKeyPair(backend);
  const signature = await backend.ed25519Sign(signing.seed, registrationMessage({ realm: REALM, username, signingKey: signing.publicKey, encryptionKey: encryption.publicKey }));
  return { signing, encryption, signature };
}

beforeAll(async () => {
  t = await startTestGateway({ authLimits: ROOMY_AUTH_LIMITS });
  db = new Database(join(t.dataDir, 'veilgraph.db'));
  db.pragma('busy_timeout = 10000');
});

afterAll(async () => {
  db?.close();
  await t?.close();
});

describe('trust on first use', () => {
  it('verifies and pins a user’s keys the first time, then serves them from memory', async () => {
    const alice = await person('alice');
    const bob = await person('bob');
    const { directory, fetches } = directoryOf(alice);
    const keys = await directory.verifiedKeys('bob');
    const bobs = await loadIdentity(bob.keystore, backend);
    expect(keys).toMatchObject({ userId: bob.userId, username: 'bob', version: 1, changed: false });
    expect(keys.signingKey).toEqual(bobs.signing.publicKey);
    expect(keys.encryptionKey).toEqual(bobs.encryption.publicKey);
    expect(keys.signingKeyId).toEqual(bobs.signing.keyId);
    expect(keys.previousVersion).toBeUndefined();

    // The pin is in Alice's key store, under Bob's user id, and his name is bound to it.
    expect(await alice.keystore.get(pinKeyName(bob.userId))).toBeInstanceOf(Uint8Array);
    expect(new TextDecoder().decode(await alice.keystore.get(pinUsernameKeyName('bob')))).toBe(bob.userId);

    expect(await directory.verifiedKeys('bob')).toEqual(keys);
    expect(fetches()).toBe(1);
    await directory.verifiedKeys('bob', { refresh: true });
    expect(fetches()).toBe(2);
    // Concurrent callers share one fetch.
    const { directory: fresh, fetches: freshFetches } = directoryOf(alice);
    await Promise.all([fresh.verifiedKeys('bob'), fresh.verifiedKeys('bob'), fresh.verifiedKeys('bob')]);
    expect(freshFetches()).toBe(1);
  });

  it('an unknown user is USER_NOT_FOUND', async () => {
    const alice = await person('alice2');
    await refusal(directoryOf(alice).directory.verifiedKeys('nobody'), 'USER_NOT_FOUND');
  });
});

describe('a real rotation through the gateway', () => {
  it('is a verified change: reported once, pinned, and the rotated user keeps working', async () => {
    const carol = await person('carol');
    const dan = await person('dan');
    const changes: KeyChangeInfo[] = [];
    const { directory } = directoryOf(carol, { onKeyChange: (i) => void changes.push(i) });
    const before = await directory.verifiedKeys('dan');
    const oldIdentity = await loadIdentity(dan.keystore, backend);

    const rotated = await rotateIdentityKeys(t.gateway.url, dan.keystore, backend, REALM, dan.token);
    expect(rotated).toMatchObject({ username: 'dan', version: 2 });
    const newIdentity = await loadIdentity(dan.keystore, backend);
    expect(newIdentity.signing.publicKey).toEqual(rotated.signingKey);
    expect(newIdentity.encryption.publicKey).toEqual(rotated.encryptionKey);
    // The replaced X25519 private key is kept for keys wrapped to it; nothing is pending.
    expect(await dan.keystore.get(encryptionKeyNameForVersion(1))).toEqual(oldIdentity.encryption.privateKey);
    expect(await dan.keystore.get(KEY_NAMES.rotationPending)).toBeUndefined();
    // Dan logs in with his new key.
    dan.token = (await login(t.gateway.url, 'dan', dan.keystore, backend, REALM)).token;

    // Carol's cached answer is still version 1 until she refreshes.
    expect((await directory.verifiedKeys('dan')).version).toBe(1);
    const after = await directory.verifiedKeys('dan', { refresh: true });
    expect(after).toMatchObject({ userId: dan.userId, version: 2, changed: true, previousVersion: 1 });
    expect(after.signingKey).toEqual(rotated.signingKey);
    expect(after.encryptionKey).toEqual(rotated.encryptionKey);
    expect(changes).toEqual([{ userId: dan.userId, username: 'dan', previousVersion: 1, version: 2, previousSigningKey: before.signingKey, signingKey: rotated.signingKey }]);

    // Reported once: later answers, and a new directory over the same pins, see no change.
    expect((await directory.verifiedKeys('dan')).changed).toBe(false);
    expect((await directory.verifiedKeys('dan', { refresh: true })).changed).toBe(false);
    expect((await directoryOf(carol).directory.verifiedKeys('dan')).changed).toBe(false);
    expect(changes).toHaveLength(1);
  });

  it('safety numbers are equal on both sides and change after a rotation', async () => {
    const erin = await person('erin');
    const fay = await person('fay');
    const erinDir = directoryOf(erin).directory;
    const fayDir = directoryOf(fay).directory;
    const erinSees = await erinDir.safetyNumber('erin', await signingKeyOf(erin), 'fay');
    const faySees = await fayDir.safetyNumber('fay', await signingKeyOf(fay), 'erin');
    expect(erinSees).toMatch(/^\d{5}( \d{5}){11}$/);
    expect(faySees).toBe(erinSees);
    // Each side's half is the other's own fingerprint text.
    expect(erinSees).toContain(fingerprintText(backend, 'fay', await signingKeyOf(fay)));

    await rotateIdentityKeys(t.gateway.url, fay.keystore, backend, REALM, fay.token);
    await erinDir.verifiedKeys('fay', { refresh: true });
    const erinSeesAfter = await erinDir.safetyNumber('erin', await signingKeyOf(erin), 'fay');
    const faySeesAfter = await fayDir.safetyNumber('fay', await signingKeyOf(fay), 'erin');
    expect(faySeesAfter).toBe(erinSeesAfter);
    expect(erinSeesAfter).not.toBe(erinSees);
  });

  it('resolveSigner finds who signed an envelope, for old and current keys, checked against the verified history', async () => {
    const gus = await person('gus');
    const hal = await person('hal');
    const halV1 = (await loadIdentity(hal.keystore, backend)).signing;
    const envelope = parseEnvelope(await sealSignedEnvelope(backend, generateSymmetricKey(backend), { coordinate: 'Profile.bio', ownerId: hal.userId, objectId: 'p1' }, 'hi', halV1));
    await rotateIdentityKeys(t.gateway.url, hal.keystore, backend, REALM, hal.token);
    const halV2 = (await loadIdentity(hal.keystore, backend)).signing;

    const { directory } = directoryOf(gus);
    expect(await directory.resolveSigner(envelope.signerKeyId!)).toEqual({ userId: hal.userId, username: 'hal', version: 1, signingKey: halV1.publicKey });
    expect(await directory.resolveSigner(halV2.keyId)).toEqual({ userId: hal.userId, username: 'hal', version: 2, signingKey: halV2.publicKey });
    expect(await directory.resolveSigner((await generateSigningKeyPair(backend)).keyId)).toBeNull();

    // A server claiming the key is someone else's gets nowhere: that user's verified
    // history does not hold it.
    const real = graphqlDirectoryTransport(t.gateway.url, () => gus.token);
    const lying: DirectoryTransport = {
      keyHistory: (u) => real.keyHistory(u),
      keyOwners: async (ids) => ids.map((signingKeyId) => ({ signingKeyId, userId: gus.userId, username: 'gus', version: 1 })),
    };
    expect(await directoryOf(gus, { keystore: new MemoryKeyStore(), transport: lying }).directory.resolveSigner(halV1.keyId)).toBeNull();
  });
});

describe('resolveSigners', () => {
  it('asks keyOwners once for every unknown key id, fetches each named user once, and answers known keys from memory', async () => {
    const [jo, kit, lin] = [await person('jon'), await person('kit'), await person('lin')];
    const owners: string[][] = [];
    const histories: string[] = [];
    const real = graphqlDirectoryTransport(t.gateway.url, () => jo.token);
    const { directory } = directoryOf(jo, {
      keystore: new MemoryKeyStore(),
      transport: { keyHistory: (u) => (histories.push(u), real.keyHistory(u)), keyOwners: (ids) => (owners.push([...ids]), real.keyOwners(ids)) },
    });
    const kitKey = (await loadIdentity(kit.keystore, backend)).signing;
    const linKey = (await loadIdentity(lin.keystore, backend)).signing;
    const nobody = await generateSigningKeyPair(backend);
    const ids = [kitKey.keyId, linKey.keyId, kitKey.keyId, nobody.keyId];
    const found = await directory.resolveSigners(ids);
    expect([...found.entries()].map(([id, s]) => [id, s && `${s.username} v${s.version}`])).toEqual([
      [base64urlEncode(kitKey.keyId), 'kit v1'],
      [base64urlEncode(linKey.keyId), 'lin v1'],
      [base64urlEncode(nobody.keyId), null],
    ]);
    expect(owners).toEqual([[kitKey.keyId, linKey.keyId, nobody.keyId].map((k) => base64urlEncode(k))]);
    expect(histories.sort()).toEqual(['kit', 'lin']);
    // Known now: answered without the server; only the unknown one is asked about again.
    owners.length = 0;
    histories.length = 0;
    expect((await directory.resolveSigners([kitKey.keyId, linKey.keyId])).get(base64urlEncode(linKey.keyId))?.userId).toBe(lin.userId);
    expect(owners).toEqual([]);
    await directory.resolveSigners([nobody.keyId]);
    expect(owners).toEqual([[base64urlEncode(nobody.keyId)]]);
  });

  it('a user whose history is refused vouches for nothing; a key trusted first hand resolves without the server', async () => {
    const mo = await person('moe');
    const moKey = (await loadIdentity(mo.keystore, backend)).signing;
    // The history now says version 1 came from an account reset (refused: KEY_RESET).
    db.prepare('UPDATE "UserKey" SET "reset" = 1 WHERE "userId" = ?').run(mo.userId);
    const { directory } = directoryOf(mo, { keystore: new MemoryKeyStore() });
    expect((await directory.resolveSigners([moKey.keyId])).get(base64urlEncode(moKey.keyId))).toBeNull();
    await refusal(directory.verifiedKeys('moe'), 'KEY_RESET');
    // Moe's own client knows its key from its key store (Account.keyDirectory() does this).
    directory.trust({ userId: mo.userId, username: 'moe', version: 1, signingKey: moKey.publicKey });
    expect(await directory.resolveSigner(moKey.keyId)).toEqual({ userId: mo.userId, username: 'moe', version: 1, signingKey: moKey.publicKey });
  });

  it('after a reset version, the keys before it stay attributable and the reset key does not', async () => {
    const nia = await person('nia');
    const v1 = (await loadIdentity(nia.keystore, backend)).signing;
    await rotateIdentityKeys(t.gateway.url, nia.keystore, backend, REALM, nia.token);
    const v2 = (await loadIdentity(nia.keystore, backend)).signing;
    db.prepare('UPDATE "UserKey" SET "reset" = 1 WHERE "userId" = ? AND "version" = 2').run(nia.userId);
    const { directory } = directoryOf(nia, { keystore: new MemoryKeyStore() });
    const found = await directory.resolveSigners([v1.keyId, v2.keyId]);
    expect(found.get(base64urlEncode(v1.keyId))).toEqual({ userId: nia.userId, username: 'nia', version: 1, signingKey: v1.publicKey });
    expect(found.get(base64urlEncode(v2.keyId))).toBeNull();
    await refusal(directory.verifiedKeys('nia'), 'KEY_RESET');
  });
});

describe('rotateIdentityKeys on the client', () => {
  async function copyOf(store: KeyStore): Promise<MemoryKeyStore> {
    const copy = new MemoryKeyStore();
    for (const name of await store.list()) await copy.put(name, (await store.get(name))!);
    return copy;
  }

  it('an answer lost after the server stored the version: the next call finishes locally with the same keys', async () => {
    const amy = await person('amy');
    const before = await loadIdentity(amy.keystore, backend);
    // The request reaches the gateway, the answer does not reach the client.
    const losing: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (typeof init?.body === 'string' && init.body.includes('rotateIdentityKeys')) throw new TypeError('connection reset');
      return res;
    };
    await expect(rotateIdentityKeys(t.gateway.url, amy.keystore, backend, REALM, amy.token, { fetch: losing })).rejects.toMatchObject({ code: 'NETWORK_ERROR' });
    // The store still holds the old identity, and the new keys as pending.
    expect((await loadIdentity(amy.keystore, backend)).signing.publicKey).toEqual(before.signing.publicKey);
    const pending = await amy.keystore.get(KEY_NAMES.rotationPending);
    expect(pending).toBeInstanceOf(Uint8Array);

    const done = await rotateIdentityKeys(t.gateway.url, amy.keystore, backend, REALM, amy.token);
    expect(done.version).toBe(2);
    const after = await loadIdentity(amy.keystore, backend);
    expect(after.signing.publicKey).toEqual(done.signingKey);
    expect(after.signing.seed).toEqual(pending!.slice(4, 36));
    expect(await amy.keystore.get(encryptionKeyNameForVersion(1))).toEqual(before.encryption.privateKey);
    expect(await amy.keystore.get(KEY_NAMES.rotationPending)).toBeUndefined();
    expect((await login(t.gateway.url, 'amy', amy.keystore, backend, REALM)).userId).toBe(amy.userId);
  });

  it('a request that never left: the next call sends the same pending keys', async () => {
    const ben = await person('ben');
    const failing: typeof fetch = async (input, init) => {
      if (typeof init?.body === 'string' && init.body.includes('rotateIdentityKeys')) throw new TypeError('offline');
      return fetch(input, init);
    };
    await expect(rotateIdentityKeys(t.gateway.url, ben.keystore, backend, REALM, ben.token, { fetch: failing })).rejects.toMatchObject({ code: 'NETWORK_ERROR' });
    const pending = (await ben.keystore.get(KEY_NAMES.rotationPending))!;
    const done = await rotateIdentityKeys(t.gateway.url, ben.keystore, backend, REALM, ben.token);
    expect(done.signingKey).toEqual(await backend.ed25519PublicKey(pending.slice(4, 36)));
  });

  it('a device whose key is no longer the current one is refused before signing anything', async () => {
    const cat = await person('cat');
    const otherDevice = await copyOf(cat.keystore);
    await rotateIdentityKeys(t.gateway.url, cat.keystore, backend, REALM, cat.token);
    // The other device still holds version 1's keys (and the token is still valid).
    const e = await refusal(rotateIdentityKeys(t.gateway.url, otherDevice, backend, REALM, cat.token), 'KEY_PIN_MISMATCH');
    expect(e.message).toMatch(/not the one in this key store/);
    expect(await otherDevice.get(KEY_NAMES.rotationPending)).toBeUndefined();
  });
});

describe('a compromised server is refused', () => {
  it('a version not signed by the previous key: KEY_SIGNATURE_INVALID, for a pinned and for a new client', async () => {
    const ivy = await person('ivy');
    const jay = await person('jay');
    const { directory } = directoryOf(ivy);
    await directory.verifiedKeys('jay');

    // Version 2 under keys the server made up, signed by them (not by Jay's version 1).
    const fake = await generateSigningKeyPair(backend);
    const fakeEnc = await generateEncryptionKeyPair(backend);
    const m = { realm: REALM, username: 'jay', version: 2, previousSigningKey: (await loadIdentity(jay.keystore, backend)).signing.publicKey, signingKey: fake.publicKey, encryptionKey: fakeEnc.publicKey };
    insertVersion(jay.userId, 2, fake.publicKey, fakeEnc.publicKey, await signKeyVersion(backend, m, fake.seed, fake.seed));

    const e = await refusal(directory.verifiedKeys('jay', { refresh: true }), 'KEY_SIGNATURE_INVALID');
    expect(e.version).toBe(2);
    expect(e.message).toMatch(/version 2 of jay is not signed/);
    await refusal(directoryOf(ivy, { keystore: new MemoryKeyStore() }).directory.verifiedKeys('jay'), 'KEY_SIGNATURE_INVALID');
    // The refused keys were not pinned: Ivy's pin is still version 1.
    db.prepare('DELETE FROM "UserKey" WHERE "userId" = ? AND "version" = 2').run(jay.userId);
    expect((await directory.verifiedKeys('jay', { refresh: true })).version).toBe(1);
  });

  it('a version signed by the previous key for a key its holder never accepted: KEY_SIGNATURE_INVALID', async () => {
    // What a server could forge if it held Kim's old key but not the new one's consent:
    // Kim's signature alone, twice.
    const kim = await person('kim');
    const lee = await person('lee');
    const kims = await loadIdentity(kim.keystore, backend);
    const victimKey = await generateSigningKeyPair(backend);
    const enc = await generateEncryptionKeyPair(backend);
    const message = keyVersionMessage({ realm: REALM, username: 'kim', version: 2, previousSigningKey: kims.signing.publicKey, signingKey: victimKey.publicKey, encryptionKey: enc.publicKey });
    const byKim = await backend.ed25519Sign(kims.signing.seed, message);
    insertVersion(kim.userId, 2, victimKey.publicKey, enc.publicKey, new Uint8Array([...byKim, ...byKim]));
    await refusal(directoryOf(lee).directory.verifiedKeys('kim'), 'KEY_SIGNATURE_INVALID');
  });

  it('a swapped history (version 1 replaced by a validly self-signed fake): KEY_PIN_MISMATCH once pinned', async () => {
    const max = await person('max');
    const ned = await person('ned');
    const { directory } = directoryOf(max);
    const pinned = await directory.verifiedKeys('ned');

    const fake = await fakeRegistration('ned');
    db.prepare('UPDATE "UserKey" SET "signingKey" = ?, "signingKeyId" = ?, "encryptionKey" = ?, "signature" = ? WHERE "userId" = ? AND "version" = 1').run(
      Buffer.from(fake.signing.publicKey),
      keyIdText(fake.signing.keyId),
      Buffer.from(fake.encryption.publicKey),
      Buffer.from(fake.signature),
      ned.userId,
    );
    const e = await refusal(directory.verifiedKeys('ned', { refresh: true }), 'KEY_PIN_MISMATCH');
    expect(e.message).toMatch(/no longer holds the pinned keys of version 1/);
    // A new object over the same pins refuses it too.
    await refusal(directoryOf(max).directory.verifiedKeys('ned'), 'KEY_PIN_MISMATCH');

    // A client that never saw Ned trusts the fake on first use; comparing safety numbers
    // with Ned is what exposes it.
    const oli = await person('oli');
    const oliSees = await directoryOf(oli).directory.safetyNumber('oli', await signingKeyOf(oli), 'ned');
    const nedComputes = safetyNumberOf(backend, { username: 'ned', signingKey: await signingKeyOf(ned) }, { username: 'oli', signingKey: await signingKeyOf(oli) });
    expect(oliSees).not.toBe(nedComputes);
    expect(pinned.signingKey).toEqual(await signingKeyOf(ned));
  });

  it('a legacy version 1 with no signature (accounts from before the directory): KEY_SIGNATURE_INVALID', async () => {
    const pat = await person('pat');
    const quinn = await person('quinn');
    // Exactly what migration 0003 backfills for existing users.
    db.prepare('UPDATE "UserKey" SET "signature" = X\'\', "signingKeyId" = \'\' WHERE "userId" = ? AND "version" = 1').run(quinn.userId);
    const e = await refusal(directoryOf(pat).directory.verifiedKeys('quinn'), 'KEY_SIGNATURE_INVALID');
    expect(e.message).toMatch(/unsigned/);
    expect(e.version).toBe(1);
    // Nothing was pinned for the refused history.
    expect(await pat.keystore.get(pinKeyName(quinn.userId))).toBeUndefined();
    // The user can still rotate (the server checks the current key), but the history stays
    // unverifiable for clients: version 1 has no signature.
    await rotateIdentityKeys(t.gateway.url, quinn.keystore, backend, REALM, quinn.token);
    await refusal(directoryOf(pat).directory.verifiedKeys('quinn'), 'KEY_SIGNATURE_INVALID');
  });

  it('a rolled-back history (the newest version dropped): KEY_PIN_MISMATCH', async () => {
    const ray = await person('ray');
    const sam = await person('sam');
    await rotateIdentityKeys(t.gateway.url, sam.keystore, backend, REALM, sam.token);
    const { directory } = directoryOf(ray);
    expect((await directory.verifiedKeys('sam')).version).toBe(2);
    db.prepare('DELETE FROM "UserKey" WHERE "userId" = ? AND "version" = 2').run(sam.userId);
    const e = await refusal(directory.verifiedKeys('sam', { refresh: true }), 'KEY_PIN_MISMATCH');
    expect(e.version).toBe(2);
  });

  it('another account under a pinned username: KEY_PIN_MISMATCH', async () => {
    const tia = await person('tia');
    const uma = await person('uma');
    const { directory } = directoryOf(tia);
    await directory.verifiedKeys('uma');
    // The server renames the real Uma and registers a fake "uma" with valid signatures.
    const fake = await fakeRegistration('uma');
    const fakeId = base64urlEncode(backend.randomBytes(16));
    const createdAt = createdAtOf(uma.userId);
    db.prepare('UPDATE "User" SET "username" = ? WHERE "id" = ?').run('uma-real', uma.userId);
    db.prepare('INSERT INTO "User" ("id", "username", "signingKey", "encryptionKey", "createdAt") VALUES (?, ?, ?, ?, ?)').run(
      fakeId,
      'uma',
      Buffer.from(fake.signing.publicKey),
      Buffer.from(fake.encryption.publicKey),
      createdAt,
    );
    db.prepare('INSERT INTO "UserKey" ("userId", "version", "signingKey", "signingKeyId", "encryptionKey", "signature", "createdAt") VALUES (?, 1, ?, ?, ?, ?, ?)').run(
      fakeId,
      Buffer.from(fake.signing.publicKey),
      keyIdText(fake.signing.keyId),
      Buffer.from(fake.encryption.publicKey),
      Buffer.from(fake.signature),
      createdAt,
    );
    const e = await refusal(directory.verifiedKeys('uma', { refresh: true }), 'KEY_PIN_MISMATCH');
    expect(e.message).toMatch(/another account/);
  });

  it('refusals name users and versions, never key bytes', async () => {
    const vic = await person('vic');
    const wes = await person('wes');
    const wesKeys = await loadIdentity(wes.keystore, backend);
    db.prepare('UPDATE "UserKey" SET "signature" = ? WHERE "userId" = ? AND "version" = 1').run(Buffer.alloc(64, 7), wes.userId);
    const e = await refusal(directoryOf(vic).directory.verifiedKeys('wes'), 'KEY_SIGNATURE_INVALID');
    for (const secretOrKey of [wesKeys.signing.seed, wesKeys.signing.publicKey, wesKeys.encryption.publicKey, wesKeys.encryption.privateKey]) {
      expect(e.message).not.toContain(base64urlEncode(secretOrKey));
      expect(e.message).not.toContain(Buffer.from(secretOrKey).toString('hex'));
    }
  });
});

describe('verifyKeyHistory (pure): malformed histories are KEY_HISTORY_INVALID', () => {
  async function history(): Promise<KeyVersionRecord[]> {
    const v1 = await generateSigningKeyPair(backend);
    const e1 = await generateEncryptionKeyPair(backend);
    const v2 = await generateSigningKeyPair(backend);
    const e2 = await generateEncryptionKeyPair(backend);
    const reg = await backend.ed25519Sign(v1.seed, registrationMessage({ realm: REALM, username: 'zoe', signingKey: v1.publicKey, encryptionKey: e1.publicKey }));
    const sig2 = await signKeyVersion(backend, { realm: REALM, username: 'zoe', version: 2, previousSigningKey: v1.publicKey, signingKey: v2.publicKey, encryptionKey: e2.publicKey }, v1.seed, v2.seed);
    const rec = (version: number, s: typeof v1, e: typeof e1, sig: Uint8Array): KeyVersionRecord => ({
      version,
      signingKey: base64urlEncode(s.publicKey),
      encryptionKey: base64urlEncode(e.publicKey),
      signature: base64urlEncode(sig),
      signingKeyId: keyIdText(s.keyId),
    });
    return [rec(1, v1, e1, reg), rec(2, v2, e2, sig2)];
  }

  async function code(versions: unknown, username = 'zoe', realm = REALM): Promise<string> {
    try {
      await verifyKeyHistory(backend, realm, username, versions as KeyVersionRecord[]);
      return 'OK';
    } catch (e) {
      expect(isDirectoryError(e)).toBe(true);
      return (e as DirectoryError).code;
    }
  }

  it('a well-formed history verifies; another username or realm does not', async () => {
    const h = await history();
    expect(await code(h)).toBe('OK');
    expect(await code(h, 'zoey')).toBe('KEY_SIGNATURE_INVALID');
    expect(await code(h, 'zoe', 'other')).toBe('KEY_SIGNATURE_INVALID');
  });

  it('versions must be exactly 1..n in order', async () => {
    const [v1, v2] = await history();
    expect(await code([])).toBe('KEY_HISTORY_INVALID');
    expect(await code(null)).toBe('KEY_HISTORY_INVALID');
    expect(await code([v2!])).toBe('KEY_HISTORY_INVALID');
    expect(await code([v2!, v1!])).toBe('KEY_HISTORY_INVALID');
    expect(await code([v1!, v1!])).toBe('KEY_HISTORY_INVALID');
    expect(await code([v1!, { ...v2!, version: 3 }])).toBe('KEY_HISTORY_INVALID');
    expect(await code([v1!, null])).toBe('KEY_HISTORY_INVALID');
  });

  it('keys, signatures and key ids must be well-formed', async () => {
    const [v1, v2] = await history();
    const bad: Partial<KeyVersionRecord>[] = [
      { signingKey: v1!.signingKey.slice(1) },
      { encryptionKey: `${v1!.encryptionKey}A` },
      { signingKey: v1!.signingKey.replace(/.$/, '=') },
      { signature: base64urlEncode(new Uint8Array(63)) },
      { signingKeyId: keyIdText(keyIdOf(backend, 'ed25519', (await generateSigningKeyPair(backend)).publicKey)) },
      { signingKeyId: '' },
    ];
    for (const b of bad) expect(await code([{ ...v1!, ...b }, v2!])).toBe('KEY_HISTORY_INVALID');
    // Version 2 carries two signatures; one alone is malformed.
    expect(await code([v1!, { ...v2!, signature: v1!.signature }])).toBe('KEY_HISTORY_INVALID');
    expect(await code([v1!, { ...v2!, signature: '' }])).toBe('KEY_SIGNATURE_INVALID');
  });

  it('a directory answering for another user is refused before anything is pinned', async () => {
    const keystore = new MemoryKeyStore();
    const h = await history();
    const transport = (username: string, userId: string): DirectoryTransport => ({ keyHistory: async () => ({ userId, username, versions: h }), keyOwners: async () => [] });
    await refusal(new KeyDirectory({ backend, keystore, transport: transport('zoey', 'id') }).verifiedKeys('zoe'), 'KEY_HISTORY_INVALID');
    await refusal(new KeyDirectory({ backend, keystore, transport: transport('zoe', '') }).verifiedKeys('zoe'), 'KEY_HISTORY_INVALID');
    expect(await keystore.list()).toEqual([]);
    expect((await new KeyDirectory({ backend, keystore, transport: transport('zoe', 'zoe-id') }).verifiedKeys('zoe')).version).toBe(2);
  });
});
