// The debug view (`storedObject`, src/server/services/debug-view/debug.graphql, docs/debug-view.md) through the real
// gateway on a real SQLite file: what it shows is byte for byte what the database holds (read
// from outside, read-only), with key versions from the envelopes' headers; only the owner, a
// grantee or a member who may read the message's epoch get an answer; a gateway with the
// view off answers DEBUG_VIEW_DISABLED; and the setting's parsing (configFromEnv).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { parseEnvelope, parseEnvelopeText } from '../../src/crypto/envelope.js';
import { generateSymmetricKey, rotateSymmetricKey } from '../../src/crypto/keys.js';
import { configFromEnv } from '../../src/app/config.js';
import { canary, grantAccess, newObjectId, registerAndLogin, seal, startTestGateway, storeDataKey, ROOMY_AUTH_LIMITS, type GqlResponse, type TestGateway, type TestUser } from '../helpers/gateway.js';
import { messagingMember, type MessagingMember } from '../helpers/messaging.js';
import { readTables } from '../helpers/sqlite-snapshot.js';

interface StoredField {
  field: string;
  level: string;
  column: string;
  stored: string | null;
  bytes: number | null;
  keyVersion: number | null;
  serverCanRead: boolean;
}
interface StoredObject {
  type: string;
  id: string;
  fields: StoredField[];
}
type Answer = GqlResponse<{ storedObject: StoredObject | null }>;

const STORED = 'query S($type: String!, $id: ID!) { storedObject(type: $type, id: $id) { type id fields { field level column stored bytes keyVersion serverCanRead } } }';
const CREATE = 'mutation C($i: CreateProfileInput!) { createProfile(input: $i) { id } }';

function stored(t: TestGateway, type: string, id: string, token?: string): Promise<Answer> {
  return t.gql(STORED, { type, id }, token);
}

function codes(r: GqlResponse): (string | undefined)[] {
  return (r.errors ?? []).map((e) => e.extensions?.code);
}

function fieldOf(o: StoredObject, name: string): StoredField {
  const f = o.fields.find((x) => x.field === name);
  if (!f) throw new Error(`no stored field ${name} in ${o.fields.map((x) => x.field).join(', ')}`);
  return f;
}

/** A stored row read from the SQLite file itself (bytes as `hex:…`). */
function dbRow(t: TestGateway, table: string, where: (r: Record<string, unknown>) => boolean): Record<string, unknown> {
  const row = readTables(t.dataDir, [table])[table]!.find(where);
  if (!row) throw new Error(`no ${table} row`);
  return row;
}

function hexBytes(v: unknown): Buffer {
  return Buffer.from(String(v).replace(/^hex:/, ''), 'hex');
}

