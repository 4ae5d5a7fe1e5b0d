// Attacks that held when issue 14's attacker went over the running gateway, kept held here
// against a real gateway on loopback (real HTTP, real WebSockets, a real SQLite file): forged
// tokens, replayed login challenges, envelopes copied to another location, batched requests,
// cross-site requests, depth limits, fragment bombs, oversized bodies and sockets that never
// say connection_init. Each refusal is checked for its code and for what it did not do (no
// row written, no store method called).
//
// The same attacks one level down, without a server: every forged-token shape against the
// verifier in test/server/auth/jwt.test.ts, challenge tampering and expiry in
// test/server/auth/challenge.test.ts, envelope tampering in test/crypto/. The request limits
// the attacker broke (issue 14, items 1, 8, 13) are in test/server/limits.test.ts.
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { base64urlDecode, base64urlEncode } from '../../src/crypto/base64url.js';
import { loginMessage } from '../../src/crypto/auth-messages.js';
import { generateSymmetricKey } from '../../src/crypto/keys.js';
import { newObjectId, registerAndLogin, seal, startTestGateway, storeDataKey, type GqlResponse, type TestGateway, type TestUser } from '../helpers/gateway.js';
import { codes, registration } from '../helpers/devices.js';
import { snapshotTables } from '../helpers/sqlite-snapshot.js';
import { countStoreCalls, type StoreCalls } from '../helpers/store-calls.js';
import { openRawSocket } from '../helpers/ws.js';

const PROFILE_FIELDS = 'id ownerId displayName email bio diary';
const CREATE = `mutation C($i: CreateProfileInput!) { createProfile(input: $i) { ${PROFILE_FIELDS} } }`;
const UPDATE = `mutation U($id: ID!, $i: UpdateProfileInput!) { updateProfile(id: $id, input: $i) { ${PROFILE_FIELDS} } }`;
const REGISTER = 'mutation R($i: RegisterInput!) { register(input: $i) { id } }';
const TABLES = ['User', 'UserKey', 'Profile', 'Grant', 'ObjectKey', 'UsedChallenge'];

let t: TestGateway;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let profileId: string;
let store: StoreCalls;
const dataKey = generateSymmetricKey(nodeBackend);

function wsUrl(): string {
  return t.gateway.url.replace(/^http/, 'ws');
}

/** Runs `attempt`, which must be refused, and checks that it wrote no row and reached no store method. */
async function expectNoEffect<T>(attempt: () => Promise<T>): Promise<T> {
  const before = snapshotTables(t.dataDir, TABLES);
  store.reset();
  const out = await attempt();
  expect(store.calls, 'the refused request reached the store').toEqual([]);
  expect(snapshotTables(t.dataDir, TABLES), 'the refused request changed rows').toEqual(before);
  return out;
}

async function postRaw(body: string, headers: Record<string, string>, token?: string): Promise<{ status: number; body: GqlResponse }> {
  const res = await fetch(t.gateway.url, { method: 'POST', headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) }, body });
  return { status: res.status, body: (await res.json()) as GqlResponse };
}

beforeAll(async () => {
  t = await startTestGateway();
  [alice, bob, carol] = [await registerAndLogin(t, 'alice'), await registerAndLogin(t, 'bob'), await registerAndLogin(t, 'carol')];
  profileId = newObjectId();
  await storeDataKey(t, alice, 'Profile', profileId, dataKey);
  const bio = seal(dataKey, 'Profile.bio', alice.id, profileId, 'I like graphs');
  const diary = seal(alice.vault, 'Profile.diary', alice.id, profileId, 'dear diary');
  expect((await t.gql(CREATE, { i: { id: profileId, displayName: 'Alice', bio, diary } }, alice.token)).errors).toBeUndefined();
  store = countStoreCalls(t.gateway.store);
});

afterAll(async () => {
  store?.stop();
  await t?.close();
});

