/**
 * The SQLite store finds a job's row through the job object it was given (add) or handed out
 * (page/recover), in a map of two bounded generations (a WeakMap's table never shrinks: one map
 * grew to 2 MB behind a 1,000,000-message backlog). A job older than both generations is found
 * by its message id, and a failed add leaves nothing behind for its job objects.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { sqliteStore } from '../../src/stores/sqlite.js';
import type { Job, StoredEntry } from '../../src/types.js';
import { DRIVERS, plainMessage, tempDir } from './sqlite-helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

let n = 0;
function entry(): StoredEntry {
  const id = `msg_seq_${++n}`;
  const message = plainMessage(id, `user${n}@a.test`);
  const job: Job = { id: `${id}/0`, messageRef: id, domain: 'a.test', recipients: [`user${n}@a.test`], priority: 'normal', state: 'ready', attempt: 0, createdAt: 0, runAt: 0 };
  return { message, jobs: [job] };
}

describe.each(DRIVERS)('sqlite job rows by job object (%s)', (driver) => {
  it('updates and removes the jobs of messages added more than two generations ago', async () => {
    const store = sqliteStore({ path: tmp.file(), driver });
    const first = entry();
    await store.queue.add(first);
    // 20,000 more messages: more than the two generations of 8,192 entries.
    for (let i = 0; i < 20; i++) await Promise.all(Array.from({ length: 1000 }, () => store.queue.add(entry())));
    const early = first.jobs[0]!;
    await store.queue.update({ ...early, attempt: 1 } as Job);
    await store.queue.update(early, [{ address: early.recipients[0]!, status: 'failed', jobId: early.id, attempts: 1, at: 1 }]);
    expect((await store.queue.status(first.message.id))?.jobs).toEqual([early]);
    await store.queue.remove(early, [{ address: early.recipients[0]!, status: 'sent', jobId: early.id, attempts: 2, at: 2 }]);
    const status = await store.queue.status(first.message.id);
    expect(status?.jobs).toEqual([]);
    expect(status?.results.map((r) => r.status)).toEqual(['failed', 'sent']);
    expect(store.queue.size()).toBe(20_000);
    await store.close();
  });

  it('keeps no row for the jobs of an add whose commit failed', async () => {
    const store = sqliteStore({ path: tmp.file(), driver });
    const kept = entry();
    await store.queue.add(kept);
    // Two adds in one transaction: the first inserts its message (taking the next seq), the
    // second repeats a message id and fails the commit, so neither is kept.
    const rolledBack = entry();
    const duplicate = { ...entry(), message: { ...kept.message } };
    const results = await Promise.allSettled([store.queue.add(rolledBack), store.queue.add(duplicate)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    // The next message takes the seq the rolled-back one had.
    const next = entry();
    await store.queue.add(next);
    // The rolled-back message's job object must not lead to that seq (its job would land in `next`).
    await store.queue.update(rolledBack.jobs[0]!);
    expect((await store.queue.status(next.message.id))?.jobs).toEqual(next.jobs);
    expect(store.queue.status(rolledBack.message.id)).toBeUndefined();
    expect(store.queue.size()).toBe(2);
    await store.close();
  });
});
