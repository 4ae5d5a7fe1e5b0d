// `npm start`: the journal server on port 4000 (PORT to change it).
import { startJournalServer } from './server.js';

const server = await startJournalServer({ port: Number(process.env.PORT ?? 4000) });
process.stdout.write(`journal: ${server.url}\n`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void server.close().then(() => process.exit(0)));
}
