/**
 * @module
 * The reference application, on veilgraph's public API only (`veilgraph/server`):
 * `createVeilgraph` with the app's own type (Profile: ./profile) and every built-in service,
 * Apollo Server with veilgraph's plugin on Node's http server (./apollo.ts, ./http.ts: the
 * API, /health and the web app), and graphql-ws with veilgraph's options on the same server
 * and path (./ws-server.ts). `startGateway` is what `npm start` runs and what tests start on
 * a loopback port. The app's profiles live in veilgraph's database file (its `ProfileStore`
 * is the store `openStore` returns), which is why it opens the store itself.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { IResolvers } from '@graphql-tools/utils';
import type { CryptoBackend } from '../crypto/index.js';
import type { PrivacyManifest } from '../privacy/index.js';
import {
  DEFAULT_MAX_SUBSCRIPTIONS_PER_SOCKET,
  DEFAULT_WS_MAX_PAYLOAD_BYTES,
  allServices,
  createVeilgraph,
  openStore,
  type AuthLimits,
  type GatewayKeyRing,
  type LogSink,
  type Logger,
  type PrismaStore,
  type TypeAdapter,
  type VeilContext,
  type Veilgraph,
} from '../server/index.js';
import { createAppApollo } from './apollo.js';
import type { GatewayConfig } from './config.js';
import { createHttpHandler } from './http.js';
import { profileType } from './profile/module.js';
import { WebAssetsError, loadWebAssets, type WebAssets } from './web-assets.js';
import { startWsServer } from './ws-server.js';

/** The reference schema's SDL files: veilgraph's root types, the built-in services' and the app's Profile (codegen and tests read them). */
export const REFERENCE_SDL_FILES: readonly string[] = [
  '../server/veilgraph.graphql',
  '../server/services/sign-in/auth.graphql',
  '../server/services/sign-in/devices.graphql',
  '../server/services/directory/directory.graphql',
  '../server/services/directory/contacts.graphql',
  '../server/services/directory/events.graphql',
  '../server/services/sharing/keys.graphql',
  '../server/services/sharing/sharing.graphql',
  '../server/services/messaging/messaging.graphql',
  '../server/services/backups/backups.graphql',
  '../server/services/debug-view/debug.graphql',
  './profile/profile.graphql',
].map((f) => fileURLToPath(new URL(f, import.meta.url)));

/** The reference schema's SDL, one string (what a client's code generator and the demos read). */
export function referenceSdl(): string {
  return REFERENCE_SDL_FILES.map((f) => readFileSync(f, 'utf8')).join('\n');
}

export interface GatewayOptions extends GatewayConfig {
  readonly backend?: CryptoBackend;
  /** Where log lines go (default stdout). */
  readonly logSink?: LogSink;
  /** More SDL beside the reference schema: types a schema author adds (docs/server.md). */
  readonly typeDefs?: readonly string[];
  /** Resolvers for the types of `typeDefs`. */
  readonly resolvers?: readonly IResolvers[];
  /** TypeAdapters for the annotated types of `typeDefs`. */
  readonly types?: Readonly<Record<string, TypeAdapter<object>>>;
  /** Overrides of the rate-limit rules (tests; docs/auth.md §7). On PostgreSQL every instance counts in one table. */
  readonly authLimits?: Partial<AuthLimits>;
  /** Most subscriptions at once on one WebSocket (default 100). */
  readonly maxSubscriptionsPerSocket?: number;
  /** Largest WebSocket message in bytes (default 64 KiB; HTTP bodies have their own limit). */
  readonly wsMaxPayloadBytes?: number;
}

export interface RunningGateway {
  /** `http://host:port/graphql` */
  readonly url: string;
  readonly port: number;
  readonly veil: Veilgraph;
  /** veilgraph's store, which also holds the app's profiles. */
  readonly store: PrismaStore;
  readonly keyring: GatewayKeyRing;
  readonly manifest: PrivacyManifest;
  readonly log: Logger;
  readonly httpServer: Server;
  /** Where subscription events are published (in-process; across instances on PostgreSQL). */
  readonly pubsub: Veilgraph['pubsub'];
  close(): Promise<void>;
}

/** The web app, read once (undefined: API only). */
function webAssets(options: GatewayOptions, log: Logger): WebAssets | undefined {
  if (!options.webDir) return undefined;
  try {
    return loadWebAssets(options.webDir);
  } catch (e) {
    // A directory named in VEIL_WEB_DIR without a build is a start-up error that says how to
    // build it; the default one unbuilt (the gateway started without `npm start`'s build
    // step) serves the API and says so.
    if (options.webRequired || !(e instanceof WebAssetsError)) throw e;
    log.warn('web.missing', { dir: options.webDir, note: 'no web app built: run `npm run web:build` (npm start does); serving the API only' });
    return undefined;
  }
}

