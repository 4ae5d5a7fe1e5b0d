/**
 * What `recipients[].id` of a key bundle holds (docs/crypto.md §12), as the reference
 * client writes it against a real gateway: for a DEVICE, the key id (§3) of the device's
 * X25519 key as 22 characters of base64url, not the server's device id; for a backup, its
 * kind. Readers identify recipients by `encryptionKey`; the id is a label they keep.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { keyIdOf, keyIdText } from '../../src/crypto/keys.js';
import { Account } from '../../src/client/account.js';
import { MemoryKeyStore } from '../../src/client/keystore.js';
import { ROOMY_AUTH_LIMITS, startTestGateway, type TestGateway } from '../helpers/gateway.js';

let t: TestGateway;

beforeAll(async () => {
  t = await startTestGateway({ authLimits: ROOMY_AUTH_LIMITS });
});

afterAll(async () => {
  await t?.close();
});

describe('key bundle recipients', () => {
  it('a device is named by the key id of its X25519 key, a backup by its kind', async () => {
    const account = await Account.create({ endpoint: t.gateway.url, backend: nodeBackend, keystore: new MemoryKeyStore() }, 'alice', { deviceName: 'laptop' });
    await account.backupWithPhrase();
    const recipients = account.keyBundle.recipients;
    expect(recipients.map((r) => r.kind).sort()).toEqual(['DEVICE', 'PHRASE']);
    const device = recipients.find((r) => r.kind === 'DEVICE')!;
    expect(device.id).toBe(keyIdText(keyIdOf(nodeBackend, 'x25519', device.encryptionKey)));
    expect(device.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(device.id).not.toBe(account.deviceId);
    expect(device.name).toBe('laptop');
    const { encryption } = await account.identity();
    // The device's own X25519 key, not the account's identity key.
    expect(device.encryptionKey).not.toEqual(encryption.publicKey);
    expect(recipients.find((r) => r.kind === 'PHRASE')!.id).toBe('PHRASE');
  });
});
