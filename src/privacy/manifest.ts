/**
 * @module
 * The privacy manifest: one plain-JSON description of which schema coordinate has which
 * privacy level, derived from the annotated SDL. The gateway enforces it and the client
 * link applies it; nobody keeps a hand-written list of encrypted fields.
 *
 * Rules (each violation is collected and reported together as a PrivacySchemaError):
 * - A field's level is its own `@privacy`, else its type's `@privacy`, else PUBLIC.
 * - Levels apply to leaf fields (scalars, enums, lists of them). An explicit `@privacy`
 *   on an object-typed field is an error; a type-level default skips such fields.
 * - A type with any non-PUBLIC field declares `@owner(field, id)`; both fields exist, are
 *   leaves, and are PUBLIC (they route and bind; they cannot themselves be sealed).
 * - `@privacy` on an interface field is an error: levels are given on the object types that
 *   implement it (it would otherwise be silently not applied to them).
 * - `searchable` is for SERVER fields only (the server cannot index what it cannot read).
 * - `pad` sizes are positive and strictly rising.
 * - An input type with any non-PUBLIC field declares `@writes(type)`; its fields inherit
 *   the level of the same-named output field, an explicit level must agree with it, and
 *   every non-PUBLIC input field must have such an output field (its location).
 */
import { getDirective } from '@graphql-tools/utils';
import {
  getNamedType,
  isInputObjectType,
  isInterfaceType,
  isIntrospectionType,
  isLeafType,
  isObjectType,
  type GraphQLField,
  type GraphQLInputField,
  type GraphQLInputObjectType,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';
import { PrivacySchemaError } from './errors.js';
import { PRIVACY_LEVELS, isSealedLevel, type PrivacyLevel } from './levels.js';

export const MANIFEST_VERSION = 1;

export interface FieldPrivacy {
  readonly level: PrivacyLevel;
  /** The field's GraphQL type as written in the SDL, e.g. `String`, `[String!]!`. */
  readonly type: string;
  /** Padding bucket sizes in bytes; absent = PADMÉ. */
  readonly pad?: readonly number[];
  /** SERVER fields only: a blind index supports equality lookups. */
  readonly searchable?: boolean;
}

export interface ObjectPrivacy {
  /** Field holding the owning user's id. */
  readonly owner: string;
  /** Field holding the object's id. */
  readonly id: string;
  /** Every leaf field with its effective level (PUBLIC included). */
  readonly fields: Readonly<Record<string, FieldPrivacy>>;
}

export interface InputFieldPrivacy extends FieldPrivacy {
  /** The schema coordinate this input field writes, `Type.field`: its sealed location. */
  readonly coordinate: string;
}

export interface InputPrivacy {
  readonly writes: string;
  /** Fields that write a field of `writes` (leaf input fields only). */
  readonly fields: Readonly<Record<string, InputFieldPrivacy>>;
}

export interface PrivacyManifest {
  readonly version: typeof MANIFEST_VERSION;
  /** Output types that declare `@owner` or carry any `@privacy`. */
  readonly objects: Readonly<Record<string, ObjectPrivacy>>;
  /** Input types that declare `@writes`. */
  readonly inputs: Readonly<Record<string, InputPrivacy>>;
}

interface PrivacyArgs {
  level: PrivacyLevel;
  pad?: number[] | null;
  searchable?: boolean | null;
}

function privacyOf(schema: GraphQLSchema, node: Parameters<typeof getDirective>[1]): PrivacyArgs | undefined {
  return getDirective(schema, node, 'privacy')?.[0] as PrivacyArgs | undefined;
}

function fieldPolicy(level: PrivacyLevel, type: string, args: PrivacyArgs | undefined): FieldPrivacy {
  const p: { level: PrivacyLevel; type: string; pad?: number[]; searchable?: boolean } = { level, type };
  if (args?.pad) p.pad = [...args.pad];
  if (args?.searchable) p.searchable = true;
  return p;
}

function isUserType(t: GraphQLNamedType): boolean {
  return !isIntrospectionType(t) && !t.name.startsWith('__');
}

/** Builds and validates the manifest; throws PrivacySchemaError listing every problem. */
export function buildPrivacyManifest(schema: GraphQLSchema): PrivacyManifest {
  const problems: string[] = [];
  const objects: Record<string, ObjectPrivacy> = {};
  const inputs: Record<string, InputPrivacy> = {};

  for (const type of Object.values(schema.getTypeMap())) {
    if (!isUserType(type)) continue;
    if (isObjectType(type)) {
      const o = objectPrivacy(schema, type, problems);
      if (o) objects[type.name] = o;
    }
  }
  checkInterfaces(schema, objects, problems);
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isUserType(type) || !isInputObjectType(type)) continue;
    const i = inputPrivacy(schema, type, objects, problems);
    if (i) inputs[type.name] = i;
  }
  if (problems.length > 0) throw new PrivacySchemaError(problems);
  return { version: MANIFEST_VERSION, objects, inputs };
}

