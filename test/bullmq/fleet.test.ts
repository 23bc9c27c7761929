/**
 * A mailer fleet with real processes (issue 10): one producer and four workers
 * (test/fixtures/bullmq-fleet-child.ts), each a mailer on `bullmqStore` with its own Redis
 * connections and a short lock, sharing one key prefix, delivering over SMTP to a sink that
 * runs in this process. The sink's receive times and the Message-IDs of what it received are
 * the measure: shared rate limits, no loss and bounded duplicates when a worker is SIGKILLed,
 * a shared suppression list, critical-lane latency behind a bulk backlog, and a Redis restart.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { startSmtpSink } from '../../src/testing/smtp-sink.js';
import type { SinkMessage, SmtpSink, SmtpSinkOptions } from '../../src/testing/smtp-sink.js';
import { deleteKeys, REDIS, testPrefix } from './helpers.js';
import { freePort, percentile, post, startFleetChild, startRedisServer, stopRedisServer } from './fleet-helpers.js';
import type { FleetChild, Line } from './fleet-helpers.js';

// The workers' BullMQ lock. Short, so that a SIGKILLed worker's jobs come back within
// seconds, but not 2 s: BullMQ renews a lock every LOCK_MS / 2, and on a machine at a load
// average of 20 a live worker starved for more than a second lost its locks, so its jobs ran
// twice (duplicates in the exactly-once test; stalled events 3 to 5 s before the kill in the
// SIGKILL test). At 6 s a worker must be starved for 3 s.
const LOCK_MS = 6_000;

const children: FleetChild[] = [];
const sinks: SmtpSink[] = [];
const prefixes: { prefix: string; port: number }[] = [];
const servers: ChildProcess[] = [];
const closers: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  const dying = children.splice(0);
  for (const c of dying) if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill('SIGKILL');
  // Gone before their keys are deleted: nothing writes to the prefix afterwards.
  await Promise.all(dying.map((c) => c.exited));
  await Promise.all(closers.splice(0).map((close) => close().catch(() => undefined)));
  await Promise.all(sinks.splice(0).map((s) => s.close()));
  for (const { prefix, port } of prefixes.splice(0)) await deleteKeys(prefix, { host: REDIS.host, port }).catch(() => undefined);
  for (const s of servers.splice(0)) await stopRedisServer(s);
}, 30_000);

async function sink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const s = await startSmtpSink({ disableStartTls: true, parse: false, keepRaw: true, ...options });
  sinks.push(s);
  return s;
}

/** A fleet on a fresh prefix: `start(role, extra)` spawns a process of it. */
function fleet(smtpPort: number, redisPort = REDIS.port) {
  const prefix = testPrefix();
  prefixes.push({ prefix, port: redisPort });
  return {
    prefix,
    start(role: 'producer' | 'worker', extra: Record<string, unknown> = {}): FleetChild {
      const child = startFleetChild({ role, redisPort, prefix, smtpPort, lockDurationMs: LOCK_MS, ...extra });
      children.push(child);
      return child;
    },
  };
}

const ready = (cs: readonly FleetChild[]): Promise<unknown> => Promise.all(cs.map((c) => c.next((l) => l.ready === true, 30_000)));

/** What the sink received, with the headers the tests match on. */
interface Received {
  readonly to: string;
  readonly at: number;
  readonly messageId: string;
  readonly jobId: string;
}

function header(raw: string, name: string): string {
  const head = raw.slice(0, raw.indexOf('\r\n\r\n'));
  const m = new RegExp(`^${name}:[ \\t]*(.*(?:\\r\\n[ \\t].*)*)`, 'mi').exec(head);
  return m === null ? '' : (m[1] as string).replace(/\r\n[ \t]+/g, ' ').trim();
}

function received(s: SmtpSink, from = 0): Received[] {
  return s.messages.slice(from).map((m: SinkMessage) => {
    const raw = (m.raw as Buffer).toString('latin1');
    return { to: m.envelope.to[0] as string, at: m.receivedAt, messageId: header(raw, 'Message-ID'), jobId: header(raw, 'X-Mailpush-Job-Id') };
  });
}

/** How many times each key occurs. */
function tally<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

