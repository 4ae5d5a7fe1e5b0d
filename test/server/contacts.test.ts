// Contacts (src/server/services/directory/contacts.graphql) over real HTTP: user search, the request → accept
// state machine with every transition and error code, the lists of both sides at each
// step, that the acting user is always the token's, that refused mutations change no row,
// and two users asking each other at the same moment (SQLite, and PostgreSQL through two
// gateway processes' worth of instances sharing one database).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { base64urlEncode } from '../../src/crypto/base64url.js';
import type { ContactRow } from '../../src/server/storage/store.js';
import { registerAndLogin, startTestGateway, type GqlResponse, type TestGateway, type TestUser, ROOMY_AUTH_LIMITS } from '../helpers/gateway.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

const USERS = 'query U($p: String!, $n: Int, $a: String) { users(prefix: $p, first: $n, after: $a) { nodes { id username } endCursor } }';
const REQUEST =
  'mutation R($u: String!) { requestContact(username: $u) { outcome user { username } request { direction createdAt user { username } } contact { since requestedAt user { username } } } }';
const ACCEPT = 'mutation A($u: String!) { acceptContact(username: $u) { since requestedAt user { id username } } }';
const REJECT = 'mutation X($u: String!) { rejectContact(username: $u) }';
const CANCEL = 'mutation C($u: String!) { cancelContactRequest(username: $u) }';
const REMOVE = 'mutation D($u: String!) { removeContact(username: $u) }';
const CONTACTS = 'query L($n: Int, $a: String) { contacts(first: $n, after: $a) { nodes { user { id username } since requestedAt } endCursor } }';
const REQUESTS = 'query Q($d: ContactRequestDirection!, $n: Int, $a: String) { contactRequests(direction: $d, first: $n, after: $a) { nodes { user { id username } direction createdAt } endCursor } }';

type RequestResult = {
  outcome: 'REQUESTED' | 'ACCEPTED';
  user: { username: string };
  request: { direction: string; createdAt: string; user: { username: string } } | null;
  contact: { since: string; requestedAt: string; user: { username: string } } | null;
};
type Page<T> = { nodes: T[]; endCursor: string | null };
type Lists = { contacts: string[]; incoming: string[]; outgoing: string[] };

function codes(r: GqlResponse): (string | undefined)[] {
  return (r.errors ?? []).map((e) => e.extensions?.code);
}

function data<T>(r: GqlResponse<T>): T {
  expect(r.errors).toBeUndefined();
  return r.data!;
}

let n = 0;
/** A fresh username (registration needs 3+ characters, starting with a letter). */
function fresh(tag: string): string {
  return `${tag}${++n}`;
}

/** The viewer's contacts, incoming and outgoing requests, as usernames (one page each). */
async function lists(t: TestGateway, user: TestUser): Promise<Lists> {
  const contacts = data(await t.gql<{ contacts: Page<{ user: { username: string } }> }>(CONTACTS, { n: 100 }, user.token)).contacts;
  const incoming = data(await t.gql<{ contactRequests: Page<{ user: { username: string }; direction: string }> }>(REQUESTS, { d: 'INCOMING', n: 100 }, user.token)).contactRequests;
  const outgoing = data(await t.gql<{ contactRequests: Page<{ user: { username: string }; direction: string }> }>(REQUESTS, { d: 'OUTGOING', n: 100 }, user.token)).contactRequests;
  expect(incoming.nodes.every((r) => r.direction === 'INCOMING')).toBe(true);
  expect(outgoing.nodes.every((r) => r.direction === 'OUTGOING')).toBe(true);
  return { contacts: contacts.nodes.map((c) => c.user.username), incoming: incoming.nodes.map((r) => r.user.username), outgoing: outgoing.nodes.map((r) => r.user.username) };
}

const none: Lists = { contacts: [], incoming: [], outgoing: [] };

async function request(t: TestGateway, from: TestUser, to: TestUser | string): Promise<GqlResponse<{ requestContact: RequestResult }>> {
  return t.gql(REQUEST, { u: typeof to === 'string' ? to : to.username }, from.token);
}

