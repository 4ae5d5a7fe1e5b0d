// The client core against a real gateway over real HTTP on loopback with a real SQLite
// file: sealVariables → fetch → openResult, with plain fetch (no Apollo). The client-side
// schema is built from schema/ exactly as the gateway builds it.
import { parse, print, type DocumentNode, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { openEnvelopeText } from '../../src/crypto/envelope.js';
import { generateSymmetricKey } from '../../src/crypto/keys.js';
import { referenceSchema } from '../helpers/reference-schema.js';
import { openResult, sealVariables, staticClientKeys, withVeilFields, type ClientKeys, type LocationFor } from '../../src/client/index.js';
import { canary, grantAccess, newObjectId, registerAndLogin, startTestGateway, storeDataKey, type TestGateway, type TestUser } from '../helpers/gateway.js';

const built = referenceSchema();
const { manifest } = built;
const backend = nodeBackend;

/** One SHARED key for every profile here (these tests are about the core): stored as each profile's data key. */
const sharedKey = generateSymmetricKey(backend);

let t: TestGateway;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let aliceProfile: string;

interface RunOptions {
  readonly schema?: GraphQLSchema;
  readonly locationFor?: LocationFor;
  /** Changes the parsed response before it is opened (a malicious server or network). */
  readonly tamper?: (data: Record<string, unknown>) => void;
}

interface Run {
  readonly data: Record<string, unknown> | null | undefined;
  readonly errors?: readonly GraphQLFormattedError[];
  /** The request body as sent. */
  readonly sent: string;
}

function keysOf(user: TestUser, shared = sharedKey): ClientKeys {
  return staticClientKeys({ vault: user.vault, shared });
}

/** One operation as a client does it: veil the document, seal the variables, POST, open. */
async function run(user: TestUser, doc: DocumentNode, variables: Record<string, unknown> = {}, keys = keysOf(user), o: RunOptions = {}): Promise<Run> {
  const schema = o.schema ?? built.source;
  const document = withVeilFields(doc, schema, manifest);
  const sealed = await sealVariables({ schema, manifest, document, variables, keys, backend, viewerId: user.id, ...(o.locationFor ? { locationFor: o.locationFor } : {}) });
  const sent = JSON.stringify({ query: print(document), variables: sealed });
  const res = await fetch(t.gateway.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}` }, body: sent });
  const body = (await res.json()) as { data?: Record<string, unknown> | null; errors?: GraphQLFormattedError[] };
  if (body.data) o.tamper?.(body.data);
  const opened = await openResult({ schema, manifest, document, data: body.data, errors: body.errors ?? null, keys, backend, directory: 'unverified' });
  return { ...opened, sent };
}

function codes(r: { errors?: readonly GraphQLFormattedError[] }): string[] {
  return (r.errors ?? []).map((e) => `${(e.path ?? []).join('.')}:${String(e.extensions?.code)}`);
}

const FIELDS = 'id ownerId displayName email phone bio diary';
const CREATE = parse(`mutation C($i: CreateProfileInput!) { createProfile(input: $i) { ${FIELDS} } }`);
const UPDATE = parse(`mutation U($id: ID!, $i: UpdateProfileInput!) { updateProfile(id: $id, input: $i) { ${FIELDS} } }`);
const MINE = parse(`query M { myProfile { ${FIELDS} } }`);
const LIST = parse(`query L { profiles(first: 50) { nodes { id displayName email bio diary } } }`);

async function createProfile(user: TestUser, bio: unknown, diary: unknown): Promise<string> {
  const id = newObjectId();
  // The object's data key is stored before a SHARED value is written (docs/sharing.md, "Data key lineage").
  await storeDataKey(t, user, 'Profile', id, sharedKey);
  const r = await run(user, CREATE, { i: { id, displayName: user.username, email: `${user.username}@example.com`, bio, diary } });
  expect(r.errors).toBeUndefined();
  return id;
}

beforeAll(async () => {
  t = await startTestGateway();
  alice = await registerAndLogin(t, 'alice');
  bob = await registerAndLogin(t, 'bob');
  carol = await registerAndLogin(t, 'carol');
});

afterAll(async () => {
  await t?.close();
});

describe('round trip at all four levels (createProfile, updateProfile, myProfile)', () => {
  it('the owner writes and reads plaintext; SHARED/PRIVATE never travel or rest in clear', async () => {
    aliceProfile = newObjectId();
    await storeDataKey(t, alice, 'Profile', aliceProfile, sharedKey);
    const bio = canary('bio');
    const diary = canary('diary');
    const created = await run(alice, CREATE, { i: { id: aliceProfile, displayName: 'Alice', email: 'alice@example.com', phone: '+1 555 0100', bio, diary } });
    expect(created.errors).toBeUndefined();
    expect(created.data).toEqual({
      createProfile: { id: aliceProfile, ownerId: alice.id, displayName: 'Alice', email: 'alice@example.com', phone: '+1 555 0100', bio, diary, __typename: 'Profile' },
    });
    expect(created.sent).not.toContain(bio);
    expect(created.sent).not.toContain(diary);
    expect(created.sent).toContain('alice@example.com'); // SERVER: plaintext over TLS, the gateway seals it

    // updateProfile(id: $id, input: $i): the object id comes from the argument.
    const newBio = 'Ünïcödé ✓ "quoted" \\ and a line\nbreak';
    const updated = await run(alice, UPDATE, { id: aliceProfile, i: { displayName: 'Alice A.', phone: null, bio: newBio, diary: null } });
    expect(updated.errors).toBeUndefined();
    expect(updated.data!.updateProfile).toMatchObject({ displayName: 'Alice A.', email: 'alice@example.com', phone: null, bio: newBio, diary: null });

    const mine = await run(alice, MINE);
    expect(mine.errors).toBeUndefined();
    expect(mine.data!.myProfile).toEqual({ __typename: 'Profile', id: aliceProfile, ownerId: alice.id, displayName: 'Alice A.', email: 'alice@example.com', phone: null, bio: newBio, diary: null });

    // What the server holds is an envelope bound to the right location (read without the client core).
    const raw = await t.gql<{ profile: { bio: string } }>('query P($id: ID!) { profile(id: $id) { bio } }', { id: aliceProfile }, alice.token);
    expect(JSON.parse(openEnvelopeText(backend, raw.data!.profile.bio, sharedKey, { coordinate: 'Profile.bio', ownerId: alice.id, objectId: aliceProfile }))).toBe(newBio);
  });

  it('the wire schema works as the client schema too', async () => {
    const r = await run(alice, UPDATE, { id: aliceProfile, i: { diary: 'via the wire schema' } }, keysOf(alice), { schema: built.wire });
    expect(r.errors).toBeUndefined();
    expect(r.data!.updateProfile).toMatchObject({ diary: 'via the wire schema' });
    const mine = await run(alice, MINE, {}, keysOf(alice), { schema: built.wire });
    expect(mine.data!.myProfile).toMatchObject({ diary: 'via the wire schema' });
  });
});

describe('selections', () => {
  it('aliases, named fragments and inline fragments', async () => {
    const doc = parse(/* GraphQL */ `
      query Q {
        me {
          username
          profile {
            ...P
            a: bio
            ... on Profile {
              d: diary
              name: displayName
            }
          }
        }
        myProfile {
          b: bio
          ...P
        }
      }
      fragment P on Profile {
        displayName
        bio
        diary
        email
      }
    `);
    const r = await run(alice, doc);
    expect(r.errors).toBeUndefined();
    const p = { displayName: 'Alice A.', bio: expect.stringContaining('Ünïcödé'), diary: 'via the wire schema', email: 'alice@example.com' };
    expect(r.data!.me).toEqual({ username: 'alice', profile: { __typename: 'Profile', ...p, a: p.bio, d: p.diary, name: 'Alice A.' } });
    expect(r.data!.myProfile).toEqual({ __typename: 'Profile', b: p.bio, ...p });
    expect(JSON.stringify(r.data)).not.toContain('_vg');
  });
});

describe('a list read by a READ grantee', () => {
  const owners: { user: TestUser; id: string; bio: string }[] = [];

  beforeAll(async () => {
    // Two more users: the gateway allows a burst of 5 registrations per client address.
    for (const name of ['dave', 'erin']) {
      const user = await registerAndLogin(t, name);
      const bio = `bio of ${name}`;
      owners.push({ user, id: await createProfile(user, bio, `diary of ${name}`), bio });
    }
    const mine = await run(alice, MINE);
    owners.push({ user: alice, id: aliceProfile, bio: (mine.data!.myProfile as { bio: string }).bio });
    // Carol has a profile but grants bob nothing.
    await createProfile(carol, 'carol bio', 'carol diary');
    for (const o of owners) {
      const g = await grantAccess(t, o.user, bob, 'Profile', o.id, sharedKey);
      expect(g.errors).toBeUndefined();
    }
  });

  it('opens SHARED fields of every granted profile; PRIVATE and ungranted fields stay FORBIDDEN from the server', async () => {
    const r = await run(bob, LIST);
    const nodes = (r.data!.profiles as { nodes: Record<string, unknown>[] }).nodes;
    expect(nodes).toHaveLength(4);
    for (const o of owners) {
      const n = nodes.find((x) => x.id === o.id)!;
      expect(n).toMatchObject({ displayName: o.user === alice ? 'Alice A.' : o.user.username, bio: o.bio, diary: null });
    }
    const carolNode = nodes.findIndex((x) => x.displayName === 'carol');
    // Only the server's FORBIDDEN errors: every envelope bob may read opened.
    const expected = nodes.map((_, i) => `profiles.nodes.${i}.diary:FORBIDDEN`);
    expected.push(`profiles.nodes.${carolNode}.bio:FORBIDDEN`, `profiles.nodes.${carolNode}.email:FORBIDDEN`);
    expect(codes(r).sort()).toEqual(expected.sort());
  });

  it('a missing key → KEY_NOT_FOUND per field with its path; everything else intact', async () => {
    const r = await run(bob, LIST, {}, keysOf(bob, generateSymmetricKey(backend)));
    const nodes = (r.data!.profiles as { nodes: Record<string, unknown>[] }).nodes;
    const keyErrors = codes(r).filter((c) => c.endsWith(':KEY_NOT_FOUND'));
    const granted = nodes.flatMap((n, i) => (owners.some((o) => o.id === n.id) ? [`profiles.nodes.${i}.bio:KEY_NOT_FOUND`] : []));
    expect(keyErrors.sort()).toEqual(granted.sort());
    expect(granted).toHaveLength(3);
    for (const n of nodes) expect(n.bio).toBeNull();
    expect(nodes.find((n) => n.id === aliceProfile)).toMatchObject({ displayName: 'Alice A.', email: 'alice@example.com' });
    const e = r.errors!.find((x) => x.extensions?.code === 'KEY_NOT_FOUND')!;
    expect(e.message).toMatch(/^Profile\.bio could not be opened/);
  });
});

describe('a tampered response', () => {
  it('a flipped character → ENVELOPE_TAMPERED on that field only', async () => {
    const r = await run(alice, MINE, {}, keysOf(alice), {
      tamper: (data) => {
        const p = data.myProfile as { bio: string };
        const i = p.bio.length - 12;
        p.bio = p.bio.slice(0, i) + (p.bio[i] === 'x' ? 'y' : 'x') + p.bio.slice(i + 1);
      },
    });
    expect(codes(r)).toEqual(['myProfile.bio:ENVELOPE_TAMPERED']);
    expect(r.data!.myProfile).toMatchObject({ bio: null, diary: 'via the wire schema', displayName: 'Alice A.', email: 'alice@example.com' });
  });

  it('envelopes swapped between fields → WRONG_LOCATION; garbage → ENVELOPE_MALFORMED', async () => {
    const r = await run(alice, MINE, {}, keysOf(alice), {
      tamper: (data) => {
        const p = data.myProfile as { bio: string; diary: string; phone: string };
        [p.bio, p.diary] = [p.diary, p.bio];
      },
    });
    expect(codes(r).sort()).toEqual(['myProfile.bio:WRONG_LOCATION', 'myProfile.diary:WRONG_LOCATION']);
    const g = await run(alice, MINE, {}, keysOf(alice), { tamper: (data) => void ((data.myProfile as { bio: string }).bio = 'AQEA!!') });
    expect(codes(g)).toEqual(['myProfile.bio:ENVELOPE_MALFORMED']);
    expect(g.data!.myProfile).toMatchObject({ bio: null, diary: 'via the wire schema' });
  });
});

describe('the location rule', () => {
  it('a WRITE grantee seals for the owner with locationFor; the default (owner = viewer) is refused by the gateway', async () => {
    expect((await grantAccess(t, alice, bob, 'Profile', aliceProfile, sharedKey, 'WRITE')).errors).toBeUndefined();
    const doc = parse('mutation U($id: ID!, $i: UpdateProfileInput!) { updateProfile(id: $id, input: $i) { bio } }');
    const wrong = await run(bob, doc, { id: aliceProfile, i: { bio: 'bob, sealed for himself' } });
    expect(codes(wrong)).toEqual(['updateProfile:BAD_SEALED_VALUE']);
    // A grantee's SHARED writes are signed (the gateway requires it): the owner sees who wrote.
    const ok = await run(bob, doc, { id: aliceProfile, i: { bio: 'edited by bob' } }, { ...keysOf(bob), signer: () => bob.signing }, {
      locationFor: (type, path, _value, ctx) => (type === 'UpdateProfileInput' && path[0] === 'updateProfile' ? { ownerId: alice.id, objectId: ctx.arguments.id as string } : undefined),
    });
    expect(ok.errors).toBeUndefined();
    expect(ok.data!.updateProfile).toEqual({ __typename: 'Profile', bio: 'edited by bob' });
    expect(((await run(alice, MINE)).data!.myProfile as { bio: string }).bio).toBe('edited by bob');
  });
});
