/**
 * @module
 * Everything a signed-in browser holds: the account (keys in IndexedDB), an Apollo Client
 * whose link seals and opens the privacy fields, the key directory, sharing and the
 * messenger. Built from veilgraph/client only; the app's components then use the
 * generated hooks (client/generated/hooks.ts) against `client`.
 *
 * Plaintext of SHARED and PRIVATE fields exists only here: the privacy link seals
 * variables before anything is sent and opens results after they arrive; messages are
 * sealed and opened by the Messenger with the conversation's epoch keys.
 */
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { SetContextLink } from '@apollo/client/link/context';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { OperationTypeNode } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { privacyManifest, wireSchemaSDL } from '../../client/generated/privacy.js';
import {
  IndexedDbKeyStore,
  Messenger,
  Sharing,
  graphqlMessagingTransport,
  graphqlSharingTransport,
  loadAccountUser,
  type Account,
  type AccountOptions,
  type DataKeyClientKeys,
  type KeyDirectory,
} from '../../src/client/index.js';
import { createPrivacyLink } from '../../src/client/apollo.js';
import { selectPortableBackend, type CryptoBackend } from '../../src/crypto/index.js';
import { objectLevels } from '../../src/privacy/manifest.js';

export interface WebSession {
  readonly account: Account;
  readonly backend: CryptoBackend;
  readonly client: ApolloClient;
  readonly keys: DataKeyClientKeys;
  readonly directory: KeyDirectory;
  readonly sharing: Sharing;
  readonly messenger: Messenger;
  /** This user's signing key (safety numbers). */
  readonly signingKey: Uint8Array;
  close(): Promise<void>;
}

/** The gateway that served this page. */
export function endpoint(): string {
  return new URL('/graphql', window.location.href).href;
}

/** The browser's key store: one account per browser profile (docs/web.md). */
export const keystore = new IndexedDbKeyStore();

let backendChoice: Promise<CryptoBackend> | undefined;

/** WebCrypto's native curves where the browser has them, else the pure-JS reference. */
export function backend(): Promise<CryptoBackend> {
  backendChoice ??= selectPortableBackend();
  return backendChoice;
}

export async function accountOptions(): Promise<AccountOptions> {
  return { endpoint: endpoint(), backend: await backend(), keystore };
}

/** The username this browser holds keys for, if any. */
export async function storedUsername(): Promise<string | undefined> {
  return (await loadAccountUser(keystore))?.username;
}

/** A short device name for the devices list ("Chrome on Linux"). */
export function browserDeviceName(): string {
  const ua = navigator.userAgent;
  const browser = /Firefox\//.test(ua) ? 'Firefox' : /Edg\//.test(ua) ? 'Edge' : /Chrom(e|ium)\//.test(ua) ? 'Chromium' : /Safari\//.test(ua) ? 'Safari' : 'Browser';
  const os = /Windows/.test(ua) ? 'Windows' : /Mac OS X/.test(ua) ? 'macOS' : /Android/.test(ua) ? 'Android' : /Linux/.test(ua) ? 'Linux' : 'unknown OS';
  return `${browser} on ${os}`;
}

/** Token refresh for the transports that take a synchronous token getter. */
const TOKEN_REFRESH_MS = 30_000;

export async function startSession(account: Account): Promise<WebSession> {
  const crypto = await backend();
  const url = endpoint();
  let token = await account.token();
  const refresh = setInterval(() => {
    account.token().then(
      (t) => {
        token = t;
      },
      () => undefined, // the next request reports it
    );
  }, TOKEN_REFRESH_MS);
  const currentToken = (): string => token;

  const keys = await account.clientKeys();
  const { signing, encryption } = await account.identity();
  const directory = await account.keyDirectory();
  const sharing = new Sharing({
    backend: crypto,
    userId: account.userId,
    keys,
    directory,
    transport: graphqlSharingTransport(url, currentToken),
    hasSharedFields: (type) => objectLevels(privacyManifest, type).has('SHARED'),
  });
  const messenger = new Messenger({
    backend: crypto,
    userId: account.userId,
    username: account.username,
    encryption,
    signing,
    directory,
    transport: graphqlMessagingTransport(url, currentToken),
  });

  const ws: Client = createClient({
    url: url.replace(/^http/, 'ws'),
    lazy: true,
    connectionParams: async () => ({ authorization: `Bearer ${await account.token()}` }),
  });
  const auth = new SetContextLink(async (prev) => ({ headers: { ...(prev.headers as Record<string, string> | undefined), authorization: `Bearer ${await account.token()}` } }));
  const transport = ApolloLink.split(
    (op) => op.operationType === OperationTypeNode.SUBSCRIPTION,
    new GraphQLWsLink(ws),
    ApolloLink.from([auth, new HttpLink({ uri: url })]),
  );
  const client = new ApolloClient({
    link: ApolloLink.from([createPrivacyLink({ schema: wireSchemaSDL, manifest: privacyManifest, keys, backend: crypto, directory, viewerId: () => account.userId }), transport]),
    cache: new InMemoryCache(),
  });

  return {
    account,
    backend: crypto,
    client,
    keys,
    directory,
    sharing,
    messenger,
    signingKey: signing.publicKey,
    async close() {
      clearInterval(refresh);
      client.stop();
      await ws.dispose();
    },
  };
}
