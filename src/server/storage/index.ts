/**
 * @module
 * Storage entry point for the gateway: the contract, `openStore`, and the typed errors.
 */
export type * from './store.js';
export { openStore, defaultDataDir, type OpenStoreOptions } from './open.js';
export { StorageError, isStorageError, type StorageErrorCode } from './errors.js';
