// An object's data key lineage (docs/sharing.md, "Data key lineage") held by the gateway,
// over real HTTP and a real SQLite file: a SHARED value is sealed under the object's data
// key as stored (key id and newest version), an object with no data key takes no SHARED
// value, and putDataKeys, grantAccess and revokeAccess store keys of that one lineage only
// (the first key at version 1, then the same key id at version + 1). Every refusal has its
// own code and changes no row (table snapshots before and after).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { generateSymmetricKey, rotateSymmetricKey, type SymmetricKey } from '../../src/crypto/keys.js';
import { snapshotTables } from '../helpers/sqlite-snapshot.js';
import { ROOMY_AUTH_LIMITS, newObjectId, registerAndLogin, seal, sealSigned, startTestGateway, wrappedFor, type GqlResponse, type TestGateway, type TestUser } from '../helpers/gateway.js';

const PUT = 'mutation P($t: String!, $id: ID!, $k: [WrappedDataKeyInput!]!) { putDataKeys(objectType: $t, objectId: $id, keys: $k) }';
const CREATE = 'mutation C($i: CreateProfileInput!) { createProfile(input: $i) { id } }';
const UPDATE = 'mutation U($id: ID!, $i: UpdateProfileInput!) { updateProfile(id: $id, input: $i) { id } }';
const GRANT =
  'mutation G($t: String!, $id: ID!, $u: String!, $a: Access!, $k: [WrappedDataKeyInput!]!) { grantAccess(objectType: $t, objectId: $id, username: $u, access: $a, keys: $k) { access } }';
const REVOKE = 'mutation R($t: String!, $id: ID!, $u: String!, $k: [WrappedDataKeyInput!]!) { revokeAccess(objectType: $t, objectId: $id, username: $u, keys: $k) }';
const TABLES = ['User', 'UserKey', 'Contact', 'Profile', 'Grant', 'ObjectKey'] as const;

let t: TestGateway;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;

type WrappedKey = Awaited<ReturnType<typeof wrappedFor>>;

function codes(r: GqlResponse): (string | undefined)[] {
  return (r.errors ?? []).map((e) => e.extensions?.code);
}

/** Runs a request that must be refused with `code`; checks that no row of TABLES changed. */
async function refused(code: string, request: () => Promise<GqlResponse>): Promise<GqlResponse> {
  const before = snapshotTables(t.dataDir, TABLES);
  const r = await request();
  expect(codes(r), JSON.stringify(r.errors)).toEqual([code]);
  expect(snapshotTables(t.dataDir, TABLES), 'a refused request changed rows').toEqual(before);
  return r;
}

async function ok<T = Record<string, unknown>>(r: Promise<GqlResponse<T>>): Promise<T> {
  const res = await r;
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data!;
}

const put = (user: TestUser, objectId: string, keys: WrappedKey[]) => t.gql(PUT, { t: 'Profile', id: objectId, k: keys }, user.token);
const wrap = (key: SymmetricKey, owner: TestUser, objectId: string, to: TestUser) => wrappedFor(key, 'Profile', owner.id, objectId, to);
const bio = (key: SymmetricKey, owner: TestUser, objectId: string, value: string) => seal(key, 'Profile.bio', owner.id, objectId, value);

let users = 0;

/** A new user (each has at most one profile). */
function newUser(): Promise<TestUser> {
  return registerAndLogin(t, `owner${++users}`);
}

/** A new user's profile, with data key `key` (version 1) stored for them and a SHARED bio under it. */
async function profileWithKey(key = generateSymmetricKey(nodeBackend)): Promise<{ owner: TestUser; id: string; key: SymmetricKey }> {
  const owner = await newUser();
  const id = newObjectId();
  await ok(put(owner, id, [await wrap(key, owner, id, owner)]));
  await ok(t.gql(CREATE, { i: { id, displayName: owner.username, bio: bio(key, owner, id, 'first') } }, owner.token));
  return { owner, id, key };
}

beforeAll(async () => {
  t = await startTestGateway({ authLimits: ROOMY_AUTH_LIMITS });
  alice = await registerAndLogin(t, 'alice');
  bob = await registerAndLogin(t, 'bob');
  carol = await registerAndLogin(t, 'carol');
});

afterAll(async () => {
  await t?.close();
});

