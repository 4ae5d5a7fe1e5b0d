// Example (a), examples/journal-apollo, as a stranger runs it: its own server (Apollo
// Server 5 on Express, graphql-ws on the same port), its own Prisma model in its own
// SQLite file (the client generated here, offline, as the example's `npm install` does),
// and clients that use only veilgraph's public client entry: sign-up and sign-in, the
// privacy link in front of Apollo Client over HTTP and over WebSocket, the key directory
// and Sharing. Every point of issue 15's "Tests" for an example, plus the per-field
// authorization matrix of its root fields (the shared matrix in
// test/server/authorization-matrix.test.ts runs the reference gateway only).
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { CombinedGraphQLErrors } from '@apollo/client/errors';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import Database from 'better-sqlite3';
import { OperationTypeNode, parse } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import type { Subscription } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  KeyDirectory,
  MemoryKeyStore,
  Sharing,
  createIdentity,
  dataKeyClientKeysFrom,
  graphqlDataKeyTransport,
  graphqlDirectoryTransport,
  graphqlSharingTransport,
  login,
  register,
} from '../../src/client/index.js';
import { createPrivacyLink } from '../../src/client/apollo.js';
import { base64urlEncode } from '../../src/crypto/index.js';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { createVeilgraph, directory, prismaVeilgraph, sharing, signIn } from '../../src/server/index.js';
import { diffSql, generateClient } from '../../src/server/storage/prisma-tool.js';
import { canary } from '../helpers/gateway.js';
import { linkVeilgraph } from '../helpers/examples.js';
import { snapshotTables } from '../helpers/sqlite-snapshot.js';

const backend = nodeBackend;
const FIELDS = 'id authorId title mood place body secret';
const CREATE = parse(`mutation createJournal($input: NewJournal!) { createJournal(input: $input) { ${FIELDS} } }`);
const UPDATE = parse(`mutation updateJournal($id: ID!, $patch: JournalPatch!) { updateJournal(id: $id, patch: $patch) { ${FIELDS} } }`);
const READ = parse(`query journal($id: ID!) { journal(id: $id) { ${FIELDS} } }`);
const BY_MOOD = parse(`query journalsByMood($mood: String!) { journalsByMood(mood: $mood) { id mood } }`);
const SAVED = parse(`subscription journalSaved { journalSaved { ${FIELDS} } }`);

interface JournalOut {
  id: string;
  authorId: string;
  title: string;
  mood: string | null;
  place: string | null;
  body: string | null;
  secret: string | null;
}

// What the example's `npm install` does: link veilgraph (file:../..) and generate its
// Prisma client (postinstall: prisma generate), offline.
const dir = linkVeilgraph('journal-apollo');
const prismaSchema = join(dir, 'prisma/schema.prisma');
generateClient('sqlite', prismaSchema);
const { startJournalServer } = await import('../../examples/journal-apollo/src/server.js');
type ExampleServer = Awaited<ReturnType<typeof startJournalServer>>;

let scratch: string;
let dbFile: string;
let dataDir: string;
let server: ExampleServer;
/** Everything written to stdout/stderr while the example runs (its log, Apollo's, ours). */
const output: string[] = [];
const restoreOutput: (() => void)[] = [];
const sockets: Client[] = [];
/** Every protected plaintext written through a link: none may be in a database file or the output. */
const canaries: string[] = [];

interface Person {
  readonly username: string;
  readonly userId: string;
  readonly token: string;
  readonly sharing: Sharing;
  /** Queries and mutations over HTTP, subscriptions over WebSocket (veilgraph takes only subscriptions there). */
  readonly http: ApolloClient;
  /** Raw frames the WebSocket client received. */
  readonly frames: string[];
}

function capture(stream: NodeJS.WriteStream): void {
  const write = stream.write.bind(stream);
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    output.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof stream.write;
  restoreOutput.push(() => (stream.write = write as typeof stream.write));
}

