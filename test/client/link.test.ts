// createPrivacyLink: a real Apollo Client 4 (no React) over a real HttpLink, against a real
// gateway on loopback with a real SQLite file, using the operations of
// client/operations/profile.graphql. The request bodies are captured by wrapping fetch.
// Subscriptions: the per-event mapping is checked here with a stub transport (a terminating
// ApolloLink emitting two results); ws-link.test.ts does the real WebSocket round trip.
import { readFileSync } from 'node:fs';
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { CombinedGraphQLErrors } from '@apollo/client/errors';
import { Kind, parse, print, printSchema, type DocumentNode, type GraphQLFormattedError, type OperationDefinitionNode } from 'graphql';
import { firstValueFrom, of, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { generateSymmetricKey, type SymmetricKey } from '../../src/crypto/keys.js';
import { buildSchema } from '../../src/server/schema.js';
import { referenceSchema, referenceSdl } from '../helpers/reference-schema.js';
import { staticClientKeys } from '../../src/client/index.js';
import { createPrivacyLink, type PrivacyLinkOptions } from '../../src/client/apollo.js';
import { canary, grantAccess, newObjectId, registerAndLogin, startTestGateway, storeDataKey, type TestGateway, type TestUser } from '../helpers/gateway.js';
import * as fx from './fixtures.js';

const built = referenceSchema();
const { manifest } = built;
const backend = nodeBackend;
const sharedKey = generateSymmetricKey(backend);

/** The operations of client/operations/profile.graphql, one document each (with the fragments). */
const OPS = (() => {
  const doc = parse(readFileSync(new URL('../../client/operations/profile.graphql', import.meta.url), 'utf8'));
  const fragments = doc.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION);
  const out: Record<string, DocumentNode> = {};
  for (const d of doc.definitions) {
    if (d.kind === Kind.OPERATION_DEFINITION) out[d.name!.value] = { kind: Kind.DOCUMENT, definitions: [d, ...fragments] };
  }
  return out as Record<'myProfile' | 'profile' | 'profiles' | 'createProfile' | 'updateProfile', DocumentNode>;
})();

interface Profile {
  __typename: 'Profile';
  id: string;
  ownerId: string;
  displayName: string;
  email: string | null;
  phone: string | null;
  bio: string | null;
  diary: string | null;
}

interface Harness {
  readonly client: ApolloClient;
  /** Every request body sent. */
  readonly bodies: string[];
}

let t: TestGateway;
let alice: TestUser;
let bob: TestUser;
let dave: TestUser;

function clientFor(user: TestUser, o: { shared?: SymmetricKey; schema?: PrivacyLinkOptions['schema'] } = {}): Harness {
  const bodies: string[] = [];
  const capture: typeof fetch = (input, init) => {
    bodies.push(String(init?.body));
    return fetch(input, init);
  };
  const privacyLink = createPrivacyLink({
    schema: o.schema ?? built.source,
    manifest,
    keys: staticClientKeys({ vault: user.vault, shared: o.shared ?? sharedKey }),
    backend,
    directory: 'unverified',
    viewerId: () => user.id,
  });
  const link = ApolloLink.from([privacyLink, new HttpLink({ uri: t.gateway.url, fetch: capture, headers: { authorization: `Bearer ${user.token}` } })]);
  return { client: new ApolloClient({ link, cache: new InMemoryCache() }), bodies };
}

function codes(errors: readonly GraphQLFormattedError[]): string[] {
  return errors.map((e) => `${(e.path ?? []).join('.')}:${String(e.extensions?.code)}`);
}

beforeAll(async () => {
  t = await startTestGateway();
  alice = await registerAndLogin(t, 'alice');
  bob = await registerAndLogin(t, 'bob');
  dave = await registerAndLogin(t, 'dave');
});

afterAll(async () => {
  await t?.close();
});

const aliceProfile = newObjectId();
const daveProfile = newObjectId();
const bio = canary('bio');
const diary = canary('diary');
const newBio = 'Ünïcödé ✓ "quoted" \\ and a line\nbreak';
const newDiary = canary('diary2');

