/**
 * Rate-limit accuracy: one recipient domain limited to R = 50/s must get R ± 5 % over 10 s
 * of real time, while an unlimited domain in the same mailer keeps its throughput. The
 * unlimited domain's throughput is compared with a run without the limited domain (the
 * baseline). Transport: no-op with a 1 ms latency (setTimeout), concurrency 50. Both domains
 * stay backlogged for the whole window: the limited one gets 1.5 x R x window jobs upfront,
 * the unlimited one is topped up every 50 ms.
 *
 * Run: npx tsx bench/rate.ts [--quick] [--rounds N]
 */

import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createMailer } from '../src/mailer/index.js';
import type { Mailer } from '../src/mailer/index.js';
import type { MessageInput, PreparedMessage, SendResult, Transport } from '../src/types.js';
import { fmt, header, median, nowMs, parseFlags, result, sleep, summary } from './common.js';

const flags = parseFlags(3);
const RATE = 50;
const WINDOW_MS = flags.quick ? 1_000 : 10_000;
const LATENCY_MS = 1;
const CONCURRENCY = 50;
const LIMITED = 'limited.example';
const FAST = 'fast.example';
const TOP_UP_BELOW = 2_500;
const TOP_UP_TO = 5_000;

const text = 'Your weekly summary is ready. Sign in to see the details of your account activity. '.repeat(3);

interface Window {
  start: number;
  end: number;
}

interface Run {
  /** Limited-domain sends received inside the window. */
  readonly limitedCount: number;
  /** Rate between the first and the last limited send inside the window, per second. */
  readonly limitedSteadyRate: number;
  /** Unlimited-domain sends per second inside the window. */
  readonly fastRate: number;
  /** Longest event-loop stall in the window, ms. A stall longer than burst / rate (50 ms here) loses tokens. */
  readonly maxLoopDelayMs: number;
}

function counter(win: Window): Transport & { limited: number[]; fast: number } {
  const t = {
    name: 'fixed-latency',
    capabilities: { rawMime: true },
    limited: [] as number[],
    fast: 0,
    send(prepared: PreparedMessage): Promise<SendResult> {
      const now = nowMs();
      if (now >= win.start && now < win.end) {
        if (prepared.envelope.to[0]!.endsWith(`@${LIMITED}`)) t.limited.push(now);
        else t.fast++;
      }
      return new Promise((resolve) => setTimeout(() => resolve({ accepted: prepared.envelope.to, rejected: [] }), LATENCY_MS));
    },
  };
  return t;
}

function message(i: number, domain: string): MessageInput {
  return { from: 'App <app@example.com>', to: `user${i}@${domain}`, subject: `Summary ${i}`, text };
}

async function measure(withLimited: boolean): Promise<Run> {
  const win: Window = { start: Infinity, end: Infinity };
  const transport = counter(win);
  const mailer: Mailer = createMailer({ transport, limits: { concurrency: CONCURRENCY, domains: { [LIMITED]: { ratePerSecond: RATE } } } });
  mailer.on('sent', () => undefined);
  await mailer.ready();
  let seq = 0;
  if (withLimited) {
    // Enough to stay backlogged: send() gives the loop a turn now and then, so the limited
    // domain starts sending while the rest is queued, before the window opens.
    const n = Math.ceil((RATE * WINDOW_MS * 3) / 1000) + 100;
    for (let i = 0; i < n; i++) await mailer.send(message(seq++, LIMITED));
  }
  const topUp = async (): Promise<void> => {
    const queued = mailer.stats().domains[FAST]?.queued ?? 0;
    for (let i = queued; i < TOP_UP_TO; i++) await mailer.send(message(seq++, FAST));
  };
  await topUp();
  // The top-up in progress: send() yields the loop now and then, so it can still be running
  // when the window ends, and must finish before the mailer closes.
  let feeding: Promise<void> | undefined;
  const feeder = setInterval(() => {
    if (feeding !== undefined || (mailer.stats().domains[FAST]?.queued ?? 0) >= TOP_UP_BELOW) return;
    feeding = topUp().finally(() => (feeding = undefined));
  }, 50);
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  win.start = nowMs();
  win.end = win.start + WINDOW_MS;
  await sleep(WINDOW_MS + 20);
  loop.disable();
  clearInterval(feeder);
  await feeding;
  const leftLimited = mailer.stats().domains[LIMITED]?.queued ?? 0;
  await mailer.close({ timeoutMs: 1_000 });
  if (withLimited && leftLimited === 0) throw new Error('the limited domain ran out of jobs: the window was not backlogged');
  const l = transport.limited;
  const steady = l.length > 1 ? ((l.length - 1) / (l[l.length - 1]! - l[0]!)) * 1000 : 0;
  return { limitedCount: l.length, limitedSteadyRate: steady, fastRate: (transport.fast / WINDOW_MS) * 1000, maxLoopDelayMs: loop.max / 1e6 };
}

header('rate-limit accuracy', flags, `'${LIMITED}' limited to ${RATE}/s, '${FAST}' unlimited, ${WINDOW_MS / 1000} s window, transport latency ${LATENCY_MS} ms, concurrency ${CONCURRENCY}`);

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
  console.log(
    `   round ${r + 1}: limited ${m.limitedCount} sends in ${WINDOW_MS / 1000} s (${((m.limitedCount * 1000) / WINDOW_MS).toFixed(2)}/s, steady ${m.limitedSteadyRate.toFixed(2)}/s); unlimited ${fmt(m.fastRate)}/s with, ${fmt(base[r]!.fastRate)}/s without the limited domain; longest loop stall ${m.maxLoopDelayMs.toFixed(0)} ms`,
  );
}

const achieved = mine.map((m) => (m.limitedCount * 1000) / WINDOW_MS);
const accuracy = achieved.map((a) => a / RATE);
const worst = Math.max(...accuracy.map((a) => Math.abs(a - 1)));
result(`limited domain rate (/s)`, `${RATE} (configured)`, summary(achieved, 2), summary(accuracy, 3), `${RATE} ± 5% (ratio 0.95–1.05) in every round`, worst <= 0.05);
result(
  `limited domain steady rate, first to last send (/s)`,
  `${RATE} (configured)`,
  summary(mine.map((m) => m.limitedSteadyRate), 2),
  summary(mine.map((m) => m.limitedSteadyRate / RATE), 3),
  'none (informational)',
  undefined,
);
const fastRatio = mine.map((m, i) => m.fastRate / base[i]!.fastRate);
result(
  `unlimited domain throughput (/s), with vs without the limited domain`,
  summary(base.map((b) => b.fastRate), 0),
  summary(mine.map((m) => m.fastRate), 0),
  summary(fastRatio, 3),
  '>= 0.95',
  median(fastRatio) >= 0.95,
);
