/**
 * Dispatch overhead: messages per second through the mailer with a transport that resolves
 * at once, against p-queue running the same number of no-op async tasks at the same
 * concurrency. A second baseline ("hand-rolled") normalizes each message and hands it to the
 * same no-op transport through p-queue: what a host would write without mailpush, so
 * the difference is the queue, the store journal, jobs, records and events.
 *
 * Two rates per run: "enqueue" (N awaited `send()` calls, or N `queue.add()` calls) and
 * "end-to-end" (the first call until the last delivery, i.e. until idle).
 *
 * Run: npx tsx bench/dispatch.ts [--quick] [--rounds N]
 */

import PQueue from 'p-queue';
import { createMailer } from '../src/mailer/index.js';
import { normalizeMessage } from '../src/message/normalize.js';
import type { MessageInput, PreparedMessage, SendResult, Transport } from '../src/types.js';
import { fmt, header, nowMs, parseFlags, result, summary, tick } from './common.js';

const flags = parseFlags(5);
const COUNT = flags.quick ? 10_000 : 200_000;
const CONCURRENCY = 50;
const DOMAINS = 100;

const text = 'Your sign-in code is 123456. It expires in 10 minutes. If you did not ask for it, ignore this mail. '.repeat(3);

function makeMessage(i: number): MessageInput {
  return { from: 'App <app@example.com>', to: `user${i}@d${i % DOMAINS}.example`, subject: `Code ${i}`, text };
}

/** A transport that accepts everything at once and counts. */
function noopTransport(): Transport & { count: number } {
  const t = {
    name: 'noop',
    capabilities: { rawMime: true },
    count: 0,
    send(prepared: PreparedMessage): Promise<SendResult> {
      t.count++;
      return Promise.resolve({ accepted: prepared.envelope.to, rejected: [] });
    },
  };
  return t;
}

interface Rates {
  /** Calls per second until the last send()/add() returned (resolved for send()). */
  readonly enqueue: number;
  /** Messages per second until everything was delivered. */
  readonly endToEnd: number;
  /** CPU time (user + system) per message until idle, in µs: steadier than wall time on a shared machine. */
  readonly cpuUs: number;
}

async function runMailer(n: number): Promise<Rates> {
  const transport = noopTransport();
  const mailer = createMailer({ transport, limits: { concurrency: CONCURRENCY } });
  let sent = 0;
  mailer.on('sent', () => {
    sent++;
  });
  await mailer.ready();
  const cpu = process.cpuUsage();
  const start = nowMs();
  for (let i = 0; i < n; i++) await mailer.send(makeMessage(i));
  const enqueued = nowMs();
  await mailer.onIdle();
  const end = nowMs();
  const used = process.cpuUsage(cpu);
  await mailer.close();
  if (transport.count !== n || sent !== n) throw new Error(`mailer delivered ${transport.count}, sent events ${sent}, expected ${n}`);
  return { enqueue: n / ((enqueued - start) / 1000), endToEnd: n / ((end - start) / 1000), cpuUs: (used.user + used.system) / n };
}

async function runPQueue(n: number): Promise<Rates> {
  const queue = new PQueue({ concurrency: CONCURRENCY });
  let done = 0;
  const task = async (): Promise<void> => {
    done++;
  };
  const cpu = process.cpuUsage();
  const start = nowMs();
  for (let i = 0; i < n; i++) void queue.add(task);
  const enqueued = nowMs();
  await queue.onIdle();
  const end = nowMs();
  const used = process.cpuUsage(cpu);
  if (done !== n) throw new Error(`p-queue ran ${done} tasks, expected ${n}`);
  return { enqueue: n / ((enqueued - start) / 1000), endToEnd: n / ((end - start) / 1000), cpuUs: (used.user + used.system) / n };
}

async function runHandRolled(n: number): Promise<Rates> {
  const transport = noopTransport();
  const queue = new PQueue({ concurrency: CONCURRENCY });
  const context = { signal: new AbortController().signal, attempt: 1 };
  const cpu = process.cpuUsage();
  const start = nowMs();
  for (let i = 0; i < n; i++) {
    const message = normalizeMessage(makeMessage(i), { now: Date.now() });
    const envelope = { from: message.returnPath, to: [message.to[0]!.address] };
    const prepared: PreparedMessage = { jobId: message.id, message, envelope, raw: () => Promise.reject(new Error('unused')) };
    void queue.add(() => transport.send(prepared, context));
  }
  const enqueued = nowMs();
  await queue.onIdle();
  const end = nowMs();
  const used = process.cpuUsage(cpu);
  if (transport.count !== n) throw new Error(`hand-rolled delivered ${transport.count}, expected ${n}`);
  return { enqueue: n / ((enqueued - start) / 1000), endToEnd: n / ((end - start) / 1000), cpuUs: (used.user + used.system) / n };
}

header('dispatch', flags, `${fmt(COUNT)} messages, one recipient each over ${DOMAINS} domains, no-op transport, concurrency ${CONCURRENCY}, 'sent' listener on`);

// Warm-up so the first measured round is not the JIT's.
if (!flags.quick) {
  await runMailer(20_000);
  await runPQueue(20_000);
  await runHandRolled(20_000);
}

const mp: Rates[] = [];
const pq: Rates[] = [];
const hr: Rates[] = [];
for (let r = 0; r < flags.rounds; r++) {
  // Alternate the order so drift (thermal, other load) does not favour one side.
  const order = r % 2 === 0 ? ['p', 'h', 'm'] : ['m', 'h', 'p'];
  for (const o of order) {
    await tick();
    if (o === 'p') pq.push(await runPQueue(COUNT));
    else if (o === 'h') hr.push(await runHandRolled(COUNT));
    else mp.push(await runMailer(COUNT));
  }
  const last = mp[mp.length - 1]!;
  console.log(`   round ${r + 1}: mailpush ${fmt(last.endToEnd)} msg/s end-to-end, p-queue ${fmt(pq[pq.length - 1]!.endToEnd)} tasks/s, hand-rolled ${fmt(hr[hr.length - 1]!.endToEnd)} msg/s`);
}

const ratio = (a: Rates[], b: Rates[], key: keyof Rates): number[] => a.map((x, i) => x[key] / b[i]![key]);
for (const key of ['enqueue', 'endToEnd'] as const) {
  const label = key === 'enqueue' ? 'enqueue rate (/s)' : 'end-to-end rate (/s)';
  result(
    `${label} vs p-queue no-op tasks`,
    summary(pq.map((x) => x[key]), 0),
    summary(mp.map((x) => x[key]), 0),
    summary(ratio(mp, pq, key), 3),
    'none (informational)',
    undefined,
  );
  result(
    `${label} vs hand-rolled normalize + p-queue`,
    summary(hr.map((x) => x[key]), 0),
    summary(mp.map((x) => x[key]), 0),
    summary(ratio(mp, hr, key), 3),
    'none (informational)',
    undefined,
  );
}
for (const [label, base] of [['p-queue no-op task', pq], ['hand-rolled', hr]] as const) {
  result(
    `CPU per message end-to-end (µs) vs ${label}`,
    summary(base.map((x) => x.cpuUs), 2),
    summary(mp.map((x) => x.cpuUs), 2),
    summary(mp.map((m, i) => m.cpuUs / base[i]!.cpuUs), 3),
    'none (informational)',
    undefined,
  );
}
