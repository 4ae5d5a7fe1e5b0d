// Client sessions against a real gateway (loopback HTTP, SQLite in a temp dir):
// createIdentity → register → login → the token works; the file key store; typed errors.
import { mkdtempSync, readFileSync, rmSync, statSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { base64urlEncode } from '../../src/crypto/base64url.js';
import { openEnvelopeText, sealEnvelopeText } from '../../src/crypto/envelope.js';
import { KEY_NAMES, MemoryKeyStore } from '../../src/client/keystore.js';
import { FileKeyStore } from '../../src/client/node.js';
import { SessionError, clientKeysFrom, createIdentity, graphqlRequest, isSessionError, login, register } from '../../src/client/session.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

const backend = nodeBackend;
let t: TestGateway;
let tmp: string;

beforeAll(async () => {
  t = await startTestGateway();
  tmp = mkdtempSync(join(tmpdir(), 'veilgraph-keystore-'));
});

afterAll(async () => {
  await t?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function rejection(p: Promise<unknown>): Promise<SessionError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(SessionError);
  return e as SessionError;
}

describe('createIdentity → register → login', () => {
  it('gives a token that works for `me`, and client keys that seal and open', async () => {
    const { keystore, signingKey, encryptionKey } = await createIdentity(backend);
    expect(await keystore.list()).toEqual([KEY_NAMES.encryptionPrivate, KEY_NAMES.signingSeed, KEY_NAMES.shared, KEY_NAMES.vault].sort());

    const { userId } = await register(t.gateway.url, 'sessionuser', keystore, backend);
    expect(userId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const session = await login(t.gateway.url, 'sessionuser', keystore, backend);
    expect(session.userId).toBe(userId);
    expect(Date.parse(session.expiresAt)).toBeGreaterThan(Date.now());

    const me = await graphqlRequest<{ me: { id: string; username: string; signingKey: string; encryptionKey: string } }>(
      t.gateway.url,
      'query { me { id username signingKey encryptionKey } }',
      {},
      { token: session.token },
    );
    expect(me.me).toEqual({ id: userId, username: 'sessionuser', signingKey: base64urlEncode(signingKey), encryptionKey: base64urlEncode(encryptionKey) });

    // Same token through the test harness's own client.
    const raw = await t.gql<{ me: { id: string } }>('query { me { id } }', {}, session.token);
    expect(raw.data?.me.id).toBe(userId);

    // clientKeysFrom: PRIVATE under the vault key, SHARED under the shared key.
    const keys = await clientKeysFrom(keystore);
    const loc = { coordinate: 'Profile.diary', ownerId: userId, objectId: 'obj-1' };
    const text = sealEnvelopeText(backend, keys.sealingKey('PRIVATE', loc), loc, '"x"');
    expect(openEnvelopeText(backend, text, keys.openingKeys('PRIVATE', loc), loc)).toBe('"x"');
    expect(() => openEnvelopeText(backend, text, keys.openingKeys('SHARED', loc), loc)).toThrow();

    // A second login needs (and gets) a fresh challenge.
    const again = await login(t.gateway.url, 'sessionuser', keystore, backend);
    expect(again.userId).toBe(userId);
  });

  it('typed errors carry the server codes', async () => {
    const { keystore } = await createIdentity(backend);
    await register(t.gateway.url, 'sessionuser2', keystore, backend);

    // Wrong username (never registered) → LOGIN_FAILED.
    const unknown = await rejection(login(t.gateway.url, 'nosuchuser', keystore, backend));
    expect(unknown.code).toBe('LOGIN_FAILED');
    expect(isSessionError(unknown, 'LOGIN_FAILED')).toBe(true);

    // Someone else's username with this key → LOGIN_FAILED too (indistinguishable).
    const other = await rejection(login(t.gateway.url, 'sessionuser', keystore, backend));
    expect(other.code).toBe('LOGIN_FAILED');

    // Taken name, bad realm, bad username syntax.
    expect((await rejection(register(t.gateway.url, 'sessionuser2', keystore, backend))).code).toBe('USERNAME_TAKEN');
    const { keystore: k3 } = await createIdentity(backend);
    expect((await rejection(register(t.gateway.url, 'otherrealm', k3, backend, 'elsewhere'))).code).toBe('BAD_REGISTRATION_SIGNATURE');
    expect((await rejection(login(t.gateway.url, 'Bad Name', keystore, backend))).code).toBe('BAD_USER_INPUT');

    // Local failures.
    expect((await rejection(login(t.gateway.url, 'sessionuser2', new MemoryKeyStore(), backend))).code).toBe('IDENTITY_MISSING');
    expect((await rejection(createIdentity(backend, keystore))).code).toBe('IDENTITY_EXISTS');
    expect((await rejection(login('http://127.0.0.1:1/graphql', 'sessionuser2', keystore, backend))).code).toBe('NETWORK_ERROR');
    expect((await rejection(graphqlRequest(t.gateway.url, 'query { me { id } }', {}, { token: 'not.a.token' }))).code).toBe('UNAUTHENTICATED');
  });
});

describe('FileKeyStore', () => {
  it('round-trips through a 0600 JSON file, written atomically', async () => {
    const path = join(tmp, 'nested', 'keys.json');
    const store = new FileKeyStore(path);
    expect(await store.list()).toEqual([]);
    expect(await store.get('missing')).toBeUndefined();

    const { signingKey } = await createIdentity(backend, store);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    await store.put('extra', new Uint8Array([1, 2, 3]));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(tmp, 'nested'))).toEqual(['keys.json']); // no temporary files left

    // A second instance (another process, later) reads the same identity.
    const reopened = new FileKeyStore(path);
    expect(await reopened.list()).toEqual([KEY_NAMES.encryptionPrivate, 'extra', KEY_NAMES.signingSeed, KEY_NAMES.shared, KEY_NAMES.vault].sort());
    expect(await reopened.get('extra')).toEqual(new Uint8Array([1, 2, 3]));
    expect(await reopened.get(KEY_NAMES.signingSeed)).toEqual(await store.get(KEY_NAMES.signingSeed));
    expect(await reopened.delete('extra')).toBe(true);
    expect(await reopened.delete('extra')).toBe(false);
    expect(await store.get('extra')).toBeUndefined();

    // It logs in with the file identity.
    await register(t.gateway.url, 'fileuser', reopened, backend);
    const s = await login(t.gateway.url, 'fileuser', new FileKeyStore(path), backend);
    const me = await graphqlRequest<{ me: { signingKey: string } }>(t.gateway.url, 'query { me { signingKey } }', {}, { token: s.token });
    expect(me.me.signingKey).toBe(base64urlEncode(signingKey));

    // Concurrent puts are serialised, none lost.
    await Promise.all(Array.from({ length: 10 }, (_, i) => store.put(`c${i}`, new Uint8Array([i]))));
    expect((await new FileKeyStore(path).list()).filter((n) => /^c\d$/.test(n))).toHaveLength(10);

    // The file is JSON of base64url values; nothing prints the values.
    const file = JSON.parse(readFileSync(path, 'utf8')) as { version: number; keys: Record<string, string> };
    expect(file.version).toBe(1);
    expect(JSON.stringify(store)).not.toContain(file.keys[KEY_NAMES.signingSeed]!);
  });

  it('refuses a corrupt file without echoing its contents', async () => {
    const path = join(tmp, 'corrupt.json');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path, 'secret-ish-garbage');
    const err = await new FileKeyStore(path).list().then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toContain('not valid JSON');
    expect(err?.message).not.toContain('secret-ish-garbage');
  });
});
