/**
 * @module
 * `veilgraph/client/apollo`: the client pipeline as an Apollo Client 4 link
 * (`createPrivacyLink`, link.ts). Its own entry point, apart from `veilgraph/client`, so
 * that only an app that uses Apollo needs `@apollo/client` and `rxjs` (optional peer
 * dependencies of the package); the client core imports neither.
 */
export { createPrivacyLink, type PrivacyLinkOptions } from './link.js';
