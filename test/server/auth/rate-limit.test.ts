/**
 * Token buckets: burst, refill, retry-after, independence of keys, bounded memory.
 */
import { describe, expect, it } from 'vitest';
import { TokenBucketLimiter } from '../../../src/server/auth/rate-limit.js';

function clock(start = 1_000_000): { now: () => number; advance(ms: number): void; set(t: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms), set: (v) => (t = v) };
}

function drain(l: TokenBucketLimiter, key: string): number {
  let n = 0;
  while (l.take(key).allowed) n++;
  return n;
}

describe('TokenBucketLimiter', () => {
  it('allows a burst of `capacity`, then refuses with the time to the next token', () => {
    const c = clock();
    const l = new TokenBucketLimiter({ capacity: 3, refillPerSecond: 0.5, now: c.now });
    expect(l.take('k')).toEqual({ allowed: true, remaining: 2, retryAfterSeconds: 0 });
    expect(l.take('k')).toEqual({ allowed: true, remaining: 1, retryAfterSeconds: 0 });
    expect(l.take('k')).toEqual({ allowed: true, remaining: 0, retryAfterSeconds: 0 });
    expect(l.take('k')).toEqual({ allowed: false, remaining: 0, retryAfterSeconds: 2 });
  });

  it('refills continuously and never above capacity', () => {
    const c = clock();
    const l = new TokenBucketLimiter({ capacity: 3, refillPerSecond: 0.5, now: c.now });
    expect(drain(l, 'k')).toBe(3);
    c.advance(1000); // half a token
    expect(l.take('k')).toMatchObject({ allowed: false, retryAfterSeconds: 1 });
    c.advance(1000); // one token
    expect(l.take('k').allowed).toBe(true);
    expect(l.take('k').allowed).toBe(false);
    c.advance(3_600_000);
    expect(drain(l, 'k')).toBe(3);
  });

  it('refused attempts take nothing: waiting retryAfterSeconds is enough', () => {
    const c = clock();
    const l = new TokenBucketLimiter({ capacity: 1, refillPerSecond: 0.1, now: c.now });
    expect(l.take('k').allowed).toBe(true);
    let d = l.take('k');
    for (let i = 0; i < 50; i++) d = l.take('k'); // hammering does not push the time back
    expect(d).toMatchObject({ allowed: false, retryAfterSeconds: 10 });
    c.advance(d.retryAfterSeconds * 1000);
    expect(l.take('k').allowed).toBe(true);
  });

  it('retryAfterSeconds rounds up and is at least 1', () => {
    const c = clock();
    const l = new TokenBucketLimiter({ capacity: 1, refillPerSecond: 10, now: c.now });
    expect(l.take('k').allowed).toBe(true);
    expect(l.take('k').retryAfterSeconds).toBe(1); // 0.1 s → 1
    const slow = new TokenBucketLimiter({ capacity: 1, refillPerSecond: 1 / 60, now: c.now });
    slow.take('k');
    c.advance(500);
    expect(slow.take('k').retryAfterSeconds).toBe(60); // 59.5 s → 60
  });

  it('keeps keys independent', () => {
    const c = clock();
    const l = new TokenBucketLimiter({ capacity: 2, refillPerSecond: 1, now: c.now });
    expect(drain(l, 'login:1.2.3.4')).toBe(2);
    expect(l.take('login:5.6.7.8').allowed).toBe(true);
    expect(l.take('login:1.2.3.4').allowed).toBe(false);
  });

  it('a clock stepping backwards adds no tokens', () => {
    const c = clock(10_000_000);
    const l = new TokenBucketLimiter({ capacity: 1, refillPerSecond: 1, now: c.now });
    expect(l.take('k').allowed).toBe(true);
    c.set(5_000_000);
    expect(l.take('k').allowed).toBe(false);
    c.set(10_000_000 + 999);
    expect(l.take('k').allowed).toBe(false);
    c.set(10_000_000 + 1000);
    expect(l.take('k').allowed).toBe(true);
  });

  it('sweep drops idle (refilled) buckets and keeps those still limiting', () => {
    const c = clock();
    const l = new TokenBucketLimiter({ capacity: 2, refillPerSecond: 1, now: c.now, sweepIntervalMs: 1e12 });
    l.take('a');
    drain(l, 'b');
    expect(l.size).toBe(2);
    c.advance(1000); // a full again; b has 1 of 2
    expect(l.sweep()).toBe(1);
    expect(l.size).toBe(1);
    expect(l.take('b')).toMatchObject({ allowed: true, remaining: 0 });
    expect(l.take('b').allowed).toBe(false); // b's state survived the sweep
    c.advance(2000);
    expect(l.sweep()).toBe(1);
    expect(l.size).toBe(0);
  });

  it('sweeps on its own once per interval', () => {
    const c = clock();
    const l = new TokenBucketLimiter({ capacity: 1, refillPerSecond: 1, now: c.now, sweepIntervalMs: 60_000 });
    for (let i = 0; i < 100; i++) l.take(`ip-${i}`);
    expect(l.size).toBe(100);
    c.advance(59_999);
    l.take('x');
    expect(l.size).toBe(101);
    c.advance(1);
    l.take('x'); // sweep first: all 101 were idle; then x gets a new bucket
    expect(l.size).toBe(1);
  });

  it('never holds more than maxKeys: idle buckets first, then the least recently used', () => {
    const c = clock();
    const l = new TokenBucketLimiter({ capacity: 2, refillPerSecond: 0.001, maxKeys: 3, now: c.now, sweepIntervalMs: 1e12 });
    l.take('a');
    l.take('b');
    l.take('c');
    l.take('a'); // a is now the most recently used; b the least
    expect(l.size).toBe(3);
    l.take('d'); // nothing idle: evicts b
    expect(l.size).toBe(3);
    expect(l.take('a')).toMatchObject({ allowed: false }); // a kept its (empty) state
    expect(l.take('b')).toMatchObject({ allowed: true, remaining: 1 }); // b started afresh (evicting c)
    for (let i = 0; i < 10_000; i++) l.take(`flood-${i}`);
    expect(l.size).toBe(3);
  });

  it('evicts an idle bucket rather than a busy one when full', () => {
    const c = clock();
    const l = new TokenBucketLimiter({ capacity: 2, refillPerSecond: 1, maxKeys: 2, now: c.now, sweepIntervalMs: 1e12 });
    l.take('idle'); // 1 of 2 left, refills in 1 s
    drain(l, 'busy');
    c.advance(1000); // idle is full again, busy has 1
    l.take('busy'); // busy: 0 left, most recent
    l.take('new'); // room is made by dropping 'idle' (full), not busy
    expect(l.size).toBe(2);
    expect(l.take('busy').allowed).toBe(false);
  });

  it('refuses nonsensical configuration', () => {
    expect(() => new TokenBucketLimiter({ capacity: 0, refillPerSecond: 1 })).toThrow(RangeError);
    expect(() => new TokenBucketLimiter({ capacity: 1, refillPerSecond: 0 })).toThrow(RangeError);
    expect(() => new TokenBucketLimiter({ capacity: Number.NaN, refillPerSecond: 1 })).toThrow(RangeError);
    expect(() => new TokenBucketLimiter({ capacity: 1, refillPerSecond: 1, maxKeys: 0 })).toThrow(RangeError);
  });
});
