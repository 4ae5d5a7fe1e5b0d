// The link's enforcement check (docs/client.md, "The enforcement check"), with real servers
// on loopback and a real Apollo Client 4 with the privacy link:
// - against the real gateway the link works as before and asks `_veilgraph` once per link,
//   however many operations, concurrent first ones included; a probe without an answer is
//   asked again, and so is one the server refused to answer (UNAUTHENTICATED);
// - against an ordinary Apollo Server 5 serving the wire schema made with veilgraph's
//   exported pieces (the reproduction: it enforces nothing, so plaintext written
//   to SHARED and PRIVATE fields is stored as is) the link refuses with
//   SERVER_NOT_ENFORCING and that server receives nothing but the probe;
// - a server whose `_veilgraph` says `enforced: false`, or another protocol, is refused too.
// What each server received is recorded by the server itself (an Apollo Server plugin, or
// the request bodies on their way to the gateway).
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { CombinedGraphQLErrors } from '@apollo/client/errors';
import { parse, type DocumentNode } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { generateSymmetricKey } from '../../src/crypto/keys.js';
import { isVeilClientError, staticClientKeys, touchesProtectedFields } from '../../src/client/index.js';
import { createPrivacyLink } from '../../src/client/apollo.js';
import { referenceSchema } from '../helpers/reference-schema.js';
import { canary, newObjectId, registerAndLogin, startTestGateway, storeDataKey, type TestGateway, type TestUser } from '../helpers/gateway.js';
import { startLossyProxy } from '../helpers/lossy-proxy.js';
import { startPlainServer, type PlainServer } from '../helpers/plain-server.js';
import { waitFor } from '../helpers/wait.js';
import * as fx from './fixtures.js';

const backend = nodeBackend;

/** Operation names of request bodies, in order. */
function names(bodies: readonly string[]): string[] {
  return bodies.map((b) => String((JSON.parse(b) as { operationName?: unknown }).operationName));
}

/** Whatever the operation rejected with (or undefined). */
async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

