// The gateway over real HTTP on loopback with a real SQLite file: the four levels end to
// end, sealed-value checks, authorization per level.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { base64urlDecode, base64urlEncode } from '../../src/crypto/base64url.js';
import { utf8Decode } from '../../src/crypto/bytes.js';
import { openEnvelopeText, openVerifiedEnvelope, verifyEnvelopeSignature } from '../../src/crypto/envelope.js';
import { generateSymmetricKey, rotateSymmetricKey } from '../../src/crypto/keys.js';
import { loginMessage } from '../../src/crypto/auth-messages.js';
import { canary, grantAccess, newObjectId, registerAndLogin, revokeAccess, seal, sealSigned, startTestGateway, storeDataKey, type TestGateway, type TestUser } from '../helpers/gateway.js';

const PROFILE_FIELDS = 'id ownerId displayName email phone bio diary';
const CREATE = `mutation C($i: CreateProfileInput!) { createProfile(input: $i) { ${PROFILE_FIELDS} } }`;
const UPDATE = `mutation U($id: ID!, $i: UpdateProfileInput!) { updateProfile(id: $id, input: $i) { ${PROFILE_FIELDS} } }`;
const READ = `query P($id: ID!) { profile(id: $id) { ${PROFILE_FIELDS} } }`;

let t: TestGateway;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
/** Alice's profile's data key for SHARED fields (client-side); the next version after each revocation. */
let dataKey = generateSymmetricKey(nodeBackend);
let profileId: string;

function codes(r: { errors?: { extensions?: { code?: string } }[] }): (string | undefined)[] {
  return (r.errors ?? []).map((e) => e.extensions?.code);
}

beforeAll(async () => {
  t = await startTestGateway();
  alice = await registerAndLogin(t, 'alice');
  bob = await registerAndLogin(t, 'bob');
  carol = await registerAndLogin(t, 'carol');
  profileId = newObjectId();
  await storeDataKey(t, alice, 'Profile', profileId, dataKey);
  const r = await t.gql(
    CREATE,
    {
      i: {
        id: profileId,
        displayName: 'Alice',
        email: 'alice@example.com',
        phone: '+1 555 0100',
        bio: seal(dataKey, 'Profile.bio', alice.id, profileId, 'I like graphs'),
        diary: seal(alice.vault, 'Profile.diary', alice.id, profileId, 'dear diary'),
      },
    },
    alice.token,
  );
  expect(r.errors).toBeUndefined();
});

afterAll(async () => {
  await t?.close();
});

// The HTTP routes, headers and body limits are in http.test.ts and attacks.test.ts; forged
// tokens, replayed challenges, envelopes copied to another location and depth limits in
// attacks.test.ts; the request limits in limits.test.ts; production mode in production.test.ts.
describe('HTTP surface', () => {
  it('requires a token for profile queries', async () => {
    const r = await t.gql('{ myProfile { id } }');
    expect(codes(r)).toEqual(['UNAUTHENTICATED']);
  });
});

describe('the four levels for the owner', () => {
  it('PUBLIC and SERVER come back as plaintext, SHARED and PRIVATE as envelopes the owner opens', async () => {
    const r = await t.gql<{ profile: Record<string, string> }>(READ, { id: profileId }, alice.token);
    expect(r.errors).toBeUndefined();
    const p = r.data!.profile;
    expect(p.displayName).toBe('Alice');
    expect(p.email).toBe('alice@example.com');
    expect(p.phone).toBe('+1 555 0100');
    expect(p.bio).toMatch(/^AQE/);
    expect(JSON.parse(openEnvelopeText(nodeBackend, p.bio!, dataKey, { coordinate: 'Profile.bio', ownerId: alice.id, objectId: profileId }))).toBe('I like graphs');
    expect(JSON.parse(openEnvelopeText(nodeBackend, p.diary!, alice.vault, { coordinate: 'Profile.diary', ownerId: alice.id, objectId: profileId }))).toBe('dear diary');
  });

  it('updates one SERVER field without losing the other, and finds the profile by email', async () => {
    const r = await t.gql<{ updateProfile: Record<string, string> }>(UPDATE, { id: profileId, i: { email: 'alice@new.example' } }, alice.token);
    expect(r.errors).toBeUndefined();
    expect(r.data!.updateProfile.email).toBe('alice@new.example');
    expect(r.data!.updateProfile.phone).toBe('+1 555 0100');
    const byEmail = 'query F($e: String!) { profileByEmail(email: $e) { id } }';
    const found = await t.gql<{ profileByEmail: { id: string } | null }>(byEmail, { e: 'alice@new.example' }, alice.token);
    expect(found.data!.profileByEmail?.id).toBe(profileId);
    const old = await t.gql<{ profileByEmail: { id: string } | null }>(byEmail, { e: 'alice@example.com' }, alice.token);
    expect(old.data!.profileByEmail).toBeNull();
    // Bob is no grantee (yet): the lookup does not confirm Alice's address to him.
    const stranger = await t.gql<{ profileByEmail: { id: string } | null }>(byEmail, { e: 'alice@new.example' }, bob.token);
    expect(stranger.errors).toBeUndefined();
    expect(stranger.data!.profileByEmail).toBeNull();
  });
});

