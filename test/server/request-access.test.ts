// The per-request access checks on a real SQLite store: the field checks' synchronous path
// (grants prefetched, or the viewer's own rows) answers exactly as the batched lookup does,
// grants are per type (the same object id under another type is another object), and
// forgetGrants makes the next check ask the store again.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RequestAccess } from '../../src/server/access.js';
import { openStore } from '../../src/server/storage/open.js';
import type { Store } from '../../src/server/storage/store.js';
import { firstKey } from './storage/suite.js';

let dir: string;
let store: Store;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'veilgraph-access-'));
  store = await openStore({ dataDir: dir, databaseUrl: undefined });
  for (const id of ['owner', 'reader', 'writer']) {
    await store.createUser({ id, username: id, signingKey: new Uint8Array(32).fill(id.charCodeAt(0)), encryptionKey: new Uint8Array(32).fill(9) }, firstKey());
  }
  await store.upsertGrant({ objectType: 'Profile', objectId: 'p1', granteeId: 'reader', access: 'READ' });
  await store.upsertGrant({ objectType: 'Profile', objectId: 'p1', granteeId: 'writer', access: 'WRITE' });
  // Same id, another type: a grant on Profile p2 says nothing about Note p2.
  await store.upsertGrant({ objectType: 'Profile', objectId: 'p2', granteeId: 'reader', access: 'READ' });
});

afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Counts the grant queries a RequestAccess makes (the real store answers them). */
function counting(): { store: Store; calls: { type: string; ids: string[] }[] } {
  const calls: { type: string; ids: string[] }[] = [];
  const counted = Object.create(store) as Store;
  counted.accessOf = (type, ids, grantee) => {
    calls.push({ type, ids: [...ids] });
    return store.accessOf(type, ids, grantee);
  };
  return { store: counted, calls };
}

describe('RequestAccess', () => {
  it('after prefetch every read check is synchronous and matches the grants; levels apply as documented', async () => {
    const { store: s, calls } = counting();
    const access = new RequestAccess(s, { id: 'reader' });
    await access.prefetch('Profile', ['p1', 'p2', 'p3']);
    expect(calls).toEqual([{ type: 'Profile', ids: ['p1', 'p2', 'p3'] }]);
    expect(access.canRead('Profile', 'p1', 'owner', 'SHARED')).toBe(true);
    expect(access.canRead('Profile', 'p1', 'owner', 'SERVER')).toBe(true);
    expect(access.canRead('Profile', 'p1', 'owner', 'PRIVATE')).toBe(false);
    expect(access.canRead('Profile', 'p3', 'owner', 'SHARED')).toBe(false);
    expect(access.canRead('Profile', 'p3', 'owner', 'PUBLIC')).toBe(true);
    // The viewer's own row: no grant needed, no query.
    expect(access.canRead('Profile', 'mine', 'reader', 'PRIVATE')).toBe(true);
    expect(calls).toHaveLength(1);
  });

  it('grants are per type: the same object id under another type is looked up, and has none', async () => {
    const { store: s, calls } = counting();
    const access = new RequestAccess(s, { id: 'reader' });
    await access.prefetch('Profile', ['p2']);
    expect(access.canRead('Profile', 'p2', 'owner', 'SHARED')).toBe(true);
    const other = access.canRead('Note', 'p2', 'owner', 'SHARED');
    expect(other).toBeInstanceOf(Promise);
    expect(await other).toBe(false);
    expect(calls.map((c) => c.type)).toEqual(['Profile', 'Note']);
    // Now known, and still per type.
    expect(access.canRead('Note', 'p2', 'owner', 'SHARED')).toBe(false);
    expect(access.canRead('Profile', 'p2', 'owner', 'SHARED')).toBe(true);
  });

  it('checks of one tick without prefetch are one query; answers match the prefetched ones', async () => {
    const { store: s, calls } = counting();
    const access = new RequestAccess(s, { id: 'writer' });
    const answers = await Promise.all([access.canRead('Profile', 'p1', 'owner', 'SHARED'), access.canRead('Profile', 'p2', 'owner', 'SHARED'), access.canWrite('Profile', 'p1', 'owner', 'SHARED')]);
    expect(answers).toEqual([true, false, true]);
    expect(calls).toEqual([{ type: 'Profile', ids: ['p1', 'p2'] }]);
    expect(await access.canWrite('Profile', 'p1', 'owner', 'PRIVATE')).toBe(false);
    const reader = new RequestAccess(store, { id: 'reader' });
    expect(await reader.canWrite('Profile', 'p1', 'owner', 'PUBLIC')).toBe(false);
  });

  it('forgetGrants: the next check asks the store again and sees a revoked grant', async () => {
    await store.upsertGrant({ objectType: 'Profile', objectId: 'p4', granteeId: 'reader', access: 'READ' });
    const { store: s, calls } = counting();
    const access = new RequestAccess(s, { id: 'reader' });
    await access.prefetch('Profile', ['p4']);
    expect(access.canRead('Profile', 'p4', 'owner', 'SHARED')).toBe(true);
    await store.deleteGrant('Profile', 'p4', 'reader');
    access.forgetGrants();
    expect(await access.canRead('Profile', 'p4', 'owner', 'SHARED')).toBe(false);
    expect(calls).toHaveLength(2);
  });

  it('anonymous: only PUBLIC, and no query', async () => {
    const { store: s, calls } = counting();
    const access = new RequestAccess(s, null);
    await access.prefetch('Profile', ['p1']);
    expect(access.canRead('Profile', 'p1', 'owner', 'PUBLIC')).toBe(true);
    expect(access.canRead('Profile', 'p1', 'owner', 'SHARED')).toBe(false);
    expect(await access.grantOf('Profile', 'p1')).toBeNull();
    expect(calls).toHaveLength(0);
  });
});
