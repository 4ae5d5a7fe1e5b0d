// What a schema author's server gets from veilgraph even when its own code is careless,
// through a real Apollo Server on loopback with the author's own sign-in (`x-user`):
// - veil.write checks the owner a resolver names instead of trusting it: an object that
//   exists belongs to whom its TypeAdapter says, a new one to the viewer who makes it; and
//   the object is checked whatever the input holds (empty, or only the resolver's own fields);
// - veil.forget (before a delete) refuses anyone but the owner;
// - `production: true` refuses introspection whatever Apollo's NODE_ENV default says.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVeilgraph, requireViewer, type VeilContext, type Veilgraph } from '../../src/server/index.js';

const SDL = /* GraphQL */ `
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
  "Only the resolver's own fields: none of them is a field of Diary."
  input DiaryTouch @writes(type: "Diary") {
    pinned: Boolean
  }
  extend type Query {
    diary(id: ID!): Diary
  }
  extend type Mutation {
    "Careless: the viewer is named as the owner of whatever is saved."
    saveDiary(input: DiaryInput!): Diary!
    "Careless: the owner comes from an argument."
    saveDiaryFor(authorId: ID!, input: DiaryInput!): Diary!
    "Relies on veil.write alone to refuse strangers, with an input of the resolver's own fields."
    touchDiary(id: ID!, touch: DiaryTouch!): Diary!
    "Relies on veil.forget alone to refuse strangers."
    deleteDiary(id: ID!): ID!
  }
`;

type Row = { id: string; authorId: string; title: string; secret?: string | null };
const rows = new Map<string, Row>();
const dir = mkdtempSync(join(tmpdir(), 'veilgraph-write-owner-'));
let veil: Veilgraph;
let server: ApolloServer<VeilContext>;
let url: string;

async function save(ctx: VeilContext, authorId: string, input: Row): Promise<Row> {
  const columns = await ctx.veil.write(ctx, 'DiaryInput', input, { ownerId: authorId, objectId: input.id });
  const row = { ...rows.get(input.id), ...columns, id: input.id, authorId } as Row;
  rows.set(row.id, row);
  return row;
}

