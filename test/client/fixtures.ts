// A small annotated schema for the pure client tests (no server): nested inputs, lists of
// input objects, a type with non-default owner/id fields, an interface and a union.
import { nobleBackend } from '../../src/crypto/backends/noble.js';
import { openEnvelopeText } from '../../src/crypto/envelope.js';
import { generateSymmetricKey, type KeySource } from '../../src/crypto/keys.js';
import { sealEnvelopeText } from '../../src/crypto/envelope.js';
import { buildSchema } from '../../src/server/schema.js';

export const backend = nobleBackend;

export const SDL = /* GraphQL */ `
  interface Owned {
    id: ID!
    ownerId: ID!
  }

  type Note implements Owned @owner(field: "ownerId") @privacy(level: SHARED) {
    id: ID!
    ownerId: ID!
    title: String @privacy(level: PUBLIC)
    text: String
    secret: String @privacy(level: PRIVATE, pad: [64, 256])
    tags: [String!]
    meta: NoteMeta
  }

  type NoteMeta {
    words: Int
  }

  type Task implements Owned @owner(field: "ownerId") {
    id: ID!
    ownerId: ID!
    due: String @privacy(level: PRIVATE)
    done: Boolean
  }

  type Photo @owner(field: "author", id: "key") {
    key: ID!
    author: ID!
    caption: String @privacy(level: SHARED)
    url: String
  }

  union SearchResult = Note | Photo

  type Folder @owner(field: "ownerId") {
    id: ID!
    ownerId: ID!
    name: String @privacy(level: SHARED)
    notes: [Note!]!
    pinned: Owned
  }

  input NoteInput @writes(type: "Note") {
    id: ID!
    title: String
    text: String
    secret: String
    tags: [String!]
  }

  input NotePatch @writes(type: "Note") {
    text: String
    secret: String
  }

  input NotePatchItem {
    id: ID!
    patch: NotePatch!
  }

  input FolderMeta {
    pinned: NoteInput
    patches: [[NotePatchItem!]]
  }

  input FolderInput @writes(type: "Folder") {
    id: ID!
    name: String
    notes: [NoteInput!]
    meta: FolderMeta
  }

  input PhotoInput @writes(type: "Photo") {
    key: ID!
    author: ID
    caption: String
  }

  type Query {
    search: [SearchResult!]!
    owned: [Owned!]!
    folder(id: ID!): Folder
    note(id: ID!): Note
  }

  type Mutation {
    saveFolder(input: FolderInput!): Folder
    patchNote(id: ID!, patch: NotePatch!): Note
    patchNotes(items: [NotePatchItem!]!): [Note!]!
    savePhoto(input: PhotoInput!): Photo
  }
`;

export const built = buildSchema(SDL, []);
export const { source, wire, manifest } = built;

export const vault = generateSymmetricKey(backend);
export const shared = generateSymmetricKey(backend);

export function sealAt(key: Parameters<typeof sealEnvelopeText>[1], coordinate: string, ownerId: string, objectId: string, value: unknown): string {
  return sealEnvelopeText(backend, key, { coordinate, ownerId, objectId }, JSON.stringify(value));
}

export function openAt(text: unknown, keys: KeySource, coordinate: string, ownerId: string, objectId: string | null): unknown {
  if (typeof text !== 'string') throw new Error(`expected an envelope, got ${JSON.stringify(text)}`);
  return JSON.parse(openEnvelopeText(backend, text, keys, { coordinate, ownerId, objectId }));
}
