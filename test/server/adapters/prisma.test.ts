// The Prisma extension (src/server/adapters/prisma.ts) as a schema author uses it: their
// own Journal model (test/fixtures/journal) in their own SQLite file, a client generated
// from their schema, resolvers that are `db.journal.create({ data: input })` and nothing
// else, served by the real gateway on loopback. Writes land sealed and checked, updates
// merge SERVER values under compare-and-swap, reads are enforced per field by the gateway,
// the raw file never holds a protected value in clear, writes the extension cannot check
// are refused with nothing written, and rotation through the adapter re-seals every row.
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { nodeBackend } from '../../../src/crypto/backends/node.js';
import { generateSymmetricKey, type SymmetricKey } from '../../../src/crypto/keys.js';
import type { PrivacyManifest } from '../../../src/privacy/manifest.js';
import { allServices, createVeilgraph, prismaVeilgraph, type PrismaVeilgraph, type VeilContext } from '../../../src/server/index.js';
import { rotateKeyRingFile } from '../../../src/server/keyring.js';
import { ServerFieldCodec } from '../../../src/server/server-fields.js';
import type { PrismaClient as RepositoryPrismaClient } from '../../../src/server/storage/generated/sqlite/client.js';
import { journalResolvers } from '../../fixtures/journal/resolvers.js';
import {
  canary,
  grantAccess,
  newObjectId,
  registerAndLogin,
  ROOMY_AUTH_LIMITS,
  seal,
  sealSigned,
  startTestGateway,
  storeDataKey,
  type GqlResponse,
  type TestGateway,
  type TestUser,
} from '../../helpers/gateway.js';
import { openJournalDatabase, type JournalDatabase, type JournalPrismaClient, type JournalRow } from '../../helpers/journal-prisma.js';
import { startPostgres, type TestPostgres } from '../../helpers/postgres.js';
import { readTables, snapshotTables } from '../../helpers/sqlite-snapshot.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const FIELDS = 'id authorId title mood place body secret';
const CREATE = `mutation C($i: JournalInput!) { createJournal(input: $i) { ${FIELDS} } }`;
const UPDATE = `mutation U($i: JournalInput!) { updateJournal(input: $i) { ${FIELDS} } }`;
const SAVE = `mutation S($i: JournalInput!) { saveJournal(input: $i) { ${FIELDS} } }`;
const CREATE_MANY = 'mutation M($is: [JournalInput!]!) { createJournals(inputs: $is) }';
const READ = `query R($id: ID!) { journal(id: $id) { ${FIELDS} } }`;

let db: JournalDatabase;
let t: TestGateway;
let journals: PrismaVeilgraph;
/** Test-only: opens and re-seals SERVER blobs as the gateway does (the gateway's key ring and manifest). */
let codec: ServerFieldCodec;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
/** Test-only: extensions added after veilgraph's for the next requests (they run after it). */
let inner: unknown[] = [];
/** The context of each user's latest request (to use the extended client directly, as a resolver does). */
const contexts = new Map<string, VeilContext>();
/** Every protected plaintext written; none may appear in the raw file or the logs. */
const canaries: string[] = [];

function extended(ctx: VeilContext): JournalPrismaClient {
  if (ctx.viewer) contexts.set(ctx.viewer.id, ctx);
  let client = db.prisma.$extends(journals.forRequest(ctx));
  for (const e of inner) client = client.$extends(e);
  return client;
}

async function contextOf(user: TestUser): Promise<VeilContext> {
  const r = await t.gql(READ, { id: 'nothing-here' }, user.token);
  expect(r.errors).toBeUndefined();
  return contexts.get(user.id)!;
}

/**
 * Runs `between` on the next `times` calls of `operation`, after the extension has read the
 * row and before its write reaches the database (an extension added after veilgraph's runs
 * after it): another writer getting in between. `left(n)` changes how many remain.
 */
function interleave(operation: string, times: number, between: () => Promise<unknown>): { left(n: number): void } {
  let remaining = times;
  inner = [
    {
      name: 'another writer',
      query: {
        async $allOperations({ operation: op, args, query }: { operation: string; args: unknown; query: (a: unknown) => Promise<unknown> }) {
          if (op === operation && remaining-- > 0) await between();
          return query(args);
        },
      },
    },
  ];
  return { left: (n) => (remaining = n) };
}

beforeAll(async () => {
  db = await openJournalDatabase();
  journals = prismaVeilgraph(db.prisma, { models: { Journal: 'journal' } });
  t = await startTestGateway({
    typeDefs: [readFileSync(join(ROOT, 'test/fixtures/journal/journal.graphql'), 'utf8')],
    resolvers: [journalResolvers(extended, (mood) => t.gateway.veil.blindIndex('Journal.mood', mood))],
    types: journals.types,
    authLimits: ROOMY_AUTH_LIMITS,
  });
  codec = new ServerFieldCodec(nodeBackend, t.gateway.keyring, t.gateway.manifest);
  [alice, bob, carol] = [await registerAndLogin(t, 'alice'), await registerAndLogin(t, 'bob'), await registerAndLogin(t, 'carol')];
}, 120_000);

afterEach(() => {
  inner = [];
});

