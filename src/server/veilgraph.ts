/**
 * @module
 * The public shape of `veilgraph/server`: the options of `createVeilgraph` (./create.ts) and
 * the instance it returns, which an author's server (Apollo Server, an Envelop server,
 * graphql-ws) is wired to. Types only.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { ApolloServerPlugin } from '@apollo/server';
import type { IResolvers } from '@graphql-tools/utils';
import type { GraphQLFormattedError, GraphQLSchema, ParseOptions, ValidationRule } from 'graphql';
import type { Extra } from 'graphql-ws/use/ws';
import type { CryptoBackend } from '../crypto/backend.js';
import type { NativeCrypto } from './crypto-backend.js';
import type { ServerFieldCacheStats } from './server-field-cache.js';
import type { PrivacyManifest } from '../privacy/manifest.js';
import type { Viewer } from './access.js';
import type { EnvelopPlugin, VeilEnvelopOptions } from './adapters/envelop.js';
import type { VeilWsServerOptions } from './adapters/graphql-ws.js';
import type { VeilContext } from './context.js';
import type { GatewayKeyRing } from './keyring.js';
import type { QueryLimits } from './limits.js';
import type { Logger, LogLevel, LogSink } from './log.js';
import type { PubSub } from './pubsub.js';
import type { ServiceModule } from './service-module.js';
import type { AuthLimitName, AuthLimits } from './services/sign-in/auth/service.js';
import type { Store } from './storage/store.js';
import type { TypeAdapter } from './type-adapters.js';

/** What veilgraph reads of a request: its headers and the peer address. */
export interface VeilRequest {
  /** Node `IncomingHttpHeaders`, a Fetch `Headers`, or a plain record (lower-case names). */
  readonly headers: IncomingHttpHeaders | Headers | Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The peer address (`socket.remoteAddress`); trusted proxies are applied to it. */
  readonly remoteAddress?: string | undefined;
  /** Node's request socket: its `remoteAddress` stands in when `remoteAddress` is not given (an `IncomingMessage` is a `VeilRequest`). */
  readonly socket?: { readonly remoteAddress?: string | undefined } | undefined;
}

