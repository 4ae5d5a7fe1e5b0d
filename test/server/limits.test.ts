// The request limits (src/server/limits.ts) on a real gateway over loopback HTTP and
// WebSocket, with a real SQLite file: aliases (the client link's own `_vg` fields recognised
// by their exact shape, every other alias counted), cost with list sizes taken from the
// variables' values, document tokens and directives, and parse errors that say nothing about
// the parser's internals. Every refusal is QUERY_TOO_COMPLEX (or GRAPHQL_PARSE_FAILED for a
// document that does not parse) and reaches no store method (counted on the real store).
// Issue 14, items 1, 8 and 13.
import { getIntrospectionQuery, getOperationAST, parse, print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withVeilFields } from '../../src/client/veil.js';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { generateSymmetricKey } from '../../src/crypto/keys.js';
import { ConfigError, configFromEnv } from '../../src/app/config.js';
import { DEFAULT_LIMITS, INTROSPECTION_COST, createRequestLimits } from '../../src/server/limits.js';
import { referenceSchema } from '../helpers/reference-schema.js';
import { newObjectId, registerAndLogin, seal, startTestGateway, storeDataKey, type GqlResponse, type TestGateway, type TestUser } from '../helpers/gateway.js';
import { codes } from '../helpers/devices.js';
import { startNoteGateway } from '../helpers/note-gateway.js';
import { countStoreCalls, type StoreCalls } from '../helpers/store-calls.js';
import { openRawSocket, wsCodes, wsMessages, type RawSocket } from '../helpers/ws.js';


let t: TestGateway;
let alice: TestUser;
let profileId: string;
let store: StoreCalls;
const sockets: RawSocket[] = [];

function aliases(n: number, prefix: string, field: string): string {
  return Array.from({ length: n }, (_, i) => `${prefix}${i}: ${field}`).join(' ');
}

async function socket(init: Record<string, unknown> = {}): Promise<RawSocket> {
  const s = await openRawSocket(t.gateway.url.replace(/^http/, 'ws'), init);
  sockets.push(s);
  return s;
}

/** Sends `query` anonymously and expects a refusal with `code` that reached no store method. */
async function expectRefusedBeforeStore(query: string, code: string, variables?: Record<string, unknown>, token?: string): Promise<GqlResponse> {
  store.reset();
  const r = await t.gql(query, variables, token);
  expect(codes(r), String(JSON.stringify(r.errors ?? null)).slice(0, 300)).toEqual([code]);
  expect(r.status).toBe(400);
  expect(r.data ?? undefined).toBeUndefined();
  expect(store.calls, 'the refused request reached the store').toEqual([]);
  return r;
}

beforeAll(async () => {
  t = await startTestGateway();
  alice = await registerAndLogin(t, 'alice');
  profileId = newObjectId();
  const dataKey = generateSymmetricKey(nodeBackend);
  await storeDataKey(t, alice, 'Profile', profileId, dataKey);
  const created = await t.gql(
    'mutation C($i: CreateProfileInput!) { createProfile(input: $i) { id } }',
    { i: { id: profileId, displayName: 'Alice', bio: seal(dataKey, 'Profile.bio', alice.id, profileId, 'hi') } },
    alice.token,
  );
  expect(created.errors).toBeUndefined();
  store = countStoreCalls(t.gateway.store);
});

afterAll(async () => {
  for (const s of sockets) s.close();
  store?.stop();
  await t?.close();
});

