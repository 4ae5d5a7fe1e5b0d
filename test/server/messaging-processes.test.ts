// Two gateway PROCESSES (`src/cli.ts serve`) on one real PostgreSQL:
// - a subscriber connected to instance A receives a message sent through instance B;
// - instance B is killed with SIGKILL in the middle of a burst of sends: every send that was
//   acknowledged to its client, plus every send the client retried elsewhere with the same
//   client id, is delivered exactly once to a subscriber that reconnects (to A) from its
//   last cursor. Nothing lost, nothing duplicated.
// Fails (never skips) when PostgreSQL cannot start.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { base64urlEncode } from '../../src/crypto/base64url.js';
import { MESSAGE_FIELDS, type WireMessage } from '../../src/client/messaging.js';
import { newKeyRingFile } from '../../src/server/keyring.js';
import { messagingMember } from '../helpers/messaging.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

interface Instance {
  readonly gateway: GatewayProcess;
  readonly url: string;
  readonly dataDir: string;
}

let db: TestPostgres;
let env: NodeJS.ProcessEnv;
const instances: Instance[] = [];
const clients: Client[] = [];

/** Starts `tsx src/cli.ts serve` on a free port with its own data directory. */
async function startInstance(): Promise<Instance> {
  const dataDir = mkdtempSync(join(tmpdir(), 'veilgraph-proc-'));
  const gateway = await startGatewayProcess({ ...env, VEIL_DATA_DIR: dataDir });
  const instance = { gateway, url: gateway.url, dataDir };
  instances.push(instance);
  return instance;
}

const person = messagingMember;

function subscribe(url: string, token: string, conversationId: string, after: string | null, onClosed?: () => void) {
  const c = createClient({ url: url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, lazy: true, retryAttempts: 0, connectionParams: { token }, on: { closed: () => onClosed?.() } });
  clients.push(c);
  const events: WireMessage[] = [];
  c.subscribe(
    { query: `subscription M($c: ID, $a: ID) { messageAdded(conversationId: $c, after: $a) { ${MESSAGE_FIELDS} } }`, variables: { c: conversationId, a: after } },
    { next: (r) => void (r.data && events.push((r.data as { messageAdded: WireMessage }).messageAdded)), error: () => onClosed?.(), complete: () => undefined },
  );
  return events;
}

async function waitFor(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

beforeAll(async () => {
  db = await startPostgres(); // throws (fails the suite) when PostgreSQL cannot start
  const databaseUrl = await db.createDatabase('processes');
  // One deployment: the same database, key ring and secrets in both processes.
  env = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    VEIL_KEYRING: JSON.stringify(newKeyRingFile(nodeBackend)),
    VEIL_JWT_SECRET: base64urlEncode(nodeBackend.randomBytes(32)),
    VEIL_CHALLENGE_KEY: base64urlEncode(nodeBackend.randomBytes(32)),
    LOG_LEVEL: 'info',
  };
  await startInstance();
  await startInstance();
}, 180_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  for (const i of instances) {
    await i.gateway.kill();
    rmSync(i.dataDir, { recursive: true, force: true });
  }
  await db?.stop();
});

describe('two gateway processes on one PostgreSQL', () => {
  it('a subscriber on A receives a message sent through B; B killed mid-burst loses and duplicates nothing acknowledged', async () => {
    const [a, b] = instances as [Instance, Instance];
    const alice = await person(a.url, 'alice');
    const bob = await person(b.url, 'bob');
    const aliceOnB = alice.messengerAt(b.url);
    const group = await aliceOnB.create('DIRECT', ['bob']);

    // Cross-process delivery: Bob listens on A, Alice sends through B.
    const onA = subscribe(a.url, bob.token, group, null);
    await new Promise((r) => setTimeout(r, 300)); // the subscribe message has no acknowledgement in the protocol
    const first = await aliceOnB.send(group, 'through B');
    await waitFor(() => onA.length === 1, 'the message on A');
    expect(onA[0]!.seq).toBe(first.seq);
    expect((await bob.messengerAt(a.url).open(onA[0]!)).text).toBe('through B');

    // Bob also listens on B, which is about to die; he will reconnect to A from his cursor.
    let bobLostB = false;
    const onB = subscribe(b.url, bob.token, group, first.seq, () => (bobLostB = true));

    // The burst: Alice sends 60 messages through B; B is SIGKILLed while a send is in flight,
    // a moment after the 20th answer (that send may or may not have been stored: its answer
    // is lost either way). A send without an answer is retried through A with the same
    // client id, which is what makes the retry safe.
    const aliceOnA = alice.messengerAt(a.url);
    const acknowledged: string[] = [];
    let failedOverAt = -1;
    for (let i = 0; i < 60; i++) {
      const clientId = base64urlEncode(nodeBackend.randomBytes(16));
      const text = `burst ${i}`;
      if (failedOverAt < 0) {
        try {
          const sending = aliceOnB.send(group, text, { clientId });
          if (i === 20) b.gateway.child.kill('SIGKILL');
          await sending;
          acknowledged.push(clientId);
          continue;
        } catch {
          failedOverAt = i; // B is gone: no answer came; retry elsewhere below
        }
      }
      await aliceOnA.send(group, text, { clientId });
      acknowledged.push(clientId);
    }
    expect(acknowledged).toHaveLength(60);
    expect(failedOverAt, 'the kill interrupted a send to B').toBeGreaterThanOrEqual(20);
    await waitFor(() => bobLostB, "Bob's socket to B closing");

    // Bob reconnects to A from the last seq he received on B.
    const lastSeen = onB.length > 0 ? onB[onB.length - 1]!.seq : first.seq;
    const resumed = subscribe(a.url, bob.token, group, lastSeen);
    await waitFor(() => onB.length + resumed.length >= 60, 'all 60 burst messages', 60_000);
    const delivered = [...onB, ...resumed].map((m) => m.clientId);
    expect(new Set(delivered).size, 'no message delivered twice').toBe(delivered.length);
    expect([...delivered].sort()).toEqual([...acknowledged].sort());
    // In order, and each one opens and verifies.
    const seqs = [...onB, ...resumed].map((m) => Number(m.seq));
    expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
    const bobOnA = bob.messengerAt(a.url);
    const texts = await Promise.all([...onB, ...resumed].map(async (m) => (await bobOnA.open(m)).text));
    expect(texts).toEqual(Array.from({ length: 60 }, (_, i) => `burst ${i}`));
  }, 180_000);
});
