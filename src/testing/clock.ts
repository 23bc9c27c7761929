/**
 * A virtual clock for tests: time moves only when the test says so, and timers fire in
 * order as it moves, so retry schedules of hours run in milliseconds.
 *
 * @module
 */

import { configError } from '../errors.js';
import type { Clock, TimerHandle } from '../types.js';

/** A {@link Clock} whose time is moved by the test. */
export interface TestClock extends Clock {
  /** Moves time forward by `ms`, firing due timers in order and letting promises settle after each. */
  advance(ms: number): Promise<void>;
  /** Moves time to the next timer and fires it (and any due at the same time); false when no timer is set. */
  next(): Promise<boolean>;
  /** Time of the earliest timer, or Infinity. */
  nextAt(): number;
  /** Number of timers set. */
  readonly pending: number;
}

interface VirtualTimer extends TimerHandle {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/**
 * Lets promise chains and I/O callbacks that are already due run.
 *
 * @example
 * ```ts
 * import { settle } from 'mailpush/testing';
 *
 * let done = false;
 * void Promise.resolve().then(() => (done = true));
 * await settle();
 * expect(done).toBe(true);
 * ```
 */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Creates a virtual clock starting at `start` (ms since epoch).
 * @param start - initial time. @default Date.UTC(2026, 0, 1)
 *
 * @example
 * ```ts
 * import { createTestClock } from 'mailpush/testing';
 *
 * const clock = createTestClock(); // 2026-01-01T00:00:00Z
 * clock.setTimeout(() => console.log('fired at', new Date(clock.now()).toISOString()), 60_000);
 * await clock.advance(60_000); // fired at 2026-01-01T00:01:00.000Z
 * clock.pending; // 0
 * ```
 */
export function createTestClock(start: number = Date.UTC(2026, 0, 1)): TestClock {
  if (typeof start !== 'number' || !Number.isFinite(start)) throw configError('start', 'a finite time in ms', start);
  let now = start;
  let seq = 0;
  let timers: VirtualTimer[] = [];

  const earliest = (): VirtualTimer | undefined => {
    let best: VirtualTimer | undefined;
    for (const t of timers) if (!t.cancelled && (best === undefined || t.at < best.at || (t.at === best.at && t.seq < best.seq))) best = t;
    return best;
  };

  const fireDue = async (until: number): Promise<boolean> => {
    let fired = false;
    for (;;) {
      const t = earliest();
      if (t === undefined || t.at > until) break;
      if (t.at > now) now = t.at;
      t.cancelled = true;
      timers = timers.filter((x) => !x.cancelled);
      t.fn();
      fired = true;
      await settle();
    }
    return fired;
  };

  return {
    now: () => now,
    setTimeout(fn, ms) {
      const timer: VirtualTimer = { at: now + Math.max(0, Number.isFinite(ms) ? ms : 0), seq: seq++, fn, cancelled: false, unref: () => timer };
      timers.push(timer);
      return timer;
    },
    clearTimeout(handle) {
      const t = handle as VirtualTimer;
      t.cancelled = true;
      timers = timers.filter((x) => !x.cancelled);
    },
    async advance(ms) {
      if (typeof ms !== 'number' || !(ms >= 0)) throw configError('ms', 'a number >= 0', ms);
      const until = now + ms;
      await settle();
      await fireDue(until);
      now = until;
      await settle();
    },
    async next() {
      const t = earliest();
      if (t === undefined) return false;
      await fireDue(t.at);
      return true;
    },
    nextAt: () => earliest()?.at ?? Infinity,
    get pending() {
      return timers.filter((t) => !t.cancelled).length;
    },
  };
}
