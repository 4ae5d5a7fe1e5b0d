/**
 * @module
 * The reference app's Apollo Server: veilgraph's recipe (`veil.schema`, its parse options,
 * validation rules, error formatter and plugin: src/server/adapters/apollo.ts) plus the
 * app's own choices. The plugins we do not use are off (the default cache-control plugin is
 * most of Apollo's per-field cost and we set no cache hints; reporting plugins would send
 * data to a vendor), there is no landing page (Apollo's loads scripts from its CDN into the
 * origin that serves the web app and its keys), batches are refused, and Apollo does not
 * stop on signals (the gateway's owner does: ./gateway.ts).
 */
import { ApolloServer, type ApolloServerPlugin, type BaseContext } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginSchemaReportingDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import type { Veilgraph } from '../server/index.js';

/** The app's Apollo Server for `veil` (what it reads of it: the benchmarks pass the same for a plain schema). */
export function createAppApollo<TContext extends BaseContext>(
  veil: Pick<Veilgraph, 'schema' | 'parseOptions' | 'validationRules' | 'formatError' | 'apolloPlugin' | 'log'>,
  production: boolean,
): ApolloServer<TContext> {
  const { log } = veil;
  return new ApolloServer<TContext>({
    schema: veil.schema,
    parseOptions: veil.parseOptions,
    validationRules: [...veil.validationRules],
    formatError: veil.formatError,
    introspection: !production,
    includeStacktraceInErrorResponses: !production,
    // Batches (a JSON array body) stay refused (Apollo's default): one request, one operation,
    // so the limits bound a request.
    allowBatchedHttpRequests: false,
    // The gateway's owner stops it (cli.ts serve: gateway.close(), which ends with a database
    // checkpoint). Apollo's own SIGINT/SIGTERM handler would re-raise the signal as soon as
    // Apollo alone had stopped, killing the process before the database was closed.
    stopOnTerminationSignals: false,
    plugins: [
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
      ApolloServerPluginUsageReportingDisabled(),
      ApolloServerPluginSchemaReportingDisabled(),
      ApolloServerPluginLandingPageDisabled(),
      veil.apolloPlugin() as ApolloServerPlugin<TContext>,
    ],
    logger: {
      debug: () => undefined,
      info: () => undefined,
      warn: (m) => log.warn('apollo.warn', { detail: String(m).slice(0, 200) }),
      error: () => log.error('apollo.error', {}),
    },
  });
}
