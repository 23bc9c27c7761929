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
  /**
   * Dropped once the message is done, so that `order` does not keep it alive until compaction:
   * {@link DONE_MESSAGE} then marks the entry done (no flag field: 8 B per queued message).
   */
  message: NormalizedMessage;
  /**
   * Unfinished jobs, in the order they were added: the job itself while there is one (most
   * messages), an array once there are more (an array of one cost ~56 B per queued message).
   */
  jobs: Job | Job[];
  /** Results recorded so far; made on the first one. */
  results: StoredResult[] | undefined;
}

/**
 * What a done entry points to instead of its message (never read): the entry has no unfinished
 * job left and waits for compaction of `order`.
 */
const DONE_MESSAGE = Object.freeze({ id: '' }) as unknown as NormalizedMessage;

const isDone = (held: Held): boolean => held.message === DONE_MESSAGE;

/** A {@link QueueStore} that also lets tests look inside. */
export interface MemoryQueueStore extends QueueStore {
  /** The job with this id, if unfinished. */
  get(jobId: string): Job | undefined;
  page(cursor: string | undefined, limit: number): StoredPage;
  status(id: string): StoredStatus | undefined;
}

/** No jobs left (a done entry). */
const NO_JOBS: Job[] = [];

function jobAt(held: Held, i: number): Job | undefined {
  const jobs = held.jobs;
  return Array.isArray(jobs) ? jobs[i] : jobs;
}

/** A copy of the held jobs as an array. */
function jobList(held: Held): Job[] {
  const jobs = held.jobs;
  return Array.isArray(jobs) ? jobs.slice() : [jobs];
}

function entryOf(held: Held): StoredEntry {
  const jobs = jobList(held);
  return held.results === undefined ? { message: held.message, jobs } : { message: held.message, jobs, results: held.results.slice() };
}

/**
 * Creates an in-memory {@link QueueStore}. It keeps the scheduler's own job objects (no copy),
 * so it costs one array slot per job and one map entry per message. `status(id)` answers while the message has unfinished
 * jobs; a finished message is forgotten at once.
 *
 * @example
 * ```ts
 * const queue = memoryQueueStore();
 * const mailer = createMailer({ transport, store: queue });
 * ```
 */
export default function memoryQueueStore(): MemoryQueueStore {
  // Messages with unfinished jobs by id; jobs live in their message's array (no map per job:
  // a queued job costs one array slot here).
  const messages = new Map<string, Held>();
  let jobCount = 0;
  // Every held message by insertion sequence; finished ones are dropped lazily (see compact).
  let order: Held[] = [];
  let doneInOrder = 0;
  let seq = 0;

  const finish = (held: Held): void => {
    messages.delete(held.message.id);
    // Only the sequence is read from a done entry: let the message and its results go now
    // (a busy mailer finishes ~1,000 messages between compactions; kept, they would all
    // survive the next young-generation GC and be copied).
    held.message = DONE_MESSAGE;
    held.results = undefined;
    doneInOrder++;
    // Compaction keeps `order` within twice the live messages: amortized O(1) per message.
    if (doneInOrder > 1024 && doneInOrder * 2 > order.length) {
      order = order.filter((h) => !isDone(h));
      doneInOrder = 0;
    }
  };

  const settle = (held: Held | undefined, results: readonly StoredResult[] | undefined): void => {
    if (held === undefined || results === undefined || results.length === 0) return;
    if (held.results === undefined) held.results = results.slice();
    else for (const r of results) held.results.push(r);
  };

  /** Index of the job with this id in its message, or -1. Messages hold few jobs: a scan. */
  const indexOf = (held: Held, id: string): number => {
    const jobs = held.jobs;
    if (!Array.isArray(jobs)) return jobs.id === id ? 0 : -1;
    for (let i = 0; i < jobs.length; i++) if ((jobs[i] as Job).id === id) return i;
    return -1;
  };

  return {
    name: STORE_NAME,
    add(entry: StoredEntry) {
      if (entry.jobs.length === 0) return;
      const results = entry.results;
      const jobs = entry.jobs;
      const held: Held = {
        seq: ++seq,
        message: entry.message,
        jobs: jobs.length === 1 ? (jobs[0] as Job) : jobs.slice(),
        results: results === undefined || results.length === 0 ? undefined : results.slice(),
      };
      jobCount += jobs.length;
      messages.set(entry.message.id, held);
      order.push(held);
    },
    update(job: Job, results?: readonly StoredResult[]) {
      const held = messages.get(job.messageRef);
      if (held === undefined) return;
      const i = indexOf(held, job.id);
      const jobs = held.jobs;
      if (i < 0) {
        if (Array.isArray(jobs)) jobs.push(job);
        else held.jobs = [jobs, job];
        jobCount++;
      } else if (!Array.isArray(jobs)) {
        held.jobs = job;
      } else if (jobs[i] !== job) {
        jobs[i] = job;
      }
      settle(held, results);
    },
    remove(job: Job, results?: readonly StoredResult[]) {
      const held = messages.get(job.messageRef);
      if (held === undefined) return;
      const i = indexOf(held, job.id);
      if (i < 0) {
        settle(held, results);
        return;
      }
      const jobs = held.jobs;
      if (!Array.isArray(jobs) || jobs.length === 1) {
        // The last job: the message is forgotten with its results, so they are not copied.
        held.jobs = NO_JOBS;
        jobCount--;
        finish(held);
        return;
      }
      settle(held, results);
      jobs.splice(i, 1);
      jobCount--;
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
        if (isDone(held)) continue;
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
      return { id, messageId: held.message.messageId, jobs: jobList(held), results: held.results?.slice() ?? [] };
    },
    size: () => jobCount,
    get: (id: string) => {
      // A job id is `<message id>/<n>`: its message holds it.
      if (typeof id !== 'string') return undefined;
      const held = messages.get(id.slice(0, id.lastIndexOf('/')));
      if (held !== undefined) {
        const i = indexOf(held, id);
        if (i >= 0) return jobAt(held, i);
      }
      // Jobs given with other ids: look through every message.
      for (const h of messages.values()) {
        const i = indexOf(h, id);
        if (i >= 0) return jobAt(h, i);
      }
      return undefined;
    },
  };
}
