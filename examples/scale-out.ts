/**
 * Scale-out: one producer and two worker processes share a queue, a suppression list and the
 * per-domain limits in Redis (through BullMQ).
 *
 * This process is the producer (a web server, say: `role: 'producer'`, it only enqueues). It
 * starts two copies of this script as worker processes (`role: 'worker'`: they take jobs from
 * Redis and deliver them) and a local SMTP sink (nothing leaves this machine) that answers
 * each message after 20 ms, like a remote server. It queues a newsletter of a few hundred
 * messages, half of them to `limited.test`, which is limited to 40/s for the whole fleet: the
 * two workers share one token bucket in Redis, so together they stay at 40/s, not 2 x 40.
 * While the newsletter drains, it sends password resets on the critical lane and awaits
 * `receipt.done()` for each: it resolves here, in the producer, although a worker delivered
 * the message.
 *
 *   npx tsx examples/scale-out.ts                              # 600 messages, about 10 s
 *   MAILPUSH_EXAMPLE_QUICK=1 npx tsx examples/scale-out.ts     # 200 messages, a few seconds
 *
 * Needs a Redis server on 127.0.0.1:6379 (`redis-server`, or `docker run -p 6379:6379 redis:7`;
 * REDIS_PORT selects another port). The example uses a key prefix of its own and deletes its
 * keys at the end.
 *
 * In your application, import from 'mailpush' and 'mailpush/bullmq' instead of ../src.
 *
 * @module
 */

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { bullmqStore } from '../src/bullmq/index.js';
import { createMailer, smtpTransport } from '../src/index.js';
import type { DeliveryReport, DomainLimits, SendReceipt } from '../src/index.js';
import { startSmtpSink } from '../src/testing/index.js';

const QUICK = process.env.MAILPUSH_EXAMPLE_QUICK === '1';
const MESSAGES = QUICK ? 200 : 600;
const RESETS = 5;
const LIMITED = 'limited.test';
const LIMIT_PER_SECOND = 40;
const BURST = 4;
const WORKERS = 2;
const REDIS = { host: '127.0.0.1', port: Number(process.env.REDIS_PORT ?? 6379) };

/** The same limits in every process of the fleet: the workers enforce them, together. */
const limits: { domains: Record<string, DomainLimits> } = { domains: { [LIMITED]: { ratePerSecond: LIMIT_PER_SECOND, burst: BURST } } };

/** What a worker tells the producer (one JSON object per line on its stdout). */
interface WorkerReport {
  readonly name: string;
  readonly sent: number;
  /** First and last 'sent' event, ms since epoch. */
  readonly first: number;
  readonly last: number;
  /** Ids of the messages it delivered. */
  readonly ids: readonly string[];
  /** When it started each send to the limited domain (after taking a token), ms since epoch. */
  readonly limitedStarts: readonly number[];
}

if (process.argv[2] === 'worker') await worker(process.argv[3] ?? 'worker', JSON.parse(process.argv[4] ?? '{}') as { prefix: string; sinkPort: number });
else await producer();

// ---------------------------------------------------------------------------------------
// A worker process: takes jobs from Redis and delivers them until told to stop.
// ---------------------------------------------------------------------------------------

async function worker(name: string, config: { prefix: string; sinkPort: number }): Promise<void> {
  const mailer = createMailer({
    transport: smtpTransport({ host: '127.0.0.1', port: config.sinkPort, maxConnections: 5 }),
    store: bullmqStore({ connection: REDIS, prefix: config.prefix, role: 'worker' }),
    limits,
  });
  let sent = 0;
  let first = 0;
  let last = 0;
  const ids: string[] = [];
  const limitedStarts: number[] = [];
  mailer.on('sending', (e) => {
    if (e.domain === LIMITED) limitedStarts.push(Date.now());
  });
  mailer.on('sent', (e) => {
    last = Date.now();
    if (sent++ === 0) first = last;
    ids.push(e.id);
  });
  await mailer.ready();
  process.stdout.write(`${JSON.stringify({ ready: name })}\n`);
  // The producer ends our stdin when it is done: hand back what is not sent and exit.
  process.stdin.resume();
  await new Promise((resolve) => process.stdin.once('end', resolve));
  await mailer.close();
  const report: WorkerReport = { name, sent, first, last, ids, limitedStarts };
  process.stdout.write(`${JSON.stringify({ done: report })}\n`);
}

// ---------------------------------------------------------------------------------------
// The producer: starts the sink and the workers, queues mail, awaits the outcomes.
// ---------------------------------------------------------------------------------------

