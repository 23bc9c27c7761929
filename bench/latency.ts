/**
 * Critical-lane latency under a bulk backlog: 100,000 bulk jobs are queued behind a
 * transport with a fixed 1 ms latency (setTimeout) and concurrency 50; then a critical
 * message is sent every 10 ms for a few seconds. Latency is the time from the `send()`
 * call to the transport receiving the message. Baseline: the same critical sends with an
 * empty queue.
 *
 * Run: npx tsx bench/latency.ts [--quick] [--rounds N]
 */

import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks';
import { createMailer } from '../src/mailer/index.js';
import type { Mailer } from '../src/mailer/index.js';
import type { MessageInput, PreparedMessage, SendResult, Transport } from '../src/types.js';
import { fmt, header, median, nowMs, parseFlags, quantile, result, sleep, summary } from './common.js';

const flags = parseFlags(3);
const BULK = flags.quick ? 10_000 : 100_000;
const DURATION_MS = flags.quick ? 500 : 3_000;
const INTERVAL_MS = 10;
const LATENCY_MS = 1;
const CONCURRENCY = 50;
const DOMAINS = 100;

const text = 'Our spring collection is here. Open this mail to see what is new in the shop this week. '.repeat(3);

interface Run {
  readonly latencies: number[];
  /** Bulk jobs still queued when the measurement ended (must be > 0 for a fair test). */
  readonly bulkLeft: number;
  /** Bulk jobs delivered during the measurement window, per second. */
  readonly bulkRate: number;
  /** Longest event-loop stall during the window, ms (the process being descheduled shows here too). */
  readonly maxLoopDelayMs: number;
  /** Garbage-collection pauses during the window, ms. */
  readonly gcPausesMs: number[];
}

/**
 * A transport that answers after LATENCY_MS and timestamps critical messages on arrival. Bulk
 * sends wait until `open()` (the start of the window), so that the whole backlog is still
 * queued when the critical sends begin rather than half sent while it was being queued.
 */
function slowTransport(latencies: number[]): Transport & { bulk: number; open(): void } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const answer = (prepared: PreparedMessage): Promise<SendResult> => new Promise((resolve) => setTimeout(() => resolve({ accepted: prepared.envelope.to, rejected: [] }), LATENCY_MS));
  const t = {
    name: 'fixed-latency',
    capabilities: { rawMime: true },
    bulk: 0,
    open: () => release(),
    send(prepared: PreparedMessage): Promise<SendResult> {
      const t0 = prepared.message.metadata.t0;
      if (typeof t0 === 'number') {
        latencies.push(nowMs() - t0);
        return answer(prepared);
      }
      return gate.then(() => {
        t.bulk++;
        return answer(prepared);
      });
    },
  };
  return t;
}

function bulkMessage(i: number): MessageInput {
  return { from: 'News <news@example.com>', to: `user${i}@d${i % DOMAINS}.example`, subject: `Spring ${i}`, text, category: 'marketing' };
}

async function measure(withBacklog: boolean): Promise<Run> {
  const latencies: number[] = [];
  const transport = slowTransport(latencies);
  const mailer: Mailer = createMailer({ transport, limits: { concurrency: CONCURRENCY } });
  mailer.on('sent', () => undefined);
  await mailer.ready();
  if (withBacklog) {
    for (let i = 0; i < BULK; i++) await mailer.send(bulkMessage(i), { priority: 'bulk', skipMarketingCompliance: true });
  }
  const bulkBefore = transport.bulk;
  transport.open();
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const gcPausesMs: number[] = [];
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcPausesMs.push(e.duration);
  });
  gc.observe({ entryTypes: ['gc'] });
  const start = nowMs();
  let n = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (nowMs() - start >= DURATION_MS) {
        clearInterval(timer);
        resolve();
        return;
      }
      const t0 = nowMs();
      void mailer.send({ from: 'App <app@example.com>', to: `reset${n++}@users.example`, subject: 'Reset your password', text: 'Code 123456', metadata: { t0 } }, { priority: 'critical' });
    }, INTERVAL_MS);
  });
  // Let the last critical message through.
  await sleep(50);
  const elapsed = nowMs() - start;
  loop.disable();
  gc.disconnect();
  const stats = mailer.stats();
  const run: Run = { latencies, bulkLeft: stats.queued.bulk, bulkRate: ((transport.bulk - bulkBefore) / elapsed) * 1000, maxLoopDelayMs: loop.max / 1e6, gcPausesMs };
  await mailer.close({ timeoutMs: 1_000 });
  if (latencies.length < n) throw new Error(`only ${latencies.length} of ${n} critical messages arrived`);
  return run;
}

function gcLine(run: Run): string {
  const g = run.gcPausesMs;
  const total = g.reduce((a, b) => a + b, 0);
  return `GC ${g.length} pauses, longest ${Math.max(0, ...g).toFixed(1)} ms, total ${total.toFixed(0)} ms`;
}

header(
  'critical-lane latency',
  flags,
  `${fmt(BULK)} bulk jobs queued, transport latency ${LATENCY_MS} ms, concurrency ${CONCURRENCY}, one critical send every ${INTERVAL_MS} ms for ${DURATION_MS} ms`,
);

if (!flags.quick) await measure(false); // warm-up
const base: Run[] = [];
const mine: Run[] = [];
for (let r = 0; r < flags.rounds; r++) {
  if (r % 2 === 0) {
    base.push(await measure(false));
    mine.push(await measure(true));
  } else {
    mine.push(await measure(true));
    base.push(await measure(false));
  }
  const m = mine[r]!;
  const sorted = [...m.latencies].sort((a, b) => a - b);
  console.log(
    `   round ${r + 1}: ${m.latencies.length} critical sends, p50 ${quantile(sorted, 0.5).toFixed(2)} ms, p99 ${quantile(sorted, 0.99).toFixed(2)} ms, max ${sorted[sorted.length - 1]!.toFixed(2)} ms; bulk ${fmt(m.bulkRate)}/s, ${fmt(m.bulkLeft)} bulk left at the end; longest loop stall ${m.maxLoopDelayMs.toFixed(0)} ms (baseline run ${base[r]!.maxLoopDelayMs.toFixed(0)} ms); ${gcLine(m)}`,
  );
}

const stat = (runs: Run[], q: number): number[] =>
  runs.map((r) => {
    const s = [...r.latencies].sort((a, b) => a - b);
    return q === 1 ? s[s.length - 1]! : quantile(s, q);
  });
for (const [label, q] of [['p50', 0.5], ['p99', 0.99], ['max', 1]] as const) {
  const b = stat(base, q);
  const m = stat(mine, q);
  const target = label === 'p99' ? '< 20 ms' : 'none (informational)';
  result(
    `critical ${label} latency (ms)`,
    summary(b, 3),
    summary(m, 3),
    summary(m.map((x, i) => x / b[i]!), 1),
    target,
    label === 'p99' ? median(m) < 20 : undefined,
  );
}
const drained = mine.filter((r) => r.bulkLeft === 0).length;
if (drained > 0) console.log(`   WARNING: the bulk backlog drained before the end in ${drained} round(s); latency is then understated`);
console.log(`   bulk throughput during the window: ${summary(mine.map((r) => r.bulkRate), 0, '/s')}`);
