// veil.envelopPlugin() on a real GraphQL Yoga 5 server (node:http on loopback), with
// graphql-ws `useServer(veil.graphqlWsOptions())` on the same HTTP server: the cases
// test/server/create.test.ts runs for the Apollo plugin. Each protection is shown twice: the
// same Yoga on veil.schema without the plugin lets the request through (what the plugin
// adds), with the plugin it is refused with its code and status.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { createYoga, useExtendContext, type Plugin, type YogaServerOptions } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { PRIVACY_SDL } from '../../../src/privacy/sdl.js';
import { createVeilgraph, VeilgraphError, type VeilRequest, type Veilgraph, type VeilgraphOptions } from '../../../src/server/index.js';
import { openRawSocket, wsCodes } from '../../helpers/ws.js';

/** A PRIVATE-only type (an adapter with owners, no reseal, no sharing()), and a resolver that fails. */
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
    failing: String
  }
  extend type Mutation {
    saveDiary(input: DiaryInput!): Diary!
  }
`;

const STORED_SECRET = 'not-sealed-at-all';
const INTERNAL_DETAIL = 'database unreachable at db.internal:5432';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The request's `x-user` header, or (over WebSocket) the connection_init `authorization` string. */
function userOf(req: VeilRequest): string | undefined {
  // Yoga's request headers are a Fetch Headers (its own implementation, not the global class).
  const h = req.headers as Headers | Record<string, string | undefined>;
  if (typeof h.get === 'function') return (h as Headers).get('x-user') ?? undefined;
  const record = h as Record<string, string | undefined>;
  return record['x-user'] ?? record.authorization;
}

async function veilgraph(saved: string[], options: Partial<VeilgraphOptions> = {}): Promise<Veilgraph> {
  const dataDir = mkdtempSync(join(tmpdir(), 'veilgraph-envelop-'));
  dirs.push(dataDir);
  return createVeilgraph({
    typeDefs: DIARY,
    resolvers: {
      Query: {
        diary: (_: unknown, args: { id: string }) => ({ id: args.id, authorId: 'alice', title: 't', secret: STORED_SECRET }),
        failing: () => {
          throw new Error(INTERNAL_DETAIL);
        },
      },
      Mutation: {
        saveDiary: (_: unknown, args: { input: { id: string; title: string } }) => {
          saved.push(args.input.id);
          return { ...args.input, authorId: 'alice' };
        },
      },
    },
    types: { Diary: { owners: async (ids) => new Map(ids.map((id) => [id, 'alice'])) } },
    // The author's own sign-in: `x-user` names the viewer (a test stands in for a session).
    authenticate: async (req) => {
      const user = userOf(req);
      if (user === 'expired') throw new VeilgraphError('UNAUTHENTICATED', 'session expired');
      if (user === 'broken') throw new Error(INTERNAL_DETAIL);
      return user ? { id: user } : null;
    },
    limits: { maxTokens: 200 },
    dataDir,
    logSink: () => undefined,
    ...options,
  });
}

interface Answer {
  readonly status: number;
  readonly body: { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}

interface YogaOnLoopback {
  readonly url: string;
  post(query: string, headers?: Record<string, string>): Promise<Answer>;
  get(query: string, headers?: Record<string, string>): Promise<Answer>;
  close(): Promise<void>;
}

/** Yoga on node:http (loopback, a free port), graphql-ws on the same server and path. */
async function serve(veil: Veilgraph, options: YogaServerOptions<object, object>): Promise<YogaOnLoopback> {
  const yoga = createYoga({ logging: false, graphiql: false, landingPage: false, ...options });
  const http: Server = createServer(yoga.requestListener);
  const wss = new WebSocketServer({ server: http, path: yoga.graphqlEndpoint });
  const ws = useServer(veil.graphqlWsOptions(), wss);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}${yoga.graphqlEndpoint}`;
  const answer = async (res: Response): Promise<Answer> => ({ status: res.status, body: (await res.json()) as Answer['body'] });
  return {
    url,
    post: async (query, headers = {}) => answer(await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query }) })),
    get: async (query, headers = {}) => answer(await fetch(`${url}?query=${encodeURIComponent(query)}`, { headers: { accept: 'application/json', ...headers } })),
    async close() {
      await ws.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

const codes = (a: Answer): unknown[] => a.body.errors?.map((e) => e.extensions?.code) ?? [];
const tooManyTokens = `{ ${Array.from({ length: 120 }, (_, i) => `a${i}: _veilgraph { protocol }`).join(' ')} }`;
const plaintextLiteral = 'mutation { saveDiary(input: { id: "d9", title: "t", secret: "my plaintext secret" }) { id } }';

describe('veil.envelopPlugin() on GraphQL Yoga', () => {
  const saved: string[] = [];
  let veil: Veilgraph;
  let withPlugin: YogaOnLoopback;
  let withoutPlugin: YogaOnLoopback;

  beforeAll(async () => {
    veil = await veilgraph(saved);
    withPlugin = await serve(veil, { schema: veil.schema, plugins: [veil.envelopPlugin()] });
    // The same server on veil.schema, without the plugin: what the schema alone does not stop.
    withoutPlugin = await serve(veil, { schema: veil.schema, context: ({ request }) => veil.context({ headers: request.headers }) });
  });

  afterAll(async () => {
    await withPlugin?.close();
    await withoutPlugin?.close();
    await veil?.close();
  });

  it('refuses to start on a schema that is not veil.schema (the annotated source, one built without veilgraph, one a later plugin sets)', () => {
    const foreign = makeExecutableSchema({ typeDefs: [PRIVACY_SDL, 'type Query { _veilgraph: Int }', 'type Mutation { _veilgraph: Int }', DIARY] });
    for (const schema of [veil.sourceSchema, foreign]) {
      expect(() => createYoga({ schema, plugins: [veil.envelopPlugin()], logging: false })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('schema: veil.schema') }));
    }
    const replacer: Plugin = { onPluginInit: ({ setSchema }) => setSchema(foreign) };
    expect(() => createYoga({ plugins: [veil.envelopPlugin(), replacer], logging: false })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('with no schema given, serves veil.schema', async () => {
    const s = await serve(veil, { plugins: [veil.envelopPlugin()] });
    try {
      expect((await s.post('{ _veilgraph { protocol enforced } }')).body).toEqual({ data: { _veilgraph: { protocol: 1, enforced: true } } });
    } finally {
      await s.close();
    }
  });

  it('enforces the token limit (400 QUERY_TOO_COMPLEX) and refuses a sealed literal (400 BAD_SEALED_VALUE, nothing written); without the plugin both run', async () => {
    const ok = await withPlugin.post('{ _veilgraph { protocol enforced } }');
    expect(ok).toEqual({ status: 200, body: { data: { _veilgraph: { protocol: 1, enforced: true } } } });

    const tokens = await withPlugin.post(tooManyTokens);
    expect(tokens.status).toBe(400);
    expect(codes(tokens)).toEqual(['QUERY_TOO_COMPLEX']);
    expect(tokens.body.errors?.[0]?.message).toBe('the document has more than 200 tokens');
    expect(tokens.body.data).toBeUndefined();

    const sealed = await withPlugin.post(plaintextLiteral, { 'x-user': 'alice' });
    expect(sealed.status).toBe(400);
    expect(codes(sealed)).toEqual(['BAD_SEALED_VALUE']);
    expect(JSON.stringify(sealed.body)).not.toContain('my plaintext secret');
    expect(saved).toEqual([]);

    // Yoga on veil.schema alone: the over-long document runs, the plaintext is "saved".
    expect((await withoutPlugin.post(tooManyTokens)).status).toBe(200);
    expect((await withoutPlugin.post(plaintextLiteral, { 'x-user': 'alice' })).body).toEqual({ data: { saveDiary: { id: 'd9' } } });
    expect(saved).toEqual(['d9']);
    saved.length = 0;
  });

  it('a document that does not parse or validate is 400 with its code, whatever the accept header', async () => {
    for (const accept of ['application/graphql-response+json', 'application/json']) {
      const broken = await withPlugin.post('{ _veilgraph {', { accept });
      expect([broken.status, codes(broken)]).toEqual([400, ['GRAPHQL_PARSE_FAILED']]);
      const unknown = await withPlugin.post('{ nope }', { accept });
      expect([unknown.status, codes(unknown)]).toEqual([400, ['GRAPHQL_VALIDATION_FAILED']]);
    }
  });

  it("Yoga's own refusals keep their 4xx and get our codes (a body that is not JSON, no query, the body limit), whatever the accept header", async () => {
    const small = await serve(veil, { schema: veil.schema, plugins: [veil.envelopPlugin()], maxRequestBodySize: 1000 });
    const send = async (body: string, accept?: string): Promise<[number, unknown[]]> => {
      const res = await fetch(small.url, { method: 'POST', headers: { 'content-type': 'application/json', ...(accept ? { accept } : {}) }, body });
      const json = (await res.json()) as Answer['body'];
      return [res.status, json.errors?.map((e) => e.extensions?.code) ?? []];
    };
    try {
      for (const accept of [undefined, 'application/json']) {
        expect(await send('{nope', accept)).toEqual([400, ['BAD_REQUEST']]);
        expect(await send('{}', accept)).toEqual([400, ['BAD_REQUEST']]);
        expect(await send(JSON.stringify({ query: '{ _veilgraph { protocol } }', padding: 'a'.repeat(2000) }), accept)).toEqual([413, ['PAYLOAD_TOO_LARGE']]);
      }
    } finally {
      await small.close();
    }
  });

  it('authenticate: a VeilgraphError refuses the whole request (401, its code); any other throw is a 500 without data, never an anonymous request', async () => {
    const refused = await withPlugin.post('{ _veilgraph { protocol } }', { 'x-user': 'expired' });
    expect(refused.status).toBe(401);
    expect(refused.body.errors?.map((e) => [e.extensions?.code, e.message])).toEqual([['UNAUTHENTICATED', 'session expired']]);
    const broken = await withPlugin.post('{ _veilgraph { protocol } }', { 'x-user': 'broken' });
    expect(broken.status).toBe(500);
    expect(codes(broken)).toEqual(['INTERNAL_SERVER_ERROR']);
    expect(broken.body.data).toBeUndefined();
  });

  it("a context that is not veilgraph's gets no protected value: Yoga's own context, or veilgraph's with its viewer replaced by a later plugin", async () => {
    // Without the plugin and with Yoga's own context: an error on the field, never the stored value.
    const bare = await serve(veil, { schema: veil.schema });
    try {
      const r = await bare.post('{ diary(id: "d1") { id title secret } }', { 'x-user': 'alice' });
      expect(r.body.errors?.[0]?.message).toContain("context is not veilgraph's");
      expect(JSON.stringify(r.body)).not.toContain(STORED_SECRET);
    } finally {
      await bare.close();
    }
    // A plugin after veilgraph's that swaps the viewer: refused before anything runs.
    const swapped = await serve(veil, { plugins: [veil.envelopPlugin(), useExtendContext(() => ({ viewer: { id: 'mallory' } }))] });
    try {
      const r = await swapped.post('{ diary(id: "d1") { id title secret } }', { 'x-user': 'alice' });
      expect([r.status, codes(r), r.body.data]).toEqual([500, ['INTERNAL_SERVER_ERROR'], undefined]);
      expect(JSON.stringify(r.body)).not.toContain(STORED_SECRET);
    } finally {
      await swapped.close();
    }
  });

  it('cross-site requests: a GET or a text/plain POST without a preflight header is 400 BAD_REQUEST (Yoga alone runs the GET)', async () => {
    const get = await withPlugin.get('{ _veilgraph { protocol } }');
    expect([get.status, codes(get)]).toEqual([400, ['BAD_REQUEST']]);
    expect(get.body.errors?.[0]?.message).toContain('Cross-Site Request Forgery');
    const form = await fetch(withPlugin.url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ query: '{ _veilgraph { protocol } }' }) });
    expect(form.status).toBe(400);
    expect(await withPlugin.get('{ _veilgraph { protocol } }', { 'apollo-require-preflight': 'true' })).toEqual({ status: 200, body: { data: { _veilgraph: { protocol: 1 } } } });
    expect((await withoutPlugin.get('{ _veilgraph { protocol } }')).status).toBe(200);
  });

  it('graphql-ws beside Yoga with veil.graphqlWsOptions(): authenticate at connection_init (4403 when it refuses), the token limit, events enforced', async () => {
    const wsUrl = withPlugin.url.replace(/^http/, 'ws');
    const s = await openRawSocket(wsUrl, { authorization: 'alice' });
    try {
      const first = await s.subscribe('v', 'subscription { _veilgraph { protocol enforced } }');
      expect(first).toMatchObject({ type: 'next', payload: { data: { _veilgraph: { protocol: 1, enforced: true } } } });
      const tokens = await s.subscribe('t', `subscription { ${Array.from({ length: 120 }, (_, i) => `a${i}: _veilgraph { protocol }`).join(' ')} }`);
      expect(wsCodes(tokens)).toEqual(['QUERY_TOO_COMPLEX']);
    } finally {
      s.close();
    }
    const refused = new WebSocket(wsUrl, 'graphql-transport-ws');
    const closed = new Promise<number>((resolve) => refused.on('close', (code) => resolve(code)));
    refused.on('open', () => refused.send(JSON.stringify({ type: 'connection_init', payload: { authorization: 'expired' } })));
    expect(await closed).toBe(4403);
  });

  it('outside production an internal error keeps its message and gets INTERNAL_SERVER_ERROR', async () => {
    const r = await withPlugin.post('{ failing }', { 'x-user': 'alice' });
    expect(r.body.errors?.map((e) => [e.extensions?.code, e.message])).toEqual([['INTERNAL_SERVER_ERROR', INTERNAL_DETAIL]]);
  });
});

