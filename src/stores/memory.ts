/**
 * The in-memory queue store: the default. Nothing survives the process; use a durable
 * store when queued mail must outlive a restart.
 *
 * @module
 */

import type { Job, NormalizedMessage, QueueStore, StoredEntry } from '../types.js';

/** Name of the memory queue store. */
export const STORE_NAME = 'memory';

interface Held {
  readonly message: NormalizedMessage;
  readonly jobs: Map<string, Job>;
}

/** A {@link QueueStore} that also lets tests look inside. */
export interface MemoryQueueStore extends QueueStore {
  /** The job with this id, if unfinished. */
  get(jobId: string): Job | undefined;
}

/**
 * Creates an in-memory {@link QueueStore}. It keeps the scheduler's own job objects (no copy),
 * so it costs one map entry per job.
 */
export default function memoryQueueStore(): MemoryQueueStore {
  const messages = new Map<string, Held>();
  const jobs = new Map<string, Job>();
  return {
    name: STORE_NAME,
    add(entry: StoredEntry) {
      const held: Held = { message: entry.message, jobs: new Map() };
      for (const job of entry.jobs) {
        held.jobs.set(job.id, job);
        jobs.set(job.id, job);
      }
      messages.set(entry.message.id, held);
    },
    update(job: Job) {
      if (!jobs.has(job.id)) {
        const held = messages.get(job.messageRef);
        if (held === undefined) return;
        held.jobs.set(job.id, job);
        jobs.set(job.id, job);
      }
    },
    remove(job: Job) {
      jobs.delete(job.id);
      const held = messages.get(job.messageRef);
      if (held === undefined) return;
      held.jobs.delete(job.id);
      if (held.jobs.size === 0) messages.delete(job.messageRef);
    },
    *recover() {
      for (const held of messages.values()) yield { message: held.message, jobs: [...held.jobs.values()] };
    },
    size: () => jobs.size,
    get: (id: string) => jobs.get(id),
  };
}
