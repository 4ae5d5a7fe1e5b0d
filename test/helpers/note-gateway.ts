/**
 * A gateway serving the reference schema plus the schema author's fixture types (Note,
 * Reminder, test/fixtures/note) from in-memory tables, and the built schema a client uses.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSchema, readSchemaDir, type BuiltSchema } from '../../src/server/schema.js';
import { noteOwners, noteResolvers, type NoteRow } from '../fixtures/note/resolvers.js';
import { startTestGateway, type TestGateway } from './gateway.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface NoteGateway {
  readonly t: TestGateway;
  readonly schema: BuiltSchema;
  readonly notes: Map<string, NoteRow>;
  readonly reminders: Map<string, NoteRow>;
  close(): Promise<void>;
}

export async function startNoteGateway(): Promise<NoteGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'veilgraph-notes-'));
  const sdl = join(dir, 'sdl');
  mkdirSync(sdl);
  for (const f of readdirSync(join(ROOT, 'schema'))) copyFileSync(join(ROOT, 'schema', f), join(sdl, f));
  copyFileSync(join(ROOT, 'test/fixtures/note/note.graphql'), join(sdl, 'note.graphql'));
  const notes = new Map<string, NoteRow>();
  const reminders = new Map<string, NoteRow>();
  const t = await startTestGateway({ schemaDir: sdl, resolvers: [noteResolvers(notes, reminders)], owners: noteOwners(notes, reminders) });
  return {
    t,
    schema: buildSchema(readSchemaDir(sdl), []),
    notes,
    reminders,
    async close() {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
