/**
 * Scale-out on Redis/BullMQ: worker processes sharing one queue and one set of domain limits.
 *
 * 1. Throughput with 1, 2 and 4 worker processes (bench/fleet-worker.ts), each limited to 5
 *    concurrent sends (`limits.concurrency`, `laneConcurrency` and SMTP connections), against
 *    an SMTP sink in its own process (bench/fleet-sink.ts) that answers each message 20 ms
 *    after its data, so that the work is mostly waiting (the CPU each message costs in every
 *    process and in Redis is printed: on 2 cores, 4 workers reach that limit). The queue is
 *    filled by a producer (this process, `role: 'producer'`) before the workers start; the
 *    rate is taken at the sink, from the first to the last arrival. Rounds interleave the
 *    worker counts; the ratio is taken within each round. Goal: 4 workers >= 3x one worker.
 * 2. Redis round trips per delivered message, counted on the client side in every process
 *    (producer and 2 idle workers, then messages sent): each single command is one round trip,
 *    each pipeline (a MULTI/EXEC block, or what ioredis auto-pipelines from one tick) one.
 *    Goal: <= 3 including the limit check. The server's `total_commands_processed` delta is
 *    printed too: it also counts the commands run inside Lua scripts (and any other client of
 *    that Redis).
 * 3. Limit accuracy: 4 workers, one domain limited to 50/s, a backlog larger than the window;
 *    arrivals at the sink over 10 s from the first one. Goal: 50/s +- 5%.
 *
 * Needs Redis on 127.0.0.1:$REDIS_PORT (default 6379); uses its own key prefix and deletes
 * its keys at the end.
 *
 * Run: npx tsx bench/fleet.ts [--quick] [--rounds N] [--sink-delay-ms 20] [--per-worker 400] [--no-transport-gate]
 */

import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { bullmqStore } from '../src/bullmq/index.js';
import { createMailer } from '../src/mailer/index.js';
import type { Mailer } from '../src/mailer/index.js';
import smtpTransport from '../src/transports/smtp.js';
import { fmt, header, median, parseFlags, result, sleep, summary } from './common.js';
import { addRoundTrips, adminClient, countRedisRoundTrips, deleteKeys, REDIS, serverCommands, serverCpuMs, startLineChild } from './fleet-common.js';
import type { LineChild, RoundTrips } from './fleet-common.js';

const flags = parseFlags(3);
/** `--sink-delay-ms N` and `--per-worker N` change the workload (defaults: the issue's 20 ms; 400, or 25 with --quick). */
function numberFlag(name: string): number | undefined {
  const i = process.argv.indexOf(name);
  if (i < 0) return undefined;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n < 0) throw new Error(`Expected ${name} to be an integer >= 0, got ${String(process.argv[i + 1])}`);
  return n;
}
const SINK_DELAY_MS = numberFlag('--sink-delay-ms') ?? 20;
const CONCURRENCY = 5;
const WORKER_COUNTS = [1, 2, 4] as const;
/** Messages per worker in a throughput round (about 2 s of work at ~220/s per worker). */
const PER_WORKER = numberFlag('--per-worker') ?? (flags.quick ? 25 : 400);
const ROUND_TRIP_MESSAGES = flags.quick ? 50 : 600;
const LIMITED = 'limited.test';
const RATE = 50;
const LIMIT_WINDOW_MS = flags.quick ? 1_500 : 10_000;
const LIMIT_ROUNDS = flags.quick ? 1 : 2;
const DOMAINS = 16;
/** `--no-transport-gate`: see bench/fleet-worker.ts (a check that the transport's connection count stays per process). */
const NO_TRANSPORT_GATE = process.argv.includes('--no-transport-gate');

const counter = countRedisRoundTrips();
const admin = adminClient();
try {
  await admin.connect();
  await admin.ping();
} catch (err) {
  console.error(`bench/fleet.ts needs Redis on ${REDIS.host}:${REDIS.port} (start one with \`redis-server\`; REDIS_PORT selects another port): ${(err as Error).message}`);
  process.exit(1);
}

