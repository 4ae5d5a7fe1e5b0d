// The re-seal report counts rows by the key version they were on before the re-seal, also
// when the author's adapter hands out its live rows and updates them in place (an in-memory
// store, as a stranger wrote it from docs/server.md): it said "from version 2" for rows that
// had been on version 1.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { createVeilgraph, type TypeAdapter } from '../../src/server/index.js';

const SDL = /* GraphQL */ `
  type Entry @owner(field: "authorId") {
    id: ID!
    authorId: ID!
    clinic: String @privacy(level: SERVER)
  }
  input EntryInput @writes(type: "Entry") {
    id: ID!
    clinic: String
  }
  extend type Mutation {
    saveEntry(input: EntryInput!): Entry!
  }
`;

type Row = { id: string; authorId: string; serverSealed: Uint8Array | null; serverKeyVersion: number };
const dir = mkdtempSync(join(tmpdir(), 'veilgraph-reseal-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('reports rows per key version they came from, with an adapter that updates its live rows in place', async () => {
  const rows = new Map<string, Row>();
  const inPlace: TypeAdapter<Row> = {
    owners: async (ids) => new Map(ids.flatMap((id) => (rows.has(id) ? [[id, rows.get(id)!.authorId] as const] : []))),
    reseal: {
      stale: async (version, limit) => [...rows.values()].filter((r) => r.serverSealed && r.serverKeyVersion !== version).slice(0, limit),
      swap: async (id, expected, next, nextVersion) => {
        const row = rows.get(id);
        if (!row?.serverSealed || !Buffer.from(row.serverSealed).equals(expected)) return false;
        row.serverSealed = next; // the live row, changed in place
        row.serverKeyVersion = nextVersion;
        return true;
      },
    },
  };
  const veil = await createVeilgraph({
    typeDefs: SDL,
    types: { Entry: inPlace },
    authenticate: async () => ({ id: 'alice' }),
    dataDir: join(dir, 'data'),
    logSink: () => undefined,
  });
  try {
    const ctx = await veil.context({ headers: {} });
    for (const id of ['entry-0000000000000001', 'entry-0000000000000002']) {
      const columns = await veil.write(ctx, 'EntryInput', { id, clinic: 'north' }, { ownerId: 'alice', objectId: id });
      rows.set(id, { id, authorId: 'alice', serverSealed: null, serverKeyVersion: 0, ...columns } as Row);
    }
    expect([...rows.values()].map((r) => r.serverKeyVersion)).toEqual([1, 1]);
    expect(veil.rotateKeyRing()).toBe(2);
    const report = await veil.reseal();
    expect(report).toEqual({ version: 2, types: [{ type: 'Entry', resealed: 2, fromVersions: { 1: 2 }, remaining: 0 }] });
    expect([...rows.values()].map((r) => r.serverKeyVersion)).toEqual([2, 2]);
  } finally {
    await veil.close();
  }
});
