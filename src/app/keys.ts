/**
 * @module
 * `veilgraph keys rotate|reseal` for the reference app, on the public API: a veilgraph
 * instance with the app's options (the same types and TypeAdapters the gateway serves),
 * `veil.rotateKeyRing()` to add a key ring version (new writes of every gateway sharing the
 * ring file use it within a second), then `veil.reseal()` over every type with SERVER
 * fields, printing progress and the rows moved per type and key version.
 */
import { createVeilgraph, openStore } from '../server/index.js';
import type { GatewayConfig } from './config.js';
import { referenceOptions } from './gateway.js';

export interface KeysCommand {
  /** Add a key ring version first (`keys rotate`), or only re-seal (`keys reseal`). */
  readonly rotate: boolean;
  readonly batchSize: number;
  readonly pauseMs: number;
  /** Where the report goes, one line at a time. */
  readonly print: (line: string) => void;
}

/** Runs the command; resolves to the exit status (1 when rows are left on an older key version). */
export async function runKeys(config: GatewayConfig, command: KeysCommand): Promise<number> {
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    const veil = await createVeilgraph({ ...referenceOptions({ ...config, logLevel: 'warn' }, store), logSink: () => undefined });
    try {
      if (command.rotate) command.print(`key ring: version ${veil.rotateKeyRing()} is now current for new writes`);
      const report = await veil.reseal({
        batchSize: command.batchSize,
        pauseMs: command.pauseMs,
        onProgress: (p) => command.print(`re-sealed ${p.done}/${p.total} ${p.type} rows onto key version ${p.version}`),
      });
      let total = 0;
      let left = 0;
      for (const t of report.types) {
        const from = Object.entries(t.fromVersions).map(([v, n]) => `version ${v}: ${n}`);
        command.print(`${t.type}: ${t.resealed} rows re-sealed onto key version ${report.version}${from.length > 0 ? ` (from ${from.join(', ')})` : ''}${t.remaining > 0 ? `; ${t.remaining} still on an older version` : ''}`);
        total += t.resealed;
        left += t.remaining;
      }
      if (left > 0) {
        command.print(`done: ${total} rows re-sealed; ${left} rows are still on an older key version (live writes kept winning): run \`veilgraph keys reseal\` again`);
        return 1;
      }
      command.print(`done: ${total} rows re-sealed; all SERVER fields are on key version ${report.version}`);
      return 0;
    } finally {
      await veil.close();
    }
  } finally {
    await store.close();
  }
}
