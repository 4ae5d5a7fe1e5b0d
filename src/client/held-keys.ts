/**
 * @module
 * The symmetric keys a client holds, for opening (every lineage and version, in one ring)
 * and for sealing (the newest version per scope: an object's data key, a conversation's
 * epoch key). Shared by `DataKeyClientKeys` and `Messenger`, which differ only in what a
 * scope is and how keys arrive.
 */
import { SymmetricKeyRing, keyIdText, type SymmetricKey } from '../crypto/keys.js';

export class HeldKeys {
  /** Every key held: what envelopes are opened with. */
  readonly ring = new SymmetricKeyRing();
  private readonly held = new Set<string>();
  private readonly newest = new Map<string, SymmetricKey>();

  /** Holds `key` for `scope`; it becomes the scope's sealing key if it is the newest version. */
  hold(scope: string, key: SymmetricKey): void {
    const k = `${keyIdText(key.id)}:${key.version}`;
    if (!this.held.has(k)) {
      this.ring.add(key);
      this.held.add(k);
    }
    const current = this.newest.get(scope);
    if (!current || current.version < key.version) this.newest.set(scope, key);
  }

  /** Whether the key of this lineage and version is held (no unwrap needed). */
  holds(keyId: Uint8Array, version: number): boolean {
    return this.held.has(`${keyIdText(keyId)}:${version}`);
  }

  /** The newest key held for `scope`. */
  latest(scope: string): SymmetricKey | undefined {
    return this.newest.get(scope);
  }
}
