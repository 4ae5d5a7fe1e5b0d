/**
 * @module
 * Assembles and starts the gateway: storage, key ring, secrets, the privacy-enforcing
 * schema, Apollo Server on Node's http server, subscriptions over WebSocket (./ws.ts) on the
 * same server and path. `startGateway` is what `npm start` runs and
 * what tests start on a loopback port.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { IResolvers } from '@graphql-tools/utils';
import { GraphQLError } from 'graphql';
import type { CryptoBackend } from '../crypto/backend.js';
import { nodeBackend } from '../crypto/backends/node.js';
import type { PrivacyManifest } from '../privacy/manifest.js';
import { RequestAccess, type Viewer } from '../server/access.js';
import { createErrorFormatter, createGatewayApollo } from '../server/adapters/apollo.js';
import { AuthError } from '../server/services/sign-in/auth/errors.js';
import { RateLimits } from '../server/rate-limit.js';
import { authLimitRules, createAuthService, type AuthLimits } from '../server/services/sign-in/auth/service.js';
import { createClientAddress } from '../server/client-address.js';
import type { GatewayConfig } from './config.js';
import type { GatewayContext, GatewayServices } from '../server/context.js';
import { enforcePrivacy } from '../server/enforce.js';
import { createHttpHandler } from './http.js';
import { GatewayKeyRing } from '../server/keyring.js';
import { createRequestLimits } from '../server/limits.js';
import { createLogger, type Logger, type LogSink } from '../server/log.js';
import { warnWidePermissions } from '../server/data-permissions.js';
import { ensurePrivateDir } from '../server/private-files.js';
import { authResolvers } from '../server/services/sign-in/accounts.js';
import { contactResolvers } from '../server/services/directory/contacts.js';
import { createDataKeyResolvers, ownerLookups, type OwnerLookup } from '../server/services/sharing/data-keys.js';
import { debugResolvers } from '../server/services/debug-view/debug.js';
import { createBackupResolvers } from '../server/services/backups/backups.js';
import { createDeviceResolvers, deviceTopic } from '../server/services/sign-in/devices.js';
import { createDirectoryResolvers } from '../server/services/directory/directory.js';
import { InMemoryPubSub, RESYNC_TOPIC, type LocalPubSub } from '../server/pubsub.js';
import { UserLoader } from '../server/user-loader.js';
import { PostgresPubSub } from '../server/pubsub-postgres.js';
import { profileResolvers } from './profile/resolvers.js';
import { messagingResolvers } from '../server/services/messaging/messaging.js';
import { userEventResolvers } from '../server/services/directory/user-events.js';
import { createSharingResolvers } from '../server/services/sharing/sharing.js';
import { buildSchema, readSdlFiles } from '../server/schema.js';
import { loadSecrets } from '../server/secrets.js';
import { createSealedLiteralRule, createSealedScalar } from '../server/sealed-scalar.js';
import { ServerFieldCodec } from '../server/server-fields.js';
import { openStore } from '../server/storage/open.js';
import { WebAssetsError, loadWebAssets, type WebAssets } from './web-assets.js';
import type { Store } from '../server/storage/store.js';
import { DEFAULT_MAX_SUBSCRIPTIONS_PER_SOCKET, DEFAULT_WS_MAX_PAYLOAD_BYTES, bearerToken, startSubscriptionServer } from '../server/adapters/graphql-ws.js';

/** The reference schema's SDL files: the built-in services' and the app's own Profile. */
export const REFERENCE_SDL_FILES: readonly string[] = [
  '../server/services/sign-in/auth.graphql',
  '../server/services/sign-in/devices.graphql',
  '../server/services/directory/contacts.graphql',
  '../server/services/directory/directory.graphql',
  '../server/services/directory/events.graphql',
  '../server/services/sharing/keys.graphql',
  '../server/services/sharing/sharing.graphql',
  '../server/services/messaging/messaging.graphql',
  '../server/services/debug-view/debug.graphql',
  './profile/profile.graphql',
].map((f) => fileURLToPath(new URL(f, import.meta.url)));

