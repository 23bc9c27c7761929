/**
 * The in-memory queue store: the default. Nothing survives the process; use a durable
 * store when queued mail must outlive a restart.
 *
 * @module
 */

import { configError } from '../errors.js';
import { copyOf, countOf, itemAt, oneOrMany, withAdded, withRemoved, withReplaced } from '../queue/one-or-many.js';
import type { OneOrMany } from '../queue/one-or-many.js';
import type { Job, NormalizedMessage, QueueStore, StoredEntry, StoredPage, StoredResult, StoredStatus } from '../types.js';

/** Name of the memory queue store. */
export const STORE_NAME = 'memory';

/** A {@link QueueStore} that also lets tests look inside. */
export interface MemoryQueueStore extends QueueStore {
  /** The job with this id, if unfinished. */
  get(jobId: string): Job | undefined;
  page(cursor: string | undefined, limit: number): StoredPage;
  status(id: string): StoredStatus | undefined;
}

/** Jobs of a done slot (none): the slot keeps no job alive until compaction. */
const NO_JOBS: Job[] = [];

/** Done slots that may wait for compaction before the columns are rebuilt. */
const MAX_DONE_SLOTS = 1024;

/** Index of the job with this id among `held`, or -1. Messages hold few jobs: a scan. */
function indexOfId(held: OneOrMany<Job>, id: string): number {
  if (!Array.isArray(held)) return held.id === id ? 0 : -1;
  for (let i = 0; i < held.length; i++) if ((held[i] as Job).id === id) return i;
  return -1;
}

/**
 * Creates an in-memory {@link QueueStore}. It keeps the scheduler's own job objects (no copy)
 * in columns, one slot per message in the order added: a queued message costs its three
 * column entries (message, jobs, sequence) and a `Map` entry from its id to its slot, no
 * object of its own (~60 B; with an entry object per message it was ~100 B).
 * `status(id)` answers while the message has unfinished jobs; a finished message is forgotten at once.
 *
 * @example
 * ```ts
 * const queue = memoryQueueStore();
 * const mailer = createMailer({ transport, store: queue });
 * ```
 */
