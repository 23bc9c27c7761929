/**
 * The shared conformance suite every {@link CorrelationStore} passes. Store authors call
 * `testCorrelationStore({ create })` from a vitest file; the memory store's own test is five lines.
 *
 * @module
 */

import { describe, expect, it } from './vitest.js';
import type { CorrelationStore, SentRecord } from '../types.js';

/** What {@link CorrelationStoreSuiteOptions.create} receives. */
export interface CorrelationStoreSuiteContext {
  /** The suite's clock, ms: give it to the store as its current time so that retention can be tested. */
  readonly now: () => number;
}

/** Options of {@link testCorrelationStore}. */
export interface CorrelationStoreSuiteOptions {
  /** Suite title. @default 'CorrelationStore conformance' */
  readonly name?: string;
  /** Creates an empty store, reading the current time from `context.now` when it has retention. */
  readonly create: (context: CorrelationStoreSuiteContext) => CorrelationStore | Promise<CorrelationStore>;
  /**
   * Opens a second store on the same backing storage, to check that records survive a
   * restart. Omit for stores that do not persist (memory).
   */
  readonly reopen?: (previous: CorrelationStore, context: CorrelationStoreSuiteContext) => CorrelationStore | Promise<CorrelationStore>;
  /**
   * The retention the created store was given, ms: the suite checks that a job is found just
   * before `sentAt + retentionMs` and not from then on. Omit to skip that test.
   */
  readonly retentionMs?: number;
}

const T0 = Date.UTC(2026, 0, 1);
let seq = 0;

function sent(overrides: Partial<SentRecord> = {}): SentRecord {
  const n = ++seq;
  const hex = n.toString(16).padStart(32, '0');
  return {
    jobId: `msg_${hex}/0`,
    id: `msg_${hex}`,
    messageId: `<${hex}@shop.example>`,
    recipients: [`Ann.${n}@example.org`],
    sentAt: T0,
    providerMessageId: `prov-${n}`,
    tags: { campaign: 'spring', list: 'news' },
    ...overrides,
  };
}

function clock(): { now: () => number; set(t: number): void } {
  let t = T0;
  return { now: () => t, set: (v) => void (t = v) };
}

/**
 * Registers the CorrelationStore conformance tests with vitest.
 *
 * @example
 * ```ts
 * import { testCorrelationStore } from 'mailpush/testing/conformance';
 * testCorrelationStore({ create: ({ now }) => myCorrelationStore({ now, retentionMs: 86_400_000 }), retentionMs: 86_400_000 });
 * ```
 */
export function testCorrelationStore(options: CorrelationStoreSuiteOptions): void {
  describe(options.name ?? 'CorrelationStore conformance', () => {
    it('has a name and knows no job at first', async () => {
      const store = await options.create(clock());
      expect(typeof store.name).toBe('string');
      expect(store.name).not.toBe('');
      expect(await store.find('msg_00000000000000000000000000000000/0')).toBeUndefined();
      await store.close?.();
    });

    it('finds a recorded job with every field as recorded', async () => {
      const store = await options.create(clock());
      const a = sent({ recipients: ['Ann@example.org', 'bob@example.org'] });
      const b = sent();
      const { providerMessageId: _p, tags: _t, ...bare } = sent();
      await store.record(a);
      await store.record(b);
      await store.record(bare);
      expect(await store.find(a.jobId)).toEqual(a);
      expect(await store.find(b.jobId)).toEqual(b);
      // Optional fields absent stay absent (not null, not empty).
      const got = await store.find(bare.jobId);
      expect(got).toEqual(bare);
      expect(got).not.toHaveProperty('providerMessageId');
      expect(got).not.toHaveProperty('tags');
      // The local part keeps its case: it is compared by the processor, not the store.
      expect((await store.find(a.jobId))?.recipients).toEqual(['Ann@example.org', 'bob@example.org']);
      await store.close?.();
    });

    it('replaces a job recorded twice', async () => {
      const store = await options.create(clock());
      const first = sent();
      await store.record(first);
      const second: SentRecord = { ...first, recipients: ['carol@example.org'], sentAt: T0 + 1000, providerMessageId: 'prov-retry' };
      await store.record(second);
      expect(await store.find(first.jobId)).toEqual(second);
      await store.close?.();
    });

    it('keeps its own copy: changing the recorded object afterwards changes nothing', async () => {
      const store = await options.create(clock());
      const recipients = ['dan@example.org'];
      const tags: Record<string, string> = { campaign: 'x' };
      const entry = sent({ recipients, tags });
      await store.record(entry);
      recipients.push('eve@example.org');
      tags.campaign = 'changed';
      expect(await store.find(entry.jobId)).toMatchObject({ recipients: ['dan@example.org'], tags: { campaign: 'x' } });
      await store.close?.();
    });

    it('tells job ids apart exactly (no prefix, case or trimming games)', async () => {
      const store = await options.create(clock());
      const a = sent({ jobId: 'msg_abc/1' });
      await store.record(a);
      for (const other of ['msg_abc/10', 'msg_abc/', 'MSG_ABC/1', ' msg_abc/1', 'msg_abc/1 ', 'msg_ab']) expect(await store.find(other), other).toBeUndefined();
      expect(await store.find('msg_abc/1')).toEqual(a);
      await store.close?.();
    });

    it('handles many jobs', async () => {
      const store = await options.create(clock());
      const entries = Array.from({ length: 1000 }, () => sent());
      for (const e of entries) await store.record(e);
      for (const e of [entries[0]!, entries[499]!, entries[999]!]) expect(await store.find(e.jobId)).toEqual(e);
      await store.close?.();
    });

    if (options.retentionMs !== undefined) {
      const retentionMs = options.retentionMs;
      it('forgets a job once its retention after sentAt is over', async () => {
        const c = clock();
        const store = await options.create(c);
        const e = sent({ sentAt: T0 });
        await store.record(e);
        c.set(T0 + retentionMs - 1);
        expect(await store.find(e.jobId)).toEqual(e);
        c.set(T0 + retentionMs);
        expect(await store.find(e.jobId)).toBeUndefined();
        // Recorded already past its retention (a late record): never found.
        const late = sent({ sentAt: T0 - retentionMs - 1 });
        await store.record(late);
        expect(await store.find(late.jobId)).toBeUndefined();
        await store.close?.();
      });
    }

    if (options.reopen !== undefined) {
      const reopen = options.reopen;
      it('keeps recorded jobs across a reopen', async () => {
        const c = clock();
        const store = await options.create(c);
        const e = sent({ recipients: ['Ann@example.org', 'x@example.net'] });
        await store.record(e);
        const again = await reopen(store, c);
        expect(await again.find(e.jobId)).toEqual(e);
        await again.close?.();
      });
    }
  });
}
