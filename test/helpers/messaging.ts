/**
 * @module
 * A registered, signed-in user with a `Messenger` (identity keys in a memory key store,
 * the key directory and messaging over HTTP): how the messaging and debug-view tests
 * make conversation members.
 */
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { KeyDirectory, graphqlDirectoryTransport } from '../../src/client/directory.js';
import { MemoryKeyStore } from '../../src/client/keystore.js';
import { Messenger, graphqlMessagingTransport, type MessagingTransport } from '../../src/client/messaging.js';
import { createIdentity, loadIdentity, login, register } from '../../src/client/session.js';

export interface MessagingMember {
  readonly username: string;
  readonly userId: string;
  readonly token: string;
  readonly messenger: Messenger;
  /**
   * The same member's messenger talking to another gateway (two instances, one database);
   * `wrap` may watch its transport.
   */
  messengerAt(endpoint: string, wrap?: (transport: MessagingTransport) => MessagingTransport): Messenger;
  readonly signingSeed: Uint8Array;
}

export async function messagingMember(endpoint: string, username: string): Promise<MessagingMember> {
  const keystore = new MemoryKeyStore();
  await createIdentity(nodeBackend, keystore);
  const { userId } = await register(endpoint, username, keystore, nodeBackend);
  const { token } = await login(endpoint, username, keystore, nodeBackend);
  const { signing, encryption } = await loadIdentity(keystore, nodeBackend);
  const directory = new KeyDirectory({ backend: nodeBackend, keystore, transport: graphqlDirectoryTransport(endpoint, () => token) });
  const messengerAt = (url: string, wrap = (t: MessagingTransport) => t) =>
    new Messenger({ backend: nodeBackend, userId, username, encryption, signing, directory, transport: wrap(graphqlMessagingTransport(url, () => token)) });
  return { username, userId, token, messenger: messengerAt(endpoint), messengerAt, signingSeed: signing.seed };
}