describe('SHARED writes are sealed under the object’s data key as stored', () => {
  it('an object with no data key takes no SHARED value (NO_DATA_KEY), on create and on update', async () => {
    const id = newObjectId();
    const key = generateSymmetricKey(nodeBackend);
    const r = await refused('NO_DATA_KEY', async () => t.gql(CREATE, { i: { id, displayName: 'Alice', bio: bio(key, alice, id, 'hello') } }, alice.token));
    expect(r.errors![0]!.extensions).toMatchObject({ field: 'CreateProfileInput.bio' });
    expect(r.errors![0]!.message).toMatch(/no data key/);

    // The profile without a SHARED value is fine; a later SHARED value still needs a key.
    await ok(t.gql(CREATE, { i: { id, displayName: 'Alice' } }, alice.token));
    await refused('NO_DATA_KEY', async () => t.gql(UPDATE, { id, i: { bio: bio(key, alice, id, 'hello') } }, alice.token));
    // A null SHARED value needs no key.
    await ok(t.gql(UPDATE, { id, i: { bio: null } }, alice.token));
  });

  it('a value sealed under another key id is WRONG_DATA_KEY, even at the right version', async () => {
    const { owner: alice, id, key } = await profileWithKey();
    const other = generateSymmetricKey(nodeBackend); // another lineage, version 1 like the object's
    expect(other.version).toBe(key.version);
    const r = await refused('WRONG_DATA_KEY', async () => t.gql(UPDATE, { id, i: { bio: bio(other, alice, id, 'under my own key') } }, alice.token));
    expect(r.errors![0]!.extensions).toMatchObject({ field: 'UpdateProfileInput.bio', keyVersion: 1 });
    // On create too: a key of the object's own, then a value under a key of another object.
    const dave = await newUser();
    const second = newObjectId();
    await ok(put(dave, second, [await wrap(generateSymmetricKey(nodeBackend), dave, second, dave)]));
    await refused('WRONG_DATA_KEY', async () => t.gql(CREATE, { i: { id: second, displayName: 'Dave', bio: bio(key, dave, second, 'x') } }, dave.token));
    await ok(t.gql(CREATE, { i: { id: second, displayName: 'Dave' } }, dave.token));
    // Under the object's own key it is stored.
    await ok(t.gql(UPDATE, { id, i: { bio: bio(key, alice, id, 'right key') } }, alice.token));
  });

  it("a stranger creating a profile with a taken id and a SHARED value learns nothing of the owner's key (NO_DATA_KEY, no version)", async () => {
    const { id } = await profileWithKey();
    const mallory = await newUser();
    const own = generateSymmetricKey(nodeBackend);
    const r = await refused('NO_DATA_KEY', async () => t.gql(CREATE, { i: { id, displayName: 'Mallory', bio: bio(own, mallory, id, 'mine now') } }, mallory.token));
    expect(r.errors![0]!.extensions).not.toHaveProperty('keyVersion');
    // The same answer as for an id nobody uses.
    const unused = newObjectId();
    const u = await refused('NO_DATA_KEY', async () => t.gql(CREATE, { i: { id: unused, displayName: 'Mallory', bio: bio(own, mallory, unused, 'mine now') } }, mallory.token));
    expect(u.errors![0]!.message).toBe(r.errors![0]!.message);
  });

  it('a WRITE grantee cannot write under a key of their own (WRONG_DATA_KEY), only under the object’s', async () => {
    const { owner: alice, id, key } = await profileWithKey();
    await ok(t.gql(GRANT, { t: 'Profile', id, u: 'bob', a: 'WRITE', k: [await wrap(key, alice, id, bob)] }, alice.token));
    const own = generateSymmetricKey(nodeBackend);
    const signedOwn = await sealSigned(own, 'Profile.bio', alice.id, id, 'bob under his own key', bob.signing);
    await refused('WRONG_DATA_KEY', async () => t.gql(UPDATE, { id, i: { bio: signedOwn } }, bob.token));
    const signedRight = await sealSigned(key, 'Profile.bio', alice.id, id, 'bob under the data key', bob.signing);
    await ok(t.gql(UPDATE, { id, i: { bio: signedRight } }, bob.token));
  });

  it('the key id is checked before the version: a newer version of another lineage is WRONG_DATA_KEY, an older one of the right lineage STALE_DATA_KEY', async () => {
    const { owner: alice, id, key } = await profileWithKey();
    const next = rotateSymmetricKey(nodeBackend, key);
    await ok(put(alice, id, [await wrap(next, alice, id, alice)]));
    const foreign = { ...generateSymmetricKey(nodeBackend), version: 2 };
    await refused('WRONG_DATA_KEY', async () => t.gql(UPDATE, { id, i: { bio: bio(foreign, alice, id, 'x') } }, alice.token));
    const r = await refused('STALE_DATA_KEY', async () => t.gql(UPDATE, { id, i: { bio: bio(key, alice, id, 'x') } }, alice.token));
    expect(r.errors![0]!.extensions).toMatchObject({ keyVersion: 2 });
    await ok(t.gql(UPDATE, { id, i: { bio: bio(next, alice, id, 'version 2') } }, alice.token));
  });
});

