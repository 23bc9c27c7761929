/**
 * `mailpush/bullmq`: the distributed backend. This part holds the state a fleet of processes
 * shares in Redis (suppression list, idempotency keys, soft-bounce counters, correlation data,
 * webhook replay ids) and the fleet-wide limiter (token buckets, concurrency leases and the
 * adaptive throttle per recipient domain and per transport). ioredis (with bullmq) is an
 * optional peer dependency, loaded when {@link redisState} first connects.
 *
 * @module
 */

import { configError } from '../errors.js';
import type { CampaignStore, Clock, CorrelationStore, IdempotencyStore, MailerStore, ReplayStore, SoftBounceCounter, SubscriptionStore, SuppressionStore } from '../types.js';
import { redisCampaignStore } from './campaigns.js';
import { redisSubscriptionStore } from './subscriptions.js';
import type { Redis } from 'ioredis';
import { redisCorrelationStore } from './correlation.js';
import type { RedisCorrelationStoreOptions } from './correlation.js';
import { redisIdempotencyStore } from './idempotency.js';
import { redisLimiter } from './limiter.js';
import type { RedisLimiter, RedisLimiterOptions } from './limiter.js';
import { checkPrefix, closeRedis, DEFAULT_COMMAND_TIMEOUT_MS, isRedisClient, loadIoredis, openRedis } from './redis.js';
import { bullmqQueue } from './queue.js';
import type { BullmqModule, BullmqQueueOptions, BullmqQueueStore } from './queue.js';
import type { RedisConnection, RedisConstructor, RedisPartContext } from './redis.js';
import { redisReplayStore } from './replay.js';
import { redisSoftBounceCounter } from './soft-bounce.js';
import { redisSuppressionStore } from './suppression.js';

export { redisCampaignStore, REDIS_CAMPAIGN_STORE_NAME } from './campaigns.js';
export { redisSubscriptionStore, REDIS_SUBSCRIPTION_STORE_NAME } from './subscriptions.js';
export { redisCorrelationStore, REDIS_CORRELATION_STORE_NAME } from './correlation.js';
export type { RedisCorrelationStoreOptions } from './correlation.js';
export { redisIdempotencyStore, REDIS_IDEMPOTENCY_STORE_NAME } from './idempotency.js';
export { redisLimiter } from './limiter.js';
export type { AcquireRefusal, AcquireResult, LimiterGate, LimiterLimits, LimiterState, RedisLimiter, RedisLimiterOptions, ReleaseOutcome, ReleaseResult } from './limiter.js';
export { DEFAULT_COMMAND_TIMEOUT_MS, DEFAULT_PREFIX } from './redis.js';
export type { RedisConnection, RedisConstructor, RedisPartContext } from './redis.js';
export { redisReplayStore, REDIS_REPLAY_STORE_NAME } from './replay.js';
export { redisSoftBounceCounter } from './soft-bounce.js';
export { redisSuppressionStore, REDIS_SUPPRESSION_STORE_NAME } from './suppression.js';

/** Name of the Redis state. */
export const REDIS_STATE_NAME = 'redis';

/** Options of {@link redisState}. */
export interface RedisStateOptions {
  /**
   * Where Redis is: `{ host, port }` (any other ioredis option may be added), or an ioredis
   * client the host already has (shared: {@link RedisState.close} leaves it open, and its own
   * retry settings apply during an outage).
   */
  readonly connection: RedisConnection;
  /**
   * Prefix of every key, so that several mailers (or tests) share one Redis. Every process of
   * a fleet must use the same one. In Redis Cluster use a hash tag (`{mailpush}:`) so that the
   * limiter's multi-key scripts stay in one slot.
   * @default 'mailpush:'
   */
  readonly prefix?: string;
  /**
   * Longest wait for one Redis call, ms. During an outage a call rejects with a STORE error
   * within about this bound. Applies to the connection this factory opens.
   * @default 5_000
   */
  readonly commandTimeoutMs?: number;
  /** Options of the correlation store (retention of sent jobs). */
  readonly correlation?: RedisCorrelationStoreOptions;
  /** Options of the fleet-wide limiter (throttle, lease time). */
  readonly limiter?: RedisLimiterOptions;
  /**
   * Time source of the parts that expire data by themselves: correlation retention and
   * replay ids. Idempotency, suppression and soft bounces use the `now` they are given.
   * The limiter always uses Redis time.
   * @default the system clock
   */
  readonly clock?: Pick<Clock, 'now'>;
  /** ioredis's `Redis` class, to use instead of importing the package. */
  readonly lib?: RedisConstructor;
}

/**
 * The Redis-backed parts of a mailer's state and the fleet-wide limiter, on one connection.
 * (The queue itself, and with it a whole `MailerStore`, is built on top of this by `bullmqStore`.)
 */
export interface RedisState {
  /** Store name, for errors and logs. */
  readonly name: string;
  /** The key prefix in use. */
  readonly prefix: string;
  /** The ioredis client in use (opened here, or the one passed in). */
  readonly redis: Redis;
  readonly suppression: SuppressionStore;
  readonly idempotency: IdempotencyStore;
  readonly softBounces: SoftBounceCounter;
  readonly correlation: CorrelationStore;
  readonly replay: ReplayStore;
  /** Per-campaign state and counters. */
  readonly campaigns: CampaignStore;
  /** Lists, subscriptions and consent. */
  readonly subscriptions: SubscriptionStore;
  /** Token buckets, concurrency leases and the adaptive throttle shared by the fleet. */
  readonly limiter: RedisLimiter;
  /** Closes the connection when it was opened here; safe to call twice. */
  close(): Promise<void>;
}