afterAll(async () => {
  await t?.close();
  await db?.close();
});

interface Plain {
  title?: string;
  mood?: string | null;
  place?: string | null;
  body?: string | null;
  secret?: string | null;
}

/** The GraphQL input a client sends: PUBLIC and SERVER values as they are, SHARED/PRIVATE sealed for their location. */
function input(owner: TestUser, id: string, plain: Plain, dataKey: SymmetricKey | null, opts: { signer?: TestUser; sealAs?: { body?: string; ownerId?: string; objectId?: string } } = {}): Promise<Record<string, unknown>> | Record<string, unknown> {
  const out: Record<string, unknown> = { id };
  for (const k of ['title', 'mood', 'place'] as const) if (plain[k] !== undefined) out[k] = plain[k];
  const ownerId = opts.sealAs?.ownerId ?? owner.id;
  const objectId = opts.sealAs?.objectId ?? id;
  if (plain.secret !== undefined) out.secret = plain.secret === null ? null : seal(owner.vault, 'Journal.secret', ownerId, objectId, plain.secret);
  if (plain.body === undefined) return out;
  if (plain.body === null) return { ...out, body: null };
  const coordinate = opts.sealAs?.body ?? 'Journal.body';
  if (opts.signer) return sealSigned(dataKey!, coordinate, ownerId, objectId, plain.body, opts.signer.signing).then((body) => ({ ...out, body }));
  return { ...out, body: seal(dataKey!, coordinate, ownerId, objectId, plain.body) };
}

/** A new journal of `owner` with a value at every level, through GraphQL. */
async function newJournal(owner: TestUser, tag: string): Promise<{ id: string; dataKey: SymmetricKey; plain: { title: string; mood: string; place: string; body: string; secret: string }; sent: Record<string, unknown> }> {
  const id = newObjectId();
  const dataKey = generateSymmetricKey(nodeBackend);
  await storeDataKey(t, owner, 'Journal', id, dataKey);
  const plain = { title: `title ${tag}`, mood: canary(`${tag}-mood`), place: canary(`${tag}-place`), body: canary(`${tag}-body`), secret: canary(`${tag}-secret`) };
  canaries.push(plain.mood, plain.place, plain.body, plain.secret);
  const sent = await input(owner, id, plain, dataKey);
  const r = await t.gql<{ createJournal: Record<string, unknown> }>(CREATE, { i: sent }, owner.token);
  expect(r.errors).toBeUndefined();
  return { id, dataKey, plain, sent };
}

function row(id: string): Record<string, unknown> | undefined {
  return readTables(db.file, ['Journal']).Journal!.find((r) => r.id === id);
}

function journalRows(): Record<string, string[]> {
  return snapshotTables(db.file, ['Journal']);
}

function codes(r: GqlResponse): (string | undefined)[] {
  return (r.errors ?? []).map((e) => e.extensions?.code);
}

/** The raw bytes of the author's database (and any journal file beside it). */
function rawDatabase(): string {
  const dir = dirname(db.file);
  return readdirSync(dir)
    .filter((f) => f.startsWith('journal.db'))
    .map((f) => readFileSync(join(dir, f)).toString('latin1'))
    .join('\n');
}

