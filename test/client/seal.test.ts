// sealVariables on an in-test schema (pure, real crypto): nested input objects, lists of
// input objects, lists of lists, variables at sealed positions inside literals, the
// location rule and its override, padding, and every refusal.
import { parse, type DocumentNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { parseEnvelopeText } from '../../src/crypto/envelope.js';
import { SymmetricKeyRing, generateSymmetricKey } from '../../src/crypto/keys.js';
import { isCryptoError } from '../../src/crypto/errors.js';
import { isVeilClientError, sealVariables, staticClientKeys, type ClientKeys, type KeyRequest, type SealVariablesOptions } from '../../src/client/index.js';
import { backend, manifest, openAt, shared, source, vault, wire } from './fixtures.js';

const keys = staticClientKeys({ vault, shared });
const SAVE = parse(`mutation S($input: FolderInput!) { saveFolder(input: $input) { id } }`);

function seal(document: DocumentNode, variables: Record<string, unknown>, extra: Partial<SealVariablesOptions> = {}) {
  return sealVariables({ schema: source, manifest, document, variables, keys, backend, viewerId: 'u1', ...extra });
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    if (isVeilClientError(e) || isCryptoError(e)) return e.code;
    throw e;
  }
  return undefined;
}

function folderInput() {
  return {
    id: 'f1',
    name: 'Work',
    notes: [
      { id: 'n1', title: 'first', text: 'hello', secret: 's3cret', tags: ['a', 'b'] },
      { id: 'n2', title: 'second', text: null },
    ],
    meta: {
      pinned: { id: 'n3', text: { not: 'a string, still JSON' } },
      patches: [[{ id: 'n4', patch: { text: 'deep' } }], null],
    },
  };
}

