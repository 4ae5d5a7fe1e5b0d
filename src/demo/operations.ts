/**
 * @module
 * The example operations in client/operations/ (the documents `npm run codegen` types and
 * turns into hooks), by operation name, for the demos that drive Apollo Client with them.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, visit, type ASTNode, type DocumentNode } from 'graphql';

const OPERATIONS_DIR = fileURLToPath(new URL('../../client/operations/', import.meta.url));

/** The example operations, by operation name (the documents codegen types). */
export function loadOperations(): Map<string, DocumentNode> {
  const text = readdirSync(OPERATIONS_DIR)
    .filter((f) => f.endsWith('.graphql'))
    .map((f) => readFileSync(join(OPERATIONS_DIR, f), 'utf8'))
    .join('\n');
  const doc = parse(text);
  const fragments = new Map(doc.definitions.flatMap((d) => (d.kind === 'FragmentDefinition' ? [[d.name.value, d] as const] : [])));
  const ops = new Map<string, DocumentNode>();
  for (const d of doc.definitions) {
    if (d.kind !== 'OperationDefinition' || !d.name) continue;
    // Each operation with the fragments it spreads, transitively (unused ones fail validation).
    const used = new Set<string>();
    const collect = (node: ASTNode): void => {
      visit(node, {
        FragmentSpread(spread) {
          if (used.has(spread.name.value)) return;
          used.add(spread.name.value);
          const f = fragments.get(spread.name.value);
          if (f) collect(f);
        },
      });
    };
    collect(d);
    ops.set(d.name.value, { kind: doc.kind, definitions: [d, ...[...used].flatMap((name) => fragments.get(name) ?? [])] });
  }
  return ops;
}


/** The operation named `name` from client/operations/; throws when there is none. */
export function operationGetter(): (name: string) => DocumentNode {
  const ops = loadOperations();
  return (name) => {
    const d = ops.get(name);
    if (!d) throw new Error(`client/operations has no operation ${name}`);
    return d;
  };
}