describe('writes through prisma.journal.create({ data: input })', () => {
  it('land sealed: SERVER values in one blob with a blind index, SHARED/PRIVATE envelopes as sent, PUBLIC in clear, the owner the viewer', async () => {
    const j = await newJournal(alice, 'create');
    const stored = row(j.id)!;
    expect(stored.authorId).toBe(alice.id);
    expect(stored.title).toBe(j.plain.title);
    expect(stored.body).toBe(j.sent.body);
    expect(stored.secret).toBe(j.sent.secret);
    expect(stored.moodIndex).toBe(t.gateway.veil.blindIndex('Journal.mood', j.plain.mood));
    expect(stored.serverKeyVersion).toBe(t.gateway.keyring.current().version);
    expect(String(stored.serverSealed)).toMatch(/^hex:/);
    // The blob opens, for this row's location only, to exactly the SERVER values.
    const sealed = Buffer.from(String(stored.serverSealed).slice(4), 'hex');
    expect(codec.open('Journal', { serverSealed: new Uint8Array(sealed) }, alice.id, j.id)).toEqual({ mood: j.plain.mood, place: j.plain.place });
    expect(() => codec.open('Journal', { serverSealed: new Uint8Array(sealed) }, bob.id, j.id)).toThrow();
  });

  it('are read back per field: the owner gets every field, a stranger PUBLIC ones only, a READ grantee all but PRIVATE', async () => {
    const j = await newJournal(alice, 'read');
    const own = await t.gql<{ journal: Record<string, unknown> }>(READ, { id: j.id }, alice.token);
    expect(own.errors).toBeUndefined();
    expect(own.data!.journal).toEqual({ id: j.id, authorId: alice.id, title: j.plain.title, mood: j.plain.mood, place: j.plain.place, body: j.sent.body, secret: j.sent.secret });

    const stranger = await t.gql<{ journal: Record<string, unknown> }>(READ, { id: j.id }, bob.token);
    expect(stranger.data!.journal).toEqual({ id: j.id, authorId: alice.id, title: j.plain.title, mood: null, place: null, body: null, secret: null });
    expect(stranger.errors!.map((e) => [e.path?.at(-1), e.extensions?.code]).sort()).toEqual([
      ['body', 'FORBIDDEN'],
      ['mood', 'FORBIDDEN'],
      ['place', 'FORBIDDEN'],
      ['secret', 'FORBIDDEN'],
    ]);

    expect((await grantAccess(t, alice, carol, 'Journal', j.id, j.dataKey, 'READ')).errors).toBeUndefined();
    const grantee = await t.gql<{ journal: Record<string, unknown> }>(READ, { id: j.id }, carol.token);
    expect(grantee.data!.journal).toEqual({ id: j.id, authorId: alice.id, title: j.plain.title, mood: j.plain.mood, place: j.plain.place, body: j.sent.body, secret: null });
    expect(grantee.errors!.map((e) => [e.path?.at(-1), e.extensions?.code])).toEqual([['secret', 'FORBIDDEN']]);
  });

  it('are found by the searchable SERVER field through its blind index', async () => {
    const j = await newJournal(alice, 'search');
    const r = await t.gql<{ journalsByMood: { id: string; mood: string }[] }>('query Q($m: String!) { journalsByMood(mood: $m) { id mood } }', { m: j.plain.mood }, alice.token);
    expect(r.errors).toBeUndefined();
    expect(r.data!.journalsByMood).toEqual([{ id: j.id, mood: j.plain.mood }]);
  });

  it('refuse an envelope sealed for another place with BAD_SEALED_VALUE, writing nothing', async () => {
    const id = newObjectId();
    const dataKey = generateSymmetricKey(nodeBackend);
    await storeDataKey(t, alice, 'Journal', id, dataKey);
    const before = journalRows();
    const plain = { title: 'misplaced', mood: canary('misplaced-mood'), body: canary('misplaced-body'), secret: canary('misplaced-secret') };
    canaries.push(plain.mood, plain.body, plain.secret);
    const cases = [
      await input(alice, id, plain, dataKey, { sealAs: { body: 'Journal.secret' } }), // another field
      await input(alice, id, plain, dataKey, { sealAs: { objectId: newObjectId() } }), // another object
      await input(alice, id, plain, dataKey, { sealAs: { ownerId: bob.id } }), // another owner
    ];
    for (const i of cases) {
      const r = await t.gql(CREATE, { i }, alice.token);
      expect(codes(r)).toEqual(['BAD_SEALED_VALUE']);
    }
    const many = await t.gql(CREATE_MANY, { is: [await input(alice, newObjectId(), { title: 'fine' }, null), cases[0]] }, alice.token);
    expect(codes(many)).toEqual(['BAD_SEALED_VALUE']);
    expect(journalRows()).toEqual(before);
  });

  it('refuse plaintext in a SHARED/PRIVATE column written directly through the extended client (BAD_SEALED_VALUE), writing nothing', async () => {
    const client = extended(await contextOf(alice));
    const before = journalRows();
    const secret = canary('direct-secret');
    canaries.push(secret);
    await expect(client.journal.create({ data: { id: newObjectId(), title: 'direct', secret } })).rejects.toMatchObject({ extensions: { code: 'BAD_SEALED_VALUE' } });
    await expect(client.journal.create({ data: { id: newObjectId(), title: 'direct', secret: { set: secret } } })).rejects.toMatchObject({ extensions: { code: 'BAD_SEALED_VALUE' } });
    expect(journalRows()).toEqual(before);
  });

  it('need a signed-in viewer, a client-chosen id, and no other owner', async () => {
    const before = journalRows();
    expect(codes(await t.gql(CREATE, { i: { id: newObjectId(), title: 'anonymous' } }))).toEqual(['UNAUTHENTICATED']);
    const client = extended(await contextOf(alice));
    await expect(client.journal.create({ data: { title: 'no id' } })).rejects.toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
    await expect(client.journal.create({ data: { id: newObjectId(), title: "bob's", authorId: bob.id } })).rejects.toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    expect(journalRows()).toEqual(before);
  });

  it('createMany prepares every row before writing them together', async () => {
    const ids = [newObjectId(), newObjectId()];
    const moods = [canary('many-0'), canary('many-1')];
    canaries.push(...moods);
    const r = await t.gql<{ createJournals: number }>(CREATE_MANY, { is: ids.map((id, i) => ({ id, title: `many ${i}`, mood: moods[i] })) }, bob.token);
    expect(r.errors).toBeUndefined();
    expect(r.data!.createJournals).toBe(2);
    for (const [i, id] of ids.entries()) {
      const got = await t.gql<{ journal: { mood: string; authorId: string } }>(READ, { id }, bob.token);
      expect(got.data!.journal).toMatchObject({ mood: moods[i], authorId: bob.id });
    }
  });
});

