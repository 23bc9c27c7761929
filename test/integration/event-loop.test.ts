/**
 * The mailer never freezes its host: a 10 ms `setInterval` keeps (nearly) all its ticks while
 * the mailer works through loops made only of promises that resolve at once (memory store,
 * memory or instant transport). Ticks are counted, not read from `monitorEventLoopDelay`,
 * which misses stalls of a busy microtask chain.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createFeedbackProcessor } from '../../src/feedback/processor.js';
import type { FeedbackEvent } from '../../src/feedback/event.js';
import { createMailer } from '../../src/mailer/index.js';
import type { Mailer } from '../../src/mailer/index.js';
import { memoryStore } from '../../src/stores/memory-store.js';
import memorySuppressionStore from '../../src/stores/suppression-memory.js';
import memoryTransport from '../../src/transports/memory.js';
import type { PreparedMessage, SendResult, Transport } from '../../src/types.js';

const INTERVAL_MS = 10;
/**
 * Share of ticks required on a quiet machine for the other loops (the drain of 20,000 queued
 * jobs, the feedback batches): 85%. They keep 0.86-1.0 here (2026-12-08, 01:10); what they lose
 * are young-generation GC pauses, which no yield can split. The tight loop and the sendMany are
 * held to the 90% (below). Before the time slices a loop kept 0%.
 */
const QUIET_BAR = 0.85;
/**
 * The bar of the sendMany test: the 90%. It keeps 0.95-0.97 on a quiet machine on Node 20
 * and 24 (2026-12-08, 01:10, three runs each) since the correlation records and recent reports
 * are kept as bytes (3bcca52); the fourth session's 0.86 was the GC copying what each sent
 * message kept alive.
 */
const SEND_MANY_QUIET_BAR = 0.9;
/**
 * The bar of the tight `await send()` loop: the 90%. Since 3bcca52 it keeps 0.915-0.97
 * on a quiet machine (Node 20: 0.964, 0.949, 0.915; Node 24: 0.964, 0.967, 0.939), against
 * 0.85-0.88 on Node 24 before, when the young-generation GC copied ~0.7 KB per sent message
 * (correlation records and recent reports as objects) in pauses of up to 26 ms.
 */
const TIGHT_LOOP_QUIET_BAR = 0.9;

/** Counts the ticks of a 10 ms interval during `work`, and the longest gap between two ticks. */
async function ticksDuring(work: () => Promise<unknown>): Promise<{ ticks: number; expected: number; longestGapMs: number; longestBusyMs: number; elapsedMs: number }> {
  // Start on a fresh turn of the loop, after whatever the test set up.
  await new Promise((resolve) => setTimeout(resolve, 20));
  let ticks = 0;
  const start = performance.now();
  let last = start;
  let longestGapMs = 0;
  // CPU time this process used between two ticks: a gap the OS caused (the process was
  // descheduled on a loaded machine) uses little, a gap the mailer caused uses all of it.
  let lastCpu = process.cpuUsage();
  let longestBusyMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    const cpu = process.cpuUsage();
    // Process CPU counts every thread (GC helpers, the thread pool), so it can exceed the wall
    // time of the gap; the main thread cannot have been busy for longer than the gap itself.
    longestBusyMs = Math.max(longestBusyMs, Math.min((cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000, now - last));
    lastCpu = cpu;
    longestGapMs = Math.max(longestGapMs, now - last);
    last = now;
    ticks++;
  }, INTERVAL_MS);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  const end = performance.now();
  longestGapMs = Math.max(longestGapMs, end - last);
  const elapsedMs = end - start;
  if (process.env.MAILPUSH_LOOP_REPORT !== undefined) console.log(`ticks ${ticks} of ${Math.floor(elapsedMs / INTERVAL_MS)}, longest gap ${longestGapMs.toFixed(1)} ms (busy ${longestBusyMs.toFixed(1)} ms), ${elapsedMs.toFixed(0)} ms`);
  return { ticks, expected: Math.floor(elapsedMs / INTERVAL_MS), longestGapMs, longestBusyMs, elapsedMs };
}

