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

/** The stores made by {@link memoryQueueStore}: see {@link forgetsFinishedResults}. */
const MEMORY_QUEUE_STORES = new WeakSet<QueueStore>();

/**
 * True when `store` is a memory queue store, which forgets a message with its results when its
 * last job is removed: the journal need not build the stored form of results that only go
 * with that last `remove`.
 *
 * @internal
 * @example
 * ```ts
 * forgetsFinishedResults(memoryQueueStore()); // true
 * ```
 */
export function forgetsFinishedResults(store: QueueStore): boolean {
  return MEMORY_QUEUE_STORES.has(store);
}

/** Jobs of a done slot (none): the slot keeps no job alive until compaction. */
const NO_JOBS: Job[] = [];

/**
 * Slots per chunk. Compaction rebuilds one chunk at a time (at most this many entries moved and
 * re-indexed in one turn), never the whole store: with 100,000 queued messages a whole-store
 * rebuild was one synchronous turn of several milliseconds.
 */
const CHUNK = 1024;
/** log2 of {@link CHUNK}. */
const CHUNK_BITS = 10;

/** Chunk number of a slot: a shift while the slot is a 32-bit integer (2^31 slots, ~2 billion messages). */
function chunkNumber(slot: number): number {
  return slot < 0x80000000 ? slot >> CHUNK_BITS : Math.floor(slot / CHUNK);
}

/** Index of a slot in its chunk (the low bits: exact for any slot below 2^53). */
function indexInChunk(slot: number): number {
  return slot & (CHUNK - 1);
}

/**
 * Done slots a chunk holds before it is compacted (and more than half of it). A busy mailer
 * with few messages in flight moves its few live ones once per ~512 messages (with 32 it
 * re-indexed about one message per message finished).
 */
const MIN_DONE_TO_COMPACT = CHUNK / 2;

/** Index of the job with this id among `held`, or -1. Messages hold few jobs: a scan. */
function indexOfId(held: OneOrMany<Job>, id: string): number {
  if (!Array.isArray(held)) return held.id === id ? 0 : -1;
  for (let i = 0; i < held.length; i++) if ((held[i] as Job).id === id) return i;
  return -1;
}

/**
 * Up to {@link CHUNK} slots in the order added, as columns. A done slot (no unfinished job left)
 * has no message and waits for the chunk's compaction; only its sequence is read then.
 */
class Chunk {
  messages: (NormalizedMessage | undefined)[] = [];
  jobs: OneOrMany<Job>[] = [];
  /**
   * Insertion sequence of each slot, increasing (across chunks too): the cursors of `page()`.
   * Undefined until the chunk is first compacted: slots are added with consecutive sequences,
   * so slot `i` has `firstSeq + i` (a column less, ~9 B per queued message).
   */
  seqs: number[] | undefined = undefined;
  done = 0;

  constructor(readonly firstSeq: number) {}

  /** Sequence of slot `i`. */
  seqAt(i: number): number {
    const seqs = this.seqs;
    return seqs === undefined ? this.firstSeq + i : (seqs[i] as number);
  }
}

/**
 * Creates an in-memory {@link QueueStore}. It keeps the scheduler's own job objects (no copy)
 * in columns, one slot per message in the order added, in chunks of 1,024 slots: a queued
 * message costs its two column entries (message, jobs; the sequence is computed until its chunk
 * is first compacted) and a `Map` entry from its id to its slot, no object of its own (~55 B;
 * with an entry object per message it was ~100 B). A chunk with 512 or more done slots, more
 * than half of it, is compacted on its own: at most 512 entries moved and re-indexed in a call
 * (the whole store was rebuilt at once before: 49,999 entries in one call draining 100,000).
 * `status(id)` answers while the message has unfinished jobs; a finished message is forgotten at once.
 *
 * @example
 * ```ts
 * const queue = memoryQueueStore();
 * const mailer = createMailer({ transport, store: queue });
 * ```
 */
