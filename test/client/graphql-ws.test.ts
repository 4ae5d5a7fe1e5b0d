// The plain graphql-ws helper (src/client/graphql-ws.ts, veilWsClient) end to end, with a
// real graphql-ws client over `ws`:
// - against the reference gateway (which runs only subscriptions over WebSocket), the owner
//   writes over HTTP with plain fetch and the client pipeline (as docs/client.md shows for
//   fetch) and receives profileUpdated events opened through the helper's `iterate` and
//   `subscribe`; the socket carried the veiled document and envelopes, and the helper's
//   probe went over HTTP (fetchProbe) once;
// - a stranger's subscription to someone else's profile gets its events with the fields
//   above PUBLIC FORBIDDEN;
// - against an ordinary graphql-ws server serving the wire schema (no veilgraph), the helper
//   refuses with SERVER_NOT_ENFORCING and that server receives nothing but the probe.
import type { AddressInfo } from 'node:net';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { parse, print, printSchema, type DocumentNode, type FormattedExecutionResult } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { generateSymmetricKey } from '../../src/crypto/keys.js';
import { buildPrivacyManifest } from '../../src/privacy/manifest.js';
import { PRIVACY_SDL } from '../../src/privacy/sdl.js';
import { toWireSchema } from '../../src/privacy/wire-schema.js';
import { createVeilPipeline, fetchProbe, isVeilClientError, staticClientKeys, type ClientKeys } from '../../src/client/index.js';
import { veilWsClient } from '../../src/client/graphql-ws.js';
import { referenceSchema } from '../helpers/reference-schema.js';
import { canary, newObjectId, registerAndLogin, startTestGateway, storeDataKey, type TestGateway, type TestUser } from '../helpers/gateway.js';
import { waitFor, within } from '../helpers/wait.js';

const built = referenceSchema();
const backend = nodeBackend;
const sharedKey = generateSymmetricKey(backend);

const FIELDS = 'id ownerId displayName email phone bio diary';
const CREATE = parse(`mutation createProfile($input: CreateProfileInput!) { createProfile(input: $input) { ${FIELDS} } }`);
const UPDATE = parse(`mutation updateProfile($id: ID!, $input: UpdateProfileInput!) { updateProfile(id: $id, input: $input) { ${FIELDS} } }`);
const UPDATED = parse(`subscription profileUpdated($id: ID!) { profileUpdated(id: $id) { ${FIELDS} } }`);

let t: TestGateway;
let alice: TestUser;
let bob: TestUser;
const sockets: Client[] = [];

beforeAll(async () => {
  t = await startTestGateway();
  alice = await registerAndLogin(t, 'alice');
  bob = await registerAndLogin(t, 'bob');
});

afterAll(async () => {
  await Promise.all(sockets.map((c) => c.dispose()));
  await t?.close();
});

/** A graphql-ws client to `url` recording the raw frames it sends and receives. */
function socket(url: string, token?: string): { ws: Client; frames: string[] } {
  const frames: string[] = [];
  class RecordingWebSocket extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      this.on('message', (data: WebSocket.RawData) => void frames.push(`in ${Buffer.isBuffer(data) ? data.toString('utf8') : String(data)}`));
    }
    override send(data: Parameters<WebSocket['send']>[0], ...rest: unknown[]): void {
      frames.push(`out ${String(data)}`);
      (super.send as (...a: unknown[]) => void)(data, ...rest);
    }
  }
  const ws = createClient({ url, webSocketImpl: RecordingWebSocket, ...(token ? { connectionParams: { authorization: `Bearer ${token}` } } : {}), retryAttempts: 0 });
  sockets.push(ws);
  return { ws, frames };
}

function helperFor(user: TestUser, shared = sharedKey, keys: ClientKeys = staticClientKeys({ vault: user.vault, shared })) {
  const { ws, frames } = socket(t.gateway.url.replace(/^http/, 'ws'), user.token);
  const probes: string[] = [];
  const recordingFetch: typeof fetch = (input, init) => (probes.push(String(init?.body)), fetch(input, init));
  const veil = veilWsClient(ws, {
    schema: built.source,
    manifest: built.manifest,
    keys,
    backend,
    directory: 'unverified',
    viewerId: () => user.id,
    // The gateway runs only subscriptions over WebSocket: the probe goes over HTTP.
    probe: fetchProbe(t.gateway.url, { headers: { authorization: `Bearer ${user.token}` }, fetch: recordingFetch }),
  });
  return { veil, frames, probes };
}