describe('storedObject on a Profile', () => {
  let t: TestGateway;
  let alice: TestUser;
  let bob: TestUser;
  let mallory: TestUser;
  let profileId: string;
  let plain: { displayName: string; email: string; phone: string; bio: string; diary: string };

  beforeAll(async () => {
    t = await startTestGateway({ authLimits: ROOMY_AUTH_LIMITS });
    alice = await registerAndLogin(t, 'alice');
    bob = await registerAndLogin(t, 'bob');
    mallory = await registerAndLogin(t, 'mallory');
    profileId = newObjectId();
    // Distinct key versions, so each keyVersion can be told from the others: the data key
    // (SHARED) at 2 (its first version stored, then the next), the vault key (PRIVATE) at 3,
    // the gateway key ring (SERVER) at 1.
    const firstKey = generateSymmetricKey(nodeBackend);
    const dataKey = rotateSymmetricKey(nodeBackend, firstKey);
    await storeDataKey(t, alice, 'Profile', profileId, firstKey);
    await storeDataKey(t, alice, 'Profile', profileId, dataKey);
    const vault = { ...alice.vault, version: 3 };
    plain = { displayName: canary('name'), email: `${canary('email')}@example.com`, phone: canary('phone'), bio: canary('bio'), diary: canary('diary') };
    const created = await t.gql(
      CREATE,
      {
        i: {
          id: profileId,
          displayName: plain.displayName,
          email: plain.email,
          phone: plain.phone,
          bio: seal(dataKey, 'Profile.bio', alice.id, profileId, plain.bio),
          diary: seal(vault, 'Profile.diary', alice.id, profileId, plain.diary),
        },
      },
      alice.token,
    );
    expect(created.errors).toBeUndefined();
    const granted = await grantAccess(t, alice, bob, 'Profile', profileId, dataKey, 'READ');
    expect(granted.errors).toBeUndefined();
  });

  afterAll(async () => {
    await t?.close();
  });

  it('shows the owner exactly what the database holds, with key versions from the envelope headers', async () => {
    const r = await stored(t, 'Profile', profileId, alice.token);
    expect(r.errors).toBeUndefined();
    const o = r.data!.storedObject!;
    expect(o).toMatchObject({ type: 'Profile', id: profileId });
    expect(o.fields.map((f) => f.field)).toEqual(['ownerId', 'displayName', 'email', 'email (blind index)', 'phone', 'bio', 'diary', 'createdAt', 'updatedAt']);
    const row = dbRow(t, 'Profile', (r) => r.id === profileId);

    // SHARED and PRIVATE: the envelope text of the row, byte for byte; the client's key versions.
    const bio = fieldOf(o, 'bio');
    expect(bio).toEqual({ field: 'bio', level: 'SHARED', column: 'Profile.bio', stored: row.bio, bytes: String(row.bio).length, keyVersion: 2, serverCanRead: false });
    expect(parseEnvelopeText(bio.stored!).keyVersion).toBe(2);
    const diary = fieldOf(o, 'diary');
    expect(diary).toEqual({ field: 'diary', level: 'PRIVATE', column: 'Profile.diary', stored: row.diary, bytes: String(row.diary).length, keyVersion: 3, serverCanRead: false });

    // SERVER: email and phone both show the one blob, base64url of the stored bytes; the key ring's version.
    const blob = hexBytes(row.serverSealed);
    for (const name of ['email', 'phone']) {
      const f = fieldOf(o, name);
      expect(f).toEqual({ field: name, level: 'SERVER', column: 'Profile.serverSealed', stored: blob.toString('base64url'), bytes: blob.length, keyVersion: row.serverKeyVersion, serverCanRead: true });
      expect(f.keyVersion).toBe(parseEnvelope(new Uint8Array(blob)).keyVersion);
      expect(f.stored).not.toContain(plain.email);
      expect(f.stored).not.toContain(plain.phone);
      expect(blob.includes(Buffer.from(plain.email))).toBe(false);
    }
    expect(fieldOf(o, 'email (blind index)')).toEqual({ field: 'email (blind index)', level: 'SERVER', column: 'Profile.emailIndex', stored: row.emailIndex, bytes: String(row.emailIndex).length, keyVersion: null, serverCanRead: true });

    // PUBLIC: the values in clear.
    expect(fieldOf(o, 'displayName')).toEqual({ field: 'displayName', level: 'PUBLIC', column: 'Profile.displayName', stored: plain.displayName, bytes: Buffer.byteLength(plain.displayName), keyVersion: null, serverCanRead: true });
    expect(fieldOf(o, 'ownerId')).toMatchObject({ level: 'PUBLIC', stored: alice.id });
    const times = await t.gql<{ profile: { createdAt: string; updatedAt: string } }>('query P($id: ID!) { profile(id: $id) { createdAt updatedAt } }', { id: profileId }, alice.token);
    expect(fieldOf(o, 'createdAt')).toMatchObject({ level: 'PUBLIC', column: 'Profile.createdAt', stored: times.data!.profile.createdAt, keyVersion: null, serverCanRead: true });
    expect(fieldOf(o, 'updatedAt').stored).toBe(times.data!.profile.updatedAt);

    // Nothing the server cannot see in clear is in the answer.
    const text = JSON.stringify(r);
    for (const secret of [plain.email, plain.phone, plain.bio, plain.diary]) expect(text).not.toContain(secret);
  });

  it('levels come from the privacy manifest', async () => {
    const o = (await stored(t, 'Profile', profileId, alice.token)).data!.storedObject!;
    const manifest = t.gateway.manifest.objects.Profile!;
    for (const f of o.fields) {
      const name = f.field.replace(/ \(blind index\)$/, '');
      expect(f.level, f.field).toBe(manifest.fields[name]!.level);
    }
  });

  it('a grantee gets it, with FORBIDDEN on the PRIVATE field (as profile(id) answers) and never its envelope', async () => {
    const r = await stored(t, 'Profile', profileId, bob.token);
    const o = r.data!.storedObject!;
    const row = dbRow(t, 'Profile', (x) => x.id === profileId);
    expect(fieldOf(o, 'bio').stored).toBe(row.bio);
    expect(fieldOf(o, 'email').stored).toBe(hexBytes(row.serverSealed).toString('base64url'));
    const i = o.fields.findIndex((f) => f.field === 'diary');
    expect(o.fields[i]).toEqual({ field: 'diary', level: 'PRIVATE', column: 'Profile.diary', stored: null, bytes: null, keyVersion: null, serverCanRead: false });
    const errors = (r.errors ?? []).map((e) => `${e.path!.join('.')}:${e.extensions?.code}`).sort();
    expect(errors).toEqual(['bytes', 'keyVersion', 'stored'].map((k) => `storedObject.fields.${i}.${k}:FORBIDDEN`));
    expect(JSON.stringify(r)).not.toContain(String(row.diary));
    // The same as the profile's own query.
    const p = await t.gql('query P($id: ID!) { profile(id: $id) { diary } }', { id: profileId }, bob.token);
    expect(codes(p)).toEqual(['FORBIDDEN']);
  });

  it('a stranger and a missing id get null; no token is UNAUTHENTICATED', async () => {
    const stranger = await stored(t, 'Profile', profileId, mallory.token);
    expect(stranger.errors).toBeUndefined();
    expect(stranger.data!.storedObject).toBeNull();
    const missing = await stored(t, 'Profile', newObjectId(), mallory.token);
    expect(missing).toEqual({ ...stranger, status: missing.status });
    const anonymous = await stored(t, 'Profile', profileId);
    expect(codes(anonymous)).toEqual(['UNAUTHENTICATED']);
    expect(anonymous.data?.storedObject ?? null).toBeNull();
  });

  it('an unknown type or a Message id that is not a seq is BAD_USER_INPUT', async () => {
    const r = await stored(t, 'User', alice.id, alice.token);
    expect(codes(r)).toEqual(['BAD_USER_INPUT']);
    expect(r.errors![0]!.message).toContain('Profile, Message');
    expect(codes(await stored(t, 'Message', 'seven', alice.token))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await stored(t, 'Message', profileId, alice.token))).toEqual(['BAD_USER_INPUT']);
  });

  it('never logs a stored value', () => {
    const row = dbRow(t, 'Profile', (x) => x.id === profileId);
    const logs = t.logs.join('\n');
    for (const s of [String(row.bio), String(row.diary), String(row.emailIndex), hexBytes(row.serverSealed).toString('base64url'), plain.email, plain.bio]) {
      expect(logs).not.toContain(s);
    }
  });
});

