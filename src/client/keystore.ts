/**
 * @module
 * Where a client keeps its secrets: named byte strings (identity seeds, the vault key,
 * the shared key). Portable: no `node:` imports. `MemoryKeyStore` is for tests and
 * short-lived sessions; `FileKeyStore` (Node only, `src/client/node.ts`) persists them.
 *
 * Implementations must never log or print the values, and should return copies so a
 * caller wiping its buffer cannot corrupt the store (and vice versa).
 */

/** Names the session helpers use (src/client/session.ts). Other names are free. */
export const KEY_NAMES = {
  /** Ed25519 seed, 32 bytes. */
  signingSeed: 'identity.signing.seed',
  /** X25519 private key, 32 bytes. */
  encryptionPrivate: 'identity.encryption.private',
  /** The vault key (PRIVATE values): key id (16) ‖ version u32be (4) ‖ key (32). */
  vault: 'key.vault',
  /** The shared key (SHARED values), same layout as the vault key. */
  shared: 'key.shared',
  /**
   * A key rotation sent but not yet confirmed (src/client/rotate-identity.ts): new version
   * u32be (4) ‖ Ed25519 seed (32) ‖ X25519 private key (32). Also written by the rotation:
   * `identity.encryption.private.v<N>` (the X25519 private key of directory version N,
   * kept after it is replaced); and by the key directory (src/client/directory.ts):
   * `pin.<userId>`, `pin-username.<username>` (public pins, not secrets).
   */
  rotationPending: 'identity.rotation.pending',
} as const;

export interface KeyStore {
  /** The secret stored under `name`, or `undefined`. */
  get(name: string): Promise<Uint8Array | undefined>;
  /** Stores (or replaces) `value` under `name`. */
  put(name: string, value: Uint8Array): Promise<void>;
  /** Removes `name`; true if it was present. */
  delete(name: string): Promise<boolean>;
  /** The stored names, sorted. */
  list(): Promise<string[]>;
}

/** Rejects names that could not round-trip through every store (empty, too long, control characters). */
export function assertKeyName(name: string): void {
  // eslint-disable-next-line no-control-regex
  if (typeof name !== 'string' || name.length === 0 || name.length > 200 || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new TypeError('key name must be 1–200 printable characters');
  }
}

function assertValue(value: Uint8Array): void {
  if (!(value instanceof Uint8Array)) throw new TypeError('key store values must be Uint8Array');
}

/** Keeps secrets in memory only (lost when the process ends). */
export class MemoryKeyStore implements KeyStore {
  readonly #entries = new Map<string, Uint8Array>();

  async get(name: string): Promise<Uint8Array | undefined> {
    const v = this.#entries.get(name);
    return v ? v.slice() : undefined;
  }

  async put(name: string, value: Uint8Array): Promise<void> {
    assertKeyName(name);
    assertValue(value);
    this.#entries.set(name, value.slice());
  }

  async delete(name: string): Promise<boolean> {
    return this.#entries.delete(name);
  }

  async list(): Promise<string[]> {
    return [...this.#entries.keys()].sort();
  }

  /** Never print the values (console.log, util.inspect, JSON.stringify). */
  toJSON(): { kind: 'MemoryKeyStore'; names: number } {
    return { kind: 'MemoryKeyStore', names: this.#entries.size };
  }
}

export { assertValue as assertKeyValue };
