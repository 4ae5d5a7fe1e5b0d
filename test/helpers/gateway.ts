/**
 * Test harness: a real gateway on a loopback port over a real database (a fresh SQLite
 * file in a temp dir, or a URL such as a throwaway PostgreSQL), plus a minimal client
 * that registers, logs in and seals values the way a real client must. The log lines the
 * gateway writes are captured for inspection (canary tests).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { base64urlDecode, base64urlEncode } from '../../src/crypto/base64url.js';
import { envelopeToText, sealEnvelopeText, sealSignedEnvelope } from '../../src/crypto/envelope.js';
import { wrapKey, wrappedKeyToText } from '../../src/crypto/wrap.js';
import { generateEncryptionKeyPair, generateSigningKeyPair, generateSymmetricKey, type EncryptionKeyPair, type SigningKeyPair, type SymmetricKey } from '../../src/crypto/keys.js';
import { loginMessage, registrationMessage } from '../../src/crypto/auth-messages.js';
import { DEFAULT_AUTH_LIMITS, type AuthLimitName, type AuthLimits } from '../../src/server/services/sign-in/auth/service.js';
import { startGateway, type GatewayOptions, type RunningGateway } from '../../src/app/gateway.js';
import { embeddedConfig } from '../../src/app/config.js';

export interface GqlResponse<T = Record<string, unknown>> {
  readonly status: number;
  readonly data?: T | null;
  readonly errors?: { message: string; path?: (string | number)[]; extensions?: { code?: string; [k: string]: unknown } }[];
}

export interface TestGateway {
  readonly gateway: RunningGateway;
  readonly dataDir: string;
  readonly logs: string[];
  gql<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>, token?: string): Promise<GqlResponse<T>>;
  close(): Promise<void>;
}

/** Every rate limit with room for the many users a test registers and signs in from one address. */
const ROOMY_RULE = { points: 10_000, durationSeconds: 60 };
export const ROOMY_AUTH_LIMITS: Partial<AuthLimits> = Object.fromEntries((Object.keys(DEFAULT_AUTH_LIMITS) as AuthLimitName[]).map((name) => [name, ROOMY_RULE]));

/** A GraphQL request function for the gateway at `url` (in this process or another). */
export function gqlAt(url: string): TestGateway['gql'] {
  return async (query, variables, token) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as GqlResponse;
    return { ...body, status: res.status } as never;
  };
}