header(
  'fleet: scale-out on Redis/BullMQ',
  flags,
  `worker processes with ${CONCURRENCY} concurrent sends each, SMTP sink answering after ${SINK_DELAY_MS} ms (own process), Redis ${REDIS.host}:${REDIS.port}; ` +
    `${PER_WORKER} messages per worker per round; limit ${LIMITED} ${RATE}/s over ${LIMIT_WINDOW_MS / 1000} s${NO_TRANSPORT_GATE ? '; --no-transport-gate: the SMTP transport\'s maxConcurrency hidden from the mailer' : ''}`,
);

const prefix = `mailpush-bench:${randomBytes(4).toString('hex')}:`;
const sink = startLineChild('fleet-sink.ts', [String(SINK_DELAY_MS)]);
const children: LineChild[] = [sink];
let producer: Mailer | undefined;

const text = 'Your weekly summary is ready. Sign in to see the details of your account activity. '.repeat(3);
let seq = 0;

/** Queues `n` messages through the producer, `batch` send() calls in flight at a time. */
async function fill(n: number, domain: (i: number) => string): Promise<void> {
  const batch = 100;
  for (let i = 0; i < n; i += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, n - i) }, () => {
        const k = seq++;
        return (producer as Mailer).send({ from: 'App <app@example.com>', to: `user${k}@${domain(k)}`, subject: `Summary ${k}`, text });
      }),
    );
  }
}

async function sinkCount(): Promise<number> {
  return Number((await sink.ask('count', 'count')).count);
}

/** Waits until the sink has `n` messages; throws after `timeoutMs`. */
async function waitForSink(n: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const count = await sinkCount();
    if (count >= n) return;
    if (Date.now() > until) throw new Error(`the sink got ${count} of ${n} messages within ${timeoutMs} ms`);
    await sleep(20);
  }
}

async function stamps(domain = ''): Promise<number[]> {
  return (await sink.ask(`stamps ${domain}`.trim(), 'stamps')).stamps as number[];
}

interface Stopped {
  readonly sent: number;
  readonly cpuMs: number;
}

const sinkCpuMs = async (): Promise<number> => Number((await sink.ask('cpu', 'cpuMs')).cpuMs);
const ownCpuMs = (): number => {
  const cpu = process.cpuUsage();
  return (cpu.user + cpu.system) / 1000;
};

const start = (ws: readonly LineChild[]): Promise<unknown> => Promise.all(ws.map((w) => w.ask('start', 'started')));
const stop = async (ws: readonly LineChild[]): Promise<Stopped[]> => (await Promise.all(ws.map((w) => w.ask('stop', 'stopped')))) as unknown as Stopped[];