/** A new user of the example, signed in through veilgraph's public client entry only. */
async function signUp(name: string): Promise<Person> {
  const username = `${name}${base64urlEncode(backend.randomBytes(4)).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`;
  const endpoint = server.url;
  const keystore = new MemoryKeyStore();
  await createIdentity(backend, keystore);
  const { userId } = await register(endpoint, username, keystore, backend);
  const { token } = await login(endpoint, username, keystore, backend);
  const auth = (): string => token;
  const keys = await dataKeyClientKeysFrom(keystore, backend, userId, graphqlDataKeyTransport(endpoint, auth));
  const keyDirectory = new KeyDirectory({ backend, keystore, transport: graphqlDirectoryTransport(endpoint, auth) });
  const privacy = createPrivacyLink({ schema: server.veil.sourceSchema, manifest: server.veil.manifest, keys, backend, directory: keyDirectory, viewerId: () => userId });
  const frames: string[] = [];
  class RecordingWebSocket extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      this.on('message', (data: WebSocket.RawData) => void frames.push(String(data)));
    }
  }
  const socket = createClient({ url: endpoint.replace(/^http/, 'ws'), webSocketImpl: RecordingWebSocket, connectionParams: { authorization: `Bearer ${token}` }, retryAttempts: 0 });
  sockets.push(socket);
  const httpLink = new HttpLink({ uri: endpoint, headers: { authorization: `Bearer ${token}` } });
  const split = ApolloLink.split((op) => op.operationType === OperationTypeNode.SUBSCRIPTION, new GraphQLWsLink(socket), httpLink);
  return {
    username,
    userId,
    token,
    sharing: new Sharing({ backend, userId, keys, directory: keyDirectory, transport: graphqlSharingTransport(endpoint, auth) }),
    http: new ApolloClient({ link: ApolloLink.from([privacy, split]), cache: new InMemoryCache() }),
    frames,
  };
}

function codes(error: unknown): (string | undefined)[] {
  if (error === undefined) return [];
  if (!CombinedGraphQLErrors.is(error)) throw error;
  return error.errors.map((e) => e.extensions?.code as string | undefined);
}

function newId(): string {
  return base64urlEncode(backend.randomBytes(16));
}

/** A journal of `owner` with a canary at every protected level, created through the link (over HTTP). */
async function newJournal(owner: Person, tag: string): Promise<{ id: string; plain: Omit<JournalOut, 'id' | 'authorId'> }> {
  const id = newId();
  const plain = { title: `title ${tag}`, mood: canary(`${tag}-mood`), place: canary(`${tag}-place`), body: canary(`${tag}-body`), secret: canary(`${tag}-secret`) };
  canaries.push(plain.mood, plain.place, plain.body, plain.secret);
  const r = await owner.http.mutate<{ createJournal: JournalOut }>({ mutation: CREATE, variables: { input: { id, ...plain } } });
  expect(r.error).toBeUndefined();
  expect(r.data!.createJournal).toMatchObject({ id, authorId: owner.userId, ...plain });
  return { id, plain };
}

async function read(person: Person, id: string): Promise<{ journal: Omit<JournalOut, '__typename'> | null; codes: (string | undefined)[] }> {
  const r = await person.http.query<{ journal: JournalOut | null }>({ query: READ, variables: { id }, fetchPolicy: 'network-only', errorPolicy: 'all' });
  const journal = r.data?.journal ? (Object.fromEntries(Object.entries(r.data.journal).filter(([k]) => k !== '__typename')) as JournalOut) : null;
  return { journal, codes: codes(r.error) };
}

/** A raw GraphQL request over HTTP, as any client could send it (no link). */
async function raw(query: string, variables: Record<string, unknown>, token?: string): Promise<{ data?: Record<string, unknown> | null; errors?: { extensions?: { code?: string } }[] }> {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as never;
}

function journalRows(): Record<string, string[]> {
  return snapshotTables(dbFile, ['Journal']);
}

async function until(what: string, done: () => boolean | Promise<boolean>, step: () => Promise<unknown> = async () => undefined): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await step();
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  capture(process.stdout);
  capture(process.stderr);
  scratch = mkdtempSync(join(tmpdir(), 'veilgraph-journal-apollo-'));
  dbFile = join(scratch, 'journal.db');
  dataDir = join(scratch, 'veilgraph-data');
  // What `npm start`'s `prisma db push` does: the example's tables in its own file.
  const db = new Database(dbFile);
  db.exec(diffSql('sqlite', null, prismaSchema) ?? '');
  db.close();
  server = await startJournalServer({ port: 0, databaseUrl: `file:${dbFile}`, dataDir });
}, 120_000);