/** The app's `createVeilgraph` options: its Profile and every built-in service over `store`. */
export function referenceOptions(options: GatewayOptions, store: PrismaStore): Parameters<typeof createVeilgraph>[0] {
  const profile = profileType(store);
  return {
    typeDefs: [profile.typeDefs, ...(options.typeDefs ?? [])],
    resolvers: [profile.resolvers, ...(options.resolvers ?? [])],
    types: { ...options.types, ...profile.types },
    services: allServices(),
    dataDir: options.dataDir,
    store,
    ...(options.databaseUrl !== undefined ? { databaseUrl: options.databaseUrl } : {}),
    ...(options.keyring !== undefined ? { keyring: options.keyring } : {}),
    ...(options.jwtSecret !== undefined ? { jwtSecret: options.jwtSecret } : {}),
    ...(options.challengeKey !== undefined ? { challengeKey: options.challengeKey } : {}),
    realm: options.realm,
    tokenTtlSeconds: options.tokenTtlSeconds,
    deviceCacheTtlMs: options.deviceCacheTtlMs,
    limits: options.limits,
    production: options.production,
    debugView: options.debugView,
    logLevel: options.logLevel,
    ...(options.logSink ? { logSink: options.logSink } : {}),
    // A backend given (tests, benchmarks) is used as given; else the setting chooses one.
    ...(options.backend ? { backend: options.backend } : { nativeCrypto: options.nativeCrypto }),
    serverFieldCacheBytes: options.serverFieldCacheBytes,
    ...(options.authLimits ? { authLimits: options.authLimits } : {}),
    trustProxy: options.trustProxy,
  };
}

export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  // The app's profiles share veilgraph's database: the app opens it and hands it over.
  const store = await openStore({ databaseUrl: options.databaseUrl, dataDir: options.dataDir });
  let veil: Veilgraph;
  try {
    veil = await createVeilgraph(referenceOptions(options, store));
  } catch (e) {
    await store.close();
    throw e;
  }
  const { log } = veil;
  const apollo = createAppApollo<VeilContext>(veil, options.production);
  let web: WebAssets | undefined;
  try {
    web = webAssets(options, log);
    await apollo.start();
  } catch (e) {
    await veil.close();
    await store.close();
    throw e;
  }

  const httpServer = createServer(
    createHttpHandler({
      apollo,
      context: (req) => veil.context(req),
      health: async () => {
        await store.findUserById('health-check');
        return true;
      },
      bodyLimitBytes: options.bodyLimitBytes,
      log,
      ...(web ? { web } : {}),
    }),
  );
  try {
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(options.port, options.host, () => resolve());
    });
  } catch (e) {
    await apollo.stop();
    await veil.close();
    await store.close();
    throw e;
  }
  // After listen succeeded: ws re-emits the http server's errors (EADDRINUSE) on its own server.
  const subscriptions = startWsServer(veil, {
    httpServer,
    path: '/graphql',
    maxPayload: options.wsMaxPayloadBytes ?? DEFAULT_WS_MAX_PAYLOAD_BYTES,
    maxSubscriptionsPerSocket: options.maxSubscriptionsPerSocket ?? DEFAULT_MAX_SUBSCRIPTIONS_PER_SOCKET,
    maxConnections: options.wsMaxConnections,
    maxConnectionsPerAddress: options.wsMaxConnectionsPerAddress,
    anonymousIdleSeconds: options.wsAnonymousIdleSeconds,
  });
  const port = (httpServer.address() as AddressInfo).port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  // The address we listen on, not "localhost": that name may resolve to ::1 first.
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}/graphql`;
  log.info('gateway.started', { url, database: store.kind, production: options.production, web: web !== undefined, debugView: options.debugView });

  return {
    url,
    port,
    veil,
    store,
    keyring: veil.keyring,
    manifest: veil.manifest,
    log,
    httpServer,
    pubsub: veil.pubsub,
    async close() {
      // WebSocket clients first (1001 Going Away): open sockets would keep the http server open.
      await subscriptions.dispose();
      await new Promise<void>((resolve) => {
        httpServer.close(() => resolve());
        httpServer.closeAllConnections();
      });
      await apollo.stop();
      await veil.close();
      await store.close();
    },
  };
}