describe('sealed values are checked before anything is written', () => {
  it('plaintext in a sealed variable → BAD_SEALED_VALUE naming the field, without echoing it, nothing stored', async () => {
    const dave = await registerAndLogin(t, 'dave');
    const secret = canary('plain');
    const r = await t.gql(CREATE, { i: { id: newObjectId(), displayName: 'Dave', bio: secret } }, dave.token);
    expect(codes(r)).toEqual(['BAD_SEALED_VALUE']);
    expect(r.errors![0]!.message).toContain('i.bio');
    expect(JSON.stringify(r)).not.toContain(secret);
    const mine = await t.gql<{ myProfile: unknown }>('{ myProfile { id } }', {}, dave.token);
    expect(mine.data!.myProfile).toBeNull();
  });

  it('plaintext in a sealed literal → BAD_SEALED_VALUE naming the input field', async () => {
    const r = await t.gql(`mutation { createProfile(input: { id: "${newObjectId()}", displayName: "X", diary: "my secret" }) { id } }`, {}, carol.token);
    expect(codes(r)).toEqual(['BAD_SEALED_VALUE']);
    expect(r.errors![0]!.message).toContain('CreateProfileInput.diary');
    expect(r.errors![0]!.message).not.toContain('my secret');
  });

});

describe('authorization per level', () => {
  it('a stranger reads PUBLIC fields and gets FORBIDDEN (not null, not ciphertext) for the rest', async () => {
    const r = await t.gql<{ profile: Record<string, unknown> }>(READ, { id: profileId }, carol.token);
    expect(r.data!.profile.displayName).toBe('Alice');
    const forbidden = (r.errors ?? []).filter((e) => e.extensions?.code === 'FORBIDDEN').map((e) => e.path?.join('.'));
    expect(forbidden.sort()).toEqual(['profile.bio', 'profile.diary', 'profile.email', 'profile.phone']);
    expect(JSON.stringify(r.data)).not.toMatch(/AQE[AB]/);
  });

  it('a READ grantee reads SERVER and SHARED, not PRIVATE, and cannot write; revoking ends it', async () => {
    const g = await grantAccess(t, alice, bob, 'Profile', profileId, dataKey);
    expect(g.errors).toBeUndefined();
    const r = await t.gql<{ profile: Record<string, unknown> }>(READ, { id: profileId }, bob.token);
    expect(r.data!.profile.email).toBe('alice@new.example');
    expect(r.data!.profile.bio).toMatch(/^AQE/);
    expect((r.errors ?? []).map((e) => `${e.path?.join('.')}:${e.extensions?.code}`)).toEqual(['profile.diary:FORBIDDEN']);
    const w = await t.gql(UPDATE, { id: profileId, i: { bio: await sealSigned(dataKey, 'Profile.bio', alice.id, profileId, 'bob was here', bob.signing) } }, bob.token);
    expect(codes(w)).toEqual(['FORBIDDEN']);
    const next = rotateSymmetricKey(nodeBackend, dataKey);
    expect((await revokeAccess(t, alice, bob, 'Profile', profileId, next)).errors).toBeUndefined();
    const after = await t.gql(READ, { id: profileId }, bob.token);
    expect(codes(after).filter((c) => c === 'FORBIDDEN')).toHaveLength(4);
    // The owner now writes under the next key version; the old one is refused.
    const stale = await t.gql(UPDATE, { id: profileId, i: { bio: seal(dataKey, 'Profile.bio', alice.id, profileId, 'old key') } }, alice.token);
    expect(codes(stale)).toEqual(['STALE_DATA_KEY']);
    dataKey = next;
    const fresh = await t.gql(UPDATE, { id: profileId, i: { bio: seal(dataKey, 'Profile.bio', alice.id, profileId, 'I like graphs') } }, alice.token);
    expect(fresh.errors).toBeUndefined();
  });

  it('a WRITE grantee may update SHARED fields, signed by them, but never PRIVATE ones', async () => {
    expect((await grantAccess(t, alice, bob, 'Profile', profileId, dataKey, 'WRITE')).errors).toBeUndefined();
    const before = await t.gql(READ, { id: profileId }, alice.token);
    // Unsigned, or signed by anyone but the writer: refused, nothing written.
    const unsigned = await t.gql(UPDATE, { id: profileId, i: { bio: seal(dataKey, 'Profile.bio', alice.id, profileId, 'unsigned') } }, bob.token);
    expect(codes(unsigned)).toEqual(['BAD_SIGNATURE']);
    const forged = await t.gql(UPDATE, { id: profileId, i: { bio: await sealSigned(dataKey, 'Profile.bio', alice.id, profileId, 'as carol', carol.signing) } }, bob.token);
    expect(codes(forged)).toEqual(['BAD_SIGNATURE']);
    expect((await t.gql(READ, { id: profileId }, alice.token)).data).toEqual(before.data);
    const ok = await t.gql<{ updateProfile: { bio: string } }>(
      'mutation U($id: ID!, $i: UpdateProfileInput!) { updateProfile(id: $id, input: $i) { bio } }',
      { id: profileId, i: { bio: await sealSigned(dataKey, 'Profile.bio', alice.id, profileId, 'edited by bob', bob.signing) } },
      bob.token,
    );
    expect(ok.errors).toBeUndefined();
    const location = { coordinate: 'Profile.bio', ownerId: alice.id, objectId: profileId };
    // The owner sees who wrote it: the signature verifies against Bob's key and no one else's.
    const opened = await openVerifiedEnvelope(nodeBackend, ok.data!.updateProfile.bio, dataKey, location, bob.signing.publicKey);
    expect(JSON.parse(utf8Decode(opened.plaintext))).toBe('edited by bob');
    await expect(verifyEnvelopeSignature(nodeBackend, ok.data!.updateProfile.bio, carol.signing.publicKey)).rejects.toThrow(/not the expected signer/);
    const no = await t.gql(UPDATE, { id: profileId, i: { diary: seal(alice.vault, 'Profile.diary', alice.id, profileId, 'bob writes diary') } }, bob.token);
    expect(codes(no)).toEqual(['FORBIDDEN']);
    const next = rotateSymmetricKey(nodeBackend, dataKey);
    expect((await revokeAccess(t, alice, bob, 'Profile', profileId, next)).errors).toBeUndefined();
    dataKey = next;
  });

  it('only the owner deletes, grants, or lists grants', async () => {
    expect(codes(await t.gql('mutation D($id: ID!) { deleteProfile(id: $id) }', { id: profileId }, carol.token))).toEqual(['FORBIDDEN']);
    const grant = 'mutation G($id: ID!) { grantAccess(objectType: "Profile", objectId: $id, username: "dave", keys: []) { access } }';
    expect(codes(await t.gql(grant, { id: profileId }, carol.token))).toEqual(['FORBIDDEN']);
    expect(codes(await t.gql('query G($id: ID!) { grants(objectType: "Profile", objectId: $id) { access } }', { id: profileId }, carol.token))).toEqual(['FORBIDDEN']);
  });
});

