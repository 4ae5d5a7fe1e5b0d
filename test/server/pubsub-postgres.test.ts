// Subscription events across gateway instances through PostgreSQL LISTEN/NOTIFY, on a real
// throwaway PostgreSQL: a subscriber on gateway A receives the change written through
// gateway B; the listening connection comes back after PostgreSQL drops it; payloads are
// ids only. Fails (never skips) when PostgreSQL cannot start.
import { createClient, type Client } from 'graphql-ws';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { base64urlEncode } from '../../src/crypto/base64url.js';
import { newKeyRingFile } from '../../src/server/keyring.js';
import { NOTIFY_CHANNEL, PostgresPubSub } from '../../src/server/pubsub-postgres.js';
import { ROOMY_AUTH_LIMITS, newObjectId, registerAndLogin, startTestGateway, type TestGateway, type TestUser } from '../helpers/gateway.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { deviceLogin, ok, registerWithDevice } from '../helpers/devices.js';
import { within } from '../helpers/wait.js';
import { openRawSocket } from '../helpers/ws.js';

const SUB = 'subscription S($id: ID!) { profileUpdated(id: $id) { id displayName email } }';

let db: TestPostgres;
let databaseUrl: string;
let a: TestGateway;
let b: TestGateway;
let alice: TestUser;
const profileId = newObjectId();
const clients: Client[] = [];

async function waitFor(cond: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function subscribeOn(t: TestGateway, token: string) {
  const c = createClient({ url: t.gateway.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, lazy: true, retryAttempts: 0, connectionParams: { token } });
  clients.push(c);
  const events: { displayName: string; email: string | null }[] = [];
  c.subscribe(
    { query: SUB, variables: { id: profileId } },
    { next: (r) => events.push((r.data as { profileUpdated: { displayName: string; email: string | null } }).profileUpdated), error: () => undefined, complete: () => undefined },
  );
  return events;
}

async function rename(t: TestGateway, displayName: string): Promise<void> {
  const r = await t.gql('mutation U($id: ID!, $i: UpdateProfileInput!) { updateProfile(id: $id, input: $i) { id } }', { id: profileId, i: { displayName } }, alice.token);
  expect(r.errors).toBeUndefined();
}

beforeAll(async () => {
  db = await startPostgres(); // throws (fails the suite) when PostgreSQL cannot start
  databaseUrl = await db.createDatabase('pubsub');
  // Two instances of one deployment: same database, key ring and secrets (a token works at both).
  const shared = { databaseUrl, keyring: JSON.stringify(newKeyRingFile(nodeBackend)), jwtSecret: base64urlEncode(nodeBackend.randomBytes(32)), challengeKey: base64urlEncode(nodeBackend.randomBytes(32)), authLimits: ROOMY_AUTH_LIMITS };
  a = await startTestGateway(shared);
  b = await startTestGateway(shared);
  alice = await registerAndLogin(a, 'alice');
  const r = await a.gql('mutation C($i: CreateProfileInput!) { createProfile(input: $i) { id } }', { i: { id: profileId, displayName: 'Alice', email: 'alice@example.com' } }, alice.token);
  expect(r.errors).toBeUndefined();
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await a?.close();
  await b?.close();
  await db?.stop();
});

describe('events across instances (PostgreSQL LISTEN/NOTIFY)', () => {
  it('a subscriber on instance A receives a change written through instance B, and the reverse', async () => {
    expect(a.gateway.pubsub).toBeInstanceOf(PostgresPubSub);
    const onA = subscribeOn(a, alice.token);
    const onB = subscribeOn(b, alice.token);
    await waitFor(() => a.gateway.pubsub.subscriberCount(`Profile:${profileId}`) === 1 && b.gateway.pubsub.subscriberCount(`Profile:${profileId}`) === 1, 'both subscriptions');
    // An event names the profile; each subscriber reads it as stored when the event arrives
    // (so two quick changes may both show the newer state): one change at a time here.
    await rename(b, 'Alice via B');
    await waitFor(() => onA.length === 1 && onB.length === 1, 'the first event on each instance');
    await rename(a, 'Alice via A');
    await waitFor(() => onA.length === 2 && onB.length === 2, 'two events on each instance');
    // Read back as stored, SERVER field decrypted for the owner.
    expect(onA).toEqual([
      { id: profileId, displayName: 'Alice via B', email: 'alice@example.com' },
      { id: profileId, displayName: 'Alice via A', email: 'alice@example.com' },
    ]);
    expect(onB).toEqual(onA);
  });

  it('what crosses PostgreSQL is the topic and the id, nothing of the row', async () => {
    const listener = new pg.Client({ connectionString: databaseUrl });
    await listener.connect();
    const heard: string[] = [];
    listener.on('notification', (n) => heard.push(n.payload ?? ''));
    await listener.query(`LISTEN ${NOTIFY_CHANNEL}`);
    await rename(a, 'Alice, observed');
    await waitFor(() => heard.length === 1, 'the notification');
    expect(JSON.parse(heard[0]!)).toEqual({ t: `Profile:${profileId}`, p: { id: profileId } });
    await listener.end();
  });

  it('after PostgreSQL drops the listening connection, the instance listens again and delivers', async () => {
    const onA = subscribeOn(a, alice.token);
    await waitFor(() => a.gateway.pubsub.subscriberCount(`Profile:${profileId}`) === 2, 'the new subscription');
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    // Every session listening on our channel, i.e. both instances' listeners.
    const killed = await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN ${NOTIFY_CHANNEL}' AND pid <> pg_backend_pid()`);
    expect(killed.rowCount).toBe(2);
    // Keep writing until the re-opened listener hears one (notifications while it is down are lost by design).
    let n = 0;
    const deadline = Date.now() + 15_000;
    while (onA.length === 0) {
      if (Date.now() > deadline) throw new Error('no event after the listener was dropped');
      await rename(b, `Alice after reconnect ${++n}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(onA[0]!.displayName).toMatch(/^Alice after reconnect \d+$/);
    await admin.end();
  });

  it('a revocation whose event was lost while the listener was down still closes the device’s socket once it listens again (4403)', async () => {
    const dana = await registerWithDevice(a, 'dana');
    const token = ok(await deviceLogin(a, dana.username, dana.device.id, dana.device.signing)).login.token;
    const socket = await openRawSocket(b.gateway.url.replace(/^http/, 'ws'), { token });
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    // Revoked with no event at all (as if its NOTIFY went out while B's listener was down),
    // then B's listener is dropped and comes back.
    await admin.query('UPDATE "Device" SET "status" = $1 WHERE "id" = $2', ['REVOKED', dana.device.id]);
    const killed = await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN ${NOTIFY_CHANNEL}' AND pid <> pg_backend_pid()`);
    expect(killed.rowCount).toBe(2);
    await admin.end();
    expect((await within(socket.closed, 'the revoked device’s socket on B to close')).code).toBe(4403);
  });

  it('publishing anything but a small payload is refused before it reaches PostgreSQL', () => {
    expect(() => a.gateway.pubsub.publish('Profile:x', { row: 'x'.repeat(4096) })).toThrow(RangeError);
  });
});