describe('forged tokens', () => {
  const secret = (): Uint8Array => base64urlDecode((JSON.parse(readFileSync(join(t.dataDir, 'secrets.json'), 'utf8')) as { jwtSecret: string }).jwtSecret);
  const part = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');

  async function forgeries(): Promise<Record<string, string>> {
    const [h, p, s] = alice.token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const now = Math.floor(Date.now() / 1000);
    return {
      'tampered claims (sub of another user)': `${h}.${part({ ...claims, sub: bob.id })}.${s}`,
      'alg none, no signature': `${part({ alg: 'none', typ: 'at+jwt' })}.${part({ ...claims, sub: bob.id })}.`,
      'alg none, the original signature': `${part({ alg: 'none', typ: 'at+jwt' })}.${p}.${s}`,
      'signed with another key': await new SignJWT({ ...claims }).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' }).sign(new Uint8Array(32).fill(7)),
      expired: await new SignJWT({ ...claims, iat: now - 3600, exp: now - 60 }).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' }).sign(secret()),
      malformed: `${alice.token}x`,
    };
  }

  it('over HTTP: 401 UNAUTHENTICATED, nothing answered as the user', async () => {
    for (const [what, token] of Object.entries(await forgeries())) {
      const r = await t.gql('{ me { id } }', {}, token);
      expect(r.status, what).toBe(401);
      expect(codes(r), what).toEqual(['UNAUTHENTICATED']);
      expect(r.data ?? undefined, what).toBeUndefined();
    }
    // And the genuine token still works: the acting user comes from the token.
    const me = await t.gql<{ me: { id: string } }>('{ me { id } }', {}, alice.token);
    expect(me.data!.me.id).toBe(alice.id);
  });

  it('over WebSocket: the socket is closed with 4403 before any subscription', async () => {
    for (const [what, token] of Object.entries(await forgeries())) {
      for (const init of [{ token }, { authorization: `Bearer ${token}` }]) {
        const s = await openRawSocket(wsUrl(), null);
        s.send({ type: 'connection_init', payload: init });
        expect((await s.closed).code, what).toBe(4403);
      }
    }
  });
});

describe('replayed login challenges', () => {
  async function challengeFor(username: string): Promise<string> {
    const r = await t.gql<{ challenge: { challenge: string } }>('mutation C($u: String!) { challenge(username: $u) { challenge } }', { u: username });
    return r.data!.challenge.challenge;
  }
  async function loginWith(username: string, challenge: string, seed: Uint8Array): Promise<GqlResponse> {
    const sig = await nodeBackend.ed25519Sign(seed, loginMessage({ realm: 'veilgraph', username, purpose: 'LOGIN', challenge: base64urlDecode(challenge) }));
    return t.gql('mutation L($u: String!, $c: String!, $s: String!) { login(username: $u, challenge: $c, signature: $s) { token } }', { u: username, c: challenge, s: base64urlEncode(sig) });
  }

  it('a used challenge, a signature by another key, and a challenge issued for another user are refused', async () => {
    const c1 = await challengeFor('carol');
    expect((await loginWith('carol', c1, carol.signing.seed)).errors).toBeUndefined();
    expect(codes(await loginWith('carol', c1, carol.signing.seed))).toEqual(['CHALLENGE_REPLAYED']);
    expect(codes(await loginWith('carol', await challengeFor('carol'), bob.signing.seed))).toEqual(['LOGIN_FAILED']);
    expect(codes(await loginWith('carol', await challengeFor('bob'), carol.signing.seed))).toEqual(['CHALLENGE_INVALID']);
  });
});

describe('envelopes copied to another location', () => {
  it('a stored sealed value copied to another field, object or owner is refused (BAD_SEALED_VALUE), and the row is unchanged', async () => {
    const read = await t.gql<{ profile: Record<string, string> }>(`query P($id: ID!) { profile(id: $id) { ${PROFILE_FIELDS} } }`, { id: profileId }, alice.token);
    const { bio, diary } = read.data!.profile;
    const before = snapshotTables(t.dataDir, TABLES);
    // Alice's own bio envelope as her diary, and the other way round.
    expect(codes(await t.gql(UPDATE, { id: profileId, i: { diary: bio } }, alice.token))).toEqual(['BAD_SEALED_VALUE']);
    expect(codes(await t.gql(UPDATE, { id: profileId, i: { bio: diary } }, alice.token))).toEqual(['BAD_SEALED_VALUE']);
    // Alice's bio into another profile of hers-to-be, and into Bob's new profile.
    expect(codes(await t.gql(CREATE, { i: { id: newObjectId(), displayName: 'Copy', bio } }, alice.token))).toEqual(['BAD_SEALED_VALUE']);
    expect(codes(await t.gql(CREATE, { i: { id: profileId, displayName: 'Copy', bio } }, bob.token))).toEqual(['BAD_SEALED_VALUE']);
    // Freshly sealed for the wrong field, owner or object.
    for (const wrong of [
      seal(dataKey, 'Profile.diary', alice.id, profileId, 'moved field'),
      seal(dataKey, 'Profile.bio', bob.id, profileId, 'moved owner'),
      seal(dataKey, 'Profile.bio', alice.id, newObjectId(), 'moved object'),
    ]) {
      const r = await t.gql(UPDATE, { id: profileId, i: { displayName: 'Changed', bio: wrong } }, alice.token);
      expect(codes(r)).toEqual(['BAD_SEALED_VALUE']);
      expect(r.errors![0]!.message).toContain('UpdateProfileInput.bio');
    }
    expect(snapshotTables(t.dataDir, TABLES)).toEqual(before);
  });
});

