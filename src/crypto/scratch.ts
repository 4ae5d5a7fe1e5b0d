/**
 * @module
 * Reusable memory for the per-field hot path. Allocating a typed array above 64 bytes costs
 * V8 a backing store of its own (~1–3 µs each under load, and GC work later), which is more
 * than libsodium needs to open 1 KiB; an envelope open needs three (the decoded envelope,
 * the associated data, the plaintext). Where the bytes do not outlive the call, they are
 * written to a scratch buffer instead.
 *
 * Rules: a scratch view is used only inside one synchronous call and released before it
 * returns (`finally`); nothing that escapes the call (a returned value, an error) refers to
 * it; a buffer that held plaintext is wiped on release. A nested use while one is taken (a
 * backend calling back into the format code) gets fresh memory instead, so two users never
 * share bytes.
 */
export class Scratch {
  private buf = new Uint8Array(2048);
  private taken = false;
  // The view handed out last: consecutive calls mostly ask for the same length (the fields
  // of one type), and a new view costs more than small work on it.
  private view = this.buf.subarray(0, 0);

  /** `n` bytes (contents undefined: callers overwrite what they read). */
  take(n: number): Uint8Array {
    if (this.taken) return new Uint8Array(n);
    this.taken = true;
    if (this.view.length === n) return this.view;
    if (this.buf.length < n) this.buf = new Uint8Array(Math.max(n, 2 * this.buf.length));
    this.view = this.buf.subarray(0, n);
    return this.view;
  }

  /** Gives back `view` (what `take` returned); wipes it first when `wipe`. */
  release(view: Uint8Array, wipe: boolean): void {
    if (view.buffer !== this.buf.buffer) return;
    if (wipe) view.fill(0);
    this.taken = false;
  }
}
