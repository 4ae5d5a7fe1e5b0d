/**
 * A journal on GraphQL Yoga 5 (node:http), subscriptions over graphql-ws, its own table in its
 * own SQLite file through better-sqlite3. veilgraph adds sign-in, the key directory, sharing
 * and field privacy: the lines marked `veilgraph` are all it takes.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createYoga, type YogaLogger } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { DEFAULT_WS_MAX_PAYLOAD_BYTES, createVeilgraph, directory, sharing, signIn, type Logger, type Veilgraph, type VeilgraphOptions } from 'veilgraph/server'; // veilgraph
import { journalAdapter } from './adapter.js';
import { journalResolvers } from './resolvers.js';
import { JournalStore } from './store.js';

export interface JournalServerOptions {
  readonly port?: number;
  /** The journal's SQLite file (default ./journal.db). */
  readonly database?: string;
  /** Where veilgraph keeps its key ring, secrets and the services' tables (default ./veilgraph-data). */
  readonly dataDir?: string;
  /** More of veilgraph's options (logs, limits, production, …). */
  readonly veilgraph?: Partial<VeilgraphOptions>;
}

export interface JournalServer {
  /** http://127.0.0.1:<port>/graphql (WebSocket on the same path). */
  readonly url: string;
  readonly veil: Veilgraph;
  readonly store: JournalStore;
  close(): Promise<void>;
}

const typeDefs = readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8');

/** Yoga's own log lines (errors it masked, say) through veilgraph's logger, which never logs values. */
function yogaLogger(log: Logger): YogaLogger {
  const describe = (args: unknown[]): string => args.map((a) => (a instanceof Error ? `${a.name}: ${a.message}` : typeof a === 'string' ? a : typeof a)).join(' ');
  return {
    debug: () => undefined,
    info: () => undefined,
    warn: (...args) => log.warn('yoga', { detail: describe(args) }),
    error: (...args) => log.error('yoga', { detail: describe(args) }),
  };
}

export async function startJournalServer(options: JournalServerOptions = {}): Promise<JournalServer> {
  const store = JournalStore.open(options.database ?? './journal.db');
  const veil = await createVeilgraph({
    // veilgraph
    typeDefs,
    resolvers: journalResolvers(store),
    types: { Journal: journalAdapter(store) },
    services: [signIn(), directory(), sharing()],
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    ...options.veilgraph,
  }).catch((e: unknown) => {
    store.close();
    throw e;
  });

  const yoga = createYoga({
    schema: veil.schema, // veilgraph: the enforced schema (any other: createYoga throws CONFIG_INVALID)
    plugins: [veil.envelopPlugin()], // veilgraph: limits, sealed literals, context, errors, CSRF rule
    graphiql: false, // GraphiQL and the landing page load scripts from a CDN into this origin
    landingPage: false,
    cors: false, // no cross-origin callers (list your web app's origins here if it is elsewhere)
    maxRequestBodySize: 4 * 1024 * 1024, // a sealed value is at most 1 MiB
    logging: yogaLogger(veil.log),
  });
  const httpServer = createServer(yoga.requestListener);
  const wsServer = new WebSocketServer({ server: httpServer, path: yoga.graphqlEndpoint, maxPayload: DEFAULT_WS_MAX_PAYLOAD_BYTES });
  const ws = useServer(veil.graphqlWsOptions(), wsServer); // veilgraph: token at connection_init, same enforcement and limits

  await new Promise<void>((resolve) => httpServer.listen(options.port ?? 4000, '127.0.0.1', resolve));
  const { port } = httpServer.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}${yoga.graphqlEndpoint}`,
    veil,
    store,
    async close() {
      await ws.dispose();
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      await veil.close(); // veilgraph
      store.close();
    },
  };
}