describe('contacts on SQLite', () => {
  let t: TestGateway;
  let alice: TestUser;
  let bob: TestUser;
  let mallory: TestUser;

  /** Two freshly registered users, strangers to everyone. */
  async function pair(): Promise<[TestUser, TestUser]> {
    return [await registerAndLogin(t, fresh('ann')), await registerAndLogin(t, fresh('ben'))];
  }

  /** The pair's row as stored (null when none). */
  function row(a: TestUser, b: TestUser): Promise<ContactRow | null> {
    return t.gateway.store.findContact(a.id, b.id);
  }

  /** Runs a mutation that must be refused with `code` and checks the pair's row did not change. */
  async function refused(code: string, rowOf: [TestUser, TestUser], mutation: () => Promise<GqlResponse>): Promise<void> {
    const before = await row(...rowOf);
    const r = await mutation();
    expect(codes(r)).toEqual([code]);
    expect(r.data).toBeNull();
    expect(await row(...rowOf)).toEqual(before);
  }

  beforeAll(async () => {
    t = await startTestGateway({ authLimits: ROOMY_AUTH_LIMITS });
    alice = await registerAndLogin(t, 'alice');
    bob = await registerAndLogin(t, 'bob');
    mallory = await registerAndLogin(t, 'mallory');
  });

  afterAll(async () => {
    await t?.close();
  });

  describe('users: search by username prefix', () => {
    const names = ['zed', 'zelda', 'zeno', 'zenobia', 'zeta', 'z_ed', 'zxed'];
    beforeAll(async () => {
      for (const name of names) await registerAndLogin(t, name);
    });

    const search = async (viewer: TestUser, prefix: string, first?: number, after?: string | null) =>
      t.gql<{ users: Page<{ id: string; username: string }> }>(USERS, { p: prefix, n: first, a: after }, viewer.token);

    it('lists the users whose username starts with the prefix, in username order', async () => {
      const all = data(await search(alice, 'ze')).users;
      expect(all.nodes.map((u) => u.username)).toEqual(['zed', 'zelda', 'zeno', 'zenobia', 'zeta']);
      expect(all.endCursor).toBeNull();
      expect(data(await search(alice, 'zen')).users.nodes.map((u) => u.username)).toEqual(['zeno', 'zenobia']);
      expect(data(await search(alice, 'zenobia')).users.nodes.map((u) => u.username)).toEqual(['zenobia']);
      expect(data(await search(alice, 'zenobias')).users.nodes).toEqual([]);
      // `_` and `.` are username characters, not wildcards.
      expect(data(await search(alice, 'z_')).users.nodes.map((u) => u.username)).toEqual(['z_ed']);
      // The viewer is included; ids are the registered ones.
      expect(data(await search(alice, 'alice')).users.nodes).toEqual([{ id: alice.id, username: 'alice' }]);
    });

    it('pages with first/after; endCursor is null on the last page', async () => {
      const seen: string[][] = [];
      let after: string | null = null;
      do {
        const page: Page<{ username: string }> = data(await search(bob, 'z', 2, after)).users;
        seen.push(page.nodes.map((u) => u.username));
        after = page.endCursor;
      } while (after !== null);
      expect(seen).toEqual([['z_ed', 'zed'], ['zelda', 'zeno'], ['zenobia', 'zeta'], ['zxed']]);
      // A page that ends exactly at the last match says so.
      expect(data(await search(bob, 'ze', 5)).users.endCursor).toBeNull();
      expect(data(await search(bob, 'ze', 4)).users.endCursor).toBe('zenobia');
      expect(data(await search(bob, 'z', 20, 'zeta')).users.nodes.map((u) => u.username)).toEqual(['zxed']);
    });

    it('first must be 1–100', async () => {
      expect(codes(await search(alice, 'ze', 0))).toEqual(['BAD_USER_INPUT']);
      expect(codes(await search(alice, 'ze', 101))).toEqual(['BAD_USER_INPUT']);
      expect(codes(await search(alice, 'ze', -1))).toEqual(['BAD_USER_INPUT']);
      expect(data(await search(alice, 'ze', 100)).users.nodes).toHaveLength(5);
      expect(data(await search(alice, 'ze', 1)).users.nodes).toHaveLength(1);
    });

    it('the prefix follows the username rules: 1–32 characters, lowercase, starting with a letter', async () => {
      for (const bad of ['', 'Ze', 'ZED', '1ze', '_ze', '.ze', 'z e', 'ze%', 'zé', 'z'.repeat(33)]) {
        const r = await search(alice, bad);
        expect(codes(r), JSON.stringify(bad)).toEqual(['BAD_USER_INPUT']);
        expect(r.errors![0]!.extensions).toMatchObject({ field: 'prefix' });
      }
      for (const good of ['z', 'z-', 'z.', 'z'.repeat(32)]) expect(await search(alice, good), good).not.toHaveProperty('errors');
    });

    it('signed-in users only', async () => {
      const r = await t.gql(USERS, { p: 'ze' });
      expect(codes(r)).toEqual(['UNAUTHENTICATED']);
      expect(r.data).toBeNull();
    });
  });

  describe('the request → accept state machine', () => {
    it('request → accept: the lists of both sides at each step', async () => {
      const [ann, ben] = await pair();
      const requested = data(await request(t, ann, ben)).requestContact;
      expect(requested).toMatchObject({ outcome: 'REQUESTED', user: { username: ben.username }, contact: null, request: { direction: 'OUTGOING', user: { username: ben.username } } });
      expect(Date.parse(requested.request!.createdAt)).not.toBeNaN();
      expect(await lists(t, ann)).toEqual({ ...none, outgoing: [ben.username] });
      expect(await lists(t, ben)).toEqual({ ...none, incoming: [ann.username] });
      expect(await row(ann, ben)).toMatchObject({ status: 'PENDING', requesterId: ann.id });

      const accepted = data(await t.gql<{ acceptContact: { since: string; requestedAt: string; user: { id: string; username: string } } }>(ACCEPT, { u: ann.username }, ben.token)).acceptContact;
      expect(accepted.user).toEqual({ id: ann.id, username: ann.username });
      expect(accepted.requestedAt).toBe(requested.request!.createdAt);
      expect(Date.parse(accepted.since)).toBeGreaterThanOrEqual(Date.parse(accepted.requestedAt));
      expect(await lists(t, ann)).toEqual({ ...none, contacts: [ben.username] });
      expect(await lists(t, ben)).toEqual({ ...none, contacts: [ann.username] });
      const annSees = data(await t.gql<{ contacts: Page<{ since: string; requestedAt: string }> }>(CONTACTS, {}, ann.token)).contacts.nodes[0]!;
      expect(annSees).toMatchObject({ since: accepted.since, requestedAt: accepted.requestedAt });
      expect(await row(ann, ben)).toMatchObject({ status: 'ACCEPTED', requesterId: ann.id });

      // Now nothing of the handshake applies, either way.
      await refused('ALREADY_CONTACTS', [ann, ben], () => request(t, ann, ben));
      await refused('ALREADY_CONTACTS', [ann, ben], () => request(t, ben, ann));
      await refused('NOT_FOUND', [ann, ben], () => t.gql(ACCEPT, { u: ann.username }, ben.token));
      await refused('NOT_FOUND', [ann, ben], () => t.gql(REJECT, { u: ann.username }, ben.token));
      await refused('NOT_FOUND', [ann, ben], () => t.gql(CANCEL, { u: ben.username }, ann.token));
    });

    it('request → reject → request again → accept', async () => {
      const [ann, ben] = await pair();
      expect(data(await request(t, ann, ben)).requestContact.outcome).toBe('REQUESTED');
      // Only the recipient rejects; the sender cancels.
      await refused('NOT_FOUND', [ann, ben], () => t.gql(REJECT, { u: ben.username }, ann.token));
      expect(data(await t.gql(REJECT, { u: ann.username }, ben.token))).toEqual({ rejectContact: true });
      expect(await row(ann, ben)).toBeNull();
      expect(await lists(t, ann)).toEqual(none);
      expect(await lists(t, ben)).toEqual(none);
      await refused('NOT_FOUND', [ann, ben], () => t.gql(REJECT, { u: ann.username }, ben.token));
      await refused('NOT_FOUND', [ann, ben], () => t.gql(ACCEPT, { u: ann.username }, ben.token));

      expect(data(await request(t, ann, ben)).requestContact.outcome).toBe('REQUESTED');
      expect(await lists(t, ben)).toEqual({ ...none, incoming: [ann.username] });
      expect(data(await t.gql(ACCEPT, { u: ann.username }, ben.token))).toMatchObject({ acceptContact: { user: { username: ann.username } } });
      expect(await lists(t, ann)).toEqual({ ...none, contacts: [ben.username] });
      expect(await lists(t, ben)).toEqual({ ...none, contacts: [ann.username] });
    });

    it('request → cancel', async () => {
      const [ann, ben] = await pair();
      await request(t, ann, ben);
      await refused('NOT_FOUND', [ann, ben], () => t.gql(CANCEL, { u: ann.username }, ben.token)); // ben sent nothing
      expect(data(await t.gql(CANCEL, { u: ben.username }, ann.token))).toEqual({ cancelContactRequest: true });
      expect(await row(ann, ben)).toBeNull();
      expect(await lists(t, ann)).toEqual(none);
      expect(await lists(t, ben)).toEqual(none);
      await refused('NOT_FOUND', [ann, ben], () => t.gql(CANCEL, { u: ben.username }, ann.token));
      await refused('NOT_FOUND', [ann, ben], () => t.gql(ACCEPT, { u: ann.username }, ben.token));
      // Either may ask again.
      expect(data(await request(t, ben, ann)).requestContact.outcome).toBe('REQUESTED');
      expect(await lists(t, ann)).toEqual({ ...none, incoming: [ben.username] });
    });

    it('asking someone who already asked you makes you contacts at once (outcome ACCEPTED)', async () => {
      const [ann, ben] = await pair();
      await request(t, ann, ben);
      const back = data(await request(t, ben, ann)).requestContact;
      expect(back).toMatchObject({ outcome: 'ACCEPTED', user: { username: ann.username }, request: null, contact: { user: { username: ann.username } } });
      expect(await lists(t, ann)).toEqual({ ...none, contacts: [ben.username] });
      expect(await lists(t, ben)).toEqual({ ...none, contacts: [ann.username] });
      expect(await row(ann, ben)).toMatchObject({ status: 'ACCEPTED', requesterId: ann.id });
    });

    it('a second request is CONTACT_REQUEST_EXISTS; to oneself BAD_USER_INPUT; to an unknown user NOT_FOUND', async () => {
      const [ann, ben] = await pair();
      await request(t, ann, ben);
      await refused('CONTACT_REQUEST_EXISTS', [ann, ben], () => request(t, ann, ben));
      await refused('BAD_USER_INPUT', [ann, ann], () => request(t, ann, ann));
      const unknown = fresh('nobody');
      const before = await lists(t, ann);
      for (const q of [REQUEST, ACCEPT, REJECT, CANCEL, REMOVE]) {
        const r = await t.gql(q, { u: unknown }, ann.token);
        expect(codes(r), q).toEqual(['NOT_FOUND']);
        expect(r.errors![0]!.message).toBe('no such user');
      }
      expect(codes(await request(t, ann, 'Not A Username'))).toEqual(['NOT_FOUND']);
      expect(await lists(t, ann)).toEqual(before);
      expect(await lists(t, ben)).toEqual({ ...none, incoming: [ann.username] });
    });

    it('accept with no request, or by the one who sent it, is NOT_FOUND', async () => {
      const [ann, ben] = await pair();
      await refused('NOT_FOUND', [ann, ben], () => t.gql(ACCEPT, { u: ann.username }, ben.token));
      await request(t, ann, ben);
      await refused('NOT_FOUND', [ann, ben], () => t.gql(ACCEPT, { u: ben.username }, ann.token));
      await refused('NOT_FOUND', [ann, ann], () => t.gql(ACCEPT, { u: ann.username }, ann.token));
      expect(await lists(t, ann)).toEqual({ ...none, outgoing: [ben.username] });
    });

    it('remove a contact: either side; a pending request or a stranger is NOT_FOUND; they may ask again', async () => {
      const [ann, ben] = await pair();
      await refused('NOT_FOUND', [ann, ben], () => t.gql(REMOVE, { u: ben.username }, ann.token));
      await request(t, ann, ben);
      await refused('NOT_FOUND', [ann, ben], () => t.gql(REMOVE, { u: ben.username }, ann.token));
      await t.gql(ACCEPT, { u: ann.username }, ben.token);
      expect(data(await t.gql(REMOVE, { u: ann.username }, ben.token))).toEqual({ removeContact: true });
      expect(await row(ann, ben)).toBeNull();
      expect(await lists(t, ann)).toEqual(none);
      expect(await lists(t, ben)).toEqual(none);
      await refused('NOT_FOUND', [ann, ben], () => t.gql(REMOVE, { u: ben.username }, ann.token));
      expect(data(await request(t, ann, ben)).requestContact.outcome).toBe('REQUESTED');
    });
  });

  describe('lists', () => {
    it('page in the order of the other users’ ids; first must be 1–100', async () => {
      const hub = await registerAndLogin(t, fresh('hub'));
      const friends: TestUser[] = [];
      for (let i = 0; i < 5; i++) friends.push(await registerAndLogin(t, fresh('friend')));
      for (const f of friends) await request(t, f, hub);
      for (const f of friends.slice(0, 4)) data(await t.gql(ACCEPT, { u: f.username }, hub.token));
      const byId = [...friends.slice(0, 4)].sort((a, b) => (a.id < b.id ? -1 : 1)).map((f) => f.id);

      const pages: string[][] = [];
      let after: string | null = null;
      do {
        const page: Page<{ user: { id: string } }> = data(await t.gql<{ contacts: Page<{ user: { id: string } }> }>(CONTACTS, { n: 3, a: after }, hub.token)).contacts;
        pages.push(page.nodes.map((c) => c.user.id));
        after = page.endCursor;
      } while (after !== null);
      expect(pages.map((p) => p.length)).toEqual([3, 1]);
      expect(pages.flat()).toEqual(byId);

      const incoming = data(await t.gql<{ contactRequests: Page<{ user: { id: string } }> }>(REQUESTS, { d: 'INCOMING', n: 1 }, hub.token)).contactRequests;
      expect(incoming).toEqual({ nodes: [{ user: { id: friends[4]!.id, username: friends[4]!.username }, direction: 'INCOMING', createdAt: expect.any(String) }], endCursor: null });
      for (const bad of [0, 101]) {
        expect(codes(await t.gql(CONTACTS, { n: bad }, hub.token))).toEqual(['BAD_USER_INPUT']);
        expect(codes(await t.gql(REQUESTS, { d: 'OUTGOING', n: bad }, hub.token))).toEqual(['BAD_USER_INPUT']);
      }
    });
  });

  describe('the acting user is always the token’s', () => {
    it('mallory cannot accept, reject, cancel or remove what is between alice and bob, nor see it', async () => {
      await request(t, alice, bob);
      await refused('NOT_FOUND', [alice, bob], () => t.gql(ACCEPT, { u: alice.username }, mallory.token));
      await refused('NOT_FOUND', [alice, bob], () => t.gql(REJECT, { u: alice.username }, mallory.token));
      await refused('NOT_FOUND', [alice, bob], () => t.gql(CANCEL, { u: bob.username }, mallory.token));
      expect(await lists(t, mallory)).toEqual(none);
      expect((await row(alice, bob))!.status).toBe('PENDING');

      await t.gql(ACCEPT, { u: alice.username }, bob.token);
      await refused('NOT_FOUND', [alice, bob], () => t.gql(REMOVE, { u: alice.username }, mallory.token));
      await refused('NOT_FOUND', [alice, bob], () => t.gql(REMOVE, { u: bob.username }, mallory.token));
      expect(await lists(t, mallory)).toEqual(none);
      expect((await row(alice, bob))!.status).toBe('ACCEPTED');
      expect(await t.gateway.store.findContact(mallory.id, alice.id)).toBeNull();
      expect(await t.gateway.store.findContact(mallory.id, bob.id)).toBeNull();
    });

    it('no operation takes the acting user as an argument', async () => {
      const r = await t.gql<{ __schema: { queryType: { fields: { name: string; args: { name: string }[] }[] }; mutationType: { fields: { name: string; args: { name: string }[] }[] } } }>(
        '{ __schema { queryType { fields { name args { name } } } mutationType { fields { name args { name } } } } }',
      );
      const fields = [...data(r).__schema.queryType.fields, ...data(r).__schema.mutationType.fields];
      const args = Object.fromEntries(fields.filter((f) => ['users', 'contacts', 'contactRequests', 'requestContact', 'acceptContact', 'rejectContact', 'cancelContactRequest', 'removeContact'].includes(f.name)).map((f) => [f.name, f.args.map((a) => a.name)]));
      expect(args).toEqual({
        users: ['prefix', 'first', 'after'],
        contacts: ['first', 'after'],
        contactRequests: ['direction', 'first', 'after'],
        requestContact: ['username'],
        acceptContact: ['username'],
        rejectContact: ['username'],
        cancelContactRequest: ['username'],
        removeContact: ['username'],
      });
    });
  });

  it('without a token every operation is UNAUTHENTICATED and changes nothing', async () => {
    const [ann, ben] = await pair();
    await request(t, ann, ben);
    const before = await row(ann, ben);
    const operations: [string, Record<string, unknown>][] = [
      [USERS, { p: 'ann' }],
      [CONTACTS, {}],
      [REQUESTS, { d: 'INCOMING' }],
      [REQUEST, { u: ann.username }],
      [ACCEPT, { u: ann.username }],
      [REJECT, { u: ann.username }],
      [CANCEL, { u: ben.username }],
      [REMOVE, { u: ben.username }],
    ];
    for (const [q, v] of operations) {
      const r = await t.gql(q, v);
      expect(codes(r), q).toEqual(['UNAUTHENTICATED']);
      expect(r.data).toBeNull();
    }
    expect(await row(ann, ben)).toEqual(before);
  });

  it('two users asking each other at the same moment: both succeed, one REQUESTED and one ACCEPTED, one ACCEPTED row', async () => {
    const [ann, ben] = await pair();
    for (let round = 0; round < 5; round++) {
      const [a, b] = await Promise.all([request(t, ann, ben), request(t, ben, ann)]);
      expectRaceOutcome(a, b);
      expect(await row(ann, ben)).toMatchObject({ status: 'ACCEPTED' });
      expect(await lists(t, ann)).toEqual({ ...none, contacts: [ben.username] });
      expect(await lists(t, ben)).toEqual({ ...none, contacts: [ann.username] });
      data(await t.gql(REMOVE, { u: ben.username }, ann.token));
    }
  });
});

