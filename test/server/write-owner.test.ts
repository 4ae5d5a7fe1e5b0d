// veil.write checks the owner a resolver names instead of trusting it: an object that exists
// belongs to whom its TypeAdapter says, and a new object to the viewer who makes it. A
// careless resolver (here: one that names the viewer as the owner of whatever it saves, or
// takes the owner from an argument) then cannot let a stranger write someone else's object.
// Through a real Apollo Server on loopback, with the author's own sign-in (`x-user`).
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
  extend type Query {
    diary(id: ID!): Diary
  }
  extend type Mutation {
    "Careless: the viewer is named as the owner of whatever is saved."
    saveDiary(input: DiaryInput!): Diary!
    "Careless: the owner comes from an argument."
    saveDiaryFor(authorId: ID!, input: DiaryInput!): Diary!
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

  it('lets the owner write their own object, new or existing', async () => {
    expect((await post('alice', SAVE_FOR, { a: 'alice', i: { id: 'diary-of-alice-0001', title: 'edited' } })).errors).toBeUndefined();
    expect((await post('alice', SAVE_FOR, { a: 'alice', i: { id: 'diary-of-alice-0002', title: 'second' } })).errors).toBeUndefined();
    expect(rows.get('diary-of-alice-0001')?.title).toBe('edited');
    expect(rows.get('diary-of-alice-0002')?.authorId).toBe('alice');
  });
});
