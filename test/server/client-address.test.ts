// The client address key and the settings behind it: canonical addresses (IPv4-mapped →
// IPv4, IPv6 per /64), the trusted-proxy list (VEIL_TRUST_PROXY) and the WebSocket caps'
// settings, refused with CONFIG_INVALID when malformed. Over real requests:
// rate-limits.test.ts and ws-connections.test.ts.
import { describe, expect, it } from 'vitest';
import { ADDRESS_KEY_MEMO_SIZE, addressKey, createClientAddress, parseTrustProxy } from '../../src/server/client-address.js';
import { ConfigError, configFromEnv } from '../../src/app/config.js';

describe('addressKey', () => {
  it('keeps IPv4, unwraps IPv4-mapped IPv6, cuts IPv6 to its /64, refuses what is not an address', () => {
    expect(addressKey('198.51.100.7')).toBe('198.51.100.7');
    expect(addressKey('::ffff:198.51.100.7')).toBe('198.51.100.7');
    expect(addressKey('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0db8:0001:0002::9')).toBe('2001:db8:1:2::/64');
    expect(addressKey('::1')).toBe('::/64');
    for (const bad of ['', 'unknown', 'not-an-address', '198.51.100', '2001:db8::1::2']) expect(addressKey(bad)).toBeNull();
  });

  it('answers the same for an address seen before, and past the bound of the memo (keys are remembered by address text)', () => {
    const cases: [string, string | null][] = [
      ['198.51.100.7', '198.51.100.7'],
      ['::ffff:198.51.100.7', '198.51.100.7'],
      ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
      ['not-an-address', null],
    ];
    const all = (): void => {
      for (const [address, key] of cases) expect(addressKey(address)).toBe(key);
    };
    all();
    all();
    // More distinct addresses than the memo holds: it empties and starts again, answers unchanged.
    for (let i = 0; i < ADDRESS_KEY_MEMO_SIZE + 10; i++) expect(addressKey(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`)).toBe(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    all();
    const peer = createClientAddress([]);
    expect(peer({ headers: {}, remoteAddress: '::ffff:203.0.113.9' })).toBe('203.0.113.9');
    expect(peer({ headers: {}, remoteAddress: '::ffff:203.0.113.9' })).toBe('203.0.113.9');
    // Behind a trusted proxy the key still follows the forwarded chain of each request.
    const proxied = createClientAddress(['loopback']);
    expect(proxied({ headers: { 'x-forwarded-for': '203.0.113.9' }, remoteAddress: '127.0.0.1' })).toBe('203.0.113.9');
    expect(proxied({ headers: { 'x-forwarded-for': '198.51.100.8' }, remoteAddress: '127.0.0.1' })).toBe('198.51.100.8');
  });
});

describe('VEIL_TRUST_PROXY', () => {
  it('takes addresses, CIDRs and the three keywords; unset or blank trusts none', () => {
    expect(configFromEnv({}).trustProxy).toEqual([]);
    expect(configFromEnv({ VEIL_TRUST_PROXY: ' ' }).trustProxy).toEqual([]);
    expect(configFromEnv({ VEIL_TRUST_PROXY: '10.0.0.1, 10.1.0.0/16,fd00::/8 ,loopback' }).trustProxy).toEqual(['10.0.0.1', '10.1.0.0/16', 'fd00::/8', 'loopback']);
    expect(parseTrustProxy(['uniquelocal', 'linklocal'])).toEqual(['uniquelocal', 'linklocal']);
  });

  it('refuses malformed entries with CONFIG_INVALID, naming the entry', () => {
    for (const bad of ['10.0.0.1,,10.0.0.2', 'proxy.example', '10.0.0.0/33', '10.0.0.0/x', 'everything']) {
      expect(() => configFromEnv({ VEIL_TRUST_PROXY: bad })).toThrow(ConfigError);
    }
    expect(() => configFromEnv({ VEIL_TRUST_PROXY: 'proxy.example' })).toThrow(/proxy\.example/);
  });
});

describe('WebSocket cap settings', () => {
  it('default to 10000, 100 and 30 s, and take whole numbers in range', () => {
    expect(configFromEnv({})).toMatchObject({ wsMaxConnections: 10_000, wsMaxConnectionsPerAddress: 100, wsAnonymousIdleSeconds: 30 });
    expect(configFromEnv({ VEIL_WS_MAX_CONNECTIONS: '50', VEIL_WS_MAX_PER_ADDRESS: '5', VEIL_WS_ANONYMOUS_IDLE: '600' })).toMatchObject({
      wsMaxConnections: 50,
      wsMaxConnectionsPerAddress: 5,
      wsAnonymousIdleSeconds: 600,
    });
    for (const [name, bad] of [
      ['VEIL_WS_MAX_CONNECTIONS', '0'],
      ['VEIL_WS_MAX_PER_ADDRESS', '1.5'],
      ['VEIL_WS_ANONYMOUS_IDLE', '-1'],
      ['VEIL_WS_ANONYMOUS_IDLE', 'forever'],
    ] as const) {
      expect(() => configFromEnv({ [name]: bad })).toThrow(ConfigError);
    }
  });
});

describe('requestHeader (public, for an authenticate of your own)', () => {
  it('reads one header from Node headers, a Fetch Headers or a plain record, by any case of its name', async () => {
    const { requestHeader } = await import('../../src/server/index.js');
    expect(requestHeader({ headers: { 'x-session': 'node', 'x-list': ['a', 'b'] } }, 'X-Session')).toBe('node');
    expect(requestHeader({ headers: { 'x-list': ['a', 'b'] } }, 'x-list')).toBe('a, b');
    expect(requestHeader({ headers: new Headers({ 'X-Session': 'fetch' }) }, 'x-session')).toBe('fetch');
    // Another Headers implementation (Yoga's): read through its get(), not instanceof.
    const foreign = { get: (n: string) => (n === 'x-session' ? 'yoga' : null) };
    expect(requestHeader({ headers: foreign as unknown as Headers }, 'X-SESSION')).toBe('yoga');
    expect(requestHeader({ headers: {} }, 'x-session')).toBeUndefined();
  });
});
