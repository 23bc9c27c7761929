import { describe, expect, it } from 'vitest';
import memoryIdempotencyStore from '../../src/stores/idempotency-memory.js';
import { testIdempotencyStore } from '../../src/testing/idempotency-store-conformance.js';

testIdempotencyStore({ name: 'memory idempotency store', create: () => memoryIdempotencyStore() });

describe('memoryIdempotencyStore', () => {
  it('prunes expired claims, so memory follows the keys within the window', () => {
    const store = memoryIdempotencyStore();
    const window = 1000;
    for (let t = 0; t < 100_000; t++) store.claim(`key-${t}`, `msg_${t}`, t + window, t);
    // At most the claims of the last window, plus what accumulated since the last pruning pass.
    expect(store.size).toBeLessThan(4 * window + 2048);
  });

  it('forgets the oldest claims beyond maxKeys', () => {
    const store = memoryIdempotencyStore({ maxKeys: 2 });
    store.claim('a', 'msg_a', 100, 0);
    store.claim('b', 'msg_b', 100, 0);
    store.claim('c', 'msg_c', 100, 0);
    expect(store.size).toBe(2);
    expect(store.claim('a', 'msg_x', 100, 1)).toBe('msg_x');
    expect(store.claim('c', 'msg_x', 100, 1)).toBe('msg_c');
  });

  it('validates its options', () => {
    expect(() => memoryIdempotencyStore({ maxKeys: 0 })).toThrow(/`maxKeys`.*got 0/);
    expect(() => memoryIdempotencyStore(null as never)).toThrow(/options/);
    expect(() => memoryIdempotencyStore({ maxkeys: 5 } as never)).toThrow(expect.objectContaining({ code: 'MAILPUSH_ERR_CONFIG', option: 'maxkeys', message: expect.stringMatching(/did you mean `maxKeys`\?/) }));
  });
});
