/**
 * The suppression list in Redis: one hash, field `<target> <scope>`, value the entry as JSON.
 * A lookup is one HMGET of every field that could block an address (address and domain, each
 * unscoped and with each scope); expiry is data compared with the caller's `now`.
 *
 * @module
 */

import { checkSuppressionEntry, suppressionTargetKey } from '../stores/suppression-memory.js';
import type { SuppressionEntry, SuppressionStore } from '../types.js';
import { guard } from './redis.js';
import type { RedisPartContext } from './redis.js';

/** Name of the Redis suppression store. */
export const REDIS_SUPPRESSION_STORE_NAME = 'redis';

/** Entries read per HSCAN round trip by `list()`. */
const SCAN_COUNT = 500;

/** The hash field of a target and scope. Targets never contain spaces (the entry check refuses them), so the first space ends the target. */
function field(target: string, scope: string | undefined): string {
  return `${target} ${scope ?? ''}`;
}

function parse(value: string | null): SuppressionEntry | undefined {
  return value === null ? undefined : (JSON.parse(value) as SuppressionEntry);
}

/**
 * Creates a {@link SuppressionStore} in Redis, shared by every process on the same prefix.
 * Usually obtained as `redisState(...).suppression`.
 *
 * @example
 * ```ts
 * const { suppression } = redisState({ connection: { host: '127.0.0.1', port: 6379 } });
 * await suppression.add({ address: 'ann@example.com', reason: 'complaint', createdAt: Date.now() });
 * ```
 */
export function redisSuppressionStore(context: RedisPartContext): SuppressionStore {
  const { redis } = context;
  const key = `${context.prefix}sup`;
  return {
    name: REDIS_SUPPRESSION_STORE_NAME,
    async add(entry) {
      checkSuppressionEntry(entry);
      const json = JSON.stringify({ ...entry });
      await guard('adding a suppression', () => redis.hset(key, field(suppressionTargetKey(entry), entry.scope), json));
    },
    async remove(target) {
      if (target.address === undefined && target.domain === undefined) return false;
      const removed = await guard('removing a suppression', () => redis.hdel(key, field(suppressionTargetKey(target), target.scope)));
      return removed > 0;
    },
    async find(address, scopes, now) {
      const at = address.lastIndexOf('@');
      const targets = [`a:${address.toLowerCase()}`];
      if (at >= 0) targets.push(`d:${address.slice(at + 1).toLowerCase()}`);
      const fields: string[] = [];
      for (const target of targets) for (const scope of ['', ...scopes]) fields.push(field(target, scope));
      const values = await guard('looking up a suppression', () => redis.hmget(key, ...fields));
      // Order matters as in the memory store: the address before its domain, unscoped first.
      for (const value of values) {
        const entry = parse(value);
        if (entry !== undefined && (entry.expiresAt === undefined || entry.expiresAt > now)) return entry;
      }
      return undefined;
    },
    async *list() {
      let cursor = '0';
      do {
        const [next, flat] = await guard('listing suppressions', () => redis.hscan(key, cursor, 'COUNT', SCAN_COUNT));
        cursor = next;
        for (let i = 1; i < flat.length; i += 2) yield JSON.parse(flat[i] as string) as SuppressionEntry;
      } while (cursor !== '0');
    },
  };
}