// ---------------------------------------------------------------------------------------
// The real gateway.
// ---------------------------------------------------------------------------------------
describe('against the veilgraph gateway', () => {
  const built = referenceSchema();
  const PROFILE = parse('query P($id: ID!) { profile(id: $id) { id displayName email bio diary } }');
  const MY_PROFILE = parse('query M { myProfile { id displayName email bio diary } }');
  const CREATE = parse('mutation C($i: CreateProfileInput!) { createProfile(input: $i) { id email bio diary } }');
  const UPDATE = parse('mutation U($id: ID!, $i: UpdateProfileInput!) { updateProfile(id: $id, input: $i) { id bio diary } }');
  const ME = parse('query Me { me { id username } }');
  let t: TestGateway;
  let alice: TestUser;
  const shared = generateSymmetricKey(backend);

  /** A client of the gateway at `uri` whose request bodies are recorded; `token()` is read per request. */
  function client(user: TestUser, o: { uri?: string; token?: () => string; entered?: string[]; holdProbe?: Promise<void> } = {}) {
    const bodies: string[] = [];
    const capture: typeof fetch = async (input, init) => {
      const body = String(init?.body);
      bodies.push(body);
      if (o.holdProbe && body.includes('VgProbe')) await o.holdProbe;
      return fetch(input, init);
    };
    const privacy = createPrivacyLink({ schema: built.source, manifest: built.manifest, keys: staticClientKeys({ vault: user.vault, shared }), backend, directory: 'unverified', viewerId: () => user.id });
    // Records every operation that reaches the privacy link (before any probe).
    const entering = new ApolloLink((op, forward) => (o.entered?.push(op.operationName ?? ''), forward(op)));
    // After the privacy link, so the probe carries the token too (as a real auth link placed there would).
    const auth = new ApolloLink((op, forward) => {
      op.setContext({ headers: { authorization: `Bearer ${o.token?.() ?? user.token}` } });
      return forward(op);
    });
    const http = new HttpLink({ uri: o.uri ?? t.gateway.url, fetch: capture });
    return { client: new ApolloClient({ link: ApolloLink.from([entering, privacy, auth, http]), cache: new InMemoryCache() }), bodies };
  }

  beforeAll(async () => {
    t = await startTestGateway();
    alice = await registerAndLogin(t, 'alice');
  });

  afterAll(async () => {
    await t?.close();
  });

  it('answers _veilgraph to anyone, signed in or not: protocol 1, enforced', async () => {
    expect(await t.gql('query { _veilgraph { protocol enforced } }')).toMatchObject({ status: 200, data: { _veilgraph: { protocol: 1, enforced: true } } });
    expect((await t.gql('query { _veilgraph { protocol enforced } }', {}, alice.token)).data).toEqual({ _veilgraph: { protocol: 1, enforced: true } });
  });

  it('many operations, five of them concurrent first ones: the link works as before and asks once', async () => {
    const entered: string[] = [];
    let release!: () => void;
    const holdProbe = new Promise<void>((r) => (release = r));
    const { client: c, bodies } = client(alice, { entered, holdProbe });

    // Five reads start together; the probe's request is held until all five reached the link.
    const reads = Array.from({ length: 5 }, () => c.query({ query: PROFILE, variables: { id: newObjectId() }, fetchPolicy: 'network-only' }));
    await waitFor(() => entered.length === 5 && bodies.length === 1, 'five operations in the link and one probe on the wire');
    expect(names(bodies)).toEqual(['VgProbe']);
    release();
    for (const r of await Promise.all(reads)) expect(r).toMatchObject({ data: { profile: null } });
    expect(names(bodies).filter((n) => n === 'VgProbe')).toHaveLength(1);

    // Writes and reads of every level, each through the gateway.
    const id = newObjectId();
    const bio = canary('bio');
    const diary = canary('diary');
    await storeDataKey(t, alice, 'Profile', id, shared);
    const created = await c.mutate({ mutation: CREATE, variables: { i: { id, displayName: 'Alice', email: 'alice@example.com', bio, diary } } });
    expect(created.data).toEqual({ createProfile: { __typename: 'Profile', id, email: 'alice@example.com', bio, diary } });
    const updated = await c.mutate({ mutation: UPDATE, variables: { id, i: { bio: `${bio}2` } } });
    expect(updated.data).toEqual({ updateProfile: { __typename: 'Profile', id, bio: `${bio}2`, diary } });
    for (let i = 0; i < 10; i++) {
      const r = await c.query({ query: MY_PROFILE, fetchPolicy: 'network-only' });
      expect(r.data).toEqual({ myProfile: { __typename: 'Profile', id, displayName: 'Alice', email: 'alice@example.com', bio: `${bio}2`, diary } });
    }
    expect(names(bodies).filter((n) => n === 'VgProbe')).toHaveLength(1);
    expect(names(bodies)).toHaveLength(1 + 5 + 2 + 10);
    expect(names(bodies)[0]).toBe('VgProbe');
    // The sealed values still went out sealed.
    expect(bodies.join('\n')).not.toContain(bio);
  });

  it('an operation without protected fields sends no probe', async () => {
    const { client: c, bodies } = client(alice);
    expect((await c.query({ query: ME })).data).toMatchObject({ me: { id: alice.id } });
    expect(names(bodies)).toEqual(['Me']);
  });

  it('a probe that got no answer (connection lost) fails that operation only, and the next one asks again', async () => {
    const proxy = await startLossyProxy(Number(new URL(t.gateway.url).port));
    try {
      const { client: c, bodies } = client(alice, { uri: proxy.url });
      const lost = proxy.loseNextAnswer('VgProbe', async () => undefined);
      const e = await failure(c.query({ query: MY_PROFILE, fetchPolicy: 'network-only' }));
      await lost;
      expect(e).toBeInstanceOf(Error);
      expect(isVeilClientError(e), 'no answer is not a verdict').toBe(false);
      expect(names(bodies)).toEqual(['VgProbe']);

      const r = await c.query({ query: MY_PROFILE, fetchPolicy: 'network-only' });
      expect(r.data).toMatchObject({ myProfile: { displayName: 'Alice' } });
      const again = await c.query({ query: MY_PROFILE, fetchPolicy: 'network-only' });
      expect(again.data).toEqual(r.data);
      expect(names(bodies)).toEqual(['VgProbe', 'VgProbe', 'M', 'M']);
    } finally {
      await proxy.close();
    }
  });

  it('a probe the server refused to answer (UNAUTHENTICATED) is that operation\'s answer, and is asked again', async () => {
    let token = 'not-a-token';
    const { client: c, bodies } = client(alice, { token: () => token });
    const e = await failure(c.query({ query: MY_PROFILE, fetchPolicy: 'network-only' }));
    expect(CombinedGraphQLErrors.is(e)).toBe(true);
    expect((e as CombinedGraphQLErrors).errors.map((x) => x.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    expect(names(bodies)).toEqual(['VgProbe']);

    token = alice.token;
    const r = await c.query({ query: MY_PROFILE, fetchPolicy: 'network-only' });
    expect(r.data).toMatchObject({ myProfile: { displayName: 'Alice' } });
    expect(names(bodies)).toEqual(['VgProbe', 'VgProbe', 'M']);
  });
});

// ---------------------------------------------------------------------------------------
// Ordinary Apollo Server 5 (no veilgraph): the wire schema of an annotated SDL, built with
// veilgraph's exported pieces, resolvers that store what they get in a Map.
// ---------------------------------------------------------------------------------------
/** A client of a plain server: no token (the anonymous client), a user id it claims. */
function plainClient(s: PlainServer, o: { enforcementCheck?: boolean; accept?: string } = {}) {
  const bodies: string[] = [];
  const capture: typeof fetch = (input, init) => (bodies.push(String(init?.body)), fetch(input, init));
  const link = ApolloLink.from([
    createPrivacyLink({
      schema: s.wireSDL,
      manifest: s.manifest,
      keys: staticClientKeys({ vault: generateSymmetricKey(backend), shared: generateSymmetricKey(backend) }),
      backend,
      directory: 'unverified',
      viewerId: () => 'user-1',
      ...(o.enforcementCheck === undefined ? {} : { enforcementCheck: o.enforcementCheck }),
    }),
    new HttpLink({ uri: s.url, fetch: capture, ...(o.accept ? { headers: { accept: o.accept } } : {}) }),
  ]);
  return { client: new ApolloClient({ link, cache: new InMemoryCache() }), bodies };
}

const CREATE_PLAIN: DocumentNode = parse('mutation Create($i: CreateProfileInput!) { createProfile(input: $i) { id displayName } }');
const READ_PLAIN: DocumentNode = parse('query Read($id: ID!) { profile(id: $id) { id displayName email bio diary } }');

describe('against an ordinary Apollo Server 5 serving the wire schema (no veilgraph)', () => {
  let s: PlainServer;

  beforeAll(async () => {
    s = await startPlainServer();
  });

  afterAll(async () => {
    await s?.stop();
  });

  it('is the issue\'s server: it takes plaintext in SHARED and PRIVATE fields from anyone and stores it', async () => {
    const res = await fetch(s.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'mutation { createProfile(input: { id: "raw", displayName: "x", email: "raw@example.com", bio: "raw bio", diary: "raw diary" }) { id bio diary } }' }),
    });
    expect(await res.json()).toEqual({ data: { createProfile: { id: 'raw', bio: 'raw bio', diary: 'raw diary' } } });
    expect(s.rows.get('raw')).toMatchObject({ email: 'raw@example.com', bio: 'raw bio', diary: 'raw diary' });
  });

  it('the link refuses with SERVER_NOT_ENFORCING: the server receives the probe and nothing else, and stores nothing', async () => {
    s.received.length = 0;
    s.rows.clear();
    const { client: c, bodies } = plainClient(s);
    const id = newObjectId();
    const secrets = { email: canary('email'), bio: canary('bio'), diary: canary('diary') };

    const e = await failure(c.mutate({ mutation: CREATE_PLAIN, variables: { i: { id, displayName: 'Alice', ...secrets } } }));
    expect(isVeilClientError(e, 'SERVER_NOT_ENFORCING'), String(e)).toBe(true);
    expect((e as Error).message).toMatch(/does not serve _veilgraph/);
    // Concurrent reads: the refusal is remembered, no second probe, nothing sent.
    const reads = await Promise.all([1, 2, 3].map(() => failure(c.query({ query: READ_PLAIN, variables: { id }, fetchPolicy: 'network-only' }))));
    for (const r of reads) expect(isVeilClientError(r, 'SERVER_NOT_ENFORCING'), String(r)).toBe(true);

    expect(s.received.map((r) => r.operationName)).toEqual(['VgProbe']);
    expect(names(bodies)).toEqual(['VgProbe']);
    const wire = JSON.stringify(s.received) + bodies.join('\n');
    for (const v of Object.values(secrets)) expect(wire).not.toContain(v);
    expect(s.rows.size).toBe(0);
  });

  it('an HTTP 400 application/json answer (HttpLink\'s ServerError) is read as the answer it is', async () => {
    s.received.length = 0;
    // Without graphql-response+json in Accept, Apollo Server answers the unknown field with a
    // 400 application/json, which HttpLink turns into a ServerError.
    const { client: c } = plainClient(s, { accept: 'application/json' });
    const e = await failure(c.mutate({ mutation: CREATE_PLAIN, variables: { i: { id: newObjectId(), displayName: 'A', email: canary('email') } } }));
    expect(isVeilClientError(e, 'SERVER_NOT_ENFORCING'), String(e)).toBe(true);
    const again = await failure(c.query({ query: READ_PLAIN, variables: { id: 'x' } }));
    expect(isVeilClientError(again, 'SERVER_NOT_ENFORCING'), String(again)).toBe(true);
    expect(s.received.map((r) => r.operationName)).toEqual(['VgProbe']);
  });

  it('operations without protected fields still work, without a probe', async () => {
    s.received.length = 0;
    const { client: c } = plainClient(s);
    expect((await c.query({ query: parse('query Hello { hello }') })).data).toEqual({ hello: 'hello' });
    expect(s.received.map((r) => r.operationName)).toEqual(['Hello']);
  });

  it('with enforcementCheck: false (unsafe) the write goes through: the SERVER value is stored in clear', async () => {
    s.received.length = 0;
    s.rows.clear();
    const { client: c } = plainClient(s, { enforcementCheck: false });
    const id = newObjectId();
    const email = canary('email');
    const r = await c.mutate({ mutation: CREATE_PLAIN, variables: { i: { id, displayName: 'Alice', email, bio: 'b', diary: 'd' } } });
    expect(r.data).toEqual({ createProfile: { __typename: 'Profile', id, displayName: 'Alice' } });
    expect(s.received.map((x) => x.operationName)).toEqual(['Create']);
    expect(s.rows.get(id)).toMatchObject({ email });
  });
});

