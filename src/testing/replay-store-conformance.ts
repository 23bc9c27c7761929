/**
 * The shared conformance suite every {@link ReplayStore} passes. Store authors call
 * `testReplayStore({ create })` from a vitest file; the memory store's own test is five lines.
 *
 * @module
 */

import { describe, expect, it } from './vitest.js';
import type { ReplayStore } from '../types.js';

/** Options of {@link testReplayStore}. */
export interface ReplayStoreSuiteOptions {
  /** Suite title. @default 'ReplayStore conformance' */
  readonly name?: string;
  /** Creates an empty store. */
  readonly create: () => ReplayStore | Promise<ReplayStore>;
  /**
   * Opens a second store on the same backing storage, to check that keys survive a restart.
   * Omit for stores that do not persist (memory).
   */
  readonly reopen?: (previous: ReplayStore) => ReplayStore | Promise<ReplayStore>;
}

const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;

/** Keys as the feedback handler makes them: an SNS topic and message id, a SendGrid signature. */
const SNS_KEY = 'ses:arn:aws:sns:us-east-1:123456789012:ses-feedback:b4d0c2a4-0000-4000-8000-000000000001';
const SENDGRID_KEY = `sg:${'MEUCIQD'.padEnd(96, 'A')}+/=`;

/**
 * Registers the ReplayStore conformance tests with vitest.
 *
 * @example
 * ```ts
 * import { testReplayStore } from 'mailpush/testing/conformance';
 * testReplayStore({ create: () => myReplayStore() });
 * ```
 */
export function testReplayStore(options: ReplayStoreSuiteOptions): void {
  describe(options.name ?? 'ReplayStore conformance', () => {
    it('has a name and knows no key at first', async () => {
      const store = await options.create();
      expect(typeof store.name).toBe('string');
      expect(store.name).not.toBe('');
      expect(await store.has(SNS_KEY, T0)).toBe(false);
      await store.close?.();
    });

    it('knows an added key until its expiry, and not from then on', async () => {
      const store = await options.create();
      await store.add(SNS_KEY, T0 + HOUR);
      expect(await store.has(SNS_KEY, T0)).toBe(true);
      expect(await store.has(SNS_KEY, T0 + HOUR - 1)).toBe(true);
      expect(await store.has(SNS_KEY, T0 + HOUR)).toBe(false);
      expect(await store.has(SNS_KEY, T0 + 2 * HOUR)).toBe(false);
      await store.close?.();
    });

    it('extends the expiry of a key added again', async () => {
      const store = await options.create();
      await store.add(SENDGRID_KEY, T0 + HOUR);
      await store.add(SENDGRID_KEY, T0 + 3 * HOUR);
      expect(await store.has(SENDGRID_KEY, T0 + 2 * HOUR)).toBe(true);
      expect(await store.has(SENDGRID_KEY, T0 + 3 * HOUR)).toBe(false);
      await store.close?.();
    });

    it('tells keys apart exactly (prefixes, case, long keys, any characters)', async () => {
      const store = await options.create();
      const long = `sg:${'x'.repeat(1000)}`;
      await store.add('sg:abc', T0 + HOUR);
      await store.add(long, T0 + HOUR);
      await store.add('ses:ünïcode:\u00e9:"quoted";\'--', T0 + HOUR);
      for (const other of ['sg:ab', 'sg:abcd', 'SG:ABC', 'sg:abc ', `${long}x`, long.slice(0, -1)]) expect(await store.has(other, T0), other).toBe(false);
      expect(await store.has('sg:abc', T0)).toBe(true);
      expect(await store.has(long, T0)).toBe(true);
      expect(await store.has('ses:ünïcode:\u00e9:"quoted";\'--', T0)).toBe(true);
      await store.close?.();
    });

    it('handles many keys', async () => {
      const store = await options.create();
      for (let i = 0; i < 1000; i++) await store.add(`ses:topic:${i}`, T0 + HOUR);
      for (const i of [0, 500, 999]) expect(await store.has(`ses:topic:${i}`, T0)).toBe(true);
      expect(await store.has('ses:topic:1000', T0)).toBe(false);
      await store.close?.();
    });

    if (options.reopen !== undefined) {
      const reopen = options.reopen;
      it('keeps keys across a reopen', async () => {
        const store = await options.create();
        await store.add(SNS_KEY, T0 + HOUR);
        const again = await reopen(store);
        expect(await again.has(SNS_KEY, T0)).toBe(true);
        expect(await again.has(SNS_KEY, T0 + HOUR)).toBe(false);
        await again.close?.();
      });
    }
  });
}
