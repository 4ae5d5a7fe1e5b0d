// The urql exchange (src/client/urql.ts) end to end: a real urql Client (@urql/core) with
// cacheExchange, veilExchange, subscriptionExchange over a real graphql-ws client and
// fetchExchange, against the reference gateway on loopback:
// - the owner writes and reads all four levels, queries as urql sends them by default (GET,
//   with the CSRF header) and as POST; the wire carries the veiled document and envelopes;
// - urql's default GET without the CSRF header is refused by the gateway (the probe's
//   answer, BAD_REQUEST), and nothing of the operation is sent;
// - a stranger gets FORBIDDEN for the fields it may not read;
// - a subscription through subscriptionExchange delivers opened events;
// - against an ordinary Apollo Server serving the wire schema, the exchange refuses with
//   SERVER_NOT_ENFORCING and that server receives nothing but the probe.
import { Client, cacheExchange, fetchExchange, gql, subscriptionExchange, type Exchange } from '@urql/core';
import { parse, type DocumentNode } from 'graphql';
import { createClient, type Client as WsClient } from 'graphql-ws';
import { pipe, subscribe } from 'wonka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { generateSymmetricKey, type SymmetricKey } from '../../src/crypto/keys.js';
import { isVeilClientError, staticClientKeys } from '../../src/client/index.js';
import { veilExchange, type VeilExchangeOptions } from '../../src/client/urql.js';
import { referenceSchema } from '../helpers/reference-schema.js';
import { canary, newObjectId, registerAndLogin, startTestGateway, storeDataKey, type TestGateway, type TestUser } from '../helpers/gateway.js';
import { startPlainServer, type PlainServer } from '../helpers/plain-server.js';
import { waitFor } from '../helpers/wait.js';

const built = referenceSchema();
const backend = nodeBackend;
const sharedKey = generateSymmetricKey(backend);

const FIELDS = 'id ownerId displayName email phone bio diary';
const CREATE = gql(`mutation createProfile($input: CreateProfileInput!) { createProfile(input: $input) { ${FIELDS} } }`);
const UPDATE = parse(`mutation updateProfile($id: ID!, $input: UpdateProfileInput!) { updateProfile(id: $id, input: $input) { ${FIELDS} } }`);
const PROFILE = gql(`query profile($id: ID!) { profile(id: $id) { ${FIELDS} } }`);
// Without the owner and id fields: opening needs the ones withVeilFields adds.
const PROFILE_BARE = gql('query profileBare($id: ID!) { profile(id: $id) { displayName email bio diary } }');
const MY_PROFILE = parse(`query myProfile { myProfile { ${FIELDS} } }`);
const UPDATED = parse(`subscription profileUpdated($id: ID!) { profileUpdated(id: $id) { ${FIELDS} } }`);

interface Sent {
  readonly method: string;
  readonly url: string;
  readonly body: string;
  readonly operationName: string | null;
}

let t: TestGateway;
let alice: TestUser;
let bob: TestUser;
const wsClients: WsClient[] = [];

beforeAll(async () => {
  t = await startTestGateway();
  alice = await registerAndLogin(t, 'alice');
  bob = await registerAndLogin(t, 'bob');
});

afterAll(async () => {
  await Promise.all(wsClients.map((c) => c.dispose()));
  await t?.close();
});

/** What the exchanges after veilExchange sent over HTTP, in order. */
function recordingFetch(sent: Sent[]): typeof fetch {
  return (input, init) => {
    const url = String(input);
    const body = typeof init?.body === 'string' ? init.body : '';
    const method = init?.method ?? 'GET';
    const operationName = method === 'GET' ? new URL(url).searchParams.get('operationName') : ((JSON.parse(body) as { operationName?: string }).operationName ?? null);
    sent.push({ method, url, body, operationName });
    return fetch(input, init);
  };
}

interface Harness {
  readonly client: Client;
  readonly sent: Sent[];
  /** Raw WebSocket frames received. */
  readonly frames: string[];
}