/** A transport that accepts everything at once and keeps nothing. */
function instantTransport(): Transport & { count: number } {
  const t = {
    name: 'instant',
    capabilities: { rawMime: true },
    count: 0,
    send(prepared: PreparedMessage): Promise<SendResult> {
      t.count++;
      return Promise.resolve({ accepted: prepared.envelope.to, rejected: [] });
    },
  };
  return t;
}

const mailers: Mailer[] = [];
afterEach(async () => {
  await Promise.all(mailers.splice(0).map((m) => m.close({ timeoutMs: 1000 })));
});

const message = (i: number) => ({ from: 'App <app@example.com>', to: `user${i}@d${i % 100}.example`, subject: `Code ${i}`, text: 'Your code is 123456.' });

type Ticks = Awaited<ReturnType<typeof ticksDuring>>;

/**
 * Size of the feedback batches: 100,000, so that even a fast machine takes long enough for 20
 * ticks to fall due (50,000 took 180 ms in CI once the processor got faster).
 */
const BATCH = 100_000;

/** A batch of `n` hard bounces, as the host's JSON.parse of a webhook body or an export gives it. */
function hardBounces(n: number): FeedbackEvent[] {
  const events: FeedbackEvent[] = [];
  for (let i = 0; i < n; i++) {
    events.push({ type: 'bounced', provider: 'dsn', recipient: `user${i}@d${i % 100}.example`, timestamp: Date.now(), hard: true, raw: {} } as unknown as FeedbackEvent);
  }
  return events;
}

/**
 * The share of ticks that the best-behaved CPU-bound work keeps on this machine right now: a
 * spin that yields every millisecond for `ms`. On an idle machine it is ~95-100%; when other
 * processes compete for the cores the OS deschedules this one and every kind of work loses
 * ticks.
 */
