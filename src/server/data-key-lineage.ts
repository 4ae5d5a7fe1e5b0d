/**
 * @module
 * An object's data key lineage, as the gateway holds everyone to it (docs/sharing.md, "Data
 * key lineage"). Every version of one object's data key has the same key id, and versions
 * run 1, 2, 3, …: the first key an object gets is version 1 and names the lineage; each
 * rotation (a revocation, or a `putDataKeys` of the next version) is the same key id at
 * version + 1. The server cannot open a wrapped key, but its header names the key (id and
 * version, docs/crypto.md §7) and an envelope's header names the key it was sealed under
 * (§6), so the server holds these from public bytes alone:
 *
 * - a SHARED value is sealed under the object's newest stored key: its key id
 *   (`WRONG_DATA_KEY`) and version (`STALE_DATA_KEY`); an object with no data key takes no
 *   SHARED value (`NO_DATA_KEY`);
 * - wrapped keys that a grant, a revocation or `putDataKeys` stores are of that lineage
 *   (`WRONG_DATA_KEY`).
 *
 * Without this a writer could seal under a key of their own choosing (a lineage the owner
 * and the other readers never receive), and a key put could start a second lineage beside
 * the first: readers then hold keys that no longer open what is written.
 */
import type { CryptoBackend } from '../crypto/backend.js';
import { equalBytes } from '../crypto/bytes.js';
import type { ParsedEnvelope } from '../crypto/envelope.js';
import { locationTag } from '../crypto/location.js';
import { parseWrappedKey } from '../crypto/wrap.js';
import { gatewayError } from './errors.js';
import type { LayerStore, ObjectKeyRow } from './storage/store.js';

/** Which key (lineage id and version) something is sealed or wrapped under. */
export interface DataKeyRef {
  readonly keyId: Uint8Array;
  readonly keyVersion: number;
}

/** The key a wrapped key row wraps, from its header (rows were checked when they were stored). */
function wrappedKeyRef(row: Pick<ObjectKeyRow, 'wrapped' | 'keyVersion'>): DataKeyRef {
  return { keyId: parseWrappedKey(row.wrapped).keyId.slice(), keyVersion: row.keyVersion };
}

/**
 * The current data key (the newest stored version) of `ownerId`'s object, or null when it
 * has none. A stored key bound to another owner (the key of someone else's object with
 * this id) counts as none: a writer who is not the owner's learns nothing of that key, not
 * even that it exists.
 */
export async function currentDataKey(
  services: { readonly store: Pick<LayerStore, 'newestObjectKey'>; readonly backend: CryptoBackend },
  objectType: string,
  ownerId: string,
  objectId: string,
): Promise<DataKeyRef | null> {
  const row = await services.store.newestObjectKey(objectType, objectId);
  if (!row) return null;
  const w = parseWrappedKey(row.wrapped);
  if (!equalBytes(w.locationTag, locationTag(services.backend, { coordinate: objectType, ownerId, objectId }))) return null;
  return { keyId: w.keyId.slice(), keyVersion: row.keyVersion };
}

/**
 * A SHARED value at `field` must be sealed under `current`, the object's data key:
 * NO_DATA_KEY, WRONG_DATA_KEY or STALE_DATA_KEY (with `extensions.keyVersion`, the version
 * to seal under) otherwise.
 */
export function assertSealedUnderDataKey(field: string, env: Pick<ParsedEnvelope, 'keyId' | 'keyVersion'>, current: DataKeyRef | null): void {
  if (!current) {
    throw gatewayError('NO_DATA_KEY', `${field}: the object has no data key: store its first one (putDataKeys, version 1) before writing SHARED values`, { field });
  }
  if (!equalBytes(env.keyId, current.keyId)) {
    throw gatewayError('WRONG_DATA_KEY', `${field}: sealed under another key than the object's data key; fetch the object's keys and seal under its newest`, {
      field,
      keyVersion: current.keyVersion,
    });
  }
  if (env.keyVersion !== current.keyVersion) {
    throw gatewayError('STALE_DATA_KEY', `${field}: sealed under data key version ${env.keyVersion}, but the object's newest is ${current.keyVersion}; fetch the keys again and re-seal`, {
      field,
      keyVersion: current.keyVersion,
    });
  }
}

/**
 * Wrapped keys to be stored for an object wrap keys of one lineage: `keyId` when the object
 * has one, else the first row's. WRONG_DATA_KEY (naming the first key that differs) otherwise.
 */
export function assertOneLineage(rows: readonly ObjectKeyRow[], current: DataKeyRef | null, field = 'keys'): void {
  const lineage = current?.keyId ?? (rows[0] ? wrappedKeyRef(rows[0]).keyId : null);
  if (!lineage) return;
  rows.forEach((r, index) => {
    if (!equalBytes(wrappedKeyRef(r).keyId, lineage)) {
      const why = current ? "wraps another key than the object's data key (same key id, versions 1, 2, …)" : 'wraps another key than the other keys given';
      throw gatewayError('WRONG_DATA_KEY', `${field}[${index}]: ${why}`, { field: `${field}.${index}`, index, ...(current ? { keyVersion: current.keyVersion } : {}) });
    }
  });
}
