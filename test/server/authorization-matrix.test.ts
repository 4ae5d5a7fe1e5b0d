// The authorization matrix (issue 5): every Query, Mutation and Subscription field of the
// reference schema and of a schema author's type served beside it (the Journal of
// examples/journal-yoga: its SDL, resolvers, TypeAdapter and better-sqlite3 store, as its
// author wrote them), called by Mallory — signed in, but neither the owner of Alice's data,
// nor a grantee, nor a contact — against Alice's data, and once more without a token.
//
// The list of fields is generated from the schema the gateway serves, and the selection
// set of each call from the field's return type (every leaf, nested objects two levels
// deep), so a new root field fails this test until it has a row in CASES below, and a new
// field of a returned type is read too. Each answer must be the documented outcome and
// must teach Mallory nothing: none of Alice's SERVER/SHARED/PRIVATE plaintexts, stored
// envelopes, or wrapped data keys (hers or her grantee Bob's) appears anywhere in it, and
// no stored row changed, in the gateway's tables or the journal's own SQLite file (rows
// naming Mallory may change only when the outcome is SELF).
//
// The outcomes (the justification of each non-FORBIDDEN row is the documented behaviour,
// repeated in docs/sharing.md, "Authorization matrix"):
//   FORBIDDEN        one FORBIDDEN error on the field, no data
//   NOT_FOUND        one NOT_FOUND error: the API answers "nothing of yours by that name"
//   CONFLICT         one CONFLICT error: the id is taken (it was never Mallory's to use)
//   EMPTY            null or an empty list: the field only ever answers with the viewer's rows
//   PUBLIC_ONLY      Alice's object, PUBLIC fields only, a FORBIDDEN path error per other field
//   SELF             the field acts on the token's user only: the answer is Mallory's own data
//   PUBLIC_DIRECTORY deliberately public data (usernames, public keys), never a protected field
//   SIGN_IN          the sign-in path, the same with or without a token; acts on no session
// In every answer, any protected field of an object Mallory does not own must be null with
// a FORBIDDEN error at its path (and a field of her own object must not be).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FormattedExecutionResult } from 'graphql';
import { getNamedType, isLeafType, isNonNullType, isUnionType, type GraphQLField, type GraphQLObjectType, type GraphQLOutputType } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loginMessage, registrationMessage } from '../../src/crypto/auth-messages.js';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { base64urlDecode, base64urlEncode } from '../../src/crypto/base64url.js';
import { signKeyVersion } from '../../src/crypto/key-directory.js';
import { generateEncryptionKeyPair, generateSigningKeyPair, generateSymmetricKey, keyIdOf, type SymmetricKey } from '../../src/crypto/keys.js';
import { wrapKey, wrappedKeyToText } from '../../src/crypto/wrap.js';
import { buildSchema } from '../../src/server/schema.js';
import { exampleDir, linkVeilgraph } from '../helpers/examples.js';
import { referenceSdl } from '../helpers/reference-schema.js';
import { canary, grantAccess, newObjectId, registerAndLogin, seal, sealSigned, startTestGateway, storeDataKey, wrappedFor, type GqlResponse, type TestGateway, type TestUser, ROOMY_AUTH_LIMITS } from '../helpers/gateway.js';
import { readTables, snapshotTables } from '../helpers/sqlite-snapshot.js';
import { backupInput, backupKeys, bundleFor, newDevice, registerWithDevice, PUT_BACKUP, PUT_BUNDLE, type BackupKeys, type DeviceUser, type TestDevice } from '../helpers/devices.js';
import { deviceMessage, recoverMessage, resetMessage } from '../../src/crypto/account-messages.js';

// The example imports veilgraph as `veilgraph/*` only: linked first (as its `npm install`
// does), then imported.
linkVeilgraph('journal-yoga');
const { journalResolvers } = await import('../../examples/journal-yoga/src/resolvers.js');
const { journalAdapter } = await import('../../examples/journal-yoga/src/adapter.js');
const { JournalStore } = await import('../../examples/journal-yoga/src/store.js');
const JOURNAL_SDL = readFileSync(join(exampleDir('journal-yoga'), 'schema.graphql'), 'utf8');

type Outcome = 'FORBIDDEN' | 'NOT_FOUND' | 'CONFLICT' | 'EMPTY' | 'PUBLIC_ONLY' | 'SELF' | 'PUBLIC_DIRECTORY' | 'SIGN_IN';
type Args = Record<string, unknown>;
type Json = Record<string, unknown>;

/** Everything the cases refer to; built in beforeAll. */
interface World {
  readonly t: TestGateway;
  /** Alice has a device, a key bundle, a PASSWORD backup and a device waiting for approval. */
  readonly alice: DeviceUser;
  readonly alicePending: TestDevice;
  readonly aliceBackup: BackupKeys;
  readonly bob: TestUser;
  readonly carol: TestUser;
  readonly dave: TestUser;
  /** Mallory has a device and a key bundle of her own. */
  readonly mallory: DeviceUser;
  readonly aliceProfile: string;
  readonly aliceEmail: string;
  readonly malloryProfile: string;
  /** A data key Mallory made up, to try to store or hand out for Alice's profile. */
  readonly malloryKey: SymmetricKey;
  /** Alice and Bob's conversation, with one message from Alice. */
  readonly aliceConversation: string;
  readonly aliceMessageSeq: string;
  /** Alice's journal (a canary at every level; Bob a READ grantee) and its PUBLIC title. */
  readonly aliceJournal: string;
  readonly aliceJournalTitle: string;
  /** Its mood (SERVER, searchable), written through createJournal. */
  readonly aliceMood: string;
  /** Mallory has a journal of her own, with another mood. */
  readonly malloryJournal: string;
  /** The journal example's own SQLite file. */
  readonly journalDb: string;
}

interface Expectation {
  readonly outcome: Outcome;
  /** Why the outcome is not FORBIDDEN: the documented behaviour. */
  readonly why?: string;
  /** SIGN_IN: the error code when the attempt must fail (absent: it succeeds). */
  readonly code?: string;
  /** What the field's value must show (SELF, PUBLIC_ONLY, PUBLIC_DIRECTORY, SIGN_IN). */
  readonly check?: (value: Json, w: World, args: Args) => void;
}

interface Case extends Expectation {
  /** Mallory's arguments against Alice's data: one set, or several that all give `outcome`. */
  readonly args: (w: World) => Args | Args[] | Promise<Args | Args[]>;
  /** Puts a SELF mutation's change back, so every case starts from the same state. */
  readonly undo?: (w: World) => Promise<void>;
  /** Without a token: UNAUTHENTICATED unless this says otherwise. */
  readonly anonymous?: Expectation;
  /** Subscriptions: resolves once the subscription is registered, then `trigger` makes an event. */
  readonly ready?: (w: World) => Promise<void>;
  readonly trigger?: (w: World) => Promise<void>;
}

/** Alice's journal as anyone may see it: id, author and title. */
const journalOf = (v: Json, w: World): void => expect(v).toMatchObject({ id: w.aliceJournal, authorId: w.alice.id, title: w.aliceJournalTitle });
const usernames = (nodes: unknown): string[] => (nodes as { user: { username: string } }[]).map((n) => n.user.username).sort();

/** `_veilgraph` on each root type: the same constant for anyone, naming no one (the client link's enforcement check). */
function veilgraphInfo(): Case {
  const check = (v: Json): void => expect(v).toEqual({ protocol: 1, enforced: true });
  return {
    outcome: 'PUBLIC_DIRECTORY',
    why: 'what the server is (protocol 1, enforced), the same for everyone: the client link asks before it has signed in',
    args: () => ({}),
    check,
    anonymous: { outcome: 'PUBLIC_DIRECTORY', why: 'public: asked before signing in', check },
  };
}

