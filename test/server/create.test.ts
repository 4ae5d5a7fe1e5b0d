// createVeilgraph fails closed at start (docs/server.md, "What fails at start"): every
// refusal is a VeilgraphError CONFIG_INVALID whose message says what to do, and nothing is
// created or opened before it (the data directory does not exist afterwards). The Apollo
// plugin refuses a schema that is not veil.schema, and on veil.schema it enforces the
// request limits and the sealed-literal check even when the server was not given
// veilgraph's parse options and validation rules. A context that is not veilgraph's gets
// no protected value.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { useServer } from 'graphql-ws/use/ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import * as privacyEntry from '../../src/privacy/index.js';
import { PRIVACY_SDL } from '../../src/privacy/sdl.js';
import {
  allServices,
  createVeilgraph,
  directory,
  sharing,
  signIn,
  type TypeAdapter,
  type VeilContext,
  type Veilgraph,
  type VeilgraphOptions,
  VeilgraphError,
} from '../../src/server/index.js';
import { openRawSocket, wsCodes } from '../helpers/ws.js';

const JOURNAL = /* GraphQL */ `
  type Journal @owner(field: "authorId") {
    id: ID!
    authorId: ID!
    title: String!
    mood: String @privacy(level: SERVER, searchable: true)
    body: String @privacy(level: SHARED)
    secret: String @privacy(level: PRIVATE)
  }
  input JournalInput @writes(type: "Journal") {
    id: ID!
    title: String!
    mood: String
    body: String
    secret: String
  }
  extend type Query {
    journal(id: ID!): Journal
  }
  extend type Mutation {
    saveJournal(input: JournalInput!): Journal!
  }
`;

/** A PRIVATE-only type: needs an adapter (owners), no reseal, no sharing(). */
const DIARY = /* GraphQL */ `
  type Diary @owner(field: "authorId") {
    id: ID!
    authorId: ID!
    title: String!
    secret: String @privacy(level: PRIVATE)
  }
  input DiaryInput @writes(type: "Diary") {
    id: ID!
    title: String!
    secret: String
  }
  extend type Query {
    diary(id: ID!): Diary
  }
  extend type Mutation {
    saveDiary(input: DiaryInput!): Diary!
  }
`;

const owners: TypeAdapter['owners'] = async () => new Map();
const reseal: NonNullable<TypeAdapter['reseal']> = { stale: async () => [], swap: async () => false };