type Member = MessagingMember;

describe('storedObject on a Message', () => {
  let t: TestGateway;
  let alice: Member;
  let bob: Member;
  let carol: Member;
  let mallory: Member;
  let group: string;

  const member = (username: string): Promise<Member> => messagingMember(t.gateway.url, username);

  beforeAll(async () => {
    t = await startTestGateway({ authLimits: ROOMY_AUTH_LIMITS });
    alice = await member('alice');
    bob = await member('bob');
    carol = await member('carol');
    mallory = await member('mallory');
    group = await alice.messenger.create('GROUP', ['bob', 'carol']);
  });

  afterAll(async () => {
    await t?.close();
  });

  it('a member sees the stored body (epoch as its key version) and the metadata in clear', async () => {
    const text = canary('message');
    const sent = await alice.messenger.send(group, text, { ttlSeconds: 3600 });
    const r = await stored(t, 'Message', sent.seq, bob.token);
    expect(r.errors).toBeUndefined();
    const o = r.data!.storedObject!;
    const row = dbRow(t, 'Message', (m) => String(m.seq) === sent.seq);
    expect(o).toMatchObject({ type: 'Message', id: sent.seq });
    expect(o.fields.map((f) => f.field)).toEqual(['body', 'conversationId', 'clientId', 'senderId', 'epoch', 'expiresAt', 'createdAt']);
    expect(fieldOf(o, 'body')).toEqual({ field: 'body', level: 'SHARED', column: 'Message.body', stored: row.body, bytes: String(row.body).length, keyVersion: 1, serverCanRead: false });
    expect(fieldOf(o, 'conversationId')).toEqual({ field: 'conversationId', level: 'PUBLIC', column: 'Message.conversationId', stored: group, bytes: group.length, keyVersion: null, serverCanRead: true });
    expect(fieldOf(o, 'clientId').stored).toBe(row.clientId);
    expect(fieldOf(o, 'senderId').stored).toBe(alice.userId);
    expect(fieldOf(o, 'epoch')).toMatchObject({ stored: '1', level: 'PUBLIC' });
    expect(fieldOf(o, 'expiresAt').stored).toBe(sent.expiresAt);
    expect(fieldOf(o, 'createdAt').stored).toBe(sent.createdAt);
    expect(JSON.stringify(r)).not.toContain(text);
    // The sender too.
    expect((await stored(t, 'Message', sent.seq, alice.token)).data!.storedObject!.fields[0]!.stored).toBe(row.body);
  });

  it('null for a non-member, a removed member, a member who joined after the epoch, and a missing seq', async () => {
    const before = await alice.messenger.send(group, 'epoch 1');
    expect(fieldOf((await stored(t, 'Message', before.seq, carol.token)).data!.storedObject!, 'body').keyVersion).toBe(1);
    await alice.messenger.removeMember(group, 'carol');
    const after = await alice.messenger.send(group, 'epoch 2, without carol');
    expect(fieldOf((await stored(t, 'Message', after.seq, bob.token)).data!.storedObject!, 'body').keyVersion).toBe(2);
    for (const seq of [before.seq, after.seq]) {
      for (const who of [carol, mallory]) {
        const r = await stored(t, 'Message', seq, who.token);
        expect(r.errors, who.username).toBeUndefined();
        expect(r.data!.storedObject, `${who.username} ${seq}`).toBeNull();
      }
    }
    // Dave joins at epoch 3 (history off): epoch 2 is not his to read, epoch 3 is.
    const dave = await member('dave');
    await alice.messenger.addMembers(group, ['dave']);
    expect((await stored(t, 'Message', after.seq, dave.token)).data!.storedObject).toBeNull();
    const welcome = await alice.messenger.send(group, 'welcome');
    expect(fieldOf((await stored(t, 'Message', welcome.seq, dave.token)).data!.storedObject!, 'body').keyVersion).toBe(3);
    expect((await stored(t, 'Message', '999999', alice.token)).data!.storedObject).toBeNull();
    expect(codes(await stored(t, 'Message', after.seq))).toEqual(['UNAUTHENTICATED']);
  });
});

