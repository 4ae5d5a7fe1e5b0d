// A browser consumer's TypeScript file (DOM lib), type-checked by
// test/package/consumer.test.ts like ./server.ts: the client core with its key stores, the
// portable crypto and the graphql-ws helper, in a project without any client library
// (no @apollo/client, rxjs, @urql/core or wonka: ./integrations.ts needs those).
import { selectPortableBackend, type CryptoBackend } from 'veilgraph/crypto';
import { isSealedLevel } from 'veilgraph/privacy';
import { IndexedDbKeyStore, MemoryKeyStore, VeilClientError, createVeilPipeline, withVeilFields, type KeyStore } from 'veilgraph/client';
import { veilWsClient } from 'veilgraph/client/graphql-ws';

export const backend: Promise<CryptoBackend> = selectPortableBackend();
export const sealed: boolean = isSealedLevel('PRIVATE');
export const stores: readonly KeyStore[] = [new MemoryKeyStore(), new IndexedDbKeyStore()];
export const isClientError = (e: unknown): boolean => e instanceof VeilClientError;
export const veil: typeof withVeilFields = withVeilFields;
export const pipeline: typeof createVeilPipeline = createVeilPipeline;
export const wsHelper: typeof veilWsClient = veilWsClient;
