/**
 * @module
 * The gateway's own secrets (token signing, challenge MACs): from the environment, else
 * from `<dataDir>/secrets.json` (mode 0600), generated on first start.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CryptoBackend } from '../crypto/backend.js';
import { base64urlDecode, base64urlEncode } from '../crypto/base64url.js';
import { configInvalid } from './errors.js';
import { ensurePrivateDir, PRIVATE_FILE_MODE } from './private-files.js';

export interface GatewaySecrets {
  readonly jwtSecret: Uint8Array;
  readonly challengeKey: Uint8Array;
}

function decode(name: string, text: string): Uint8Array {
  let b: Uint8Array;
  try {
    b = base64urlDecode(text);
  } catch {
    throw configInvalid(`${name} must be base64url`);
  }
  if (b.length < 32) throw configInvalid(`${name} must be at least 32 bytes`);
  return b;
}

/**
 * Checks secrets given as options (or the environment) before anything is created: each
 * base64url of at least 32 bytes, and not the same key twice (one key for two purposes).
 */
export function checkGivenSecrets(given: { jwtSecret?: string | undefined; challengeKey?: string | undefined }): void {
  const jwt = given.jwtSecret ? decode('jwtSecret (VEIL_JWT_SECRET)', given.jwtSecret) : undefined;
  const challenge = given.challengeKey ? decode('challengeKey (VEIL_CHALLENGE_KEY)', given.challengeKey) : undefined;
  if (jwt && challenge && Buffer.compare(jwt, challenge) === 0) {
    throw configInvalid('jwtSecret and challengeKey are the same key: give each its own 32 random bytes (base64url)');
  }
}

export function loadSecrets(
  backend: CryptoBackend,
  dataDir: string,
  env: { jwtSecret?: string | undefined; challengeKey?: string | undefined },
  onGenerated?: (path: string) => void,
): GatewaySecrets {
  const path = join(dataDir, 'secrets.json');
  let file: { jwtSecret: string; challengeKey: string } | undefined;
  if (!env.jwtSecret || !env.challengeKey) {
    if (existsSync(path)) {
      file = JSON.parse(readFileSync(path, 'utf8')) as { jwtSecret: string; challengeKey: string };
    } else {
      file = { jwtSecret: base64urlEncode(backend.randomBytes(32)), challengeKey: base64urlEncode(backend.randomBytes(32)) };
      ensurePrivateDir(dataDir);
      // Created 0600 (a umask can only narrow it), in a directory created 0700.
      writeFileSync(path, JSON.stringify(file, null, 2) + '\n', { mode: PRIVATE_FILE_MODE });
      onGenerated?.(path);
    }
  }
  return {
    jwtSecret: decode('VEIL_JWT_SECRET', env.jwtSecret ?? file!.jwtSecret),
    challengeKey: decode('VEIL_CHALLENGE_KEY', env.challengeKey ?? file!.challengeKey),
  };
}
