/**
 * @module
 * `createVeilgraph(options)`: the privacy layer for an author's own server. From the
 * author's SDL and resolvers, their TypeAdapters and the built-in services they take, it
 * builds everything their server needs (./veilgraph.ts): the enforced executable schema,
 * parse options and validation rules, the per-request context (the viewer from a verified
 * token or the author's `authenticate`), the adapters for Apollo Server, Envelop (GraphQL Yoga) and graphql-ws, the
 * write path, rotation, and the services' store, pubsub and key ring.
 *
 * It refuses to start (VeilgraphError CONFIG_INVALID, the message saying what to do), before
 * it creates or opens anything, when the options cannot be served safely:
 *
 * - a service without one it requires, a service twice, neither signIn() nor `authenticate`,
 *   or both (./service-module.ts);
 * - SDL that declares `@privacy`, `@owner`, `@writes`, `Sealed` or a root type, or does not
 *   parse (./schema.ts); annotations that cannot be enforced are a PrivacySchemaError;
 * - a type with a non-PUBLIC field and no TypeAdapter, a type with SERVER fields whose
 *   adapter has no `reseal`, SHARED fields without sharing(), an adapter for a type without
 *   protected fields (./type-adapters.ts);
 * - a `trustProxy` that is not a list of addresses, CIDRs or keywords.
 */
import { resolve } from 'node:path';
import type { IResolvers } from '@graphql-tools/utils';
import { GraphQLError, type DocumentNode, type ValidationRule } from 'graphql';
import pg from 'pg';
import { RequestAccess, type Viewer } from './access.js';
import { createApolloPlugin, type ApolloLayer } from './adapters/apollo.js';
import { createEnvelopPlugin } from './adapters/envelop.js';
import { bearerToken, createGraphqlWsOptions, tokenFromConnectionParams, type SocketSession } from './adapters/graphql-ws.js';
import { createClientAddress, headerOf, parseTrustProxy, type AddressedRequest } from './client-address.js';
import type { GatewayContext, GatewayServices } from './context.js';
import { warnWidePermissions } from './data-permissions.js';
import { enforcePrivacy } from './enforce.js';
import { createErrorFormatter } from './error-format.js';
import { VeilgraphError, configInvalid, toGraphQLError } from './errors.js';
import { GatewayKeyRing, rotateKeyRingFile } from './keyring.js';
import { createRequestLimits } from './limits.js';
import { createLogger } from './log.js';
import { ensurePrivateDir } from './private-files.js';
import { InMemoryPubSub, RESYNC_TOPIC, type LocalPubSub } from './pubsub.js';
import { PostgresPubSub } from './pubsub-postgres.js';
import { RateLimits } from './rate-limit.js';
import { resealServerFields } from './rotation.js';
import { assembleSchema } from './schema.js';
import { checkGivenSecrets, loadSecrets } from './secrets.js';
import { MAX_SEALED_BYTES, createSealedLiteralRule, createSealedScalar } from './sealed-scalar.js';
import { ServerFieldCodec } from './server-fields.js';
import { DEFAULT_SERVER_FIELD_CACHE_BYTES, checkServerFieldCacheBytes } from './server-field-cache.js';
import { checkNativeCrypto, gatewayBackend } from './crypto-backend.js';
import { ActiveDeviceCache, checkDeviceCacheTtl, withLocalRevocations } from './session-cache.js';
import { resolveServices } from './service-module.js';
import { AuthError, rateLimited } from './services/sign-in/auth/errors.js';
import { REALM_PATTERN, authLimitRules, createAuthService, type AuthService } from './services/sign-in/auth/service.js';
import { deviceTopic } from './services/sign-in/devices.js';
import { openStore } from './storage/open.js';
import type { Store } from './storage/store.js';
import { OwnerLoader, checkTypeAdapters } from './type-adapters.js';
import { UserLoader } from './user-loader.js';
import type { VeilRequest, Veilgraph, VeilgraphOptions } from './veilgraph.js';
import { authorizedWrite } from './write.js';
import { forgetOwnObjects } from './forget.js';

/** Where veilgraph keeps its own state when `dataDir` is not given. */
export const DEFAULT_DATA_DIR = './veilgraph-data';

/** How often expired rows are deleted (each service's `purge`), and the shared rate-limit table swept. */
const PURGE_INTERVAL_MS = 60_000;
const RATE_LIMIT_SWEEP_MS = 10 * 60_000;

/** signIn()'s core when it is not taken: the services that use it require signIn(), so any use is a bug. */
const NO_SIGN_IN = new Proxy(
  {},
  {
    get(_, prop) {
      if (prop === 'then') return undefined;
      throw new Error(`signIn() is not among the services (auth.${String(prop)} needs it)`);
    },
  },
) as AuthService;

