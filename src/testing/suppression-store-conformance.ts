/**
 * The shared conformance suite every {@link SuppressionStore} passes.
 *
 * @module
 */

import { describe, expect, it } from './vitest.js';
import type { SuppressionEntry, SuppressionStore } from '../types.js';

/** Options of {@link testSuppressionStore}. */
export interface SuppressionStoreSuiteOptions {
  /** Suite title. @default 'SuppressionStore conformance' */
  readonly name?: string;
  /** Creates an empty store. */
  readonly create: () => SuppressionStore | Promise<SuppressionStore>;
  /**
   * Closes `previous` and opens a second store on the same backing storage, to check that
   * entries survive a restart. Omit for stores that do not persist (memory).
   */
  readonly reopen?: (previous: SuppressionStore) => SuppressionStore | Promise<SuppressionStore>;
}

const T0 = Date.UTC(2026, 0, 1);

async function all(store: SuppressionStore): Promise<SuppressionEntry[]> {
  const out: SuppressionEntry[] = [];
  for await (const e of store.list() as AsyncIterable<SuppressionEntry>) out.push(e);
  return out;
}

/**
 * Registers the SuppressionStore conformance tests with vitest.
 *
 * @example
 * ```ts
 * import { testSuppressionStore } from 'mailpush/testing/conformance';
 * testSuppressionStore({ create: () => mySuppressionStore() });
 * ```
 */
