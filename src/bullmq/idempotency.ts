/**
 * Idempotency keys in Redis: one string per key holding `<expiresAt>:<id>`, claimed by a Lua
 * script so that concurrent claims from any number of processes give one holder. Expiry is
 * data compared with the caller's `now`; the key's PX (the window) only reclaims memory.
 *
 * @module
 */

import type { IdempotencyStore } from '../types.js';
import { defineScript, guard, ttlMs } from './redis.js';
import type { RedisPartContext } from './redis.js';

/** Name of the Redis idempotency store. */
export const REDIS_IDEMPOTENCY_STORE_NAME = 'redis';

// KEYS[1] claim key; ARGV: id, expiresAt, now, px. Returns the holder's id.
const CLAIM = `
local v = redis.call('GET', KEYS[1])
if v then
  local i = string.find(v, ':', 1, true)
  if i and tonumber(string.sub(v, 1, i - 1)) > tonumber(ARGV[3]) then return string.sub(v, i + 1) end
end
redis.call('SET', KEYS[1], ARGV[2] .. ':' .. ARGV[1], 'PX', ARGV[4])
return ARGV[1]
`;

// KEYS[1] claim key; ARGV: id. Deletes the claim when `id` holds it.
const RELEASE = `
local v = redis.call('GET', KEYS[1])
if v then
  local i = string.find(v, ':', 1, true)
  if i and string.sub(v, i + 1) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
end
return 0
`;

/**
 * Creates an {@link IdempotencyStore} in Redis: one round trip per claim or release.
 * Usually obtained as `redisState(...).idempotency`.
 *
 * @example
 * ```ts
 * const { idempotency } = redisState({ connection: { host: '127.0.0.1', port: 6379 } });
 * await idempotency.claim('order-42', 'msg_1', Date.now() + 86_400_000, Date.now()); // 'msg_1'
 * ```
 */
export function redisIdempotencyStore(context: RedisPartContext): IdempotencyStore {
  const claim = defineScript(context.redis, 'mailpushIdempotencyClaim1', CLAIM);
  const release = defineScript(context.redis, 'mailpushIdempotencyRelease1', RELEASE);
  const keyOf = (key: string): string => `${context.prefix}idem:${key}`;
  return {
    name: REDIS_IDEMPOTENCY_STORE_NAME,
    async claim(key, id, expiresAt, now) {
      // Whole ms as strings: Lua would print large numbers in exponent form.
      const args = [id, String(Math.ceil(expiresAt)), String(Math.floor(now)), String(ttlMs(expiresAt - now))];
      return (await guard('claiming an idempotency key', () => claim([keyOf(key)], args))) as string;
    },
    async release(key, id) {
      await guard('releasing an idempotency key', () => release([keyOf(key)], [id]));
    },
  };
}