export default function memoryQueueStore(): MemoryQueueStore {
  /** The chunks in order; `chunks[k]` is chunk number `firstChunk + k`. */
  const chunks: Chunk[] = [new Chunk(1)];
  let firstChunk = 0;
  /** Bumped when slots move (a chunk compacted or dropped): a walk finds its place again by sequence. */
  let moves = 0;
  /** Results recorded so far, by message id: only messages that have some (few while queued). */
  const resultsOf = new Map<string, StoredResult[]>();
  /**
   * Slot of each unfinished message by id, `chunk number * CHUNK + index`: a small integer per
   * entry, no object (an open-addressing Int32Array index in JS saved ~26 B more per message
   * but hashed each 36-character id in JS on every lookup, ~0.2 us per message against V8's
   * cached string hashes).
   */
  const slotOf = new Map<string, number>();
  let jobCount = 0;
  let seq = 0;

  /** The chunk of a slot (its index in the chunk is `indexInChunk(slot)`). */
  const chunkOf = (slot: number): Chunk => chunks[chunkNumber(slot) - firstChunk] as Chunk;

  /** Drops the done slots of chunk `k` and indexes its other slots again (at most CHUNK). */
  const compact = (k: number): void => {
    const c = chunks[k] as Chunk;
    moves++;
    if (c.done === c.messages.length) {
      if (k === 0 && chunks.length > 1) {
        // Empty chunks at the front go (a queue mostly finishes its oldest messages first).
        chunks.shift();
        firstChunk++;
        while (chunks.length > 1 && (chunks[0] as Chunk).done === (chunks[0] as Chunk).messages.length) {
          chunks.shift();
          firstChunk++;
        }
        return;
      }
      c.messages = [];
      c.jobs = [];
      c.seqs = [];
      c.done = 0;
      return;
    }
    const base = (firstChunk + k) * CHUNK;
    const m: (NormalizedMessage | undefined)[] = [];
    const j: OneOrMany<Job>[] = [];
    const q: number[] = [];
    for (let i = 0; i < c.messages.length; i++) {
      const message = c.messages[i];
      if (message === undefined) continue;
      if (i !== m.length) slotOf.set(message.id, base + m.length);
      m.push(message);
      j.push(c.jobs[i] as OneOrMany<Job>);
      q.push(c.seqAt(i));
    }
    c.messages = m;
    c.jobs = j;
    c.seqs = q;
    c.done = 0;
  };

  const finish = (slot: number): void => {
    const k = chunkNumber(slot) - firstChunk;
    const c = chunks[k] as Chunk;
    const i = indexInChunk(slot);
    const id = (c.messages[i] as NormalizedMessage).id;
    slotOf.delete(id);
    if (resultsOf.size > 0) resultsOf.delete(id);
    // Only the sequence is read from a done slot: let the message and its jobs go now (a busy
    // mailer finishes ~1,000 messages between compactions; kept, they would all survive the
    // next young-generation GC and be copied).
    c.messages[i] = undefined;
    c.jobs[i] = NO_JOBS;
    const done = ++c.done;
    // A chunk is compacted when more than half of it is done: amortized O(1) per message, and
    // never more than one chunk (at most CHUNK - MIN_DONE_TO_COMPACT live entries) in one turn.
    // A done chunk goes at once (the front one) or is emptied (the last one once it held many).
    const last = k === chunks.length - 1;
    if (done === c.messages.length ? !last || done >= MIN_DONE_TO_COMPACT : done >= MIN_DONE_TO_COMPACT && done * 2 > c.messages.length) compact(k);
  };

  const settle = (id: string, results: readonly StoredResult[] | undefined): void => {
    if (results === undefined || results.length === 0) return;
    const held = resultsOf.get(id);
    if (held === undefined) resultsOf.set(id, results.slice());
    else for (const r of results) held.push(r);
  };

  const entryAt = (c: Chunk, i: number): StoredEntry => {
    const message = c.messages[i] as NormalizedMessage;
    const jobs = copyOf(c.jobs[i] as OneOrMany<Job>);
    const results = resultsOf.size === 0 ? undefined : resultsOf.get(message.id);
    return results === undefined ? { message, jobs } : { message, jobs, results: results.slice() };
  };

  /**
   * Position (`k * CHUNK + i`: chunk `chunks[k]`, index `i`) of the first slot whose sequence is
   * above `after`. Sequences increase across chunks: the chunks are scanned from the last (few
   * per 1,024 messages), then one is searched.
   */
  const firstAfter = (after: number): number => {
    let k = chunks.length - 1;
    // The first chunk whose last sequence is above `after` (empty chunks are passed over).
    let found = chunks.length;
    for (; k >= 0; k--) {
      const c = chunks[k] as Chunk;
      if (c.messages.length === 0) continue;
      if (c.seqAt(c.messages.length - 1) <= after) break;
      found = k;
    }
    if (found === chunks.length) return found * CHUNK;
    const c = chunks[found] as Chunk;
    let lo = 0;
    let hi = c.messages.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (c.seqAt(mid) <= after) lo = mid + 1;
      else hi = mid;
    }
    return found * CHUNK + lo;
  };

  const store: MemoryQueueStore = {
    name: STORE_NAME,
    add(entry: StoredEntry) {
      const jobs = entry.jobs;
      if (jobs.length === 0) return;
      const message = entry.message;
      // The same message added again replaces the one held.
      const old = slotOf.get(message.id);
      if (old !== undefined) {
        jobCount -= countOf(chunkOf(old).jobs[indexInChunk(old)] as OneOrMany<Job>);
        finish(old);
      }
      let k = chunks.length - 1;
      let c = chunks[k] as Chunk;
      if (c.messages.length === CHUNK) {
        c = new Chunk(seq + 1);
        chunks.push(c);
        k++;
      }
      const slot = (firstChunk + k) * CHUNK + c.messages.length;
      c.messages.push(message);
      c.jobs.push(oneOrMany(jobs));
      ++seq;
      if (c.seqs !== undefined) c.seqs.push(seq);
      jobCount += jobs.length;
      const results = entry.results;
      if (results !== undefined && results.length > 0) resultsOf.set(message.id, results.slice());
      slotOf.set(message.id, slot);
    },
    update(job: Job, results?: readonly StoredResult[]) {
      const slot = slotOf.get(job.messageRef);
      if (slot === undefined) return;
      const c = chunkOf(slot);
      const s = indexInChunk(slot);
      const held = c.jobs[s] as OneOrMany<Job>;
      const i = indexOfId(held, job.id);
      if (i < 0) {
        c.jobs[s] = withAdded(held, [job]);
        jobCount++;
      } else if (itemAt(held, i) !== job) {
        c.jobs[s] = withReplaced(held, i, job);
      }
      settle(job.messageRef, results);
    },
    remove(job: Job, results?: readonly StoredResult[]) {
      const slot = slotOf.get(job.messageRef);
      if (slot === undefined) return;
      const c = chunkOf(slot);
      const s = indexInChunk(slot);
      const held = c.jobs[s] as OneOrMany<Job>;
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
        c.jobs[s] = withRemoved(held, i);
      }
    },
    *recover() {
      // Messages may finish (and chunks be compacted or dropped) between two entries: the walk
      // goes on after the sequence of the last entry given.
      let seen = moves;
      let last = 0;
      let k = 0;
      let i = 0;
      for (;;) {
        if (seen !== moves) {
          seen = moves;
          const at = firstAfter(last);
          k = Math.floor(at / CHUNK);
          i = at % CHUNK;
        }
        const c = chunks[k];
        if (c === undefined) return;
        if (i >= c.messages.length) {
          k++;
          i = 0;
          continue;
        }
        if (c.messages[i] === undefined) {
          i++;
          continue;
        }
        last = c.seqAt(i);
        const entry = entryAt(c, i);
        i++;
        yield entry;
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
      const at = firstAfter(after);
      for (let k = Math.floor(at / CHUNK), i = at % CHUNK; k < chunks.length; k++, i = 0) {
        const c = chunks[k] as Chunk;
        for (; i < c.messages.length; i++) {
          if (c.messages[i] === undefined) continue;
          if (entries.length === limit) return { entries, cursor: String(last) };
          entries.push(entryAt(c, i));
          last = c.seqAt(i);
        }
      }
      return { entries, cursor: undefined };
    },
    status(id: string): StoredStatus | undefined {
      if (typeof id !== 'string') throw configError('id', 'a message id', id);
      const slot = slotOf.get(id);
      if (slot === undefined) return undefined;
      const c = chunkOf(slot);
      const s = indexInChunk(slot);
      const results = resultsOf.size === 0 ? undefined : resultsOf.get(id);
      return { id, messageId: (c.messages[s] as NormalizedMessage).messageId, jobs: copyOf(c.jobs[s] as OneOrMany<Job>), results: results?.slice() ?? [] };
    },
    size: () => jobCount,
    get: (id: string) => {
      // A job id is `<message id>/<n>`: its message holds it.
      if (typeof id !== 'string') return undefined;
      const slot = slotOf.get(id.slice(0, id.lastIndexOf('/')));
      if (slot !== undefined) {
        const held = chunkOf(slot).jobs[indexInChunk(slot)] as OneOrMany<Job>;
        const i = indexOfId(held, id);
        if (i >= 0) return itemAt(held, i);
      }
      // Jobs given with other ids: look through every message.
      for (const c of chunks) {
        for (let s = 0; s < c.messages.length; s++) {
          if (c.messages[s] === undefined) continue;
          const held = c.jobs[s] as OneOrMany<Job>;
          const i = indexOfId(held, id);
          if (i >= 0) return itemAt(held, i);
        }
      }
      return undefined;
    },
  };
  MEMORY_QUEUE_STORES.add(store);
  return store;
}
