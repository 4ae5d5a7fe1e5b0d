/**
 * @module
 * The reference app's settings from the environment, with defaults that need no set-up.
 * Most become `createVeilgraph` options (./gateway.ts); the rest are the app's own server
 * (port, body limit, web app, WebSocket caps).
 *
 *   PORT               4000
 *   HOST               127.0.0.1 (set 0.0.0.0 to listen on every interface)
 *   VEIL_DATA_DIR      ./data (SQLite file, key ring, secrets)
 *   DATABASE_URL       unset = SQLite in VEIL_DATA_DIR; postgres://… = PostgreSQL
 *   NODE_ENV           production turns off introspection, error details and name suggestions
 *   VEIL_REALM         veilgraph (bound into login signatures and tokens)
 *   VEIL_KEYRING       key ring JSON (else <data>/keyring.json, generated on first start)
 *   VEIL_JWT_SECRET    token signing secret, base64url ≥ 32 bytes (else <data>/secrets.json)
 *   VEIL_CHALLENGE_KEY challenge MAC key, base64url ≥ 32 bytes (else <data>/secrets.json)
 *   VEIL_TOKEN_TTL     access token lifetime in seconds, 900
 *   VEIL_DEVICE_CACHE_MS
 *                      the device check's staleness bound in milliseconds, 5000 (0..60000; 0 = no cache):
 *                      a revoked device's session ends on every instance when the revocation event
 *                      arrives, and at the latest this long after the revocation (docs/devices.md)
 *   VEIL_CRYPTO_NATIVE prefer: the libsodium backend (optional sodium-native) where it loads, else
 *                      node:crypto; require = libsodium or no start; off = node:crypto. Same bytes either
 *                      way; the choice is logged at start as crypto.backend (docs/crypto.md §1)
 *   VEIL_SERVER_CACHE_BYTES
 *                      bound of the in-process cache of opened SERVER values, 33554432 (0..1073741824;
 *                      0 = no cache): an unchanged row read again costs a lookup instead of an AEAD
 *                      (docs/crypto.md §13, docs/threats.md)
 *   VEIL_BODY_LIMIT    request body limit in bytes, 4194304
 *   VEIL_MAX_TOKENS, VEIL_MAX_DIRECTIVES, VEIL_MAX_DEPTH, VEIL_MAX_ALIASES, VEIL_MAX_COST,
 *   VEIL_DEFAULT_LIST_SIZE
 *                      request limits (src/server/limits.ts, docs/requests.md): 1000, 50, 12, 30,
 *                      20000, 50
 *   LOG_LEVEL          info
 *   VEIL_WEB_DIR       the package's web/dist (the web app `npm run web:build` writes and the published
 *                      package ships), served at /; "none" = no web app; a relative path is from the
 *                      working directory; the default directory unbuilt = API only with a warning, a
 *                      named one unbuilt = error
 *   VEIL_DEBUG_VIEW    on outside production, off in production ("what the server sees" query, docs/debug-view.md)
 *   VEIL_TRUST_PROXY   unset = trust no proxy (the socket peer is the client); else a comma-separated list of
 *                      proxy addresses, CIDRs or loopback/linklocal/uniquelocal whose X-Forwarded-For names
 *                      the client (right-most untrusted hop) for rate limits and connection caps (docs/auth.md §7)
 *   VEIL_WS_MAX_CONNECTIONS   10000 open WebSockets on this instance; one more is closed with 4902 (docs/requests.md)
 *   VEIL_WS_MAX_PER_ADDRESS   100 open WebSockets per client address; one more is closed with 4901
 *   VEIL_WS_ANONYMOUS_IDLE    30: seconds after which an anonymous WebSocket is closed (4903) unless a subscription runs (then looked at again each period)
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DEFAULT_DEVICE_CACHE_TTL_MS,
  DEFAULT_LIMITS,
  DEFAULT_NATIVE_CRYPTO,
  DEFAULT_SERVER_FIELD_CACHE_BYTES,
  MAX_DEVICE_CACHE_TTL_MS,
  MAX_SERVER_FIELD_CACHE_BYTES,
  NATIVE_CRYPTO_CHOICES,
  parseTrustProxy,
  type LogLevel,
  type NativeCrypto,
  type QueryLimits,
} from '../server/index.js';

export interface GatewayConfig {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
  readonly production: boolean;
  readonly realm: string;
  readonly keyring: string | undefined;
  readonly jwtSecret: string | undefined;
  readonly challengeKey: string | undefined;
  readonly tokenTtlSeconds: number;
  /** The device check's staleness bound in milliseconds (0: every check reads the database). */
  readonly deviceCacheTtlMs: number;
  /** Which crypto backend: libsodium where it loads ('prefer'), only libsodium ('require'), node:crypto ('off'). */
  readonly nativeCrypto: NativeCrypto;
  /** Bound in bytes of the cache of opened SERVER values (0: none). */
  readonly serverFieldCacheBytes: number;
  readonly bodyLimitBytes: number;
  /** What one operation may ask for: tokens, directives, depth, aliases, cost (src/server/limits.ts). */
  readonly limits: QueryLimits;
  readonly logLevel: LogLevel;
  /** Directory of the built web app served at `/` (index.html and assets/); undefined: none. */
  readonly webDir: string | undefined;
  /**
   * Whether a missing build in `webDir` stops the gateway (VEIL_WEB_DIR set explicitly) or
   * only logs a warning and serves the API (the default directory, not built yet).
   */
  readonly webRequired: boolean;
  /** Whether the `storedObject` debug query answers (the web app's "what the server sees" panel). */
  readonly debugView: boolean;
  /** Proxies whose X-Forwarded-For is believed (addresses, CIDRs, keywords; ./client-address.ts). Empty: none. */
  readonly trustProxy: readonly string[];
  /** Most WebSockets open at once on this instance. */
  readonly wsMaxConnections: number;
  /** Most WebSockets open at once from one client address. */
  readonly wsMaxConnectionsPerAddress: number;
  /** Seconds an anonymous WebSocket may stay open without an active subscription. */
  readonly wsAnonymousIdleSeconds: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'CONFIG_INVALID';
}

