/**
 * @module
 * Identity and sign-in for a client (portable: no `node:` imports; Node 20 and browsers,
 * over the global `fetch`). Implements docs/auth.md from the client side:
 *
 * - `createIdentity` generates the user's Ed25519 signing key, X25519 encryption key,
 *   vault key (PRIVATE values) and shared key (SHARED values) into a `KeyStore`;
 * - `register` signs the registration message (proof of possession) and creates the user;
 * - `login` answers a fresh challenge and returns an access token;
 * - `clientKeysFrom` gives the `ClientKeys` that `sealVariables` / `openResult` need.
 *
 * The signed bytes come from `src/crypto/auth-messages.ts` (pure, shared with the
 * server), so client and server cannot disagree on them. Failures are `SessionError`s
 * whose `code` is the server's `extensions.code` (docs/auth.md §8) when the server
 * answered with one. Secrets never leave the key store except to sign or seal locally;
 * neither they nor tokens appear in error messages.
 */
import type { CryptoBackend } from '../crypto/backend.js';
import { base64urlDecode, base64urlEncode } from '../crypto/base64url.js';
import {
  encryptionKeyPairFromPrivate,
  generateEncryptionKeyPair,
  generateSigningKeyPair,
  generateSymmetricKey,
  signingKeyPairFromSeed,
  type EncryptionKeyPair,
  type SigningKeyPair,
  type SymmetricKey,
} from '../crypto/keys.js';
import { AuthPurpose, CHALLENGE_BYTES, DEFAULT_REALM, loginMessage, registrationMessage } from '../crypto/auth-messages.js';
import type { AuthErrorCode } from '../crypto/auth-messages.js';
import { staticClientKeys, type ClientKeys } from './keys.js';
import { KEY_NAMES, MemoryKeyStore, type KeyStore } from './keystore.js';

export type SessionErrorCode =
  /** Any code the server put in `extensions.code` (LOGIN_FAILED, USERNAME_TAKEN, RATE_LIMITED, …). */
  | AuthErrorCode
  /** The request did not reach the server or no HTTP response came back. */
  | 'NETWORK_ERROR'
  /** The server answered with something that is not the expected GraphQL result. */
  | 'BAD_RESPONSE'
  /** The server reported an error without a code. */
  | 'SERVER_ERROR'
  /** The key store lacks (or holds a malformed) identity or key. */
  | 'IDENTITY_MISSING'
  /** `createIdentity` on a key store that already holds an identity. */
  | 'IDENTITY_EXISTS';

export class SessionError extends Error {
  override readonly name = 'SessionError';
  /** A `SessionErrorCode`, or an unlisted server code passed through verbatim. */
  readonly code: SessionErrorCode | (string & {});
  /** For RATE_LIMITED: seconds to wait (from the server). */
  readonly retryAfterSeconds: number | undefined;
  /** HTTP status, when there was a response. */
  readonly status: number | undefined;