describe('putDataKeys: the first key, then the same key id at version + 1', () => {
  it('version 2 of a different lineage is WRONG_DATA_KEY; the same key id at version 2 is stored', async () => {
    const { owner: alice, id, key } = await profileWithKey();
    const foreign = { ...generateSymmetricKey(nodeBackend), version: 2 };
    const r = await refused('WRONG_DATA_KEY', async () => put(alice, id, [await wrap(foreign, alice, id, alice)]));
    expect(r.errors![0]!.extensions).toMatchObject({ field: 'keys.0', keyVersion: 1 });
    await ok(put(alice, id, [await wrap(rotateSymmetricKey(nodeBackend, key), alice, id, alice)]));
  });

  it('a version other than newest + 1 is STALE_DATA_KEY with the newest version', async () => {
    const { owner: alice, id, key } = await profileWithKey();
    const v3 = { ...key, version: 3, bytes: nodeBackend.randomBytes(32) };
    const skip = await refused('STALE_DATA_KEY', async () => put(alice, id, [await wrap(v3, alice, id, alice)]));
    expect(skip.errors![0]!.extensions).toMatchObject({ keyVersion: 1 });
    // The newest version wrapped for someone new: not a retry (grantAccess hands out the current version).
    await refused('STALE_DATA_KEY', async () => put(alice, id, [await wrap(key, alice, id, bob)]));
    // An object's first key is version 1.
    const fresh = newObjectId();
    const first = await refused('STALE_DATA_KEY', async () => put(alice, fresh, [await wrap({ ...generateSymmetricKey(nodeBackend), version: 2 }, alice, fresh, alice)]));
    expect(first.errors![0]!.extensions).toMatchObject({ keyVersion: 0 });
  });

  it('a retry of what is stored is accepted and changes nothing; other bytes in a stored slot are a CONFLICT', async () => {
    const id = newObjectId();
    const key = generateSymmetricKey(nodeBackend);
    const keys = [await wrap(key, alice, id, alice), await wrap(key, alice, id, bob)];
    await ok(put(alice, id, keys));
    const before = snapshotTables(t.dataDir, TABLES);
    expect(await ok(put(alice, id, keys))).toEqual({ putDataKeys: true });
    expect(snapshotTables(t.dataDir, TABLES)).toEqual(before);
    // A fresh wrap of the same key for bob has other bytes (a new ephemeral key).
    const again = await wrap(key, alice, id, bob);
    await refused('CONFLICT', async () => put(alice, id, [keys[0]!, again]));
  });

  it('one put is one key: mixed lineages are WRONG_DATA_KEY, mixed versions BAD_USER_INPUT; a new version includes the owner', async () => {
    const id = newObjectId();
    const a = generateSymmetricKey(nodeBackend);
    const b = generateSymmetricKey(nodeBackend);
    const mixed = await refused('WRONG_DATA_KEY', async () => put(alice, id, [await wrap(a, alice, id, alice), await wrap(b, alice, id, bob)]));
    expect(mixed.errors![0]!.extensions).toMatchObject({ field: 'keys.1' });
    await refused('BAD_USER_INPUT', async () => put(alice, id, [await wrap(a, alice, id, alice), await wrap(rotateSymmetricKey(nodeBackend, a), alice, id, bob)]));
    const noOwner = await refused('BAD_USER_INPUT', async () => put(alice, id, [await wrap(a, alice, id, bob)]));
    expect(noOwner.errors![0]!.message).toMatch(/owner/);
    await ok(put(alice, id, [await wrap(a, alice, id, alice), await wrap(a, alice, id, bob)]));
  });
});

describe('grants and revocations carry keys of the object’s lineage', () => {
  it('a grant with the newest version of another lineage is WRONG_DATA_KEY', async () => {
    const { owner: alice, id, key } = await profileWithKey();
    const foreign = generateSymmetricKey(nodeBackend);
    await refused('WRONG_DATA_KEY', async () => t.gql(GRANT, { t: 'Profile', id, u: 'bob', a: 'READ', k: [await wrap(foreign, alice, id, bob)] }, alice.token));
    await ok(t.gql(GRANT, { t: 'Profile', id, u: 'bob', a: 'READ', k: [await wrap(key, alice, id, bob)] }, alice.token));
  });

  it('a revocation with version + 1 of another lineage is WRONG_DATA_KEY; the same key id at version + 1 revokes', async () => {
    const { owner: alice, id, key } = await profileWithKey();
    await ok(t.gql(GRANT, { t: 'Profile', id, u: 'bob', a: 'READ', k: [await wrap(key, alice, id, bob)] }, alice.token));
    await ok(t.gql(GRANT, { t: 'Profile', id, u: 'carol', a: 'READ', k: [await wrap(key, alice, id, carol)] }, alice.token));
    const foreign = { ...generateSymmetricKey(nodeBackend), version: 2 };
    await refused('WRONG_DATA_KEY', async () => t.gql(REVOKE, { t: 'Profile', id, u: 'bob', k: [await wrap(foreign, alice, id, alice), await wrap(foreign, alice, id, carol)] }, alice.token));
    // Owner and remaining grantee given different keys of the right version: still one lineage only.
    const next = rotateSymmetricKey(nodeBackend, key);
    await refused('WRONG_DATA_KEY', async () => t.gql(REVOKE, { t: 'Profile', id, u: 'bob', k: [await wrap(next, alice, id, alice), await wrap(foreign, alice, id, carol)] }, alice.token));
    await ok(t.gql(REVOKE, { t: 'Profile', id, u: 'bob', k: [await wrap(next, alice, id, alice), await wrap(next, alice, id, carol)] }, alice.token));
    await ok(t.gql(UPDATE, { id, i: { bio: bio(next, alice, id, 'after the revocation') } }, alice.token));
  });
});
