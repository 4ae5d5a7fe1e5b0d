/**
 * The behavioural suite every Store implementation passes: run by sqlite.test.ts against a
 * real SQLite file and by postgres.test.ts against a throwaway PostgreSQL server.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClient, openStore, resolveDatabaseTarget } from '../../../src/server/storage/open.js';
import { StorageError } from '../../../src/server/storage/errors.js';
import { applyMigrations, defaultMigrationsDir, loadMigrations, MIGRATIONS_TABLE, type MigratingClient, type Migration } from '../../../src/server/storage/migrate.js';
import type { RootDb } from '../../../src/server/storage/prisma-store.js';
import type { ProfileCreate, Store } from '../../../src/server/storage/store.js';

export interface SuiteTarget {
  readonly kind: 'sqlite' | 'postgres';
  /** A new database, never opened: `openStore` options naming it. */
  fresh(): Promise<{ databaseUrl?: string; dataDir: string }>;
  /**
   * A database with the schema and no rows; may be one used before, emptied (creating a
   * PostgreSQL database takes ~300 ms here, emptying one ~10 ms). Defaults to `fresh`.
   */
  empty?(): Promise<{ databaseUrl?: string; dataDir: string }>;
}

export function key(fill: number, length = 32): Uint8Array {
  return new Uint8Array(length).fill(fill);
}

export function profile(id: string, ownerId: string, extra: Partial<ProfileCreate> = {}): ProfileCreate {
  return { id, ownerId, displayName: `name of ${id}`, serverSealed: null, serverKeyVersion: 0, emailIndex: null, bio: null, diary: null, ...extra };
}

async function expectStorageError(p: Promise<unknown>, code: StorageError['code']): Promise<StorageError> {
  const e: unknown = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(StorageError);
  expect((e as StorageError).code).toBe(code);
  return e as StorageError;
}