export function testSuppressionStore(options: SuppressionStoreSuiteOptions): void {
  describe(options.name ?? 'SuppressionStore conformance', () => {
    it('finds an address case-insensitively and forgets it on remove', async () => {
      const store = await options.create();
      expect(await store.find('ann@example.com', [], T0)).toBeUndefined();
      await store.add({ address: 'Ann@Example.com', reason: 'hard-bounce', source: 'dsn', detail: '550 5.1.1', createdAt: T0 });
      expect(await store.find('ann@example.com', [], T0)).toMatchObject({ reason: 'hard-bounce', source: 'dsn' });
      expect(await store.find('ANN@EXAMPLE.COM', ['marketing'], T0)).toBeDefined();
      expect(await store.find('bob@example.com', [], T0)).toBeUndefined();
      expect(await store.remove({ address: 'ann@example.com' })).toBe(true);
      expect(await store.remove({ address: 'ann@example.com' })).toBe(false);
      expect(await store.find('ann@example.com', [], T0)).toBeUndefined();
      await store.close?.();
    });

    it('blocks a whole domain', async () => {
      const store = await options.create();
      await store.add({ domain: 'closed.example', reason: 'manual', createdAt: T0 });
      expect(await store.find('anyone@closed.example', [], T0)).toMatchObject({ domain: 'closed.example' });
      expect(await store.find('anyone@open.example', [], T0)).toBeUndefined();
      await store.close?.();
    });

    it('applies a scoped entry only to messages with that scope', async () => {
      const store = await options.create();
      await store.add({ address: 'ann@example.com', reason: 'unsubscribe', scope: 'marketing', createdAt: T0 });
      expect(await store.find('ann@example.com', ['transactional'], T0)).toBeUndefined();
      expect(await store.find('ann@example.com', ['marketing'], T0)).toMatchObject({ scope: 'marketing' });
      expect(await store.find('ann@example.com', ['marketing', 'weekly'], T0)).toBeDefined();
      // removing the unscoped entry leaves the scoped one
      expect(await store.remove({ address: 'ann@example.com' })).toBe(false);
      expect(await store.remove({ address: 'ann@example.com', scope: 'marketing' })).toBe(true);
      await store.close?.();
    });

    it('ignores expired entries', async () => {
      const store = await options.create();
      await store.add({ address: 'soft@example.com', reason: 'soft-bounce', createdAt: T0, expiresAt: T0 + 1000 });
      expect(await store.find('soft@example.com', [], T0 + 999)).toBeDefined();
      expect(await store.find('soft@example.com', [], T0 + 1000)).toBeUndefined();
      await store.close?.();
    });

    it('replaces the entry for the same target and scope, and lists entries', async () => {
      const store = await options.create();
      await store.add({ address: 'ann@example.com', reason: 'soft-bounce', createdAt: T0 });
      await store.add({ address: 'ann@example.com', reason: 'complaint', createdAt: T0 + 1 });
      await store.add({ domain: 'x.example', reason: 'manual', createdAt: T0 });
      const entries = await all(store);
      expect(entries).toHaveLength(2);
      expect(await store.find('ann@example.com', [], T0 + 2)).toMatchObject({ reason: 'complaint' });
      await store.close?.();
    });

    it('refuses malformed entries', async () => {
      const store = await options.create();
      const bad = [
        { reason: 'manual', createdAt: T0 },
        { address: 'a@b.example', domain: 'b.example', reason: 'manual', createdAt: T0 },
        { address: 'not an address', reason: 'manual', createdAt: T0 },
        { address: 'a@b.example', reason: 'because', createdAt: T0 },
        { address: 'a@b.example', reason: 'manual', createdAt: Number.NaN },
      ];
      for (const entry of bad) {
        await expect(Promise.resolve().then(() => store.add(entry as SuppressionEntry))).rejects.toMatchObject({ code: 'MAILPUSH_ERR_CONFIG' });
      }
      expect(await all(store)).toEqual([]);
      await store.close?.();
    });

    it('keeps its own copy of an added entry', async () => {
      const store = await options.create();
      const entry = { address: 'ann@example.com', reason: 'manual', detail: 'before', createdAt: T0 } as { -readonly [K in keyof SuppressionEntry]: SuppressionEntry[K] };
      await store.add(entry);
      entry.detail = 'after';
      expect(await store.find('ann@example.com', [], T0)).toMatchObject({ detail: 'before' });
      await store.close?.();
    });

    it('lists many entries', async () => {
      const store = await options.create();
      for (let i = 0; i < 2500; i++) await store.add({ address: `u${i}@example.com`, reason: 'hard-bounce', createdAt: T0 });
      await store.add({ address: 'u0@example.com', reason: 'unsubscribe', scope: 'marketing', createdAt: T0 });
      const entries = await all(store);
      expect(entries).toHaveLength(2501);
      expect(new Set(entries.map((e) => `${e.address}|${e.scope ?? ''}`)).size).toBe(2501);
      await store.close?.();
    });

    if (options.reopen !== undefined) {
      const reopen = options.reopen;
      it('keeps entries across a reopen', async () => {
        const store = await options.create();
        await store.add({ address: 'Ann@Example.com', reason: 'hard-bounce', source: 'dsn', detail: '550 5.1.1', createdAt: T0 });
        await store.add({ domain: 'closed.example', reason: 'manual', createdAt: T0 });
        await store.add({ address: 'bob@example.com', reason: 'unsubscribe', scope: 'weekly', createdAt: T0, expiresAt: T0 + 1000 });
        await store.add({ address: 'gone@example.com', reason: 'manual', createdAt: T0 });
        expect(await store.remove({ address: 'gone@example.com' })).toBe(true);
        const again = await reopen(store);
        expect(await again.find('ann@example.com', [], T0)).toEqual({ address: 'Ann@Example.com', reason: 'hard-bounce', source: 'dsn', detail: '550 5.1.1', createdAt: T0 });
        expect(await again.find('x@closed.example', [], T0)).toMatchObject({ domain: 'closed.example' });
        expect(await again.find('bob@example.com', ['weekly'], T0 + 999)).toMatchObject({ scope: 'weekly', expiresAt: T0 + 1000 });
        expect(await again.find('gone@example.com', [], T0)).toBeUndefined();
        expect(await all(again)).toHaveLength(3);
        await again.close?.();
      });
    }
  });
}