/** The reference schema's SDL, one string. */
export function referenceSdl(): string {
  return readSdlFiles(REFERENCE_SDL_FILES);
}
/** Largest accepted sealed value (binary); the body limit bounds a whole request. */
export const MAX_SEALED_BYTES = 1024 * 1024;

export interface GatewayOptions extends GatewayConfig {
  /** More SDL documents beside the reference schema (types a schema author adds: docs/privacy.md). */
  readonly typeDefs?: readonly string[];
  readonly backend?: CryptoBackend;
  /** Where log lines go (default stdout). */
  readonly logSink?: LogSink;
  /** Resolvers for the types of `typeDefs` (docs/privacy.md). */
  readonly resolvers?: IResolvers[];
  /** Overrides of the rate-limit rules (tests; docs/auth.md §7). On PostgreSQL every instance counts in one table. */
  readonly authLimits?: Partial<AuthLimits>;
  /**
   * Who owns an object of each type the schema author added (the object's owner id, or
   * null when it does not exist): `putDataKeys` lets only the owner store an object's data
   * keys. Merged over the built-in lookup for `Profile`.
   */
  readonly owners?: Readonly<Record<string, OwnerLookup>>;
  /** Most subscriptions at once on one WebSocket (default 100). */
  readonly maxSubscriptionsPerSocket?: number;
  /** Largest WebSocket message in bytes (default 64 KiB; HTTP bodies have their own limit). */
  readonly wsMaxPayloadBytes?: number;
}

export interface RunningGateway {
  /** `http://host:port/graphql` */
  readonly url: string;
  readonly port: number;
  readonly store: Store;
  readonly keyring: GatewayKeyRing;
  readonly codec: ServerFieldCodec;
  readonly manifest: PrivacyManifest;
  readonly log: Logger;
  readonly httpServer: Server;
  /** Where subscription events are published (in-process). */
  readonly pubsub: LocalPubSub;
  close(): Promise<void>;
}

