/**
 * The in-memory queue store: the default. Nothing survives the process; use a durable
 * store when queued mail must outlive a restart.
 *
 * @module
 */

import { configError } from '../errors.js';
import type { Job, NormalizedMessage, QueueStore, StoredEntry, StoredPage, StoredResult, StoredStatus } from '../types.js';

/** Name of the memory queue store. */
export const STORE_NAME = 'memory';

interface Held {
  /** Insertion sequence: the order of `page()`. */
  readonly seq: number;
  readonly message: NormalizedMessage;
  readonly jobs: Map<string, Job>;
  readonly results: StoredResult[];
  /** Set once the last job is removed; the entry then waits for compaction of `order`. */
  done: boolean;
}

/** A {@link QueueStore} that also lets tests look inside. */
export interface MemoryQueueStore extends QueueStore {
  /** The job with this id, if unfinished. */
  get(jobId: string): Job | undefined;
  page(cursor: string | undefined, limit: number): StoredPage;
  status(id: string): StoredStatus | undefined;
}

function entryOf(held: Held): StoredEntry {
  const jobs = [...held.jobs.values()];
  return held.results.length === 0 ? { message: held.message, jobs } : { message: held.message, jobs, results: [...held.results] };
}

/**
 * Creates an in-memory {@link QueueStore}. It keeps the scheduler's own job objects (no copy),
 * so it costs one map entry per job. `status(id)` answers while the message has unfinished
 * jobs; a finished message is forgotten at once.
 *
 * @example
 * ```ts
 * const queue = memoryQueueStore();
 * const mailer = createMailer({ transport, store: queue });
 * ```
 */
export default function memoryQueueStore(): MemoryQueueStore {
  const messages = new Map<string, Held>();
  const jobs = new Map<string, Job>();
  // Every held message by insertion sequence; finished ones are dropped lazily (see compact).
  let order: Held[] = [];
  let doneInOrder = 0;
  let seq = 0;

  const finish = (held: Held): void => {
    messages.delete(held.message.id);
    held.done = true;
    doneInOrder++;
    // Compaction keeps `order` within twice the live messages: amortized O(1) per message.
    if (doneInOrder > 1024 && doneInOrder * 2 > order.length) {
      order = order.filter((h) => !h.done);
      doneInOrder = 0;
    }
  };

  const settle = (held: Held | undefined, results: readonly StoredResult[] | undefined): void => {
    if (held !== undefined && results !== undefined) for (const r of results) held.results.push(r);
  };

  return {
    name: STORE_NAME,
    add(entry: StoredEntry) {
      const held: Held = { seq: ++seq, message: entry.message, jobs: new Map(), results: [...(entry.results ?? [])], done: false };
      for (const job of entry.jobs) {
        held.jobs.set(job.id, job);
        jobs.set(job.id, job);
      }
      if (held.jobs.size === 0) return;
      messages.set(entry.message.id, held);
      order.push(held);
    },
    update(job: Job, results?: readonly StoredResult[]) {
      const held = messages.get(job.messageRef);
      if (held === undefined) return;
      if (!jobs.has(job.id)) {
        held.jobs.set(job.id, job);
        jobs.set(job.id, job);
      }
      settle(held, results);
    },
    remove(job: Job, results?: readonly StoredResult[]) {
      const held = messages.get(job.messageRef);
      settle(held, results);
      if (!jobs.delete(job.id) || held === undefined) return;
      held.jobs.delete(job.id);
      if (held.jobs.size === 0) finish(held);
    },
    *recover() {
      for (const held of messages.values()) yield entryOf(held);
    },
    page(cursor: string | undefined, limit: number): StoredPage {
      if (!Number.isInteger(limit) || limit < 1) throw configError('limit', 'an integer >= 1', limit);
      let after = 0;
      if (cursor !== undefined) {
        after = Number(cursor);
        if (typeof cursor !== 'string' || !Number.isSafeInteger(after) || after < 0) {
          throw configError('cursor', 'a cursor returned by page()', cursor);
        }
      }
      // First held entry with a sequence above the cursor (binary search: order is sorted).
      let lo = 0;
      let hi = order.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (order[mid]!.seq <= after) lo = mid + 1;
        else hi = mid;
      }
      const entries: StoredEntry[] = [];
      let last = after;
      for (let i = lo; i < order.length; i++) {
        const held = order[i]!;
        if (held.done) continue;
        if (entries.length === limit) return { entries, cursor: String(last) };
        entries.push(entryOf(held));
        last = held.seq;
      }
      return { entries, cursor: undefined };
    },
    status(id: string): StoredStatus | undefined {
      if (typeof id !== 'string') throw configError('id', 'a message id', id);
      const held = messages.get(id);
      if (held === undefined) return undefined;
      return { id, messageId: held.message.messageId, jobs: [...held.jobs.values()], results: [...held.results] };
    },
    size: () => jobs.size,
    get: (id: string) => jobs.get(id),
  };
}