describe('updates', () => {
  it('merge SERVER values with the stored ones and recompute the blind index', async () => {
    const j = await newJournal(alice, 'merge');
    const mood = canary('merge-new-mood');
    canaries.push(mood);
    const r = await t.gql<{ updateJournal: Record<string, unknown> }>(UPDATE, { i: { id: j.id, mood } }, alice.token);
    expect(r.errors).toBeUndefined();
    expect(r.data!.updateJournal).toEqual({ id: j.id, authorId: alice.id, title: j.plain.title, mood, place: j.plain.place, body: j.sent.body, secret: j.sent.secret });
    expect(row(j.id)!.moodIndex).toBe(t.gateway.veil.blindIndex('Journal.mood', mood));
    // A SERVER field set to null goes from the blob; the others stay.
    const cleared = await t.gql<{ updateJournal: Record<string, unknown> }>(UPDATE, { i: { id: j.id, place: null } }, alice.token);
    expect(cleared.data!.updateJournal).toMatchObject({ mood, place: null });
  });

  it('through upsert: creates, then updates with the stored SERVER values merged', async () => {
    const id = newObjectId();
    const place = canary('upsert-place');
    canaries.push(place);
    const created = await t.gql<{ saveJournal: Record<string, unknown> }>(SAVE, { i: { id, title: 'upserted', place } }, bob.token);
    expect(created.errors).toBeUndefined();
    expect(row(id)!.authorId).toBe(bob.id);
    const updated = await t.gql<{ saveJournal: Record<string, unknown> }>(SAVE, { i: { id, title: 'upserted again', mood: 'calm' } }, bob.token);
    expect(updated.errors).toBeUndefined();
    expect(updated.data!.saveJournal).toMatchObject({ title: 'upserted again', mood: 'calm', place, authorId: bob.id });
    // Someone else's upsert of the same id is an update they may not make.
    const before = journalRows();
    expect(codes(await t.gql(SAVE, { i: { id, title: 'taken over' } }, carol.token))).toEqual(['FORBIDDEN']);
    expect(journalRows()).toEqual(before);
  });

  it('are the owner\'s and WRITE grantees\' only (PRIVATE: the owner\'s), NOT_FOUND for no row, and a refused one writes nothing', async () => {
    const j = await newJournal(alice, 'perm');
    const before = journalRows();
    expect(codes(await t.gql(UPDATE, { i: { id: j.id, title: 'by a stranger' } }, bob.token))).toEqual(['FORBIDDEN']);
    expect(codes(await t.gql(UPDATE, { i: { id: newObjectId(), title: 'nothing there' } }, alice.token))).toEqual(['NOT_FOUND']);
    expect((await grantAccess(t, alice, carol, 'Journal', j.id, j.dataKey, 'READ')).errors).toBeUndefined();
    expect(codes(await t.gql(UPDATE, { i: { id: j.id, mood: 'by a reader' } }, carol.token))).toEqual(['FORBIDDEN']);
    expect(journalRows()).toEqual(before);

    expect((await grantAccess(t, alice, bob, 'Journal', j.id, j.dataKey, 'WRITE')).errors).toBeUndefined();
    const body = canary('perm-body-by-bob');
    canaries.push(body);
    // (The writer selects what a grantee may read: not the PRIVATE field.)
    const ok = await t.gql<{ updateJournal: Record<string, unknown> }>('mutation U($i: JournalInput!) { updateJournal(input: $i) { title mood place body } }', { i: await input(alice, j.id, { title: 'by a writer', mood: 'edited', body }, j.dataKey, { signer: bob }) }, bob.token);
    expect(ok.errors).toBeUndefined();
    expect(ok.data!.updateJournal).toMatchObject({ title: 'by a writer', mood: 'edited', place: j.plain.place });
    expect(row(j.id)).toMatchObject({ title: 'by a writer', authorId: alice.id });
    const afterWrite = journalRows();
    expect(codes(await t.gql(UPDATE, { i: await input(alice, j.id, { secret: 'by a writer' }, j.dataKey) }, bob.token))).toEqual(['FORBIDDEN']);
    // An upsert's create branch is checked as the writer's own new object: SHARED values
    // sealed for Alice's object do not fit it (docs/server-prisma.md: grantees use update).
    expect(codes(await t.gql(SAVE, { i: await input(alice, j.id, { body: 'by upsert' }, j.dataKey, { signer: bob }) }, bob.token))).toEqual(['BAD_SEALED_VALUE']);
    expect(journalRows()).toEqual(afterWrite);
    const own = await t.gql<{ journal: Record<string, unknown> }>(READ, { id: j.id }, alice.token);
    expect(own.data!.journal).toMatchObject({ title: 'by a writer', mood: 'edited', place: j.plain.place, secret: j.sent.secret });
  });

  it('refuse an envelope sealed for another place, writing nothing', async () => {
    const j = await newJournal(alice, 'update-misplaced');
    const before = journalRows();
    const r = await t.gql(UPDATE, { i: await input(alice, j.id, { title: 'moved', secret: 'x' }, j.dataKey, { sealAs: { objectId: newObjectId() } }) }, alice.token);
    expect(codes(r)).toEqual(['BAD_SEALED_VALUE']);
    expect(journalRows()).toEqual(before);
  });

  it('that race a concurrent write merge again from the newer row (compare-and-swap), and give up with CONFLICT, writing nothing', async () => {
    const j = await newJournal(alice, 'race');
    const ctx = await contextOf(alice);
    // Between the extension's read of the row and its write, another writer changes the
    // row's SERVER values (a second client of the same database, through veilgraph).
    const theirs = canary('race-theirs');
    canaries.push(theirs);
    const other = interleave('update', 1, () => db.prisma.$extends(journals.forRequest(ctx)).journal.update({ where: { id: j.id }, data: { place: theirs } }));
    const r = await t.gql<{ updateJournal: Record<string, unknown> }>(UPDATE, { i: { id: j.id, mood: 'mine' } }, alice.token);
    expect(r.errors).toBeUndefined();
    expect(r.data!.updateJournal).toMatchObject({ mood: 'mine', place: theirs });

    other.left(Number.POSITIVE_INFINITY);
    const before = journalRows();
    const lost = await t.gql(UPDATE, { i: { id: j.id, mood: 'never' } }, alice.token);
    other.left(0);
    expect(codes(lost)).toEqual(['CONFLICT']);
    // Only the other writer's writes landed (a new blob each time); ours did not.
    const own = await t.gql<{ journal: Record<string, unknown> }>(READ, { id: j.id }, alice.token);
    expect(own.data!.journal).toMatchObject({ mood: 'mine', place: theirs });
    expect(journalRows()).not.toEqual(before);
  });
});