describe('a gateway with the debug view off', () => {
  let t: TestGateway;
  let alice: TestUser;
  let profileId: string;

  beforeAll(async () => {
    t = await startTestGateway({ debugView: false });
    alice = await registerAndLogin(t, 'alice');
    profileId = newObjectId();
    const dataKey = generateSymmetricKey(nodeBackend);
    await storeDataKey(t, alice, 'Profile', profileId, dataKey);
    const r = await t.gql(CREATE, { i: { id: profileId, displayName: 'Alice', email: 'alice@example.com', bio: seal(dataKey, 'Profile.bio', alice.id, profileId, 'hi') } }, alice.token);
    expect(r.errors).toBeUndefined();
  });

  afterAll(async () => {
    await t?.close();
  });

  it('answers DEBUG_VIEW_DISABLED, saying how to turn it on, and nothing else', async () => {
    const row = dbRow(t, 'Profile', (x) => x.id === profileId);
    for (const [type, id] of [['Profile', profileId], ['Profile', newObjectId()], ['Message', '1'], ['Nope', 'x']] as const) {
      const r = await stored(t, type, id, alice.token);
      expect(codes(r), `${type} ${id}`).toEqual(['DEBUG_VIEW_DISABLED']);
      expect(r.errors![0]!.message).toContain('VEIL_DEBUG_VIEW=on');
      expect(r.errors![0]!.path).toEqual(['storedObject']);
      expect(r.data?.storedObject ?? null).toBeNull();
      const text = JSON.stringify(r);
      for (const s of [String(row.bio), String(row.emailIndex), hexBytes(row.serverSealed).toString('base64url'), 'alice@example.com', 'Alice']) expect(text).not.toContain(s);
    }
    // Authentication first: without a token it is UNAUTHENTICATED, as everywhere.
    expect(codes(await stored(t, 'Profile', profileId))).toEqual(['UNAUTHENTICATED']);
  });
});

describe('the VEIL_DEBUG_VIEW setting (configFromEnv)', () => {
  it('is on by default, off in production, on in production when asked, and refuses anything but on/off', () => {
    expect(configFromEnv({}).debugView).toBe(true);
    expect(configFromEnv({ NODE_ENV: 'development' }).debugView).toBe(true);
    expect(configFromEnv({ NODE_ENV: 'production' }).debugView).toBe(false);
    expect(configFromEnv({ NODE_ENV: 'production', VEIL_DEBUG_VIEW: 'on' }).debugView).toBe(true);
    expect(configFromEnv({ VEIL_DEBUG_VIEW: 'off' }).debugView).toBe(false);
    expect(configFromEnv({ VEIL_DEBUG_VIEW: '' }).debugView).toBe(true);
    expect(() => configFromEnv({ VEIL_DEBUG_VIEW: 'maybe' })).toThrow(expect.objectContaining({ name: 'ConfigError', code: 'CONFIG_INVALID' }));
    expect(() => configFromEnv({ VEIL_DEBUG_VIEW: 'maybe' })).toThrow(/VEIL_DEBUG_VIEW/);
  });

  it('VEIL_WEB_DIR=none serves no web app', () => {
    expect(configFromEnv({ VEIL_WEB_DIR: 'none' }).webDir).toBeUndefined();
    expect(configFromEnv({}).webDir).toMatch(/web\/dist$/);
  });
});