describe('a server whose _veilgraph does not say { protocol: 1, enforced: true }', () => {
  for (const info of [
    { protocol: 1, enforced: false },
    { protocol: 2, enforced: true },
  ]) {
    it(`${JSON.stringify(info)}: refused with SERVER_NOT_ENFORCING, nothing but the probe received`, async () => {
      const s = await startPlainServer(info);
      try {
        const { client: c } = plainClient(s);
        const e = await failure(c.mutate({ mutation: CREATE_PLAIN, variables: { i: { id: newObjectId(), displayName: 'A', email: canary('email'), bio: 'b', diary: 'd' } } }));
        expect(isVeilClientError(e, 'SERVER_NOT_ENFORCING'), String(e)).toBe(true);
        expect((e as Error).message).toContain(`"protocol":${info.protocol},"enforced":${info.enforced}`);
        const again = await failure(c.query({ query: READ_PLAIN, variables: { id: 'x' } }));
        expect(isVeilClientError(again, 'SERVER_NOT_ENFORCING')).toBe(true);
        expect(s.received.map((r) => r.operationName)).toEqual(['VgProbe']);
        expect(s.rows.size).toBe(0);
      } finally {
        await s.stop();
      }
    });
  }
});

// ---------------------------------------------------------------------------------------
// Which operations are checked: those that select or write a non-PUBLIC field.
// ---------------------------------------------------------------------------------------
describe('touchesProtectedFields', () => {
  const cases: [string, boolean][] = [
    ['query { note(id: "1") { id title } }', false],
    ['query { note(id: "1") { id text } }', true],
    ['query { owned { id ... on Task { due } } }', true],
    ['query { owned { id ownerId } }', false],
    ['query { search { ... on Photo { url } } }', false],
    ['query { search { ...P } } fragment P on Photo { caption }', true],
    ['query { folder(id: "1") { pinned { id } } }', false],
    ['mutation M($i: FolderInput!) { saveFolder(input: $i) { id } }', true],
    ['mutation M($items: [NotePatchItem!]!) { patchNotes(items: $items) { id } }', true],
    ['mutation { savePhoto(input: { key: "k" }) { key } }', true],
  ];
  it.each(cases)('%s → %s', (document, expected) => {
    expect(touchesProtectedFields(parse(document), fx.source, fx.manifest)).toBe(expected);
    expect(touchesProtectedFields(parse(document), fx.wire, fx.manifest)).toBe(expected);
  });
});
