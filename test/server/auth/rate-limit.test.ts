/**
 * Named rate-limit rules in memory: a window of `points` per `durationSeconds` per key,
 * retry-after, refused requests not moving the window, independent keys and rules. The
 * PostgreSQL store shared by two gateways: test/server/rate-limits-shared.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RateLimits } from '../../../src/server/rate-limit.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
});
afterEach(() => {
  vi.useRealTimers();
});

const later = (ms: number): void => {
  vi.setSystemTime(Date.now() + ms);
};

async function drain(l: RateLimits<string>, name: string, key: string): Promise<number> {
  let n = 0;
  while ((await l.take(name, key)).allowed) n++;
  return n;
}

describe('RateLimits (memory)', () => {
  it('allows `points` per window, then refuses with the whole seconds until the window closes', async () => {
    const l = RateLimits.memory({ r: { points: 3, durationSeconds: 10 } });
    expect(await l.take('r', 'k')).toEqual({ allowed: true, remaining: 2, retryAfterSeconds: 0 });
    expect(await l.take('r', 'k')).toEqual({ allowed: true, remaining: 1, retryAfterSeconds: 0 });
    expect(await l.take('r', 'k')).toEqual({ allowed: true, remaining: 0, retryAfterSeconds: 0 });
    expect(await l.take('r', 'k')).toEqual({ allowed: false, remaining: 0, retryAfterSeconds: 10 });
    later(8_500);
    expect(await l.take('r', 'k')).toEqual({ allowed: false, remaining: 0, retryAfterSeconds: 2 });
  });

  it('refused requests do not move the window: waiting retryAfterSeconds is enough', async () => {
    const l = RateLimits.memory({ r: { points: 2, durationSeconds: 5 } });
    expect(await drain(l, 'r', 'k')).toBe(2);
    for (let i = 0; i < 50; i++) expect((await l.take('r', 'k')).allowed).toBe(false);
    const { retryAfterSeconds } = await l.take('r', 'k');
    later(retryAfterSeconds * 1000);
    expect(await drain(l, 'r', 'k')).toBe(2);
  });

  it('keys and rules are independent', async () => {
    const l = RateLimits.memory({ a: { points: 1, durationSeconds: 60 }, b: { points: 2, durationSeconds: 60 } });
    expect(await drain(l, 'a', 'k')).toBe(1);
    expect(await drain(l, 'a', 'other')).toBe(1);
    expect(await drain(l, 'b', 'k')).toBe(2);
  });

  it('refuses unknown rule names and rules that are not positive whole numbers', async () => {
    const l = RateLimits.memory({ a: { points: 1, durationSeconds: 60 } });
    await expect(l.take('nope' as 'a', 'k')).rejects.toThrow(RangeError);
    expect(() => RateLimits.memory({ a: { points: 0, durationSeconds: 60 } })).toThrow(RangeError);
    expect(() => RateLimits.memory({ a: { points: 1, durationSeconds: 0.5 } })).toThrow(RangeError);
    await expect(RateLimits.create({ a: { points: 1, durationSeconds: -1 } })).rejects.toThrow(RangeError);
  });
});
