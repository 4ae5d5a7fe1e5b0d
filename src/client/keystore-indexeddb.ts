/**
 * @module
 * A `KeyStore` over IndexedDB, for browsers (portable: no `node:` imports). One database,
 * `veilgraph-keys` (version 2), with two object stores:
 *
 * - `meta`: under `wrapping-key`, a non-extractable AES-GCM 256-bit `CryptoKey`, generated
 *   by the first store to need it (`crypto.subtle.generateKey(..., false, ...)`) and kept
 *   as the `CryptoKey` object itself (IndexedDB's structured clone keeps it
 *   non-extractable). Created race-free: `add` in a readwrite transaction; whoever loses
 *   the race reads back the winner's key.
 * - `keys`: a key name → `{ v: 1, iv, ct }`, the value encrypted with AES-GCM under the
 *   wrapping key (`iv`: 12 random bytes per write; additional data: UTF-8 of
 *   `veilgraph-keystore-v1\0<name>`, so a record copied to another name does not open).
 *
 * What this protects against: this version never writes the secret bytes themselves to
 * storage, and the wrapping key cannot be exported through the API by anyone (the origin's own
 * scripts included). So the records alone (a copy of the `keys` store, or any export made
 * through the IndexedDB API, which cannot carry a non-extractable key's material off the
 * origin) are useless, and nothing that only sees those values learns a secret.
 * What it does not protect against:
 * - A compromised origin: any script running in the page (XSS, a malicious dependency, an
 *   extension with page access) can ask this store (or the browser, with the `CryptoKey`
 *   it can read from `meta`) to decrypt every value. Values are decrypted into ordinary
 *   memory when read, as the X25519/Ed25519 code needs raw bytes.
 * - Someone who reads the profile's files on disk (same OS user, malware, a copied profile
 *   or disk image): "non-extractable" is an API property, not storage encryption, and
 *   Chromium writes the wrapping key's material into the same IndexedDB files
 *   (test/client/indexeddb.test.ts checks both halves). Protecting the disk is the
 *   operating system's job (disk encryption, OS accounts).
 *
 * Databases written by version 1 of this store (plain `Uint8Array` values, no `meta`)
 * are upgraded in place: a legacy value is returned as-is and re-written encrypted on
 * that read (best effort). Its old plain copy can linger in the browser's database files
 * until the browser compacts them (not something a page can force). Without `crypto.subtle` (an insecure context) `get` and `put`
 * reject with `INDEXEDDB_CRYPTO_UNAVAILABLE` rather than store or read plaintext.
 *
 * Storage is per origin and per browser profile (a private window or another browser
 * context has its own). Errors carry a `code` and never contain a value.
 */
import { assertKeyName, assertKeyValue, type KeyStore } from './keystore.js';

export const INDEXEDDB_KEYSTORE_DATABASE = 'veilgraph-keys';
export const INDEXEDDB_KEYSTORE_OBJECT_STORE = 'keys';
/** The object store holding the wrapping key (added in database version 2). */
export const INDEXEDDB_KEYSTORE_META_STORE = 'meta';
/** The wrapping key's name in the meta store. */
export const INDEXEDDB_KEYSTORE_WRAPPING_KEY = 'wrapping-key';
/** Prefix of the AES-GCM additional data; the key name follows it. */
export const INDEXEDDB_KEYSTORE_AAD_LABEL = 'veilgraph-keystore-v1\0';
const DB_VERSION = 2;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export type IndexedDbKeyStoreErrorCode =
  /** No `indexedDB` in this environment (Node, a worker without it, storage disabled). */
  | 'INDEXEDDB_UNAVAILABLE'
  /** No `crypto.subtle` (an insecure context, e.g. plain http on a non-local host): values are never stored in clear. */
  | 'INDEXEDDB_CRYPTO_UNAVAILABLE'
  /** Opening the database failed or was blocked (e.g. storage denied, opaque origin, quota). */
  | 'INDEXEDDB_OPEN_FAILED'
  /** A read or write transaction failed or was aborted, or WebCrypto refused to encrypt. */
  | 'INDEXEDDB_REQUEST_FAILED'
  /** A stored entry has the wrong shape, fails to decrypt (tampered, moved to another name, wrong key) or the wrapping key is missing or unusable. */
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

