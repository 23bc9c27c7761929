/**
 * The fleet-wide limiter with real processes: each child (test/fixtures/bullmq-limiter-child.ts)
 * is a worker with its own Redis connection, sharing one key prefix.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { redisState } from '../../src/bullmq/index.js';
import { deleteKeys, REDIS, testPrefix } from './helpers.js';
import { startChild } from './processes.js';
import type { Child } from './processes.js';

const prefixes: string[] = [];
const children: Child[] = [];
afterAll(async () => {
  for (const c of children) if (c.process.exitCode === null) c.process.kill('SIGKILL');
  for (const p of prefixes) await deleteKeys(p);
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function worker(config: Record<string, unknown>): Child {
  const child = startChild('bullmq-limiter-child.ts', [JSON.stringify({ port: REDIS.port, ...config })]);
  children.push(child);
  return child;
}

/** A fresh prefix, and a function that starts every waiting child `leadMs` from now. */
function fleet(): { prefix: string; go(leadMs?: number): Promise<number> } {
  const prefix = testPrefix();
  prefixes.push(prefix);
  return {
    prefix,
    async go(leadMs = 200) {
      const state = redisState({ connection: REDIS, prefix });
      const at = Date.now() + leadMs;
      await state.redis.set(`${prefix}go`, String(at));
      await state.close();
      return at;
    },
  };
}

const times = (line: Record<string, unknown>): number[] => line.ok as number[];