describe('veil.envelopPlugin() in production', () => {
  let veil: Veilgraph;
  let s: YogaOnLoopback;

  beforeAll(async () => {
    veil = await veilgraph([], { production: true });
    // Yoga's own masking off: what production hides, the plugin hides (as the Apollo plugin does).
    s = await serve(veil, { schema: veil.schema, plugins: [veil.envelopPlugin()], maskedErrors: false });
  });

  afterAll(async () => {
    await s?.close();
    await veil?.close();
  });

  it('masks internal errors (message and stack), refuses introspection, suggests no names; codes kept', async () => {
    const failing = await s.post('{ failing }', { 'x-user': 'alice' });
    expect(failing.status).toBe(200);
    expect(failing.body.errors).toEqual([{ message: 'internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }]);
    expect(JSON.stringify(failing.body)).not.toContain('db.internal');

    const broken = await s.post('{ _veilgraph { protocol } }', { 'x-user': 'broken' });
    expect(broken).toEqual({ status: 500, body: { errors: [{ message: 'internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] } });

    const introspection = await s.post('{ __schema { queryType { name } } }');
    expect(introspection.status).toBe(400);
    expect(introspection.body.errors?.[0]?.extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', validationErrorCode: 'INTROSPECTION_DISABLED' });

    const typo = await s.post('{ diaryy(id: "d1") { id } }');
    expect(codes(typo)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(typo.body.errors?.[0]?.message).not.toContain('Did you mean');

    const refused = await s.post('{ _veilgraph { protocol } }', { 'x-user': 'expired' });
    expect([refused.status, codes(refused)]).toEqual([401, ['UNAUTHENTICATED']]);
  });
});
