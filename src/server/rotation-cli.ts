/**
 * @module
 * `veilgraph keys rotate` adds a key ring version (new writes use it at once, in every
 * gateway sharing the ring file, within a second) and re-seals existing rows with
 * progress; `veilgraph keys reseal` resumes an interrupted re-seal.
 */
import { join } from 'node:path';
import { nodeBackend } from '../crypto/backends/node.js';
import { configFromEnv } from './config.js';
import { DEFAULT_SCHEMA_DIR, MAX_SEALED_BYTES } from './gateway.js';
import { GatewayKeyRing, rotateKeyRingFile } from './keyring.js';
import { resealServerFields } from './rotation.js';
import { buildSchema, readSchemaDir } from './schema.js';
import { createSealedScalar } from './sealed-scalar.js';
import { ServerFieldCodec } from './server-fields.js';
import { openStore } from './storage/open.js';

const USAGE = 'usage: veilgraph keys rotate|reseal [--batch N] [--pause-ms N]';

function flag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const n = Number(args[i + 1]);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`${name} takes a whole number. ${USAGE}`);
    process.exit(2);
  }
  return n;
}

export async function runKeysCommand(args: string[]): Promise<void> {
  const [sub] = args;
  if (sub !== 'rotate' && sub !== 'reseal') {
    console.error(USAGE);
    process.exit(2);
  }
  const batchSize = Math.max(1, flag(args, '--batch', 200));
  const pauseMs = flag(args, '--pause-ms', 0);
  const config = configFromEnv();
  if (sub === 'rotate') {
    if (config.keyring) {
      console.error('veilgraph: the key ring comes from VEIL_KEYRING; add a version there (current = new version), restart the gateways, then run `veilgraph keys reseal`');
      process.exit(2);
    }
    const version = rotateKeyRingFile(nodeBackend, join(config.dataDir, 'keyring.json'));
    console.log(`key ring: version ${version} is now current for new writes`);
  }
  const keyring = GatewayKeyRing.load(nodeBackend, { dataDir: config.dataDir, env: config.keyring });
  const { manifest } = buildSchema(readSchemaDir(DEFAULT_SCHEMA_DIR), [{ Sealed: createSealedScalar(MAX_SEALED_BYTES) }]);
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    const result = await resealServerFields({
      store,
      keyring,
      codec: new ServerFieldCodec(nodeBackend, keyring, manifest),
      batchSize,
      pauseMs,
      onProgress: (p) => console.log(`re-sealed ${p.done}/${p.total} ${p.type} rows onto key version ${p.version}`),
    });
    console.log(`done: ${result.resealed} rows re-sealed; all SERVER fields are on key version ${result.version}`);
  } finally {
    await store.close();
  }
}
