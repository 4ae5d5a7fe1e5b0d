// A browser app's TypeScript file against the light package alone (`npm install
// @veilgraph/client`): the client core, its key stores, the crypto core and the graphql-ws
// helper. Type-checked by test/package/consumer.test.ts with the DOM lib and strict settings,
// and bundled for the browser by esbuild (no Node built-ins).
import { selectPortableBackend, type CryptoBackend } from '@veilgraph/client/crypto';
import { IndexedDbKeyStore, MemoryKeyStore, VeilClientError, createVeilPipeline, withVeilFields, type KeyStore } from '@veilgraph/client';
import { veilWsClient } from '@veilgraph/client/graphql-ws';

export const backend: Promise<CryptoBackend> = selectPortableBackend();
export const stores: readonly KeyStore[] = [new MemoryKeyStore(), new IndexedDbKeyStore()];
export const isClientError = (e: unknown): boolean => e instanceof VeilClientError;
export const veil: typeof withVeilFields = withVeilFields;
export const pipeline: typeof createVeilPipeline = createVeilPipeline;
export const wsHelper: typeof veilWsClient = veilWsClient;
