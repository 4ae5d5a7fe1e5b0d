// Rate limits on a real gateway over real HTTP from real, different client addresses
// (127.0.0.x, all loopback on Linux): per account whatever the address (login and backup
// recovery), with the account's own devices on an allowance strangers cannot use up; the
// client address taken from X-Forwarded-For only behind a trusted proxy (right-most
// untrusted hop; IPv6 per /64). Default limits unless a test says otherwise (docs/auth.md §7).
// Shared across instances on PostgreSQL: rate-limits-shared.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import { loginMessage } from '../../src/crypto/auth-messages.js';
import { base64urlDecode, base64urlEncode } from '../../src/crypto/base64url.js';
import { gqlFrom, loopback } from '../helpers/addresses.js';
import { ACCOUNT_TABLES, LOGIN, challenge, codes, deviceLogin, newDevice, registerWithDevice, type DeviceUser } from '../helpers/devices.js';
import { startTestGateway, type GqlResponse, type TestGateway } from '../helpers/gateway.js';
import { snapshotTables } from '../helpers/sqlite-snapshot.js';

const JUNK_SIGNATURE = base64urlEncode(new Uint8Array(64));
const OPEN_BACKUP = 'mutation O($u: String!, $k: BackupKind!, $c: String!, $s: String!) { openBackup(username: $u, kind: $k, challenge: $c, signature: $s) { userId } }';
const RECOVER =
  'mutation R($u: String!, $k: BackupKind!, $c: String!, $s: String!, $d: NewDeviceInput!, $b: KeyBundleInput!) { recoverAccount(username: $u, kind: $k, challenge: $c, signature: $s, device: $d, keyBundle: $b) { token } }';
const CHALLENGE = 'mutation C($u: String!) { challenge(username: $u) { challenge } }';

// The documented defaults (docs/auth.md §7), pinned here.
const LOGIN_PER_ACCOUNT = { points: 30, durationSeconds: 60 };
const RECOVER_PASSWORD = { points: 10, durationSeconds: 3600 };
const CHALLENGES_PER_ADDRESS = 20;

const gateways: TestGateway[] = [];
afterAll(async () => {
  for (const t of gateways) await t.close();
});
async function start(overrides: Parameters<typeof startTestGateway>[0] = {}): Promise<TestGateway> {
  const t = await startTestGateway(overrides);
  gateways.push(t);
  return t;
}

function retryAfter(r: GqlResponse): unknown {
  return r.errors?.[0]?.extensions?.retryAfterSeconds;
}

describe('per account, whatever the address', () => {
  let t: TestGateway;
  let victim: DeviceUser;

  beforeAll(async () => {
    t = await start();
    victim = await registerWithDevice(t, 'victim');
  });

  it(`100 login attempts on one account from 100 addresses: ${LOGIN_PER_ACCOUNT.points} a minute are processed, the rest refused; nothing is written`, async () => {
    const c = await challenge(t, victim.username);
    const before = snapshotTables(t.dataDir, ACCOUNT_TABLES);
    const results: GqlResponse[] = [];
    for (let i = 1; i <= 100; i++) results.push(await gqlFrom(t.gateway.url, { localAddress: loopback(i) }, LOGIN, { u: victim.username, c, s: JUNK_SIGNATURE }));
    // The identity-key sign-in of registerWithDevice took one already.
    const allowed = LOGIN_PER_ACCOUNT.points - 1;
    expect(results.map((r) => codes(r)[0])).toEqual([...Array<string>(allowed).fill('LOGIN_FAILED'), ...Array<string>(100 - allowed).fill('RATE_LIMITED')]);
    for (const r of results.slice(allowed)) {
      expect(retryAfter(r)).toBeGreaterThanOrEqual(1);
      expect(retryAfter(r)).toBeLessThanOrEqual(LOGIN_PER_ACCOUNT.durationSeconds);
    }
    expect(snapshotTables(t.dataDir, ACCOUNT_TABLES)).toEqual(before);
  });

  it('meanwhile the account’s own device signs in on its own allowance; its identity key shares the exhausted one (the documented trade-off)', async () => {
    const own = await deviceLogin(t, victim.username, victim.device.id, victim.device.signing);
    expect(own.errors).toBeUndefined();
    expect(own.data?.login.device?.id).toBe(victim.device.id);
    // An unknown device id does not open another allowance: it is counted on the account's.
    const stranger = await newDevice(victim.username, 'not theirs');
    const guessed = await deviceLogin(t, victim.username, base64urlEncode(nodeBackend.randomBytes(16)), stranger.signing);
    expect(codes(guessed)).toEqual(['RATE_LIMITED']);
    const c = await challenge(t, victim.username);
    const signature = await nodeBackend.ed25519Sign(victim.signing.seed, loginMessage({ realm: 'veilgraph', username: victim.username, purpose: 'LOGIN', challenge: base64urlDecode(c) }));
    const identity = await gqlFrom(t.gateway.url, { localAddress: loopback(200) }, LOGIN, { u: victim.username, c, s: base64urlEncode(signature) });
    expect(codes(identity)).toEqual(['RATE_LIMITED']);
  });

  it(`backup recovery with the PASSWORD: ${RECOVER_PASSWORD.points} attempts per account per hour from any addresses; the PHRASE has its own allowance`, async () => {
    const u = await registerWithDevice(t, 'recovering');
    const c = await challenge(t, u.username, 'RECOVER');
    const before = snapshotTables(t.dataDir, ACCOUNT_TABLES);
    const allowed = RECOVER_PASSWORD.points;
    const results: GqlResponse[] = [];
    for (let i = 1; i <= allowed + 1; i++) results.push(await gqlFrom(t.gateway.url, { localAddress: loopback(300 + i) }, OPEN_BACKUP, { u: u.username, k: 'PASSWORD', c, s: JUNK_SIGNATURE }));
    expect(results.map((r) => codes(r)[0])).toEqual([...Array<string>(allowed).fill('LOGIN_FAILED'), 'RATE_LIMITED']);
    expect(retryAfter(results.at(-1)!)).toBeGreaterThan(RECOVER_PASSWORD.durationSeconds - 60);
    // recoverAccount with the password draws on the same allowance.
    const device = await newDevice(u.username, 'new phone');
    const bundle = { revision: 2, bundle: 'x', wrappedKey: 'x' };
    const recover = await gqlFrom(t.gateway.url, { localAddress: loopback(400) }, RECOVER, { u: u.username, k: 'PASSWORD', c, s: JUNK_SIGNATURE, d: device.input, b: bundle });
    expect(codes(recover)).toEqual(['RATE_LIMITED']);
    // The phrase is not locked out by password guesses.
    const phrase = await gqlFrom(t.gateway.url, { localAddress: loopback(401) }, OPEN_BACKUP, { u: u.username, k: 'PHRASE', c, s: JUNK_SIGNATURE });
    expect(codes(phrase)).toEqual(['LOGIN_FAILED']);
    expect(snapshotTables(t.dataDir, ACCOUNT_TABLES)).toEqual(before);
  });
});

