/**
 * @module
 * Sessions suite (issue 17 goal 3): the device check's share of a one-row request.
 *
 * The fixture is the server suite's (bench/server.ts `setUpServerBench(1)`: the real gateway
 * on a temp SQLite file, one sealed profile the reader holds a READ grant on). A second user
 * made through the API as a browser makes it (`Account.create`: a device session, token
 * with `did`) gets a READ grant on the same profile, so both sessions ask the same one-row
 * list query (E2EE fields) and get byte-identical answers (checked before timing).
 *
 * Cases, interleaved in one run:
 *   request, device session     the one-row request with the device token (the gateway runs
 *                               the token check, then the device check, then the query)
 *   request, identity session   the same request with an identity token: no device check
 *   device check                what the gateway runs per request for a device session:
 *                               ActiveDeviceCache.active(id) (src/server/session-cache.ts),
 *                               built as createVeilgraph builds it (same store, same pubsub,
 *                               the default bound), warm
 *   store.findDevice            the check before the cache: one primary-key read per request
 *   token verify, seen before   the token check of a token this instance verified before
 *                               (its SHA-256 looked up: ./verified-tokens.ts)
 *   token verify, in full       the same token through jose HS256 (the first request of a token)
 *
 * Requests are timed as in the server suite: a batch through the load generator on its own
 * thread at concurrency 8, time per request = batch time ÷ batch size. The goal line divides
 * the device check's time by the device-session request's.
 */
import { nodeBackend } from '../src/crypto/backends/node.js';
import { Account } from '../src/client/account.js';
import { MemoryKeyStore } from '../src/client/keystore.js';
import { ActiveDeviceCache } from '../src/server/session-cache.js';
import { createTokenService } from '../src/server/services/sign-in/auth/jwt.js';
import { fmtNs, fmtRatio, fmtSpread, progress, progressDone, runInterleaved, table, type BenchOptions, type Case } from './harness.js';
import { CONCURRENCY, FIELDS_E2EE, listDocument, setUpServerBench } from './server.js';

/** Issue 17 goal 3: the device check at most this share of a one-row request. */
export const GOAL_DEVICE_CHECK_SHARE = 0.05;
const REALM = 'veilgraph';

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`bench sessions: check failed: ${what}`);
}

export interface SessionsBenchResult {
  readonly share: number;
  readonly goals: readonly { name: string; pass: boolean }[];
}

