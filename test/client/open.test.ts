// openResult and withVeilFields on an in-test schema (pure, real crypto): the veiled
// document validates and executes against the wire schema; results through unions,
// interfaces, named and inline fragments, aliases and lists open to plaintext; failures
// are per field.
import { createRequest, gql, stringifyDocument } from '@urql/core';
import { Kind, execute, parse, print, validate, type DocumentNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { generateSymmetricKey } from '../../src/crypto/keys.js';
import { buildSchema } from '../../src/server/schema.js';
import { isVeilClientError, openResult, staticClientKeys, withVeilFields, type ClientKeys, type KeyRequest } from '../../src/client/index.js';
import { backend, manifest, sealAt, shared, source, vault, wire } from './fixtures.js';

const keys = staticClientKeys({ vault, shared });
const U = 'u1';

function note(id: string, text: unknown, secret: unknown, extra: Record<string, unknown> = {}) {
  return {
    __typename: 'Note',
    id,
    ownerId: U,
    title: `title ${id}`,
    text: text === null ? null : sealAt(shared, 'Note.text', U, id, text),
    secret: secret === null ? null : sealAt(vault, 'Note.secret', U, id, secret),
    tags: sealAt(shared, 'Note.tags', U, id, ['x', id]),
    meta: { words: 3 },
    ...extra,
  };
}
const task = (id: string, due: string) => ({ __typename: 'Task', id, ownerId: U, due: sealAt(vault, 'Task.due', U, id, due), done: false });
const photo = (key: string, caption: string) => ({ __typename: 'Photo', key, author: 'u2', url: `https://x/${key}`, caption: sealAt(shared, 'Photo.caption', 'u2', key, caption) });

function rootValue() {
  return {
    search: [note('n1', 'one', 's1'), photo('p1', 'cap 1'), note('n2', null, 's2')],
    owned: [task('t1', 'monday'), note('n3', 'three', null)],
    folder: { id: 'f1', ownerId: U, name: sealAt(shared, 'Folder.name', U, 'f1', 'Inbox'), notes: [note('n4', 'four', 's4'), note('n5', 'five', 's5')], pinned: task('t2', 'friday') },
    note: note('n6', 'six', 'secret six'),
  };
}

/** Runs `doc` as a client would: veil it, execute on the wire schema, JSON round trip, open. */
async function run(doc: DocumentNode, k: ClientKeys = keys, tamper?: (data: Record<string, unknown>) => void) {
  const sent = withVeilFields(doc, wire, manifest);
  expect(validate(wire, sent)).toEqual([]);
  const res = JSON.parse(JSON.stringify(await execute({ schema: wire, document: sent, rootValue: rootValue() }))) as { data: Record<string, unknown>; errors?: unknown[] };
  expect(res.errors).toBeUndefined();
  tamper?.(res.data);
  return openResult({ schema: source, manifest, document: doc, data: res.data, keys: k, backend, directory: 'unverified' });
}

const QUERY = parse(/* GraphQL */ `
  query Q {
    search {
      ... on Note {
        title
        body: text
        tags
      }
      ...PhotoBits
    }
    owned {
      id
      ... on Note {
        text
        secret
      }
      ...TaskBits
    }
    folder(id: "f1") {
      name
      notes {
        ...NoteBits
        meta {
          words
        }
      }
      pinned {
        ... on Task {
          d: due
        }
      }
    }
  }
  fragment PhotoBits on Photo {
    url
    caption
  }
  fragment TaskBits on Task {
    due
    done
  }
  fragment NoteBits on Note {
    a: text
    secret
  }
`);

describe('withVeilFields', () => {
  it('adds __typename and the owner/id fields under reserved aliases, per concrete type for abstract types', () => {
    const out = print(withVeilFields(QUERY, wire, manifest)).replace(/\s+/g, ' ');
    // search is a union: inline fragments per concrete type, with each type's own owner/id fields.
    expect(out).toContain('search { ... on Note { title body: text tags } ...PhotoBits __typename ... on Note { _vgOwner: ownerId _vgId: id } ... on Photo { _vgOwner: author _vgId: key } }');
    // folder is an object type: directly; notes (spread only) too.
    expect(out).toContain('notes { ...NoteBits meta { words } __typename _vgOwner: ownerId _vgId: id }');
    expect(out).toContain('} __typename _vgOwner: ownerId _vgId: id } }');
    // Fragment definitions are left as written.
    expect(out).toContain('fragment NoteBits on Note { a: text secret }');
  });

  it('is cached and a fixed point; refuses documents using the reserved _vg prefix', () => {
    const a = withVeilFields(QUERY, wire, manifest);
    expect(withVeilFields(QUERY, wire, manifest)).toBe(a);
    expect(withVeilFields(a, wire, manifest)).toBe(a);
    expect(() => withVeilFields(parse('{ note(id: "1") { _vgX: title } }'), wire, manifest)).toThrow(expect.objectContaining({ code: 'RESERVED_ALIAS' }));
    try {
      withVeilFields(parse('{ note(id: "1") { _vgOwner: ownerId text } }'), source, manifest);
      expect.unreachable();
    } catch (e) {
      expect(isVeilClientError(e, 'RESERVED_ALIAS')).toBe(true);
    }
  });

  it('its output\'s loc is the veiled text, for the document and every definition (clients that send loc.source.body)', () => {
    const out = withVeilFields(QUERY, wire, manifest);
    const loc = out.loc!;
    expect(loc, 'a document parsed from text keeps a loc').toBeDefined();
    const text = loc.source.body.slice(loc.start, loc.end);
    expect(text).toContain('_vgOwner: author');
    expect(print(parse(text))).toBe(print(out));
    for (const def of out.definitions) {
      const l = def.loc!;
      expect(print(parse(l.source.body.slice(l.start, l.end)))).toBe(print({ kind: Kind.DOCUMENT, definitions: [def] }));
    }
    // A document that needs nothing added comes back as it is, loc and all.
    const plain = parse('query { me { id username } }');
    expect(withVeilFields(plain, wire, manifest)).toBe(plain);
  });

  it('urql sends the veiled text: a document from graphql\'s parse or from urql\'s gql (keyed by urql)', () => {
    const text = 'query N($id: ID!) { note(id: $id) { title text } }';
    for (const doc of [parse(text), gql(text) as DocumentNode]) {
      const out = withVeilFields(doc, wire, manifest);
      // What urql's fetchExchange puts in the request body, for a request made of the veiled document.
      const request = createRequest(out, { id: 'n1' });
      const sent = stringifyDocument(request.query);
      expect(sent).toContain('_vgOwner: ownerId');
      expect(sent).toContain('_vgId: id');
      // urql may hand back an equal document it keyed before (same text), never the original.
      expect(print(request.query)).toBe(print(out));
    }
  });
});

describe('openResult', () => {
  it('opens through unions, interfaces, named and inline fragments, aliases and lists, and strips the reserved fields', async () => {
    const r = await run(QUERY);
    expect(r.errors).toBeUndefined();
    expect(r.data).toEqual({
      search: [
        { __typename: 'Note', title: 'title n1', body: 'one', tags: ['x', 'n1'] },
        { __typename: 'Photo', url: 'https://x/p1', caption: 'cap 1' },
        { __typename: 'Note', title: 'title n2', body: null, tags: ['x', 'n2'] },
      ],
      owned: [
        { __typename: 'Task', id: 't1', due: 'monday', done: false },
        { __typename: 'Note', id: 'n3', text: 'three', secret: null },
      ],
      folder: {
        __typename: 'Folder',
        name: 'Inbox',
        notes: [
          { __typename: 'Note', a: 'four', secret: 's4', meta: { words: 3 } },
          { __typename: 'Note', a: 'five', secret: 's5', meta: { words: 3 } },
        ],
        pinned: { __typename: 'Task', d: 'friday' },
      },
    });
    expect(JSON.stringify(r.data)).not.toContain('_vg');
  });

  it('works with the document as sent (the veiled one) too, and with the wire schema', async () => {
    const sent = withVeilFields(QUERY, wire, manifest);
    const res = JSON.parse(JSON.stringify(await execute({ schema: wire, document: sent, rootValue: rootValue() }))) as { data: Record<string, unknown> };
    const r = await openResult({ schema: wire, manifest, document: sent, data: res.data, keys, backend, directory: 'unverified' });
    expect(r.errors).toBeUndefined();
    expect((r.data!.folder as { name: string }).name).toBe('Inbox');
  });

  it('a field sealed for another place → WRONG_LOCATION; tampered → ENVELOPE_TAMPERED; garbage → ENVELOPE_MALFORMED; the rest is delivered', async () => {
    const r = await run(QUERY, keys, (data) => {
      const search = data.search as Record<string, string>[];
      // Photo caption replaced by a Note.text envelope (a server moving ciphertext around).
      search[1]!.caption = sealAt(shared, 'Note.text', U, 'n1', 'moved');
      // Flip one character inside the ciphertext of the first note's text.
      const t = search[0]!.body!;
      const i = t.length - 10;
      search[0]!.body = t.slice(0, i) + (t[i] === 'A' ? 'B' : 'A') + t.slice(i + 1);
      // Plaintext where an envelope belongs.
      (data.folder as { name: string }).name = 'not sealed';
    });
    expect(r.errors!.map((e) => [e.path!.join('.'), e.extensions!.code])).toEqual(
      expect.arrayContaining([
        ['search.1.caption', 'WRONG_LOCATION'],
        ['search.0.body', 'ENVELOPE_TAMPERED'],
        ['folder.name', 'ENVELOPE_MALFORMED'],
      ]),
    );
    expect(r.errors).toHaveLength(3);
    const search = r.data!.search as Record<string, unknown>[];
    expect(search[0]).toEqual({ __typename: 'Note', title: 'title n1', body: null, tags: ['x', 'n1'] });
    expect(search[1]).toEqual({ __typename: 'Photo', url: 'https://x/p1', caption: null });
    expect((r.data!.folder as { name: unknown; notes: unknown[] }).name).toBeNull();
    expect((r.data!.folder as { notes: { a: string }[] }).notes[1]!.a).toBe('five');
    expect(r.errors![0]!.message).not.toContain('moved');
  });

  it('a missing key → KEY_NOT_FOUND on each field sealed under it, with its path', async () => {
    const noVault = staticClientKeys({ vault: generateSymmetricKey(backend), shared });
    const r = await run(QUERY, noVault);
    const failed = r.errors!.map((e) => `${e.path!.join('.')}:${e.extensions!.code}`).sort();
    expect(failed).toEqual([
      'folder.notes.0.secret:KEY_NOT_FOUND',
      'folder.notes.1.secret:KEY_NOT_FOUND',
      'folder.pinned.d:KEY_NOT_FOUND',
      'owned.0.due:KEY_NOT_FOUND',
    ]);
    expect((r.data!.folder as { notes: { a: string; secret: unknown }[] }).notes[0]).toMatchObject({ a: 'four', secret: null });
  });

  it('without the veil fields: LOCATION_UNKNOWN per sealed field, unless the query selects owner and id itself', async () => {
    const doc = parse(`{ note(id: "n6") { id ownerId text } folder(id: "f1") { name } search { ... on Note { text } } }`);
    const res = JSON.parse(JSON.stringify(await execute({ schema: wire, document: doc, rootValue: rootValue() }))) as { data: Record<string, unknown> };
    const r = await openResult({ schema: source, manifest, document: doc, data: res.data, keys, backend, directory: 'unverified' });
    expect(r.errors!.map((e) => `${e.path!.join('.')}:${e.extensions!.code}`).sort()).toEqual(['folder.name:LOCATION_UNKNOWN', 'search.0.text:LOCATION_UNKNOWN']);
    expect(r.data).toEqual({ note: { id: 'n6', ownerId: U, text: 'six' }, folder: { name: null }, search: [{ text: null }, {}, { text: null }] });
  });

  it('calls prepare once per result with every location and the key named in each envelope', async () => {
    let calls = 0;
    let requests: readonly KeyRequest[] = [];
    const counting: ClientKeys = {
      prepare(r) {
        calls++;
        requests = r;
      },
      sealingKey: keys.sealingKey,
      openingKeys: keys.openingKeys,
    };
    await run(QUERY, counting);
    expect(calls).toBe(1);
    expect(requests).toHaveLength(12);
    expect(requests.every((r) => r.purpose === 'open' && r.keyId instanceof Uint8Array && r.keyVersion === 1)).toBe(true);
    expect(new Set(requests.map((r) => `${r.level}:${r.location.coordinate}`))).toEqual(
      new Set(['SHARED:Note.text', 'SHARED:Note.tags', 'SHARED:Photo.caption', 'PRIVATE:Task.due', 'PRIVATE:Note.secret', 'SHARED:Folder.name']),
    );
  });

  it('a field declared on an interface takes the level of each concrete type', async () => {
    // Implementations must agree that the field is sealed (the gateway refuses a mix: the
    // wire schema could not express it); each may still seal it at its own level.
    const b = buildSchema(
      /* GraphQL */ `
        interface Item { id: ID! ownerId: ID! text: String }
        type Secret implements Item @owner(field: "ownerId") { id: ID! ownerId: ID! text: String @privacy(level: PRIVATE) }
        type Shared implements Item @owner(field: "ownerId") { id: ID! ownerId: ID! text: String @privacy(level: SHARED) }
        type Query { items: [Item!]! }
      `,
      [],
    );
    const doc = parse('{ items { text } }');
    const sent = withVeilFields(doc, b.source, b.manifest);
    expect(print(sent).replace(/\s+/g, ' ')).toBe('{ items { text __typename ... on Secret { _vgOwner: ownerId _vgId: id } ... on Shared { _vgOwner: ownerId _vgId: id } } }');
    const items = [
      { __typename: 'Secret', id: 's1', ownerId: U, text: sealAt(vault, 'Secret.text', U, 's1', 'hidden') },
      { __typename: 'Shared', id: 'o1', ownerId: U, text: sealAt(shared, 'Shared.text', U, 'o1', 'among us') },
    ];
    // The wire schema (text: Sealed on the interface and both types) executes the sent document.
    const res = JSON.parse(JSON.stringify(await execute({ schema: b.wire, document: sent, rootValue: { items } }))) as { data: Record<string, unknown> };
    const r = await openResult({ schema: b.source, manifest: b.manifest, document: doc, data: res.data, keys, backend, directory: 'unverified' });
    expect(r.errors).toBeUndefined();
    expect(r.data).toEqual({ items: [{ __typename: 'Secret', text: 'hidden' }, { __typename: 'Shared', text: 'among us' }] });
  });

  it('passes null data and the server’s errors through', async () => {
    const errors = [{ message: 'boom', path: ['note'], extensions: { code: 'X' } }];
    expect(await openResult({ schema: source, manifest, document: QUERY, data: null, errors, keys, backend, directory: 'unverified' })).toEqual({ data: null, errors });
  });
});