describe('client addresses behind a trusted proxy', () => {
  let t: TestGateway;
  const ask = (from: Parameters<typeof gqlFrom>[1]) => gqlFrom(t.gateway.url, from, CHALLENGE, { u: 'someone' }).then((r) => codes(r)[0] ?? 'ok');
  const via = (xff: string) => ({ headers: { 'x-forwarded-for': xff } });
  /** How many challenges `from` gets before RATE_LIMITED (at most one more than the limit is asked). */
  async function allowance(from: Parameters<typeof gqlFrom>[1]): Promise<number> {
    for (let n = 0; n <= CHALLENGES_PER_ADDRESS; n++) if ((await ask(from)) === 'RATE_LIMITED') return n;
    return Infinity;
  }

  beforeAll(async () => {
    // 127.0.0.1 (where the test's requests come from) plays the proxy.
    t = await start({ trustProxy: ['127.0.0.1'] });
  });

  it('each forwarded client has its own limits; addresses a client prepends are not believed', async () => {
    expect(await allowance(via('198.51.100.7'))).toBe(CHALLENGES_PER_ADDRESS);
    expect(await ask(via('203.0.113.1, 198.51.100.7'))).toBe('RATE_LIMITED');
    expect(await ask(via('198.51.100.8'))).toBe('ok');
    // An IPv4-mapped IPv6 address is the IPv4 address.
    expect(await allowance(via('::ffff:198.51.100.9'))).toBe(CHALLENGES_PER_ADDRESS);
    expect(await ask(via('198.51.100.9'))).toBe('RATE_LIMITED');
  });

  it('IPv6 clients are counted per /64', async () => {
    expect(await allowance(via('2001:db8:1:2::1'))).toBe(CHALLENGES_PER_ADDRESS);
    expect(await ask(via('2001:db8:1:2:ffff::9'))).toBe('RATE_LIMITED');
    expect(await ask(via('2001:db8:1:3::1'))).toBe('ok');
  });

  it('a forwarded value that is not an address counts as the proxy itself', async () => {
    expect(await allowance(via('not-an-address'))).toBe(CHALLENGES_PER_ADDRESS);
    expect(await ask(via('also-not-one'))).toBe('RATE_LIMITED');
    // …and so does a request through the proxy without the header.
    expect(await ask({})).toBe('RATE_LIMITED');
  });

  it('a peer that is not a trusted proxy is counted as itself, whatever it forwards', async () => {
    const direct = (xff: string) => ({ localAddress: loopback(1), ...via(xff) });
    expect(await allowance(direct('198.51.100.20'))).toBe(CHALLENGES_PER_ADDRESS);
    expect(await ask(direct('198.51.100.21'))).toBe('RATE_LIMITED');
  });
});