describe('sealVariables: nested inputs and lists of input objects', () => {
  it.each([
    ['source', source],
    ['wire', wire],
  ])('seals every SHARED/PRIVATE value at any depth for its own object (%s schema)', async (_name, schema) => {
    const input = folderInput();
    const before = structuredClone(input);
    const out = (await seal(SAVE, { input }, { schema, locationFor: (type, path, value, ctx) => {
      // The list-of-lists patch has no id of its own: it belongs to its item's id.
      if (type !== 'NotePatch') return undefined;
      expect(path).toEqual(['saveFolder', 'input', 'meta', 'patches', 0, 0, 'patch']);
      expect(ctx.field).toBe('saveFolder');
      expect(ctx.viewerId).toBe('u1');
      expect(value).toEqual({ text: 'deep' });
      return { ownerId: 'u1', objectId: 'n4' };
    } })) as { input: ReturnType<typeof folderInput> };
    // The caller's variables are untouched.
    expect(input).toEqual(before);

    const o = out.input;
    expect(o.id).toBe('f1');
    expect(openAt(o.name, shared, 'Folder.name', 'u1', 'f1')).toBe('Work');
    const [n1, n2] = o.notes as unknown as [Record<string, unknown>, Record<string, unknown>];
    expect(n1.title).toBe('first');
    expect(openAt(n1.text, shared, 'Note.text', 'u1', 'n1')).toBe('hello');
    expect(openAt(n1.secret, vault, 'Note.secret', 'u1', 'n1')).toBe('s3cret');
    expect(openAt(n1.tags, shared, 'Note.tags', 'u1', 'n1')).toEqual(['a', 'b']);
    expect(n2).toEqual({ id: 'n2', title: 'second', text: null });
    expect(openAt(o.meta.pinned.text, shared, 'Note.text', 'u1', 'n3')).toEqual({ not: 'a string, still JSON' });
    expect(openAt(o.meta.patches[0]![0]!.patch.text, shared, 'Note.text', 'u1', 'n4')).toBe('deep');
    expect(o.meta.patches[1]).toBeNull();
  });

  it('pads per the manifest: pad buckets for Note.secret, PADMÉ elsewhere', async () => {
    const out = (await seal(SAVE, { input: { id: 'f1', notes: [{ id: 'n1', secret: 'x', text: 'x' }, { id: 'n2', secret: 'y'.repeat(100) }] } })) as {
      input: { notes: { secret: string; text?: string }[] };
    };
    const ctLen = (text: string) => parseEnvelopeText(text).ciphertext.length - 16;
    expect(ctLen(out.input.notes[0]!.secret)).toBe(64);
    expect(ctLen(out.input.notes[1]!.secret)).toBe(256);
    // '"x"' is 3 bytes + marker = 4 = PADMÉ(4)
    expect(ctLen(out.input.notes[0]!.text!)).toBe(4);
  });

  it('takes the object id from the field argument when the input has none (updateProfile(id, input) shape)', async () => {
    const doc = parse(`mutation P($id: ID!, $p: NotePatch!) { patchNote(id: $id, patch: $p) { id } }`);
    const out = (await seal(doc, { id: 'n7', p: { text: 'patched', secret: null } })) as { p: { text: string; secret: null } };
    expect(openAt(out.p.text, shared, 'Note.text', 'u1', 'n7')).toBe('patched');
    expect(out.p.secret).toBeNull();
    const lit = parse(`mutation P($p: NotePatch!) { patchNote(id: "n8", patch: $p) { id } }`);
    const out2 = (await seal(lit, { p: { text: 'lit id' } })) as { p: { text: string } };
    expect(openAt(out2.p.text, shared, 'Note.text', 'u1', 'n8')).toBe('lit id');
  });

  it('seals a variable used at a sealed position inside an object literal', async () => {
    const doc = parse(`mutation P($id: ID!, $t: Sealed, $s: Sealed) { patchNote(id: $id, patch: { text: $t, secret: $s }) { id } }`);
    const out = await seal(doc, { id: 'n1', t: 'via literal', s: 42 });
    expect(openAt(out.t, shared, 'Note.text', 'u1', 'n1')).toBe('via literal');
    expect(openAt(out.s, vault, 'Note.secret', 'u1', 'n1')).toBe(42);
    expect(out.id).toBe('n1');
    const inList = parse(`mutation S($t: Sealed) { saveFolder(input: { id: "f2", notes: [{ id: "n5", text: $t }] }) { id } }`);
    expect(openAt((await seal(inList, { t: 'in a literal list' })).t, shared, 'Note.text', 'u1', 'n5')).toBe('in a literal list');
  });

  it('uses the written type’s owner and id fields: Photo @owner(field: "author", id: "key")', async () => {
    const doc = parse(`mutation P($i: PhotoInput!) { savePhoto(input: $i) { key } }`);
    const mine = (await seal(doc, { i: { key: 'p1', caption: 'sunset' } })) as { i: { caption: string } };
    expect(openAt(mine.i.caption, shared, 'Photo.caption', 'u1', 'p1')).toBe('sunset');
    const theirs = (await seal(doc, { i: { key: 'p2', author: 'u9', caption: 'for u9' } })) as { i: { caption: string } };
    expect(openAt(theirs.i.caption, shared, 'Photo.caption', 'u9', 'p2')).toBe('for u9');
  });

  it('lets locationFor seal without an object id (objectId: null)', async () => {
    const doc = parse(`mutation P($p: NotePatch!) { patchNote(id: "n1", patch: $p) { id } }`);
    const out = (await seal(doc, { p: { text: 'no object' } }, { locationFor: () => ({ ownerId: 'conv-1', objectId: null }) })) as { p: { text: string } };
    expect(openAt(out.p.text, shared, 'Note.text', 'conv-1', null)).toBe('no object');
  });

  it('leaves documents without sealed inputs alone and returns the same variables object', async () => {
    const doc = parse(`query N($id: ID!) { note(id: $id) { id title } }`);
    const vars = { id: 'n1' };
    expect(await seal(doc, vars)).toBe(vars);
  });

  it('calls prepare once with every value to seal, before any sealingKey call', async () => {
    const calls: string[] = [];
    let requests: readonly KeyRequest[] = [];
    const counting: ClientKeys = {
      prepare(r) {
        calls.push('prepare');
        requests = r;
        return Promise.resolve();
      },
      sealingKey(level, loc) {
        calls.push('seal');
        return keys.sealingKey(level, loc);
      },
      openingKeys: keys.openingKeys,
    };
    await seal(SAVE, { input: { id: 'f1', name: 'n', notes: [{ id: 'n1', text: 't', secret: 's' }] } }, { keys: counting });
    expect(calls).toEqual(['prepare', 'seal', 'seal', 'seal']);
    expect(requests.map((r) => `${r.purpose} ${r.level} ${r.location.coordinate} ${r.location.objectId}`).sort()).toEqual([
      'seal PRIVATE Note.secret n1',
      'seal SHARED Folder.name f1',
      'seal SHARED Note.text n1',
    ]);
  });
});

