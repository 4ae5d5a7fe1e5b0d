/**
 * `npm run demo:share` — two users share a profile's SHARED fields end to end, through
 * Apollo Client and the privacy link with the operations in client/operations/ (the ones
 * `npm run codegen` turns into hooks), the key directory and `Sharing`:
 *
 *   1. Alice and Bob create keys, register and log in; Alice creates her profile.
 *   2. They become contacts (request → accept).
 *   3. Each verifies the other's keys in the key directory and they compare safety numbers.
 *   4. Alice grants Bob READ access: her client wraps the profile's data key for Bob.
 *   5. Bob reads her bio (SHARED) in plaintext; her diary (PRIVATE) stays FORBIDDEN.
 *   6. Alice revokes: her client rotates the data key for everyone left (no one) and
 *      re-seals the bio; then she writes a new bio.
 *   7. Bob can no longer read it: the gateway says FORBIDDEN, and even the stored envelope,
 *      read from the database, does not open with every key Bob ever held.
 *   8. The database holds only ciphertext and wrapped keys.
 *
 * Exits non-zero, naming the step, if any step does not behave so. Starts its own gateway
 * on a temporary SQLite database (nothing to configure).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApolloClient, HttpLink, InMemoryCache } from '@apollo/client';
import { ApolloLink } from '@apollo/client/link';
import { nodeBackend } from '../crypto/backends/node.js';
import { base64urlEncode } from '../crypto/base64url.js';
import { openEnvelopeText } from '../crypto/envelope.js';
import { isCryptoError } from '../crypto/errors.js';
import { fingerprintText } from '../crypto/key-directory.js';
import { createPrivacyLink } from '../client/link.js';
import { MemoryKeyStore } from '../client/keystore.js';
import { type DataKeyClientKeys, dataKeyClientKeysFrom, graphqlDataKeyTransport } from '../client/data-keys.js';
import { KeyDirectory, graphqlDirectoryTransport } from '../client/directory.js';
import { Sharing, graphqlSharingTransport } from '../client/sharing.js';
import { createIdentity, loadIdentity, login, register } from '../client/session.js';
import { startGateway } from '../app/gateway.js';
import { embeddedConfig } from '../app/config.js';
import { operationGetter } from './operations.js';
import { check, referenceSchema } from './steps.js';

const backend = nodeBackend;


interface Person {
  readonly username: string;
  readonly userId: string;
  readonly signingKey: Uint8Array;
  readonly keys: DataKeyClientKeys;
  readonly directory: KeyDirectory;
  readonly sharing: Sharing;
  readonly client: ApolloClient;
}

async function signUp(endpoint: string, username: string): Promise<Person> {
  const { schema, manifest } = built;
  const keystore = new MemoryKeyStore();
  await createIdentity(backend, keystore);
  const { userId } = await register(endpoint, username, keystore, backend);
  const { token } = await login(endpoint, username, keystore, backend);
  const auth = () => token;
  const keys = await dataKeyClientKeysFrom(keystore, backend, userId, graphqlDataKeyTransport(endpoint, auth));
  const directory = new KeyDirectory({ backend, keystore, transport: graphqlDirectoryTransport(endpoint, auth) });
  const sharing = new Sharing({ backend, userId, keys, directory, transport: graphqlSharingTransport(endpoint, auth) });
  const client = new ApolloClient({
    link: ApolloLink.from([
      createPrivacyLink({ manifest, schema, keys, backend, directory, viewerId: () => userId }),
      new HttpLink({ uri: endpoint, headers: { authorization: `Bearer ${token}` } }),
    ]),
    cache: new InMemoryCache(),
  });
  const { signing } = await loadIdentity(keystore, backend);
  return { username, userId, signingKey: signing.publicKey, keys, directory, sharing, client };
}

const built = referenceSchema();

function rand(): string {
  return base64urlEncode(backend.randomBytes(12));
}

async function main(): Promise<number> {
  const op = operationGetter();
  const dataDir = mkdtempSync(join(tmpdir(), 'veilgraph-share-'));
  const gateway = await startGateway({ ...embeddedConfig(dataDir), logSink: () => undefined });
  let step = 'start';
  let n = 0;
  const header = (title: string): void => {
    step = title;
    console.log(`\n[${++n}/8] ${title}`);
  };
  try {
    header('Alice and Bob sign up; Alice creates her profile');
    const alice = await signUp(gateway.url, `alice${rand().slice(0, 6).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`);
    const bob = await signUp(gateway.url, `bob${rand().slice(0, 6).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`);
    const profileId = rand() + rand();
    const secrets = { email: `alice.${Date.now()}@example.com`, bio: `bio: I like graphs ${rand()}`, diary: `diary: ${rand()}`, bio2: `new bio after revoke ${rand()}` };
    const created = await alice.client.mutate({ mutation: op('createProfile'), variables: { input: { id: profileId, displayName: 'Alice', email: secrets.email, bio: secrets.bio, diary: secrets.diary } } });
    check(!created.error, `createProfile failed: ${created.error?.message}`);
    console.log(`  ${alice.username} and ${bob.username} registered; profile ${profileId} created with a value at each level`);

    header('They become contacts');
    const asked = await alice.client.mutate({ mutation: op('requestContact'), variables: { username: bob.username } });
    check(!asked.error, `requestContact failed: ${asked.error?.message}`);
    const incoming = await bob.client.query({ query: op('contactRequests'), variables: { direction: 'INCOMING' } });
    const fromAlice = (incoming.data as { contactRequests: { nodes: { user: { username: string } }[] } }).contactRequests.nodes.map((r) => r.user.username);
    check(fromAlice.includes(alice.username), `Bob does not see Alice's request (${fromAlice.join(', ')})`);
    const accepted = await bob.client.mutate({ mutation: op('acceptContact'), variables: { username: alice.username } });
    check(!accepted.error, `acceptContact failed: ${accepted.error?.message}`);
    const contacts = await alice.client.query({ query: op('contacts') });
    const names = (contacts.data as { contacts: { nodes: { user: { username: string } }[] } }).contacts.nodes.map((c) => c.user.username);
    check(names.includes(bob.username), 'Bob is not in Alice\'s contacts');
    console.log(`  ${alice.username} asked, ${bob.username} accepted; Alice's contacts: ${names.join(', ')}`);

    header('They verify each other\'s keys and compare safety numbers');
    const aliceSees = await alice.directory.safetyNumber(alice.username, alice.signingKey, bob.username);
    const bobSees = await bob.directory.safetyNumber(bob.username, bob.signingKey, alice.username);
    console.log(`  Alice's key fingerprint: ${fingerprintText(backend, alice.username, alice.signingKey)}`);
    console.log(`  safety number on Alice's screen: ${aliceSees}`);
    console.log(`  safety number on Bob's screen:   ${bobSees}`);
    check(aliceSees === bobSees, 'the safety numbers differ');

    header('Alice grants Bob READ access to her profile');
    await alice.sharing.grant('Profile', profileId, bob.username, 'READ');
    const grants = await alice.client.query({ query: op('grants'), variables: { objectType: 'Profile', objectId: profileId } });
    const granted = (grants.data as { grants: { grantee: { username: string }; access: string }[] }).grants;
    check(granted.length === 1 && granted[0]!.grantee.username === bob.username, 'the grant is not listed');
    console.log(`  grants: ${granted.map((g) => `${g.grantee.username} (${g.access})`).join(', ')}; the server holds the data key wrapped for Bob`);

    header('Bob reads Alice\'s profile');
    const read = await bob.client.query({ query: op('profile'), variables: { id: profileId }, fetchPolicy: 'network-only', errorPolicy: 'all' });
    const seen = (read.data as { profile: Record<string, string | null> }).profile;
    check(seen.bio === secrets.bio, `Bob's bio is ${JSON.stringify(seen.bio)}`);
    check(seen.email === secrets.email, 'Bob does not see the SERVER email');
    check(seen.diary === null && (read.error?.message ?? '').length > 0, 'Bob sees the PRIVATE diary');
    console.log(`  bio (SHARED): ${seen.bio}\n  email (SERVER): ${seen.email}\n  diary (PRIVATE): FORBIDDEN`);

    header('Alice revokes Bob, then writes a new bio');
    const update = (bio: string) => alice.client.mutate({ mutation: op('updateProfile'), variables: { id: profileId, input: { bio } } });
    await alice.sharing.revoke('Profile', profileId, bob.username, {
      reseal: async () => {
        const r = await update(secrets.bio);
        check(!r.error, `re-sealing failed: ${r.error?.message}`);
      },
    });
    const wrote = await update(secrets.bio2);
    check(!wrote.error, `writing the new bio failed: ${wrote.error?.message}`);
    console.log('  revoked; the data key moved to version 2 (wrapped for Alice only) and the bio was re-sealed; new bio written');

    header('Bob can no longer read it');
    const after = await bob.client.query({ query: op('profile'), variables: { id: profileId }, fetchPolicy: 'network-only', errorPolicy: 'all' });
    const afterBio = (after.data as { profile: { bio: string | null } } | undefined)?.profile.bio ?? null;
    check(afterBio === null, `Bob still reads ${JSON.stringify(afterBio)}`);
    // Straight from the database, as someone who copied it would see the row.
    const stored = (await gateway.store.findProfileById(profileId))!;
    let opened: string | null = null;
    try {
      opened = openEnvelopeText(backend, stored.bio!, bob.keys.openingKeys('SHARED'), { coordinate: 'Profile.bio', ownerId: alice.userId, objectId: profileId });
    } catch (e) {
      if (!isCryptoError(e)) throw e;
      console.log(`  the gateway: FORBIDDEN; the stored envelope with every key Bob ever held: ${e.code}`);
    }
    check(opened === null, 'Bob opens the new bio with a key he kept');

    header('What the database holds');
    const file = Buffer.concat([readFileSync(join(dataDir, 'veilgraph.db')), ...['-wal'].map((s) => { try { return readFileSync(join(dataDir, `veilgraph.db${s}`)); } catch { return Buffer.alloc(0); } })]);
    for (const [name, value] of Object.entries(secrets)) {
      check(!file.includes(Buffer.from(value)), `the database file contains the plaintext ${name}`);
    }
    const aliceKeys = await gateway.store.objectKeysFor('Profile', [profileId], alice.userId);
    const bobKeys = await gateway.store.objectKeysFor('Profile', [profileId], bob.userId);
    console.log(`  Profile.bio column: ${stored.bio!.slice(0, 40)}… (an envelope)`);
    console.log(`  Profile.diary column: ${stored.diary!.slice(0, 40)}… (an envelope)`);
    for (const k of aliceKeys) console.log(`  ObjectKey: version ${k.keyVersion} wrapped for Alice (${k.wrapped.length} bytes)`);
    check(bobKeys.length === 0, 'a wrapped key for Bob is still stored');
    check(aliceKeys.some((k) => k.keyVersion === 2), 'no version-2 key for Alice');
    console.log('  no wrapped key for Bob; no plaintext of email, bio or diary anywhere in the database file (db + WAL)');
    console.log('\nAll steps behaved as expected.');
    return 0;
  } catch (e) {
    console.error(`\ndemo:share FAILED at "${step}": ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  } finally {
    await gateway.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
