// IndexedDbKeyStore in a real browser: the module (and the portable crypto) bundled with
// esbuild, served from 127.0.0.1 (a secure context, so crypto.subtle exists), run in
// Debian's Chromium through playwright-core. Byte-exact round trips, persistence across a
// reload and a second page, isolation between browser contexts, and an envelope sealed
// and opened with webCryptoBackend under a key read back from IndexedDB. The at-rest
// encryption is checked against the page's own raw `indexedDB` (window.raw below): records
// are sealed, the wrapping key is a non-extractable CryptoKey, tampered or moved records
// fail, v1 databases are upgraded, concurrent first uses agree on one wrapping key, and an
// insecure origin (no crypto.subtle) refuses instead of storing plaintext.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as idb from '../../src/client/keystore-indexeddb.js';
import { IndexedDbKeyStore, isIndexedDbKeyStoreError } from '../../src/client/keystore-indexeddb.js';
import type * as keystoreApi from '../../src/client/keystore.js';
import type * as sessionApi from '../../src/client/session.js';
import type * as cryptoApi from '../../src/crypto/index.js';
import { launchChromium, launchPersistentChromium } from '../helpers/chromium.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

// What the page gets as `window.vg` (the bundle's exports).
type Bundle = typeof idb &
  Pick<typeof cryptoApi, 'webCryptoBackend' | 'webCryptoSupportsCurves' | 'sealEnvelopeText' | 'openEnvelopeText'> &
  Pick<typeof keystoreApi, 'KEY_NAMES'> &
  Pick<typeof sessionApi, 'createIdentity' | 'loadIdentity' | 'clientKeysFrom' | 'decodeSymmetricKey'>;
// Raw IndexedDB access from the page (the HTML's `window.raw`), bypassing the store.
interface RawIdb {
  info(): Promise<{ version: number; stores: string[] }>;
  get(store: string, key: string): Promise<unknown>;
  put(store: string, key: string, value: unknown): Promise<void>;
  remove(store: string, key: string): Promise<void>;
  keys(store: string): Promise<string[]>;
  /** Creates the database at version 1 (store `keys` only) with plain Uint8Array values, as v1 stores wrote them. */
  createV1(entries: [string, number[]][]): Promise<void>;
}
type PageWindow = Window & { vg: Bundle; raw: RawIdb };

const ENTRY = `
export * from './src/client/keystore-indexeddb.ts';
export { KEY_NAMES } from './src/client/keystore.ts';
export { createIdentity, loadIdentity, clientKeysFrom, decodeSymmetricKey } from './src/client/session.ts';
export { webCryptoBackend, webCryptoSupportsCurves, sealEnvelopeText, openEnvelopeText } from './src/crypto/index.ts';
`;

const HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>veilgraph IndexedDbKeyStore</title>
<style>body{font:14px system-ui;margin:2em}pre{background:#f4f4f4;padding:1em}</style></head>
<body><h1>IndexedDbKeyStore</h1><pre id="out">loading…</pre>
<script type="module">
import * as vg from '/bundle.js';
window.vg = vg;
const DB = 'veilgraph-keys';
const req = (r) => new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
async function withDb(fn) {
  const db = await req(indexedDB.open(DB));
  try { return await fn(db); } finally { db.close(); }
}
function inTx(db, store, mode, fn) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(store, mode);
    const r = fn(tx.objectStore(store));
    tx.oncomplete = () => resolve(r.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}
window.raw = {
  info: () => withDb(async (db) => ({ version: db.version, stores: [...db.objectStoreNames].sort() })),
  get: (store, key) => withDb((db) => inTx(db, store, 'readonly', (s) => s.get(key))),
  put: (store, key, value) => withDb((db) => inTx(db, store, 'readwrite', (s) => s.put(value, key))).then(() => undefined),
  remove: (store, key) => withDb((db) => inTx(db, store, 'readwrite', (s) => s.delete(key))).then(() => undefined),
  keys: (store) => withDb((db) => inTx(db, store, 'readonly', (s) => s.getAllKeys())),
  createV1: (entries) => new Promise((resolve, reject) => {
    const r = indexedDB.open(DB, 1);
    r.onupgradeneeded = () => {
      const s = r.result.createObjectStore('keys');
      for (const [name, bytes] of entries) s.put(new Uint8Array(bytes), name);
    };
    r.onsuccess = () => { r.result.close(); resolve(); };
    r.onerror = () => reject(r.error);
  }),
};
document.getElementById('out').textContent = 'secure context: ' + window.isSecureContext;
document.body.dataset.ready = '1';
</script></body></html>`;

let browser: Browser;
let server: Server;
let origin: string;
let bundleJs: string;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  const bundled = await build({
    stdin: { contents: ENTRY, resolveDir: root, sourcefile: 'browser-entry.ts', loader: 'ts' },
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    logLevel: 'silent',
  });
  const js = bundled.outputFiles[0]!.text;
  expect(js).not.toMatch(/from\s*["']node:/);
  bundleJs = js;

  server = createServer((req, res) => {
    if (req.url === '/' || req.url === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(HTML);
    } else if (req.url === '/bundle.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(js);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  browser = await launchChromium();
}, 300_000); // includes a one-time `apt-get install chromium` outside CI

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

async function newContext(): Promise<BrowserContext> {
  const c = await browser.newContext();
  contexts.push(c);
  return c;
}

async function openPage(context: BrowserContext, url = `${origin}/`): Promise<Page> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 10_000 }).catch((e: unknown) => {
    throw new Error(`page did not load: ${errors.join('; ') || String(e)}`);
  });
  return page;
}

const ALL_BYTES = Array.from({ length: 256 }, (_, i) => i);
const SEED = Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff);

describe('IndexedDbKeyStore outside a browser', () => {
  it('rejects with INDEXEDDB_UNAVAILABLE when there is no indexedDB (Node)', async () => {
    expect(IndexedDbKeyStore.isAvailable()).toBe(false);
    const store = new IndexedDbKeyStore();
    for (const p of [store.get('a'), store.put('a', new Uint8Array(1)), store.list(), store.delete('a')]) {
      const e = await p.then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(isIndexedDbKeyStoreError(e, 'INDEXEDDB_UNAVAILABLE')).toBe(true);
    }
    expect(JSON.stringify(store)).toBe('{"kind":"IndexedDbKeyStore","database":"veilgraph-keys"}');
  });
});

describe('IndexedDbKeyStore in Chromium', () => {
  let context: BrowserContext;
  let page: Page;

  it('puts, gets, lists and deletes byte-exact copies', async () => {
    context = await newContext();
    page = await openPage(context);
    const r = await page.evaluate(
      async ({ all, seed }) => {
        const { vg } = window as unknown as PageWindow;
        const store = new vg.IndexedDbKeyStore();
        const allBytes = new Uint8Array(all);
        // A view into a bigger buffer: only the view's bytes are stored.
        const big = new Uint8Array(64).fill(0xee);
        big.set(seed, 16);
        const view = big.subarray(16, 48);
        await store.put('test.all-bytes', allBytes);
        await store.put('test.empty', new Uint8Array(0));
        await store.put('identity.signing.seed', view);
        await store.put('test.replace', new Uint8Array([1]));
        await store.put('test.replace', new Uint8Array([2, 3]));
        await store.put('test.gone', new Uint8Array([9]));
        // The caller wiping its buffer does not reach the store…
        allBytes.fill(0);
        view.fill(0);
        const got = await store.get('test.all-bytes');
        const seedBack = await store.get('identity.signing.seed');
        // …nor does wiping what get() returned.
        got!.fill(0);
        const again = await store.get('test.all-bytes');
        const errors: string[] = [];
        for (const bad of [() => store.put('', new Uint8Array(1)), () => store.put('x', [1, 2] as unknown as Uint8Array)]) {
          await bad().catch((e: unknown) => errors.push((e as Error).name));
        }
        const deleted = await store.delete('test.gone');
        const deletedAgain = await store.delete('test.gone');
        return {
          secure: window.isSecureContext,
          again: again ? [...again] : null,
          againIsU8: again instanceof Uint8Array,
          seedBack: seedBack ? [...seedBack] : null,
          empty: (await store.get('test.empty'))?.length,
          replaced: [...((await store.get('test.replace')) ?? [])],
          missing: await store.get('test.nope'),
          gone: await store.get('test.gone'),
          deleted,
          deletedAgain,
          errors,
          list: await store.list(),
          json: JSON.stringify(store),
        };
      },
      { all: ALL_BYTES, seed: SEED },
    );
    expect(r.secure).toBe(true);
    expect(r.againIsU8).toBe(true);
    expect(r.again).toEqual(ALL_BYTES);
    expect(r.seedBack).toEqual(SEED);
    expect(r.empty).toBe(0);
    expect(r.replaced).toEqual([2, 3]);
    expect(r.missing).toBeUndefined();
    expect(r.gone).toBeUndefined();
    expect(r.deleted).toBe(true);
    expect(r.deletedAgain).toBe(false);
    expect(r.errors).toEqual(['TypeError', 'TypeError']);
    expect(r.list).toEqual(['identity.signing.seed', 'test.all-bytes', 'test.empty', 'test.replace']);
    expect(r.json).not.toMatch(/\d{2,}/); // no bytes leak through JSON
  });

  it('persists across a reload and a second page in the same context', async () => {
    await page.reload();
    await page.waitForSelector('body[data-ready="1"]');
    const second = await openPage(context);
    for (const p of [page, second]) {
      const r = await p.evaluate(async () => {
        const { vg } = window as unknown as PageWindow;
        const store = new vg.IndexedDbKeyStore();
        const all = await store.get('test.all-bytes');
        const seed = await store.get('identity.signing.seed');
        return { list: await store.list(), all: all ? [...all] : null, seed: seed ? [...seed] : null };
      });
      expect(r.list).toEqual(['identity.signing.seed', 'test.all-bytes', 'test.empty', 'test.replace']);
      expect(r.all).toEqual(ALL_BYTES);
      expect(r.seed).toEqual(SEED);
    }
    await second.close();
  });

  it('is not visible from another browser context (isolated storage)', async () => {
    const other = await openPage(await newContext());
    const r = await other.evaluate(async () => {
      const { vg } = window as unknown as PageWindow;
      const store = new vg.IndexedDbKeyStore();
      const before = await store.list();
      const seed = await store.get('identity.signing.seed');
      await store.put('other.only', new Uint8Array([7]));
      return { before, seed: seed ?? null, after: await store.list() };
    });
    expect(r).toEqual({ before: [], seed: null, after: ['other.only'] });
    // …and the first context does not see the second's key.
    const first = await page.evaluate(async () => new (window as unknown as PageWindow).vg.IndexedDbKeyStore().list());
    expect(first).not.toContain('other.only');
  });

  it('seals and opens an envelope with webCryptoBackend under a key read back from IndexedDB', async () => {
    const r = await page.evaluate(async () => {
      const { vg } = window as unknown as PageWindow;
      const backend = vg.webCryptoBackend;
      const curves = await vg.webCryptoSupportsCurves();
      const store = new vg.IndexedDbKeyStore();
      // Identity keys generated with WebCrypto, stored in IndexedDB.
      const created = await vg.createIdentity(backend, store, { overwrite: true });
      await store.close();
      // A fresh store instance: the key comes back from IndexedDB, not memory.
      const reopened = new vg.IndexedDbKeyStore();
      const vaultBytes = await reopened.get(vg.KEY_NAMES.vault);
      const vault = vg.decodeSymmetricKey(vaultBytes!, 'the vault key');
      const location = { coordinate: 'Note.body', ownerId: 'user-1', objectId: 'note-1' };
      const plaintext = 'hello from Chromium — ünïcødé ✓';
      const sealed = vg.sealEnvelopeText(backend, vault, location, plaintext);
      const opened = vg.openEnvelopeText(backend, sealed, vault, location);
      let wrongLocation = '';
      try {
        vg.openEnvelopeText(backend, sealed, vault, { ...location, objectId: 'note-2' });
      } catch (e) {
        wrongLocation = (e as { code?: string }).code ?? String(e);
      }
      const keys = await vg.clientKeysFrom(reopened);
      const loaded = await vg.loadIdentity(reopened, backend);
      const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);
      const identityMatches = same(loaded.signing.publicKey, created.signingKey) && same(loaded.encryption.publicKey, created.encryptionKey);
      const out = document.getElementById('out')!;
      out.textContent = [
        `secure context: ${window.isSecureContext}`,
        `WebCrypto X25519/Ed25519: ${curves}`,
        `stored names: ${(await reopened.list()).join(', ')}`,
        `sealed (${sealed.length} chars): ${sealed.slice(0, 48)}…`,
        `opened: ${opened}`,
        `wrong location: ${wrongLocation}`,
      ].join('\n');
      return { curves, opened, plaintext, sealedLength: sealed.length, wrongLocation, hasKeys: typeof keys === 'object', identityMatches, names: await reopened.list() };
    });
    expect(r.curves).toBe(true);
    expect(r.opened).toBe(r.plaintext);
    expect(r.sealedLength).toBeGreaterThan(0);
    expect(r.wrongLocation).toBe('WRONG_LOCATION');
    expect(r.hasKeys).toBe(true);
    expect(r.identityMatches).toBe(true);
    expect(r.names).toEqual(expect.arrayContaining(['identity.encryption.private', 'identity.signing.seed', 'key.shared', 'key.vault']));

    mkdirSync(join(root, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: join(root, 'test-artifacts', 'indexeddb-keystore.png'), fullPage: true });
  });
});

describe('IndexedDbKeyStore at rest (encrypted under a non-extractable key) in Chromium', () => {
  // 32 bytes no random ciphertext is expected to contain, even in part.
  const SECRET = Array.from({ length: 32 }, (_, i) => (0xa5 ^ (i * 29)) & 0xff);

  it('stores a sealed record { v: 1, iv, ct }, not the secret bytes, and get returns them byte-exact', async () => {
    const page = await openPage(await newContext());
    const r = await page.evaluate(
      async ({ secret }) => {
        const { vg, raw } = window as unknown as PageWindow;
        const store = new vg.IndexedDbKeyStore();
        await store.put('identity.signing.seed', new Uint8Array(secret));
        const first = (await raw.get('keys', 'identity.signing.seed')) as { v: unknown; iv: Uint8Array; ct: Uint8Array };
        await store.put('identity.signing.seed', new Uint8Array(secret));
        const second = (await raw.get('keys', 'identity.signing.seed')) as { v: unknown; iv: Uint8Array; ct: Uint8Array };
        // Any 8 consecutive secret bytes anywhere in the record's byte fields?
        const contains = (hay: Uint8Array) => {
          for (let i = 0; i + 8 <= secret.length; i++) {
            const needle = secret.slice(i, i + 8);
            for (let j = 0; j + 8 <= hay.length; j++) if (needle.every((b, k) => hay[j + k] === b)) return true;
          }
          return false;
        };
        const back = await new vg.IndexedDbKeyStore().get('identity.signing.seed');
        return {
          info: await raw.info(),
          isView: ArrayBuffer.isView(first),
          fields: Object.keys(first).sort(),
          v: first.v,
          ivIsU8: first.iv instanceof Uint8Array,
          ctIsU8: first.ct instanceof Uint8Array,
          ivLength: first.iv.length,
          ctLength: first.ct.length,
          leaks: contains(first.iv) || contains(first.ct) || contains(second.iv) || contains(second.ct),
          sameIv: [...first.iv].join() === [...second.iv].join(),
          sameCt: [...first.ct].join() === [...second.ct].join(),
          back: back ? [...back] : null,
          backIsU8: back instanceof Uint8Array,
          list: await store.list(),
        };
      },
      { secret: SECRET },
    );
    expect(r.info).toEqual({ version: 2, stores: ['keys', 'meta'] });
    expect(r.isView).toBe(false);
    expect(r.fields).toEqual(['ct', 'iv', 'v']);
    expect(r.v).toBe(1);
    expect(r.ivIsU8 && r.ctIsU8).toBe(true);
    expect(r.ivLength).toBe(12);
    expect(r.ctLength).toBe(SECRET.length + 16); // AES-GCM: same length plus a 16-byte tag
    expect(r.leaks).toBe(false);
    expect(r.sameIv).toBe(false); // a fresh IV on every write…
    expect(r.sameCt).toBe(false); // …so the same value encrypts differently
    expect(r.backIsU8).toBe(true);
    expect(r.back).toEqual(SECRET);
    expect(r.list).toEqual(['identity.signing.seed']);
  });

  it('keeps one non-extractable AES-GCM CryptoKey in meta that cannot be exported (but the page can use it)', async () => {
    const page = await openPage(await newContext());
    const r = await page.evaluate(
      async ({ secret }) => {
        const { vg, raw } = window as unknown as PageWindow;
        await new vg.IndexedDbKeyStore().put('key.vault', new Uint8Array(secret));
        const key = (await raw.get('meta', 'wrapping-key')) as CryptoKey;
        const rejects = async (format: 'raw' | 'jwk' | 'pkcs8') =>
          crypto.subtle.exportKey(format, key).then(
            () => 'exported',
            (e: unknown) => (e as Error).name,
          );
        // The documented record format, opened by hand: what a script in the page (XSS) can still do.
        const rec = (await raw.get('keys', 'key.vault')) as { iv: Uint8Array<ArrayBuffer>; ct: Uint8Array<ArrayBuffer> };
        const aad = new TextEncoder().encode('veilgraph-keystore-v1\0key.vault');
        const opened = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: rec.iv, additionalData: aad }, key, rec.ct));
        return {
          metaKeys: await raw.keys('meta'),
          isCryptoKey: key instanceof CryptoKey,
          type: key.type,
          extractable: key.extractable,
          algorithm: { name: key.algorithm.name, length: (key.algorithm as AesKeyAlgorithm).length },
          usages: [...key.usages].sort(),
          raw: await rejects('raw'),
          jwk: await rejects('jwk'),
          pkcs8: await rejects('pkcs8'),
          opened: [...opened],
        };
      },
      { secret: SECRET },
    );
    expect(r.metaKeys).toEqual(['wrapping-key']);
    expect(r.isCryptoKey).toBe(true);
    expect(r.type).toBe('secret');
    expect(r.extractable).toBe(false);
    expect(r.algorithm).toEqual({ name: 'AES-GCM', length: 256 });
    expect(r.usages).toEqual(['decrypt', 'encrypt']);
    expect(r.raw).toBe('InvalidAccessError');
    expect(r.jwk).toBe('InvalidAccessError');
    expect(r.pkcs8).not.toBe('exported');
    expect(r.opened).toEqual(SECRET);
  });

  it('refuses a record copied to another name, a flipped byte, a wrong shape and a missing or unusable wrapping key (INDEXEDDB_CORRUPT)', async () => {
    const page = await openPage(await newContext());
    const r = await page.evaluate(
      async ({ secret }) => {
        const { vg, raw } = window as unknown as PageWindow;
        const store = new vg.IndexedDbKeyStore();
        await store.put('key.vault', new Uint8Array(secret));
        const rec = (await raw.get('keys', 'key.vault')) as { v: 1; iv: Uint8Array; ct: Uint8Array };
        const flip = (b: Uint8Array, i: number) => {
          const c = b.slice();
          c[i]! ^= 0x01;
          return c;
        };
        await raw.put('keys', 'key.shared', rec); // the same record under another name
        await raw.put('keys', 'flip.ct.first', { ...rec, ct: flip(rec.ct, 0) });
        await raw.put('keys', 'flip.ct.tag', { ...rec, ct: flip(rec.ct, rec.ct.length - 1) });
        await raw.put('keys', 'flip.iv', { ...rec, iv: flip(rec.iv, 5) });
        await raw.put('keys', 'shape.version', { ...rec, v: 2 });
        await raw.put('keys', 'shape.iv', { ...rec, iv: rec.iv.slice(0, 11) });
        await raw.put('keys', 'shape.string', 'not bytes');
        await raw.put('keys', 'shape.number', 42);
        const failure = async (name: string, s = store) =>
          s.get(name).then(
            (v) => ({ code: 'resolved', message: v ? `${v.length} bytes` : 'undefined' }),
            (e: unknown) => ({ code: (e as { code?: string }).code ?? String(e), message: (e as Error).message }),
          );
        const out: Record<string, { code: string; message: string }> = {};
        for (const name of ['key.shared', 'flip.ct.first', 'flip.ct.tag', 'flip.iv', 'shape.version', 'shape.iv', 'shape.string', 'shape.number']) {
          out[name] = await failure(name);
        }
        const stillGood = await store.get('key.vault');
        // The wrapping key replaced by an extractable one: refused, not used.
        const original = await raw.get('meta', 'wrapping-key');
        await raw.put('meta', 'wrapping-key', await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt', 'decrypt']));
        out['extractable wrapping key'] = await failure('key.vault', new vg.IndexedDbKeyStore());
        await raw.put('meta', 'wrapping-key', original);
        // The wrapping key gone: records cannot be opened, and a new key does not open them either.
        await raw.remove('meta', 'wrapping-key');
        out['missing wrapping key'] = await failure('key.vault', new vg.IndexedDbKeyStore());
        const fresh = new vg.IndexedDbKeyStore();
        await fresh.put('after.reset', new Uint8Array([1, 2, 3]));
        out['under another wrapping key'] = await failure('key.vault', fresh);
        const after = await fresh.get('after.reset');
        return { out, stillGood: stillGood ? [...stillGood] : null, after: after ? [...after] : null, list: await fresh.list() };
      },
      { secret: SECRET },
    );
    for (const [name, { code, message }] of Object.entries(r.out)) {
      expect(code, name).toBe('INDEXEDDB_CORRUPT');
      expect(message, name).not.toContain(SECRET.join(','));
      expect(message, name).not.toContain(Buffer.from(SECRET).toString('hex').slice(0, 8));
      expect(message, name).not.toContain(Buffer.from(SECRET).toString('base64').slice(0, 8));
    }
    for (const name of ['key.shared', 'flip.ct.first', 'flip.ct.tag', 'flip.iv', 'shape.version', 'shape.iv', 'shape.string', 'shape.number']) {
      expect(r.out[name]!.message, name).toContain(`"${name}"`);
    }
    expect(r.out['key.shared']!.message).toMatch(/does not decrypt/);
    expect(r.out['shape.string']!.message).toMatch(/neither an encrypted record/);
    expect(r.out['extractable wrapping key']!.message).toMatch(/wrapping key .* is not a non-extractable/);
    expect(r.out['missing wrapping key']!.message).toMatch(/wrapping key .* is missing/);
    expect(r.out['under another wrapping key']!.message).toMatch(/does not decrypt/);
    expect(r.stillGood).toEqual(SECRET);
    expect(r.after).toEqual([1, 2, 3]);
    expect(r.list).toContain('key.vault'); // list and delete do not decrypt
  });

  it('upgrades a v1 database: legacy plain values read as-is and are re-written encrypted on that read', async () => {
    const page = await openPage(await newContext());
    const vault = Array.from({ length: 52 }, (_, i) => (i * 7 + 3) & 0xff);
    const r = await page.evaluate(
      async ({ seed, vault }) => {
        const { vg, raw } = window as unknown as PageWindow;
        await raw.createV1([
          ['identity.signing.seed', seed],
          ['key.vault', vault],
        ]);
        const before = await raw.info();
        const legacyBefore = await raw.get('keys', 'identity.signing.seed');
        const store = new vg.IndexedDbKeyStore();
        const list = await store.list();
        const info = await raw.info();
        const seedBack = await store.get('identity.signing.seed');
        const seedRecord = await raw.get('keys', 'identity.signing.seed');
        const vaultRecordBefore = await raw.get('keys', 'key.vault');
        // A fresh instance reads the migrated record through the decrypting path.
        const again = await new vg.IndexedDbKeyStore().get('identity.signing.seed');
        const vaultBack = await store.get('key.vault');
        const vaultRecordAfter = await raw.get('keys', 'key.vault');
        const shape = (v: unknown) =>
          ArrayBuffer.isView(v)
            ? 'plain'
            : v && typeof v === 'object' && (v as { v?: unknown }).v === 1 && (v as { iv?: unknown }).iv instanceof Uint8Array && (v as { ct?: unknown }).ct instanceof Uint8Array
              ? 'sealed'
              : 'other';
        return {
          before,
          legacyBefore: shape(legacyBefore),
          list,
          info,
          seedBack: seedBack ? [...seedBack] : null,
          seedRecord: shape(seedRecord),
          seedCt: shape(seedRecord) === 'sealed' ? [...(seedRecord as { ct: Uint8Array }).ct].slice(0, seed.length) : null,
          vaultRecordBefore: shape(vaultRecordBefore),
          again: again ? [...again] : null,
          vaultBack: vaultBack ? [...vaultBack] : null,
          vaultRecordAfter: shape(vaultRecordAfter),
          metaKeys: await raw.keys('meta'),
        };
      },
      { seed: SEED, vault },
    );
    expect(r.before).toEqual({ version: 1, stores: ['keys'] });
    expect(r.legacyBefore).toBe('plain');
    expect(r.list).toEqual(['identity.signing.seed', 'key.vault']);
    expect(r.info).toEqual({ version: 2, stores: ['keys', 'meta'] });
    expect(r.seedBack).toEqual(SEED);
    expect(r.seedRecord).toBe('sealed');
    expect(r.seedCt).not.toEqual(SEED);
    expect(r.vaultRecordBefore).toBe('plain'); // only what was read is re-written
    expect(r.again).toEqual(SEED);
    expect(r.vaultBack).toEqual(vault);
    expect(r.vaultRecordAfter).toBe('sealed');
    expect(r.metaKeys).toEqual(['wrapping-key']);
  });

  it('persists sealed values across a reload and a second page, and concurrent first uses in two pages agree on one wrapping key', async () => {
    const context = await newContext();
    const [a, b] = [await openPage(context), await openPage(context)];
    // Both pages start at once, each with several store instances: every one finds no
    // wrapping key, generates one and races to add it; the losers must adopt the winner's.
    const writeMany = (p: Page, prefix: string) =>
      p.evaluate(async (prefix) => {
        const { vg } = window as unknown as PageWindow;
        await Promise.all(
          Array.from({ length: 6 }, (_, i) => new vg.IndexedDbKeyStore().put(`${prefix}.${i}`, new Uint8Array(32).fill(i + (prefix === 'a' ? 0x10 : 0x20)))),
        );
      }, prefix);
    await Promise.all([writeMany(a, 'a'), writeMany(b, 'b')]);
    await a.reload();
    await a.waitForSelector('body[data-ready="1"]');
    const c = await openPage(context);
    for (const p of [a, b, c]) {
      const r = await p.evaluate(async () => {
        const { vg, raw } = window as unknown as PageWindow;
        const store = new vg.IndexedDbKeyStore();
        const names = await store.list();
        const values: Record<string, number[]> = {};
        for (const n of names) values[n] = [...((await store.get(n)) ?? [])];
        return { names, values, metaKeys: await raw.keys('meta') };
      });
      const expected: Record<string, number[]> = {};
      for (const prefix of ['a', 'b']) for (let i = 0; i < 6; i++) expected[`${prefix}.${i}`] = new Array<number>(32).fill(i + (prefix === 'a' ? 0x10 : 0x20));
      expect(r.metaKeys).toEqual(['wrapping-key']);
      expect(r.names).toEqual(Object.keys(expected).sort());
      expect(r.values).toEqual(expected);
    }
    for (const p of [a, b, c]) await p.close();
  });

  it("leaves no secret bytes in the profile's files, though Chromium writes the wrapping key's material there (the documented limit)", async () => {
    // What reaches the disk, checked in a persistent profile. Controls in a separate
    // database: plain bytes (proving the scan sees IndexedDB values) and a non-extractable
    // AES key imported from known bytes (its material is stored with it: "non-extractable"
    // is an API property, not storage encryption; docs/client.md says so).
    const PLAIN = Array.from({ length: 32 }, (_, i) => (i * 53 + 17) & 0xff);
    const KNOWN_KEY = Array.from({ length: 32 }, (_, i) => (i * 73 + 41) & 0xff);
    const dir = mkdtempSync(join(tmpdir(), 'veilgraph-idb-profile-'));
    try {
      const context = await launchPersistentChromium(dir);
      try {
        const page = await openPage(context);
        const back = await page.evaluate(
          async ({ secret, plain, known }) => {
            const { vg } = window as unknown as PageWindow;
            const store = new vg.IndexedDbKeyStore();
            await store.put('identity.signing.seed', new Uint8Array(secret));
            await store.close();
            const key = await crypto.subtle.importKey('raw', new Uint8Array(known), { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
            const db = await new Promise<IDBDatabase>((resolve, reject) => {
              const r = indexedDB.open('veilgraph-control', 1);
              r.onupgradeneeded = () => r.result.createObjectStore('values');
              r.onsuccess = () => resolve(r.result);
              r.onerror = () => reject(r.error);
            });
            await new Promise((resolve, reject) => {
              const tx = db.transaction('values', 'readwrite', { durability: 'strict' });
              tx.objectStore('values').put(new Uint8Array(plain), 'plain');
              tx.objectStore('values').put(key, 'key');
              tx.oncomplete = resolve;
              tx.onerror = () => reject(tx.error);
            });
            db.close();
            const got = await new vg.IndexedDbKeyStore().get('identity.signing.seed');
            return got ? [...got] : null;
          },
          { secret: SECRET, plain: PLAIN, known: KNOWN_KEY },
        );
        expect(back).toEqual(SECRET);
      } finally {
        await context.close();
      }
      const files = readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => join(e.parentPath, e.name));
      const holding = (bytes: number[]) => files.filter((f) => readFileSync(f).includes(Buffer.from(bytes))).map((f) => f.slice(dir.length));
      expect(files.some((f) => f.includes(`${join('Default', 'IndexedDB')}`))).toBe(true);
      expect(holding(PLAIN).length, 'the scan finds plain IndexedDB values').toBeGreaterThan(0);
      expect(holding(SECRET), 'the secret must not be on disk').toEqual([]);
      expect(holding(KNOWN_KEY).length, "a non-extractable key's material is on disk (if this changes, update docs/client.md)").toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses with INDEXEDDB_CRYPTO_UNAVAILABLE on an insecure origin (no crypto.subtle) and stores nothing', async () => {
    const context = await newContext();
    // A non-local http origin is not a secure context; the pages are served by routing, not DNS.
    const insecure = 'http://veilgraph-insecure.test';
    await context.route(`${insecure}/**`, (route) => {
      const path = new URL(route.request().url()).pathname;
      if (path === '/') return route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: HTML });
      if (path === '/bundle.js') return route.fulfill({ status: 200, contentType: 'text/javascript; charset=utf-8', body: bundleJs });
      return route.fulfill({ status: 404, body: '' });
    });
    const page = await openPage(context, `${insecure}/`);
    const r = await page.evaluate(async () => {
      const { vg, raw } = window as unknown as PageWindow;
      const store = new vg.IndexedDbKeyStore();
      const outcome = (p: Promise<unknown>) =>
        p.then(
          () => ({ code: 'resolved', message: '' }),
          (e: unknown) => ({ code: (e as { code?: string }).code ?? String(e), message: (e as Error).message }),
        );
      const put = await outcome(store.put('identity.signing.seed', new Uint8Array([1, 2, 3])));
      const get = await outcome(store.get('identity.signing.seed'));
      return {
        secure: window.isSecureContext,
        subtle: typeof crypto.subtle,
        hasIndexedDb: typeof indexedDB,
        put,
        get,
        list: await store.list(),
        deleted: await store.delete('identity.signing.seed'),
        rawKeys: await raw.keys('keys'),
      };
    });
    expect(r.secure).toBe(false);
    expect(r.subtle).toBe('undefined');
    expect(r.hasIndexedDb).toBe('object');
    expect(r.put.code).toBe('INDEXEDDB_CRYPTO_UNAVAILABLE');
    expect(r.put.message).toMatch(/crypto\.subtle/);
    expect(r.get.code).toBe('INDEXEDDB_CRYPTO_UNAVAILABLE');
    expect(r.list).toEqual([]);
    expect(r.deleted).toBe(false);
    expect(r.rawKeys).toEqual([]);
  });
});