export function storeSuite(target: SuiteTarget): void {
  describe(`Store on ${target.kind}`, () => {
    let store: Store;
    let opened: Store[] = [];

    const open = async (options: { databaseUrl?: string; dataDir: string }): Promise<Store> => {
      const s = await openStore(options);
      opened.push(s);
      return s;
    };

    beforeEach(async () => {
      store = await open(await (target.empty ?? target.fresh)());
      await store.createUser({ id: 'alice', username: 'alice', signingKey: key(1), encryptionKey: key(2) });
      await store.createUser({ id: 'bob', username: 'bob', signingKey: key(3), encryptionKey: key(4) });
    });

    afterEach(async () => {
      await Promise.all(opened.map((s) => s.close()));
      opened = [];
    });

    it('reports its kind', () => {
      expect(store.kind).toBe(target.kind);
    });

    describe('users', () => {
      it('creates and finds users by id and by username, keys as plain Uint8Array', async () => {
        const created = await store.createUser({ id: 'carol-1', username: 'carol', signingKey: key(7), encryptionKey: key(8) });
        expect(created.createdAt).toBeInstanceOf(Date);
        for (const found of [await store.findUserById('carol-1'), await store.findUserByUsername('carol')]) {
          expect(found).not.toBeNull();
          expect(found!.id).toBe('carol-1');
          expect(found!.username).toBe('carol');
          expect(Object.getPrototypeOf(found!.signingKey)).toBe(Uint8Array.prototype);
          expect(Object.getPrototypeOf(found!.encryptionKey)).toBe(Uint8Array.prototype);
          expect(found!.signingKey).toEqual(key(7));
          expect(found!.encryptionKey).toEqual(key(8));
          expect(found!.createdAt.getTime()).toBe(created.createdAt.getTime());
        }
        expect(await store.findUserById('nobody')).toBeNull();
        expect(await store.findUserByUsername('nobody')).toBeNull();
      });

      it('does not keep a reference to the caller’s key buffers', async () => {
        const signing = key(5);
        await store.createUser({ id: 'dave', username: 'dave', signingKey: signing, encryptionKey: key(6) });
        signing.fill(0);
        expect((await store.findUserById('dave'))!.signingKey).toEqual(key(5));
      });

      it('refuses a taken username or id with CONFLICT', async () => {
        const byName = await expectStorageError(store.createUser({ id: 'other', username: 'alice', signingKey: key(1), encryptionKey: key(1) }), 'CONFLICT');
        expect(byName.fields).toEqual(['username']);
        await expectStorageError(store.createUser({ id: 'alice', username: 'alice2', signingKey: key(1), encryptionKey: key(1) }), 'CONFLICT');
        expect((await store.findUserById('other'))).toBeNull();
      });
    });

    describe('profiles', () => {
      it('creates, finds, updates and deletes a profile', async () => {
        const created = await store.createProfile(
          profile('p-alice', 'alice', { serverSealed: key(9, 40), serverKeyVersion: 3, emailIndex: 'idx-a', bio: 'env:bio', diary: 'env:diary' }),
        );
        expect(created).toMatchObject({ id: 'p-alice', ownerId: 'alice', displayName: 'name of p-alice', serverKeyVersion: 3, emailIndex: 'idx-a', bio: 'env:bio', diary: 'env:diary' });
        expect(Object.getPrototypeOf(created.serverSealed)).toBe(Uint8Array.prototype);
        expect(created.serverSealed).toEqual(key(9, 40));
        expect(created.createdAt).toBeInstanceOf(Date);
        expect(created.updatedAt).toBeInstanceOf(Date);

        expect(await store.findProfileById('p-alice')).toEqual(created);
        expect(await store.findProfileByOwner('alice')).toEqual(created);
        expect(await store.findProfileByOwner('bob')).toBeNull();

        await new Promise((r) => setTimeout(r, 5));
        const updated = await store.updateProfile('p-alice', { displayName: 'Alice', bio: null, serverSealed: null, serverKeyVersion: 0 });
        expect(updated).toMatchObject({ id: 'p-alice', ownerId: 'alice', displayName: 'Alice', bio: null, serverSealed: null, serverKeyVersion: 0, emailIndex: 'idx-a', diary: 'env:diary' });
        expect(updated!.createdAt.getTime()).toBe(created.createdAt.getTime());
        expect(updated!.updatedAt.getTime()).toBeGreaterThan(created.updatedAt.getTime());
        expect(await store.findProfileById('p-alice')).toEqual(updated);

        // An empty patch changes nothing but is still an update of an existing row.
        expect((await store.updateProfile('p-alice', {}))!.displayName).toBe('Alice');
        expect(await store.updateProfile('missing', { displayName: 'x' })).toBeNull();

        expect(await store.deleteProfile('p-alice')).toBe(true);
        expect(await store.deleteProfile('p-alice')).toBe(false);
        expect(await store.findProfileById('p-alice')).toBeNull();
        expect(await store.findProfileByOwner('alice')).toBeNull();
      });

      it('ignores columns a patch may not set', async () => {
        await store.createProfile(profile('p1', 'alice'));
        const patch = { displayName: 'new', ownerId: 'bob', id: 'p2' } as unknown as Parameters<Store['updateProfile']>[1];
        const updated = await store.updateProfile('p1', patch);
        expect(updated).toMatchObject({ id: 'p1', ownerId: 'alice', displayName: 'new' });
      });

      it('allows one profile per owner (CONFLICT) and only for existing users (INVALID_REFERENCE)', async () => {
        await store.createProfile(profile('p1', 'alice'));
        const dup = await expectStorageError(store.createProfile(profile('p2', 'alice')), 'CONFLICT');
        expect(dup.fields).toEqual(['ownerId']);
        await expectStorageError(store.createProfile(profile('p1', 'bob')), 'CONFLICT');
        await expectStorageError(store.createProfile(profile('p3', 'nobody')), 'INVALID_REFERENCE');
        expect(await store.findProfileById('p2')).toBeNull();
        expect(await store.findProfileById('p3')).toBeNull();
      });

      it('lists profiles by id with a cursor, page by page', async () => {
        const ids: string[] = [];
        for (let i = 0; i < 23; i++) {
          const user = `user${String(i).padStart(2, '0')}`;
          await store.createUser({ id: user, username: user, signingKey: key(i), encryptionKey: key(i) });
          ids.push(`prof${String((i * 7) % 23).padStart(2, '0')}`); // created out of order
          await store.createProfile(profile(ids[i]!, user));
        }
        const seen: string[] = [];
        let cursor: string | undefined;
        for (let page = 0; page < 10; page++) {
          const rows = await store.listProfiles(10, cursor);
          seen.push(...rows.map((r) => r.id));
          if (rows.length < 10) break;
          cursor = rows.at(-1)!.id;
        }
        expect(seen).toEqual([...ids].sort());
        expect(await store.listProfiles(0)).toEqual([]);
        expect(await store.listProfiles(5, 'prof22')).toEqual([]);
        expect((await store.listProfiles(3, 'prof05')).map((r) => r.id)).toEqual(['prof06', 'prof07', 'prof08']);
        await expectStorageError(store.listProfiles(-1), 'INVALID_ARGUMENT');
      });

      it('finds profiles by the email blind index', async () => {
        await store.createUser({ id: 'carol', username: 'carol', signingKey: key(5), encryptionKey: key(6) });
        await store.createProfile(profile('p-a', 'alice', { emailIndex: 'same' }));
        await store.createProfile(profile('p-b', 'bob', { emailIndex: 'other' }));
        await store.createProfile(profile('p-c', 'carol', { emailIndex: 'same' }));
        expect((await store.findProfilesByEmailIndex('same')).map((p) => p.id)).toEqual(['p-a', 'p-c']);
        expect((await store.findProfilesByEmailIndex('other')).map((p) => p.id)).toEqual(['p-b']);
        expect(await store.findProfilesByEmailIndex('none')).toEqual([]);
      });

      it('lists and counts profiles sealed under another key version (rows without a blob excluded)', async () => {
        await store.createUser({ id: 'carol', username: 'carol', signingKey: key(5), encryptionKey: key(6) });
        await store.createUser({ id: 'dave', username: 'dave', signingKey: key(5), encryptionKey: key(6) });
        await store.createProfile(profile('p-a', 'alice', { serverSealed: key(1, 8), serverKeyVersion: 1 }));
        await store.createProfile(profile('p-b', 'bob', { serverSealed: key(2, 8), serverKeyVersion: 2 }));
        await store.createProfile(profile('p-c', 'carol', { serverSealed: key(3, 8), serverKeyVersion: 1 }));
        await store.createProfile(profile('p-d', 'dave'));
        expect(await store.countProfilesNotOnKeyVersion(2)).toBe(2);
        expect((await store.listProfilesNotOnKeyVersion(2, 10)).map((p) => p.id)).toEqual(['p-a', 'p-c']);
        expect((await store.listProfilesNotOnKeyVersion(2, 1)).map((p) => p.id)).toEqual(['p-a']);
        expect(await store.countProfilesNotOnKeyVersion(1)).toBe(1);
        expect(await store.countProfilesNotOnKeyVersion(0)).toBe(3);
      });
    });

    describe('server seal compare-and-swap', () => {
      it('swaps only when the row holds the expected bytes', async () => {
        await store.createProfile(profile('p1', 'alice', { serverSealed: Uint8Array.from([1, 2, 3]), serverKeyVersion: 1 }));
        await store.createProfile(profile('p2', 'bob'));

        expect(await store.swapProfileServerSealed('p1', Uint8Array.from([1, 2, 4]), Uint8Array.from([9]), 2)).toBe(false);
        expect(await store.swapProfileServerSealed('p1', Uint8Array.from([1, 2]), Uint8Array.from([9]), 2)).toBe(false); // prefix
        expect(await store.swapProfileServerSealed('p1', Uint8Array.from([1, 2, 3, 0]), Uint8Array.from([9]), 2)).toBe(false); // longer
        expect((await store.findProfileById('p1'))!).toMatchObject({ serverSealed: Uint8Array.from([1, 2, 3]), serverKeyVersion: 1 });

        expect(await store.swapProfileServerSealed('p1', Uint8Array.from([1, 2, 3]), Uint8Array.from([9, 9]), 2)).toBe(true);
        expect((await store.findProfileById('p1'))!).toMatchObject({ serverSealed: Uint8Array.from([9, 9]), serverKeyVersion: 2 });
        // The old blob no longer matches.
        expect(await store.swapProfileServerSealed('p1', Uint8Array.from([1, 2, 3]), Uint8Array.from([7]), 3)).toBe(false);
        // A row without a blob, and a missing row, never match.
        expect(await store.swapProfileServerSealed('p2', new Uint8Array(0), Uint8Array.from([7]), 3)).toBe(false);
        expect(await store.swapProfileServerSealed('nope', Uint8Array.from([9, 9]), Uint8Array.from([7]), 3)).toBe(false);
        expect((await store.findProfileById('p1'))!.serverKeyVersion).toBe(2);
      });

      it('lets exactly one of many concurrent swaps from the same blob win', async () => {
        const start = key(1, 64);
        await store.createProfile(profile('p1', 'alice', { serverSealed: start, serverKeyVersion: 1 }));
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.swapProfileServerSealed('p1', start, key(100 + i, 64), 2)));
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = results.indexOf(true);
        expect((await store.findProfileById('p1'))!.serverSealed).toEqual(key(100 + winner, 64));
      });
    });

    describe('grants', () => {
      it('upserts, lists for many objects at once, and deletes grants', async () => {
        const first = await store.upsertGrant({ objectType: 'Profile', objectId: 'p1', granteeId: 'bob', access: 'READ' });
        expect(first).toMatchObject({ objectType: 'Profile', objectId: 'p1', granteeId: 'bob', access: 'READ' });
        expect(first.createdAt).toBeInstanceOf(Date);
        const again = await store.upsertGrant({ objectType: 'Profile', objectId: 'p1', granteeId: 'bob', access: 'WRITE' });
        expect(again.access).toBe('WRITE');
        expect(again.createdAt.getTime()).toBe(first.createdAt.getTime());
        await store.upsertGrant({ objectType: 'Profile', objectId: 'p1', granteeId: 'alice', access: 'READ' });

        // Many ids in one call (more than one IN chunk), grants on some of them.
        const ids = Array.from({ length: 1200 }, (_, i) => `obj${String(i).padStart(4, '0')}`);
        const granted = ids.filter((_, i) => i % 97 === 0);
        for (const id of granted) await store.upsertGrant({ objectType: 'Doc', objectId: id, granteeId: 'alice', access: 'READ' });
        await store.upsertGrant({ objectType: 'Other', objectId: ids[0]!, granteeId: 'alice', access: 'WRITE' });
        const docs = await store.grantsFor('Doc', [...ids, ...ids.slice(0, 10)]);
        expect(docs.map((g) => g.objectId)).toEqual(granted);
        expect(docs.every((g) => g.objectType === 'Doc' && g.access === 'READ' && g.granteeId === 'alice')).toBe(true);

        expect((await store.grantsFor('Profile', ['p1', 'p2'])).map((g) => [g.objectId, g.granteeId, g.access])).toEqual([
          ['p1', 'alice', 'READ'],
          ['p1', 'bob', 'WRITE'],
        ]);
        expect(await store.grantsFor('Profile', [])).toEqual([]);

        expect(await store.deleteGrant('Profile', 'p1', 'bob')).toBe(true);
        expect(await store.deleteGrant('Profile', 'p1', 'bob')).toBe(false);
        expect((await store.grantsFor('Profile', ['p1'])).map((g) => g.granteeId)).toEqual(['alice']);
      });

      it('refuses an unknown access level or grantee', async () => {
        const bad = { objectType: 'Profile', objectId: 'p1', granteeId: 'bob', access: 'ADMIN' } as unknown as Parameters<Store['upsertGrant']>[0];
        await expectStorageError(store.upsertGrant(bad), 'INVALID_ARGUMENT');
        await expectStorageError(store.upsertGrant({ objectType: 'Profile', objectId: 'p1', granteeId: 'nobody', access: 'READ' }), 'INVALID_REFERENCE');
        expect(await store.grantsFor('Profile', ['p1'])).toEqual([]);
      });

      it('grantsFor filters by grantee when asked', async () => {
        await store.createProfile(profile('p1', 'alice'));
        await store.createProfile(profile('p2', 'bob'));
        await store.upsertGrant({ objectType: 'Profile', objectId: 'p1', granteeId: 'bob', access: 'READ' });
        await store.upsertGrant({ objectType: 'Profile', objectId: 'p2', granteeId: 'alice', access: 'WRITE' });
        await store.upsertGrant({ objectType: 'Profile', objectId: 'p2', granteeId: 'bob', access: 'WRITE' });
        const bobs = await store.grantsFor('Profile', ['p1', 'p2'], 'bob');
        expect(bobs.map((g) => [g.objectId, g.granteeId, g.access])).toEqual([
          ['p1', 'bob', 'READ'],
          ['p2', 'bob', 'WRITE'],
        ]);
        expect(await store.grantsFor('Profile', ['p1'], 'alice')).toEqual([]);
        expect(await store.grantsFor('Profile', ['p1', 'p2'])).toHaveLength(3);
      });

      it('deleting a profile deletes the grants on it, and only those', async () => {
        await store.createProfile(profile('p1', 'alice'));
        await store.createProfile(profile('p2', 'bob'));
        await store.upsertGrant({ objectType: 'Profile', objectId: 'p1', granteeId: 'bob', access: 'READ' });
        await store.upsertGrant({ objectType: 'Profile', objectId: 'p2', granteeId: 'alice', access: 'READ' });
        await store.upsertGrant({ objectType: 'Doc', objectId: 'p1', granteeId: 'bob', access: 'READ' });
        expect(await store.deleteProfile('p1')).toBe(true);
        expect(await store.grantsFor('Profile', ['p1', 'p2'])).toEqual([expect.objectContaining({ objectId: 'p2', granteeId: 'alice' })]);
        expect(await store.grantsFor('Doc', ['p1'])).toHaveLength(1);
      });

      it('deleting a profile inside a transaction that rolls back keeps it and its grants', async () => {
        await store.createProfile(profile('p1', 'alice'));
        await store.upsertGrant({ objectType: 'Profile', objectId: 'p1', granteeId: 'bob', access: 'READ' });
        await expect(
          store.transaction(async (tx) => {
            expect(await tx.deleteProfile('p1')).toBe(true);
            throw new Error('abort');
          }),
        ).rejects.toThrow('abort');
        expect(await store.findProfileById('p1')).not.toBeNull();
        expect(await store.grantsFor('Profile', ['p1'])).toHaveLength(1);
      });
    });

    describe('object keys', () => {
      const k = (objectId: string, keyVersion: number, recipientId: string, fill: number, objectType = 'Profile') => ({
        objectType,
        objectId,
        keyVersion,
        recipientId,
        wrapped: key(fill, 137),
      });

      it('stores wrapped keys and returns each recipient only their own, every version', async () => {
        await store.putObjectKeys([k('p1', 1, 'alice', 1), k('p1', 1, 'bob', 2), k('p1', 2, 'alice', 3), k('p2', 1, 'alice', 4), k('p1', 1, 'alice', 5, 'Doc')]);
        const alices = await store.objectKeysFor('Profile', ['p2', 'p1', 'p1', 'p3'], 'alice');
        expect(alices.map((r) => [r.objectType, r.objectId, r.keyVersion, r.wrapped[0]])).toEqual([
          ['Profile', 'p1', 1, 1],
          ['Profile', 'p1', 2, 3],
          ['Profile', 'p2', 1, 4],
        ]);
        expect(Object.getPrototypeOf(alices[0]!.wrapped)).toBe(Uint8Array.prototype);
        expect(alices[0]!.wrapped).toEqual(key(1, 137));
        expect(alices[0]).not.toHaveProperty('recipientId');
        expect((await store.objectKeysFor('Profile', ['p1', 'p2'], 'bob')).map((r) => [r.objectId, r.keyVersion, r.wrapped[0]])).toEqual([['p1', 1, 2]]);
        expect((await store.objectKeysFor('Doc', ['p1'], 'alice')).map((r) => r.wrapped[0])).toEqual([5]);
        expect(await store.objectKeysFor('Profile', [], 'alice')).toEqual([]);
        expect(await store.objectKeysFor('Profile', ['p1'], 'nobody')).toEqual([]);
      });

      it('reads keys for many objects at once (more than one IN chunk)', async () => {
        const ids = Array.from({ length: 1100 }, (_, i) => `obj${String(i).padStart(4, '0')}`);
        const some = ids.filter((_, i) => i % 101 === 0);
        await store.putObjectKeys(some.map((id) => k(id, 1, 'bob', 7)));
        expect((await store.objectKeysFor('Profile', ids, 'bob')).map((r) => r.objectId)).toEqual(some);
      });

      it('a re-put of identical bytes is fine; different bytes are a CONFLICT and nothing of the call is written', async () => {
        await store.putObjectKeys([k('p1', 1, 'alice', 1)]);
        await store.putObjectKeys([k('p1', 1, 'alice', 1), k('p1', 1, 'bob', 2)]);
        expect(await store.objectKeysFor('Profile', ['p1'], 'bob')).toHaveLength(1);
        const e = await expectStorageError(store.putObjectKeys([k('p2', 1, 'alice', 3), k('p1', 1, 'alice', 9)]), 'CONFLICT');
        expect(e.fields).toEqual(['objectType', 'objectId', 'keyVersion', 'recipientId']);
        expect((await store.objectKeysFor('Profile', ['p1', 'p2'], 'alice')).map((r) => [r.objectId, r.wrapped[0]])).toEqual([['p1', 1]]);
        // Two different keys for one slot within a call.
        await expectStorageError(store.putObjectKeys([k('p3', 1, 'bob', 1), k('p3', 1, 'bob', 2)]), 'CONFLICT');
        expect(await store.objectKeysFor('Profile', ['p3'], 'bob')).toEqual([]);
        await store.putObjectKeys([]);
      });

      it('an unknown recipient is INVALID_REFERENCE and nothing of the call is written', async () => {
        await expectStorageError(store.putObjectKeys([k('p1', 1, 'alice', 1), k('p1', 1, 'nobody', 2)]), 'INVALID_REFERENCE');
        expect(await store.objectKeysFor('Profile', ['p1'], 'alice')).toEqual([]);
      });

      it('refuses key versions a column cannot hold', async () => {
        await expectStorageError(store.putObjectKeys([k('p1', -1, 'alice', 1)]), 'INVALID_ARGUMENT');
        await expectStorageError(store.putObjectKeys([k('p1', 0x80000000, 'alice', 1)]), 'INVALID_ARGUMENT');
        await expectStorageError(store.putObjectKeys([k('p1', 1.5, 'alice', 1)]), 'INVALID_ARGUMENT');
      });

      it('rolls back with an enclosing transaction', async () => {
        await expect(
          store.transaction(async (tx) => {
            await tx.putObjectKeys([k('p1', 1, 'alice', 1)]);
            expect(await tx.objectKeysFor('Profile', ['p1'], 'alice')).toHaveLength(1);
            throw new Error('abort');
          }),
        ).rejects.toThrow('abort');
        expect(await store.objectKeysFor('Profile', ['p1'], 'alice')).toEqual([]);
      });
    });

    describe('login challenges', () => {
      it('consumes a challenge once', async () => {
        const expires = new Date(Date.now() + 60_000);
        expect(await store.consumeChallenge('c1', expires)).toBe(true);
        expect(await store.consumeChallenge('c1', expires)).toBe(false);
        expect(await store.consumeChallenge('c2', expires)).toBe(true);
      });

      it('lets exactly one of 20 concurrent attempts consume a challenge', async () => {
        const expires = new Date(Date.now() + 60_000);
        const results = await Promise.all(Array.from({ length: 20 }, () => store.consumeChallenge('race', expires)));
        expect(results.filter(Boolean)).toHaveLength(1);
      });

      it('purges only expired challenges; unexpired ones stay consumed', async () => {
        const now = new Date();
        expect(await store.consumeChallenge('old1', new Date(now.getTime() - 60_000))).toBe(true);
        expect(await store.consumeChallenge('old2', new Date(now.getTime() - 1))).toBe(true);
        expect(await store.consumeChallenge('live', new Date(now.getTime() + 60_000))).toBe(true);
        expect(await store.purgeExpiredChallenges(now)).toBe(2);
        expect(await store.purgeExpiredChallenges(now)).toBe(0);
        expect(await store.consumeChallenge('live', new Date(now.getTime() + 60_000))).toBe(false);
      });

      it('a replayed challenge inside a transaction does not break the transaction', async () => {
        const expires = new Date(Date.now() + 60_000);
        await store.consumeChallenge('c1', expires);
        await store.transaction(async (tx) => {
          expect(await tx.consumeChallenge('c1', expires)).toBe(false);
          await tx.createProfile(profile('p1', 'alice'));
        });
        expect(await store.findProfileById('p1')).not.toBeNull();
      });
    });

    describe('transactions', () => {
      it('commits what the function wrote and returns its result', async () => {
        const result = await store.transaction(async (tx) => {
          await tx.createUser({ id: 'carol', username: 'carol', signingKey: key(5), encryptionKey: key(6) });
          await tx.createProfile(profile('p-c', 'carol'));
          expect(await tx.findProfileByOwner('carol')).not.toBeNull();
          return 42;
        });
        expect(result).toBe(42);
        expect(await store.findProfileByOwner('carol')).not.toBeNull();
      });

      it('rolls back everything when the function throws, and rethrows the same error', async () => {
        const boom = new Error('boom');
        const caught = await store
          .transaction(async (tx) => {
            await tx.createUser({ id: 'carol', username: 'carol', signingKey: key(5), encryptionKey: key(6) });
            await tx.createProfile(profile('p-c', 'carol'));
            await tx.upsertGrant({ objectType: 'Profile', objectId: 'p-c', granteeId: 'bob', access: 'READ' });
            await tx.consumeChallenge('c-tx', new Date(Date.now() + 60_000));
            await tx.transaction(async (inner) => inner.updateProfile('p-c', { displayName: 'nested' }));
            throw boom;
          })
          .catch((e: unknown) => e);
        expect(caught).toBe(boom);
        expect(await store.findUserById('carol')).toBeNull();
        expect(await store.findProfileById('p-c')).toBeNull();
        expect(await store.grantsFor('Profile', ['p-c'])).toEqual([]);
        expect(await store.consumeChallenge('c-tx', new Date(Date.now() + 60_000))).toBe(true);
      });

      it('rolls back when a storage call inside fails', async () => {
        await expectStorageError(
          store.transaction(async (tx) => {
            await tx.createProfile(profile('p-a', 'alice'));
            await tx.createUser({ id: 'x', username: 'bob', signingKey: key(1), encryptionKey: key(1) });
          }),
          'CONFLICT',
        );
        expect(await store.findProfileById('p-a')).toBeNull();
      });

      it(
        target.kind === 'sqlite'
          ? 'the root store inside its own transaction fails fast (it would wait for the transaction)'
          : 'the root store inside a transaction works outside it (another connection)',
        async () => {
          let later: Promise<unknown> = Promise.resolve();
          await store.transaction(async (tx) => {
            await tx.createProfile(profile('p-in', 'alice'));
            const root = store.findProfileById('p-in');
            if (target.kind === 'sqlite') {
              const e: unknown = await root.catch((err: unknown) => err);
              expect((e as StorageError).code).toBe('INVALID_ARGUMENT');
              await expectStorageError(store.transaction(() => Promise.resolve()), 'INVALID_ARGUMENT');
            } else {
              expect(await root).toBeNull(); // not committed yet
            }
            // Work started inside and continuing after the transaction may use the root store.
            later = new Promise((r) => setTimeout(r, 20)).then(() => store.findProfileById('p-in'));
          });
          expect(await later).not.toBeNull();
        },
      );

      it('a write outside a transaction is not caught up in a concurrent rollback', async () => {
        let inside!: () => void;
        const entered = new Promise<void>((r) => (inside = r));
        let release!: () => void;
        const held = new Promise<void>((r) => (release = r));
        const tx = store
          .transaction(async (t) => {
            await t.createProfile(profile('p-rolled-back', 'alice'));
            inside();
            await held;
            throw new Error('rollback');
          })
          .catch((e: unknown) => e);
        await entered;
        const outside = store.createProfile(profile('p-outside', 'bob'));
        // Give the outside write every chance to run while the transaction is open.
        await new Promise((r) => setTimeout(r, 50));
        release();
        expect(await tx).toBeInstanceOf(Error);
        await outside;
        expect(await store.findProfileById('p-outside')).not.toBeNull();
        expect(await store.findProfileById('p-rolled-back')).toBeNull();
      });
    });

    describe('opening', () => {
      it('applies migrations once: opening the same database again keeps the data', async () => {
        const options = await target.fresh();
        const first = await open(options);
        await first.createUser({ id: 'u', username: 'u', signingKey: key(1), encryptionKey: key(1) });
        await first.close();
        const second = await open(options);
        expect(await second.findUserByUsername('u')).not.toBeNull();
        const third = await open(options); // while `second` is still open
        expect(await third.findUserById('u')).not.toBeNull();
      });
    });
  });
}

