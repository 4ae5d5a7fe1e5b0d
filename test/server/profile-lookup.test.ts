// `profileByEmail` cannot confirm an address to a stranger (issue 14, item 2), proven by
// counting, not by timing: the real store and the real crypto backend of a real gateway are
// instrumented (every call recorded, then done by the real implementation), and a stranger's
// lookup of a registered address (one profile, or two sharing it) must make exactly the same
// store calls, with the same argument shapes, and the same crypto operations as a lookup of
// an address nobody has. Lookups are also rate limited per viewer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CryptoBackend } from '../../src/crypto/backend.js';
import { nodeBackend } from '../../src/crypto/backends/node.js';
import type { Store } from '../../src/server/storage/store.js';
import { grantAccess, newObjectId, registerAndLogin, startTestGateway, type TestGateway, type TestUser } from '../helpers/gateway.js';
import { generateSymmetricKey } from '../../src/crypto/keys.js';

const LOOKUP = 'query E($e: String!) { profileByEmail(email: $e) { id displayName email } }';
type Found = { profileByEmail: { id: string; displayName: string; email: string | null } | null };

/** What a call looked like: the method and the shape of each argument (values left out). */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return { array: v.length };
  if (v instanceof Uint8Array) return { bytes: v.length };
  return typeof v;
}

/** Records every method call on `target` (an instance: own properties shadow the prototype's), then calls the real method. */
function recordStoreCalls(target: Store, log: string[][]): void {
  const seen = new Set<string>();
  for (let proto = Object.getPrototypeOf(target) as object | null; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      // Methods only: reading an accessor (`direct`) on the prototype would run it without an instance.
      const real = Object.getOwnPropertyDescriptor(proto, name)?.value as unknown;
      if (name === 'constructor' || seen.has(name) || typeof real !== 'function') continue;
      seen.add(name);
      Object.defineProperty(target, name, {
        configurable: true,
        value: function (this: Store, ...args: unknown[]) {
          // The gateway's own timers (purging expired rows every minute) are not the request's.
          if (!name.startsWith('purge')) log.push([name, ...args.map((a) => JSON.stringify(shape(a)))]);
          return (real as (...a: unknown[]) => unknown).apply(this, args);
        },
      });
    }
  }
}

/** The real node backend, each operation recorded by name first. */
function recordingBackend(log: string[]): CryptoBackend {
  const out: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(nodeBackend)) {
    out[name] = typeof v === 'function' ? (...args: unknown[]) => (log.push(name), (v as (...a: unknown[]) => unknown)(...args)) : v;
  }
  return out as unknown as CryptoBackend;
}

let t: TestGateway;
const storeCalls: string[][] = [];
const cryptoCalls: string[] = [];
let stranger: TestUser;
let grantee: TestUser;
let solo: TestUser;
let soloProfile: string;

async function profileWithEmail(u: TestUser, email: string): Promise<string> {
  const id = newObjectId();
  const r = await t.gql('mutation C($i: CreateProfileInput!) { createProfile(input: $i) { id } }', { i: { id, displayName: u.username, email } }, u.token);
  expect(r.errors).toBeUndefined();
  return id;
}

/** One lookup, with the store calls and crypto operations made while it ran. */
async function counted(viewer: TestUser, email: string): Promise<{ found: Found['profileByEmail']; store: string[][]; crypto: string[] }> {
  storeCalls.length = 0;
  cryptoCalls.length = 0;
  const r = await t.gql<Found>(LOOKUP, { e: email }, viewer.token);
  expect(r.errors).toBeUndefined();
  return { found: r.data!.profileByEmail, store: [...storeCalls], crypto: [...cryptoCalls] };
}

beforeAll(async () => {
  t = await startTestGateway({ backend: recordingBackend(cryptoCalls), authLimits: { emailLookup: { points: 1000, durationSeconds: 1 } } });
  recordStoreCalls(t.gateway.store, storeCalls);
  solo = await registerAndLogin(t, 'solo');
  const twinA = await registerAndLogin(t, 'twina');
  const twinB = await registerAndLogin(t, 'twinb');
  stranger = await registerAndLogin(t, 'stranger');
  grantee = await registerAndLogin(t, 'grantee');
  soloProfile = await profileWithEmail(solo, 'solo@example.com');
  await profileWithEmail(twinA, 'twin@example.com');
  await profileWithEmail(twinB, 'twin@example.com');
  await profileWithEmail(stranger, 'stranger@example.com');
  const granted = await grantAccess(t, solo, grantee, 'Profile', soloProfile, generateSymmetricKey(nodeBackend));
  expect(granted.errors).toBeUndefined();
}, 60_000);

afterAll(async () => {
  await t?.close();
});

