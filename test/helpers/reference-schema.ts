/**
 * The reference application's schema for tests: its SDL (the built-in services' and the
 * app's Profile), the schema and manifest built from it as the gateway builds them, and the
 * files for code generation and for tests that serve it with a schema author's types added.
 */
import { copyFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { REFERENCE_SDL_FILES, referenceSdl } from '../../src/app/gateway.js';
import { buildSchema, type BuiltSchema } from '../../src/server/schema.js';

export { REFERENCE_SDL_FILES, referenceSdl };

/** The reference schema built as the gateway builds it (no resolvers). */
export function referenceSchema(): BuiltSchema {
  return buildSchema(referenceSdl(), []);
}

/** Copies every SDL file of the reference schema into `dir` (one flat directory: the names are unique). */
export function copyReferenceSdl(dir: string): void {
  for (const f of REFERENCE_SDL_FILES) copyFileSync(f, join(dir, basename(f)));
}
