/**
 * The shared conformance suite every {@link SubscriptionStore} passes (memory, SQLite, Redis,
 * or a host's own): the rules documented on the contract.
 *
 * @module
 */

import { describe, expect, it } from './vitest.js';
import { MailErrorCode } from '../errors.js';
import type { SubscriptionStore } from '../types.js';

/** Options of {@link testSubscriptionStore}. */
export interface SubscriptionStoreSuiteOptions {
  /** Suite title. @default 'SubscriptionStore conformance' */
  readonly name?: string;
  /** Creates an empty store. */
  readonly create: () => SubscriptionStore | Promise<SubscriptionStore>;
  /**
   * Closes `previous` and opens a second store on the same backing storage, to check that
   * records survive a restart. Omit for stores that do not persist (memory).
   */
  readonly reopen?: (previous: SubscriptionStore) => SubscriptionStore | Promise<SubscriptionStore>;
}

const T0 = Date.UTC(2026, 0, 1);
const consent = (at: number, proof = '203.0.113.7') => ({ at, source: 'signup-form', proof });

async function members(store: SubscriptionStore, list: string, pageSize: number): Promise<string[]> {
  const out: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.page(list, cursor, pageSize);
    for (const item of page.items) out.push(item.address);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return out;
}

/** What `call` threw or rejected with (a store may throw synchronously); an Error saying so when it did neither. */
async function rejection(call: () => unknown): Promise<unknown> {
  try {
    await call();
  } catch (err) {
    return err;
  }
  return new Error('expected a rejection');
}

/**
 * Registers the SubscriptionStore conformance tests with vitest.
 *
 * @example
 * ```ts
 * import { testSubscriptionStore } from 'mailpush/testing/conformance';
 * testSubscriptionStore({ create: () => mySubscriptionStore() });
 * ```
 */
