/**
 * The shared conformance suite every {@link SoftBounceCounter} passes. Store authors call
 * `testSoftBounceCounter({ create })` from a vitest file.
 *
 * @module
 */

import { describe, expect, it } from './vitest.js';
import type { SoftBounceCounter } from '../types.js';

/** Options of {@link testSoftBounceCounter}. */
export interface SoftBounceCounterSuiteOptions {
  /** Suite title. @default 'SoftBounceCounter conformance' */
  readonly name?: string;
  /** Creates an empty counter. */
  readonly create: () => SoftBounceCounter | Promise<SoftBounceCounter>;
  /** Releases a counter after a test (a counter has no `close` of its own). @default nothing */
  readonly dispose?: (counter: SoftBounceCounter) => void | Promise<void>;
  /**
   * Closes `previous` and opens a second counter on the same backing storage, to check that
   * counts survive a restart. Omit for counters that do not persist (memory).
   */
  readonly reopen?: (previous: SoftBounceCounter) => SoftBounceCounter | Promise<SoftBounceCounter>;
}

const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;
const WEEK = 7 * 24 * HOUR;

/**
 * Registers the SoftBounceCounter conformance tests with vitest: distinct hits counted within
 * the window, a repeated event id counted once, addresses compared case-insensitively, reset,
 * concurrent hits, and (with `reopen`) counts that survive a restart.
 *
 * @example
 * ```ts
 * import { testSoftBounceCounter } from 'mailpush/testing/conformance';
 * testSoftBounceCounter({ create: () => myCounter() });
 * ```
 */
export function testSoftBounceCounter(options: SoftBounceCounterSuiteOptions): void {
  const done = async (counter: SoftBounceCounter): Promise<void> => {
    await options.dispose?.(counter);
  };

  describe(options.name ?? 'SoftBounceCounter conformance', () => {
    it('counts distinct soft bounces of an address, case-insensitively', async () => {
      const c = await options.create();
      expect(await c.hit('ann@example.com', 'e1', T0, WEEK)).toBe(1);
      expect(await c.hit('Ann@Example.COM', 'e2', T0 + HOUR, WEEK)).toBe(2);
      expect(await c.hit('ann@example.com', 'e3', T0 + 2 * HOUR, WEEK)).toBe(3);
      expect(await c.hit('bob@example.com', 'e4', T0 + 2 * HOUR, WEEK)).toBe(1);
      await done(c);
    });

    it('counts a repeated event id once (providers retry)', async () => {
      const c = await options.create();
      expect(await c.hit('ann@example.com', 'e1', T0, WEEK)).toBe(1);
      expect(await c.hit('ann@example.com', 'e1', T0, WEEK)).toBe(1);
      expect(await c.hit('ann@example.com', 'e1', T0 + HOUR, WEEK)).toBe(1);
      expect(await c.hit('ann@example.com', 'e2', T0 + HOUR, WEEK)).toBe(2);
      await done(c);
    });

    it('counts only the hits within the window before `at`', async () => {
      const c = await options.create();
      await c.hit('ann@example.com', 'e1', T0, WEEK);
      await c.hit('ann@example.com', 'e2', T0 + HOUR, WEEK);
      // e1 is exactly one window old: out; e2 is still in.
      expect(await c.hit('ann@example.com', 'e3', T0 + WEEK, WEEK)).toBe(2);
      expect(await c.hit('ann@example.com', 'e4', T0 + 3 * WEEK, WEEK)).toBe(1);
      await done(c);
    });

    it('forgets an address on reset', async () => {
      const c = await options.create();
      await c.hit('ann@example.com', 'e1', T0, WEEK);
      await c.hit('ann@example.com', 'e2', T0, WEEK);
      await c.hit('bob@example.com', 'e3', T0, WEEK);
      await c.reset('ANN@example.com');
      expect(await c.hit('ann@example.com', 'e4', T0 + HOUR, WEEK)).toBe(1);
      expect(await c.hit('bob@example.com', 'e5', T0 + HOUR, WEEK)).toBe(2);
      // Resetting an unknown address is harmless.
      await c.reset('nobody@example.com');
      await done(c);
    });

    it('counts concurrent hits one by one', async () => {
      const c = await options.create();
      const got = await Promise.all([1, 2, 3, 4].map((i) => c.hit('ann@example.com', `e${i}`, T0 + i, WEEK)));
      expect([...got].sort()).toEqual([1, 2, 3, 4]);
      await done(c);
    });

    if (options.reopen !== undefined) {
      const reopen = options.reopen;
      it('keeps counts across a reopen', async () => {
        const c = await options.create();
        await c.hit('ann@example.com', 'e1', T0, WEEK);
        await c.hit('ann@example.com', 'e2', T0 + HOUR, WEEK);
        await c.hit('bob@example.com', 'e3', T0, WEEK);
        await c.reset('bob@example.com');
        const again = await reopen(c);
        expect(await again.hit('ann@example.com', 'e3', T0 + 2 * HOUR, WEEK)).toBe(3);
        expect(await again.hit('ann@example.com', 'e1', T0 + 2 * HOUR, WEEK)).toBe(3);
        expect(await again.hit('bob@example.com', 'e4', T0 + 2 * HOUR, WEEK)).toBe(1);
        await done(again);
      });
    }
  });
}
