import { describe, expect, it } from 'vitest';
import { capacityOf } from '../../bench/sustained.js';

// The sustained suite's 80 % point (issue 17, goal 7): capacity is the median of the
// per-second completions of the saturating steps, not the best whole step.
describe('sustained suite: capacityOf', () => {
  it('takes the median of the per-second completions of every step but the first', () => {
    const steps = [{ perSecond: [500, 500, 500] }, { perSecond: [100, 102, 98, 101] }, { perSecond: [99, 160, 100, 103, 97] }];
    expect(capacityOf(steps)).toBe(100);
  });

  it('is not lifted by one lucky step', () => {
    // A step that got more of a shared machine (its second and third seconds) against two that did not.
    const steps = [{ perSecond: [20, 20] }, { perSecond: [60, 62, 61] }, { perSecond: [91, 90, 92] }, { perSecond: [61, 59, 60] }];
    expect(capacityOf(steps)).toBe(61);
  });

  it('uses the only step when there is one', () => {
    expect(capacityOf([{ perSecond: [10, 30, 20] }])).toBe(20);
  });
});
