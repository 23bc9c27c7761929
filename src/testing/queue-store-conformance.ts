/**
 * The shared conformance suite every {@link QueueStore} passes. Store authors call
 * `testQueueStore({ create })` from a vitest file; the memory store's own test is five lines.
 *
 * @module
 */

import { describe, expect, it } from 'vitest';
import { normalizeMessage } from '../message/index.js';
import type { Job, NormalizedMessage, QueueStore, StoredEntry } from '../types.js';

/** Options of {@link testQueueStore}. */
export interface QueueStoreSuiteOptions {
  /** Suite title. @default 'QueueStore conformance' */
  readonly name?: string;
  /** Creates an empty store. */
  readonly create: () => QueueStore | Promise<QueueStore>;
  /**
   * Opens a second store on the same backing storage, to check that state survives a
   * restart. Omit for stores that do not persist (memory).
   */
  readonly reopen?: (previous: QueueStore) => QueueStore | Promise<QueueStore>;
}

let seq = 0;
function entry(domains: readonly string[]): StoredEntry {
  const message: NormalizedMessage = normalizeMessage(
    {
      from: 'App <app@example.com>',
      to: domains.map((d, i) => `user${i}@${d}`),
      subject: `conformance ${++seq}`,
      text: 'Hello',
      tags: { campaign: 'c1' },
      metadata: { userId: seq, nested: { ok: true } },
    },
    { now: Date.UTC(2026, 0, 1) },
  );
  const jobs: Job[] = domains.map((domain, i) => ({
    id: `${message.id}/${i}`,
    messageRef: message.id,
    domain,
    recipients: [`user${i}@${domain}`],
    priority: 'normal',
    state: 'ready',
    attempt: 0,
    createdAt: Date.UTC(2026, 0, 1),
    runAt: Date.UTC(2026, 0, 1),
  }));
  return { message, jobs };
}

async function recovered(store: QueueStore): Promise<StoredEntry[]> {
  const out: StoredEntry[] = [];
  for await (const e of (await store.recover()) as AsyncIterable<StoredEntry>) out.push(e);
  return out;
}

/**
 * Registers the QueueStore conformance tests with vitest.
 *
 * @example
 * ```ts
 * import { testQueueStore } from 'mailpush/testing/conformance';
 * testQueueStore({ create: () => myStore() });
 * ```
 */
export function testQueueStore(options: QueueStoreSuiteOptions): void {
  describe(options.name ?? 'QueueStore conformance', () => {
    it('has a name and starts empty', async () => {
      const store = await options.create();
      expect(typeof store.name).toBe('string');
      expect(await store.size()).toBe(0);
      expect(await recovered(store)).toEqual([]);
      await store.close?.();
    });

    it('recovers added messages with their unfinished jobs', async () => {
      const store = await options.create();
      const a = entry(['a.test', 'b.test']);
      const b = entry(['c.test']);
      await store.add(a);
      await store.add(b);
      expect(await store.size()).toBe(3);
      const got = await recovered(store);
      expect(got.map((e) => e.message.id).sort()).toEqual([a.message.id, b.message.id].sort());
      const gotA = got.find((e) => e.message.id === a.message.id)!;
      expect(gotA.message).toEqual(a.message);
      expect(gotA.jobs.map((j) => j.id).sort()).toEqual(a.jobs.map((j) => j.id).sort());
      await store.close?.();
    });

    it('records state changes of a job', async () => {
      const store = await options.create();
      const a = entry(['a.test']);
      await store.add(a);
      const job = a.jobs[0]! as Job;
      job.state = 'scheduled';
      job.attempt = 2;
      job.runAt = Date.UTC(2026, 0, 2);
      job.recipients = ['user0@a.test'];
      job.lastError = { code: 'MAILPUSH_ERR_TRANSIENT', responseCode: 451 };
      await store.update(job);
      const [got] = await recovered(store);
      expect(got!.jobs[0]).toMatchObject({ state: 'scheduled', attempt: 2, runAt: Date.UTC(2026, 0, 2), lastError: { responseCode: 451 } });
      await store.close?.();
    });

    it('removes finished jobs, and the message with its last job', async () => {
      const store = await options.create();
      const a = entry(['a.test', 'b.test']);
      await store.add(a);
      await store.remove(a.jobs[0]!);
      expect(await store.size()).toBe(1);
      let got = await recovered(store);
      expect(got).toHaveLength(1);
      expect(got[0]!.jobs.map((j) => j.id)).toEqual([a.jobs[1]!.id]);
      await store.remove(a.jobs[1]!);
      expect(await store.size()).toBe(0);
      got = await recovered(store);
      expect(got).toEqual([]);
      // removing twice is harmless
      await store.remove(a.jobs[1]!);
      await store.close?.();
    });

    it('handles many messages', async () => {
      const store = await options.create();
      const entries = Array.from({ length: 500 }, (_, i) => entry([`d${i % 20}.test`]));
      for (const e of entries) await store.add(e);
      expect(await store.size()).toBe(500);
      for (const e of entries.slice(0, 250)) await store.remove(e.jobs[0]!);
      expect(await store.size()).toBe(250);
      expect(await recovered(store)).toHaveLength(250);
      await store.close?.();
    });

    if (options.reopen !== undefined) {
      const reopen = options.reopen;
      it('keeps unfinished jobs across a reopen', async () => {
        const store = await options.create();
        const a = entry(['a.test']);
        await store.add(a);
        const job = a.jobs[0]! as Job;
        job.attempt = 1;
        job.state = 'scheduled';
        await store.update(job);
        const again = await reopen(store);
        const got = await recovered(again);
        expect(got.map((e) => e.message.id)).toEqual([a.message.id]);
        expect(got[0]!.jobs[0]).toMatchObject({ attempt: 1, state: 'scheduled' });
        await again.close?.();
      });
    }
  });
}