// ---------------------------------------------------------------------------------------
// The case table: one row per root field, keyed `Type.field`.
// ---------------------------------------------------------------------------------------
const CASES: Record<string, Case> = {
  // --- veilgraph's root types (src/server/veilgraph.graphql) ---
  'Query._veilgraph': veilgraphInfo(),
  'Mutation._veilgraph': veilgraphInfo(),
  'Subscription._veilgraph': veilgraphInfo(),

  // --- auth (src/server/services/sign-in/auth.graphql) ---
  'Query.me': {
    outcome: 'SELF',
    why: 'the signed-in user is the token holder; there is no argument to name anyone else',
    args: () => ({}),
    check: (v, w) => expect(v).toMatchObject({ id: w.mallory.id, username: w.mallory.username }),
    anonymous: { outcome: 'EMPTY', why: 'documented: null when not signed in' },
  },
  'Query.user': {
    outcome: 'PUBLIC_DIRECTORY',
    why: 'usernames and public keys are public (the sign-in path and key exchange need them); the nested profile shows PUBLIC fields only',
    args: (w) => ({ username: w.alice.username }),
    check: (v, w) => expect(v).toMatchObject({ id: w.alice.id, username: w.alice.username, signingKey: base64urlEncode(w.alice.signing.publicKey) }),
    anonymous: {
      outcome: 'PUBLIC_DIRECTORY',
      why: 'public without a token, like the key directory; the nested profile shows PUBLIC fields only',
      check: (v, w) => expect(v).toMatchObject({ id: w.alice.id }),
    },
  },
  'Mutation.register': {
    outcome: 'SIGN_IN',
    why: 'creates a new account or fails; never acts on the token; a taken username is USERNAME_TAKEN (usernames are public anyway)',
    code: 'USERNAME_TAKEN',
    args: async (w) => ({ input: await registration(w.alice.username) }),
    anonymous: { outcome: 'SIGN_IN', why: 'the sign-in path', code: 'USERNAME_TAKEN' },
  },
  'Mutation.challenge': {
    outcome: 'SIGN_IN',
    why: 'a stateless challenge of the same shape for any username, real or not; it opens nothing by itself',
    args: (w) => ({ username: w.alice.username }),
    check: (v) => expect(v.challenge).toMatch(/^[A-Za-z0-9_-]{40,}$/),
    anonymous: { outcome: 'SIGN_IN', why: 'the sign-in path', check: (v) => expect(v.challenge).toMatch(/^[A-Za-z0-9_-]{40,}$/) },
  },
  'Mutation.login': {
    outcome: 'SIGN_IN',
    why: "signing Alice's challenge with any key but hers is LOGIN_FAILED, like an unknown user",
    code: 'LOGIN_FAILED',
    args: async (w) => ({ username: w.alice.username, ...(await loginAttempt(w, w.alice.username)) }),
    anonymous: { outcome: 'SIGN_IN', why: 'the sign-in path', code: 'LOGIN_FAILED' },
  },

  // --- contacts (src/server/services/directory/contacts.graphql) ---
  'Query.users': {
    outcome: 'PUBLIC_DIRECTORY',
    why: 'signed-in users find each other by username prefix; users are public, nested profiles PUBLIC fields only',
    args: (w) => ({ prefix: w.alice.username }),
    check: (v, w) => expect((v.nodes as Json[]).map((u) => u.id)).toContain(w.alice.id),
  },
  'Query.contacts': {
    outcome: 'SELF',
    why: "the token's user's contacts only (Mallory's: Dave), never Alice's (Bob)",
    args: () => ({}),
    check: (v) => expect(usernames(v.nodes)).toEqual(['dave']),
  },
  'Query.contactRequests': {
    outcome: 'SELF',
    why: "the token's user's requests only (Mallory's: from Carol, to Bob), never Alice's (to Carol)",
    args: () => [{ direction: 'INCOMING' }, { direction: 'OUTGOING' }],
    check: (v, _w, a) => expect(usernames(v.nodes)).toEqual(a.direction === 'INCOMING' ? ['carol'] : ['bob']),
  },
  'Mutation.requestContact': {
    outcome: 'SELF',
    why: 'the request is always from the token user: it creates Mallory → Alice, pending until Alice answers; Alice’s contacts are untouched',
    args: (w) => ({ username: w.alice.username }),
    check: (v, w) => expect(v).toMatchObject({ outcome: 'REQUESTED', user: { id: w.alice.id }, request: { direction: 'OUTGOING' }, contact: null }),
    undo: async (w) => ok(await w.t.gql('mutation C($u: String!) { cancelContactRequest(username: $u) }', { u: w.alice.username }, w.mallory.token)),
  },
  'Mutation.acceptContact': {
    outcome: 'NOT_FOUND',
    why: "acts on requests sent to the token's user only: Alice's request to Carol is not Mallory's to accept",
    args: (w) => ({ username: w.alice.username }),
  },
  'Mutation.rejectContact': {
    outcome: 'NOT_FOUND',
    why: "acts on requests sent to the token's user only: Alice's request to Carol is not Mallory's to reject",
    args: (w) => ({ username: w.alice.username }),
  },
  'Mutation.cancelContactRequest': {
    outcome: 'NOT_FOUND',
    why: "acts on requests the token's user sent only: Alice's request to Carol is not Mallory's to withdraw",
    args: (w) => [{ username: w.carol.username }, { username: w.alice.username }],
  },
  'Mutation.removeContact': {
    outcome: 'NOT_FOUND',
    why: "acts on the token's user's contacts only: Alice–Bob is not Mallory's to end",
    args: (w) => [{ username: w.bob.username }, { username: w.alice.username }],
  },

  // --- devices, key bundle, backups (src/server/services/sign-in/devices.graphql) ---
  'Query.myDevices': {
    outcome: 'SELF',
    why: "the token user's devices only (Mallory's one device), never Alice's",
    args: () => ({}),
    check: (v, w) => expect((v as unknown as Json[]).map((d) => d.id)).toEqual([w.mallory.device.id]),
  },
  'Query.myKeyBundle': {
    outcome: 'SELF',
    why: "the token user's bundle only (Mallory's), never Alice's",
    args: () => ({}),
    check: (v) => expect(v.revision).toBeGreaterThanOrEqual(1),
  },
  'Query.myBackups': {
    outcome: 'SELF',
    why: "the token user's backups only: Mallory has none, Alice's PASSWORD backup is not listed",
    args: () => ({}),
    check: (v) => expect(v).toEqual([]),
  },
  'Query.staleWrappedKeys': {
    outcome: 'SELF',
    why: "keys addressed to the token user only: Mallory has none, and Alice's and Bob's are not hers",
    args: () => ({ first: 500 }),
    check: (v) => expect(v).toEqual({ dataKeys: [], epochKeys: [] }),
  },
  'Query.backupParameters': {
    outcome: 'PUBLIC_DIRECTORY',
    why: 'KDF parameters are public (a restoring client needs them before it can derive anything); they open nothing without the password',
    args: (w) => ({ username: w.alice.username, kind: 'PASSWORD' }),
    check: (v, w) => expect(v).toEqual(w.aliceBackup.kdf),
    anonymous: { outcome: 'PUBLIC_DIRECTORY', why: 'public: a restoring device has no session yet', check: (v, w) => expect(v).toEqual(w.aliceBackup.kdf) },
  },
  'Query.deviceLinkStatus': {
    outcome: 'PUBLIC_DIRECTORY',
    why: 'the waiting device polls it without a session; a device id is 128 random bits, known only to that device and the account',
    args: (w) => ({ deviceId: w.alicePending.id }),
    check: (v) => expect(v).toBe('PENDING'),
    anonymous: { outcome: 'PUBLIC_DIRECTORY', why: 'public: the waiting device has no session', check: (v) => expect(v).toBe('PENDING') },
  },
  'Mutation.requestDeviceLink': {
    outcome: 'SIGN_IN',
    why: "anyone may ask to join an account (its owner must approve), but only with a key they hold: Mallory offering Alice's device key is BAD_DEVICE_SIGNATURE",
    code: 'BAD_DEVICE_SIGNATURE',
    args: async (w) => ({ username: w.alice.username, device: await deviceClaim(w) }),
    anonymous: { outcome: 'SIGN_IN', why: 'the sign-in path of a new device', code: 'BAD_DEVICE_SIGNATURE' },
  },
  'Mutation.approveDevice': {
    outcome: 'NOT_FOUND',
    why: "approves the token user's PENDING devices only: Alice's waiting device does not exist for Mallory",
    args: async (w) => ({ deviceId: w.alicePending.id, keyBundle: await malloryBundle(w, [w.mallory.device.encryption, w.alicePending.encryption]) }),
  },
  'Mutation.rejectDevice': {
    outcome: 'NOT_FOUND',
    why: "rejects the token user's PENDING devices only",
    args: (w) => ({ deviceId: w.alicePending.id }),
  },
  'Mutation.revokeDevice': {
    outcome: 'NOT_FOUND',
    why: "revokes the token user's devices only: Alice's device does not exist for Mallory",
    args: async (w) => [
      { deviceId: w.alice.device.id, identity: (await rotation(w)).input, keyBundle: await malloryBundle(w) },
      { deviceId: w.alicePending.id, identity: (await rotation(w)).input, keyBundle: await malloryBundle(w) },
    ],
  },
  'Mutation.putKeyBundle': {
    outcome: 'SELF',
    why: "stores the token user's bundle only, checked against her own devices and location",
    args: async (w) => ({ keyBundle: await malloryBundle(w) }),
    check: (v) => expect(v.revision).toBeGreaterThan(1),
  },
  'Mutation.putBackup': {
    outcome: 'SELF',
    why: "creates a backup of the token user's account only (signed for her username), never of Alice's",
    args: async (w) => {
      const b = await backupKeys('PHRASE');
      return { backup: await backupInput(w.mallory.username, b), keyBundle: await malloryBundle(w, [w.mallory.device.encryption, b.encryption]) };
    },
    check: (v) => expect(v).toMatchObject({ kind: 'PHRASE', kdf: { algorithm: 'bip39' } }),
    undo: async (w) => ok(await w.t.gql('mutation D($b: KeyBundleInput!) { deleteBackup(kind: PHRASE, keyBundle: $b) }', { b: await malloryBundle(w) }, w.mallory.token)),
  },
  'Mutation.deleteBackup': {
    outcome: 'NOT_FOUND',
    why: "deletes the token user's backups only: Mallory has none; Alice's PASSWORD backup is not hers",
    args: async (w) => ({ kind: 'PASSWORD', keyBundle: await malloryBundle(w) }),
  },
  'Mutation.openBackup': {
    outcome: 'SIGN_IN',
    why: "opening Alice's backup needs its secret: any other key is LOGIN_FAILED, like an unknown user or a missing backup",
    code: 'LOGIN_FAILED',
    args: async (w) => {
      const challenge = await recoverChallenge(w);
      const sig = await nodeBackend.ed25519Sign(w.mallory.signing.seed, loginMessage({ realm: 'veilgraph', username: w.alice.username, purpose: 'RECOVER', challenge: base64urlDecode(challenge) }));
      return { username: w.alice.username, kind: 'PASSWORD', challenge, signature: base64urlEncode(sig) };
    },
    anonymous: { outcome: 'SIGN_IN', why: 'the sign-in path of a restoring device', code: 'LOGIN_FAILED' },
  },
  'Mutation.recoverAccount': {
    outcome: 'SIGN_IN',
    why: "adding a device to Alice's account with her backup needs its secret: LOGIN_FAILED",
    code: 'LOGIN_FAILED',
    args: async (w) => {
      const challenge = await recoverChallenge(w);
      const device = await newDevice(w.alice.username, 'mallory');
      const m = recoverMessage({ realm: 'veilgraph', username: w.alice.username, kind: 'PASSWORD', challenge: base64urlDecode(challenge), deviceSigningKey: device.signing.publicKey, deviceEncryptionKey: device.encryption.publicKey });
      const sig = await nodeBackend.ed25519Sign(w.mallory.signing.seed, m);
      return { username: w.alice.username, kind: 'PASSWORD', challenge, signature: base64urlEncode(sig), device: device.input, keyBundle: await bundleFor(w.alice.id, 3, [w.alice.device.encryption, w.aliceBackup.encryption, device.encryption]) };
    },
    anonymous: { outcome: 'SIGN_IN', why: 'the sign-in path of a restoring device', code: 'LOGIN_FAILED' },
  },
  'Mutation.rewrapMyKeys': {
    outcome: 'NOT_FOUND',
    why: "replaces keys addressed to the token user only: Alice's data key is not addressed to Mallory",
    args: async (w) => ({ dataKeys: [{ objectType: 'Profile', objectId: w.aliceProfile, keyVersion: 1, wrapped: (await wrappedFor(w.malloryKey, 'Profile', w.alice.id, w.aliceProfile, w.mallory)).wrapped }], epochKeys: [] }),
  },
  'Mutation.resetAccount': {
    outcome: 'SIGN_IN',
    why: 'a reset needs the one-time code the operator issued to the account holder: any other is RESET_CODE_INVALID',
    code: 'RESET_CODE_INVALID',
    args: async (w) => {
      const signing = await generateSigningKeyPair(nodeBackend);
      const encryption = await generateEncryptionKeyPair(nodeBackend);
      const sig = await nodeBackend.ed25519Sign(signing.seed, resetMessage({ realm: 'veilgraph', username: w.alice.username, version: 2, signingKey: signing.publicKey, encryptionKey: encryption.publicKey }));
      const device = await newDevice(w.alice.username, 'mallory');
      return {
        username: w.alice.username,
        resetCode: base64urlEncode(nodeBackend.randomBytes(32)),
        identity: { version: 2, signingKey: base64urlEncode(signing.publicKey), encryptionKey: base64urlEncode(encryption.publicKey), signature: base64urlEncode(sig) },
        device: device.input,
        keyBundle: await bundleFor(w.alice.id, 3, [device.encryption]),
      };
    },
    anonymous: { outcome: 'SIGN_IN', why: 'the sign-in path of an account reset', code: 'RESET_CODE_INVALID' },
  },

  // --- key directory (src/server/services/directory/directory.graphql) ---
  'Query.keyDirectory': {
    outcome: 'PUBLIC_DIRECTORY',
    why: 'public keys are what the directory is for; clients verify the signatures themselves',
    args: (w) => ({ username: w.alice.username }),
    check: (v, w) => {
      expect(v).toMatchObject({ userId: w.alice.id, username: w.alice.username });
      expect((v.versions as Json[]).map((k) => k.signingKey)).toEqual([base64urlEncode(w.alice.signing.publicKey)]);
    },
    anonymous: { outcome: 'PUBLIC_DIRECTORY', why: 'public without a token', check: (v, w) => expect(v.userId).toBe(w.alice.id) },
  },
  'Query.keyOwners': {
    outcome: 'PUBLIC_DIRECTORY',
    why: 'who a public signing key belongs to is public (it finds the signer of an envelope)',
    args: (w) => ({ signingKeyIds: [signingKeyId(w.alice)] }),
    check: (v, w) => expect(v).toEqual([{ signingKeyId: signingKeyId(w.alice), userId: w.alice.id, username: w.alice.username, version: 1 }]),
    anonymous: { outcome: 'PUBLIC_DIRECTORY', why: 'public without a token', check: (v, w) => expect(v).toMatchObject([{ userId: w.alice.id }]) },
  },
  'Mutation.rotateIdentityKeys': {
    outcome: 'SELF',
    why: "records a new key version for the token's user only, signed by their current key; Alice's history is untouched",
    args: (w) => rotation(w),
    check: (v) => expect(v.version).toBe(2),
  },

  // --- data keys (src/server/services/sharing/keys.graphql) ---
  'Query.myDataKeys': {
    outcome: 'EMPTY',
    why: "only keys wrapped for the viewer are returned: Alice's and Bob's wrapped keys are not Mallory's",
    args: (w) => [
      { objectType: 'Profile', objectIds: [w.aliceProfile] },
      { objectType: 'Journal', objectIds: [w.aliceJournal] },
    ],
  },
  'Mutation.putDataKeys': {
    outcome: 'FORBIDDEN',
    args: async (w) => [
      { objectType: 'Profile', objectId: w.aliceProfile, keys: [await wrappedFor(nextKey(w), 'Profile', w.alice.id, w.aliceProfile, w.mallory)] },
      { objectType: 'Profile', objectId: w.aliceProfile, keys: [await wrappedFor(nextKey(w), 'Profile', w.alice.id, w.aliceProfile, w.bob)] },
      { objectType: 'Profile', objectId: w.aliceProfile, keys: [await wrappedFor(w.malloryKey, 'Profile', w.alice.id, w.aliceProfile, w.alice)] },
      { objectType: 'Journal', objectId: w.aliceJournal, keys: [await wrappedFor(nextKey(w), 'Journal', w.alice.id, w.aliceJournal, w.mallory)] },
      { objectType: 'Journal', objectId: w.aliceJournal, keys: [await wrappedFor(w.malloryKey, 'Journal', w.alice.id, w.aliceJournal, w.alice)] },
    ],
  },

  // --- sharing (src/server/services/sharing/sharing.graphql) ---
  'Query.grants': {
    outcome: 'FORBIDDEN',
    args: (w) => [
      { objectType: 'Profile', objectId: w.aliceProfile },
      { objectType: 'Journal', objectId: w.aliceJournal },
    ],
  },
  'Mutation.grantAccess': {
    outcome: 'FORBIDDEN',
    args: async (w) => [
      { objectType: 'Profile', objectId: w.aliceProfile, username: w.mallory.username, access: 'WRITE', keys: [await wrappedFor(w.malloryKey, 'Profile', w.alice.id, w.aliceProfile, w.mallory)] },
      { objectType: 'Profile', objectId: w.aliceProfile, username: w.dave.username, access: 'READ', keys: [await wrappedFor(w.malloryKey, 'Profile', w.alice.id, w.aliceProfile, w.dave)] },
      { objectType: 'Journal', objectId: w.aliceJournal, username: w.mallory.username, access: 'READ', keys: [await wrappedFor(w.malloryKey, 'Journal', w.alice.id, w.aliceJournal, w.mallory)] },
    ],
  },
  'Mutation.revokeAccess': {
    outcome: 'FORBIDDEN',
    args: async (w) => [
      { objectType: 'Profile', objectId: w.aliceProfile, username: w.bob.username, keys: [await wrappedFor(nextKey(w), 'Profile', w.alice.id, w.aliceProfile, w.alice)] },
      { objectType: 'Profile', objectId: w.aliceProfile, username: w.mallory.username, keys: [] },
      { objectType: 'Journal', objectId: w.aliceJournal, username: w.bob.username, keys: [await wrappedFor(nextKey(w), 'Journal', w.alice.id, w.aliceJournal, w.alice)] },
    ],
  },

  // --- profile (src/app/profile/profile.graphql) ---
  'Query.myProfile': {
    outcome: 'SELF',
    why: "the token's user's profile, never an argument's",
    args: () => ({}),
    check: (v, w) => expect(v).toMatchObject({ id: w.malloryProfile, ownerId: w.mallory.id }),
  },
  'Query.profile': {
    outcome: 'PUBLIC_ONLY',
    why: 'any signed-in user may read a profile’s PUBLIC fields (docs/privacy.md); each other field is FORBIDDEN',
    args: (w) => ({ id: w.aliceProfile }),
    check: (v, w) => expect(v).toMatchObject({ id: w.aliceProfile, ownerId: w.alice.id }),
  },
  'Query.profiles': {
    outcome: 'PUBLIC_ONLY',
    why: 'lists every profile; PUBLIC fields of others’ profiles, FORBIDDEN for each other field (Mallory’s own profile in full)',
    args: () => ({ first: 100 }),
    check: (v, w) => expect((v.nodes as Json[]).map((p) => p.id)).toEqual(expect.arrayContaining([w.aliceProfile, w.malloryProfile])),
  },
  'Query.profileByEmail': {
    outcome: 'EMPTY',
    why: 'the blind-index lookup answers only profiles whose email the viewer may read (owner or grantee); anyone else gets null, so it cannot confirm an address',
    args: (w) => ({ email: w.aliceEmail }),
  },
  'Mutation.createProfile': {
    outcome: 'FORBIDDEN',
    why: "a profile is always created for the token's user; Alice's profile id is hers (veil.write checks the owner last: FORBIDDEN), and the id is public anyway (with a SHARED value Mallory gets NO_DATA_KEY first, as for any id she holds no data key of: test/server/data-key-lineage.test.ts)",
    args: (w) => ({ input: { id: w.aliceProfile, displayName: 'Mallory', email: 'mallory@example.com' } }),
  },
  'Mutation.updateProfile': {
    outcome: 'FORBIDDEN',
    args: async (w) => (await fieldByField(w, 'Profile', w.aliceProfile, { displayName: 'Pwned', email: 'mallory@example.com', phone: '+1 555 0666' })).map((input) => ({ id: w.aliceProfile, input })),
  },
  'Mutation.deleteProfile': {
    outcome: 'FORBIDDEN',
    args: (w) => ({ id: w.aliceProfile }),
  },
  // --- messaging (src/server/services/messaging/messaging.graphql) ---
  'Query.conversations': {
    outcome: 'SELF',
    why: "lists the token user's conversations only: Mallory is in none",
    args: () => ({}),
    check: (v, w) => expect((v.nodes as Json[]).map((c) => c.id)).not.toContain(w.aliceConversation),
  },
  'Query.conversation': {
    outcome: 'NOT_FOUND',
    why: 'to anyone but a member a conversation does not exist, so its id reveals nothing',
    args: (w) => ({ id: w.aliceConversation }),
  },
  'Query.myEpochKeys': {
    outcome: 'EMPTY',
    why: 'only keys wrapped for the viewer are returned',
    args: (w) => ({ conversationIds: [w.aliceConversation] }),
  },
  'Query.messages': {
    outcome: 'NOT_FOUND',
    why: 'members only; to anyone else the conversation does not exist',
    args: (w) => ({ conversationId: w.aliceConversation }),
  },
  'Query.undelivered': {
    outcome: 'SELF',
    why: "messages sent to the token's user only",
    // A page of 10: every field selected, receipts included, fits the cost limit (docs/requests.md).
    args: () => ({ first: 10 }),
    check: (v) => expect(v).toEqual([]),
  },
  'Mutation.createConversation': {
    outcome: 'CONFLICT',
    why: "a conversation is always created with the token's user as its admin; Alice's conversation id is taken",
    args: async (w) => {
      const key = generateSymmetricKey(nodeBackend);
      // Wrapped for each one's registered key as it is now (Mallory's case above rotated hers).
      const wrap = async (u: TestUser) => {
        const r = await w.t.gql<{ user: { encryptionKey: string } }>('query U($u: String!) { user(username: $u) { encryptionKey } }', { u: u.username });
        const publicKey = base64urlDecode(r.data!.user.encryptionKey);
        const wrapped = await wrapKey(nodeBackend, key, { coordinate: 'Conversation', ownerId: w.aliceConversation, objectId: 'epoch:1' }, [{ keyId: keyIdOf(nodeBackend, 'x25519', publicKey), publicKey }]);
        return { recipientId: u.id, wrapped: wrappedKeyToText(wrapped) };
      };
      return { input: { id: w.aliceConversation, kind: 'DIRECT', members: [w.bob.username], keys: [await wrap(w.mallory), await wrap(w.bob)] } };
    },
  },
  'Mutation.addMembers': {
    outcome: 'NOT_FOUND',
    why: 'members only; to anyone else the conversation does not exist',
    args: (w) => ({ conversationId: w.aliceConversation, usernames: [w.mallory.username], keys: [] }),
  },
  'Mutation.removeMember': {
    outcome: 'NOT_FOUND',
    why: 'members only; to anyone else the conversation does not exist',
    args: (w) => ({ conversationId: w.aliceConversation, username: w.bob.username, keys: [] }),
  },
  'Mutation.rotateEpoch': {
    outcome: 'NOT_FOUND',
    why: 'members only; to anyone else the conversation does not exist',
    args: (w) => ({ conversationId: w.aliceConversation, keys: [] }),
  },
  'Mutation.sendMessage': {
    outcome: 'NOT_FOUND',
    why: 'members only; to anyone else the conversation does not exist',
    args: async (w) => {
      const clientId = newObjectId();
      return { input: { conversationId: w.aliceConversation, clientId, body: await sealSigned(w.malloryKey, 'Message.body', w.aliceConversation, clientId, { text: 'hi' }, w.mallory.signing) } };
    },
  },
  'Mutation.acknowledge': {
    outcome: 'NOT_FOUND',
    why: "receipts only for messages of the token user's conversations; Alice's message does not exist for Mallory",
    args: (w) => ({ seqs: [w.aliceMessageSeq] }),
  },
  // --- debug view (src/server/services/debug-view/debug.graphql) ---
  'Query.storedObject': {
    outcome: 'EMPTY',
    why: 'the debug view answers only objects the viewer may read (owner or grantee of a profile; a member who may read the message’s epoch); anyone else gets null, as for a missing id (docs/debug-view.md)',
    args: (w) => [
      { type: 'Profile', id: w.aliceProfile },
      { type: 'Message', id: w.aliceMessageSeq },
      { type: 'Journal', id: w.aliceJournal },
    ],
  },
  'Subscription.messageAdded': {
    outcome: 'NOT_FOUND',
    why: 'members only; to anyone else the conversation does not exist',
    args: (w) => ({ conversationId: w.aliceConversation }),
  },
  'Subscription.contactEvents': {
    outcome: 'SELF',
    why: "the token user's own topic only: events about requests to and from Mallory, none of Alice's",
    args: () => ({}),
    ready: (w) => until(() => w.t.gateway.pubsub.subscriberCount(`User:${w.mallory.id}:contacts`) > 0, 'the subscription was not registered'),
    trigger: async (w) => {
      // Alice asks Mallory (the event), then takes it back (state as before).
      ok(await w.t.gql('mutation R($u: String!) { requestContact(username: $u) { outcome } }', { u: w.mallory.username }, w.alice.token));
      ok(await w.t.gql('mutation C($u: String!) { cancelContactRequest(username: $u) }', { u: w.mallory.username }, w.alice.token));
    },
    check: (v, w) => expect(v).toMatchObject({ kind: 'REQUEST_RECEIVED', user: { username: w.alice.username } }),
  },
  'Subscription.contactKeyChanged': {
    outcome: 'SELF',
    why: "key changes of the token user's contacts only (Dave is Mallory's contact; Alice is not)",
    args: () => ({}),
    ready: (w) => until(() => w.t.gateway.pubsub.subscriberCount(`User:${w.mallory.id}:keys`) > 0, 'the subscription was not registered'),
    trigger: async (w) => {
      const signing = await generateSigningKeyPair(nodeBackend);
      const encryption = await generateEncryptionKeyPair(nodeBackend);
      const statement = { realm: 'veilgraph', username: w.dave.username, version: 2, previousSigningKey: w.dave.signing.publicKey, signingKey: signing.publicKey, encryptionKey: encryption.publicKey };
      const signature = await signKeyVersion(nodeBackend, statement, w.dave.signing.seed, signing.seed);
      const input = { version: 2, signingKey: base64urlEncode(signing.publicKey), encryptionKey: base64urlEncode(encryption.publicKey), signature: base64urlEncode(signature) };
      ok(await w.t.gql('mutation K($i: RotateIdentityKeysInput!) { rotateIdentityKeys(input: $i) { version } }', { i: input }, w.dave.token));
    },
    check: (v, w) => expect(v).toMatchObject({ version: 2, user: { username: w.dave.username } }),
  },
  'Subscription.profileUpdated': {
    outcome: 'PUBLIC_ONLY',
    why: 'like profile(id): each event carries PUBLIC fields, and a FORBIDDEN error per other field',
    args: (w) => ({ id: w.aliceProfile }),
    ready: (w) => until(() => w.t.gateway.pubsub.subscriberCount(`Profile:${w.aliceProfile}`) > 0, 'the subscription was not registered'),
    trigger: async (w) => ok(await w.t.gql('mutation U($id: ID!, $i: UpdateProfileInput!) { updateProfile(id: $id, input: $i) { id } }', { id: w.aliceProfile, i: { displayName: canary('public') } }, w.alice.token)),
    check: (v, w) => expect(v).toMatchObject({ id: w.aliceProfile, ownerId: w.alice.id }),
  },

  // --- a schema author's type: the Journal of examples/journal-yoga (schema.graphql, src/resolvers.ts) ---
  'Query.journal': {
    outcome: 'PUBLIC_ONLY',
    why: "any viewer reads a journal's PUBLIC fields (id, authorId, title: the example's README); mood, place, body and note are FORBIDDEN",
    args: (w) => ({ id: w.aliceJournal }),
    check: journalOf,
    anonymous: { outcome: 'PUBLIC_ONLY', why: "the example's README: the title is for anyone who asks, signed in or not; each other field FORBIDDEN", check: journalOf },
  },
  'Query.myJournals': {
    outcome: 'SELF',
    why: "the token user's journals only (Mallory's one), never Alice's",
    args: () => ({}),
    check: (v, w) => expect((v as unknown as Json[]).map((j) => j.id)).toEqual([w.malloryJournal]),
  },
  'Query.journalsByMood': {
    outcome: 'EMPTY',
    why: "searches the token user's journals only: Alice's mood finds nothing of Mallory's, and nothing of Alice's",
    args: (w) => ({ mood: w.aliceMood }),
  },
  'Mutation.createJournal': {
    outcome: 'FORBIDDEN',
    args: async (w) => [
      { input: { id: w.aliceJournal, title: 'Mallory', mood: 'smug' } },
      { input: { id: w.aliceJournal, title: 'Mallory', note: seal(w.mallory.vault, 'Journal.note', w.mallory.id, w.aliceJournal, 'mine now') } },
    ],
  },
  'Mutation.updateJournal': {
    outcome: 'FORBIDDEN',
    args: async (w) => (await fieldByField(w, 'Journal', w.aliceJournal, { title: 'Pwned', mood: 'smug', place: 'here' })).map((patch) => ({ id: w.aliceJournal, patch })),
  },
  'Mutation.deleteJournal': {
    outcome: 'FORBIDDEN',
    args: (w) => ({ id: w.aliceJournal }),
  },
  'Subscription.journalSaved': {
    outcome: 'PUBLIC_ONLY',
    why: "the example's README: any signed-in user may follow a journal's saves; like journal(id), each event carries PUBLIC fields and a FORBIDDEN error per other field",
    args: (w) => ({ id: w.aliceJournal }),
    ready: (w) => until(() => w.t.gateway.pubsub.subscriberCount(`journal:${w.aliceJournal}`) > 0, 'the subscription was not registered'),
    // Alice saves her journal with the title it has (an event, the same row).
    trigger: async (w) => ok(await w.t.gql('mutation U($id: ID!, $p: JournalPatch!) { updateJournal(id: $id, patch: $p) { id } }', { id: w.aliceJournal, p: { title: w.aliceJournalTitle } }, w.alice.token)),
    check: journalOf,
  },
};