describe('batched requests', () => {
  it('a JSON array body is refused whole with 400 BAD_REQUEST: no operation in it runs', async () => {
    const batch = JSON.stringify([
      { query: REGISTER, variables: { i: (await registration('mallory')).input } },
      { query: REGISTER, variables: { i: (await registration('mallory2')).input } },
      { query: '{ me { id } }' },
    ]);
    const r = await expectNoEffect(() => postRaw(batch, { 'content-type': 'application/json' }, alice.token));
    expect(r.status).toBe(400);
    expect(codes(r.body)).toEqual(['BAD_REQUEST']);
    expect(r.body.errors![0]!.message).toBe('Operation batching disabled.');
  });
});

describe('cross-site requests', () => {
  const register = async (username: string): Promise<{ query: string; variables: string }> => ({ query: REGISTER, variables: JSON.stringify({ i: (await registration(username)).input }) });

  it('a mutation over GET is refused (405), even with a preflight header', async () => {
    const { query, variables } = await register('mallory');
    const r = await expectNoEffect(async () => {
      const res = await fetch(`${t.gateway.url}?query=${encodeURIComponent(query)}&variables=${encodeURIComponent(variables)}`, { headers: { 'apollo-require-preflight': 'true' } });
      return { status: res.status, body: (await res.json()) as GqlResponse };
    });
    expect(r.status).toBe(405);
    expect(codes(r.body)).toEqual(['BAD_REQUEST']);
  });

  it('a request a browser sends without a preflight (simple content type, or GET without a preflight header) is refused (400)', async () => {
    const { query, variables } = await register('mallory');
    const body = JSON.stringify({ query, variables: JSON.parse(variables) as unknown });
    for (const contentType of ['text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const r = await expectNoEffect(() => postRaw(body, { 'content-type': contentType }));
      expect(r.status, contentType).toBe(400);
      expect(codes(r.body), contentType).toEqual(['BAD_REQUEST']);
      expect(r.body.errors![0]!.message, contentType).toMatch(/Cross-Site Request Forgery/);
    }
    const get = await expectNoEffect(async () => {
      const res = await fetch(`${t.gateway.url}?query=${encodeURIComponent('{ me { id } }')}`, { headers: { authorization: `Bearer ${alice.token}` } });
      return { status: res.status, body: (await res.json()) as GqlResponse };
    });
    expect(get.status).toBe(400);
    expect(get.body.errors![0]!.message).toMatch(/Cross-Site Request Forgery/);
  });
});

describe('depth', () => {
  it('an over-deep operation is refused with QUERY_TOO_COMPLEX, written out or through fragments', async () => {
    let deep = 'id';
    for (let i = 0; i < 8; i++) deep = `profile { owner { ${deep} } }`;
    const written = await expectNoEffect(() => t.gql(`{ me { ${deep} } }`, {}, alice.token));
    expect(codes(written)).toEqual(['QUERY_TOO_COMPLEX']);
    expect(written.errors![0]!.message).toMatch(/depth exceeds the limit of 12/);

    const fragments = Array.from({ length: 8 }, (_, i) => `fragment F${i} on User { profile { owner { ${i < 7 ? `...F${i + 1}` : 'id'} } } }`).join(' ');
    const spread = await expectNoEffect(() => t.gql(`{ me { ...F0 } } ${fragments}`, {}, alice.token));
    expect(codes(spread)).toEqual(['QUERY_TOO_COMPLEX']);
    expect(spread.errors![0]!.message).toMatch(/depth exceeds the limit of 12/);
  });
});

describe('fragment bombs', () => {
  it('cyclic fragments are refused by validation', async () => {
    const r = await expectNoEffect(() => t.gql('{ me { ...A } } fragment A on User { id ...B } fragment B on User { username ...A }', {}, alice.token));
    expect(r.status).toBe(400);
    expect(codes(r)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(r.errors!.map((e) => e.message)).toEqual(['Cannot spread fragment "A" within itself via "B".']);
  });

  it('a fragment spread twice at each of 40 levels (2^40 fields once expanded) is refused', async () => {
    const fragments = Array.from({ length: 40 }, (_, i) => `fragment F${i + 1} on User { ...F${i} ...F${i} }`).join(' ');
    const r = await expectNoEffect(() => t.gql(`{ me { ...F40 } } fragment F0 on User { id username } ${fragments}`, {}, alice.token));
    expect(r.status).toBe(400);
    expect(codes(r)).toEqual(['QUERY_TOO_COMPLEX']);
    expect(r.errors![0]!.message).toMatch(/estimated cost exceeds the limit of 20000/);
  });

  it('a chain of 120 fragments each spreading the next (as long as the token limit allows) is walked without trouble and answered', async () => {
    const fragments = Array.from({ length: 120 }, (_, i) => `fragment F${i} on User { ${i < 119 ? `...F${i + 1}` : 'id'} }`).join(' ');
    const r = await t.gql<{ me: { id: string } }>(`{ me { ...F0 } } ${fragments}`, {}, alice.token);
    expect(codes(r)).toEqual([]);
    expect(r.data!.me.id).toBe(alice.id);
  });
});

describe('oversized bodies', () => {
  it('a declared body over the limit is answered 413 PAYLOAD_TOO_LARGE without reading it, and the connection closed', async () => {
    const res = await expectNoEffect(() => fetch(t.gateway.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(5 * 1024 * 1024) }));
    expect(res.status).toBe(413);
    expect(res.headers.get('connection')).toBe('close');
    expect(await res.json()).toEqual({ errors: [{ message: 'request body exceeds 4194304 bytes', extensions: { code: 'PAYLOAD_TOO_LARGE' } }] });
  });

  it('a chunked body (no content-length) that grows over the limit is answered 413 PAYLOAD_TOO_LARGE, then the connection closes', async () => {
    const answer = await expectNoEffect(
      () =>
        new Promise<{ status: number; connection: string | undefined; body: string; closed: Promise<void> }>((resolve, reject) => {
          const req = request(t.gateway.url, { method: 'POST', headers: { 'content-type': 'application/json' } });
          const chunk = Buffer.alloc(64 * 1024, 0x20);
          let answered = false;
          let sent = 0;
          req.on('response', (res) => {
            answered = true;
            const parts: Buffer[] = [];
            res.on('data', (c: Buffer) => parts.push(c));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                connection: res.headers.connection,
                body: Buffer.concat(parts).toString('utf8'),
                closed: new Promise((done) => (req.socket?.destroyed ? done() : req.socket?.once('close', () => done()))),
              }),
            );
          });
          // Writes may fail once the gateway has answered and closed: that is the point.
          req.on('error', (e) => {
            if (!answered) reject(e);
          });
          const pump = (): void => {
            while (!answered && sent < 64 * 1024 * 1024) {
              sent += chunk.length;
              if (!req.write(chunk)) {
                req.once('drain', pump);
                return;
              }
            }
            if (!answered) req.end();
          };
          pump();
        }),
    );
    expect(answer.status).toBe(413);
    expect(answer.connection).toBe('close');
    expect(JSON.parse(answer.body)).toEqual({ errors: [{ message: 'request body exceeds 4194304 bytes', extensions: { code: 'PAYLOAD_TOO_LARGE' } }] });
    await answer.closed;
  });
});

describe('WebSockets', () => {
  it('a socket that never sends connection_init is closed by graphql-ws after its wait (4408)', async () => {
    const s = await openRawSocket(wsUrl(), null);
    expect(await s.closed).toEqual({ code: 4408, reason: 'Connection initialisation timeout' });
  });
});