/**
 * An interface field travels as `Sealed` exactly when its implementations' fields do, so
 * the wire schema stays valid; implementations that disagree cannot be expressed.
 */
function checkInterfaces(schema: GraphQLSchema, objects: Record<string, ObjectPrivacy>, problems: string[]): void {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isUserType(type) || !isInterfaceType(type)) continue;
    for (const [field, def] of Object.entries(type.getFields())) {
      // Levels live on the object types that hold the data. An annotation here would be
      // silently not applied to them (their field served as PUBLIC): refuse it instead.
      if (getDirective(schema, def, 'privacy')?.[0]) {
        const impls = schema.getPossibleTypes(type).map((t) => `${t.name}.${field}`);
        problems.push(`${type.name}.${field}: @privacy on an interface field is not applied to the types that implement it; annotate the field on each implementing type instead${impls.length > 0 ? ` (${impls.join(', ')})` : ''}`);
      }
      const sealed = new Set<boolean>();
      for (const impl of schema.getPossibleTypes(type)) {
        const level = objects[impl.name]?.fields[field]?.level ?? 'PUBLIC';
        sealed.add(isSealedLevel(level));
      }
      if (sealed.size > 1) {
        problems.push(`${type.name}.${field}: implementations of ${type.name} disagree on whether ${field} is sealed (SHARED/PRIVATE); give it the same kind of level in every implementation`);
      }
    }
  }
}

/** Interface fields whose implementations are sealed (so the interface field is `Sealed` too). */
export function sealedInterfaceFields(schema: GraphQLSchema, manifest: PrivacyManifest): Set<string> {
  const out = new Set<string>();
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isUserType(type) || !isInterfaceType(type)) continue;
    for (const field of Object.keys(type.getFields())) {
      const impls = schema.getPossibleTypes(type);
      if (impls.length > 0 && impls.every((impl) => isSealedLevel(manifest.objects[impl.name]?.fields[field]?.level ?? 'PUBLIC'))) {
        out.add(`${type.name}.${field}`);
      }
    }
  }
  return out;
}

function checkArgs(coordinate: string, level: PrivacyLevel, args: PrivacyArgs | undefined, problems: string[]): void {
  if (!args) return;
  if (args.searchable && level !== 'SERVER') {
    problems.push(`${coordinate}: searchable is only possible at level SERVER (the server cannot index a value it cannot read)`);
  }
  if (args.pad && !(args.pad.length > 0 && args.pad.every((s, i) => s > 0 && (i === 0 || s > args.pad![i - 1]!)))) {
    problems.push(`${coordinate}: pad sizes must be positive and strictly rising`);
  }
  if (args.pad && level === 'PUBLIC') problems.push(`${coordinate}: pad has no effect on a PUBLIC field`);
}

