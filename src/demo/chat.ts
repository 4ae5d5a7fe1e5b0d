/**
 * `npm run demo:chat` — Alice, Bob and Carol in an end-to-end encrypted group chat through
 * a real gateway (temporary SQLite database, nothing to configure):
 *
 *   1. They sign up; Alice starts a group with Bob and Carol (epoch 1, wrapped for each).
 *   2. Each subscribes to the group over WebSocket; messages arrive live, verified and opened.
 *   3. Alice removes Carol: a new epoch, wrapped for Alice and Bob only.
 *   4. Bob writes; Carol's subscription gets nothing, the gateway refuses her, and the stored
 *      message does not open with any key she holds.
 *   5. What the server held: envelopes and wrapped keys, no plaintext.
 *
 * Exits non-zero, naming the step, if any step does not behave so.
 *
 *   npm run demo:chat                                  embedded default: one gateway, SQLite
 *   npm run demo:chat -- --database-url postgres://…   two gateways on that PostgreSQL
 *                                                      database: Alice on the first, Bob and
 *                                                      Carol on the second, events crossing
 *                                                      instances through LISTEN/NOTIFY
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { nodeBackend } from '../crypto/backends/node.js';
import { base64urlEncode } from '../crypto/base64url.js';
import { KeyDirectory, graphqlDirectoryTransport } from '../client/directory.js';
import { MemoryKeyStore } from '../client/keystore.js';
import { MESSAGE_FIELDS, MessageError, Messenger, graphqlMessagingTransport, type WireMessage } from '../client/messaging.js';
import { SessionError, createIdentity, graphqlRequest, loadIdentity, login, register } from '../client/session.js';
import { startGateway, type RunningGateway } from '../app/gateway.js';
import { newKeyRingFile } from '../server/keyring.js';
import { embeddedConfig } from '../app/config.js';
import { StepFailed, check } from './steps.js';

const backend = nodeBackend;


interface Person {
  readonly name: string;
  readonly username: string;
  readonly token: string;
  readonly messenger: Messenger;
  readonly inbox: string[];
  readonly socket: Client;
  /** Events are opened one after another, so the screen shows them in the order they came. */
  opening: Promise<void>;
}

