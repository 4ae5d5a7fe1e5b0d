/**
 * @module
 * A TCP proxy on loopback between a client and a gateway that can lose one answer: armed
 * with a marker, it forwards the next request whose bytes contain the marker, waits until
 * the gateway starts answering it (so the gateway has finished the work, committed
 * included), then calls `onAnswer` (a test kills the gateway there) and closes the
 * client's connection without forwarding a byte of the answer. What the client sees is
 * what a crash between commit and answer looks like from outside: the request went out,
 * no answer came back.
 *
 * It parses nothing: it relies on the client sending one HTTP/1.1 request at a time per
 * connection (fetch does not pipeline), so the gateway's next bytes on that connection
 * are the marked request's answer. Not a mock of any of our components: both ends are
 * the real client and the real gateway.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface LossyProxy {
  /** `http://127.0.0.1:<port>/graphql`. */
  readonly url: string;
  /** Where connections made from now on go (a restarted gateway listens elsewhere). */
  retarget(port: number): void;
  /**
   * Loses the answer to the next request containing `marker`: once the gateway starts
   * answering it, awaits `onAnswer()` and closes the client's connection. Resolves after
   * `onAnswer` has run.
   */
  loseNextAnswer(marker: string, onAnswer: () => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

export async function startLossyProxy(targetPort: number): Promise<LossyProxy> {
  let target = targetPort;
  let armed: { marker: Buffer; onAnswer: () => Promise<void>; done: (e?: unknown) => void } | null = null;
  const sockets = new Set<Socket>();

  const server: Server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.once('close', () => sockets.delete(client));
    upstream.once('close', () => sockets.delete(upstream));
    // The marked request on this connection, once seen: its answer is lost.
    let losing: NonNullable<typeof armed> | null = null;
    let seen = Buffer.alloc(0);
    client.on('data', (b: Buffer) => {
      if (armed && !losing) {
        // Keep a tail so a marker split across two chunks is still found.
        seen = Buffer.concat([seen, b]);
        if (seen.includes(armed.marker)) {
          losing = armed;
          armed = null;
        } else {
          seen = seen.subarray(Math.max(0, seen.length - armed.marker.length));
        }
      }
      upstream.write(b);
    });
    upstream.on('data', (b: Buffer) => {
      if (!losing) {
        client.write(b);
        return;
      }
      const lost = losing;
      losing = null;
      upstream.pause();
      lost.onAnswer().then(
        () => {
          client.destroy();
          upstream.destroy();
          lost.done();
        },
        (e: unknown) => lost.done(e),
      );
    });
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('end', () => upstream.end());
    upstream.on('end', () => {
      if (!losing) client.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no port');

  return {
    url: `http://127.0.0.1:${address.port}/graphql`,
    retarget(port) {
      target = port;
    },
    loseNextAnswer(marker, onAnswer) {
      return new Promise((resolve, reject) => {
        armed = { marker: Buffer.from(marker, 'utf8'), onAnswer, done: (e) => (e === undefined ? resolve() : reject(e)) };
      });
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