describe('aliases', () => {
  it('5,000 `_vg` aliases of an expensive field are refused before any database work (anonymous, default limits)', async () => {
    const r = await expectRefusedBeforeStore(`{ ${aliases(5000, '_vg', 'user(username: "alice") { id username }')} }`, 'QUERY_TOO_COMPLEX');
    expect(JSON.stringify(r)).not.toContain('alice');
  });

  it('5,000 plain aliases are refused before any database work (anonymous, default limits)', async () => {
    await expectRefusedBeforeStore(`{ ${aliases(5000, 'a', 'user(username: "alice") { id }')} }`, 'QUERY_TOO_COMPLEX');
  });

  it('the alias rule itself counts `_vg` aliases that are not the link’s fields (token limit out of the way)', async () => {
    const roomy = await startTestGateway({ limits: { ...DEFAULT_LIMITS, maxTokens: 1_000_000 } });
    const calls = countStoreCalls(roomy.gateway.store);
    try {
      for (const prefix of ['_vg', '_vgOwner', 'a']) {
        const r = await roomy.gql(`{ ${aliases(5000, prefix, 'user(username: "alice") { id }')} }`);
        expect(codes(r)).toEqual(['QUERY_TOO_COMPLEX']);
        expect(r.errors![0]!.message).toMatch(/5000 aliases exceed the limit of 30/);
      }
      expect(calls.calls).toEqual([]);
    } finally {
      calls.stop();
      await roomy.close();
    }
  });

  it('only the exact fields the link adds are free: owner and id of the selection’s type, unaliased otherwise, no arguments, directives or sub-selections, once per selection set', async () => {
    const thirty = aliases(30, 'p', 'profile(id: $id) { id }');
    const base = `query Q($id: ID!) { ${thirty} `;
    // At the limit, with the link's two fields in every selection set that has a sealed field.
    const ok = await t.gql(`${base} profile(id: $id) { bio _vgOwner: ownerId _vgId: id } }`, { id: profileId }, alice.token);
    expect(codes(ok)).toEqual([]);
    for (const fields of [
      '_vgOwner: id', // the owner alias on the id field
      '_vgId: ownerId', // the id alias on the owner field
      '_vgId: displayName', // another field
      '_vgOwner: owner { id }', // a sub-selection
      '_vgId: id @include(if: true)', // a directive
      '_vgx: ownerId', // another `_vg` name
      '_vgOwner: ownerId _vgId: id _vgOwner: ownerId', // twice in one selection set
      '_vgOwner: ownerId _vgId: id ... on Profile { _vgOwner: ownerId }', // again in an inline fragment of the same type
    ]) {
      const r = await expectRefusedBeforeStore(`${base} profile(id: $id) { bio ${fields} } }`, 'QUERY_TOO_COMPLEX', { id: profileId }, alice.token);
      expect(r.errors![0]!.message, fields).toMatch(/31 aliases exceed the limit of 30/);
    }
    // The link's fields on a type that has none (User has no @owner) are aliases like any other.
    await expectRefusedBeforeStore(`${base} me { _vgOwner: id } }`, 'QUERY_TOO_COMPLEX', { id: profileId }, alice.token);
    // `_vg` fields at the root (a root type is never an owned object).
    await expectRefusedBeforeStore(`${base} _vgId: me { id } }`, 'QUERY_TOO_COMPLEX', { id: profileId }, alice.token);
  });

  it('a document the client link rewrote passes with the caller’s full alias budget', async () => {
    const built = referenceSchema();
    const doc = parse(`query Q($id: ID!) { ${aliases(30, 'p', 'profile(id: $id) { displayName bio diary owner { username } }')} }`);
    const sent = print(withVeilFields(doc, built.wire, built.manifest));
    expect(sent.match(/_vgOwner/g)).toHaveLength(30);
    const r = await t.gql<Record<string, { _vgOwner: string; _vgId: string }>>(sent, { id: profileId }, alice.token);
    expect(codes(r)).toEqual([]);
    expect(r.data!.p29).toMatchObject({ _vgOwner: alice.id, _vgId: profileId });
  });
});

describe('aliases on abstract types', () => {
  it('over a union, the link’s fields are free once per concrete type; a repeat for the same type counts', async () => {
    const notes = await startNoteGateway();
    try {
      const bob = await registerAndLogin(notes.t, 'bob');
      const doc = parse(`{ ${aliases(30, 'm', 'me { id }')} entries { ... on Note { title body } ... on Reminder { label } } }`);
      const sent = print(withVeilFields(doc, notes.schema.wire, notes.schema.manifest));
      expect(sent.match(/_vgOwner: authorId/g)).toHaveLength(2);
      expect(codes(await notes.t.gql(sent, {}, bob.token))).toEqual([]);
      const repeated = sent.replace('entries {', 'entries { ... on Note { _vgOwner: authorId }');
      const r = await notes.t.gql(repeated, {}, bob.token);
      expect(codes(r)).toEqual(['QUERY_TOO_COMPLEX']);
      expect(r.errors![0]!.message).toMatch(/31 aliases exceed the limit of 30/);
    } finally {
      await notes.close();
    }
  });
});

