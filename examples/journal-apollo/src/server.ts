/**
 * A journal on Apollo Server 5 (Express integration, subscriptions over graphql-ws), with
 * its own Prisma model in its own SQLite file. veilgraph adds sign-in and field privacy:
 * the lines marked `veilgraph` are all it takes; the resolvers are plain Prisma calls.
 */
import { EventEmitter, on } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import express from 'express';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { createVeilgraph, directory, prismaVeilgraph, requireViewer, sharing, signIn, type VeilContext, type Veilgraph } from 'veilgraph/server'; // veilgraph
import { PrismaClient, type Journal } from './generated/prisma/client.js';

export interface JournalServerOptions {
  readonly port?: number;
  /** The journal's database (default file:./journal.db). */
  readonly databaseUrl?: string;
  /** Where veilgraph keeps its key ring, secrets and sign-in tables (default ./veilgraph-data). */
  readonly dataDir?: string;
}

export interface JournalServer {
  /** http://127.0.0.1:<port>/graphql (WebSocket on the same path). */
  readonly url: string;
  /** veilgraph's instance (key rotation: `veil.rotateKeyRing()` then `veil.reseal()`). */
  readonly veil: Veilgraph;
  close(): Promise<void>;
}

const typeDefs = readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8');

/** The GraphQL inputs (SHARED and PRIVATE values arrive as the client's envelope text). */
interface JournalPatch {
  title?: string;
  mood?: string | null;
  place?: string | null;
  body?: string | null;
  secret?: string | null;
}
interface NewJournal extends JournalPatch {
  id: string;
  title: string;
}

export async function startJournalServer(options: JournalServerOptions = {}): Promise<JournalServer> {
  const prisma = new PrismaClient({ adapter: new PrismaBetterSQLite3({ url: options.databaseUrl ?? 'file:./journal.db' }) });
  const journals = prismaVeilgraph(prisma, { models: { Journal: 'journal' } }); // veilgraph
  const journalsFor = (ctx: VeilContext) => prisma.$extends(journals.forRequest(ctx)); // veilgraph
  type Context = VeilContext & { db: ReturnType<typeof journalsFor> };

  // Saved journals, for the subscription (one process; use your own pubsub across several).
  const saves = new EventEmitter().setMaxListeners(0);
  const saved = (journal: Journal): Journal => {
    saves.emit('saved', journal);
    return journal;
  };

  const resolvers = {
    Query: {
      journal: (_: unknown, args: { id: string }, ctx: Context) => ctx.db.journal.findUnique({ where: { id: args.id } }),
      myJournals: (_: unknown, __: unknown, ctx: Context) => ctx.db.journal.findMany({ where: { authorId: requireViewer(ctx).id }, orderBy: { createdAt: 'desc' } }),
      journalsByMood: (_: unknown, args: { mood: string }, ctx: Context) =>
        ctx.db.journal.findMany({ where: { authorId: requireViewer(ctx).id, moodIndex: ctx.veil.blindIndex('Journal.mood', args.mood) } }),
    },
    Mutation: {
      // The author is the viewer (veilgraph's extension refuses anyone else); mood and place
      // have no column: the extension seals them into serverSealed.
      createJournal: async (_: unknown, args: { input: NewJournal }, ctx: Context) => saved(await ctx.db.journal.create({ data: { ...args.input, authorId: requireViewer(ctx).id } })),
      updateJournal: async (_: unknown, args: { id: string; patch: JournalPatch }, ctx: Context) => saved(await ctx.db.journal.update({ where: { id: args.id }, data: args.patch })),
      deleteJournal: async (_: unknown, args: { id: string }, ctx: Context) => (await ctx.db.journal.delete({ where: { id: args.id } })).id,
    },
    Subscription: {
      journalSaved: {
        subscribe: async function* (_: unknown, __: unknown, ctx: VeilContext) {
          const viewer = requireViewer(ctx);
          for await (const [journal] of on(saves, 'saved') as AsyncIterable<[Journal]>) {
            if (journal.authorId === viewer.id) yield { journalSaved: journal };
          }
        },
      },
    },
  };

  const veil = await createVeilgraph({ typeDefs, resolvers, types: journals.types, services: [signIn(), directory(), sharing()], dataDir: options.dataDir }); // veilgraph

  const app = express();
  const httpServer = createServer(app);
  const wsServer = new WebSocketServer({ server: httpServer, path: '/graphql' });
  const wsCleanup = useServer(veil.graphqlWsOptions({ context: (ctx) => ({ ...ctx, db: journalsFor(ctx) }) }), wsServer); // veilgraph
  const apollo = new ApolloServer<Context>({
    schema: veil.schema, // veilgraph
    parseOptions: veil.parseOptions, // veilgraph
    validationRules: [...veil.validationRules], // veilgraph
    plugins: [veil.apolloPlugin(), ApolloServerPluginDrainHttpServer({ httpServer })], // veilgraph (the first)
  });
  await apollo.start();
  app.use(
    '/graphql',
    express.json({ limit: '4mb' }), // sealed values are up to 1 MiB each
    expressMiddleware(apollo, {
      context: async ({ req }) => {
        const ctx = await veil.context({ headers: req.headers, remoteAddress: req.socket.remoteAddress }); // veilgraph
        return { ...ctx, db: journalsFor(ctx) };
      },
    }),
  );
  await new Promise<void>((resolve) => httpServer.listen(options.port ?? 4000, '127.0.0.1', resolve));
  const { port } = httpServer.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/graphql`,
    veil,
    async close() {
      await wsCleanup.dispose();
      await apollo.stop();
      await veil.close(); // veilgraph
      await prisma.$disconnect();
    },
  };
}
