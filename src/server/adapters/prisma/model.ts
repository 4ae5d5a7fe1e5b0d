/**
 * @module
 * Which Prisma model holds which annotated GraphQL type, checked against the column
 * conventions (docs/privacy.md, docs/server-prisma.md) when the adapter is attached, so a
 * model that cannot hold its type safely is a start-up error rather than plaintext at rest:
 *
 * - the type's id and owner fields are columns;
 * - a type with SERVER fields has `serverSealed Bytes?` and `serverKeyVersion Int`, and a
 *   `<field>Index String?` per searchable SERVER field; a SERVER field has no column of its
 *   own (one would invite storing its plaintext);
 * - each SHARED/PRIVATE field is a `String?` column (it holds the client's envelope text);
 * - a model with a `serverSealed` column, or named like an annotated type, that `models`
 *   leaves out is refused (a forgotten entry would leave its writes unchecked).
 *
 * The data model comes from the client itself: `_runtimeDataModel`, which the Prisma 6
 * client carries (checked with the `prisma-client` generator, which exports no DMMF).
 */
import { isSealedLevel } from '../../../privacy/levels.js';
import type { ObjectPrivacy, PrivacyManifest } from '../../../privacy/manifest.js';
import { configInvalid } from './errors.js';

export interface ModelField {
  readonly name: string;
  readonly kind: string;
  readonly type: string;
}

export interface DataModel {
  readonly models: Readonly<Record<string, { readonly fields: readonly ModelField[] }>>;
}

export const SEALED_COLUMN = 'serverSealed';
export const KEY_VERSION_COLUMN = 'serverKeyVersion';

export function indexColumn(field: string): string {
  return `${field}Index`;
}

/** One annotated type and the model that holds it. */
export interface MappedType {
  readonly typeName: string;
  readonly model: string;
  /** The client property of the model (`journal` for `Journal`). */
  readonly delegate: string;
  readonly object: ObjectPrivacy;
  readonly hasServer: boolean;
  /** Columns the write path computes; never taken from `data`. */
  readonly computed: ReadonlySet<string>;
  /** The model's relation fields. */
  readonly relations: ReadonlySet<string>;
  /** `@writes` input types of this type, by name. */
  readonly inputs: readonly string[];
}

export interface ModelMap {
  readonly byModel: ReadonlyMap<string, MappedType>;
  readonly byType: ReadonlyMap<string, MappedType>;
  /** Relation fields of every model: field name → target model. */
  relationsOf(model: string): ReadonlyMap<string, string>;
}

export function delegateName(model: string): string {
  return model.charAt(0).toLowerCase() + model.slice(1);
}

/** The data model of a Prisma client (or an extended one). */
export function dataModelOf(prisma: object): DataModel {
  const dm = (prisma as { _runtimeDataModel?: unknown })._runtimeDataModel as DataModel | undefined;
  if (!dm || typeof dm !== 'object' || typeof dm.models !== 'object') {
    throw configInvalid('this Prisma client carries no data model (`_runtimeDataModel`): use Prisma 6 and pass your PrismaClient instance');
  }
  return dm;
}

function isAnnotated(o: ObjectPrivacy): boolean {
  return Object.values(o.fields).some((f) => f.level !== 'PUBLIC');
}

function resolveModel(dm: DataModel, named: string): string | null {
  return Object.keys(dm.models).find((m) => m === named || delegateName(m) === named) ?? null;
}

function checkColumns(typeName: string, model: string, o: ObjectPrivacy, fields: ReadonlyMap<string, ModelField>, problems: string[]): void {
  const need = (column: string, type: string, why: string): void => {
    const f = fields.get(column);
    if (!f || f.kind !== 'scalar' || f.type !== type) problems.push(`${model}.${column} must be a ${type} column (${why})`);
  };
  need(o.id, 'String', `${typeName}'s id field`);
  need(o.owner, 'String', `${typeName}'s @owner field`);
  const server = Object.entries(o.fields).filter(([, f]) => f.level === 'SERVER');
  if (server.length > 0) {
    need(SEALED_COLUMN, 'Bytes', `the sealed SERVER fields of ${typeName}`);
    need(KEY_VERSION_COLUMN, 'Int', 'the key ring version of serverSealed');
  }
  for (const [name, f] of server) {
    if (fields.has(name)) problems.push(`${model}.${name} must not exist: ${typeName}.${name} is SERVER, its value is stored sealed in ${SEALED_COLUMN}`);
    if (f.searchable) need(indexColumn(name), 'String', `the blind index of searchable ${typeName}.${name}`);
  }
  for (const [name, f] of Object.entries(o.fields)) {
    if (isSealedLevel(f.level)) need(name, 'String', `${typeName}.${name} is ${f.level}: the column holds the client's envelope text`);
  }
}

