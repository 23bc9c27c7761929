/**
 * Webhook replay ids in Redis: one string per key holding its expiry, with a PX until that
 * expiry (by the store's clock) so Redis reclaims the key; `has` compares with the caller's `now`.
 *
 * @module
 */

import { configError } from '../errors.js';
import type { ReplayStore } from '../types.js';
import { guard, ttlMs } from './redis.js';
import type { RedisPartContext } from './redis.js';

/** Name of the Redis replay store. */
export const REDIS_REPLAY_STORE_NAME = 'redis';

/**
 * Creates a {@link ReplayStore} in Redis: one round trip per call.
 * Usually obtained as `redisState(...).replay`.
 *
 * @example
 * ```ts
 * const { replay } = redisState({ connection: { host: '127.0.0.1', port: 6379 } });
 * const handler = createFeedbackHandler({ processor, sendgrid: { publicKey }, replay });
 * ```
 */
export function redisReplayStore(context: RedisPartContext): ReplayStore {
  const { redis, clock } = context;
  const keyOf = (key: string): string => `${context.prefix}rp:${key}`;
  return {
    name: REDIS_REPLAY_STORE_NAME,
    async has(key, now) {
      const value = await guard('looking up a replay id', () => redis.get(keyOf(key)));
      return value !== null && Number(value) > now;
    },
    async add(key, expiresAt) {
      if (typeof key !== 'string' || key === '') throw configError('key', 'a non-empty string', key);
      if (typeof expiresAt !== 'number' || Number.isNaN(expiresAt)) throw configError('expiresAt', 'a time in ms', expiresAt);
      const left = expiresAt - clock.now();
      if (left <= 0) {
        await guard('adding a replay id', () => redis.del(keyOf(key)));
        return;
      }
      const value = String(expiresAt);
      await guard('adding a replay id', () => (Number.isFinite(left) ? redis.set(keyOf(key), value, 'PX', ttlMs(left)) : redis.set(keyOf(key), value)));
    },
  };
}
