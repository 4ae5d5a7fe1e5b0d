// Example (b), examples/journal-yoga: a journal on GraphQL Yoga with its own better-sqlite3
// table, run as a stranger would run it (its own server, started through its exported
// function, veilgraph through `veilgraph/*` only). Users sign up and sign in with the public
// client entry (veilgraph/client) alone and talk to the server through createPrivacyLink,
// over HTTP and over graphql-ws. What issue 15 asks of each example:
// the four levels for the owner, FORBIDDEN for a stranger (a per-root-field matrix through
// this server; test/server/authorization-matrix.test.ts serves the same SDL, resolvers and
// adapter on the reference gateway, beside the built-in fields), BAD_SEALED_VALUE with
// nothing written, a search by the blind index, enforced subscription events, a grant and
// its revocation, rotation and re-sealing of the example's rows, canaries absent from every
// file and log line, and start-up refused without the re-seal adapter.
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import Database from 'better-sqlite3';
import { OperationTypeNode, parse, type DocumentNode } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { nodeBackend } from '../../src/crypto/backends/node.js';
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
import { linkVeilgraph } from '../helpers/examples.js';
import { canary, newObjectId } from '../helpers/gateway.js';
import { openRawSocket, wsCodes } from '../helpers/ws.js';

linkVeilgraph('journal-yoga');
const { startJournalServer } = await import('../../examples/journal-yoga/src/server.js');
type JournalServer = Awaited<ReturnType<typeof startJournalServer>>;

const FIELDS = 'id authorId title mood place body note';
const JOURNAL = parse(`query journal($id: ID!) { journal(id: $id) { ${FIELDS} } }`);
const BY_MOOD = parse(`query journalsByMood($mood: String!) { journalsByMood(mood: $mood) { ${FIELDS} } }`);
const CREATE = parse(`mutation createJournal($input: NewJournal!) { createJournal(input: $input) { ${FIELDS} } }`);
const UPDATE = parse(`mutation updateJournal($id: ID!, $patch: JournalPatch!) { updateJournal(id: $id, patch: $patch) { ${FIELDS} } }`);
const SAVED = parse(`subscription journalSaved($id: ID) { journalSaved(id: $id) { ${FIELDS} } }`);

interface Journal {
  id: string;
  authorId: string;
  title: string;
  mood: string | null;
  place: string | null;
  body: string | null;
  note: string | null;
}

/** A user as a stranger's app builds one from veilgraph/client: identity, data keys, directory, sharing, an Apollo Client over HTTP and graphql-ws. */
interface User {
  readonly username: string;
  readonly userId: string;
  readonly token: string;
  readonly sharing: Sharing;
  readonly client: ApolloClient;
  readonly ws: Client;
}

interface Answer<T> {
  readonly data: T | undefined;
  readonly codes: (string | undefined)[];
}

const dir = mkdtempSync(join(tmpdir(), 'veilgraph-journal-yoga-'));
const database = join(dir, 'journal.db');
const dataDir = join(dir, 'veilgraph-data');
const logs: string[] = [];
const canaries: string[] = [];
let server: JournalServer;
let alice: User;
let bob: User;
let mallory: User;

