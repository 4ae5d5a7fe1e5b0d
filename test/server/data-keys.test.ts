// Data keys (src/server/services/sharing/keys.graphql) over real HTTP: who may store an object's wrapped data
// keys, the binding checks the server makes before storing anything, and that each
// recipient reads back only their own keys and can open them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { base64urlEncode } from '../../src/crypto/base64url.js';
import { generateEncryptionKeyPair, generateSymmetricKey, rotateSymmetricKey, type EncryptionKeyPair, type SymmetricKey } from '../../src/crypto/keys.js';
import type { Location } from '../../src/crypto/location.js';
import { unwrapKey, wrapKey } from '../../src/crypto/wrap.js';
import { newObjectId, registerAndLogin, startTestGateway, type TestGateway, type TestUser } from '../helpers/gateway.js';

const PUT = 'mutation P($t: String!, $id: ID!, $k: [WrappedDataKeyInput!]!) { putDataKeys(objectType: $t, objectId: $id, keys: $k) }';
const MINE = 'query M($t: String!, $ids: [ID!]!) { myDataKeys(objectType: $t, objectIds: $ids) { objectType objectId keyVersion wrapped } }';

type DataKey = { objectType: string; objectId: string; keyVersion: number; wrapped: string };

let t: TestGateway;
let alice: TestUser;
let bob: TestUser;
let mallory: TestUser;
let profileId: string;
/** The profile's data key (version 1), stored by the first test. */
let firstKey: SymmetricKey;

function codes(r: { errors?: { extensions?: { code?: string } }[] }): (string | undefined)[] {
  return (r.errors ?? []).map((e) => e.extensions?.code);
}

function profileAt(ownerId: string, objectId: string): Location {
  return { coordinate: 'Profile', ownerId, objectId };
}

/** One key wrapped as a client does: for one recipient's X25519 key, bound to `location`. */
async function wrapped(key: SymmetricKey, location: Location, to: EncryptionKeyPair | TestUser): Promise<string> {
  const pair = 'encryption' in to ? to.encryption : to;
  return base64urlEncode(await wrapKey(nodeBackend, key, location, [{ keyId: pair.keyId, publicKey: pair.publicKey }]));
}

async function put(user: TestUser, objectId: string, keys: { recipientId: string; keyVersion: number; wrapped: string }[], objectType = 'Profile') {
  return t.gql<{ putDataKeys: boolean }>(PUT, { t: objectType, id: objectId, k: keys }, user.token);
}

async function mine(user: TestUser, objectIds: string[], objectType = 'Profile'): Promise<DataKey[]> {
  const r = await t.gql<{ myDataKeys: DataKey[] }>(MINE, { t: objectType, ids: objectIds }, user.token);
  expect(r.errors).toBeUndefined();
  return r.data!.myDataKeys;
}

beforeAll(async () => {
  t = await startTestGateway();
  alice = await registerAndLogin(t, 'alice');
  bob = await registerAndLogin(t, 'bob');
  mallory = await registerAndLogin(t, 'mallory');
  profileId = newObjectId();
  const r = await t.gql('mutation C($i: CreateProfileInput!) { createProfile(input: $i) { id } }', { i: { id: profileId, displayName: 'Alice' } }, alice.token);
  expect(r.errors).toBeUndefined();
});

afterAll(async () => {
  await t?.close();
});

