/**
 * @module
 * The client side of the key directory (docs/sharing.md, "Key directory"; formats:
 * docs/crypto.md §11). Portable: no `node:` imports.
 *
 * The server serves every version of a user's public keys; it is not trusted to tell the
 * truth about them. Before any key is used:
 *
 * - the whole history is verified: versions 1..n, version 1 signed by its own key over the
 *   registration message, each later version by the version before it and by itself,
 *   every key id recomputed (`verifyKeyHistory`);
 * - the first verified history of a user is pinned in the key store (trust on first use);
 *   afterwards the pinned version must still be in the history with the same keys, and the
 *   username must still name the same account, or the history is refused
 *   (`KEY_PIN_MISMATCH`): a server that swaps or rewrites a key is caught as soon as the
 *   client has seen the real one;
 * - a newer version that chains from the pinned one is a verified change: reported
 *   (`changed`, `onKeyChange`) and pinned.
 *
 * Safety numbers let two people check, out of band, that each sees the other's real key:
 * that is what closes the first-use gap TOFU leaves.
 */
import type { CryptoBackend } from '../crypto/backend.js';
import { base64urlDecode, base64urlEncode } from '../crypto/base64url.js';
import { equalBytes, utf8Decode, utf8Encode } from '../crypto/bytes.js';
import { DEFAULT_REALM } from '../crypto/auth-messages.js';
import { keyVersionSignatureLength, safetyNumberOf, verifyKeyStatement } from '../crypto/key-directory.js';
import { KEY_ID_BYTES, keyIdOf } from '../crypto/keys.js';
import type { KeyStore } from './keystore.js';
import { graphqlRequest, type SessionOptions } from './session.js';

export type DirectoryErrorCode =
  /** A version's signature does not verify, including the unsigned version 1 of accounts registered before the directory. */
  | 'KEY_SIGNATURE_INVALID'
  /** The history is malformed: versions not exactly 1..n, bad key or signature bytes, a wrong key id, another username or account than asked for. */
  | 'KEY_HISTORY_INVALID'
  /** The history no longer contains the pinned keys at the pinned version, or the username now names another account. */
  | 'KEY_PIN_MISMATCH'
  /** The directory has no such user. */
  | 'USER_NOT_FOUND'
  /**
   * A version was made by an account reset (docs/devices.md): signed only by its own key,
   * so nothing links it to the keys before. Refused until the user compares safety numbers
   * out of band; a server could forge one.
   */
  | 'KEY_RESET';

/** Every refusal of a directory answer. Messages name users and versions, never key bytes. */
export class DirectoryError extends Error {
  override readonly name = 'DirectoryError';
  readonly code: DirectoryErrorCode;
  readonly username: string | undefined;
  /** The version the failure is about, when there is one. */
  readonly version: number | undefined;