export default function memoryQueueStore(): MemoryQueueStore {
  // Columns by slot, in the order messages were added. A done slot (no unfinished job left)
  // has no message and waits for compaction; only its sequence is read then.
  let messages: (NormalizedMessage | undefined)[] = [];
  let jobsOf: OneOrMany<Job>[] = [];
  /** Insertion sequence of each slot, increasing: the cursors of `page()`. */
  let seqs: number[] = [];
  let doneSlots = 0;
  /** Rebuilt columns: a `recover()` walk finds its place again by sequence. */
  let generation = 0;
  /** Results recorded so far, by message id: only messages that have some (few while queued). */
  const resultsOf = new Map<string, StoredResult[]>();
  /**
   * Slot of each unfinished message by id: a small integer per entry, no object (an open-
   * addressing Int32Array index in JS saved ~26 B more per message but hashed each 36-character
   * id in JS on every lookup, ~0.2 us per message against V8's cached string hashes).
   */
  const slotOf = new Map<string, number>();
  let jobCount = 0;
  let seq = 0;

  /** Slot of the unfinished message with this id, or -1. */
  const find = (id: string): number => slotOf.get(id) ?? -1;

  /** Drops the done slots from the columns and indexes the rest again. */
  const compact = (): void => {
    const m: (NormalizedMessage | undefined)[] = [];
    const j: OneOrMany<Job>[] = [];
    const q: number[] = [];
    for (let i = 0; i < messages.length; i++) {
      if (messages[i] === undefined) continue;
      m.push(messages[i]);
      j.push(jobsOf[i] as OneOrMany<Job>);
      q.push(seqs[i] as number);
    }
    messages = m;
    jobsOf = j;
    seqs = q;
    doneSlots = 0;
    generation++;
    for (let i = 0; i < messages.length; i++) slotOf.set((messages[i] as NormalizedMessage).id, i);
  };

  const finish = (slot: number): void => {
    const id = (messages[slot] as NormalizedMessage).id;
    slotOf.delete(id);
    if (resultsOf.size > 0) resultsOf.delete(id);
    // Only the sequence is read from a done slot: let the message and its jobs go now (a busy
    // mailer finishes ~1,000 messages between compactions; kept, they would all survive the
    // next young-generation GC and be copied).
    messages[slot] = undefined;
    jobsOf[slot] = NO_JOBS;
    doneSlots++;
    // Compaction keeps the columns within twice the live messages: amortized O(1) per message.
    if (doneSlots > MAX_DONE_SLOTS && doneSlots * 2 > messages.length) compact();
  };

  const settle = (id: string, results: readonly StoredResult[] | undefined): void => {
    if (results === undefined || results.length === 0) return;
    const held = resultsOf.get(id);
    if (held === undefined) resultsOf.set(id, results.slice());
    else for (const r of results) held.push(r);
  };

  const entryAt = (slot: number): StoredEntry => {
    const message = messages[slot] as NormalizedMessage;
    const jobs = copyOf(jobsOf[slot] as OneOrMany<Job>);
    const results = resultsOf.size === 0 ? undefined : resultsOf.get(message.id);
    return results === undefined ? { message, jobs } : { message, jobs, results: results.slice() };
  };

  /** First slot whose sequence is above `after` (binary search: sequences increase). */
  const firstAfter = (after: number): number => {
    let lo = 0;
    let hi = seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((seqs[mid] as number) <= after) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };

  return {
    name: STORE_NAME,
    add(entry: StoredEntry) {
      const jobs = entry.jobs;
      if (jobs.length === 0) return;
      const message = entry.message;
      // The same message added again replaces the one held.
      const old = find(message.id);
      if (old >= 0) {
        jobCount -= countOf(jobsOf[old] as OneOrMany<Job>);
        finish(old);
      }
      const slot = messages.length;
      messages.push(message);
      jobsOf.push(oneOrMany(jobs));
      seqs.push(++seq);
      jobCount += jobs.length;
      const results = entry.results;
      if (results !== undefined && results.length > 0) resultsOf.set(message.id, results.slice());
      slotOf.set(message.id, slot);
    },
    update(job: Job, results?: readonly StoredResult[]) {
      const slot = find(job.messageRef);
      if (slot < 0) return;
      const held = jobsOf[slot] as OneOrMany<Job>;
      const i = indexOfId(held, job.id);
      if (i < 0) {
        jobsOf[slot] = withAdded(held, [job]);
        jobCount++;
      } else if (itemAt(held, i) !== job) {
        jobsOf[slot] = withReplaced(held, i, job);
      }
      settle(job.messageRef, results);
    },
    remove(job: Job, results?: readonly StoredResult[]) {
      const slot = find(job.messageRef);
      if (slot < 0) return;
      const held = jobsOf[slot] as OneOrMany<Job>;
      const i = indexOfId(held, job.id);
      if (i < 0) {
        settle(job.messageRef, results);
        return;
      }
      jobCount--;
      // The last job: the message is forgotten with its results, so they are not copied.
      if (countOf(held) === 1) finish(slot);
      else {
        settle(job.messageRef, results);
        jobsOf[slot] = withRemoved(held, i);
      }
    },
    *recover() {
      // Messages may finish (and the columns be compacted) between two entries: the walk
      // goes on after the sequence of the last entry given.
      let gen = generation;
      let last = 0;
      for (let i = 0; ; i++) {
        if (gen !== generation) {
          gen = generation;
          i = firstAfter(last);
        }
        if (i >= messages.length) return;
        if (messages[i] === undefined) continue;
        last = seqs[i] as number;
        yield entryAt(i);
      }
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
      const entries: StoredEntry[] = [];
      let last = after;
      for (let i = firstAfter(after); i < messages.length; i++) {
        if (messages[i] === undefined) continue;
        if (entries.length === limit) return { entries, cursor: String(last) };
        entries.push(entryAt(i));
        last = seqs[i] as number;
      }
      return { entries, cursor: undefined };
    },
    status(id: string): StoredStatus | undefined {
      if (typeof id !== 'string') throw configError('id', 'a message id', id);
      const slot = find(id);
      if (slot < 0) return undefined;
      const results = resultsOf.size === 0 ? undefined : resultsOf.get(id);
      return { id, messageId: (messages[slot] as NormalizedMessage).messageId, jobs: copyOf(jobsOf[slot] as OneOrMany<Job>), results: results?.slice() ?? [] };
    },
    size: () => jobCount,
    get: (id: string) => {
      // A job id is `<message id>/<n>`: its message holds it.
      if (typeof id !== 'string') return undefined;
      const slot = find(id.slice(0, id.lastIndexOf('/')));
      if (slot >= 0) {
        const held = jobsOf[slot] as OneOrMany<Job>;
        const i = indexOfId(held, id);
        if (i >= 0) return itemAt(held, i);
      }
      // Jobs given with other ids: look through every message.
      for (let s = 0; s < messages.length; s++) {
        if (messages[s] === undefined) continue;
        const held = jobsOf[s] as OneOrMany<Job>;
        const i = indexOfId(held, id);
        if (i >= 0) return itemAt(held, i);
      }
      return undefined;
    },
  };
}
