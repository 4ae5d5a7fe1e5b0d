/**
 * @module
 * The reference app's HTTP surface on Node's own http server (subscriptions share it:
 * ./ws-server.ts):
 *
 *   GET  /health   → 200 {"status":"ok"} when the database answers, else 503
 *   POST /graphql  → Apollo Server (JSON body, at most `bodyLimitBytes`, else 413)
 *   GET  /graphql  → Apollo Server (queries only; Apollo's CSRF prevention applies)
 *   GET  /, /assets/…  → the built web app, when the gateway serves one (web-assets.ts)
 *
 * Anything else is 404. Error bodies are JSON and never echo the request. Every response
 * carries the web app's security headers (SECURITY_HEADERS). A body over the limit, declared
 * or sent chunked, is answered 413 and the connection closed: the rest is never read into
 * memory, and closing spares reading it to the end to keep the connection alive.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer, type HTTPGraphQLResponse } from '@apollo/server';
import type { Logger, VeilContext } from '../server/index.js';
import { SECURITY_HEADERS, sendWebAsset, type WebAssets } from './web-assets.js';

export interface HttpHandlerOptions {
  readonly apollo: ApolloServer<VeilContext>;
  /** The request's context (`veil.context`): throws UNAUTHENTICATED (401) for a bad token. */
  readonly context: (req: IncomingMessage) => Promise<VeilContext>;
  readonly health: () => Promise<boolean>;
  readonly bodyLimitBytes: number;
  readonly log: Logger;
  /** The web app's files (undefined: API only). */
  readonly web?: WebAssets;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Answer, then close the connection (the request's body was not read to its end). */
    readonly close = false,
  ) {
    super(message);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const tooLarge = (): HttpError => new HttpError(413, 'PAYLOAD_TOO_LARGE', `request body exceeds ${limit} bytes`, true);
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      // Once over, the rest is dropped as it comes until the answer is out and the
      // connection closes; destroying the request here would reset the connection before
      // the client could read the 413.
      if (size > limit) return;
      size += c.length;
      if (size > limit) {
        chunks.length = 0;
        reject(tooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function writeApolloResponse(res: ServerResponse, r: HTTPGraphQLResponse): Promise<void> {
  for (const [k, v] of r.headers) res.setHeader(k, v);
  res.statusCode = r.status ?? 200;
  if (r.body.kind === 'complete') {
    res.end(r.body.string);
    return;
  }
  for await (const chunk of r.body.asyncIterator) res.write(chunk);
  res.end();
}

export function createHttpHandler(options: HttpHandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const { apollo, log } = options;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/health' && req.method === 'GET') {
      const ok = await options.health().catch(() => false);
      sendJson(res, ok ? 200 : 503, { status: ok ? 'ok' : 'unavailable', database: ok ? 'ok' : 'unreachable' });
      return;
    }
    const asset = (req.method === 'GET' || req.method === 'HEAD') && options.web?.get(url.pathname);
    if (asset) {
      sendWebAsset(res, asset, req.method === 'HEAD');
      return;
    }
    if (url.pathname !== '/graphql') {
      sendJson(res, 404, { errors: [{ message: 'not found: the API is at /graphql', extensions: { code: 'NOT_FOUND' } }] });
      return;
    }
    if (req.method !== 'POST' && req.method !== 'GET') {
      res.setHeader('allow', 'GET, POST');
      sendJson(res, 405, { errors: [{ message: 'use GET or POST', extensions: { code: 'METHOD_NOT_ALLOWED' } }] });
      return;
    }
    let body: unknown = undefined;
    if (req.method === 'POST') {
      const text = await readBody(req, options.bodyLimitBytes);
      try {
        body = text.length > 0 ? JSON.parse(text) : undefined;
      } catch {
        throw new HttpError(400, 'BAD_REQUEST', 'request body is not valid JSON');
      }
    }
    const headers = new HeaderMap();
    for (const [k, v] of Object.entries(req.headers)) {
      if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
    }
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method, headers, search: url.search, body },
      context: () => options.context(req),
    });
    await writeApolloResponse(res, response);
  };
  return (req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (e instanceof HttpError) {
        if (res.headersSent) {
          res.destroy();
          return;
        }
        // Node closes the connection once this response is written.
        if (e.close) res.setHeader('connection', 'close');
        sendJson(res, e.status, { errors: [{ message: e.message, extensions: { code: e.code } }] });
        return;
      }
      log.error('http.unhandled', { error: e instanceof Error ? e.name : 'unknown' });
      if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
      else res.destroy();
    });
  };
}