/**
 * Opens the Redis-backed state: suppression list, idempotency keys, soft-bounce counters,
 * correlation data, webhook replay ids and the fleet-wide limiter, shared by every process
 * that uses the same Redis and prefix. Each call of a part is one round trip; a failure of
 * Redis rejects with a retryable `MAILPUSH_ERR_STORE` MailError carrying the cause.
 *
 * @example
 * ```ts
 * import { redisState } from 'mailpush/bullmq';
 * const state = redisState({ connection: { host: '127.0.0.1', port: 6379 }, prefix: 'shop:' });
 * await state.suppression.add({ address: 'ann@example.com', reason: 'complaint', createdAt: Date.now() });
 * const gate = await state.limiter.acquire('gmail.com', { ratePerSecond: 50, concurrency: 5 }, 'msg_1/0#1');
 * await state.close();
 * ```
 */
export function redisState(options: RedisStateOptions): RedisState {
  if (typeof options !== 'object' || options === null) throw configError('options', 'an object with `connection`', options);
  if (options.connection === undefined) throw configError('connection', 'an object with host and port, or an ioredis client', undefined);
  const prefix = checkPrefix(options.prefix);
  const timeout = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 1) throw configError('commandTimeoutMs', 'a positive integer (ms)', timeout);
  const clock = options.clock ?? { now: () => Date.now() };
  if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function') throw configError('clock', 'an object with now()', clock);
  const lib = options.lib;
  if (lib !== undefined && typeof lib !== 'function') throw configError('lib', "ioredis's Redis class", lib);
  const { redis, owned } = openRedis(options.connection, timeout, lib === undefined ? loadIoredis : () => lib);
  const context: RedisPartContext = { redis, prefix, clock };
  let closing: Promise<void> | undefined;
  try {
    return {
      name: REDIS_STATE_NAME,
      prefix,
      redis,
      suppression: redisSuppressionStore(context),
      idempotency: redisIdempotencyStore(context),
      softBounces: redisSoftBounceCounter(context),
      correlation: redisCorrelationStore(context, options.correlation),
      replay: redisReplayStore(context),
      campaigns: redisCampaignStore(context),
      subscriptions: redisSubscriptionStore(context),
      limiter: redisLimiter(context, options.limiter),
      close() {
        closing ??= owned ? closeRedis(redis) : Promise.resolve();
        return closing;
      },
    };
  } catch (err) {
    // An invalid part option: do not leave the connection we just opened behind.
    if (owned) redis.disconnect();
    throw err;
  }
}

export { bullmqQueue, loadBullmq, BULLMQ_QUEUE_NAME, DEFAULT_LANE_CONCURRENCY } from './queue.js';
export type { BullmqQueueOptions, BullmqQueueStore, BullmqQueueContext, BullmqRole, BullmqModule } from './queue.js';

/** Name of the BullMQ mailer store. */
export const BULLMQ_STORE_NAME = 'bullmq';

/** Options of {@link bullmqStore}: where Redis is, and what this process does in the fleet. */
export interface BullmqStoreOptions extends RedisStateOptions, BullmqQueueOptions {
  /** bullmq itself, to use instead of importing the package. */
  readonly bullmq?: BullmqModule;
}

/** The BullMQ {@link MailerStore}: the fleet's queue and its shared state and limits. */
export interface BullmqStore extends MailerStore {
  readonly queue: BullmqQueueStore;
  readonly limiter: RedisLimiter;
  /** The Redis state under the queue (its client and prefix). */
  readonly state: RedisState;
  close(): Promise<void>;
}

/**
 * Creates the store of a mailer that is one process of a fleet: the queue on BullMQ (taken by
 * any worker process), and the suppression list, idempotency keys, soft-bounce counters,
 * correlation data, webhook replay ids and the per-domain limits in Redis, shared by every
 * process with the same Redis and prefix. Moving from the SQLite store is a change of this
 * one option.
 *
 * @example
 * ```ts
 * import { createMailer, smtpTransport } from 'mailpush';
 * import { bullmqStore } from 'mailpush/bullmq';
 *
 * // A web server only enqueues; worker processes deliver.
 * const mailer = createMailer({
 *   transport: smtpTransport({ host: 'relay.internal', port: 587 }),
 *   store: bullmqStore({ connection: { host: '127.0.0.1', port: 6379 }, role: 'producer' }),
 * });
 * const receipt = await mailer.send({ from: 'app@example.com', to: 'ann@example.org', subject: 'Hi', text: '...' });
 * const report = await receipt.done(); // delivered by whichever worker took it
 * ```
 */
export function bullmqStore(options: BullmqStoreOptions): BullmqStore {
  const state = redisState(options);
  try {
    const connection = isRedisClient(options.connection)
      ? { ...(options.connection.options as Exclude<RedisConnection, Redis>) }
      : { ...(options.connection as Exclude<RedisConnection, Redis>) };
    const queue = bullmqQueue({ redis: state.redis, connection, prefix: state.prefix, ...(options.bullmq !== undefined ? { lib: options.bullmq } : {}) }, options);
    let closing: Promise<void> | undefined;
    return {
      name: BULLMQ_STORE_NAME,
      state,
      queue,
      suppression: state.suppression,
      idempotency: state.idempotency,
      softBounces: state.softBounces,
      correlation: state.correlation,
      replay: state.replay,
      campaigns: state.campaigns,
      subscriptions: state.subscriptions,
      limiter: state.limiter,
      close() {
        closing ??= (async () => {
          try {
            await queue.close();
          } finally {
            await state.close();
          }
        })();
        return closing;
      },
    };
  } catch (err) {
    void state.close();
    throw err;
  }
}
