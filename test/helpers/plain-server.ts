// An ordinary Apollo Server 5 (no veilgraph) serving the wire schema of an annotated SDL,
// built with veilgraph's exported pieces, with resolvers that store what they get in a Map:
// the server the enforcement check must refuse (it enforces nothing). Optionally it also
// answers `_veilgraph` with what it is given (a server lying or misconfigured). Shared by
// the enforcement tests of every client integration.
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { printSchema } from 'graphql';
import { buildPrivacyManifest, type PrivacyManifest } from '../../src/privacy/manifest.js';
import { PRIVACY_SDL } from '../../src/privacy/sdl.js';
import { toWireSchema } from '../../src/privacy/wire-schema.js';

const AUTHOR_SDL = /* GraphQL */ `
  type Profile @owner(field: "ownerId") @privacy(level: SHARED) {
    id: ID!
    ownerId: ID!
    displayName: String! @privacy(level: PUBLIC)
    email: String @privacy(level: SERVER)
    bio: String
    diary: String @privacy(level: PRIVATE)
  }

  input CreateProfileInput @writes(type: "Profile") {
    id: ID!
    displayName: String!
    email: String
    bio: String
    diary: String
  }

  type Query {
    profile(id: ID!): Profile
    hello: String
  }

  type Mutation {
    createProfile(input: CreateProfileInput!): Profile!
  }
`;

/** What a server that says something about itself declares (a server lying or misconfigured). */
const INFO_SDL = /* GraphQL */ `
  type VeilgraphInfo {
    protocol: Int!
    enforced: Boolean!
  }
  extend type Query {
    _veilgraph: VeilgraphInfo!
  }
`;

export interface Received {
  readonly operationName: string | null;
  readonly query: string;
  readonly variables: unknown;
}

export interface PlainServer {
  readonly url: string;
  readonly manifest: PrivacyManifest;
  readonly wireSDL: string;
  /** Every request the server received, as it parsed it. */
  readonly received: Received[];
  /** The "database": rows as the resolvers stored them. */
  readonly rows: Map<string, Record<string, unknown>>;
  stop(): Promise<void>;
}

export async function startPlainServer(info?: { protocol: number; enforced: boolean }): Promise<PlainServer> {
  const rows = new Map<string, Record<string, unknown>>();
  const received: Received[] = [];
  const source = makeExecutableSchema({ typeDefs: [PRIVACY_SDL, AUTHOR_SDL, ...(info ? [INFO_SDL] : [])] });
  const manifest = buildPrivacyManifest(source);
  const wire = makeExecutableSchema({
    typeDefs: printSchema(toWireSchema(source, manifest)),
    resolvers: {
      Query: {
        profile: (_: unknown, a: { id: string }) => rows.get(a.id) ?? null,
        hello: () => 'hello',
        ...(info ? { _veilgraph: () => info } : {}),
      },
      Mutation: {
        createProfile: (_: unknown, a: { input: Record<string, unknown> }) => {
          const row = { ...a.input, ownerId: 'whoever' };
          rows.set(String(a.input.id), row);
          return row;
        },
      },
    },
  });
  const record: ApolloServerPlugin = {
    async requestDidStart({ request }) {
      received.push({ operationName: request.operationName ?? null, query: request.query ?? '', variables: request.variables ?? {} });
    },
  };
  const server = new ApolloServer({ schema: wire, plugins: [record] });
  const { url } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' } });
  return { url, manifest, wireSDL: printSchema(toWireSchema(source, manifest)), received, rows, stop: () => server.stop() };
}
