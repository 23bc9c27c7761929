import { describe, expect, it } from 'vitest';
import { resolveLimits, resolveThrottle, resolveWeights } from '../../src/queue/limits.js';
import type { LimitsOptions } from '../../src/queue/limits.js';
import { Scheduler } from '../../src/queue/scheduler.js';
import { createTestClock } from '../../src/testing/clock.js';
import type { TestClock } from '../../src/testing/clock.js';
import type { Job, Priority } from '../../src/types.js';

let seq = 0;
function job(domain: string, priority: Priority = 'normal', runAt = 0, attempt = 0): Job {
  const id = `j${seq++}`;
  return { id, messageRef: `m${id}`, domain, recipients: [`x@${domain}`], priority, state: 'ready', attempt, createdAt: 0, runAt };
}

function setup(limits: LimitsOptions = {}, opts: { autoRelease?: boolean } = {}) {
  const clock = createTestClock(1_000_000);
  const dispatched: Job[] = [];
  const holder: { s?: Scheduler } = {};
  const s = new Scheduler({
    clock,
    limits: resolveLimits(limits, {}),
    weights: resolveWeights(undefined),
    throttle: resolveThrottle(undefined),
    dispatch: (j) => {
      dispatched.push(j);
      if (opts.autoRelease) queueMicrotask(() => holder.s?.release(j));
    },
  });
  holder.s = s;
  return { clock, s, dispatched };
}

async function runFor(clock: TestClock, ms: number, stepMs = 10): Promise<void> {
  for (let t = 0; t < ms; t += stepMs) await clock.advance(stepMs);
}

