// The real WebSocket round trip: Apollo Client 4 with createPrivacyLink in front of a split
// link (GraphQLWsLink over graphql-ws + ws for subscriptions, HttpLink for the rest),
// against a real gateway on loopback. A mutation through the same client seals plaintext;
// the subscription event arrives as envelopes on the wire and is opened by the link.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { OperationTypeNode, parse } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import type { Subscription } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { generateSymmetricKey } from '../../src/crypto/keys.js';
import { staticClientKeys } from '../../src/client/index.js';
import { createPrivacyLink } from '../../src/client/apollo.js';
import { referenceSchema } from '../helpers/reference-schema.js';
import { canary, newObjectId, registerAndLogin, startTestGateway, storeDataKey, type TestGateway, type TestUser } from '../helpers/gateway.js';

const built = referenceSchema();
const backend = nodeBackend;
const sharedKey = generateSymmetricKey(backend);

const FIELDS = 'id ownerId displayName email phone bio diary';
const CREATE = parse(`mutation createProfile($input: CreateProfileInput!) { createProfile(input: $input) { ${FIELDS} } }`);
const UPDATE = parse(`mutation updateProfile($id: ID!, $input: UpdateProfileInput!) { updateProfile(id: $id, input: $input) { ${FIELDS} } }`);
const UPDATED = parse(`subscription profileUpdated($id: ID!) { profileUpdated(id: $id) { ${FIELDS} } }`);

interface Profile {
  id: string;
  ownerId: string;
  displayName: string;
  email: string | null;
  phone: string | null;
  bio: string | null;
  diary: string | null;
}

let t: TestGateway;
let alice: TestUser;
const wsClients: Client[] = [];

beforeAll(async () => {
  t = await startTestGateway();
  alice = await registerAndLogin(t, 'alice');
});

afterAll(async () => {
  await Promise.all(wsClients.map((c) => c.dispose()));
  await t?.close();
});

function clientFor(user: TestUser): { client: ApolloClient; received: string[] } {
  const received: string[] = [];
  // Records every raw frame as it arrives, before graphql-ws parses it.
  class RecordingWebSocket extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      this.on('message', (data: WebSocket.RawData) => void received.push(Buffer.isBuffer(data) ? data.toString('utf8') : String(data)));
    }
  }
  const ws = createClient({
    url: t.gateway.url.replace(/^http/, 'ws'),
    webSocketImpl: RecordingWebSocket,
    connectionParams: { authorization: `Bearer ${user.token}` },
    retryAttempts: 0,
  });
  wsClients.push(ws);
  const transport = ApolloLink.split(
    (op) => op.operationType === OperationTypeNode.SUBSCRIPTION,
    new GraphQLWsLink(ws),
    new HttpLink({ uri: t.gateway.url, headers: { authorization: `Bearer ${user.token}` } }),
  );
  const privacy = createPrivacyLink({
    schema: built.source,
    manifest: built.manifest,
    keys: staticClientKeys({ vault: user.vault, shared: sharedKey }),
    backend,
    directory: 'unverified',
    viewerId: () => user.id,
  });
  return { client: new ApolloClient({ link: ApolloLink.from([privacy, transport]), cache: new InMemoryCache() }), received };
}

describe('subscriptions through createPrivacyLink + GraphQLWsLink', () => {
  it('profileUpdated events arrive with SHARED/PRIVATE fields opened; the wire carried envelopes', async () => {
    const { client, received } = clientFor(alice);
    const id = newObjectId();
    // staticClientKeys seals every SHARED value under one key: it is stored as the profile's data key first.
    await storeDataKey(t, alice, 'Profile', id, sharedKey);
    const created = await client.mutate<{ createProfile: Profile }>({
      mutation: CREATE,
      variables: { input: { id, displayName: 'Alice', email: 'alice@example.com', bio: 'old bio', diary: 'old diary' } },
    });
    expect(created.error).toBeUndefined();

    const events: { data?: unknown; error?: unknown }[] = [];
    let subscription: Subscription | undefined;
    try {
      subscription = client.subscribe<{ profileUpdated: Profile }>({ query: UPDATED, variables: { id } }).subscribe((r) => void events.push(r));
      const deadline = Date.now() + 5000;
      while (t.gateway.pubsub.subscriberCount(`Profile:${id}`) === 0) {
        if (Date.now() > deadline) throw new Error('the subscription was not registered');
        await new Promise((r) => setTimeout(r, 10));
      }

      const bio = canary('ws-bio');
      const diary = canary('ws-diary');
      const updated = await client.mutate<{ updateProfile: Profile }>({ mutation: UPDATE, variables: { id, input: { displayName: 'Alice W.', bio, diary } } });
      expect(updated.error).toBeUndefined();

      const until = Date.now() + 5000;
      while (events.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      expect(events).toHaveLength(1);
      expect(events[0]!.error).toBeUndefined();
      expect(events[0]!.data).toEqual({
        profileUpdated: { __typename: 'Profile', id, ownerId: alice.id, displayName: 'Alice W.', email: 'alice@example.com', phone: null, bio, diary },
      });

      // On the socket: the veiled document went out, envelopes came back (never plaintext).
      const wire = received.join('\n');
      expect(wire).toContain('"type":"next"');
      expect(wire).toContain('"_vgOwner"');
      expect(wire).not.toContain(bio);
      expect(wire).not.toContain(diary);
    } finally {
      subscription?.unsubscribe();
    }
  });
});
