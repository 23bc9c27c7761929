import { expect, it } from 'vitest';
import memoryReplayStore from '../../src/stores/replay-memory.js';
import { testReplayStore } from '../../src/testing/replay-store-conformance.js';

testReplayStore({ name: 'memory replay store', create: () => memoryReplayStore() });

it('memory replay store: keeps at most maxEntries, the oldest go first, and validates its options', () => {
  const store = memoryReplayStore({ maxEntries: 2 });
  for (const k of ['a', 'b', 'c']) store.add(k, 10);
  expect([store.has('a', 0), store.has('b', 0), store.has('c', 0), store.size]).toEqual([false, true, true, 2]);
  expect(() => memoryReplayStore({ maxEntries: 0 })).toThrow(/maxEntries/);
});

it('memory replay store: adding a key again makes it the newest; looking it up does not', () => {
  const store = memoryReplayStore({ maxEntries: 2 });
  store.add('a', 10);
  store.add('b', 10);
  store.add('a', 10);
  store.add('c', 10);
  expect([store.has('a', 0), store.has('b', 0), store.has('c', 0)]).toEqual([true, false, true]);
  store.has('a', 0);
  store.add('d', 10);
  expect([store.has('a', 0), store.has('c', 0), store.has('d', 0)]).toEqual([false, true, true]);
});

it('memory replay store: refuses an option with a typo (CONFIG, nearest name)', () => {
  expect(() => memoryReplayStore({ maxEntry: 5 } as never)).toThrow(expect.objectContaining({ code: 'MAILPUSH_ERR_CONFIG', option: 'maxEntry', message: expect.stringMatching(/did you mean `maxEntries`\?/) }));
});
