/**
 * @module
 * Public nonces from the CSPRNG in batches. One `getRandomValues` call costs ~5–10 µs on
 * Node whatever its length (most of it is the call, not the bytes), more than the AEAD of a
 * 1 KiB field; a pool fills 4 KiB at once and hands out consecutive slices.
 *
 * Never twice: the read position only moves forward; handed-out bytes are zeroed in the
 * pool; a used-up pool is replaced by a fresh fill, never rewound. A pool is module state of
 * one JavaScript realm: worker threads and child processes (Node has no fork() of a running
 * heap: `child_process.fork` and `cluster` start fresh processes) each load their own and
 * fill it from their own CSPRNG calls. The one way a heap can be copied is a startup
 * snapshot (`node --build-snapshot`); the pool remembers the process id it was filled in
 * and refills when it differs, so a process started from a snapshot never serves bytes
 * filled before the snapshot.
 *
 * For nonces only: they are public (they travel in every envelope header). Keys never come
 * from a pool: a pool holds bytes before they are used, which is fine for a value that
 * will be published and not for a secret.
 */
import { randomBytes } from './random.js';

const POOL_BYTES = 4096;

function processId(): number {
  return (globalThis as { process?: { pid?: number } }).process?.pid ?? 0;
}

export class NoncePool {
  private pool: Uint8Array = new Uint8Array(0);
  private at = 0;
  private pid = -1;

  /** `pid` is for tests (a process started from a snapshot); it defaults to `process.pid`. */
  constructor(
    private readonly fill: (n: number) => Uint8Array = randomBytes,
    private readonly pidOf: () => number = processId,
  ) {}

  /** Fills `out` (at most 256 bytes) with CSPRNG bytes this pool never handed out before. */
  take(out: Uint8Array): void {
    const n = out.length;
    if (n > 256) {
      out.set(this.fill(n));
      return;
    }
    const pid = this.pidOf();
    if (this.at + n > this.pool.length || pid !== this.pid) {
      this.pool.fill(0);
      this.pool = this.fill(POOL_BYTES);
      this.at = 0;
      this.pid = pid;
    }
    const end = this.at + n;
    out.set(this.pool.subarray(this.at, end));
    this.pool.fill(0, this.at, end);
    this.at = end;
  }
}
