/**
 * @module
 * A new device's keys and proof of possession (docs/auth.md §12): the same checks wherever a
 * device is added (register, requestDeviceLink, recoverAccount, resetAccount).
 *
 *   1. name: 1–64 code points in the normal form of src/crypto/device-name.ts (NFKC; no
 *      control, format — bidi, zero-width — or other invisible characters; single spaces,
 *      none at either end): refused, never rewritten, since the device signed it; keys 32
 *      bytes and signature 64 bytes of strict base64url (BAD_USER_INPUT);
 *   2. keys acceptable, the same rule as identity keys (BAD_USER_INPUT);
 *   3. keys different from the account's identity keys, when given (BAD_USER_INPUT);
 *   4. Ed25519 signature by the device's signing key over the device message
 *      (src/crypto/account-messages.ts) for this realm and username (BAD_DEVICE_SIGNATURE).
 */
import type { CryptoBackend } from '../../../../crypto/backend.js';
import { deviceMessage } from '../../../../crypto/account-messages.js';
import { deviceNameProblem } from '../../../../crypto/device-name.js';
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from '../../../../crypto/auth-messages.js';
import { base64urlEncode } from '../../../../crypto/base64url.js';
import { equalBytes } from '../../../../crypto/bytes.js';
import { AuthError } from './errors.js';
import { assertAcceptableIdentityKeys, decodeFixedBase64url } from './validate.js';

/** What a client sends for a new device (src/server/services/sign-in/devices.graphql NewDeviceInput). */
export interface NewDeviceInput {
  readonly name: string;
  readonly signingKey: string;
  readonly encryptionKey: string;
  readonly signature: string;
}

export interface ParsedDevice {
  readonly name: string;
  readonly signingKey: Uint8Array;
  readonly encryptionKey: Uint8Array;
  readonly signature: Uint8Array;
}

/** Device ids: base64url of 16 CSPRNG bytes. */
export const DEVICE_ID_BYTES = 16;
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;
/** How long a link request (a PENDING device) waits for approval. */
export const DEVICE_LINK_TTL_MS = 10 * 60_000;

/** Step 1: shapes only, nothing about the account. */
export function parseNewDevice(input: NewDeviceInput | null | undefined): ParsedDevice {
  if (typeof input !== 'object' || input === null) throw new AuthError('BAD_USER_INPUT', 'device input missing');
  const { name } = input;
  // Names reach other people's device lists (anyone may ask to link to any account): nothing
  // hidden, nothing reordered. The message says which rule, never echoes the name.
  const problem = deviceNameProblem(name);
  if (problem !== null) throw new AuthError('BAD_USER_INPUT', `device name ${problem}`);
  return {
    name: name as string,
    signingKey: decodeFixedBase64url(input.signingKey, PUBLIC_KEY_BYTES, 'device.signingKey'),
    encryptionKey: decodeFixedBase64url(input.encryptionKey, PUBLIC_KEY_BYTES, 'device.encryptionKey'),
    signature: decodeFixedBase64url(input.signature, SIGNATURE_BYTES, 'device.signature'),
  };
}

/**
 * Steps 2–4. `identity`, when given, holds the account's identity keys the device's must
 * differ from (a device key is never an identity key: revoking one must not touch the other).
 */
export async function verifyNewDevice(
  backend: CryptoBackend,
  realm: string,
  username: string,
  device: ParsedDevice,
  identity?: { readonly signingKey: Uint8Array; readonly encryptionKey: Uint8Array },
): Promise<void> {
  await assertAcceptableIdentityKeys(backend, device.signingKey, device.encryptionKey);
  if (identity && (equalBytes(device.signingKey, identity.signingKey) || equalBytes(device.encryptionKey, identity.encryptionKey))) {
    throw new AuthError('BAD_USER_INPUT', "a device's keys must differ from the account's identity keys");
  }
  const message = deviceMessage({ realm, username, name: device.name, signingKey: device.signingKey, encryptionKey: device.encryptionKey });
  if (!(await backend.ed25519Verify(device.signingKey, message, device.signature))) {
    throw new AuthError('BAD_DEVICE_SIGNATURE', 'the device signature does not verify with the device signing key');
  }
}

/** A fresh device id (base64url of 16 CSPRNG bytes). */
export function newDeviceId(backend: CryptoBackend): string {
  return base64urlEncode(backend.randomBytes(DEVICE_ID_BYTES));
}
