/**
 * @module
 * Storage suite (issue 17, goal 2, and the store share of goal 4's send path): each hot read
 * through the gateway's `Store` against the same SQL as a prepared statement on the same
 * database and driver, interleaved, on SQLite and on PostgreSQL.
 *
 *   store      `openStore`'s store: the hot paths run as direct statements on the adapter's
 *              own driver connection (docs/storage.md, "Hot paths"), with the store's gate,
 *              error mapping and row decoding (Prisma's types: Date, Uint8Array, boolean).
 *   prepared   the baseline: the same SQL text, prepared once on a connection of its own of
 *              the same driver (better-sqlite3 on the same file; one node-postgres client on
 *              the same database, a named statement), rows as the driver returns them.
 *   prisma     the same store without direct statements (every query through Prisma's
 *              query compiler and driver adapter), as the hot paths ran before; a row only.
 *
 * Reads (each one call of the store, as the gateway makes it):
 *   page N           `listProfiles(N)`: the reference list query's rows (10 columns, a 96-byte
 *                    SERVER blob, two envelope texts), N = 1, 100.
 *   grants N         `accessOf('Profile', <N ids>, viewer)`: the viewer's access on a page (the
 *                    layer's access check). SQLite: the baseline's IN list has exactly N
 *                    parameters (the store pads to a power of two); PostgreSQL: one array parameter.
 *   device check     `findDevice(id)`.
 *   conversation + membership  `findConversation` and `findMember` together (Promise.all,
 *                    as the messaging service's membership check); baseline: both statements.
 *   sender's key     `findUserById(id)`.
 *
 * Send path: the store calls `sendMessage` makes for a new message (membership, the sender's
 * key, `insertMessage` with a fresh client id), timed as one operation through the store and
 * through Prisma alone, against the same statements prepared on the baseline connection, one
 * after the other (conversation, member, user, then BEGIN [+ the advisory lock], hold the
 * epoch, insert, COMMIT; on PostgreSQL the hold and the insert are one statement, as in the
 * store). The rest of a send (GraphQL, the signature check) is the messaging
 * suite's.
 *
 * PostgreSQL: a throwaway server from test/helpers/postgres.ts (fails loudly when it cannot start).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { createClient, openStore, resolveDatabaseTarget, type OpenStoreOptions } from '../src/server/storage/open.js';
import { MESSAGE_SEQ_LOCK_KEY, PrismaStore } from '../src/server/storage/prisma-store.js';
import { FIND_CONVERSATION, FIND_DEVICE, FIND_MEMBER, FIND_USER, accessStatement, ACCESS_OF_ANY, HOLD_EPOCH, HOLD_EPOCH_AND_INSERT_MESSAGE, INSERT_MESSAGE, LIST_PROFILES } from '../src/server/storage/hot-sql.js';
import type { Statement } from '../src/server/storage/direct-sql.js';
import { startPostgres, type TestPostgres } from '../test/helpers/postgres.js';
import { fmtNs, fmtRatio, fmtSpread, progress, progressDone, runInterleaved, table, type BenchOptions, type Case, type CaseResult } from './harness.js';

/** Goal 2: a hot read through the store within this factor of the prepared statement. */
const GOAL_VS_PREPARED = 2;
/** Goal 4: the whole send path within this much server time; the store's share is shown against it. */
const GOAL_SEND_MS = 2;
const PROFILES = 1000;
const PAGE_SIZES = [1, 100] as const;

interface ReadResult {
  readonly db: 'sqlite' | 'postgres';
  readonly read: string;
  readonly store: CaseResult;
  readonly prepared: CaseResult;
  readonly prisma: CaseResult;
}

interface SendResult {
  readonly db: 'sqlite' | 'postgres';
  readonly store: CaseResult;
  readonly prepared: CaseResult;
  readonly prisma: CaseResult;
}

export interface StorageBenchResult {
  readonly reads: readonly ReadResult[];
  readonly send: readonly SendResult[];
  readonly goals: { readonly name: string; readonly pass: boolean }[];
}

/** Runs one prepared statement of the baseline driver: rows as the driver returns them. */
type Prepared = (s: Statement, params: readonly unknown[]) => Promise<unknown[]>;

/** The baseline driver's transaction statements (PostgreSQL: BEGIN with the advisory lock, as the store). */
interface PreparedTx {
  begin(): Promise<unknown>;
  commit(): Promise<unknown>;
  /** A timestamp parameter as the store sends it. */
  date(d: Date): string;
}

