/**
 * @module
 * This device's own keys (docs/devices.md, "Devices"). Portable: no `node:` imports.
 *
 * Every device has an Ed25519 key it signs in with and an X25519 key the account's key
 * bundle is wrapped to. They never leave the device: linking, recovery and revocation
 * only ever move the *public* halves, and the bundle wrapped to them. Losing a device
 * loses only its keys; revoking it drops them from every later bundle.
 */
import type { CryptoBackend } from '../crypto/backend.js';
import { base64urlEncode } from '../crypto/base64url.js';
import { deviceMessage } from '../crypto/account-messages.js';
import { deviceNameProblem, normalizeDeviceName } from '../crypto/device-name.js';
import { utf8Decode, utf8Encode } from '../crypto/bytes.js';
import {
  encryptionKeyPairFromPrivate,
  generateEncryptionKeyPair,
  generateSigningKeyPair,
  signingKeyPairFromSeed,
  type EncryptionKeyPair,
  type SigningKeyPair,
} from '../crypto/keys.js';
import type { KeyStore } from './keystore.js';

/** Key store names of this device's keys (values: raw bytes; id and name UTF-8). */
export const DEVICE_KEY_NAMES = {
  /** The server's id of this device, once it has one (register, link request, recovery). */
  id: 'device.id',
  name: 'device.name',
  /** Ed25519 seed, 32 bytes. */
  signingSeed: 'device.signing.seed',
  /** X25519 private key, 32 bytes. */
  encryptionPrivate: 'device.encryption.private',
} as const;

export interface LocalDevice {
  /** Undefined until the server has assigned one. */
  readonly id: string | undefined;
  readonly name: string;
  readonly signing: SigningKeyPair;
  readonly encryption: EncryptionKeyPair;
}

/** NewDeviceInput of src/server/services/sign-in/devices.graphql: public keys and the proof of possession. */
export interface NewDeviceInput {
  readonly name: string;
  readonly signingKey: string;
  readonly encryptionKey: string;
  readonly signature: string;
}

/** A device name the gateway accepts (src/crypto/device-name.ts), else TypeError. */
export function assertDeviceName(name: string): void {
  const problem = deviceNameProblem(name);
  if (problem !== null) throw new TypeError(`a device name ${problem}`);
}

/**
 * New device keys, in memory only (`saveDevice` keeps them once the server accepted them).
 * `name` is what the user typed: it is normalised first (the gateway accepts only the normal
 * form, and the device signs the name), and refused when nothing acceptable is left.
 */
export async function generateDevice(backend: CryptoBackend, name: string): Promise<LocalDevice> {
  const normal = normalizeDeviceName(name);
  assertDeviceName(normal);
  return { id: undefined, name: normal, signing: await generateSigningKeyPair(backend), encryption: await generateEncryptionKeyPair(backend) };
}

/** Writes the device's keys (and id, when it has one) to `keystore`, replacing any there. */
export async function saveDevice(keystore: KeyStore, device: LocalDevice): Promise<void> {
  await keystore.put(DEVICE_KEY_NAMES.name, utf8Encode(device.name));
  await keystore.put(DEVICE_KEY_NAMES.signingSeed, device.signing.seed);
  await keystore.put(DEVICE_KEY_NAMES.encryptionPrivate, device.encryption.privateKey);
  if (device.id === undefined) await keystore.delete(DEVICE_KEY_NAMES.id);
  else await keystore.put(DEVICE_KEY_NAMES.id, utf8Encode(device.id));
}

/** This device's keys from `keystore`, or null when it holds none (or malformed ones). */
export async function loadDevice(keystore: KeyStore, backend: CryptoBackend): Promise<LocalDevice | null> {
  const seed = await keystore.get(DEVICE_KEY_NAMES.signingSeed);
  const priv = await keystore.get(DEVICE_KEY_NAMES.encryptionPrivate);
  const name = await keystore.get(DEVICE_KEY_NAMES.name);
  if (seed?.length !== 32 || priv?.length !== 32 || !name) return null;
  const id = await keystore.get(DEVICE_KEY_NAMES.id);
  return {
    id: id ? utf8Decode(id) : undefined,
    name: utf8Decode(name),
    signing: await signingKeyPairFromSeed(backend, seed),
    encryption: await encryptionKeyPairFromPrivate(backend, priv),
  };
}

/** The device's public keys, signed over the device message (docs/crypto.md §12). */
export async function signedDeviceInput(backend: CryptoBackend, device: LocalDevice, realm: string, username: string): Promise<NewDeviceInput> {
  const message = deviceMessage({ realm, username, name: device.name, signingKey: device.signing.publicKey, encryptionKey: device.encryption.publicKey });
  return {
    name: device.name,
    signingKey: base64urlEncode(device.signing.publicKey),
    encryptionKey: base64urlEncode(device.encryption.publicKey),
    signature: base64urlEncode(await backend.ed25519Sign(device.signing.seed, message)),
  };
}