/** Neither request fails; exactly one created the request and the other accepted it. */
function expectRaceOutcome(a: GqlResponse<{ requestContact: RequestResult }>, b: GqlResponse<{ requestContact: RequestResult }>): void {
  const outcomes = [data(a).requestContact, data(b).requestContact];
  expect(outcomes.map((o) => o.outcome).sort()).toEqual(['ACCEPTED', 'REQUESTED']);
  for (const o of outcomes) {
    if (o.outcome === 'ACCEPTED') expect(o).toMatchObject({ request: null, contact: { user: o.user } });
    else expect(o).toMatchObject({ contact: null, request: { direction: 'OUTGOING', user: o.user } });
  }
}

describe('contacts on PostgreSQL, two gateways on one database', () => {
  let pg: TestPostgres;
  let one: TestGateway;
  let two: TestGateway;

  beforeAll(async () => {
    pg = await startPostgres(); // throws (fails the suite) when PostgreSQL cannot start
    const databaseUrl = await pg.createDatabase('contacts_race');
    // The same token and challenge secrets: a token from one gateway works at the other.
    const shared = { databaseUrl, jwtSecret: base64urlEncode(nodeBackend.randomBytes(32)), challengeKey: base64urlEncode(nodeBackend.randomBytes(32)), authLimits: ROOMY_AUTH_LIMITS };
    one = await startTestGateway(shared);
    two = await startTestGateway(shared);
  }, 120_000);

  afterAll(async () => {
    await one?.close();
    await two?.close();
    await pg?.stop();
  });

  it('two users asking each other at the same moment, each through another gateway: one REQUESTED, one ACCEPTED, contacts on both', async () => {
    for (let round = 0; round < 10; round++) {
      const ann = await registerAndLogin(one, fresh('pgann'));
      const ben = await registerAndLogin(one, fresh('pgben'));
      const [a, b] = await Promise.all([request(one, ann, ben), request(two, ben, ann)]);
      expectRaceOutcome(a, b);
      expect(await one.gateway.store.findContact(ann.id, ben.id)).toMatchObject({ status: 'ACCEPTED' });
      expect(await lists(two, ann)).toEqual({ ...none, contacts: [ben.username] });
      expect(await lists(one, ben)).toEqual({ ...none, contacts: [ann.username] });
    }
  });
});