describe('Scheduler', () => {
  it('dispatches a critical job next while 100,000 bulk jobs wait', () => {
    const { s, dispatched } = setup({ concurrency: 1 });
    for (let i = 0; i < 100_000; i++) s.enqueue(job(`d${i % 50}.test`, 'bulk'));
    expect(dispatched).toHaveLength(1);
    const critical = job('urgent.test', 'critical');
    s.enqueue(critical);
    s.release(dispatched[0]!);
    expect(dispatched[1]).toBe(critical);
  });

  it('shares dispatches between busy lanes by weight, starving none', () => {
    // One slot and no critical reserve: the reserve would let critical jobs take a second slot.
    const { s, dispatched } = setup({ concurrency: 1, criticalReserve: 0 });
    for (let i = 0; i < 2000; i++) {
      s.enqueue(job('a.test', 'critical'));
      s.enqueue(job('b.test', 'bulk'));
      s.enqueue(job('c.test', 'normal'));
    }
    for (let i = 0; i < 730; i++) s.release(dispatched[dispatched.length - 1]!);
    const counts: Record<string, number> = {};
    for (const j of dispatched) counts[j.priority] = (counts[j.priority] ?? 0) + 1;
    // weights critical 64 : normal 8 : bulk 1
    expect(counts.bulk).toBeGreaterThanOrEqual(9);
    expect(counts.bulk).toBeLessThanOrEqual(11);
    expect(counts.normal).toBeGreaterThanOrEqual(75);
    expect(counts.normal).toBeLessThanOrEqual(85);
    expect(counts.critical).toBeGreaterThan(600);
  });

  it('round-robins between domains of the same lane', () => {
    const { s, dispatched } = setup({ concurrency: 1 });
    for (let i = 0; i < 10; i++) s.enqueue(job('a.test'));
    for (let i = 0; i < 10; i++) s.enqueue(job('b.test'));
    for (let i = 0; i < 5; i++) s.release(dispatched[dispatched.length - 1]!);
    const order = dispatched.map((j) => j.domain);
    // after the first job (dispatched before b.test existed), the two domains alternate
    for (let i = 2; i < order.length; i++) expect(order[i]).not.toBe(order[i - 1]);
    expect(order).toHaveLength(6);
    expect(order.filter((d) => d === 'b.test')).toHaveLength(2);
  });

  it('keeps a domain to its rate over ten seconds while an unlimited domain flows', async () => {
    const { s, clock, dispatched } = setup({ concurrency: 100, domains: { 'slow.test': { ratePerSecond: 20 } } }, { autoRelease: true });
    for (let i = 0; i < 1000; i++) s.enqueue(job('slow.test'));
    for (let i = 0; i < 1000; i++) s.enqueue(job('fast.test'));
    await runFor(clock, 10_000, 50);
    const slow = dispatched.filter((j) => j.domain === 'slow.test').length;
    const fast = dispatched.filter((j) => j.domain === 'fast.test').length;
    // 20/s for 10 s plus the burst of one token
    expect(slow).toBeGreaterThanOrEqual(195);
    expect(slow).toBeLessThanOrEqual(202);
    expect(fast).toBe(1000);
  });

  it('limits concurrency per domain without blocking other domains', () => {
    const { s, dispatched } = setup({ concurrency: 10, domains: { 'one.test': { concurrency: 2 } } });
    for (let i = 0; i < 5; i++) s.enqueue(job('one.test'));
    for (let i = 0; i < 5; i++) s.enqueue(job('two.test'));
    expect(dispatched.filter((j) => j.domain === 'one.test')).toHaveLength(2);
    expect(dispatched.filter((j) => j.domain === 'two.test')).toHaveLength(5);
    s.release(dispatched.find((j) => j.domain === 'one.test')!);
    expect(dispatched.filter((j) => j.domain === 'one.test')).toHaveLength(3);
  });

  it('holds scheduled jobs in one timer until due', async () => {
    const { s, clock, dispatched } = setup({}, { autoRelease: true });
    for (let i = 0; i < 1000; i++) s.enqueue(job('a.test', 'normal', clock.now() + 60_000 + i));
    expect(dispatched).toHaveLength(0);
    expect(clock.pending).toBe(1);
    expect(s.scheduled).toBe(1000);
    await clock.advance(60_000);
    expect(dispatched).toHaveLength(1);
    await clock.advance(1000);
    expect(dispatched).toHaveLength(1000);
    expect(s.scheduled).toBe(0);
  });

  it('pauses a throttled domain, halves its rate, then recovers step by step', async () => {
    const { s, clock, dispatched } = setup({ concurrency: 10, domains: { 'gmail.test': { ratePerSecond: 100, concurrency: 4 } } });
    for (let i = 0; i < 500; i++) s.enqueue(job('gmail.test'));
    for (let i = 0; i < 5; i++) s.enqueue(job('other.test'));
    expect(dispatched.filter((j) => j.domain === 'gmail.test')).toHaveLength(4);
    const change = s.throttle('gmail.test', 600_000);
    expect(change).toMatchObject({ domain: 'gmail.test', ratePerSecond: 50, concurrency: 1, pausedUntil: clock.now() + 600_000 });
    // a second throttle reply of the same burst does not halve again
    expect(s.throttle('gmail.test', 1000)).toBeUndefined();
    for (const j of [...dispatched]) s.release(j);
    const before = dispatched.length;
    await clock.advance(599_000);
    expect(dispatched.filter((j) => j.domain === 'gmail.test').length).toBe(4);
    expect(dispatched.length).toBe(before); // other.test was not blocked: all 5 went at once
    await clock.advance(1_000);
    expect(dispatched.filter((j) => j.domain === 'gmail.test').length).toBe(5);
    expect(s.domainStats()['gmail.test']).toMatchObject({ concurrency: 1, ratePerSecond: 50, throttled: true });
    // ten successes -> one additive step: +10% of the 100/s ceiling and one more connection
    for (let i = 0; i < 10; i++) {
      const last = dispatched[dispatched.length - 1]!;
      s.recordSuccess('gmail.test');
      s.release(last);
      await clock.advance(100);
    }
    expect(s.domainStats()['gmail.test']).toMatchObject({ ratePerSecond: 60, concurrency: 2 });
  });

  it('never delays other domains while one is paused', () => {
    const { s, dispatched } = setup({ concurrency: 100 });
    s.throttle('paused.test', 60_000);
    for (let i = 0; i < 10; i++) s.enqueue(job('paused.test'));
    for (let i = 0; i < 10; i++) s.enqueue(job('free.test'));
    expect(dispatched.map((j) => j.domain)).toEqual(new Array(10).fill('free.test'));
  });

  it('skips cancelled jobs wherever they wait', async () => {
    const { s, clock, dispatched } = setup({ concurrency: 1 });
    const a = job('a.test');
    const b = job('a.test');
    const c = job('a.test', 'normal', clock.now() + 1000);
    s.enqueue(a);
    s.enqueue(b);
    s.enqueue(c);
    expect(s.cancel(b)).toBe(true);
    b.state = 'failed';
    expect(s.cancel(c)).toBe(true);
    c.state = 'failed';
    expect(s.cancel(a)).toBe(false); // in flight
    s.release(a);
    await clock.advance(2000);
    expect(dispatched).toEqual([a]);
    expect(s.idle).toBe(true);
  });

  it('respects the transport rate and concurrency', async () => {
    const { s, clock, dispatched } = setup({ concurrency: 50, transport: { ratePerSecond: 10, concurrency: 3 } }, { autoRelease: true });
    for (let i = 0; i < 100; i++) s.enqueue(job(`d${i}.test`));
    await runFor(clock, 2000, 20);
    // a burst of 2 + 10/s for 2 s
    expect(dispatched.length).toBeGreaterThanOrEqual(20);
    expect(dispatched.length).toBeLessThanOrEqual(22);
    const held = setup({ concurrency: 50, transport: { concurrency: 3 } });
    for (let i = 0; i < 10; i++) held.s.enqueue(job(`d${i}.test`));
    expect(held.dispatched).toHaveLength(3);
    held.s.release(held.dispatched[0]!);
    expect(held.dispatched).toHaveLength(4);
  });

  it('pauses and slows the whole transport on an account-level throttle, then recovers', async () => {
    const { s, clock, dispatched } = setup({ concurrency: 10 });
    const change = s.throttleTransport(5_000);
    expect(change).toMatchObject({ concurrency: 1, pausedUntil: clock.now() + 5_000 });
    for (let i = 0; i < 20; i++) s.enqueue(job(`d${i}.test`));
    expect(dispatched).toHaveLength(0);
    await clock.advance(5_000);
    expect(dispatched).toHaveLength(1); // one at a time after a transport throttle
    expect(s.transportStats()).toMatchObject({ throttled: true, concurrency: 1 });
    // a pause (paused account) does not touch the rate
    const { s: s2, clock: c2, dispatched: d2 } = setup({ concurrency: 10 });
    expect(s2.pauseTransport(60_000)).toMatchObject({ concurrency: Infinity, ratePerSecond: Infinity });
    s2.enqueue(job('a.test'));
    await c2.advance(59_999);
    expect(d2).toHaveLength(0);
    await c2.advance(1);
    expect(d2).toHaveLength(1);
    expect(s2.transportStats().throttled).toBe(false);
  });

  it('forgets idle domains so a campaign over many domains stays bounded', () => {
    const { s, dispatched } = setup({ concurrency: 1000 });
    for (let i = 0; i < 5000; i++) s.enqueue(job(`d${i}.test`));
    for (const j of dispatched) s.release(j);
    expect(Object.keys(s.domainStats())).toHaveLength(0);
    // Idle states are kept for reuse only while few domains are known.
    expect((s as unknown as { domains: Map<string, unknown> }).domains.size).toBeLessThanOrEqual(1001);
  });

  it('reuses the state of an idle domain as if it were new: hidden from stats, full bucket, a fresh rate window', async () => {
    const { s, clock, dispatched } = setup({ concurrency: 10, domains: { 'a.test': { ratePerSecond: 2, burst: 2 } } });
    const states = (s as unknown as { domains: Map<string, unknown> }).domains;
    s.enqueue(job('a.test'));
    s.release(dispatched[0]!);
    // The bucket is not full yet: the domain is not idle.
    expect(Object.keys(s.domainStats())).toEqual(['a.test']);
    await clock.advance(1000);
    s.enqueue(job('b.test'));
    s.release(dispatched[1]!);
    const kept = states.get('a.test');
    expect(kept).toBeDefined();
    s.enqueue(job('a.test'));
    s.enqueue(job('a.test'));
    s.enqueue(job('a.test'));
    // Two tokens (the burst), like a new state; the third waits for a refill.
    expect(dispatched).toHaveLength(4);
    expect(states.get('a.test')).toBe(kept);
    expect(Object.keys(s.domainStats())).toEqual(['a.test']);
    await clock.advance(500);
    expect(dispatched).toHaveLength(5);
  });
  describe('retries', () => {
    it('dispatches a retry as soon as it is due, before the fresh backlog of its lane', async () => {
      const { s, clock, dispatched } = setup({ concurrency: 1 });
      for (let i = 0; i < 1000; i++) s.enqueue(job('a.test'));
      const first = dispatched[0]!;
      // The first attempt failed: the owner schedules attempt 2 in 200 ms and releases the slot.
      first.attempt = 1;
      first.runAt = clock.now() + 200;
      s.enqueue(first);
      s.release(first);
      expect(dispatched).toHaveLength(2);
      await clock.advance(200);
      s.release(dispatched[1]!);
      expect(dispatched[2]).toBe(first);
      expect(s.ready).toBe(998);
    });

    it('keeps due retries in their order, after a send put back in front', () => {
      const { s, dispatched } = setup({ concurrency: 1 });
      const busy = job('a.test');
      s.enqueue(busy);
      const fresh = job('a.test');
      s.enqueue(fresh);
      const r1 = job('a.test', 'normal', 0, 1);
      const r2 = job('a.test', 'normal', 0, 2);
      s.enqueue(r1);
      s.enqueue(r2);
      const throttled = job('a.test', 'normal', 0, 1);
      throttled.state = 'sending';
      s.requeueFront(throttled);
      for (let i = 0; i < 4; i++) s.release(dispatched[dispatched.length - 1]!);
      expect(dispatched).toEqual([busy, throttled, r1, r2, fresh]);
    });

    it('serves a retry of a lower priority only in its own lane', () => {
      const { s, dispatched } = setup({ concurrency: 1, criticalReserve: 0 });
      s.enqueue(job('a.test'));
      const critical = job('a.test', 'critical');
      s.enqueue(critical);
      const retry = job('a.test', 'bulk', 0, 1);
      s.enqueue(retry);
      s.release(dispatched[0]!);
      expect(dispatched[1]).toBe(critical);
    });

    it('skips a cancelled retry', () => {
      const { s, dispatched } = setup({ concurrency: 1 });
      s.enqueue(job('a.test'));
      const retry = job('a.test', 'normal', 0, 1);
      s.enqueue(retry);
      const fresh = job('a.test');
      s.enqueue(fresh);
      expect(s.cancel(retry)).toBe(true);
      retry.state = 'failed';
      s.release(dispatched[0]!);
      expect(dispatched[1]).toBe(fresh);
      s.release(fresh);
      expect(s.idle).toBe(true);
      expect(Object.keys(s.domainStats())).toHaveLength(0);
    });
  });

  describe('critical reserve', () => {
    it('dispatches a critical job while stuck jobs of other priorities hold every global slot', () => {
      const { s, dispatched } = setup({ concurrency: 5 });
      for (let i = 0; i < 20; i++) s.enqueue(job(`d${i % 4}.test`, i % 2 === 0 ? 'normal' : 'bulk'));
      expect(dispatched).toHaveLength(5);
      const critical = job('urgent.test', 'critical');
      s.enqueue(critical);
      expect(dispatched[5]).toBe(critical);
      expect(s.inflight).toBe(6);
      // The reserve is for critical jobs only: a high job waits for a normal slot.
      s.enqueue(job('other.test', 'high'));
      expect(dispatched).toHaveLength(6);
      // and it holds one critical job beyond the limit, not more
      s.enqueue(job('urgent.test', 'critical'));
      expect(dispatched).toHaveLength(6);
      s.release(critical);
      expect(dispatched).toHaveLength(7);
      expect(dispatched[6]!.priority).toBe('critical');
    });

    it('keeps the reserve on the transport concurrency too', () => {
      const { s, dispatched } = setup({ concurrency: 50, transport: { concurrency: 3 }, criticalReserve: 2 });
      for (let i = 0; i < 10; i++) s.enqueue(job(`d${i}.test`, 'low'));
      expect(dispatched).toHaveLength(3);
      for (let i = 0; i < 3; i++) s.enqueue(job(`c${i}.test`, 'critical'));
      expect(dispatched.map((j) => j.priority)).toEqual(['low', 'low', 'low', 'critical', 'critical']);
    });

    it('still applies the domain limits and pauses to critical jobs', () => {
      const { s, dispatched } = setup({ concurrency: 5, domains: { 'one.test': { concurrency: 1 } } });
      for (let i = 0; i < 5; i++) s.enqueue(job(`d${i}.test`));
      s.enqueue(job('one.test', 'critical'));
      s.enqueue(job('one.test', 'critical'));
      expect(dispatched).toHaveLength(6);
      const paused = setup({ concurrency: 1 });
      paused.s.pauseTransport(1_000);
      paused.s.enqueue(job('a.test', 'critical'));
      expect(paused.dispatched).toHaveLength(0);
    });

    it('has no reserve with criticalReserve 0', () => {
      const { s, dispatched } = setup({ concurrency: 2, criticalReserve: 0 });
      for (let i = 0; i < 3; i++) s.enqueue(job(`d${i}.test`));
      s.enqueue(job('urgent.test', 'critical'));
      expect(dispatched).toHaveLength(2);
    });

    it.each([-1, 1.5, '1', Infinity])('rejects criticalReserve %o naming the option', (value) => {
      expect(() => resolveLimits({ criticalReserve: value as number }, {})).toThrow(/`limits.criticalReserve`/);
    });
  });
});
