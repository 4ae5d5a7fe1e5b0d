// The key ring file (src/server/keyring.ts, docs/storage.md): what VEIL_KEYRING or keyring.json
// may hold. A ring the gateway cannot use unambiguously stops the start with KEYRING_INVALID.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { GatewayKeyRing, KEYRING_FORMAT, newKeyRingFile } from '../../src/server/keyring.js';

const dataDir = mkdtempSync(join(tmpdir(), 'veilgraph-keyring-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const load = (ring: unknown): GatewayKeyRing => GatewayKeyRing.load(nodeBackend, { dataDir, env: JSON.stringify(ring) });

/** A valid ring with keys of `versions`, the last one current. */
function ringWith(versions: readonly unknown[]): Record<string, unknown> {
  const base = newKeyRingFile(nodeBackend);
  const key = base.keys[0]!;
  return { ...base, current: versions[versions.length - 1], keys: versions.map((version) => ({ ...key, version })) };
}

describe('key ring versions', () => {
  it('loads a generated ring and one with versions 1, 2 and 7', () => {
    expect(load(newKeyRingFile(nodeBackend)).current().version).toBe(1);
    expect(load(ringWith([1, 2, 7])).current().version).toBe(7);
    expect(newKeyRingFile(nodeBackend).format).toBe(KEYRING_FORMAT);
  });

  for (const [what, versions] of [
    ['version 0', [0]],
    ['a negative version', [1, -2]],
    ['a fraction', [1, 1.5]],
    ['a version as text', ['1']],
    ['a version past u32', [2 ** 32]],
    ['a repeated version', [1, 2, 2]],
  ] as const) {
    it(`refuses ${what} with KEYRING_INVALID`, () => {
      expect(() => load(ringWith(versions))).toThrow(expect.objectContaining({ code: 'KEYRING_INVALID', message: expect.stringContaining('key versions must be distinct whole numbers') }));
    });
  }
});