describe('sealVariables refuses what it cannot seal safely', () => {
  it('a non-null literal at a sealed position → SEALED_LITERAL (null literals are fine)', async () => {
    expect(await codeOf(seal(parse(`mutation { patchNote(id: "n1", patch: { text: "plain" }) { id } }`), {}))).toBe('SEALED_LITERAL');
    expect(await codeOf(seal(parse(`mutation { patchNote(id: "n1", patch: { text: null }) { id } }`), {}))).toBeUndefined();
    const withDefault = parse(`mutation P($p: NotePatch = { secret: "in the document" }) { patchNote(id: "n1", patch: $p) { id } }`);
    expect(await codeOf(seal(withDefault, {}))).toBe('SEALED_LITERAL');
  });

  it('no object id and no override → LOCATION_UNKNOWN; no owner → LOCATION_UNKNOWN', async () => {
    const items = parse(`mutation P($items: [NotePatchItem!]!) { patchNotes(items: $items) { id } }`);
    expect(await codeOf(seal(items, { items: [{ id: 'n1', patch: { text: 'x' } }] }))).toBe('LOCATION_UNKNOWN');
    const out = (await seal(
      items,
      { items: [{ id: 'n1', patch: { text: 'x' } }, { id: 'n2', patch: { text: 'y' } }] },
      { locationFor: (_t, path, _v, ctx) => ({ ownerId: 'u1', objectId: (ctx.arguments.items as { id: string }[])[path[2] as number]!.id }) },
    )) as { items: { patch: { text: string } }[] };
    expect(openAt(out.items[1]!.patch.text, shared, 'Note.text', 'u1', 'n2')).toBe('y');
    expect(await codeOf(seal(SAVE, { input: { id: 'f1', name: 'x' } }, { viewerId: undefined }))).toBe('LOCATION_UNKNOWN');
  });

  it('one variable needed at two locations → AMBIGUOUS_VARIABLE; at the same location it is sealed once', async () => {
    const two = parse(`mutation P($p: NotePatch!) { a: patchNote(id: "n1", patch: $p) { id } b: patchNote(id: "n2", patch: $p) { id } }`);
    expect(await codeOf(seal(two, { p: { text: 'x' } }))).toBe('AMBIGUOUS_VARIABLE');
    const same = parse(`mutation P($p: NotePatch!) { a: patchNote(id: "n1", patch: $p) { id } b: patchNote(id: "n1", patch: $p) { id } }`);
    const out = (await seal(same, { p: { text: 'x' } })) as { p: { text: string } };
    expect(openAt(out.p.text, shared, 'Note.text', 'u1', 'n1')).toBe('x');
  });

  it('no key to seal SHARED with (a read-only ring) → KEY_NOT_FOUND, nothing returned', async () => {
    const readOnly = staticClientKeys({ vault, shared: new SymmetricKeyRing([shared, generateSymmetricKey(backend)]) });
    expect(await codeOf(seal(SAVE, { input: { id: 'f1', name: 'x' } }, { keys: readOnly }))).toBe('KEY_NOT_FOUND');
    const withSeal = staticClientKeys({ vault, shared: new SymmetricKeyRing([shared]), sealShared: shared });
    const out = (await seal(SAVE, { input: { id: 'f1', name: 'x' } }, { keys: withSeal })) as { input: { name: string } };
    expect(openAt(out.input.name, shared, 'Folder.name', 'u1', 'f1')).toBe('x');
  });

  it('an unknown or ambiguous operation → UNKNOWN_OPERATION', async () => {
    const two = parse(`mutation A($p: NotePatch!) { patchNote(id: "1", patch: $p) { id } } mutation B { patchNote(id: "1", patch: {}) { id } }`);
    expect(await codeOf(seal(two, {}))).toBe('UNKNOWN_OPERATION');
    expect(await codeOf(seal(two, {}, { operationName: 'C' }))).toBe('UNKNOWN_OPERATION');
    const out = (await seal(two, { p: { text: 'a' } }, { operationName: 'A' })) as { p: { text: string } };
    expect(openAt(out.p.text, shared, 'Note.text', 'u1', '1')).toBe('a');
  });
});
