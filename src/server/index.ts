/**
 * @module
 * `veilgraph/server`: the privacy layer for your own GraphQL server, and everything you
 * import from it. `createVeilgraph` builds, from your SDL (annotated with `@owner`,
 * `@privacy`, `@writes`), your resolvers and your TypeAdapters, the enforced schema and
 * what your server needs around it: the request context, the Apollo Server plugin, the
 * Envelop plugin (GraphQL Yoga), the graphql-ws options, the crypto-free write path and key rotation. The built-in services
 * (sign-in, key directory and contacts, sharing, messaging, backups, the debug view) are
 * opt-in modules with tables of their own. Reference: docs/server.md.
 */
export { createVeilgraph, DEFAULT_DATA_DIR } from './create.js';
export type { ResealProgress, ResealReport, VeilRequest, VeilWsOptions, Veilgraph, VeilgraphOptions } from './veilgraph.js';
export type { VeilWsServerOptions } from './adapters/graphql-ws.js';
export type { EnvelopPlugin, VeilEnvelopOptions } from './adapters/envelop.js';
export { requireViewer, type VeilContext } from './context.js';
export type { RequestAccess, Viewer } from './access.js';
export type { OwnerLoader, TypeAdapter } from './type-adapters.js';
export type { UserLoader } from './user-loader.js';
export type { ServiceModule, ServiceName } from './service-module.js';
export { allServices, backups, debugView, directory, messaging, sharing, signIn } from './services/index.js';
export { CONFIG_INVALID, VeilgraphError } from './errors.js';
export { withErrorCodes } from './resolver-errors.js';
export { prismaVeilgraph, UNCHECKED_WRITE, UncheckedWriteError, type PrismaVeilgraph, type PrismaVeilgraphOptions, type VeilgraphPrismaExtension } from './adapters/prisma.js';
export { toGraphQLError } from './errors.js';
export { DEFAULT_LIMITS, type QueryLimits } from './limits.js';
export { DEFAULT_ANONYMOUS_IDLE_SECONDS, DEFAULT_MAX_SUBSCRIPTIONS_PER_SOCKET, DEFAULT_WS_MAX_PAYLOAD_BYTES } from './adapters/graphql-ws.js';
export { DEFAULT_AUTH_LIMITS, type AuthLimitName, type AuthLimits } from './services/sign-in/auth/service.js';
export type { RateLimitRule } from './rate-limit.js';
export { parseTrustProxy, requestHeader } from './client-address.js';
export { DEFAULT_DEVICE_CACHE_TTL_MS, MAX_DEVICE_CACHE_TTL_MS } from './session-cache.js';
export { DEFAULT_SERVER_FIELD_CACHE_BYTES, MAX_SERVER_FIELD_CACHE_BYTES, type ServerFieldCacheStats } from './server-field-cache.js';
export { DEFAULT_NATIVE_CRYPTO, NATIVE_CRYPTO_CHOICES, type NativeCrypto } from './crypto-backend.js';
export type { PubSub } from './pubsub.js';
export type { Logger, LogLevel, LogSink } from './log.js';
export type { GatewayKeyRing } from './keyring.js';
export { openStore, resolveDatabaseTarget, type OpenStoreOptions } from './storage/open.js';
export { backupSqlite, type BackupResult } from './storage/backup.js';
export { issueResetCode } from './services/backups/backups.js';
export { USERNAME_PATTERN } from './services/sign-in/auth/validate.js';
export type { PrismaStore } from './storage/prisma-store.js';
export type { LayerStore, Store, UserRow } from './storage/store.js';
export { StorageError, isStorageError, type StorageErrorCode } from './storage/errors.js';
