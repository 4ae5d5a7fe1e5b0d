/**
 * @module
 * A `KeyStore` in one JSON file (Node only): `{ "version": 1, "keys": { name: base64url } }`.
 * Every write goes to a temporary file in the same directory, created with mode 0600,
 * fsynced and renamed over the target, so the file is always either the old or the new
 * version and never readable by other users. The contents are never logged; error
 * messages name the file, never a value.
 */
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join, basename, resolve } from 'node:path';
import { base64urlDecode, base64urlEncode } from '../crypto/base64url.js';
import { randomBytes } from '../crypto/random.js';
import { assertKeyName, assertKeyValue, type KeyStore } from './keystore.js';

const FORMAT_VERSION = 1;

interface FileShape {
  version: number;
  keys: Record<string, string>;
}

export class FileKeyStore implements KeyStore {
  /** Absolute path of the JSON file. */
  readonly path: string;
  /** Serialises writes within this process. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(path: string) {
    this.path = resolve(path);
  }

  #read(): Map<string, string> {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw new Error(`cannot read key store ${this.path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, { cause: e });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`key store ${this.path} is not valid JSON`);
    }
    const shape = parsed as Partial<FileShape> | null;
    if (!shape || typeof shape !== 'object' || shape.version !== FORMAT_VERSION || !shape.keys || typeof shape.keys !== 'object') {
      throw new Error(`key store ${this.path} has an unknown format`);
    }
    const out = new Map<string, string>();
    for (const [k, v] of Object.entries(shape.keys)) {
      if (typeof v !== 'string') throw new Error(`key store ${this.path} has an unknown format`);
      out.set(k, v);
    }
    return out;
  }

  #write(entries: Map<string, string>): void {
    const dir = dirname(this.path);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const keys: Record<string, string> = {};
    for (const k of [...entries.keys()].sort()) keys[k] = entries.get(k)!;
    const text = JSON.stringify({ version: FORMAT_VERSION, keys } satisfies FileShape, null, 2) + '\n';
    const tmp = join(dir, `.${basename(this.path)}.${process.pid}.${base64urlEncode(randomBytes(9))}.tmp`);
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } catch (e) {
      closeSync(fd);
      rmSync(tmp, { force: true });
      throw e;
    }
    closeSync(fd);
    try {
      chmodSync(tmp, 0o600); // the umask may have narrowed it further, never widened; be explicit
      renameSync(tmp, this.path);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
  }

  #mutate<T>(f: (entries: Map<string, string>) => T): Promise<T> {
    const next = this.#queue.then(() => {
      const entries = this.#read();
      const result = f(entries);
      this.#write(entries);
      return result;
    });
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async get(name: string): Promise<Uint8Array | undefined> {
    await this.#queue;
    const v = this.#read().get(name);
    return v === undefined ? undefined : base64urlDecode(v);
  }

  put(name: string, value: Uint8Array): Promise<void> {
    assertKeyName(name);
    assertKeyValue(value);
    const text = base64urlEncode(value);
    return this.#mutate((entries) => {
      entries.set(name, text);
    });
  }

  async delete(name: string): Promise<boolean> {
    await this.#queue;
    if (!this.#read().has(name)) return false;
    return this.#mutate((entries) => entries.delete(name));
  }

  async list(): Promise<string[]> {
    await this.#queue;
    return [...this.#read().keys()].sort();
  }

  /** Never print the values. */
  toJSON(): { kind: 'FileKeyStore'; path: string } {
    return { kind: 'FileKeyStore', path: this.path };
  }
}
