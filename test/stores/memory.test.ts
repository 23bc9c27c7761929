import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import memoryQueueStore from '../../src/stores/memory.js';
import { memoryStore } from '../../src/stores/memory-store.js';
import { testMailerStore } from '../../src/testing/mailer-store-conformance.js';
import { testQueueStore } from '../../src/testing/queue-store-conformance.js';
import type { Job, NormalizedMessage, StoredEntry } from '../../src/types.js';

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

/** A flat string (ids from a template literal are trees of pieces until something flattens them). */
const flat = (s: string): string => Buffer.from(s, 'latin1').toString('latin1');

function oneJob(id: string, domain = 'a.test'): StoredEntry & { jobs: Job[] } {
  const job: Job = { id: `${id}/0`, messageRef: id, domain, recipients: [`x@${domain}`], priority: 'normal', state: 'ready', attempt: 0, createdAt: 0, runAt: 0 };
  return { message: { id, messageId: `<${id}@x>` } as unknown as NormalizedMessage, jobs: [job] };
}

describe('memory queue store layout', () => {
  it('holds a message added again once: size counts its jobs once, page and recover list it once', () => {
    const queue = memoryQueueStore();
    const first = oneJob('msg_a');
    const again = oneJob('msg_a', 'b.test');
    queue.add(first);
    queue.add(oneJob('msg_b'));
    queue.add(again);
    expect(queue.size()).toBe(2);
    expect(queue.page(undefined, 10).entries.map((e) => [e.message.id, e.jobs[0]!.domain])).toEqual([
      ['msg_b', 'a.test'],
      ['msg_a', 'b.test'],
    ]);
    expect([...(queue.recover() as Iterable<StoredEntry>)].map((e) => e.message.id)).toEqual(['msg_b', 'msg_a']);
    expect(queue.get('msg_a/0')).toBe(again.jobs[0]);
    queue.remove(again.jobs[0]!);
    expect(queue.size()).toBe(1);
    expect(queue.status('msg_a')).toBeUndefined();
    expect(queue.page(undefined, 10).entries.map((e) => e.message.id)).toEqual(['msg_b']);
  });

  it('finds each of 30,000 messages with look-alike ids through adds, updates, removals and compactions', () => {
    const queue = memoryQueueStore();
    const live = new Map<string, Job>();
    const order: string[] = [];
    // Ids that differ in one character, at the start or the end, and a few long ones.
    const idOf = (i: number): string => (i % 3 === 0 ? `${i}-welcome` : i % 3 === 1 ? `order-${i}` : `${'x'.repeat(200)}${i}`);
    for (let i = 0; i < 30_000; i++) {
      const e = oneJob(idOf(i));
      queue.add(e);
      live.set(e.message.id, e.jobs[0]!);
      order.push(e.message.id);
      // Finish most of the older ones as new ones come (several compactions on the way).
      if (i % 4 !== 0 && i >= 10) {
        const old = idOf(i - 10);
        const job = live.get(old);
        if (job !== undefined) {
          queue.remove(job);
          live.delete(old);
        }
      }
      if (i % 1000 === 999) {
        for (const [id, job] of live) {
          expect(queue.status(id)?.jobs[0]).toBe(job);
          break;
        }
      }
    }
    expect(queue.size()).toBe(live.size);
    for (const [id, job] of live) {
      expect(queue.get(`${id}/0`)).toBe(job);
      const moved: Job = { ...job, state: 'scheduled', attempt: 1 };
      queue.update(moved);
      expect(queue.status(id)!.jobs).toEqual([moved]);
    }
    for (let i = 0; i < 30_000; i += 7) if (!live.has(idOf(i))) expect(queue.status(idOf(i))).toBeUndefined();
    const paged: string[] = [];
    let cursor: string | undefined;
    do {
      const page = queue.page(cursor, 500);
      paged.push(...page.entries.map((e) => e.message.id));
      cursor = page.cursor;
    } while (cursor !== undefined);
    expect(paged).toEqual(order.filter((id) => live.has(id)));
  });

  it('recover() goes on in order when messages finish (and the store compacts) during the walk', () => {
    const queue = memoryQueueStore();
    const entries = Array.from({ length: 5000 }, (_, i) => oneJob(`msg_${i}`));
    for (const e of entries) queue.add(e);
    const seen: string[] = [];
    let next = 0;
    for (const e of queue.recover() as Iterable<StoredEntry>) {
      seen.push(e.message.id);
      // Finish the 3 messages after this one and 3 already seen: enough for compactions.
      const at = Number(e.message.id.slice(4));
      for (const j of [at + 1, at + 2, at + 3, next++, next++, next++]) {
        const job = entries[j]?.jobs[0];
        if (job !== undefined && queue.status(job.messageRef) !== undefined) queue.remove(job);
      }
    }
    // Every 4th message is left when each one read finishes the next three.
    expect(seen).toEqual(entries.filter((_, i) => i % 4 === 0).map((e) => e.message.id));
  });

  it('compacts a chunk at a time: no call re-indexes more than 1,024 messages, whatever the order they finish in', () => {
    // With 100,000 queued, the whole-store compaction moved and re-indexed every live message in
    // one remove() (49,999 Map writes once half of them were done): one long synchronous turn.
    const n = 100_000;
    const entries = Array.from({ length: n }, (_, i) => oneJob(`msg_${i}`));
    const set = Map.prototype.set;
    let writes = 0;
    Map.prototype.set = function (this: Map<unknown, unknown>, k: unknown, v: unknown) {
      writes++;
      return set.call(this, k, v);
    } as typeof set;
    try {
      for (const order of ['oldest first', 'newest first', 'scattered']) {
        const queue = memoryQueueStore();
        for (const e of entries) queue.add(e);
        const jobs = entries.map((e) => e.jobs[0]!);
        if (order === 'newest first') jobs.reverse();
        if (order === 'scattered') jobs.sort((a, b) => ((Number(a.messageRef.slice(4)) * 7919) % n) - ((Number(b.messageRef.slice(4)) * 7919) % n));
        let most = 0;
        for (let i = 0; i < jobs.length; i++) {
          writes = 0;
          queue.remove(jobs[i]!);
          most = Math.max(most, writes);
          if (i % 9973 === 0) expect(queue.size()).toBe(n - i - 1);
        }
        expect(queue.size(), order).toBe(0);
        expect(most, order).toBeLessThanOrEqual(1024);
        expect(queue.page(undefined, 10).entries, order).toEqual([]);
      }
    } finally {
      Map.prototype.set = set;
    }
  });

  it('keeps no object of its own per queued message (under 75 B each)', () => {
    // Before: an entry object (56 B), a Map entry by id (~37-45 B) and a slot, ~100 B per
    // message; now three column slots and a Map entry from the id to the slot.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heap = (): number => {
      for (let i = 0; i < 3; i++) gc();
      // Typed array contents (the id indexes) are outside the JS heap: count them too.
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const n = 50_000;
    const entries = Array.from({ length: n }, (_, i) => oneJob(flat(`msg_${i.toString(16).padStart(32, '0')}`)));
    const queue = memoryQueueStore();
    const before = heap();
    for (const e of entries) queue.add(e);
    const perMessage = (heap() - before) / n;
    expect(queue.size()).toBe(entries.length);
    expect(perMessage).toBeLessThan(75);
  });
});
