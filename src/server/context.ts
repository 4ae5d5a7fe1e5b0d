/**
 * @module
 * What every resolver receives. `VeilContext` is the public part (a schema author's
 * resolvers use it, or spread it into their own context); `GatewayContext` adds the shared
 * internals the built-in services use. `viewer` comes only from a verified token (signIn())
 * or the author's `authenticate`, never from an argument.
 */
import type { CryptoBackend } from '../crypto/backend.js';
import type { PrivacyManifest } from '../privacy/manifest.js';
import type { RequestAccess, Viewer } from './access.js';
import { unauthenticated } from './errors.js';
import type { Logger } from './log.js';
import type { PubSub } from './pubsub.js';
import type { RateLimits } from './rate-limit.js';
import type { ServerFieldCodec } from './server-fields.js';
import type { AuthLimitName, AuthService } from './services/sign-in/auth/service.js';
import type { Store, UserKeyRow } from './storage/store.js';
import type { OwnerLoader, TypeAdapters } from './type-adapters.js';
import type { UserLoader } from './user-loader.js';
import type { Veilgraph } from './veilgraph.js';

/** What resolvers receive from veilgraph (spread it into your own context, or use it as is). */
export interface VeilContext {
  /** The signed-in user (null: anonymous), from the verified token or `authenticate`. */
  readonly viewer: Viewer | null;
  /**
   * Who may read and write what in this request: the viewer's grants, looked up in one
   * batched query per type per tick. `access.prefetch(type, ids)` ahead of a list makes every
   * field check of it synchronous; a subscription calls `access.forgetGrants()` per event.
   */
  readonly access: RequestAccess;
  /** Owners of objects through the types' `TypeAdapter.owners`, batched per type per tick. */
  readonly owners: OwnerLoader;
  /** signIn()'s users by id, batched per tick (null: no such user). */
  readonly users: UserLoader;
  /** The requester's address key (trusted proxies applied), for per-address rate limits. */
  readonly clientKey: string;
  /** Subscription events: in this process, or across instances on PostgreSQL. */
  readonly pubsub: PubSub;
  /** The veilgraph instance: `veil.write`, `veil.blindIndex`, `veil.rateLimit`, `veil.manifest`. */
  readonly veil: Veilgraph;
}

/** What the built-in services share (one set per veilgraph instance). */
export interface GatewayServices {
  readonly store: Store;
  /** signIn()'s authentication core; any use without signIn() throws (its services require it). */
  readonly auth: AuthService;
  readonly codec: ServerFieldCodec;
  readonly backend: CryptoBackend;
  readonly manifest: PrivacyManifest;
  readonly log: Logger;
  /** Subscription events (src/server/pubsub.ts; across instances on PostgreSQL). */
  readonly pubsub: PubSub;
  /** Whether the `storedObject` debug query answers (the `debugView` option). */
  readonly debugView: boolean;
  /** The author's TypeAdapters by type name. */
  readonly types: TypeAdapters;
  /** Names of the services taken (`signIn`, `directory`, …). */
  readonly services: ReadonlySet<string>;
  readonly rateLimits: RateLimits<AuthLimitName>;
  /** Called after a user's identity keys moved to a new version (committed): services announce it. */
  readonly identityRotated: (stored: UserKeyRow) => Promise<void>;
}

export interface GatewayContext extends VeilContext, GatewayServices {
  readonly pubsub: PubSub;
}

/**
 * The context as a built-in service sees it: its store typed as the part of `Store` the
 * service declares (its `store.ts`), so the compiler holds each service to its seam.
 */
export type ServiceContext<S> = Omit<GatewayContext, 'store'> & { readonly store: S };

/** The viewer, or UNAUTHENTICATED when the request is anonymous. */
export function requireViewer(ctx: Pick<VeilContext, 'viewer'>): Viewer {
  if (!ctx.viewer) throw unauthenticated();
  return ctx.viewer;
}
