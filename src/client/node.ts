/**
 * @module
 * Node-only additions to the client core (they import `node:` modules, so they stay out
 * of the portable `src/client/index.ts`).
 */
export { FileKeyStore } from './keystore-file.js';