const bytes = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);
const pad = (i: number): string => String(i).padStart(4, '0');

async function seed(store: PrismaStore): Promise<void> {
  await store.createUser({ id: 'viewer', username: 'viewer', signingKey: bytes(32, 1), encryptionKey: bytes(32, 2) }, { signingKeyId: 'kid-viewer', signature: bytes(64, 3) });
  await store.createUser({ id: 'other', username: 'other', signingKey: bytes(32, 4), encryptionKey: bytes(32, 5) }, { signingKeyId: 'kid-other', signature: bytes(64, 6) });
  for (let i = 0; i < PROFILES; i++) {
    const id = `owner-${pad(i)}`;
    await store.createUser({ id, username: id, signingKey: bytes(32, 7), encryptionKey: bytes(32, 8) }, { signingKeyId: `kid-${id}`, signature: bytes(64, 9) });
    await store.createProfile({ id: `profile-${pad(i)}`, ownerId: id, displayName: `Owner ${i}`, serverSealed: bytes(96, i % 256), serverKeyVersion: 1, emailIndex: `idx-${i}`, bio: 'b'.repeat(300), diary: 'd'.repeat(300) });
    await store.upsertGrant({ objectType: 'Profile', objectId: `profile-${pad(i)}`, granteeId: 'viewer', access: 'READ' });
  }
  await store.createDevice({ id: 'device-viewer-0001', userId: 'viewer', name: 'laptop', status: 'ACTIVE', signingKey: bytes(32, 10), encryptionKey: bytes(32, 11), approvedAt: new Date(), expiresAt: null });
  await store.createConversation({ id: 'conversation-bench-01', kind: 'GROUP', createdById: 'viewer', historySharing: false, epochTtlSeconds: null }, [
    { userId: 'viewer', role: 'ADMIN' },
    { userId: 'other', role: 'MEMBER' },
  ], [
    { recipientId: 'viewer', wrapped: bytes(120, 12) },
    { recipientId: 'other', wrapped: bytes(120, 13) },
  ]);
}

/** The gateway's calls, and the same SQL for the baseline. */
function readCases(store: PrismaStore, prisma: PrismaStore, prepared: Prepared): { read: string; store: () => Promise<unknown>; prisma: () => Promise<unknown>; prepared: () => Promise<unknown> }[] {
  const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `profile-${pad(i)}`);
  const out = [];
  for (const n of PAGE_SIZES) {
    out.push({ read: `page N=${n}`, store: () => store.listProfiles(n), prisma: () => prisma.listProfiles(n), prepared: () => prepared(LIST_PROFILES, [n]) });
  }
  for (const n of PAGE_SIZES) {
    const list = ids(n);
    // The layer's access check of a page (src/server/access.ts): the viewer's access on N objects.
    out.push({
      read: `viewer's grants N=${n}`,
      store: () => store.accessOf('Profile', list, 'viewer'),
      prisma: () => prisma.accessOf('Profile', list, 'viewer'),
      prepared: () => (store.kind === 'sqlite' ? prepared(accessStatement(n), ['Profile', 'viewer', ...list]) : prepared(ACCESS_OF_ANY, ['Profile', 'viewer', list])),
    });
  }
  out.push({ read: 'device check (findDevice)', store: () => store.findDevice('device-viewer-0001'), prisma: () => prisma.findDevice('device-viewer-0001'), prepared: () => prepared(FIND_DEVICE, ['device-viewer-0001']) });
  const membership = (s: PrismaStore) => () => Promise.all([s.findConversation('conversation-bench-01'), s.findMember('conversation-bench-01', 'viewer')]);
  out.push({
    read: 'conversation + membership',
    store: membership(store),
    prisma: membership(prisma),
    prepared: () => Promise.all([prepared(FIND_CONVERSATION, ['conversation-bench-01']), prepared(FIND_MEMBER, ['conversation-bench-01', 'viewer'])]),
  });
  out.push({ read: "sender's key (findUserById)", store: () => store.findUserById('viewer'), prisma: () => prisma.findUserById('viewer'), prepared: () => prepared(FIND_USER, ['viewer']) });
  return out;
}

