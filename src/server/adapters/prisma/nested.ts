/**
 * @module
 * Nested writes into annotated models. A Prisma query extension sees only the top-level
 * model of an operation: `prisma.notebook.create({ data: { journals: { create: [...] } } })`
 * would write Journal rows that the extension never prepared (SERVER values in clear,
 * envelopes unchecked), and `connect` from the other side can move a row to another owner.
 * So every write on any model is searched for a relation field whose target is annotated,
 * and refused (UNCHECKED_WRITE): write those rows through their own model instead.
 *
 * The search over-approximates on purpose (every object under a relation field is read as
 * data of the target model, filters aside): refusing a harmless write is the safe mistake.
 */
import { uncheckedWrite } from './errors.js';
import type { ModelMap } from './model.js';

/** Keys of nested operations that hold filters or shapes, not data. */
const NOT_DATA = new Set(['where', 'select', 'include', 'omit', 'orderBy', 'cursor']);

function isPlainData(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v) || v instanceof Date) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null || Array.isArray(v);
}

/** Throws UNCHECKED_WRITE when `data` (of `model`) writes, at any depth, into an annotated model. */
export function assertNoNestedAnnotatedWrites(models: ModelMap, model: string, data: unknown, path = model): void {
  if (!isPlainData(data)) return;
  if (Array.isArray(data)) {
    data.forEach((item, i) => assertNoNestedAnnotatedWrites(models, model, item, `${path}[${i}]`));
    return;
  }
  const relations = models.relationsOf(model);
  for (const [key, value] of Object.entries(data)) {
    const target = relations.get(key);
    if (target === undefined) continue;
    const mapped = models.byModel.get(target);
    if (mapped) {
      throw uncheckedWrite(`${path}.${key} writes ${target} rows (${mapped.typeName} has @privacy fields) through a nested write, which the extension cannot check; write them with prisma.${mapped.delegate} instead`);
    }
    walkNested(models, target, value, `${path}.${key}`);
  }
}

/** Every data object under a nested operation (`create`, `update: { data }`, `upsert`, …) of `target`. */
function walkNested(models: ModelMap, target: string, value: unknown, path: string): void {
  if (!isPlainData(value)) return;
  if (Array.isArray(value)) {
    value.forEach((item, i) => walkNested(models, target, item, `${path}[${i}]`));
    return;
  }
  assertNoNestedAnnotatedWrites(models, target, value, path);
  for (const [key, v] of Object.entries(value)) {
    if (!NOT_DATA.has(key) && !models.relationsOf(target).has(key)) walkNested(models, target, v, `${path}.${key}`);
  }
}