/** A value as stored in the `keys` object store. */
interface SealedRecord {
  v: 1;
  iv: Uint8Array<ArrayBuffer>;
  ct: Uint8Array<ArrayBuffer>;
}

function describe(e: unknown): string {
  if (e && typeof e === 'object' && 'name' in e && typeof e.name === 'string') {
    const msg = 'message' in e && typeof e.message === 'string' && e.message ? `: ${e.message}` : '';
    return `${e.name}${msg}`;
  }
  return 'unknown error';
}

function corrupt(name: string, why: string, cause?: unknown): IndexedDbKeyStoreError {
  return new IndexedDbKeyStoreError('INDEXEDDB_CORRUPT', `entry "${name}" in ${INDEXEDDB_KEYSTORE_DATABASE} ${why}`, cause === undefined ? undefined : { cause });
}

/** WebCrypto, or INDEXEDDB_CRYPTO_UNAVAILABLE. Read at call time (tests may replace it). */
function webCrypto(): { subtle: SubtleCrypto; getRandomValues: Crypto['getRandomValues'] } {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (!c?.subtle || typeof c.getRandomValues !== 'function') {
    throw new IndexedDbKeyStoreError(
      'INDEXEDDB_CRYPTO_UNAVAILABLE',
      'crypto.subtle is not available here (an insecure context? serve the page over https or from localhost); IndexedDbKeyStore never stores keys in clear',
    );
  }
  return { subtle: c.subtle, getRandomValues: c.getRandomValues.bind(c) };
}

function additionalData(name: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(INDEXEDDB_KEYSTORE_AAD_LABEL + name);
}

/** A v1 entry: plain bytes. */
function isLegacy(value: unknown): value is ArrayBufferView {
  return ArrayBuffer.isView(value);
}

/** A copy of a view's bytes, in a buffer of its own. */
function copyBytes(view: ArrayBufferView): Uint8Array<ArrayBuffer> {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice();
}

function isSealedRecord(value: unknown): value is SealedRecord {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return false;
  const r = value as Partial<Record<keyof SealedRecord, unknown>>;
  return r.v === 1 && r.iv instanceof Uint8Array && r.iv.length === IV_BYTES && r.ct instanceof Uint8Array && r.ct.length >= TAG_BYTES;
}

