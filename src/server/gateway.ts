/**
 * @module
 * Assembles and starts the gateway: storage, key ring, secrets, the privacy-enforcing
 * schema, Apollo Server on Node's http server. `startGateway` is what `npm start` runs and
 * what tests start on a loopback port.
 */
import { mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ApolloServer } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginSchemaReportingDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { CryptoBackend } from '../crypto/backend.js';
import { nodeBackend } from '../crypto/backends/node.js';
import type { PrivacyManifest } from '../privacy/manifest.js';
import { RequestAccess } from './access.js';
import { createAuthService } from './auth/service.js';
import type { GatewayConfig } from './config.js';
import { CodedInputError } from './errors.js';
import type { GatewayContext, GatewayServices } from './context.js';
import { enforcePrivacy } from './enforce.js';
import { createHttpHandler } from './http.js';
import { GatewayKeyRing } from './keyring.js';
import { DEFAULT_LIMITS, createLimitsRule, type QueryLimits } from './limits.js';
import { createLogger, type Logger, type LogSink } from './log.js';
import { authResolvers } from './resolvers/auth.js';
import { profileResolvers } from './resolvers/profile.js';
import { buildSchema, readSchemaDir } from './schema.js';
import { loadSecrets } from './secrets.js';
import { createSealedLiteralRule, createSealedScalar } from './sealed-scalar.js';
import { ServerFieldCodec } from './server-fields.js';
import { openStore } from './storage/open.js';
import type { Store } from './storage/store.js';

export const DEFAULT_SCHEMA_DIR = fileURLToPath(new URL('../../schema/', import.meta.url));
/** Largest accepted sealed value (binary); the body limit bounds a whole request. */
export const MAX_SEALED_BYTES = 1024 * 1024;

export interface GatewayOptions extends GatewayConfig {
  /** Directory of `.graphql` files (default: the repository's `schema/`). */
  readonly schemaDir?: string;
  readonly limits?: QueryLimits;
  readonly backend?: CryptoBackend;
  /** Where log lines go (default stdout). */
  readonly logSink?: LogSink;
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
  close(): Promise<void>;
}

function bearer(req: IncomingMessage): string | null {
  const h = req.headers.authorization;
  if (!h) return null;
  const m = /^Bearer ([A-Za-z0-9._-]+)$/.exec(h);
  if (!m) throw new GraphQLError('the Authorization header must be "Bearer <token>"', { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
  return m[1]!;
}

// Codes our validation rules set; Apollo would report them all as GRAPHQL_VALIDATION_FAILED.
const OUR_VALIDATION_CODES = new Set(['BAD_SEALED_VALUE', 'QUERY_TOO_COMPLEX']);

/** The first `extensions.code` set by us somewhere down an error's `originalError` chain. */
function codedCause(error: unknown): string | undefined {
  for (let e = error as { originalError?: unknown; extensions?: { code?: unknown } } | undefined, depth = 0; e && depth < 5; depth++) {
    if (e instanceof CodedInputError) return e.extensions.code;
    if (e instanceof GraphQLError && typeof e.extensions?.code === 'string' && OUR_VALIDATION_CODES.has(e.extensions.code)) return e.extensions.code;
    e = e.originalError as typeof e;
  }
  return undefined;
}

/**
 * graphql-js reports a bad variable as `Variable "$x" got invalid value <the value> at
 * "x.field"; <reason>`. For sealed fields the value is plaintext that should never have
 * been sent: answer with the field path and the reason only.
 */
function withoutEchoedValue(message: string): string {
  const m = /^Variable "\$([^"]+)" got invalid value [\s\S]*? at "([^"]+)"; ([\s\S]*)$/.exec(message);
  if (m) return `Variable "$${m[1]}" at "${m[2]}": ${m[3]}`;
  const top = /^Variable "\$([^"]+)" got invalid value [\s\S]*?; ([\s\S]*)$/.exec(message);
  return top ? `Variable "$${top[1]}": ${top[2]}` : message;
}

