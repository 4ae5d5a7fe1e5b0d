/**
 * @module
 * A registered, signed-in user with the whole client stack an application builds: identity
 * keys in a memory key store, per-object data keys (SHARED values signed), the key
 * directory, `Sharing`, and an Apollo Client whose privacy link checks signers against
 * that directory. How the sharing and signed-value tests make their users.
 */
import { ApolloClient, HttpLink, InMemoryCache } from '@apollo/client';
import { ApolloLink } from '@apollo/client/link';
import type { GraphQLSchema } from 'graphql';
import type { CryptoBackend } from '../../src/crypto/backend.js';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import type { SigningKeyPair } from '../../src/crypto/keys.js';
import { dataKeyClientKeysFrom, graphqlDataKeyTransport, type DataKeyClientKeys } from '../../src/client/data-keys.js';
import { KeyDirectory, graphqlDirectoryTransport, type DirectoryTransport } from '../../src/client/directory.js';
import { MemoryKeyStore } from '../../src/client/keystore.js';
import { createPrivacyLink } from '../../src/client/link.js';
import type { LocationFor } from '../../src/client/seal.js';
import { createIdentity, loadIdentity, login, register } from '../../src/client/session.js';
import { Sharing, graphqlSharingTransport } from '../../src/client/sharing.js';
import type { PrivacyManifest } from '../../src/privacy/manifest.js';

export interface LinkUser {
  readonly username: string;
  readonly userId: string;
  readonly token: string;
  readonly signing: SigningKeyPair;
  readonly keys: DataKeyClientKeys;
  readonly directory: KeyDirectory;
  readonly sharing: Sharing;
  readonly client: ApolloClient;
}

export interface LinkUserOptions {
  /** The schema and manifest the link uses (source or wire, or the generated SDL). */
  readonly schema: GraphQLSchema | string;
  readonly manifest: PrivacyManifest;
  /** The backend of the user's keys and link (default: node). */
  readonly backend?: CryptoBackend;
  /** For a WRITE grantee: where its values belong. */
  readonly locationFor?: LocationFor;
  /** May watch the key directory's requests. */
  readonly directoryTransport?: (transport: DirectoryTransport) => DirectoryTransport;
}

export async function linkUser(endpoint: string, username: string, options: LinkUserOptions): Promise<LinkUser> {
  const backend = options.backend ?? nodeBackend;
  const keystore = new MemoryKeyStore();
  await createIdentity(nodeBackend, keystore);
  const { userId } = await register(endpoint, username, keystore, nodeBackend);
  const { token } = await login(endpoint, username, keystore, nodeBackend);
  const auth = () => token;
  const keys = await dataKeyClientKeysFrom(keystore, backend, userId, graphqlDataKeyTransport(endpoint, auth));
  const transport = graphqlDirectoryTransport(endpoint, auth);
  const directory = new KeyDirectory({ backend, keystore, transport: options.directoryTransport?.(transport) ?? transport });
  const sharing = new Sharing({ backend, userId, keys, directory, transport: graphqlSharingTransport(endpoint, auth) });
  const client = new ApolloClient({
    link: ApolloLink.from([
      createPrivacyLink({ manifest: options.manifest, schema: options.schema, keys, backend, directory, viewerId: () => userId, ...(options.locationFor ? { locationFor: options.locationFor } : {}) }),
      new HttpLink({ uri: endpoint, headers: { authorization: `Bearer ${token}` } }),
    ]),
    cache: new InMemoryCache(),
  });
  const { signing } = await loadIdentity(keystore, nodeBackend);
  return { username, userId, token, signing, keys, directory, sharing, client };
}
