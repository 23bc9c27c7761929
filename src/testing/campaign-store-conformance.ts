/**
 * The shared conformance suite every {@link CampaignStore} passes. Store authors call
 * `testCampaignStore({ create })` from a vitest file.
 *
 * @module
 */

import { describe, expect, it } from './vitest.js';
import { MailErrorCode } from '../errors.js';
import type { CampaignStore } from '../types.js';

/** Options of {@link testCampaignStore}. */
export interface CampaignStoreSuiteOptions {
  /** Suite title. @default 'CampaignStore conformance' */
  readonly name?: string;
  /** Creates an empty store. */
  readonly create: () => CampaignStore | Promise<CampaignStore>;
  /** Releases a store after a test. @default `store.close?.()` */
  readonly dispose?: (store: CampaignStore) => void | Promise<void>;
  /**
   * Closes `previous` and opens a second store on the same backing storage, to check that
   * state and counts survive a restart. Omit for stores that do not persist (memory).
   */
  readonly reopen?: (previous: CampaignStore) => CampaignStore | Promise<CampaignStore>;
}

const T0 = Date.UTC(2026, 0, 1);

/**
 * Registers the CampaignStore conformance tests with vitest: unknown campaigns, counters that
 * add up (standard and custom names), concurrent increments, state changes with a reason,
 * refusal of bad input without changing anything, and (with `reopen`) persistence.
 *
 * @example
 * ```ts
 * import { testCampaignStore } from 'mailpush/testing/conformance';
 * testCampaignStore({ name: 'my campaign store', create: () => myCampaignStore() });
 * ```
 */
export function testCampaignStore(options: CampaignStoreSuiteOptions): void {
  const done = async (store: CampaignStore): Promise<void> => {
    if (options.dispose !== undefined) await options.dispose(store);
    else await store.close?.();
  };
  const rejects = async (fn: () => unknown): Promise<void> => {
    await expect((async () => fn())()).rejects.toMatchObject({ code: MailErrorCode.VALIDATION });
  };

  describe(options.name ?? 'CampaignStore conformance', () => {
    it('knows nothing of a campaign it never saw', async () => {
      const s = await options.create();
      expect(await s.get('never-seen')).toBeUndefined();
      await done(s);
    });

    it('creates a running campaign on the first increment and adds counters up', async () => {
      const s = await options.create();
      await s.increment('spring', { queued: 3, sent: 1 }, T0);
      await s.increment('spring', { sent: 2, failed: 1 }, T0 + 1000);
      await s.increment('autumn', { queued: 5 }, T0 + 2000);
      const spring = await s.get('spring');
      expect(spring).toMatchObject({ id: 'spring', state: 'running', createdAt: T0, updatedAt: T0 + 1000, counts: { queued: 3, sent: 3, failed: 1 } });
      expect(spring?.reason).toBeUndefined();
      expect((await s.get('autumn'))?.counts).toEqual({ queued: 5 });
      await done(s);
    });

    it('counts any valid counter name (opened, clicked, a host counter) and negative corrections', async () => {
      const s = await options.create();
      await s.increment('c1', { opened: 2, clicked: 1, 'host.custom_x': 7 }, T0);
      await s.increment('c1', { opened: -1, clicked: 0 }, T0 + 1);
      expect((await s.get('c1'))?.counts).toEqual({ opened: 1, clicked: 1, 'host.custom_x': 7 });
      await done(s);
    });

    it('adds concurrent increments one by one', async () => {
      const s = await options.create();
      await Promise.all(Array.from({ length: 20 }, (_, i) => s.increment('busy', { sent: 1, ...(i % 2 === 0 ? { failed: 1 } : {}) }, T0 + i)));
      const got = await s.get('busy');
      expect(got?.counts).toEqual({ sent: 20, failed: 10 });
      expect(got?.updatedAt).toBe(T0 + 19);
      await done(s);
    });

    it('sets the state with a reason, keeps the counts and the creation time', async () => {
      const s = await options.create();
      await s.increment('c2', { queued: 4 }, T0);
      await s.setState('c2', 'paused', T0 + 10, 'complaint-rate');
      expect(await s.get('c2')).toMatchObject({ state: 'paused', reason: 'complaint-rate', createdAt: T0, updatedAt: T0 + 10, counts: { queued: 4 } });
      await s.setState('c2', 'running', T0 + 20);
      const running = await s.get('c2');
      expect(running).toMatchObject({ state: 'running', updatedAt: T0 + 20 });
      expect(running?.reason).toBeUndefined();
      await s.setState('fresh', 'cancelled', T0 + 30, 'user');
      expect(await s.get('fresh')).toMatchObject({ state: 'cancelled', reason: 'user', createdAt: T0 + 30, counts: {} });
      await done(s);
    });

    it('refuses bad ids, names, values and states with VALIDATION and changes nothing', async () => {
      const s = await options.create();
      await s.increment('ok', { sent: 1 }, T0);
      await rejects(() => s.increment('a:b', { sent: 1 }, T0));
      await rejects(() => s.increment('', { sent: 1 }, T0));
      await rejects(() => s.increment('ok', { 'Bad Name': 1 }, T0));
      await rejects(() => s.increment('ok', { sent: 1.5 }, T0));
      await rejects(() => s.increment('ok', { sent: 1, failed: Number.NaN }, T0));
      await rejects(() => s.increment('ok', null as never, T0));
      await rejects(() => s.setState('ok', 'stopped' as never, T0));
      await rejects(() => s.setState('x'.repeat(65), 'paused', T0));
      expect(await s.get('ok')).toMatchObject({ state: 'running', counts: { sent: 1 } });
      expect(await s.get('a:b')).toBeUndefined();
      await done(s);
    });

    if (options.reopen !== undefined) {
      const reopen = options.reopen;
      it('keeps states and counts across a reopen', async () => {
        const s = await options.create();
        await s.increment('kept', { queued: 10, sent: 7, opened: 2 }, T0);
        await s.setState('kept', 'paused', T0 + 5, 'user');
        await s.increment('other', { queued: 1 }, T0);
        const again = await reopen(s);
        expect(await again.get('kept')).toMatchObject({ state: 'paused', reason: 'user', createdAt: T0, updatedAt: T0 + 5, counts: { queued: 10, sent: 7, opened: 2 } });
        await again.increment('kept', { sent: 3 }, T0 + 6);
        expect((await again.get('kept'))?.counts).toEqual({ queued: 10, sent: 10, opened: 2 });
        expect((await again.get('other'))?.counts).toEqual({ queued: 1 });
        await done(again);
      });
    }
  });
}
