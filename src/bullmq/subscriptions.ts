/**
 * Lists, subscriptions and consent in Redis, shared by every process on the same prefix:
 * - `<prefix>subs:<list>`: a hash, address -> the record as JSON;
 * - `<prefix>subs-members:<list>`: a sorted set (all scores 0) of the subscribed addresses,
 *   paged in address order with ZRANGE BYLEX;
 * - `<prefix>subs-lists:<address>`: a set of the lists an address has a record on.
 *
 * A change reads the record, applies the contract's rules (src/stores/subscription-record.ts)
 * and writes it with a Lua compare-and-set that also updates the member set and the address's
 * lists atomically; when another process changed the record in between, it reads again and
 * retries, so concurrent changes apply one after the other.
 *
 * @module
 */

import { MailError, MailErrorCode } from '../errors.js';
import { applyResubscribe, applySubscribe, applyUnsubscribe, checkChangeArgs, checkListName, checkPageArgs, subscriptionAddress } from '../stores/subscription-record.js';
import type { CheckedChange } from '../stores/subscription-record.js';
import type { Subscription, SubscriptionResult, SubscriptionStore } from '../types.js';
import { defineScript, guard, storeError } from './redis.js';
import type { RedisPartContext } from './redis.js';

/** Name of the Redis subscription store. */
export const REDIS_SUBSCRIPTION_STORE_NAME = 'redis';

/** Compare-and-set of one record: KEYS hash, members, lists-of-address; ARGV address, expected ('' = none), json, subscribed (1/0), list. */
const CAS = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if (cur == false and ARGV[2] ~= '') or (cur ~= false and cur ~= ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
if ARGV[4] == '1' then redis.call('ZADD', KEYS[2], 0, ARGV[1]) else redis.call('ZREM', KEYS[2], ARGV[1]) end
redis.call('SADD', KEYS[3], ARGV[5])
return 1
`;

/** Attempts of a change that keeps losing the compare-and-set race before it gives up (STORE, retryable). */
const MAX_CAS_ATTEMPTS = 20;

/**
 * Creates a {@link SubscriptionStore} in Redis. Usually obtained as `redisState(...).subscriptions`
 * or `bullmqStore(...).subscriptions`.
 *
 * @example
 * ```ts
 * const { subscriptions } = redisState({ connection: { host: '127.0.0.1', port: 6379 } });
 * await subscriptions.subscribe('newsletter', 'ann@example.com', { at: Date.now(), source: 'signup-form', proof: '203.0.113.7' });
 * ```
 */
export function redisSubscriptionStore(context: RedisPartContext): SubscriptionStore {
  const { redis, prefix } = context;
  const hash = (list: string) => `${prefix}subs:${list}`;
  const membersKey = (list: string) => `${prefix}subs-members:${list}`;
  const listsKey = (address: string) => `${prefix}subs-lists:${address}`;
  const cas = defineScript(redis, 'mailpushSubscriptionCas', CAS);

  const change = async (c: CheckedChange, apply: (existing: Subscription | undefined, c: CheckedChange) => SubscriptionResult): Promise<SubscriptionResult> => {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const raw = await guard('reading a subscription', () => redis.hget(hash(c.list), c.address));
      const existing = raw === null ? undefined : (JSON.parse(raw) as Subscription);
      const result = apply(existing, c);
      if (result.subscription === existing) return result;
      const s = result.subscription;
      const done = await guard('writing a subscription', () =>
        cas([hash(c.list), membersKey(c.list), listsKey(c.address)], [c.address, raw ?? '', JSON.stringify(s), s.status === 'subscribed' ? '1' : '0', c.list]),
      );
      if (Number(done) === 1) return result;
    }
    throw new MailError(`Redis store: the subscription of ${c.address} to ${c.list} kept changing under ${MAX_CAS_ATTEMPTS} attempts`, { code: MailErrorCode.STORE, retryable: true });
  };

  return {
    name: REDIS_SUBSCRIPTION_STORE_NAME,
    async get(list, address) {
      const l = checkListName(list);
      const a = subscriptionAddress(address);
      const raw = await guard('reading a subscription', () => redis.hget(hash(l), a));
      return raw === null ? undefined : (JSON.parse(raw) as Subscription);
    },
    async subscribe(list, address, consent) {
      return change(checkChangeArgs(list, address, consent, 'consent'), applySubscribe);
    },
    async resubscribe(list, address, consent) {
      return change(checkChangeArgs(list, address, consent, 'consent'), applyResubscribe);
    },
    async unsubscribe(list, address, opt) {
      return change(checkChangeArgs(list, address, opt, 'change'), applyUnsubscribe);
    },
    async lists(address) {
      const a = subscriptionAddress(address);
      const names = (await guard('listing the lists of an address', () => redis.smembers(listsKey(a)))).sort();
      if (names.length === 0) return [];
      const values = await Promise.all(names.map((l) => guard('reading a subscription', () => redis.hget(hash(l), a))));
      return values.filter((v): v is string => v !== null).map((v) => JSON.parse(v) as Subscription);
    },
    async page(list, cursor, limit) {
      const p = checkPageArgs(list, cursor, limit);
      const start = p.cursor === undefined ? '-' : `(${p.cursor}`;
      const addresses = await guard('reading a page of a list', () => redis.zrangebylex(membersKey(p.list), start, '+', 'LIMIT', 0, p.limit + 1));
      const shown = addresses.slice(0, p.limit);
      if (shown.length === 0) return { items: [], cursor: undefined };
      const values = await guard('reading a page of a list', () => redis.hmget(hash(p.list), ...shown));
      const items = values.filter((v): v is string => v !== null).map((v) => JSON.parse(v) as Subscription);
      return { items, cursor: addresses.length > p.limit ? shown[shown.length - 1] : undefined };
    },
    async count(list) {
      const l = checkListName(list);
      // The hash holds every record and the set the subscribed ones (a record is either), read
      // in one MULTI so a change between the two reads cannot skew the difference.
      const [[e1, records], [e2, subscribed]] = (await guard('counting the records of a list', () => redis.multi().hlen(hash(l)).zcard(membersKey(l)).exec())) as [[Error | null, number], [Error | null, number]];
      if (e1 !== null || e2 !== null) throw storeError('counting the records of a list', e1 ?? e2);
      return { subscribed, unsubscribed: records - subscribed };
    },
  };
}