describe('putDataKeys and myDataKeys', () => {
  it('the owner stores a key for herself and for bob; each reads only their own and opens it', async () => {
    const key = (firstKey = generateSymmetricKey(nodeBackend));
    const at = profileAt(alice.id, profileId);
    const r = await put(alice, profileId, [
      { recipientId: alice.id, keyVersion: 1, wrapped: await wrapped(key, at, alice) },
      { recipientId: bob.id, keyVersion: 1, wrapped: await wrapped(key, at, bob) },
    ]);
    expect(r.errors).toBeUndefined();
    expect(r.data?.putDataKeys).toBe(true);

    for (const user of [alice, bob]) {
      const keys = await mine(user, [profileId]);
      expect(keys).toHaveLength(1);
      expect(keys[0]).toMatchObject({ objectType: 'Profile', objectId: profileId, keyVersion: 1 });
      const opened = await unwrapKey(nodeBackend, keys[0]!.wrapped, user.encryption, at);
      expect(opened.bytes).toEqual(key.bytes);
      expect(opened.id).toEqual(key.id);
      // Another user's key pair cannot open this user's copy.
      const other = user === alice ? bob : alice;
      await expect(unwrapKey(nodeBackend, keys[0]!.wrapped, other.encryption, at)).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' });
    }
    expect(await mine(mallory, [profileId])).toEqual([]);
  });

  it('requires a token', async () => {
    expect(codes(await t.gql(MINE, { t: 'Profile', ids: [profileId] }))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await t.gql(PUT, { t: 'Profile', id: profileId, k: [] }))).toEqual(['UNAUTHENTICATED']);
  });

  it('refuses more than 1,000 ids in myDataKeys', async () => {
    const ids = Array.from({ length: 1001 }, (_, i) => `id-${i}`);
    const r = await t.gql(MINE, { t: 'Profile', ids }, alice.token);
    expect(codes(r)).toEqual(['BAD_USER_INPUT']);
    expect(await mine(alice, ids.slice(0, 1000))).toEqual([]);
  });

  it("a stranger cannot store keys on alice's existing profile (FORBIDDEN), even bound to alice", async () => {
    const key = generateSymmetricKey(nodeBackend);
    const r = await put(mallory, profileId, [{ recipientId: mallory.id, keyVersion: 7, wrapped: await wrapped(key, profileAt(alice.id, profileId), mallory) }]);
    expect(codes(r)).toEqual(['FORBIDDEN']);
    const bound = await put(mallory, profileId, [{ recipientId: mallory.id, keyVersion: 7, wrapped: await wrapped(key, profileAt(mallory.id, profileId), mallory) }]);
    expect(codes(bound)).toEqual(['FORBIDDEN']);
    expect(await mine(mallory, [profileId])).toEqual([]);
  });

  it('refuses keys bound to the wrong owner, object or type, storing nothing', async () => {
    const key = { ...generateSymmetricKey(nodeBackend), version: 2 };
    const wrong: Location[] = [
      profileAt(bob.id, profileId),
      profileAt(alice.id, newObjectId()),
      { coordinate: 'Message', ownerId: alice.id, objectId: profileId },
      { coordinate: 'Profile.bio', ownerId: alice.id, objectId: profileId },
      { coordinate: 'Profile', ownerId: alice.id },
    ];
    for (const at of wrong) {
      const r = await put(alice, profileId, [{ recipientId: alice.id, keyVersion: 2, wrapped: await wrapped(key, at, alice) }]);
      expect(codes(r)).toEqual(['BAD_USER_INPUT']);
      expect(r.errors![0]!.message).toMatch(/^keys\[0\]: .*not bound to Profile of owner/);
    }
    expect((await mine(alice, [profileId])).map((k) => k.keyVersion)).toEqual([1]);
  });

  it('refuses a key wrapped for another X25519 key than the recipient’s registered one', async () => {
    const key = { ...generateSymmetricKey(nodeBackend), version: 3 };
    const at = profileAt(alice.id, profileId);
    const stranger = await generateEncryptionKeyPair(nodeBackend);
    const r = await put(alice, profileId, [{ recipientId: bob.id, keyVersion: 3, wrapped: await wrapped(key, at, stranger) }]);
    expect(codes(r)).toEqual(['BAD_USER_INPUT']);
    expect(r.errors![0]!.message).toMatch(/registered encryption key/);
    // Wrapped for alice's key but filed under bob.
    const swapped = await put(alice, profileId, [{ recipientId: bob.id, keyVersion: 3, wrapped: await wrapped(key, at, alice) }]);
    expect(codes(swapped)).toEqual(['BAD_USER_INPUT']);
    expect((await mine(bob, [profileId])).map((k) => k.keyVersion)).toEqual([1]);
  });

  it('refuses malformed text, a version mismatch, several stanzas and unknown recipients, naming the key', async () => {
    const key = { ...generateSymmetricKey(nodeBackend), version: 4 };
    const at = profileAt(alice.id, profileId);
    const good = await wrapped(key, at, alice);

    const cases: [unknown[], string, RegExp][] = [
      [[{ recipientId: alice.id, keyVersion: 4, wrapped: 'not base64url!' }], 'BAD_USER_INPUT', /^keys\[0\]: not a valid wrapped key v1 \(ENVELOPE_MALFORMED\)/],
      [[{ recipientId: alice.id, keyVersion: 4, wrapped: good.slice(0, -4) }], 'BAD_USER_INPUT', /^keys\[0\]: not a valid wrapped key v1/],
      [[{ recipientId: alice.id, keyVersion: 4, wrapped: `${good}AAAA` }], 'BAD_USER_INPUT', /^keys\[0\]: not a valid wrapped key v1/],
      [[{ recipientId: alice.id, keyVersion: 4, wrapped: 'A'.repeat(100_000) }], 'BAD_USER_INPUT', /^keys\[0\]: /],
      [[{ recipientId: alice.id, keyVersion: 5, wrapped: good }], 'BAD_USER_INPUT', /^keys\[0\]: the wrapped key is version 4, not keyVersion 5/],
      [[{ recipientId: alice.id, keyVersion: 0, wrapped: good }], 'BAD_USER_INPUT', /^keys\[0\]: keyVersion must be 1 or more/],
      [[{ recipientId: alice.id, keyVersion: 4, wrapped: good }, { recipientId: 'nobody', keyVersion: 4, wrapped: good }], 'NOT_FOUND', /^keys\[1\]: no such recipient/],
      [[], 'BAD_USER_INPUT', /keys must hold/],
    ];
    for (const [keys, code, message] of cases) {
      const r = await t.gql(PUT, { t: 'Profile', id: profileId, k: keys }, alice.token);
      expect(codes(r)).toEqual([code]);
      expect(r.errors![0]!.message).toMatch(message);
    }
    const both = base64urlEncode(
      await wrapKey(nodeBackend, key, at, [
        { keyId: alice.encryption.keyId, publicKey: alice.encryption.publicKey },
        { keyId: bob.encryption.keyId, publicKey: bob.encryption.publicKey },
      ]),
    );
    const multi = await put(alice, profileId, [{ recipientId: alice.id, keyVersion: 4, wrapped: both }]);
    expect(codes(multi)).toEqual(['BAD_USER_INPUT']);
    expect(multi.errors![0]!.message).toMatch(/exactly one recipient stanza/);
    expect((await mine(alice, [profileId])).map((k) => k.keyVersion)).toEqual([1]);
  });

  it('one bad key among good ones: nothing is stored', async () => {
    const key = { ...generateSymmetricKey(nodeBackend), version: 5 };
    const at = profileAt(alice.id, profileId);
    const r = await put(alice, profileId, [
      { recipientId: alice.id, keyVersion: 5, wrapped: await wrapped(key, at, alice) },
      { recipientId: bob.id, keyVersion: 5, wrapped: await wrapped(key, profileAt(bob.id, profileId), bob) },
      { recipientId: mallory.id, keyVersion: 5, wrapped: await wrapped(key, at, mallory) },
    ]);
    expect(codes(r)).toEqual(['BAD_USER_INPUT']);
    expect(r.errors![0]!.message).toMatch(/^keys\[1\]: /);
    for (const user of [alice, bob, mallory]) expect((await mine(user, [profileId])).every((k) => k.keyVersion !== 5)).toBe(true);
  });

  it('a re-put of the same bytes is fine; different bytes for the same slot are a CONFLICT', async () => {
    // The next version of the profile's key (docs/sharing.md, "Data key lineage").
    const key = rotateSymmetricKey(nodeBackend, firstKey);
    const at = profileAt(alice.id, profileId);
    const keys = [{ recipientId: alice.id, keyVersion: 2, wrapped: await wrapped(key, at, alice) }];
    expect((await put(alice, profileId, keys)).data?.putDataKeys).toBe(true);
    expect((await put(alice, profileId, keys)).data?.putDataKeys).toBe(true);
    // A fresh wrap of the same key has other bytes (new ephemeral key): still a different value.
    const again = await put(alice, profileId, [
      { recipientId: alice.id, keyVersion: 2, wrapped: await wrapped(key, at, alice) },
      { recipientId: bob.id, keyVersion: 2, wrapped: await wrapped(key, at, bob) },
    ]);
    expect(codes(again)).toEqual(['CONFLICT']);
    expect((await mine(bob, [profileId])).map((k) => k.keyVersion)).toEqual([1]);
    const stored = (await mine(alice, [profileId])).filter((k) => k.keyVersion === 2);
    expect(stored.map((k) => k.wrapped)).toEqual([keys[0]!.wrapped]);
  });

  it('refuses an unknown object type, or one without SHARED fields', async () => {
    const key = generateSymmetricKey(nodeBackend);
    for (const type of ['Message', 'User', 'WrappedDataKey', '__proto__', 'constructor']) {
      const r = await put(alice, profileId, [{ recipientId: alice.id, keyVersion: 1, wrapped: await wrapped(key, profileAt(alice.id, profileId), alice) }], type);
      expect(codes(r)).toEqual(['BAD_USER_INPUT']);
      expect(r.errors![0]!.message).toMatch(/objectType/);
    }
  });

  it('for an object that does not exist yet, the viewer stores keys bound to themselves', async () => {
    const id = newObjectId();
    const key = generateSymmetricKey(nodeBackend);
    // Bound to someone else (as if alice owned it): refused, since the viewer becomes the owner.
    const boundToAlice = await put(bob, id, [{ recipientId: bob.id, keyVersion: 1, wrapped: await wrapped(key, profileAt(alice.id, id), bob) }]);
    expect(codes(boundToAlice)).toEqual(['BAD_USER_INPUT']);
    expect(await mine(bob, [id])).toEqual([]);

    const at = profileAt(bob.id, id);
    const r = await put(bob, id, [
      { recipientId: bob.id, keyVersion: 1, wrapped: await wrapped(key, at, bob) },
      { recipientId: alice.id, keyVersion: 1, wrapped: await wrapped(key, at, alice) },
    ]);
    expect(r.errors).toBeUndefined();
    expect(r.data?.putDataKeys).toBe(true);
    const bobs = await mine(bob, [id, profileId]);
    expect(bobs.map((k) => k.objectId).sort()).toEqual([id, profileId].sort());
    const mineBob = bobs.find((k) => k.objectId === id);
    expect((await unwrapKey(nodeBackend, mineBob!.wrapped, bob.encryption, at)).bytes).toEqual(key.bytes);
    const alices = (await mine(alice, [id])).map((k) => k.objectId);
    expect(alices).toEqual([id]);
  });
});