describe('interactive transactions (SQLite)', () => {
  it('two updates of one row in one transaction both land, merged; a transaction that fails writes nothing', async () => {
    const j = await newJournal(alice, 'tx');
    const client = extended(await contextOf(alice));
    await client.$transaction(async (tx) => {
      await tx.journal.update({ where: { id: j.id }, data: { mood: 'first' } });
      await tx.journal.update({ where: { id: j.id }, data: { title: 'second' } });
    });
    const r = await t.gql<{ journal: Record<string, unknown> }>(READ, { id: j.id }, alice.token);
    expect(r.data!.journal).toMatchObject({ title: 'second', mood: 'first', place: j.plain.place });

    const before = journalRows();
    await expect(
      client.$transaction(async (tx) => {
        await tx.journal.update({ where: { id: j.id }, data: { mood: 'rolled back' } });
        await tx.journal.create({ data: { id: newObjectId(), title: 'rolled back' } });
        await tx.journal.update({ where: { id: j.id }, data: { secret: 'not an envelope' } });
      }),
    ).rejects.toMatchObject({ extensions: { code: 'BAD_SEALED_VALUE' } });
    expect(journalRows()).toEqual(before);
  });
});

describe('upserts racing a create of the same id', () => {
  /** Alice upserts a new id while `creator` creates it, with a SERVER value, between her read and her write. */
  async function upsertRacing(creator: TestUser, tag: string): Promise<{ id: string; place: string; r: GqlResponse<{ saveJournal: Record<string, unknown> }> }> {
    const id = newObjectId();
    const theirs = extended(await contextOf(creator));
    const place = canary(tag);
    canaries.push(place);
    interleave('upsert', 1, () => theirs.journal.create({ data: { id, title: 'first', place } }));
    const r = await t.gql<{ saveJournal: Record<string, unknown> }>(SAVE, { i: { id, title: 'second', mood: 'merged' } }, alice.token);
    return { id, place, r };
  }

  it("by another user: the upsert reads again and finds someone else's row (FORBIDDEN), which stays as it was", async () => {
    const { id, place, r } = await upsertRacing(carol, 'race-carol');
    expect(codes(r)).toEqual(['FORBIDDEN']);
    expect(row(id)).toMatchObject({ authorId: carol.id, title: 'first' });
    const own = await t.gql<{ journal: Record<string, unknown> }>(READ, { id }, carol.token);
    expect(own.data!.journal).toMatchObject({ mood: null, place });
  });

  it('by the same user with SERVER values: the upsert reads again and merges them', async () => {
    const { place, r } = await upsertRacing(alice, 'race-alice');
    expect(r.errors).toBeUndefined();
    expect(r.data!.saveJournal).toMatchObject({ title: 'second', mood: 'merged', place, authorId: alice.id });
  });
});

