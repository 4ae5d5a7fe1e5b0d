/**
 * @module
 * The reference app's WebSocket server: graphql-ws's `useServer` with veilgraph's options
 * (`veil.graphqlWsOptions()`: auth at connection_init, validation and limits, token expiry
 * and device revocation, the idle bound of anonymous sockets, error formatting) on the
 * app's http server at `/graphql`, plus what is per deployment: the largest message
 * (`maxPayload`, 64 KiB: a larger one closes the socket with 1009 before graphql-ws reads
 * it) and the connection caps (./ws-caps.ts), counted from the upgrade, before graphql-ws
 * serves a socket.
 */
import type { Server } from 'node:http';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Veilgraph } from '../server/index.js';
import { ConnectionCaps } from './ws-caps.js';

export interface AppWsOptions {
  readonly httpServer: Server;
  readonly path: string;
  /** Largest accepted WebSocket message, in bytes. */
  readonly maxPayload: number;
  readonly maxSubscriptionsPerSocket: number;
  /** Most sockets open at once, in all and from one client address (./ws-caps.ts). */
  readonly maxConnections: number;
  readonly maxConnectionsPerAddress: number;
  /** An anonymous socket with no active subscription for this long is closed. */
  readonly anonymousIdleSeconds: number;
}

export interface AppWsServer {
  /** Closes every socket (1001 Going Away) and the WebSocket server. */
  dispose(): Promise<void>;
}

export function startWsServer(veil: Veilgraph, options: AppWsOptions): AppWsServer {
  const wss = new WebSocketServer({ server: options.httpServer, path: options.path, maxPayload: options.maxPayload });
  // Registered before useServer's own listener: a socket over a cap is closed before graphql-ws
  // serves it (veilgraph's onConnect serves no socket that is not open).
  const caps = new ConnectionCaps({ maxConnections: options.maxConnections, maxConnectionsPerAddress: options.maxConnectionsPerAddress, log: veil.log });
  wss.on('connection', (socket, request) => caps.admit(socket, veil.clientAddress(request)));
  const disposable = useServer(veil.graphqlWsOptions({ maxSubscriptionsPerSocket: options.maxSubscriptionsPerSocket, anonymousIdleSeconds: options.anonymousIdleSeconds }), wss);
  return {
    async dispose() {
      // dispose() waits for every client's close handshake; one that does not answer is cut off.
      const cutoff = setTimeout(() => {
        for (const socket of wss.clients) socket.terminate();
      }, 1000);
      try {
        await disposable.dispose();
      } finally {
        clearTimeout(cutoff);
      }
    },
  };
}
