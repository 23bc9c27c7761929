/**
 * The in-memory {@link SubscriptionStore}: the default of `memoryStore()`. A map per list;
 * paging sorts the list's subscribed addresses once per page (fine for tests and scripts; use
 * the SQLite or Redis store for large lists).
 *
 * @module
 */

import type { Subscription, SubscriptionStore } from '../types.js';
import { applyResubscribe, applySubscribe, applyUnsubscribe, checkChangeArgs, checkListName, checkPageArgs, subscriptionAddress } from './subscription-record.js';
import type { CheckedChange } from './subscription-record.js';

/** Name of the memory subscription store. */
export const MEMORY_SUBSCRIPTION_STORE_NAME = 'memory';

/**
 * Creates an in-memory {@link SubscriptionStore}.
 *
 * @example
 * ```ts
 * import { memorySubscriptionStore } from 'mailpush';
 *
 * const subscriptions = memorySubscriptionStore();
 * subscriptions.subscribe('newsletter', 'ann@example.com', { at: Date.now(), source: 'signup-form', proof: '203.0.113.7' });
 * subscriptions.get('newsletter', 'ann@example.com')?.status; // 'subscribed'
 * ```
 */
export function memorySubscriptionStore(): SubscriptionStore {
  const lists = new Map<string, Map<string, Subscription>>();
  const change = (c: CheckedChange, apply: typeof applySubscribe) => {
    let records = lists.get(c.list);
    const result = apply(records?.get(c.address), c);
    if (records?.get(c.address) !== result.subscription) {
      if (records === undefined) lists.set(c.list, (records = new Map()));
      records.set(c.address, result.subscription);
    }
    return result;
  };
  return {
    name: MEMORY_SUBSCRIPTION_STORE_NAME,
    get(list, address) {
      return lists.get(checkListName(list))?.get(subscriptionAddress(address));
    },
    subscribe(list, address, consent) {
      return change(checkChangeArgs(list, address, consent, 'consent'), applySubscribe);
    },
    resubscribe(list, address, consent) {
      return change(checkChangeArgs(list, address, consent, 'consent'), applyResubscribe);
    },
    unsubscribe(list, address, opt) {
      return change(checkChangeArgs(list, address, opt, 'change'), applyUnsubscribe);
    },
    lists(address) {
      const a = subscriptionAddress(address);
      const out: Subscription[] = [];
      for (const name of [...lists.keys()].sort()) {
        const record = lists.get(name)?.get(a);
        if (record !== undefined) out.push(record);
      }
      return out;
    },
    page(list, cursor, limit) {
      const p = checkPageArgs(list, cursor, limit);
      const records = lists.get(p.list);
      if (records === undefined) return { items: [], cursor: undefined };
      const addresses = [...records.keys()].filter((a) => (p.cursor === undefined || a > p.cursor) && records.get(a)?.status === 'subscribed').sort();
      const items = addresses.slice(0, p.limit).map((a) => records.get(a) as Subscription);
      return { items, cursor: addresses.length > p.limit ? items[items.length - 1]?.address : undefined };
    },
    count(list) {
      const records = lists.get(checkListName(list));
      let subscribed = 0;
      for (const r of records?.values() ?? []) if (r.status === 'subscribed') subscribed++;
      return { subscribed, unsubscribed: (records?.size ?? 0) - subscribed };
    },
  };
}

export default memorySubscriptionStore;
