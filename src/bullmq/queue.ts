/**
 * The fleet's queue on BullMQ: a {@link QueueStore} whose jobs live in Redis and are taken by
 * whichever process of the fleet has room. One BullMQ queue per priority lane (so critical
 * mail has workers of its own and never waits behind a bulk backlog), `sendAt` and retries as
 * delayed jobs, the mailpush job id as the BullMQ job id (a job is never added twice), the
 * message carried in the job's data (a retry reuses its Message-ID), and stalled-job recovery:
 * a job taken by a process that dies goes back to the queue when its lock expires and runs
 * again elsewhere (at least once).
 *
 * Per message, a hash holds the Message-ID, the jobs and how many are unfinished; settled
 * results are appended to a list. The process that settles the last job publishes the id, so
 * that `watch()` (behind `receipt.done()`) resolves in any process of the fleet.
 *
 * @module
 */

import { createRequire } from 'node:module';
import type { Redis } from 'ioredis';
import type { Job as BullJob, Queue as BullQueue, Worker as BullWorker } from 'bullmq';
import { configError, MailError, MailErrorCode } from '../errors.js';
import { checkJson } from '../stores/sqlite-codec.js';
import { PRIORITIES } from '../types.js';
import type { Job, NormalizedMessage, Priority, QueueStore, SharedQueue, StoredEntry, StoredResult, StoredStatus } from '../types.js';
import { defineScript, guard, REDIS_PACKAGES, storeError } from './redis.js';
import type { RedisConnection } from './redis.js';

/** Name of the BullMQ queue store. */
export const BULLMQ_QUEUE_NAME = 'bullmq';

/** What a process of the fleet does. */
export type BullmqRole = 'producer' | 'worker' | 'both';

/** Jobs each lane's BullMQ worker holds at once in one process, by default. */
export const DEFAULT_LANE_CONCURRENCY: Readonly<Record<Priority, number>> = { critical: 5, high: 10, normal: 20, low: 10, bulk: 20 };

/** Options of the BullMQ queue (given through `bullmqStore()`). */
export interface BullmqQueueOptions {
  /**
   * `producer`: only enqueues (a web server); `worker`: takes and delivers jobs; `both`.
   * @default 'both'
   */
  readonly role?: BullmqRole;
  /**
   * Jobs each lane's worker takes at once in this process (waiting for a limit, or in flight):
   * a number for every lane, or per priority. The mailer's own `limits.concurrency` still
   * bounds the sends in flight. @default DEFAULT_LANE_CONCURRENCY
   */
  readonly laneConcurrency?: number | Partial<Record<Priority, number>>;
  /**
   * How long a taken job is locked to its process, ms. BullMQ renews the lock while the
   * process lives; a process that dies releases its jobs to the fleet once it runs out.
   * @default 30_000
   */
  readonly lockDurationMs?: number;
  /** How often each worker looks for jobs whose lock ran out, ms. @default lockDurationMs / 2 */
  readonly stalledIntervalMs?: number;
  /** How long the results of a finished message stay for `status()`, ms. @default 604_800_000 (7 days) */
  readonly resultRetentionMs?: number;
}

/** The part of BullMQ this store uses (for tests that bring their own copy). */
export interface BullmqModule {
  readonly Queue: typeof BullQueue;
  readonly Worker: typeof BullWorker;
  readonly DelayedError: new (message?: string) => Error;
}

/**
 * Loads bullmq on first use: a missing package is a MailError naming the install command.
 *
 * @example
 * ```ts
 * import { isMailError } from 'mailpush';
 * import { loadBullmq } from 'mailpush/bullmq';
 *
 * try {
 *   const { Queue, Worker } = loadBullmq();
 * } catch (err) {
 *   if (isMailError(err)) console.error(err.code, err.message); // MAILPUSH_ERR_MISSING_DEPENDENCY, naming `npm install bullmq ioredis`
 * }
 * ```
 */
export function loadBullmq(requireFn: (id: string) => unknown = createRequire(import.meta.url)): BullmqModule {
  try {
    return requireFn('bullmq') as BullmqModule;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new MailError(`The Redis backend (mailpush/bullmq) needs the "bullmq" package: npm install ${REDIS_PACKAGES} (${message})`, {
      code: MailErrorCode.MISSING_DEPENDENCY,
      retryable: false,
      cause: err,
    });
  }
}

/** The data of one BullMQ job: the message (JSON with attachment bytes in base64) and the mailpush job. */
interface JobData {
  readonly m: string;
  readonly j: Job;
}

