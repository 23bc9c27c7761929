import { afterAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { stateTracker } from './helpers.js';

const states = stateTracker();
afterAll(() => states.closeAll());

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Counts the commands a client writes to Redis (EVALSHA, GET, ...): the round trips of a call. */
function countCommands(redis: Redis): { readonly count: number; readonly names: string[] } {
  const names: string[] = [];
  const original = redis.sendCommand.bind(redis);
  (redis as { sendCommand: typeof redis.sendCommand }).sendCommand = ((command: { name: string }, ...rest: unknown[]) => {
    names.push(command.name);
    return (original as (...a: unknown[]) => unknown)(command, ...rest);
  }) as typeof redis.sendCommand;
  return {
    get count() {
      return names.length;
    },
    names,
  };
}

describe('redis limiter: token bucket', () => {
  it('gives the burst at once, then one token per 1/rate s, with the wait to the next token', async () => {
    const { limiter } = states.create();
    const limits = { ratePerSecond: 10, burst: 3 };
    for (let i = 0; i < 3; i++) expect(await limiter.acquire('example.com', limits, `l${i}`)).toEqual({ ok: true });
    const refused = await limiter.acquire('example.com', limits, 'l3');
    expect(refused).toMatchObject({ ok: false, reason: 'rate', key: 'example.com' });
    if (refused.ok) return;
    expect(refused.waitMs).toBeGreaterThan(80);
    expect(refused.waitMs).toBeLessThanOrEqual(100);
    await sleep(refused.waitMs + 5);
    expect(await limiter.acquire('example.com', limits, 'l4')).toEqual({ ok: true });
    expect((await limiter.acquire('example.com', limits, 'l5')).ok).toBe(false);
  });

  it('keeps keys apart and lets an unlimited key through', async () => {
    const { limiter } = states.create();
    expect((await limiter.acquire('a.example', { ratePerSecond: 1, burst: 1 }, 'x1')).ok).toBe(true);
    expect((await limiter.acquire('a.example', { ratePerSecond: 1, burst: 1 }, 'x2')).ok).toBe(false);
    expect((await limiter.acquire('b.example', { ratePerSecond: 1, burst: 1 }, 'x3')).ok).toBe(true);
    for (let i = 0; i < 50; i++) expect((await limiter.acquire('free.example', {}, `f${i}`)).ok).toBe(true);
    expect(await limiter.state('free.example')).toMatchObject({ ratePerSecond: Infinity, concurrency: Infinity, tokens: Infinity, inflight: 50 });
  });

  it('takes from every gate or from none (a domain and the transport)', async () => {
    const { limiter } = states.create();
    const domain = { key: 'gmail.com', limits: { ratePerSecond: 1, burst: 5 } };
    const transport = { key: '*transport*', limits: { ratePerSecond: 1, burst: 1 } };
    expect(await limiter.acquireAll([domain, transport], 'j1')).toEqual({ ok: true });
    const refused = await limiter.acquireAll([domain, transport], 'j2');
    expect(refused).toMatchObject({ ok: false, reason: 'rate', key: '*transport*' });
    // The refused acquire took nothing from the domain: 4 tokens left of 5, and one lease.
    const d = await limiter.state('gmail.com');
    expect(d.tokens).toBeGreaterThanOrEqual(4);
    expect(d.tokens).toBeLessThan(4.5);
    expect(d.inflight).toBe(1);
  });
});

describe('redis limiter: concurrency leases', () => {
  it('holds at most `concurrency` leases and frees a slot on release', async () => {
    const { limiter } = states.create();
    const limits = { concurrency: 2 };
    expect((await limiter.acquire('c.example', limits, 'a')).ok).toBe(true);
    expect((await limiter.acquire('c.example', limits, 'b')).ok).toBe(true);
    const refused = await limiter.acquire('c.example', limits, 'c');
    expect(refused).toMatchObject({ ok: false, reason: 'concurrency', waitMs: 50 });
    expect(await limiter.release('c.example', 'a', 'success')).toEqual({ released: true, change: 'none', pausedUntil: 0 });
    expect(await limiter.release('c.example', 'a', 'success')).toMatchObject({ released: false });
    expect((await limiter.acquire('c.example', limits, 'c')).ok).toBe(true);
    expect(await limiter.state('c.example')).toMatchObject({ inflight: 2, concurrency: 2 });
  });

  it('lets a lease lapse after leaseMs (a worker that died)', async () => {
    const { limiter } = states.create({ limiter: { leaseMs: 200 } });
    const limits = { concurrency: 1 };
    expect((await limiter.acquire('d.example', limits, 'dead')).ok).toBe(true);
    const refused = await limiter.acquire('d.example', limits, 'next');
    expect(refused).toMatchObject({ ok: false, reason: 'concurrency' });
    await sleep(220);
    expect((await limiter.acquire('d.example', limits, 'next')).ok).toBe(true);
  });
});

describe('redis limiter: shared throttle (AIMD)', () => {
  it('pauses on a throttle for the hint, halves the rate, one connection; only the pause grows while paused', async () => {
    const { limiter } = states.create();
    const limits = { ratePerSecond: 40, concurrency: 4 };
    expect((await limiter.acquire('gmail.com', limits, 'a')).ok).toBe(true);
    const r = await limiter.release('gmail.com', 'a', 'throttled', 300);
    expect(r.change).toBe('throttled');
    const s = await limiter.state('gmail.com');
    expect(r.pausedUntil - s.now).toBeGreaterThan(250);
    // pausedUntil is rounded up to the ms.
    expect(r.pausedUntil - s.now).toBeLessThanOrEqual(301);
    expect(s).toMatchObject({ throttled: true, ratePerSecond: 20, concurrency: 1 });
    const refused = await limiter.acquire('gmail.com', limits, 'b');
    expect(refused).toMatchObject({ ok: false, reason: 'paused' });
    // A second 421 of the same burst: the pause grows, the rate is not halved again.
    expect((await limiter.release('gmail.com', 'none', 'throttled', 400)).change).toBe('pause-extended');
    expect((await limiter.release('gmail.com', 'none', 'throttled', 10)).change).toBe('none');
    expect(await limiter.state('gmail.com')).toMatchObject({ ratePerSecond: 20 });
    await sleep(420);
    expect((await limiter.acquire('gmail.com', limits, 'b')).ok).toBe(true);
    // Burst 1 while throttled, and one connection.
    expect(await limiter.acquire('gmail.com', limits, 'c')).toMatchObject({ ok: false, reason: 'concurrency' });
  });

  it('recovers step by step after recoverAfter successes, back to the configured limits', async () => {
    const { limiter } = states.create({ limiter: { throttle: { recoverAfter: 2, recoverStep: 0.25, pauseMs: 1 } } });
    const limits = { ratePerSecond: 1000, concurrency: 3 };
    expect((await limiter.acquire('x.example', limits, 't')).ok).toBe(true);
    expect((await limiter.release('x.example', 't', 'throttled')).change).toBe('throttled');
    expect(await limiter.state('x.example')).toMatchObject({ ratePerSecond: 500, concurrency: 1 });
    await sleep(5);
    const changes: string[] = [];
    for (let i = 0; i < 10; i++) {
      let got = await limiter.acquire('x.example', limits, `s${i}`);
      while (!got.ok) {
        await sleep(got.waitMs);
        got = await limiter.acquire('x.example', limits, `s${i}`);
      }
      changes.push((await limiter.release('x.example', `s${i}`, 'success')).change);
    }
    // rate 500 -> 750 -> 1000 (ceiling) while concurrency 1 -> 2 -> 3: two steps, then done.
    expect(changes).toEqual(['none', 'recovered-step', 'none', 'recovered', 'none', 'none', 'none', 'none', 'none', 'none']);
    expect(await limiter.state('x.example')).toMatchObject({ throttled: false, ratePerSecond: 1000, concurrency: 3 });
  });

  it('throttles an unlimited key from its observed rate, and a `paused` outcome only pauses', async () => {
    const { limiter } = states.create();
    for (let i = 0; i < 20; i++) {
      expect((await limiter.acquire('free.example', {}, `f${i}`)).ok).toBe(true);
      await limiter.release('free.example', `f${i}`, 'success');
    }
    expect((await limiter.release('free.example', 'x', 'throttled', 50)).change).toBe('throttled');
    const s = await limiter.state('free.example');
    expect(s.throttled).toBe(true);
    // 20 sends within the first quarter second count as 80/s at most: halved to at most 40/s.
    expect(s.ratePerSecond).toBeGreaterThan(0.05);
    expect(s.ratePerSecond).toBeLessThanOrEqual(40);
    const t = states.create().limiter;
    expect((await t.acquire('*transport*', { ratePerSecond: 10 }, 'p')).ok).toBe(true);
    expect((await t.release('*transport*', 'p', 'paused', 50)).change).toBe('throttled');
    expect(await t.state('*transport*')).toMatchObject({ throttled: false, ratePerSecond: 10 });
    expect(await t.acquire('*transport*', { ratePerSecond: 10 }, 'q')).toMatchObject({ ok: false, reason: 'paused' });
  });
});

describe('redis limiter: round trips and options', () => {
  it('makes one round trip per acquire, release and state', async () => {
    const state = states.create();
    const { limiter } = state;
    await limiter.state('warm.example'); // connect and load scripts first
    const counter = countCommands(state.redis);
    await limiter.acquireAll([{ key: 'rt.example', limits: { ratePerSecond: 10, concurrency: 2 } }, { key: '*transport*', limits: { concurrency: 5 } }], 'a');
    await limiter.release('rt.example', 'a', 'success');
    await limiter.release('rt.example', 'a', 'throttled', 10);
    await limiter.state('rt.example');
    expect(counter.names).toEqual(['evalsha', 'evalsha', 'evalsha', 'evalsha']);
  });

  it('refuses bad options and arguments, naming them', async () => {
    const { limiter } = states.create();
    expect(() => states.create({ limiter: { leaseMs: 0 } })).toThrow('Expected `limiter.leaseMs` to be a positive integer (ms), got 0');
    expect(() => states.create({ limiter: { throttle: { decreaseFactor: 2 } } })).toThrow('`throttle.decreaseFactor`');
    await expect(limiter.acquire('k', { ratePerSecond: -1 }, 'a')).rejects.toThrow('Expected `gates[0].limits.ratePerSecond` to be a positive number (or Infinity), got -1');
    await expect(limiter.acquire('', {}, 'a')).rejects.toMatchObject({ code: 'MAILPUSH_ERR_CONFIG', option: 'gates[0].key' });
    await expect(limiter.release('k', 'a', 'maybe' as 'other')).rejects.toThrow('Expected `outcome` to be one of success, throttled, paused, other, got "maybe"');
    await expect(limiter.release('k', 'a', 'throttled', -5)).rejects.toMatchObject({ option: 'hintMs' });
  });
});
