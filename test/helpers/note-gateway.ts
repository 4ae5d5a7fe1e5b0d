/**
 * A gateway serving the reference schema plus the schema author's fixture types (Note,
 * Reminder, test/fixtures/note) from in-memory tables, and the built schema a client uses.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSchema, type BuiltSchema } from '../../src/server/schema.js';
import { referenceSdl } from './reference-schema.js';
import { noteTypes, noteResolvers, type NoteRow } from '../fixtures/note/resolvers.js';
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
  const noteSdl = readFileSync(join(ROOT, 'test/fixtures/note/note.graphql'), 'utf8');
  const notes = new Map<string, NoteRow>();
  const reminders = new Map<string, NoteRow>();
  const t = await startTestGateway({ typeDefs: [noteSdl], resolvers: [noteResolvers(notes, reminders)], types: noteTypes(notes, reminders) });
  return {
    t,
    schema: buildSchema([referenceSdl(), noteSdl].join('\n'), []),
    notes,
    reminders,
    async close() {
      await t.close();
    },
  };
}