// ---------------------------------------------------------------------------------------
// Generated from the schema: root fields, documents, the protected paths of an answer.
// ---------------------------------------------------------------------------------------
const built = buildSchema([referenceSdl(), JOURNAL_SDL].join('\n'), []);
const ROOTS = ['Query', 'Mutation', 'Subscription'] as const;
type Root = (typeof ROOTS)[number];
/** How many levels of objects under the root field's type are selected. */
const NESTING = 2;
/** Tables that hold Alice's data (and everybody else's). */
const TABLES = ['User', 'UserKey', 'Profile', 'Grant', 'ObjectKey', 'Contact', 'Device', 'KeyBundle', 'Backup', 'AccountReset', 'EpochKey'] as const;
/** The journal example's table, in its own SQLite file. */
const JOURNAL_TABLES = ['journal'] as const;

function rootType(root: Root): GraphQLObjectType | null | undefined {
  return root === 'Query' ? built.wire.getQueryType() : root === 'Mutation' ? built.wire.getMutationType() : built.wire.getSubscriptionType();
}

function rootFields(root: Root): string[] {
  return Object.keys(rootType(root)?.getFields() ?? {}).map((f) => `${root}.${f}`);
}

function fieldOf(key: string): GraphQLField<unknown, unknown> {
  const [root, name] = key.split('.') as [Root, string];
  const f = rootType(root)?.getFields()[name];
  if (!f) throw new Error(`${key} is not a root field of the schema`);
  return f;
}

