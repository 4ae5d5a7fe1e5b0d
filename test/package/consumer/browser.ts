// A browser consumer's TypeScript file (DOM lib), type-checked by
// test/package/consumer.test.ts like ./server.ts: the client core with its key stores and
// the portable crypto.
import { selectPortableBackend, type CryptoBackend } from 'veilgraph/crypto';
import { isSealedLevel } from 'veilgraph/privacy';
import { IndexedDbKeyStore, MemoryKeyStore, VeilClientError, withVeilFields, type KeyStore } from 'veilgraph/client';

export const backend: Promise<CryptoBackend> = selectPortableBackend();
export const sealed: boolean = isSealedLevel('PRIVATE');
export const stores: readonly KeyStore[] = [new MemoryKeyStore(), new IndexedDbKeyStore()];
export const isClientError = (e: unknown): boolean => e instanceof VeilClientError;
export const veil: typeof withVeilFields = withVeilFields;