  constructor(code: SessionErrorCode | (string & {}), message: string, options?: { cause?: unknown; retryAfterSeconds?: number; status?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryAfterSeconds = options?.retryAfterSeconds;
    this.status = options?.status;
  }
}

export function isSessionError(e: unknown, code?: SessionErrorCode): e is SessionError {
  return e instanceof SessionError && (code === undefined || e.code === code);
}

/** The public halves of a new identity (what the server will hold). */
export interface CreatedIdentity {
  readonly keystore: KeyStore;
  /** Ed25519 public key, 32 bytes. */
  readonly signingKey: Uint8Array;
  /** X25519 public key, 32 bytes. */
  readonly encryptionKey: Uint8Array;
}

export interface CreateIdentityOptions {
  /**
   * The SHARED key to keep (until per-object data keys exist, everyone who reads a
   * SHARED value needs the same key, handed over out of band). Default: a new one.
   */
  readonly shared?: SymmetricKey;
  /** Replace an identity already in the store (default: refuse with IDENTITY_EXISTS). */
  readonly overwrite?: boolean;
}

export interface SessionOptions {
  /** The fetch to use (default: the global one). */
  readonly fetch?: typeof fetch;
  /** Extra request headers. */
  readonly headers?: Record<string, string>;
}

export interface LoginResult {
  readonly token: string;
  readonly userId: string;
  /** ISO 8601; log in again after it. */
  readonly expiresAt: string;
}

export interface RegisterResult {
  readonly userId: string;
}

// ---------------------------------------------------------------------------------------
// Symmetric keys in a key store: key id (16) ‖ version u32be (4) ‖ key bytes (32).

const SYMMETRIC_RECORD_BYTES = 16 + 4 + 32;

/** Encodes a symmetric key for a `KeyStore` (52 bytes). */
export function encodeSymmetricKey(key: SymmetricKey): Uint8Array {
  const out = new Uint8Array(SYMMETRIC_RECORD_BYTES);
  out.set(key.id, 0);
  new DataView(out.buffer).setUint32(16, key.version, false);
  out.set(key.bytes, 20);
  return out;
}

/** Decodes what `encodeSymmetricKey` wrote; IDENTITY_MISSING when malformed. */
export function decodeSymmetricKey(b: Uint8Array, name = 'key'): SymmetricKey {
  if (b.length !== SYMMETRIC_RECORD_BYTES) throw new SessionError('IDENTITY_MISSING', `${name} in the key store is malformed`);
  return { id: b.slice(0, 16), version: new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(16, false), bytes: b.slice(20) };
}

async function need(keystore: KeyStore, name: string, length?: number): Promise<Uint8Array> {
  const v = await keystore.get(name);
  if (!v) throw new SessionError('IDENTITY_MISSING', `the key store has no "${name}"`);
  if (length !== undefined && v.length !== length) throw new SessionError('IDENTITY_MISSING', `"${name}" in the key store is malformed`);
  return v;
}

/**
 * Generates an identity (Ed25519 signing key, X25519 encryption key, vault key, shared
 * key) and stores it in `keystore` (default: a new `MemoryKeyStore`). Refuses a store
 * that already has one unless `overwrite`.
 */
export async function createIdentity(backend: CryptoBackend, keystore: KeyStore = new MemoryKeyStore(), options: CreateIdentityOptions = {}): Promise<CreatedIdentity> {
  if (!options.overwrite && (await keystore.get(KEY_NAMES.signingSeed))) {
    throw new SessionError('IDENTITY_EXISTS', 'the key store already holds an identity');
  }
  const signing = await generateSigningKeyPair(backend);
  const encryption = await generateEncryptionKeyPair(backend);
  const vault = generateSymmetricKey(backend);
  const shared = options.shared ?? generateSymmetricKey(backend);
  await keystore.put(KEY_NAMES.signingSeed, signing.seed);
  await keystore.put(KEY_NAMES.encryptionPrivate, encryption.privateKey);
  await keystore.put(KEY_NAMES.vault, encodeSymmetricKey(vault));
  await keystore.put(KEY_NAMES.shared, encodeSymmetricKey(shared));
  return { keystore, signingKey: signing.publicKey, encryptionKey: encryption.publicKey };
}

/** The identity's key pairs, rebuilt from the seeds in `keystore`. */
export async function loadIdentity(keystore: KeyStore, backend: CryptoBackend): Promise<{ signing: SigningKeyPair; encryption: EncryptionKeyPair }> {
  const signing = await signingKeyPairFromSeed(backend, await need(keystore, KEY_NAMES.signingSeed, 32));
  const encryption = await encryptionKeyPairFromPrivate(backend, await need(keystore, KEY_NAMES.encryptionPrivate, 32));
  return { signing, encryption };
}

/** The `ClientKeys` for `sealVariables` / `openResult`: PRIVATE under the vault key, SHARED under the shared key. */
export async function clientKeysFrom(keystore: KeyStore): Promise<ClientKeys> {
  const vault = decodeSymmetricKey(await need(keystore, KEY_NAMES.vault), 'the vault key');
  const shared = decodeSymmetricKey(await need(keystore, KEY_NAMES.shared), 'the shared key');
  return staticClientKeys({ vault, shared });
}

// ---------------------------------------------------------------------------------------
// GraphQL over fetch.

interface GqlError {
  message?: unknown;
  extensions?: { code?: unknown; retryAfterSeconds?: unknown };
}

/**
 * POSTs one GraphQL operation and returns `data`; throws a `SessionError` carrying the
 * first error's `extensions.code` if the server reported errors or no data.
 */
export async function graphqlRequest<T>(
  endpoint: string,
  query: string,
  variables: Record<string, unknown>,
  options: SessionOptions & { token?: string } = {},
): Promise<T> {
  const doFetch = options.fetch ?? globalThis.fetch;
  let res: Response;
  try {
    res = await doFetch(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...options.headers,
      },
      body: JSON.stringify({ query, variables }),
    });
  } catch (e) {
    throw new SessionError('NETWORK_ERROR', `cannot reach ${endpoint}`, { cause: e });
  }
  let body: { data?: unknown; errors?: GqlError[] };
  try {
    body = (await res.json()) as typeof body;
  } catch (e) {
    throw new SessionError('BAD_RESPONSE', `the server answered HTTP ${res.status} without a GraphQL result`, { cause: e, status: res.status });
  }
  const first = Array.isArray(body?.errors) ? body.errors[0] : undefined;
  if (first) {
    const code = typeof first.extensions?.code === 'string' ? first.extensions.code : 'SERVER_ERROR';
    const message = typeof first.message === 'string' ? first.message : 'request failed';
    const retry = first.extensions?.retryAfterSeconds;
    throw new SessionError(code, message, { status: res.status, ...(typeof retry === 'number' ? { retryAfterSeconds: retry } : {}) });
  }
  if (!body || typeof body !== 'object' || body.data === null || typeof body.data !== 'object') {
    throw new SessionError('BAD_RESPONSE', `the server answered HTTP ${res.status} without data`, { status: res.status });
  }
  return body.data as T;
}