/** `sendMessage`'s store calls for a new message (src/server/services/messaging/messaging.ts). */
function sendCase(s: PrismaStore, tag: string): () => Promise<unknown> {
  let n = 0;
  return async () => {
    const [conversation, member] = await Promise.all([s.findConversation('conversation-bench-01'), s.findMember('conversation-bench-01', 'viewer')]);
    if (!conversation || !member) throw new Error('bench: membership missing');
    await s.findUserById(member.userId);
    const { created } = await s.insertMessage({ conversationId: conversation.id, clientId: `bench-${tag}-${String(++n).padStart(10, '0')}`, senderId: member.userId, epoch: conversation.epoch, body: 'e'.repeat(400), expiresAt: null });
    if (!created) throw new Error('bench: message not created');
  };
}

/** The same statements as the store's send path, prepared, one after the other on one connection. */
function preparedSendCase(db: 'sqlite' | 'postgres', prepared: Prepared, tx: PreparedTx): () => Promise<unknown> {
  let n = 0;
  return async () => {
    await prepared(FIND_CONVERSATION, ['conversation-bench-01']);
    await prepared(FIND_MEMBER, ['conversation-bench-01', 'viewer']);
    await prepared(FIND_USER, ['viewer']);
    await tx.begin();
    const row = ['conversation-bench-01', `bench-prepared-${String(++n).padStart(10, '0')}`, 'viewer', 1, 'e'.repeat(400), null, tx.date(new Date())];
    let rows: unknown[];
    if (db === 'postgres') {
      rows = await prepared(HOLD_EPOCH_AND_INSERT_MESSAGE, [1, 'conversation-bench-01', 1, ...row]);
    } else {
      await prepared(HOLD_EPOCH, [1, 'conversation-bench-01', 1]);
      rows = await prepared(INSERT_MESSAGE, row);
    }
    await tx.commit();
    if (rows.length !== 1 || (rows[0] as { seq: unknown }).seq === null) throw new Error('bench: message not created');
  };
}

interface Fixture {
  readonly db: 'sqlite' | 'postgres';
  readonly store: PrismaStore;
  readonly prisma: PrismaStore;
  readonly prepared: Prepared;
  readonly tx: PreparedTx;
  close(): Promise<void>;
}

async function openFixture(db: 'sqlite' | 'postgres', options: OpenStoreOptions, file?: string): Promise<Fixture> {
  const store = await openStore(options);
  if (!store.direct) throw new Error(`bench: the ${db} store does not use direct statements`);
  const prisma = new PrismaStore(db, createClient(resolveDatabaseTarget(options)));
  await seed(store);
  if (db === 'sqlite') {
    // A connection of its own on the same file, statements prepared once.
    const conn = new Database(file!, { timeout: 10_000 });
    const cache = new Map<Statement, Database.Statement>();
    const prepared: Prepared = (s, params) => {
      let st = cache.get(s);
      if (!st) cache.set(s, (st = conn.prepare(s.sqlite)));
      return Promise.resolve(st.reader ? st.all(...params) : (st.run(...params), []));
    };
    const begin = conn.prepare('BEGIN IMMEDIATE');
    const commit = conn.prepare('COMMIT');
    const tx: PreparedTx = { begin: () => Promise.resolve(begin.run()), commit: () => Promise.resolve(commit.run()), date: (d) => d.toISOString().replace('Z', '+00:00') };
    return { db, store, prisma, prepared, tx, close: async () => (conn.close(), await prisma.close(), await store.close()) };
  }
  const client = new pg.Client({ connectionString: options.databaseUrl });
  await client.connect();
  const prepared: Prepared = async (s, params) => (await client.query({ name: s.name, text: s.postgres, values: [...params] })).rows;
  const tx: PreparedTx = {
    begin: () => client.query(`BEGIN; SELECT pg_advisory_xact_lock(${MESSAGE_SEQ_LOCK_KEY})`),
    commit: () => client.query('COMMIT'),
    date: (d) => d.toISOString().replace('T', ' ').replace('Z', ''),
  };
  return { db, store, prisma, prepared, tx, close: async () => (await client.end(), await prisma.close(), await store.close()) };
}

