// The key directory (src/server/services/directory/directory.graphql) over real HTTP: histories as registered,
// who a signing key id belongs to, and rotation: accepted only when signed by the
// viewer's current key and the new one, for the next version, with acceptable new keys;
// afterwards login needs the new key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { base64urlEncode } from '../../src/crypto/base64url.js';
import { keyVersionMessage, signKeyVersion, type KeyVersionMessageInput } from '../../src/crypto/key-directory.js';
import { generateEncryptionKeyPair, generateSigningKeyPair, keyIdOf, type EncryptionKeyPair, type SigningKeyPair } from '../../src/crypto/keys.js';
import { verifyKeyHistory, type KeyHistoryRecord, type KeyVersionRecord } from '../../src/client/directory.js';
import { login, registerAndLogin, startTestGateway, type TestGateway, type TestUser, ROOMY_AUTH_LIMITS } from '../helpers/gateway.js';

const DIRECTORY = 'query D($u: String!) { keyDirectory(username: $u) { userId username versions { version signingKey encryptionKey signature signingKeyId createdAt } } }';
const OWNERS = 'query O($ids: [String!]!) { keyOwners(signingKeyIds: $ids) { signingKeyId userId username version } }';
const ROTATE = 'mutation R($i: RotateIdentityKeysInput!) { rotateIdentityKeys(input: $i) { version signingKey encryptionKey signature signingKeyId createdAt } }';
const REALM = 'veilgraph';
/** Every test registers its own users: more than the default per-client registration and login bursts. */

type Rotation = { version: number; signingKey: string; encryptionKey: string; signature: string };

let t: TestGateway;
let alice: TestUser;
let bob: TestUser;
let mallory: TestUser;

function codes(r: { errors?: { extensions?: { code?: string } }[] }): (string | undefined)[] {
  return (r.errors ?? []).map((e) => e.extensions?.code);
}

async function history(username: string): Promise<KeyHistoryRecord | null> {
  const r = await t.gql<{ keyDirectory: KeyHistoryRecord | null }>(DIRECTORY, { u: username });
  expect(r.errors).toBeUndefined();
  return r.data!.keyDirectory;
}

function kid(signing: SigningKeyPair | Uint8Array): string {
  return base64urlEncode(keyIdOf(nodeBackend, 'ed25519', signing instanceof Uint8Array ? signing : signing.publicKey));
}

interface NextKeys {
  signing: SigningKeyPair;
  encryption: EncryptionKeyPair;
}

async function nextKeys(): Promise<NextKeys> {
  return { signing: await generateSigningKeyPair(nodeBackend), encryption: await generateEncryptionKeyPair(nodeBackend) };
}

/** A rotation input as a client builds it: signed by `current` and by the new key. */
async function rotation(username: string, version: number, current: SigningKeyPair, next: NextKeys, realm = REALM): Promise<Rotation> {
  const m: KeyVersionMessageInput = { realm, username, version, previousSigningKey: current.publicKey, signingKey: next.signing.publicKey, encryptionKey: next.encryption.publicKey };
  return {
    version,
    signingKey: base64urlEncode(next.signing.publicKey),
    encryptionKey: base64urlEncode(next.encryption.publicKey),
    signature: base64urlEncode(await signKeyVersion(nodeBackend, m, current.seed, next.signing.seed)),
  };
}

async function rotate(token: string | undefined, input: Rotation) {
  return t.gql<{ rotateIdentityKeys: KeyVersionRecord }>(ROTATE, { i: input }, token);
}

beforeAll(async () => {
  t = await startTestGateway({ authLimits: ROOMY_AUTH_LIMITS });
  alice = await registerAndLogin(t, 'alice');
  bob = await registerAndLogin(t, 'bob');
  mallory = await registerAndLogin(t, 'mallory');
});

afterAll(async () => {
  await t?.close();
});