interface Sel {
  readonly name: string;
  readonly type: GraphQLOutputType;
  /** null for a leaf. */
  readonly children: readonly Sel[] | null;
}

/** Every leaf of `type`, and its object fields `NESTING - depth` levels deep; fields that need arguments are left out. */
function selectionOf(type: GraphQLOutputType, depth = 0): Sel[] | null {
  const named = getNamedType(type);
  if (isLeafType(named)) return null;
  if (isUnionType(named)) return [{ name: '__typename', type, children: null }];
  const out: Sel[] = [];
  for (const f of Object.values((named as GraphQLObjectType).getFields())) {
    if (f.args.some((a) => isNonNullType(a.type) && a.defaultValue === undefined)) continue;
    if (isLeafType(getNamedType(f.type))) out.push({ name: f.name, type: f.type, children: null });
    else if (depth < NESTING) {
      const children = selectionOf(f.type, depth + 1);
      if (children && children.length > 0) out.push({ name: f.name, type: f.type, children });
    }
  }
  return out;
}

function printSelection(sel: readonly Sel[] | null): string {
  return sel ? ` { ${sel.map((s) => `${s.name}${printSelection(s.children)}`).join(' ')} }` : '';
}

/** `query Q($a: T!) { field(a: $a) { …generated… } }` for the arguments given. */
function documentFor(key: string, args: Args): string {
  const [root] = key.split('.') as [Root, string];
  const f = fieldOf(key);
  for (const name of Object.keys(args)) if (!f.args.some((a) => a.name === name)) throw new Error(`${key} has no argument ${name}`);
  const used = f.args.filter((a) => a.name in args);
  const vars = used.length > 0 ? `(${used.map((a) => `$${a.name}: ${String(a.type)}`).join(', ')})` : '';
  const call = used.length > 0 ? `(${used.map((a) => `${a.name}: $${a.name}`).join(', ')})` : '';
  return `${root.toLowerCase()} Matrix${vars} { ${f.name}${call}${printSelection(selectionOf(f.type))} }`;
}

