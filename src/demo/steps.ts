/**
 * @module
 * What the demos share: a failed step (the demo exits non-zero, naming it) and the
 * reference schema and privacy manifest, built from schema/ as the gateway builds them.
 */
import { referenceSdl } from '../app/gateway.js';
import { buildSchema } from '../server/schema.js';

/** A step that did not behave as the demo says it does. */
export class StepFailed extends Error {}

export function check(ok: boolean, what: string): void {
  if (!ok) throw new StepFailed(what);
}

/** The source schema and manifest of schema/ (what the generated client is built from). */
export function referenceSchema(): { schema: ReturnType<typeof buildSchema>['source']; manifest: ReturnType<typeof buildSchema>['manifest'] } {
  const b = buildSchema(referenceSdl(), []);
  return { schema: b.source, manifest: b.manifest };
}