describe('profileByEmail: the same work whatever the answer', () => {
  it('a stranger’s lookups of an address of one profile, of two, and of none make identical store calls and crypto operations', async () => {
    await counted(stranger, 'warm-up@example.com'); // derives and caches the blind-index key once
    const one = await counted(stranger, 'solo@example.com');
    const two = await counted(stranger, 'twin@example.com');
    const none = await counted(stranger, 'nobody@example.com');
    for (const c of [one, two, none]) expect(c.found).toBeNull();

    // Something was counted at all (the instrumentation reaches the gateway's store)…
    expect(none.store.length).toBeGreaterThan(0);
    // …and it is the same, call for call and argument shape for argument shape.
    expect(one.store).toEqual(none.store);
    expect(two.store).toEqual(none.store);
    // One HMAC (the blind index) and nothing else: no decryption, whatever the answer.
    expect(none.crypto).toEqual(['hmacSha256']);
    expect(one.crypto).toEqual(none.crypto);
    expect(two.crypto).toEqual(none.crypto);
  });

  it('a grantee’s misses cost what a stranger’s do, and the owner and the grantee still find the profile', async () => {
    const strangerMiss = await counted(stranger, 'solo@example.com');
    const granteeMiss = await counted(grantee, 'twin@example.com');
    const granteeNone = await counted(grantee, 'nobody@example.com');
    expect(granteeMiss.found).toBeNull();
    expect(granteeNone.found).toBeNull();
    expect(granteeMiss.store).toEqual(strangerMiss.store);
    expect(granteeNone.store).toEqual(strangerMiss.store);
    expect(granteeMiss.crypto).toEqual(strangerMiss.crypto);

    const byGrantee = await counted(grantee, 'solo@example.com');
    expect(byGrantee.found).toEqual({ id: soloProfile, displayName: 'solo', email: 'solo@example.com' });
    const byOwner = await counted(solo, 'solo@example.com');
    expect(byOwner.found).toEqual({ id: soloProfile, displayName: 'solo', email: 'solo@example.com' });
  });
});

describe('profileByEmail: rate limited per viewer', () => {
  it('burst 10, then RATE_LIMITED with retryAfterSeconds (default limits); found or not counts the same; other viewers unaffected', { timeout: 60_000 }, async () => {
    const limited = await startTestGateway();
    try {
      const owner = await registerAndLogin(limited, 'owner');
      const prober = await registerAndLogin(limited, 'prober');
      const other = await registerAndLogin(limited, 'other');
      const created = await limited.gql('mutation C($i: CreateProfileInput!) { createProfile(input: $i) { id } }', { i: { id: newObjectId(), displayName: 'o', email: 'owner@example.com' } }, owner.token);
      expect(created.errors).toBeUndefined();
      const codes: (string | undefined)[] = [];
      for (let i = 0; i < 11; i++) {
        const r = await limited.gql<Found>(LOOKUP, { e: i % 2 === 0 ? 'owner@example.com' : `nobody${i}@example.com` }, prober.token);
        codes.push(r.errors?.[0]?.extensions?.code);
        if (i === 10) {
          expect(r.data?.profileByEmail ?? null).toBeNull();
          expect(r.errors?.[0]?.extensions?.retryAfterSeconds).toBeGreaterThanOrEqual(1);
        }
      }
      expect(codes).toEqual([...Array<undefined>(10).fill(undefined), 'RATE_LIMITED']);
      // Per viewer: another signed-in user, from the same address, is not limited by it.
      const r = await limited.gql<Found>(LOOKUP, { e: 'owner@example.com' }, other.token);
      expect(r.errors).toBeUndefined();
      // The owner herself is limited separately too and still finds her own profile.
      const own = await limited.gql<Found>(LOOKUP, { e: 'owner@example.com' }, owner.token);
      expect(own.data?.profileByEmail?.email).toBe('owner@example.com');
    } finally {
      await limited.close();
    }
  });

  it('a refused lookup does no lookup: no store call, no crypto', async () => {
    const tight = await startTestGateway({ backend: recordingBackend(cryptoCalls), authLimits: { emailLookup: { points: 1, durationSeconds: 600 } } });
    try {
      recordStoreCalls(tight.gateway.store, storeCalls);
      const u = await registerAndLogin(tight, 'tight');
      expect((await tight.gql(LOOKUP, { e: 'a@example.com' }, u.token)).errors).toBeUndefined();
      storeCalls.length = 0;
      cryptoCalls.length = 0;
      const r = await tight.gql(LOOKUP, { e: 'a@example.com' }, u.token);
      expect(r.errors?.map((e) => e.extensions?.code)).toEqual(['RATE_LIMITED']);
      expect(storeCalls).toEqual([]);
      expect(cryptoCalls).toEqual([]);
    } finally {
      await tight.close();
    }
  });
});