describe('the owner through Apollo Client: all four levels', () => {
  it('createProfile / updateProfile with plaintext variables; myProfile plaintext, the second time from the cache', async () => {
    // staticClientKeys seals every SHARED value under one key: it is stored as the profile's data key first.
    await storeDataKey(t, alice, 'Profile', aliceProfile, sharedKey);
    const { client, bodies } = clientFor(alice);

    const created = await client.mutate<{ createProfile: Profile }>({
      mutation: OPS.createProfile,
      variables: { input: { id: aliceProfile, displayName: 'Alice', email: 'alice@example.com', phone: '+1 555 0100', bio, diary } },
    });
    expect(created.error).toBeUndefined();
    expect(created.data!.createProfile).toMatchObject({ __typename: 'Profile', id: aliceProfile, ownerId: alice.id, displayName: 'Alice', email: 'alice@example.com', phone: '+1 555 0100', bio, diary });
    expect(Object.keys(created.data!.createProfile).filter((k) => k.startsWith('_vg'))).toEqual([]);

    const updated = await client.mutate<{ updateProfile: Profile }>({
      mutation: OPS.updateProfile,
      variables: { id: aliceProfile, input: { displayName: 'Alice A.', phone: null, bio: newBio, diary: newDiary } },
    });
    expect(updated.error).toBeUndefined();
    expect(updated.data!.updateProfile).toMatchObject({ displayName: 'Alice A.', email: 'alice@example.com', phone: null, bio: newBio, diary: newDiary });

    const expected = { __typename: 'Profile', id: aliceProfile, ownerId: alice.id, displayName: 'Alice A.', email: 'alice@example.com', phone: null, bio: newBio, diary: newDiary };
    const first = await client.query<{ myProfile: Profile }>({ query: OPS.myProfile });
    expect(first.error).toBeUndefined();
    expect(first.data!.myProfile).toMatchObject(expected);
    const sent = bodies.length;
    // The enforcement check first (once for this link), then the three operations.
    expect(bodies.map((b) => (JSON.parse(b) as { operationName?: string }).operationName)).toEqual(['VgProbe', 'createProfile', 'updateProfile', 'myProfile']);
    expect(sent).toBe(4);

    const second = await client.query<{ myProfile: Profile }>({ query: OPS.myProfile });
    expect(bodies).toHaveLength(sent); // served by the cache, no request
    expect(second.data!.myProfile).toEqual(first.data!.myProfile);
    expect(second.data!.myProfile).toMatchObject(expected);
    // The cache holds what the link returned: plaintext, without the reserved aliases.
    const cached = JSON.stringify(client.cache.extract());
    expect(cached).toContain(newDiary);
    expect(cached).not.toContain('_vg');

    // On the wire: the veiled document and envelopes; SERVER/PUBLIC values in clear (TLS).
    const wire = bodies.join('\n');
    for (const secret of [bio, diary, newDiary, JSON.stringify(newBio).slice(1, -1), 'Ünïcödé']) expect(wire).not.toContain(secret);
    expect(wire).toContain('alice@example.com');
    expect(wire).toContain('_vgOwner: ownerId');
    const createBody = JSON.parse(bodies[1]!) as { variables: { input: Record<string, unknown> } };
    expect(createBody.variables.input).toMatchObject({ id: aliceProfile, displayName: 'Alice', email: 'alice@example.com' });
    expect(createBody.variables.input.bio).toMatch(/^[A-Za-z0-9_-]{40,}$/);
  });

  it('the schema may be given as SDL: the wire schema (as codegen emits it) or the annotated source', async () => {
    for (const schema of [printSchema(built.wire), referenceSdl()]) {
      const { client, bodies } = clientFor(alice, { schema });
      const r = await client.query<{ profile: Profile }>({ query: OPS.profile, variables: { id: aliceProfile } });
      expect(r.data!.profile).toMatchObject({ bio: newBio, diary: newDiary });
      expect(bodies.join('')).toContain('_vgOwner');
      expect(bodies.join('')).not.toContain(newDiary);
    }
  });
});