/** A query or mutation over HTTP with plain fetch and the client pipeline (docs/client.md, "fetch"). */
async function viaFetch(user: TestUser, document: DocumentNode, variables: Record<string, unknown>): Promise<FormattedExecutionResult> {
  const headers = { authorization: `Bearer ${user.token}` };
  const veil = createVeilPipeline({ schema: built.source, manifest: built.manifest, keys: staticClientKeys({ vault: user.vault, shared: sharedKey }), backend, directory: 'unverified', viewerId: () => user.id });
  const prepared = await veil.prepare({ document, variables }, fetchProbe(t.gateway.url, { headers }));
  if (prepared.kind === 'answered') return prepared.result;
  const res = await fetch(t.gateway.url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ query: print(prepared.document), variables: prepared.variables }) });
  return veil.open((await res.json()) as FormattedExecutionResult, prepared.document, null);
}

/** The one result of an operation through `subscribe`. */
function once(veil: ReturnType<typeof veilWsClient>, request: Parameters<ReturnType<typeof veilWsClient>['subscribe']>[0]): Promise<FormattedExecutionResult> {
  return new Promise((resolve, reject) => {
    const results: FormattedExecutionResult[] = [];
    veil.subscribe(request, { next: (r) => void results.push(r), error: reject, complete: () => (results.length === 1 ? resolve(results[0]!) : reject(new Error(`${results.length} results`))) });
  });
}

function codes(errors: FormattedExecutionResult['errors']): string[] {
  return (errors ?? []).map((e) => `${(e.path ?? []).join('.')}:${String(e.extensions?.code)}`).sort();
}

const profileId = newObjectId();

describe('veilWsClient against the gateway', () => {
  it('profileUpdated events arrive opened through iterate and subscribe; the wire carried envelopes', async () => {
    await storeDataKey(t, alice, 'Profile', profileId, sharedKey);
    const { veil, frames, probes } = helperFor(alice);
    const bio = canary('bio');
    const diary = canary('diary');
    const created = await viaFetch(alice, CREATE, { input: { id: profileId, displayName: 'Alice', email: 'alice@example.com', bio, diary } });
    expect(created).toEqual({ data: { createProfile: { __typename: 'Profile', id: profileId, ownerId: alice.id, displayName: 'Alice', email: 'alice@example.com', phone: null, bio, diary } } });

    const iterated = veil.iterate({ query: UPDATED, variables: { id: profileId } });
    const pushed: FormattedExecutionResult[] = [];
    const stop = veil.subscribe({ query: UPDATED, variables: { id: profileId } }, { next: (r) => void pushed.push(r), error: (e) => void pushed.push({ errors: [{ message: String(e) }] }), complete: () => undefined });
    const first = iterated.next();
    try {
      await waitFor(() => t.gateway.pubsub.subscriberCount(`Profile:${profileId}`) === 2, 'both subscriptions registered');
      const values = [1, 2].map((i) => ({ bio: canary(`ws-bio-${i}`), diary: canary(`ws-diary-${i}`) }));
      for (const v of values) {
        const r = await viaFetch(alice, UPDATE, { id: profileId, input: v });
        expect(r.errors).toBeUndefined();
      }
      const expected = values.map((v) => ({ data: { profileUpdated: { __typename: 'Profile', id: profileId, ownerId: alice.id, displayName: 'Alice', email: 'alice@example.com', phone: null, ...v } } }));
      expect((await within(first, 'the first event')).value).toEqual(expected[0]);
      expect((await within(iterated.next(), 'the second event')).value).toEqual(expected[1]);
      await waitFor(() => pushed.length === 2, 'two events through subscribe');
      expect(pushed).toEqual(expected);

      const wire = frames.join('\n');
      expect(wire).toContain('_vgOwner: ownerId');
      expect(wire).toContain('"_vgOwner"');
      for (const secret of [bio, diary, ...values.flatMap((v) => [v.bio, v.diary])]) expect(wire).not.toContain(secret);
      // The helper's probe once, over HTTP; the socket carried the two subscriptions only.
      expect(probes.map((b) => (JSON.parse(b) as { operationName?: string }).operationName)).toEqual(['VgProbe']);
      const subscribes = frames.filter((f) => f.startsWith('out ') && f.includes('"type":"subscribe"')).map((f) => (JSON.parse(f.slice(4)) as { payload: { operationName?: string } }).payload.operationName);
      expect(subscribes).toEqual(['profileUpdated', 'profileUpdated']);
    } finally {
      stop();
      await iterated.return!();
    }
    await waitFor(() => t.gateway.pubsub.subscriberCount(`Profile:${profileId}`) === 0, 'both subscriptions ended');
  });

  it('a stranger\'s subscription delivers the events with every field above PUBLIC FORBIDDEN', async () => {
    const stranger = helperFor(bob, generateSymmetricKey(backend));
    const events = stranger.veil.iterate({ query: UPDATED, variables: { id: profileId } });
    try {
      const next = events.next();
      await waitFor(() => t.gateway.pubsub.subscriberCount(`Profile:${profileId}`) === 1, 'the subscription registered');
      const r = await viaFetch(alice, UPDATE, { id: profileId, input: { displayName: 'Alice B.', bio: canary('bio') } });
      expect(r.errors).toBeUndefined();
      const event = (await within(next, 'the event')).value as FormattedExecutionResult;
      expect(event.data).toEqual({ profileUpdated: { __typename: 'Profile', id: profileId, ownerId: alice.id, displayName: 'Alice B.', email: null, phone: null, bio: null, diary: null } });
      expect(codes(event.errors)).toEqual(['profileUpdated.bio:FORBIDDEN', 'profileUpdated.diary:FORBIDDEN', 'profileUpdated.email:FORBIDDEN', 'profileUpdated.phone:FORBIDDEN']);
    } finally {
      await events.return!();
    }
    await waitFor(() => t.gateway.pubsub.subscriberCount(`Profile:${profileId}`) === 0, 'the subscription ended');
  });
});