/** Migration behaviour, directly through `applyMigrations` on a fresh database. */
export function migrationSuite(target: SuiteTarget): void {
  describe(`migrations on ${target.kind}`, () => {
    const real = loadMigrations(defaultMigrationsDir(target.kind));
    const extra = (name: string, sql: string): Migration => ({ name, sql, checksum: createHash('sha256').update(sql).digest('hex') });
    let clients: (RootDb & MigratingClient)[] = [];

    const client = async (): Promise<{ db: RootDb & MigratingClient; options: { databaseUrl?: string; dataDir: string } }> => {
      const options = await target.fresh();
      if (target.kind === 'sqlite') mkdirSync(options.dataDir, { recursive: true });
      const db = createClient(resolveDatabaseTarget(options));
      clients.push(db);
      return { db, options };
    };

    afterEach(async () => {
      await Promise.all(clients.map((c) => c.$disconnect()));
      clients = [];
    });

    it('applies the checked-in migrations once; a second run applies nothing', async () => {
      expect(real.map((m) => m.name)).toContain('0001_init');
      const { db, options } = await client();
      expect((await applyMigrations(db, target.kind, real)).applied).toEqual(real.map((m) => m.name));
      expect((await applyMigrations(db, target.kind, real)).applied).toEqual([]);
      const rows = await db.$queryRawUnsafe<{ name: string }[]>(`SELECT "name" FROM "${MIGRATIONS_TABLE}" ORDER BY "name"`);
      expect(rows.map((r) => r.name)).toEqual(real.map((m) => m.name));
      const store = await openStore(options); // finds nothing to do
      await store.close();
    });

    it('refuses to run when an applied migration was edited afterwards', async () => {
      const { db } = await client();
      await applyMigrations(db, target.kind, real);
      const edited = real.map((m, i) => (i === 0 ? { ...m, checksum: 'f'.repeat(64) } : m));
      const e: unknown = await applyMigrations(db, target.kind, edited).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(StorageError);
      expect((e as StorageError).code).toBe('MIGRATION_FAILED');
      expect((e as StorageError).message).toMatch(/0001_init was edited/);
    });

    it('a failing migration leaves nothing behind, and the next run retries it', async () => {
      const { db } = await client();
      await applyMigrations(db, target.kind, real);
      const broken = extra('0002_extra', 'CREATE TABLE "Extra" ("id" TEXT PRIMARY KEY);\nINSERT INTO "no_such_table" VALUES (1);\n');
      const e: unknown = await applyMigrations(db, target.kind, [...real, broken]).catch((err: unknown) => err);
      expect((e as StorageError).code).toBe('MIGRATION_FAILED');
      expect((e as StorageError).message).toMatch(/0002_extra failed/);
      // "Extra" was rolled back with it: creating it again succeeds.
      const fixed = extra('0002_extra', 'CREATE TABLE "Extra" ("id" TEXT PRIMARY KEY, "note" TEXT DEFAULT \'a;b\');\n-- a comment; with a semicolon\nINSERT INTO "Extra" ("id", "note") VALUES (\'x\', \'it\'\'s; fine\');\n');
      expect((await applyMigrations(db, target.kind, [...real, fixed])).applied).toEqual(['0002_extra']);
      expect(await db.$queryRawUnsafe('SELECT "id", "note" FROM "Extra"')).toEqual([{ id: 'x', note: "it's; fine" }]);
      // A database migrated by a newer gateway (migrations unknown here) is left alone.
      expect((await applyMigrations(db, target.kind, real)).applied).toEqual([]);
    });

    it('concurrent runs on one fresh database apply each migration exactly once', async () => {
      const { options } = await client();
      const runners = Array.from({ length: 3 }, () => {
        const db = createClient(resolveDatabaseTarget(options));
        clients.push(db);
        return db;
      });
      // SQLite: one process, one connection per client; runs are serialised by the file lock.
      const results = target.kind === 'postgres' ? await Promise.all(runners.map((db) => applyMigrations(db, target.kind, real))) : await sequential(runners, real);
      expect(results.flatMap((r) => r.applied)).toEqual(real.map((m) => m.name));
    });

    if (target.kind === 'sqlite') {
      it('redefining a parent table (Prisma’s SQLite pattern) keeps child rows, foreign keys back on after', async () => {
        const { db, options } = await client();
        const store = await openStore(options);
        await store.createUser({ id: 'u', username: 'u', signingKey: key(1), encryptionKey: key(1) });
        await store.createProfile(profile('p', 'u'));
        await store.close();
        await db.$executeRawUnsafe('PRAGMA foreign_keys = ON');
        const redefine = extra(
          '0002_redefine_user',
          `PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_User" ("id" TEXT NOT NULL PRIMARY KEY, "username" TEXT NOT NULL, "signingKey" BLOB NOT NULL, "encryptionKey" BLOB NOT NULL, "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, "note" TEXT);
INSERT INTO "new_User" ("id", "username", "signingKey", "encryptionKey", "createdAt") SELECT "id", "username", "signingKey", "encryptionKey", "createdAt" FROM "User";
DROP TABLE "User";
ALTER TABLE "new_User" RENAME TO "User";
CREATE UNIQUE INDEX "User_username_key" ON "User"("username");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;
`,
        );
        expect((await applyMigrations(db, 'sqlite', [...real, redefine])).applied).toEqual(['0002_redefine_user']);
        expect(await db.$queryRawUnsafe('SELECT "id" FROM "Profile"')).toEqual([{ id: 'p' }]);
        const [fk] = await db.$queryRawUnsafe<{ foreign_keys: unknown }[]>('PRAGMA foreign_keys');
        expect(Number(fk!.foreign_keys)).toBe(1);
      });
    }
  });
}

async function sequential(runners: readonly MigratingClient[], migrations: readonly Migration[]): Promise<{ applied: string[] }[]> {
  const out: { applied: string[] }[] = [];
  for (const db of runners) out.push(await applyMigrations(db, 'sqlite', migrations));
  return out;
}