/**
 * The paths where the answer must hold a FORBIDDEN error (and null): each protected field
 * (manifest level above PUBLIC) of each object in `value` that `viewerId` does not own.
 * Mallory holds no grant, so ownership is the only way she may read one.
 */
function protectedPaths(value: unknown, sel: readonly Sel[] | null, typeName: string, path: (string | number)[], viewerId: string | null, out: string[]): string[] {
  if (value === null || value === undefined || !sel) return out;
  if (Array.isArray(value)) {
    value.forEach((v, i) => protectedPaths(v, sel, typeName, [...path, i], viewerId, out));
    return out;
  }
  const object = Object.hasOwn(built.manifest.objects, typeName) ? built.manifest.objects[typeName] : undefined;
  const row = value as Json;
  const own = object !== undefined && viewerId !== null && row[object.owner] === viewerId;
  for (const s of sel) {
    const level = object?.fields[s.name]?.level ?? 'PUBLIC';
    if (level !== 'PUBLIC' && !own) out.push([...path, s.name].join('.'));
    else protectedPaths(row[s.name], s.children, getNamedType(s.type).name, [...path, s.name], viewerId, out);
  }
  return out;
}

function at(data: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((v, k) => (v === null || v === undefined ? v : (v as Json)[k]), data);
}

type Answer = Pick<GqlResponse, 'data' | 'errors'>;

