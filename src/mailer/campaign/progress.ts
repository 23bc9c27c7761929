/**
 * The live counts of a `sendMany` run in this process, and the `campaign` event made of them
 * (progress, rate over the last ~10 s, remaining, ETA).
 *
 * @module
 */

import type { CampaignEvent } from '../../campaigns/types.js';
import type { CampaignState } from '../../types.js';

/** Live counts of a `sendMany` run in this process, for progress events. @internal */
export interface Run {
  readonly id: string;
  readonly total: number | undefined;
  read: number;
  invalid: number;
  queued: number;
  sent: number;
  failed: number;
  suppressed: number;
  cancelled: number;
  sourceDone: boolean;
  dirty: boolean;
  /** (time, sent) samples of the last ~10 s, for the rate. */
  readonly samples: [number, number][];
  resumeWaiters: (() => void)[];
}

/** A run registered by `sendMany` at `now`. @internal */
export function startedRun(id: string, total: number | undefined, now: number): Run {
  return { id, total, read: 0, invalid: 0, queued: 0, sent: 0, failed: 0, suppressed: 0, cancelled: 0, sourceDone: false, dirty: true, samples: [[now, 0]], resumeWaiters: [] };
}

/** An empty run, for the event of a campaign that no `sendMany` of this process reads. @internal */
export function newRun(id: string): Run {
  return { id, total: undefined, read: 0, invalid: 0, queued: 0, sent: 0, failed: 0, suppressed: 0, cancelled: 0, sourceDone: false, dirty: false, samples: [], resumeWaiters: [] };
}

/** Recipients queued and not settled, plus (with `withUnread`) the announced total not read yet. @internal */
export function remaining(run: Run, withUnread: boolean): number {
  const open = Math.max(0, run.queued - run.sent - run.failed - run.suppressed - run.cancelled);
  const unread = withUnread && run.total !== undefined && !run.sourceDone ? Math.max(0, run.total - run.read) : 0;
  return open + unread;
}

/** Lets the waiters of a paused run read on. @internal */
export function wakeRun(run: Run): void {
  const waiters = run.resumeWaiters;
  run.resumeWaiters = [];
  for (const w of waiters) w();
}

/** Samples the run at `now` and returns its rate over the last ~10 s, per second; the run is no longer dirty. @internal */
export function sampleRate(run: Run, now: number): number {
  run.dirty = false;
  run.samples.push([now, run.sent]);
  while (run.samples.length > 2 && now - run.samples[1]![0] >= 10_000) run.samples.shift();
  const [t0, s0] = run.samples[0]!;
  return now > t0 ? ((run.sent - s0) * 1000) / (now - t0) : 0;
}

/** The `campaign` event of a run, with the rate from {@link sampleRate}. @internal */
export function runEvent(run: Run, kind: CampaignEvent['kind'], state: CampaignState, rate: number, now: number, reason?: string): CampaignEvent {
  const left = remaining(run, true);
  const known = run.sourceDone || run.total !== undefined;
  return {
    campaign: run.id,
    kind,
    state,
    ...(reason !== undefined ? { reason } : {}),
    read: run.read,
    queued: run.queued,
    invalid: run.invalid,
    sent: run.sent,
    failed: run.failed,
    suppressed: run.suppressed,
    cancelled: run.cancelled,
    remaining: left,
    ratePerSecond: Math.round(rate * 100) / 100,
    ...(known && rate > 0 ? { etaMs: Math.round((left / rate) * 1000) } : {}),
    at: now,
  };
}
