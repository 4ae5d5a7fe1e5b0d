// Production mode (NODE_ENV=production, `production: true`) on a real gateway over loopback
// HTTP and WebSocket: no introspection, no stack traces, and no "Did you mean …" suggestions
// that would name fields, arguments, types or enum values the caller did not know (issue 14,
// item 8); outside production the suggestions stay, for developers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAndLogin, startTestGateway, type TestGateway, type TestUser } from '../helpers/gateway.js';
import { codes } from '../helpers/devices.js';
import { openRawSocket, wsCodes, wsMessages, type RawSocket } from '../helpers/ws.js';

let prod: TestGateway;
let dev: TestGateway;
let alice: TestUser;
const sockets: RawSocket[] = [];

async function socket(g: TestGateway): Promise<RawSocket> {
  const s = await openRawSocket(g.gateway.url.replace(/^http/, 'ws'), {});
  sockets.push(s);
  return s;
}

// Each names something the schema has, one letter off, where graphql-js would suggest it.
const TYPOS = {
  field: '{ me { usernam } }',
  argument: '{ user(usernam: "alice") { id } }',
  type: 'query Q($i: CreateProfileInpt!) { me { id } }',
  enumValue: 'mutation { challenge(username: "alice", purpose: LOGN) { challenge } }',
};
const VARIABLE_TYPO = {
  query: 'mutation C($i: CreateProfileInput!) { createProfile(input: $i) { id } }',
  variables: { i: { id: 'AAAAAAAAAAAAAAAAAAAAAA', displayName: 'x', emial: 'x' } },
};

beforeAll(async () => {
  prod = await startTestGateway({ production: true });
  dev = await startTestGateway();
  alice = await registerAndLogin(prod, 'alice');
});

afterAll(async () => {
  for (const s of sockets) s.close();
  await prod?.close();
  await dev?.close();
});

describe('production mode', () => {
  it('turns introspection off and strips stack traces', async () => {
    const intro = await prod.gql('{ __schema { types { name } } }');
    expect(codes(intro)).toContain('GRAPHQL_VALIDATION_FAILED');
    const bad = await prod.gql('{ myProfile { id } }');
    expect(codes(bad)).toEqual(['UNAUTHENTICATED']);
    expect(JSON.stringify(bad)).not.toContain('stacktrace');
  });

  it('no "Did you mean" suggestions over HTTP: validation errors and variable errors', async () => {
    for (const [what, query] of Object.entries(TYPOS)) {
      const r = await prod.gql(query, {}, alice.token);
      expect(r.status, what).toBe(400);
      expect(codes(r)[0], what).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(JSON.stringify(r.errors), what).not.toMatch(/Did you mean|"username"|CreateProfileInput"|LOGIN/);
    }
    const v = await prod.gql(VARIABLE_TYPO.query, VARIABLE_TYPO.variables, alice.token);
    expect(codes(v)).toEqual(['BAD_USER_INPUT']);
    expect(v.errors![0]!.message).toBe('Variable "$i": Field "emial" is not defined by type "CreateProfileInput".');
  });

  it('no "Did you mean" suggestions over WebSocket', async () => {
    const s = await socket(prod);
    const m = await s.subscribe('1', 'subscription { profileUpdatd(id: "x") { id } }');
    expect(m.type).toBe('error');
    expect(wsMessages(m)).toEqual(['Cannot query field "profileUpdatd" on type "Subscription".']);
    expect(wsCodes(m)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    const v = await s.subscribe('2', 'subscription S($id: ID!) { profileUpdated(idd: $id) { id } }', { id: 'x' });
    expect(wsMessages(v)).toEqual(['Unknown argument "idd" on field "Subscription.profileUpdated".', 'Field "profileUpdated" argument "id" of type "ID!" is required, but it was not provided.']);
    expect(wsCodes(v)).toEqual(['GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_VALIDATION_FAILED']);
  });

  it('outside production the suggestions stay (for developers)', async () => {
    const r = await dev.gql(TYPOS.field);
    expect(r.errors![0]!.message).toBe('Cannot query field "usernam" on type "User". Did you mean "username"?');
    const s = await socket(dev);
    const m = await s.subscribe('1', 'subscription { profileUpdatd(id: "x") { id } }');
    expect(wsMessages(m)).toEqual(['Cannot query field "profileUpdatd" on type "Subscription". Did you mean "profileUpdated"?']);
  });
});
