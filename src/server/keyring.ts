/**
 * @module
 * The gateway's key ring for SERVER-level fields: versioned symmetric keys, the newest
 * sealing new writes, all of them opening old rows. Rotation adds a version; existing
 * rows are re-sealed in the background (see ./rotation.ts) while reads keep working,
 * because every version stays in the ring.
 *
 * Source, in order: the VEIL_KEYRING environment variable (the file format below as JSON),
 * else `<dataDir>/keyring.json`, else a new ring generated there (and said so in the log).
 * The file is written atomically (temp file + rename) with mode 0600.
 *
 *   { "format": "veilgraph-keyring/1", "id": "<22 chars: key lineage id>", "current": 2,
 *     "keys": [{ "version": 1, "key": "<43 chars>", "createdAt": "…" }, …],
 *     "indexKey": "<43 chars: root of the blind-index keys, never rotated with the ring>" }
 */
import { chmodSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CryptoBackend } from '../crypto/backend.js';
import { base64urlDecode, base64urlEncode } from '../crypto/base64url.js';
import { utf8Encode } from '../crypto/bytes.js';
import { CryptoError } from '../crypto/errors.js';
import { SymmetricKeyRing, type SymmetricKey } from '../crypto/keys.js';
import { ensurePrivateDir, PRIVATE_FILE_MODE } from './private-files.js';

export const KEYRING_FORMAT = 'veilgraph-keyring/1';
const RELOAD_INTERVAL_MS = 1000;

export interface KeyRingFile {
  readonly format: typeof KEYRING_FORMAT;
  readonly id: string;
  readonly current: number;
  readonly keys: readonly { readonly version: number; readonly key: string; readonly createdAt: string }[];
  readonly indexKey: string;
}

export class KeyRingError extends Error {
  override readonly name = 'KeyRingError';
  readonly code = 'KEYRING_INVALID';
}

function parseFile(json: string, where: string): KeyRingFile {
  let f: KeyRingFile;
  try {
    f = JSON.parse(json) as KeyRingFile;
  } catch {
    throw new KeyRingError(`${where}: not valid JSON`);
  }
  const ok =
    f &&
    f.format === KEYRING_FORMAT &&
    typeof f.id === 'string' &&
    Array.isArray(f.keys) &&
    f.keys.length > 0 &&
    typeof f.indexKey === 'string' &&
    f.keys.some((k) => k.version === f.current);
  if (!ok) throw new KeyRingError(`${where}: not a ${KEYRING_FORMAT} key ring (format, id, keys, current, indexKey)`);
  // Versions number a lineage from 1 (docs/crypto.md §3) and the envelope header holds a u32;
  // a repeated version would make "which key opens version n" ambiguous.
  const versions = f.keys.map((k) => (k as { version?: unknown } | null)?.version);
  if (!versions.every((v) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 0xffff_ffff) || new Set(versions).size !== versions.length) {
    throw new KeyRingError(`${where}: key versions must be distinct whole numbers from 1 to 4294967295`);
  }
  return f;
}

function decodeKey(text: string, where: string): Uint8Array {
  try {
    const b = base64urlDecode(text);
    if (b.length === 32) return b;
  } catch {
    /* reported below */
  }
  throw new KeyRingError(`${where}: keys must be 32 bytes of base64url`);
}

export function newKeyRingFile(backend: CryptoBackend): KeyRingFile {
  return {
    format: KEYRING_FORMAT,
    id: base64urlEncode(backend.randomBytes(16)),
    current: 1,
    keys: [{ version: 1, key: base64urlEncode(backend.randomBytes(32)), createdAt: new Date().toISOString() }],
    indexKey: base64urlEncode(backend.randomBytes(32)),
  };
}

export function writeKeyRingFile(path: string, file: KeyRingFile): void {
  ensurePrivateDir(dirname(path));
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(file, null, 2) + '\n', { mode: PRIVATE_FILE_MODE });
  chmodSync(tmp, PRIVATE_FILE_MODE);
  renameSync(tmp, path);
}