async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new StepFailed(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function databaseUrlArg(argv: readonly string[]): string | undefined {
  const i = argv.indexOf('--database-url');
  if (i >= 0) {
    const v = argv[i + 1];
    if (!v) throw new StepFailed('--database-url needs a value');
    return v;
  }
  const eq = argv.find((a) => a.startsWith('--database-url='));
  if (eq) return eq.slice('--database-url='.length);
  if (argv.length > 0) throw new StepFailed(`unknown argument "${argv[0]}" (use --database-url postgres://…)`);
  return undefined;
}

async function main(): Promise<number> {
  let databaseUrl: string | undefined;
  try {
    databaseUrl = databaseUrlArg(process.argv.slice(2));
  } catch (e) {
    console.error(`demo:chat: ${(e as Error).message}`);
    return 2;
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'veilgraph-chat-'));
  // PostgreSQL: two instances of one deployment (same database, key ring and secrets).
  const shared = databaseUrl
    ? { keyring: JSON.stringify(newKeyRingFile(backend)), jwtSecret: base64urlEncode(backend.randomBytes(32)), challengeKey: base64urlEncode(backend.randomBytes(32)) }
    : { keyring: undefined, jwtSecret: undefined, challengeKey: undefined };
  const start = (dir: string): Promise<RunningGateway> =>
    startGateway({ ...embeddedConfig(dir), databaseUrl, ...shared, logSink: () => undefined });
  const gateways = [await start(join(dataDir, 'a'))];
  if (databaseUrl) gateways.push(await start(join(dataDir, 'b')));
  const gateway = gateways[0]!;
  /** Alice uses the first instance; Bob and Carol the last (the same one on SQLite). */
  const instanceFor = (name: string): RunningGateway => (name === 'Alice' ? gateways[0]! : gateways[gateways.length - 1]!);
  console.log(databaseUrl ? `Two gateways on PostgreSQL: ${gateways.map((g) => g.url).join(' and ')} (Alice on the first, Bob and Carol on the second)` : `One gateway on SQLite: ${gateway.url}`);
  const suffix = base64urlEncode(backend.randomBytes(6)).toLowerCase().replace(/[^a-z0-9]/g, 'x');
  const people: Person[] = [];
  let step = 'start';
  let n = 0;
  const header = (title: string): void => {
    step = title;
    console.log(`\n[${++n}/5] ${title}`);
  };
  const signUp = async (name: string): Promise<Person> => {
    const at = instanceFor(name);
    const username = `${name.toLowerCase()}${suffix}`;
    const keystore = new MemoryKeyStore();
    await createIdentity(backend, keystore);
    const { userId } = await register(at.url, username, keystore, backend);
    const { token } = await login(at.url, username, keystore, backend);
    const { signing, encryption } = await loadIdentity(keystore, backend);
    const directory = new KeyDirectory({ backend, keystore, transport: graphqlDirectoryTransport(at.url, () => token) });
    const messenger = new Messenger({ backend, userId, username, encryption, signing, directory, transport: graphqlMessagingTransport(at.url, () => token) });
    const socket = createClient({ url: at.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, lazy: true, retryAttempts: 0, connectionParams: { token } });
    const p: Person = { name, username, token, messenger, inbox: [], socket, opening: Promise.resolve() };
    people.push(p);
    return p;
  };
  const listen = (p: Person, conversationId: string): void => {
    p.socket.subscribe(
      { query: `subscription M($c: ID) { messageAdded(conversationId: $c) { ${MESSAGE_FIELDS} } }`, variables: { c: conversationId } },
      {
        next: (r) => {
          const m = (r.data as { messageAdded?: WireMessage } | undefined)?.messageAdded;
          if (!m) return;
          p.opening = p.opening.then(() =>
            p.messenger.open(m).then(
              (o) => {
                p.inbox.push(`${o.senderUsername.replace(suffix, '')}: ${o.text}`);
                console.log(`  ${p.name}'s screen  ← ${o.senderUsername.replace(suffix, '')}: ${o.text}`);
              },
              (e: unknown) => void p.inbox.push(`refused: ${e instanceof MessageError ? e.code : String(e)}`),
            ),
          );
        },
        error: () => undefined,
        complete: () => undefined,
      },
    );
  };
  try {
    header('Alice, Bob and Carol sign up; Alice starts a group with Bob and Carol');
    const alice = await signUp('Alice');
    const bob = await signUp('Bob');
    const carol = await signUp('Carol');
    const group = await alice.messenger.create('GROUP', [bob.username, carol.username]);
    console.log(`  group ${group}: epoch 1, its key wrapped for each member's verified key`);

    header('Everyone subscribes; messages arrive live, verified against the sender\'s pinned key');
    for (const p of [alice, bob, carol]) listen(p, group);
    await waitFor(() => gateways.reduce((n, g) => n + g.pubsub.subscriberCount(`Conversation:${group}`), 0) === 3, 'three subscriptions');
    await alice.messenger.send(group, 'Hi both! Plans for Saturday?');
    await bob.messenger.send(group, 'Hiking, if the weather holds.');
    await carol.messenger.send(group, 'Count me in.');
    await waitFor(() => [alice, bob, carol].every((p) => p.inbox.length === 3), 'three messages on every screen');
    const expected = ['alice: Hi both! Plans for Saturday?', 'bob: Hiking, if the weather holds.', 'carol: Count me in.'];
    check([alice, bob, carol].every((p) => JSON.stringify(p.inbox) === JSON.stringify(expected)), 'a screen shows other messages or another order');

    header('Alice removes Carol: a new epoch, wrapped for Alice and Bob only');
    await alice.messenger.removeMember(group, carol.username);
    const conv = await graphqlRequest<{ conversation: { epoch: number; members: { user: { username: string } }[] } }>(
      gateway.url,
      'query C($id: ID!) { conversation(id: $id) { epoch members { user { username } } } }',
      { id: group },
      { token: alice.token },
    );
    check(conv.conversation.epoch === 2, 'the epoch did not advance');
    console.log(`  epoch ${conv.conversation.epoch}; members: ${conv.conversation.members.map((m) => m.user.username.replace(suffix, '')).join(', ')}`);

    header('Bob writes; Carol cannot read it');
    const secret = 'Surprise party for Carol on Sunday!';
    const sent = await bob.messenger.send(group, secret);
    await waitFor(() => alice.inbox.length === 4 && bob.inbox.length === 4, 'the message for Alice and Bob');
    await new Promise((r) => setTimeout(r, 200));
    check(carol.inbox.length === 3, 'Carol\'s subscription received the message');
    console.log('  Carol\'s screen: nothing (her subscription gets no message of the new epoch)');
    let refused = '';
    try {
      await graphqlRequest(gateway.url, 'query L($c: ID!) { messages(conversationId: $c) { cursor } }', { c: group }, { token: carol.token });
    } catch (e) {
      refused = e instanceof SessionError ? e.code : String(e);
    }
    check(refused === 'NOT_FOUND', `the gateway answered Carol with ${refused || 'data'}`);
    console.log(`  the gateway to Carol: ${refused}`);
    const stored = (await gateway.store.findMessage(Number(sent.seq)))!;
    const opened = await carol.messenger.open({ ...sent, body: stored.body }).then(
      () => 'opened',
      (e: unknown) => (e instanceof MessageError ? e.code : String(e)),
    );
    check(opened === 'KEY_NOT_FOUND', `the stored message with Carol's keys: ${opened}`);
    console.log(`  the stored message with every key Carol holds: ${opened}`);

    header('What the server held');
    console.log(`  stored body of Bob's message: ${stored.body.slice(0, 48)}… (${stored.body.length} characters: a padded, signed envelope)`);
    const plaintexts = [secret, 'Hi both! Plans for Saturday?', 'Hiking, if the weather holds.', 'Count me in.'];
    if (databaseUrl) {
      // PostgreSQL: what a dump of the tables would show, as text.
      const dump = JSON.stringify(await gateway.store.messagesAfter([group], 0, 1000, new Date()));
      for (const text of plaintexts) check(!dump.includes(text), `the Message table holds the plaintext "${text}"`);
      console.log('  no message plaintext in the Message table');
    } else {
      const file = Buffer.concat(['', '-wal'].map((x) => { try { return readFileSync(join(dataDir, 'a', `veilgraph.db${x}`)); } catch { return Buffer.alloc(0); } }));
      check(file.length > 0, 'no database file to check');
      for (const text of plaintexts) check(!file.includes(Buffer.from(text)), `the database file holds the plaintext "${text}"`);
      console.log('  no message plaintext anywhere in the database file (db + WAL)');
    }
    console.log('\nAll steps behaved as expected.');
    return 0;
  } catch (e) {
    console.error(`\ndemo:chat FAILED at "${step}": ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  } finally {
    await Promise.all(people.map((p) => p.socket.dispose()));
    for (const g of gateways) await g.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
