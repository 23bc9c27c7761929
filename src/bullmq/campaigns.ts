/**
 * Per-campaign state and counters in Redis: one hash per campaign (`<prefix>cmp:<id>`) with
 * its state, reason, creation and update times and a field per counter (`c:<name>`). Each call
 * is one Lua script, so concurrent increments from a fleet add up exactly.
 *
 * @module
 */

import { checkCampaignId, checkCounts, checkState } from '../campaigns/ids.js';
import type { CampaignRecord, CampaignState, CampaignStore } from '../types.js';
import { defineScript, guard } from './redis.js';
import type { RedisPartContext } from './redis.js';

/** Name of the Redis campaign store. */
export const REDIS_CAMPAIGN_STORE_NAME = 'redis';

// KEYS[1] the campaign's hash; ARGV: at, then name/amount pairs.
const INCREMENT = `
local at = tonumber(ARGV[1])
if redis.call('HSETNX', KEYS[1], 'ca', ARGV[1]) == 1 then redis.call('HSET', KEYS[1], 's', 'running') end
local ua = tonumber(redis.call('HGET', KEYS[1], 'ua') or '-1')
if at > ua then redis.call('HSET', KEYS[1], 'ua', ARGV[1]) end
for i = 2, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], 'c:' .. ARGV[i], ARGV[i + 1]) end
return 1
`;

// KEYS[1] the campaign's hash; ARGV: at, state, reason ('' = none).
const SET_STATE = `
local at = tonumber(ARGV[1])
redis.call('HSETNX', KEYS[1], 'ca', ARGV[1])
local ua = tonumber(redis.call('HGET', KEYS[1], 'ua') or '-1')
if at > ua then redis.call('HSET', KEYS[1], 'ua', ARGV[1]) end
redis.call('HSET', KEYS[1], 's', ARGV[2])
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], 'r') else redis.call('HSET', KEYS[1], 'r', ARGV[3]) end
return 1
`;

/**
 * Creates a {@link CampaignStore} in Redis: one round trip per call.
 * Usually obtained as `redisState(...).campaigns` or `bullmqStore(...).campaigns`.
 *
 * @example
 * ```ts
 * const { campaigns } = redisState({ connection: { host: '127.0.0.1', port: 6379 } });
 * await campaigns.increment('spring-sale', { opened: 1 }, Date.now());
 * (await campaigns.get('spring-sale'))?.counts.opened; // 1
 * ```
 */
export function redisCampaignStore(context: RedisPartContext): CampaignStore {
  const increment = defineScript(context.redis, 'mailpushCampaignIncrement1', INCREMENT);
  const setState = defineScript(context.redis, 'mailpushCampaignSetState1', SET_STATE);
  const keyOf = (id: string): string => `${context.prefix}cmp:${id}`;
  return {
    name: REDIS_CAMPAIGN_STORE_NAME,
    async increment(id, counts, at) {
      checkCampaignId(id, 'id');
      const list = checkCounts(counts);
      const args: (string | number)[] = [String(at)];
      for (const [name, n] of list) args.push(name, n);
      await guard('counting for a campaign', () => increment([keyOf(id)], args));
    },
    async setState(id, state: CampaignState, at, reason) {
      checkCampaignId(id, 'id');
      checkState(state, reason);
      await guard('setting a campaign state', () => setState([keyOf(id)], [String(at), state, reason ?? '']));
    },
    async get(id) {
      if (typeof id !== 'string') return undefined;
      const h = await guard('reading a campaign', () => context.redis.hgetall(keyOf(id)));
      if (h.s === undefined) return undefined;
      const counts: Record<string, number> = {};
      for (const [k, v] of Object.entries(h)) {
        if (k.startsWith('c:') && Number(v) !== 0) counts[k.slice(2)] = Number(v);
      }
      const record: CampaignRecord = { id, state: h.s as CampaignState, createdAt: Number(h.ca), updatedAt: Number(h.ua), counts };
      return h.r === undefined ? record : { ...record, reason: h.r };
    },
  };
}