function urqlFor(user: TestUser, o: { url?: string; csrfHeader?: boolean; preferGetMethod?: boolean; veil?: Partial<VeilExchangeOptions>; shared?: SymmetricKey; veilBeforeCache?: boolean } = {}): Harness {
  const sent: Sent[] = [];
  const frames: string[] = [];
  class RecordingWebSocket extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      this.on('message', (data: WebSocket.RawData) => void frames.push(Buffer.isBuffer(data) ? data.toString('utf8') : String(data)));
    }
  }
  const ws = createClient({ url: (o.url ?? t.gateway.url).replace(/^http/, 'ws'), webSocketImpl: RecordingWebSocket, connectionParams: { authorization: `Bearer ${user.token}` }, retryAttempts: 0, lazy: true });
  wsClients.push(ws);
  const veil = veilExchange({ schema: built.source, manifest: built.manifest, keys: staticClientKeys({ vault: user.vault, shared: o.shared ?? sharedKey }), backend, directory: 'unverified', viewerId: () => user.id, ...o.veil });
  const exchanges: Exchange[] = [
    ...(o.veilBeforeCache ? [veil, cacheExchange] : [cacheExchange, veil]),
    subscriptionExchange({
      forwardSubscription: (request) => ({
        subscribe: (sink) => ({ unsubscribe: ws.subscribe({ ...request, query: request.query ?? '' }, sink) }),
      }),
    }),
    fetchExchange,
  ];
  const headers: Record<string, string> = { authorization: `Bearer ${user.token}` };
  if (o.csrfHeader !== false) headers['apollo-require-preflight'] = 'true';
  const client = new Client({
    url: o.url ?? t.gateway.url,
    exchanges,
    fetch: recordingFetch(sent),
    fetchOptions: { headers },
    ...(o.preferGetMethod === undefined ? {} : { preferGetMethod: o.preferGetMethod }),
  });
  return { client, sent, frames };
}

function codes(error: { graphQLErrors: readonly { path?: readonly (string | number)[] | undefined; extensions?: Record<string, unknown> }[] } | undefined): string[] {
  return (error?.graphQLErrors ?? []).map((e) => `${(e.path ?? []).join('.')}:${String(e.extensions?.code)}`).sort();
}

const aliceProfile = newObjectId();
const bio = canary('bio');
const diary = canary('diary');
const newBio = 'Ünïcödé ✓ "quoted" \\ and a line\nbreak';
const newDiary = canary('diary2');

describe('the owner through urql: all four levels', () => {
  it('writes with plaintext variables and reads plaintext, queries over GET (urql\'s default) with the CSRF header; the wire carries envelopes', async () => {
    await storeDataKey(t, alice, 'Profile', aliceProfile, sharedKey);
    const { client, sent } = urqlFor(alice);

    const created = await client.mutation(CREATE, { input: { id: aliceProfile, displayName: 'Alice', email: 'alice@example.com', phone: '+1 555 0100', bio, diary } }).toPromise();
    expect(created.error).toBeUndefined();
    expect(created.data).toEqual({ createProfile: { __typename: 'Profile', id: aliceProfile, ownerId: alice.id, displayName: 'Alice', email: 'alice@example.com', phone: '+1 555 0100', bio, diary } });
    // The result names the operation as the app made it: plaintext variables.
    expect(created.operation.variables).toMatchObject({ input: { bio, diary } });

    const updated = await client.mutation(UPDATE, { id: aliceProfile, input: { displayName: 'Alice A.', phone: null, bio: newBio, diary: newDiary } }).toPromise();
    expect(updated.error).toBeUndefined();
    expect(updated.data).toMatchObject({ updateProfile: { displayName: 'Alice A.', email: 'alice@example.com', phone: null, bio: newBio, diary: newDiary } });

    const expected = { __typename: 'Profile', id: aliceProfile, ownerId: alice.id, displayName: 'Alice A.', email: 'alice@example.com', phone: null, bio: newBio, diary: newDiary };
    const read = await client.query(PROFILE, { id: aliceProfile }).toPromise();
    expect(read.error).toBeUndefined();
    expect(read.data).toEqual({ profile: expected });
    const mine = await client.query(MY_PROFILE, {}).toPromise();
    expect(mine.error).toBeUndefined();
    expect(mine.data).toEqual({ myProfile: expected });

    // Again: from urql's document cache (plaintext), no request.
    const count = sent.length;
    const cached = await client.query(PROFILE, { id: aliceProfile }).toPromise();
    expect(cached.data).toEqual({ profile: expected });
    expect(sent).toHaveLength(count);

    // The probe once, then each operation; queries as GET, mutations as POST.
    expect(sent.map((s) => `${s.method} ${s.operationName}`)).toEqual(['POST createProfile', 'POST updateProfile', 'GET profile', 'GET myProfile'].flatMap((x, i) => (i === 0 ? ['GET VgProbe', x] : [x])));
    const wire = sent.map((s) => `${decodeURIComponent(s.url)}\n${s.body}`).join('\n');
    expect(wire).toContain('_vgOwner: ownerId');
    for (const secret of [bio, diary, newDiary, 'Ünïcödé']) expect(wire).not.toContain(secret);
    expect(wire).toContain('alice@example.com');
  });

  it('with preferGetMethod: false every operation is a POST, and the CSRF header is not needed', async () => {
    const { client, sent } = urqlFor(alice, { csrfHeader: false, preferGetMethod: false });
    const read = await client.query(PROFILE, { id: aliceProfile }).toPromise();
    expect(read.error).toBeUndefined();
    expect(read.data).toMatchObject({ profile: { bio: newBio, diary: newDiary, email: 'alice@example.com' } });
    expect(sent.map((s) => `${s.method} ${s.operationName}`)).toEqual(['POST VgProbe', 'POST profile']);
  });

  it('urql\'s default GET without the CSRF header: the gateway refuses the probe (BAD_REQUEST), which is the answer; the query is never sent', async () => {
    const { client, sent } = urqlFor(alice, { csrfHeader: false });
    const read = await client.query(PROFILE, { id: aliceProfile }).toPromise();
    expect(read.data).toBeUndefined();
    expect(codes(read.error)).toEqual([':BAD_REQUEST']);
    expect(read.error?.message).toMatch(/Cross-Site Request Forgery/);
    expect(sent.map((s) => `${s.method} ${s.operationName}`)).toEqual(['GET VgProbe']);
  });
});