async function measure(fx: Fixture, opts: BenchOptions): Promise<{ reads: ReadResult[]; send: SendResult }> {
  const reads: ReadResult[] = [];
  for (const c of readCases(fx.store, fx.prisma, fx.prepared)) {
    progress(`storage: ${fx.db} ${c.read}`);
    const cases: Case[] = [
      { name: 'store', fn: c.store, async: true },
      { name: 'prepared', fn: c.prepared, async: true },
      { name: 'prisma', fn: c.prisma, async: true },
    ];
    const [store, prepared, prisma] = await runInterleaved(cases, opts);
    reads.push({ db: fx.db, read: c.read, store: store!, prepared: prepared!, prisma: prisma! });
  }
  progress(`storage: ${fx.db} send path`);
  const [store, prepared, prisma] = await runInterleaved(
    [
      { name: 'store', fn: sendCase(fx.store, 'store'), async: true },
      { name: 'prepared', fn: preparedSendCase(fx.db, fx.prepared, fx.tx), async: true },
      { name: 'prisma', fn: sendCase(fx.prisma, 'prisma'), async: true },
    ],
    opts,
  );
  return { reads, send: { db: fx.db, store: store!, prepared: prepared!, prisma: prisma! } };
}

export async function runStorageBench(opts: BenchOptions): Promise<StorageBenchResult> {
  console.log('## storage');
  console.log('');
  const reads: ReadResult[] = [];
  const send: SendResult[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'veilgraph-bench-storage-'));
  let postgres: TestPostgres | undefined;
  try {
    const run = async (fx: Fixture): Promise<void> => {
      try {
        const r = await measure(fx, opts);
        reads.push(...r.reads);
        send.push(r.send);
      } finally {
        await fx.close();
      }
    };
    progress('storage: SQLite set-up');
    await run(await openFixture('sqlite', { dataDir: dir }, join(dir, 'veilgraph.db')));
    progress('storage: starting PostgreSQL');
    postgres = await startPostgres();
    await run(await openFixture('postgres', { dataDir: dir, databaseUrl: await postgres.createDatabase('bench_storage') }));
  } finally {
    progressDone();
    await postgres?.stop();
    rmSync(dir, { recursive: true, force: true });
  }

  const us = (r: CaseResult): string => fmtNs(r.medianNs);
  console.log(`Hot reads: ${PROFILES} profiles, the viewer holds a grant on each; time per call (median), ratio to the prepared statement`);
  console.log('');
  console.log(
    table(
      ['database', 'read', 'store', 'prepared', 'store ÷ prepared', 'prisma', 'prisma ÷ prepared', 'spread (store / prepared)'],
      reads.map((r) => [r.db, r.read, us(r.store), us(r.prepared), fmtRatio(r.store.medianNs / r.prepared.medianNs), us(r.prisma), fmtRatio(r.prisma.medianNs / r.prepared.medianNs), `${fmtSpread(r.store.spread)} / ${fmtSpread(r.prepared.spread)}`]),
      ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
  );
  console.log('');
  console.log("Send path: sendMessage's store calls for a new message (membership, the sender's key, insertMessage), one operation");
  console.log('');
  console.log(
    table(
      ['database', 'store', 'prepared (same statements)', 'store ÷ prepared', 'prisma', 'prisma ÷ store'],
      send.map((s) => [s.db, us(s.store), us(s.prepared), fmtRatio(s.store.medianNs / s.prepared.medianNs), us(s.prisma), fmtRatio(s.prisma.medianNs / s.store.medianNs)]),
      ['l', 'r', 'r', 'r', 'r', 'r'],
    ),
  );
  console.log('');

  const goals: StorageBenchResult['goals'] = [];
  const line = (name: string, detail: string, pass: boolean): void => {
    goals.push({ name, pass });
    console.log(`  ${name}: ${detail} → ${pass ? 'PASS' : 'MISS'}`);
  };
  console.log('goals:');
  for (const db of ['sqlite', 'postgres'] as const) {
    for (const r of reads.filter((x) => x.db === db)) {
      const ratio = r.store.medianNs / r.prepared.medianNs;
      line(`${db} ${r.read} ≤ ${GOAL_VS_PREPARED}× a prepared statement`, `${fmtRatio(ratio)}× (${us(r.store)} vs ${us(r.prepared)})`, ratio <= GOAL_VS_PREPARED);
    }
  }
  for (const s of send) {
    line(
      `${s.db} send path store calls within the send path's ${GOAL_SEND_MS} ms`,
      `${us(s.store)} (${fmtRatio(s.store.medianNs / s.prepared.medianNs)}× the same statements prepared, ${us(s.prepared)}; Prisma alone ${us(s.prisma)})`,
      s.store.medianNs <= GOAL_SEND_MS * 1e6,
    );
  }
  console.log('');
  return { reads, send, goals };
}