function errorList(r: Answer): string[] {
  return (r.errors ?? []).map((e) => `${(e.path ?? []).join('.')}:${e.extensions?.code}`).sort();
}

function isEmpty(v: unknown): boolean {
  if (v === null || v === undefined) return true;
  if (Array.isArray(v)) return v.length === 0;
  const nodes = (v as Json).nodes;
  return Array.isArray(nodes) && nodes.length === 0;
}

/** The error code the answer must be, or undefined when it must be data. */
function errorCode(e: Expectation | 'UNAUTHENTICATED'): string | undefined {
  if (e === 'UNAUTHENTICATED') return e;
  return e.outcome === 'FORBIDDEN' || e.outcome === 'NOT_FOUND' || e.outcome === 'CONFLICT' ? e.outcome : e.code;
}

/** Checks one answer against the expected outcome for a viewer (null: no token). */
function expectOutcome(key: string, e: Expectation | 'UNAUTHENTICATED', r: Answer, viewerId: string | null, w: World, args: Args): void {
  const f = fieldOf(key);
  const value = (r.data ?? null)?.[f.name] ?? null;
  const code = errorCode(e);
  if (code) {
    expect(errorList(r), JSON.stringify(r.errors)).toEqual([`${f.name}:${code}`]);
    expect(value).toBeNull();
    return;
  }
  const expectation = e as Expectation;
  const forbidden = protectedPaths(value, selectionOf(f.type), getNamedType(f.type).name, [f.name], viewerId, []);
  expect(errorList(r), JSON.stringify(r.errors)).toEqual(forbidden.map((p) => `${p}:FORBIDDEN`).sort());
  for (const p of forbidden) expect(at(r.data, p), p).toBeNull();
  if (expectation.outcome === 'EMPTY') {
    expect(isEmpty(value), JSON.stringify(value)).toBe(true);
    return;
  }
  expect(value).not.toBeNull();
  if (expectation.outcome === 'PUBLIC_ONLY') expect(forbidden.length).toBeGreaterThan(0);
  expectation.check?.(value as Json, w, args);
}

// ---------------------------------------------------------------------------------------
// The world: Alice's data at every level, a grantee, contacts, and Mallory.
// ---------------------------------------------------------------------------------------
let w: World;
/** Strings that must never reach Mallory (or an anonymous caller), with what each is. */
let secrets: [what: string, value: string][];
let wsUrl: string;
const clients: Client[] = [];
let journalDir: string | undefined;
let journalStore: ReturnType<typeof JournalStore.open> | undefined;

function ok(r: GqlResponse): void {
  if (r.errors) throw new Error(JSON.stringify(r.errors));
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; !cond(); i++) {
    if (i > 500) throw new Error(what);
    await new Promise((res) => setTimeout(res, 10));
  }
}

function signingKeyId(u: TestUser): string {
  return base64urlEncode(keyIdOf(nodeBackend, 'ed25519', u.signing.publicKey));
}

/** A data key version Alice's profile does not have yet (2: Alice stored version 1). */
function nextKey(world: World): SymmetricKey {
  return { ...world.malloryKey, version: 2 };
}

/** A valid registration of `username` with fresh keys (signed by them). */
async function registration(username: string): Promise<Args> {
  const signing = await generateSigningKeyPair(nodeBackend);
  const encryption = await generateEncryptionKeyPair(nodeBackend);
  const sig = await nodeBackend.ed25519Sign(signing.seed, registrationMessage({ realm: 'veilgraph', username, signingKey: signing.publicKey, encryptionKey: encryption.publicKey }));
  return { username, signingKey: base64urlEncode(signing.publicKey), encryptionKey: base64urlEncode(encryption.publicKey), signature: base64urlEncode(sig) };
}

/**
 * Mallory's writes to Alice's object `id` of `type`, one field each: `plain` for the PUBLIC
 * and SERVER fields, and for each SHARED and PRIVATE field of the manifest an envelope she
 * sealed for Alice's object under her own keys (signed, as a grantee's SHARED write must be).
 */
async function fieldByField(world: World, type: string, id: string, plain: Json): Promise<Json[]> {
  const out: Json[] = Object.entries(plain).map(([field, v]) => ({ [field]: v }));
  for (const [field, f] of Object.entries(built.manifest.objects[type]!.fields)) {
    const coordinate = `${type}.${field}`;
    if (f.level === 'SHARED') out.push({ [field]: await sealSigned(world.malloryKey, coordinate, world.alice.id, id, 'mallory was here', world.mallory.signing) });
    if (f.level === 'PRIVATE') out.push({ [field]: seal(world.mallory.vault, coordinate, world.alice.id, id, 'dear diary, mallory') });
  }
  return out;
}

/** A fresh challenge for `username`, signed with Mallory's key. */
async function loginAttempt(world: World, username: string): Promise<Args> {
  const ch = await world.t.gql<{ challenge: { challenge: string } }>('mutation C($u: String!) { challenge(username: $u) { challenge } }', { u: username });
  const challenge = ch.data!.challenge.challenge;
  const sig = await nodeBackend.ed25519Sign(world.mallory.signing.seed, loginMessage({ realm: 'veilgraph', username, purpose: 'LOGIN', challenge: base64urlDecode(challenge) }));
  return { challenge, signature: base64urlEncode(sig) };
}

/** Mallory's own key version 2, signed by her current (version 1) key and the new one, with her next bundle. */
async function rotation(world: World): Promise<Args> {
  const signing = await generateSigningKeyPair(nodeBackend);
  const encryption = await generateEncryptionKeyPair(nodeBackend);
  const statement = { realm: 'veilgraph', username: world.mallory.username, version: 2, previousSigningKey: world.mallory.signing.publicKey, signingKey: signing.publicKey, encryptionKey: encryption.publicKey };
  const signature = await signKeyVersion(nodeBackend, statement, world.mallory.signing.seed, signing.seed);
  return {
    input: { version: 2, signingKey: base64urlEncode(signing.publicKey), encryptionKey: base64urlEncode(encryption.publicKey), signature: base64urlEncode(signature) },
    keyBundle: await malloryBundle(world),
  };
}

/** Mallory's next key bundle (stored revision + 1), wrapped to `recipients` (default: her device). */
async function malloryBundle(world: World, recipients = [world.mallory.device.encryption]): Promise<Args> {
  const r = await world.t.gql<{ myKeyBundle: { revision: number } | null }>('{ myKeyBundle { revision } }', {}, world.mallory.token);
  return { ...(await bundleFor(world.mallory.id, (r.data?.myKeyBundle?.revision ?? 0) + 1, recipients)) };
}

