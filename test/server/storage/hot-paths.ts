/**
 * The store's hot paths (direct statements on the driver, docs/storage.md "Hot paths")
 * against the Prisma path on the same database: every hot read returns exactly what Prisma
 * returns for the same rows (values, types, nulls, dates, bytes, booleans), and a message
 * inserted directly reads back through Prisma as it was returned. Run by sqlite.test.ts and
 * postgres.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClient, createClientAndDirect, openStore, resolveDatabaseTarget } from '../../../src/server/storage/open.js';
import type { DirectSql } from '../../../src/server/storage/direct-sql.js';
import { PrismaStore } from '../../../src/server/storage/prisma-store.js';
import { StorageError } from '../../../src/server/storage/errors.js';
import { firstKey, key, profile, type SuiteTarget } from './suite.js';

export function hotPathSuite(target: SuiteTarget): void {
  describe(`hot paths on ${target.kind}: direct statements return what Prisma returns`, () => {
    let fast: PrismaStore;
    let slow: PrismaStore;
    let client: ReturnType<typeof createClient>;
    let options: Awaited<ReturnType<SuiteTarget['fresh']>>;
    const tz = process.env.TZ;

    beforeEach(async () => {
      // A zone far from UTC (+13:45 / +12:45): a DateTime read or written as local time shows.
      process.env.TZ = 'Pacific/Chatham';
      options = await (target.empty ?? target.fresh)();
      fast = await openStore(options);
      // The same database through Prisma alone: a store without direct statements.
      client = createClient(resolveDatabaseTarget(options));
      slow = new PrismaStore(target.kind, client);
      await fast.createUser({ id: 'alice', username: 'alice', signingKey: key(1), encryptionKey: key(2) }, firstKey());
      await fast.createUser({ id: 'bob', username: 'bob', signingKey: key(3), encryptionKey: key(4) }, firstKey());
    });

    afterEach(async () => {
      await slow.close();
      await fast.close();
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    });

    it('runs in a zone far from UTC', () => {
      expect(new Date(Date.UTC(2026, 0, 1)).getTimezoneOffset()).not.toBe(0);
    });

    /** Both paths, the same answer, in the same types (toStrictEqual: Uint8Array is not Buffer, Date is Date). */
    async function same<T>(read: (s: PrismaStore) => Promise<T>): Promise<T> {
      const viaPrisma = await read(slow);
      const direct = await read(fast);
      expect(direct).toStrictEqual(viaPrisma);
      return direct;
    }

    it('the opened store uses direct statements, the Prisma-only one does not', () => {
      expect(fast.direct).toBe(true);
      expect(slow.direct).toBe(false);
    });

    it('findUserById: bytes as plain Uint8Array, createdAt as Date, null for an unknown id', async () => {
      const u = await same((s) => s.findUserById('alice'));
      expect(u).toMatchObject({ id: 'alice', username: 'alice' });
      expect(Object.getPrototypeOf(u!.signingKey)).toBe(Uint8Array.prototype);
      expect(u!.createdAt).toBeInstanceOf(Date);
      expect(await same((s) => s.findUserById('nobody'))).toBeNull();
    });

    it('findUsersByIds (the user loader): the same users, unknown ids left out, past one chunk', async () => {
      const byId = (us: { id: string }[]): { id: string }[] => [...us].sort((a, b) => (a.id < b.id ? -1 : 1));
      expect(byId(await same(async (s) => byId(await s.findUsersByIds(['bob', 'nobody', 'alice', 'bob']))))).toHaveLength(2);
      const many = [...Array.from({ length: 600 }, (_, i) => `x${i}`), 'alice', 'bob', 'carol'];
      expect(await same(async (s) => byId(await s.findUsersByIds(many)))).toHaveLength(2);
      expect(await same((s) => s.findUsersByIds(['nobody']))).toEqual([]);
    });

    it('findDevice: every nullable date null, then set', async () => {
      const base = { userId: 'alice', name: 'phone', signingKey: key(5), encryptionKey: key(6) };
      await fast.createDevice({ id: 'dev-pending-000000', ...base, status: 'PENDING', approvedAt: null, expiresAt: new Date(Date.now() + 60_000) });
      await fast.createDevice({ id: 'dev-active-0000000', ...base, status: 'ACTIVE', approvedAt: new Date(1_700_000_000_123), expiresAt: null });
      expect(await same((s) => s.findDevice('dev-pending-000000'))).toMatchObject({ status: 'PENDING', approvedAt: null, revokedAt: null, lastSeenAt: null });
      await fast.touchDevice('dev-active-0000000', new Date(1_700_000_000_000));
      await fast.revokeDevice('dev-active-0000000', 'alice', new Date(1_700_000_001_999));
      const d = await same((s) => s.findDevice('dev-active-0000000'));
      expect(d).toMatchObject({ status: 'REVOKED', approvedAt: new Date(1_700_000_000_123), lastSeenAt: new Date(1_700_000_000_000), revokedAt: new Date(1_700_000_001_999), expiresAt: null });
      expect(await same((s) => s.findDevice('no-such-device-00'))).toBeNull();
    });

    it('findConversation and findMember: booleans both ways, nullable TTL, roles', async () => {
      await fast.createConversation({ id: 'conv-history-on-0', kind: 'GROUP', createdById: 'alice', historySharing: true, epochTtlSeconds: 3600 }, [
        { userId: 'alice', role: 'ADMIN' },
        { userId: 'bob', role: 'MEMBER' },
      ], [{ recipientId: 'alice', wrapped: key(9, 100) }]);
      await fast.createConversation({ id: 'conv-history-off', kind: 'DIRECT', createdById: 'bob', historySharing: false, epochTtlSeconds: null }, [{ userId: 'bob', role: 'ADMIN' }], []);
      expect(await same((s) => s.findConversation('conv-history-on-0'))).toMatchObject({ historySharing: true, epochTtlSeconds: 3600, epoch: 1 });
      expect(await same((s) => s.findConversation('conv-history-off'))).toMatchObject({ historySharing: false, epochTtlSeconds: null, kind: 'DIRECT' });
      expect(await same((s) => s.findConversation('no-such-conversation'))).toBeNull();
      expect(await same((s) => s.findMember('conv-history-on-0', 'bob'))).toMatchObject({ role: 'MEMBER', joinedEpoch: 1 });
      expect(await same((s) => s.findMember('conv-history-off', 'alice'))).toBeNull();
    });

    it('grantsFor: every list length up to past one chunk, with and without the grantee, duplicates once', async () => {
      for (let i = 0; i < 40; i++) {
        await fast.upsertGrant({ objectType: 'Profile', objectId: `p${String(i).padStart(3, '0')}`, granteeId: i % 3 === 0 ? 'bob' : 'alice', access: i % 2 === 0 ? 'READ' : 'WRITE' });
      }
      await fast.upsertGrant({ objectType: 'Other', objectId: 'p001', granteeId: 'bob', access: 'READ' });
      const ids = Array.from({ length: 40 }, (_, i) => `p${String(i).padStart(3, '0')}`);
      for (const n of [1, 2, 3, 5, 8, 17, 40]) {
        const some = ids.slice(0, n);
        await same((s) => s.grantsFor('Profile', some, 'bob'));
        expect((await same((s) => s.grantsFor('Profile', some))).length).toBe(n);
      }
      await same((s) => s.grantsFor('Profile', ['p001', 'p001', 'missing', 'p002']));
      // More than one IN chunk (500): the same rows in the same order.
      const many = [...Array.from({ length: 700 }, (_, i) => `x${i}`), ...ids];
      expect((await same((s) => s.grantsFor('Profile', many))).length).toBe(40);
      expect(await same((s) => s.grantsFor('Profile', ids, 'nobody'))).toEqual([]);
    });

    it('accessOf: the same access as Prisma for every list length up to past one chunk, duplicates once', async () => {
      for (let i = 0; i < 40; i++) {
        await fast.upsertGrant({ objectType: 'Profile', objectId: `a${String(i).padStart(3, '0')}`, granteeId: i % 3 === 0 ? 'bob' : 'alice', access: i % 2 === 0 ? 'READ' : 'WRITE' });
      }
      await fast.upsertGrant({ objectType: 'Other', objectId: 'a001', granteeId: 'bob', access: 'READ' });
      const ids = Array.from({ length: 40 }, (_, i) => `a${String(i).padStart(3, '0')}`);
      const sorted = async (s: PrismaStore, list: readonly string[], grantee: string) => (await s.accessOf('Profile', list, grantee)).sort((a, b) => (a.objectId < b.objectId ? -1 : 1));
      for (const n of [1, 2, 3, 5, 8, 17, 40]) {
        const bobs = await same((s) => sorted(s, ids.slice(0, n), 'bob'));
        expect(bobs).toEqual(ids.slice(0, n).flatMap((id, i) => (i % 3 === 0 ? [{ objectId: id, access: i % 2 === 0 ? 'READ' : 'WRITE' }] : [])));
      }
      expect(await same((s) => sorted(s, ['a001', 'a001', 'missing', 'a002'], 'alice'))).toEqual([
        { objectId: 'a001', access: 'WRITE' },
        { objectId: 'a002', access: 'READ' },
      ]);
      // More than one chunk (500 ids).
      const many = [...Array.from({ length: 700 }, (_, i) => `x${i}`), ...ids];
      expect(await same((s) => sorted(s, many, 'alice'))).toHaveLength(26);
      expect(await same((s) => sorted(s, ids, 'nobody'))).toEqual([]);
    });

    it('listProfiles: pages with and without a cursor, bytes and nulls', async () => {
      await fast.createUser({ id: 'carol', username: 'carol', signingKey: key(7), encryptionKey: key(8) }, firstKey());
      await fast.createProfile(profile('p-a', 'alice', { serverSealed: key(0xab, 77), serverKeyVersion: 2, emailIndex: 'idx', bio: 'bio text', diary: 'diary text' }));
      await fast.createProfile(profile('p-b', 'bob'));
      await fast.createProfile(profile('p-c', 'carol', { serverSealed: new Uint8Array(0) }));
      await fast.updateProfile('p-b', { bio: 'later' });
      const all = await same((s) => s.listProfiles(10));
      expect(all.map((p) => p.id)).toEqual(['p-a', 'p-b', 'p-c']);
      expect(Object.getPrototypeOf(all[0]!.serverSealed)).toBe(Uint8Array.prototype);
      expect(await same((s) => s.listProfiles(1, 'p-a'))).toHaveLength(1);
      expect(await same((s) => s.listProfiles(5, 'p-c'))).toEqual([]);
    });

    it('insertMessage: the row it returns is the row Prisma reads back; a retry and a stale epoch behave as on Prisma', async () => {
      await fast.createConversation({ id: 'conv-messages-000', kind: 'GROUP', createdById: 'alice', historySharing: false, epochTtlSeconds: null }, [
        { userId: 'alice', role: 'ADMIN' },
        { userId: 'bob', role: 'MEMBER' },
      ], []);
      const m = { conversationId: 'conv-messages-000', senderId: 'alice', epoch: 1, body: 'envelope' };
      const a = await fast.insertMessage({ ...m, clientId: 'client-id-direct-1', expiresAt: new Date(Date.now() + 3_600_123) });
      const b = await slow.insertMessage({ ...m, clientId: 'client-id-prisma-1', expiresAt: null });
      expect(a.created).toBe(true);
      expect(await slow.findMessageByClientId('conv-messages-000', 'client-id-direct-1')).toStrictEqual(a.message);
      expect(await fast.findMessageByClientId('conv-messages-000', 'client-id-prisma-1')).toStrictEqual(b.message);
      expect(b.message.seq).toBe(a.message.seq + 1);
      // Stored alike: the same column encodings whichever path wrote the row.
      const raw = await client.$queryRawUnsafe<{ createdAt: unknown; expiresAt: unknown }[]>(
        target.kind === 'postgres' ? 'SELECT "createdAt"::text AS "createdAt", "expiresAt"::text AS "expiresAt" FROM "public"."Message" ORDER BY "seq"' : 'SELECT "createdAt" || \'\' AS "createdAt", "expiresAt" || \'\' AS "expiresAt" FROM "Message" ORDER BY "seq"',
      );
      // Digits and fractions aside (PostgreSQL's text drops trailing zeros of the milliseconds).
      const shape = (v: unknown): string => {
        expect(typeof v).toBe('string');
        return String(v).replace(/\.\d+/, '').replace(/\d/g, '9');
      };
      expect(shape(raw[0]!.createdAt)).toBe(shape(raw[1]!.createdAt));
      expect(shape(raw[0]!.expiresAt)).toBe(shape(raw[1]!.createdAt));
      // A retry returns the stored one, not created.
      expect(await fast.insertMessage({ ...m, clientId: 'client-id-direct-1', body: 'other', expiresAt: null })).toStrictEqual({ message: a.message, created: false });
      // A stale epoch, an unknown conversation, an unknown sender: the Prisma path's codes, and nothing written.
      const count = async (): Promise<number> => (await slow.messagesAfter(['conv-messages-000'], 0, 100, new Date())).length;
      const before = await count();
      const codeOf = (p: Promise<unknown>): Promise<unknown> => p.then(() => 'ok', (e: unknown) => (e instanceof StorageError ? e.code : e));
      expect(await codeOf(fast.insertMessage({ ...m, clientId: 'client-id-stale-01', epoch: 2, expiresAt: null }))).toBe('CONFLICT');
      expect(await codeOf(fast.insertMessage({ ...m, conversationId: 'no-such-conversation', clientId: 'client-id-nowhere1', expiresAt: null }))).toBe('INVALID_REFERENCE');
      expect(await codeOf(fast.insertMessage({ ...m, senderId: 'nobody', clientId: 'client-id-nobody01', expiresAt: null }))).toBe('INVALID_REFERENCE');
      expect(await count()).toBe(before);
      // After a rotation: a retry under the old epoch or the new one still gets the stored message, on both paths.
      await fast.rotateEpoch('conv-messages-000', 2, { keys: [] });
      for (const epoch of [1, 2]) {
        const retry = { ...m, clientId: 'client-id-direct-1', epoch, expiresAt: null };
        expect(await fast.insertMessage(retry)).toStrictEqual({ message: a.message, created: false });
        expect(await slow.insertMessage(retry)).toStrictEqual({ message: a.message, created: false });
      }
      expect(await count()).toBe(before);
    });

    /** A row without some of its fields. */
    const omit = (r: object, keys: readonly string[]): Record<string, unknown> => Object.fromEntries(Object.entries(r).filter(([k]) => !keys.includes(k)));

    /** `n` users `u000…`, written through the client in one statement (createUser per user would take seconds on PostgreSQL). */
    async function manyUsers(n: number): Promise<string[]> {
      const ids = Array.from({ length: n }, (_, i) => `u${String(i).padStart(3, '0')}`);
      await client.user.createMany({ data: ids.map((id, i) => ({ id, username: id, signingKey: new Uint8Array(key(i % 256)), encryptionKey: new Uint8Array(key((i + 1) % 256)) })) });
      return ids;
    }

    /** A conversation's members and epoch keys as stored, the conversation id left out, and the stored form of their createdAt. */
    async function stored(conversationId: string): Promise<unknown> {
      const members = await client.conversationMember.findMany({ where: { conversationId }, orderBy: { userId: 'asc' } });
      const keys = await client.epochKey.findMany({ where: { conversationId }, orderBy: [{ epoch: 'asc' }, { recipientId: 'asc' }] });
      const conversation = await client.conversation.findUnique({ where: { id: conversationId } });
      const raw = await client.$queryRawUnsafe<{ createdAt: unknown }[]>(
        target.kind === 'postgres'
          ? 'SELECT "createdAt"::text AS "createdAt" FROM "public"."EpochKey" WHERE "conversationId" = $1 UNION ALL SELECT "createdAt"::text FROM "public"."ConversationMember" WHERE "conversationId" = $1 UNION ALL SELECT "epochStartedAt"::text FROM "public"."Conversation" WHERE "id" = $1'
          : 'SELECT "createdAt" || \'\' AS "createdAt" FROM "EpochKey" WHERE "conversationId" = ? UNION ALL SELECT "createdAt" || \'\' FROM "ConversationMember" WHERE "conversationId" = ? UNION ALL SELECT "epochStartedAt" || \'\' FROM "Conversation" WHERE "id" = ?',
        ...(target.kind === 'postgres' ? [conversationId] : [conversationId, conversationId, conversationId]),
      );
      // Digits and fractions aside (PostgreSQL's text drops trailing zeros of the milliseconds).
      const shapes = new Set(raw.map((r) => String(r.createdAt).replace(/\.\d+/, '').replace(/\d/g, '9')));
      const strip = (r: object): Record<string, unknown> => omit(r, ['conversationId', 'createdAt']);
      return {
        members: members.map(strip),
        keys: keys.map(strip),
        epoch: conversation?.epoch,
        shapes: [...shapes],
      };
    }

    it('members: the same rows in the same order as Prisma, none for an unknown conversation', async () => {
      const ids = await manyUsers(40);
      await fast.createConversation({ id: 'conv-members-0000', kind: 'GROUP', createdById: 'alice', historySharing: false, epochTtlSeconds: null }, [
        { userId: 'alice', role: 'ADMIN' },
        ...[...ids].reverse().map((userId) => ({ userId, role: 'MEMBER' as const })),
      ], []);
      const members = await same((s) => s.members('conv-members-0000'));
      expect(members).toHaveLength(41);
      expect(members[0]).toMatchObject({ userId: 'alice', role: 'ADMIN', joinedEpoch: 1 });
      expect(members[0]!.createdAt).toBeInstanceOf(Date);
      expect(await same((s) => s.members('no-such-conversation'))).toEqual([]);
    });

    it('messagesAfter: the same rows as Prisma for every cursor, limit and list of conversations, expired ones left out', async () => {
      const members = [
        { userId: 'alice', role: 'ADMIN' as const },
        { userId: 'bob', role: 'MEMBER' as const },
      ];
      for (const id of ['conv-after-a', 'conv-after-b', 'conv-after-c']) {
        await fast.createConversation({ id, kind: 'GROUP', createdById: 'alice', historySharing: false, epochTtlSeconds: null }, members, []);
      }
      const now = new Date();
      // Interleaved across conversations; expiresAt: none, later, and already past (written
      // through Prisma: the store refuses nothing here, but a row may expire after it is written).
      const expiries = [null, new Date(now.getTime() + 3_600_000), new Date(now.getTime() - 1_000), null, new Date(now.getTime() + 1)];
      for (let i = 0; i < 15; i++) {
        await client.message.create({
          data: { conversationId: ['conv-after-a', 'conv-after-b', 'conv-after-c'][i % 3]!, clientId: `client-after-${String(i).padStart(4, '0')}`, senderId: i % 2 ? 'bob' : 'alice', epoch: 1, body: `body ${i}`, expiresAt: expiries[i % 5] },
        });
      }
      const all = await same((s) => s.messagesAfter(['conv-after-a', 'conv-after-b', 'conv-after-c'], 0, 100, now));
      expect(all.length).toBe(12); // the three already past left out
      expect(all.map((m) => m.seq)).toStrictEqual([...all.map((m) => m.seq)].sort((x, y) => x - y));
      expect(all.some((m) => m.expiresAt !== null)).toBe(true);
      const seqs = all.map((m) => m.seq);
      for (const ids of [['conv-after-a'], ['conv-after-b', 'conv-after-a'], ['conv-after-c', 'conv-after-c', 'no-such-conversation'], ['conv-after-a', 'conv-after-b', 'conv-after-c']]) {
        for (const after of [0, seqs[3]!, seqs[seqs.length - 1]!]) {
          for (const limit of [1, 2, 200]) await same((s) => s.messagesAfter(ids, after, limit, now));
        }
      }
      // Later, the row that expired a millisecond after `now` is gone on both paths.
      expect(await same((s) => s.messagesAfter(['conv-after-a', 'conv-after-b', 'conv-after-c'], 0, 100, new Date(now.getTime() + 10)))).toHaveLength(9);
      expect(await same((s) => s.messagesAfter(['no-such-conversation'], 0, 100, now))).toEqual([]);
    });

    it('messagesAfter runs as one direct statement, not through Prisma (the conversation feed reads each new message with it)', async () => {
      // A third store on the same database, whose direct statements are recorded.
      const { client: own, direct } = createClientAndDirect(resolveDatabaseTarget(options));
      await own.$queryRawUnsafe('SELECT 1'); // connects (SQLite: the adapter then exposes its connection)
      const names: string[] = [];
      const recording: DirectSql = { ...direct, all: (s, params, columns) => (names.push(s.name), direct.all(s, params, columns)) };
      const store = new PrismaStore(target.kind, own, { direct: recording });
      try {
        await store.createConversation({ id: 'conv-direct-read', kind: 'GROUP', createdById: 'alice', historySharing: false, epochTtlSeconds: null }, [
          { userId: 'alice', role: 'ADMIN' },
          { userId: 'bob', role: 'MEMBER' },
        ], []);
        const { message } = await store.insertMessage({ conversationId: 'conv-direct-read', clientId: 'client-id-direct-read', senderId: 'alice', epoch: 1, body: 'x', expiresAt: null });
        names.length = 0;
        expect(await store.messagesAfter(['conv-direct-read'], 0, 10, new Date())).toStrictEqual([message]);
        expect(await store.messagesAfter(['conv-direct-read', 'conv-direct-read', 'other'], 0, 10, new Date())).toStrictEqual([message]);
        expect(names).toStrictEqual(['veil_messages_after_1', 'veil_messages_after_2']);
      } finally {
        await store.close();
      }
    });

    it('rotateEpoch: the same rows as Prisma writes past every chunk size, the same returned row, and a rejected rotation writes nothing, with the same codes', async () => {
      // 600 members (more than one multi-row INSERT of 256 and one IN list of 500), in two
      // conversations alike: one rotated by each path.
      const ids = await manyUsers(600);
      const [stay, leave, join] = [ids.slice(0, 300), ids.slice(300, 590), ids.slice(590)];
      const wrap = (id: string, epoch: number): Uint8Array => key((Number(id.slice(1)) + epoch) % 256, 80);
      for (const id of ['conv-rotate-direct', 'conv-rotate-prisma']) {
        await fast.createConversation({ id, kind: 'GROUP', createdById: 'alice', historySharing: true, epochTtlSeconds: null }, [
          { userId: 'alice', role: 'ADMIN' },
          ...[...stay, ...leave].map((userId) => ({ userId, role: 'MEMBER' as const })),
        ], ['alice', ...stay, ...leave].map((recipientId) => ({ recipientId, wrapped: wrap(recipientId, 1) })));
      }
      const change = {
        // Removed: 290 members and 300 ids of no member (one IN list of 500 and another).
        remove: [...leave, ...Array.from({ length: 300 }, (_, i) => `gone${i}`), leave[0]!],
        add: join.map((userId) => ({ userId, role: 'MEMBER' as const })),
        keys: ['alice', ...stay, ...join].map((recipientId) => ({ recipientId, wrapped: wrap(recipientId, 2) })),
        historyKeys: join.map((recipientId) => ({ recipientId, epoch: 1, wrapped: wrap(recipientId, 1) })),
      };
      const viaDirect = await fast.rotateEpoch('conv-rotate-direct', 2, change);
      const viaPrisma = await slow.rotateEpoch('conv-rotate-prisma', 2, change);
      // Alike but for the id and the times (two conversations, written at different moments).
      expect(omit(viaDirect, ['id', 'epochStartedAt', 'createdAt'])).toStrictEqual(omit(viaPrisma, ['id', 'epochStartedAt', 'createdAt']));
      expect(viaDirect.epoch).toBe(2);
      expect(viaDirect.epochStartedAt).toBeInstanceOf(Date);
      expect(viaPrisma.epochStartedAt).toBeInstanceOf(Date);
      // The returned row is the stored row.
      expect(viaDirect).toStrictEqual(await slow.findConversation('conv-rotate-direct'));
      const direct = await stored('conv-rotate-direct');
      expect(direct).toStrictEqual(await stored('conv-rotate-prisma'));
      expect(direct).toMatchObject({ epoch: 2, shapes: [expect.any(String)] });
      expect((direct as { members: unknown[] }).members).toHaveLength(311);
      expect((direct as { keys: unknown[] }).keys).toHaveLength(301 + 311 + 10);
      expect(await same((s) => s.members('conv-rotate-direct'))).toHaveLength(311);

      // Rejected rotations: the same code on both paths, and no row changed.
      const codeOf = (p: Promise<unknown>): Promise<unknown> => p.then(() => 'ok', (e: unknown) => (e instanceof StorageError ? e.code : e));
      const rejected: [string, number, Parameters<PrismaStore['rotateEpoch']>[2]][] = [
        // A stale epoch (before anything is written).
        ['stale epoch', 2, { keys: [{ recipientId: 'alice', wrapped: key(1) }], remove: [stay[0]!] }],
        // No such conversation.
        ['no conversation', 3, { keys: [] }],
        // After the swap and the removal: an added member who already is one (a unique key).
        ['member twice', 3, { remove: [stay[1]!], keys: [{ recipientId: 'alice', wrapped: key(1) }], add: [{ userId: stay[2]!, role: 'MEMBER' }] }],
        // After the swap: a key for a user who does not exist (a foreign key), past the first insert.
        ['unknown recipient', 3, { remove: [stay[1]!], keys: [...stay.slice(3).map((recipientId) => ({ recipientId, wrapped: key(2) })), { recipientId: 'nobody', wrapped: key(1) }] }],
        // A key slot already held (a history key of epoch 1 that is there).
        ['slot held', 3, { keys: [], historyKeys: [{ recipientId: 'alice', epoch: 1, wrapped: key(3) }] }],
      ];
      const before = [await stored('conv-rotate-direct'), await stored('conv-rotate-prisma')];
      for (const [what, next, c] of rejected) {
        const conv = what === 'no conversation' ? 'no-such-conversation' : undefined;
        const d = await codeOf(fast.rotateEpoch(conv ?? 'conv-rotate-direct', next, c));
        const p = await codeOf(slow.rotateEpoch(conv ?? 'conv-rotate-prisma', next, c));
        expect({ what, code: d }).toStrictEqual({ what, code: p });
        expect(d).not.toBe('ok');
      }
      expect([await stored('conv-rotate-direct'), await stored('conv-rotate-prisma')]).toStrictEqual(before);
    });

    it('rotateEpoch inside a transaction joins it: its rollback takes the rotation back', async () => {
      await fast.createConversation({ id: 'conv-rotate-in-tx', kind: 'GROUP', createdById: 'alice', historySharing: false, epochTtlSeconds: null }, [
        { userId: 'alice', role: 'ADMIN' },
        { userId: 'bob', role: 'MEMBER' },
      ], [{ recipientId: 'alice', wrapped: key(1) }, { recipientId: 'bob', wrapped: key(2) }]);
      const before = await stored('conv-rotate-in-tx');
      const failed = await fast
        .transaction(async (tx) => {
          expect((await tx.rotateEpoch('conv-rotate-in-tx', 2, { remove: ['bob'], keys: [{ recipientId: 'alice', wrapped: key(3) }] })).epoch).toBe(2);
          expect(await tx.members('conv-rotate-in-tx')).toHaveLength(1);
          throw new Error('roll back');
        })
        .catch((e: unknown) => e);
      expect((failed as Error).message).toBe('roll back');
      expect(await stored('conv-rotate-in-tx')).toStrictEqual(before);
    });

    it('inside a transaction, hot reads see its own writes, and its rollback takes them back', async () => {
      const failed = await fast
        .transaction(async (tx) => {
          await tx.createUser({ id: 'carol', username: 'carol', signingKey: key(7), encryptionKey: key(8) }, firstKey());
          await tx.createConversation({ id: 'conv-in-transaction', kind: 'DIRECT', createdById: 'carol', historySharing: false, epochTtlSeconds: null }, [{ userId: 'carol', role: 'ADMIN' }], []);
          await tx.upsertGrant({ objectType: 'Profile', objectId: 'p-x', granteeId: 'carol', access: 'READ' });
          expect((await tx.findUserById('carol'))?.username).toBe('carol');
          expect(await tx.findMember('conv-in-transaction', 'carol')).not.toBeNull();
          expect(await tx.grantsFor('Profile', ['p-x'], 'carol')).toHaveLength(1);
          const { created } = await tx.insertMessage({ conversationId: 'conv-in-transaction', clientId: 'client-id-in-tx-01', senderId: 'carol', epoch: 1, body: 'x', expiresAt: null });
          expect(created).toBe(true);
          throw new Error('roll back');
        })
        .catch((e: unknown) => e);
      expect((failed as Error).message).toBe('roll back');
      expect(await fast.findUserById('carol')).toBeNull();
      expect(await fast.findConversation('conv-in-transaction')).toBeNull();
      expect(await fast.grantsFor('Profile', ['p-x'])).toEqual([]);
    });

    it('dates stored in other forms than Prisma writes (database defaults, hand-written rows) read as Prisma reads them', async () => {
      const forms: unknown[] =
        target.kind === 'sqlite'
          ? ['2026-01-02 03:04:05', '2026-01-02T03:04:05.678Z', '2026-01-02T03:04:05+02:00', '2026-01-02T03:04:05.6-0130', '2026-01-02', 1_767_323_045_678]
          : ['2026-01-02 03:04:05', '2026-01-02 03:04:05.678', '2026-01-02T03:04:05.5', '1999-12-31 23:59:59.999'];
      const insert =
        target.kind === 'sqlite'
          ? 'INSERT INTO "User" ("id", "username", "signingKey", "encryptionKey", "createdAt") VALUES (?, ?, ?, ?, ?)'
          : 'INSERT INTO "public"."User" ("id", "username", "signingKey", "encryptionKey", "createdAt") VALUES ($1, $2, $3, $4, $5::timestamp)';
      for (const [i, form] of forms.entries()) {
        await client.$executeRawUnsafe(insert, `raw${i}`, `raw${i}`, key(i + 10), key(i + 20), form);
        const u = await same((s) => s.findUserById(`raw${i}`));
        expect(Number.isNaN(u!.createdAt.getTime())).toBe(false);
      }
    });
  });
}
