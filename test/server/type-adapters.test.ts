// Every type, not two: a schema author's types (the Note fixture, kept in the author's own
// in-memory tables) next to the reference app's Profile, through the real gateway. A key
// ring rotation re-seals the SERVER fields of every type through its TypeAdapter and
// reports rows per type and key version; the "what the server sees" view answers for the
// author's types through `find`; owner lookups reach the adapter batched per request tick,
// with the request's context.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnvelope } from '../../src/crypto/envelope.js';
import type { TypeAdapter, VeilContext } from '../../src/server/index.js';
import { noteResolvers, noteTypes, type NoteRow } from '../fixtures/note/resolvers.js';
import { canary, newObjectId, registerAndLogin, startTestGateway, ROOMY_AUTH_LIMITS, type GqlResponse, type TestGateway, type TestUser } from '../helpers/gateway.js';

const NOTE_SDL = readFileSync(fileURLToPath(new URL('../fixtures/note/note.graphql', import.meta.url)), 'utf8');
const SAVE = 'mutation S($i: NoteInput!) { saveNote(input: $i) { id tag } }';

let t: TestGateway;
let alice: TestUser;
let mallory: TestUser;
const notes = new Map<string, NoteRow>();
const reminders = new Map<string, NoteRow>();
/** Every `owners` call the Note adapter got: the ids, and whose request it was. */
const ownerCalls: { ids: readonly string[]; viewer: string | null }[] = [];
const tags = new Map<string, string>();
let profileId: string;

function ok<T>(r: GqlResponse<T>): T {
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data!;
}

beforeAll(async () => {
  const types = noteTypes(notes, reminders);
  const note: TypeAdapter<NoteRow> = {
    ...types.Note!,
    owners: (ids, ctx: VeilContext) => {
      ownerCalls.push({ ids: [...ids], viewer: ctx.viewer?.id ?? null });
      return types.Note!.owners(ids, ctx);
    },
  };
  t = await startTestGateway({ typeDefs: [NOTE_SDL], resolvers: [noteResolvers(notes, reminders)], types: { ...types, Note: note }, authLimits: ROOMY_AUTH_LIMITS });
  alice = await registerAndLogin(t, 'alice');
  mallory = await registerAndLogin(t, 'mallory');
  for (let i = 0; i < 3; i++) {
    const id = newObjectId();
    const tag = canary(`tag${i}`);
    tags.set(id, tag);
    expect(ok(await t.gql<{ saveNote: { tag: string } }>(SAVE, { i: { id, title: `note ${i}`, tag } }, alice.token)).saveNote.tag).toBe(tag);
  }
  profileId = newObjectId();
  ok(await t.gql('mutation C($i: CreateProfileInput!) { createProfile(input: $i) { id } }', { i: { id: profileId, displayName: 'Alice', email: 'alice@example.com' } }, alice.token));
}, 60_000);

afterAll(async () => {
  await t?.close();
});

/** Rows of each type per key version of their SERVER blob, as stored (the author's table, the app's Profile table). */
async function versions(): Promise<Record<string, Record<number, number>>> {
  const count = (vs: number[]): Record<number, number> => vs.reduce<Record<number, number>>((m, v) => ({ ...m, [v]: (m[v] ?? 0) + 1 }), {});
  const profile = await t.gateway.store.findProfileById(profileId);
  return {
    Note: count([...notes.values()].map((r) => r.serverKeyVersion!)),
    Profile: count([profile!.serverKeyVersion]),
  };
}

