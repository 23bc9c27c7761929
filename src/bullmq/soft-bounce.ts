/**
 * Soft-bounce counters in Redis: a sorted set per address (member: event id, score: time),
 * updated and counted by one Lua script so that concurrent hits count one by one. Hits older
 * than the window are dropped on each hit, at most {@link MAX_SOFT_BOUNCES_PER_ADDRESS} are
 * kept, and the set expires one window after its last hit.
 *
 * @module
 */

import { MAX_SOFT_BOUNCES_PER_ADDRESS } from '../stores/soft-bounce-memory.js';
import type { SoftBounceCounter } from '../types.js';
import { defineScript, guard, ttlMs } from './redis.js';
import type { RedisPartContext } from './redis.js';

export { MAX_SOFT_BOUNCES_PER_ADDRESS };

// KEYS[1] the address's set; ARGV: id, at, oldest excluded time (at - window), max hits, px.
const HIT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1])
local extra = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
if extra > 0 then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, extra - 1) end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[3], ARGV[2])
`;

/**
 * Creates a {@link SoftBounceCounter} in Redis: one round trip per hit or reset.
 * Usually obtained as `redisState(...).softBounces`.
 *
 * @example
 * ```ts
 * const { softBounces } = redisState({ connection: { host: '127.0.0.1', port: 6379 } });
 * await softBounces.hit('ann@example.com', 'event-1', Date.now(), 7 * 86_400_000); // 1
 * ```
 */
export function redisSoftBounceCounter(context: RedisPartContext): SoftBounceCounter {
  const hit = defineScript(context.redis, 'mailpushSoftBounceHit1', HIT);
  const keyOf = (address: string): string => `${context.prefix}sb:${address.toLowerCase()}`;
  return {
    async hit(address, id, at, windowMs) {
      const args = [id, String(at), String(at - windowMs), MAX_SOFT_BOUNCES_PER_ADDRESS, ttlMs(windowMs)];
      return (await guard('counting a soft bounce', () => hit([keyOf(address)], args))) as number;
    },
    async reset(address) {
      await guard('resetting soft bounces', () => context.redis.del(keyOf(address)));
    },
  };
}