try {
  const hello = await sink.next('port');
  const sinkPort = Number(hello.port);
  const workers = Array.from({ length: Math.max(...WORKER_COUNTS) }, () =>
    startLineChild('fleet-worker.ts', [JSON.stringify({ prefix, sinkPort, concurrency: CONCURRENCY, domains: { [LIMITED]: { ratePerSecond: RATE } }, noTransportGate: NO_TRANSPORT_GATE })]),
  );
  children.push(...workers);
  await Promise.all(workers.map((w) => w.next('ready')));
  producer = createMailer({
    transport: smtpTransport({ host: '127.0.0.1', port: sinkPort }),
    store: bullmqStore({ connection: REDIS, prefix, role: 'producer' }),
  });
  await producer.ready();

  // ---------------------------------------------------------------------------------------
  // 1. Throughput with 1, 2 and 4 workers.
  // ---------------------------------------------------------------------------------------
  const rates = new Map<number, number[]>(WORKER_COUNTS.map((w) => [w, []]));
  const ratios = new Map<number, number[]>(WORKER_COUNTS.map((w) => [w, []]));
  const shares: string[] = [];
  /** CPU ms per delivered message by process kind, per worker count. */
  const cpu = new Map<number, { workers: number[]; producer: number[]; sink: number[]; redis: number[] }>(WORKER_COUNTS.map((w) => [w, { workers: [], producer: [], sink: [], redis: [] }]));
  for (let round = 0; round < flags.rounds; round++) {
    // Interleaved, with the order rotated each round.
    const order = WORKER_COUNTS.map((_, i) => WORKER_COUNTS[(i + round) % WORKER_COUNTS.length]!);
    const inRound = new Map<number, number>();
    for (const w of order) {
      await sink.ask('reset', 'count');
      const n = PER_WORKER * w;
      const [sink0, redis0, own0] = [await sinkCpuMs(), await serverCpuMs(admin), ownCpuMs()];
      await fill(n, (k) => `d${k % DOMAINS}.test`);
      const ws = workers.slice(0, w);
      await start(ws);
      await waitForSink(n, 120_000);
      const [sink1, redis1, own1] = [await sinkCpuMs(), await serverCpuMs(admin), ownCpuMs()];
      const stopped = await stop(ws);
      const c = cpu.get(w)!;
      c.workers.push(stopped.reduce((a, x) => a + x.cpuMs, 0) / n);
      c.producer.push((own1 - own0) / n);
      c.sink.push((sink1 - sink0) / n);
      c.redis.push((redis1 - redis0) / n);
      const t = await stamps();
      const rate = ((t.length - 1) / ((t[t.length - 1] as number) - (t[0] as number))) * 1000;
      rates.get(w)!.push(rate);
      inRound.set(w, rate);
      if (w === 4) shares.push(stopped.map((s) => s.sent).join('/'));
    }
    for (const w of WORKER_COUNTS) ratios.get(w)!.push(inRound.get(w)! / inRound.get(1)!);
    console.log(`   round ${round + 1}: ${WORKER_COUNTS.map((w) => `${w} worker(s) ${fmt(inRound.get(w)!, 0)} msg/s`).join(', ')}`);
  }
  const one = rates.get(1)!;
  for (const w of WORKER_COUNTS.slice(1)) {
    const target = w === 4 ? '>= 3.0' : 'info';
    result(
      `throughput, ${w} workers vs 1 (msg/s at the sink)`,
      summary(one, 0),
      summary(rates.get(w)!, 0),
      summary(ratios.get(w)!, 2),
      target,
      w === 4 ? median(ratios.get(w)!) >= 3 : undefined,
    );
  }
  console.log(`   messages per worker with 4 workers, per round: ${shares.join(', ')}`);
  // Two cores shared by the workers, the producer, the sink and Redis: the CPU each message
  // costs bounds the throughput whatever the number of workers.
  for (const w of WORKER_COUNTS) {
    const c = cpu.get(w)!;
    const parts = { workers: median(c.workers), producer: median(c.producer), sink: median(c.sink), redis: median(c.redis) };
    const total = parts.workers + parts.producer + parts.sink + parts.redis;
    console.log(
      `   CPU per delivered message with ${w} worker(s), medians: workers ${fmt(parts.workers, 2)} ms, producer (this process) ${fmt(parts.producer, 2)} ms, ` +
        `sink ${fmt(parts.sink, 2)} ms, Redis ${fmt(parts.redis, 2)} ms; total ${fmt(total, 2)} ms = at most ${fmt((cpus().length * 1000) / total, 0)} msg/s on ${cpus().length} idle cores`,
    );
  }

  // ---------------------------------------------------------------------------------------
  // 2. Redis round trips per delivered message: 2 idle workers, then the producer sends.
  // ---------------------------------------------------------------------------------------
  await sink.ask('reset', 'count');
  const rtWorkers = workers.slice(0, 2);
  await start(rtWorkers);
  await sleep(300);
  await Promise.all(rtWorkers.map((w) => w.ask('reset', 'reset')));
  counter.reset();
  const serverBefore = await serverCommands(admin);
  await fill(ROUND_TRIP_MESSAGES, (k) => `d${k % DOMAINS}.test`);
  const producerCounts = counter.snapshot();
  await waitForSink(ROUND_TRIP_MESSAGES, 120_000);
  // Let the last releases and settles reach Redis before counting.
  await sleep(200);
  const workerCounts = (await Promise.all(rtWorkers.map((w) => w.ask('counts', 'counts')))).map((l) => l.counts as RoundTrips);
  const serverAfter = await serverCommands(admin);
  await stop(rtWorkers);
  const delivered = await sinkCount();
  const workerTotal = addRoundTrips(workerCounts);
  const perMessage = (producerCounts.roundTrips + workerTotal.roundTrips) / delivered;
  result(
    'Redis round trips per delivered message (client side, producer + 2 workers)',
    '-',
    `${fmt(perMessage, 2)} (producer ${fmt(producerCounts.roundTrips / delivered, 2)}, workers ${fmt(workerTotal.roundTrips / delivered, 2)}; ${delivered} messages)`,
    '-',
    '<= 3',
    perMessage <= 3,
  );
  const breakdown = (r: RoundTrips): string =>
    Object.entries(r.byLabel)
      .sort(([, a], [, b]) => b - a)
      .map(([label, n]) => `${label} ${fmt(n / delivered, 2)}`)
      .join(', ');
  console.log(`   producer, per message: ${breakdown(producerCounts)}`);
  console.log(`   workers, per message: ${breakdown(workerTotal)}`);
  console.log(
    `   commands written per message: ${fmt((producerCounts.commands + workerTotal.commands) / delivered, 2)}; ` +
      `Redis total_commands_processed per message (server-wide, includes the commands inside Lua scripts and other clients): ${fmt((serverAfter - serverBefore) / delivered, 1)}`,
  );

  // ---------------------------------------------------------------------------------------
  // 3. Limit accuracy: 4 workers, one domain at 50/s.
  // ---------------------------------------------------------------------------------------
  const limitRates: number[] = [];
  const steadyRates: number[] = [];
  const peaks: number[] = [];
  for (let round = 0; round < LIMIT_ROUNDS; round++) {
    await sink.ask('reset', 'count');
    const n = Math.ceil((RATE * (LIMIT_WINDOW_MS + 2_000)) / 1000);
    await fill(n, () => LIMITED);
    await start(workers);
    await waitForSink(n, LIMIT_WINDOW_MS * 3 + 30_000);
    const stopped = await stop(workers);
    const t = await stamps(LIMITED);
    const t0 = t[0] as number;
    const inWindow = t.filter((x) => x < t0 + LIMIT_WINDOW_MS);
    const rate = inWindow.length / (LIMIT_WINDOW_MS / 1000);
    // Without the first second (the bucket's initial burst, and the tokens taken while the new
    // SMTP connections waited for their greeting).
    const steady = inWindow.filter((x) => x >= t0 + 1000).length / (LIMIT_WINDOW_MS / 1000 - 1);
    // Largest number of arrivals in any 1 s window.
    let peak = 0;
    for (let i = 0, j = 0; i < t.length; i++) {
      while ((t[i] as number) - (t[j] as number) >= 1000) j++;
      peak = Math.max(peak, i - j + 1);
    }
    limitRates.push(rate);
    steadyRates.push(steady);
    peaks.push(peak);
    console.log(
      `   limit round ${round + 1}: ${inWindow.length} arrivals in ${LIMIT_WINDOW_MS / 1000} s from the first = ${fmt(rate, 2)}/s; without the first second ${fmt(steady, 2)}/s; ` +
        `busiest 1 s window ${peak}; per worker ${stopped.map((s) => s.sent).join('/')}`,
    );
  }
  const ok = limitRates.every((r) => Math.abs(r - RATE) <= RATE * 0.05);
  result(`${LIMITED} limited to ${RATE}/s, 4 workers, arrivals over ${LIMIT_WINDOW_MS / 1000} s`, `${RATE}/s (configured)`, summary(limitRates, 2, '/s'), fmt(median(limitRates) / RATE, 3), `${RATE} +- 5% every round`, ok);
  console.log(`   without the first second: ${summary(steadyRates, 2, '/s')}; busiest 1 s window: ${peaks.join(', ')} arrivals (the bucket holds a burst of ${Math.max(2, RATE / 10)} tokens)`);
} finally {
  await producer?.close({ timeoutMs: 2_000 });
  await Promise.all(children.map((c) => c.close()));
  const deleted = await deleteKeys(admin, prefix).catch(() => 0);
  admin.disconnect();
  console.log(`   cleaned up ${deleted} Redis keys under ${prefix}`);
}