function list<T>(value: T | readonly T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? [...(value as readonly T[])] : [value as T];
}

function unauthenticatedRequest(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
}

function checkViewer(v: unknown): Viewer | null {
  if (v === null || v === undefined) return null;
  const viewer = v as Viewer;
  if (typeof viewer !== 'object' || typeof viewer.id !== 'string' || viewer.id === '') throw new TypeError('authenticate must resolve to { id: string } or null');
  return viewer;
}

export async function createVeilgraph(options: VeilgraphOptions): Promise<Veilgraph> {
  if (typeof options !== 'object' || options === null) throw configInvalid('createVeilgraph(options): pass { typeDefs, resolvers, types, services, … }');
  if (options.typeDefs === undefined) throw configInvalid('typeDefs: pass your SDL (a string or a list of strings; [] when you only take services)');
  const production = options.production ?? process.env.NODE_ENV === 'production';
  const log = createLogger({ level: options.logLevel, ...(options.logSink ? { sink: options.logSink } : {}) });

  // Everything that can be refused is checked before anything is created or opened.
  const services = resolveServices(options.services ?? [], options.authenticate !== undefined);
  const has = (name: string): boolean => services.some((s) => s.name === name);
  let trust: readonly string[];
  try {
    trust = parseTrustProxy(options.trustProxy ?? []);
  } catch (e) {
    throw configInvalid(`trustProxy: ${e instanceof Error ? e.message : String(e)} (addresses, CIDRs, loopback, linklocal or uniquelocal)`);
  }
  checkGivenSecrets({ jwtSecret: options.jwtSecret, challengeKey: options.challengeKey });
  if (options.realm !== undefined && !REALM_PATTERN.test(options.realm)) throw configInvalid('realm must be 1–128 printable ASCII characters without spaces');
  try {
    checkDeviceCacheTtl(options.deviceCacheTtlMs);
    checkServerFieldCacheBytes(options.serverFieldCacheBytes);
  } catch (e) {
    throw configInvalid((e as Error).message);
  }
  checkNativeCrypto(options.nativeCrypto, options.backend !== undefined);
  const built = assembleSchema({
    typeDefs: list(options.typeDefs),
    resolvers: list<IResolvers>(options.resolvers),
    services,
    sealed: createSealedScalar(MAX_SEALED_BYTES),
  });
  const { manifest } = built;
  const types = checkTypeAdapters(manifest, options.types ?? {}, has('sharing'));
  const limits = createRequestLimits(options.limits, manifest);

  // Last of the checks: 'require' without a loadable sodium-native refuses to start here.
  const backend = await gatewayBackend(options, log);
  const dataDir = resolve(options.dataDir ?? DEFAULT_DATA_DIR);
  ensurePrivateDir(dataDir);
  const keyring = GatewayKeyRing.load(backend, {
    dataDir,
    env: options.keyring,
    onGenerated: (path) => log.warn('keyring.generated', { path, note: 'new key ring for SERVER fields; back it up, without it SERVER fields cannot be read' }),
  });
  const secrets = has('signIn')
    ? loadSecrets(backend, dataDir, { jwtSecret: options.jwtSecret, challengeKey: options.challengeKey }, (path) => log.warn('secrets.generated', { path }))
    : undefined;
  const ownStore = options.store === undefined;
  const store: Store = options.store ?? (await openStore({ databaseUrl: options.databaseUrl, dataDir }));
  warnWidePermissions(log, { databaseUrl: options.databaseUrl, dataDir });

  let limitPool: pg.Pool | undefined;
  let pubsub: LocalPubSub | undefined;
  let devices: ActiveDeviceCache | undefined;
  try {
    const codec = new ServerFieldCodec(backend, keyring, manifest, { cacheBytes: options.serverFieldCacheBytes ?? DEFAULT_SERVER_FIELD_CACHE_BYTES });
    const schema = enforcePrivacy(built.wire, manifest, codec);
    // Rate limits: in this process on the embedded default; on PostgreSQL in one table that
    // every instance counts in (a small pool of its own, as the pubsub has).
    const limitRules = authLimitRules(options.authLimits);
    if (store.kind === 'postgres' && options.databaseUrl) {
      limitPool = new pg.Pool({ connectionString: options.databaseUrl, max: 4 });
      limitPool.on('error', () => undefined); // idle-client errors: the next query reconnects
    }
    const rateLimits = limitPool ? await RateLimits.create(limitRules, { kind: 'postgres', pool: limitPool }) : RateLimits.memory(limitRules);
    const auth = secrets
      ? createAuthService({ store, backend, realm: options.realm, challengeKey: secrets.challengeKey, jwtSecret: secrets.jwtSecret, tokenTtlSeconds: options.tokenTtlSeconds, rateLimits })
      : NO_SIGN_IN;
    // Embedded default: in-process. PostgreSQL: across every instance on the database.
    const transport: LocalPubSub = store.kind === 'postgres' && options.databaseUrl ? await PostgresPubSub.start(options.databaseUrl, log) : new InMemoryPubSub();
    pubsub = transport;
    // ACTIVE devices of this instance, for at most `deviceCacheTtlMs` after they were read;
    // a revocation event (from any instance; one published here at once) or a RESYNC drops
    // them (./session-cache.ts).
    devices = new ActiveDeviceCache({ load: (id) => store.findDevice(id), pubsub: transport, ttlMs: options.deviceCacheTtlMs });
    const activeDevices = devices;
    const events = withLocalRevocations(transport, activeDevices);
    const clientAddress = createClientAddress(trust);
    const format = createErrorFormatter(production);

    // The viewer a token proves, and when that proof ends (a socket closes then). One token
    // verifier serves HTTP and WebSocket. A device session (`did`) lives only while its device
    // is ACTIVE, as the device cache answers it (within its staleness bound).
    const verifyToken = async (token: string): Promise<{ viewer: Viewer; expiresAt: Date }> => {
      const claims = await auth.verifyToken(token);
      if (claims.deviceId === undefined) return { viewer: { id: claims.sub }, expiresAt: claims.expiresAt };
      const device = await activeDevices.active(claims.deviceId);
      if (!device || device.userId !== claims.sub) throw new AuthError('UNAUTHENTICATED', 'device revoked');
      return { viewer: { id: claims.sub, deviceId: device.id }, expiresAt: claims.expiresAt };
    };
    // The viewer of a request, and when the token that proved it expires (Envelop's
    // subscriptions end then, as sockets do).
    const sessionOf = async (request: VeilRequest): Promise<{ viewer: Viewer; expiresAt?: Date } | null> => {
      if (options.authenticate) {
        let viewer: unknown;
        try {
          viewer = await options.authenticate(request);
        } catch (e) {
          // A refusal the author coded: the whole request is refused with it (401). Anything
          // else is their bug or an outage: an internal error, never an anonymous request.
          if (e instanceof VeilgraphError) throw new GraphQLError(e.message, { extensions: { ...e.extensions, http: { status: 401 } } });
          throw e;
        }
        const checked = checkViewer(viewer);
        return checked && { viewer: checked };
      }
      const header = headerOf(request.headers, 'authorization');
      if (!header) return null;
      const token = bearerToken(header);
      if (!token) throw unauthenticatedRequest('the Authorization header must be "Bearer <token>"');
      try {
        return await verifyToken(token);
      } catch (e) {
        throw unauthenticatedRequest(e instanceof Error ? e.message : 'invalid token');
      }
    };
    const viewerOf = async (request: VeilRequest): Promise<Viewer | null> => (await sessionOf(request))?.viewer ?? null;

    const shared: GatewayServices = {
      store,
      auth,
      codec,
      backend,
      manifest,
      log,
      pubsub: events,
      debugView: options.debugView ?? !production,
      types,
      services: new Set(services.map((s) => s.name)),
      rateLimits,
      identityRotated: async (stored) => {
        for (const s of services) await s.onIdentityRotated?.(shared, stored);
      },
    };
    const contextFor = (viewer: Viewer | null, request: AddressedRequest): GatewayContext => {
      const ctx: GatewayContext = {
        ...shared,
        viewer,
        access: new RequestAccess(store, viewer),
        owners: new OwnerLoader(types, () => ctx),
        users: new UserLoader(store),
        clientKey: clientAddress(request),
        veil,
      };
      return ctx;
    };

    // veilgraph's own validation rules; the last marks each document they validated, so the
    // Apollo plugin knows whether the server applied them (./adapters/apollo.ts).
    const validated = new WeakSet<DocumentNode>();
    const markValidated: ValidationRule = (context) => {
      validated.add(context.getDocument());
      return {};
    };
    const validationRules: readonly ValidationRule[] = [...limits.rules, createSealedLiteralRule(MAX_SEALED_BYTES), markValidated];

    const openSession = async (params: Readonly<Record<string, unknown>> | undefined, request: AddressedRequest & { headers: Readonly<Record<string, unknown>> }): Promise<SocketSession | null> => {
      if (options.authenticate) {
        // The upgrade request's headers; an `authorization` string in the payload stands in for the header.
        const authorization = typeof params?.authorization === 'string' ? params.authorization : undefined;
        const headers = authorization === undefined ? request.headers : { ...request.headers, authorization };
        const viewer = checkViewer(await options.authenticate({ headers: headers as VeilRequest['headers'], remoteAddress: request.remoteAddress ?? request.socket?.remoteAddress }));
        return viewer && { viewer };
      }
      const token = tokenFromConnectionParams(params);
      if (token === null) throw new Error('malformed token');
      if (token === undefined) return null;
      return verifyToken(token);
    };
    // A device session's sockets close when the device is revoked (on any instance: the event
    // goes through the pubsub). When events may have been missed (a PostgreSQL listener
    // reconnected: RESYNC_TOPIC), the device is looked up again, so a revocation whose event
    // was lost still ends the socket.
    const watchSession = (viewer: Viewer, end: () => void): (() => void) | undefined => {
      const deviceId = viewer.deviceId;
      if (deviceId === undefined) return undefined;
      const revoked = events.subscribe(deviceTopic(deviceId));
      void revoked.next().then(
        (r) => {
          if (!r.done) end();
        },
        () => undefined,
      );
      const resync = events.subscribe(RESYNC_TOPIC);
      // True when the session goes on. A database error keeps it: the next check (or the
      // token's expiry) decides. Read from the database, not the device cache: once per socket,
      // and after a RESYNC the cache may not have been cleared yet when this runs.
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
    };

    const purge = setInterval(() => {
      const now = new Date();
      for (const s of services) void s.purge?.(shared, now).catch(() => undefined);
    }, PURGE_INTERVAL_MS);
    purge.unref();
    const sweep = setInterval(() => void rateLimits.purgeExpired().catch(() => undefined), RATE_LIMIT_SWEEP_MS);
    sweep.unref();

    // What both HTTP server adapters take of this instance.
    const adapterLayer: ApolloLayer = { schema, limits, validationRules, validatedByRules: (d) => validated.has(d), formatError: format, log, production };
    const veil: Veilgraph = {
      schema,
      sourceSchema: built.source,
      manifest,
      parseOptions: { maxTokens: limits.limits.maxTokens },
      validationRules,
      formatError: format,
      // The transport itself (what tests and apps inspect); what the services publish on goes through `events`.
      pubsub: transport,
      store,
      keyring,
      log,
      async context(request) {
        return contextFor(await viewerOf(request), request);
      },
      clientAddress: (request) => clientAddress(request),
      apolloPlugin: () => createApolloPlugin(adapterLayer),
      envelopPlugin: (envelopOptions) =>
        createEnvelopPlugin(
          {
            ...adapterLayer,
            session: async (request) => {
              const session = await sessionOf(request);
              return { context: contextFor(session?.viewer ?? null, request), expiresAt: session?.expiresAt };
            },
            watchSession,
          },
          envelopOptions,
        ),
      graphqlWsOptions: (wsOptions) =>
        createGraphqlWsOptions(
          {
            schema,
            limits,
            validationRules,
            formatError: format,
            production,
            log,
            openSession: (params, request) => openSession(params, request as unknown as AddressedRequest & { headers: Readonly<Record<string, unknown>> }),
            watchSession,
            context: (viewer, request) => contextFor(viewer, request),
          },
          wsOptions,
        ),
      write: (ctx, inputType, input, where, previous) => authorizedWrite(shared, ctx, inputType, input, where, previous),
      forget: (ctx, typeName, ids) => forgetOwnObjects(ctx, typeName, ids),
      blindIndex(coordinate, value) {
        const [type = '', field = ''] = coordinate.split('.');
        const f = manifest.objects[type]?.fields[field];
        if (f?.level !== 'SERVER' || f.searchable !== true) throw new TypeError(`${coordinate} is not a searchable SERVER field (@privacy(level: SERVER, searchable: true))`);
        return codec.blindIndex(coordinate, value);
      },
      async rateLimit(rule, key) {
        const d = await rateLimits.take(rule, key);
        if (!d.allowed) throw toGraphQLError(rateLimited(d.retryAfterSeconds));
      },
      rotateKeyRing() {
        if (!keyring.path) throw configInvalid('the key ring was given as the keyring option (VEIL_KEYRING): add a version there (current = new version), restart, then reseal');
        const version = rotateKeyRingFile(backend, keyring.path);
        keyring.refresh(true);
        return version;
      },
      serverFieldCacheStats: () => codec.cacheStats(),
      reseal: (o = {}) => resealServerFields({ manifest, types, codec, keyring, ...o }),
      async close() {
        clearInterval(purge);
        clearInterval(sweep);
        activeDevices.close();
        await events.close();
        await limitPool?.end();
        if (ownStore) await store.close();
      },
    };
    return veil;
  } catch (e) {
    devices?.close();
    await pubsub?.close().catch(() => undefined);
    await limitPool?.end().catch(() => undefined);
    if (ownStore) await store.close().catch(() => undefined);
    throw e;
  }
}