describe('rotation re-seals every type with SERVER fields', () => {
  it('moves the author\'s Note rows and the app\'s Profile rows onto the new key, reporting rows per type and key version', async () => {
    expect(await versions()).toEqual({ Note: { 1: 3 }, Profile: { 1: 1 } });
    const version = t.gateway.veil.rotateKeyRing();
    expect(version).toBe(2);
    const progress: string[] = [];
    const report = await t.gateway.veil.reseal({ batchSize: 2, onProgress: (p) => progress.push(`${p.type} ${p.done}/${p.total} v${p.version}`) });

    expect(report.version).toBe(2);
    expect([...report.types].sort((a, b) => a.type.localeCompare(b.type))).toEqual([
      { type: 'Note', resealed: 3, fromVersions: { 1: 3 }, remaining: 0 },
      { type: 'Profile', resealed: 1, fromVersions: { 1: 1 }, remaining: 0 },
    ]);
    expect(progress).toEqual(expect.arrayContaining(['Note 2/3 v2', 'Note 3/3 v2', 'Profile 1/1 v2']));
    expect(await versions()).toEqual({ Note: { 2: 3 }, Profile: { 2: 1 } });
    // The blob itself is under version 2 (its header), not just the column saying so.
    for (const row of notes.values()) expect(parseEnvelope(row.serverSealed!).keyVersion).toBe(2);

    // Every value still opens for its owner.
    for (const [id, tag] of tags) expect(ok(await t.gql<{ note: { tag: string } }>('query N($id: ID!) { note(id: $id) { tag } }', { id }, alice.token)).note.tag).toBe(tag);
    // Nothing left: a second re-seal moves nothing.
    const again = await t.gateway.veil.reseal();
    expect(again.types.map((x) => x.resealed)).toEqual([0, 0]);
  });
});

describe('the "what the server sees" view for the author\'s types', () => {
  it('answers a Note through its TypeAdapter\'s find, to its owner only', async () => {
    const [id] = [...tags.keys()];
    const q = 'query S($id: ID!) { storedObject(type: "Note", id: $id) { type id fields { field level column keyVersion serverCanRead stored } } }';
    const mine = ok(await t.gql<{ storedObject: { type: string; id: string; fields: { field: string; level: string; column: string; keyVersion: number | null; serverCanRead: boolean; stored: string | null }[] } }>(q, { id }, alice.token)).storedObject;
    expect(mine).toMatchObject({ type: 'Note', id });
    const byField = Object.fromEntries(mine.fields.map((f) => [f.field, f]));
    expect(byField.title).toMatchObject({ level: 'PUBLIC', column: 'Note.title', stored: 'note 0', serverCanRead: true });
    expect(byField.tag).toMatchObject({ level: 'SERVER', column: 'Note.serverSealed', keyVersion: notes.get(id!)!.serverKeyVersion, serverCanRead: true });
    expect(byField.tag!.stored).not.toContain(tags.get(id!)!);
    // A stranger gets what a missing id gets.
    expect(ok(await t.gql<{ storedObject: unknown }>(q, { id }, mallory.token)).storedObject).toBeNull();
    expect(ok(await t.gql<{ storedObject: unknown }>(q, { id: newObjectId() }, alice.token)).storedObject).toBeNull();
    // An unknown type names the ones there are.
    const bad = await t.gql('query { storedObject(type: "Nope", id: "x") { id } }', {}, alice.token);
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(bad.errors?.[0]?.message).toBe('type must be one of Profile, Note, Reminder, Message');
  });
});

describe('owner lookups', () => {
  it('reach the TypeAdapter batched per request tick, with the request\'s context', async () => {
    const [a, b] = [...tags.keys()];
    ownerCalls.length = 0;
    const r = ok(
      await t.gql<{ x: unknown[]; y: unknown[] }>(
        'query G($a: ID!, $b: ID!) { x: grants(objectType: "Note", objectId: $a) { access } y: grants(objectType: "Note", objectId: $b) { access } }',
        { a, b },
        alice.token,
      ),
    );
    expect(r).toEqual({ x: [], y: [] });
    expect(ownerCalls).toEqual([{ ids: [a, b], viewer: alice.id }]);

    // Someone else's object: the adapter's answer decides (FORBIDDEN), with that request's viewer.
    ownerCalls.length = 0;
    const refused = await t.gql('query G($a: ID!) { grants(objectType: "Note", objectId: $a) { access } }', { a }, mallory.token);
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(ownerCalls).toEqual([{ ids: [a], viewer: mallory.id }]);
  });
});
