/**
 * The optional sodium backend's selection (explicit, never silently weaker) and the nonce
 * pool both Node backends use for envelope nonces. The sodium backend's primitives are held
 * to the published vectors with the other backends in ./backends.test.ts, its error codes in
 * ./errors.test.ts and ./hardening.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  PADDING_NONE,
  PADDING_PADME,
  base64urlDecode,
  base64urlEncode,
  generateSigningKeyPair,
  generateSymmetricKey,
  isCryptoError,
  nobleBackend,
  openEnvelope,
  openEnvelopeText,
  parseEnvelope,
  sealEnvelope,
  sealEnvelopeText,
  sealSignedEnvelope,
  type CryptoBackend,
} from '../../src/crypto/index.js';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { loadSodiumBackend, nativeBackendStatus, selectNodeBackend } from '../../src/crypto/backends/sodium.js';
import { NoncePool } from '../../src/crypto/nonce-pool.js';
import { toHex } from '../helpers/fixed-random.js';

const ROOT = resolve(import.meta.dirname, '../..');
const LOC = { coordinate: 'Profile.bio', ownerId: 'alice', objectId: 'p1' };

describe('selecting the sodium backend', () => {
  it('loads here (sodium-native is installed) and is what prefer and require select; off selects the node backend', async () => {
    const sodium = await loadSodiumBackend();
    expect(sodium.name).toBe('sodium');
    expect(await selectNodeBackend()).toBe(sodium);
    expect(nativeBackendStatus()).toEqual({ native: true, reason: null });
    expect(await selectNodeBackend({ native: 'require' })).toBe(sodium);
    expect(await selectNodeBackend({ native: 'off' })).toBe(nodeBackend);
    expect(nativeBackendStatus().native).toBe(false);
    const bad = await selectNodeBackend({ native: 'yes' as 'prefer' }).catch((e: unknown) => e);
    expect(isCryptoError(bad, 'INVALID_ARGUMENT')).toBe(true);
  });

  it('envelopes sealed by either Node backend open with the other', async () => {
    const sodium = await loadSodiumBackend();
    const key = generateSymmetricKey(nodeBackend);
    for (const [a, b] of [
      [sodium, nodeBackend],
      [nodeBackend, sodium],
    ] as const) {
      const env = sealEnvelope(a, key, LOC, 'hello');
      expect(new TextDecoder().decode(openEnvelope(b, env, key, LOC).plaintext)).toBe('hello');
    }
  });

  it('seals the same envelope bytes as the node and noble backends for the same nonce (in-place seal, libsodium SHA-256)', async () => {
    const sodium = await loadSodiumBackend();
    const key = generateSymmetricKey(nodeBackend);
    const fixedNonce = (be: CryptoBackend): CryptoBackend => {
      const b: CryptoBackend = { ...be, randomBytes: (n) => new Uint8Array(n).fill(0x5a) };
      delete b.fillNonce;
      return b;
    };
    for (const pt of ['', 'hello', 'x'.repeat(5000)]) {
      for (const padding of [PADDING_NONE, PADDING_PADME]) {
        const ref = toHex(sealEnvelope(fixedNonce(nobleBackend), key, LOC, pt, { padding }));
        expect(toHex(sealEnvelope(fixedNonce(sodium), key, LOC, pt, { padding }))).toBe(ref);
        expect(toHex(sealEnvelope(fixedNonce(nodeBackend), key, LOC, pt, { padding }))).toBe(ref);
        // The text form seals in reused memory: the same bytes, call after call.
        for (const be of [sodium, nodeBackend, nobleBackend]) {
          expect(toHex(base64urlDecode(sealEnvelopeText(fixedNonce(be), key, LOC, pt, { padding }))), be.name).toBe(ref);
        }
      }
    }
  });

  // The open path decodes text, builds the associated data and (for text results) opens the
  // plaintext in reused memory: nothing returned may alias it, and the checks are unchanged.
  it('opening from text into reused memory: same results and codes, nothing returned aliases the next open', async () => {
    const sodium = await loadSodiumBackend();
    const key = generateSymmetricKey(nodeBackend);
    const alice = await generateSigningKeyPair(nodeBackend);
    const bob = await generateSigningKeyPair(nodeBackend);
    for (const be of [sodium, nodeBackend]) {
      const a = base64urlEncode(await sealSignedEnvelope(be, key, LOC, 'from alice', alice));
      const b = base64urlEncode(await sealSignedEnvelope(be, key, LOC, 'from bob, longer', bob));
      const first = openEnvelope(be, a, key, LOC);
      const firstText = new TextDecoder().decode(first.plaintext);
      const second = openEnvelope(be, b, key, LOC);
      expect(firstText).toBe('from alice');
      expect(new TextDecoder().decode(first.plaintext)).toBe('from alice');
      expect(toHex(first.signerKeyId!)).toBe(toHex(alice.keyId));
      expect(toHex(second.signerKeyId!)).toBe(toHex(bob.keyId));
      expect(openEnvelopeText(be, a, key, LOC)).toBe('from alice');
      expect(openEnvelopeText(be, b, key, LOC)).toBe('from bob, longer');
      const bytes = base64urlDecode(a);
      bytes[bytes.length - 70]! ^= 1;
      const codeOf = (f: () => unknown): string | undefined => {
        try {
          f();
        } catch (e) {
          return isCryptoError(e) ? e.code : String(e);
        }
        return undefined;
      };
      expect(codeOf(() => openEnvelopeText(be, base64urlEncode(bytes), key, LOC)), be.name).toBe('ENVELOPE_TAMPERED');
      expect(codeOf(() => openEnvelopeText(be, a, key, { ...LOC, objectId: 'p2' })), be.name).toBe('WRONG_LOCATION');
      expect(codeOf(() => openEnvelopeText(be, a + 'A', key, LOC)), be.name).toBe('ENVELOPE_MALFORMED');
      expect(codeOf(() => openEnvelopeText(be, a, generateSymmetricKey(nodeBackend), LOC)), be.name).toBe('KEY_NOT_FOUND');
      // After failures the reused memory is free again: a good open still works.
      expect(openEnvelopeText(be, a, key, LOC)).toBe('from alice');
    }
  });

  // A process where `sodium-native` cannot be resolved (as after an install without the
  // optional dependency): loading rejects with BACKEND_UNAVAILABLE, require rejects, prefer
  // gives the node backend and says why.
  it('where sodium-native is missing: BACKEND_UNAVAILABLE, or the node backend with the reason', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vg-nosodium-'));
    const script = join(dir, 'probe.mts');
    writeFileSync(
      script,
      `import M from 'node:module';
const orig = (M as any)._resolveFilename;
(M as any)._resolveFilename = function (req: string, ...rest: unknown[]) {
  if (req === 'sodium-native') { const e = new Error("Cannot find module 'sodium-native'") as Error & { code: string }; e.code = 'MODULE_NOT_FOUND'; throw e; }
  return orig.call(this, req, ...rest);
};
const { loadSodiumBackend, selectNodeBackend, nativeBackendStatus } = await import(${JSON.stringify(join(ROOT, 'src/crypto/backends/sodium.ts'))});
const out: Record<string, unknown> = {};
try { await loadSodiumBackend(); out.load = 'loaded'; } catch (e) { out.load = (e as { code?: string }).code; }
try { await selectNodeBackend({ native: 'require' }); out.require = 'loaded'; } catch (e) { out.require = (e as { code?: string }).code; }
out.prefer = (await selectNodeBackend({ native: 'prefer' })).name;
out.status = nativeBackendStatus();
console.log(JSON.stringify(out));`,
    );
    const stdout = execFileSync(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, encoding: 'utf8' });
    const out = JSON.parse(stdout.trim().split('\n').pop()!) as { load: string; require: string; prefer: string; status: { native: boolean; reason: string } };
    expect(out.load).toBe('BACKEND_UNAVAILABLE');
    expect(out.require).toBe('BACKEND_UNAVAILABLE');
    expect(out.prefer).toBe('node');
    expect(out.status.native).toBe(false);
    expect(out.status.reason).toContain('sodium-native could not load');
  });
});

describe('nonce pool', () => {
  /** A fill that numbers its bytes: every byte of the stream is identifiable. */
  function counting(): { fill: (n: number) => Uint8Array; fills: () => number; served: (b: Uint8Array) => number[] } {
    let next = 0;
    let calls = 0;
    return {
      fill: (n) => {
        calls++;
        const out = new Uint8Array(n);
        const view = new DataView(out.buffer);
        for (let i = 0; i + 4 <= n; i += 4) view.setUint32(i, next++);
        return out;
      },
      fills: () => calls,
      served: (b) => Array.from({ length: b.length / 4 }, (_, i) => new DataView(b.buffer, b.byteOffset).getUint32(4 * i)),
    };
  }

  it('hands out every filled byte once, in order, across refills', () => {
    const c = counting();
    const pool = new NoncePool(c.fill, () => 1);
    const seen: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const n = new Uint8Array(24);
      pool.take(n);
      seen.push(...c.served(n));
    }
    // 2,000 × 24 bytes = 48,000 bytes: 12 fills of 4 KiB (the last partly used; 4096 is a
    // multiple of 4 but not of 24, so a refill drops at most 16 unused bytes, never reuses).
    expect(c.fills()).toBe(12);
    expect(new Set(seen).size).toBe(seen.length);
    for (let i = 1; i < seen.length; i++) expect(seen[i]! > seen[i - 1]!).toBe(true);
  });

  it('refills when the process id changes (a process started from a heap snapshot) instead of serving the rest', () => {
    const c = counting();
    let pid = 100;
    const pool = new NoncePool(c.fill, () => pid);
    const a = new Uint8Array(24);
    pool.take(a);
    expect(c.fills()).toBe(1);
    pid = 101;
    const b = new Uint8Array(24);
    pool.take(b);
    expect(c.fills()).toBe(2);
    // b is the start of the second fill (4096 / 4 = 1,024 counters later), not a's neighbour.
    expect(c.served(b)[0]).toBe(1024);
  });

  it('serves long requests straight from the fill', () => {
    const c = counting();
    const pool = new NoncePool(c.fill, () => 1);
    const big = new Uint8Array(1024);
    pool.take(big);
    expect(c.served(big)[0]).toBe(0);
    expect(c.fills()).toBe(1);
  });

  it('envelope nonces from both Node backends are all distinct', async () => {
    const sodium = await loadSodiumBackend();
    const key = generateSymmetricKey(nodeBackend);
    const seen = new Set<string>();
    for (let i = 0; i < 3000; i++) seen.add(toHex(parseEnvelope(sealEnvelope(i % 2 ? sodium : nodeBackend, key, LOC, 'x')).nonce));
    expect(seen.size).toBe(3000);
  });
});