  constructor(code: DirectoryErrorCode, message: string, options?: { username?: string; version?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.username = options?.username;
    this.version = options?.version;
  }
}

export function isDirectoryError(e: unknown, code?: DirectoryErrorCode): e is DirectoryError {
  return e instanceof DirectoryError && (code === undefined || e.code === code);
}

/** One version as the server sends it (src/server/services/directory/directory.graphql `KeyVersion`): unpadded base64url. */
export interface KeyVersionRecord {
  readonly version: number;
  readonly signingKey: string;
  readonly encryptionKey: string;
  readonly signature: string;
  readonly signingKeyId: string;
  readonly createdAt?: string;
  /** True for a version made by an account reset. */
  readonly reset?: boolean;
}

export interface KeyHistoryRecord {
  readonly userId: string;
  readonly username: string;
  readonly versions: readonly KeyVersionRecord[];
}

export interface KeyOwnerRecord {
  readonly signingKeyId: string;
  readonly userId: string;
  readonly username: string;
  readonly version: number;
}

/** How directory answers reach the client. `graphqlDirectoryTransport` is the usual one. */
export interface DirectoryTransport {
  /** The user's history, or null when there is no such user. */
  keyHistory(username: string): Promise<KeyHistoryRecord | null>;
  keyOwners(signingKeyIds: readonly string[]): Promise<readonly KeyOwnerRecord[]>;
}

export interface VerifiedKeyVersion {
  readonly version: number;
  /** Ed25519 public key, 32 bytes. */
  readonly signingKey: Uint8Array;
  /** X25519 public key, 32 bytes. */
  readonly encryptionKey: Uint8Array;
  /** Key id of `signingKey`, 16 bytes. */
  readonly signingKeyId: Uint8Array;
}

/** A verified history: its current (last) version's keys, and every version. */
export interface VerifiedHistory extends VerifiedKeyVersion {
  readonly versions: readonly VerifiedKeyVersion[];
}

/** Longest history a client accepts: far beyond any real rotation count, small enough to verify. */
export const MAX_HISTORY_VERSIONS = 1000;

function decodeExact(text: unknown, bytes: number, what: string, username: string, version: number): Uint8Array {
  let out: Uint8Array | undefined;
  if (typeof text === 'string') {
    try {
      out = base64urlDecode(text);
    } catch {
      out = undefined;
    }
  }
  if (!out || out.length !== bytes) throw new DirectoryError('KEY_HISTORY_INVALID', `${what} of version ${version} of ${username} is not ${bytes} bytes of base64url`, { username, version });
  return out;
}

/**
 * Verifies a whole key history as the server sent it and returns its current keys. Throws
 * `DirectoryError`: KEY_HISTORY_INVALID for a malformed history, KEY_SIGNATURE_INVALID for
 * a version whose signature does not verify (an unsigned legacy version 1 included).
 * Pure: no I/O, no pins; `KeyDirectory` adds those.
 */
export async function verifyKeyHistory(backend: CryptoBackend, realm: string, username: string, versions: readonly KeyVersionRecord[]): Promise<VerifiedHistory> {
  if (!Array.isArray(versions) || versions.length === 0) throw new DirectoryError('KEY_HISTORY_INVALID', `the key history of ${username} is empty`, { username });
  if (versions.length > MAX_HISTORY_VERSIONS) throw new DirectoryError('KEY_HISTORY_INVALID', `the key history of ${username} has more than ${MAX_HISTORY_VERSIONS} versions`, { username });
  const verified: VerifiedKeyVersion[] = [];
  let previous: VerifiedKeyVersion | undefined;
  for (const [i, record] of versions.entries()) {
    const version = i + 1;
    // Exactly 1..n in order: no gap, no duplicate, no version left out of the chain.
    if (typeof record !== 'object' || record === null || record.version !== version) {
      throw new DirectoryError('KEY_HISTORY_INVALID', `the key history of ${username} must hold versions 1..${versions.length} in order; position ${version} does not`, { username, version });
    }
    if (record.reset === true) {
      throw new DirectoryError('KEY_RESET', `version ${version} of ${username} comes from an account reset: it is not signed by the keys before it; compare safety numbers out of band before trusting it`, { username, version });
    }
    const signingKey = decodeExact(record.signingKey, 32, 'the signing key', username, version);
    const encryptionKey = decodeExact(record.encryptionKey, 32, 'the encryption key', username, version);
    if (record.signature === '') {
      throw new DirectoryError('KEY_SIGNATURE_INVALID', `version ${version} of ${username} is unsigned (an account registered before the key directory): it cannot be verified`, { username, version });
    }
    const signature = decodeExact(record.signature, keyVersionSignatureLength(version), 'the signature', username, version);
    const signingKeyId = keyIdOf(backend, 'ed25519', signingKey);
    if (record.signingKeyId !== base64urlEncode(signingKeyId)) {
      throw new DirectoryError('KEY_HISTORY_INVALID', `the signing key id of version ${version} of ${username} is not the id of its key`, { username, version });
    }
    if (!(await verifyKeyStatement(backend, { realm, username, version, previousSigningKey: previous?.signingKey, signingKey, encryptionKey }, signature))) {
      const by = version === 1 ? 'its own signing key (registration)' : `the signing keys of versions ${version - 1} and ${version}`;
      throw new DirectoryError('KEY_SIGNATURE_INVALID', `version ${version} of ${username} is not signed by ${by}`, { username, version });
    }
    previous = { version, signingKey, encryptionKey, signingKeyId };
    verified.push(previous);
  }
  return { ...previous!, versions: verified };
}

// ---------------------------------------------------------------------------------------
// Pins in the key store.

/** Key store name of the pin of a user's keys. */
export function pinKeyName(userId: string): string {
  return `pin.${userId}`;
}

/** Key store name binding a username to the account pinned for it. */
export function pinUsernameKeyName(username: string): string {
  return `pin-username.${username}`;
}

interface Pin {
  readonly version: number;
  readonly signingKey: Uint8Array;
  readonly encryptionKey: Uint8Array;
  readonly username: string;
}

// format (1) ‖ version u32be (4) ‖ signingKey (32) ‖ encryptionKey (32) ‖ utf8(username)
const PIN_FORMAT = 1;
const PIN_HEADER = 1 + 4 + 32 + 32;

function encodePin(p: Pin): Uint8Array {
  const name = utf8Encode(p.username);
  const out = new Uint8Array(PIN_HEADER + name.length);
  out[0] = PIN_FORMAT;
  new DataView(out.buffer).setUint32(1, p.version, false);
  out.set(p.signingKey, 5);
  out.set(p.encryptionKey, 37);
  out.set(name, PIN_HEADER);
  return out;
}

function decodePin(b: Uint8Array, username: string): Pin {
  const bad = (): DirectoryError => new DirectoryError('KEY_PIN_MISMATCH', `the key store's pin for ${username} is malformed`, { username });
  if (b.length <= PIN_HEADER || b[0] !== PIN_FORMAT) throw bad();
  try {
    const version = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(1, false);
    return { version, signingKey: b.slice(5, 37), encryptionKey: b.slice(37, PIN_HEADER), username: utf8Decode(b.slice(PIN_HEADER)) };
  } catch {
    throw bad();
  }
}

// ---------------------------------------------------------------------------------------
// The directory.

export interface VerifiedKeys {
  readonly userId: string;
  readonly username: string;
  /** The current version (what `signingKey` and `encryptionKey` are). */
  readonly version: number;
  readonly signingKey: Uint8Array;
  readonly encryptionKey: Uint8Array;
  /** Key id of `signingKey`, 16 bytes. */
  readonly signingKeyId: Uint8Array;
  /** True when this call found a verified newer version than the one pinned before it. */
  readonly changed: boolean;
  /** With `changed`: the version pinned before. */
  readonly previousVersion?: number;
}

export interface KeyChangeInfo {
  readonly userId: string;
  readonly username: string;
  readonly previousVersion: number;
  readonly version: number;
  readonly previousSigningKey: Uint8Array;
  readonly signingKey: Uint8Array;
}

export interface KeyDirectoryOptions {
  readonly backend: CryptoBackend;
  /** The server's realm (default "veilgraph"): part of every signed statement. */
  readonly realm?: string;
  /** Where pins live (`pin.<userId>`, `pin-username.<username>`). */
  readonly keystore: KeyStore;
  readonly transport: DirectoryTransport;
  /** Called, and awaited, after a verified key change has been pinned. */
  readonly onKeyChange?: (info: KeyChangeInfo) => void | Promise<void>;
}

export interface SignerInfo {
  readonly userId: string;
  readonly username: string;
  /** The version whose signing key has the id asked about (not necessarily the current one). */
  readonly version: number;
  readonly signingKey: Uint8Array;
}

interface Verified {
  readonly keys: VerifiedKeys;
  readonly history: VerifiedHistory;
}

/** Most distinct users `resolveSigners` checks for one key id (the server names them). */
const MAX_SIGNER_CANDIDATES = 5;
/** Histories `resolveSigners` fetches at a time. */
const HISTORY_FETCHES_AT_ONCE = 8;

export class KeyDirectory {
  readonly #backend: CryptoBackend;
  readonly #realm: string;
  readonly #keystore: KeyStore;
  readonly #transport: DirectoryTransport;
  readonly #onKeyChange: KeyDirectoryOptions['onKeyChange'];
  /** Verified results by username, for the life of this object. */
  readonly #cache = new Map<string, Verified>();
  /** One fetch per username at a time: concurrent callers share it (and its pin write). */
  readonly #inflight = new Map<string, Promise<Verified>>();
  /**
   * Every signing key this object can vouch for, by key id (base64url): those of the
   * verified histories in `#cache`, of the verified versions before a refused reset, and
   * those trusted first hand (`trust`).
   */
  readonly #signers = new Map<string, SignerInfo>();

