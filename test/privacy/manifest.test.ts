// The @privacy directive and the manifest derived from it: defaults, overrides, inputs,
// lists and nullability, the wire types, and every schema-build error.
import { makeExecutableSchema } from '@graphql-tools/schema';
import { getNamedType, getNullableType, isNonNullType, isScalarType, type GraphQLInputObjectType, type GraphQLObjectType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { PrivacySchemaError, buildPrivacyManifest, toWireSchema } from '../../src/privacy/index.js';
import { PRIVACY_SDL } from '../../src/privacy/sdl.js';

function build(sdl: string) {
  const schema = makeExecutableSchema({ typeDefs: [PRIVACY_SDL, sdl, 'type Query { _: Boolean }'] });
  const manifest = buildPrivacyManifest(schema);
  return { schema, manifest, wire: toWireSchema(schema, manifest) };
}

function problemsOf(sdl: string): string[] {
  try {
    build(sdl);
  } catch (e) {
    if (e instanceof PrivacySchemaError) return [...e.problems];
    throw e;
  }
  throw new Error('expected a PrivacySchemaError');
}

const NOTE = /* GraphQL */ `
  type Note @owner(field: "authorId") @privacy(level: SHARED) {
    id: ID!
    authorId: ID!
    title: String! @privacy(level: PUBLIC)
    body: String
    secret: String @privacy(level: PRIVATE)
    email: String @privacy(level: SERVER, searchable: true)
    tags: [String!]!
    scores: [Int]
    padded: String @privacy(level: PRIVATE, pad: [64, 256])
    author: Author
  }
  type Author { id: ID! name: String }
  input NoteInput @writes(type: "Note") {
    title: String
    body: String
    secret: String!
    email: String
    tags: [String!]!
    unrelated: Int
    nested: NoteMetaInput
  }
  input NoteMetaInput { x: Int }
`;

describe('manifest', () => {
  it('applies the type default, field overrides and implicit PUBLIC keys', () => {
    const { manifest } = build(NOTE);
    const note = manifest.objects.Note!;
    expect(note.owner).toBe('authorId');
    expect(note.id).toBe('id');
    expect(note.fields.id!.level).toBe('PUBLIC');
    expect(note.fields.authorId!.level).toBe('PUBLIC');
    expect(note.fields.title!.level).toBe('PUBLIC');
    expect(note.fields.body!.level).toBe('SHARED');
    expect(note.fields.secret!.level).toBe('PRIVATE');
    expect(note.fields.email).toEqual({ level: 'SERVER', type: 'String', searchable: true });
    expect(note.fields.padded).toEqual({ level: 'PRIVATE', type: 'String', pad: [64, 256] });
    // Lists of leaves take the default too, with their types recorded.
    expect(note.fields.tags).toEqual({ level: 'SHARED', type: '[String!]!' });
    expect(note.fields.scores).toEqual({ level: 'SHARED', type: '[Int]' });
    // Object-typed fields are not leaves: skipped by the type default.
    expect(note.fields.author).toBeUndefined();
    // Unannotated types without @owner are not in the manifest.
    expect(manifest.objects.Author).toBeUndefined();
  });

  it('input fields inherit the level of the field they write and record its coordinate', () => {
    const { manifest } = build(NOTE);
    const input = manifest.inputs.NoteInput!;
    expect(input.writes).toBe('Note');
    expect(input.fields.body).toMatchObject({ level: 'SHARED', coordinate: 'Note.body', type: 'String' });
    expect(input.fields.secret).toMatchObject({ level: 'PRIVATE', coordinate: 'Note.secret', type: 'String!' });
    expect(input.fields.email).toMatchObject({ level: 'SERVER', coordinate: 'Note.email' });
    expect(input.fields.tags).toMatchObject({ level: 'SHARED', type: '[String!]!' });
    expect(input.fields.unrelated).toBeUndefined();
    expect(input.fields.nested).toBeUndefined();
  });

  it('the wire schema carries SHARED/PRIVATE as Sealed, keeping outer non-null, and leaves the rest', () => {
    const { wire } = build(NOTE);
    const note = wire.getType('Note') as GraphQLObjectType;
    const f = note.getFields();
    expect(String(f.body!.type)).toBe('Sealed');
    expect(String(f.secret!.type)).toBe('Sealed');
    expect(String(f.tags!.type)).toBe('Sealed!');
    expect(String(f.scores!.type)).toBe('Sealed');
    expect(String(f.title!.type)).toBe('String!');
    expect(String(f.email!.type)).toBe('String');
    const input = (wire.getType('NoteInput') as GraphQLInputObjectType).getFields();
    expect(isNonNullType(input.secret!.type) && isScalarType(getNullableType(input.secret!.type))).toBe(true);
    expect(getNamedType(input.secret!.type).name).toBe('Sealed');
    expect(String(input.body!.type)).toBe('Sealed');
    expect(String(input.email!.type)).toBe('String');
    expect(String(input.unrelated!.type)).toBe('Int');
  });

  it('the reference schema builds and has every level', async () => {
    const { referenceSchema } = await import('../helpers/reference-schema.js');
    const { manifest } = referenceSchema();
    const levels = Object.values(manifest.objects.Profile!.fields).map((f) => f.level);
    expect(new Set(levels)).toEqual(new Set(['PUBLIC', 'SERVER', 'SHARED', 'PRIVATE']));
  });
});

describe('interfaces', () => {
  const BASE = `
    interface Owned { id: ID! text: String }
    type Note implements Owned @owner(field: "author") { id: ID! author: ID! text: String @privacy(level: SHARED) }
  `;

  it('an interface field is Sealed on the wire when every implementation seals it', () => {
    const { wire } = build(`${BASE} type Memo implements Owned @owner(field: "o") { id: ID! o: ID! text: String @privacy(level: PRIVATE) }`);
    expect(String((wire.getType('Owned') as GraphQLObjectType).getFields().text!.type)).toBe('Sealed');
    expect(String((wire.getType('Note') as GraphQLObjectType).getFields().text!.type)).toBe('Sealed');
  });

  it('@privacy on an interface field (declared or extended) fails the build, naming the fields to annotate instead', () => {
    const onField = problemsOf(`
      interface Entry { id: ID! hidden: String @privacy(level: PRIVATE) }
      type Journal implements Entry @owner(field: "authorId") { id: ID! authorId: ID! hidden: String }
    `);
    expect(onField).toEqual(['Entry.hidden: @privacy on an interface field is not applied to the types that implement it; annotate the field on each implementing type instead (Journal.hidden)']);
    const extended = problemsOf(`
      interface Entry { id: ID! }
      extend interface Entry { hidden: String @privacy(level: SERVER) }
      type Journal implements Entry @owner(field: "authorId") { id: ID! authorId: ID! hidden: String }
    `);
    expect(extended.join('\n')).toMatch(/^Entry\.hidden: @privacy on an interface field is not applied/);
  });

  it('implementations that disagree on sealing fail the build', () => {
    const p = problemsOf(`${BASE} type Memo implements Owned { id: ID! text: String }`);
    expect(p.join('\n')).toMatch(/Owned\.text: implementations of Owned disagree/);
  });
});

describe('schema build errors', () => {
  it('an unknown level fails the build', () => {
    expect(() => build('type T @owner(field: "o") { id: ID! o: ID! x: String @privacy(level: SECRET) }')).toThrow(/SECRET/);
  });

  it('@privacy on an object-typed field says to annotate the leaves or the type', () => {
    const p = problemsOf('type A { x: String } type T @owner(field: "o") { id: ID! o: ID! a: A @privacy(level: SHARED) }');
    expect(p.join('\n')).toMatch(/T\.a: @privacy applies to leaf fields.*annotate the fields of A or put @privacy on that type/);
  });

  it('protected fields need @owner, and @owner must name existing scalar fields', () => {
    expect(problemsOf('type T { id: ID! x: String @privacy(level: PRIVATE) }').join('\n')).toMatch(/T: has protected fields but no @owner/);
    expect(problemsOf('type T @owner(field: "nobody") { id: ID! x: String @privacy(level: PRIVATE) }').join('\n')).toMatch(/owner field "nobody"/);
    expect(problemsOf('type T @owner(field: "o", id: "key") { o: ID! x: String @privacy(level: PRIVATE) }').join('\n')).toMatch(/id field "key"/);
  });

  it('the owner and id fields cannot themselves be protected', () => {
    expect(problemsOf('type T @owner(field: "o") { id: ID! o: ID! @privacy(level: SHARED) x: String }').join('\n')).toMatch(/T\.o: the @owner\/id field/);
  });

  it('searchable only at SERVER; pad sizes rising and never on PUBLIC', () => {
    expect(problemsOf('type T @owner(field: "o") { id: ID! o: ID! x: String @privacy(level: SHARED, searchable: true) }').join('\n')).toMatch(/searchable is only possible at level SERVER/);
    expect(problemsOf('type T @owner(field: "o") { id: ID! o: ID! x: String @privacy(level: PRIVATE, pad: [256, 64]) }').join('\n')).toMatch(/strictly rising/);
    expect(problemsOf('type T @owner(field: "o") { id: ID! o: ID! x: String @privacy(level: PUBLIC, pad: [64]) }').join('\n')).toMatch(/no effect on a PUBLIC/);
  });

  it('sealed input fields need @writes, a matching output field, and the same level', () => {
    const base = 'type T @owner(field: "o") { id: ID! o: ID! x: String @privacy(level: PRIVATE) y: String }';
    expect(problemsOf(`${base} input I { x: String @privacy(level: PRIVATE) }`).join('\n')).toMatch(/I\.x: a PRIVATE input field needs .*@writes/);
    expect(problemsOf(`${base} input I @writes(type: "T") { z: String @privacy(level: SHARED) }`).join('\n')).toMatch(/I\.z: is SHARED but T has no leaf field "z"/);
    expect(problemsOf(`${base} input I @writes(type: "T") { x: String @privacy(level: SHARED) }`).join('\n')).toMatch(/I\.x: is annotated SHARED but writes T\.x, which is PRIVATE/);
    expect(problemsOf(`${base} input I @writes(type: "Nope") { x: String }`).join('\n')).toMatch(/names no object type/);
  });

  it('reports every problem at once', () => {
    const p = problemsOf(`
      type A { x: String }
      type T { id: ID! a: A @privacy(level: SHARED) s: String @privacy(level: SHARED, searchable: true) }
    `);
    expect(p.length).toBeGreaterThanOrEqual(3);
  });
});