/**
 * Maps the annotated types named in `models` (`{ Journal: 'journal' }`: type → model, by
 * model name or client property) onto the client's models and checks them; throws
 * CONFIG_INVALID listing every problem. An annotated type left out whose name is a model,
 * and a model with a `serverSealed` column left out, are problems too: their writes
 * through the extended client would go unchecked.
 */
export function mapModels(dm: DataModel, manifest: PrivacyManifest, models: Readonly<Record<string, string>>): ModelMap {
  const problems: string[] = [];
  const byModel = new Map<string, MappedType>();
  const byType = new Map<string, MappedType>();
  for (const [typeName, named] of Object.entries(models)) {
    const o = manifest.objects[typeName];
    if (!o || !isAnnotated(o)) {
      problems.push(`models.${typeName}: ${typeName} is not a type with @privacy fields in the schema`);
      continue;
    }
    const model = resolveModel(dm, named);
    if (model === null) {
      problems.push(`models.${typeName} names ${JSON.stringify(named)}, which is not a model of this Prisma client (models: ${Object.keys(dm.models).join(', ')})`);
      continue;
    }
    const taken = byModel.get(model);
    if (taken) {
      problems.push(`${typeName} and ${taken.typeName} both map to the model ${model}`);
      continue;
    }
    const fields = new Map(dm.models[model]!.fields.map((f) => [f.name, f]));
    checkColumns(typeName, model, o, fields, problems);
    const hasServer = Object.values(o.fields).some((f) => f.level === 'SERVER');
    const computed = new Set<string>(hasServer ? [SEALED_COLUMN, KEY_VERSION_COLUMN] : []);
    for (const [name, f] of Object.entries(o.fields)) if (f.level === 'SERVER' && f.searchable) computed.add(indexColumn(name));
    const mapped: MappedType = {
      typeName,
      model,
      delegate: delegateName(model),
      object: o,
      hasServer,
      computed,
      relations: new Set([...fields.values()].filter((f) => f.kind === 'object').map((f) => f.name)),
      inputs: Object.entries(manifest.inputs)
        .filter(([, i]) => i.writes === typeName)
        .map(([name]) => name)
        .sort(),
    };
    byModel.set(model, mapped);
    byType.set(typeName, mapped);
  }
  for (const [typeName, o] of Object.entries(manifest.objects)) {
    if (isAnnotated(o) && !byType.has(typeName) && Object.hasOwn(dm.models, typeName) && !byModel.has(typeName)) {
      problems.push(`${typeName} has @privacy fields and this client has a model ${typeName}, but models does not name it: add ${typeName}: '${typeName}' (writes to it would go unchecked)`);
    }
  }
  for (const [model, m] of Object.entries(dm.models)) {
    if (!byModel.has(model) && m.fields.some((f) => f.name === SEALED_COLUMN)) {
      problems.push(`${model} has a ${SEALED_COLUMN} column but models maps no type to it: add { TypeName: '${model}' }`);
    }
  }
  if (problems.length > 0) throw configInvalid(`the Prisma data model does not fit the schema:\n- ${problems.join('\n- ')}`);
  const relations = new Map<string, Map<string, string>>();
  for (const [model, m] of Object.entries(dm.models)) {
    relations.set(model, new Map(m.fields.filter((f) => f.kind === 'object').map((f) => [f.name, f.type])));
  }
  return { byModel, byType, relationsOf: (model) => relations.get(model) ?? new Map() };
}