describe('writes the extension cannot check are refused', () => {
  it('updateMany, raw SQL, nested writes into Journal, relation writes on Journal and computed columns: UNCHECKED_WRITE, nothing written', async () => {
    const j = await newJournal(alice, 'refuse');
    const client = extended(await contextOf(alice));
    const before = journalRows();
    const refused = { name: 'UncheckedWriteError', code: 'UNCHECKED_WRITE' };
    const leak = canary('refused');
    canaries.push(leak);
    await expect(client.journal.updateMany({ where: { authorId: alice.id }, data: { secret: leak } })).rejects.toMatchObject(refused);
    await expect(client.$executeRawUnsafe(`UPDATE "Journal" SET "secret" = '${leak}'`)).rejects.toMatchObject(refused);
    await expect(client.$queryRawUnsafe(`UPDATE "Journal" SET "secret" = '${leak}' RETURNING "id"`)).rejects.toMatchObject(refused);
    await expect(client.notebook.create({ data: { id: newObjectId(), name: 'n', journals: { create: [{ id: newObjectId(), authorId: alice.id, title: 't', secret: leak }] } } })).rejects.toMatchObject(refused);
    await expect(client.notebook.create({ data: { id: newObjectId(), name: 'n', journals: { connect: [{ id: j.id }] } } })).rejects.toMatchObject(refused);
    await expect(client.journal.create({ data: { id: newObjectId(), title: 't', notebook: { create: { id: newObjectId(), name: 'n' } } } })).rejects.toMatchObject(refused);
    await expect(client.journal.update({ where: { id: j.id }, data: { serverSealed: new Uint8Array(8) } })).rejects.toMatchObject(refused);
    await expect(client.journal.update({ where: { id: j.id }, data: { moodIndex: 'guessed' } })).rejects.toMatchObject(refused);
    expect(journalRows()).toEqual(before);
    expect(readTables(db.file, ['Notebook']).Notebook).toEqual([]);
  });

  it('delete is the owner\'s; deleteMany deletes only the viewer\'s own rows', async () => {
    const a = await newJournal(alice, 'del-a');
    const b = await newJournal(bob, 'del-b');
    const asBob = extended(await contextOf(bob));
    await expect(asBob.journal.delete({ where: { id: a.id } })).rejects.toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    const aliceRows = (await db.prisma.journal.count({ where: { authorId: alice.id } })) as number;
    const { count } = await asBob.journal.deleteMany({});
    expect(count).toBeGreaterThan(0);
    expect(await db.prisma.journal.count({ where: { authorId: bob.id } })).toBe(0);
    expect(await db.prisma.journal.count({ where: { authorId: alice.id } })).toBe(aliceRows);
    expect(row(b.id)).toBeUndefined();
    const asAlice = extended(await contextOf(alice));
    expect((await asAlice.journal.delete({ where: { id: a.id } })).id).toBe(a.id);
    expect(row(a.id)).toBeUndefined();
  });

  it("a deleted journal's grants and data keys go with it: a journal made again at its id is not shared with the old grantees", async () => {
    for (const remove of ['delete', 'deleteMany'] as const) {
      const j = await newJournal(alice, `forget-${remove}`);
      expect((await grantAccess(t, alice, carol, 'Journal', j.id, j.dataKey, 'READ')).errors).toBeUndefined();
      const asAlice = extended(await contextOf(alice));
      if (remove === 'delete') await asAlice.journal.delete({ where: { id: j.id } });
      else await asAlice.journal.deleteMany({ where: { id: j.id } });
      expect(await t.gateway.store.grantsFor('Journal', [j.id])).toEqual([]);
      // Made again at the same id, with a new data key (version 1: the old lineage is gone).
      const again = generateSymmetricKey(nodeBackend);
      await storeDataKey(t, alice, 'Journal', j.id, again);
      const mood = canary(`forget-${remove}-again`);
      canaries.push(mood);
      const made = await t.gql(CREATE, { i: await input(alice, j.id, { title: 'again', mood, body: 'new' }, again) }, alice.token);
      expect(made.errors).toBeUndefined();
      const r = await t.gql<{ journal: Record<string, unknown> }>('query R($id: ID!) { journal(id: $id) { title mood body } }', { id: j.id }, carol.token);
      expect(r.data!.journal).toEqual({ title: 'again', mood: null, body: null });
      expect(codes(r)).toEqual(['FORBIDDEN', 'FORBIDDEN']);
    }
  });
});

describe('the TypeAdapter', () => {
  it('looks owners up in one batch; an id with no row is missing from the answer', async () => {
    const a = await newJournal(alice, 'owners-a');
    const c = await newJournal(carol, 'owners-c');
    const owners = await journals.types.Journal!.owners([a.id, c.id, 'no-such-id', a.id], await contextOf(alice));
    expect(Object.fromEntries(owners)).toEqual({ [a.id]: alice.id, [c.id]: carol.id });
  });

  it('re-seals every row onto the new key version, with compare-and-swap, and rows read the same after', async () => {
    const reseal = journals.types.Journal!.reseal!;
    const mine = [await newJournal(carol, 'rotate-1'), await newJournal(carol, 'rotate-2')];
    const from = t.gateway.keyring.current().version;
    const to = rotateKeyRingFile(nodeBackend, join(t.dataDir, 'keyring.json'));
    t.gateway.keyring.refresh(true);
    expect(t.gateway.keyring.current().version).toBe(to);
    const total = await reseal.count!(to);
    expect(total).toBe((await db.prisma.journal.count({ where: { serverSealed: { not: null } } })) as number);
    expect(total).toBeGreaterThanOrEqual(2);

    // A swap against a blob that is no longer the row's does nothing.
    const [first] = await reseal.stale(to, 1);
    const next = codec.reseal('Journal', first!.serverSealed as Uint8Array, first!.authorId as string, first!.id as string);
    expect(await reseal.swap(first!.id as string, new Uint8Array([1, 2, 3]), next.sealed, next.keyVersion)).toBe(false);
    expect((await db.prisma.journal.findUnique({ where: { id: first!.id } }))!.serverKeyVersion).toBe(from);

    // What rotation does with the adapter: stale rows, re-sealed, swapped; batches of 2.
    let swapped = 0;
    for (let rows = await reseal.stale(to, 2); rows.length > 0; rows = await reseal.stale(to, 2)) {
      for (const r of rows) {
        const n = codec.reseal('Journal', r.serverSealed as Uint8Array, r.authorId as string, r.id as string);
        if (await reseal.swap(r.id as string, r.serverSealed as Uint8Array, n.sealed, n.keyVersion)) swapped++;
      }
    }
    expect(swapped).toBe(total);
    expect(await reseal.count!(to)).toBe(0);
    const versions = readTables(db.file, ['Journal']).Journal!.filter((r) => r.serverSealed !== null).map((r) => r.serverKeyVersion);
    expect(new Set(versions)).toEqual(new Set([to]));
    for (const j of mine) {
      const r = await t.gql<{ journal: Record<string, unknown> }>(READ, { id: j.id }, carol.token);
      expect(r.data!.journal).toMatchObject({ mood: j.plain.mood, place: j.plain.place });
    }
  });

  it('finds one row as stored (bytes as plain Uint8Array)', async () => {
    const j = await newJournal(alice, 'find');
    const found = (await journals.types.Journal!.find!(j.id)) as JournalRow;
    expect(found).toMatchObject({ id: j.id, authorId: alice.id, body: j.sent.body });
    expect(Object.getPrototypeOf(found.serverSealed)).toBe(Uint8Array.prototype);
    expect(await journals.types.Journal!.find!('no-such-id')).toBeNull();
  });
});