describe('cost with the variables’ values', () => {
  it('costs the examples in docs/requests.md as the document says', () => {
    const built = referenceSchema();
    for (const [query, cost] of [
      ['{ profiles(first: 200) { nodes { id owner { username } } } }', 801],
      ['{ conversations { nodes { members { role } } } }', 2601],
      // A page that is itself a list: lists inside its items count again.
      ['{ undelivered(first: 10) { seq receipts { deliveredAt } } }', 521],
    ] as const) {
      const doc = parse(query);
      const op = getOperationAST(doc)!;
      expect(createRequestLimits({ maxCost: cost }, built.manifest).checkCost(built.wire, doc, op, {}), query).toBeUndefined();
      expect(createRequestLimits({ maxCost: cost - 1 }, built.manifest).checkCost(built.wire, doc, op, {})?.extensions.code, query).toBe('QUERY_TOO_COMPLEX');
    }
  });

  const PAGES = `query P($n: Int) { ${aliases(5, 'p', 'profiles(first: $n) { nodes { id displayName ownerId owner { id username } } }')} }`;
  const KEYS = `query K($ids: [ID!]!) { ${aliases(10, 'k', 'myDataKeys(objectType: "Profile", objectIds: $ids) { objectId keyVersion wrapped }')} }`;

  it('a `first` given as a variable is costed by its value, not by a default of 50', async () => {
    await expectRefusedBeforeStore(PAGES, 'QUERY_TOO_COMPLEX', { n: 1000 }, alice.token);
    const small = await t.gql<{ p0: { nodes: unknown[] } }>(PAGES, { n: 10 }, alice.token);
    expect(codes(small)).toEqual([]);
    expect(small.data!.p0.nodes).toHaveLength(1);
    // An absent variable: the argument's schema default (50).
    expect(codes(await t.gql(PAGES, {}, alice.token))).toEqual([]);
    // A literal page with nested objects (no list below the page's nodes) is well within.
    expect(codes(await t.gql('{ profiles(first: 200) { nodes { owner { profile { owner { profile { id } } } } } } }', {}, alice.token))).toEqual([]);
  });

  it('a list argument given as a variable (ids in, one result or more per id) is costed by its length', async () => {
    const ids = Array.from({ length: 1000 }, () => newObjectId());
    await expectRefusedBeforeStore(KEYS, 'QUERY_TOO_COMPLEX', { ids }, alice.token);
    expect(codes(await t.gql(KEYS, { ids: ids.slice(0, 10) }, alice.token))).toEqual([]);
  });

  it('the same over GET', async () => {
    store.reset();
    const url = `${t.gateway.url}?query=${encodeURIComponent(PAGES)}&variables=${encodeURIComponent(JSON.stringify({ n: 1000 }))}`;
    const res = await fetch(url, { headers: { authorization: `Bearer ${alice.token}`, 'apollo-require-preflight': 'true' } });
    expect(res.status).toBe(400);
    expect(codes((await res.json()) as GqlResponse)).toEqual(['QUERY_TOO_COMPLEX']);
    expect(store.calls).toEqual([]);
  });

  it('over WebSocket: a subscription’s list size from a variable is costed by its value before it starts', async () => {
    // A schema author's subscription that returns a list sized by `first` (the reference
    // schema has none).
    const sdl = 'type Tick { n: Int! }\nextend type Subscription { ticks(first: Int = 10): [Tick!]! }\n';
    let started = 0;
    const ticks = {
      Subscription: {
        ticks: {
          subscribe: async function* (_: unknown, args: { first: number }) {
            started++;
            yield { ticks: Array.from({ length: args.first }, (_x, n) => ({ n })) };
          },
        },
      },
    };
    const g = await startTestGateway({ typeDefs: [sdl], resolvers: [ticks], limits: { ...DEFAULT_LIMITS, maxCost: 100 } });
    const s = await openRawSocket(g.gateway.url.replace(/^http/, 'ws'), {});
    try {
      const query = 'subscription T($n: Int) { ticks(first: $n) { n } }';
      const big = await s.subscribe('big', query, { n: 1000 });
      expect(wsCodes(big)).toEqual(['QUERY_TOO_COMPLEX']);
      expect(started).toBe(0);
      const small = await s.subscribe('small', query, { n: 3 });
      expect(small.type).toBe('next');
      expect(small.payload).toEqual({ data: { ticks: [{ n: 0 }, { n: 1 }, { n: 2 }] } });
      expect(started).toBe(1);
    } finally {
      s.close();
      await g.close();
    }
  });
});

