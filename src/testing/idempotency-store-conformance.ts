/**
 * The shared conformance suite every {@link IdempotencyStore} passes. Store authors call
 * `testIdempotencyStore({ create })` from a vitest file; the memory store's own test is five lines.
 *
 * @module
 */

import { describe, expect, it } from './vitest.js';
import type { IdempotencyStore } from '../types.js';

/** Options of {@link testIdempotencyStore}. */
export interface IdempotencyStoreSuiteOptions {
  /** Suite title. @default 'IdempotencyStore conformance' */
  readonly name?: string;
  /** Creates an empty store. */
  readonly create: () => IdempotencyStore | Promise<IdempotencyStore>;
  /**
   * Closes `previous` and opens a second store on the same backing storage, to check that
   * claims survive a restart. Omit for stores that do not persist (memory).
   */
  readonly reopen?: (previous: IdempotencyStore) => IdempotencyStore | Promise<IdempotencyStore>;
}

const T0 = Date.UTC(2026, 0, 1);
const DAY = 86_400_000;

/**
 * Registers the IdempotencyStore conformance tests with vitest: first claim wins until it
 * expires, release by the holder only, exact keys, concurrent claims of one key, many keys,
 * and (with `reopen`) claims that survive a restart.
 *
 * @example
 * ```ts
 * import { testIdempotencyStore } from 'mailpush/testing/conformance';
 * testIdempotencyStore({ create: () => myIdempotencyStore() });
 * ```
 */
export function testIdempotencyStore(options: IdempotencyStoreSuiteOptions): void {
  describe(options.name ?? 'IdempotencyStore conformance', () => {
    it('has a name; the first claim of a key wins until it expires', async () => {
      const store = await options.create();
      expect(typeof store.name).toBe('string');
      expect(store.name).not.toBe('');
      expect(await store.claim('order-42', 'msg_1', T0 + DAY, T0)).toBe('msg_1');
      expect(await store.claim('order-42', 'msg_2', T0 + 2 * DAY, T0 + 1000)).toBe('msg_1');
      expect(await store.claim('order-42', 'msg_3', T0 + 2 * DAY, T0 + DAY - 1)).toBe('msg_1');
      // Expired at its expiresAt: the next claim takes the key.
      expect(await store.claim('order-42', 'msg_4', T0 + 2 * DAY, T0 + DAY)).toBe('msg_4');
      expect(await store.claim('order-42', 'msg_5', T0 + 3 * DAY, T0 + DAY + 1)).toBe('msg_4');
      await store.close?.();
    });

    it('claims again for the holder itself', async () => {
      const store = await options.create();
      expect(await store.claim('k', 'msg_1', T0 + DAY, T0)).toBe('msg_1');
      expect(await store.claim('k', 'msg_1', T0 + DAY, T0 + 1)).toBe('msg_1');
      await store.close?.();
    });

    it('releases a key only for the message that holds it', async () => {
      const store = await options.create();
      await store.claim('k', 'msg_1', T0 + DAY, T0);
      await store.release('k', 'msg_2');
      expect(await store.claim('k', 'msg_3', T0 + DAY, T0)).toBe('msg_1');
      await store.release('k', 'msg_1');
      expect(await store.claim('k', 'msg_3', T0 + DAY, T0)).toBe('msg_3');
      // Releasing an unknown key is harmless.
      await store.release('never-claimed', 'msg_1');
      await store.close?.();
    });

    it('tells keys apart exactly (prefixes, case, spaces, any characters)', async () => {
      const store = await options.create();
      const long = 'x'.repeat(512);
      const keys = ['order-1', 'order-10', 'ORDER-1', 'order-1 ', ' order-1', 'ünïcode:"q";\'--', long, `${long.slice(0, -1)}y`];
      for (const [i, key] of keys.entries()) {
        expect(await store.claim(key, `msg_${i}`, T0 + DAY, T0), key).toBe(`msg_${i}`);
      }
      for (const [i, key] of keys.entries()) {
        expect(await store.claim(key, 'msg_other', T0 + DAY, T0), key).toBe(`msg_${i}`);
      }
      await store.close?.();
    });

    it('gives one holder to concurrent claims of the same key', async () => {
      const store = await options.create();
      const got = await Promise.all(Array.from({ length: 10 }, (_, i) => store.claim('same', `msg_${i}`, T0 + DAY, T0)));
      expect(new Set(got).size).toBe(1);
      expect(got[0]).toMatch(/^msg_\d$/);
      await store.close?.();
    });

    it('handles many keys', async () => {
      const store = await options.create();
      for (let i = 0; i < 1000; i++) await store.claim(`key-${i}`, `msg_${i}`, T0 + DAY, T0);
      for (const i of [0, 500, 999]) expect(await store.claim(`key-${i}`, 'msg_x', T0 + DAY, T0)).toBe(`msg_${i}`);
      expect(await store.claim('key-1000', 'msg_x', T0 + DAY, T0)).toBe('msg_x');
      await store.close?.();
    });

    if (options.reopen !== undefined) {
      const reopen = options.reopen;
      it('keeps claims across a reopen', async () => {
        const store = await options.create();
        await store.claim('order-42', 'msg_1', T0 + DAY, T0);
        await store.claim('released', 'msg_2', T0 + DAY, T0);
        await store.release('released', 'msg_2');
        const again = await reopen(store);
        expect(await again.claim('order-42', 'msg_9', T0 + DAY, T0 + 1)).toBe('msg_1');
        expect(await again.claim('released', 'msg_9', T0 + DAY, T0 + 1)).toBe('msg_9');
        expect(await again.claim('order-42', 'msg_9', T0 + 2 * DAY, T0 + DAY)).toBe('msg_9');
        await again.close?.();
      });
    }
  });
}
