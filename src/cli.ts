/**
 * veilgraph command line.
 *
 *   veilgraph serve                 start the gateway (settings: src/server/config.ts)
 *   veilgraph keys rotate           add a key ring version and re-seal SERVER fields
 *   veilgraph health [url]          exit 0 when a gateway answers /health
 */
import { configFromEnv } from './server/config.js';
import { startGateway } from './server/gateway.js';

async function serve(): Promise<void> {
  const config = configFromEnv();
  const gateway = await startGateway(config);
  const api = gateway.url.replace('127.0.0.1', 'localhost');
  console.log(`veilgraph gateway on ${api}`);
  // The app needs a secure context: localhost or 127.0.0.1 here, HTTPS anywhere else.
  if (config.webDir) console.log(`web app on ${api.replace(/\/graphql$/, '/')} (open it in two browsers to chat)`);
  const stop = (signal: string): void => {
    gateway.log.info('gateway.stopping', { signal });
    gateway.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

async function health(url = `http://127.0.0.1:${process.env.PORT ?? 4000}/health`): Promise<void> {
  const res = await fetch(url).catch(() => null);
  const ok = res?.status === 200;
  console.log(ok ? `healthy: ${url}` : `unhealthy: ${url}${res ? ` (HTTP ${res.status})` : ' (no answer)'}`);
  process.exit(ok ? 0 : 1);
}

async function main(argv: string[]): Promise<void> {
  const [command = 'serve', ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve();
    case 'health':
      return health(rest[0]);
    case 'keys': {
      const { runKeysCommand } = await import('./server/rotation-cli.js');
      return runKeysCommand(rest);
    }
    default:
      console.error(`veilgraph: unknown command "${command}". Commands: serve, keys rotate, health [url]`);
      process.exit(2);
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  const code = (e as { code?: unknown }).code;
  console.error(`veilgraph: ${e instanceof Error ? e.message : String(e)}${typeof code === 'string' ? ` [${code}]` : ''}`);
  process.exit(1);
});
