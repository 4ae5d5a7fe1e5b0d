/**
 * Test helper: records which methods of a running gateway's real store are called (the
 * store still does all the work), so a test can show that a refused request reached no
 * database code at all, without relying on timing.
 */
import type { Store } from '../../src/server/storage/store.js';

export interface StoreCalls {
  /** Names of the store methods called since `countStoreCalls` (or the last `reset`), in order. */
  readonly calls: readonly string[];
  reset(): void;
  /** Puts the original methods back. */
  stop(): void;
}

/** Wraps every method of `store` (own and inherited) in place: every holder of the object is counted. */
export function countStoreCalls(store: Store): StoreCalls {
  const calls: string[] = [];
  const target = store as unknown as Record<string, unknown>;
  const wrapped: string[] = [];
  for (let proto: object | null = Object.getPrototypeOf(store); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const d = Object.getOwnPropertyDescriptor(proto, name);
      if (name === 'constructor' || wrapped.includes(name) || typeof d?.value !== 'function') continue;
      const original = d.value as (...a: unknown[]) => unknown;
      wrapped.push(name);
      target[name] = function (this: unknown, ...args: unknown[]): unknown {
        calls.push(name);
        return original.apply(this, args);
      };
    }
  }
  return {
    calls,
    reset: () => void calls.splice(0),
    stop: () => {
      for (const name of wrapped) delete target[name];
    },
  };
}
