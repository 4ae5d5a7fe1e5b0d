/**
 * @module
 * What every resolver receives. `viewer` comes only from a verified token, never from an
 * argument; everything else is the gateway's shared services.
 */
import type { CryptoBackend } from '../crypto/backend.js';
import type { PrivacyManifest } from '../privacy/manifest.js';
import type { RequestAccess, Viewer } from './access.js';
import type { AuthService } from './services/sign-in/auth/service.js';
import { unauthenticated } from './errors.js';
import type { Logger } from './log.js';
import type { PubSub } from './pubsub.js';
import type { ServerFieldCodec } from './server-fields.js';
import type { Store } from './storage/store.js';
import type { UserLoader } from './user-loader.js';

export interface GatewayServices {
  readonly store: Store;
  readonly auth: AuthService;
  readonly codec: ServerFieldCodec;
  readonly backend: CryptoBackend;
  readonly manifest: PrivacyManifest;
  readonly log: Logger;
  /** Subscription events (in-process; src/server/pubsub.ts). */
  readonly pubsub: PubSub;
  /** Whether the `storedObject` debug query answers (config VEIL_DEBUG_VIEW). */
  readonly debugView: boolean;
}

export interface GatewayContext extends GatewayServices {
  readonly viewer: Viewer | null;
  readonly access: RequestAccess;
  /** User lookups of this request, batched per tick (field resolvers use it). */
  readonly users: UserLoader;
  /** The requester's address, for rate limits. */
  readonly clientKey: string;
}

export function requireViewer(ctx: GatewayContext): Viewer {
  if (!ctx.viewer) throw unauthenticated();
  return ctx.viewer;
}