async function referenceShare(ms: number): Promise<number> {
  const r = await ticksDuring(async () => {
    const end = performance.now() + ms;
    while (performance.now() < end) {
      const sliceEnd = performance.now() + 1;
      while (performance.now() < sliceEnd) {
        // spin
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
  });
  return r.ticks / Math.max(1, r.expected);
}

/**
 * Asserts that `attempt` keeps >= `quietBar` of the ticks (quiet machine), and that the process never ran more than
 * 50 ms of CPU between two ticks (GC pauses included; a mailer that holds the loop runs
 * hundreds). The machine is shared by several test runs: when the reference spin (measured
 * right after) keeps less than 95% itself, the process is being descheduled, ticks are lost
 * whatever it runs (GC and the OS weigh more on a real workload than on the spin), and the
 * tick bar drops to half of what the reference kept; the CPU bar stays. Each attempt is tried
 * up to three times. A mailer that blocks the loop keeps no ticks and fails both bars.
 */
async function expectHealthy(attempt: () => Promise<Ticks>, minExpected = 20, quietBar = QUIET_BAR): Promise<void> {
  let last: { r: Ticks; bar: number; reference: number } | undefined;
  for (let i = 0; i < 3; i++) {
    const r = await attempt();
    // Long enough to mean something: enough ticks were due.
    expect(r.expected).toBeGreaterThanOrEqual(minExpected);
    const reference = await referenceShare(Math.min(r.elapsedMs, 1_000));
    const bar = reference >= 0.95 ? quietBar : 0.5 * reference;
    last = { r, bar, reference };
    if (process.env.MAILPUSH_LOOP_REPORT !== undefined) console.log(`kept ${(r.ticks / r.expected).toFixed(3)}, reference ${reference.toFixed(3)}, bar ${bar.toFixed(3)}, longest busy ${r.longestBusyMs.toFixed(1)} ms`);
    if (r.ticks / r.expected >= bar && r.longestBusyMs < 50) return;
  }
  const { r, bar, reference } = last!;
  expect(r.longestBusyMs, `longest CPU run between two ticks (gap ${r.longestGapMs.toFixed(0)} ms)`).toBeLessThan(50);
  expect(r.ticks / r.expected, `ticks kept; the reference spin kept ${reference.toFixed(2)}; longest gap ${r.longestGapMs.toFixed(0)} ms`).toBeGreaterThanOrEqual(bar);
}

describe('event-loop health', () => {
  it('keeps the ticks of a 10 ms interval during a tight `await send()` loop (memory store, memory transport)', async () => {
    await expectHealthy(async () => {
      const transport = memoryTransport({ record: false });
      const mailer = createMailer({ transport, store: memoryStore() });
      mailers.push(mailer);
      const r = await ticksDuring(async () => {
        for (let i = 0; i < 20_000; i++) await mailer.send(message(i));
        await mailer.onIdle();
      });
      expect(transport.count).toBe(20_000);
      return r;
    }, 20, TIGHT_LOOP_QUIET_BAR);
  }, 60_000);

  it('keeps the ticks of a 10 ms interval during a 100,000-recipient sendMany with an instant transport', async () => {
    function* recipients(): Generator<ReturnType<typeof message>> {
      for (let i = 0; i < 100_000; i++) yield message(i);
    }
    await expectHealthy(async () => {
      const transport = instantTransport();
      const mailer = createMailer({ transport, store: memoryStore() });
      mailers.push(mailer);
      let result: Awaited<ReturnType<Mailer['sendMany']>> | undefined;
      const r = await ticksDuring(async () => {
        result = await mailer.sendMany(recipients());
        await mailer.onIdle();
      });
      expect(result?.queued).toBe(100_000);
      expect(transport.count).toBe(100_000);
      return r;
    }, 20, SEND_MANY_QUIET_BAR);
  }, 120_000);

  it('keeps the ticks of the interval while the dispatch pump drains 20,000 queued jobs', async () => {
    await expectHealthy(async () => {
      const transport = instantTransport();
      // A transport that holds every send until released: the jobs pile up, then drain at once.
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      const gated: Transport = { ...transport, send: (p, c) => gate.then(() => transport.send(p, c)) };
      const mailer = createMailer({ transport: gated, store: memoryStore(), limits: { concurrency: 50 } });
      mailers.push(mailer);
      for (let i = 0; i < 20_000; i++) await mailer.send(message(i));
      const r = await ticksDuring(async () => {
        open();
        await mailer.onIdle();
      });
      expect(transport.count).toBe(20_000);
      return r;
    }, 5);
  }, 60_000);

  it('keeps the ticks of the interval while the feedback processor works through a batch of 100,000 bounces', async () => {
    const events = hardBounces(BATCH);
    await expectHealthy(async () => {
      const suppression = memorySuppressionStore();
      const processor = createFeedbackProcessor({ suppression });
      const r = await ticksDuring(() => processor.ingest(events));
      expect(suppression.size).toBe(BATCH);
      return r;
    });
  }, 60_000);

  it('keeps the ticks of the interval while the feedback processor works through 100,000 bounces with keepEvents: false', async () => {
    // Only the suppression entries survive the batch (~120 bytes per event against ~400 when the
    // result lists every event), so the young-generation GC pauses are about a third as long.
    const events = hardBounces(BATCH);
    await expectHealthy(async () => {
      const suppression = memorySuppressionStore();
      const processor = createFeedbackProcessor({ suppression });
      let seen = 0;
      const r = await ticksDuring(async () => {
        const result = await processor.ingest(events, { keepEvents: false, onEvent: () => void seen++ });
        expect(result).toMatchObject({ events: [], processed: BATCH, suppressed: BATCH });
      });
      expect(seen).toBe(BATCH);
      expect(suppression.size).toBe(BATCH);
      return r;
    });
  }, 60_000);
});
