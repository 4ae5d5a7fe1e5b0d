// Devices and the key bundle (src/server/services/sign-in/devices.graphql, docs/auth.md §12) through a real
// gateway on loopback: registration with a device, device sign-in and its codes, link
// requests (approve, reject, expire, limits), revocation ending the device's sessions over
// HTTP and WebSocket, every key bundle check, and rotateIdentityKeys carrying the bundle.
// Every refused mutation is checked to change no row.
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { base64urlEncode } from '../../src/crypto/base64url.js';
import type { EncryptionKeyPair } from '../../src/crypto/keys.js';
import { bundleKeyLocation, keyBundleLocation } from '../../src/privacy/account-locations.js';
import { MAX_PENDING_DEVICES } from '../../src/server/services/sign-in/devices.js';
import { snapshotTables } from '../helpers/sqlite-snapshot.js';
import { ROOMY_AUTH_LIMITS, registerAndLogin, startTestGateway, type GqlResponse, type TestGateway, type TestUser } from '../helpers/gateway.js';
import {
  ACCOUNT_TABLES,
  APPROVE,
  REQUEST_LINK,
  REVOKE,
  rotation,
  expectRefused,
  MY_BUNDLE,
  MY_DEVICES,
  PUT_BUNDLE,
  REFUSED_DEVICE_NAMES,
  bundleFor,
  bundleRevision,
  challenge,
  codes,
  deviceLogin,
  keyPairs,
  newDevice,
  ok,
  registerWithDevice,
  registration,
  sqlite,
  type DeviceUser,
  type KeyBundleInput,
  type TestDevice,
} from '../helpers/devices.js';

const REGISTER = 'mutation R($i: RegisterInput!) { register(input: $i) { id } }';
const LINK_STATUS = 'query S($id: ID!) { deviceLinkStatus(deviceId: $id) }';
const REJECT = 'mutation J($id: ID!) { rejectDevice(deviceId: $id) }';
const ROTATE = 'mutation R($i: RotateIdentityKeysInput!, $b: KeyBundleInput) { rotateIdentityKeys(input: $i, keyBundle: $b) { version reset } }';
const DIRECTORY = 'query D($u: String!) { keyDirectory(username: $u) { versions { version reset signature } } }';

let t: TestGateway;
let n = 0;

/** A fresh username per test (the gateway is shared). */
function uname(prefix: string): string {
  return `${prefix}${++n}`;
}

beforeAll(async () => {
  t = await startTestGateway({ authLimits: ROOMY_AUTH_LIMITS });
});

afterAll(async () => {
  await t?.close();
});

const refused = (code: string, request: () => Promise<GqlResponse>): Promise<GqlResponse> => expectRefused(t, code, request);

/** Stores the first bundle of `u` for `recipients`. */
async function firstBundle(u: TestUser, recipients: readonly EncryptionKeyPair[]): Promise<void> {
  ok(await t.gql(PUT_BUNDLE, { b: await bundleFor(u.id, 1, recipients) }, u.token));
}

async function linkRequest(username: string, name = 'phone'): Promise<TestDevice> {
  const d = await newDevice(username, name);
  const r = ok(await t.gql<{ requestDeviceLink: { id: string } }>(REQUEST_LINK, { u: username, d: d.input }));
  return { ...d, id: r.requestDeviceLink.id };
}

async function devices(token: string): Promise<{ id: string; status: string; current: boolean; lastSeenAt: string | null; approvedAt: string | null; revokedAt: string | null }[]> {
  return ok(await t.gql<{ myDevices: never[] }>(MY_DEVICES, {}, token)).myDevices;
}

