/**
 * @module
 * Which crypto backend the gateway runs on (`nativeCrypto`, VEIL_CRYPTO_NATIVE): by default the
 * optional libsodium backend where `sodium-native` loads and passes its known-answer check, else
 * the node backend (`selectNodeBackend`, ../crypto/backends/sodium.ts). Both implement the same
 * algorithms with the same checks and give the same bytes (test/crypto/backends.test.ts), so
 * the choice is one of speed only: libsodium opens a SERVER blob in one native call where the
 * node backend runs HChaCha20 in JavaScript and builds a node:crypto cipher per open.
 *
 *   'prefer'  (default) sodium where it loads, else node, with the reason logged
 *   'require' sodium, or the gateway does not start (CONFIG_INVALID with the reason)
 *   'off'     node
 *
 * The choice is logged once at start (`crypto.backend`): the backend's name and, when it is
 * not the native one, why. A `backend` passed explicitly is used as given.
 */
import type { CryptoBackend } from '../crypto/backend.js';
import { nativeBackendStatus, selectNodeBackend } from '../crypto/backends/sodium.js';
import { configInvalid } from './errors.js';
import type { Logger } from './log.js';

export type NativeCrypto = 'prefer' | 'require' | 'off';
export const NATIVE_CRYPTO_CHOICES: readonly NativeCrypto[] = ['prefer', 'require', 'off'];
export const DEFAULT_NATIVE_CRYPTO: NativeCrypto = 'prefer';

/** CONFIG_INVALID unless `native` is undefined or one of NATIVE_CRYPTO_CHOICES, or when both it and a backend are given. */
export function checkNativeCrypto(native: unknown, backendGiven: boolean): void {
  if (native === undefined) return;
  if (!NATIVE_CRYPTO_CHOICES.includes(native as NativeCrypto)) throw configInvalid(`nativeCrypto must be 'prefer', 'require' or 'off', got ${JSON.stringify(native)}`);
  if (backendGiven) throw configInvalid('pass either backend or nativeCrypto, not both');
}

/** The backend the gateway runs on, as the module comment says; logs the choice. */
export async function gatewayBackend(options: { readonly backend?: CryptoBackend; readonly nativeCrypto?: NativeCrypto }, log: Logger): Promise<CryptoBackend> {
  checkNativeCrypto(options.nativeCrypto, options.backend !== undefined);
  if (options.backend) {
    log.info('crypto.backend', { backend: options.backend.name, chosen: 'given' });
    return options.backend;
  }
  const native = options.nativeCrypto ?? DEFAULT_NATIVE_CRYPTO;
  let backend: CryptoBackend;
  try {
    backend = await selectNodeBackend({ native });
  } catch (e) {
    throw configInvalid(`nativeCrypto 'require': ${e instanceof Error ? e.message : String(e)}; install sodium-native (an optional dependency) or set nativeCrypto / VEIL_CRYPTO_NATIVE to 'prefer' or 'off'`);
  }
  const status = nativeBackendStatus();
  log.info('crypto.backend', { backend: backend.name, native, ...(status.native ? {} : { reason: status.reason }) });
  return backend;
}