export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const backend = options.backend ?? nodeBackend;
  const log = createLogger({ level: options.logLevel, ...(options.logSink ? { sink: options.logSink } : {}) });
  mkdirSync(options.dataDir, { recursive: true });

  const keyring = GatewayKeyRing.load(backend, {
    dataDir: options.dataDir,
    env: options.keyring,
    onGenerated: (path) => log.warn('keyring.generated', { path, note: 'new gateway key ring for SERVER fields; back it up, without it SERVER fields cannot be read' }),
  });
  const secrets = loadSecrets(backend, options.dataDir, { jwtSecret: options.jwtSecret, challengeKey: options.challengeKey }, (path) =>
    log.warn('secrets.generated', { path }),
  );
  const store = await openStore({ databaseUrl: options.databaseUrl, dataDir: options.dataDir });

  const built = buildSchema(readSchemaDir(options.schemaDir ?? DEFAULT_SCHEMA_DIR), [
    { Sealed: createSealedScalar(MAX_SEALED_BYTES) },
    authResolvers,
    profileResolvers,
  ]);
  const codec = new ServerFieldCodec(backend, keyring, built.manifest);
  const schema = enforcePrivacy(built.wire, built.manifest, codec);
  const auth = createAuthService({
    store,
    backend,
    realm: options.realm,
    challengeKey: secrets.challengeKey,
    jwtSecret: secrets.jwtSecret,
    tokenTtlSeconds: options.tokenTtlSeconds,
  });
  const services: GatewayServices = { store, auth, codec, backend, manifest: built.manifest, log };

  const production = options.production;
  const apollo = new ApolloServer<GatewayContext>({
    schema,
    introspection: !production,
    includeStacktraceInErrorResponses: !production,
    validationRules: [createLimitsRule(options.limits ?? DEFAULT_LIMITS), createSealedLiteralRule(MAX_SEALED_BYTES)],
    // The default cache-control plugin is most of Apollo's per-field cost and we set no
    // cache hints; reporting plugins would send data to a vendor.
    plugins: [
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
      ApolloServerPluginUsageReportingDisabled(),
      ApolloServerPluginSchemaReportingDisabled(),
      ...(production ? [ApolloServerPluginLandingPageDisabled()] : []),
      {
        async requestDidStart() {
          const started = performance.now();
          return {
            async willSendResponse(rc) {
              const errors = 'singleResult' in rc.response.body ? rc.response.body.singleResult.errors : undefined;
              // Operation name and error codes only: never variables, values or messages.
              log.info('graphql.request', {
                operation: rc.operationName ?? null,
                ms: Math.round((performance.now() - started) * 10) / 10,
                errors: errors?.map((e) => e.extensions?.code ?? 'UNKNOWN') ?? [],
              });
            },
          };
        },
      },
    ],
    formatError: (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
      // Apollo re-codes validation and variable errors (GRAPHQL_VALIDATION_FAILED,
      // BAD_USER_INPUT); a code we set deeper in the chain is the more precise one.
      const inner = codedCause(error);
      const code = inner ?? formatted.extensions?.code;
      if (inner) formatted = { ...formatted, extensions: { ...formatted.extensions, code: inner } };
      if (code === 'BAD_SEALED_VALUE' || formatted.message.startsWith('Variable "$')) {
        return { ...formatted, message: withoutEchoedValue(formatted.message) };
      }
      if (production && (code === undefined || code === 'INTERNAL_SERVER_ERROR')) {
        return { message: 'internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } };
      }
      return formatted;
    },
    logger: {
      debug: () => undefined,
      info: () => undefined,
      warn: (m) => log.warn('apollo.warn', { detail: String(m).slice(0, 200) }),
      error: () => log.error('apollo.error', {}),
    },
  });
  await apollo.start();

  const context = async (req: IncomingMessage): Promise<GatewayContext> => {
    const token = bearer(req);
    let viewer = null;
    if (token) {
      try {
        const claims = await auth.verifyToken(token);
        viewer = { id: claims.sub };
      } catch (e) {
        const message = e instanceof Error ? e.message : 'invalid token';
        throw new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
      }
    }
    return { ...services, viewer, access: new RequestAccess(store, viewer), clientKey: req.socket.remoteAddress ?? 'unknown' };
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
    }),
  );
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(options.port, options.host, () => resolve());
  });
  const port = (httpServer.address() as AddressInfo).port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  // The address we listen on, not "localhost": that name may resolve to ::1 first.
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}/graphql`;
  const purge = setInterval(() => void auth.purgeExpiredChallenges().catch(() => undefined), 10 * 60_000);
  purge.unref();
  log.info('gateway.started', { url, database: store.kind, production });

  return {
    url,
    port,
    store,
    keyring,
    codec,
    manifest: built.manifest,
    log,
    httpServer,
    async close() {
      clearInterval(purge);
      await new Promise<void>((resolve) => {
        httpServer.close(() => resolve());
        httpServer.closeAllConnections();
      });
      await apollo.stop();
      await store.close();
    },
  };
}
