// Link requests and device names against outsiders (issue 14, item 3), on a real gateway:
// - anonymous requests cannot keep an account's own new device out: a full account's oldest
//   waiting request makes room for a new one, never a refusal; what an attacker can still
//   do (evict a request by sending MAX_PENDING_DEVICES newer ones) is pinned here too;
// - device names are in normal form (NFKC), without control, format (bidi overrides and
//   isolates, zero-width characters), private-use or other invisible characters, without
//   leading or trailing white space, 1–64 code points: anything else is refused with
//   BAD_USER_INPUT and no row written, wherever a device enters.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PENDING_DEVICES } from '../../src/server/resolvers/devices.js';
import { ROOMY_AUTH_LIMITS, startTestGateway, type GqlResponse, type TestGateway } from '../helpers/gateway.js';
import { bundleFor, codes, expectRefused, MY_DEVICES, newDevice, ok, PUT_BUNDLE, REFUSED_DEVICE_NAMES, registerWithDevice, registration, type TestDevice } from '../helpers/devices.js';

const REGISTER = 'mutation R($i: RegisterInput!) { register(input: $i) { id } }';
const REQUEST_LINK = 'mutation Q($u: String!, $d: NewDeviceInput!) { requestDeviceLink(username: $u, device: $d) { id name status } }';
const LINK_STATUS = 'query S($id: ID!) { deviceLinkStatus(deviceId: $id) }';
const APPROVE = 'mutation A($id: ID!, $b: KeyBundleInput!) { approveDevice(deviceId: $id, keyBundle: $b) { id status } }';

let t: TestGateway;
let n = 0;
const uname = (prefix: string): string => `${prefix}${++n}`;

beforeAll(async () => {
  t = await startTestGateway({ authLimits: ROOMY_AUTH_LIMITS });
});

afterAll(async () => {
  await t?.close();
});

const refused = (code: string, request: () => Promise<GqlResponse>): Promise<GqlResponse> => expectRefused(t, code, request);

async function request(username: string, name: string): Promise<TestDevice> {
  const d = await newDevice(username, name);
  const r = ok(await t.gql<{ requestDeviceLink: { id: string } }>(REQUEST_LINK, { u: username, d: d.input }));
  return { ...d, id: r.requestDeviceLink.id };
}

async function status(id: string): Promise<string | null> {
  return ok(await t.gql<{ deviceLinkStatus: string | null }>(LINK_STATUS, { id })).deviceLinkStatus;
}

async function pendingNames(token: string): Promise<string[]> {
  return ok(await t.gql<{ myDevices: { name: string; status: string }[] }>(MY_DEVICES, {}, token)).myDevices.filter((d) => d.status === 'PENDING').map((d) => d.name);
}

describe('link requests from strangers', () => {
  it('cannot keep the account’s own new device out: the oldest waiting request makes room, and hers is approved', async () => {
    const alice = await registerWithDevice(t, uname('alice'));
    ok(await t.gql(PUT_BUNDLE, { b: await bundleFor(alice.id, 1, [alice.device.encryption]) }, alice.token));
    // An attacker (no token) fills every slot, and then some.
    const attacker: TestDevice[] = [];
    for (let i = 0; i < MAX_PENDING_DEVICES + 3; i++) attacker.push(await request(alice.username, `not yours ${i}`));
    expect(await pendingNames(alice.token)).toHaveLength(MAX_PENDING_DEVICES);
    // The three oldest made room for newer ones: their link requests are gone.
    for (const d of attacker.slice(0, 3)) expect(await status(d.id)).toBeNull();
    expect(await status(attacker[3]!.id)).toBe('PENDING');

    // Her own new device asks: accepted, never TOO_MANY_PENDING_DEVICES.
    const laptop = await request(alice.username, 'my laptop');
    expect(await status(laptop.id)).toBe('PENDING');
    const pending = await pendingNames(alice.token);
    expect(pending).toHaveLength(MAX_PENDING_DEVICES);
    expect(pending).toContain('my laptop');
    expect(await status(attacker[3]!.id)).toBeNull();

    // She approves it (after comparing the code her laptop shows with the one computed from
    // the listed request's keys, docs/devices.md); it signs in as her device.
    const approved = ok(await t.gql<{ approveDevice: { status: string } }>(APPROVE, { id: laptop.id, b: await bundleFor(alice.id, 2, [alice.device.encryption, laptop.encryption]) }, alice.token));
    expect(approved.approveDevice.status).toBe('ACTIVE');
  });

  it('what an attacker can still do: MAX_PENDING_DEVICES newer requests evict a waiting one (the device then sees null and asks again)', async () => {
    const bob = await registerWithDevice(t, uname('bob'));
    const phone = await request(bob.username, 'new phone');
    for (let i = 0; i < MAX_PENDING_DEVICES - 1; i++) await request(bob.username, `noise ${i}`);
    expect(await status(phone.id)).toBe('PENDING');
    await request(bob.username, 'one more');
    expect(await status(phone.id)).toBeNull();
    expect(await pendingNames(bob.token)).toHaveLength(MAX_PENDING_DEVICES);
    // Asking again works at once.
    const again = await request(bob.username, 'new phone');
    expect(await status(again.id)).toBe('PENDING');
  });

  it('the per-address rate limit still applies to requests (burst 5, then 1 per minute)', async () => {
    const limited = await startTestGateway({ authLimits: { register: ROOMY_AUTH_LIMITS.register! } });
    try {
      const carol = await registerWithDevice(limited, 'carol');
      const results: (string | undefined)[] = [];
      for (let i = 0; i < 6; i++) results.push(codes(await limited.gql(REQUEST_LINK, { u: carol.username, d: (await newDevice(carol.username, `d${i}`)).input }))[0]);
      expect(results).toEqual([undefined, undefined, undefined, undefined, undefined, 'RATE_LIMITED']);
    } finally {
      await limited.close();
    }
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
    for (const name of names) await request(owner.username, name);
    expect((await pendingNames(owner.token)).sort()).toEqual(names.slice(-MAX_PENDING_DEVICES).sort());
  });
});