beforeAll(async () => {
  veil = await createVeilgraph({
    typeDefs: SDL,
    resolvers: {
      Query: { diary: (_: unknown, a: { id: string }) => rows.get(a.id) ?? null },
      Mutation: {
        saveDiary: (_: unknown, a: { input: Row }, ctx: VeilContext) => save(ctx, requireViewer(ctx).id, a.input),
        saveDiaryFor: (_: unknown, a: { authorId: string; input: Row }, ctx: VeilContext) => save(ctx, a.authorId, a.input),
        deleteDiary: async (_: unknown, a: { id: string }, ctx: VeilContext) => {
          await ctx.veil.forget(ctx, 'Diary', [a.id]);
          rows.delete(a.id);
          return a.id;
        },
        touchDiary: async (_: unknown, a: { id: string; touch: { pinned?: boolean } }, ctx: VeilContext) => {
          const row = rows.get(a.id)!;
          await ctx.veil.write(ctx, 'DiaryTouch', a.touch, { ownerId: row.authorId, objectId: row.id }, null);
          const touched = { ...row, pinned: a.touch.pinned ?? null } as Row;
          rows.set(row.id, touched);
          return touched;
        },
      },
    },
    types: { Diary: { owners: async (ids) => new Map(ids.flatMap((id) => (rows.has(id) ? [[id, rows.get(id)!.authorId] as const] : []))) } },
    authenticate: async (req) => {
      const user = (req.headers as Record<string, string | undefined>)['x-user'];
      return user ? { id: user } : null;
    },
    dataDir: join(dir, 'data'),
    logSink: () => undefined,
  });
  server = new ApolloServer<VeilContext>({ schema: veil.schema, plugins: [veil.apolloPlugin()] });
  ({ url } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' }, context: ({ req }) => veil.context(req) }));
});

afterAll(async () => {
  await server?.stop();
  await veil?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function post(user: string, query: string, variables: Record<string, unknown>) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': user }, body: JSON.stringify({ query, variables }) });
  return (await res.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] };
}

const SAVE = 'mutation S($i: DiaryInput!) { saveDiary(input: $i) { id authorId title } }';
const SAVE_FOR = 'mutation S($a: ID!, $i: DiaryInput!) { saveDiaryFor(authorId: $a, input: $i) { id authorId title } }';

describe('veil.write and the owner a resolver names', () => {
  it("refuses a stranger's write of an existing object the resolver called theirs; the row is unchanged", async () => {
    expect((await post('alice', SAVE, { i: { id: 'diary-of-alice-0001', title: 'mine' } })).errors).toBeUndefined();
    const before = structuredClone(rows.get('diary-of-alice-0001'));
    const r = await post('eve', SAVE, { i: { id: 'diary-of-alice-0001', title: 'taken over' } });
    expect(r.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    expect(rows.get('diary-of-alice-0001')).toEqual(before);
  });

  it('refuses to make a new object for someone else, and an existing one named with the wrong owner', async () => {
    const r = await post('eve', SAVE_FOR, { a: 'alice', i: { id: 'diary-planted-0001', title: 'planted' } });
    expect(r.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    expect(rows.has('diary-planted-0001')).toBe(false);
    const wrong = await post('alice', SAVE_FOR, { a: 'eve', i: { id: 'diary-of-alice-0001', title: 'moved' } });
    expect(wrong.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    expect(rows.get('diary-of-alice-0001')?.title).toBe('mine');
  });

  it("refuses a stranger's write whose input holds no field of the type (empty, or the resolver's own fields)", async () => {
    const TOUCH = 'mutation T($id: ID!, $t: DiaryTouch!) { touchDiary(id: $id, touch: $t) { id } }';
    const before = structuredClone(rows.get('diary-of-alice-0001'));
    for (const t of [{}, { pinned: true }]) {
      const r = await post('eve', TOUCH, { id: 'diary-of-alice-0001', t });
      expect(r.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    }
    expect(rows.get('diary-of-alice-0001')).toEqual(before);
    expect((await post('alice', TOUCH, { id: 'diary-of-alice-0001', t: { pinned: true } })).errors).toBeUndefined();
  });

  it("veil.forget refuses anyone but the owner (FORBIDDEN), and the row stays", async () => {
    const DELETE = 'mutation D($id: ID!) { deleteDiary(id: $id) }';
    const r = await post('eve', DELETE, { id: 'diary-of-alice-0001' });
    expect(r.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    expect(rows.has('diary-of-alice-0001')).toBe(true);
  });

  it('lets the owner write their own object, new or existing', async () => {
    expect((await post('alice', SAVE_FOR, { a: 'alice', i: { id: 'diary-of-alice-0001', title: 'edited' } })).errors).toBeUndefined();
    expect((await post('alice', SAVE_FOR, { a: 'alice', i: { id: 'diary-of-alice-0002', title: 'second' } })).errors).toBeUndefined();
    expect(rows.get('diary-of-alice-0001')?.title).toBe('edited');
    expect(rows.get('diary-of-alice-0002')?.authorId).toBe('alice');
  });
});

describe("createVeilgraph({ production: true }) on Apollo Server wired as docs/server.md says", () => {
  it('refuses introspection whatever NODE_ENV says (Apollo would answer it outside NODE_ENV=production)', async () => {
    const prod = await createVeilgraph({
      typeDefs: SDL,
      types: { Diary: { owners: async () => new Map() } },
      authenticate: async () => null,
      production: true,
      dataDir: join(dir, 'prod'),
      logSink: () => undefined,
    });
    const apollo = new ApolloServer<VeilContext>({ schema: prod.schema, parseOptions: prod.parseOptions, validationRules: [...prod.validationRules], formatError: prod.formatError, plugins: [prod.apolloPlugin()] });
    const { url: at } = await startStandaloneServer(apollo, { listen: { port: 0, host: '127.0.0.1' }, context: ({ req }) => prod.context(req) });
    try {
      expect(process.env.NODE_ENV).not.toBe('production');
      for (const query of ['{ __schema { types { name } } }', '{ __type(name: "Diary") { fields { name } } }']) {
        const res = await fetch(at, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
        const body = (await res.json()) as { data?: unknown; errors?: { extensions?: Record<string, unknown> }[] };
        expect(res.status).toBe(400);
        expect(body.data).toBeUndefined();
        expect(body.errors?.map((e) => [e.extensions?.code, e.extensions?.validationErrorCode])).toEqual([['GRAPHQL_VALIDATION_FAILED', 'INTROSPECTION_DISABLED']]);
      }
      const ok = await fetch(at, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ _veilgraph { protocol } }' }) });
      expect(await ok.json()).toEqual({ data: { _veilgraph: { protocol: 1 } } });
    } finally {
      await apollo.stop();
      await prod.close();
    }
  });
});