describe('attach (createVeilgraph hands the adapters the schema at start)', () => {
  const manifestWith = (extra: Record<string, unknown>): PrivacyManifest => {
    const m = t.gateway.manifest;
    return { ...m, objects: { ...m.objects, Journal: { ...m.objects.Journal!, fields: { ...m.objects.Journal!.fields, ...extra } } } } as PrivacyManifest;
  };
  const attach = (p: PrismaVeilgraph, manifest: PrivacyManifest): void => p.types.Journal!.attach!({ type: 'Journal', manifest });

  it('refuses a data model that does not fit the schema (CONFIG_INVALID naming each problem)', () => {
    const fresh = prismaVeilgraph(db.prisma, { models: { Journal: 'journal' } });
    let err: unknown;
    try {
      attach(fresh, manifestWith({ diary: { level: 'PRIVATE', type: 'String' }, title: { level: 'SERVER', type: 'String!' } }));
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ name: 'VeilgraphError', code: 'CONFIG_INVALID' });
    expect((err as Error).message).toContain('Journal.diary must be a String column');
    expect((err as Error).message).toContain('Journal.title must not exist');

    expect(() => attach(prismaVeilgraph(db.prisma, { models: { Journal: 'diary' } }), t.gateway.manifest)).toThrow(/not a model of this Prisma client/);
    expect(() => attach(prismaVeilgraph(db.prisma, { models: { Journal: 'journal', Notebook: 'notebook' } }), t.gateway.manifest)).toThrow(/Notebook is not a type with @privacy fields/);
  });

  it('createVeilgraph refuses to start with such adapters, before it creates anything', async () => {
    const sdl = readFileSync(join(ROOT, 'test/fixtures/journal/journal.graphql'), 'utf8');
    const parent = mkdtempSync(join(tmpdir(), 'veilgraph-prisma-attach-'));
    try {
      for (const [models, says] of [
        [{ Journal: 'diary' }, 'not a model of this Prisma client'],
        [{ Journal: 'notebook' }, 'Notebook.authorId must be a String column'],
      ] as const) {
        const dataDir = join(parent, 'data');
        const error = await createVeilgraph({ typeDefs: sdl, services: allServices(), types: prismaVeilgraph(db.prisma, { models }).types, dataDir, logSink: () => undefined }).then(
          async (v) => (await v.close(), undefined),
          (e: unknown) => e,
        );
        expect(error).toMatchObject({ name: 'VeilgraphError', code: 'CONFIG_INVALID' });
        expect((error as Error).message).toContain(says);
        expect(existsSync(dataDir)).toBe(false);
      }
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('adapters that were not given to the veilgraph of a request refuse to serve it', async () => {
    const stranger = prismaVeilgraph(db.prisma, { models: { Journal: 'journal' } });
    const ctx = await contextOf(alice);
    expect(() => stranger.forRequest(ctx)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    await expect(stranger.types.Journal!.owners(['x'], ctx)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(stranger.types.Journal!.find!('x')).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});

describe('at rest', () => {
  it('the raw database file and the gateway log never hold a SERVER, SHARED or PRIVATE value in clear', () => {
    expect(canaries.length).toBeGreaterThan(20);
    const raw = rawDatabase();
    const logs = t.logs.join('\n');
    for (const c of canaries) {
      expect(raw.includes(c), c).toBe(false);
      expect(logs.includes(c), c).toBe(false);
    }
  });
});

describe('on PostgreSQL (the author\'s database; veilgraph\'s own store stays SQLite)', () => {
  let server: TestPostgres;
  let pgdb: JournalDatabase;
  let pgJournals: PrismaVeilgraph;

  beforeAll(async () => {
    server = await startPostgres();
    pgdb = await openJournalDatabase({ postgres: server });
    pgJournals = prismaVeilgraph(pgdb.prisma, { models: { Journal: 'journal' } });
    // What createVeilgraph does with the adapters it is given (this client is not among them).
    pgJournals.types.Journal!.attach!({ type: 'Journal', manifest: t.gateway.manifest });
  }, 120_000);

  afterAll(async () => {
    await pgdb?.close();
    await server?.stop();
  });

  const serverValues = (r: JournalRow): Record<string, unknown> => codec.open('Journal', { serverSealed: new Uint8Array(r.serverSealed!) }, r.authorId, r.id);

  it('creates sealed, merges SERVER values on update under compare-and-swap, and re-seals through the adapter', async () => {
    const ctx = await contextOf(alice);
    const client = pgdb.prisma.$extends(pgJournals.forRequest(ctx));
    const id = newObjectId();
    const plain = { mood: canary('pg-mood'), place: canary('pg-place'), secret: canary('pg-secret') };
    const secret = seal(alice.vault, 'Journal.secret', alice.id, id, plain.secret);
    await client.journal.create({ data: { id, title: 'on postgres', mood: plain.mood, place: plain.place, secret } });
    let stored = (await pgdb.prisma.journal.findUnique({ where: { id } }))!;
    expect(stored).toMatchObject({ authorId: alice.id, title: 'on postgres', secret, moodIndex: t.gateway.veil.blindIndex('Journal.mood', plain.mood) });
    expect(serverValues(stored)).toEqual({ mood: plain.mood, place: plain.place });
    expect(JSON.stringify(stored)).not.toContain(plain.mood);

    // Another writer between the read and the write: merged again from the newer row.
    let once = true;
    const racing = client.$extends({
      name: 'another writer',
      query: {
        async $allOperations({ operation, args, query }: { operation: string; args: unknown; query: (a: unknown) => Promise<unknown> }) {
          if (operation === 'update' && once) {
            once = false;
            await client.journal.update({ where: { id }, data: { place: 'theirs' } });
          }
          return query(args);
        },
      },
    });
    await racing.journal.update({ where: { id }, data: { mood: 'mine' } });
    stored = (await pgdb.prisma.journal.findUnique({ where: { id } }))!;
    expect(serverValues(stored)).toEqual({ mood: 'mine', place: 'theirs' });

    const bad = seal(alice.vault, 'Journal.secret', alice.id, newObjectId(), 'elsewhere');
    await expect(client.journal.update({ where: { id }, data: { secret: bad } })).rejects.toMatchObject({ extensions: { code: 'BAD_SEALED_VALUE' } });
    expect(await pgdb.prisma.journal.findUnique({ where: { id } })).toEqual(stored);

    expect(Object.fromEntries(await pgJournals.types.Journal!.owners([id, 'none'], ctx))).toEqual({ [id]: alice.id });
    const reseal = pgJournals.types.Journal!.reseal!;
    const to = rotateKeyRingFile(nodeBackend, join(t.dataDir, 'keyring.json'));
    t.gateway.keyring.refresh(true);
    expect(await reseal.count!(to)).toBe(1);
    const [r] = await reseal.stale(to, 10);
    const next = codec.reseal('Journal', r!.serverSealed as Uint8Array, alice.id, id);
    expect(await reseal.swap(id, new Uint8Array(4), next.sealed, next.keyVersion)).toBe(false);
    expect(await reseal.swap(id, r!.serverSealed as Uint8Array, next.sealed, next.keyVersion)).toBe(true);
    expect(await reseal.count!(to)).toBe(0);
    stored = (await pgdb.prisma.journal.findUnique({ where: { id } }))!;
    expect(stored.serverKeyVersion).toBe(to);
    expect(serverValues(stored)).toEqual({ mood: 'mine', place: 'theirs' });
  });

  it('in an interactive transaction, a second update of a row the transaction changed ends in CONFLICT, and the transaction writes nothing', async () => {
    const client = pgdb.prisma.$extends(pgJournals.forRequest(await contextOf(alice)));
    const id = newObjectId();
    await client.journal.create({ data: { id, title: 'before', mood: 'before' } });
    const before = await pgdb.prisma.journal.findUnique({ where: { id } });
    await expect(
      client.$transaction(async (tx) => {
        await tx.journal.update({ where: { id }, data: { mood: 'first' } });
        await tx.journal.update({ where: { id }, data: { title: 'second' } });
      }),
    ).rejects.toMatchObject({ extensions: { code: 'CONFLICT' } });
    expect(await pgdb.prisma.journal.findUnique({ where: { id } })).toEqual(before);
  });
});

describe('types', () => {
  it("the extended client keeps the author's generated types (checked by npm run typecheck)", () => {
    expectTypeOf(typedUse).returns.resolves.toEqualTypeOf<{ id: string; displayName: string; ownerId: string } | null>();
  });
});

/** The repository's own generated client stands in for any author's: `$extends` with the extension keeps its model types. */
function typedUse(prisma: RepositoryPrismaClient, ctx: VeilContext) {
  return prisma.$extends(journals.forRequest(ctx)).profile.findUnique({ where: { id: 'x' }, select: { id: true, displayName: true, ownerId: true } });
}