const REGISTER = 'mutation VgRegister($i: RegisterInput!) { register(input: $i) { id } }';
const CHALLENGE = 'mutation VgChallenge($u: String!, $p: ChallengePurpose!) { challenge(username: $u, purpose: $p) { challenge expiresAt } }';
const LOGIN = 'mutation VgLogin($u: String!, $c: String!, $s: String!, $d: ID) { login(username: $u, challenge: $c, signature: $s, device: $d) { token expiresAt user { id } } }';

/**
 * Registers `username` with the identity in `keystore` (docs/auth.md §3). `realm` must be
 * the server's. Does not log in.
 */
export async function register(
  endpoint: string,
  username: string,
  keystore: KeyStore,
  backend: CryptoBackend,
  realm: string = DEFAULT_REALM,
  options: SessionOptions = {},
): Promise<RegisterResult> {
  const { signing, encryption } = await loadIdentity(keystore, backend);
  return registerKeys(endpoint, username, signing, encryption, backend, realm, options);
}

/**
 * Registers `username` with these identity key pairs (`register` reads them from a key
 * store); `device` (a signed NewDeviceInput, docs/devices.md) is registered ACTIVE with it.
 */
export async function registerKeys(
  endpoint: string,
  username: string,
  signing: SigningKeyPair,
  encryption: EncryptionKeyPair,
  backend: CryptoBackend,
  realm: string = DEFAULT_REALM,
  options: SessionOptions & { device?: unknown } = {},
): Promise<RegisterResult> {
  const message = registrationMessage({ realm, username, signingKey: signing.publicKey, encryptionKey: encryption.publicKey });
  const signature = await backend.ed25519Sign(signing.seed, message);
  const data = await graphqlRequest<{ register?: { id?: unknown } }>(
    endpoint,
    REGISTER,
    {
      i: {
        username,
        signingKey: base64urlEncode(signing.publicKey),
        encryptionKey: base64urlEncode(encryption.publicKey),
        signature: base64urlEncode(signature),
        ...(options.device === undefined ? {} : { device: options.device }),
      },
    },
    options,
  );
  const userId = data.register?.id;
  if (typeof userId !== 'string') throw new SessionError('BAD_RESPONSE', 'register returned no user id');
  return { userId };
}

/**
 * Logs in with a fresh challenge (docs/auth.md §4–5) and returns the access token. A
 * wrong username or key fails with LOGIN_FAILED (the server does not say which).
 */
export async function login(
  endpoint: string,
  username: string,
  keystore: KeyStore,
  backend: CryptoBackend,
  realm: string = DEFAULT_REALM,
  options: SessionOptions = {},
): Promise<LoginResult> {
  const { signing } = await loadIdentity(keystore, backend);
  return signIn(endpoint, username, signing.seed, backend, realm, options);
}

/** A fresh challenge for `purpose`, as text (to send back) and bytes (to sign). */
export async function fetchChallenge(endpoint: string, username: string, purpose: AuthPurpose, options: SessionOptions = {}): Promise<{ text: string; bytes: Uint8Array }> {
  const ch = await graphqlRequest<{ challenge?: { challenge?: unknown } }>(endpoint, CHALLENGE, { u: username, p: purpose }, options);
  const text = ch.challenge?.challenge;
  if (typeof text !== 'string') throw new SessionError('BAD_RESPONSE', 'challenge returned no challenge');
  let bytes: Uint8Array;
  try {
    bytes = base64urlDecode(text);
  } catch (e) {
    throw new SessionError('BAD_RESPONSE', 'the challenge is not base64url', { cause: e });
  }
  if (bytes.length !== CHALLENGE_BYTES) throw new SessionError('BAD_RESPONSE', `the challenge is not ${CHALLENGE_BYTES} bytes`);
  return { text, bytes };
}

/**
 * Logs in with the Ed25519 `seed`: the identity key (what `login` uses), or with `deviceId`
 * a device's own key (docs/devices.md), whose session then belongs to the device.
 */
export async function signIn(
  endpoint: string,
  username: string,
  seed: Uint8Array,
  backend: CryptoBackend,
  realm: string = DEFAULT_REALM,
  options: SessionOptions & { deviceId?: string } = {},
): Promise<LoginResult> {
  const challenge = await fetchChallenge(endpoint, username, AuthPurpose.LOGIN, options);
  const signature = await backend.ed25519Sign(seed, loginMessage({ realm, username, purpose: AuthPurpose.LOGIN, challenge: challenge.bytes }));
  const data = await graphqlRequest<{ login?: { token?: unknown; expiresAt?: unknown; user?: { id?: unknown } } }>(
    endpoint,
    LOGIN,
    { u: username, c: challenge.text, s: base64urlEncode(signature), d: options.deviceId ?? null },
    options,
  );
  const { token, expiresAt, user } = data.login ?? {};
  if (typeof token !== 'string' || typeof user?.id !== 'string') throw new SessionError('BAD_RESPONSE', 'login returned no token');
  return { token, userId: user.id, expiresAt: typeof expiresAt === 'string' ? expiresAt : '' };
}