  constructor(options: KeyDirectoryOptions) {
    this.#backend = options.backend;
    this.#realm = options.realm ?? DEFAULT_REALM;
    this.#keystore = options.keystore;
    this.#transport = options.transport;
    this.#onKeyChange = options.onKeyChange;
  }

  /**
   * `username`'s current keys, verified and checked against (or pinned as) what this key
   * store saw before. Cached for the life of this object; `refresh` fetches again.
   */
  async verifiedKeys(username: string, options: { refresh?: boolean } = {}): Promise<VerifiedKeys> {
    return (await this.#verified(username, options.refresh ?? false)).keys;
  }

  /**
   * Adds a signing key known first hand, not from the server: the user's own, from its key
   * store (`Account.keyDirectory()` adds it). `resolveSigners` then answers it from memory,
   * also when the server's history of that user would be refused (after an account reset,
   * a user's own history starts with a version only its own key signed).
   */
  trust(signer: SignerInfo): void {
    this.#signers.set(base64urlEncode(keyIdOf(this.#backend, 'ed25519', signer.signingKey)), signer);
  }

  /**
   * Who a signing key id (e.g. an envelope's signer) belongs to, checked against that
   * user's verified history; null when no verified history holds it. The server's
   * `keyOwners` answer only says whose history to fetch.
   */
  async resolveSigner(signingKeyId: Uint8Array): Promise<SignerInfo | null> {
    return (await this.resolveSigners([signingKeyId])).get(base64urlEncode(signingKeyId)) ?? null;
  }

  /**
   * `resolveSigner` for many key ids at once, by key id (base64url): what the privacy link
   * uses to check the signers of a result. Key ids of histories already verified are
   * answered from memory; the others take one `keyOwners` request together, then one
   * history fetch per user it names (fetched again: a key the cached history lacks may be
   * newer than it). A user whose history is refused (`DirectoryError`: a broken chain, a
   * pin mismatch, a reset) vouches for nothing: their keys stay unresolved (null).
   * Rejects only when the directory cannot be reached.
   */
  async resolveSigners(signingKeyIds: readonly Uint8Array[]): Promise<ReadonlyMap<string, SignerInfo | null>> {
    const out = new Map<string, SignerInfo | null>();
    const missing = new Set<string>();
    for (const id of signingKeyIds) {
      if (!(id instanceof Uint8Array) || id.length !== KEY_ID_BYTES) throw new TypeError(`signingKeyId must be ${KEY_ID_BYTES} bytes`);
      const text = base64urlEncode(id);
      if (out.has(text)) continue;
      const known = this.#signers.get(text);
      out.set(text, known ?? null);
      if (!known) missing.add(text);
    }
    if (missing.size === 0) return out;
    // The server's answer only says whose histories to fetch and verify.
    const owners = await this.#transport.keyOwners([...missing]);
    const perKey = new Map<string, Set<string>>();
    const users = new Map<string, string>();
    for (const o of Array.isArray(owners) ? owners : []) {
      if (!missing.has(o?.signingKeyId) || typeof o.userId !== 'string' || typeof o.username !== 'string') continue;
      const named = perKey.get(o.signingKeyId) ?? new Set<string>();
      if (named.size >= MAX_SIGNER_CANDIDATES || named.has(o.userId)) continue;
      named.add(o.userId);
      perKey.set(o.signingKeyId, named);
      users.set(o.userId, o.username);
    }
    const queue = [...users.values()];
    const fetchNext = async (): Promise<void> => {
      for (let username = queue.shift(); username !== undefined; username = queue.shift()) {
        try {
          await this.#verified(username, true);
        } catch (e) {
          if (!isDirectoryError(e)) throw e;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(HISTORY_FETCHES_AT_ONCE, queue.length) }, fetchNext));
    // A key counts only when a verified history holds it: the history's chain is signed by
    // the key itself, so it is that user's key whatever the server claimed.
    for (const text of missing) out.set(text, this.#signers.get(text) ?? null);
    return out;
  }

  /**
   * The safety number of the signed-in user (`myUsername`, `mySigningKey`: their own
   * current key, from their key store) and `theirUsername` (verified keys): 60 digits in
   * 12 groups, the same on both sides when each sees the other's real key.
   */
  async safetyNumber(myUsername: string, mySigningKey: Uint8Array, theirUsername: string): Promise<string> {
    const theirs = await this.verifiedKeys(theirUsername);
    return safetyNumberOf(this.#backend, { username: myUsername, signingKey: mySigningKey }, { username: theirs.username, signingKey: theirs.signingKey });
  }

  async #verified(username: string, refresh: boolean): Promise<Verified> {
    const cached = this.#cache.get(username);
    if (cached && !refresh) return cached;
    const running = this.#inflight.get(username);
    if (running) return running;
    const p = this.#fetchAndPin(username).finally(() => this.#inflight.delete(username));
    this.#inflight.set(username, p);
    return p;
  }

  /**
   * What this key store pinned for the user must hold in `history` (KEY_PIN_MISMATCH
   * otherwise): the username still names the pinned account (a server cannot hand out a
   * fresh, validly self-signed account under a name the client already knows), and the
   * history still holds the pinned keys at the pinned version.
   */
  async #checkPins(userId: string, username: string, history: VerifiedHistory): Promise<{ boundId: Uint8Array | undefined; pin: Pin | undefined }> {
    const boundId = await this.#keystore.get(pinUsernameKeyName(username));
    if (boundId && !equalBytes(boundId, utf8Encode(userId))) {
      throw new DirectoryError('KEY_PIN_MISMATCH', `the directory gives ${username} another account than the one pinned for that name`, { username });
    }
    const pinBytes = await this.#keystore.get(pinKeyName(userId));
    if (!pinBytes) return { boundId, pin: undefined };
    const pin = decodePin(pinBytes, username);
    if (pin.username !== username) throw new DirectoryError('KEY_PIN_MISMATCH', `the account pinned for ${pin.username} is now named ${username}`, { username });
    const atPin = history.versions[pin.version - 1];
    if (!atPin || !equalBytes(atPin.signingKey, pin.signingKey) || !equalBytes(atPin.encryptionKey, pin.encryptionKey)) {
      throw new DirectoryError('KEY_PIN_MISMATCH', `the key history of ${username} no longer holds the pinned keys of version ${pin.version}`, { username, version: pin.version });
    }
    return { boundId, pin };
  }

  #indexSigners(userId: string, username: string, versions: readonly VerifiedKeyVersion[]): void {
    for (const v of versions) this.#signers.set(base64urlEncode(v.signingKeyId), { userId, username, version: v.version, signingKey: v.signingKey });
  }