async function signUp(username: string): Promise<User> {
  const url = server.url;
  const keystore = new MemoryKeyStore();
  await createIdentity(nodeBackend, keystore);
  const { userId } = await register(url, username, keystore, nodeBackend);
  const { token } = await login(url, username, keystore, nodeBackend);
  const auth = () => token;
  const keys = await dataKeyClientKeysFrom(keystore, nodeBackend, userId, graphqlDataKeyTransport(url, auth));
  const directory = new KeyDirectory({ backend: nodeBackend, keystore, transport: graphqlDirectoryTransport(url, auth) });
  const sharing = new Sharing({ backend: nodeBackend, userId, keys, directory, transport: graphqlSharingTransport(url, auth) });
  const ws = createClient({ url: url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` }, retryAttempts: 0 });
  const transport = ApolloLink.split((op) => op.operationType === OperationTypeNode.SUBSCRIPTION, new GraphQLWsLink(ws), new HttpLink({ uri: url, headers: { authorization: `Bearer ${token}` } }));
  const privacy = createPrivacyLink({ schema: server.veil.schema, manifest: server.veil.manifest, keys, backend: nodeBackend, directory, viewerId: () => userId });
  const client = new ApolloClient({ link: ApolloLink.from([privacy, transport]), cache: new InMemoryCache() });
  return { username, userId, token, sharing, client, ws };
}

function codesOf(error: unknown): (string | undefined)[] {
  return ((error as { errors?: { extensions?: { code?: string } }[] } | undefined)?.errors ?? []).map((e) => e.extensions?.code);
}

async function query<T>(u: User, document: DocumentNode, variables: Record<string, unknown>): Promise<Answer<T>> {
  const r = await u.client.query<T>({ query: document, variables, fetchPolicy: 'network-only', errorPolicy: 'all' });
  return { data: r.data as T | undefined, codes: codesOf(r.error) };
}

async function mutate<T>(u: User, document: DocumentNode, variables: Record<string, unknown>): Promise<Answer<T>> {
  const r = await u.client.mutate<T>({ mutation: document, variables, errorPolicy: 'all' });
  return { data: (r.data ?? undefined) as T | undefined, codes: codesOf(r.error) };
}

function secret(tag: string): string {
  const value = canary(tag);
  canaries.push(value);
  return value;
}

/** Every row of the example's table, as stored (the journal file, read beside the server). */
function journalRows(): Record<string, unknown>[] {
  const db = new Database(database, { readonly: true });
  try {
    return db.prepare('SELECT * FROM journal ORDER BY id').all() as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

/** A raw POST, as a client without the link would send it. */
async function raw(query: string, variables: Record<string, unknown>, token?: string): Promise<{ status: number; body: { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] } }> {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: (await res.json()) as never };
}

async function waitFor(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeAll(async () => {
  server = await startJournalServer({ port: 0, database, dataDir, veilgraph: { logSink: (line) => void logs.push(line), logLevel: 'debug' } });
  alice = await signUp('jy_alice');
  bob = await signUp('jy_bob');
  mallory = await signUp('jy_mallory');
}, 60_000);

afterAll(async () => {
  for (const u of [alice, bob, mallory]) await u?.ws.dispose();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('examples/journal-yoga', () => {
  const id = newObjectId();
  let written: Journal;

  it('the owner writes and reads all four levels through the link over HTTP; a stranger reads the title only (FORBIDDEN on the rest)', async () => {
    written = { id, authorId: alice.userId, title: 'Tuesday', mood: secret('mood'), place: secret('place'), body: secret('body'), note: secret('note') };
    const created = await mutate<{ createJournal: Journal }>(alice, CREATE, { input: { id, title: written.title, mood: written.mood, place: written.place, body: written.body, note: written.note } });
    expect(created.codes).toEqual([]);
    expect(created.data?.createJournal).toEqual({ __typename: 'Journal', ...written });

    const read = await query<{ journal: Journal }>(alice, JOURNAL, { id });
    expect(read).toEqual({ data: { journal: { __typename: 'Journal', ...written } }, codes: [] });

    const stranger = await query<{ journal: Journal }>(mallory, JOURNAL, { id });
    expect(stranger.data?.journal).toEqual({ __typename: 'Journal', id, authorId: alice.userId, title: 'Tuesday', mood: null, place: null, body: null, note: null });
    expect(stranger.codes).toEqual(['FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN']);

    // As stored: no plaintext in any protected column.
    const row = journalRows().find((r) => r.id === id)!;
    expect(row).toMatchObject({ authorId: alice.userId, title: 'Tuesday', serverKeyVersion: 1 });
    for (const c of canaries) expect(JSON.stringify(row)).not.toContain(c);
  });

  it('a search by the searchable SERVER field (mood, through its blind index) finds the row; another mood finds nothing', async () => {
    const found = await query<{ journalsByMood: Journal[] }>(alice, BY_MOOD, { mood: written.mood });
    expect(found.codes).toEqual([]);
    expect(found.data?.journalsByMood.map((j) => [j.id, j.mood])).toEqual([[id, written.mood]]);
    expect((await query<{ journalsByMood: Journal[] }>(alice, BY_MOOD, { mood: 'not-that-mood' })).data?.journalsByMood).toEqual([]);
    // Mallory's search looks at her own journals only.
    expect((await query<{ journalsByMood: Journal[] }>(mallory, BY_MOOD, { mood: written.mood })).data?.journalsByMood).toEqual([]);
  });

  it('plaintext in a sealed field (a raw request, no link) is BAD_SEALED_VALUE and writes nothing', async () => {
    const before = journalRows();
    const fresh = newObjectId();
    const plaintext = 'my diary in clear text';
    for (const [field, input] of [
      ['body', { id: fresh, title: 't', body: plaintext }],
      ['note', { id: fresh, title: 't', note: plaintext }],
    ] as const) {
      const r = await raw('mutation ($input: NewJournal!) { createJournal(input: $input) { id } }', { input }, alice.token);
      expect(r.status, field).toBe(400);
      expect(r.body.errors?.map((e) => e.extensions?.code), field).toEqual(['BAD_SEALED_VALUE']);
      expect(JSON.stringify(r.body)).not.toContain(plaintext);
    }
    const literal = await raw(`mutation { updateJournal(id: "${id}", patch: { body: "${plaintext}" }) { id } }`, {}, alice.token);
    expect([literal.status, literal.body.errors?.map((e) => e.extensions?.code)]).toEqual([400, ['BAD_SEALED_VALUE']]);
    expect(journalRows()).toEqual(before);
  });

  it('a subscription over graphql-ws delivers enforced events: the owner\'s link opens them, a stranger following the journal gets its title and FORBIDDEN on the rest', async () => {
    const own: { data?: unknown; error?: unknown }[] = [];
    const theirs: { data?: unknown; error?: unknown }[] = [];
    const a = alice.client.subscribe<{ journalSaved: Journal }>({ query: SAVED, variables: {}, errorPolicy: 'all' }).subscribe((r) => void own.push(r));
    const m = mallory.client.subscribe<{ journalSaved: Journal }>({ query: SAVED, variables: { id }, errorPolicy: 'all' }).subscribe((r) => void theirs.push(r));
    try {
      await waitFor('both subscriptions', () => server.veil.pubsub.subscriberCount(`journals-of:${alice.userId}`) === 1 && server.veil.pubsub.subscriberCount(`journal:${id}`) === 1);
      const body = secret('ws-body');
      const updated = await mutate<{ updateJournal: Journal }>(alice, UPDATE, { id, patch: { title: 'Tuesday, later', body } });
      expect(updated.codes).toEqual([]);
      written = { ...written, title: 'Tuesday, later', body };
      await waitFor('both events', () => own.length === 1 && theirs.length === 1);
      expect(own[0]!.error).toBeUndefined();
      expect(own[0]!.data).toEqual({ journalSaved: { __typename: 'Journal', ...written } });
      expect(theirs[0]!.data).toEqual({ journalSaved: { __typename: 'Journal', id, authorId: alice.userId, title: 'Tuesday, later', mood: null, place: null, body: null, note: null } });
      expect(codesOf(theirs[0]!.error)).toEqual(['FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN']);
    } finally {
      a.unsubscribe();
      m.unsubscribe();
    }
    // Without a valid token the socket is refused at connection_init.
    const refused = new WebSocket(server.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    const closed = new Promise<number>((resolve) => refused.on('close', (code) => resolve(code)));
    refused.on('open', () => refused.send(JSON.stringify({ type: 'connection_init', payload: { authorization: 'Bearer not-a-token' } })));
    expect(await closed).toBe(4403);
  });

  it('a grant lets the grantee read the SHARED body (not the PRIVATE note); the revocation stops it', async () => {
    const before = await query<{ journal: Journal }>(bob, JOURNAL, { id });
    expect(before.data?.journal.body).toBeNull();
    expect(before.codes).toContain('FORBIDDEN');

    await alice.sharing.grant('Journal', id, bob.username, 'READ');
    const granted = await query<{ journal: Journal }>(bob, JOURNAL, { id });
    expect(granted.data?.journal).toMatchObject({ mood: written.mood, place: written.place, body: written.body, note: null });
    expect(granted.codes).toEqual(['FORBIDDEN']);
    // (the one FORBIDDEN: the note, PRIVATE)

    // The body is sealed again under the rotated data key by the owner's link.
    await alice.sharing.revoke('Journal', id, bob.username, {
      reseal: async () => {
        expect((await mutate(alice, UPDATE, { id, patch: { body: written.body } })).codes).toEqual([]);
      },
    });
    const revoked = await query<{ journal: Journal }>(bob, JOURNAL, { id });
    expect(revoked.data?.journal).toMatchObject({ title: written.title, mood: null, body: null, note: null });
    expect(revoked.codes.every((c) => c === 'FORBIDDEN')).toBe(true);
    expect((await query<{ journal: Journal }>(alice, JOURNAL, { id })).data?.journal.body).toBe(written.body);
  });

  it('deleting a journal ends its sharing: re-made at the same id (by its owner or anyone else), the old grantee reads nothing and nobody inherits the grants', async () => {
    const DELETE = parse('mutation deleteJournal($id: ID!) { deleteJournal(id: $id) }');
    const gone = newObjectId();
    expect((await mutate(alice, CREATE, { input: { id: gone, title: 'shared, then deleted', mood: secret('mood-del') } })).codes).toEqual([]);
    await alice.sharing.grant('Journal', gone, bob.username, 'WRITE');
    expect((await query<{ journal: Journal }>(bob, JOURNAL, { id: gone })).codes).toEqual(['FORBIDDEN']); // the note only
    // A stranger may not delete it (nor strip its sharing).
    expect((await mutate(mallory, DELETE, { id: gone })).codes).toEqual(['FORBIDDEN']);
    expect((await mutate(alice, DELETE, { id: gone })).codes).toEqual([]);

    // The owner makes a journal at the same id again: the old grantee reads nothing of it.
    const mood = secret('mood-again');
    expect((await mutate(alice, CREATE, { input: { id: gone, title: 'again', mood } })).codes).toEqual([]);
    const r = await raw('query ($id: ID!) { journal(id: $id) { title mood } }', { id: gone }, bob.token);
    expect(r.body.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    expect(JSON.stringify(r.body)).not.toContain(mood);
    expect((await mutate(alice, DELETE, { id: gone })).codes).toEqual([]);

    // Anyone who knew the id makes it theirs: no grant of Alice's comes with it.
    expect((await raw('mutation ($id: ID!) { createJournal(input: { id: $id, title: "mine" }) { id } }', { id: gone }, mallory.token)).body.errors).toBeUndefined();
    const grants = await raw('query ($id: ID!) { grants(objectType: "Journal", objectId: $id) { grantee { username } } }', { id: gone }, mallory.token);
    expect(grants.body).toEqual({ data: { grants: [] } });
    const write = await raw('mutation ($id: ID!) { updateJournal(id: $id, patch: { title: "bob writes" }) { id } }', { id: gone }, bob.token);
    expect(write.body.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
  });

  it('every root field against Alice\'s journal, as Mallory and anonymously: the documented outcome, nothing learnt, nothing written', async () => {
    const before = journalRows();
    const sel = `{ ${FIELDS} }`;
    const cases: [string, Record<string, unknown>, (string | undefined)[], (string | undefined)[]][] = [
      // query, variables, Mallory's codes, anonymous codes
      [`query ($id: ID!) { journal(id: $id) ${sel} }`, { id }, ['FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN'], ['FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN']],
      [`{ myJournals ${sel} }`, {}, [], ['UNAUTHENTICATED']],
      [`query ($m: String!) { journalsByMood(mood: $m) ${sel} }`, { m: written.mood }, [], ['UNAUTHENTICATED']],
      [`mutation ($id: ID!) { createJournal(input: { id: $id, title: "mine now" }) { id } }`, { id }, ['FORBIDDEN'], ['UNAUTHENTICATED']],
      [`mutation ($id: ID!) { updateJournal(id: $id, patch: { title: "pwned" }) { id } }`, { id }, ['FORBIDDEN'], ['UNAUTHENTICATED']],
      [`mutation ($id: ID!) { deleteJournal(id: $id) }`, { id }, ['FORBIDDEN'], ['UNAUTHENTICATED']],
    ];
    for (const [q, variables, asMallory, asAnonymous] of cases) {
      for (const [who, token, expected] of [['mallory', mallory.token, asMallory], ['anonymous', undefined, asAnonymous]] as const) {
        const r = await raw(q, variables, token);
        expect(r.body.errors?.map((e) => e.extensions?.code) ?? [], `${who}: ${q}`).toEqual(expected);
        for (const c of [...canaries, written.body!]) expect(JSON.stringify(r.body), `${who}: ${q}`).not.toContain(c);
      }
    }
    // A token that does not verify refuses the whole request, never an anonymous one.
    const badToken = await raw(`query ($id: ID!) { journal(id: $id) { id title } }`, { id }, 'not-a-token');
    expect([badToken.status, badToken.body.errors?.map((e) => e.extensions?.code), badToken.body.data]).toEqual([401, ['UNAUTHENTICATED'], undefined]);
    expect(journalRows()).toEqual(before);

    // The subscription: Mallory follows Alice's journal (title only, above); her own feed never shows Alice's; anonymous is refused.
    const anonymous = await openRawSocket(server.url.replace(/^http/, 'ws'), {});
    try {
      expect(wsCodes(await anonymous.subscribe('s', `subscription ($id: ID) { journalSaved(id: $id) { id } }`, { id }))).toEqual(['UNAUTHENTICATED']);
    } finally {
      anonymous.close();
    }
  });

  it("rotation: a new key ring version and veil.reseal() move the example's rows, reported per type and version", async () => {
    const second = newObjectId();
    expect((await mutate(alice, CREATE, { input: { id: second, title: 'Wednesday', mood: secret('mood2') } })).codes).toEqual([]);
    expect(server.store.countByKeyVersion()).toEqual({ 1: 2 });

    const version = server.veil.rotateKeyRing();
    expect(version).toBe(2);
    const report = await server.veil.reseal();
    expect(report.version).toBe(2);
    expect(report.types.find((t) => t.type === 'Journal')).toEqual({ type: 'Journal', resealed: 2, fromVersions: { 1: 2 }, remaining: 0 });
    expect(server.store.countByKeyVersion()).toEqual({ 2: 2 });
    // Still readable and searchable after the move.
    expect((await query<{ journal: Journal }>(alice, JOURNAL, { id })).data?.journal).toMatchObject({ mood: written.mood, place: written.place });
    expect((await query<{ journalsByMood: Journal[] }>(alice, BY_MOOD, { mood: written.mood })).data?.journalsByMood.map((j) => j.id)).toEqual([id]);
  });

  it('no canary in any file (the journal database and its WAL, veilgraph\'s data directory) nor in any log line', async () => {
    const files: string[] = [];
    const walk = (d: string): void => {
      for (const name of readdirSync(d)) {
        const p = join(d, name);
        if (statSync(p).isDirectory()) walk(p);
        else files.push(p);
      }
    };
    walk(dir);
    expect(files.map((f) => f.slice(dir.length + 1))).toEqual(expect.arrayContaining(['journal.db', 'journal.db-wal']));
    expect(canaries.length).toBeGreaterThanOrEqual(6);
    for (const f of files) {
      const bytes = readFileSync(f).toString('latin1');
      for (const c of canaries) expect(bytes.includes(c), `${c} in ${f}`).toBe(false);
    }
    expect(logs.length).toBeGreaterThan(10);
    const log = logs.join('\n');
    for (const c of canaries) expect(log).not.toContain(c);
  });

  it("starting the example with its TypeAdapter's reseal removed is refused: CONFIG_INVALID", async () => {
    const other = mkdtempSync(join(tmpdir(), 'veilgraph-journal-yoga-noreseal-'));
    try {
      const start = startJournalServer({
        port: 0,
        database: join(other, 'journal.db'),
        dataDir: join(other, 'veilgraph-data'),
        veilgraph: { types: { Journal: { owners: async () => new Map() } }, logSink: () => undefined },
      });
      await expect(start).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('Journal') });
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