type Ack = { i: number; id: string; messageId: string; at: number };
const acksOf = (line: Line): Ack[] => line.acks as Ack[];
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Jobs waiting in a lane's BullMQ queue (waiting, prioritized, delayed or taken), counted in Redis. */
async function laneDepth(prefix: string, lane: string): Promise<number> {
  const redis = new Redis({ ...REDIS });
  try {
    const key = `${prefix}bull:${lane}`;
    const replies = (await redis.multi().llen(`${key}:wait`).zcard(`${key}:prioritized`).zcard(`${key}:delayed`).llen(`${key}:active`).exec()) ?? [];
    return replies.reduce((n, [, v]) => n + Number(v), 0);
  } finally {
    redis.disconnect();
  }
}

/** Most attempts in flight at once across processes, from their `sending` and `sent` lines. */
function maxInFlight(cs: readonly FleetChild[]): number {
  const edges: [number, number][] = [];
  for (const c of cs) {
    for (const l of c.lines) {
      if (l.e === 'sending') edges.push([l.at as number, 1]);
      else if (l.e === 'sent') edges.push([l.at as number, -1]);
    }
  }
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let max = 0;
  for (const [, d] of edges) max = Math.max(max, (now += d));
  return max;
}

describe('a mailer fleet: one producer and four worker processes on BullMQ', () => {
  /**
   * One run shared by the two tests after it: 240 messages to a domain limited to 20/s and 80
   * to an unlimited one, interleaved, all due at once (sendAt), so that the fleet drains a
   * queue that is fully there and the producer's enqueueing does not compete for the CPU.
   *
   * 20/s rather than the 50/s of bench/fleet.ts: on a 2-core machine shared with other work
   * (CI, or other test files in parallel), four workers, a producer and the sink could not
   * always keep up with 50/s plus the unlimited domain (46.6/s measured in the window at a load
   * average of 17, and the 200 unlimited messages then took 8.9 s), so both tests failed on CPU
   * starvation rather than on the limiter. At 20/s the fleet has CPU to spare and both tests
   * measure what they are about.
   */
  let rateRun: Promise<{ got: Received[]; acked: Line; done: Line; dueAt: number }> | undefined;
  const RATE = 20;
  const TOTAL = 320;
  const runRate = () =>
    (rateRun ??= (async () => {
      const s = await sink();
      const f = fleet(s.port);
      const limits = { domains: { 'limited.test': { ratePerSecond: RATE } } };
      const workers = Array.from({ length: 4 }, () => f.start('worker', { limits }));
      const producer = f.start('producer');
      await ready([...workers, producer]);
      const dueAt = Date.now() + 2_500;
      const rid = post(producer, { cmd: 'send', count: TOTAL, domains: ['limited.test', 'other.test', 'limited.test', 'limited.test'], tag: 'rate', sendAt: dueAt, concurrency: 8, done: true, acks: true });
      // Generous: enqueueing the 320 took 2 to 3 s at a load average of 20, over 30 s at 25.
      const acked = await producer.answer(rid, 'acked', 60_000);
      const done = await producer.answer(rid, 'done', 90_000);
      await s.waitFor(TOTAL, 10_000);
      await sleep(300); // a late duplicate would arrive now
      return { got: received(s), acked, done, dueAt };
    })());

  it('holds a 20/s domain to 20/s +-5% across four workers, delivers every message exactly once, and the producer learns every outcome', { timeout: 180_000 }, async () => {
    const { got, acked, done, dueAt } = await runRate();
    const limited = got.filter((r) => r.to.endsWith('@limited.test')).map((r) => r.at).sort((a, b) => a - b);
    const t0 = limited[0] as number;
    // The steady state: from 1 s after the first send (the bucket's initial burst and the
    // workers' rush on the jobs that just became due are behind) for 10 s.
    const windowStart = t0 + 1_000;
    const inWindow = limited.filter((t) => t >= windowStart && t < windowStart + 10_000).length;
    const rate = inWindow / 10;
    const last = limited[limited.length - 1] as number;
    const firstSecond = limited.filter((t) => t < t0 + 1_000).length;
    console.log(
      `fleet rate: limited.test ${inWindow} sends in the 10 s window = ${rate.toFixed(1)}/s; ${firstSecond} in the first second; ${limited.length} in ${((last - t0) / 1000).toFixed(2)} s; ` +
        `enqueue of ${TOTAL} took ${acked.ms as number} ms; first send ${t0 - dueAt} ms after they were due`,
    );
    expect(acked.failed).toEqual([]);
    // The limited domain had work queued all through the window.
    expect(last).toBeGreaterThanOrEqual(windowStart + 10_000);
    expect(rate).toBeGreaterThanOrEqual(RATE * 0.95);
    expect(rate).toBeLessThanOrEqual(RATE * 1.05);

    // Exactly once: every acknowledged Message-ID once, nothing else.
    const byId = tally(got, (r) => r.messageId);
    expect(got).toHaveLength(TOTAL);
    expect(new Set(byId.keys())).toEqual(new Set(acksOf(acked).map((a) => a.messageId)));
    expect([...byId.values()].filter((n) => n !== 1)).toEqual([]);
    expect(done.statuses).toEqual({ sent: TOTAL });
  });

  it('does not hold other domains back behind a rate-limited one (no head-of-line blocking across the fleet)', { timeout: 180_000 }, async () => {
    const { got } = await runRate();
    const first = Math.min(...got.map((r) => r.at));
    const other = got.filter((r) => r.to.endsWith('@other.test')).map((r) => r.at - first).sort((a, b) => a - b);
    const limitedLast = Math.max(...got.filter((r) => r.to.endsWith('@limited.test')).map((r) => r.at - first));
    console.log(`head-of-line: the 80 unlimited other.test messages (due with the limited ones) were all sent ${other[other.length - 1]} ms after the first send (median ${percentile(other, 50)} ms); limited.test took ${limitedLast} ms`);
    expect(other).toHaveLength(TOTAL / 4);
    // Held behind the limited ones in the lanes (one in four of the queue, the last one behind
    // 238 limited), the unlimited messages would go out at the limited domain's pace and finish
    // with it (about 12 s). Unblocked they take what the CPU needs for a few hundred local
    // sends. Measured against the limited domain's own span rather than a wall-clock bound,
    // which a loaded machine stretches.
    expect(other[other.length - 1]).toBeLessThan(limitedLast / 2);
  });

  it('lets every worker use its own connections: four workers with 5 each have more than 5 sends in flight', { timeout: 40_000 }, async () => {
    const s = await sink({ parse: false, keepRaw: false, rules: [{ match: /./, stage: 'data', delayMs: 100 }] });
    const f = fleet(s.port);
    const workers = Array.from({ length: 4 }, () => f.start('worker', { trace: true, maxConnections: 5 }));
    const producer = f.start('producer');
    await ready([...workers, producer]);
    const total = 80;
    const rid = post(producer, { cmd: 'send', count: total, domains: ['a.test', 'b.test', 'c.test', 'd.test'], tag: 'conc', sendAt: Date.now() + 1_500, concurrency: 8, done: true });
    const t = Date.now();
    await producer.answer(rid, 'done', 30_000);
    const max = maxInFlight(workers);
    console.log(`transport concurrency: 4 workers x 5 connections, 100 ms per message: at most ${max} sends in flight across the fleet; ${total} messages in ${Date.now() - t} ms`);
    expect(s.count).toBe(total);
    expect(max).toBeGreaterThan(10);
  });

  it('loses nothing when a worker is SIGKILLed mid-run: its jobs run again elsewhere after its lock runs out, duplicates only among its in-flight jobs, with the same Message-ID', { timeout: 90_000 }, async () => {
    const s = await sink({ rules: [{ match: /./, stage: 'data', delayMs: 50 }] });
    const f = fleet(s.port);
    // BullMQ reports each job it takes back from a dead worker.
    const events = new QueueEvents('normal', { connection: { ...REDIS }, prefix: `${f.prefix}bull` });
    closers.push(() => events.close());
    const stalled = new Map<string, number>();
    events.on('stalled', ({ jobId }) => stalled.set(jobId, Date.now()));
    await events.waitUntilReady();
    const workers = Array.from({ length: 4 }, () => f.start('worker', { trace: true }));
    const producer = f.start('producer');
    await ready([...workers, producer]);
    const total = 200;
    const rid = post(producer, { cmd: 'send', count: total, domains: ['a.test', 'b.test', 'c.test', 'd.test'], tag: 'kill', concurrency: 8, done: true, acks: true });
    while (s.count < 60) await sleep(10);
    const victim = workers[0] as FleetChild;
    const killedAt = Date.now();
    victim.process.kill('SIGKILL');
    await victim.exited;
    // The fleet-wide transport leases the victim held (they lapse only after limiter.leaseMs).
    const leaseRedis = new Redis({ ...REDIS });
    const leases = await leaseRedis.zrange(`${f.prefix}lim:l:*transport*`, 0, -1, 'WITHSCORES').finally(() => leaseRedis.disconnect());
    const acked = await producer.answer(rid, 'acked', 30_000);
    const done = await producer.answer(rid, 'done', 50_000);
    await s.waitFor(total, 10_000);
    await sleep(300);

    const got = received(s);
    const started = (c: FleetChild, after = 0): Set<string> => new Set(c.lines.filter((l) => l.e === 'sending' && (l.at as number) >= after).map((l) => l.job as string));
    const sentBy = (c: FleetChild): Set<string> => new Set(c.lines.filter((l) => l.e === 'sent').map((l) => l.job as string));
    const victimStarted = started(victim);
    const victimSent = sentBy(victim);
    const inFlightAtKill = [...victimStarted].filter((j) => !victimSent.has(j));
    const byJob = new Map<string, Received[]>();
    for (const r of got) byJob.set(r.jobId, [...(byJob.get(r.jobId) ?? []), r]);
    const duplicates = [...byJob].filter(([, copies]) => copies.length > 1).map(([job]) => job);
    const others = workers.slice(1);
    const deadLeases: number[] = [];
    for (let i = 0; i < leases.length; i += 2) if (victimStarted.has((leases[i] as string).split('#')[0] as string)) deadLeases.push(Number(leases[i + 1]) - killedAt);
    const rerunAt = [...stalled.keys()].map((job) => Math.min(...others.flatMap((c) => c.lines.filter((l) => l.e === 'sending' && l.job === job && (l.at as number) >= killedAt).map((l) => l.at as number))));
    console.log(
      `SIGKILL: victim had started ${victimStarted.size} sends (${inFlightAtKill.length} without a sent event at the kill); BullMQ took ${stalled.size} of its jobs back ` +
        `${Math.min(...stalled.values()) - killedAt}..${Math.max(...stalled.values()) - killedAt} ms after the kill (lockDurationMs ${LOCK_MS}); ` +
        `re-sent by other workers ${Math.min(...rerunAt) - killedAt}..${Math.max(...rerunAt) - killedAt} ms after it; ${duplicates.length} duplicate(s) at the sink; ${total} messages, sink got ${got.length}; ` +
        `the victim left ${deadLeases.length} of the fleet's transport leases behind${deadLeases.length > 0 ? `, lapsing ${deadLeases.map((ms) => Math.round(ms / 1000)).join(', ')} s after the kill` : ''}`,
    );

    // 0 lost: every acknowledged message reached the sink, and the producer learns it was sent.
    expect(acked.failed).toEqual([]);
    const acks = acksOf(acked);
    expect(acks).toHaveLength(total);
    const atSink = new Set(got.map((r) => r.messageId));
    expect(acks.filter((a) => !atSink.has(a.messageId))).toEqual([]);
    expect(done.statuses).toEqual({ sent: total });
    // The victim held jobs when it died, and the others took every one of them after the lock ran out.
    expect(stalled.size).toBeGreaterThan(0);
    for (const t of stalled.values()) expect(t - killedAt).toBeGreaterThanOrEqual(LOCK_MS / 2 - 200);
    for (const job of stalled.keys()) expect(byJob.has(job), job).toBe(true);
    expect(rerunAt.every(Number.isFinite)).toBe(true);
    // Duplicates: only jobs the victim had taken (and started) when it died, each copy with the job's one Message-ID.
    const messageIdOf = new Map(acks.map((a) => [a.id, a.messageId]));
    for (const job of duplicates) {
      expect(stalled.has(job), `duplicate ${job} was one of the victim's in-flight jobs`).toBe(true);
      expect(victimStarted.has(job)).toBe(true);
      const copies = byJob.get(job) as Received[];
      expect(new Set(copies.map((c) => c.messageId))).toEqual(new Set([messageIdOf.get(job.slice(0, job.lastIndexOf('/')))]));
    }
    expect(duplicates.length).toBeLessThanOrEqual(stalled.size);
    expect(got.length).toBe(total + duplicates.length);
  });

  it('honours in every worker a suppression added through the producer', { timeout: 90_000 }, async () => {
    const s = await sink({ rules: [{ match: /./, stage: 'data', delayMs: 20 }] });
    const f = fleet(s.port);
    // One job at a time per worker, so that the jobs spread over all four.
    const workers = Array.from({ length: 4 }, () => f.start('worker', { trace: true, laneConcurrency: 1 }));
    const producer = f.start('producer');
    await ready([...workers, producer]);
    const domains = ['s1.test', 's2.test'];
    const address = (n: number): string => `u${n}@${domains[n % 2] as string}`;
    // Before: the addresses receive mail.
    const before = await producer.request({ cmd: 'send', count: 8, start: 100, domains, tag: 'before', done: true }, 20_000, 'done');
    expect(before.statuses).toEqual({ sent: 8 });
    // Every other address of the next 80 is suppressed, through the producer.
    const suppressed = new Set<string>();
    for (let n = 100; n < 180; n += 2) {
      expect(await producer.request({ cmd: 'suppress', address: address(n) })).toMatchObject({ ok: true });
      suppressed.add(address(n));
    }
    const mark = s.count;
    const after = await producer.request({ cmd: 'send', count: 80, start: 100, domains, tag: 'after', concurrency: 4, done: true }, 30_000, 'done');
    await sleep(200);
    const perWorker = workers.map((w) => w.lines.filter((l) => l.e === 'failed' && l.reason === 'suppressed').length);
    const delivered = received(s, mark).map((r) => r.to);
    console.log(`suppression: 40 suppressed recipients dropped by the workers ${perWorker.join(', ')}; ${delivered.length} delivered`);
    expect(after.recipients).toEqual({ sent: 40, suppressed: 40 });
    expect(delivered.filter((a) => suppressed.has(a))).toEqual([]);
    expect(delivered).toHaveLength(40);
    expect(perWorker.reduce((a, b) => a + b, 0)).toBe(40);
    for (const n of perWorker) expect(n).toBeGreaterThan(0);
  });

  // Measured p99 114 ms at a load average of 9 and 438 ms at 17 (since 5f48232; before it,
  // critical jobs waited for one of 5 fleet-wide transport leases held by bulk sends).
  // The timeouts are for the setup: enqueueing the 100,000 bulk jobs took 7.5 s at a load
  // average of 9, 33 s at 17 and more than 60 s at 25; the measure is the critical latency.
  it('sends critical mail within 2 s (p99) while 100,000 bulk jobs are queued across the fleet', { timeout: 240_000 }, async () => {
    // Bulk mail takes 100 ms at the sink, as at a real server: bulk jobs hold the workers'
    // connections (the test is about queueing and slots, not about a CPU that four workers
    // sending flat out would saturate on a 2-core machine).
    const s = await sink({ rules: [{ match: /@bulk\d+\.test$/, stage: 'data', delayMs: 100 }] });
    const f = fleet(s.port);
    const producer = f.start('producer');
    await ready([producer]);
    // 5,000 bulk messages of 20 recipients at 20 domains: 100,000 jobs (one per message and
    // domain), enqueued before the workers start so that the whole backlog is there.
    const bulk = await producer.request({ cmd: 'bulk', messages: 5_000, recipients: 20, tag: 'bulk' }, 150_000, 'acked');
    expect(bulk.jobs).toBe(100_000);
    const workers = Array.from({ length: 4 }, () => f.start('worker'));
    await ready(workers);
    while (s.count < 20) await sleep(10); // the fleet is busy with the backlog
    const depthBefore = await laneDepth(f.prefix, 'bulk');
    const rid = post(producer, { cmd: 'send', count: 100, domains: ['crit.test'], priority: 'critical', tag: 'crit', intervalMs: 40, acks: true, done: true });
    const acked = await producer.answer(rid, 'acked', 20_000);
    // Bounded, so that a slow critical lane fails with its numbers rather than a timeout.
    const critical = await producer.answer(rid, 'done', 20_000).catch(() => ({ statuses: 'not all done within 20 s' }) as Line);
    const depthAfter = await laneDepth(f.prefix, 'bulk');
    const at = new Map(received(s).filter((r) => r.to.endsWith('@crit.test')).map((r) => [r.messageId, r.at]));
    const latencies = acksOf(acked).map((a) => (at.get(a.messageId) ?? Infinity) - a.at);
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    console.log(
      `critical lane: 100 critical messages (one every 40 ms) with ${depthBefore}..${depthAfter} bulk jobs queued: latency p50 ${p50} ms, p99 ${p99} ms, max ${Math.max(...latencies)} ms ` +
        `(send() to SMTP receipt); enqueueing 100,000 bulk jobs took ${bulk.ms as number} ms`,
    );
    expect(depthBefore).toBeGreaterThanOrEqual(90_000);
    expect(depthAfter).toBeGreaterThanOrEqual(80_000);
    // Generous: well under a second is the aim; 2 s leaves room for a loaded CI machine.
    expect(p99).toBeLessThan(2_000);
    expect(critical.statuses).toEqual({ sent: 100 });
  });

  it('rejects send() with a STORE error within commandTimeoutMs while Redis is down, and delivers what is sent after it is back', { timeout: 60_000 }, async () => {
    const port = await freePort();
    servers.push(await startRedisServer(port));
    const s = await sink();
    const f = fleet(s.port, port);
    const commandTimeoutMs = 1_000;
    const workers = Array.from({ length: 2 }, () => f.start('worker', { commandTimeoutMs }));
    const producer = f.start('producer', { commandTimeoutMs });
    await ready([...workers, producer]);
    const before = await producer.request({ cmd: 'send', count: 10, domains: ['r.test'], tag: 'before', concurrency: 4, done: true }, 20_000, 'done');
    expect(before.statuses).toEqual({ sent: 10 });
    // A message due in a minute: Redis runs without persistence here, so the restart loses it
    // (Redis's durability: with AOF or RDB it would survive).
    const later = await producer.request({ cmd: 'send', count: 1, domains: ['r.test'], tag: 'later', sendAt: Date.now() + 60_000, acks: true }, 10_000, 'acked');
    const laterId = acksOf(later)[0]!.id;

    await stopRedisServer(servers.pop() as ChildProcess);
    const outage = await producer.request({ cmd: 'send', count: 5, domains: ['r.test'], tag: 'outage', concurrency: 5 }, 20_000, 'acked');
    await sleep(1_000);
    const outageLate = await producer.request({ cmd: 'send', count: 2, domains: ['r.test'], tag: 'outage-late' }, 20_000, 'acked');
    const failures = [...(outage.failed as { code: string; ms: number }[]), ...(outageLate.failed as { code: string; ms: number }[])];
    console.log(`redis down: ${failures.length} sends rejected with ${[...new Set(failures.map((x) => x.code))].join(', ')} after ${Math.min(...failures.map((x) => x.ms))}..${Math.max(...failures.map((x) => x.ms))} ms (commandTimeoutMs ${commandTimeoutMs})`);
    expect(outage.acked).toBe(0);
    expect(outageLate.acked).toBe(0);
    expect(failures).toHaveLength(7);
    for (const x of failures) {
      expect(x.code).toBe('MAILPUSH_ERR_STORE');
      expect(x.ms).toBeLessThanOrEqual(commandTimeoutMs + 500);
    }

    servers.push(await startRedisServer(port));
    const back = Date.now();
    // The producer's client reconnects by itself: probe until a send is accepted.
    let probe: Line;
    for (;;) {
      probe = await producer.request({ cmd: 'send', count: 1, domains: ['r.test'], tag: 'probe' }, 20_000, 'acked');
      if (probe.acked === 1 || Date.now() - back > 15_000) break;
      await sleep(100);
    }
    const acceptedAfter = Date.now() - back;
    expect(probe.acked).toBe(1);
    const mark = s.count;
    const afterRestart = await producer.request({ cmd: 'send', count: 20, domains: ['r.test'], tag: 'after', concurrency: 4, done: true }, 40_000, 'done');
    const deliveredAfter = Date.now() - back;
    const lost = await producer.request({ cmd: 'status', id: laterId });
    console.log(`redis back: producer accepted a send ${acceptedAfter} ms after the restart; the workers delivered 20 messages sent then within ${deliveredAfter} ms of the restart; the message queued for later before the restart: ${JSON.stringify(lost.report)}`);
    expect(afterRestart.statuses).toEqual({ sent: 20 });
    await s.waitFor(mark + 20, 10_000);
    const got = received(s, mark).filter((r) => r.to.endsWith('@r.test'));
    expect(got.length).toBeGreaterThanOrEqual(20);
    expect(lost.report).toBeNull();
  });
});
