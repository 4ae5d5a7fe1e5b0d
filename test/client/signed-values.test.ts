// Signed SHARED values through the privacy link, against the real gateway on a real SQLite
// file. A signed envelope's signerKeyId is bound by the AEAD, so any holder of the data key
// (a READ grantee too) can name anyone as its writer; the gateway checks writers, but a
// value that reaches the reader some other way (written into the database, a gateway
// that lies) must not be attributed. The link checks every signed value against the key
// directory by default and reports the verified signer, or a per-field error:
//
// - Bob, a READ grantee of Alice's profile, seals a bio naming Carol as signer (signed with
//   his own key) and puts it into the database: SIGNATURE_INVALID;
// - a bio signed by a key nobody registered: SIGNER_UNKNOWN;
// - a bio signed by a key the server claims is Dave's (a forged row in his key history):
//   SIGNER_UNKNOWN (Dave's history does not verify with it);
// - a correctly signed value: its writer, verified; every other field still opens.
//
// And the cost: signers are looked up in the directory once per result and cached; reading
// the same values again costs no directory request and no signature verification.
import { ApolloClient, CombinedGraphQLErrors, InMemoryCache, type TypedDocumentNode } from '@apollo/client';
import { ApolloLink } from '@apollo/client/link';
import { HttpLink } from '@apollo/client';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { parse } from 'graphql';
import { map, tap } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CryptoBackend } from '../../src/crypto/backend.js';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { base64urlEncode } from '../../src/crypto/base64url.js';
import { envelopeToText, sealSignedEnvelope } from '../../src/crypto/envelope.js';
import { generateSigningKeyPair, type SigningKeyPair } from '../../src/crypto/keys.js';
import { createPrivacyLink } from '../../src/client/link.js';
import type { SignedField } from '../../src/client/open.js';
import type { DirectoryTransport } from '../../src/client/directory.js';
import { referenceSchema } from '../helpers/reference-schema.js';
import { ROOMY_AUTH_LIMITS, canary, newObjectId, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { linkUser, type LinkUser } from '../helpers/link-user.js';
import { snapshotTables } from '../helpers/sqlite-snapshot.js';

type Doc = TypedDocumentNode<Record<string, unknown>, Record<string, unknown>>;
const built = referenceSchema();
const CREATE = parse('mutation C($i: CreateProfileInput!) { createProfile(input: $i) { id } }') as Doc;
const UPDATE = parse('mutation U($id: ID!, $i: UpdateProfileInput!) { updateProfile(id: $id, input: $i) { id } }') as Doc;
const READ = parse('query R($id: ID!) { profile(id: $id) { id displayName bio diary } }') as Doc;
const LIST = parse('query L { profiles(first: 100) { nodes { id displayName bio } } }') as Doc;

let t: TestGateway;
let alice: LinkUser;
let bob: LinkUser;
let carol: LinkUser;
let dave: LinkUser;
const profileOf = new Map<string, string>();
const bios = new Map<string, string>();

/** What Alice's client does: counted asymmetric verifications and directory requests. */
const counts = { verify: 0, keyOwners: [] as string[][], keyHistory: [] as string[] };
const countingBackend: CryptoBackend = {
  ...nodeBackend,
  ed25519Verify: (...a) => (counts.verify++, nodeBackend.ed25519Verify(...a)),
};
const countingDirectory = (d: DirectoryTransport): DirectoryTransport => ({
  keyHistory: (u) => (counts.keyHistory.push(u), d.keyHistory(u)),
  keyOwners: (ids) => (counts.keyOwners.push([...ids]), d.keyOwners(ids)),
});
function resetCounts(): void {
  counts.verify = 0;
  counts.keyOwners = [];
  counts.keyHistory = [];
}

interface Read {
  readonly data: Record<string, unknown> | undefined;
  /** `path:code` of every error. */
  readonly errors: string[];
  readonly signers: SignedField[];
}

/** A query through `client` (the user's, or one built on another link), with what the link reported. */
async function read(client: ApolloClient, query: Doc, variables: Record<string, unknown> = {}): Promise<Read> {
  const signers: SignedField[] = [];
  const watch = new ApolloLink((op, forward) => forward(op).pipe(tap((r) => signers.push(...((r.extensions?.veilgraphSigners as SignedField[] | undefined) ?? [])))));
  const watched = new ApolloClient({ link: ApolloLink.from([watch, client.link]), cache: new InMemoryCache() });
  const r = await watched.query({ query, variables, fetchPolicy: 'network-only', errorPolicy: 'all' });
  const errors = CombinedGraphQLErrors.is(r.error) ? r.error.errors.map((e) => `${(e.path ?? []).join('.')}:${String(e.extensions?.code)}`) : [];
  return { data: r.data as Record<string, unknown> | undefined, errors, signers };
}

function profileIn(r: Read): Record<string, unknown> {
  return r.data!.profile as Record<string, unknown>;
}

async function write(user: LinkUser, doc: Doc, variables: Record<string, unknown>): Promise<void> {
  const r = await user.client.mutate({ mutation: doc, variables, errorPolicy: 'all' });
  if (!r.data) throw r.error ?? new Error('no data');
}

/** Alice's bio, sealed under her profile's current data key as Bob (a READ grantee) holds it. */
async function sealedByBob(text: string, signer: SigningKeyPair): Promise<string> {
  const id = profileOf.get(alice.userId)!;
  const key = await bob.keys.currentKey('Profile', id, alice.userId);
  if (!key) throw new Error('Bob holds no key of the profile');
  return envelopeToText(await sealSignedEnvelope(nodeBackend, key, { coordinate: 'Profile.bio', ownerId: alice.userId, objectId: id }, JSON.stringify(text), signer));
}

/** Writes straight into the database file, past the gateway (a stolen or altered database). */
function intoDatabase(sql: string, ...params: unknown[]): void {
  const db = new Database(join(t.dataDir, 'veilgraph.db'));
  try {
    db.prepare(sql).run(...params);
  } finally {
    db.close();
  }
}

function setAliceBio(envelopeText: string): void {
  intoDatabase('UPDATE "Profile" SET "bio" = ? WHERE "id" = ?', envelopeText, profileOf.get(alice.userId));
}

beforeAll(async () => {
  t = await startTestGateway({ authLimits: ROOMY_AUTH_LIMITS });
  const options = { schema: built.source, manifest: built.manifest };
  alice = await linkUser(t.gateway.url, 'sig_alice', { ...options, backend: countingBackend, directoryTransport: countingDirectory });
  bob = await linkUser(t.gateway.url, 'sig_bob', options);
  // Carol writes into Alice's profile as a WRITE grantee: her values are sealed for Alice's profile.
  carol = await linkUser(t.gateway.url, 'sig_carol', {
    ...options,
    locationFor: (type, path, _value, ctx) => (type === 'UpdateProfileInput' && ctx.arguments.id === profileOf.get(alice.userId) ? { ownerId: alice.userId, objectId: ctx.arguments.id as string } : undefined),
  });
  dave = await linkUser(t.gateway.url, 'sig_dave', options);
  for (const u of [alice, bob, carol, dave]) {
    const id = newObjectId();
    profileOf.set(u.userId, id);
    bios.set(u.userId, canary(`bio-${u.username}`));
    await write(u, CREATE, { i: { id, displayName: u.username, bio: bios.get(u.userId), diary: canary('diary') } });
  }
  await alice.sharing.grant('Profile', profileOf.get(alice.userId)!, bob.username, 'READ');
  await alice.sharing.grant('Profile', profileOf.get(alice.userId)!, carol.username, 'WRITE');
  for (const u of [bob, carol, dave]) await u.sharing.grant('Profile', profileOf.get(u.userId)!, alice.username, 'READ');
  // Carol writes Alice's bio.
  bios.set(alice.userId, canary('bio-by-carol'));
  await write(carol, UPDATE, { id: profileOf.get(alice.userId), i: { bio: bios.get(alice.userId) } });
}, 120_000);

afterAll(async () => {
  await t?.close();
});

describe('signed values through the privacy link', () => {
  it('correctly signed values open with their writer, verified; signers are looked up once per result and cached', async () => {
    resetCounts();
    const r = await read(alice.client, LIST);
    expect(r.errors).toEqual([]);
    const nodes = (r.data!.profiles as { nodes: { id: string; bio: string }[] }).nodes;
    const writerOf = new Map([[profileOf.get(alice.userId), carol], ...[bob, carol, dave].map((u) => [profileOf.get(u.userId), u] as const)]);
    expect(nodes).toHaveLength(4);
    for (const [i, n] of nodes.entries()) {
      const owner = [alice, bob, carol, dave].find((u) => profileOf.get(u.userId) === n.id)!;
      expect(n.bio).toBe(bios.get(owner.userId));
      const signer = r.signers.find((s) => s.path.join('.') === `profiles.nodes.${i}.bio`);
      expect(signer, `the signer of ${owner.username}'s bio`).toMatchObject({ coordinate: 'Profile.bio', userId: writerOf.get(n.id)!.userId, username: writerOf.get(n.id)!.username, keyVersion: 1 });
      expect(signer!.signerKeyId).toBe(base64urlEncode(writerOf.get(n.id)!.signing.keyId));
    }
    expect(r.signers).toHaveLength(4);
    // Bob and Carol were verified when Alice granted them: only Dave's key was unknown, and
    // the directory was asked once for it, whatever the number of values.
    expect(counts.keyOwners).toEqual([[base64urlEncode(dave.signing.keyId)]]);
    expect(counts.keyHistory).toEqual([dave.username]);
    expect(counts.verify).toBeGreaterThanOrEqual(4);

    // The same values again: no directory request, no signature verification.
    resetCounts();
    const again = await read(alice.client, LIST);
    expect(again.signers).toEqual(r.signers);
    expect(counts).toEqual({ verify: 0, keyOwners: [], keyHistory: [] });

    // A new value of a known writer: one verification, no directory request.
    bios.set(alice.userId, canary('bio-by-carol-2'));
    await write(carol, UPDATE, { id: profileOf.get(alice.userId), i: { bio: bios.get(alice.userId) } });
    resetCounts();
    const one = await read(alice.client, READ, { id: profileOf.get(alice.userId) });
    expect(profileIn(one).bio).toBe(bios.get(alice.userId));
    expect(one.signers).toMatchObject([{ path: ['profile', 'bio'], userId: carol.userId, username: carol.username }]);
    expect(counts).toEqual({ verify: 1, keyOwners: [], keyHistory: [] });
  });

  it("a READ grantee's envelope naming another signer, put into the database: SIGNATURE_INVALID for that field, everything else opens", async () => {
    // Bob holds the data key: the AEAD accepts Carol's key id in the header; only the
    // signature (his own) gives him away.
    const forged = await sealedByBob('written by carol, honestly', { ...bob.signing, keyId: carol.signing.keyId, publicKey: carol.signing.publicKey });
    // Through the gateway, Carol's signature is required of Carol: Bob's write is refused
    // (he may not write at all) and so is Carol's own request carrying it; nothing changes.
    const before = snapshotTables(t.dataDir, ['Profile']);
    const viaGateway = await t.gql('mutation U($id: ID!, $i: UpdateProfileInput!) { updateProfile(id: $id, input: $i) { id } }', { id: profileOf.get(alice.userId), i: { bio: forged } }, carol.token);
    expect(viaGateway.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_SIGNATURE']);
    expect(snapshotTables(t.dataDir, ['Profile'])).toEqual(before);
    setAliceBio(forged);

    for (const reader of [alice, bob]) {
      const r = await read(reader.client, READ, { id: profileOf.get(alice.userId) });
      expect(profileIn(r).bio, `${reader.username} gets no value`).toBeNull();
      expect(profileIn(r).displayName).toBe(alice.username);
      expect(r.errors.filter((e) => e.startsWith('profile.bio:'))).toEqual(['profile.bio:SIGNATURE_INVALID']);
      expect(r.signers).toEqual([]);
    }
    // Alice's own PRIVATE diary, in the same result, still opens.
    const mine = await read(alice.client, READ, { id: profileOf.get(alice.userId) });
    expect(typeof profileIn(mine).diary).toBe('string');
    expect(mine.errors).toEqual(['profile.bio:SIGNATURE_INVALID']);
    // In a list, only that one field fails; the other profiles' values and signers are there.
    const list = await read(alice.client, LIST);
    const nodes = (list.data!.profiles as { nodes: { id: string; bio: string | null }[] }).nodes;
    const at = nodes.findIndex((n) => n.id === profileOf.get(alice.userId));
    expect(list.errors).toEqual([`profiles.nodes.${at}.bio:SIGNATURE_INVALID`]);
    expect(nodes.filter((n) => n.bio !== null)).toHaveLength(3);
    expect(list.signers.map((s) => s.username).sort()).toEqual([bob.username, carol.username, dave.username]);

    // The explicit opt-out opens it and attributes it to no one.
    const unverified = new ApolloClient({
      link: ApolloLink.from([
        createPrivacyLink({ schema: built.source, manifest: built.manifest, keys: alice.keys, backend: nodeBackend, directory: 'unverified', viewerId: () => alice.userId }),
        new HttpLink({ uri: t.gateway.url, headers: { authorization: `Bearer ${alice.token}` } }),
      ]),
      cache: new InMemoryCache(),
    });
    const opted = await read(unverified, READ, { id: profileOf.get(alice.userId) });
    expect(profileIn(opted).bio).toBe('written by carol, honestly');
    expect(opted.signers).toEqual([]);
  });

  it('signed by a key nobody registered: SIGNER_UNKNOWN', async () => {
    const stranger = await generateSigningKeyPair(nodeBackend);
    setAliceBio(await sealedByBob('signed by a stranger', stranger));
    resetCounts();
    const r = await read(alice.client, READ, { id: profileOf.get(alice.userId) });
    expect(profileIn(r).bio).toBeNull();
    expect(r.errors).toEqual(['profile.bio:SIGNER_UNKNOWN']);
    expect(r.signers).toEqual([]);
    // The directory was asked, and no signature was verified against a key it did not vouch for.
    expect(counts.keyOwners).toEqual([[base64urlEncode(stranger.keyId)]]);
    expect(counts.verify).toBe(0);
  });

  it("signed by a key the server claims is Dave's (a forged version in his key history): SIGNER_UNKNOWN", async () => {
    const planted = await generateSigningKeyPair(nodeBackend);
    // A version 2 for Dave that he never signed: the server will name Dave as the owner.
    intoDatabase(
      'INSERT INTO "UserKey" ("userId", "version", "signingKey", "signingKeyId", "encryptionKey", "signature", "reset", "createdAt") VALUES (?, 2, ?, ?, ?, ?, 0, ?)',
      dave.userId,
      Buffer.from(planted.publicKey),
      base64urlEncode(planted.keyId),
      Buffer.from(nodeBackend.randomBytes(32)),
      Buffer.from(nodeBackend.randomBytes(128)),
      Date.now(),
    );
    const owners = await t.gql<{ keyOwners: { username: string }[] }>('query K($ids: [String!]!) { keyOwners(signingKeyIds: $ids) { username } }', { ids: [base64urlEncode(planted.keyId)] });
    expect(owners.data!.keyOwners.map((o) => o.username)).toEqual([dave.username]);
    setAliceBio(await sealedByBob('signed by "dave"', planted));
    for (const reader of [alice, bob]) {
      const r = await read(reader.client, READ, { id: profileOf.get(alice.userId) });
      expect(profileIn(r).bio).toBeNull();
      expect(r.errors.filter((e) => e.startsWith('profile.bio:'))).toEqual(['profile.bio:SIGNER_UNKNOWN']);
      expect(r.signers).toEqual([]);
    }
  });
  it('writers named by the server in extensions.veilgraphSigners are never passed on: only the link names a writer', async () => {
    // A gateway that lies (or anyone on the wire) adds its own list of writers to a result.
    const forged: SignedField[] = [{ path: ['profile', 'displayName'], coordinate: 'Profile.displayName', signerKeyId: 'AAAAAAAAAAAAAAAAAAAAAA', userId: bob.userId, username: bob.username, keyVersion: 1 }];
    const lying = new ApolloLink((op, forward) => forward(op).pipe(map((r) => ({ ...r, extensions: { ...r.extensions, veilgraphSigners: forged } }))));
    const client = new ApolloClient({
      link: ApolloLink.from([
        createPrivacyLink({ schema: built.source, manifest: built.manifest, keys: alice.keys, backend: nodeBackend, directory: alice.directory, viewerId: () => alice.userId }),
        lying,
        new HttpLink({ uri: t.gateway.url, headers: { authorization: `Bearer ${alice.token}` } }),
      ]),
      cache: new InMemoryCache(),
    });
    // No signed value in the result (PUBLIC fields only): no writer at all.
    const plain = await read(client, parse('query P($id: ID!) { profile(id: $id) { id displayName } }') as Doc, { id: profileOf.get(alice.userId) });
    expect(plain.errors).toEqual([]);
    expect(plain.signers).toEqual([]);
    // A signed value: its verified writer only, never the server's list.
    setAliceBio(await sealedByBob('written by bob, signed by bob', bob.signing));
    const signed = await read(client, READ, { id: profileOf.get(alice.userId) });
    expect(profileIn(signed).bio).toBe('written by bob, signed by bob');
    expect(signed.signers.map((x) => [x.path.join('.'), x.username])).toEqual([['profile.bio', bob.username]]);
  });
});
