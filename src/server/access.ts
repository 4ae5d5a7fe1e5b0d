/**
 * @module
 * Who may read and write what, per request. The viewer comes only from the verified
 * token. Rules per level (docs/privacy.md):
 *
 *   level     read                               write
 *   PUBLIC    anyone                             owner, WRITE grantee
 *   SERVER    owner, any grantee                 owner, WRITE grantee
 *   SHARED    owner, any grantee                 owner, WRITE grantee
 *   PRIVATE   owner                              owner
 *
 * The owner check is synchronous (no promise on the hot path of an owner reading 1,000 of
 * their own rows); grants are looked up in one batched query per tick for all objects the
 * request touches.
 */
import type { PrivacyLevel } from '../privacy/levels.js';
import type { Access, Store } from './storage/store.js';

export interface Viewer {
  readonly id: string;
  /** The device the session signed in with (the token's `did`); absent for the identity key. */
  readonly deviceId?: string;
}

interface Batch {
  readonly ids: Set<string>;
  readonly done: Promise<void>;
}

export class RequestAccess {
  /** Grants looked up so far, by type then object id (null: none). Two maps, so a field check makes no key string. */
  private readonly grants = new Map<string, Map<string, Access | null>>();
  private readonly batches = new Map<string, Batch>();

  constructor(
    private readonly store: Store,
    readonly viewer: Viewer | null,
  ) {}

  private grantsOfType(typeName: string): Map<string, Access | null> {
    let m = this.grants.get(typeName);
    if (!m) {
      m = new Map();
      this.grants.set(typeName, m);
    }
    return m;
  }

  private remember(typeName: string, objectIds: Iterable<string>, rows: readonly { objectId: string; access: Access }[]): void {
    const m = this.grantsOfType(typeName);
    for (const id of objectIds) m.set(id, null);
    for (const r of rows) m.set(r.objectId, r.access);
  }

  /** The viewer's grant on an object (null: none). Batched: one query per type per tick. */
  grantOf(typeName: string, objectId: string): Promise<Access | null> {
    const viewer = this.viewer;
    if (!viewer) return Promise.resolve(null);
    const known = this.grants.get(typeName)?.get(objectId);
    if (known !== undefined) return Promise.resolve(known);
    let batch = this.batches.get(typeName);
    if (!batch) {
      const ids = new Set<string>();
      const done = Promise.resolve().then(async () => {
        this.batches.delete(typeName);
        const rows = await this.store.accessOf(typeName, [...ids], viewer.id);
        this.remember(typeName, ids, rows);
      });
      batch = { ids, done };
      this.batches.set(typeName, batch);
    }
    batch.ids.add(objectId);
    return batch.done.then(() => this.grants.get(typeName)?.get(objectId) ?? null);
  }

  /**
   * Loads the viewer's grants on many objects in one query, ahead of resolving their
   * fields: a list resolver calls this so every field check is then synchronous.
   */
  async prefetch(typeName: string, objectIds: readonly string[]): Promise<void> {
    const viewer = this.viewer;
    if (!viewer || objectIds.length === 0) return;
    const rows = await this.store.accessOf(typeName, objectIds, viewer.id);
    this.remember(typeName, objectIds, rows);
  }

  /**
   * Forgets the grants looked up so far. A subscription keeps one context for all its
   * events; the enforcement calls this before each event (./enforce.ts), so it is authorised
   * against the grants as they are when the event is delivered (a revoked grant stops the
   * next event's fields).
   */
  forgetGrants(): void {
    this.grants.clear();
  }

  canRead(typeName: string, objectId: string, ownerId: string, level: PrivacyLevel): boolean | Promise<boolean> {
    if (level === 'PUBLIC') return true;
    if (!this.viewer) return false;
    if (this.viewer.id === ownerId) return true;
    if (level === 'PRIVATE') return false;
    const known = this.grants.get(typeName)?.get(objectId);
    if (known !== undefined) return known !== null;
    return this.grantOf(typeName, objectId).then((g) => g !== null);
  }

  async canWrite(typeName: string, objectId: string, ownerId: string, level: PrivacyLevel): Promise<boolean> {
    if (!this.viewer) return false;
    if (this.viewer.id === ownerId) return true;
    if (level === 'PRIVATE') return false;
    return (await this.grantOf(typeName, objectId)) === 'WRITE';
  }
}
