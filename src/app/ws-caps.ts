/**
 * @module
 * Connection caps of the reference app's WebSocket server (./ws-server.ts), so that open
 * sockets cannot pile up: each costs a file descriptor and tens of KiB whether or not it does
 * anything. They are per deployment (how many sockets one machine takes), so they live here,
 * with the server that accepts the sockets; the idle bound of anonymous sockets is
 * veilgraph's (`graphqlWsOptions({ anonymousIdleSeconds })`, src/server/adapters/ws-idle.ts).
 *
 * - **Caps.** At most `maxConnections` sockets open at once on this instance, and at most
 *   `maxConnectionsPerAddress` from one client address (`veil.clientAddress`: the socket
 *   peer, or the client a trusted proxy names). A socket over a cap is accepted and closed
 *   at once with a close code that says which cap (below), before it can send anything:
 *   browsers show a WebSocket's close code and reason, but not the HTTP status of a refused
 *   upgrade. Every socket counts, signed in or not, until it has closed.
 *
 * Close codes (graphql-ws uses 4400–4504 for the protocol; ours are a block of their own).
 * None of them is fatal to graphql-ws's client: it retries with its randomised back-off.
 */
import type { WebSocket } from 'ws';
import type { Logger } from '../server/index.js';

/** This client address has `maxConnectionsPerAddress` sockets open already: close one, or retry later. */
export const TOO_MANY_CONNECTIONS_FROM_ADDRESS_CLOSE_CODE = 4901;
/** This instance has `maxConnections` sockets open: retry later (possibly another instance). */
export const TOO_MANY_CONNECTIONS_CLOSE_CODE = 4902;

export interface ConnectionCapsOptions {
  readonly maxConnections: number;
  readonly maxConnectionsPerAddress: number;
  readonly log: Logger;
}

/** Counts open sockets, in all and per client address, and closes the ones over a cap. */
export class ConnectionCaps {
  private readonly perAddress = new Map<string, number>();
  private readonly admitted = new WeakSet<WebSocket>();
  private total = 0;

  constructor(private readonly options: ConnectionCapsOptions) {
    for (const [name, n] of [
      ['maxConnections', options.maxConnections],
      ['maxConnectionsPerAddress', options.maxConnectionsPerAddress],
    ] as const) {
      if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer`);
    }
  }

  /** Sockets open now (admitted and not closed yet). */
  get open(): number {
    return this.total;
  }

  /** Counts `socket` in until it closes, or closes it with the code of the cap it would exceed. */
  admit(socket: WebSocket, address: string): boolean {
    const mine = this.perAddress.get(address) ?? 0;
    if (this.total >= this.options.maxConnections) {
      this.options.log.warn('ws.refused', { reason: 'connection limit', open: this.total });
      refuse(socket, TOO_MANY_CONNECTIONS_CLOSE_CODE, 'too many connections');
      return false;
    }
    if (mine >= this.options.maxConnectionsPerAddress) {
      // No address in the log line: the log names what happened, not who.
      this.options.log.info('ws.refused', { reason: 'connection limit per address' });
      refuse(socket, TOO_MANY_CONNECTIONS_FROM_ADDRESS_CLOSE_CODE, 'too many connections from this address');
      return false;
    }
    this.total++;
    this.perAddress.set(address, mine + 1);
    this.admitted.add(socket);
    socket.once('close', () => {
      this.total--;
      const left = (this.perAddress.get(address) ?? 1) - 1;
      if (left > 0) this.perAddress.set(address, left);
      else this.perAddress.delete(address);
    });
    return true;
  }

  /** Whether `socket` was admitted (a refused one is closing and must not be served). */
  isAdmitted(socket: WebSocket): boolean {
    return this.admitted.has(socket);
  }
}

/** How long a refused socket may take to answer our close frame before it is cut off (ws waits 30 s). */
const REFUSED_CLOSE_GRACE_MS = 1000;

function refuse(socket: WebSocket, code: number, reason: string): void {
  socket.close(code, reason);
  // A refused socket is not counted: it must not linger uncounted in a slow close handshake.
  setTimeout(() => socket.terminate(), REFUSED_CLOSE_GRACE_MS).unref();
}