export interface VeilgraphOptions {
  /**
   * The author's SDL (one or many documents) with `@owner`, `@privacy` and `@writes`. The
   * directive definitions, the `Sealed` scalar and the root types come with veilgraph: do not
   * declare them (`extend type Query { … }`).
   */
  readonly typeDefs: string | readonly string[];
  readonly resolvers?: IResolvers | readonly IResolvers[];
  /** One adapter per annotated type the author stores (every type with a non-PUBLIC field). */
  readonly types?: Readonly<Record<string, TypeAdapter<object>>>;
  /** Built-in services, opt-in: signIn(), directory(), sharing(), messaging(), backups(), debugView(). */
  readonly services?: readonly ServiceModule[];
  /**
   * Who the viewer is when the app does not take signIn(): from the request; null =
   * anonymous. Throw a VeilgraphError (say code UNAUTHENTICATED) to refuse the whole request
   * with HTTP 401 (over WebSocket: close 4403); any other throw is an internal error.
   */
  readonly authenticate?: (request: VeilRequest) => Promise<Viewer | null>;
  /** Where veilgraph keeps its own state: key ring, secrets, the services' SQLite file. Default ./veilgraph-data (created 0700). */
  readonly dataDir?: string;
  /** The services' database (unset: SQLite in `dataDir`; `file:…`; `postgres://…` for PostgreSQL). */
  readonly databaseUrl?: string;
  /** The services' store when the caller opened it (`openStore`) or implements `Store` itself; veilgraph then does not close it. */
  readonly store?: Store;
  /** The SERVER key ring as JSON (as VEIL_KEYRING); else `<dataDir>/keyring.json`, generated on first start. */
  readonly keyring?: string;
  /** signIn()'s token signing secret and challenge MAC key, base64url ≥ 32 bytes; else `<dataDir>/secrets.json`. */
  readonly jwtSecret?: string;
  readonly challengeKey?: string;
  /** Deployment name bound into signatures and tokens (signIn(); default "veilgraph"). */
  readonly realm?: string;
  /** Access token lifetime (signIn(); default 900). */
  readonly tokenTtlSeconds?: number;
  /**
   * The device check's staleness bound in milliseconds (signIn(); default 5000, 0–60000; 0 =
   * every request of a device session reads its device): how long this instance may accept
   * a device session on an ACTIVE answer it read earlier. A revocation event drops the answer
   * at once on every instance; the bound covers a lost event (docs/devices.md).
   */
  readonly deviceCacheTtlMs?: number;
  /** Request limits over DEFAULT_LIMITS (docs/requests.md, "Limits"). */
  readonly limits?: Partial<QueryLimits>;
  /** No error details, no name suggestions; default `NODE_ENV === 'production'`. */
  readonly production?: boolean;
  /** Whether the debugView() service's `storedObject` answers (default: not in production). */
  readonly debugView?: boolean;
  /** The crypto backend, used as given; else chosen as `nativeCrypto` says (./crypto-backend.ts). */
  readonly backend?: CryptoBackend;
  /**
   * Without `backend`: 'prefer' (default) the libsodium backend where `sodium-native` loads,
   * else the node backend; 'require' libsodium or refuse to start; 'off' the node backend.
   * Same bytes and checks either way (docs/crypto.md §1). Not with `backend`.
   */
  readonly nativeCrypto?: NativeCrypto;
  /**
   * Bound in bytes of the in-process cache of opened SERVER values (./server-field-cache.ts;
   * default 32 MiB, 0–1 GiB; 0 = no cache): re-reading an unchanged row costs a lookup
   * instead of an AEAD open (docs/crypto.md §13, docs/threats.md).
   */
  readonly serverFieldCacheBytes?: number;
  readonly logSink?: LogSink;
  readonly logLevel?: LogLevel;
  /** Overrides of the rate-limit rules (docs/auth.md §7); on PostgreSQL every instance counts in one table. */
  readonly authLimits?: Partial<AuthLimits>;
  /**
   * Proxies whose X-Forwarded-For names the client, as VEIL_TRUST_PROXY (comma-separated
   * addresses, CIDRs, `loopback`, `linklocal`, `uniquelocal`) or a list. Unset: none.
   */
  readonly trustProxy?: string | readonly string[];
}

/** One type's re-seal, reported as it goes. */
export interface ResealProgress {
  readonly type: string;
  /** Rows of `type` moved onto `version` so far. */
  readonly done: number;
  /** Rows of `type` that were not on `version` when the re-seal started (its adapter's `count`; else `done`). */
  readonly total: number;
  readonly version: number;
}

/** What a re-seal did, per type. */
export interface ResealReport {
  /** The key ring version every row was moved onto. */
  readonly version: number;
  readonly types: readonly {
    readonly type: string;
    /** Rows moved onto `version`. */
    readonly resealed: number;
    /** Of those, how many came from each earlier key version. */
    readonly fromVersions: Readonly<Record<number, number>>;
    /** Rows still not on `version` (a live writer kept winning; run the re-seal again). Without the adapter's `count`: at most `batchSize`. */
    readonly remaining: number;
  }[];
}

/** Options of `graphqlWsOptions`. */
export interface VeilWsOptions {
  /** Most subscriptions running at once on one socket (default 100); one more is refused with SUBSCRIPTION_LIMIT. */
  readonly maxSubscriptionsPerSocket?: number;
  /** An anonymous socket with no running subscription is closed (4903) after this many seconds (default 30; 0: never). */
  readonly anonymousIdleSeconds?: number;
  /** Your own context for each subscription, from veilgraph's (default: veilgraph's as is). */
  readonly context?: (veil: VeilContext, extra: Extra) => object | Promise<object>;
}