async function recoverChallenge(world: World): Promise<string> {
  const ch = await world.t.gql<{ challenge: { challenge: string } }>('mutation C($u: String!) { challenge(username: $u, purpose: RECOVER) { challenge } }', { u: world.alice.username });
  return ch.data!.challenge.challenge;
}

/** Mallory offers Alice's device signing key as a new device of Alice's, signing with her own key. */
async function deviceClaim(world: World): Promise<Args> {
  const encryption = await generateEncryptionKeyPair(nodeBackend);
  const m = deviceMessage({ realm: 'veilgraph', username: world.alice.username, name: 'alice phone', signingKey: world.alice.device.signing.publicKey, encryptionKey: encryption.publicKey });
  const sig = await nodeBackend.ed25519Sign(world.mallory.signing.seed, m);
  return { name: 'alice phone', signingKey: base64urlEncode(world.alice.device.signing.publicKey), encryptionKey: base64urlEncode(encryption.publicKey), signature: base64urlEncode(sig) };
}

function bytesEncodings(hex: string): string[] {
  const b = Buffer.from(hex.replace(/^hex:/, ''), 'hex');
  return [b.toString('base64url'), b.toString('base64'), b.toString('hex')];
}

beforeAll(async () => {
  // The journal example's store on its own SQLite file; its SDL, resolvers and TypeAdapter
  // added to the reference gateway as its author adds them to theirs.
  journalDir = mkdtempSync(join(tmpdir(), 'veilgraph-matrix-journal-'));
  const journalDb = join(journalDir, 'journal.db');
  journalStore = JournalStore.open(journalDb);
  const t = await startTestGateway({ authLimits: ROOMY_AUTH_LIMITS, typeDefs: [JOURNAL_SDL], resolvers: [journalResolvers(journalStore)], types: { Journal: journalAdapter(journalStore) } });
  wsUrl = t.gateway.url.replace(/^http/, 'ws');
  const [alice, bob, carol, dave, mallory] = [
    await registerWithDevice(t, 'alice'),
    await registerAndLogin(t, 'bob'),
    await registerAndLogin(t, 'carol'),
    await registerAndLogin(t, 'dave'),
    await registerWithDevice(t, 'mallory'),
  ] as [DeviceUser, TestUser, TestUser, TestUser, DeviceUser];

  // Alice's key bundle for her device, then a PASSWORD backup, and a device asking to join;
  // Mallory's bundle for her device.
  ok(await t.gql(PUT_BUNDLE, { b: await bundleFor(alice.id, 1, [alice.device.encryption]) }, alice.token));
  const aliceBackup = await backupKeys('PASSWORD');
  ok(await t.gql(PUT_BACKUP, { i: await backupInput(alice.username, aliceBackup), b: await bundleFor(alice.id, 2, [alice.device.encryption, aliceBackup.encryption]) }, alice.token));
  const pendingKeys = await newDevice(alice.username, 'new laptop');
  const requested = await t.gql<{ requestDeviceLink: { id: string } }>('mutation Q($u: String!, $d: NewDeviceInput!) { requestDeviceLink(username: $u, device: $d) { id } }', { u: alice.username, d: pendingKeys.input });
  ok(requested);
  const alicePending: TestDevice = { ...pendingKeys, id: requested.data!.requestDeviceLink.id };
  ok(await t.gql(PUT_BUNDLE, { b: await bundleFor(mallory.id, 1, [mallory.device.encryption]) }, mallory.token));

  // Alice's profile: a canary at every level; SHARED under a data key, PRIVATE under her vault key.
  const aliceProfile = newObjectId();
  const dataKey = generateSymmetricKey(nodeBackend);
  const plain = { email: `${canary('server-email')}@example.com`, phone: canary('server-phone'), bio: canary('shared-bio'), diary: canary('private-diary') };
  const create = 'mutation C($i: CreateProfileInput!) { createProfile(input: $i) { id } }';
  await storeDataKey(t, alice, 'Profile', aliceProfile, dataKey);
  ok(
    await t.gql(
      create,
      {
        i: {
          id: aliceProfile,
          displayName: canary('public-name'),
          email: plain.email,
          phone: plain.phone,
          bio: seal(dataKey, 'Profile.bio', alice.id, aliceProfile, plain.bio),
          diary: seal(alice.vault, 'Profile.diary', alice.id, aliceProfile, plain.diary),
        },
      },
      alice.token,
    ),
  );
  // Bob: a WRITE grantee (Alice's data key stored for her, and wrapped for him).
  ok(await grantAccess(t, alice, bob, 'Profile', aliceProfile, dataKey, 'WRITE'));
  // Mallory has a profile of her own, so SELF answers can be told from empty ones.
  const malloryProfile = newObjectId();
  ok(await t.gql(create, { i: { id: malloryProfile, displayName: 'Mallory', email: 'mallory@example.com', diary: seal(mallory.vault, 'Profile.diary', mallory.id, malloryProfile, 'mine') } }, mallory.token));

  // Contacts: Alice–Bob, a pending Alice → Carol; Mallory's own: Dave, Carol → Mallory, Mallory → Bob.
  const request = 'mutation R($u: String!) { requestContact(username: $u) { outcome } }';
  const accept = 'mutation A($u: String!) { acceptContact(username: $u) { since } }';
  ok(await t.gql(request, { u: 'bob' }, alice.token));
  ok(await t.gql(accept, { u: 'alice' }, bob.token));
  ok(await t.gql(request, { u: 'carol' }, alice.token));
  ok(await t.gql(request, { u: 'dave' }, mallory.token));
  ok(await t.gql(accept, { u: 'mallory' }, dave.token));
  ok(await t.gql(request, { u: 'mallory' }, carol.token));
  ok(await t.gql(request, { u: 'bob' }, mallory.token));

  // Alice and Bob's conversation, epoch 1 wrapped for both, and one message from Alice.
  const aliceConversation = newObjectId();
  const epochKey = generateSymmetricKey(nodeBackend);
  const epochKeys = [];
  for (const u of [alice, bob]) {
    const k = await wrappedFor(epochKey, 'Conversation', aliceConversation, 'epoch:1', u);
    epochKeys.push({ recipientId: k.recipientId, wrapped: k.wrapped });
  }
  ok(await t.gql('mutation C($i: CreateConversationInput!) { createConversation(input: $i) { id } }', { i: { id: aliceConversation, kind: 'DIRECT', members: ['bob'], keys: epochKeys } }, alice.token));
  const clientId = newObjectId();
  const messageText = canary('message-text');
  const sent = await t.gql<{ sendMessage: { seq: string } }>(
    'mutation S($i: SendMessageInput!) { sendMessage(input: $i) { seq } }',
    { i: { conversationId: aliceConversation, clientId, body: await sealSigned(epochKey, 'Message.body', aliceConversation, clientId, { text: messageText }, alice.signing) } },
    alice.token,
  );
  ok(sent);

  // Alice's journal: PUBLIC title, SERVER mood and place written through createJournal (the
  // gateway seals them and indexes mood), SHARED body under a data key, PRIVATE note under
  // her vault key. Bob: a READ grantee. Mallory has a journal of her own.
  const aliceJournal = newObjectId();
  const journalKey = generateSymmetricKey(nodeBackend);
  const journal = { title: canary('public-title'), mood: canary('server-mood'), place: canary('server-place'), body: canary('shared-body'), note: canary('private-note') };
  const createJournal = 'mutation C($i: NewJournal!) { createJournal(input: $i) { id } }';
  await storeDataKey(t, alice, 'Journal', aliceJournal, journalKey);
  ok(
    await t.gql(
      createJournal,
      {
        i: {
          id: aliceJournal,
          title: journal.title,
          mood: journal.mood,
          place: journal.place,
          body: seal(journalKey, 'Journal.body', alice.id, aliceJournal, journal.body),
          note: seal(alice.vault, 'Journal.note', alice.id, aliceJournal, journal.note),
        },
      },
      alice.token,
    ),
  );
  ok(await grantAccess(t, alice, bob, 'Journal', aliceJournal, journalKey, 'READ'));
  const malloryJournal = newObjectId();
  ok(await t.gql(createJournal, { i: { id: malloryJournal, title: 'Mallory', mood: 'smug' } }, mallory.token));

  w = {
    t,
    alice,
    alicePending,
    aliceBackup,
    bob,
    carol,
    dave,
    mallory,
    aliceProfile,
    aliceEmail: plain.email,
    malloryProfile,
    malloryKey: generateSymmetricKey(nodeBackend),
    aliceConversation,
    aliceMessageSeq: sent.data!.sendMessage.seq,
    aliceJournal,
    aliceJournalTitle: journal.title,
    aliceMood: journal.mood,
    malloryJournal,
    journalDb,
  };

  // What must never come back: the plaintexts, and what is stored for Alice and Bob.
  const rows = readTables(t.dataDir, ['Profile', 'ObjectKey', 'Message', 'EpochKey', 'KeyBundle']);
  const aliceBundle = rows.KeyBundle!.find((r) => r.userId === alice.id)!;
  const stored = rows.Profile!.find((r) => r.id === aliceProfile)!;
  const keys = rows.ObjectKey!.filter((r) => r.recipientId === alice.id || r.recipientId === bob.id);
  // Alice's and Bob's data key of her profile and of her journal.
  expect(keys.map((k) => `${String(k.objectType)}:${k.recipientId === alice.id ? 'Alice' : 'Bob'}`).sort()).toEqual(['Journal:Alice', 'Journal:Bob', 'Profile:Alice', 'Profile:Bob']);
  const storedJournal = readTables(journalDb, JOURNAL_TABLES).journal!.find((r) => r.id === aliceJournal)!;
  secrets = [
    ['SERVER email', plain.email],
    ['SERVER email (canary part)', plain.email.split('@')[0]!],
    ['SERVER phone', plain.phone],
    ['SHARED bio plaintext', plain.bio],
    ['PRIVATE diary plaintext', plain.diary],
    ['stored bio envelope', String(stored.bio)],
    ['stored diary envelope', String(stored.diary)],
    ['email blind index', String(stored.emailIndex)],
    ...bytesEncodings(String(stored.serverSealed)).map((s): [string, string] => ['stored SERVER blob', s]),
    ...keys.flatMap((k) => bytesEncodings(String(k.wrapped)).map((s): [string, string] => [`wrapped ${String(k.objectType)} data key for ${k.recipientId === alice.id ? 'Alice' : 'Bob'}`, s])),
    ['Journal SERVER mood', journal.mood],
    ['Journal SERVER place', journal.place],
    ['Journal SHARED body plaintext', journal.body],
    ['Journal PRIVATE note plaintext', journal.note],
    ['stored journal body envelope', String(storedJournal.body)],
    ['stored journal note envelope', String(storedJournal.note)],
    ['journal mood blind index', String(storedJournal.moodIndex)],
    ...bytesEncodings(String(storedJournal.serverSealed)).map((s): [string, string] => ['stored journal SERVER blob', s]),
    ['message plaintext', messageText],
    ['stored message body', String(rows.Message!.find((m) => m.conversationId === aliceConversation)!.body)],
    ...rows.EpochKey!.flatMap((k) => bytesEncodings(String(k.wrapped)).map((s): [string, string] => ['wrapped epoch key', s])),
    ["Alice's key bundle", String(aliceBundle.bundle)],
    ...bytesEncodings(String(aliceBundle.wrappedKey)).map((s): [string, string] => ["Alice's wrapped bundle key", s]),
  ];
  for (const [what, s] of secrets) expect(s.length, what).toBeGreaterThan(10);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await w?.t.close();
  journalStore?.close();
  if (journalDir) rmSync(journalDir, { recursive: true, force: true });
});

