/**
 * @module
 * The built web app (web/, `npm run web:build`) served by the gateway at `/`: `index.html`
 * and the files under `assets/`, read into memory once at start. Only those exact paths
 * are served, so no request path ever reaches the file system (no traversal to guard).
 *
 * Every response carries a strict Content-Security-Policy: scripts and styles only from
 * this origin, connections only back to it (HTTP and WebSocket). The app holds the user's
 * keys, so an injected script is the threat that matters most (docs/web.md).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { extname, join } from 'node:path';

export interface WebAsset {
  readonly contentType: string;
  readonly body: Buffer;
  /** index.html is revalidated on every load; hashed assets are immutable. */
  readonly cacheControl: string;
}

/** URL path (`/`, `/assets/app-3F2K.js`) → asset. */
export type WebAssets = ReadonlyMap<string, WebAsset>;

export class WebAssetsError extends Error {
  override readonly name = 'WebAssetsError';
  readonly code = 'WEB_APP_MISSING';
}

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
};

export const WEB_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  // 'self' covers ws:// to the same host in current browsers; spelled out for older ones.
  "connect-src 'self' ws: wss:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Reads the built app from `dir`. Throws WEB_APP_MISSING (with the command that builds
 * it) when `dir/index.html` does not exist.
 */
export function loadWebAssets(dir: string): WebAssets {
  const index = join(dir, 'index.html');
  if (!existsSync(index)) {
    throw new WebAssetsError(`no web app in ${dir} (index.html missing): run \`npm run web:build\`, or set VEIL_WEB_DIR=none to serve the API only`);
  }
  const assets = new Map<string, WebAsset>();
  const html: WebAsset = { contentType: TYPES['.html']!, body: readFileSync(index), cacheControl: 'no-cache' };
  assets.set('/', html);
  assets.set('/index.html', html);
  const assetDir = join(dir, 'assets');
  if (existsSync(assetDir)) {
    for (const name of readdirSync(assetDir)) {
      const file = join(assetDir, name);
      const type = TYPES[extname(name)];
      if (!type || !statSync(file).isFile()) continue;
      assets.set(`/assets/${name}`, { contentType: type, body: readFileSync(file), cacheControl: 'public, max-age=31536000, immutable' });
    }
  }
  return assets;
}

/**
 * The app's security headers. The gateway sends them on every HTTP response (the API's
 * JSON, /health, errors), not only the app's files: any page of this origin could reach the
 * app's keys.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': WEB_CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

/** Writes `asset` (GET or HEAD) with the app's security headers. */
export function sendWebAsset(res: ServerResponse, asset: WebAsset, head: boolean): void {
  res.writeHead(200, {
    'content-type': asset.contentType,
    'content-length': asset.body.length,
    'cache-control': asset.cacheControl,
    ...SECURITY_HEADERS,
  });
  res.end(head ? undefined : asset.body);
}