describe('tokens and directives', () => {
  const MAX_TOKENS = 1000;
  const MAX_DIRECTIVES = 50;

  it('the defaults are the documented ones, and each is a setting', () => {
    expect(DEFAULT_LIMITS).toEqual({ maxDepth: 12, maxAliases: 30, maxCost: 20_000, defaultListSize: 50, maxTokens: MAX_TOKENS, maxDirectives: MAX_DIRECTIVES });
    expect(configFromEnv({}).limits).toEqual(DEFAULT_LIMITS);
    const env = { VEIL_MAX_TOKENS: '800', VEIL_MAX_DIRECTIVES: '5', VEIL_MAX_DEPTH: '6', VEIL_MAX_ALIASES: '0', VEIL_MAX_COST: '1000', VEIL_DEFAULT_LIST_SIZE: '10' };
    expect(configFromEnv(env).limits).toEqual({ maxTokens: 800, maxDirectives: 5, maxDepth: 6, maxAliases: 0, maxCost: 1000, defaultListSize: 10 });
    for (const [name, value] of [['VEIL_MAX_TOKENS', '99'], ['VEIL_MAX_COST', '0'], ['VEIL_MAX_DEPTH', 'deep'], ['VEIL_MAX_ALIASES', '-1'], ['VEIL_DEFAULT_LIST_SIZE', '1.5']]) {
      expect(() => configFromEnv({ [name!]: value }), name).toThrow(ConfigError);
    }
  });

  it(`a document of more than ${MAX_TOKENS} tokens is refused before it is parsed whole, over HTTP and WebSocket`, async () => {
    const long = `{ ${'__typename '.repeat(MAX_TOKENS)}}`;
    const r = await expectRefusedBeforeStore(long, 'QUERY_TOO_COMPLEX');
    expect(r.errors![0]!.message).toBe(`the document has more than ${MAX_TOKENS} tokens`);
    // At the limit the document is parsed, validated and run (no such objects: no keys).
    const prefix = '{ myDataKeys(objectType: "Profile", objectIds: [';
    const suffix = ']) { objectId } }';
    const tokensAround = 9 + 6;
    const fits = await t.gql<{ myDataKeys: unknown[] }>(`${prefix}${'"x" '.repeat(MAX_TOKENS - tokensAround)}${suffix}`, {}, alice.token);
    expect(codes(fits)).toEqual([]);
    expect(fits.data!.myDataKeys).toEqual([]);
    const over = await t.gql(`${prefix}${'"x" '.repeat(MAX_TOKENS - tokensAround + 1)}${suffix}`, {}, alice.token);
    expect(codes(over)).toEqual(['QUERY_TOO_COMPLEX']);

    const s = await socket();
    const m = await s.subscribe('1', `subscription { ${'__typename '.repeat(MAX_TOKENS)}}`);
    expect(wsCodes(m)).toEqual(['QUERY_TOO_COMPLEX']);
    expect(wsMessages(m)).toEqual([`the document has more than ${MAX_TOKENS} tokens`]);
  });

  it(`more than ${MAX_DIRECTIVES} directives are refused, fragments counted where they are spread, over HTTP and WebSocket`, async () => {
    const each = (n: number, directive: string): string => `... ${directive} { id } `.repeat(n);
    const many = `{ me { ${each(MAX_DIRECTIVES + 1, '@include(if: true)')}} }`;
    const r = await expectRefusedBeforeStore(many, 'QUERY_TOO_COMPLEX', undefined, alice.token);
    expect(r.errors![0]!.message).toBe(`the operation's directives exceed the limit of ${MAX_DIRECTIVES}`);
    const spread = `{ me { ...F ...F } } fragment F on User { ${each(MAX_DIRECTIVES / 2 + 1, '@skip(if: false)')}}`;
    await expectRefusedBeforeStore(spread, 'QUERY_TOO_COMPLEX', undefined, alice.token);
    const atLimit = await t.gql<{ me: { id: string } }>(`{ me { ${each(MAX_DIRECTIVES, '@include(if: true)')}} }`, {}, alice.token);
    expect(codes(atLimit)).toEqual([]);
    expect(atLimit.data!.me.id).toBe(alice.id);

    const s = await socket();
    const m = await s.subscribe('1', `subscription S($id: ID!) { profileUpdated(id: $id) { ${each(MAX_DIRECTIVES + 1, '@include(if: true)')}} }`, { id: profileId });
    expect(wsCodes(m)).toEqual(['QUERY_TOO_COMPLEX']);
  });
});