  /**
   * A history refused at an account reset still proves the versions before it (a chain the
   * user signed): their signing keys stay attributable, so values written before the reset
   * keep their writer. Nothing is pinned and no keys are returned for use: the reset
   * version itself stays refused until safety numbers are compared. A prefix that does not
   * verify or contradicts the pins adds nothing.
   */
  async #indexBeforeReset(userId: string, username: string, before: readonly KeyVersionRecord[]): Promise<void> {
    try {
      const prefix = await verifyKeyHistory(this.#backend, this.#realm, username, before);
      await this.#checkPins(userId, username, prefix);
      this.#indexSigners(userId, username, prefix.versions);
    } catch (e) {
      if (!isDirectoryError(e)) throw e;
    }
  }

  async #fetchAndPin(username: string): Promise<Verified> {
    const record = await this.#transport.keyHistory(username);
    if (record === null || record === undefined) throw new DirectoryError('USER_NOT_FOUND', `the directory has no user ${username}`, { username });
    if (typeof record !== 'object' || record.username !== username || typeof record.userId !== 'string' || record.userId.length === 0) {
      throw new DirectoryError('KEY_HISTORY_INVALID', `the directory answered for another user than ${username}`, { username });
    }
    const { userId } = record;
    let history: VerifiedHistory;
    try {
      history = await verifyKeyHistory(this.#backend, this.#realm, username, record.versions);
    } catch (e) {
      if (isDirectoryError(e, 'KEY_RESET') && e.version !== undefined && e.version > 1) await this.#indexBeforeReset(userId, username, record.versions.slice(0, e.version - 1));
      throw e;
    }
    const { boundId, pin } = await this.#checkPins(userId, username, history);

    const current: Pin = { version: history.version, signingKey: history.signingKey, encryptionKey: history.encryptionKey, username };
    let changed: { previousVersion: number; previousSigningKey: Uint8Array } | undefined;
    if (pin) {
      // Newer and chained from the pinned version (the whole chain verified): a real change.
      if (history.version > pin.version) {
        changed = { previousVersion: pin.version, previousSigningKey: pin.signingKey };
        await this.#keystore.put(pinKeyName(userId), encodePin(current));
      }
    } else {
      await this.#keystore.put(pinKeyName(userId), encodePin(current));
    }
    if (!boundId) await this.#keystore.put(pinUsernameKeyName(username), utf8Encode(userId));

    const keys: VerifiedKeys = {
      userId,
      username,
      version: history.version,
      signingKey: history.signingKey,
      encryptionKey: history.encryptionKey,
      signingKeyId: history.signingKeyId,
      changed: false,
    };
    // Later cache hits report no change: the change is reported once, by this call.
    this.#cache.set(username, { keys, history });
    this.#indexSigners(userId, username, history.versions);
    if (!changed) return { keys, history };
    if (this.#onKeyChange) {
      await this.#onKeyChange({ userId, username, previousVersion: changed.previousVersion, version: history.version, previousSigningKey: changed.previousSigningKey, signingKey: history.signingKey });
    }
    return { keys: { ...keys, changed: true, previousVersion: changed.previousVersion }, history };
  }
}

// ---------------------------------------------------------------------------------------
// Over GraphQL.

const KEY_VERSION_FIELDS = 'version signingKey encryptionKey signature signingKeyId createdAt reset';
const KEY_DIRECTORY = `query VgKeyDirectory($u: String!) { keyDirectory(username: $u) { userId username versions { ${KEY_VERSION_FIELDS} } } }`;
const KEY_OWNERS = 'query VgKeyOwners($ids: [String!]!) { keyOwners(signingKeyIds: $ids) { signingKeyId userId username version } }';
/** The server's limit per `keyOwners` request. */
const MAX_KEY_OWNER_IDS = 100;

/** The directory over GraphQL (src/server/services/directory/directory.graphql). Reads need no token; one is sent when `token()` gives one. */
export function graphqlDirectoryTransport(endpoint: string, token: () => string, options: SessionOptions = {}): DirectoryTransport {
  return {
    async keyHistory(username) {
      const data = await graphqlRequest<{ keyDirectory: KeyHistoryRecord | null }>(endpoint, KEY_DIRECTORY, { u: username }, { ...options, token: token() });
      return data.keyDirectory ?? null;
    },
    async keyOwners(signingKeyIds) {
      const out: KeyOwnerRecord[] = [];
      for (let i = 0; i < signingKeyIds.length; i += MAX_KEY_OWNER_IDS) {
        const data = await graphqlRequest<{ keyOwners: KeyOwnerRecord[] }>(endpoint, KEY_OWNERS, { ids: signingKeyIds.slice(i, i + MAX_KEY_OWNER_IDS) }, { ...options, token: token() });
        if (Array.isArray(data.keyOwners)) out.push(...data.keyOwners);
      }
      return out;
    },
  };
}