describe('redis limiter across processes', () => {
  it('holds 4 processes sharing a 50/s key to 50/s +-5% over 10 s', { timeout: 60_000 }, async () => {
    const f = fleet();
    const durationMs = 10_000;
    const ws = Array.from({ length: 4 }, () => worker({ mode: 'rate', prefix: f.prefix, key: 'gmail.com', limits: { ratePerSecond: 50 }, durationMs }));
    await Promise.all(ws.map((w) => w.next((l) => l.ready === true)));
    const startAt = await f.go();
    const results = await Promise.all(ws.map((w) => w.next((l) => Array.isArray(l.ok), durationMs + 15_000)));
    const inWindow = results.map((r) => times(r).filter((t) => t >= startAt && t < startAt + durationMs).length);
    const total = inWindow.reduce((a, b) => a + b, 0);
    const rate = total / (durationMs / 1000);
    console.log(`limiter accuracy: 4 processes, ${total} acquires in 10 s = ${rate.toFixed(2)}/s (target 50/s, burst 5); per process ${inWindow.join(', ')}`);
    expect(rate).toBeGreaterThanOrEqual(47.5);
    expect(rate).toBeLessThanOrEqual(52.5);
    // Every process got a share: nobody is starved by the others.
    for (const n of inWindow) expect(n).toBeGreaterThan(50);
  });

  it('never lets 4 processes hold more than 3 leases of a concurrency-3 key', { timeout: 40_000 }, async () => {
    const f = fleet();
    const table = `${f.prefix}table`;
    const ws = Array.from({ length: 4 }, () => worker({ mode: 'rate', prefix: f.prefix, key: 'busy.example', limits: { concurrency: 3 }, durationMs: 3_000, holdMs: 15, table }));
    await Promise.all(ws.map((w) => w.next((l) => l.ready === true)));
    await f.go();
    const results = await Promise.all(ws.map((w) => w.next((l) => Array.isArray(l.ok), 20_000)));
    const maxTable = Math.max(...results.map((r) => r.maxTable as number));
    const total = results.reduce((a, r) => a + times(r).length, 0);
    console.log(`concurrency: ${total} sends held 15 ms each by 4 processes in 3 s; largest lease table ${maxTable}`);
    expect(maxTable).toBe(3);
    expect(total).toBeGreaterThan(100);
  });

  // Four real processes timed to the millisecond: one retry absorbs a run starved of CPU by the rest of the suite.
  it('pauses every process when one of them is throttled, then sends at half the rate', { timeout: 40_000, retry: 1 }, async () => {
    const f = fleet();
    const limits = { ratePerSecond: 20 };
    // The throttler competes with the three for its one acquire, so its throttle can come
    // later than atMs on a busy machine: the workers run long enough for the whole second after
    // the pause to fall inside their run (checked below).
    const durationMs = 7_000;
    const ws = Array.from({ length: 3 }, () => worker({ mode: 'rate', prefix: f.prefix, key: 'yahoo.com', limits, durationMs }));
    const throttler = worker({ mode: 'throttle', prefix: f.prefix, key: 'yahoo.com', limits, atMs: 1_500, hintMs: 1_500 });
    await Promise.all([...ws, throttler].map((w) => w.next((l) => l.ready === true)));
    const startAt = await f.go();
    const t = await throttler.next((l) => typeof l.throttledAt === 'number', 20_000);
    expect(t.change).toBe('throttled');
    const results = await Promise.all(ws.map((w) => w.next((l) => Array.isArray(l.ok), 20_000)));
    const all = results.flatMap(times).sort((a, b) => a - b);
    const throttledAt = t.throttledAt as number;
    const pausedUntil = t.pausedUntil as number;
    const before = all.filter((x) => x >= startAt + 200 && x < startAt + 1_200).length;
    const during = all.filter((x) => x > throttledAt + 5 && x < pausedUntil - 5).length;
    const after = all.filter((x) => x >= pausedUntil && x < pausedUntil + 1_000).length;
    console.log(`throttle at +${throttledAt - startAt} ms: ${before}/s before, ${during} sends during the ${pausedUntil - throttledAt} ms pause, ${after} in the second after it`);
    expect(pausedUntil - throttledAt).toBeGreaterThan(1_400);
    expect(pausedUntil + 1_000, `the throttle came ${throttledAt - startAt} ms after the start: too late to watch a second after the pause`).toBeLessThanOrEqual(startAt + durationMs);
    expect(before).toBeGreaterThanOrEqual(18);
    expect(during).toBe(0);
    // Half of 20/s with a burst of 1: 1 + 10 in the first second (the 10th success steps the
    // rate up to 12/s), never the 20 of the old rate.
    // A loaded machine may start a process late: the point is the halved rate, never the old 20.
    expect(after).toBeGreaterThanOrEqual(5);
    expect(after).toBeLessThanOrEqual(13);
  });

  it("gives back a SIGKILLed holder's leases once the lease time is over", { timeout: 40_000 }, async () => {
    const f = fleet();
    const leaseMs = 1_500;
    const limits = { concurrency: 3 };
    const holder = worker({ mode: 'hold', prefix: f.prefix, key: 'dead.example', limits, count: 3, leaseMs });
    await holder.next((l) => Array.isArray(l.held));
    const heldAt = Date.now();
    holder.process.kill('SIGKILL');
    await holder.exited;
    const state = redisState({ connection: REDIS, prefix: f.prefix, limiter: { leaseMs } });
    try {
      expect(await state.limiter.acquire('dead.example', limits, 'mine')).toMatchObject({ ok: false, reason: 'concurrency' });
      expect(await state.limiter.state('dead.example')).toMatchObject({ inflight: 3 });
      let got = await state.limiter.acquire('dead.example', limits, 'mine');
      while (!got.ok) {
        await sleep(got.waitMs);
        got = await state.limiter.acquire('dead.example', limits, 'mine');
      }
      const lapsedAfter = Date.now() - heldAt;
      console.log(`lease lapse: a slot came back ${lapsedAfter} ms after the holder had its leases (leaseMs ${leaseMs})`);
      expect(lapsedAfter).toBeGreaterThan(leaseMs - 300);
      expect(lapsedAfter).toBeLessThan(leaseMs + 300);
      // The holder took its three leases one after the other: the last two lapse a few ms after the first.
      const deadline = Date.now() + 300;
      let now = await state.limiter.state('dead.example');
      while (now.inflight > 1 && Date.now() < deadline) {
        await sleep(20);
        now = await state.limiter.state('dead.example');
      }
      expect(now).toMatchObject({ inflight: 1 });
    } finally {
      await state.close();
    }
  });
});