function expectNothingLearned(answer: unknown): void {
  const text = JSON.stringify(answer);
  for (const [what, s] of secrets) expect(text.includes(s), `the answer holds ${what}`).toBe(false);
}

/** Rows that name Mallory (her user, keys, profile, contacts, grants or keys for her). */
function namesMallory(_table: string, row: Record<string, unknown>): boolean {
  return Object.values(row).includes(w.mallory.id);
}

/** The gateway's tables and the journal's (the table names differ). */
function snapshot(outcome: Outcome | 'UNAUTHENTICATED'): ReturnType<typeof snapshotTables> {
  const exclude = outcome === 'SELF' ? namesMallory : undefined;
  return { ...snapshotTables(w.t.dataDir, TABLES, exclude), ...snapshotTables(w.journalDb, JOURNAL_TABLES, exclude) };
}

async function argSets(c: Case): Promise<Args[]> {
  const a = await c.args(w);
  return Array.isArray(a) ? a : [a];
}

/** One HTTP call per argument set: outcome, nothing learned, nothing changed. */
async function runHttp(key: string, c: Case, token: string | undefined): Promise<void> {
  const expectation: Expectation | 'UNAUTHENTICATED' = token ? c : (c.anonymous ?? 'UNAUTHENTICATED');
  const outcome = expectation === 'UNAUTHENTICATED' ? expectation : expectation.outcome;
  for (const args of await argSets(c)) {
    const before = snapshot(outcome);
    try {
      const r = await w.t.gql(documentFor(key, args), args, token);
      expectNothingLearned(r);
      expectOutcome(key, expectation, r, token ? w.mallory.id : null, w, args);
      expect(snapshot(outcome), 'stored rows changed').toEqual(before);
    } finally {
      if (token && c.undo) await c.undo(w);
    }
  }
}

/** Subscribes over graphql-ws (Mallory's token or none) and returns the first result. */
async function runSubscription(key: string, c: Case, token: string | undefined): Promise<void> {
  const expectation: Expectation | 'UNAUTHENTICATED' = token ? c : (c.anonymous ?? 'UNAUTHENTICATED');
  for (const args of await argSets(c)) {
    const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, lazy: true, retryAttempts: 0, ...(token ? { connectionParams: { authorization: `Bearer ${token}` } } : {}) });
    clients.push(client);
    const events: FormattedExecutionResult[] = [];
    let failure: unknown;
    let done = false;
    const dispose = client.subscribe(
      { query: documentFor(key, args), variables: args },
      { next: (e) => void events.push(e as FormattedExecutionResult), error: (e) => (failure = e), complete: () => (done = true) },
    );
    try {
      // An answer with data needs an event; an error comes at once.
      if (!errorCode(expectation)) {
        await c.ready?.(w);
        await c.trigger?.(w);
      }
      await until(() => events.length > 0 || done || failure !== undefined, `no answer to ${key}: ${String(failure)}`);
      expect(failure).toBeUndefined();
      expectNothingLearned(events[0]);
      expectOutcome(key, expectation, events[0] as Answer, token ? w.mallory.id : null, w, args);
    } finally {
      dispose();
      await client.dispose();
    }
  }
}

// ---------------------------------------------------------------------------------------
// The matrix.
// ---------------------------------------------------------------------------------------
describe('the case table', () => {
  it('has a row for every root field of the schema, and none for a field that is gone', () => {
    const fields = ROOTS.flatMap(rootFields);
    expect(fields.filter((f) => !Object.hasOwn(CASES, f)), 'root fields without a row in CASES').toEqual([]);
    expect(Object.keys(CASES).filter((k) => !fields.includes(k)), 'rows in CASES for fields the schema no longer has').toEqual([]);
  });

  it('justifies every outcome but FORBIDDEN, including those without a token', () => {
    const missing = Object.entries(CASES).flatMap(([k, c]) => [...(c.outcome !== 'FORBIDDEN' && !c.why ? [k] : []), ...(c.anonymous && !c.anonymous.why ? [`${k} (anonymous)`] : [])]);
    expect(missing).toEqual([]);
  });

  it('the running gateway serves exactly the root fields the matrix was generated from', async () => {
    const r = await w.t.gql<{ __schema: Record<string, { fields: { name: string }[] } | null> }>(
      '{ __schema { queryType { fields { name } } mutationType { fields { name } } subscriptionType { fields { name } } } }',
    );
    const served = ROOTS.flatMap((root) => (r.data!.__schema[`${root.toLowerCase()}Type`]?.fields ?? []).map((f) => `${root}.${f.name}`)).sort();
    expect(served).toEqual(ROOTS.flatMap(rootFields).sort());
  });
});

for (const root of ROOTS) {
  const fields = rootFields(root);
  const run = root === 'Subscription' ? runSubscription : runHttp;
  describe(root, () => {
    it.each(fields)('%s: Mallory gets the documented outcome and learns nothing', async (key) => {
      const c = CASES[key];
      if (!c) throw new Error(`${key} has no row in the authorization matrix (CASES): add one`);
      await run(key, c, w.mallory.token);
    });

    it.each(fields)('%s: without a token, UNAUTHENTICATED unless documented public', async (key) => {
      const c = CASES[key];
      if (!c) throw new Error(`${key} has no row in the authorization matrix (CASES): add one`);
      await run(key, c, undefined);
    });
  });
}
