/**
 * The in-memory correlation store: the jobs the mailer sent, so that a bounce or complaint
 * naming a job can be checked against what was really sent. Bounded in entries and in age;
 * nothing survives the process (a report about mail sent before a restart is then unverified:
 * use a durable store when that matters).
 *
 * @module
 */

import { configError } from '../errors.js';
import type { CorrelationStore, SentRecord } from '../types.js';

/** Name of the memory correlation store. */
export const CORRELATION_STORE_NAME = 'memory';

/** Default {@link MemoryCorrelationStoreOptions.maxEntries}. */
export const DEFAULT_CORRELATION_MAX_ENTRIES = 100_000;
/** Default {@link MemoryCorrelationStoreOptions.retentionMs}: 30 days, longer than any mail system keeps retrying. */
export const DEFAULT_CORRELATION_RETENTION_MS = 30 * 86_400_000;

/** Options of {@link memoryCorrelationStore}. */
export interface MemoryCorrelationStoreOptions {
  /** Most jobs kept; the oldest recorded are forgotten first. @default 100_000 */
  readonly maxEntries?: number;
  /**
   * How long a job is kept after it was sent (`sentAt`), ms. Bounces come within days
   * (mail systems give up after 5 days at most), complaints within weeks. @default 2_592_000_000 (30 days)
   */
  readonly retentionMs?: number;
  /** Current time, ms. @default Date.now */
  readonly now?: () => number;
}

/** The memory store, with a `size` for tests. */
export interface MemoryCorrelationStore extends CorrelationStore {
  /** Number of jobs held (expired ones included until they are looked up or pushed out). */
  readonly size: number;
  record(entry: SentRecord): void;
  find(jobId: string): SentRecord | undefined;
  close(): void;
}

/** Most expired entries dropped from the oldest end per call, so that one call stays cheap. */
const PRUNE_PER_CALL = 16;

/**
 * Creates an in-memory {@link CorrelationStore}: a map from job id to its {@link SentRecord},
 * at most `maxEntries` of them, each for `retentionMs` after it was sent.
 *
 * @example
 * ```ts
 * const correlation = memoryCorrelationStore({ maxEntries: 50_000 });
 * const processor = createFeedbackProcessor({ suppression, verp, correlation });
 * ```
 */
export default function memoryCorrelationStore(options: MemoryCorrelationStoreOptions = {}): MemoryCorrelationStore {
  if (typeof options !== 'object' || options === null) throw configError('options', 'an object', options);
  const max = options.maxEntries ?? DEFAULT_CORRELATION_MAX_ENTRIES;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1) throw configError('maxEntries', 'an integer >= 1', max);
  const retentionMs = options.retentionMs ?? DEFAULT_CORRELATION_RETENTION_MS;
  if (typeof retentionMs !== 'number' || !(retentionMs > 0)) throw configError('retentionMs', 'a positive number of ms', retentionMs);
  const now = options.now ?? Date.now;
  if (typeof now !== 'function') throw configError('now', 'a function', now);

  // Insertion-ordered: the first key is the oldest recorded, evicted first.
  const records = new Map<string, SentRecord>();
  const expired = (r: SentRecord, at: number): boolean => r.sentAt + retentionMs <= at;

  return {
    name: CORRELATION_STORE_NAME,
    get size() {
      return records.size;
    },
    record(entry) {
      if (typeof entry !== 'object' || entry === null || typeof entry.jobId !== 'string' || entry.jobId === '') {
        throw configError('entry.jobId', 'a non-empty string', (entry as Partial<SentRecord> | null)?.jobId);
      }
      if (!Array.isArray(entry.recipients)) throw configError('entry.recipients', 'an array of addresses', entry.recipients);
      if (!Number.isFinite(entry.sentAt)) throw configError('entry.sentAt', 'a time in ms', entry.sentAt);
      // A copy: the caller's objects (the mailer's job) change after the send.
      const copy: SentRecord = Object.freeze({
        ...entry,
        recipients: Object.freeze([...entry.recipients]),
        ...(entry.tags !== undefined ? { tags: Object.freeze({ ...entry.tags }) } : {}),
      });
      // Re-inserted last: a second record of the job replaces the first and is the newest.
      records.delete(entry.jobId);
      records.set(entry.jobId, copy);
      while (records.size > max) records.delete(records.keys().next().value as string);
      const at = now();
      let pruned = 0;
      for (const [jobId, r] of records) {
        if (pruned >= PRUNE_PER_CALL || !expired(r, at)) break;
        records.delete(jobId);
        pruned++;
      }
    },
    find(jobId) {
      const r = records.get(jobId);
      if (r === undefined) return undefined;
      if (expired(r, now())) {
        records.delete(jobId);
        return undefined;
      }
      return r;
    },
    close() {
      records.clear();
    },
  };
}
