/**
 * The behavioural suite of the Prisma store: every `Store` method the privacy layer and the
 * services use, and the reference app's Profile methods (its ProfileStore). Run by
 * sqlite.test.ts against a real SQLite file and by postgres.test.ts against a throwaway
 * PostgreSQL server.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClient, openStore, resolveDatabaseTarget } from '../../../src/server/storage/open.js';
import { StorageError } from '../../../src/server/storage/errors.js';
import { applyMigrations, defaultMigrationsDir, loadMigrations, MIGRATIONS_TABLE, type MigratingClient, type Migration } from '../../../src/server/storage/migrate.js';
import type { PrismaStore, RootDb } from '../../../src/server/storage/prisma-store.js';
import type { ProfileCreate } from '../../../src/server/storage/profile-rows.js';
import type { ContactRow, ConversationRow, EpochKeyRow, MessageRow, NewDevice } from '../../../src/server/storage/store.js';

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

/** What `createUser` records as key version 1 (the store does not check signatures). */
export function firstKey(fill = 0xee): { signingKeyId: string; signature: Uint8Array } {
  return { signingKeyId: `kid-${fill}`, signature: key(fill, 64) };
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
    let store: PrismaStore;
    let opened: PrismaStore[] = [];

    const open = async (options: { databaseUrl?: string; dataDir: string }): Promise<PrismaStore> => {
      const s = await openStore(options);
      opened.push(s);
      return s;
    };

    beforeEach(async () => {
      store = await open(await (target.empty ?? target.fresh)());
      await store.createUser({ id: 'alice', username: 'alice', signingKey: key(1), encryptionKey: key(2) }, firstKey());
      await store.createUser({ id: 'bob', username: 'bob', signingKey: key(3), encryptionKey: key(4) }, firstKey());
    });

    afterEach(async () => {
      await Promise.all(opened.map((s) => s.close()));
      opened = [];
    });

    it('reports its kind', () => {
      expect(store.kind).toBe(target.kind);
    });

    describe('users', () => {
      it('finds many users by id in one call: unknown ids left out, duplicates once, chunked past 500', async () => {
        const found = await store.findUsersByIds(['bob', 'nobody', 'alice', 'bob']);
        expect(found.map((u) => u.id).sort()).toEqual(['alice', 'bob']);
        expect(found.find((u) => u.id === 'bob')!.encryptionKey).toEqual(key(4));
        expect(await store.findUsersByIds([])).toEqual([]);
        const many = [...Array.from({ length: 600 }, (_, i) => `missing-${i}`), 'alice'];
        expect((await store.findUsersByIds(many)).map((u) => u.id)).toEqual(['alice']);
      });

      it('creates and finds users by id and by username, keys as plain Uint8Array', async () => {
        const created = await store.createUser({ id: 'carol-1', username: 'carol', signingKey: key(7), encryptionKey: key(8) }, firstKey());
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
        await store.createUser({ id: 'dave', username: 'dave', signingKey: signing, encryptionKey: key(6) }, firstKey());
        signing.fill(0);
        expect((await store.findUserById('dave'))!.signingKey).toEqual(key(5));
      });

      it('refuses a taken username or id with CONFLICT', async () => {
        const byName = await expectStorageError(store.createUser({ id: 'other', username: 'alice', signingKey: key(1), encryptionKey: key(1) }, firstKey()), 'CONFLICT');
        expect(byName.fields).toEqual(['username']);
        await expectStorageError(store.createUser({ id: 'alice', username: 'alice2', signingKey: key(1), encryptionKey: key(1) }, firstKey()), 'CONFLICT');
        expect((await store.findUserById('other'))).toBeNull();
      });
    });

    describe('profiles', () => {
      it('findProfileOwners: the owners of the profiles that exist, by id, in one call', async () => {
        await store.createProfile(profile('p-a', 'alice'));
        await store.createProfile(profile('p-b', 'bob'));
        const owners = await store.findProfileOwners(['p-a', 'p-b', 'p-missing', 'p-a']);
        expect(owners).toEqual(new Map([['p-a', 'alice'], ['p-b', 'bob']]));
        expect(await store.findProfileOwners([])).toEqual(new Map());
        // More ids than one IN list holds (chunked by 500): every owner is still found.
        const many = Array.from({ length: 1200 }, (_, i) => `nope-${i}`);
        expect(await store.findProfileOwners([...many, 'p-b'])).toEqual(new Map([['p-b', 'bob']]));
      });

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
        const patch = { displayName: 'new', ownerId: 'bob', id: 'p2' } as unknown as Parameters<PrismaStore['updateProfile']>[1];
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
          await store.createUser({ id: user, username: user, signingKey: key(i), encryptionKey: key(i) }, firstKey());
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

      it('finds by the email blind index only a profile the viewer owns or holds a grant on', async () => {
        await store.createUser({ id: 'carol', username: 'carol', signingKey: key(5), encryptionKey: key(6) }, firstKey());
        await store.createUser({ id: 'dave', username: 'dave', signingKey: key(7), encryptionKey: key(8) }, firstKey());
        await store.createProfile(profile('p-a', 'alice', { emailIndex: 'same' }));
        await store.createProfile(profile('p-b', 'bob', { emailIndex: 'other' }));
        await store.createProfile(profile('p-c', 'carol', { emailIndex: 'same' }));
        await store.upsertGrant({ objectType: 'Profile', objectId: 'p-c', granteeId: 'dave', access: 'READ' });
        // A grant on another type with the same id grants nothing here.
        await store.upsertGrant({ objectType: 'Note', objectId: 'p-a', granteeId: 'bob', access: 'READ' });
        const found = async (index: string, viewer: string) => (await store.findReadableProfileByEmailIndex(index, viewer))?.id ?? null;
        expect(await found('same', 'alice')).toBe('p-a');
        expect(await found('same', 'carol')).toBe('p-c');
        expect(await found('same', 'dave')).toBe('p-c');
        expect(await found('same', 'bob')).toBeNull();
        expect(await found('other', 'bob')).toBe('p-b');
        expect(await found('other', 'alice')).toBeNull();
        expect(await found('none', 'alice')).toBeNull();
        // The whole row comes back.
        const row = await store.findReadableProfileByEmailIndex('same', 'dave');
        expect(row).toEqual(await store.findProfileById('p-c'));
        // Of several readable ones, the first by id.
        await store.upsertGrant({ objectType: 'Profile', objectId: 'p-a', granteeId: 'dave', access: 'WRITE' });
        expect(await found('same', 'dave')).toBe('p-a');
      });

      it('lists and counts profiles sealed under another key version (rows without a blob excluded)', async () => {
        await store.createUser({ id: 'carol', username: 'carol', signingKey: key(5), encryptionKey: key(6) }, firstKey());
        await store.createUser({ id: 'dave', username: 'dave', signingKey: key(5), encryptionKey: key(6) }, firstKey());
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
        const bad = { objectType: 'Profile', objectId: 'p1', granteeId: 'bob', access: 'ADMIN' } as unknown as Parameters<PrismaStore['upsertGrant']>[0];
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

      it('accessOf gives one grantee\'s access per object, the objects without a grant left out', async () => {
        await store.createProfile(profile('p1', 'alice'));
        await store.createProfile(profile('p2', 'bob'));
        await store.upsertGrant({ objectType: 'Profile', objectId: 'p1', granteeId: 'bob', access: 'READ' });
        await store.upsertGrant({ objectType: 'Profile', objectId: 'p2', granteeId: 'alice', access: 'WRITE' });
        await store.upsertGrant({ objectType: 'Profile', objectId: 'p2', granteeId: 'bob', access: 'WRITE' });
        await store.upsertGrant({ objectType: 'Doc', objectId: 'p1', granteeId: 'alice', access: 'WRITE' });
        const byId = (rows: { objectId: string; access: string }[]) => [...rows].sort((a, b) => (a.objectId < b.objectId ? -1 : 1));
        expect(byId(await store.accessOf('Profile', ['p1', 'p2', 'p1', 'missing'], 'bob'))).toEqual([
          { objectId: 'p1', access: 'READ' },
          { objectId: 'p2', access: 'WRITE' },
        ]);
        // Another type's grant on the same id gives nothing here, nor does another grantee's.
        expect(await store.accessOf('Profile', ['p1'], 'alice')).toEqual([]);
        expect(await store.accessOf('Profile', ['p2'], 'alice')).toEqual([{ objectId: 'p2', access: 'WRITE' }]);
        expect(await store.accessOf('Profile', [], 'bob')).toEqual([]);
        // A downgrade shows at once.
        await store.upsertGrant({ objectType: 'Profile', objectId: 'p2', granteeId: 'bob', access: 'READ' });
        expect(await store.accessOf('Profile', ['p2'], 'bob')).toEqual([{ objectId: 'p2', access: 'READ' }]);
        await store.deleteGrant('Profile', 'p2', 'bob');
        expect(await store.accessOf('Profile', ['p2'], 'bob')).toEqual([]);
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

    describe('latest object key version', () => {
      it('is the highest version stored for the object, any recipient; null when it has no key', async () => {
        const k = (objectType: string, objectId: string, keyVersion: number, recipientId: string) => ({ objectType, objectId, keyVersion, recipientId, wrapped: key(keyVersion, 137) });
        expect(await store.latestObjectKeyVersion('Profile', 'p1')).toBeNull();
        await store.putObjectKeys([k('Profile', 'p1', 1, 'alice'), k('Profile', 'p1', 3, 'bob'), k('Profile', 'p1', 2, 'alice'), k('Doc', 'p1', 7, 'alice'), k('Profile', 'p2', 5, 'alice')]);
        expect(await store.latestObjectKeyVersion('Profile', 'p1')).toBe(3);
        expect(await store.latestObjectKeyVersion('Profile', 'p2')).toBe(5);
        expect(await store.latestObjectKeyVersion('Doc', 'p1')).toBe(7);
        expect(await store.latestObjectKeyVersion('Doc', 'p2')).toBeNull();
      });

      it('newestObjectKey is a row of that version (the smallest recipient id), bytes included; null when there is none', async () => {
        const k = (objectType: string, objectId: string, keyVersion: number, recipientId: string, size = 137) => ({ objectType, objectId, keyVersion, recipientId, wrapped: key(keyVersion, size) });
        expect(await store.newestObjectKey('Profile', 'p1')).toBeNull();
        await store.putObjectKeys([k('Profile', 'p1', 1, 'alice'), k('Profile', 'p1', 3, 'bob', 140), k('Profile', 'p1', 3, 'alice', 139), k('Profile', 'p1', 2, 'alice'), k('Doc', 'p1', 7, 'alice')]);
        expect(await store.newestObjectKey('Profile', 'p1')).toEqual(k('Profile', 'p1', 3, 'alice', 139));
        expect(await store.newestObjectKey('Doc', 'p1')).toEqual(k('Doc', 'p1', 7, 'alice'));
        expect(await store.newestObjectKey('Doc', 'p2')).toBeNull();
      });
    });

    describe('key directory', () => {
      const version = (userId: string, v: number, fill: number) => ({
        userId,
        version: v,
        signingKey: key(fill),
        signingKeyId: `kid-${userId}-${v}`,
        encryptionKey: key(fill + 1),
        signature: key(fill + 2, 64),
      });

      it('createUser records version 1 with the registration signature; unknown users have no keys', async () => {
        await store.createUser({ id: 'carol', username: 'carol', signingKey: key(5), encryptionKey: key(6) }, { signingKeyId: 'kid-carol', signature: key(7, 64) });
        const keys = await store.userKeys('carol');
        expect(keys).toHaveLength(1);
        expect(keys[0]).toMatchObject({ userId: 'carol', version: 1, signingKeyId: 'kid-carol' });
        expect(keys[0]!.signingKey).toEqual(key(5));
        expect(keys[0]!.encryptionKey).toEqual(key(6));
        expect(keys[0]!.signature).toEqual(key(7, 64));
        expect(keys[0]!.createdAt).toBeInstanceOf(Date);
        for (const b of [keys[0]!.signingKey, keys[0]!.encryptionKey, keys[0]!.signature]) expect(Object.getPrototypeOf(b)).toBe(Uint8Array.prototype);
        expect(await store.userKeys('nobody')).toEqual([]);
      });

      it('a user refused for a taken name leaves no keys behind; a rolled-back transaction neither', async () => {
        await expectStorageError(store.createUser({ id: 'other', username: 'alice', signingKey: key(9), encryptionKey: key(9) }, firstKey()), 'CONFLICT');
        expect(await store.userKeys('other')).toEqual([]);
        await expect(
          store.transaction(async (tx) => {
            await tx.createUser({ id: 'carol', username: 'carol', signingKey: key(5), encryptionKey: key(6) }, firstKey());
            expect(await tx.userKeys('carol')).toHaveLength(1);
            throw new Error('abort');
          }),
        ).rejects.toThrow('abort');
        expect(await store.userKeys('carol')).toEqual([]);
        expect(await store.findUserById('carol')).toBeNull();
      });

      it('addUserKey appends the next version and makes it the user’s current keys', async () => {
        const user = await store.addUserKey(version('alice', 2, 20));
        expect(user).toMatchObject({ id: 'alice', username: 'alice' });
        expect(user.signingKey).toEqual(key(20));
        expect(user.encryptionKey).toEqual(key(21));
        expect((await store.findUserByUsername('alice'))!.signingKey).toEqual(key(20));
        await store.addUserKey(version('alice', 3, 30));
        const keys = await store.userKeys('alice');
        expect(keys.map((k) => [k.version, k.signingKeyId, k.signingKey[0], k.signature[0]])).toEqual([
          [1, 'kid-238', 1, 0xee],
          [2, 'kid-alice-2', 20, 22],
          [3, 'kid-alice-3', 30, 32],
        ]);
        // Bob's keys are untouched.
        expect((await store.userKeys('bob')).map((k) => k.version)).toEqual([1]);
        expect((await store.findUserById('bob'))!.signingKey).toEqual(key(3));
      });

      it('a version that does not follow the newest is a CONFLICT and changes nothing', async () => {
        for (const v of [1, 3, 0x7fffffff]) {
          const e = await expectStorageError(store.addUserKey(version('alice', v, 40)), 'CONFLICT');
          expect(e.fields).toEqual(['userId', 'version']);
        }
        await store.addUserKey(version('alice', 2, 20));
        await expectStorageError(store.addUserKey(version('alice', 2, 50)), 'CONFLICT');
        expect((await store.userKeys('alice')).map((k) => k.signingKey[0])).toEqual([1, 20]);
        expect((await store.findUserById('alice'))!.signingKey).toEqual(key(20));
      });

      it('of two concurrent appends of the same version exactly one wins', async () => {
        const results = await Promise.allSettled([store.addUserKey(version('alice', 2, 60)), store.addUserKey(version('alice', 2, 70))]);
        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(1);
        expect(lost[0]!.reason).toBeInstanceOf(StorageError);
        expect((lost[0]!.reason as StorageError).code).toBe('CONFLICT');
        const keys = await store.userKeys('alice');
        expect(keys).toHaveLength(2);
        // The user row carries the winner's keys.
        expect((await store.findUserById('alice'))!.signingKey).toEqual(keys[1]!.signingKey);
      });

      it('refuses malformed rows, and keys of a user that does not exist', async () => {
        await expectStorageError(store.addUserKey({ ...version('alice', 2, 20), version: 1.5 }), 'INVALID_ARGUMENT');
        await expectStorageError(store.addUserKey({ ...version('alice', 2, 20), version: 0 }), 'INVALID_ARGUMENT');
        await expectStorageError(store.addUserKey({ ...version('alice', 2, 20), signature: 'x' as unknown as Uint8Array }), 'INVALID_ARGUMENT');
        await expectStorageError(store.addUserKey(version('nobody', 1, 20)), 'INVALID_REFERENCE');
        expect((await store.userKeys('alice')).map((k) => k.version)).toEqual([1]);
      });

      it('rolls back with an enclosing transaction', async () => {
        await expect(
          store.transaction(async (tx) => {
            await tx.addUserKey(version('alice', 2, 20));
            expect((await tx.findUserById('alice'))!.signingKey).toEqual(key(20));
            throw new Error('abort');
          }),
        ).rejects.toThrow('abort');
        expect((await store.userKeys('alice')).map((k) => k.version)).toEqual([1]);
        expect((await store.findUserById('alice'))!.signingKey).toEqual(key(1));
      });

      it('finds key versions by signing key id, any user and version; the empty id of legacy rows names nothing', async () => {
        await store.addUserKey(version('alice', 2, 20));
        await store.addUserKey(version('bob', 2, 30));
        await store.createUser({ id: 'legacy', username: 'legacy', signingKey: key(9), encryptionKey: key(9) }, { signingKeyId: '', signature: new Uint8Array(0) });
        const found = await store.userKeysBySigningKeyIds(['kid-bob-2', 'kid-alice-2', 'unknown', 'kid-alice-2', 'kid-238']);
        expect(found.map((k) => [k.userId, k.version, k.signingKeyId])).toEqual([
          ['alice', 1, 'kid-238'],
          ['alice', 2, 'kid-alice-2'],
          ['bob', 1, 'kid-238'],
          ['bob', 2, 'kid-bob-2'],
        ]);
        expect(found[1]!.signingKey).toEqual(key(20));
        expect(await store.userKeysBySigningKeyIds([''])).toEqual([]);
        expect(await store.userKeysBySigningKeyIds([])).toEqual([]);
        expect((await store.userKeys('legacy'))[0]!.signature).toEqual(new Uint8Array(0));
      });
    });

    describe('contacts', () => {
      const user = (id: string, username = id) => store.createUser({ id, username, signingKey: key(1), encryptionKey: key(2) }, firstKey());
      const others = (rows: readonly ContactRow[], me: string) => rows.map((r) => (r.userLowId === me ? r.userHighId : r.userLowId));

      it('searchUsers: by username prefix, in username order, after a cursor, at most limit', async () => {
        for (const name of ['carol', 'carl', 'car', 'cat', 'dave']) await user(`id-${name}`, name);
        expect((await store.searchUsers('ca', 10)).map((u) => u.username)).toEqual(['car', 'carl', 'carol', 'cat']);
        expect((await store.searchUsers('car', 2)).map((u) => u.username)).toEqual(['car', 'carl']);
        expect((await store.searchUsers('car', 2, 'carl')).map((u) => u.username)).toEqual(['carol']);
        expect((await store.searchUsers('ca', 10, 'cat')).map((u) => u.username)).toEqual([]);
        expect((await store.searchUsers('carol', 10)).map((u) => u.id)).toEqual(['id-carol']);
        expect(await store.searchUsers('x', 10)).toEqual([]);
        expect(await store.searchUsers('ca', 0)).toEqual([]);
        expect((await store.searchUsers('', 3)).map((u) => u.username)).toEqual(['alice', 'bob', 'car']);
        const found = (await store.searchUsers('dav', 1))[0]!;
        expect(Object.getPrototypeOf(found.signingKey)).toBe(Uint8Array.prototype);
        await expectStorageError(store.searchUsers('ca', -1), 'INVALID_ARGUMENT');
      });

      it('searchUsers: the prefix matches literally (no LIKE wildcards, case-sensitive)', async () => {
        for (const name of ['a_b', 'axb', 'a%c', 'azc', 'A_b', 'a\\b']) await user(`id-${name}`, name);
        expect((await store.searchUsers('a_', 10)).map((u) => u.username)).toEqual(['a_b']);
        expect((await store.searchUsers('a%', 10)).map((u) => u.username)).toEqual(['a%c']);
        expect((await store.searchUsers('a\\', 10)).map((u) => u.username)).toEqual(['a\\b']);
        expect((await store.searchUsers('A', 10)).map((u) => u.username)).toEqual(['A_b']);
        expect((await store.searchUsers('az', 10)).map((u) => u.username)).toEqual(['azc']);
      });

      it('a request, found from either side, listed as OUTGOING for the sender and INCOMING for the recipient', async () => {
        const { outcome, row } = await store.requestContact('bob', 'alice');
        expect(outcome).toBe('requested');
        expect(row).toMatchObject({ userLowId: 'alice', userHighId: 'bob', requesterId: 'bob', status: 'PENDING' });
        expect(row.createdAt).toBeInstanceOf(Date);
        expect(row.updatedAt).toBeInstanceOf(Date);
        expect(await store.findContact('alice', 'bob')).toEqual(row);
        expect(await store.findContact('bob', 'alice')).toEqual(row);
        expect(await store.findContact('alice', 'nobody')).toBeNull();
        expect(others(await store.listContacts('bob', 'OUTGOING', 10), 'bob')).toEqual(['alice']);
        expect(others(await store.listContacts('alice', 'INCOMING', 10), 'alice')).toEqual(['bob']);
        for (const [who, which] of [['bob', 'INCOMING'], ['alice', 'OUTGOING'], ['alice', 'ACCEPTED'], ['bob', 'ACCEPTED']] as const) {
          expect(await store.listContacts(who, which, 10)).toEqual([]);
        }
      });

      it('asking again is a duplicate; the other side asking accepts; after that both ways are already-contacts', async () => {
        const first = await store.requestContact('alice', 'bob');
        const again = await store.requestContact('alice', 'bob');
        expect(again).toEqual({ outcome: 'duplicate', row: first.row });
        await new Promise((r) => setTimeout(r, 5));
        const back = await store.requestContact('bob', 'alice');
        expect(back.outcome).toBe('accepted');
        expect(back.row).toMatchObject({ userLowId: 'alice', userHighId: 'bob', requesterId: 'alice', status: 'ACCEPTED' });
        expect(back.row.createdAt.getTime()).toBe(first.row.createdAt.getTime());
        expect(back.row.updatedAt.getTime()).toBeGreaterThan(first.row.updatedAt.getTime());
        for (const [from, to] of [['alice', 'bob'], ['bob', 'alice']] as const) {
          expect(await store.requestContact(from, to)).toEqual({ outcome: 'already-contacts', row: back.row });
        }
        expect(others(await store.listContacts('alice', 'ACCEPTED', 10), 'alice')).toEqual(['bob']);
        expect(others(await store.listContacts('bob', 'ACCEPTED', 10), 'bob')).toEqual(['alice']);
        expect(await store.listContacts('alice', 'OUTGOING', 10)).toEqual([]);
        expect(await store.listContacts('bob', 'INCOMING', 10)).toEqual([]);
      });

      it('acceptContact: only the recipient, only a pending request', async () => {
        expect(await store.acceptContact('bob', 'alice')).toBeNull(); // nothing asked yet
        await store.requestContact('alice', 'bob');
        expect(await store.acceptContact('alice', 'bob')).toBeNull(); // the sender cannot accept
        expect(await store.acceptContact('alice', 'alice')).toBeNull();
        expect((await store.findContact('alice', 'bob'))!.status).toBe('PENDING');
        const accepted = await store.acceptContact('bob', 'alice');
        expect(accepted).toMatchObject({ userLowId: 'alice', userHighId: 'bob', requesterId: 'alice', status: 'ACCEPTED' });
        expect(await store.findContact('alice', 'bob')).toEqual(accepted);
        expect(await store.acceptContact('bob', 'alice')).toBeNull(); // already accepted
      });

      it('deleteContactRequest: rejects or cancels a pending request (which can then be sent again), never a contact', async () => {
        await store.requestContact('alice', 'bob');
        expect(await store.deleteContactRequest('bob', 'alice')).toBe(false); // bob sent nothing
        expect(await store.deleteContactRequest('alice', 'bob')).toBe(true);
        expect(await store.findContact('alice', 'bob')).toBeNull();
        expect(await store.deleteContactRequest('alice', 'bob')).toBe(false);
        expect((await store.requestContact('alice', 'bob')).outcome).toBe('requested');
        await store.acceptContact('bob', 'alice');
        expect(await store.deleteContactRequest('alice', 'bob')).toBe(false);
        expect((await store.findContact('alice', 'bob'))!.status).toBe('ACCEPTED');
      });

      it('deleteContact: only an accepted contact, from either side', async () => {
        await store.requestContact('alice', 'bob');
        expect(await store.deleteContact('alice', 'bob')).toBe(false); // still pending
        expect((await store.findContact('alice', 'bob'))!.status).toBe('PENDING');
        await store.acceptContact('bob', 'alice');
        expect(await store.deleteContact('bob', 'alice')).toBe(true);
        expect(await store.findContact('alice', 'bob')).toBeNull();
        expect(await store.deleteContact('alice', 'bob')).toBe(false);
        expect(await store.listContacts('alice', 'ACCEPTED', 10)).toEqual([]);
      });

      it('refuses a request to oneself (INVALID_ARGUMENT) or to an unknown user (INVALID_REFERENCE), writing nothing', async () => {
        await expectStorageError(store.requestContact('alice', 'alice'), 'INVALID_ARGUMENT');
        await expectStorageError(store.requestContact('alice', 'nobody'), 'INVALID_REFERENCE');
        await expectStorageError(store.requestContact('nobody', 'alice'), 'INVALID_REFERENCE');
        expect(await store.findContact('alice', 'nobody')).toBeNull();
        expect(await store.listContacts('alice', 'OUTGOING', 10)).toEqual([]);
        expect(await store.listContacts('alice', 'INCOMING', 10)).toEqual([]);
      });

      it('listContacts: each list in the other user’s id order, on both sides of the user’s own id, page by page', async () => {
        // `m` sits in the middle: its pairs store it as userHighId with a…, as userLowId with x….
        for (const id of ['m', 'a1', 'b2', 'c3', 'x1', 'y2', 'z3', 'd4', 'w4']) await user(id);
        for (const id of ['z3', 'a1', 'y2', 'c3']) {
          await store.requestContact('m', id);
          await store.acceptContact(id, 'm');
        }
        await store.requestContact('b2', 'm'); // incoming
        await store.requestContact('w4', 'm'); // incoming
        await store.requestContact('m', 'x1'); // outgoing
        await store.requestContact('m', 'd4'); // outgoing
        expect(others(await store.listContacts('m', 'ACCEPTED', 10), 'm')).toEqual(['a1', 'c3', 'y2', 'z3']);
        expect(others(await store.listContacts('m', 'INCOMING', 10), 'm')).toEqual(['b2', 'w4']);
        expect(others(await store.listContacts('m', 'OUTGOING', 10), 'm')).toEqual(['d4', 'x1']);
        expect(others(await store.listContacts('a1', 'ACCEPTED', 10), 'a1')).toEqual(['m']);

        const pages: string[][] = [];
        let after: string | undefined;
        for (;;) {
          const page = others(await store.listContacts('m', 'ACCEPTED', 1 + (pages.length % 2), after), 'm');
          if (page.length === 0) break;
          pages.push(page);
          after = page.at(-1);
        }
        expect(pages).toEqual([['a1'], ['c3', 'y2'], ['z3']]);
        expect(others(await store.listContacts('m', 'ACCEPTED', 10, 'b'), 'm')).toEqual(['c3', 'y2', 'z3']);
        expect(others(await store.listContacts('m', 'ACCEPTED', 10, 'm'), 'm')).toEqual(['y2', 'z3']);
        expect(others(await store.listContacts('m', 'ACCEPTED', 10, 'x'), 'm')).toEqual(['y2', 'z3']);
        expect(await store.listContacts('m', 'ACCEPTED', 10, 'z3')).toEqual([]);
        expect(await store.listContacts('m', 'ACCEPTED', 0)).toEqual([]);
        expect(await store.listContacts('nobody', 'ACCEPTED', 10)).toEqual([]);
        await expectStorageError(store.listContacts('m', 'ACCEPTED', -1), 'INVALID_ARGUMENT');
        await expectStorageError(store.listContacts('m', 'BLOCKED' as 'ACCEPTED', 10), 'INVALID_ARGUMENT');
      });

      it('two users asking each other at the same moment end up contacts on one row: one requested, one accepted', async () => {
        for (let round = 0; round < 10; round++) {
          const results = await Promise.all([store.requestContact('alice', 'bob'), store.requestContact('bob', 'alice')]);
          expect(results.map((r) => r.outcome).sort()).toEqual(['accepted', 'requested']);
          const row = await store.findContact('alice', 'bob');
          expect(row).toMatchObject({ userLowId: 'alice', userHighId: 'bob', status: 'ACCEPTED' });
          expect(results.find((r) => r.outcome === 'accepted')!.row).toEqual(row);
          expect(await store.listContacts('alice', 'ACCEPTED', 10)).toEqual([row]);
          expect(await store.deleteContact('alice', 'bob')).toBe(true);
        }
      });

      it('rolls back with an enclosing transaction', async () => {
        await store.requestContact('alice', 'bob');
        await expect(
          store.transaction(async (tx) => {
            expect((await tx.requestContact('bob', 'alice')).outcome).toBe('accepted');
            throw new Error('abort');
          }),
        ).rejects.toThrow('abort');
        expect((await store.findContact('alice', 'bob'))!.status).toBe('PENDING');
      });

      it('refuses to read a row whose status is not PENDING or ACCEPTED', async () => {
        const options = await target.fresh();
        const s = await open(options);
        await s.createUser({ id: 'alice', username: 'alice', signingKey: key(1), encryptionKey: key(2) }, firstKey());
        await s.createUser({ id: 'bob', username: 'bob', signingKey: key(3), encryptionKey: key(4) }, firstKey());
        const db = createClient(resolveDatabaseTarget(options));
        try {
          await db.contact.create({ data: { userLowId: 'alice', userHighId: 'bob', requesterId: 'alice', status: 'BLOCKED' } });
        } finally {
          await db.$disconnect();
        }
        await expectStorageError(s.findContact('alice', 'bob'), 'INVALID_ARGUMENT');
        await expectStorageError(s.requestContact('bob', 'alice'), 'INVALID_ARGUMENT');
      });
    });

    describe('conversations and messages', () => {
      const user = (id: string) => store.createUser({ id, username: id, signingKey: key(1), encryptionKey: key(2) }, firstKey());
      const wrap = (fill: number) => key(fill, 120);
      /** A conversation of `members` (the first is its ADMIN and creator), epoch 1 wrapped for each. */
      const conversation = (id: string, members: readonly string[], extra: Partial<Omit<ConversationRow, 'id'>> = {}) =>
        store.createConversation(
          { id, kind: 'GROUP', createdById: members[0]!, historySharing: false, epochTtlSeconds: null, ...extra },
          members.map((userId, i) => ({ userId, role: i === 0 ? ('ADMIN' as const) : ('MEMBER' as const) })),
          members.map((recipientId, i) => ({ recipientId, wrapped: wrap(10 + i) })),
        );
      const message = (conversationId: string, clientId: string, senderId: string, extra: Partial<MessageRow> = {}) => ({
        conversationId,
        clientId,
        senderId,
        epoch: 1,
        body: `env:${clientId}`,
        expiresAt: null,
        ...extra,
      });
      const send = async (conversationId: string, clientId: string, senderId: string, extra: Partial<MessageRow> = {}): Promise<MessageRow> =>
        (await store.insertMessage(message(conversationId, clientId, senderId, extra))).message;
      const epochsOf = (rows: readonly EpochKeyRow[]) => rows.map((k) => [k.conversationId, k.epoch]);
      const seqs = (rows: readonly MessageRow[]) => rows.map((m) => m.seq);
      const later = (ms: number) => new Date(Date.now() + ms);

      it('createConversation stores it with its members at epoch 1 and epoch 1’s keys', async () => {
        const created = await conversation('c1', ['alice', 'bob'], { kind: 'DIRECT', historySharing: true, epochTtlSeconds: 3600 });
        expect(created).toMatchObject({ id: 'c1', kind: 'DIRECT', createdById: 'alice', epoch: 1, historySharing: true, epochTtlSeconds: 3600 });
        expect(created.createdAt).toBeInstanceOf(Date);
        expect(created.epochStartedAt.getTime()).toBe(created.createdAt.getTime());
        expect(await store.findConversation('c1')).toEqual(created);
        expect(await store.findConversation('missing')).toBeNull();

        const members = await store.members('c1');
        expect(members.map((m) => [m.conversationId, m.userId, m.role, m.joinedEpoch])).toEqual([
          ['c1', 'alice', 'ADMIN', 1],
          ['c1', 'bob', 'MEMBER', 1],
        ]);
        expect(members[0]!.createdAt).toBeInstanceOf(Date);
        expect(await store.findMember('c1', 'bob')).toEqual(members[1]);
        expect(await store.findMember('c1', 'carol')).toBeNull();
        expect(await store.members('missing')).toEqual([]);

        const keys = await store.epochKeysFor(['c1', 'missing'], 'bob');
        expect(keys).toEqual([{ conversationId: 'c1', epoch: 1, recipientId: 'bob', wrapped: wrap(11) }]);
        expect(Object.getPrototypeOf(keys[0]!.wrapped)).toBe(Uint8Array.prototype);
        expect(await store.epochKeysFor([], 'bob')).toEqual([]);
        expect(await store.epochKeysFor(['c1'], 'carol')).toEqual([]);
      });

      it('createConversation: an id in use is CONFLICT, an unknown member or recipient INVALID_REFERENCE, bad values INVALID_ARGUMENT; nothing is written', async () => {
        await conversation('c1', ['alice']);
        const dup = await expectStorageError(conversation('c1', ['bob']), 'CONFLICT');
        expect(dup.fields).toEqual(['id']);
        expect(await store.members('c1')).toHaveLength(1);
        await expectStorageError(conversation('c2', ['alice', 'nobody']), 'INVALID_REFERENCE');
        await expectStorageError(
          store.createConversation({ id: 'c2', kind: 'GROUP', createdById: 'alice', historySharing: false, epochTtlSeconds: null }, [{ userId: 'alice', role: 'ADMIN' }], [{ recipientId: 'nobody', wrapped: wrap(1) }]),
          'INVALID_REFERENCE',
        );
        expect(await store.findConversation('c2')).toBeNull();
        expect(await store.findMember('c2', 'alice')).toBeNull();
        expect(await store.epochKeysFor(['c2'], 'alice')).toEqual([]);

        await expectStorageError(conversation('c2', ['alice'], { kind: 'CHANNEL' as 'GROUP' }), 'INVALID_ARGUMENT');
        await expectStorageError(conversation('c2', ['alice'], { epochTtlSeconds: 0 }), 'INVALID_ARGUMENT');
        await expectStorageError(conversation('c2', ['alice', 'alice']), 'INVALID_ARGUMENT');
        await expectStorageError(
          store.createConversation({ id: 'c2', kind: 'GROUP', createdById: 'alice', historySharing: false, epochTtlSeconds: null }, [{ userId: 'alice', role: 'OWNER' as 'ADMIN' }], []),
          'INVALID_ARGUMENT',
        );
        expect(await store.findConversation('c2')).toBeNull();
      });

      it('conversationsOf lists the user’s conversations by id, after a cursor, at most limit', async () => {
        await user('carol');
        for (const [id, members] of [['c3', ['alice']], ['c1', ['alice', 'bob']], ['c4', ['bob']], ['c2', ['bob', 'alice']]] as const) await conversation(id, members);
        expect((await store.conversationsOf('alice', 10)).map((c) => c.id)).toEqual(['c1', 'c2', 'c3']);
        expect((await store.conversationsOf('alice', 2)).map((c) => c.id)).toEqual(['c1', 'c2']);
        expect((await store.conversationsOf('alice', 2, 'c2')).map((c) => c.id)).toEqual(['c3']);
        expect((await store.conversationsOf('bob', 10, 'c1')).map((c) => c.id)).toEqual(['c2', 'c4']);
        expect(await store.conversationsOf('alice', 10, 'c3')).toEqual([]);
        expect(await store.conversationsOf('carol', 10)).toEqual([]);
        expect(await store.conversationsOf('alice', 0)).toEqual([]);
        expect((await store.conversationsOf('bob', 1))[0]).toEqual(await store.findConversation('c1'));
        await expectStorageError(store.conversationsOf('alice', -1), 'INVALID_ARGUMENT');
      });

      it('rotateEpoch removes members with every epoch key they had there, adds members at the new epoch, stores the new and history keys', async () => {
        await user('carol');
        await user('dave');
        const created = await conversation('c1', ['alice', 'bob', 'carol'], { historySharing: true });
        await conversation('c-other', ['carol', 'alice']);
        await new Promise((r) => setTimeout(r, 5));
        const rotated = await store.rotateEpoch('c1', 2, {
          keys: [{ recipientId: 'alice', wrapped: wrap(20) }, { recipientId: 'bob', wrapped: wrap(21) }, { recipientId: 'dave', wrapped: wrap(22) }],
          add: [{ userId: 'dave', role: 'MEMBER' }],
          remove: ['carol'],
          historyKeys: [{ epoch: 1, recipientId: 'dave', wrapped: wrap(23) }],
        });
        expect(rotated).toMatchObject({ id: 'c1', epoch: 2, historySharing: true });
        expect(rotated.createdAt.getTime()).toBe(created.createdAt.getTime());
        expect(rotated.epochStartedAt.getTime()).toBeGreaterThan(created.epochStartedAt.getTime());
        expect(await store.findConversation('c1')).toEqual(rotated);

        expect((await store.members('c1')).map((m) => [m.userId, m.joinedEpoch])).toEqual([
          ['alice', 1],
          ['bob', 1],
          ['dave', 2],
        ]);
        expect(await store.findMember('c1', 'carol')).toBeNull();
        // Carol loses epoch 1 too, in this conversation only.
        expect(epochsOf(await store.epochKeysFor(['c1', 'c-other'], 'carol'))).toEqual([['c-other', 1]]);
        expect(epochsOf(await store.epochKeysFor(['c1'], 'alice'))).toEqual([
          ['c1', 1],
          ['c1', 2],
        ]);
        const daves = await store.epochKeysFor(['c1'], 'dave');
        expect(daves.map((k) => [k.epoch, k.wrapped[0]])).toEqual([
          [1, 23],
          [2, 22],
        ]);
        expect((await store.conversationsOf('carol', 10)).map((c) => c.id)).toEqual(['c-other']);
        expect((await store.conversationsOf('dave', 10)).map((c) => c.id)).toEqual(['c1']);

        // A rotation with no membership change (a scheduled one).
        expect((await store.rotateEpoch('c1', 3, { keys: [{ recipientId: 'alice', wrapped: wrap(30) }] })).epoch).toBe(3);
        expect(epochsOf(await store.epochKeysFor(['c1'], 'alice')).map(([, e]) => e)).toEqual([1, 2, 3]);
      });

      it('rotateEpoch is a compare-and-swap on the epoch: a stale or skipped epoch is CONFLICT and writes nothing', async () => {
        await user('carol');
        await conversation('c1', ['alice', 'bob']);
        for (const next of [1, 3]) {
          const e = await expectStorageError(store.rotateEpoch('c1', next, { keys: [{ recipientId: 'alice', wrapped: wrap(1) }], remove: ['bob'] }), 'CONFLICT');
          expect(e.fields).toEqual(['conversationId', 'epoch']);
        }
        await store.rotateEpoch('c1', 2, { keys: [{ recipientId: 'alice', wrapped: wrap(2) }], remove: ['bob'] });
        // Stale: another rotation to 2 already happened.
        await expectStorageError(store.rotateEpoch('c1', 2, { keys: [{ recipientId: 'carol', wrapped: wrap(3) }], add: [{ userId: 'carol', role: 'MEMBER' }], remove: ['alice'] }), 'CONFLICT');
        expect((await store.findConversation('c1'))!.epoch).toBe(2);
        expect((await store.members('c1')).map((m) => m.userId)).toEqual(['alice']);
        expect((await store.epochKeysFor(['c1'], 'alice')).map((k) => [k.epoch, k.wrapped[0]])).toEqual([
          [1, 10],
          [2, 2],
        ]);
        expect(await store.epochKeysFor(['c1'], 'carol')).toEqual([]);
        await expectStorageError(store.rotateEpoch('missing', 2, { keys: [] }), 'INVALID_REFERENCE');
      });

      it('rotateEpoch: a failure after the swap takes the whole rotation back', async () => {
        await user('carol');
        const before = await conversation('c1', ['alice', 'bob']);
        // Bob is already a member: CONFLICT on the member's key, after the epoch was swapped.
        await expectStorageError(store.rotateEpoch('c1', 2, { keys: [{ recipientId: 'alice', wrapped: wrap(2) }], add: [{ userId: 'bob', role: 'MEMBER' }] }), 'CONFLICT');
        // An unknown user added, after the removal was done.
        await expectStorageError(
          store.rotateEpoch('c1', 2, { keys: [{ recipientId: 'alice', wrapped: wrap(2) }], add: [{ userId: 'nobody', role: 'MEMBER' }], remove: ['bob'] }),
          'INVALID_REFERENCE',
        );
        // A history key for a slot already held.
        await expectStorageError(store.rotateEpoch('c1', 2, { keys: [{ recipientId: 'alice', wrapped: wrap(2) }], historyKeys: [{ epoch: 1, recipientId: 'bob', wrapped: wrap(3) }] }), 'CONFLICT');
        expect(await store.findConversation('c1')).toEqual(before);
        expect((await store.members('c1')).map((m) => m.userId)).toEqual(['alice', 'bob']);
        expect(epochsOf(await store.epochKeysFor(['c1'], 'alice'))).toEqual([['c1', 1]]);
        expect(epochsOf(await store.epochKeysFor(['c1'], 'bob'))).toEqual([['c1', 1]]);

        // Refused before anything is written.
        for (const change of [
          { keys: [{ recipientId: 'bob', wrapped: wrap(2) }], remove: ['bob'] },
          { keys: [], add: [{ userId: 'bob', role: 'MEMBER' as const }], remove: ['bob'] },
          { keys: [], historyKeys: [{ epoch: 2, recipientId: 'carol', wrapped: wrap(2) }] },
          { keys: [{ recipientId: 'alice', wrapped: wrap(2) }, { recipientId: 'alice', wrapped: wrap(3) }] },
          { keys: [], add: [{ userId: 'carol', role: 'OWNER' as 'ADMIN' }] },
        ]) {
          await expectStorageError(store.rotateEpoch('c1', 2, change), 'INVALID_ARGUMENT');
        }
        await expectStorageError(store.rotateEpoch('c1', 1.5, { keys: [] }), 'INVALID_ARGUMENT');
        expect(await store.findConversation('c1')).toEqual(before);
      });

      it('of concurrent rotations to the same epoch exactly one wins', async () => {
        await conversation('c1', ['alice', 'bob']);
        const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => store.rotateEpoch('c1', 2, { keys: [{ recipientId: 'alice', wrapped: wrap(40 + i) }] })));
        const won = results.filter((r) => r.status === 'fulfilled');
        expect(won).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect((r.reason as StorageError).code).toBe('CONFLICT');
        const keys = await store.epochKeysFor(['c1'], 'alice');
        expect(keys.map((k) => k.epoch)).toEqual([1, 2]);
        expect((await store.findConversation('c1'))!.epoch).toBe(2);
      });

      it('insertMessage stores a message with an increasing seq; the same clientId again returns the stored one, created: false', async () => {
        await conversation('c1', ['alice', 'bob']);
        await conversation('c2', ['alice', 'bob']);
        const expiresAt = later(60_000);
        const first = await store.insertMessage(message('c1', 'client-1', 'alice', { expiresAt }));
        expect(first.created).toBe(true);
        expect(first.message).toMatchObject({ conversationId: 'c1', clientId: 'client-1', senderId: 'alice', epoch: 1, body: 'env:client-1' });
        expect(first.message.expiresAt!.getTime()).toBe(expiresAt.getTime());
        expect(first.message.createdAt).toBeInstanceOf(Date);
        expect(Number.isInteger(first.message.seq)).toBe(true);

        const retry = await store.insertMessage(message('c1', 'client-1', 'alice', { body: 'env:other' }));
        expect(retry).toEqual({ message: first.message, created: false });
        const second = await store.insertMessage(message('c1', 'client-2', 'bob'));
        expect(second.created).toBe(true);
        expect(second.message.seq).toBeGreaterThan(first.message.seq);
        expect(second.message.expiresAt).toBeNull();
        // The same clientId in another conversation is another message.
        const elsewhere = await store.insertMessage(message('c2', 'client-1', 'alice'));
        expect(elsewhere.created).toBe(true);
        expect(elsewhere.message.seq).toBeGreaterThan(second.message.seq);

        expect(seqs(await store.messagesAfter(['c1'], 0, 100, new Date()))).toEqual([first.message.seq, second.message.seq]);
        expect(await store.findMessage(first.message.seq)).toEqual(first.message);
        expect(await store.findMessageByClientId('c1', 'client-1')).toEqual(first.message);
        expect(await store.findMessageByClientId('c2', 'client-1')).toEqual(elsewhere.message);
        expect(await store.findMessageByClientId('c1', 'client-3')).toBeNull();
        expect(await store.findMessageByClientId('c3', 'client-1')).toBeNull();
        expect(await store.findMessage(elsewhere.message.seq + 1000)).toBeNull();
        expect(await store.findMessage(0)).toBeNull();
        expect(await store.findMessage(2 ** 40)).toBeNull();
        await expectStorageError(store.findMessage(1.5), 'INVALID_ARGUMENT');
        expect(await store.latestMessageSeq()).toBe(elsewhere.message.seq);

        await expectStorageError(store.insertMessage(message('missing', 'client-3', 'alice')), 'INVALID_REFERENCE');
        // Not the conversation's current epoch: refused, nothing stored.
        await expectStorageError(store.insertMessage(message('c1', 'client-4', 'alice', { epoch: 2 })), 'CONFLICT');
        await expectStorageError(store.insertMessage(message('c1', 'client-3', 'nobody')), 'INVALID_REFERENCE');
        await expectStorageError(store.insertMessage(message('c1', 'client-3', 'alice', { epoch: 0 })), 'INVALID_ARGUMENT');
        await expectStorageError(store.insertMessage(message('c1', '', 'alice')), 'INVALID_ARGUMENT');
        await expectStorageError(store.insertMessage(message('c1', 'client-3', 'alice', { expiresAt: new Date(NaN) })), 'INVALID_ARGUMENT');
        expect(await store.latestMessageSeq()).toBe(elsewhere.message.seq);
      });

      it('latestMessageSeq is 0 with no messages', async () => {
        expect(await store.latestMessageSeq()).toBe(0);
      });

      it('concurrent inserts of the same clientId store one message', async () => {
        await conversation('c1', ['alice', 'bob']);
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.insertMessage(message('c1', 'same', 'alice', { body: `env:${i}` }))));
        expect(results.filter((r) => r.created)).toHaveLength(1);
        const stored = results.find((r) => r.created)!.message;
        for (const r of results) expect(r.message).toEqual(stored);
        expect(await store.messagesAfter(['c1'], 0, 100, new Date())).toEqual([stored]);
      });

      it('concurrent inserts get distinct increasing seqs, and a reader polling meanwhile never skips one', async () => {
        const convs = ['c1', 'c2', 'c3'];
        for (const c of convs) await conversation(c, ['alice', 'bob']);
        // The last round polls through more ids than one IN chunk holds, the real ones in
        // different chunks: several statements, each its own snapshot.
        const padded = Array.from({ length: 1200 }, (_, i) => (i === 0 ? 'c1' : i === 600 ? 'c2' : i === 1199 ? 'c3' : `none-${i}`));
        for (let round = 0; round < 3; round++) {
          const pollIds = round === 2 ? padded : convs;
          const start = await store.latestMessageSeq();
          let writersDone = false;
          const polled: number[] = [];
          const reader = (async () => {
            let cursor = start;
            for (;;) {
              // Read before polling: a poll that starts after every write committed sees them all.
              const finished = writersDone;
              const page = await store.messagesAfter(pollIds, cursor, 7, new Date());
              polled.push(...seqs(page));
              if (page.length > 0) cursor = page.at(-1)!.seq;
              if (finished && page.length === 0) return;
            }
          })();
          const writes = Array.from({ length: 50 }, (_, i) => {
            const m = message(convs[i % 3]!, `r${round}-m${i}`, i % 2 ? 'alice' : 'bob');
            if (i % 10 !== 3) return store.insertMessage(m);
            // Some commit late: their transaction stays open after the insert. Without commit
            // order = seq order, the others' higher seqs would commit meanwhile, the reader's
            // cursor would pass this one, and it would never be listed.
            return store.transaction(async (tx) => {
              const inserted = await tx.insertMessage(m);
              await new Promise((r) => setTimeout(r, 30));
              return inserted;
            });
          });
          const results = await Promise.all(writes).finally(() => (writersDone = true));
          await reader;

          expect(results.every((r) => r.created)).toBe(true);
          const written = results.map((r) => r.message.seq).sort((a, b) => a - b);
          expect(new Set(written).size).toBe(50);
          // No insert failed, so no seq was drawn and dropped: they are consecutive.
          expect(written).toEqual(Array.from({ length: 50 }, (_, i) => written[0]! + i));
          const all = seqs(await store.messagesAfter(convs, start, 1000, new Date()));
          expect(all).toEqual(written);
          // The reader saw every message, once each, in order: no page skipped one that committed late.
          expect(polled).toEqual(all);
          // One conversation's list holds only its messages.
          const c2 = await store.messagesAfter(['c2'], start, 1000, new Date());
          expect(c2.every((m) => m.conversationId === 'c2')).toBe(true);
          expect(c2).toHaveLength(results.filter((r) => r.message.conversationId === 'c2').length);
        }
      });

      it('messagesAfter: seq above the cursor, ascending, at most limit, only the given conversations, unexpired at now', async () => {
        await conversation('A', ['alice', 'bob']);
        await conversation('B', ['alice', 'bob']);
        const now = new Date();
        const a1 = await send('A', 'a1', 'alice');
        const b1 = await send('B', 'b1', 'bob');
        const a2 = await send('A', 'a2', 'alice', { expiresAt: new Date(now.getTime() - 1000) });
        const a3 = await send('A', 'a3', 'bob', { expiresAt: new Date(now.getTime() + 60_000) });
        const aNow = await send('A', 'a-now', 'bob', { expiresAt: now });
        const b2 = await send('B', 'b2', 'alice');

        expect(seqs(await store.messagesAfter(['A'], 0, 100, now))).toEqual(seqs([a1, a3]));
        // Before a2 expired, it was there; an expiry at exactly `now` is expired.
        expect(seqs(await store.messagesAfter(['A'], 0, 100, new Date(now.getTime() - 2000)))).toEqual(seqs([a1, a2, a3, aNow]));
        expect(seqs(await store.messagesAfter(['A', 'B', 'A'], a1.seq, 2, now))).toEqual(seqs([b1, a3]));
        expect(seqs(await store.messagesAfter(['A', 'B'], a3.seq, 10, now))).toEqual(seqs([b2]));
        expect(await store.messagesAfter(['A', 'B'], b2.seq, 10, now)).toEqual([]);
        expect(await store.messagesAfter(['missing'], 0, 10, now)).toEqual([]);
        expect(await store.messagesAfter([], 0, 10, now)).toEqual([]);
        expect(await store.messagesAfter(['A'], 0, 0, now)).toEqual([]);
        expect(await store.messagesAfter(['A'], 2 ** 40, 10, now)).toEqual([]);
        expect((await store.messagesAfter(['B'], 0, 10, now))[0]).toEqual(b1);
        await expectStorageError(store.messagesAfter(['A'], -1, 10, now), 'INVALID_ARGUMENT');
        await expectStorageError(store.messagesAfter(['A'], 0, -1, now), 'INVALID_ARGUMENT');

        // Many conversations at once (more than one IN chunk), the real ones far apart.
        const ids = Array.from({ length: 1200 }, (_, i) => `none-${i}`);
        ids[3] = 'B';
        ids[1100] = 'A';
        expect(seqs(await store.messagesAfter(ids, 0, 100, now))).toEqual(seqs([a1, b1, a3, b2]));
        expect(seqs(await store.messagesAfter(ids, a1.seq, 2, now))).toEqual(seqs([b1, a3]));
      });

      it('purgeExpiredMessages deletes messages expired at or before now, with their receipts', async () => {
        await conversation('c1', ['alice', 'bob']);
        const now = new Date();
        const old = await send('c1', 'old', 'alice', { expiresAt: new Date(now.getTime() - 60_000) });
        const atNow = await send('c1', 'at-now', 'alice', { expiresAt: now });
        const live = await send('c1', 'live', 'alice', { expiresAt: new Date(now.getTime() + 60_000) });
        const forever = await send('c1', 'forever', 'alice');
        expect(await store.addReceipts('bob', [old.seq, live.seq])).toBe(2);

        expect(await store.purgeExpiredMessages(now)).toBe(2);
        expect(await store.purgeExpiredMessages(now)).toBe(0);
        expect(await store.findMessage(old.seq)).toBeNull();
        expect(await store.findMessage(atNow.seq)).toBeNull();
        expect(seqs(await store.messagesAfter(['c1'], 0, 10, new Date(now.getTime() - 120_000)))).toEqual(seqs([live, forever]));
        expect((await store.receiptsFor([old.seq, live.seq])).map((r) => r.messageSeq)).toEqual([live.seq]);
        // A purged clientId can be used again (the message is gone).
        expect((await store.insertMessage(message('c1', 'old', 'alice'))).created).toBe(true);
      });

      it('addReceipts records each receipt once and counts the new ones; receiptsFor lists them by message, then user', async () => {
        await user('carol');
        await conversation('c1', ['alice', 'bob', 'carol']);
        const m1 = await send('c1', 'm1', 'alice');
        const m2 = await send('c1', 'm2', 'alice');
        expect(await store.addReceipts('bob', [m2.seq, m1.seq, m2.seq])).toBe(2);
        const first = await store.receiptsFor([m1.seq]);
        await new Promise((r) => setTimeout(r, 5));
        expect(await store.addReceipts('bob', [m1.seq, m2.seq])).toBe(0);
        expect(await store.addReceipts('carol', [m1.seq])).toBe(1);
        // Messages that do not exist (purged, say) are skipped.
        expect(await store.addReceipts('carol', [m2.seq + 1000, 0, -5, 2 ** 40])).toBe(0);
        expect(await store.addReceipts('carol', [])).toBe(0);

        const receipts = await store.receiptsFor([m2.seq, m1.seq, m2.seq + 1000]);
        expect(receipts.map((r) => [r.messageSeq, r.userId])).toEqual([
          [m1.seq, 'bob'],
          [m1.seq, 'carol'],
          [m2.seq, 'bob'],
        ]);
        for (const r of receipts) expect(r.deliveredAt).toBeInstanceOf(Date);
        // The first receipt's time is kept.
        expect(receipts[0]).toEqual(first[0]);
        expect(Math.abs(receipts[0]!.deliveredAt.getTime() - Date.now())).toBeLessThan(60_000);
        expect(await store.receiptsFor([])).toEqual([]);

        await expectStorageError(store.addReceipts('nobody', [m1.seq]), 'INVALID_REFERENCE');
        await expectStorageError(store.addReceipts('bob', [1.5]), 'INVALID_ARGUMENT');

        // Many at once (more than one IN chunk), most of them no message.
        const many = [...Array.from({ length: 1100 }, (_, i) => m2.seq + 1 + i), m1.seq, m2.seq];
        expect(await store.addReceipts('alice', many)).toBe(2);
        expect(await store.receiptsFor(many)).toHaveLength(5);
      });

      it('concurrent receipts for the same message count once; a repeat inside a transaction does not break it', async () => {
        await conversation('c1', ['alice', 'bob']);
        const m1 = await send('c1', 'm1', 'alice');
        const counts = await Promise.all(Array.from({ length: 10 }, () => store.addReceipts('bob', [m1.seq])));
        expect(counts.reduce((a, b) => a + b, 0)).toBe(1);
        await store.transaction(async (tx) => {
          expect(await tx.addReceipts('bob', [m1.seq])).toBe(0);
          await tx.insertMessage(message('c1', 'm2', 'bob'));
        });
        expect(await store.messagesAfter(['c1'], m1.seq, 10, new Date())).toHaveLength(1);
      });

      it('undeliveredFor: the user’s conversations, not their own messages, without their receipt, from the epoch they joined, unexpired', async () => {
        await user('carol');
        await user('dave');
        await conversation('A', ['alice', 'bob']);
        await conversation('B', ['alice', 'carol']);
        const a1 = await send('A', 'a1', 'alice');
        const a2 = await send('A', 'a2', 'bob');
        const b1 = await send('B', 'b1', 'alice');
        await store.rotateEpoch('A', 2, {
          keys: ['alice', 'bob', 'carol'].map((recipientId) => ({ recipientId, wrapped: wrap(2) })),
          add: [{ userId: 'carol', role: 'MEMBER' }],
        });
        const a3 = await send('A', 'a3', 'alice', { epoch: 2 });
        await send('A', 'a4', 'alice', { epoch: 2, expiresAt: new Date(Date.now() - 1000) });
        const a5 = await send('A', 'a5', 'carol', { epoch: 2, expiresAt: later(60_000) });
        const now = new Date();

        expect(seqs(await store.undeliveredFor('bob', 10, now))).toEqual(seqs([a1, a3, a5]));
        // Carol joined A at epoch 2: a1 is not hers to read.
        expect(seqs(await store.undeliveredFor('carol', 10, now))).toEqual(seqs([b1, a3]));
        expect(seqs(await store.undeliveredFor('alice', 10, now))).toEqual(seqs([a2, a5]));
        expect(await store.undeliveredFor('dave', 10, now)).toEqual([]);

        expect(await store.addReceipts('bob', [a1.seq, a5.seq])).toBe(2);
        expect(await store.undeliveredFor('bob', 10, now)).toEqual([a3]);
        // Another user's receipt does not count for carol.
        expect(seqs(await store.undeliveredFor('carol', 1, now))).toEqual(seqs([b1]));
        expect(await store.undeliveredFor('carol', 0, now)).toEqual([]);
        // Expired since: gone from the list.
        expect(seqs(await store.undeliveredFor('alice', 10, later(120_000)))).toEqual(seqs([a2]));
        await expectStorageError(store.undeliveredFor('bob', -1, now), 'INVALID_ARGUMENT');

        // Removed from A: nothing of A is undelivered to them any more.
        await store.rotateEpoch('A', 3, { keys: [{ recipientId: 'alice', wrapped: wrap(3) }, { recipientId: 'carol', wrapped: wrap(3) }], remove: ['bob'] });
        expect(await store.undeliveredFor('bob', 10, now)).toEqual([]);
      });

      it('rolls back with an enclosing transaction (and the message lock is released)', async () => {
        await conversation('c1', ['alice', 'bob']);
        const m1 = await send('c1', 'm1', 'alice');
        await expect(
          store.transaction(async (tx) => {
            await tx.createConversation({ id: 'c2', kind: 'DIRECT', createdById: 'alice', historySharing: false, epochTtlSeconds: null }, [{ userId: 'alice', role: 'ADMIN' }], []);
            await tx.rotateEpoch('c1', 2, { keys: [{ recipientId: 'alice', wrapped: wrap(2) }], remove: ['bob'] });
            expect((await tx.insertMessage(message('c1', 'm2', 'alice', { epoch: 2 }))).created).toBe(true);
            expect(await tx.addReceipts('bob', [m1.seq])).toBe(1);
            expect(await tx.purgeExpiredMessages(new Date())).toBe(0);
            throw new Error('abort');
          }),
        ).rejects.toThrow('abort');
        expect(await store.findConversation('c2')).toBeNull();
        expect((await store.findConversation('c1'))!.epoch).toBe(1);
        expect((await store.members('c1')).map((m) => m.userId)).toEqual(['alice', 'bob']);
        expect(seqs(await store.messagesAfter(['c1'], 0, 10, new Date()))).toEqual([m1.seq]);
        expect(await store.receiptsFor([m1.seq])).toEqual([]);
        expect((await store.insertMessage(message('c1', 'm2', 'alice'))).created).toBe(true);
      });

      it('refuses to read a conversation kind or member role it does not know', async () => {
        const options = await target.fresh();
        const s = await open(options);
        await s.createUser({ id: 'alice', username: 'alice', signingKey: key(1), encryptionKey: key(2) }, firstKey());
        const db = createClient(resolveDatabaseTarget(options));
        try {
          await db.conversation.create({ data: { id: 'c1', kind: 'CHANNEL', createdById: 'alice' } });
          await db.conversation.create({ data: { id: 'c2', kind: 'GROUP', createdById: 'alice' } });
          await db.conversationMember.create({ data: { conversationId: 'c2', userId: 'alice', role: 'OWNER', joinedEpoch: 1 } });
        } finally {
          await db.$disconnect();
        }
        await expectStorageError(s.findConversation('c1'), 'INVALID_ARGUMENT');
        await expectStorageError(s.members('c2'), 'INVALID_ARGUMENT');
        await expectStorageError(s.findMember('c2', 'alice'), 'INVALID_ARGUMENT');
      });
    });

    describe('devices, key bundles, backups, resets', () => {
      const device = (id: string, userId = 'alice', extra: Partial<NewDevice> = {}): NewDevice => ({
        id,
        userId,
        name: `device ${id}`,
        status: 'ACTIVE',
        signingKey: key(0x10),
        encryptionKey: key(0x11),
        approvedAt: new Date(),
        expiresAt: null,
        ...extra,
      });
      const pending = (id: string, expiresInMs: number, userId = 'alice'): NewDevice => device(id, userId, { status: 'PENDING', approvedAt: null, expiresAt: new Date(Date.now() + expiresInMs) });

      it('creates, finds and lists devices: PENDING and ACTIVE first, then REVOKED, each oldest first', async () => {
        const a = await store.createDevice(device('a'));
        expect(a).toMatchObject({ id: 'a', userId: 'alice', status: 'ACTIVE', revokedAt: null, lastSeenAt: null, expiresAt: null });
        expect(a.signingKey).toEqual(key(0x10));
        await new Promise((r) => setTimeout(r, 5));
        await store.createDevice(pending('b', 60_000));
        await new Promise((r) => setTimeout(r, 5));
        await store.createDevice(device('c'));
        await store.createDevice(device('z', 'bob'));
        expect(await store.revokeDevice('a', 'alice', new Date())).toBe(true);
        expect((await store.devicesOf('alice')).map((d) => [d.id, d.status])).toEqual([
          ['b', 'PENDING'],
          ['c', 'ACTIVE'],
          ['a', 'REVOKED'],
        ]);
        expect(await store.findDevice('z')).toMatchObject({ userId: 'bob' });
        expect(await store.findDevice('nope')).toBeNull();
        await expectStorageError(store.createDevice(device('a')), 'CONFLICT');
        await expectStorageError(store.createDevice(device('x', 'nobody')), 'INVALID_REFERENCE');
        await expectStorageError(store.createDevice(device('y', 'alice', { status: 'LOST' as never })), 'INVALID_ARGUMENT');
      });

      it('activates, revokes and deletes only in the states and for the user named', async () => {
        await store.createDevice(pending('p', 60_000));
        await store.createDevice(device('act'));
        expect(await store.activateDevice('p', 'bob', new Date())).toBe(false);
        expect(await store.activateDevice('act', 'alice', new Date())).toBe(false);
        expect(await store.activateDevice('p', 'alice', new Date())).toBe(true);
        expect(await store.findDevice('p')).toMatchObject({ status: 'ACTIVE', expiresAt: null });
        expect(await store.deletePendingDevice('p', 'alice')).toBe(false);
        await store.createDevice(pending('q', 60_000));
        expect(await store.deletePendingDevice('q', 'bob')).toBe(false);
        expect(await store.deletePendingDevice('q', 'alice')).toBe(true);
        expect(await store.revokeDevice('act', 'bob', new Date())).toBe(false);
        expect(await store.revokeDevice('act', 'alice', new Date())).toBe(true);
        expect(await store.revokeDevice('act', 'alice', new Date())).toBe(false);
        await store.touchDevice('p', new Date(1_000_000));
        expect((await store.findDevice('p'))!.lastSeenAt).toEqual(new Date(1_000_000));
        await store.createDevice(pending('r', 60_000));
        expect(await store.revokeAllDevices('alice', new Date())).toBe(2);
        expect((await store.devicesOf('alice')).every((d) => d.status === 'REVOKED' && d.revokedAt !== null)).toBe(true);
      });

      it('counts unexpired PENDING devices and purges the expired ones only', async () => {
        await store.createDevice(pending('live1', 60_000));
        await store.createDevice(pending('live2', 60_000));
        await store.createDevice(pending('old', -1000));
        await store.createDevice(device('act'));
        await store.createDevice(pending('bobs', 60_000, 'bob'));
        expect(await store.countPendingDevices('alice', new Date())).toBe(2);
        expect(await store.purgeExpiredDevices(new Date())).toBe(1);
        expect(await store.findDevice('old')).toBeNull();
        expect(await store.findDevice('act')).not.toBeNull();
      });

      it('stores the key bundle as a compare-and-swap on the revision', async () => {
        expect(await store.keyBundle('alice')).toBeNull();
        await expectStorageError(store.putKeyBundle({ userId: 'alice', revision: 2, bundle: 'b2', wrappedKey: key(2, 5) }), 'CONFLICT');
        const first = await store.putKeyBundle({ userId: 'alice', revision: 1, bundle: 'b1', wrappedKey: key(1, 5) });
        expect(first).toMatchObject({ userId: 'alice', revision: 1, bundle: 'b1' });
        expect(first.wrappedKey).toEqual(key(1, 5));
        await expectStorageError(store.putKeyBundle({ userId: 'alice', revision: 1, bundle: 'again', wrappedKey: key(1, 5) }), 'CONFLICT');
        await expectStorageError(store.putKeyBundle({ userId: 'alice', revision: 3, bundle: 'b3', wrappedKey: key(3, 5) }), 'CONFLICT');
        expect(await store.putKeyBundle({ userId: 'alice', revision: 2, bundle: 'b2', wrappedKey: key(2, 5) })).toMatchObject({ revision: 2, bundle: 'b2' });
        expect(await store.keyBundle('alice')).toMatchObject({ revision: 2, bundle: 'b2' });
        // Of concurrent writers of one revision exactly one wins.
        const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => store.putKeyBundle({ userId: 'alice', revision: 3, bundle: `r${i}`, wrappedKey: key(i, 5) })));
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        await expectStorageError(store.putKeyBundle({ userId: 'nobody', revision: 1, bundle: 'x', wrappedKey: key(1, 5) }), 'INVALID_REFERENCE');
        // Deleted (an account reset): the next history starts at revision 1.
        expect(await store.deleteKeyBundle('alice')).toBe(true);
        expect(await store.deleteKeyBundle('alice')).toBe(false);
        expect(await store.putKeyBundle({ userId: 'alice', revision: 1, bundle: 'new', wrappedKey: key(1, 5) })).toMatchObject({ revision: 1 });
      });

      it('creates, replaces, lists and deletes backups', async () => {
        const phrase = { userId: 'alice', kind: 'PHRASE' as const, authKey: key(0x20), encryptionKey: key(0x21), algorithm: 'bip39', salt: '', memoryKiB: 0, iterations: 0, parallelism: 0 };
        const password = { ...phrase, kind: 'PASSWORD' as const, algorithm: 'argon2id', salt: 'c2FsdHNhbHRzYWx0c2FsdA', memoryKiB: 19456, iterations: 2, parallelism: 1 };
        await store.putBackup(password);
        await store.putBackup(phrase);
        expect((await store.backupsOf('alice')).map((b) => b.kind)).toEqual(['PHRASE', 'PASSWORD']);
        const replaced = await store.putBackup({ ...password, authKey: key(0x30), salt: 'bmV3c2FsdG5ld3NhbHRuZQ' });
        expect(replaced.authKey).toEqual(key(0x30));
        expect(await store.findBackup('alice', 'PASSWORD')).toMatchObject({ salt: 'bmV3c2FsdG5ld3NhbHRuZQ', memoryKiB: 19456 });
        expect(await store.findBackup('bob', 'PASSWORD')).toBeNull();
        expect(await store.deleteBackup('alice', 'PHRASE')).toBe(true);
        expect(await store.deleteBackup('alice', 'PHRASE')).toBe(false);
        await store.putBackup({ ...phrase, userId: 'bob' });
        expect(await store.deleteBackups('alice')).toBe(1);
        expect(await store.backupsOf('alice')).toEqual([]);
        expect(await store.backupsOf('bob')).toHaveLength(1);
        await expectStorageError(store.putBackup({ ...phrase, kind: 'PIN' as never }), 'INVALID_ARGUMENT');
      });

      it('reset codes: replaced by a new one, consumed once and only with the stored hash, purged when expired', async () => {
        await store.putAccountReset({ userId: 'alice', codeHash: key(1), expiresAt: new Date(Date.now() + 60_000) });
        await store.putAccountReset({ userId: 'alice', codeHash: key(2), expiresAt: new Date(Date.now() + 60_000) });
        expect((await store.findAccountReset('alice'))!.codeHash).toEqual(key(2));
        expect(await store.consumeAccountReset('alice', key(1))).toBe(false);
        expect(await store.consumeAccountReset('alice', key(2))).toBe(true);
        expect(await store.consumeAccountReset('alice', key(2))).toBe(false);
        await store.putAccountReset({ userId: 'bob', codeHash: key(3), expiresAt: new Date(Date.now() - 1000) });
        await store.putAccountReset({ userId: 'alice', codeHash: key(4), expiresAt: new Date(Date.now() + 60_000) });
        expect(await store.purgeExpiredAccountResets(new Date())).toBe(1);
        expect(await store.findAccountReset('bob')).toBeNull();
        expect(await store.findAccountReset('alice')).not.toBeNull();
      });

      it('key versions may be marked reset', async () => {
        await store.addUserKey({ userId: 'alice', version: 2, signingKey: key(7), signingKeyId: 'kid-7', encryptionKey: key(8), signature: key(9, 64), reset: true });
        expect((await store.userKeys('alice')).map((k) => [k.version, k.reset])).toEqual([
          [1, false],
          [2, true],
        ]);
      });

      it('finds keys addressed to a user whose stanza is not for a key id, and re-wraps them atomically', async () => {
        // Wrapped key v1 layout as far as the store reads it: 73 header bytes, then the first stanza's key id.
        const wrapped = (kid: number, fill: number): Uint8Array => {
          const b = new Uint8Array(73 + 64 + 32).fill(fill);
          b.set(key(kid, 16), 73);
          return b;
        };
        const current = key(0xcc, 16);
        await store.putObjectKeys([
          { objectType: 'Profile', objectId: 'p1', keyVersion: 1, recipientId: 'alice', wrapped: wrapped(0xaa, 1) },
          { objectType: 'Profile', objectId: 'p1', keyVersion: 2, recipientId: 'alice', wrapped: wrapped(0xcc, 2) },
          { objectType: 'Profile', objectId: 'p2', keyVersion: 1, recipientId: 'alice', wrapped: wrapped(0xaa, 3) },
          { objectType: 'Profile', objectId: 'p1', keyVersion: 1, recipientId: 'bob', wrapped: wrapped(0xaa, 4) },
        ]);
        await store.createConversation({ id: 'c1', kind: 'DIRECT', createdById: 'alice', historySharing: false, epochTtlSeconds: null }, [
          { userId: 'alice', role: 'ADMIN' },
          { userId: 'bob', role: 'MEMBER' },
        ], [
          { recipientId: 'alice', wrapped: wrapped(0xaa, 5) },
          { recipientId: 'bob', wrapped: wrapped(0xaa, 6) },
        ]);
        const found = await store.keysNotWrappedTo('alice', current, 10);
        expect(found.objectKeys.map((k) => [k.objectId, k.keyVersion])).toEqual([
          ['p1', 1],
          ['p2', 1],
        ]);
        expect(found.objectKeys[0]!.wrapped).toEqual(wrapped(0xaa, 1));
        expect(found.epochKeys.map((k) => [k.conversationId, k.epoch, k.recipientId])).toEqual([['c1', 1, 'alice']]);
        expect((await store.keysNotWrappedTo('alice', current, 1)).objectKeys).toHaveLength(1);

        // A missing row: nothing written.
        await expectStorageError(
          store.rewrapKeys('alice', [{ objectType: 'Profile', objectId: 'p1', keyVersion: 1, recipientId: 'alice', wrapped: wrapped(0xcc, 7) }, { objectType: 'Profile', objectId: 'p9', keyVersion: 1, recipientId: 'alice', wrapped: wrapped(0xcc, 7) }], []),
          'INVALID_REFERENCE',
        );
        expect((await store.keysNotWrappedTo('alice', current, 10)).objectKeys).toHaveLength(2);
        const changed = await store.rewrapKeys(
          'alice',
          [
            { objectType: 'Profile', objectId: 'p1', keyVersion: 1, recipientId: 'alice', wrapped: wrapped(0xcc, 7) },
            { objectType: 'Profile', objectId: 'p1', keyVersion: 2, recipientId: 'alice', wrapped: wrapped(0xcc, 2) },
          ],
          [{ conversationId: 'c1', epoch: 1, recipientId: 'alice', wrapped: wrapped(0xcc, 8) }],
        );
        expect(changed).toBe(2);
        const after = await store.keysNotWrappedTo('alice', current, 10);
        expect(after.objectKeys.map((k) => k.objectId)).toEqual(['p2']);
        expect(after.epochKeys).toEqual([]);
        expect((await store.epochKeysFor(['c1'], 'bob'))[0]!.wrapped).toEqual(wrapped(0xaa, 6));
        await expectStorageError(store.rewrapKeys('alice', [{ objectType: 'Profile', objectId: 'p1', keyVersion: 1, recipientId: 'bob', wrapped: wrapped(0xcc, 1) }], []), 'INVALID_ARGUMENT');
      });

      it('a stale bundle write (CONFLICT) inside a transaction does not abort it', async () => {
        await store.putKeyBundle({ userId: 'alice', revision: 1, bundle: 'b', wrappedKey: key(1, 5) });
        await store.transaction(async (tx) => {
          await tx.createDevice(device('in-tx'));
          await expectStorageError(tx.putKeyBundle({ userId: 'alice', revision: 5, bundle: 'x', wrappedKey: key(1, 5) }), 'CONFLICT');
          await tx.putKeyBundle({ userId: 'alice', revision: 2, bundle: 'b2', wrappedKey: key(2, 5) });
        });
        expect((await store.devicesOf('alice')).map((d) => d.id)).toEqual(['in-tx']);
        expect(await store.keyBundle('alice')).toMatchObject({ revision: 2 });
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
          await tx.createUser({ id: 'carol', username: 'carol', signingKey: key(5), encryptionKey: key(6) }, firstKey());
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
            await tx.createUser({ id: 'carol', username: 'carol', signingKey: key(5), encryptionKey: key(6) }, firstKey());
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
            await tx.createUser({ id: 'x', username: 'bob', signingKey: key(1), encryptionKey: key(1) }, firstKey());
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
        await first.createUser({ id: 'u', username: 'u', signingKey: key(1), encryptionKey: key(1) }, firstKey());
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
        await store.createUser({ id: 'u', username: 'u', signingKey: key(1), encryptionKey: key(1) }, firstKey());
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
