/**
 * @module
 * Picks the fastest backend a portable runtime offers: WebCrypto's native curves when
 * present (browsers, Node ≥ 20), otherwise the pure-JS reference. Node code that can
 * import `node:` modules should prefer `nodeBackend` from `veilgraph/crypto/node`,
 * which is also native for ChaCha20-Poly1305 and the hashes.
 */
import type { CryptoBackend } from './backend.js';
import { nobleBackend } from './backends/noble.js';
import { webCryptoBackend, webCryptoSupportsCurves } from './backends/webcrypto.js';

export async function selectPortableBackend(): Promise<CryptoBackend> {
  return (await webCryptoSupportsCurves()) ? webCryptoBackend : nobleBackend;
}
