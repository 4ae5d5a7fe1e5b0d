// IndexedDbKeyStore in a real browser: the module (and the portable crypto) bundled with
// esbuild, served from 127.0.0.1 (a secure context, so crypto.subtle exists), run in
// Debian's Chromium through playwright-core. Byte-exact round trips, persistence across a
// reload and a second page, isolation between browser contexts, and an envelope sealed
// and opened with webCryptoBackend under a key read back from IndexedDB.
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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
import { launchChromium } from '../helpers/chromium.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

// What the page gets as `window.vg` (the bundle's exports).
type Bundle = typeof idb &
  Pick<typeof cryptoApi, 'webCryptoBackend' | 'webCryptoSupportsCurves' | 'sealEnvelopeText' | 'openEnvelopeText'> &
  Pick<typeof keystoreApi, 'KEY_NAMES'> &
  Pick<typeof sessionApi, 'createIdentity' | 'loadIdentity' | 'clientKeysFrom' | 'decodeSymmetricKey'>;
type PageWindow = Window & { vg: Bundle };

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
document.getElementById('out').textContent = 'secure context: ' + window.isSecureContext;
document.body.dataset.ready = '1';
</script></body></html>`;

let browser: Browser;
let server: Server;
let origin: string;
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

async function openPage(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${origin}/`);
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
