/**
 * @module
 * The idle bound of anonymous WebSockets (`graphqlWsOptions({ anonymousIdleSeconds })`). A
 * socket that signed in with no token can only run public subscriptions. It is closed (IDLE)
 * `idleMs` after it connected, unless a subscription is running at that moment; then it is
 * looked at again every `idleMs`, and closed at the first look that finds none running.
 * Subscriptions that end (or fail at once) do not restart the clock, so a stream of refused
 * subscribes cannot keep a socket open. Signed-in sockets are bounded by their token instead
 * (closed at its expiry, 4401). A socket that never sends `connection_init` is closed by
 * graphql-ws after 3 s (4408).
 */
import type { WebSocket } from 'ws';
import type { Logger } from '../log.js';

/** An anonymous socket had no active subscription for the idle bound: open one when it is needed (veilgraph's block: 4901–4903). */
export const IDLE_CLOSE_CODE = 4903;

/** What a socket's idle watch needs to see: its running subscriptions (graphql-ws's `ctx.subscriptions`). */
export interface SubscriptionsView {
  readonly subscriptions: Readonly<Record<string, unknown>>;
}

export interface IdleWatch {
  stop(): void;
}

/** Closes `socket` with IDLE at the first look, every `idleMs` from now, that finds no subscription running. */
export function watchIdle(ctx: SubscriptionsView, socket: WebSocket, idleMs: number, log: Logger): IdleWatch {
  let timer: NodeJS.Timeout | undefined;
  const look = (): void => {
    timer = setTimeout(() => {
      // Busy now: look again one period later.
      if (Object.keys(ctx.subscriptions).length > 0) return look();
      log.info('ws.closed', { reason: 'idle' });
      socket.close(IDLE_CLOSE_CODE, 'idle: no subscription');
    }, idleMs);
    timer.unref();
  };
  look();
  return {
    stop() {
      clearTimeout(timer);
    },
  };
}