export interface Veilgraph {
  /** Enforced executable schema as clients see it (sealed fields are `Sealed`). Pass it to your server. */
  readonly schema: GraphQLSchema;
  /** The annotated source schema (directives visible; what codegen reads). */
  readonly sourceSchema: GraphQLSchema;
  readonly manifest: PrivacyManifest;
  /** Parse options (the token limit): every transport must parse with them. */
  readonly parseOptions: ParseOptions;
  /** Validation rules (limits, sealed literals) beside graphql's `specifiedRules`: every transport must apply them. */
  readonly validationRules: readonly ValidationRule[];
  /** How errors leave the server (codes kept, rejected values never echoed, internals hidden in production). */
  formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError;
  /** The per-request context from a request (headers + peer address). Throws GraphQLError UNAUTHENTICATED (HTTP 401) on a bad token. */
  context(request: VeilRequest): Promise<VeilContext>;
  /** The client address key of a request (the socket peer, or the client a trusted proxy names; IPv6 per /64): what per-address limits count by. */
  clientAddress(request: VeilRequest): string;
  /** Apollo Server 5 plugin (./adapters/apollo.ts). */
  apolloPlugin(): ApolloServerPlugin<any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- any server context
  /** Envelop 5 plugin for GraphQL Yoga 5 and any Envelop server: sets `veil.schema`, parses, validates, builds the context (./adapters/envelop.ts). */
  envelopPlugin(options?: VeilEnvelopOptions): EnvelopPlugin;
  /** Options for graphql-ws `useServer` from `graphql-ws/use/ws` (./adapters/graphql-ws.ts). */
  graphqlWsOptions(options?: VeilWsOptions): VeilWsServerOptions;
  /**
   * The crypto-free write path: checks every sealed value of `input` (location, writer,
   * data key lineage) and that the viewer may write each field, seals SERVER values (merged
   * with `previous`'s), computes blind indexes, and returns the columns to store.
   */
  write(ctx: VeilContext, inputType: string, input: object, where: { readonly ownerId: string; readonly objectId: string }, previous?: { readonly serverSealed?: Uint8Array | null } | null): Promise<Record<string, unknown>>;
  /** The blind index of `value` for a searchable SERVER field (`Type.field`): what `<field>Index` holds, for equality lookups. */
  /**
   * Call before deleting objects of yours: removes their grants and wrapped data keys from
   * veilgraph's store (they name the object by type and id only: left behind, an object made
   * again at the same id would be shared with the old grantees at once). Only the owner may
   * (FORBIDDEN); ids the type's TypeAdapter does not know are skipped.
   */
  forget(ctx: VeilContext, typeName: string, ids: readonly string[]): Promise<void>;
  blindIndex(coordinate: string, value: string): string;
  /** Takes one request of `key` from rate-limit rule `rule`; RATE_LIMITED (with retryAfterSeconds) when used up. */
  rateLimit(rule: AuthLimitName, key: string): Promise<void>;
  /** Adds a key ring version to `<dataDir>/keyring.json` (current for new writes at once); returns it. Not with `keyring` given. */
  rotateKeyRing(): number;
  /**
   * How full the cache of opened SERVER values is (entries, estimated bytes) and its bounds;
   * null when `serverFieldCacheBytes` is 0. Counts only, never contents.
   */
  serverFieldCacheStats(): ServerFieldCacheStats | null;
  /** Re-seals SERVER fields of every type onto the current key ring version. */
  reseal(options?: { batchSize?: number; pauseMs?: number; onProgress?: (p: ResealProgress) => void }): Promise<ResealReport>;
  /** Subscription events (in this process; across instances on PostgreSQL), and how many subscribers a topic has in this process. */
  readonly pubsub: PubSub & { subscriberCount(topic: string): number };
  /** The services' store (tests, CLI). */
  readonly store: Store;
  readonly keyring: GatewayKeyRing;
  readonly log: Logger;
  /** Stops timers, the pubsub and what veilgraph opened (the store, unless it was passed in). */
  close(): Promise<void>;
}
