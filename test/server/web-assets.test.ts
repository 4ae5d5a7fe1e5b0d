// The gateway serving a built web app (src/app/web-assets.ts): only index.html and the
// files of assets/ with known types, read at start; security headers on each; GET and
// HEAD only; a configured directory without a build refuses to start, saying how to build.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromEnv } from '../../src/app/config.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

const dirs: string[] = [];
function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

let t: TestGateway;
let origin: string;
const HTML = '<!doctype html><title>app</title><script type="module" src="/assets/app-ABC123.js"></script>';
const JS = 'console.log("app")';

beforeAll(async () => {
  const web = tempDir('veilgraph-webdir-');
  mkdirSync(join(web, 'assets', 'nested'), { recursive: true });
  writeFileSync(join(web, 'index.html'), HTML);
  writeFileSync(join(web, 'assets', 'app-ABC123.js'), JS);
  writeFileSync(join(web, 'assets', 'notes.txt'), 'not a web asset type');
  writeFileSync(join(web, 'assets', 'nested', 'deep.js'), 'nested');
  writeFileSync(join(web, 'secrets.json'), '{"secret":true}');
  t = await startTestGateway({ webDir: web, webRequired: true });
  origin = t.gateway.url.replace(/\/graphql$/, '');
});

afterAll(async () => {
  await t?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('web app files', () => {
  it('serves index.html at / with the security headers', async () => {
    const res = await fetch(`${origin}/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(HTML);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
  });

  it('serves assets as immutable, and HEAD without a body', async () => {
    const res = await fetch(`${origin}/assets/app-ABC123.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(res.headers.get('cache-control')).toContain('immutable');
    expect(await res.text()).toBe(JS);
    const head = await fetch(`${origin}/assets/app-ABC123.js`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(Buffer.byteLength(JS)));
    expect(await head.text()).toBe('');
  });

  it('serves nothing else from the directory: other files, other types, sub-folders, traversal', async () => {
    for (const path of ['/secrets.json', '/assets/notes.txt', '/assets/nested/deep.js', '/assets/%2e%2e/secrets.json', '/assets/..%2fsecrets.json', '/favicon.ico']) {
      const res = await fetch(`${origin}${path}`);
      expect(res.status, path).toBe(404);
      const body = (await res.json()) as { errors: { extensions: { code: string } }[] };
      expect(body.errors[0]!.extensions.code).toBe('NOT_FOUND');
    }
  });

  it('answers only GET and HEAD with the app; the API stays at /graphql', async () => {
    const post = await fetch(`${origin}/`, { method: 'POST', body: '{}' });
    expect(post.status).toBe(404);
    const health = await fetch(`${origin}/health`);
    expect(health.status).toBe(200);
    const api = await t.gql<{ __typename: string }>('{ __typename }');
    expect(api.data?.__typename).toBe('Query');
  });
});

describe('configuration', () => {
  it('refuses to start on a named web directory without a build, and says how to build one', async () => {
    const empty = tempDir('veilgraph-webdir-empty-');
    await expect(startTestGateway({ webDir: empty, webRequired: true })).rejects.toMatchObject({ code: 'WEB_APP_MISSING', message: expect.stringContaining('npm run web:build') });
  });

  it('on the default directory unbuilt, serves the API only and warns', async () => {
    const empty = tempDir('veilgraph-webdir-empty-');
    const g = await startTestGateway({ webDir: empty, webRequired: false });
    try {
      expect((await fetch(g.gateway.url.replace(/\/graphql$/, '/'))).status).toBe(404);
      expect((await g.gql<{ __typename: string }>('{ __typename }')).data?.__typename).toBe('Query');
      expect(g.logs.some((l) => l.includes('"web.missing"') && l.includes('npm run web:build'))).toBe(true);
    } finally {
      await g.close();
    }
  });

  it("VEIL_WEB_DIR: the package's web/dist by default (optional, whatever the working directory), a named directory is required, none turns the app off", () => {
    // src/app/config.ts → <repository>/web/dist; from dist/app/config.js the same path in the installed package.
    expect(configFromEnv({})).toMatchObject({ webDir: resolve(import.meta.dirname, '../../web/dist'), webRequired: false });
    expect(configFromEnv({ VEIL_WEB_DIR: 'none' })).toMatchObject({ webDir: undefined, webRequired: false });
    expect(configFromEnv({ VEIL_WEB_DIR: '/srv/app' })).toMatchObject({ webDir: '/srv/app', webRequired: true });
  });
});
