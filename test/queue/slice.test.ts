import { describe, expect, it } from 'vitest';
import { SLICE_MS, slice, sliceUsed, yieldNow } from '../../src/queue/slice.js';

function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy
  }
}

describe('time slices', () => {
  it('asks to yield only after SLICE_MS of work in one macrotask, and starts a new slice after the yield', async () => {
    await yieldNow();
    expect(sliceUsed()).toBe(false);
    expect(slice()).toBeUndefined();
    spin(SLICE_MS + 2);
    // Microtasks belong to the same macrotask: the slice is still used up after an await.
    await Promise.resolve();
    expect(sliceUsed()).toBe(true);
    const turn = slice();
    expect(turn).toBeInstanceOf(Promise);
    await turn;
    expect(sliceUsed()).toBe(false);
  });

  it('lets a timer run during a long loop that only awaits resolved promises', async () => {
    let fired = 0;
    const timer = setTimeout(() => fired++, 5);
    const end = performance.now() + 60;
    let turns = 0;
    while (performance.now() < end) {
      await Promise.resolve();
      const turn = slice();
      if (turn !== undefined) {
        turns++;
        await turn;
      }
    }
    clearTimeout(timer);
    expect(fired).toBe(1);
    // About one turn per slice: cheap, not one per iteration.
    expect(turns).toBeGreaterThan(1);
    expect(turns).toBeLessThan(60 / SLICE_MS + 10);
  });

  it('is not stalled by fake timers installed after it was loaded', async () => {
    const real = globalThis.setImmediate;
    globalThis.setImmediate = (() => {
      throw new Error('fake timers: never called');
    }) as unknown as typeof setImmediate;
    try {
      await yieldNow();
    } finally {
      globalThis.setImmediate = real;
    }
  });
});