/** Defaults of the WebSocket connection limits (docs/requests.md, "Connection caps and idle sockets"). */
export const DEFAULT_WS_MAX_CONNECTIONS = 10_000;
export const DEFAULT_WS_MAX_CONNECTIONS_PER_ADDRESS = 100;
export const DEFAULT_WS_ANONYMOUS_IDLE_SECONDS = 30;

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name} must be an integer in ${min}..${max}, got "${raw}"`);
  return n;
}

function onOff(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'on') return true;
  if (raw === 'off') return false;
  throw new ConfigError(`${name} must be "on" or "off", got "${raw}"`);
}

function nativeCrypto(env: NodeJS.ProcessEnv): NativeCrypto {
  const raw = env.VEIL_CRYPTO_NATIVE;
  if (raw === undefined || raw === '') return DEFAULT_NATIVE_CRYPTO;
  if (!NATIVE_CRYPTO_CHOICES.includes(raw as NativeCrypto)) throw new ConfigError(`VEIL_CRYPTO_NATIVE must be ${NATIVE_CRYPTO_CHOICES.join(', ')}, got "${raw}"`);
  return raw as NativeCrypto;
}

function trustProxy(env: NodeJS.ProcessEnv): readonly string[] {
  const raw = env.VEIL_TRUST_PROXY;
  if (raw === undefined || raw.trim() === '') return [];
  const entries = raw.split(',').map((e) => e.trim());
  if (entries.some((e) => e === '')) throw new ConfigError(`VEIL_TRUST_PROXY must be a comma-separated list without empty entries, got "${raw}"`);
  try {
    return parseTrustProxy(entries);
  } catch (e) {
    throw new ConfigError(`VEIL_TRUST_PROXY: ${e instanceof Error ? e.message : String(e)} (addresses, CIDRs, loopback, linklocal or uniquelocal)`);
  }
}

/**
 * The web app next to the code: web/dist of the repository (src/app/ → ../../web/dist) or of
 * the installed package (dist/app/ → the same), whatever the working directory.
 */
const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../web/dist', import.meta.url));

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const production = env.NODE_ENV === 'production';
  const web = env.VEIL_WEB_DIR || DEFAULT_WEB_DIR;
  const level = (env.LOG_LEVEL ?? 'info') as LogLevel;
  if (!['debug', 'info', 'warn', 'error'].includes(level)) throw new ConfigError(`LOG_LEVEL must be debug, info, warn or error`);
  return {
    port: int(env, 'PORT', 4000, 0, 65535),
    host: env.HOST || '127.0.0.1',
    dataDir: resolve(env.VEIL_DATA_DIR || './data'),
    databaseUrl: env.DATABASE_URL || undefined,
    production,
    realm: env.VEIL_REALM || 'veilgraph',
    keyring: env.VEIL_KEYRING || undefined,
    jwtSecret: env.VEIL_JWT_SECRET || undefined,
    challengeKey: env.VEIL_CHALLENGE_KEY || undefined,
    tokenTtlSeconds: int(env, 'VEIL_TOKEN_TTL', 900, 30, 86_400),
    deviceCacheTtlMs: int(env, 'VEIL_DEVICE_CACHE_MS', DEFAULT_DEVICE_CACHE_TTL_MS, 0, MAX_DEVICE_CACHE_TTL_MS),
    nativeCrypto: nativeCrypto(env),
    serverFieldCacheBytes: int(env, 'VEIL_SERVER_CACHE_BYTES', DEFAULT_SERVER_FIELD_CACHE_BYTES, 0, MAX_SERVER_FIELD_CACHE_BYTES),
    bodyLimitBytes: int(env, 'VEIL_BODY_LIMIT', 4 * 1024 * 1024, 1024, 64 * 1024 * 1024),
    limits: {
      maxTokens: int(env, 'VEIL_MAX_TOKENS', DEFAULT_LIMITS.maxTokens, 100, 1_000_000),
      maxDirectives: int(env, 'VEIL_MAX_DIRECTIVES', DEFAULT_LIMITS.maxDirectives, 0, 100_000),
      maxDepth: int(env, 'VEIL_MAX_DEPTH', DEFAULT_LIMITS.maxDepth, 1, 1_000),
      maxAliases: int(env, 'VEIL_MAX_ALIASES', DEFAULT_LIMITS.maxAliases, 0, 100_000),
      maxCost: int(env, 'VEIL_MAX_COST', DEFAULT_LIMITS.maxCost, 1, 1_000_000_000),
      defaultListSize: int(env, 'VEIL_DEFAULT_LIST_SIZE', DEFAULT_LIMITS.defaultListSize, 1, 100_000),
    },
    logLevel: level,
    webDir: web === 'none' ? undefined : resolve(web),
    webRequired: Boolean(env.VEIL_WEB_DIR) && web !== 'none',
    // The debug view shows stored ciphertext to users who may read the object anyway; it
    // is a teaching and debugging aid, so production has it off unless asked for.
    debugView: onOff(env, 'VEIL_DEBUG_VIEW', !production),
    trustProxy: trustProxy(env),
    wsMaxConnections: int(env, 'VEIL_WS_MAX_CONNECTIONS', DEFAULT_WS_MAX_CONNECTIONS, 1, 1_000_000),
    wsMaxConnectionsPerAddress: int(env, 'VEIL_WS_MAX_PER_ADDRESS', DEFAULT_WS_MAX_CONNECTIONS_PER_ADDRESS, 1, 1_000_000),
    wsAnonymousIdleSeconds: int(env, 'VEIL_WS_ANONYMOUS_IDLE', DEFAULT_WS_ANONYMOUS_IDLE_SECONDS, 1, 86_400),
  };
}

/**
 * The embedded defaults (every setting as with an empty environment) on a free loopback
 * port, in `dataDir`: what demos, benchmarks and tests start a gateway with, overriding
 * what they need.
 */
export function embeddedConfig(dataDir: string): GatewayConfig {
  // No web app: tests and demos that want one pass `webDir` themselves.
  return configFromEnv({ PORT: '0', VEIL_DATA_DIR: dataDir, VEIL_WEB_DIR: 'none' });
}
