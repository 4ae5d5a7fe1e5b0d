/**
 * `npm run demo:recovery` — one user's keys through a device's whole life, as she would
 * live it, through Apollo Client and the privacy link with the operations in
 * client/operations/ (what `npm run codegen` turns into hooks), on key stores in files:
 *
 *   1. Alice signs up on her phone, writes her profile (SHARED bio, PRIVATE diary) and
 *      shares it with Bob.
 *   2. She backs up with a recovery phrase (printed: in real life, written on paper).
 *   3. She restores on her laptop from the phrase and reads everything.
 *   4. She links her tablet from the laptop: both show the same code, she approves.
 *   5. She rotates her keys: old data still reads, Bob sees a verified key change.
 *   6. She loses the phone and revokes it from the laptop: the phone can no longer sign
 *      in, and none of its keys opens what she writes afterwards.
 *   7. She adds a password backup; a wrong password restores nothing, hers does.
 *   8. The database holds only wrapped keys: no secret of hers is in its files.
 *
 * Exits non-zero, naming the step, if any step does not behave so. Starts its own gateway
 * on a temporary SQLite database (nothing to configure).
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApolloClient, HttpLink, InMemoryCache } from '@apollo/client';
import { ApolloLink } from '@apollo/client/link';
import { SetContextLink } from '@apollo/client/link/context';
import { nodeBackend } from '../crypto/backends/node.js';
import { base64urlEncode } from '../crypto/base64url.js';
import { openEnvelopeText } from '../crypto/envelope.js';
import { isCryptoError } from '../crypto/errors.js';
import { Account, type AccountOptions } from '../client/account.js';
import { loadLocalBundle } from '../client/account-store.js';
import { KeyDirectory, graphqlDirectoryTransport } from '../client/directory.js';
import { FileKeyStore } from '../client/keystore-file.js';
import { MemoryKeyStore } from '../client/keystore.js';
import { createPrivacyLink } from '../client/link.js';
import { isSessionError } from '../client/session.js';
import { Sharing, graphqlSharingTransport } from '../client/sharing.js';
import { startGateway } from '../app/gateway.js';
import { embeddedConfig } from '../app/config.js';
import { operationGetter } from './operations.js';
import { check, referenceSchema } from './steps.js';

const backend = nodeBackend;
const STEPS = 8;


const built = referenceSchema();

function rand(): string {
  return base64urlEncode(backend.randomBytes(12));
}

async function clientOf(account: Account, endpoint: string): Promise<ApolloClient> {
  const keys = await account.clientKeys();
  return new ApolloClient({
    link: ApolloLink.from([
      createPrivacyLink({ manifest: built.manifest, schema: built.schema, keys, backend, directory: await account.keyDirectory(), viewerId: () => account.userId }),
      new SetContextLink(async () => ({ headers: { authorization: `Bearer ${await account.token()}` } })),
      new HttpLink({ uri: endpoint }),
    ]),
    cache: new InMemoryCache(),
  });
}

async function main(): Promise<number> {
  const op = operationGetter();
  const dataDir = mkdtempSync(join(tmpdir(), 'veilgraph-recovery-'));
  const keysDir = mkdtempSync(join(tmpdir(), 'veilgraph-recovery-keys-'));
  // Every device of the story signs in from this one address: more sign-ins per address and
  // username than the default 5 a minute (rule loginPerUser) a real client address gets.
  const roomy = { points: 1000, durationSeconds: 60 };
  const gateway = await startGateway({ ...embeddedConfig(dataDir), authLimits: { login: roomy, loginPerUser: roomy, challenge: roomy, register: roomy }, logSink: () => undefined });
  const endpoint = gateway.url;
  const on = (device: string): AccountOptions => ({ endpoint, backend, keystore: new FileKeyStore(join(keysDir, `${device}.json`)) });
  let step = 'start';
  let n = 0;
  const header = (title: string): void => {
    step = title;
    console.log(`\n[${++n}/${STEPS}] ${title}`);
  };
  const readProfile = async (account: Account, id: string) => {
    const client = await clientOf(account, endpoint);
    const r = await client.query({ query: op('profile'), variables: { id }, fetchPolicy: 'network-only', errorPolicy: 'all' });
    return (r.data as { profile: Record<string, string | null> } | undefined)?.profile;
  };
  const writeDiary = async (account: Account, id: string, diary: string) => {
    const client = await clientOf(account, endpoint);
    const r = await client.mutate({ mutation: op('updateProfile'), variables: { id, input: { diary } } });
    check(!r.error, `updateProfile failed: ${r.error?.message}`);
  };
  try {
    const suffix = rand().slice(0, 6).toLowerCase().replace(/[^a-z0-9]/g, 'x');
    const aliceName = `alice${suffix}`;
    const bobName = `bob${suffix}`;
    const profileId = rand() + rand();
    const secrets = { bio: `bio: hiking and graphs ${rand()}`, diary: `diary: day one ${rand()}`, diary2: `diary: after the rotation ${rand()}`, diary3: `diary: after losing the phone ${rand()}` };

    header('Alice signs up on her phone, writes her profile and shares it with Bob');
    const phone = await Account.create(on('alice-phone'), aliceName, { deviceName: 'phone' });
    const bob = await Account.create(on('bob'), bobName, { deviceName: 'bob phone' });
    const phoneClient = await clientOf(phone, endpoint);
    const created = await phoneClient.mutate({ mutation: op('createProfile'), variables: { input: { id: profileId, displayName: 'Alice', bio: secrets.bio, diary: secrets.diary } } });
    check(!created.error, `createProfile failed: ${created.error?.message}`);
    const aliceToken = await phone.token();
    const sharing = new Sharing({
      backend,
      userId: phone.userId,
      keys: await phone.clientKeys(),
      directory: new KeyDirectory({ backend, keystore: new MemoryKeyStore(), transport: graphqlDirectoryTransport(endpoint, () => aliceToken) }),
      transport: graphqlSharingTransport(endpoint, () => aliceToken),
    });
    await sharing.grant('Profile', profileId, bobName, 'READ');
    const bobToken = await bob.token();
    const bobDirectory = new KeyDirectory({ backend, keystore: new MemoryKeyStore(), transport: graphqlDirectoryTransport(endpoint, () => bobToken) });
    const firstSeen = await bobDirectory.verifiedKeys(aliceName);
    check((await readProfile(bob, profileId))?.bio === secrets.bio, 'Bob cannot read the shared bio');
    console.log(`  ${aliceName} registered on device "phone"; profile written (bio SHARED with ${bobName}, diary PRIVATE)`);
    console.log(`  Bob pinned Alice's keys, version ${firstSeen.version}, and reads her bio`);

    header('Alice backs up with a recovery phrase');
    const phrase = await phone.backupWithPhrase();
    check(phrase.split(' ').length === 24, 'the phrase is not 24 words');
    console.log('  Write these 24 words down and keep them offline; they are shown once:');
    const words = phrase.split(' ');
    for (let i = 0; i < 24; i += 6) console.log(`    ${words.slice(i, i + 6).map((w, j) => `${String(i + j + 1).padStart(2)}. ${w.padEnd(9)}`).join(' ')}`);

    header('She restores on her laptop from the phrase');
    const laptop = await Account.restoreWithPhrase(on('alice-laptop'), aliceName, phrase, { deviceName: 'laptop' });
    const onLaptop = await readProfile(laptop, profileId);
    check(onLaptop?.bio === secrets.bio && onLaptop.diary === secrets.diary, 'the laptop does not read the profile');
    console.log(`  laptop is device ${laptop.deviceId}; it reads bio and diary: "${onLaptop?.diary}"`);

    header('She links her tablet from the laptop');
    const request = await Account.requestLink(on('alice-tablet'), aliceName, { deviceName: 'tablet' });
    const pending = (await laptop.devices()).find((d) => d.status === 'PENDING');
    check(pending?.code === request.code, 'the two devices show different codes');
    console.log(`  tablet shows: ${request.code}\n  laptop shows: ${pending!.code}  (same: approve)`);
    await laptop.approveDevice(pending!.id, request.code);
    const tablet = await request.waitForApproval({ intervalMs: 100, timeoutMs: 10_000 });
    check((await readProfile(tablet, profileId))?.diary === secrets.diary, 'the tablet does not read the diary');
    console.log(`  devices: ${(await laptop.devices()).map((d) => `${d.name} (${d.status})`).join(', ')}`);

    header('She rotates her keys');
    const rotated = await laptop.rotateIdentityKeys();
    check((await readProfile(laptop, profileId))?.diary === secrets.diary, 'the old diary no longer reads after the rotation');
    await writeDiary(laptop, profileId, secrets.diary2);
    check((await readProfile(tablet, profileId))?.diary === secrets.diary2, 'the tablet does not read the new diary');
    const bobSees = await bobDirectory.verifiedKeys(aliceName, { refresh: true });
    check(bobSees.changed && bobSees.version === rotated.identityVersion, 'Bob does not see a verified change');
    check((await readProfile(bob, profileId))?.bio === secrets.bio, 'Bob no longer reads the bio');
    console.log(`  identity keys now version ${rotated.identityVersion} (signed by version ${rotated.identityVersion - 1}), vault key version ${rotated.vaultVersion}; ${rotated.rewrapped} wrapped key(s) re-wrapped`);
    console.log(`  Bob's client: verified key change ${bobSees.previousVersion} → ${bobSees.version}; he still reads the bio`);

    header('She loses the phone and revokes it from the laptop');
    const revoked = await laptop.revokeDevice(phone.deviceId);
    await writeDiary(laptop, profileId, secrets.diary3);
    let phoneError = '';
    try {
      await Account.open(on('alice-phone'));
    } catch (e) {
      if (!isSessionError(e)) throw e;
      phoneError = e.code;
    }
    check(phoneError === 'DEVICE_REVOKED', `the phone could still sign in (${phoneError || 'no error'})`);
    const stored = (await gateway.store.findProfileById(profileId))!;
    const phoneBundle = await loadLocalBundle(on('alice-phone').keystore);
    let opened = false;
    for (const v of phoneBundle?.vault ?? []) {
      try {
        openEnvelopeText(backend, stored.diary!, v.key, { coordinate: 'Profile.diary', ownerId: phone.userId, objectId: profileId });
        opened = true;
      } catch (e) {
        if (!isCryptoError(e)) throw e;
      }
    }
    check(!opened, 'a key the phone kept opens the diary written after the revocation');
    check((await readProfile(tablet, profileId))?.diary === secrets.diary3, 'the tablet does not follow');
    console.log(`  phone: ${phoneError}; identity keys now version ${revoked.identityVersion}, vault version ${revoked.vaultVersion}`);
    console.log(`  the new diary, read from the database, opens with none of the ${phoneBundle?.vault.length ?? 0} vault key(s) the phone kept`);

    header('She adds a password backup');
    const password = `correct horse battery ${rand()}`;
    await laptop.backupWithPassword(password);
    let wrongCode = '';
    try {
      await Account.restoreWithPassword(on('borrowed-wrong'), aliceName, 'not my password at all');
    } catch (e) {
      if (!isSessionError(e)) throw e;
      wrongCode = e.code;
    }
    check(wrongCode === 'RECOVERY_FAILED', `a wrong password did not fail as RECOVERY_FAILED (${wrongCode})`);
    const borrowed = await Account.restoreWithPassword(on('borrowed'), aliceName, password, { deviceName: 'borrowed computer' });
    check((await readProfile(borrowed, profileId))?.diary === secrets.diary3, 'the password restore does not read the diary');
    const kdf = (await laptop.backups()).find((b) => b.kind === 'PASSWORD')!.kdf;
    console.log(`  Argon2id m=${kdf.memoryKiB} KiB, t=${kdf.iterations}, p=${kdf.parallelism}; a wrong password: ${wrongCode}; the right one restores`);
    await laptop.revokeDevice(borrowed.deviceId);
    console.log('  (the borrowed computer is revoked again)');

    header('What the database holds');
    const files = readdirSync(dataDir).filter((f) => f.startsWith('veilgraph.db'));
    const raw = Buffer.concat(files.map((f) => readFileSync(join(dataDir, f))));
    for (const [name, value] of Object.entries({ ...secrets, phrase, password })) check(!raw.includes(Buffer.from(value)), `the database files contain the ${name}`);
    const bundle = laptop.keyBundle;
    for (const secret of [bundle.identity.signingSeed, bundle.identity.encryptionPrivate, ...bundle.vault.map((v) => v.key.bytes)]) {
      check(!raw.includes(Buffer.from(secret)), 'the database files contain a private key');
    }
    const kb = await gateway.store.keyBundle(laptop.userId);
    console.log(`  KeyBundle revision ${kb?.revision}: an envelope (${kb?.bundle.length} chars) and one wrapped key for ${bundle.recipients.length} recipients (${bundle.recipients.map((r) => r.kind === 'DEVICE' ? r.name : r.kind).join(', ')})`);
    console.log('  no phrase, password, private key or plaintext of bio or diary anywhere in the database files (db + WAL)');
    console.log('\nAll steps behaved as expected.');
    return 0;
  } catch (e) {
    console.error(`\ndemo:recovery FAILED at "${step}": ${e instanceof Error ? e.message : String(e)}${isSessionError(e) ? ` [${e.code}]` : ''}`);
    return 1;
  } finally {
    await gateway.close();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(keysDir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
