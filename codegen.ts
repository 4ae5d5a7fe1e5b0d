/**
 * `npm run codegen`: typed documents, Apollo hooks and the privacy manifest for the
 * operations in client/operations/, generated from the annotated schema (the built-in services' SDL
 * in src/server/services/ and the reference app's in src/app/)
 * (docs/codegen.md). Output: client/generated/ (not committed; regenerate after changing
 * the schema or an operation).
 */
import { codegenConfig } from './src/codegen/config.js';

export default codegenConfig({
  // The reference app's schema: veilgraph's root types, the built-in services' SDL and the app's own.
  schema: ['src/server/veilgraph.graphql', 'src/server/services/*/*.graphql', 'src/app/**/*.graphql'],
  documents: ['client/operations/**/*.graphql'],
  outDir: 'client/generated',
});