/** Adds a new current version to the ring file; returns the new version. */
export function rotateKeyRingFile(backend: CryptoBackend, path: string): number {
  const f = parseFile(readFileSync(path, 'utf8'), path);
  const version = Math.max(...f.keys.map((k) => k.version)) + 1;
  writeKeyRingFile(path, {
    ...f,
    current: version,
    keys: [...f.keys, { version, key: base64urlEncode(backend.randomBytes(32)), createdAt: new Date().toISOString() }],
  });
  return version;
}

export interface KeyRingSource {
  readonly dataDir: string;
  /** The VEIL_KEYRING value, if set. */
  readonly env?: string | undefined;
  readonly onGenerated?: (path: string) => void;
}

export class GatewayKeyRing {
  private ring = new SymmetricKeyRing();
  private currentKey!: SymmetricKey;
  private indexRoot!: Uint8Array;
  private readonly indexKeys = new Map<string, Uint8Array>();
  private mtimeMs = 0;
  private lastCheck = 0;
  private gen = 0;

  private constructor(
    private readonly backend: CryptoBackend,
    /** The file the ring was loaded from; null when it came from the environment. */
    readonly path: string | null,
  ) {}

  static load(backend: CryptoBackend, source: KeyRingSource): GatewayKeyRing {
    if (source.env) {
      const k = new GatewayKeyRing(backend, null);
      k.apply(parseFile(source.env, 'VEIL_KEYRING'));
      return k;
    }
    const path = join(source.dataDir, 'keyring.json');
    if (!existsSync(path)) {
      writeKeyRingFile(path, newKeyRingFile(backend));
      source.onGenerated?.(path);
    }
    const k = new GatewayKeyRing(backend, path);
    k.reload();
    return k;
  }

  private apply(f: KeyRingFile): void {
    const idBytes = base64urlDecode(f.id);
    if (idBytes.length !== 16) throw new KeyRingError('key ring id must be 16 bytes of base64url');
    const ring = new SymmetricKeyRing();
    let current: SymmetricKey | undefined;
    for (const k of f.keys) {
      const key = { id: idBytes, version: k.version, bytes: decodeKey(k.key, `key version ${k.version}`) };
      ring.add(key);
      if (k.version === f.current) current = key;
    }
    this.ring = ring;
    this.currentKey = current!;
    this.indexRoot = decodeKey(f.indexKey, 'indexKey');
    this.indexKeys.clear();
    this.gen++;
  }

  private reload(): void {
    if (!this.path) return;
    const st = statSync(this.path);
    this.apply(parseFile(readFileSync(this.path, 'utf8'), this.path));
    this.mtimeMs = st.mtimeMs;
  }

  /**
   * Picks up a rotation done by another process (the CLI): re-reads the file when its
   * modification time changed, at most once a second unless `force`.
   */
  refresh(force = false): void {
    if (!this.path) return;
    const now = Date.now();
    if (!force && now - this.lastCheck < RELOAD_INTERVAL_MS) return;
    this.lastCheck = now;
    try {
      if (statSync(this.path).mtimeMs !== this.mtimeMs) this.reload();
    } catch {
      /* keep the ring we have; the file may be mid-rename */
    }
  }

  /** The key new writes are sealed with. */
  current(): SymmetricKey {
    this.refresh();
    return this.currentKey;
  }

  /**
   * Counts the rings this object has held: it changes whenever the keys are (re)loaded, so
   * whatever was opened under one ring (./server-field-cache.ts) can be told apart from
   * what the ring now opens. Picks up a rotation as `current()` does.
   */
  generation(): number {
    this.refresh();
    return this.gen;
  }

  /** All versions, for opening. Reloads once if `version` is unknown (a newer rotation). */
  ringFor(version: number): SymmetricKeyRing {
    try {
      this.ring.get(this.currentKey.id, version);
    } catch (e) {
      if (!(e instanceof CryptoError)) throw e;
      this.refresh(true);
    }
    return this.ring;
  }

  /** The blind-index key for one schema coordinate: HKDF(indexKey, "veilgraph/v1/blind-index" ‖ 0 ‖ coordinate). */
  indexKey(coordinate: string): Uint8Array {
    let k = this.indexKeys.get(coordinate);
    if (!k) {
      k = this.backend.hkdfSha256(this.indexRoot, new Uint8Array(0), utf8Encode(`veilgraph/v1/blind-index\0${coordinate}`), 32);
      this.indexKeys.set(coordinate, k);
    }
    return k;
  }
}
