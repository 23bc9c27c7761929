/**
 * Correlation data in Redis: one string per job id holding its {@link SentRecord} as JSON,
 * kept `retentionMs` after `sentAt` (PX) and checked against the store's clock on read.
 *
 * @module
 */

import { configError } from '../errors.js';
import { DEFAULT_CORRELATION_RETENTION_MS } from '../stores/correlation-memory.js';
import type { CorrelationStore, SentRecord } from '../types.js';
import { guard, ttlMs } from './redis.js';
import type { RedisPartContext } from './redis.js';

/** Name of the Redis correlation store. */
export const REDIS_CORRELATION_STORE_NAME = 'redis';

/** Options of {@link redisCorrelationStore}. */
export interface RedisCorrelationStoreOptions {
  /** How long a job is kept after it was sent (`sentAt`), ms. @default 2_592_000_000 (30 days) */
  readonly retentionMs?: number;
}

/**
 * Creates a {@link CorrelationStore} in Redis: one round trip per record or lookup.
 * Usually obtained as `redisState(...).correlation`.
 *
 * @example
 * ```ts
 * const { correlation } = redisState({ connection: { host: '127.0.0.1', port: 6379 }, correlation: { retentionMs: 7 * 86_400_000 } });
 * const processor = createFeedbackProcessor({ suppression, verp, correlation });
 * ```
 */
export function redisCorrelationStore(context: RedisPartContext, options: RedisCorrelationStoreOptions = {}): CorrelationStore {
  if (typeof options !== 'object' || options === null) throw configError('correlation', 'an object', options);
  const retentionMs = options.retentionMs ?? DEFAULT_CORRELATION_RETENTION_MS;
  if (typeof retentionMs !== 'number' || !Number.isFinite(retentionMs) || retentionMs <= 0) throw configError('correlation.retentionMs', 'a positive number of ms', retentionMs);
  const { redis, clock } = context;
  const keyOf = (jobId: string): string => `${context.prefix}cor:${jobId}`;
  return {
    name: REDIS_CORRELATION_STORE_NAME,
    async record(entry) {
      if (typeof entry !== 'object' || entry === null || typeof entry.jobId !== 'string' || entry.jobId === '') {
        throw configError('entry.jobId', 'a non-empty string', (entry as Partial<SentRecord> | null)?.jobId);
      }
      if (!Array.isArray(entry.recipients)) throw configError('entry.recipients', 'an array of addresses', entry.recipients);
      if (!Number.isFinite(entry.sentAt)) throw configError('entry.sentAt', 'a time in ms', entry.sentAt);
      const left = entry.sentAt + retentionMs - clock.now();
      const key = keyOf(entry.jobId);
      // Already past its retention (a late record): it would never be found, so drop any older record too.
      if (left <= 0) {
        await guard('recording a sent job', () => redis.del(key));
        return;
      }
      await guard('recording a sent job', () => redis.set(key, JSON.stringify(entry), 'PX', ttlMs(left)));
    },
    async find(jobId) {
      const value = await guard('looking up a sent job', () => redis.get(keyOf(jobId)));
      if (value === null) return undefined;
      const entry = JSON.parse(value) as SentRecord;
      return entry.sentAt + retentionMs <= clock.now() ? undefined : entry;
    },
  };
}
