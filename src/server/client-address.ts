/**
 * @module
 * The address a request comes from: the one key for every per-address decision (the auth
 * rate limits, the WebSocket connection caps), on HTTP and WebSocket alike.
 *
 * - Without trusted proxies (the default) it is the socket peer's address. An
 *   `X-Forwarded-For` header is ignored: anyone can send one.
 * - With trusted proxies (`VEIL_TRUST_PROXY`: addresses, CIDRs, or `loopback`, `linklocal`,
 *   `uniquelocal`), and only when the socket peer is one of them, `X-Forwarded-For` is read
 *   from the right, skipping trusted proxies: the first untrusted hop is the client. The hops
 *   left of it were written by the client and are never believed. This is Express's
 *   `trust proxy` rule, through its own library (`proxy-addr`). A hop that is not an IP
 *   address (a proxy that passes the header on unchecked) is not used: the last trusted hop
 *   stands in for it, so a client cannot mint fresh keys with made-up values.
 * - The key is the address, canonical: IPv4 as dotted quad (an IPv4-mapped IPv6 address
 *   such as `::ffff:10.0.0.1` is the IPv4 address), IPv6 cut to its /64 prefix
 *   (`2001:db8:1:2::/64`). One subscriber usually holds a whole /64, so keying single IPv6
 *   addresses would give one attacker 2⁶⁴ buckets.
 */
import ipaddr from 'ipaddr.js';
import proxyaddr from 'proxy-addr';

/** The keywords `proxy-addr` expands (loopback: 127.0.0.1/8 and ::1; linklocal; uniquelocal: RFC 1918 and fc00::/7). */
export const TRUST_PROXY_KEYWORDS = ['loopback', 'linklocal', 'uniquelocal'] as const;

/** What stands in for a request whose peer address is unknown (a socket already closed). */
export const UNKNOWN_CLIENT = 'unknown';

/**
 * Checks a trusted-proxy list (addresses, CIDRs, keywords; or one comma-separated string as
 * VEIL_TRUST_PROXY) and returns it; throws a TypeError naming the first bad entry.
 */
export function parseTrustProxy(entries: readonly string[] | string): readonly string[] {
  // A VEIL_TRUST_PROXY value: comma-separated, no empty entries.
  if (typeof entries === 'string') {
    if (entries.trim() === '') return [];
    const list = entries.split(',').map((e) => e.trim());
    if (list.some((e) => e === '')) throw new TypeError(`a comma-separated list without empty entries, got "${entries}"`);
    entries = list;
  }
  // compile() throws "invalid IP address: …" / "invalid range on address: …".
  if (entries.length > 0) proxyaddr.compile([...entries]);
  return [...entries];
}

/**
 * Keys worked out so far, by address text. The key is a pure function of the text, so an
 * entry is never stale; the map only saves parsing the same peers' addresses on every
 * request (Apollo copies the context, so every request reads its key). Bounded: emptied when
 * full, so a flood of new addresses costs what it cost without the map.
 */
const knownKeys = new Map<string, string | null>();
/** Most addresses remembered at once. */
export const ADDRESS_KEY_MEMO_SIZE = 4096;

/** The canonical key of one address (see the module comment); null when `address` is not an IP address. */
export function addressKey(address: string): string | null {
  const known = knownKeys.get(address);
  if (known !== undefined) return known;
  const key = parseAddressKey(address);
  if (knownKeys.size >= ADDRESS_KEY_MEMO_SIZE) knownKeys.clear();
  knownKeys.set(address, key);
  return key;
}

function parseAddressKey(address: string): string | null {
  if (!ipaddr.isValid(address)) return null;
  // process(): an IPv4-mapped IPv6 address becomes the IPv4 address.
  const ip = ipaddr.process(address);
  if (ip.kind() === 'ipv4') return ip.toString();
  const prefix = (ip as ipaddr.IPv6).parts.slice(0, 4);
  return `${new ipaddr.IPv6([...prefix, 0, 0, 0, 0]).toString()}/64`;
}

/** What the address of a request is read from: an `IncomingMessage`, or a `VeilRequest`. */
export interface AddressedRequest {
  readonly headers: Readonly<Record<string, unknown>> | Headers;
  readonly remoteAddress?: string | undefined;
  readonly socket?: { readonly remoteAddress?: string | undefined } | undefined;
}

/** One header of a request, whatever holds its headers (a Fetch `Headers`, or a record of lower-case names). */
export function headerOf(headers: AddressedRequest['headers'], name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const v = (headers as Readonly<Record<string, unknown>>)[name];
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.join(', ');
  return undefined;
}

/**
 * One header of a request, whatever shape its headers come in (Node's, a Fetch `Headers` of
 * any implementation, a plain record); the name is case-insensitive. For an `authenticate`
 * of your own: `requestHeader(request, 'x-session')`.
 */
export function requestHeader(request: Pick<AddressedRequest, 'headers'>, name: string): string | undefined {
  return headerOf(request.headers, name.toLowerCase());
}

/** The client address key of a request, under the trusted-proxy list `trust` (empty: the socket peer). */
export function createClientAddress(trust: readonly string[]): (req: AddressedRequest) => string {
  const trusted = trust.length > 0 ? proxyaddr.compile([...trust]) : null;
  return (req) => {
    const peer = req.remoteAddress ?? req.socket?.remoteAddress;
    if (!peer) return UNKNOWN_CLIENT;
    if (!trusted) return addressKey(peer) ?? UNKNOWN_CLIENT;
    // Every hop from the peer leftwards up to and including the first untrusted one
    // (proxy-addr reads the peer from `connection` and the header from `headers`).
    const forwarded = headerOf(req.headers, 'x-forwarded-for');
    const shaped = { connection: { remoteAddress: peer }, socket: { remoteAddress: peer }, headers: forwarded === undefined ? {} : { 'x-forwarded-for': forwarded } };
    const hops = proxyaddr.all(shaped as unknown as Parameters<typeof proxyaddr.all>[0], trusted);
    for (let i = hops.length - 1; i >= 0; i--) {
      const key = addressKey(hops[i]!);
      if (key) return key;
    }
    return UNKNOWN_CLIENT;
  };
}