describe('a sealing failure through urql', () => {
  it('no viewer to own a new value: the result\'s networkError is LOCATION_UNKNOWN and nothing of the operation is sent', async () => {
    const { client, sent } = urqlFor(alice, { veil: { viewerId: () => undefined } });
    const secret = canary('bio');
    const r = await client.mutation(CREATE, { input: { id: newObjectId(), displayName: 'Nobody', bio: secret } }).toPromise();
    expect(r.data).toBeUndefined();
    expect(isVeilClientError(r.error?.networkError, 'LOCATION_UNKNOWN'), String(r.error)).toBe(true);
    expect(sent.map((x) => x.operationName)).toEqual(['VgProbe']);
    expect(sent.map((x) => x.body + x.url).join('\n')).not.toContain(secret);
  });
});

describe('veilExchange placed before cacheExchange', () => {
  // cacheExchange then keys and formats the veiled document itself (urql's keyDocument and
  // formatDocument), and keeps the results it saw: the veiled document must not map back to
  // the original (withVeilFields' rebuilt document), and opening must not change the
  // result the cache holds (it is opened again on every cache hit).
  it('reads plaintext from the network and then from the cache, which holds envelopes', async () => {
    const { client, sent } = urqlFor(alice, { veilBeforeCache: true });
    const expected = { displayName: 'Alice A.', bio: newBio, diary: newDiary, email: 'alice@example.com' };
    const first = await client.query(PROFILE_BARE, { id: aliceProfile }).toPromise();
    expect(codes(first.error)).toEqual([]);
    expect(first.data).toMatchObject({ profile: expected });
    const count = sent.length;
    const second = await client.query(PROFILE_BARE, { id: aliceProfile }).toPromise();
    expect(sent).toHaveLength(count);
    expect(codes(second.error)).toEqual([]);
    expect(second.data).toMatchObject({ profile: expected });
    expect(sent.map((x) => x.operationName)).toEqual(['VgProbe', 'profileBare']);
    expect(new URL(sent[1]!.url).searchParams.get('query')).toContain('_vgOwner: ownerId');
  });
});

describe('a stranger through urql', () => {
  it('gets FORBIDDEN for every field above PUBLIC of someone else\'s profile, and nothing to open', async () => {
    const { client } = urqlFor(bob, { shared: generateSymmetricKey(backend) });
    const read = await client.query(PROFILE, { id: aliceProfile }, { requestPolicy: 'network-only' }).toPromise();
    expect(read.data).toMatchObject({ profile: { id: aliceProfile, displayName: 'Alice A.', email: null, phone: null, bio: null, diary: null } });
    expect(codes(read.error)).toEqual(['profile.bio:FORBIDDEN', 'profile.diary:FORBIDDEN', 'profile.email:FORBIDDEN', 'profile.phone:FORBIDDEN']);
    const write = await client.mutation(UPDATE, { id: aliceProfile, input: { bio: 'not yours' } }).toPromise();
    expect(write.data ?? null).toBeNull();
    expect(codes(write.error), String(write.error)).toEqual(['updateProfile:FORBIDDEN']);
    // Nothing changed: the owner still reads her own values.
    const after = await urqlFor(alice).client.query(PROFILE, { id: aliceProfile }).toPromise();
    expect(after.data).toMatchObject({ profile: { bio: newBio, diary: newDiary } });
  });
});

