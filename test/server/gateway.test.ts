// The gateway over real HTTP on loopback with a real SQLite file: the four levels end to
// end, sealed-value checks, authorization per level, limits and production behaviour.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT } from 'jose';
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

describe('HTTP surface', () => {
  it('serves /health, 404s elsewhere, refuses bad JSON and oversized bodies', async () => {
    const base = t.gateway.url.replace('/graphql', '');
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', database: 'ok' });
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    const bad = await fetch(t.gateway.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('BAD_REQUEST');
    const big = await fetch(t.gateway.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(5 * 1024 * 1024) });
    expect(big.status).toBe(413);
  });

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

  it('an envelope sealed for another field, owner or object → BAD_SEALED_VALUE; the row is unchanged', async () => {
    const wrong = [
      seal(dataKey, 'Profile.diary', alice.id, profileId, 'moved field'),
      seal(dataKey, 'Profile.bio', bob.id, profileId, 'moved owner'),
      seal(dataKey, 'Profile.bio', alice.id, newObjectId(), 'moved object'),
    ];
    const before = await t.gql<{ profile: Record<string, string> }>(READ, { id: profileId }, alice.token);
    for (const bio of wrong) {
      const r = await t.gql(UPDATE, { id: profileId, i: { displayName: 'Changed', bio } }, alice.token);
      expect(codes(r)).toEqual(['BAD_SEALED_VALUE']);
      expect(r.errors![0]!.message).toContain('UpdateProfileInput.bio');
    }
    const after = await t.gql<{ profile: Record<string, string> }>(READ, { id: profileId }, alice.token);
    expect(after.data).toEqual(before.data);
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

describe('limits', () => {
  it('refuses over-deep and alias-heavy operations with QUERY_TOO_COMPLEX', async () => {
    let deep = 'id';
    for (let i = 0; i < 8; i++) deep = `profile { owner { ${deep} } }`;
    const d = await t.gql(`{ me { ${deep} } }`, {}, alice.token);
    expect(codes(d)).toContain('QUERY_TOO_COMPLEX');
    const aliases = Array.from({ length: 40 }, (_, i) => `a${i}: me { id }`).join(' ');
    expect(codes(await t.gql(`{ ${aliases} }`, {}, alice.token))).toContain('QUERY_TOO_COMPLEX');
    const cost = await t.gql('{ profiles(first: 200) { nodes { owner { profile { owner { profile { id } } } } } } }', {}, alice.token);
    expect(codes(cost)).toEqual([]);
    // The client link's own _vg aliases do not count against the caller's budget.
    const linkAliases = Array.from({ length: 40 }, (_, i) => `_vg${i}: me { id }`).join(' ');
    expect(codes(await t.gql(`{ ${linkAliases} }`, {}, alice.token))).toEqual([]);
  });
});

describe('tokens', () => {
  const secret = (): Uint8Array => base64urlDecode((JSON.parse(readFileSync(join(t.dataDir, 'secrets.json'), 'utf8')) as { jwtSecret: string }).jwtSecret);

  it('a tampered, expired, foreign or malformed token → UNAUTHENTICATED with HTTP 401', async () => {
    const [h, p, s] = alice.token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: bob.id })).toString('base64url')}.${s}`;
    const expired = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(alice.id)
      .setIssuer('veilgraph')
      .setAudience('veilgraph')
      .setJti('x')
      .setIssuedAt(Math.floor(Date.now() / 1000) - 3600)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(secret());
    const foreign = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(alice.id).setIssuer('veilgraph').setAudience('veilgraph').setExpirationTime('5m').sign(new Uint8Array(32).fill(7));
    for (const token of [forged, expired, foreign, `${alice.token}x`]) {
      const r = await t.gql('{ me { id } }', {}, token);
      expect(r.status).toBe(401);
      expect(codes(r)).toEqual(['UNAUTHENTICATED']);
    }
  });

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

  it('rejects a replayed challenge, a signature by another key, and a challenge issued for another user', async () => {
    const c1 = await challengeFor('carol');
    expect((await loginWith('carol', c1, carol.signing.seed)).errors).toBeUndefined();
    expect(codes(await loginWith('carol', c1, carol.signing.seed))).toEqual(['CHALLENGE_REPLAYED']);
    expect(codes(await loginWith('carol', await challengeFor('carol'), bob.signing.seed))).toEqual(['LOGIN_FAILED']);
    expect(codes(await loginWith('carol', await challengeFor('bob'), carol.signing.seed))).toEqual(['CHALLENGE_INVALID']);
  });

  it('an unknown username gets a challenge of the same shape and LOGIN_FAILED, like a wrong key', async () => {
    const real = await challengeFor('carol');
    const fake = await challengeFor('nobody_here');
    expect(fake.length).toBe(real.length);
    expect(codes(await loginWith('nobody_here', fake, carol.signing.seed))).toEqual(['LOGIN_FAILED']);
  });
});

describe('production mode', () => {
  it('turns introspection off and strips stack traces', async () => {
    const p = await startTestGateway({ production: true });
    try {
      const intro = await p.gql('{ __schema { types { name } } }');
      expect(codes(intro)).toContain('GRAPHQL_VALIDATION_FAILED');
      const bad = await p.gql('{ myProfile { id } }');
      expect(codes(bad)).toEqual(['UNAUTHENTICATED']);
      expect(JSON.stringify(bad)).not.toContain('stacktrace');
    } finally {
      await p.close();
    }
  });
});
