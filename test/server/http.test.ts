// The HTTP surface (src/app/http.ts) over real HTTP on loopback with a real SQLite file:
// the routes, the security headers on every response (not only the web app's files), and
// no Apollo landing page. Oversized bodies are in test/server/attacks.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEB_CONTENT_SECURITY_POLICY } from '../../src/app/web-assets.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

const SECURITY_HEADERS = {
  'content-security-policy': WEB_CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

let t: TestGateway;
let base: string;

beforeAll(async () => {
  t = await startTestGateway();
  base = t.gateway.url.replace('/graphql', '');
});

afterAll(async () => {
  await t?.close();
});

function expectSecurityHeaders(res: Response, what: string): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(res.headers.get(name), `${what}: ${name}`).toBe(value);
}

describe('routes', () => {
  it('serves /health, 404s elsewhere, refuses bad JSON', async () => {
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', database: 'ok' });
    const nope = await fetch(`${base}/nope`);
    expect(nope.status).toBe(404);
    expect(await nope.json()).toEqual({ errors: [{ message: 'not found: the API is at /graphql', extensions: { code: 'NOT_FOUND' } }] });
    const bad = await fetch(t.gateway.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('BAD_REQUEST');
  });
});

describe('security headers', () => {
  it('every response carries the web app’s headers: /graphql (POST and GET, answers and errors), /health, 404, 405, 400, 413', async () => {
    const json = { 'content-type': 'application/json' };
    const responses: [string, Response][] = [
      ['POST /graphql', await fetch(t.gateway.url, { method: 'POST', headers: json, body: JSON.stringify({ query: '{ __typename }' }) })],
      ['POST /graphql, a validation error', await fetch(t.gateway.url, { method: 'POST', headers: json, body: JSON.stringify({ query: '{ nope }' }) })],
      ['GET /graphql', await fetch(`${t.gateway.url}?query=${encodeURIComponent('{ __typename }')}`, { headers: { 'apollo-require-preflight': 'true' } })],
      ['GET /graphql, CSRF refused', await fetch(`${t.gateway.url}?query=${encodeURIComponent('{ __typename }')}`)],
      ['GET /health', await fetch(`${base}/health`)],
      ['GET /nope (404)', await fetch(`${base}/nope`)],
      ['PUT /graphql (405)', await fetch(t.gateway.url, { method: 'PUT', body: '{}' })],
      ['bad JSON (400)', await fetch(t.gateway.url, { method: 'POST', headers: json, body: '{' })],
      ['too large (413)', await fetch(t.gateway.url, { method: 'POST', headers: json, body: 'x'.repeat(5 * 1024 * 1024) })],
    ];
    for (const [what, res] of responses) {
      expectSecurityHeaders(res, what);
      await res.arrayBuffer();
    }
    expect(responses.map(([, r]) => r.status)).toEqual([200, 400, 200, 400, 200, 404, 405, 400, 413]);
  });
});

describe('no landing page', () => {
  it('a browser opening /graphql gets no HTML page (no third-party script on the origin that holds the web app’s keys), in development and production', async () => {
    const prod = await startTestGateway({ production: true });
    try {
      for (const url of [t.gateway.url, prod.gateway.url]) {
        const res = await fetch(url, { headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' } });
        const text = await res.text();
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        expect(text).not.toMatch(/<html|<script|apollographql\.com/i);
        expect(res.status).toBe(400);
        expectSecurityHeaders(res, url);
      }
    } finally {
      await prod.close();
    }
  });
});