export async function runSessionsBench(opts: BenchOptions): Promise<SessionsBenchResult> {
  console.log('## sessions');
  console.log('');
  progress('sessions: setting up (gateway, one profile, a device account)');
  const fx = await setUpServerBench('sqlite', 1);
  try {
    const { store } = fx.gateway;
    const profile = fx.profiles[0]!;
    const device = await Account.create({ endpoint: fx.gateway.url, backend: nodeBackend, keystore: new MemoryKeyStore() }, 'bench-device');
    await store.upsertGrant({ objectType: 'Profile', objectId: profile.id, granteeId: device.userId, access: 'READ' });
    const deviceToken = await device.token();
    const doc = listDocument('E2EE only', FIELDS_E2EE, 1, fx.profiles);
    const headersOf = (token: string): Record<string, string> => ({ 'content-type': 'application/json', authorization: `Bearer ${token}` });
    const answer = async (token: string): Promise<string> => {
      const res = await fetch(fx.gateway.url, { method: 'POST', headers: headersOf(token), body: doc.body });
      const text = await res.text();
      check(res.status === 200 && !text.includes('"errors"'), `one-row request: ${res.status} ${text.slice(0, 200)}`);
      return text;
    };
    const viaDevice = await answer(deviceToken);
    check(viaDevice === (await answer(fx.token)) && viaDevice.includes(profile.id), 'device and identity sessions get the same row');
    const target = async (token: string, text: string) => fx.client.target({ url: fx.gateway.url, body: doc.body, headers: headersOf(token), expectBytes: Buffer.byteLength(text) });
    const deviceTarget = await target(deviceToken, viaDevice);
    const identityTarget = await target(fx.token, viaDevice);
    const batch = opts.quick ? 32 : 64;

    const cache = new ActiveDeviceCache({ load: (id) => store.findDevice(id), pubsub: fx.gateway.pubsub });
    check((await cache.active(device.deviceId))?.userId === device.userId, 'the cache answers ACTIVE');
    const secret = nodeBackend.randomBytes(32);
    const tokens = createTokenService({ secret, audience: REALM, ttlSeconds: 3600 });
    const inFull = createTokenService({ secret, audience: REALM, ttlSeconds: 3600, verifiedTokens: 0 });
    const { token } = await tokens.issue(device.userId, device.deviceId);
    check((await tokens.verify(token)) === (await tokens.verify(token)), 'the token is remembered');

    const cases: Case[] = [
      { name: 'one-row request, device session', fn: () => fx.client.run(deviceTarget, batch, CONCURRENCY), async: true },
      { name: 'one-row request, identity session (no device check)', fn: () => fx.client.run(identityTarget, batch, CONCURRENCY), async: true },
      { name: 'device check (ActiveDeviceCache.active, warm)', fn: () => cache.active(device.deviceId), async: true },
      { name: 'store.findDevice (the check before the cache)', fn: () => store.findDevice(device.deviceId), async: true },
      { name: 'token verify, seen before (SHA-256 lookup)', fn: () => tokens.verify(token), async: true },
      { name: 'token verify, in full (jose HS256)', fn: () => inFull.verify(token), async: true },
    ];
    progress('sessions: interleaved cases');
    const [reqDevice, reqIdentity, check1, findDevice, verify, verifyFull] = await runInterleaved(cases, { ...opts, sampleMs: opts.sampleMs * 3 });
    progressDone();
    cache.close();

    const perReq = (ns: number): number => ns / batch;
    const request = perReq(reqDevice!.medianNs);
    const share = check1!.medianNs / request;
    // The request-level difference (device − identity session) is within the requests' noise; shown, not judged.
    const diff = (request - perReq(reqIdentity!.medianNs)) / request;
    console.log('Time per operation, interleaved (requests: batch of ' + batch + ' at concurrency ' + CONCURRENCY + ', per request)');
    console.log('');
    console.log(
      table(
        ['case', 'time', 'spread', 'share of the device-session request'],
        [
          [reqDevice!.name, fmtNs(request), fmtSpread(reqDevice!.spread), '1'],
          [reqIdentity!.name, fmtNs(perReq(reqIdentity!.medianNs)), fmtSpread(reqIdentity!.spread), fmtRatio(perReq(reqIdentity!.medianNs) / request)],
          [check1!.name, fmtNs(check1!.medianNs), fmtSpread(check1!.spread), `${(share * 100).toFixed(2)} %`],
          [findDevice!.name, fmtNs(findDevice!.medianNs), fmtSpread(findDevice!.spread), `${((findDevice!.medianNs / request) * 100).toFixed(1)} %`],
          [verify!.name, fmtNs(verify!.medianNs), fmtSpread(verify!.spread), `${((verify!.medianNs / request) * 100).toFixed(2)} %`],
          [verifyFull!.name, fmtNs(verifyFull!.medianNs), fmtSpread(verifyFull!.spread), `${((verifyFull!.medianNs / request) * 100).toFixed(1)} %`],
        ],
        ['l', 'r', 'r', 'r'],
      ),
    );
    console.log('');
    console.log(`(device − identity session, per request: ${(diff * 100).toFixed(1)} % of the device-session request; within the requests' noise)`);
    console.log('');
    const pass = share <= GOAL_DEVICE_CHECK_SHARE;
    const name = `device check ≤ ${GOAL_DEVICE_CHECK_SHARE * 100}% of a one-row request`;
    console.log('goals:');
    console.log(`  ${name}: ${(share * 100).toFixed(2)} % (${fmtNs(check1!.medianNs)} of ${fmtNs(request)}) → ${pass ? 'PASS' : 'MISS'}`);
    console.log('');
    return { share, goals: [{ name, pass }] };
  } finally {
    progressDone();
    await fx.close();
  }
}