async function producer(): Promise<void> {
  const started = performance.now();
  const prefix = `mailpush-example:${randomBytes(4).toString('hex')}:`;

  // 1. Is Redis there? Say so clearly if not.
  const admin = new Redis({ ...REDIS, lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2_000, retryStrategy: () => null });
  let connectError: Error | undefined;
  admin.on('error', (err: Error) => (connectError ??= err));
  try {
    await admin.connect();
    await admin.ping();
  } catch (err) {
    console.error(
      `This example needs a Redis server on ${REDIS.host}:${REDIS.port}, and none answered (${(connectError ?? (err as Error)).message}).\n` +
        'Start one with `redis-server` (or `docker run -p 6379:6379 redis:7`) and run it again.',
    );
    admin.disconnect();
    process.exit(1);
  }

  // 2. A local SMTP server that takes 20 ms to answer each message, and keeps them.
  const sink = await startSmtpSink({ parse: false, keepRaw: true, disableStartTls: true, rules: [{ match: () => true, stage: 'data', delayMs: 20 }] });

  // 3. Two worker processes: this script again, with `worker` as its argument.
  const workers = Array.from({ length: WORKERS }, (_, i) => startWorker(`worker-${i + 1}`, { prefix, sinkPort: sink.port }));
  const problems: string[] = [];
  try {
    await Promise.all(workers.map((w) => w.ready));
    console.log(`mailpush scale-out: 1 producer + ${WORKERS} worker processes on Redis ${REDIS.host}:${REDIS.port} (key prefix ${prefix}), SMTP sink ${sink.url}`);
    console.log(`${workers.map((w) => `${w.name} pid ${w.child.pid}`).join(', ')}; ${LIMITED} limited to ${LIMIT_PER_SECOND}/s for the whole fleet`);

    // 4. The producer's mailer: the same API as ever, with a Redis store that only enqueues.
    const mailer = createMailer({
      transport: smtpTransport({ host: '127.0.0.1', port: sink.port }), // a producer never sends itself
      store: bullmqStore({ connection: REDIS, prefix, role: 'producer' }),
      limits,
      // Marketing mail gets its List-Unsubscribe headers where it is accepted (mailpush/unsubscribe).
      unsubscribe: { url: 'https://u.acme.test/unsubscribe', secrets: ['scale-out-demo-secret-change-me'] },
      postalAddress: 'Acme Inc., 1 Main Street, Springfield, USA',
    });
    await mailer.ready();

    // 5. The newsletter (marketing mail: the bulk lane): half to the limited domain, the rest
    //    spread over four others.
    const enqueueStart = performance.now();
    const receipts: SendReceipt[] = [];
    for (let i = 0; i < MESSAGES; i += 50) {
      const batch = Array.from({ length: Math.min(50, MESSAGES - i) }, (_, k) => {
        const n = i + k;
        const domain = n % 2 === 0 ? LIMITED : `d${(n >> 1) % 4}.test`;
        return mailer.send({ from: 'Acme News <news@acme.test>', to: `reader${n}@${domain}`, subject: `Acme Weekly #${n}`, text: 'This week at Acme: ...', category: 'marketing' });
      });
      receipts.push(...(await Promise.all(batch)));
    }
    const enqueueMs = performance.now() - enqueueStart;
    console.log(`queued ${MESSAGES} newsletter messages in ${(enqueueMs / 1000).toFixed(2)} s: send() resolved once each job was in Redis`);

    // 6. Password resets while the newsletter drains: critical priority, and the producer
    //    awaits receipt.done(), which resolves when a worker has delivered the message.
    const resets: { receipt: SendReceipt; report: DeliveryReport; ms: number }[] = [];
    for (let n = 0; n < RESETS; n++) {
      await new Promise((resolve) => setTimeout(resolve, 150));
      const t0 = performance.now();
      const receipt = await mailer.send({ from: 'Acme Accounts <accounts@acme.test>', to: `user${n}@d${n % 4}.test`, subject: 'Reset your password', text: 'The link is valid for 15 minutes.' }, { priority: 'critical' });
      const report = await receipt.done();
      resets.push({ receipt, report, ms: performance.now() - t0 });
    }

    // 7. The newsletter's outcome, asked from the producer: status() reads it from Redis.
    const total = MESSAGES + RESETS;
    const until = Date.now() + 60_000;
    while (sink.count < total && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
    const statuses = await Promise.all(receipts.map((r) => mailer.status(r.id)));
    const newsletterSent = statuses.filter((r) => r?.status === 'sent').length;

    // 8. Stop the workers (end of stdin) and collect what each one did.
    const done = await Promise.all(workers.map((w) => w.stop()));
    await mailer.close();

    const deliveredBy = (id: string): string => done.find((r) => r.ids.includes(id))?.name ?? 'no worker';
    for (const [n, r] of resets.entries()) {
      console.log(`password reset ${n + 1}: receipt.done() -> ${r.report.status}, delivered by ${deliveredBy(r.receipt.id)}, ${Math.round(r.ms)} ms after send()`);
    }
    console.log();
    console.log('Per worker (each process counts its own sent events):');
    let first = Infinity;
    let last = 0;
    let sentByWorkers = 0;
    for (const r of done) {
      console.log(`  ${r.name.padEnd(9)} ${String(r.sent).padStart(4)} messages  ${rate(r.sent, (r.last - r.first) / 1000).padStart(6)}/s`);
      if (r.sent > 0) {
        first = Math.min(first, r.first);
        last = Math.max(last, r.last);
      }
      sentByWorkers += r.sent;
    }
    const fleetSeconds = (last - first) / 1000;
    console.log(`  ${'fleet'.padEnd(9)} ${String(sentByWorkers).padStart(4)} messages  ${rate(sentByWorkers, fleetSeconds).padStart(6)}/s  (${fleetSeconds.toFixed(2)} s from the first to the last delivery)`);

    // The limited domain: when each send started (it had taken a token), in both workers.
    const starts = done.flatMap((r) => r.limitedStarts).sort((a, b) => a - b);
    const limitedSeconds = ((starts[starts.length - 1] ?? 0) - (starts[0] ?? 0)) / 1000;
    // The first BURST sends may go at once (the bucket starts full); the rest are paced.
    const limitedRate = (starts.length - BURST) / limitedSeconds;
    console.log();
    console.log(
      `${LIMITED}: ${starts.length} sends in ${limitedSeconds.toFixed(2)} s = ${limitedRate.toFixed(1)}/s after the first ${BURST} (the bucket's burst), ` +
        `${done.map((r) => r.limitedStarts.length).join(' + ')} from the two workers; the fleet-wide limit is ${LIMIT_PER_SECOND}/s`,
    );

    // Does each copy the server got carry the Message-ID its receipt gave?
    const messageIds = new Set(sink.messages.map((m) => /^Message-ID:\s*(\S+)/im.exec(m.raw?.toString('utf8') ?? '')?.[1]));
    const all = [...receipts, ...resets.map((r) => r.receipt)];
    const matching = all.filter((r) => messageIds.has(r.messageId)).length;
    console.log(`status() in the producer: ${newsletterSent} of ${MESSAGES} newsletter messages 'sent'; the SMTP sink accepted ${sink.count} messages, ${matching} with the Message-ID of their receipt`);

    if (newsletterSent !== MESSAGES) problems.push(`${MESSAGES - newsletterSent} newsletter messages are not 'sent'`);
    if (resets.some((r) => r.report.status !== 'sent')) problems.push('a password reset was not delivered');
    if (sentByWorkers !== total) problems.push(`the workers reported ${sentByWorkers} sent messages, expected ${total}`);
    if (sink.count !== total) problems.push(`the sink accepted ${sink.count} messages, expected ${total}`);
    if (matching !== total) problems.push(`${total - matching} messages arrived without the Message-ID of their receipt`);
    if (done.some((r) => r.sent === 0)) problems.push('a worker delivered nothing');
    if (limitedRate > LIMIT_PER_SECOND * 1.1) problems.push(`${LIMITED} got ${limitedRate.toFixed(1)}/s, over its limit of ${LIMIT_PER_SECOND}/s`);
  } finally {
    for (const w of workers) w.kill();
    await sink.close();
    const deleted = await deleteKeys(admin, prefix);
    admin.disconnect();
    console.log(`Deleted the example's ${deleted} Redis keys (${prefix}*).`);
  }

  const elapsed = ((performance.now() - started) / 1000).toFixed(1);
  if (problems.length > 0) {
    for (const p of problems) console.log(`Problem: ${p}`);
    process.exitCode = 1;
  } else {
    console.log(`Scale-out done in ${elapsed} s: ${MESSAGES + RESETS} messages queued by the producer, delivered by ${WORKERS} worker processes, exit code 0.`);
  }
}

function rate(n: number, seconds: number): string {
  return n > 1 && seconds > 0 ? ((n - 1) / seconds).toFixed(1) : '-';
}

/** A running worker process. */
interface Worker {
  readonly name: string;
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  /** Ends its stdin (it closes its mailer) and resolves with its report. */
  stop(): Promise<WorkerReport>;
  /** Kills it if it is still running (only after a failure). */
  kill(): void;
}

function startWorker(name: string, config: { prefix: string; sinkPort: number }): Worker {
  // The same Node, with the same loader (tsx) this script runs under.
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), 'worker', name, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const line = (key: string): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const onLine = (text: string): void => {
        const parsed = JSON.parse(text) as Record<string, unknown>;
        if (key in parsed) {
          lines.off('line', onLine);
          resolve(parsed);
        }
      };
      lines.on('line', onLine);
      void exited.then((code) => reject(new Error(`${name} exited (code ${code}) before it said "${key}"`)));
    });
  const ready = line('ready').then(() => undefined);
  return {
    name,
    child,
    ready,
    async stop() {
      const done = line('done');
      child.stdin!.end();
      const report = (await done).done as WorkerReport;
      await exited;
      return report;
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** Deletes every key under `prefix` (SCAN + UNLINK; never FLUSHDB on a shared Redis). */
async function deleteKeys(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}
