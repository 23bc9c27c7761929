/**
 * The SQLite store's {@link SubscriptionStore}: one row per (list, address) in `subscriptions`
 * (migration 3 of sqlite-schema.ts), the record as JSON plus a `subscribed` flag that a partial
 * index pages a list's members by. Each change reads and writes its row inside the store's
 * group commit, so concurrent changes of one address apply one after the other; a refused
 * change (a resubscribe without fresh consent) rejects alone, never the batch it rode in.
 *
 * @module
 * @internal
 */

import type { Subscription, SubscriptionResult, SubscriptionStore } from '../types.js';
import type { SqlitePartContext, SqliteRow } from './sqlite-driver.js';
import { applyResubscribe, applySubscribe, applyUnsubscribe, checkChangeArgs, checkListName, checkPageArgs, subscriptionAddress } from './subscription-record.js';
import type { CheckedChange } from './subscription-record.js';

/** What the subscription part needs of the SQLite store. */
export type SqliteSubscriptionContext = SqlitePartContext;

const parse = (row: SqliteRow | undefined): Subscription | undefined => (row === undefined ? undefined : (JSON.parse(row.data as string) as Subscription));

/**
 * Creates the subscription part of `sqliteStore()`.
 *
 * @example
 * ```ts
 * // inside sqliteStore(): subscriptions: sqliteSubscriptionStore({ name, write, read, run, one, all })
 * const store = sqliteStore({ path: 'mail.db' });
 * await store.subscriptions?.subscribe('newsletter', 'ann@example.com', { at: Date.now(), source: 'signup-form' });
 * ```
 */
export function sqliteSubscriptionStore(ctx: SqliteSubscriptionContext): SubscriptionStore {
  const { run, one, all } = ctx;
  const change = (args: () => CheckedChange, apply: (existing: Subscription | undefined, c: CheckedChange) => SubscriptionResult): Promise<SubscriptionResult> => {
    let c: CheckedChange;
    try {
      c = args();
    } catch (err) {
      return Promise.reject(err);
    }
    return ctx
      .write(() => {
        let result: SubscriptionResult;
        const existing = parse(one('SELECT data FROM subscriptions WHERE list = ? AND address = ?', c.list, c.address));
        try {
          result = apply(existing, c);
        } catch (err) {
          // Returned, not thrown: a throw would roll back every write of the batch.
          return { refused: err };
        }
        if (result.subscription !== existing) {
          const s = result.subscription;
          run(
            'INSERT INTO subscriptions (list, address, subscribed, data) VALUES (?, ?, ?, ?) ON CONFLICT (list, address) DO UPDATE SET subscribed = excluded.subscribed, data = excluded.data',
            s.list,
            s.address,
            s.status === 'subscribed' ? 1 : 0,
            JSON.stringify(s),
          );
        }
        return { result };
      })
      .then((out) => {
        if ('refused' in out) throw out.refused;
        return out.result;
      });
  };
  return {
    name: ctx.name,
    get(list, address) {
      const l = checkListName(list);
      const a = subscriptionAddress(address);
      return ctx.read('looking up a subscription', () => parse(one('SELECT data FROM subscriptions WHERE list = ? AND address = ?', l, a)));
    },
    subscribe(list, address, consent) {
      return change(() => checkChangeArgs(list, address, consent, 'consent'), applySubscribe);
    },
    resubscribe(list, address, consent) {
      return change(() => checkChangeArgs(list, address, consent, 'consent'), applyResubscribe);
    },
    unsubscribe(list, address, opt) {
      return change(() => checkChangeArgs(list, address, opt, 'change'), applyUnsubscribe);
    },
    lists(address) {
      const a = subscriptionAddress(address);
      return ctx.read('listing the subscriptions of an address', () => all('SELECT data FROM subscriptions WHERE address = ? ORDER BY list', a).map((r) => parse(r) as Subscription));
    },
    page(list, cursor, limit) {
      const p = checkPageArgs(list, cursor, limit);
      return ctx.read('reading a page of a list', () => {
        const rows = all('SELECT data FROM subscriptions WHERE list = ? AND subscribed = 1 AND address > ? ORDER BY address LIMIT ?', p.list, p.cursor ?? '', p.limit + 1);
        const items = rows.slice(0, p.limit).map((r) => parse(r) as Subscription);
        return { items, cursor: rows.length > p.limit ? items[items.length - 1]?.address : undefined };
      });
    },
    count(list) {
      const l = checkListName(list);
      return ctx.read('counting the records of a list', () => {
        const counts = { subscribed: 0, unsubscribed: 0 };
        for (const row of all('SELECT subscribed, COUNT(*) AS n FROM subscriptions WHERE list = ? GROUP BY subscribed', l)) {
          counts[Number(row.subscribed) === 1 ? 'subscribed' : 'unsubscribed'] = Number(row.n);
        }
        return counts;
      });
    },
  };
}