describe('registration with a device', () => {
  it('creates the device ACTIVE with the user; the identity session lists it as not current', async () => {
    const u = await registerWithDevice(t, uname('reg'));
    const list = await devices(u.token);
    expect(list).toMatchObject([
      { id: u.device.id, name: u.device.name, status: 'ACTIVE', signingKey: base64urlEncode(u.device.signing.publicKey), encryptionKey: base64urlEncode(u.device.encryption.publicKey), current: false, revokedAt: null, lastSeenAt: null },
    ]);
    expect(list[0]!.approvedAt).not.toBeNull();
    expect(u.device.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('refuses a device signature by another key, device keys equal to the identity keys, and bad names: no user is created', async () => {
    const username = uname('regbad');
    const other = await keyPairs();
    const forged = await newDevice(username, 'laptop');
    const bySomeoneElse = { ...forged.input, signature: (await newDevice(username, 'laptop', { signing: other.signing, encryption: forged.encryption })).input.signature };
    await refused('BAD_DEVICE_SIGNATURE', async () => t.gql(REGISTER, { i: (await registration(username, { ...forged, input: bySomeoneElse })).input }));
    // Signed for another username: the message binds it.
    const forOther = await newDevice('someoneelse', 'laptop');
    await refused('BAD_DEVICE_SIGNATURE', async () => t.gql(REGISTER, { i: (await registration(username, forOther)).input }));

    const reg = await registration(username);
    const same = await newDevice(username, 'laptop', reg.identity);
    await refused('BAD_USER_INPUT', () => t.gql(REGISTER, { i: { ...reg.input, device: same.input } }));
    for (const name of ['', 'x'.repeat(65), 'tab\there', 'bell\u0007', 'line\u2028sep']) {
      const d = await newDevice(username, name);
      await refused('BAD_USER_INPUT', async () => t.gql(REGISTER, { i: (await registration(username, d)).input }));
    }
    // Not UTF-8 at all (no client can sign it): refused before any signature check.
    const lone = await newDevice(username, 'lone');
    await refused('BAD_USER_INPUT', async () => t.gql(REGISTER, { i: (await registration(username, { ...lone, input: { ...lone.input, name: 'lone\ud800' } })).input }));
    // 64 characters (code points, some outside the BMP) are fine.
    const long = await newDevice(username, '😀'.repeat(64));
    ok(await t.gql(REGISTER, { i: (await registration(username, long)).input }));
  });
});

describe('device sign-in', () => {
  it('signs in with the device key: the token carries the device, Session.device is current, lastSeenAt is set', async () => {
    const u = await registerWithDevice(t, uname('dlogin'));
    const r = ok(await deviceLogin(t, u.username, u.device.id, u.device.signing));
    expect(r.login.device).toMatchObject({ id: u.device.id, status: 'ACTIVE', current: true });
    expect(r.login.device!.lastSeenAt).not.toBeNull();
    const payload = JSON.parse(Buffer.from(r.login.token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(payload.did).toBe(u.device.id);
    // The device session sees its own device as current; the identity session does not.
    expect((await devices(r.login.token)).find((d) => d.id === u.device.id)).toMatchObject({ current: true });
    expect((await devices(u.token)).find((d) => d.id === u.device.id)).toMatchObject({ current: false });
    // An identity login has no device, and no did.
    const plain = ok(await deviceLogin(t, u.username, null, u.signing));
    expect(plain.login.device).toBeNull();
    expect(JSON.parse(Buffer.from(plain.login.token.split('.')[1]!, 'base64url').toString())).not.toHaveProperty('did');
  });

  it('an unknown device, another user’s device, or the identity key for a device is LOGIN_FAILED, and burns no challenge', async () => {
    const u = await registerWithDevice(t, uname('dfail'));
    const other = await registerWithDevice(t, uname('dother'));
    const ch = await challenge(t, u.username);
    await refused('LOGIN_FAILED', () => deviceLogin(t, u.username, base64urlEncode(nodeBackend.randomBytes(16)), u.device.signing, ch));
    await refused('LOGIN_FAILED', () => deviceLogin(t, u.username, 'not-a-device-id', u.device.signing, ch));
    await refused('LOGIN_FAILED', () => deviceLogin(t, u.username, other.device.id, other.device.signing, ch));
    await refused('LOGIN_FAILED', () => deviceLogin(t, u.username, u.device.id, u.signing, ch));
    await refused('LOGIN_FAILED', () => deviceLogin(t, uname('nobody'), u.device.id, u.device.signing));
    // The challenge is still good.
    ok(await deviceLogin(t, u.username, u.device.id, u.device.signing, ch));
  });

  it('a PENDING device is DEVICE_PENDING (only with its own signature), then signs in once approved', async () => {
    const u = await registerWithDevice(t, uname('dpend'));
    await firstBundle(u, [u.device.encryption]);
    const pending = await linkRequest(u.username);
    const ch = await challenge(t, u.username);
    await refused('LOGIN_FAILED', () => deviceLogin(t, u.username, pending.id, u.device.signing, ch));
    await refused('DEVICE_PENDING', () => deviceLogin(t, u.username, pending.id, pending.signing, ch));
    ok(await t.gql(APPROVE, { id: pending.id, b: await bundleFor(u.id, 2, [u.device.encryption, pending.encryption]) }, u.token));
    expect(ok(await deviceLogin(t, u.username, pending.id, pending.signing, ch)).login.device).toMatchObject({ id: pending.id, status: 'ACTIVE' });
  });

  it('a REVOKED device is DEVICE_REVOKED', async () => {
    const u = await registerWithDevice(t, uname('drev'));
    const second = await linkRequest(u.username);
    await firstBundle(u, [u.device.encryption]);
    ok(await t.gql(APPROVE, { id: second.id, b: await bundleFor(u.id, 2, [u.device.encryption, second.encryption]) }, u.token));
    const rot = await rotation(u.username, 2, u.signing);
    ok(await t.gql(REVOKE, { id: second.id, i: rot.input, b: await bundleFor(u.id, 3, [u.device.encryption]) }, u.token));
    await refused('DEVICE_REVOKED', () => deviceLogin(t, u.username, second.id, second.signing));
  });
});

describe('device links', () => {
  it('request → PENDING (status public by id) → approve with the bundle → ACTIVE; recipients must include it', async () => {
    const u = await registerWithDevice(t, uname('link'));
    await firstBundle(u, [u.device.encryption]);
    const d = await newDevice(u.username, 'tablet');
    const asked = ok(await t.gql<{ requestDeviceLink: Record<string, unknown> }>(REQUEST_LINK, { u: u.username, d: d.input })).requestDeviceLink;
    expect(asked).toMatchObject({ name: 'tablet', status: 'PENDING', current: false, approvedAt: null });
    const id = asked.id as string;
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(ok(await t.gql<{ deviceLinkStatus: string | null }>(LINK_STATUS, { id })).deviceLinkStatus).toBe('PENDING');
    expect(ok(await t.gql<{ deviceLinkStatus: string | null }>(LINK_STATUS, { id: base64urlEncode(nodeBackend.randomBytes(16)) })).deviceLinkStatus).toBeNull();

    // The bundle must be wrapped for the new device too, and for nothing else.
    await refused('BUNDLE_RECIPIENTS_MISMATCH', async () => t.gql(APPROVE, { id, b: await bundleFor(u.id, 2, [u.device.encryption]) }, u.token));
    await refused('BUNDLE_RECIPIENTS_MISMATCH', async () => t.gql(APPROVE, { id, b: await bundleFor(u.id, 2, [d.encryption]) }, u.token));
    const approved = ok(await t.gql<{ approveDevice: Record<string, unknown> }>(APPROVE, { id, b: await bundleFor(u.id, 2, [u.device.encryption, d.encryption]) }, u.token)).approveDevice;
    expect(approved).toMatchObject({ id, status: 'ACTIVE' });
    expect(approved.approvedAt).not.toBeNull();
    expect(ok(await t.gql<{ deviceLinkStatus: string | null }>(LINK_STATUS, { id })).deviceLinkStatus).toBe('ACTIVE');
    expect(await bundleRevision(t, u.token)).toBe(2);
    // Approved once: a second approval finds no PENDING device.
    await refused('NOT_FOUND', async () => t.gql(APPROVE, { id, b: await bundleFor(u.id, 3, [u.device.encryption, d.encryption]) }, u.token));
  });

  it('approving the first device of an account without a bundle stores revision 1', async () => {
    const u = await registerAndLogin(t, uname('nobundle'));
    const d = await linkRequest(u.username);
    await refused('STALE_KEY_BUNDLE', async () => t.gql(APPROVE, { id: d.id, b: await bundleFor(u.id, 2, [d.encryption]) }, u.token));
    ok(await t.gql(APPROVE, { id: d.id, b: await bundleFor(u.id, 1, [d.encryption]) }, u.token));
    expect(await bundleRevision(t, u.token)).toBe(1);
  });

  it('reject deletes the PENDING device; another user’s or an unknown device is NOT_FOUND', async () => {
    const u = await registerWithDevice(t, uname('rej'));
    const mallory = await registerWithDevice(t, uname('mal'));
    await firstBundle(mallory, [mallory.device.encryption]);
    const d = await linkRequest(u.username);
    await refused('NOT_FOUND', () => t.gql(REJECT, { id: d.id }, mallory.token));
    await refused('NOT_FOUND', async () => t.gql(APPROVE, { id: d.id, b: await bundleFor(mallory.id, 2, [mallory.device.encryption, d.encryption]) }, mallory.token));
    await refused('NOT_FOUND', () => t.gql(REJECT, { id: u.device.id }, u.token)); // ACTIVE, not PENDING
    await refused('NOT_FOUND', () => t.gql(REJECT, { id: 'nope' }, u.token));
    expect(ok(await t.gql<{ rejectDevice: boolean }>(REJECT, { id: d.id }, u.token)).rejectDevice).toBe(true);
    expect(ok(await t.gql<{ deviceLinkStatus: string | null }>(LINK_STATUS, { id: d.id })).deviceLinkStatus).toBeNull();
    await refused('NOT_FOUND', () => t.gql(REJECT, { id: d.id }, u.token));
    expect((await devices(u.token)).map((x) => x.id)).toEqual([u.device.id]);
  });

  it('an expired request cannot be approved (DEVICE_LINK_EXPIRED), its status is null, and its key cannot sign in', async () => {
    const u = await registerWithDevice(t, uname('exp'));
    await firstBundle(u, [u.device.encryption]);
    const d = await linkRequest(u.username);
    sqlite(t.dataDir, 'UPDATE "Device" SET "expiresAt" = ? WHERE "id" = ?', new Date(Date.now() - 1000).toISOString(), d.id);
    await refused('DEVICE_LINK_EXPIRED', async () => t.gql(APPROVE, { id: d.id, b: await bundleFor(u.id, 2, [u.device.encryption, d.encryption]) }, u.token));
    expect(ok(await t.gql<{ deviceLinkStatus: string | null }>(LINK_STATUS, { id: d.id })).deviceLinkStatus).toBeNull();
    await refused('DEVICE_LINK_EXPIRED', () => deviceLogin(t, u.username, d.id, d.signing));
    // Expired requests do not count against the limit, and the purge removes them.
    expect(await t.gateway.store.purgeExpiredDevices(new Date())).toBeGreaterThanOrEqual(1);
    expect(await t.gateway.store.findDevice(d.id)).toBeNull();
  });

  it('an unknown user is NOT_FOUND, a bad proof BAD_DEVICE_SIGNATURE, identity keys BAD_USER_INPUT; at most MAX_PENDING_DEVICES PENDING devices, the oldest making room', async () => {
    const u = await registerWithDevice(t, uname('many'));
    const d = await newDevice(uname('ghost'));
    await refused('NOT_FOUND', () => t.gql(REQUEST_LINK, { u: uname('ghost'), d: d.input }));
    const wrongUser = await newDevice('someoneelse');
    await refused('BAD_DEVICE_SIGNATURE', () => t.gql(REQUEST_LINK, { u: u.username, d: wrongUser.input }));
    const identityKeys = await newDevice(u.username, 'x', { signing: u.signing, encryption: u.encryption });
    await refused('BAD_USER_INPUT', () => t.gql(REQUEST_LINK, { u: u.username, d: identityKeys.input }));
    const first = await linkRequest(u.username, 'pending 0');
    for (let i = 1; i < MAX_PENDING_DEVICES; i++) await linkRequest(u.username, `pending ${i}`);
    const newest = await linkRequest(u.username, 'one more');
    const list = await devices(u.token);
    expect(list.map((x) => x.status)).toEqual(['ACTIVE', ...Array<string>(MAX_PENDING_DEVICES).fill('PENDING')]);
    expect(list.map((x) => x.id)).not.toContain(first.id);
    expect(list.map((x) => x.id)).toContain(newest.id);
  });

  it('requests are rate limited per client address: 5 per 5 minutes (default limits)', async () => {
    const limited = await startTestGateway({ authLimits: { register: ROOMY_AUTH_LIMITS.register! } });
    try {
      const u = await registerWithDevice(limited, 'limited');
      const results = [];
      for (let i = 0; i < 6; i++) results.push(codes(await limited.gql(REQUEST_LINK, { u: 'nosuchuser', d: (await newDevice('nosuchuser')).input }))[0]);
      expect(results).toEqual(['NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'RATE_LIMITED']);
      expect(u.device.id).toBeTruthy();
    } finally {
      await limited.close();
    }
  });
});

// Issue 14, item 3: anonymous requests cannot keep an account's own new device out (a full
// account's oldest waiting request makes room; what an attacker can still do is pinned too),
// and device names are in one normal form wherever a device enters.

/** The status `deviceLinkStatus` answers for a request. */
async function linkStatus(id: string): Promise<string | null> {
  return ok(await t.gql<{ deviceLinkStatus: string | null }>(LINK_STATUS, { id })).deviceLinkStatus;
}

/** The names of the account's waiting requests. */
async function pendingNames(token: string): Promise<string[]> {
  return ok(await t.gql<{ myDevices: { name: string; status: string }[] }>(MY_DEVICES, {}, token)).myDevices.filter((d) => d.status === 'PENDING').map((d) => d.name);
}

describe('link requests from strangers', () => {
  it('cannot keep the account’s own new device out: the oldest waiting request makes room, and hers is approved', async () => {
    const alice = await registerWithDevice(t, uname('alice'));
    await firstBundle(alice, [alice.device.encryption]);
    // An attacker (no token) fills every slot, and then some.
    const attacker: TestDevice[] = [];
    for (let i = 0; i < MAX_PENDING_DEVICES + 3; i++) attacker.push(await linkRequest(alice.username, `not yours ${i}`));
    expect(await pendingNames(alice.token)).toHaveLength(MAX_PENDING_DEVICES);
    // The three oldest made room for newer ones: their link requests are gone.
    for (const d of attacker.slice(0, 3)) expect(await linkStatus(d.id)).toBeNull();
    expect(await linkStatus(attacker[3]!.id)).toBe('PENDING');

    // Her own new device asks: accepted, never TOO_MANY_PENDING_DEVICES.
    const laptop = await linkRequest(alice.username, 'my laptop');
    expect(await linkStatus(laptop.id)).toBe('PENDING');
    const pending = await pendingNames(alice.token);
    expect(pending).toHaveLength(MAX_PENDING_DEVICES);
    expect(pending).toContain('my laptop');
    expect(await linkStatus(attacker[3]!.id)).toBeNull();

    // She approves it (after comparing the code her laptop shows with the one computed from
    // the listed request's keys, docs/devices.md); it signs in as her device.
    const approved = ok(await t.gql<{ approveDevice: { status: string } }>(APPROVE, { id: laptop.id, b: await bundleFor(alice.id, 2, [alice.device.encryption, laptop.encryption]) }, alice.token));
    expect(approved.approveDevice.status).toBe('ACTIVE');
  });

  it('what an attacker can still do: MAX_PENDING_DEVICES newer requests evict a waiting one (the device then sees null and asks again)', async () => {
    const bob = await registerWithDevice(t, uname('bob'));
    const phone = await linkRequest(bob.username, 'new phone');
    for (let i = 0; i < MAX_PENDING_DEVICES - 1; i++) await linkRequest(bob.username, `noise ${i}`);
    expect(await linkStatus(phone.id)).toBe('PENDING');
    await linkRequest(bob.username, 'one more');
    expect(await linkStatus(phone.id)).toBeNull();
    expect(await pendingNames(bob.token)).toHaveLength(MAX_PENDING_DEVICES);
    // Asking again works at once.
    const again = await linkRequest(bob.username, 'new phone');
    expect(await linkStatus(again.id)).toBe('PENDING');
  });
});

describe('device names', () => {
  it.each(REFUSED_DEVICE_NAMES)('%s: refused by requestDeviceLink and by register, with no row written', async (_, name) => {
    const owner = await registerWithDevice(t, uname('names'));
    await refused('BAD_USER_INPUT', async () => t.gql(REQUEST_LINK, { u: owner.username, d: (await newDevice(owner.username, name)).input }));
    const username = uname('regname');
    await refused('BAD_USER_INPUT', async () => t.gql(REGISTER, { i: (await registration(username, await newDevice(username, name))).input }));
  });

  it('plain names in any script, emoji with their variation selector, and 64 code points are accepted and listed as sent', async () => {
    const owner = await registerWithDevice(t, uname('okname'));
    const names = ['Chromium on Linux', 'Alice’s phone ❤️', 'téléphone', '日本語のノート', 'هاتف سارة', 'x'.repeat(64), '😀'.repeat(64)];
    for (const name of names) await linkRequest(owner.username, name);
    expect((await pendingNames(owner.token)).sort()).toEqual(names.slice(-MAX_PENDING_DEVICES).sort());
  });
});

describe('revocation', () => {
  async function twoDevices(prefix: string): Promise<{ u: DeviceUser; second: TestDevice; secondToken: string }> {
    const u = await registerWithDevice(t, uname(prefix));
    await firstBundle(u, [u.device.encryption]);
    const second = await linkRequest(u.username);
    ok(await t.gql(APPROVE, { id: second.id, b: await bundleFor(u.id, 2, [u.device.encryption, second.encryption]) }, u.token));
    const secondToken = ok(await deviceLogin(t, u.username, second.id, second.signing)).login.token;
    return { u, second, secondToken };
  }

  it('rotates the identity, stores the bundle without it, and ends its sessions on HTTP and WebSocket', { timeout: 30_000 }, async () => {
    const { u, second, secondToken } = await twoDevices('revoke');
    expect(codes(await t.gql('{ me { id } }', {}, secondToken))).toEqual([]);
    // An open socket of the device, with a subscription.
    const wsUrl = t.gateway.url.replace(/^http/, 'ws');
    let closedWith: number | undefined;
    const open = createClient({ url: wsUrl, webSocketImpl: WebSocket, lazy: false, onNonLazyError: () => undefined, retryAttempts: 0, connectionParams: { token: secondToken }, on: { closed: (e) => (closedWith = (e as { code: number }).code) } });
    const events: unknown[] = [];
    open.subscribe({ query: 'subscription { contactEvents { kind } }' }, { next: (e) => void events.push(e), error: () => undefined, complete: () => undefined });
    for (let i = 0; i < 200 && t.gateway.pubsub.subscriberCount(`User:${u.id}:contacts`) === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(t.gateway.pubsub.subscriberCount(`User:${u.id}:contacts`)).toBe(1);

    const rot = await rotation(u.username, 2, u.signing);
    // Recipients must exclude the revoked device.
    await refused('BUNDLE_RECIPIENTS_MISMATCH', async () => t.gql(REVOKE, { id: second.id, i: rot.input, b: await bundleFor(u.id, 3, [u.device.encryption, second.encryption]) }, u.token));
    const revoked = ok(await t.gql<{ revokeDevice: Record<string, unknown> }>(REVOKE, { id: second.id, i: rot.input, b: await bundleFor(u.id, 3, [u.device.encryption]) }, u.token)).revokeDevice;
    expect(revoked).toMatchObject({ id: second.id, status: 'REVOKED' });
    expect(revoked.revokedAt).not.toBeNull();
    const history = ok(await t.gql<{ keyDirectory: { versions: { version: number; reset: boolean }[] } }>(DIRECTORY, { u: u.username })).keyDirectory.versions;
    expect(history.map((v) => [v.version, v.reset])).toEqual([
      [1, false],
      [2, false],
    ]);

    // HTTP: 401 UNAUTHENTICATED "device revoked".
    const after = await t.gql('{ me { id } }', {}, secondToken);
    expect(after.status).toBe(401);
    expect(codes(after)).toEqual(['UNAUTHENTICATED']);
    expect(after.errors![0]!.message).toBe('device revoked');
    // The open socket closes (4403); a new one with the token is refused.
    for (let i = 0; i < 200 && closedWith === undefined; i++) await new Promise((r) => setTimeout(r, 10));
    expect(closedWith).toBe(4403);
    await open.dispose();
    let refusedWith: number | undefined;
    const again = createClient({ url: wsUrl, webSocketImpl: WebSocket, lazy: false, onNonLazyError: () => undefined, retryAttempts: 0, connectionParams: { token: secondToken }, on: { closed: (e) => (refusedWith = (e as { code: number }).code) } });
    for (let i = 0; i < 200 && refusedWith === undefined; i++) await new Promise((r) => setTimeout(r, 10));
    expect(refusedWith).toBe(4403);
    await again.dispose();
    // The other device's session goes on.
    const first = ok(await deviceLogin(t, u.username, u.device.id, u.device.signing)).login.token;
    expect(codes(await t.gql('{ me { id } }', {}, first))).toEqual([]);
    expect((await devices(first)).map((d) => [d.id, d.status])).toEqual([
      [u.device.id, 'ACTIVE'],
      [second.id, 'REVOKED'],
    ]);
  });

  it('a session cannot revoke its own device; REVOKED, unknown and others’ devices are NOT_FOUND; a replayed rotation is CONFLICT', async () => {
    const { u, second, secondToken } = await twoDevices('selfrev');
    const other = await registerWithDevice(t, uname('otherrev'));
    const rot = await rotation(u.username, 2, u.signing);
    const b = await bundleFor(u.id, 3, [u.device.encryption]);
    await refused('CANNOT_REVOKE_CURRENT_DEVICE', () => t.gql(REVOKE, { id: second.id, i: rot.input, b }, secondToken));
    await refused('NOT_FOUND', () => t.gql(REVOKE, { id: other.device.id, i: rot.input, b }, u.token));
    await refused('NOT_FOUND', () => t.gql(REVOKE, { id: base64urlEncode(nodeBackend.randomBytes(16)), i: rot.input, b }, u.token));
    await refused('BAD_KEY_SIGNATURE', async () => t.gql(REVOKE, { id: u.device.id, i: (await rotation(u.username, 2, second.signing)).input, b: await bundleFor(u.id, 3, [second.encryption]) }, secondToken));
    // The second device revokes the first (whose session this is not).
    ok(await t.gql(REVOKE, { id: u.device.id, i: rot.input, b: await bundleFor(u.id, 3, [second.encryption]) }, secondToken));
    await refused('NOT_FOUND', async () => t.gql(REVOKE, { id: u.device.id, i: (await rotation(u.username, 3, rot.next.signing)).input, b: await bundleFor(u.id, 4, [second.encryption]) }, secondToken));
    // A PENDING device can be revoked too (it never was a recipient).
    const pending = await linkRequest(u.username);
    await refused('CONFLICT', async () => t.gql(REVOKE, { id: pending.id, i: rot.input, b: await bundleFor(u.id, 4, [second.encryption]) }, secondToken));
    ok(await t.gql(REVOKE, { id: pending.id, i: (await rotation(u.username, 3, rot.next.signing)).input, b: await bundleFor(u.id, 4, [second.encryption]) }, secondToken));
  });
});

describe('the key bundle checks', () => {
  let u: DeviceUser;
  let recipients: EncryptionKeyPair[];

  beforeAll(async () => {
    u = await registerWithDevice(t, uname('bundle'));
    recipients = [u.device.encryption];
  });

  it('an account without devices or backups has no recipients: no bundle can be stored', async () => {
    const plain = await registerAndLogin(t, uname('norecip'));
    await refused('BUNDLE_RECIPIENTS_MISMATCH', async () => t.gql(PUT_BUNDLE, { b: await bundleFor(plain.id, 1, [plain.encryption]) }, plain.token));
    expect(ok(await t.gql<{ myKeyBundle: unknown }>(MY_BUNDLE, {}, plain.token)).myKeyBundle).toBeNull();
  });

  it('revision: 1 first, then stored + 1 (STALE_KEY_BUNDLE otherwise)', async () => {
    await refused('STALE_KEY_BUNDLE', async () => t.gql(PUT_BUNDLE, { b: await bundleFor(u.id, 2, recipients) }, u.token));
    await refused('STALE_KEY_BUNDLE', async () => t.gql(PUT_BUNDLE, { b: await bundleFor(u.id, 0, recipients) }, u.token));
    const first = ok(await t.gql<{ putKeyBundle: KeyBundleInput & { updatedAt: string } }>(PUT_BUNDLE, { b: await bundleFor(u.id, 1, recipients) }, u.token)).putKeyBundle;
    expect(first.revision).toBe(1);
    const mine = ok(await t.gql<{ myKeyBundle: KeyBundleInput }>(MY_BUNDLE, {}, u.token)).myKeyBundle;
    expect(mine).toMatchObject({ revision: 1, bundle: first.bundle, wrappedKey: first.wrappedKey });
    await refused('STALE_KEY_BUNDLE', async () => t.gql(PUT_BUNDLE, { b: await bundleFor(u.id, 1, recipients) }, u.token));
    await refused('STALE_KEY_BUNDLE', async () => t.gql(PUT_BUNDLE, { b: await bundleFor(u.id, 3, recipients) }, u.token));
    // A signed wrap is fine too.
    ok(await t.gql(PUT_BUNDLE, { b: await bundleFor(u.id, 2, recipients, { signer: u.device.signing }) }, u.token));
  });

  it('shape and bindings: BAD_KEY_BUNDLE', async () => {
    const rev = (await bundleRevision(t, u.token)) + 1;
    const good = await bundleFor(u.id, rev, recipients);
    const elsewhere = { coordinate: 'AccountKeys', ownerId: 'someone-else', objectId: 'bundle' };
    const cases: [string, KeyBundleInput][] = [
      ['bundle not an envelope', { ...good, bundle: 'bm90IGFuIGVudmVsb3Bl' }],
      ['bundle not base64url', { ...good, bundle: 'not base64url!' }],
      ['bundle too large', { ...good, bundle: 'A'.repeat(Math.ceil((256 * 1024 * 4) / 3) + 4) }],
      ['wrappedKey not a wrapped key', { ...good, wrappedKey: good.bundle }],
      ['wrappedKey empty', { ...good, wrappedKey: '' }],
      ['bundle at another place', await bundleFor(u.id, rev, recipients, { bundleAt: { ...keyBundleLocation(u.id), ownerId: 'someone-else' } })],
      ['bundle at the key place', await bundleFor(u.id, rev, recipients, { bundleAt: bundleKeyLocation(u.id) })],
      ['wrap at another place', await bundleFor(u.id, rev, recipients, { wrapAt: elsewhere })],
      ['wrap at the bundle place', await bundleFor(u.id, rev, recipients, { wrapAt: keyBundleLocation(u.id) })],
      ['wrap of another key', await bundleFor(u.id, rev, recipients, { wrapKeyOverride: { id: nodeBackend.randomBytes(16), version: rev, bytes: nodeBackend.randomBytes(32) } })],
      ['wrap of the same key id, another version', { ...good, wrappedKey: (await bundleFor(u.id, rev + 1, recipients)).wrappedKey }],
    ];
    // Same key, version not the revision: sealed and wrapped at version rev + 1, sent as rev.
    const ahead = await bundleFor(u.id, rev + 1, recipients);
    cases.push(['key version is not the revision', { ...ahead, revision: rev }]);
    for (const [what, b] of cases) {
      const r = await refused('BAD_KEY_BUNDLE', () => t.gql(PUT_BUNDLE, { b }, u.token));
      expect(r.errors![0]!.message, what).toMatch(/^keyBundle: /);
    }
  });

  it('recipients: exactly the ACTIVE devices and backups (BUNDLE_RECIPIENTS_MISMATCH says how many are missing or extra)', async () => {
    const rev = (await bundleRevision(t, u.token)) + 1;
    const stranger = (await keyPairs()).encryption;
    const extra = await refused('BUNDLE_RECIPIENTS_MISMATCH', async () => t.gql(PUT_BUNDLE, { b: await bundleFor(u.id, rev, [...recipients, stranger]) }, u.token));
    expect(extra.errors![0]!.message).toContain('(0 missing, 1 extra)');
    const swapped = await refused('BUNDLE_RECIPIENTS_MISMATCH', async () => t.gql(PUT_BUNDLE, { b: await bundleFor(u.id, rev, [stranger]) }, u.token));
    expect(swapped.errors![0]!.message).toContain('(1 missing, 1 extra)');
    // A PENDING device is not a recipient.
    const pending = await linkRequest(u.username);
    await refused('BUNDLE_RECIPIENTS_MISMATCH', async () => t.gql(PUT_BUNDLE, { b: await bundleFor(u.id, rev, [...recipients, pending.encryption]) }, u.token));
    expect(ok(await t.gql<{ putKeyBundle: { revision: number } }>(PUT_BUNDLE, { b: await bundleFor(u.id, rev, recipients) }, u.token)).putKeyBundle.revision).toBe(rev);
  });

  it('two writers of one revision: exactly one wins, the other is STALE_KEY_BUNDLE', async () => {
    const rev = (await bundleRevision(t, u.token)) + 1;
    const [a, b] = await Promise.all([bundleFor(u.id, rev, recipients), bundleFor(u.id, rev, recipients)]);
    const results = await Promise.all([t.gql(PUT_BUNDLE, { b: a }, u.token), t.gql(PUT_BUNDLE, { b }, u.token)]);
    expect(results.map((r) => codes(r)[0] ?? 'OK').sort()).toEqual(['OK', 'STALE_KEY_BUNDLE']);
  });
});

describe('rotateIdentityKeys with a key bundle', () => {
  it('requires the bundle once the account has one, stores both in one transaction, and answers a replay', async () => {
    const u = await registerWithDevice(t, uname('rot'));
    // No bundle yet: rotates alone, as before.
    const r2 = await rotation(u.username, 2, u.signing);
    expect(ok(await t.gql<{ rotateIdentityKeys: { version: number; reset: boolean } }>(ROTATE, { i: r2.input }, u.token)).rotateIdentityKeys).toEqual({ version: 2, reset: false });
    await firstBundle(u, [u.device.encryption]);
    const r3 = await rotation(u.username, 3, r2.next.signing);
    await refused('KEY_BUNDLE_REQUIRED', () => t.gql(ROTATE, { i: r3.input }, u.token));
    // A bad bundle refuses the rotation too: nothing is stored.
    await refused('STALE_KEY_BUNDLE', async () => t.gql(ROTATE, { i: r3.input, b: await bundleFor(u.id, 5, [u.device.encryption]) }, u.token));
    await refused('BUNDLE_RECIPIENTS_MISMATCH', async () => t.gql(ROTATE, { i: r3.input, b: await bundleFor(u.id, 2, [r3.next.encryption]) }, u.token));
    const b2 = await bundleFor(u.id, 2, [u.device.encryption]);
    expect(ok(await t.gql<{ rotateIdentityKeys: { version: number } }>(ROTATE, { i: r3.input, b: b2 }, u.token)).rotateIdentityKeys.version).toBe(3);
    expect(await bundleRevision(t, u.token)).toBe(2);
    // A retry after a lost answer: the same rotation, its bundle sealed again: the stored version, nothing written.
    const before = snapshotTables(t.dataDir, ACCOUNT_TABLES);
    expect(ok(await t.gql<{ rotateIdentityKeys: { version: number } }>(ROTATE, { i: r3.input, b: await bundleFor(u.id, 2, [u.device.encryption]) }, u.token)).rotateIdentityKeys.version).toBe(3);
    expect(ok(await t.gql<{ rotateIdentityKeys: { version: number } }>(ROTATE, { i: r3.input }, u.token)).rotateIdentityKeys.version).toBe(3);
    expect(snapshotTables(t.dataDir, ACCOUNT_TABLES)).toEqual(before);
    // The same rotation with a bundle the server never stored is not a replay.
    await refused('CONFLICT', async () => t.gql(ROTATE, { i: r3.input, b: await bundleFor(u.id, 3, [u.device.encryption]) }, u.token));
  });
});
