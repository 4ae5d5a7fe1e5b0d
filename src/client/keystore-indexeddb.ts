/**
 * @module
 * A `KeyStore` over IndexedDB, for browsers (portable: no `node:` imports). One database,
 * `veilgraph-keys`, with one object store, `keys`, mapping a key name to a `Uint8Array`
 * copy of its value. Storage is per origin and per browser profile (a private window or
 * another browser context has its own). Values are ordinary bytes readable by any script
 * on the origin; non-extractable WebCrypto keys are a later step (docs/client.md).
 *
 * Errors carry a `code` and never contain a value.
 */
import { assertKeyName, assertKeyValue, type KeyStore } from './keystore.js';

export const INDEXEDDB_KEYSTORE_DATABASE = 'veilgraph-keys';
export const INDEXEDDB_KEYSTORE_OBJECT_STORE = 'keys';
const DB_VERSION = 1;

export type IndexedDbKeyStoreErrorCode =
  /** No `indexedDB` in this environment (Node, a worker without it, storage disabled). */
  | 'INDEXEDDB_UNAVAILABLE'
  /** Opening the database failed or was blocked (e.g. storage denied, opaque origin, quota). */
  | 'INDEXEDDB_OPEN_FAILED'
  /** A read or write transaction failed or was aborted. */
  | 'INDEXEDDB_REQUEST_FAILED'
  /** A stored entry is not a byte string (written by something else). */
  | 'INDEXEDDB_CORRUPT';

export class IndexedDbKeyStoreError extends Error {
  override readonly name = 'IndexedDbKeyStoreError';
  readonly code: IndexedDbKeyStoreErrorCode;