afterAll(async () => {
  await Promise.all(sockets.map((s) => s.dispose()));
  await server?.close();
  for (const restore of restoreOutput) restore();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('example (a): journal-apollo, through its own server', () => {
  let alice: Person;
  let bob: Person;
  let carol: Person;

  beforeAll(async () => {
    [alice, bob, carol] = [await signUp('alice'), await signUp('bob'), await signUp('carol')];
  }, 60_000);

  it('the owner writes and reads all four levels in plaintext through the link (over HTTP; WebSocket: the subscription below)', async () => {
    const { id, plain } = await newJournal(alice, 'owner');
    expect(await read(alice, id)).toEqual({ journal: { id, authorId: alice.userId, ...plain }, codes: [] });
    // The database row: PUBLIC in clear, SERVER sealed (with a blind index), SHARED/PRIVATE envelopes.
    const db = new Database(dbFile, { readonly: true });
    const row = db.prepare<[string], Record<string, unknown>>('SELECT * FROM "Journal" WHERE id = ?').get(id)!;
    db.close();
    expect(row).toMatchObject({ authorId: alice.userId, title: plain.title, serverKeyVersion: 1, body: expect.stringMatching(/./), secret: expect.stringMatching(/./) });
    expect(Object.keys(row)).not.toContain('mood');
    expect(row.serverSealed).toBeInstanceOf(Buffer);
    expect(String(row.body)).not.toContain(plain.body);
    expect(String(row.secret)).not.toContain(plain.secret);
  });

  it('a stranger gets the PUBLIC title and FORBIDDEN on SERVER, SHARED and PRIVATE fields (over WebSocket: no event, below)', async () => {
    const j = await newJournal(alice, 'stranger');
    expect(await read(bob, j.id)).toEqual({
      journal: { id: j.id, authorId: alice.userId, title: j.plain.title, mood: null, place: null, body: null, secret: null },
      codes: ['FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN'],
    });
  });

  it('plaintext in a sealed field (a raw request without the link) is BAD_SEALED_VALUE, and nothing is written', async () => {
    const j = await newJournal(alice, 'raw');
    const before = journalRows();
    const veilBefore = snapshotTables(dataDir, ['ObjectKey', 'Grant']);
    const leak = canary('raw-plaintext');
    canaries.push(leak);
    const create = await raw('mutation C($i: NewJournal!) { createJournal(input: $i) { id } }', { i: { id: newId(), title: 't', body: leak } }, alice.token);
    expect(create.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_SEALED_VALUE']);
    const update = await raw('mutation U($id: ID!, $p: JournalPatch!) { updateJournal(id: $id, patch: $p) { id } }', { id: j.id, p: { secret: leak } }, alice.token);
    expect(update.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_SEALED_VALUE']);
    // An envelope sealed for another journal is refused the same way.
    const other = await newJournal(alice, 'raw-other');
    const elsewhere = (await raw('query R($id: ID!) { journal(id: $id) { secret } }', { id: other.id }, alice.token)).data as { journal: { secret: string } };
    const moved = await raw('mutation U($id: ID!, $p: JournalPatch!) { updateJournal(id: $id, patch: $p) { id } }', { id: j.id, p: { secret: elsewhere.journal.secret } }, alice.token);
    expect(moved.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_SEALED_VALUE']);
    const after = journalRows();
    expect(Object.fromEntries(Object.entries(after).map(([t, rows]) => [t, rows.filter((r) => !r.includes(other.id))]))).toEqual(before);
    expect(snapshotTables(dataDir, ['ObjectKey', 'Grant']).Grant).toEqual(veilBefore.Grant);
    expect(snapshotTables(dataDir, ['ObjectKey', 'Grant']).ObjectKey!.filter((r) => !r.includes(other.id))).toEqual(veilBefore.ObjectKey);
  });

  it('a search by the searchable SERVER field (its blind index) finds the row, only among the viewer\'s own', async () => {
    const j = await newJournal(alice, 'search');
    const found = await alice.http.query<{ journalsByMood: { id: string; mood: string }[] }>({ query: BY_MOOD, variables: { mood: j.plain.mood }, fetchPolicy: 'network-only' });
    expect(found.data!.journalsByMood.map((x) => ({ id: x.id, mood: x.mood }))).toEqual([{ id: j.id, mood: j.plain.mood }]);
    const none = await bob.http.query<{ journalsByMood: unknown[] }>({ query: BY_MOOD, variables: { mood: j.plain.mood }, fetchPolicy: 'network-only' });
    expect(none.data!.journalsByMood).toEqual([]);
    const other = await alice.http.query<{ journalsByMood: unknown[] }>({ query: BY_MOOD, variables: { mood: `${j.plain.mood}x` }, fetchPolicy: 'network-only' });
    expect(other.data!.journalsByMood).toEqual([]);
  });

  it('a grant lets the grantee read the SHARED and SERVER fields (not PRIVATE), and a revoke stops it', async () => {
    const j = await newJournal(alice, 'grant');
    await alice.sharing.grant('Journal', j.id, carol.username, 'READ');
    expect(await read(carol, j.id)).toEqual({ journal: { id: j.id, authorId: alice.userId, ...j.plain, secret: null }, codes: ['FORBIDDEN'] });
    const body = canary('after-revoke-body');
    canaries.push(body);
    await alice.sharing.revoke('Journal', j.id, carol.username, {
      // The SHARED field re-sealed under the new data key (carol never held it).
      reseal: async () => void expect((await alice.http.mutate({ mutation: UPDATE, variables: { id: j.id, patch: { body } } })).error).toBeUndefined(),
    });
    expect(await read(carol, j.id)).toEqual({ journal: { id: j.id, authorId: alice.userId, title: j.plain.title, mood: null, place: null, body: null, secret: null }, codes: ['FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN'] });
    expect((await read(alice, j.id)).journal).toMatchObject({ body });
  });

  it("a subscription over graphql-ws delivers the owner's saves, opened by the link (envelopes on the wire); a stranger's gets none of them", async () => {
    const events: { alice: JournalOut[]; bob: JournalOut[] } = { alice: [], bob: [] };
    const subs: Subscription[] = [];
    try {
      for (const [name, p] of [['alice', alice], ['bob', bob]] as const) {
        subs.push(
          p.http.subscribe<{ journalSaved: JournalOut }>({ query: SAVED }).subscribe((r) => {
            expect(r.error).toBeUndefined();
            events[name].push(r.data!.journalSaved);
          }),
        );
      }
      // graphql-ws does not acknowledge a subscribe: save until each sees its own save.
      const mine = { alice: await newJournal(alice, 'sub-warm-a'), bob: await newJournal(bob, 'sub-warm-b') };
      await until('alice subscribed', () => events.alice.length > 0, () => alice.http.mutate({ mutation: UPDATE, variables: { id: mine.alice.id, patch: { title: 'again' } } }));
      await until('bob subscribed', () => events.bob.length > 0, () => bob.http.mutate({ mutation: UPDATE, variables: { id: mine.bob.id, patch: { title: 'again' } } }));

      const j = await newJournal(alice, 'sub');
      const place = canary('sub-place');
      const secret = canary('sub-secret');
      canaries.push(place, secret);
      const u = await alice.http.mutate({ mutation: UPDATE, variables: { id: j.id, patch: { place, secret } } });
      expect(u.error).toBeUndefined();
      await until("alice's event", () => events.alice.some((e) => e.id === j.id && e.secret === secret));
      const event = events.alice.find((e) => e.id === j.id && e.secret === secret)!;
      expect(event).toMatchObject({ id: j.id, authorId: alice.userId, title: j.plain.title, mood: j.plain.mood, place, body: j.plain.body, secret });
      const wire = alice.frames.join('\n');
      expect(wire).toContain('"type":"next"');
      expect(wire).not.toContain(j.plain.body);
      expect(wire).not.toContain(secret);

      // Bob saves after Alice: his event comes after any of hers would have. None of hers came.
      const marker = await newJournal(bob, 'sub-marker');
      await until("bob's marker event", () => events.bob.some((e) => e.id === marker.id));
      expect(events.bob.every((e) => e.authorId === bob.userId)).toBe(true);
      expect(bob.frames.join('\n')).not.toContain(j.id);
    } finally {
      for (const s of subs) s.unsubscribe();
    }
  });

  it('the authorization matrix of every root field: anonymous, stranger, READ grantee, owner', async () => {
    const j = await newJournal(alice, 'matrix');
    await alice.sharing.grant('Journal', j.id, carol.username, 'READ');
    const who = { anonymous: undefined, stranger: bob.token, grantee: carol.token, owner: alice.token } as const;
    const fields = ['title', 'mood', 'place', 'body', 'secret'] as const;
    const readable = { anonymous: ['title'], stranger: ['title'], grantee: ['title', 'mood', 'place', 'body'], owner: [...fields] };
    for (const [name, token] of Object.entries(who) as [keyof typeof who, string | undefined][]) {
      // Query.journal: per field.
      const r = await raw('query R($id: ID!) { journal(id: $id) { id title mood place body secret } }', { id: j.id }, token);
      const data = (r.data as { journal: Record<string, unknown> }).journal;
      for (const f of fields) expect(data[f] !== null, `${name} reads Journal.${f}`).toBe(readable[name].includes(f));
      expect((r.errors ?? []).map((e) => e.extensions?.code), name).toEqual(fields.filter((f) => !readable[name].includes(f)).map(() => 'FORBIDDEN'));
      // Query.myJournals, Query.journalsByMood: the viewer's own only; anonymous refused.
      const mine = await raw('{ myJournals { id } }', {}, token);
      const byMood = await raw('query M($m: String!) { journalsByMood(mood: $m) { id } }', { m: j.plain.mood }, token);
      if (name === 'anonymous') {
        expect(mine.errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
        expect(byMood.errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
      } else {
        expect(((mine.data as { myJournals: { id: string }[] }).myJournals.some((x) => x.id === j.id)), name).toBe(name === 'owner');
        expect(((byMood.data as { journalsByMood: { id: string }[] }).journalsByMood.map((x) => x.id)), name).toEqual(name === 'owner' ? [j.id] : []);
      }
      // Mutation.updateJournal (PUBLIC and SERVER values) and Mutation.deleteJournal: the owner's (a READ grant writes nothing).
      const before = journalRows();
      const upd = await raw('mutation U($id: ID!, $p: JournalPatch!) { updateJournal(id: $id, patch: $p) { id } }', { id: j.id, p: { title: `by ${name}`, mood: 'overwritten' } }, token);
      const del = name === 'owner' ? null : await raw('mutation D($id: ID!) { deleteJournal(id: $id) }', { id: j.id }, token);
      const refusal = name === 'anonymous' ? 'UNAUTHENTICATED' : 'FORBIDDEN';
      if (name === 'owner') {
        expect(upd.errors).toBeUndefined();
      } else {
        expect(upd.errors?.map((e) => e.extensions?.code), name).toEqual([refusal]);
        expect(del!.errors?.map((e) => e.extensions?.code), name).toEqual([refusal]);
        expect(journalRows(), name).toEqual(before);
      }
      // Mutation.createJournal: anyone signed in, as the author.
      const created = await raw('mutation C($i: NewJournal!) { createJournal(input: $i) { authorId } }', { i: { id: newId(), title: 'mine' } }, token);
      if (name === 'anonymous') expect(created.errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
      else expect(created.data).toEqual({ createJournal: { authorId: { stranger: bob, grantee: carol, owner: alice }[name].userId } });
    }
    // Subscription.journalSaved: refused to an anonymous socket.
    const anon = createClient({ url: server.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0 });
    sockets.push(anon);
    const error = await new Promise<unknown>((resolve) => {
      anon.subscribe({ query: 'subscription { journalSaved { id } }' }, { next: (v) => resolve(v), error: resolve, complete: () => resolve('complete') });
    });
    expect(JSON.stringify(error)).toContain('UNAUTHENTICATED');
    // Mutation.deleteJournal by the owner: gone, with its grants.
    expect((await raw('mutation D($id: ID!) { deleteJournal(id: $id) }', { id: j.id }, alice.token)).data).toEqual({ deleteJournal: j.id });
    expect(snapshotTables(dataDir, ['Grant']).Grant!.some((r) => r.includes(j.id))).toBe(false);
  });

  it("rotation: rotateKeyRing + reseal reports Journal's rows per key version, and every row is on the new version afterwards", async () => {
    const versions = (): Record<number, number> => {
      const db = new Database(dbFile, { readonly: true });
      try {
        const rows = db.prepare<[], { v: number; n: number }>('SELECT serverKeyVersion AS v, COUNT(*) AS n FROM "Journal" WHERE serverSealed IS NOT NULL GROUP BY v').all();
        return Object.fromEntries(rows.map((r) => [r.v, r.n]));
      } finally {
        db.close();
      }
    };
    const j = await newJournal(alice, 'rotate');
    const before = versions();
    expect(Object.keys(before)).toEqual(['1']);
    const n = before[1]!;
    expect(n).toBeGreaterThan(5);
    expect(server.veil.rotateKeyRing()).toBe(2);
    const report = await server.veil.reseal({ batchSize: 4 });
    expect(report.version).toBe(2);
    expect(report.types).toEqual([{ type: 'Journal', resealed: n, fromVersions: { 1: n }, remaining: 0 }]);
    expect(versions()).toEqual({ 2: n });
    expect((await read(alice, j.id)).journal).toEqual({ id: j.id, authorId: alice.userId, ...j.plain });
  });

  it('canaries never appear in the raw database files (the example\'s and veilgraph\'s, with -wal) nor in the output', () => {
    expect(canaries.length).toBeGreaterThan(25);
    const files = [dbFile, ...['-wal', '-journal', '-shm'].map((s) => dbFile + s)].filter((f) => existsSync(f));
    for (const f of readdirSync(dataDir)) if (statSync(join(dataDir, f)).isFile()) files.push(join(dataDir, f));
    expect(files.some((f) => f.endsWith('veilgraph.db'))).toBe(true);
    const bytes = files.map((f) => readFileSync(f).toString('latin1')).join('\n');
    const logs = output.join('');
    // The capture holds the example's log (veilgraph's first start warns that it made a key ring).
    expect(logs).toContain('keyring.generated');
    for (const c of canaries) {
      expect(bytes.includes(c), c).toBe(false);
      expect(logs.includes(c), c).toBe(false);
    }
  });
});

describe('example (a) at start', () => {
  it('is refused (CONFIG_INVALID) with its TypeAdapter\'s reseal removed', async () => {
    const { PrismaClient } = (await import(join(dir, 'src/generated/prisma/client.ts'))) as { PrismaClient: new (o: object) => { $disconnect(): Promise<void> } };
    const { PrismaBetterSQLite3 } = await import('@prisma/adapter-better-sqlite3');
    const prisma = new PrismaClient({ adapter: new PrismaBetterSQLite3({ url: `file:${dbFile}` }) });
    const journals = prismaVeilgraph(prisma, { models: { Journal: 'journal' } });
    const { reseal, ...withoutReseal } = journals.types.Journal!;
    expect(reseal).toBeDefined();
    const fresh = join(scratch, 'refused');
    const error = await createVeilgraph({
      typeDefs: readFileSync(join(dir, 'schema.graphql'), 'utf8'),
      types: { Journal: withoutReseal },
      services: [signIn(), directory(), sharing()],
      dataDir: fresh,
      logSink: () => undefined,
    }).then(
      async (v) => (await v.close(), undefined),
      (e: unknown) => e,
    );
    await prisma.$disconnect();
    expect(error).toMatchObject({ name: 'VeilgraphError', code: 'CONFIG_INVALID' });
    expect((error as Error).message).toContain('Journal has SERVER fields but its TypeAdapter has no reseal');
    expect(existsSync(fresh)).toBe(false);
  });
});