describe('tokens', () => {
  it('the acting user comes from the token: me is the token holder', async () => {
    const r = await t.gql<{ me: { username: string } }>('{ me { username } }', {}, bob.token);
    expect(r.data!.me.username).toBe('bob');
  });
});

describe('login over HTTP', () => {
  async function challengeFor(username: string): Promise<string> {
    const r = await t.gql<{ challenge: { challenge: string } }>('mutation C($u: String!) { challenge(username: $u) { challenge } }', { u: username });
    return r.data!.challenge.challenge;
  }
  async function loginWith(username: string, challenge: string, seed: Uint8Array, signedAs = username) {
    const sig = await nodeBackend.ed25519Sign(seed, loginMessage({ realm: 'veilgraph', username: signedAs, purpose: 'LOGIN', challenge: base64urlDecode(challenge) }));
    return t.gql('mutation L($u: String!, $c: String!, $s: String!) { login(username: $u, challenge: $c, signature: $s) { token } }', {
      u: username,
      c: challenge,
      s: base64urlEncode(sig),
    });
  }

  it('an unknown username gets a challenge of the same shape and LOGIN_FAILED, like a wrong key', async () => {
    const real = await challengeFor('carol');
    const fake = await challengeFor('nobody_here');
    expect(fake.length).toBe(real.length);
    expect(codes(await loginWith('nobody_here', fake, carol.signing.seed))).toEqual(['LOGIN_FAILED']);
  });
});