describe('subscriptions through urql\'s subscriptionExchange over graphql-ws', () => {
  it('profileUpdated events arrive opened; the socket carried the veiled document and envelopes', async () => {
    const { client, frames } = urqlFor(alice);
    const events: { data?: unknown; error?: unknown }[] = [];
    const { unsubscribe } = pipe(
      client.subscription(UPDATED as DocumentNode, { id: aliceProfile }),
      subscribe((r) => void events.push({ data: r.data, error: r.error })),
    );
    try {
      await waitFor(() => t.gateway.pubsub.subscriberCount(`Profile:${aliceProfile}`) > 0, 'the subscription is registered');
      const bio2 = canary('ws-bio');
      const diary2 = canary('ws-diary');
      const updated = await client.mutation(UPDATE, { id: aliceProfile, input: { bio: bio2, diary: diary2 } }).toPromise();
      expect(updated.error).toBeUndefined();
      await waitFor(() => events.length >= 1, 'an event');
      expect(events[0]).toEqual({
        data: { profileUpdated: { __typename: 'Profile', id: aliceProfile, ownerId: alice.id, displayName: 'Alice A.', email: 'alice@example.com', phone: null, bio: bio2, diary: diary2 } },
        error: undefined,
      });
      const wire = frames.join('\n');
      expect(wire).toContain('"type":"next"');
      expect(wire).toContain('"_vgOwner"');
      expect(wire).not.toContain(bio2);
      expect(wire).not.toContain(diary2);
    } finally {
      unsubscribe();
    }
  });
});

describe('against an ordinary Apollo Server 5 serving the wire schema (no veilgraph)', () => {
  let s: PlainServer;

  beforeAll(async () => {
    s = await startPlainServer();
  });

  afterAll(async () => {
    await s?.stop();
  });

  it('refuses with SERVER_NOT_ENFORCING: the server receives the probe and nothing else, and stores nothing', async () => {
    const create = parse('mutation Create($i: CreateProfileInput!) { createProfile(input: $i) { id displayName } }');
    const read = parse('query Read($id: ID!) { profile(id: $id) { id displayName email bio diary } }');
    const secrets = { email: canary('email'), bio: canary('bio'), diary: canary('diary') };
    const sent: Sent[] = [];
    const client = new Client({
      url: s.url,
      fetch: recordingFetch(sent),
      // Apollo Server's CSRF check, like the gateway's, refuses urql's default GET without a header.
      preferGetMethod: false,
      exchanges: [
        cacheExchange,
        veilExchange({ schema: s.wireSDL, manifest: s.manifest, keys: staticClientKeys({ vault: generateSymmetricKey(backend), shared: generateSymmetricKey(backend) }), backend, directory: 'unverified', viewerId: () => 'user-1' }),
        fetchExchange,
      ],
    });

    const w = await client.mutation(create, { i: { id: newObjectId(), displayName: 'Alice', ...secrets } }).toPromise();
    expect(isVeilClientError(w.error?.networkError, 'SERVER_NOT_ENFORCING'), String(w.error)).toBe(true);
    expect(w.error?.networkError?.message).toMatch(/does not serve _veilgraph/);
    const r = await client.query(read, { id: 'x' }).toPromise();
    expect(isVeilClientError(r.error?.networkError, 'SERVER_NOT_ENFORCING'), String(r.error)).toBe(true);

    expect(s.received.map((x) => x.operationName)).toEqual(['VgProbe']);
    expect(sent.map((x) => x.operationName)).toEqual(['VgProbe']);
    const wire = JSON.stringify(s.received) + sent.map((x) => x.body).join('\n');
    for (const v of Object.values(secrets)) expect(wire).not.toContain(v);
    expect(s.rows.size).toBe(0);

    // Operations without protected fields still go through, without a probe.
    expect((await client.query(parse('query Hello { hello }'), {}).toPromise()).data).toEqual({ hello: 'hello' });
    expect(s.received.map((x) => x.operationName)).toEqual(['VgProbe', 'Hello']);
  });
});