export async function startTestGateway(overrides: Partial<GatewayOptions> = {}): Promise<TestGateway> {
  const dataDir = overrides.dataDir ?? mkdtempSync(join(tmpdir(), 'veilgraph-test-'));
  const logs: string[] = [];
  const gateway = await startGateway({
    ...embeddedConfig(dataDir),
    logLevel: 'debug',
    logSink: (line) => logs.push(line),
    ...overrides,
  });
  return {
    gateway,
    dataDir,
    logs,
    gql: gqlAt(gateway.url),
    async close() {
      await gateway.close();
      if (!overrides.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface TestUser {
  readonly id: string;
  readonly username: string;
  readonly token: string;
  readonly signing: SigningKeyPair;
  readonly encryption: EncryptionKeyPair;
  /** The user's vault key for PRIVATE fields (client-side only). */
  readonly vault: SymmetricKey;
}

export async function registerAndLogin(t: Pick<TestGateway, 'gql'>, username: string, realm = 'veilgraph'): Promise<TestUser> {
  const signing = await generateSigningKeyPair(nodeBackend);
  const encryption = await generateEncryptionKeyPair(nodeBackend);
  const sig = await nodeBackend.ed25519Sign(
    signing.seed,
    registrationMessage({ realm, username, signingKey: signing.publicKey, encryptionKey: encryption.publicKey }),
  );
  const reg = await t.gql<{ register: { id: string } }>(
    'mutation R($i: RegisterInput!) { register(input: $i) { id } }',
    { i: { username, signingKey: base64urlEncode(signing.publicKey), encryptionKey: base64urlEncode(encryption.publicKey), signature: base64urlEncode(sig) } },
  );
  if (!reg.data?.register) throw new Error(`register failed: ${JSON.stringify(reg.errors)}`);
  const token = await login(t, username, signing, realm);
  return { id: reg.data.register.id, username, token, signing, encryption, vault: generateSymmetricKey(nodeBackend) };
}

export async function login(t: Pick<TestGateway, 'gql'>, username: string, signing: SigningKeyPair, realm = 'veilgraph'): Promise<string> {
  const ch = await t.gql<{ challenge: { challenge: string } }>('mutation C($u: String!) { challenge(username: $u) { challenge } }', { u: username });
  if (!ch.data?.challenge) throw new Error(`challenge failed: ${JSON.stringify(ch.errors)}`);
  const challenge = ch.data.challenge.challenge;
  const sig = await nodeBackend.ed25519Sign(signing.seed, loginMessage({ realm, username, purpose: 'LOGIN', challenge: base64urlDecode(challenge) }));
  const res = await t.gql<{ login: { token: string } }>('mutation L($u: String!, $c: String!, $s: String!) { login(username: $u, challenge: $c, signature: $s) { token } }', {
    u: username,
    c: challenge,
    s: base64urlEncode(sig),
  });
  if (!res.data?.login) throw new Error(`login failed: ${JSON.stringify(res.errors)}`);
  return res.data.login.token;
}

/** Seals a field value as a client does: JSON of the value, bound to Type.field, owner and object. */
export function seal(key: SymmetricKey, coordinate: string, ownerId: string, objectId: string, value: unknown): string {
  return sealEnvelopeText(nodeBackend, key, { coordinate, ownerId, objectId }, JSON.stringify(value));
}

/** A random client-chosen object id (22 base64url characters). */
export function newObjectId(): string {
  return base64urlEncode(nodeBackend.randomBytes(16));
}

/** A random printable canary string (so it can be searched for in raw bytes). */
export function canary(tag: string): string {
  return `canary-${tag}-${base64urlEncode(nodeBackend.randomBytes(12))}`;
}

/** Seals and signs a value as a writer's client does (required for SHARED writes by a grantee). */
export async function sealSigned(key: SymmetricKey, coordinate: string, ownerId: string, objectId: string, value: unknown, signer: SigningKeyPair): Promise<string> {
  return envelopeToText(await sealSignedEnvelope(nodeBackend, key, { coordinate, ownerId, objectId }, JSON.stringify(value), signer));
}

/** `{ recipientId, keyVersion, wrapped }` for `putDataKeys` / `grantAccess` / `revokeAccess`: `key` wrapped for `recipient` at the owner's object. */
export async function wrappedFor(key: SymmetricKey, objectType: string, ownerId: string, objectId: string, recipient: TestUser): Promise<{ recipientId: string; keyVersion: number; wrapped: string }> {
  const wrapped = await wrapKey(nodeBackend, key, { coordinate: objectType, ownerId, objectId }, [recipient.encryption]);
  return { recipientId: recipient.id, keyVersion: key.version, wrapped: wrappedKeyToText(wrapped) };
}

/**
 * Stores `dataKey` as the object's data key, wrapped for its owner, as the owner's client
 * does before it writes a SHARED value (the gateway refuses SHARED values of an object
 * without one: NO_DATA_KEY). `dataKey` is version 1 (the first key) or the object's key id
 * at its newest version + 1.
 */
export async function storeDataKey(t: TestGateway, owner: TestUser, objectType: string, objectId: string, dataKey: SymmetricKey): Promise<void> {
  const put = await t.gql('mutation P($t: String!, $id: ID!, $k: [WrappedDataKeyInput!]!) { putDataKeys(objectType: $t, objectId: $id, keys: $k) }', { t: objectType, id: objectId, k: [await wrappedFor(dataKey, objectType, owner.id, objectId, owner)] }, owner.token);
  if (put.errors) throw new Error(`putDataKeys failed: ${JSON.stringify(put.errors)}`);
}

/**
 * Grants like the owner's client does: stores `dataKey` as the object's data key for the
 * owner if the object has none yet, then grants with `dataKey` wrapped for the grantee.
 */
export async function grantAccess(t: TestGateway, owner: TestUser, grantee: TestUser, objectType: string, objectId: string, dataKey: SymmetricKey, access: 'READ' | 'WRITE' = 'READ'): Promise<GqlResponse> {
  const mine = await t.gql<{ myDataKeys: unknown[] }>('query K($t: String!, $ids: [ID!]!) { myDataKeys(objectType: $t, objectIds: $ids) { keyVersion } }', { t: objectType, ids: [objectId] }, owner.token);
  if (mine.data?.myDataKeys.length === 0) await storeDataKey(t, owner, objectType, objectId, dataKey);
  return t.gql(
    'mutation G($t: String!, $id: ID!, $u: String!, $a: Access!, $k: [WrappedDataKeyInput!]!) { grantAccess(objectType: $t, objectId: $id, username: $u, access: $a, keys: $k) { access grantee { username } } }',
    { t: objectType, id: objectId, u: grantee.username, a: access, k: [await wrappedFor(dataKey, objectType, owner.id, objectId, grantee)] },
    owner.token,
  );
}

/** Revokes like the owner's client does: `nextKey` (newest + 1) wrapped for the owner and each of `keepers`. */
export async function revokeAccess(t: TestGateway, owner: TestUser, revoked: TestUser, objectType: string, objectId: string, nextKey: SymmetricKey, keepers: readonly TestUser[] = []): Promise<GqlResponse> {
  const keys = [];
  for (const u of [owner, ...keepers]) keys.push(await wrappedFor(nextKey, objectType, owner.id, objectId, u));
  return t.gql('mutation R($t: String!, $id: ID!, $u: String!, $k: [WrappedDataKeyInput!]!) { revokeAccess(objectType: $t, objectId: $id, username: $u, keys: $k) }', { t: objectType, id: objectId, u: revoked.username, k: keys }, owner.token);
}