describe('veilWsClient when an event cannot be opened at all', () => {
  it('the keys cannot be prepared: the operation ends with that error (iterate throws it), no event is delivered unopened', async () => {
    const statics = staticClientKeys({ vault: alice.vault, shared: sharedKey });
    const down = new Error('key service unreachable');
    const keys: ClientKeys = {
      sealingKey: (level, location) => statics.sealingKey(level, location),
      openingKeys: (level, location) => statics.openingKeys(level, location),
      prepare: (requests) => {
        if (requests.some((r) => r.purpose === 'open')) throw down;
      },
    };
    const { veil } = helperFor(alice, sharedKey, keys);
    const events = veil.iterate({ query: UPDATED, variables: { id: profileId } });
    const next = events.next().then(
      (r) => ({ delivered: r }),
      (e: unknown) => ({ thrown: e }),
    );
    await waitFor(() => t.gateway.pubsub.subscriberCount(`Profile:${profileId}`) === 1, 'the subscription registered');
    const r = await viaFetch(alice, UPDATE, { id: profileId, input: { bio: canary('bio') } });
    expect(r.errors).toBeUndefined();
    expect(await within(next, 'the end of the operation')).toEqual({ thrown: down });
    // The operation was stopped on the server too.
    await waitFor(() => t.gateway.pubsub.subscriberCount(`Profile:${profileId}`) === 0, 'the subscription ended');
  });
});

describe('veilWsClient against an ordinary graphql-ws server serving the wire schema (no veilgraph)', () => {
  const SDL = /* GraphQL */ `
    type Profile @owner(field: "ownerId") @privacy(level: SHARED) {
      id: ID!
      ownerId: ID!
      displayName: String! @privacy(level: PUBLIC)
      bio: String
    }
    input ProfileInput @writes(type: "Profile") {
      id: ID!
      bio: String
    }
    type Query {
      hello: String
    }
    type Mutation {
      saveProfile(input: ProfileInput!): Profile
    }
  `;
  const source = makeExecutableSchema({ typeDefs: [PRIVACY_SDL, SDL] });
  const manifest = buildPrivacyManifest(source);
  const wireSDL = printSchema(toWireSchema(source, manifest));
  const received: (string | null)[] = [];
  const stored: unknown[] = [];
  let wss: WebSocketServer;

  beforeAll(async () => {
    const schema = makeExecutableSchema({
      typeDefs: wireSDL,
      resolvers: { Query: { hello: () => 'hello' }, Mutation: { saveProfile: (_: unknown, a: { input: Record<string, unknown> }) => (stored.push(a.input), { ...a.input, ownerId: 'x', displayName: 'x' }) } },
    });
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    useServer({ schema, onSubscribe: (_ctx, _id, payload) => void received.push(payload.operationName ?? null) }, wss);
  });

  afterAll(async () => {
    await new Promise<void>((r) => wss.close(() => r()));
  });

  it('refuses with SERVER_NOT_ENFORCING: the server receives the probe and nothing else; unprotected operations still go', async () => {
    const { ws, frames } = socket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
    const veil = veilWsClient(ws, { schema: wireSDL, manifest, keys: staticClientKeys({ vault: generateSymmetricKey(backend), shared: generateSymmetricKey(backend) }), backend, directory: 'unverified', viewerId: () => 'user-1' });
    const secret = canary('bio');
    const save = 'mutation Save($i: ProfileInput!) { saveProfile(input: $i) { id bio } }';
    for (let i = 0; i < 2; i++) {
      const e = await once(veil, { query: save, variables: { i: { id: newObjectId(), bio: secret } } }).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(isVeilClientError(e, 'SERVER_NOT_ENFORCING'), String(e)).toBe(true);
    }
    expect(received).toEqual(['VgProbe']);
    expect(stored).toEqual([]);
    expect(frames.join('\n')).not.toContain(secret);
    expect(await once(veil, { query: 'query Hello { hello }' })).toEqual({ data: { hello: 'hello' } });
    expect(received).toEqual(['VgProbe', 'Hello']);
  });
});