function objectPrivacy(schema: GraphQLSchema, type: GraphQLObjectType, problems: string[]): ObjectPrivacy | undefined {
  const typeArgs = privacyOf(schema, type);
  const ownerArgs = getDirective(schema, type, 'owner')?.[0] as { field: string; id: string } | undefined;
  const fields: Record<string, FieldPrivacy> = {};
  let protectedCount = 0;
  let annotated = Boolean(typeArgs);

  for (const field of Object.values(type.getFields()) as GraphQLField<unknown, unknown>[]) {
    const coordinate = `${type.name}.${field.name}`;
    const own = privacyOf(schema, field);
    const leaf = isLeafType(getNamedType(field.type));
    if (own) annotated = true;
    if (!leaf) {
      if (own) {
        problems.push(
          `${coordinate}: @privacy applies to leaf fields (scalars, enums, lists of them); annotate the fields of ${getNamedType(field.type).name} or put @privacy on that type`,
        );
      }
      continue;
    }
    const isKey = ownerArgs !== undefined && (field.name === ownerArgs.field || field.name === ownerArgs.id);
    let level: PrivacyLevel = own?.level ?? (isKey ? 'PUBLIC' : typeArgs?.level ?? 'PUBLIC');
    if (!PRIVACY_LEVELS.includes(level)) {
      problems.push(`${coordinate}: unknown privacy level ${String(level)}`);
      level = 'PUBLIC';
    }
    if (isKey && level !== 'PUBLIC') {
      problems.push(`${coordinate}: the @owner/id field of ${type.name} must be PUBLIC (it routes and binds the protected fields)`);
    }
    // The key fields never inherit the type's default (nor its padding).
    const args = own ?? (isKey ? undefined : typeArgs);
    checkArgs(coordinate, level, args, problems);
    if (level !== 'PUBLIC') protectedCount++;
    fields[field.name] = fieldPolicy(level, String(field.type), args);
  }

  if (!annotated && !ownerArgs) return undefined;
  if (protectedCount > 0 && !ownerArgs) {
    problems.push(`${type.name}: has protected fields but no @owner(field: ...) saying whose they are`);
  }
  if (ownerArgs) {
    for (const [role, name] of [
      ['owner', ownerArgs.field],
      ['id', ownerArgs.id],
    ] as const) {
      const f = type.getFields()[name];
      if (!f) problems.push(`${type.name}: @owner names ${role} field "${name}", which ${type.name} does not have`);
      else if (!isLeafType(getNamedType(f.type))) problems.push(`${type.name}.${name}: the @owner ${role} field must be a scalar`);
    }
  }
  return { owner: ownerArgs?.field ?? 'id', id: ownerArgs?.id ?? 'id', fields };
}

function inputPrivacy(
  schema: GraphQLSchema,
  type: GraphQLInputObjectType,
  objects: Record<string, ObjectPrivacy>,
  problems: string[],
): InputPrivacy | undefined {
  const writesArgs = getDirective(schema, type, 'writes')?.[0] as { type: string } | undefined;
  const inputFields = Object.values(type.getFields()) as GraphQLInputField[];
  if (!writesArgs) {
    for (const f of inputFields) {
      const own = privacyOf(schema, f);
      if (own && own.level !== 'PUBLIC') {
        problems.push(
          `${type.name}.${f.name}: a ${own.level} input field needs its type to say which output type it writes: add @writes(type: "...") to ${type.name}`,
        );
      }
    }
    return undefined;
  }
  const target = objects[writesArgs.type];
  const targetType = schema.getType(writesArgs.type);
  if (!targetType || !isObjectType(targetType)) {
    problems.push(`${type.name}: @writes(type: "${writesArgs.type}") names no object type`);
    return undefined;
  }
  const fields: Record<string, InputFieldPrivacy> = {};
  for (const f of inputFields) {
    const coordinate = `${type.name}.${f.name}`;
    const own = privacyOf(schema, f);
    if (!isLeafType(getNamedType(f.type))) {
      if (own) problems.push(`${coordinate}: @privacy applies to leaf input fields; annotate the fields of ${getNamedType(f.type).name}`);
      continue;
    }
    const written = target?.fields[f.name];
    if (!written) {
      if (own && own.level !== 'PUBLIC') {
        problems.push(`${coordinate}: is ${own.level} but ${writesArgs.type} has no leaf field "${f.name}" to be its location`);
      }
      continue;
    }
    if (own && own.level !== written.level) {
      problems.push(`${coordinate}: is annotated ${own.level} but writes ${writesArgs.type}.${f.name}, which is ${written.level}`);
    }
    const p: InputFieldPrivacy = { ...written, type: String(f.type), coordinate: `${writesArgs.type}.${f.name}` };
    fields[f.name] = p;
  }
  return { writes: writesArgs.type, fields };
}

/** The levels of an object type's annotated fields (empty for a type the manifest does not list). */
export function objectLevels(manifest: PrivacyManifest, typeName: string): Set<PrivacyLevel> {
  const object = Object.hasOwn(manifest.objects, typeName) ? manifest.objects[typeName] : undefined;
  return new Set(object ? Object.values(object.fields).map((f) => f.level) : []);
}

/** The effective level of `Type.field` (PUBLIC when the manifest does not list it). */
export function levelOf(manifest: PrivacyManifest, typeName: string, fieldName: string): PrivacyLevel {
  return manifest.objects[typeName]?.fields[fieldName]?.level ?? 'PUBLIC';
}