describe('keyDirectory and keyOwners', () => {
  it('a new user has version 1: the registered keys, signed by registration; the history verifies', async () => {
    const h = (await history('bob'))!;
    expect(h).toMatchObject({ userId: bob.id, username: 'bob' });
    expect(h.versions).toHaveLength(1);
    const v1 = h.versions[0]!;
    expect(v1).toMatchObject({ version: 1, signingKey: base64urlEncode(bob.signing.publicKey), encryptionKey: base64urlEncode(bob.encryption.publicKey), signingKeyId: kid(bob.signing) });
    expect(new Date(v1.createdAt!).toISOString()).toBe(v1.createdAt);
    const verified = await verifyKeyHistory(nodeBackend, REALM, 'bob', h.versions);
    expect(verified.version).toBe(1);
    expect(verified.signingKey).toEqual(bob.signing.publicKey);
    expect(verified.encryptionKey).toEqual(bob.encryption.publicKey);
  });

  it('is null for an unknown user, needs no token', async () => {
    expect(await history('nobody')).toBeNull();
  });

  it('keyOwners names the user and version of each known signing key id and leaves unknown ids out', async () => {
    const unknown = kid(await generateSigningKeyPair(nodeBackend));
    const r = await t.gql<{ keyOwners: unknown[] }>(OWNERS, { ids: [kid(bob.signing), unknown, kid(mallory.signing)] });
    expect(r.errors).toBeUndefined();
    expect(r.data!.keyOwners).toEqual(
      expect.arrayContaining([
        { signingKeyId: kid(bob.signing), userId: bob.id, username: 'bob', version: 1 },
        { signingKeyId: kid(mallory.signing), userId: mallory.id, username: 'mallory', version: 1 },
      ]),
    );
    expect(r.data!.keyOwners).toHaveLength(2);
  });

  it('keyOwners refuses more than 100 ids and ids that are not 16 bytes of base64url', async () => {
    const many = Array.from({ length: 101 }, () => kid(bob.signing));
    expect(codes(await t.gql(OWNERS, { ids: many }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await t.gql(OWNERS, { ids: ['short'] }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await t.gql(OWNERS, { ids: [''] }))).toEqual(['BAD_USER_INPUT']);
  });
});

describe('rotateIdentityKeys', () => {
  it('records version 2 signed by the current key and the new one; login then needs the new key', async () => {
    const user = await registerAndLogin(t, 'rotating');
    const next = await nextKeys();
    const input = await rotation('rotating', 2, user.signing, next);
    const r = await rotate(user.token, input);
    expect(r.errors).toBeUndefined();
    expect(r.data!.rotateIdentityKeys).toMatchObject({ ...input, signingKeyId: kid(next.signing) });

    const h = (await history('rotating'))!;
    expect(h.versions.map((v) => v.version)).toEqual([1, 2]);
    const verified = await verifyKeyHistory(nodeBackend, REALM, 'rotating', h.versions);
    expect(verified.signingKey).toEqual(next.signing.publicKey);
    expect(verified.encryptionKey).toEqual(next.encryption.publicKey);

    // The account's current keys are the new ones.
    const u = await t.gql<{ user: { signingKey: string; encryptionKey: string } }>('query U($u: String!) { user(username: $u) { signingKey encryptionKey } }', { u: 'rotating' });
    expect(u.data!.user).toEqual({ signingKey: input.signingKey, encryptionKey: input.encryptionKey });

    // Login: the new key works, the old one no longer does.
    const token = await login(t, 'rotating', next.signing);
    const me = await t.gql<{ me: { id: string } }>('query { me { id } }', {}, token);
    expect(me.data!.me.id).toBe(user.id);
    await expect(login(t, 'rotating', user.signing)).rejects.toThrow(/LOGIN_FAILED/);

    // Both keys still name their versions (envelopes signed before the rotation).
    const owners = await t.gql<{ keyOwners: { version: number }[] }>(OWNERS, { ids: [kid(user.signing), kid(next.signing)] });
    expect(owners.data!.keyOwners.map((o) => o.version).sort()).toEqual([1, 2]);

    // Version 3, signed by version 2's key, with the new token.
    const third = await nextKeys();
    const r3 = await rotate(token, await rotation('rotating', 3, next.signing, third));
    expect(r3.errors).toBeUndefined();
    expect((await verifyKeyHistory(nodeBackend, REALM, 'rotating', (await history('rotating'))!.versions)).version).toBe(3);
  });

  it('sending the same rotation again returns the stored version (a lost answer can be retried)', async () => {
    const user = await registerAndLogin(t, 'retrying');
    const input = await rotation('retrying', 2, user.signing, await nextKeys());
    expect((await rotate(user.token, input)).errors).toBeUndefined();
    const again = await rotate(user.token, input);
    expect(again.errors).toBeUndefined();
    expect(again.data!.rotateIdentityKeys.version).toBe(2);
    expect((await history('retrying'))!.versions).toHaveLength(2);
  });

  it('a signature that is not by the current key and the new one is BAD_KEY_SIGNATURE, and nothing changes', async () => {
    const next = await nextKeys();
    const good = await rotation('alice', 2, alice.signing, next);
    const m = { realm: REALM, username: 'alice', version: 2, previousSigningKey: alice.signing.publicKey, signingKey: next.signing.publicKey, encryptionKey: next.encryption.publicKey };
    const byPrevious = await nodeBackend.ed25519Sign(alice.signing.seed, keyVersionMessage(m));
    const byNew = await nodeBackend.ed25519Sign(next.signing.seed, keyVersionMessage(m));
    const bad: Rotation[] = [
      // By bob's key instead of alice's current one.
      await rotation('alice', 2, bob.signing, next),
      // Alice's key alone: the new key's holder did not sign (proof of possession).
      { ...good, signature: base64urlEncode(new Uint8Array([...byPrevious, ...byPrevious])) },
      // Both signatures, in the wrong order.
      { ...good, signature: base64urlEncode(new Uint8Array([...byNew, ...byPrevious])) },
      // Over another realm.
      await rotation('alice', 2, alice.signing, next, 'other-realm'),
    ];
    for (const input of bad) expect(codes(await rotate(alice.token, input))).toEqual(['BAD_KEY_SIGNATURE']);
    // Over version 3 but sent as version 2.
    const forV3 = await rotation('alice', 3, alice.signing, next);
    expect(codes(await rotate(alice.token, { ...forV3, version: 2 }))).toEqual(['BAD_KEY_SIGNATURE']);
    expect((await history('alice'))!.versions).toHaveLength(1);
  });

  it('the version must be the current one + 1: later is BAD_USER_INPUT, taken is CONFLICT', async () => {
    const user = await registerAndLogin(t, 'versions');
    expect(codes(await rotate(user.token, await rotation('versions', 3, user.signing, await nextKeys())))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await rotate(user.token, { ...(await rotation('versions', 2, user.signing, await nextKeys())), version: 1 }))).toEqual(['BAD_USER_INPUT']);
    const first = await nextKeys();
    expect((await rotate(user.token, await rotation('versions', 2, user.signing, first))).errors).toBeUndefined();
    // A stale client (another device rotated first) signs version 2 again with other keys.
    expect(codes(await rotate(user.token, await rotation('versions', 2, user.signing, await nextKeys())))).toEqual(['CONFLICT']);
    const h = (await history('versions'))!;
    expect(h.versions.map((v) => v.signingKey)).toEqual([base64urlEncode(user.signing.publicKey), base64urlEncode(first.signing.publicKey)]);
  });

  it('of two concurrent rotations to version 2 one wins, the other is CONFLICT', async () => {
    const user = await registerAndLogin(t, 'racing');
    const [a, b] = await Promise.all([rotation('racing', 2, user.signing, await nextKeys()), rotation('racing', 2, user.signing, await nextKeys())]);
    const results = await Promise.all([rotate(user.token, a), rotate(user.token, b)]);
    expect(results.map((r) => codes(r)[0] ?? 'OK').sort()).toEqual(['CONFLICT', 'OK']);
    expect((await history('racing'))!.versions).toHaveLength(2);
  });

  it('acts for the token’s user only: someone else’s signed rotation does not apply to the viewer', async () => {
    // Alice's rotation statement replayed with Mallory's token: it is checked against
    // Mallory's name and current key, and fails.
    const alicesRotation = await rotation('alice', 2, alice.signing, await nextKeys());
    expect(codes(await rotate(mallory.token, alicesRotation))).toEqual(['BAD_KEY_SIGNATURE']);
    expect((await history('alice'))!.versions).toHaveLength(1);
    expect((await history('mallory'))!.versions).toHaveLength(1);
    // Mallory naming Bob's signing key as her next version: Bob's signature is missing.
    const bobsKey = { signing: { ...bob.signing, seed: (await generateSigningKeyPair(nodeBackend)).seed }, encryption: mallory.encryption };
    expect(codes(await rotate(mallory.token, await rotation('mallory', 2, mallory.signing, bobsKey)))).toEqual(['BAD_KEY_SIGNATURE']);
  });

  it('refuses a signing key already in the directory, even one the user holds', async () => {
    const user = await registerAndLogin(t, 'reusing');
    const next = await nextKeys();
    expect((await rotate(user.token, await rotation('reusing', 2, user.signing, next))).errors).toBeUndefined();
    // Back to version 1's key (its holder signs, so only the directory rule refuses it).
    const back = await rotation('reusing', 3, next.signing, { signing: user.signing, encryption: await generateEncryptionKeyPair(nodeBackend) });
    expect(codes(await rotate(user.token, back))).toEqual(['BAD_USER_INPUT']);
    expect((await history('reusing'))!.versions).toHaveLength(2);
  });

  it('refuses unacceptable keys and malformed input with BAD_USER_INPUT', async () => {
    const good = await rotation('alice', 2, alice.signing, await nextKeys());
    const smallOrderEd25519 = base64urlEncode(new Uint8Array([1, ...new Uint8Array(31)])); // the identity point
    const lowOrderX25519 = base64urlEncode(new Uint8Array(32)); // u = 0
    for (const input of [
      { ...good, signingKey: smallOrderEd25519 },
      { ...good, encryptionKey: lowOrderX25519 },
      { ...good, signingKey: 'not base64url' },
      { ...good, encryptionKey: base64urlEncode(new Uint8Array(31)) },
      { ...good, signature: base64urlEncode(new Uint8Array(64)) },
    ]) {
      expect(codes(await rotate(alice.token, input))).toEqual(['BAD_USER_INPUT']);
    }
    expect((await history('alice'))!.versions).toHaveLength(1);
  });

  it('needs a token', async () => {
    const input = await rotation('alice', 2, alice.signing, await nextKeys());
    expect(codes(await rotate(undefined, input))).toEqual(['UNAUTHENTICATED']);
  });
});