function isWrappingKey(value: unknown): value is CryptoKey {
  if (typeof CryptoKey === 'undefined' || !(value instanceof CryptoKey)) return false;
  return (
    value.type === 'secret' &&
    value.extractable === false &&
    value.algorithm.name === 'AES-GCM' &&
    (value.algorithm as AesKeyAlgorithm).length === 256 &&
    value.usages.includes('encrypt') &&
    value.usages.includes('decrypt')
  );
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/** Keeps secrets in the browser's IndexedDB, encrypted under a non-extractable AES-GCM key (see the module comment). */
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
    const db = await this.#open();
    const { subtle } = webCrypto();
    // The record and the wrapping key from one snapshot.
    const { value, key } = await this.#transact(db, [INDEXEDDB_KEYSTORE_OBJECT_STORE, INDEXEDDB_KEYSTORE_META_STORE], 'readonly', (tx) => {
      const v = tx.objectStore(INDEXEDDB_KEYSTORE_OBJECT_STORE).get(name);
      const k = tx.objectStore(INDEXEDDB_KEYSTORE_META_STORE).get(INDEXEDDB_KEYSTORE_WRAPPING_KEY);
      return () => ({ value: v.result as unknown, key: k.result as unknown });
    });
    if (value === undefined) return undefined;

    if (isLegacy(value)) {
      const plain = copyBytes(value);
      await this.#migrate(db, name, plain).catch(() => undefined); // best effort: the next read tries again
      return plain;
    }
    if (!isSealedRecord(value)) throw corrupt(name, 'is neither an encrypted record { v: 1, iv, ct } nor a byte string');
    if (key === undefined) throw corrupt(name, `cannot be decrypted: the wrapping key (${INDEXEDDB_KEYSTORE_META_STORE}/${INDEXEDDB_KEYSTORE_WRAPPING_KEY}) is missing`);
    if (!isWrappingKey(key)) throw wrappingKeyCorrupt();
    try {
      const plain = await subtle.decrypt({ name: 'AES-GCM', iv: value.iv, additionalData: additionalData(name), tagLength: TAG_BYTES * 8 }, key, value.ct);
      return new Uint8Array(plain);
    } catch (e) {
      throw corrupt(name, 'does not decrypt (modified, copied from another name, or written under another wrapping key)', e);
    }
  }

  async put(name: string, value: Uint8Array): Promise<void> {
    assertKeyName(name);
    assertKeyValue(value);
    // slice(): only the view's bytes, in a buffer of their own.
    const copy = value.slice();
    const db = await this.#open();
    try {
      const record = await this.#seal(db, name, copy);
      await this.#transact(db, [INDEXEDDB_KEYSTORE_OBJECT_STORE], 'readwrite', (tx) => {
        tx.objectStore(INDEXEDDB_KEYSTORE_OBJECT_STORE).put(record, name);
        return () => undefined;
      });
    } finally {
      copy.fill(0);
    }
  }

  async delete(name: string): Promise<boolean> {
    const db = await this.#open();
    return this.#transact(db, [INDEXEDDB_KEYSTORE_OBJECT_STORE], 'readwrite', (tx) => {
      const store = tx.objectStore(INDEXEDDB_KEYSTORE_OBJECT_STORE);
      const count = store.count(name);
      store.delete(name);
      return () => count.result > 0;
    });
  }

  async list(): Promise<string[]> {
    const db = await this.#open();
    const keys = await this.#transact(db, [INDEXEDDB_KEYSTORE_OBJECT_STORE], 'readonly', (tx) => {
      const all = tx.objectStore(INDEXEDDB_KEYSTORE_OBJECT_STORE).getAllKeys();
      return () => all.result;
    });
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

  /** Encrypts `plain` for `name` under the wrapping key (creating that key on first use). */
  async #seal(db: IDBDatabase, name: string, plain: Uint8Array<ArrayBuffer>): Promise<SealedRecord> {
    const { subtle, getRandomValues } = webCrypto();
    const key = await this.#wrappingKey(db, subtle);
    const iv = getRandomValues(new Uint8Array(IV_BYTES));
    let ct: ArrayBuffer;
    try {
      ct = await subtle.encrypt({ name: 'AES-GCM', iv, additionalData: additionalData(name), tagLength: TAG_BYTES * 8 }, key, plain);
    } catch (e) {
      throw new IndexedDbKeyStoreError('INDEXEDDB_REQUEST_FAILED', `cannot encrypt entry "${name}" (${describe(e)})`, { cause: e });
    }
    return { v: 1, iv, ct: new Uint8Array(ct) };
  }

  /** Re-writes a v1 plain entry encrypted, unless it changed since it was read. */
  async #migrate(db: IDBDatabase, name: string, plain: Uint8Array<ArrayBuffer>): Promise<void> {
    const record = await this.#seal(db, name, plain);
    await this.#transact(db, [INDEXEDDB_KEYSTORE_OBJECT_STORE], 'readwrite', (tx) => {
      const store = tx.objectStore(INDEXEDDB_KEYSTORE_OBJECT_STORE);
      const current = store.get(name);
      current.onsuccess = () => {
        const now: unknown = current.result;
        if (isLegacy(now) && sameBytes(copyBytes(now), plain)) store.put(record, name);
      };
      return () => undefined;
    });
  }

  /**
   * The wrapping key from `meta`; on first use generates one and `add`s it, so of two
   * tabs (or stores) racing, one wins and the other reads the winner's key back.
   */
  async #wrappingKey(db: IDBDatabase, subtle: SubtleCrypto): Promise<CryptoKey> {
    const read = () =>
      this.#transact(db, [INDEXEDDB_KEYSTORE_META_STORE], 'readonly', (tx) => {
        const k = tx.objectStore(INDEXEDDB_KEYSTORE_META_STORE).get(INDEXEDDB_KEYSTORE_WRAPPING_KEY);
        return () => k.result as unknown;
      });
    const existing = await read();
    if (existing !== undefined) {
      if (!isWrappingKey(existing)) throw wrappingKeyCorrupt();
      return existing;
    }
    let fresh: CryptoKey;
    try {
      fresh = await subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
    } catch (e) {
      throw new IndexedDbKeyStoreError('INDEXEDDB_REQUEST_FAILED', `cannot generate the wrapping key (${describe(e)})`, { cause: e });
    }
    const stored = await this.#transact(db, [INDEXEDDB_KEYSTORE_META_STORE], 'readwrite', (tx) => {
      const meta = tx.objectStore(INDEXEDDB_KEYSTORE_META_STORE);
      let result: unknown;
      const add = meta.add(fresh, INDEXEDDB_KEYSTORE_WRAPPING_KEY);
      add.onsuccess = () => {
        result = fresh;
      };
      add.onerror = (ev) => {
        if (add.error?.name !== 'ConstraintError') return; // the transaction fails
        // Lost the race: keep the transaction alive and read the winner's key.
        ev.preventDefault();
        ev.stopPropagation();
        const winner = meta.get(INDEXEDDB_KEYSTORE_WRAPPING_KEY);
        winner.onsuccess = () => {
          result = winner.result;
        };
      };
      return () => result;
    });
    if (!isWrappingKey(stored)) throw wrappingKeyCorrupt();
    return stored;
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
        // From nothing or from version 1 (which has `keys` only; its entries stay and are re-encrypted when read).
        const db = request.result;
        if (!db.objectStoreNames.contains(INDEXEDDB_KEYSTORE_OBJECT_STORE)) db.createObjectStore(INDEXEDDB_KEYSTORE_OBJECT_STORE);
        if (!db.objectStoreNames.contains(INDEXEDDB_KEYSTORE_META_STORE)) db.createObjectStore(INDEXEDDB_KEYSTORE_META_STORE);
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

  /**
   * Runs `body`'s requests in one transaction; resolves with what its returned getter
   * reads once the transaction commits (so nothing is reported before it is durable).
   */
  #transact<T>(db: IDBDatabase, stores: string[], mode: IDBTransactionMode, body: (tx: IDBTransaction) => () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let tx: IDBTransaction;
      let result: () => T;
      const fail = (err: unknown) =>
        reject(new IndexedDbKeyStoreError('INDEXEDDB_REQUEST_FAILED', `${mode} transaction on ${INDEXEDDB_KEYSTORE_DATABASE} failed (${describe(err)})`, { cause: err }));
      try {
        tx = db.transaction(stores, mode, { durability: 'strict' });
        result = body(tx);
      } catch (e) {
        fail(e);
        return;
      }
      tx.oncomplete = () => resolve(result());
      tx.onerror = (ev) => fail((ev.target as IDBRequest | null)?.error ?? tx.error);
      tx.onabort = () => fail(tx.error);
    });
  }
}

function wrappingKeyCorrupt(): IndexedDbKeyStoreError {
  return new IndexedDbKeyStoreError(
    'INDEXEDDB_CORRUPT',
    `the wrapping key (${INDEXEDDB_KEYSTORE_META_STORE}/${INDEXEDDB_KEYSTORE_WRAPPING_KEY}) in ${INDEXEDDB_KEYSTORE_DATABASE} is not a non-extractable AES-GCM 256-bit CryptoKey`,
  );
}