function bearer(req: IncomingMessage): string | null {
  const h = req.headers.authorization;
  if (!h) return null;
  const token = bearerToken(h);
  if (!token) throw new GraphQLError('the Authorization header must be "Bearer <token>"', { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
  return token;
}

export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const backend = options.backend ?? nodeBackend;
  const log = createLogger({ level: options.logLevel, ...(options.logSink ? { sink: options.logSink } : {}) });
  ensurePrivateDir(options.dataDir);
  // The web app, read once. A directory named in VEIL_WEB_DIR without a build is a start-up
  // error that says how to build it; the default one unbuilt (the gateway started without
  // `npm start`'s build step) serves the API and says so.
  let web: WebAssets | undefined;
  if (options.webDir) {
    try {
      web = loadWebAssets(options.webDir);
    } catch (e) {
      if (options.webRequired || !(e instanceof WebAssetsError)) throw e;
      log.warn('web.missing', { dir: options.webDir, note: 'no web app built: run `npm run web:build` (npm start does); serving the API only' });
    }
  }

  const keyring = GatewayKeyRing.load(backend, {
    dataDir: options.dataDir,
    env: options.keyring,
    onGenerated: (path) => log.warn('keyring.generated', { path, note: 'new gateway key ring for SERVER fields; back it up, without it SERVER fields cannot be read' }),
  });
  const secrets = loadSecrets(backend, options.dataDir, { jwtSecret: options.jwtSecret, challengeKey: options.challengeKey }, (path) =>
    log.warn('secrets.generated', { path }),
  );
  const store = await openStore({ databaseUrl: options.databaseUrl, dataDir: options.dataDir });
  warnWidePermissions(log, { databaseUrl: options.databaseUrl, dataDir: options.dataDir });
  // Who owns an object of each type: data keys, grants and re-wrapping all ask.
  const owners = ownerLookups(store, options.owners);

  const built = buildSchema([referenceSdl(), ...(options.typeDefs ?? [])].join('\n'), [
    { Sealed: createSealedScalar(MAX_SEALED_BYTES) },
    authResolvers,
    profileResolvers,
    contactResolvers,
    createDataKeyResolvers(owners),
    createDirectoryResolvers(),
    createDeviceResolvers(owners),
    createBackupResolvers(),
    createSharingResolvers(owners),
    messagingResolvers,
    userEventResolvers,
    debugResolvers,
    ...(options.resolvers ?? []),
  ]);
  const codec = new ServerFieldCodec(backend, keyring, built.manifest);
  const schema = enforcePrivacy(built.wire, built.manifest, codec);
  // Rate limits: in this process on the embedded default; on PostgreSQL in one table that
  // every instance counts in (a small pool of its own, as the pubsub has).
  const limitRules = authLimitRules(options.authLimits);
  let limitPool: pg.Pool | undefined;
  if (store.kind === 'postgres' && options.databaseUrl) {
    limitPool = new pg.Pool({ connectionString: options.databaseUrl, max: 4 });
    limitPool.on('error', () => undefined); // idle-client errors: the next query reconnects
  }
  const rateLimits = limitPool ? await RateLimits.create(limitRules, { kind: 'postgres', pool: limitPool }) : RateLimits.memory(limitRules);
  const auth = createAuthService({
    store,
    backend,
    realm: options.realm,
    challengeKey: secrets.challengeKey,
    jwtSecret: secrets.jwtSecret,
    tokenTtlSeconds: options.tokenTtlSeconds,
    rateLimits,
  });
  // Embedded default: in-process. PostgreSQL: across every instance on the database.
  const pubsub: LocalPubSub = store.kind === 'postgres' && options.databaseUrl ? await PostgresPubSub.start(options.databaseUrl, log) : new InMemoryPubSub();
  const services: GatewayServices = { store, auth, codec, backend, manifest: built.manifest, log, pubsub, debugView: options.debugView };

  // The same limits and rules on every transport (HTTP and WebSocket).
  const limits = createRequestLimits(options.limits, built.manifest);
  const validationRules = [createSealedLiteralRule(MAX_SEALED_BYTES)];
  const apollo = createGatewayApollo<GatewayContext>({
    schema,
    log,
    production: options.production,
    validationRules,
    limits,
  });
  await apollo.start();

  // The viewer a token proves, and when that proof ends (a socket closes then). One token
  // verifier serves HTTP and WebSocket. A device session (`did`) lives only while its device
  // is ACTIVE: one primary key lookup per request or socket.
  const verifyToken = async (token: string): Promise<{ viewer: Viewer; expiresAt: Date }> => {
    const claims = await auth.verifyToken(token);
    if (claims.deviceId === undefined) return { viewer: { id: claims.sub }, expiresAt: claims.expiresAt };
    const device = await store.findDevice(claims.deviceId);
    if (!device || device.userId !== claims.sub || device.status !== 'ACTIVE') throw new AuthError('UNAUTHENTICATED', 'device revoked');
    return { viewer: { id: claims.sub, deviceId: device.id }, expiresAt: claims.expiresAt };
  };
  // Every per-address decision (rate limits, WebSocket caps) keys on this: the socket peer,
  // or the client a trusted proxy names (VEIL_TRUST_PROXY).
  const clientAddress = createClientAddress(options.trustProxy);
  const contextFor = (viewer: Viewer | null, req: IncomingMessage): GatewayContext => ({
    ...services,
    viewer,
    access: new RequestAccess(store, viewer),
    users: new UserLoader(store),
    clientKey: clientAddress(req),
  });
  const context = async (req: IncomingMessage): Promise<GatewayContext> => {
    const token = bearer(req);
    let viewer = null;
    if (token) {
      try {
        ({ viewer } = await verifyToken(token));
      } catch (e) {
        const message = e instanceof Error ? e.message : 'invalid token';
        throw new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
      }
    }
    return contextFor(viewer, req);
  };

  const httpServer = createServer(
    createHttpHandler({
      apollo,
      context,
      health: async () => {
        await store.findUserById('health-check');
        return true;
      },
      bodyLimitBytes: options.bodyLimitBytes,
      log,
      ...(web ? { web } : {}),
    }),
  );
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(options.port, options.host, () => resolve());
  });
  // After listen succeeded: ws re-emits the http server's errors (EADDRINUSE) on its own server.
  const subscriptions = startSubscriptionServer({
    httpServer,
    path: '/graphql',
    schema,
    limits,
    validationRules,
    verifyToken,
    // A device session's sockets close when the device is revoked (on any instance: the
    // event goes through the pubsub).
    // When events may have been missed (a PostgreSQL listener reconnected: RESYNC_TOPIC), the
    // device is looked up again, so a revocation whose event was lost still ends the socket.
    watchSession: (viewer, end) => {
      const deviceId = viewer.deviceId;
      if (deviceId === undefined) return undefined;
      const revoked = pubsub.subscribe(deviceTopic(deviceId));
      void revoked.next().then(
        (r) => {
          if (!r.done) end();
        },
        () => undefined,
      );
      const resync = pubsub.subscribe(RESYNC_TOPIC);
      // True when the session goes on. A database error keeps it: the next check (or the
      // token's expiry) decides.
      const stillActive = async (): Promise<boolean> => {
        const device = await store.findDevice(deviceId).catch(() => undefined);
        if (device === undefined || device?.status === 'ACTIVE') return true;
        end();
        return false;
      };
      void (async () => {
        // Once now: a revocation that committed between the token check and the subscription
        // above published its event before anyone here listened.
        if (!(await stillActive())) return;
        while (!(await resync.next()).done) if (!(await stillActive())) return;
      })();
      return () => {
        void revoked.return?.();
        void resync.return?.();
      };
    },
    maxSubscriptionsPerSocket: options.maxSubscriptionsPerSocket ?? DEFAULT_MAX_SUBSCRIPTIONS_PER_SOCKET,
    context: contextFor,
    formatError: createErrorFormatter(options.production),
    maxPayload: options.wsMaxPayloadBytes ?? DEFAULT_WS_MAX_PAYLOAD_BYTES,
    production: options.production,
    log,
    clientAddress,
    maxConnections: options.wsMaxConnections,
    maxConnectionsPerAddress: options.wsMaxConnectionsPerAddress,
    anonymousIdleMs: options.wsAnonymousIdleSeconds * 1000,
  });
  const port = (httpServer.address() as AddressInfo).port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  // The address we listen on, not "localhost": that name may resolve to ::1 first.
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}/graphql`;
  const purge = setInterval(() => {
    void auth.purgeExpiredChallenges().catch(() => undefined);
    void rateLimits.purgeExpired().catch(() => undefined);
  }, 10 * 60_000);
  purge.unref();
  // Disappearing messages: deleted once expired (clients already hide them at expiresAt);
  // expired link requests (PENDING devices) and reset codes likewise.
  const purgeMessages = setInterval(() => {
    const now = new Date();
    void store.purgeExpiredMessages(now).catch(() => undefined);
    void store.purgeExpiredDevices(now).catch(() => undefined);
    void store.purgeExpiredAccountResets(now).catch(() => undefined);
  }, 60_000);
  purgeMessages.unref();
  log.info('gateway.started', { url, database: store.kind, production: options.production, web: web !== undefined, debugView: options.debugView });

  return {
    url,
    port,
    store,
    keyring,
    codec,
    manifest: built.manifest,
    log,
    httpServer,
    pubsub,
    async close() {
      clearInterval(purge);
      clearInterval(purgeMessages);
      // WebSocket clients first (1001 Going Away): open sockets would keep the http server open.
      await subscriptions.dispose();
      await new Promise<void>((resolve) => {
        httpServer.close(() => resolve());
        httpServer.closeAllConnections();
      });
      await apollo.stop();
      await pubsub.close();
      await limitPool?.end();
      await store.close();
    },
  };
}
