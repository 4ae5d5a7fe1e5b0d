/**
 * openEnvelope from text and from bytes reads the header at fixed offsets instead of
 * building a ParsedEnvelope (src/crypto/envelope.ts, `openBytes`), and the client decodes
 * fields with `decodeEnvelopeTextInto`. Both must be indistinguishable from the general path
 * (`openEnvelope` on a ParsedEnvelope, which goes through parseEnvelope and openParsed):
 * for every envelope, well-formed or broken, the same plaintext and signer id, or the same
 * error code and message. Run on every backend, with one key, a ring, the wrong key, the
 * wrong version and the wrong location, signed and unsigned, for every one-byte change of
 * the header, truncations and extensions.
 */
import { describe, expect, it } from 'vitest';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { loadSodiumBackend } from '../../src/crypto/backends/sodium.js';
import { decodeEnvelopeTextInto } from '../../src/crypto/envelope.js';
import {
  PADDING_NONE,
  SymmetricKeyRing,
  base64urlEncode,
  generateSigningKeyPair,
  generateSymmetricKey,
  isCryptoError,
  nobleBackend,
  openEnvelope,
  openEnvelopeText,
  parseEnvelope,
  rotateSymmetricKey,
  sealEnvelope,
  sealSignedEnvelope,
  type CryptoBackend,
  type KeySource,
  type Location,
} from '../../src/crypto/index.js';

type Outcome = { ok: true; plaintext: string; signer: string | null } | { ok: false; code: string; message: string };

function outcome(f: () => { plaintext: Uint8Array; signerKeyId: Uint8Array | null }): Outcome {
  try {
    const r = f();
    return { ok: true, plaintext: Buffer.from(r.plaintext).toString('hex'), signer: r.signerKeyId ? Buffer.from(r.signerKeyId).toString('hex') : null };
  } catch (e) {
    if (!isCryptoError(e)) throw e;
    return { ok: false, code: e.code, message: e.message };
  }
}

const loc: Location = { coordinate: 'Profile.diary', ownerId: 'user_1', objectId: 'profile_1' };
const other: Location = { coordinate: 'Profile.bio', ownerId: 'user_1', objectId: 'profile_1' };

async function backends(): Promise<CryptoBackend[]> {
  const out = [nodeBackend, nobleBackend];
  try {
    out.push(await loadSodiumBackend());
  } catch {
    // Optional: where the addon cannot load, the other backends still run.
  }
  return out;
}

describe('the fast open path matches the general path', () => {
  it('for every one-byte change, truncation and extension, key source and location', async () => {
    let compared = 0;
    for (const be of await backends()) {
      const key = generateSymmetricKey(be);
      const next = rotateSymmetricKey(be, key);
      const stranger = generateSymmetricKey(be);
      const signer = await generateSigningKeyPair(be);
      const sources: KeySource[] = [key, next, stranger, new SymmetricKeyRing([key]), new SymmetricKeyRing([next]), new SymmetricKeyRing([key, next, stranger])];
      const originals = [
        sealEnvelope(be, key, loc, 'hello, world', { padding: PADDING_NONE }),
        sealEnvelope(be, key, loc, 'x'.repeat(300)),
        await sealSignedEnvelope(be, key, loc, 'signed value', signer),
      ];
      for (const env of originals) {
        const variants: Uint8Array[] = [env, env.subarray(0, env.length - 1), env.subarray(0, 80), env.subarray(0, 79), env.subarray(0, 62), new Uint8Array([...env, 0])];
        // Every byte of the (signed) header, and a few of the ciphertext and the end.
        const positions = [...Array.from({ length: 80 }, (_, i) => i), 100, env.length - 17, env.length - 1];
        for (const i of positions) {
          if (i >= env.length) continue;
          for (const flip of [0x01, 0x80, 0xff]) {
            const v = env.slice();
            v[i]! ^= flip;
            variants.push(v);
          }
        }
        for (const v of variants) {
          for (const keys of sources) {
            for (const where of [loc, other]) {
              const general = outcome(() => openEnvelope(be, parseEnvelope(v), keys, where));
              const text = base64urlEncode(v);
              expect(outcome(() => openEnvelope(be, v, keys, where))).toEqual(general);
              expect(outcome(() => openEnvelope(be, text, keys, where))).toEqual(general);
              // The transient path (openEnvelopeText, the client's) from text and bytes.
              const asText = (input: string | Uint8Array): Outcome => {
                try {
                  const s = openEnvelopeText(be, input, keys, where);
                  return general.ok ? { ...general, plaintext: Buffer.from(s).toString('hex') } : { ok: true, plaintext: s, signer: null };
                } catch (e) {
                  if (!isCryptoError(e)) throw e;
                  return { ok: false, code: e.code, message: e.message };
                }
              };
              expect(asText(text)).toEqual(general);
              expect(asText(v)).toEqual(general);
              compared++;
            }
          }
          // The client's decode-and-check: the same error as parseEnvelope, or the same bytes.
          const text = base64urlEncode(v);
          let want: string;
          try {
            parseEnvelope(v);
            want = 'ok';
          } catch (e) {
            want = isCryptoError(e) ? `${e.code}: ${e.message}` : String(e);
          }
          let got: string;
          try {
            const bytes = decodeEnvelopeTextInto(text, (n) => new Uint8Array(n));
            expect(Buffer.from(bytes).equals(Buffer.from(v))).toBe(true);
            got = 'ok';
          } catch (e) {
            got = isCryptoError(e) ? `${e.code}: ${e.message}` : String(e);
          }
          expect(got).toBe(want);
        }
      }
    }
    expect(compared).toBeGreaterThan(1000);
  }, 120_000);
});