/** A job this process has taken: the BullMQ job and the processor call to settle. */
interface Taken {
  readonly bull: BullJob<JobData>;
  readonly token: string | undefined;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

/** Settles results of a message: appends them, counts the job down, publishes the id when none is left. */
const SETTLE = `
local pending = -1
for i = 5, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
if ARGV[1] == '1' then
  pending = redis.call('HINCRBY', KEYS[1], 'pending', -1)
  if pending <= 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    redis.call('PEXPIRE', KEYS[2], ARGV[2])
    redis.call('PUBLISH', ARGV[3], ARGV[4])
  end
end
return pending
`;

function encodeMessage(message: NormalizedMessage): string {
  checkJson(message.metadata, 'metadata');
  return JSON.stringify(message, function (this: Record<string, unknown>, key: string, value: unknown) {
    const original = this[key];
    return original instanceof Uint8Array ? { $b64: Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString('base64') } : value;
  });
}

function decodeMessage(text: string): NormalizedMessage {
  return JSON.parse(text, (_key, value: unknown) => {
    if (typeof value === 'object' && value !== null && typeof (value as { $b64?: unknown }).$b64 === 'string' && Object.keys(value).length === 1) {
      return Buffer.from((value as { $b64: string }).$b64, 'base64');
    }
    return value;
  }) as NormalizedMessage;
}

/** How long closing waits for BullMQ's connections before it drops them, ms. */
const CLOSE_WAIT_MS = 5_000;

/** Waits for `promise` at most `ms`; then runs `fallback` (and waits for that, briefly). */
async function within(promise: Promise<unknown>, ms: number, fallback: () => Promise<unknown>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), ms);
    timer.unref();
  });
  const late = await Promise.race([promise.then(() => false, () => false), timedOut]);
  clearTimeout(timer);
  if (late) await Promise.race([fallback().catch(() => undefined), new Promise((r) => setTimeout(r, 1_000).unref())]);
}

function positiveInt(value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw configError(option, 'a positive integer', value);
  return value;
}

function laneConcurrency(input: BullmqQueueOptions['laneConcurrency']): Record<Priority, number> {
  if (input === undefined) return { ...DEFAULT_LANE_CONCURRENCY };
  if (typeof input === 'number') {
    const n = positiveInt(input, 'laneConcurrency', 1);
    return { critical: n, high: n, normal: n, low: n, bulk: n };
  }
  if (typeof input !== 'object' || input === null) throw configError('laneConcurrency', 'a positive integer or an object keyed by priority', input);
  const out = { ...DEFAULT_LANE_CONCURRENCY };
  for (const [k, v] of Object.entries(input)) {
    if (!(PRIORITIES as readonly string[]).includes(k)) throw configError(`laneConcurrency.${k}`, `one of ${PRIORITIES.join(', ')}`, k);
    out[k as Priority] = positiveInt(v, `laneConcurrency.${k}`, 1);
  }
  return out;
}

/** A BullMQ-backed queue store: see the module comment. */
export interface BullmqQueueStore extends QueueStore {
  readonly shared: SharedQueue;
  /** The role of this process. */
  readonly role: BullmqRole;
  /** Jobs taken by this process and not yet settled or handed back. */
  readonly taken: number;
  /** Stops the workers and closes BullMQ's connections. Idempotent. */
  close(): Promise<void>;
}

/** What {@link bullmqQueue} needs from the state it lives beside. */
export interface BullmqQueueContext {
  /** The state's client (results, the message hashes). */
  readonly redis: Redis;
  /** Connection options for BullMQ's own connections (it opens one per queue, worker and blocking read). */
  readonly connection: Exclude<RedisConnection, Redis>;
  /** Key prefix of the state (`mailpush:`). */
  readonly prefix: string;
  /** bullmq itself. @default loaded on first use */
  readonly lib?: BullmqModule;
}

/**
 * Creates the BullMQ queue. Usually obtained as `bullmqStore(...).queue`.
 *
 * @example
 * ```ts
 * const queue = bullmqQueue({ redis, connection: { host: '127.0.0.1', port: 6379 }, prefix: 'shop:' }, { role: 'worker' });
 * ```
 */
