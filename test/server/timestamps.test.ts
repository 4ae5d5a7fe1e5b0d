// Every timestamp the gateway writes in its API is what `Date.prototype.toISOString`
// writes: `YYYY-MM-DDTHH:MM:SS.sssZ`, 24 characters, UTC, exactly 3 fraction digits
// (docs/crypto.md §13). Checked over real HTTP on a sample from each part of the schema.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { generateSymmetricKey } from '../../src/crypto/keys.js';
import { ROOMY_AUTH_LIMITS, grantAccess, newObjectId, registerAndLogin, startTestGateway, type TestGateway, type TestUser } from '../helpers/gateway.js';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

let t: TestGateway;
let alice: TestUser;
let bob: TestUser;
let profileId: string;

beforeAll(async () => {
  t = await startTestGateway({ authLimits: ROOMY_AUTH_LIMITS });
  alice = await registerAndLogin(t, 'alice');
  bob = await registerAndLogin(t, 'bob');
  profileId = newObjectId();
  expect((await t.gql('mutation C($i: CreateProfileInput!) { createProfile(input: $i) { id } }', { i: { id: profileId, displayName: 'Alice' } }, alice.token)).errors).toBeUndefined();
  expect((await grantAccess(t, alice, bob, 'Profile', profileId, generateSymmetricKey(nodeBackend))).errors).toBeUndefined();
  expect((await t.gql('mutation R($u: String!) { requestContact(username: $u) { outcome } }', { u: 'bob' }, alice.token)).errors).toBeUndefined();
});

afterAll(async () => {
  await t?.close();
});

describe('timestamps on the wire', () => {
  it('are toISOString text in every part of the API', async () => {
    const r = await t.gql<Record<string, unknown>>(
      `query T($id: ID!, $ids: [ID!]!) {
        myProfile { createdAt updatedAt }
        grants(objectType: "Profile", objectId: $id) { createdAt }
        keyDirectory(username: "alice") { versions { createdAt } }
        contactRequests(direction: OUTGOING) { nodes { createdAt } }
        myDataKeys(objectType: "Profile", objectIds: $ids) { keyVersion }
      }`,
      { id: profileId, ids: [profileId] },
      alice.token,
    );
    expect(r.errors).toBeUndefined();
    const challenge = await t.gql<{ challenge: { expiresAt: string } }>('mutation { challenge(username: "alice", purpose: LOGIN) { expiresAt } }');
    const stamps = JSON.stringify([r.data, challenge.data]).match(/"(createdAt|updatedAt|expiresAt)":"[^"]*"/g) ?? [];
    expect(stamps.length).toBeGreaterThanOrEqual(6);
    for (const s of stamps) expect(s.split('":"')[1]!.slice(0, -1)).toMatch(ISO);
  });
});
