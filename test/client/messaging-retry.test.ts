// A send whose answer is lost because the gateway died right after committing it, then a
// retry with the same client id once a new gateway process runs on the same SQLite file.
//
// The gateway is a real process (`src/cli.ts serve`); between it and Alice's client sits a
// TCP proxy (test/helpers/lossy-proxy.ts) that forwards her sendMessage request, waits
// until the gateway starts answering it (the insert has committed by then), SIGKILLs the
// gateway and closes Alice's connection without a byte of the answer. A new gateway
// process starts on the same data directory and Alice retries through the real client
// (`Messenger.send` with the same clientId):
//
// - from the same Messenger (it kept the sealed envelope and resends the same bytes);
// - from a new Messenger (the app restarted: the envelope is gone and it seals again);
// - after the conversation moved to a new epoch in between (the kept bytes are refused as
//   STALE_EPOCH; the client seals again under the new epoch).
//
// Each time the retry returns the stored message, one row exists, and Bob sees it once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { base64urlEncode } from '../../src/crypto/base64url.js';
import { parseEnvelopeText } from '../../src/crypto/envelope.js';
import { MESSAGE_FIELDS, type Messenger, type WireMessage } from '../../src/client/messaging.js';
import { SessionError, graphqlRequest } from '../../src/client/session.js';
import { newKeyRingFile } from '../../src/server/keyring.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { startLossyProxy, type LossyProxy } from '../helpers/lossy-proxy.js';
import { messagingMember, type MessagingMember } from '../helpers/messaging.js';
import { readTables } from '../helpers/sqlite-snapshot.js';

let dataDir: string;
let env: NodeJS.ProcessEnv;
let gateway: GatewayProcess;
let proxy: LossyProxy;
let alice: MessagingMember;
let bob: MessagingMember;
let conversation: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'veilgraph-retry-'));
  // One deployment across restarts: the same data directory, key ring and secrets.
  env = {
    ...process.env,
    VEIL_DATA_DIR: dataDir,
    VEIL_WEB_DIR: 'none',
    VEIL_KEYRING: JSON.stringify(newKeyRingFile(nodeBackend)),
    VEIL_JWT_SECRET: base64urlEncode(nodeBackend.randomBytes(32)),
    VEIL_CHALLENGE_KEY: base64urlEncode(nodeBackend.randomBytes(32)),
  };
  delete env.DATABASE_URL;
  gateway = await startGatewayProcess(env);
  proxy = await startLossyProxy(gateway.port);
  // Everyone talks through the proxy, which forwards everything until it is armed.
  alice = await messagingMember(proxy.url, 'retry_alice');
  bob = await messagingMember(proxy.url, 'retry_bob');
  conversation = await alice.messenger.create('DIRECT', [bob.username]);
}, 120_000);

afterAll(async () => {
  await proxy?.close();
  await gateway?.kill();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** Sends through `messenger`; the gateway dies after committing, before Alice gets the answer. */
async function sendAndCrash(messenger: Messenger, text: string, clientId: string): Promise<unknown> {
  const dying = gateway;
  const lost = proxy.loseNextAnswer('VgSendMessage', () => dying.kill());
  const outcome = await messenger.send(conversation, text, { clientId }).then(
    () => 'answered',
    (e: unknown) => e,
  );
  await lost;
  return outcome;
}

/** A new gateway process on the same data directory; the proxy sends new connections to it. */
async function restart(): Promise<void> {
  gateway = await startGatewayProcess(env);
  proxy.retarget(gateway.port);
}

function storedRows(clientId: string): Record<string, unknown>[] {
  return readTables(dataDir, ['Message']).Message!.filter((m) => m.conversationId === conversation && m.clientId === clientId);
}

async function bobSees(clientId: string): Promise<string[]> {
  const data = await graphqlRequest<{ messages: { nodes: WireMessage[] } }>(
    proxy.url,
    `query M($c: ID!) { messages(conversationId: $c, first: 1000) { nodes { ${MESSAGE_FIELDS} } } }`,
    { c: conversation },
    { token: bob.token },
  );
  const mine = data.messages.nodes.filter((m) => m.clientId === clientId);
  return Promise.all(mine.map(async (m) => (await bob.messenger.open(m)).text));
}

async function expectLostThenRetried(text: string, clientId: string, retry: () => Promise<WireMessage>): Promise<void> {
  // The gateway committed the message before it died: the row is in the file.
  const rows = storedRows(clientId);
  expect(rows, 'the first attempt was committed before the gateway died').toHaveLength(1);
  await restart();
  const returned = await retry();
  expect(returned.clientId).toBe(clientId);
  expect(returned.seq).toBe(String(rows[0]!.seq));
  expect(returned.body).toBe(rows[0]!.body);
  expect(returned.sender.id).toBe(alice.userId);
  expect(storedRows(clientId), 'the retry stored nothing new').toEqual(rows);
  expect(await bobSees(clientId)).toEqual([text]);
}

describe('a send committed by a gateway that died before answering', () => {
  it('retried by the same Messenger with the same clientId: the same bytes go out, the stored message comes back, once', async () => {
    const bodies: string[] = [];
    const messenger = alice.messengerAt(proxy.url, (t) => ({ ...t, send: (input) => (bodies.push(input.body), t.send(input)) }));
    const clientId = base64urlEncode(nodeBackend.randomBytes(16));
    const text = 'sent as the gateway died';
    const outcome = await sendAndCrash(messenger, text, clientId);
    expect(outcome).toBeInstanceOf(SessionError);
    expect((outcome as SessionError).code).toBe('NETWORK_ERROR');
    await expectLostThenRetried(text, clientId, () => messenger.send(conversation, text, { clientId }));
    expect(bodies).toHaveLength(2);
    expect(bodies[1], 'the retry resends the kept envelope').toBe(bodies[0]);
  }, 120_000);

  it('retried by a new Messenger (the app restarted and seals again): the stored message comes back, once', async () => {
    const clientId = base64urlEncode(nodeBackend.randomBytes(16));
    const text = 'sent before a restart of the app';
    expect(((await sendAndCrash(alice.messenger, text, clientId)) as SessionError).code).toBe('NETWORK_ERROR');
    await expectLostThenRetried(text, clientId, () => alice.messengerAt(proxy.url).send(conversation, text, { clientId }));
  }, 120_000);

  it('retried after the conversation moved to a new epoch: the stored message comes back, once', async () => {
    const clientId = base64urlEncode(nodeBackend.randomBytes(16));
    const text = 'sent just before a rotation';
    const bodies: string[] = [];
    const messenger = alice.messengerAt(proxy.url, (t) => ({ ...t, send: (input) => (bodies.push(input.body), t.send(input)) }));
    expect(((await sendAndCrash(messenger, text, clientId)) as SessionError).code).toBe('NETWORK_ERROR');
    await expectLostThenRetried(text, clientId, async () => {
      await bob.messenger.rotate(conversation);
      return messenger.send(conversation, text, { clientId });
    });
    // The kept bytes (epoch 1) get the stored message at once: no STALE_EPOCH, no re-seal.
    expect(bodies.map((b) => parseEnvelopeText(b).keyVersion)).toEqual([1, 1]);
    expect(bodies[1]).toBe(bodies[0]);
  }, 120_000);
});