describe('profiles(first: 50) read by a READ grantee', () => {
  beforeAll(async () => {
    await storeDataKey(t, dave, 'Profile', daveProfile, sharedKey);
    const d = clientFor(dave);
    await d.client.mutate({ mutation: OPS.createProfile, variables: { input: { id: daveProfile, displayName: 'dave', email: 'dave@example.com', bio: 'bio of dave', diary: 'diary of dave' } } });
    for (const [user, id] of [[alice, aliceProfile], [dave, daveProfile]] as const) {
      // The grant wraps the profile's SHARED key for bob, as the owner's client does.
      const r = await grantAccess(t, user, bob, 'Profile', id, sharedKey);
      expect(r.errors).toBeUndefined();
    }
  });

  it('SHARED fields open; PRIVATE ones are the server\'s FORBIDDEN (errorPolicy: all)', async () => {
    const { client } = clientFor(bob);
    const r = await client.query<{ profiles: { nodes: Profile[] } }>({ query: OPS.profiles, errorPolicy: 'all' });
    const nodes = r.data!.profiles.nodes;
    expect(nodes).toHaveLength(2);
    expect(nodes.find((n) => n.id === aliceProfile)).toMatchObject({ displayName: 'Alice A.', email: 'alice@example.com', bio: newBio, diary: null });
    expect(nodes.find((n) => n.id === daveProfile)).toMatchObject({ displayName: 'dave', bio: 'bio of dave', diary: null });
    expect(CombinedGraphQLErrors.is(r.error)).toBe(true);
    const errors = (r.error as CombinedGraphQLErrors).errors;
    expect(codes(errors).sort()).toEqual(['profiles.nodes.0.diary:FORBIDDEN', 'profiles.nodes.1.diary:FORBIDDEN']);
  });

  it('a missing key → a per-field KEY_NOT_FOUND error; every other field intact', async () => {
    const { client } = clientFor(bob, { shared: generateSymmetricKey(backend) });
    const r = await client.query<{ profiles: { nodes: Profile[] } }>({ query: OPS.profiles, errorPolicy: 'all' });
    const nodes = r.data!.profiles.nodes;
    expect(nodes.map((n) => n.bio)).toEqual([null, null]);
    expect(nodes.find((n) => n.id === aliceProfile)).toMatchObject({ __typename: 'Profile', ownerId: alice.id, displayName: 'Alice A.', email: 'alice@example.com' });
    const errors = (r.error as CombinedGraphQLErrors).errors;
    expect(codes(errors).sort()).toEqual(['profiles.nodes.0.bio:KEY_NOT_FOUND', 'profiles.nodes.0.diary:FORBIDDEN', 'profiles.nodes.1.bio:KEY_NOT_FOUND', 'profiles.nodes.1.diary:FORBIDDEN']);
    const e = errors.find((x) => x.extensions?.code === 'KEY_NOT_FOUND')!;
    expect(e.message).toMatch(/^Profile\.bio could not be opened/);
    expect(e.extensions).toMatchObject({ coordinate: 'Profile.bio' });

    // Default errorPolicy ('none'): the same errors, as an error.
    const strict = await clientFor(bob, { shared: generateSymmetricKey(backend) }).client.query({ query: OPS.profiles }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(CombinedGraphQLErrors.is(strict)).toBe(true);
  });

  it('a sealing failure fails the operation before it is sent (only the enforcement check went out)', async () => {
    const noViewer = createPrivacyLink({ schema: built.source, manifest, keys: staticClientKeys({ vault: bob.vault, shared: sharedKey }), backend, directory: 'unverified', viewerId: () => undefined });
    const bodies: string[] = [];
    const http = new HttpLink({ uri: t.gateway.url, fetch: (i, init) => (bodies.push(String(init?.body)), fetch(i, init)) });
    const client = new ApolloClient({ link: ApolloLink.from([noViewer, http]), cache: new InMemoryCache() });
    await expect(client.mutate({ mutation: OPS.updateProfile, variables: { id: aliceProfile, input: { bio: 'x' } } })).rejects.toMatchObject({ code: 'LOCATION_UNKNOWN' });
    expect(bodies.map((b) => (JSON.parse(b) as { operationName?: string }).operationName)).toEqual(['VgProbe']);
    expect(bodies.join('')).not.toContain('updateProfile');
  });
});

describe('each event of a stream is opened (subscription, stub transport)', () => {
  const SUB_SDL = `${fx.SDL}\ntype Subscription { noteSaved: Note! }`;
  const sub = buildSchema(SUB_SDL, []);
  const NOTE_SAVED = parse('subscription S { noteSaved { id text secret title } }');
  const owner = 'owner-1';
  /** Answers the enforcement check as a veilgraph server does; every other operation goes on to the stub. */
  const answersProbe = new ApolloLink((operation, forward) => (operation.operationName === 'VgProbe' ? of({ data: { _veilgraph: { protocol: 1, enforced: true } } }) : forward(operation)));
  const event = (id: string, text: string, secret: string) => ({
    data: {
      noteSaved: {
        __typename: 'Note',
        id,
        text: fx.sealAt(fx.shared, 'Note.text', owner, id, text),
        secret: fx.sealAt(fx.vault, 'Note.secret', owner, id, secret),
        title: `t-${id}`,
        _vgOwner: owner,
        _vgId: id,
      },
    },
  });

  it('two events through Apollo Client.subscribe: both plaintext, in order; the transport saw the veiled document', async () => {
    const seen: string[] = [];
    const transport = new ApolloLink((operation) => {
      seen.push(print(operation.query));
      const second = event('n2', 'second text', 'second secret');
      second.data.noteSaved.secret = 'AQEA!!'; // one field that cannot be opened
      return of(event('n1', 'first text', 'first secret'), second);
    });
    const link = ApolloLink.from([createPrivacyLink({ schema: sub.source, manifest: sub.manifest, keys: staticClientKeys({ vault: fx.vault, shared: fx.shared }), backend: fx.backend, directory: 'unverified' }), answersProbe, transport]);
    const client = new ApolloClient({ link, cache: new InMemoryCache() });
    const results = await firstValueFrom(client.subscribe<{ noteSaved: Record<string, unknown> }>({ query: NOTE_SAVED, errorPolicy: 'all' }).pipe(toArray()));
    expect(seen).toHaveLength(1);
    expect(seen[0]).toContain('_vgOwner: ownerId');
    expect(results).toHaveLength(2);
    expect(results[0]!.data).toEqual({ noteSaved: { __typename: 'Note', id: 'n1', text: 'first text', secret: 'first secret', title: 't-n1' } });
    expect(results[0]!.error).toBeUndefined();
    expect(results[1]!.data).toEqual({ noteSaved: { __typename: 'Note', id: 'n2', text: 'second text', secret: null, title: 't-n2' } });
    expect(codes((results[1]!.error as CombinedGraphQLErrors).errors)).toEqual(['noteSaved.secret:ENVELOPE_MALFORMED']);
  });

  it('incremental (@defer) chunks are refused rather than cached unopened', async () => {
    const transport = new ApolloLink(() => of({ incremental: [{ data: { text: 'x' }, path: ['noteSaved'] }], hasNext: false } as unknown as ApolloLink.Result));
    const link = ApolloLink.from([createPrivacyLink({ schema: sub.source, manifest: sub.manifest, keys: staticClientKeys({ vault: fx.vault, shared: fx.shared }), backend: fx.backend, directory: 'unverified' }), answersProbe, transport]);
    const client = new ApolloClient({ link, cache: new InMemoryCache() });
    const op = NOTE_SAVED.definitions[0] as OperationDefinitionNode;
    expect(op.operation).toBe('subscription');
    const results = await firstValueFrom(client.subscribe({ query: NOTE_SAVED }).pipe(toArray()));
    expect(String(results[0]?.error)).toMatch(/@defer/);
  });
});
