// The per-request user loader on a real SQLite store: lookups made in one tick are one
// query; later ticks query again (nothing is cached past a batch).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/server/storage/open.js';
import type { Store } from '../../src/server/storage/store.js';
import { UserLoader } from '../../src/server/user-loader.js';
import { firstKey } from './storage/suite.js';

let dir: string;
let store: Store;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'veilgraph-loader-'));
  store = await openStore({ dataDir: dir, databaseUrl: undefined });
  for (const id of ['u1', 'u2', 'u3']) await store.createUser({ id, username: id, signingKey: new Uint8Array(32).fill(id.charCodeAt(1)), encryptionKey: new Uint8Array(32).fill(9) }, firstKey());
});

afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('UserLoader', () => {
  it('one query for the loads of one tick; unknown ids are null; the next tick queries again', async () => {
    const calls: string[][] = [];
    const counted = Object.create(store) as Store;
    counted.findUsersByIds = (ids) => {
      calls.push([...ids]);
      return store.findUsersByIds(ids);
    };
    const loader = new UserLoader(counted);
    const rows = await Promise.all(['u1', 'u2', 'u1', 'nobody', 'u3'].map((id) => loader.load(id)));
    expect(rows.map((u) => u?.username ?? null)).toEqual(['u1', 'u2', 'u1', null, 'u3']);
    expect(calls).toEqual([['u1', 'u2', 'nobody', 'u3']]);
    expect((await loader.load('u2'))?.id).toBe('u2');
    expect(calls).toHaveLength(2);
  });
});
