import { describe, expect, it } from 'vitest';
import memoryQueueStore from '../../src/stores/memory.js';
import { memoryStore } from '../../src/stores/memory-store.js';
import { testMailerStore } from '../../src/testing/mailer-store-conformance.js';
import { testQueueStore } from '../../src/testing/queue-store-conformance.js';

testQueueStore({ name: 'memory queue store', create: () => memoryQueueStore() });

testMailerStore({
  name: 'memory mailer store',
  create: ({ now }) => memoryStore({ clock: { now }, correlation: { retentionMs: 86_400_000 } }),
  correlationRetentionMs: 86_400_000,
});

describe('memoryStore', () => {
  it('validates its options, naming the option', () => {
    expect(() => memoryStore(null as never)).toThrow(/store/);
    expect(() => memoryStore({ suppressions: 'x' as never })).toThrow(/suppressions/);
    expect(() => memoryStore({ clock: {} as never })).toThrow(/clock/);
    expect(() => memoryStore({ idempotency: { maxKeys: 0 } })).toThrow(/maxKeys/);
  });

  it('starts with the given suppressions', async () => {
    const store = memoryStore({ suppressions: [{ address: 'ann@example.com', reason: 'manual', createdAt: 0 }] });
    expect(await store.suppression.find('ann@example.com', [], 1)).toMatchObject({ reason: 'manual' });
  });
});

describe('memory queue store paging', () => {
  it('keeps page() linear over a long backlog with many finished messages', () => {
    const queue = memoryQueueStore();
    const jobs = [];
    for (let i = 0; i < 20_000; i++) {
      const id = `msg_${i}`;
      const job = { id: `${id}/0`, messageRef: id, domain: 'a.test', recipients: ['x@a.test'], priority: 'normal' as const, state: 'ready' as const, attempt: 0, createdAt: 0, runAt: 0 };
      queue.add({ message: { id, messageId: `<${i}@x>` } as never, jobs: [job] });
      jobs.push(job);
    }
    for (const job of jobs.slice(0, 15_000)) queue.remove(job);
    const start = performance.now();
    let cursor: string | undefined;
    let n = 0;
    do {
      const page = queue.page(cursor, 100);
      n += page.entries.length;
      cursor = page.cursor;
    } while (cursor !== undefined);
    expect(n).toBe(5000);
    expect(performance.now() - start).toBeLessThan(500);
  });
});
