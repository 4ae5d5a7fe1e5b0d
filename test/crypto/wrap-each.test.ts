// wrapKeyEach (src/crypto/wrap.ts): one single-stanza wrapped key per recipient, sharing one
// ephemeral key per call, each opening only for its own recipient exactly as a wrapKey with
// that one recipient does; on the portable and the node backend.
import { describe, expect, it } from 'vitest';
import {
  equalBytes,
  generateEncryptionKeyPair,
  generateSymmetricKey,
  nobleBackend,
  parseWrappedKey,
  unwrapKey,
  wrapKey,
  wrapKeyEach,
  type CryptoBackend,
  type Location,
} from '../../src/crypto/index.js';
import { nodeBackend } from '../../src/crypto/backends/node.js';

const LOCATION: Location = { coordinate: 'Conversation', ownerId: 'conv-1', objectId: 'epoch:2' };

describe.each([
  ['noble', nobleBackend],
  ['node', nodeBackend],
] as [string, CryptoBackend][])('wrapKeyEach on the %s backend', (_name, backend) => {
  it('each recipient opens its own wrapped key and no other; all share one ephemeral key, fresh per call', async () => {
    const key = { ...generateSymmetricKey(backend), version: 2 };
    const people = await Promise.all([1, 2, 3].map(() => generateEncryptionKeyPair(backend)));
    const recipients = people.map((p) => ({ keyId: p.keyId, publicKey: p.publicKey }));
    const wrapped = await wrapKeyEach(backend, key, LOCATION, recipients);
    expect(wrapped).toHaveLength(3);
    const parsed = wrapped.map((w) => parseWrappedKey(w));
    for (const [i, p] of parsed.entries()) {
      expect(p.recipientKeyIds).toHaveLength(1);
      expect(equalBytes(p.recipientKeyIds[0]!, people[i]!.keyId)).toBe(true);
      expect(p.signed).toBe(false);
      expect(equalBytes(p.ephemeral, parsed[0]!.ephemeral)).toBe(true);
      // The same length and layout as wrapKey's one-recipient wrap.
      expect(wrapped[i]!.length).toBe((await wrapKey(backend, key, LOCATION, [recipients[i]!])).length);
      const opened = await unwrapKey(backend, wrapped[i]!, people[i]!, LOCATION);
      expect(equalBytes(opened.bytes, key.bytes)).toBe(true);
      expect(opened.version).toBe(2);
      await expect(unwrapKey(backend, wrapped[i]!, people[(i + 1) % 3]!, LOCATION)).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' });
      await expect(unwrapKey(backend, wrapped[i]!, people[i]!, { ...LOCATION, objectId: 'epoch:3' })).rejects.toMatchObject({ code: 'WRONG_LOCATION' });
    }
    const again = await wrapKeyEach(backend, key, LOCATION, recipients.slice(0, 1));
    expect(equalBytes(parseWrappedKey(again[0]!).ephemeral, parsed[0]!.ephemeral)).toBe(false);
  });

  it('refuses a recipient twice (the zero nonce is safe only once per ephemeral key and recipient) and a key id that is not its key', async () => {
    const key = generateSymmetricKey(backend);
    const [a, b] = await Promise.all([generateEncryptionKeyPair(backend), generateEncryptionKeyPair(backend)]);
    const ra = { keyId: a.keyId, publicKey: a.publicKey };
    await expect(wrapKeyEach(backend, key, LOCATION, [ra, ra])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(wrapKeyEach(backend, key, LOCATION, [{ keyId: b.keyId, publicKey: a.publicKey }])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await wrapKeyEach(backend, key, LOCATION, [])).toEqual([]);
  });
});