const dirs: string[] = [];
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'veilgraph-create-'));
  dirs.push(dir);
  return dir;
}

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** createVeilgraph refuses `options` with CONFIG_INVALID, its message containing each of `says`, and creates no data directory. */
async function refused(options: Omit<VeilgraphOptions, 'dataDir'>, ...says: string[]): Promise<void> {
  const dataDir = join(scratch(), 'data');
  const error: unknown = await createVeilgraph({ ...options, dataDir, logSink: () => undefined }).then(
    async (v) => {
      await v.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(error, 'createVeilgraph should have refused').toMatchObject({ name: 'VeilgraphError', code: 'CONFIG_INVALID' });
  for (const s of says) expect((error as Error).message).toContain(s);
  expect(existsSync(dataDir), 'nothing is created before a refusal').toBe(false);
}

describe('createVeilgraph fails closed at start', () => {
  it('a type with protected fields and no TypeAdapter', async () => {
    await refused({ typeDefs: JOURNAL, services: allServices() }, 'Journal has SERVER, SHARED, PRIVATE fields but no TypeAdapter', 'types: { Journal: { owners(ids, ctx)');
    await refused({ typeDefs: JOURNAL, services: allServices(), types: { Journal: {} as TypeAdapter } }, 'Journal has SERVER, SHARED, PRIVATE fields but no TypeAdapter');
  });

  it('a type with SERVER fields whose TypeAdapter has no reseal', async () => {
    await refused({ typeDefs: JOURNAL, services: allServices(), types: { Journal: { owners } } }, 'Journal has SERVER fields but its TypeAdapter has no reseal { stale, swap }');
    await refused({ typeDefs: JOURNAL, services: allServices(), types: { Journal: { owners, reseal: { stale: reseal.stale } as never } } }, 'no reseal { stale, swap }');
  });

  it('SHARED fields without the sharing() service', async () => {
    await refused({ typeDefs: JOURNAL, services: [signIn()], types: { Journal: { owners, reseal } } }, 'Journal has SHARED fields', 'add sharing() to services');
  });

  it('a service without the services it requires', async () => {
    await refused({ typeDefs: DIARY, services: [directory()], types: { Diary: { owners } } }, 'directory() requires signIn(); add signIn() to services');
    await refused({ typeDefs: DIARY, services: [signIn(), sharing()], types: { Diary: { owners } } }, 'sharing() requires directory(); add directory() to services');
    await refused({ typeDefs: DIARY, services: [signIn(), signIn()], types: { Diary: { owners } } }, 'signIn() is listed twice');
  });

  it('no way to know the viewer (neither signIn() nor authenticate), or both', async () => {
    await refused({ typeDefs: DIARY, types: { Diary: { owners } } }, 'no way to know the viewer', 'add signIn() to services', 'authenticate(request)');
    await refused({ typeDefs: DIARY, services: [signIn()], types: { Diary: { owners } }, authenticate: async () => null }, 'both signIn() and authenticate');
  });

  it('SDL that declares the privacy directives, the Sealed scalar or a root type', async () => {
    const base = { services: [signIn()], types: { Diary: { owners } } };
    await refused({ ...base, typeDefs: [`directive @privacy(level: String) on FIELD_DEFINITION\n`, DIARY] }, 'typeDefs[0] declares @privacy', 'remove the declaration');
    await refused({ ...base, typeDefs: [DIARY, 'directive @owner(field: String) on OBJECT\nscalar Sealed\n'] }, 'typeDefs[1] declares @owner', 'typeDefs[1] declares the Sealed scalar');
    await refused({ ...base, typeDefs: [DIARY, 'type Query { hello: String }'] }, 'typeDefs[1] declares type Query', 'extend type Query { … }');
    await refused({ ...base, typeDefs: [DIARY, 'schema { query: Q } type Q { a: Int }'] }, 'typeDefs[1] has a schema definition');
    await refused({ ...base, typeDefs: [DIARY, 'type {'] }, 'typeDefs[1] does not parse');
  });

  it('a TypeAdapter for a type that has no protected field', async () => {
    await refused({ typeDefs: DIARY, services: [signIn()], types: { Diary: { owners }, Dairy: { owners } } }, 'types.Dairy: Dairy has no field above PUBLIC');
  });

  it('secrets that are not base64url of 32 bytes, the same key for both, or a realm with spaces', async () => {
    const key = Buffer.alloc(32, 7).toString('base64url');
    const other = Buffer.alloc(32, 9).toString('base64url');
    const base = { typeDefs: [], services: [signIn()] };
    await refused({ ...base, jwtSecret: key, challengeKey: key }, 'jwtSecret and challengeKey are the same key');
    await refused({ ...base, jwtSecret: 'c2hvcnQ', challengeKey: other }, 'jwtSecret (VEIL_JWT_SECRET) must be at least 32 bytes');
    await refused({ ...base, jwtSecret: key, challengeKey: 'not base64url!' }, 'challengeKey (VEIL_CHALLENGE_KEY) must be base64url');
    await refused({ ...base, realm: 'my realm' }, 'realm must be 1–128 printable ASCII characters');
  });

  it('@privacy on an interface field: refused (it would not reach the implementing type, whose field would be served as PUBLIC)', async () => {
    const sdl = `
      interface Entry { id: ID! hidden: String @privacy(level: PRIVATE) }
      type Journal implements Entry @owner(field: "authorId") { id: ID! authorId: ID! hidden: String }
      extend type Query { entries: [Entry!]! }
    `;
    const dataDir = join(scratch(), 'data');
    await expect(createVeilgraph({ typeDefs: sdl, authenticate: async () => null, dataDir, logSink: () => undefined })).rejects.toMatchObject({
      code: 'PRIVACY_SCHEMA_INVALID',
      message: expect.stringContaining('Entry.hidden: @privacy on an interface field is not applied'),
    });
    expect(existsSync(dataDir), 'nothing is created before a refusal').toBe(false);
  });

  it('a trustProxy that is not addresses, CIDRs or keywords', async () => {
    await refused({ typeDefs: DIARY, services: [signIn()], types: { Diary: { owners } }, trustProxy: 'loopback,,10.0.0.1' }, 'trustProxy:');
    await refused({ typeDefs: DIARY, services: [signIn()], types: { Diary: { owners } }, trustProxy: ['not-an-address'] }, 'trustProxy:');
  });

  it("a TypeAdapter's attach refuses (its CONFIG_INVALID), after veilgraph's own checks and before anything is created", async () => {
    const calls: { type: string; hasJournal: boolean }[] = [];
    const attach: TypeAdapter['attach'] = ({ type, manifest }) => {
      calls.push({ type, hasJournal: manifest.objects.Journal?.fields.mood?.level === 'SERVER' });
      throw new VeilgraphError('CONFIG_INVALID', 'Journal: the table has no moodIndex column');
    };
    await refused({ typeDefs: JOURNAL, services: allServices(), types: { Journal: { owners, reseal, attach } } }, 'Journal: the table has no moodIndex column');
    expect(calls).toEqual([{ type: 'Journal', hasJournal: true }]);
    // veilgraph's own refusals come first: an adapter missing its reseal is never attached.
    await refused({ typeDefs: JOURNAL, services: allServices(), types: { Journal: { owners, attach } } }, 'no reseal { stale, swap }');
    expect(calls).toHaveLength(1);
  });

  it('attaches each TypeAdapter once, with its type and the manifest veilgraph serves', async () => {
    const seen: string[] = [];
    let manifestSeen: unknown;
    const veil = await createVeilgraph({
      typeDefs: [JOURNAL, DIARY],
      services: allServices(),
      types: {
        Journal: { owners, reseal, attach: ({ type, manifest }) => (seen.push(type), (manifestSeen = manifest)) },
        Diary: { owners, attach: ({ type }) => void seen.push(type) },
      },
      dataDir: join(scratch(), 'data'),
      logSink: () => undefined,
    });
    try {
      expect(seen.sort()).toEqual(['Diary', 'Journal']);
      expect(manifestSeen).toBe(veil.manifest);
    } finally {
      await veil.close();
    }
  });

  it('starts with a complete set, and answers _veilgraph on every root type', async () => {
    const veil = await createVeilgraph({ typeDefs: JOURNAL, services: allServices(), types: { Journal: { owners, reseal } }, dataDir: join(scratch(), 'data'), logSink: () => undefined });
    try {
      for (const root of [veil.schema.getQueryType(), veil.schema.getMutationType(), veil.schema.getSubscriptionType()]) expect(Object.keys(root!.getFields())).toContain('_veilgraph');
      expect(veil.manifest.objects.Journal?.fields.mood?.level).toBe('SERVER');
    } finally {
      await veil.close();
    }
  });
});

describe('veilgraph/privacy', () => {
  it('does not export the directive definitions (PRIVACY_SDL): only createVeilgraph and codegen add them', () => {
    expect(Object.keys(privacyEntry)).not.toContain('PRIVACY_SDL');
  });
});

describe('the Apollo Server plugin', () => {
  let veil: Veilgraph;
  const saved: string[] = [];

  beforeAll(async () => {
    // The author's own sign-in: `x-user` names the viewer (a test stands in for a session).
    veil = await createVeilgraph({
      typeDefs: DIARY,
      resolvers: {
        Query: { diary: (_: unknown, args: { id: string }) => ({ id: args.id, authorId: 'alice', title: 't', secret: 'not-sealed-at-all' }) },
        Mutation: {
          saveDiary: (_: unknown, args: { input: { id: string; title: string } }) => {
            saved.push(args.input.id);
            return { ...args.input, authorId: 'alice' };
          },
        },
      },
      types: { Diary: { owners } },
      authenticate: async (req) => {
        // Over WebSocket, an `authorization` string in connection_init stands in for the header.
        const headers = req.headers as Record<string, string | undefined>;
        const user = headers['x-user'] ?? headers.authorization;
        if (user === 'expired') throw new VeilgraphError('UNAUTHENTICATED', 'session expired');
        if (user === 'broken') throw new Error('database unreachable at db.internal:5432');
        return user ? { id: user } : null;
      },
      limits: { maxTokens: 200 },
      dataDir: join(scratch(), 'data'),
      logSink: () => undefined,
    });
  });

  afterAll(async () => {
    await veil?.close();
  });

  it('refuses to start on a schema that is not veil.schema (the annotated source, or one built without veilgraph)', async () => {
    const foreign = makeExecutableSchema({ typeDefs: [PRIVACY_SDL, 'type Query { _veilgraph: Int }', 'type Mutation { _veilgraph: Int }', DIARY] });
    for (const schema of [veil.sourceSchema, foreign]) {
      const server = new ApolloServer({ schema, plugins: [veil.apolloPlugin()] });
      await expect(server.start()).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('schema: veil.schema') });
    }
  });

  /** A standalone Apollo Server on loopback; `recipe`: the full recipe, else the plugin alone. */
  async function serve(recipe: boolean, context: (req: Parameters<Veilgraph['context']>[0]) => Promise<object>) {
    const server = new ApolloServer<object>({
      schema: veil.schema,
      plugins: [veil.apolloPlugin()],
      ...(recipe ? { parseOptions: veil.parseOptions, validationRules: [...veil.validationRules], formatError: veil.formatError } : {}),
    });
    const { url } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' }, context: ({ req }) => context(req) });
    const post = async (query: string, headers: Record<string, string> = {}) => {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query }) });
      return { status: res.status, body: (await res.json()) as { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] } };
    };
    return { post, stop: () => server.stop() };
  }

  const tooManyTokens = `{ ${Array.from({ length: 120 }, (_, i) => `a${i}: _veilgraph { protocol }`).join(' ')} }`;
  const plaintextLiteral = 'mutation { saveDiary(input: { id: "d9", title: "t", secret: "my plaintext secret" }) { id } }';

  for (const recipe of [true, false]) {
    it(`enforces the token limit and the sealed-literal check ${recipe ? 'with the full recipe' : 'with only the plugin (no parseOptions, validationRules or formatError)'}`, async () => {
      const s = await serve(recipe, (req) => veil.context(req));
      try {
        const ok = await s.post('{ _veilgraph { protocol enforced } }');
        expect(ok.body).toEqual({ data: { _veilgraph: { protocol: 1, enforced: true } } });

        const tokens = await s.post(tooManyTokens);
        expect(tokens.status).toBe(400);
        expect(tokens.body.errors?.map((e) => e.extensions?.code)).toEqual(['QUERY_TOO_COMPLEX']);
        expect(tokens.body.errors?.[0]?.message).toBe('the document has more than 200 tokens');

        const sealed = await s.post(plaintextLiteral, { 'x-user': 'alice' });
        expect(sealed.status).toBe(400);
        expect(sealed.body.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_SEALED_VALUE']);
        expect(JSON.stringify(sealed.body)).not.toContain('my plaintext secret');
        expect(saved).toEqual([]);
      } finally {
        await s.stop();
      }
    });
  }

  it("authenticate: a VeilgraphError refuses the whole request (401, its code); any other throw is an internal error, never an anonymous request", async () => {
    const s = await serve(true, (req) => veil.context(req));
    try {
      const refused = await s.post('{ _veilgraph { protocol } }', { 'x-user': 'expired' });
      expect(refused.status).toBe(401);
      expect(refused.body.errors?.map((e) => [e.extensions?.code, e.message])).toEqual([['UNAUTHENTICATED', 'session expired']]);
      const broken = await s.post('{ _veilgraph { protocol } }', { 'x-user': 'broken' });
      expect(broken.status).toBe(500);
      expect(broken.body.data).toBeUndefined();
    } finally {
      await s.stop();
    }
  });

  it('graphql-ws with veil.graphqlWsOptions(): authenticate at connection_init (4403 when it refuses), events enforced and formatted', async () => {
    const http = createServer();
    const wss = new WebSocketServer({ server: http, path: '/graphql' });
    const stop = useServer(veil.graphqlWsOptions(), wss);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}/graphql`;
    try {
      const s = await openRawSocket(url, { authorization: 'alice' });
      const first = await s.subscribe('v', 'subscription { _veilgraph { protocol enforced } }');
      expect(first).toMatchObject({ type: 'next', payload: { data: { _veilgraph: { protocol: 1, enforced: true } } } });
      // Only subscriptions here; over the limits, refused as over HTTP.
      const query = await s.subscribe('q', 'query { diary(id: "d1") { id } }');
      expect(wsCodes(query)).toEqual(['BAD_USER_INPUT']);
      const tokens = await s.subscribe('t', `subscription { ${Array.from({ length: 120 }, (_, i) => `a${i}: _veilgraph { protocol }`).join(' ')} }`);
      expect(wsCodes(tokens)).toEqual(['QUERY_TOO_COMPLEX']);
      s.close();
      // The author's authenticate refuses this connection: closed with 4403.
      const refused = new WebSocket(url, 'graphql-transport-ws');
      const closed = new Promise<number>((resolve) => refused.on('close', (code) => resolve(code)));
      refused.on('open', () => refused.send(JSON.stringify({ type: 'connection_init', payload: { authorization: 'expired' } })));
      expect(await closed).toBe(4403);
    } finally {
      await stop.dispose();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });

  it('a context that is not veilgraph\'s gets no protected value: an error on the field, never the stored value', async () => {
    const s = await serve(true, async () => ({ viewer: { id: 'alice' } }) satisfies Partial<VeilContext>);
    try {
      const r = await s.post('{ diary(id: "d1") { id title secret } }');
      expect(r.body.errors?.[0]?.message).toContain("context is not veilgraph's");
      expect(JSON.stringify(r.body)).not.toContain('not-sealed-at-all');
    } finally {
      await s.stop();
    }
  });
});
