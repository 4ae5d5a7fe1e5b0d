// A device session's WebSocket lives only while its device is ACTIVE (docs/devices.md): the
// socket closes with 4403 when the device is revoked, also when the revocation committed
// between the token check and the moment the socket started watching for it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/server/storage/store.js';
import { ROOMY_AUTH_LIMITS, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { deviceLogin, ok, registerWithDevice, sqlite, type DeviceUser } from '../helpers/devices.js';
import WebSocket from 'ws';
import { RESYNC_TOPIC } from '../../src/server/pubsub.js';
import { deviceTopic } from '../../src/server/services/sign-in/devices.js';
import { waitFor, within } from '../helpers/wait.js';
import { openRawSocket } from '../helpers/ws.js';

let t: TestGateway;
let u: DeviceUser;

beforeAll(async () => {
  // The device cache off: its own subscriptions (one per cached device, one for RESYNC)
  // would count below next to the sockets' watches; session-cache.test.ts covers the cache.
  t = await startTestGateway({ authLimits: ROOMY_AUTH_LIMITS, deviceCacheTtlMs: 0 });
  u = await registerWithDevice(t, 'dana');
});

afterAll(async () => {
  await t?.close();
});

describe('device sessions on WebSocket', () => {
  it('a revocation committed between the token check and the session watch still closes the socket (4403)', async () => {
    const token = ok(await deviceLogin(t, u.username, u.device.id, u.device.signing)).login.token;
    const store: Store = t.gateway.store;
    const findDevice = store.findDevice.bind(store);
    // The real store, with the device revoked in the database right after the token check
    // read it ACTIVE, and no revocation event: the window a real revocation can fall into.
    let armed = true;
    store.findDevice = async (id) => {
      const row = await findDevice(id);
      if (armed && id === u.device.id) {
        armed = false;
        sqlite(t.dataDir, 'UPDATE "Device" SET "status" = ? WHERE "id" = ?', 'REVOKED', id);
      }
      return row;
    };
    try {
      const socket = await openRawSocket(t.gateway.url.replace(/^http/, 'ws'), null);
      socket.send({ type: 'connection_init', payload: { token } });
      expect((await within(socket.closed, 'the socket of the revoked device to close')).code).toBe(4403);
      expect(armed).toBe(false);
    } finally {
      store.findDevice = findDevice;
    }
  });
  it('a socket that closes while its token is checked leaves no session watch behind', async () => {
    const erin = await registerWithDevice(t, 'erin');
    const token = ok(await deviceLogin(t, erin.username, erin.device.id, erin.device.signing)).login.token;
    const url = t.gateway.url.replace(/^http/, 'ws');
    for (let i = 0; i < 200; i++) {
      const ws = new WebSocket(url, 'graphql-transport-ws');
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      ws.send(JSON.stringify({ type: 'connection_init', payload: { token } }));
      ws.terminate();
    }
    // Every socket has closed on the server once none is counted open any more.
    await waitFor(() => t.gateway.pubsub.subscriberCount(RESYNC_TOPIC) === 0 && t.gateway.pubsub.subscriberCount(deviceTopic(erin.device.id)) === 0, 'every watch to be removed');
    // And a socket that stays is watched (the counts can move).
    const staying = await openRawSocket(url, { token });
    await waitFor(() => t.gateway.pubsub.subscriberCount(RESYNC_TOPIC) === 1, 'the staying socket’s watch');
    staying.close();
    await waitFor(() => t.gateway.pubsub.subscriberCount(RESYNC_TOPIC) === 0, 'its watch to be removed');
  });
});