  constructor(code: IndexedDbKeyStoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isIndexedDbKeyStoreError(e: unknown, code?: IndexedDbKeyStoreErrorCode): e is IndexedDbKeyStoreError {
  return e instanceof IndexedDbKeyStoreError && (code === undefined || e.code === code);
}

export interface IndexedDbKeyStoreOptions {
  /** The factory to use; defaults to `globalThis.indexedDB`. */
  readonly indexedDB?: IDBFactory;
}

function describe(e: unknown): string {
  if (e && typeof e === 'object' && 'name' in e && typeof e.name === 'string') {
    const msg = 'message' in e && typeof e.message === 'string' && e.message ? `: ${e.message}` : '';
    return `${e.name}${msg}`;
  }
  return 'unknown error';
}

/** Keeps secrets in the browser's IndexedDB (database `veilgraph-keys`, store `keys`). */
export class IndexedDbKeyStore implements KeyStore {
  readonly #factory: IDBFactory | undefined;
  #db: Promise<IDBDatabase> | undefined;

  constructor(options: IndexedDbKeyStoreOptions = {}) {
    this.#factory = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  }

  /** True when an IndexedDB factory exists here (opening can still fail, e.g. storage denied). */
  static isAvailable(): boolean {
    return typeof (globalThis as { indexedDB?: IDBFactory }).indexedDB?.open === 'function';
  }

  async get(name: string): Promise<Uint8Array | undefined> {
    const value = await this.#run('readonly', (store) => store.get(name));
    if (value === undefined) return undefined;
    if (!(value instanceof Uint8Array) && !ArrayBuffer.isView(value)) {
      throw new IndexedDbKeyStoreError('INDEXEDDB_CORRUPT', `entry "${name}" in ${INDEXEDDB_KEYSTORE_DATABASE} is not a byte string`);
    }
    const view = value as ArrayBufferView;
    // A copy: the caller may wipe it.
    return new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice();
  }

  async put(name: string, value: Uint8Array): Promise<void> {
    assertKeyName(name);
    assertKeyValue(value);
    // slice(): only the view's bytes, in a buffer of their own.
    const copy = value.slice();
    await this.#run('readwrite', (store) => store.put(copy, name));
  }

  async delete(name: string): Promise<boolean> {
    let present = false;
    await this.#run('readwrite', (store) => {
      const count = store.count(name);
      count.onsuccess = () => {
        present = count.result > 0;
      };
      return store.delete(name);
    });
    return present;
  }

  async list(): Promise<string[]> {
    const keys = await this.#run('readonly', (store) => store.getAllKeys());
    return keys.filter((k): k is string => typeof k === 'string').sort();
  }

  /** Closes the connection (the next call reopens it). */
  async close(): Promise<void> {
    const db = this.#db;
    this.#db = undefined;
    if (db) (await db.catch(() => undefined))?.close();
  }

  /** Never print the values (console.log, JSON.stringify). */
  toJSON(): { kind: 'IndexedDbKeyStore'; database: string } {
    return { kind: 'IndexedDbKeyStore', database: INDEXEDDB_KEYSTORE_DATABASE };
  }

  #open(): Promise<IDBDatabase> {
    if (this.#db) return this.#db;
    const factory = this.#factory;
    if (!factory || typeof factory.open !== 'function') {
      return Promise.reject(
        new IndexedDbKeyStoreError('INDEXEDDB_UNAVAILABLE', 'IndexedDB is not available here (IndexedDbKeyStore needs a browser; use FileKeyStore or MemoryKeyStore in Node)'),
      );
    }
    const opening = new Promise<IDBDatabase>((resolve, reject) => {
      let request: IDBOpenDBRequest;
      try {
        request = factory.open(INDEXEDDB_KEYSTORE_DATABASE, DB_VERSION);
      } catch (e) {
        reject(new IndexedDbKeyStoreError('INDEXEDDB_OPEN_FAILED', `cannot open ${INDEXEDDB_KEYSTORE_DATABASE} (${describe(e)})`, { cause: e }));
        return;
      }
      request.onupgradeneeded = () => {
        const db = request.result;
        if (!db.objectStoreNames.contains(INDEXEDDB_KEYSTORE_OBJECT_STORE)) db.createObjectStore(INDEXEDDB_KEYSTORE_OBJECT_STORE);
      };
      request.onblocked = () => {
        reject(new IndexedDbKeyStoreError('INDEXEDDB_OPEN_FAILED', `opening ${INDEXEDDB_KEYSTORE_DATABASE} is blocked by another open connection`));
      };
      request.onerror = () => {
        reject(new IndexedDbKeyStoreError('INDEXEDDB_OPEN_FAILED', `cannot open ${INDEXEDDB_KEYSTORE_DATABASE} (${describe(request.error)})`, { cause: request.error }));
      };
      request.onsuccess = () => {
        const db = request.result;
        // Another tab upgrading or deleting the database: let it, reopen on next use.
        db.onversionchange = () => {
          db.close();
          if (this.#db === opening) this.#db = undefined;
        };
        db.onclose = () => {
          if (this.#db === opening) this.#db = undefined;
        };
        resolve(db);
      };
    });
    this.#db = opening;
    // A failed open is not cached: the next call tries again.
    opening.catch(() => {
      if (this.#db === opening) this.#db = undefined;
    });
    return opening;
  }

  /** Runs one request in its own transaction; resolves with its result once the transaction commits. */
  async #run<T>(mode: IDBTransactionMode, op: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
    const db = await this.#open();
    return new Promise<T>((resolve, reject) => {
      let tx: IDBTransaction;
      let request: IDBRequest<T>;
      try {
        tx = db.transaction(INDEXEDDB_KEYSTORE_OBJECT_STORE, mode, { durability: 'strict' });
        request = op(tx.objectStore(INDEXEDDB_KEYSTORE_OBJECT_STORE));
      } catch (e) {
        reject(new IndexedDbKeyStoreError('INDEXEDDB_REQUEST_FAILED', `${mode} transaction on ${INDEXEDDB_KEYSTORE_DATABASE} failed (${describe(e)})`, { cause: e }));
        return;
      }
      const fail = () => {
        const err = request.error ?? tx.error;
        reject(new IndexedDbKeyStoreError('INDEXEDDB_REQUEST_FAILED', `${mode} transaction on ${INDEXEDDB_KEYSTORE_DATABASE} failed (${describe(err)})`, { cause: err }));
      };
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = fail;
      tx.onabort = fail;
    });
  }
}