export function testSubscriptionStore(options: SubscriptionStoreSuiteOptions): void {
  describe(options.name ?? 'SubscriptionStore conformance', () => {
    it('subscribes with a consent record and finds it case-insensitively', async () => {
      const store = await options.create();
      expect(await store.get('news', 'ann@example.com')).toBeUndefined();
      const r = await store.subscribe('news', 'Ann@Example.com', consent(T0));
      expect(r.changed).toBe(true);
      expect(r.subscription).toEqual({ list: 'news', address: 'ann@example.com', status: 'subscribed', consent: { at: T0, source: 'signup-form', proof: '203.0.113.7' }, updatedAt: T0 });
      expect(await store.get('news', 'ANN@example.com')).toEqual(r.subscription);
      const again = await store.subscribe('news', 'ann@example.com', consent(T0 + 5, 'form-2'));
      expect(again.changed).toBe(false);
      expect((await store.get('news', 'ann@example.com'))?.consent).toMatchObject({ at: T0 + 5, proof: 'form-2' });
      await store.close?.();
    });

    it('unsubscribes idempotently, keeping the first opt-out and the consent', async () => {
      const store = await options.create();
      await store.subscribe('news', 'ann@example.com', consent(T0));
      const first = await store.unsubscribe('news', 'ann@example.com', { at: T0 + 10, source: 'one-click' });
      expect(first.changed).toBe(true);
      expect(first.subscription).toMatchObject({ status: 'unsubscribed', unsubscribed: { at: T0 + 10, source: 'one-click' }, consent: { at: T0 } });
      const second = await store.unsubscribe('news', 'ann@example.com', { at: T0 + 20, source: 'one-click' });
      expect(second.changed).toBe(false);
      expect(await store.get('news', 'ann@example.com')).toEqual(first.subscription);
      // An address the list never had can opt out too (it then has no consent).
      const stranger = await store.unsubscribe('news', 'zed@example.com', { at: T0, source: 'one-click' });
      expect(stranger.changed).toBe(true);
      expect(stranger.subscription.consent).toBeUndefined();
      await store.close?.();
    });

    it('never lets subscribe override an unsubscribe; resubscribe needs consent given after it', async () => {
      const store = await options.create();
      await store.subscribe('news', 'ann@example.com', consent(T0));
      await store.unsubscribe('news', 'ann@example.com', { at: T0 + 100, source: 'one-click' });
      const imported = await store.subscribe('news', 'ann@example.com', consent(T0 + 200, 'old-import'));
      expect(imported.changed).toBe(false);
      expect((await store.get('news', 'ann@example.com'))?.status).toBe('unsubscribed');
      const stale = await rejection(() => store.resubscribe('news', 'ann@example.com', consent(T0 + 50)));
      expect(stale).toMatchObject({ code: MailErrorCode.VALIDATION });
      expect((await store.get('news', 'ann@example.com'))?.status).toBe('unsubscribed');
      const fresh = await store.resubscribe('news', 'ann@example.com', consent(T0 + 300, 'double-opt-in 7f3a'));
      expect(fresh.changed).toBe(true);
      expect(fresh.subscription).toMatchObject({ status: 'subscribed', consent: { at: T0 + 300, proof: 'double-opt-in 7f3a' } });
      expect(fresh.subscription.unsubscribed).toBeUndefined();
      await store.close?.();
    });

    it('applies concurrent changes of one address one after the other: one unsubscribe wins', async () => {
      const store = await options.create();
      await store.subscribe('news', 'ann@example.com', consent(T0));
      const results = await Promise.all([1, 2, 3, 4, 5].map((i) => store.unsubscribe('news', 'ann@example.com', { at: T0 + i, source: `tab-${i}` })));
      const winners = results.filter((r) => r.changed);
      expect(winners).toHaveLength(1);
      expect(await store.get('news', 'ann@example.com')).toEqual(winners[0]?.subscription);
      for (const r of results) expect(r.subscription).toEqual(winners[0]?.subscription);
      await store.close?.();
    });

    it('keeps lists apart: an unsubscribe from one leaves the others', async () => {
      const store = await options.create();
      await store.subscribe('news', 'ann@example.com', consent(T0));
      await store.subscribe('offers', 'ann@example.com', consent(T0));
      await store.unsubscribe('news', 'ann@example.com', { at: T0 + 1, source: 'one-click' });
      expect((await store.get('offers', 'ann@example.com'))?.status).toBe('subscribed');
      const lists = await store.lists('Ann@example.com');
      expect(lists.map((s) => [s.list, s.status])).toEqual([
        ['news', 'unsubscribed'],
        ['offers', 'subscribed'],
      ]);
      expect(await store.lists('nobody@example.com')).toEqual([]);
      await store.close?.();
    });

    it('pages the subscribed addresses of a list in address order, skipping the unsubscribed', async () => {
      const store = await options.create();
      const all = Array.from({ length: 23 }, (_, i) => `user${String(i).padStart(2, '0')}@example.com`);
      for (const a of [...all].reverse()) await store.subscribe('big', a, consent(T0));
      await store.subscribe('other', 'zz@example.com', consent(T0));
      for (const a of ['user03@example.com', 'user10@example.com', 'user22@example.com']) await store.unsubscribe('big', a, { at: T0 + 1, source: 'host' });
      const expected = all.filter((a) => !['user03@example.com', 'user10@example.com', 'user22@example.com'].includes(a));
      expect(await members(store, 'big', 5)).toEqual(expected);
      expect(await members(store, 'big', 1000)).toEqual(expected);
      expect(await store.page('empty', undefined, 10)).toEqual({ items: [], cursor: undefined });
      await store.close?.();
    });

    it('counts the subscribed and unsubscribed records of a list (when it has count)', async () => {
      const store = await options.create();
      if (store.count === undefined) {
        await store.close?.();
        return;
      }
      expect(await store.count('news')).toEqual({ subscribed: 0, unsubscribed: 0 });
      for (const a of ['ann@example.com', 'bob@example.com', 'cat@example.com', 'dan@example.com']) await store.subscribe('news', a, consent(T0));
      await store.subscribe('offers', 'ann@example.com', consent(T0));
      await store.unsubscribe('news', 'bob@example.com', { at: T0 + 1, source: 'one-click' });
      await store.unsubscribe('news', 'bob@example.com', { at: T0 + 2, source: 'one-click' });
      // An opt-out without a subscription is a record too: it is never sent to either.
      await store.unsubscribe('news', 'zed@example.com', { at: T0 + 1, source: 'host' });
      expect(await store.count('news')).toEqual({ subscribed: 3, unsubscribed: 2 });
      await store.resubscribe('news', 'bob@example.com', consent(T0 + 10));
      expect(await store.count('news')).toEqual({ subscribed: 4, unsubscribed: 1 });
      expect(await store.count('offers')).toEqual({ subscribed: 1, unsubscribed: 0 });
      expect(await rejection(() => store.count?.('news list'))).toMatchObject({ code: MailErrorCode.VALIDATION });
      await store.close?.();
    });

    it('refuses bad input with VALIDATION and changes nothing', async () => {
      const store = await options.create();
      const bad: (() => unknown)[] = [
        () => store.subscribe('marketing', 'ann@example.com', consent(T0)),
        () => store.subscribe('', 'ann@example.com', consent(T0)),
        () => store.subscribe('news list', 'ann@example.com', consent(T0)),
        () => store.subscribe('news', 'not an address', consent(T0)),
        () => store.subscribe('news', 'ann@example.com', { at: Number.NaN, source: 'x' }),
        () => store.subscribe('news', 'ann@example.com', { at: T0, source: '' }),
        () => store.subscribe('news', 'ann@example.com', null as never),
        () => store.unsubscribe('news', 'ann@example.com', { at: T0, source: 'x', proof: 'p'.repeat(5000) }),
        () => store.page('news', undefined, 0),
        () => store.page('news', 42 as never, 10),
      ];
      for (const call of bad) expect(await rejection(call)).toMatchObject({ code: MailErrorCode.VALIDATION });
      expect(await store.lists('ann@example.com')).toEqual([]);
      await store.close?.();
    });

    if (options.reopen !== undefined) {
      it('keeps records and consent across a restart', async () => {
        const store = await options.create();
        await store.subscribe('news', 'ann@example.com', consent(T0));
        await store.unsubscribe('news', 'bob@example.com', { at: T0, source: 'one-click' });
        const again = await options.reopen!(store);
        expect(await again.get('news', 'ann@example.com')).toMatchObject({ status: 'subscribed', consent: { proof: '203.0.113.7' } });
        expect(await again.get('news', 'bob@example.com')).toMatchObject({ status: 'unsubscribed' });
        expect(await members(again, 'news', 10)).toEqual(['ann@example.com']);
        await again.close?.();
      });
    }
  });
}