export function bullmqQueue(context: BullmqQueueContext, options: BullmqQueueOptions = {}): BullmqQueueStore {
  if (typeof options !== 'object' || options === null) throw configError('queue options', 'an object', options);
  const role = options.role ?? 'both';
  if (role !== 'producer' && role !== 'worker' && role !== 'both') throw configError('role', "'producer', 'worker' or 'both'", role);
  const lanes = laneConcurrency(options.laneConcurrency);
  const lockDuration = positiveInt(options.lockDurationMs, 'lockDurationMs', 30_000);
  const stalledInterval = positiveInt(options.stalledIntervalMs, 'stalledIntervalMs', Math.max(1, Math.floor(lockDuration / 2)));
  const retentionMs = positiveInt(options.resultRetentionMs, 'resultRetentionMs', 7 * 86_400_000);
  const bull = context.lib ?? loadBullmq();
  const { redis, prefix } = context;
  const bullPrefix = `${prefix}bull`;
  const channel = `${prefix}done`;
  const msgKey = (id: string): string => `${prefix}msg:${id}`;
  const resKey = (id: string): string => `${prefix}res:${id}`;
  const settle = defineScript(redis, 'mailpushSettle', SETTLE);
  // Producers' adds must fail within a bound when Redis is away, never wait for ever.
  // bullmq declares its own ioredis option types; the options are ioredis's, passed through.
  const queues = new Map<Priority, BullQueue<JobData>>(PRIORITIES.map((p) => [p, new bull.Queue<JobData>(p, { connection: { ...context.connection } as never, prefix: bullPrefix }) as BullQueue<JobData>]));
  for (const q of queues.values()) q.on('error', () => undefined);
  const workers: BullWorker<JobData>[] = [];
  const taken = new Map<string, Taken>();
  const watchers = new Map<string, (() => void)[]>();
  let subscriber: Redis | undefined;
  let subscribed: Promise<unknown> | undefined;
  let stopped = false;
  let closing: Promise<void> | undefined;

  const status = async (id: string): Promise<StoredStatus | undefined> => {
    const [[e1, meta], [e2, rows]] = (await guard('reading a message status', () => redis.multi().hgetall(msgKey(id)).lrange(resKey(id), 0, -1).exec())) as [[Error | null, Record<string, string>], [Error | null, string[]]];
    if (e1 !== null || e2 !== null) throw storeError('reading a message status', e1 ?? e2);
    if (meta.messageId === undefined) return undefined;
    const results = rows.map((r) => JSON.parse(r) as StoredResult);
    const settled = new Set(results.map((r) => `${r.jobId}\n${r.address}`));
    const planned = JSON.parse(meta.jobs ?? '[]') as { id: string; domain: string; recipients: string[]; priority: Priority; createdAt: number }[];
    const jobs: Job[] = [];
    for (const j of planned) {
      const recipients = j.recipients.filter((a) => !settled.has(`${j.id}\n${a}`));
      if (recipients.length > 0) jobs.push({ id: j.id, messageRef: id, domain: j.domain, recipients, priority: j.priority, state: 'ready', attempt: 0, createdAt: j.createdAt, runAt: j.createdAt });
    }
    return { id, messageId: meta.messageId, jobs: Number(meta.pending) > 0 ? jobs : [], results };
  };

  const pushResults = (job: Job, results: readonly StoredResult[] | undefined, final: boolean): Promise<unknown> =>
    guard('recording results', () => settle([msgKey(job.messageRef), resKey(job.messageRef)], [final ? '1' : '0', retentionMs, channel, job.messageRef, ...(results ?? []).map((r) => JSON.stringify(r))]));

  /** Puts a taken job back in its queue, due now, as it was taken. */
  const giveBack = async (t: Taken): Promise<void> => {
    try {
      await t.bull.moveToDelayed(Date.now(), t.token);
      t.reject(new bull.DelayedError());
    } catch (err) {
      t.reject(err as Error);
    }
  };

  const wake = (id: string): void => {
    const list = watchers.get(id);
    if (list === undefined) return;
    watchers.delete(id);
    for (const w of list) w();
  };

  const shared: SharedQueue = {
    consumes: role !== 'producer',
    consume(load) {
      if (role === 'producer' || workers.length > 0 || stopped) return;
      for (const lane of PRIORITIES) {
        const worker = new bull.Worker<JobData>(
          lane,
          (b: BullJob<JobData>, token?: string) =>
            new Promise<void>((resolve, reject) => {
              const job = { ...b.data.j };
              const t: Taken = { bull: b, token, resolve, reject };
              // Taken while stopping: straight back, for another process.
              if (stopped) return void giveBack(t);
              taken.set(job.id, t);
              try {
                load({ message: decodeMessage(b.data.m), jobs: [job] });
              } catch (err) {
                taken.delete(job.id);
                reject(err as Error);
              }
            }),
          {
            connection: { ...context.connection, maxRetriesPerRequest: null } as never,
            prefix: bullPrefix,
            concurrency: lanes[lane],
            lockDuration,
            stalledInterval,
            // A job whose process died is moved back, however often that happens: never dropped.
            maxStalledCount: 1_000_000,
          },
        );
        worker.on('error', () => undefined);
        workers.push(worker);
      }
    },
    async handBack(job, results) {
      const t = taken.get(job.id);
      taken.delete(job.id);
      try {
        if (results !== undefined && results.length > 0) await pushResults(job, results, false);
        if (t === undefined) return;
        await guard('handing a job back', async () => {
          await t.bull.updateData({ m: t.bull.data.m, j: { ...job, state: 'scheduled' } });
          await t.bull.moveToDelayed(Math.max(job.runAt, Date.now()), t.token);
        });
        t.reject(new bull.DelayedError());
      } catch (err) {
        // BullMQ retries the job itself (or its lock runs out): it comes back, at least once.
        t?.reject(err as Error);
        throw err;
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      // The workers stop fetching (and wait for the jobs they run); whatever is still taken
      // goes back now, for another process.
      const closed = Promise.all(workers.map((w) => within(w.close(), CLOSE_WAIT_MS, () => w.close(true))));
      const back = [...taken.values()];
      taken.clear();
      await Promise.all(back.map(giveBack));
      await closed;
    },
    async watch(id) {
      if (subscriber === undefined) {
        subscriber = redis.duplicate({ maxRetriesPerRequest: null });
        subscriber.on('error', () => undefined);
        subscriber.on('message', (_channel: string, done: string) => wake(done));
      }
      const sub = subscriber;
      subscribed ??= sub.subscribe(channel).catch((err: unknown) => {
        // Not subscribed: the next watch tries again.
        subscribed = undefined;
        throw err;
      });
      await guard('subscribing to completions', () => subscribed as Promise<unknown>);
      const done = new Promise<void>((resolve) => {
        const list = watchers.get(id) ?? [];
        list.push(resolve);
        watchers.set(id, list);
      });
      // It may have finished before the subscription: look once.
      const now = await status(id);
      if (now === undefined || now.jobs.length === 0) {
        wake(id);
        return now;
      }
      await done;
      return status(id);
    },
  };

  return {
    name: BULLMQ_QUEUE_NAME,
    role,
    shared,
    get taken() {
      return taken.size;
    },
    async add(entry: StoredEntry) {
      const { message, jobs } = entry;
      const first = jobs[0];
      if (first === undefined) return;
      const data = encodeMessage(message);
      const planned = jobs.map((j) => ({ id: j.id, domain: j.domain, recipients: j.recipients, priority: j.priority, createdAt: j.createdAt }));
      await guard('recording a message', () => redis.hset(msgKey(message.id), { messageId: message.messageId, jobs: JSON.stringify(planned), pending: String(jobs.length) }));
      const now = Date.now();
      await guard('adding jobs', () =>
        (queues.get(first.priority) as BullQueue<JobData>).addBulk(
          jobs.map((j) => ({
            name: 'send',
            data: { m: data, j },
            opts: {
              jobId: j.id,
              delay: Math.max(0, j.runAt - now),
              removeOnComplete: true,
              removeOnFail: true,
              // A processor that throws (Redis lost mid hand-back) is retried by BullMQ: never dropped.
              attempts: 1_000_000,
              backoff: { type: 'fixed', delay: 1_000 },
            },
          })),
        ),
      );
    },
    async update(job, results) {
      if (results !== undefined && results.length > 0) await pushResults(job, results, false);
    },
    async remove(job, results) {
      await pushResults(job, results, true);
      const t = taken.get(job.id);
      taken.delete(job.id);
      t?.resolve();
    },
    recover: () => [],
    status,
    async size() {
      // Counted on the state's connection (bounded waits), from BullMQ's own keys.
      const multi = redis.multi();
      for (const lane of PRIORITIES) {
        const key = `${bullPrefix}:${lane}`;
        multi.llen(`${key}:wait`).llen(`${key}:active`).zcard(`${key}:delayed`).zcard(`${key}:prioritized`);
      }
      const replies = (await guard('counting jobs', () => multi.exec())) ?? [];
      return replies.reduce((total, [err, n]) => {
        if (err !== null) throw storeError('counting jobs', err);
        return total + Number(n);
      }, 0);
    },
    close() {
      closing ??= (async () => {
        await shared.stop();
        // A queue that cannot reach Redis would wait for it for ever: give up after a while.
        await Promise.all([...queues.values()].map((q) => within(q.close(), CLOSE_WAIT_MS, () => q.disconnect())));
        if (subscriber !== undefined) subscriber.disconnect();
        for (const id of [...watchers.keys()]) wake(id);
      })();
      return closing;
    },
  };
}
