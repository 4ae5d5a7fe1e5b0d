/**
 * `npm run codegen`: typed documents, Apollo hooks and the privacy manifest for the
 * operations in client/operations/, generated from the annotated schema in schema/
 * (docs/codegen.md). Output: client/generated/ (not committed; regenerate after changing
 * the schema or an operation).
 */
import { codegenConfig } from './src/codegen/config.js';

export default codegenConfig({
  schemaDir: 'schema',
  documents: ['client/operations/**/*.graphql'],
  outDir: 'client/generated',
});