describe('parse errors', () => {
  // Nested far deeper than graphql-js's recursive parser can go (where the token limit
  // allows it: how deep the stack reaches depends on the engine's optimisation, so the
  // default limit alone does not make the parser's failure predictable). Under the
  // WebSocket message limit.
  const DEEP_LIST = `{ user(username: ${'['.repeat(25_000)}${']'.repeat(25_000)}) { id } }`;
  const DEEP_OBJECT = `{ user(username: ${'{a:'.repeat(12_000)}1${'}'.repeat(12_000)}) { id } }`;

  it('a document nested too deeply to parse is GRAPHQL_PARSE_FAILED with a generic message, over HTTP and WebSocket', async () => {
    const roomy = await startTestGateway({ limits: { ...DEFAULT_LIMITS, maxTokens: 1_000_000 } });
    const calls = countStoreCalls(roomy.gateway.store);
    const s = await openRawSocket(roomy.gateway.url.replace(/^http/, 'ws'), {});
    try {
      for (const doc of [DEEP_LIST, DEEP_OBJECT]) {
        const r = await roomy.gql(doc);
        expect(r.status).toBe(400);
        expect(codes(r)).toEqual(['GRAPHQL_PARSE_FAILED']);
        expect(r.errors![0]!.message).toBe('Syntax Error: the document could not be parsed.');
        expect(JSON.stringify(r)).not.toMatch(/stack|RangeError/i);

        const m = await s.subscribe(doc.length.toString(), `subscription ${doc}`);
        expect(wsCodes(m)).toEqual(['GRAPHQL_PARSE_FAILED']);
        expect(wsMessages(m)).toEqual(['Syntax Error: the document could not be parsed.']);
        expect(JSON.stringify(m)).not.toMatch(/stack|RangeError/i);
      }
      expect(calls.calls).toEqual([]);
    } finally {
      s.close();
      calls.stop();
      await roomy.close();
    }
  });

  it('an ordinary syntax error keeps graphql’s message and the same code on both transports', async () => {
    const r = await expectRefusedBeforeStore('{ me { id }', 'GRAPHQL_PARSE_FAILED');
    expect(r.errors![0]!.message).toBe('Syntax Error: Expected Name, found <EOF>.');
    const s = await socket();
    const m = await s.subscribe('1', 'subscription { me { id }');
    expect(wsCodes(m)).toEqual(['GRAPHQL_PARSE_FAILED']);
    expect(wsMessages(m)).toEqual(['Syntax Error: Expected Name, found <EOF>.']);
  });
});

describe('introspection (outside production)', () => {
  it("a tool's standard introspection query is answered; copies of __schema cost 5,000 each: four fit the default 20,000, five do not", async () => {
    const standard = await t.gql<{ __schema: { types: unknown[] } }>(getIntrospectionQuery());
    expect(codes(standard)).toEqual([]);
    expect(standard.data!.__schema.types.length).toBeGreaterThan(10);
    // Written out without fragments, as deep as a tool would: still one fixed cost.
    const inline = '__schema { types { name fields { name args { name type { name ofType { name ofType { name } } } } type { name ofType { name } } } inputFields { name } enumValues { name } } }';
    const four = await t.gql(`{ a: ${inline} b: ${inline} c: ${inline} d: ${inline} }`);
    expect(codes(four)).toEqual([]);
    const five = await expectRefusedBeforeStore(`{ a: ${inline} b: ${inline} c: ${inline} d: ${inline} e: ${inline} }`, 'QUERY_TOO_COMPLEX');
    expect(five.errors![0]!.message).toBe('anonymous operation: estimated cost exceeds the limit of 20000');
    // A field named like an Object.prototype member is an ordinary field, not a fixed cost.
    expect(INTROSPECTION_COST.get('constructor')).toBeUndefined();
  });
});
